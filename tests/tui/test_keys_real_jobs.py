"""Every job key of the dashboard against real plot jobs (chiapos through the sandbox's chia).

The app runs live: its engine passes, dir samples and action log reads are the real workers.
Each test has its own data dir (scheduler lock, action log, state). Plotting is paused, or the
config lets no job start, so these engines never start a job and need not run alone; the one
test that lets its engine start a job is marked exclusive.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Log, Static

from plotman_tui.config import load_config
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.farm.procfs import sample_process
from plotman_tui.farm.scheduler import Start, Wait
from plotman_tui.sandbox import Sandbox, StartedPlot, make_sandbox, start_plot
from plotman_tui.tui import job_control
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.messages import KillPrepared
from plotman_tui.tui.screens.job_screen import JobScreen
from plotman_tui.tui.screens.kill_screen import KillScreen
from plotman_tui.tui.view import job_key
from plotman_tui.tui.widgets.action_log_panel import ActionLogPanel
from plotman_tui.tui.widgets.status_line import StatusLine
from tests.conftest import require_chiapos, wait_for
from tests.tui.pilots import job_in_app, jobs_table, until

pytestmark = pytest.mark.real_service

RUNNING = {JobStatus.RUN, JobStatus.SLP, JobStatus.DSK}


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    require_chiapos()
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    return make_sandbox(tmp_path / "farm", k=22)


@pytest.fixture
def plots() -> Iterator[list[StartedPlot]]:
    """Plots a test starts (or learns of); whatever still runs at the end is killed."""
    started: list[StartedPlot] = []
    yield started
    for plot in started:
        if plot.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(plot.popen.pid, signal.SIGKILL)
        plot.popen.wait(timeout=30)


def action_log(tmp_path: Path) -> ActionLog:
    return ActionLog(tmp_path / "data" / "actions.jsonl")


def dashboard(farm: Sandbox, *, plotting: bool = False, **scheduling: Any) -> DashboardApp:
    config = load_config(farm.config_path)
    config = replace(config, scheduling=replace(config.scheduling, **scheduling))
    return DashboardApp(config, farm.config_path, plotting_enabled=plotting)


def in_phase_1(job: Job | None) -> bool:
    return bool(job and job.plot_id and job.phase and job.phase.major == 1)


def proc_status(pid: int) -> JobStatus | None:
    reading = sample_process(pid)
    return reading.status if reading is not None else None


def status_text(status: StatusLine) -> str:
    return str(status.query_one("#status-plotting", Static).content)


def start(farm: Sandbox, plots: list[StartedPlot]) -> StartedPlot:
    """A k22 plot job, killed after the test if it still runs."""
    plot = start_plot(farm, k=22)
    plots.append(plot)
    return plot


async def select_job(
    app: DashboardApp, pilot: Pilot[int], pid: int, *, in_phase_1_s: float | None = None
) -> Job:
    """The job once the table shows it (in phase 1, with its plot id, within ``in_phase_1_s``
    if given), under the cursor."""
    if in_phase_1_s is None:
        job = await until(pilot, lambda: job_in_app(app, pid), 30, "the job in the table")
    else:
        job = await until(
            pilot,
            lambda: in_phase_1(job_in_app(app, pid)) and job_in_app(app, pid),
            in_phase_1_s,
            "the job in phase 1",
        )
    assert jobs_table(app).select_key(job_key(job))
    return job


def temp_files(farm: Sandbox, plot_id: str) -> list[Path]:
    dirs = [*farm.tmp_dirs, *farm.dst_dirs, *([farm.tmp2_dir] if farm.tmp2_dir else [])]
    return [p for d in dirs for p in d.iterdir() if plot_id in p.name and p.name.endswith(".tmp")]


async def test_suspend_and_resume_keys_signal_the_job_and_record_it(
    farm: Sandbox, plots: list[StartedPlot], tmp_path: Path
) -> None:
    plot = start(farm, plots)
    pid = plot.popen.pid
    app = dashboard(farm)
    async with app.run_test(size=(120, 40)) as pilot:
        await select_job(app, pilot, pid)
        await pilot.press("s")
        await until(pilot, lambda: proc_status(pid) is JobStatus.STP, 10, "the process stopped")
        await until(
            pilot,
            lambda: getattr(job_in_app(app, pid), "status", None) is JobStatus.STP,
            5,
            "STP in the table",
        )
        await pilot.press("r")
        await until(pilot, lambda: proc_status(pid) in RUNNING, 10, "the process running")
        await until(
            pilot,
            lambda: getattr(job_in_app(app, pid), "status", None) in RUNNING,
            5,
            "the table showing it running",
        )
        panel = app.dashboard.query_one(ActionLogPanel)
        await until(
            pilot,
            lambda: {"suspend", "resume"} <= {e.action for e in panel.entries},
            5,
            "both actions in the action log panel",
        )
    recorded = [(e.action, e.pid, e.result) for e in action_log(tmp_path).entries()]
    assert ("suspend", pid, "ok") in recorded and ("resume", pid, "ok") in recorded


async def test_kill_key_ends_the_job_and_deletes_its_temp_files_after_confirming(
    farm: Sandbox, plots: list[StartedPlot], tmp_path: Path
) -> None:
    plot = start(farm, plots)
    pid = plot.popen.pid
    app = dashboard(farm)
    async with app.run_test(size=(80, 24)) as pilot:
        job = await select_job(app, pilot, pid, in_phase_1_s=60)
        assert job.plot_id
        assert temp_files(farm, job.plot_id)
        await pilot.press("k")
        screen = await until(
            pilot, lambda: isinstance(app.screen, KillScreen) and app.screen, 10, "the question"
        )
        assert proc_status(pid) is JobStatus.STP  # held still while the question is open
        assert screen.plan.files and all(job.plot_id in f.path for f in screen.plan.files)
        await pilot.press("y")
        await until(pilot, lambda: plot.popen.poll() is not None, 20, "the process gone")
        await until(pilot, lambda: not temp_files(farm, job.plot_id or ""), 10, "files gone")
        await until(pilot, lambda: job_in_app(app, pid) is None, 5, "the row gone")
        assert job_key(job) not in jobs_table(app).row_keys
    kills = [e for e in action_log(tmp_path).entries() if e.action == "kill"]
    assert len(kills) == 1 and kills[0].result == "ok" and kills[0].pid == pid
    assert kills[0].extra["deleted"] and kills[0].extra["freed_bytes"] >= 0


async def test_cancelled_kill_lets_the_job_run_on_with_its_files(
    farm: Sandbox, plots: list[StartedPlot], tmp_path: Path
) -> None:
    plot = start(farm, plots)
    pid = plot.popen.pid
    app = dashboard(farm)
    async with app.run_test(size=(80, 24)) as pilot:
        job = await select_job(app, pilot, pid, in_phase_1_s=60)
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, KillScreen), 10, "the question")
        await pilot.press("n")
        await until(pilot, lambda: proc_status(pid) in RUNNING, 10, "the process running")
        assert app.screen is app.dashboard
        assert plot.popen.poll() is None
        assert temp_files(farm, job.plot_id or "")  # nothing deleted
        # Quitting while a kill question is open resumes the job too.
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, KillScreen), 10, "the question")
        assert proc_status(pid) is JobStatus.STP
    wait_for(lambda: proc_status(pid) in RUNNING, 5, "the job running after quitting")
    assert plot.popen.poll() is None
    assert not [e for e in action_log(tmp_path).entries() if e.action == "kill"]


async def test_quitting_while_a_kill_is_being_prepared_lets_the_job_run_on(
    farm: Sandbox, plots: list[StartedPlot], monkeypatch: pytest.MonkeyPatch
) -> None:
    plot = start(farm, plots)
    pid = plot.popen.pid
    release = threading.Event()
    prepared: list[object] = []
    real_plan_kill = job_control.plan_kill

    def slow_plan_kill(log: ActionLog | None, job: Job) -> object:
        release.wait(10)  # the app quits meanwhile
        message = real_plan_kill(log, job)
        prepared.append(message)
        return message

    monkeypatch.setattr(job_control, "plan_kill", slow_plan_kill)
    app = dashboard(farm)
    async with app.run_test(size=(80, 24)) as pilot:
        await select_job(app, pilot, pid)
        await pilot.press("k")
        threading.Timer(0.3, release.set).start()
    wait_for(lambda: prepared, 10, "the kill prepared after the app closed")
    assert isinstance(prepared[0], KillPrepared) and prepared[0].plan.stopped
    wait_for(lambda: proc_status(pid) in RUNNING, 5, "the job running again")


def assert_log_shown_clean(shown: Path, log: Path) -> None:
    """The pager was given the job's log as it was then, without its colour codes."""
    text = shown.read_text()
    assert "\x1b" not in text and "\x1b[32m" in log.read_text()
    lines = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text()).splitlines()
    assert text.splitlines() == lines[: len(text.splitlines())]
    assert "Starting phase 1/4" in text


