"""No way out of the dashboard leaves a job frozen behind the kill question.

``k`` stops the job (SIGSTOP) while the question is open. Whatever ends the question, an answer,
a key, ctrl+q, an error inside the app, a hangup of the terminal (an SSH drop) or SIGTERM, the
job runs on and the action log says so: a ``resume`` entry "kill cancelled: <why> — resumed".

The keys and the error run in a Pilot; the signals reach the installed ``plotman-tui`` in a real
terminal (a tmux pane), where killing the tmux server is a real hangup of its pty.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path

import pytest
from textual.pilot import Pilot

from plotman_tui.farm.actionlog import ActionEntry, ActionLog
from plotman_tui.farm.model import JobStatus
from plotman_tui.sandbox import Sandbox, StartedPlot, make_sandbox
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.screens.kill_screen import KillScreen
from tests.conftest import require_chiapos, require_real, wait_for
from tests.tui.pilots import until
from tests.tui.test_e2e_tmux import (
    PLOTMAN_TUI,
    SHOWN_S,
    end_plot,
    filter_to,
    job_line,
    short_root,
    start_stopped_plot,
)
from tests.tui.test_keys_real_jobs import (
    RUNNING,
    action_log,
    dashboard,
    farm,
    plots,
    proc_status,
    select_job,
    start,
)
from tests.tui.tmux import TmuxSession, tmux_available

__all__ = ["farm", "plots", "short_root"]  # fixtures shared with the other real-job tests

pytestmark = pytest.mark.real_service


def let_go(plot: StartedPlot) -> bool:
    """The job runs again (or has even finished, which a stopped job cannot)."""
    return proc_status(plot.popen.pid) in RUNNING or plot.popen.poll() == 0


def cancel_records(log: ActionLog, pid: int) -> list[ActionEntry]:
    return [
        entry
        for entry in log.entries()
        if entry.action == "resume" and entry.pid == pid and "kill cancelled" in entry.reason
    ]


async def ask_to_kill(app: DashboardApp, pilot: Pilot[int], pid: int) -> None:
    """``k`` on the job: the question is open and the job stopped."""
    await select_job(app, pilot, pid)
    await pilot.press("k")
    await until(pilot, lambda: isinstance(app.screen, KillScreen), 10, "the question")
    assert proc_status(pid) is JobStatus.STP


def assert_recorded(log: ActionLog, pid: int, why: str) -> None:
    (entry,) = wait_for(lambda: cancel_records(log, pid), 10, "the kill cancelled in the log")
    assert entry.result == "ok"
    assert entry.reason == f"dashboard: kill cancelled: {why} — resumed"
    assert not [e for e in log.entries() if e.action == "kill"]


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("n", "answered no"),
        ("escape", "escape pressed"),
        ("q", "q pressed"),
        ("ctrl+c", "ctrl+c pressed"),
    ],
)
async def test_a_key_that_leaves_the_question_resumes_the_job_and_records_why(
    farm: Sandbox, plots: list[StartedPlot], tmp_path: Path, key: str, why: str
) -> None:
    plot = start(farm, plots)
    pid = plot.popen.pid
    app = dashboard(farm)
    async with app.run_test(size=(80, 24)) as pilot:
        await ask_to_kill(app, pilot, pid)
        await pilot.press(key)
        await until(pilot, lambda: let_go(plot), 10, "the job running again")
        assert app.screen is app.dashboard and app.is_running  # the dashboard goes on
    assert_recorded(action_log(tmp_path), pid, why)


async def test_ctrl_q_with_the_question_open_quits_and_resumes_the_job(
    farm: Sandbox, plots: list[StartedPlot], tmp_path: Path
) -> None:
    plot = start(farm, plots)
    pid = plot.popen.pid
    app = dashboard(farm)
    async with app.run_test(size=(80, 24)) as pilot:
        await ask_to_kill(app, pilot, pid)
        await pilot.press("ctrl+q")
    wait_for(lambda: let_go(plot), 10, "the job running again")
    assert app.return_code == 0
    assert_recorded(action_log(tmp_path), pid, "the dashboard quit")


async def test_an_error_in_the_app_with_the_question_open_resumes_the_job(
    farm: Sandbox, plots: list[StartedPlot], tmp_path: Path
) -> None:
    plot = start(farm, plots)
    pid = plot.popen.pid
    app = dashboard(farm)

    def explode() -> None:
        raise RuntimeError("a bug in a handler")

    with pytest.raises(RuntimeError, match="a bug in a handler"):
        async with app.run_test(size=(80, 24)) as pilot:
            await ask_to_kill(app, pilot, pid)
            app.call_later(explode)
            await until(pilot, lambda: app.return_code == 1, 10, "the app failing")
    wait_for(lambda: let_go(plot), 10, "the job running again")
    assert_recorded(action_log(tmp_path), pid, "the dashboard stopped on an error")


# -- signals, in a real terminal ---------------------------------------------------------------


def pid_file_argv(pid_file: Path, argv: Sequence[str]) -> list[str]:
    """``argv`` run by a shell that first writes its pid (which ``exec`` hands on) to a file."""
    return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(pid_file), *argv]


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def read_pid(pid_file: Path) -> int:
    text = wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 10, "the pid")
    return int(text)


@pytest.mark.parametrize("how", ["hangup", "sigterm"])
def test_a_hangup_or_sigterm_with_the_question_open_resumes_the_job(
    tmp_path: Path, short_root: Path, how: str
) -> None:
    require_real(tmux_available(), "tmux is not installed (apt-get install tmux)")
    require_chiapos()
    assert PLOTMAN_TUI.exists(), f"{PLOTMAN_TUI}: install the package (make venv)"
    farm = make_sandbox(short_root / "farm", k=22)
    data = tmp_path / "data"
    env = {"PLOTMAN_TUI_DATA_DIR": str(data), "PLOTMAN_TUI_CACHE_DIR": str(tmp_path / "cache")}
    pid_file = tmp_path / "dashboard.pid"
    argv = [str(PLOTMAN_TUI), "--config", str(farm.config_path), "--no-autostart-plotting"]
    plot, short_id = start_stopped_plot(farm)  # stopped until the dashboard shows it alone
    pid = plot.popen.pid
    try:
        with TmuxSession(tmp_path, width=120, height=40) as tmux:
            tmux.start(pid_file_argv(pid_file, argv), env)
            dashboard_pid = read_pid(pid_file)
            tmux.wait_for(lambda s: job_line(s, short_id), SHOWN_S, "the job in the table")
            filter_to(tmux, short_id)
            os.killpg(pid, signal.SIGCONT)  # running when k stops it
            tmux.send("k")
            tmux.wait_for(lambda s: f"Kill job {short_id}" in s, SHOWN_S, "the question")
            assert proc_status(pid) is JobStatus.STP
            if how == "hangup":
                tmux.close()  # the pty's master closes: the terminal hangs up
            else:
                os.kill(dashboard_pid, signal.SIGTERM)
                assert tmux.exit_status(SHOWN_S) == 0
            wait_for(lambda: gone(dashboard_pid), SHOWN_S, "the dashboard gone")
        wait_for(lambda: let_go(plot), 10, "the job running again")
        why = "hangup (SIGHUP)" if how == "hangup" else "terminated (SIGTERM)"
        assert_recorded(ActionLog(data / "actions.jsonl"), pid, why)
    finally:
        end_plot(plot)
