"""The installed ``plotman-tui`` in a real terminal (a tmux pane, a real pty) on a sandbox farm.

A real chiapos job runs, stopped (so it outlives the test); the dashboard opens with plotting
paused and is driven by keys only: help opens and closes, the filter narrows the table to the
job, ``r`` and ``s`` resume and suspend it, ``p`` switches plotting on and off (the config
allows one job, so nothing starts), ``q`` quits with status 0 and the job runs on.

The scan is machine-wide (other tests' jobs may show), so keys act on our job, and its row is
read, only after the filter has left it alone in the table.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.model import JobStatus
from plotman_tui.farm.procfs import sample_process
from plotman_tui.sandbox import Sandbox, StartedPlot, make_sandbox, start_plot
from tests.conftest import require_chiapos, require_real, wait_for
from tests.tui.tmux import TmuxSession, tmux_available

pytestmark = pytest.mark.real_service

PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"
#: Seconds the dashboard gets to show a change (a look runs every 5 s; keys act at once).
SHOWN_S = 10.0


def job_rows(screen: str) -> list[str]:
    """The jobs table's rows on screen (each starts with a plot id, or ? before the log names
    it)."""
    return [line for line in screen.splitlines() if re.match(r"[│ ]+([0-9a-f]{8}|\?) ", line)]


def job_line(screen: str, short_id: str) -> str:
    """The job's row in the table (the filter line names the plot id too)."""
    return next((line for line in job_rows(screen) if line.strip(" │").startswith(short_id)), "")


def start_stopped_plot(farm: Sandbox) -> tuple[StartedPlot, str]:
    """A k22 job, stopped (SIGSTOP) once its log names its plot id so that it waits for the
    test however long that takes, and the id's first 8 characters. :func:`end_plot` ends it."""
    plot = start_plot(farm, k=22)
    try:
        line = wait_for(
            lambda: next(
                (x for x in plot.log_path.read_text().splitlines() if x.startswith("ID: ")), None
            ),
            30,
            "the job's plot id in its log",
        )
        os.killpg(plot.popen.pid, signal.SIGSTOP)
    except BaseException:
        end_plot(plot)
        raise
    return plot, line.split()[1][:8]


def end_plot(plot: StartedPlot) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(plot.popen.pid, signal.SIGKILL)
    plot.popen.wait(30)


def filter_to(tmux: TmuxSession, short_id: str) -> None:
    """Leave the job alone in the table, with the keys back on the table (the cursor on it)."""
    tmux.send("/")
    tmux.send(short_id, literal=True)
    tmux.send("Enter")
    # The filter field closes: its border goes, the table has the keys again.
    tmux.wait_for(lambda s: "jobs 1/" in s and "filter:" not in s, SHOWN_S, "filtered")