async def test_details_screen_follows_the_job_and_its_log_and_l_opens_the_pager(
    farm: Sandbox,
    plots: list[StartedPlot],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / "pager-saw"
    pager = tmp_path / "pager.py"
    # It copies what it was given: the log cleaned (the sandbox's chia colours its levels).
    pager.write_text(f"import shutil, sys\nshutil.copyfile(sys.argv[1], {str(marker)!r})\n")
    monkeypatch.setenv("PAGER", f"{sys.executable} {pager}")
    plot = start(farm, plots)
    pid = plot.popen.pid
    app = dashboard(farm)
    # A headless test driver cannot hand the terminal over; the pager runs all the same.
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    async with app.run_test(size=(120, 40)) as pilot:
        job = await select_job(app, pilot, pid, in_phase_1_s=60)
        await pilot.press("l")
        assert_log_shown_clean(marker, plot.log_path)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, JobScreen) and screen.job.pid == pid
        log = screen.query_one(Log)
        await until(pilot, lambda: any("phase 1" in line.lower() for line in log.lines), 10, "log")
        await until(
            pilot,
            lambda: screen.job.phase != job.phase or screen.job.wall_seconds > job.wall_seconds,
            10,
            "fresh job",
        )
        marker.unlink()
        await pilot.press("l")
        assert_log_shown_clean(marker, plot.log_path)
        await pilot.press("s")  # keys act on the screen's job
        await until(pilot, lambda: proc_status(pid) is JobStatus.STP, 10, "stopped from details")
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_pause_key_switches_scheduling_and_says_so(farm: Sandbox, tmp_path: Path) -> None:
    # global_max_jobs 0: this engine cannot start a job, whatever the switch says.
    app = dashboard(farm, plotting=True, global_max_jobs=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.plotting.decision == Wait("max jobs (0)"), 15, "a plan")
        status = app.dashboard.query_one(StatusLine)
        await pilot.press("p")
        assert not app.plotting.enabled
        await until(
            pilot, lambda: app.plotting.decision == Wait("plotting is paused"), 5, "paused pass"
        )
        assert "Plotting: paused" in status_text(status)
        await pilot.press("p")
        await until(pilot, lambda: app.plotting.decision == Wait("max jobs (0)"), 5, "resumed")
        assert "Plotting: active" in status_text(status)
    actions = [e.action for e in action_log(tmp_path).entries()]
    assert actions == ["pause", "unpause"]


