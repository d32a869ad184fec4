"""``plotman-tui kill`` asks in a real terminal (a tmux pane), with the job stopped meanwhile.

Every way out of the question but ``y`` lets the job run on, and the action log says why: an
answer, end of input (Ctrl-D), Ctrl-C, SIGTERM and a hangup of the terminal (the tmux server
killed: its pty's master closes, as when an SSH session drops).
"""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

import pytest

from plotman_tui.farm.actionlog import ActionEntry, ActionLog
from plotman_tui.farm.model import JobStatus
from plotman_tui.farm.procfs import sample_process
from tests.conftest import require_real, wait_for
from tests.integration.test_cli_readonly import PLOTMAN_TUI, farm, start_job
from tests.tui.test_kill_question_exits import gone, pid_file_argv, read_pid
from tests.tui.tmux import TmuxSession, tmux_available

__all__ = ["farm"]  # the fixture, shared with the read-only command tests

pytestmark = pytest.mark.real_service

SHOWN_S = 10.0


def status(pid: int) -> JobStatus | None:
    reading = sample_process(pid)
    return reading.status if reading is not None else None


def cancelled(log: ActionLog, pid: int) -> list[ActionEntry]:
    return [e for e in log.entries() if e.action == "resume" and e.pid == pid]


@pytest.mark.parametrize(
    ("how", "whys", "exit_status"),
    [
        ("n", ["answered no"], 0),
        ("ctrl-d", ["no answer (end of input)"], 0),
        ("ctrl-c", ["interrupted (SIGINT)"], 130),
        ("sigterm", ["terminated (SIGTERM)"], 130),
        # The shell's end may close the input before the signal comes: either is a hangup.
        ("hangup", ["hangup (SIGHUP)", "no answer (end of input)"], None),
    ],
)
def test_every_way_out_of_the_question_but_yes_lets_the_job_run_on(
    farm: dict[str, Path],
    tmp_path: Path,
    how: str,
    whys: list[str],
    exit_status: int | None,
) -> None:
    require_real(tmux_available(), "tmux is not installed (apt-get install tmux)")
    plot_id = secrets.token_hex(32)
    data = tmp_path / "data"
    pid_file = tmp_path / "kill.pid"
    argv = [str(PLOTMAN_TUI), "--config", str(farm["config"]), "kill", plot_id[:8]]
    with start_job(farm, 20, plot_id) as proc, TmuxSession(tmp_path, width=150) as tmux:
        tmux.start(pid_file_argv(pid_file, argv), {"PLOTMAN_TUI_DATA_DIR": str(data)})
        tmux.tmux("set-option", "-t", "main", "remain-on-exit", "on")  # its last words stay
        kill_pid = read_pid(pid_file)
        tmux.wait_for(lambda s: f"Kill {plot_id[:8]}? [y/N]" in s, SHOWN_S, "the question")
        assert status(proc.pid) is JobStatus.STP  # held still while it asks
        if how == "n":
            tmux.send("n", "Enter")
        elif how == "ctrl-d":
            tmux.send("C-d")
        elif how == "ctrl-c":
            tmux.send("C-c")
        elif how == "sigterm":
            os.kill(kill_pid, signal.SIGTERM)
        else:
            tmux.close()
        wait_for(lambda: gone(kill_pid), SHOWN_S, "the command ended")
        if exit_status is not None:
            assert tmux.exit_status(SHOWN_S) == exit_status
            screen = tmux.screen()
            assert "runs on" in screen and "Traceback" not in screen
        wait_for(lambda: status(proc.pid) in (JobStatus.SLP, JobStatus.RUN), 5, "it runs on")
        assert proc.poll() is None
    (entry,) = cancelled(ActionLog(data / "actions.jsonl"), proc.pid)
    assert entry.result == "ok" and entry.plot_id == plot_id
    assert entry.reason in [f"cli: kill cancelled: {why} — resumed" for why in whys]
    assert not [e for e in ActionLog(data / "actions.jsonl").entries() if e.action == "kill"]
