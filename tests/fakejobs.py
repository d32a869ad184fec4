"""Long-lived stand-in plot jobs for discovery tests.

A real ``chia`` only matters to discovery through its command line, its open log and its temp
files. These processes have exactly those (the command line of a venv-installed chia, stdout
into a log in the log dir) while sleeping, so a test can write the log lines itself and decide
what the job has "done". Tests that need real plotting use the sandbox's chiapos front instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.conftest import FIXTURES

#: A real chia k32 log, and the plot id in it.
K32_LOG = FIXTURES / "plotter-logs" / "chianetwork.plot.log"
K32_ID = "d2540dcfcffddbfbd7e60b4aca4d54fb937db71991298fabc253f020a87ff7d4"

FAKE_CHIA = """\
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
if os.environ.pop("FAKE_CHIA_GUI_PARENT", None):
    # Like the chia GUI: a parent and a child that share one command line.
    child = subprocess.Popen(sys.argv and [sys.executable, *sys.argv])
    print(child.pid, file=sys.stderr, flush=True)
lifetime = float(os.environ.get("FAKE_CHIA_LIFETIME", "3600"))
time.sleep(lifetime)
"""


def k32_log(lines: int, *, plot_id: str, tmp: Path, tmp2: Path, dst: Path) -> str:
    """The first ``lines`` lines of the real k32 log, rewritten for this job's id and dirs."""
    text = "".join(K32_LOG.read_text().splitlines(keepends=True)[:lines])
    text = text.replace(K32_ID, plot_id).replace("/farm/yards/902/fake_tmp2", str(tmp2))
    return text.replace("/farm/yards/902/fake_dst", str(dst)).replace("/farm/yards/902", str(tmp))


def install_fake_chia(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "chia"
    script.write_text(FAKE_CHIA)
    return script


def chia_argv(
    script: Path, tmp: str, dst: str, *, tmp2: str | None = None, k: int = 32
) -> list[str]:
    argv = [sys.executable, str(script), "plots", "create", "-k", str(k), "-r", "4", "-u", "128"]
    argv += ["-b", "4000", "-t", tmp]
    if tmp2:
        argv += ["-2", tmp2]
    return [*argv, "-d", dst]


@contextmanager
def running(
    argv: Sequence[str],
    log: Path,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a fake job with stdout and stderr into ``log``; stop it (and children) on exit."""
    with open(log, "ab") as handle:
        proc = subprocess.Popen(
            list(argv),
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    try:
        wait_until_running(proc)
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_until_running(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Wait until the interpreter has replaced the fork's argv (cmdline readable and final)."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "plots" in psutil.Process(proc.pid).cmdline():
                return
        except psutil.Error:
            pass
        time.sleep(0.01)
    raise TimeoutError(f"fake job {proc.pid} did not start")