async def test_resize_while_passes_run_over_a_real_job(
    farm: Sandbox, plots: list[StartedPlot]
) -> None:
    plot = start(farm, plots)
    pid = plot.popen.pid
    app = dashboard(farm)
    async with app.run_test(size=(200, 60)) as pilot:
        job = await select_job(app, pilot, pid)
        runs = app.pollers["engine"].runs
        for width, height in [(80, 24), (40, 10), (120, 40), (81, 25), (200, 60), (100, 30)]:
            await pilot.resize_terminal(width, height)
            await until(
                pilot, lambda w=width, h=height: app.screen.size == (w, h), 5, "the new size"
            )
        await until(pilot, lambda: app.pollers["engine"].runs >= runs + 2, 10, "passes meanwhile")
        assert jobs_table(app).selected_key == job_key(job)


@pytest.mark.exclusive
async def test_resuming_plotting_starts_a_job_that_then_shows(
    farm: Sandbox, plots: list[StartedPlot]
) -> None:
    app = dashboard(farm, plotting=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.plotting.decision == Wait("plotting is paused"), 15, "pass")
        assert app.state.snapshot.jobs == () or all(
            job.tmp_dir not in {str(d) for d in farm.tmp_dirs} for job in app.state.snapshot.jobs
        )
        await pilot.press("p")
        feed = app.plotting_feed
        assert feed is not None
        try:
            await until(pilot, lambda: feed.engine.launched, 15, "a start")
            assert isinstance(app.plotting.decision, Start) or app.plotting.last_start
            await pilot.press("p")  # and no more
            (pid,) = feed.engine.launched
            ours = await until(pilot, lambda: job_in_app(app, pid), 15, "the new job shown")
            assert ours.tmp_dir in {str(d) for d in farm.tmp_dirs}
        finally:
            for pid in feed.engine.launched:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
