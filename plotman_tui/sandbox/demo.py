"""``plotman-tui demo``: a sandbox farm with real tiny plots, watched with ``status``.

Until the dashboard exists this shows the one-shot status view, refreshed every second, while a
few real chiapos plots (k18 to k22) run through the sandbox's ``chia`` front.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from plotman_tui.farm.discovery import Scanner
from plotman_tui.report import render_status, terminal_width

if TYPE_CHECKING:
    from plotman_tui.sandbox import StartedPlot

# A mix of sizes so phases visibly advance at different speeds (about 1 s, 3 s and 12 s each).
_DEMO_SIZES = (20, 22, 18, 21, 19, 22)
_STAGGER_SECONDS = 2.0
_REFRESH_SECONDS = 1.0


def run_demo(directory: Path | None, *, plots: int = 3) -> int:
    """Build the farm, start ``plots`` staggered plots, show status until they are done."""
    from plotman_tui.sandbox import make_sandbox, start_plot

    if plots < 1:
        print("plotman-tui: demo: --plots must be at least 1", file=sys.stderr)
        return 2
    try:
        root = directory or Path(tempfile.mkdtemp(prefix="plotman-tui-demo-"))
        sandbox = make_sandbox(root)
    except OSError as error:
        where = directory if directory is not None else "a temp dir"
        print(f"plotman-tui: demo: cannot build the farm in {where}: {error}", file=sys.stderr)
        return 2
    print(f"Sandbox farm in {root} (config {sandbox.config_path})")
    scanner = Scanner(sandbox.log_dir)
    started: list[StartedPlot] = []
    clear = sys.stdout.isatty()
    next_start = time.monotonic()
    try:
        while True:
            if len(started) < plots and time.monotonic() >= next_start:
                index = len(started)
                started.append(
                    start_plot(
                        sandbox,
                        k=_DEMO_SIZES[index % len(_DEMO_SIZES)],
                        tmp_index=index % len(sandbox.tmp_dirs),
                        dst_index=index % len(sandbox.dst_dirs),
                    )
                )
                next_start = time.monotonic() + _STAGGER_SECONDS
            text = render_status(scanner.scan(), terminal_width())
            if clear:
                sys.stdout.write("\x1b[H\x1b[2J")
            print(f"plotman-tui demo: {len(started)}/{plots} plots started in {root}\n")
            print(text, flush=True)
            if len(started) == plots and all(p.popen.poll() is not None for p in started):
                break
            time.sleep(_REFRESH_SECONDS)
    except KeyboardInterrupt:
        _stop(started)
        print("\nDemo stopped; its plot jobs were stopped too.")
        return 130
    except OSError as error:
        _stop(started)
        print(f"plotman-tui: demo: cannot start a plot: {error}", file=sys.stderr)
        return 1
    failed = [p for p in started if p.popen.returncode != 0]
    finished = sorted(
        name for dst in sandbox.dst_dirs for name in os.listdir(dst) if name.endswith(".plot")
    )
    print(f"\nDone: {len(finished)} finished plots in {root / 'dst'}:")
    for name in finished:
        print(f"  {name}")
    for plot in failed:
        print(f"  plot with log {plot.log_path} failed (exit {plot.popen.returncode})")
    print(f"\nTry: plotman-tui --config {sandbox.config_path} dirs")
    return 0 if not failed else 1


def _stop(started: list[StartedPlot]) -> None:
    for plot in started:
        if plot.popen.poll() is None:
            plot.popen.terminate()
