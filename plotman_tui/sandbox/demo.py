"""``plotman-tui demo``: the dashboard on a sandbox farm, plotting and archiving real tiny plots.

The farm has two tmp dirs, two dst dirs and a local archive target (two dirs standing in for
the farmer's disks); its config starts k20 chiapos plots with no stagger, so within seconds jobs
move through their phases and finished plots are moved to the archive. The demo keeps its own
data dir (scheduler lock, action log) inside the farm, so it never takes the lock of a real
plotting loop on the same machine; it does see every plot job of the machine, as the real
dashboard does, but counts only its own against its limits (a real farm counts them all), so
other plot jobs of the machine never hold it up. The "farmer" keeps only the newest plots:
older ones are deleted, so a demo left running does not fill the disk.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from pathlib import Path

from plotman_tui.farm.engine import counting_only
from plotman_tui.farm.wiring import jobs_of_this_farm
from plotman_tui.sandbox.farm import Sandbox, make_sandbox

DEMO_K = 20
#: Plots the sandbox's "farmer" keeps; older ones are deleted.
KEEP_ARCHIVED = 12
_PRUNE_EVERY_S = 5.0


def build_demo_farm(directory: Path | None) -> Sandbox:
    """The demo's sandbox (``OSError`` when it cannot be built)."""
    root = directory or Path(tempfile.mkdtemp(prefix="plotman-tui-demo-"))
    return make_sandbox(
        root,
        n_tmp=2,
        n_dst=2,
        n_archive=2,
        k=DEMO_K,
        global_stagger_m=0,
        polling_time_s=2,
    )


def run_demo(directory: Path | None, *, headless: bool = False, json_lines: bool = False) -> int:
    """Build the farm and open the dashboard on it (``headless``: the ``--no-ui`` engine)."""
    from plotman_tui.config import ConfigError, load_config

    try:
        sandbox = build_demo_farm(directory)
        config = load_config(sandbox.config_path)
    except (OSError, ConfigError) as error:
        where = directory if directory is not None else "a temp dir"
        print(f"plotman-tui: demo: cannot build the farm in {where}: {error}", file=sys.stderr)
        return 2
    if not headless and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "plotman-tui: demo: the dashboard needs a terminal (or run `plotman-tui demo "
            "--no-ui` to see the engine's lines)",
            file=sys.stderr,
        )
        return 2
    # The demo's own lock, action log and state: a real loop on this machine is left alone.
    os.environ["PLOTMAN_TUI_DATA_DIR"] = str(sandbox.root / "data")
    # On stderr: stdout is the engine's lines (JSON with --json).
    print(f"Sandbox farm in {sandbox.root} (config {sandbox.config_path})", file=sys.stderr)
    stop = threading.Event()
    pruner = threading.Thread(
        target=_prune_archive, args=(sandbox, stop), name="demo-farmer", daemon=True
    )
    pruner.start()
    # The sandbox's limits are its own: other plot jobs of the machine do not hold it up.
    only_ours = counting_only(jobs_of_this_farm(config))
    try:
        if headless:
            from plotman_tui.headless import run_headless

            with only_ours:
                return run_headless(config, sandbox.config_path, json_lines=json_lines)
        from plotman_tui.tui.app import run_dashboard

        with only_ours:
            return run_dashboard(
                config, sandbox.config_path, autostart_plotting=True, autostart_archiving=True
            )
    finally:
        stop.set()
        print(
            f"Demo ended; its plot jobs run on until they finish. Farm: {sandbox.root}\n"
            f"Look again: plotman-tui --config {sandbox.config_path} status",
            file=sys.stderr,
        )


def _prune_archive(sandbox: Sandbox, stop: threading.Event) -> None:
    """The sandbox farmer's housekeeping: keep the newest ``KEEP_ARCHIVED`` plots."""
    while not stop.wait(_PRUNE_EVERY_S):
        plots = []
        for directory in sandbox.archive_dirs:
            try:
                with os.scandir(directory) as entries:
                    plots += [
                        (entry.stat().st_mtime, entry.path)
                        for entry in entries
                        if entry.name.endswith(".plot") and entry.is_file(follow_symlinks=False)
                    ]
            except OSError:
                continue
        for _, path in sorted(plots)[:-KEEP_ARCHIVED]:
            with contextlib.suppress(OSError):
                os.unlink(path)