@pytest.fixture
def short_root() -> Iterator[Path]:
    """A farm root with a short path: other jobs on the machine (other tests', a farmer's) may
    leave the dir prefix at /tmp/, and a long tmp dir would crowd the state column out."""
    root = Path(tempfile.mkdtemp(prefix="e2e-", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_keys_in_a_real_terminal_and_q_leaves_the_job_running(
    tmp_path: Path, short_root: Path
) -> None:
    require_real(tmux_available(), "tmux is not installed (apt-get install tmux)")
    require_chiapos()
    assert PLOTMAN_TUI.exists(), f"{PLOTMAN_TUI}: install the package (make venv)"
    farm = make_sandbox(short_root / "farm", k=22)
    # One job at most: the job of this test fills it, so plotting switched on starts nothing.
    config = tmp_path / "plotman.toml"
    text = farm.config_path.read_text()
    config.write_text(text.replace("global_max_jobs = 4", "global_max_jobs = 1"))
    assert "global_max_jobs = 1" in config.read_text()
    data = tmp_path / "data"
    env = {"PLOTMAN_TUI_DATA_DIR": str(data), "PLOTMAN_TUI_CACHE_DIR": str(tmp_path / "cache")}
    job, short_id = start_stopped_plot(farm)
    pid = job.popen.pid
    try:
        with TmuxSession(tmp_path, width=120, height=40) as tmux:
            tmux.start([str(PLOTMAN_TUI), "--config", str(config), "--no-autostart-plotting"], env)
            screen = tmux.wait_for(lambda s: job_line(s, short_id), SHOWN_S, "the job in the table")
            assert "Plotting: paused" in screen

            tmux.send("?")
            tmux.wait_for(lambda s: "plotman-tui help" in s, SHOWN_S, "help open")
            tmux.send("Escape")
            tmux.wait_for(lambda s: "plotman-tui help" not in s, SHOWN_S, "help closed")

            tmux.send("/")
            tmux.send("no such job", literal=True)
            tmux.wait_for(lambda s: not job_rows(s), SHOWN_S, "the filter hiding every job")
            tmux.send("Escape")
            tmux.wait_for(lambda s: job_line(s, short_id), SHOWN_S, "the filter cleared")
            filter_to(tmux, short_id)
            # Alone in the table, the job's row has room for every column (other jobs on the
            # machine may have long dirs that leave no room for the state column).
            tmux.wait_for(lambda s: "STP" in job_line(s, short_id), SHOWN_S, "the job stopped")

            tmux.send("r")
            tmux.wait_for(
                lambda s: "STP" not in job_line(s, short_id), SHOWN_S, "the job shown running"
            )
            assert sample_process(pid).status is not JobStatus.STP  # type: ignore[union-attr]
            tmux.send("s")
            tmux.wait_for(lambda s: "STP" in job_line(s, short_id), SHOWN_S, "the job stopped")

            tmux.send("p")
            tmux.wait_for(
                lambda s: "Plotting: active" in s and "max jobs (1)" in s,
                SHOWN_S,
                "plotting on, waiting for room",
            )
            tmux.send("p")
            tmux.wait_for(lambda s: "Plotting: paused" in s, SHOWN_S, "plotting paused")

            tmux.send("q")
            assert tmux.exit_status(SHOWN_S) == 0
        assert job.popen.poll() is None  # quitting left the job alone
        assert sample_process(pid).status is JobStatus.STP  # type: ignore[union-attr]
        actions = [(e.action, e.pid) for e in ActionLog(data / "actions.jsonl").entries()]
        assert actions == [
            ("resume", pid),
            ("suspend", pid),
            ("unpause", None),
            ("pause", None),
        ]
    finally:
        end_plot(job)


def test_screen_256color_at_80x24_resizes_below_the_minimum_and_back(tmp_path: Path) -> None:
    require_real(tmux_available(), "tmux is not installed (apt-get install tmux)")
    assert PLOTMAN_TUI.exists(), f"{PLOTMAN_TUI}: install the package (make venv)"
    farm = make_sandbox(tmp_path / "farm", k=18)
    env = {
        "PLOTMAN_TUI_DATA_DIR": str(tmp_path / "data"),
        "PLOTMAN_TUI_CACHE_DIR": str(tmp_path / "cache"),
    }
    argv = [str(PLOTMAN_TUI), "--config", str(farm.config_path), "--no-autostart-plotting"]
    # As under GNU screen or tmux on the plotter (TERM=screen-256color), at the smallest size.
    with TmuxSession(tmp_path, width=80, height=24, term="screen-256color") as tmux:
        tmux.start(argv, env)
        # The jobs table's header and the footer (paused: "p Resume plotting"; help always).
        tmux.wait_for(
            lambda s: "plot id" in s and "p Resume plotting" in s and "? Help" in s,
            SHOWN_S,
            "the dashboard",
        )
        tmux.resize(50, 12)
        tmux.wait_for(lambda s: "too small" in s, SHOWN_S, "the too-small notice")
        tmux.resize(100, 30)
        screen = tmux.wait_for(
            lambda s: "Plotting: paused" in s and "too small" not in s, SHOWN_S, "it recovers"
        )
        assert "plot id" in screen
        tmux.send("q")
        assert tmux.exit_status(SHOWN_S) == 0
