"""The fleet screen (F): every host's line over every host's jobs, fed the message the fleet's
client posts (``FleetChanged``) by an app without workers; then against real hosts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from plotman_tui.farm.model import JobStatus, TempFile
from plotman_tui.fleet.client import RemoteResult
from plotman_tui.fleet.model import HostStatus
from plotman_tui.plotters.phase import Phase
from plotman_tui.tui.app import DashboardApp, say_left_suspended
from plotman_tui.tui.fleet import FleetLink, HostSource, kill_plan
from plotman_tui.tui.messages import FleetChanged, FleetKillPrepared
from plotman_tui.tui.screens.dashboard import DashboardScreen
from plotman_tui.tui.screens.fleet_screen import FleetScreen
from plotman_tui.tui.screens.kill_screen import KillScreen
from plotman_tui.tui.view import fleet_job_key, host_job, job_key
from plotman_tui.tui.widgets.fleet_jobs_table import FLEET_SLOW_REFRESH_S
from tests.tui.farmdata import GIB, NOW, TMP, still_app
from tests.tui.fleetdata import (
    DOWN_PROBLEM,
    FAILED_PROBLEM,
    fleet_app,
    fleet_changed,
    fleet_views,
    plotter2_estimates,
    plotter2_jobs,
)
from tests.tui.pilots import until

pytestmark = pytest.mark.usefixtures("utc")


async def open_fleet(pilot: Pilot[int]) -> FleetScreen:
    pilot.app.post_message(fleet_changed())
    await pilot.pause()
    await pilot.press("F")
    screen = await until(
        pilot,
        lambda: pilot.app.screen if isinstance(pilot.app.screen, FleetScreen) else None,
        5,
        "the fleet screen",
    )
    await pilot.pause()
    return screen


def job_rows(screen: FleetScreen) -> list[tuple[str, str, str]]:
    """Each row of the jobs table as drawn: (host, pid, phase)."""
    table = screen.jobs_table
    cells = table.drawn_cells()
    return [
        (cells[(key, "host")], cells[(key, "pid")], cells[(key, "phase")]) for key in table.row_keys
    ]


async def test_every_up_hosts_jobs_show_with_their_host_and_phase() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_fleet(pilot)
        expected = [
            (view.name, str(job.pid), str(job.phase) if job.phase else "?")
            for view in fleet_views()
            if view.status is HostStatus.UP
            for job in view.jobs
        ]
        assert job_rows(screen) == expected
        assert len(expected) == 8  # this machine's five and plotter2's three


def test_a_hosts_dashboard_shows_the_progress_and_eta_its_watch_sent() -> None:
    view = fleet_views()[1]
    source = HostSource(view, view.config.config)  # type: ignore[union-attr]
    columns = {column.id: column.column for column in source.columns()}
    first, second, third = source.state.snapshot.jobs
    assert [columns["done"].cell(job) for job in (first, second, third)] == ["12%", "55%", "-"]
    assert [columns["eta"].cell(job) for job in (first, second, third)] == ["6:40", "3:30", "-"]
    # An older watch sends no estimate: every job shows "-", as before.
    older = HostSource(replace(view, estimates={}), view.config.config)  # type: ignore[union-attr]
    columns = {column.id: column.column for column in older.columns()}
    assert {
        columns[name].cell(job) for name in ("done", "eta") for job in older.state.snapshot.jobs
    } == {"-"}


async def test_the_fleets_jobs_show_each_hosts_progress_and_eta() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_fleet(pilot)
        table = screen.jobs_table
        cells = table.drawn_cells()
        first, second, third = (host_job("plotter2", job) for job in plotter2_jobs())
        shown = {
            job.pid: (cells[(fleet_job_key(job), "done")], cells[(fleet_job_key(job), "eta")])
            for job in (first, second, third)
        }
        assert shown == {
            first.pid: ("12%", "6:40"),
            second.pid: ("55%", "3:30"),
            third.pid: ("-", "-"),
        }
        # A job's news brings its new estimate; the table shows it.
        views = list(fleet_views())
        later = replace(plotter2_estimates()[job_key(first)], progress=0.2)
        moved = replace(views[1].jobs[0], wall_seconds=views[1].jobs[0].wall_seconds + 600)
        views[1] = replace(
            views[1],
            jobs=(moved, *views[1].jobs[1:]),
            estimates={**plotter2_estimates(), job_key(moved): later},
        )
        app.post_message(FleetChanged(tuple(views)))
        await until(
            pilot,
            lambda: table.cell_text(fleet_job_key(first), "done") == "20%",
            5,
            "the new progress",
        )
        # Sorted by time left (o, as on the dashboard): unknown first, then shortest first.
        screen.order = screen.order.by("eta")
        screen._show_jobs()
        await pilot.pause()
        rows = [key for key in table.row_keys if key.startswith("plotter2")]
        assert rows == [fleet_job_key(job) for job in (third, second, first)]


def footer_keys(app: DashboardApp) -> list[str]:
    """The footer's keys as ``key description`` (the screen is wide enough for them all)."""
    return [f"{key.key_display} {key.description}" for key in app.screen.query(FooterKey)]


async def test_p_and_a_say_what_they_will_do_to_the_selected_hosts_loops() -> None:
    app = fleet_app()
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_fleet(pilot)
        # This machine: plotting active, archiving not set up (a says so when pressed).
        keys = footer_keys(app)
        assert "p Pause plotting" in keys and "a Archiving" in keys
        assert not {"p Resume plotting", "a Pause archiving", "a Resume archiving"} & set(keys)

        await pilot.press("down")  # plotter2: plotting paused there by alice
        await pilot.pause()
        keys = footer_keys(app)
        assert "p Resume plotting" in keys and "p Pause plotting" not in keys
        await pilot.press("p")
        await pilot.pause()
        assert any("resuming plotting on plotter2" in n.message for n in app._notifications)

        # Its news: resumed there (and archiving set up, running): the keys follow.
        views = list(fleet_views())
        views[1] = replace(
            views[1],
            plotting=replace(views[1].plotting, paused=False),
            archiving=replace(views[1].plotting, paused=False),
        )
        app.post_message(FleetChanged(tuple(views)))
        await until(pilot, lambda: "p Pause plotting" in footer_keys(app), 5, "Pause plotting")
        assert "a Pause archiving" in footer_keys(app)

        # From the jobs: the selected job's host's.
        await pilot.press("tab")
        await pilot.pause()
        table = screen.jobs_table
        local_row = next(i for i, k in enumerate(table.row_keys) if not k.startswith("plotter2"))
        table._move_cursor(local_row)
        await until(pilot, lambda: "a Archiving" in footer_keys(app), 5, "this machine's a")
        plotter2_row = next(i for i, k in enumerate(table.row_keys) if k.startswith("plotter2"))
        table._move_cursor(plotter2_row)
        await until(pilot, lambda: "a Pause archiving" in footer_keys(app), 5, "plotter2's a")


async def test_a_down_or_failed_host_says_why_and_shows_no_jobs() -> None:
    app = fleet_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_fleet(pilot)
        hosts = screen.hosts_table
        assert hosts.row_keys == ["local", "plotter2", "plotter3", "plotter4"]
        assert hosts.cell_text("plotter3", "state") == "down 2m"
        assert hosts.cell_text("plotter4", "state") == "failed"
        assert hosts.cell_text("plotter2", "state") == "up"
        trouble = str(screen.query_one("#fleet-trouble").render())
        assert f"plotter3 down 2m: {DOWN_PROBLEM}" in trouble
        # Cut to the width, from the end: the start of why is what a farmer reads.
        assert f"plotter4 failed: {FAILED_PROBLEM[:60]}" in trouble
        assert {host for host, _pid, _phase in job_rows(screen)} == {"local", "plotter2"}


async def test_sorted_by_host_and_filtered_by_the_hosts_name() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_fleet(pilot)
        await pilot.press("o")  # the first column: host
        hosts = [host for host, _pid, _phase in job_rows(screen)]
        assert hosts == sorted(hosts) and hosts[0] == "local"
        await pilot.press("O")
        hosts = [host for host, _pid, _phase in job_rows(screen)]
        assert hosts == sorted(hosts, reverse=True) and hosts[0] == "plotter2"
        summary = str(screen.query_one("#fleet-summary").render())
        assert "by host ▼" in summary
        await pilot.press("slash", *"plotter2", "enter")
        assert {host for host, _pid, _phase in job_rows(screen)} == {"plotter2"}
        assert len(job_rows(screen)) == 3
        assert "jobs 3/8" in str(screen.query_one("#fleet-summary").render())
        await pilot.press("escape")  # the filter goes first
        assert len(job_rows(screen)) == 8
        assert isinstance(app.screen, FleetScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_only_the_rows_that_changed_are_made_again() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_fleet(pilot)
        table = screen.jobs_table
        before = dict(table._cells)
        views = list(fleet_views())
        moved = replace(views[1].jobs[0], phase=Phase(1, 4))
        views[1] = replace(views[1], jobs=(moved, *views[1].jobs[1:]))
        app.post_message(FleetChanged(tuple(views)))
        await pilot.pause()
        after = table._cells
        changed = {key for key in after if after[key] is not before.get(key)}
        assert changed == {fleet_job_key(host_job("plotter2", moved))}
        assert table.cell_text(fleet_job_key(host_job("plotter2", moved)), "phase") == "1:4"


async def test_a_beat_draws_nothing_again() -> None:
    """A host's beat (news, nothing else) every 2 s: the hosts' lines, the trouble under them,
    the summary and the jobs are what they were, and none is drawn or laid out again."""
    app = fleet_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_fleet(pilot)
        updates: list[str] = []
        for name in ("#fleet-trouble", "#fleet-summary"):
            static = screen.query_one(name, Static)
            update = static.update

            def counted(*args: object, _name: str = name, _update: Any = update) -> None:
                updates.append(_name)
                _update(*args)

            static.update = counted  # type: ignore[method-assign]
        hosts_rows = dict(screen.hosts_table._cells)
        jobs_rows = dict(screen.jobs_table._cells)
        views = [replace(view, news_at=(view.news_at or NOW) + 2) for view in fleet_views()]
        app.post_message(FleetChanged(tuple(views)))
        await pilot.pause()
        assert screen.views == tuple(views)
        assert updates == []
        assert all(screen.hosts_table._cells[key] is row for key, row in hosts_rows.items())
        assert all(screen.jobs_table._cells[key] is row for key, row in jobs_rows.items())
        # plotter2 goes down: its line, the trouble and the summary change, and show.
        views[1] = replace(views[1], status=HostStatus.DOWN, problem="connection lost")
        app.post_message(FleetChanged(tuple(views)))
        await until(
            pilot,
            lambda: "plotter2" in str(screen.query_one("#fleet-trouble", Static).render()),
            5,
            "plotter2 in trouble",
        )
        assert sorted(updates) == ["#fleet-summary", "#fleet-trouble"]
        assert screen.hosts_table.cell_text("plotter2", "state").startswith("down")
        assert "2 down" in str(screen.query_one("#fleet-summary", Static).render())


async def test_a_hosts_line_follows_its_loops_and_a_down_hosts_age_the_clock() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_fleet(pilot)
        hosts = screen.hosts_table
        assert hosts.cell_text("plotter2", "plotting").startswith("paused")
        views = list(fleet_views())
        views[1] = replace(views[1], plotting=replace(views[1].plotting, paused=False))
        app.post_message(FleetChanged(tuple(views)))
        await until(
            pilot, lambda: hosts.cell_text("plotter2", "plotting") == "active: stagger", 5, "active"
        )
        # Ten minutes on, with no news: the down host's age moves on (the ages' timer).
        screen.clock = lambda: NOW + 600
        screen._show_ages()
        await until(
            pilot, lambda: hosts.cell_text("plotter3", "state") == "down 12m", 5, "down 12m"
        )


async def test_a_change_in_slow_columns_only_shows_once_they_are_due() -> None:
    """A job whose memory and CPU times moved keeps its row until the fleet's slow refresh
    is due; a new phase shows at once, with the rest of its row."""
    app = fleet_app()
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_fleet(pilot)
        table = screen.jobs_table
        now = [1000.0]
        table._clock = lambda: now[0]
        table._slow_due_at = now[0] + FLEET_SLOW_REFRESH_S
        columns = screen._columns
        views = list(fleet_views())
        first, second, *rest = views[1].jobs
        key = fleet_job_key(host_job("plotter2", first))
        other = fleet_job_key(host_job("plotter2", second))
        mem_before = table.cell_text(key, "mem")
        grown = replace(first, mem_rss_bytes=first.mem_rss_bytes + 3 * GIB, user_seconds=9_999)
        moved = replace(second, phase=Phase(2, 2), mem_rss_bytes=second.mem_rss_bytes + 5 * GIB)
        views[1] = replace(views[1], jobs=(grown, moved, *rest))
        now[0] += FLEET_SLOW_REFRESH_S - 1  # a dashboard's own 5 s are long past
        app.post_message(FleetChanged(tuple(views)))
        await until(pilot, lambda: table.cell_text(other, "phase") == "2:2", 5, "the new phase")
        assert table.cell_text(key, "mem") == mem_before
        assert table.cell_text(other, "mem") != table.cell_text(key, "mem")
        assert screen._columns is columns  # the same dirs: the same prefixes and columns
        # Due: the next news shows every job's slow columns as they are now.
        now[0] += 2
        views[1] = replace(views[1], jobs=(grown, moved, *rest), news_at=NOW + 5)
        app.post_message(FleetChanged(tuple(views)))
        await until(pilot, lambda: table.cell_text(key, "mem") != mem_before, 5, "the new mem")
        assert table.cell_text(key, "user") != "-"


async def test_news_that_changes_no_row_on_screen_draws_no_line() -> None:
    app = fleet_app()
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_fleet(pilot)
        table = screen.jobs_table
        table._slow_due_at = float("inf")
        lines: list[int] = []
        refresh_line = table.refresh_line

        def counted(y: int) -> None:
            lines.append(y)
            refresh_line(y)

        table.refresh_line = counted  # type: ignore[method-assign]
        views = list(fleet_views())
        first, *rest = views[1].jobs
        views[1] = replace(views[1], jobs=(replace(first, user_seconds=5_555), *rest))
        app.post_message(FleetChanged(tuple(views)))
        await until(pilot, lambda: screen.views == tuple(views), 5, "the news")
        await pilot.pause()
        assert lines == []
        # A new phase: that row's line (the cursor's stays where it was).
        views[1] = replace(views[1], jobs=(replace(first, phase=Phase(1, 7)), *rest))
        app.post_message(FleetChanged(tuple(views)))
        key = fleet_job_key(host_job("plotter2", first))
        await until(pilot, lambda: table.cell_text(key, "phase") == "1:7", 5, "the phase")
        assert lines == [table.row_keys.index(key) + 1]


async def test_a_job_in_a_new_dir_gets_new_prefixes() -> None:
    app = fleet_app()
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_fleet(pilot)
        columns = screen._columns
        views = list(fleet_views())
        first, *rest = views[1].jobs
        away = replace(first, tmp_dir="/elsewhere/tmp", pid=first.pid + 1)
        views[1] = replace(views[1], jobs=(away, *rest))
        app.post_message(FleetChanged(tuple(views)))
        key = fleet_job_key(host_job("plotter2", away))
        await until(pilot, lambda: key in screen.jobs_table.row_keys, 5, "the job elsewhere")
        assert screen._columns is not columns
        assert screen.jobs_table.cell_text(key, "tmp").endswith("elsewhere/tmp")


async def test_f_without_a_fleet_says_how_to_add_hosts() -> None:
    app = still_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("F")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        notices = [notice.message for notice in app._notifications]
        assert any("[[fleet.hosts]]" in notice for notice in notices), notices


async def test_f_goes_back_and_the_dashboard_keys_stay_local() -> None:
    app = fleet_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_fleet(pilot)
        await pilot.press("F")
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("F")
        assert isinstance(app.screen, FleetScreen)


async def test_the_kill_question_lists_the_hosts_files_and_names_the_host() -> None:
    app = fleet_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_fleet(pilot)
        job = host_job("plotter2", plotter2_jobs()[0])
        files = (
            TempFile(f"{TMP[0]}/plot-k32-{job.plot_id}.plot.sort.tmp", 50 * GIB),
            TempFile(f"{TMP[0]}/plot-k32-{job.plot_id}.plot.table1.tmp", 10 * GIB),
        )
        plan = kill_plan(job, files, 60 * GIB)
        assert plan.resume_on_cancel and plan.stopped
        assert "on plotter2 is stopped; killing it deletes 2 temp files (60.0 GiB)" in plan.message
        app.fleet.pending_kill = job  # type: ignore[union-attr]
        app.post_message(FleetKillPrepared(host="plotter2", plan=plan))
        question = await until(
            pilot,
            lambda: app.screen if isinstance(app.screen, KillScreen) else None,
            5,
            "the kill question",
        )
        title = question.query_one("#kill-dialog").border_title
        assert title == f"Kill job {job.plot_id[:8]} (pid {job.pid}) on plotter2?"  # type: ignore[index]
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)
        assert app.fleet.pending_kill is None  # type: ignore[union-attr]


def answering(app: DashboardApp, answers: dict[str, RemoteResult]) -> tuple[FleetLink, list[str]]:
    """The app's fleet link with a fleet client (not connected) whose commands on a host
    answer as ``answers`` says, by command (``suspend``, ``files``, ``resume``); the
    commands asked, in order."""
    from plotman_tui.fleet.client import FleetClient

    link = app.fleet
    assert link is not None
    client = FleetClient(app.config)
    asked: list[str] = []

    async def run_command(
        name: str, argv: Sequence[str], *, timeout_s: float = 30.0
    ) -> RemoteResult:
        asked.append(argv[0])
        return answers[argv[0]]

    client.run_command = run_command  # type: ignore[method-assign]
    link.client = client
    return link, asked


HUNG = RemoteResult(
    None,
    "",
    "",
    "resume pid:1@2 on chia@10.0.0.12:22 did not finish within 30 s (a slow link or a busy host?)",
)


def notices(app: DashboardApp) -> list[str]:
    return [notice.message for notice in app._notifications if notice.severity == "error"]


async def test_a_kill_whose_listing_and_resume_fail_says_the_job_is_still_suspended() -> None:
    app = fleet_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_fleet(pilot)
        link, asked = answering(
            app,
            {
                "suspend": RemoteResult(0, "suspended", ""),
                "files": RemoteResult(1, "", "plotman-tui: cannot read /proc"),
                "resume": HUNG,
            },
        )
        job = host_job("plotter2", plotter2_jobs()[0])
        link.kill(job)
        await until(pilot, lambda: notices(app), 5, "the notice")
        (notice,) = notices(app)
        # The resume did not answer: it may have worked.
        assert notice.startswith(f"job {job.plot_id[:8]} (pid {job.pid}) on plotter2 MAY BE STILL")  # type: ignore[index]
        assert "cannot read /proc" in notice and "did not finish within 30 s" in notice
        assert notice.endswith("press r on it on the fleet screen")
        assert asked == ["suspend", "files", "resume"]
        assert link.pending_kill is None


async def test_a_kill_whose_suspend_did_not_answer_resumes_the_job_to_be_sure() -> None:
    app = fleet_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_fleet(pilot)
        link, asked = answering(app, {"suspend": HUNG, "resume": HUNG})
        link.kill(host_job("plotter2", plotter2_jobs()[0]))
        await until(pilot, lambda: notices(app), 5, "the notice")
        assert asked == ["suspend", "resume"]
        assert "MAY BE STILL SUSPENDED (its suspend did not answer" in notices(app)[0]
        # The resume went through: the kill failed, and the job runs on.
        app._notifications.clear()
        link, asked = answering(app, {"suspend": HUNG, "resume": RemoteResult(0, "resumed", "")})
        link.kill(host_job("plotter2", plotter2_jobs()[0]))
        await until(pilot, lambda: notices(app), 5, "the notice")
        assert asked == ["suspend", "resume"]
        assert notices(app)[0].endswith(
            "did not finish within 30 s (a slow link or a busy host?); resumed there to be sure"
        )
        # A suspend the host refused (it answered) did nothing there: no resume, no alarm.
        app._notifications.clear()
        link, asked = answering(app, {"suspend": RemoteResult(1, "", "no such job")})
        link.kill(host_job("plotter2", plotter2_jobs()[1]))
        await until(pilot, lambda: notices(app), 5, "the notice")
        assert asked == ["suspend"]
        assert notices(app) == ["plotter2: no such job"]


async def test_quitting_with_the_question_open_says_when_the_job_stays_suspended(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = fleet_app()
    job = host_job("plotter2", plotter2_jobs()[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await open_fleet(pilot)
        link, asked = answering(app, {"resume": HUNG})
        link.pending_kill = job  # the question is open
    assert asked == ["resume"]
    (line,) = link.left_suspended
    assert line.startswith(f"job {job.plot_id[:8]} (pid {job.pid}) on plotter2 MAY BE STILL")  # type: ignore[index]
    assert line.endswith(f"run `plotman-tui resume pid:{job.pid}@{job.started_at:.3f}` on plotter2")
    say_left_suspended(app)  # as run_dashboard does once the app has gone
    assert capsys.readouterr().err == f"plotman-tui: {line}\n"


def test_a_job_suspended_before_the_question_stays_so_when_it_is_called_off() -> None:
    job = host_job("plotter2", replace(plotter2_jobs()[0], status=JobStatus.STP))
    assert not kill_plan(job, (), 0).resume_on_cancel
    assert "deletes no temp file" in kill_plan(job, (), 0).message


def test_help_explains_every_column_of_the_hosts_table() -> None:
    from plotman_tui.tui.screens.help_screen import FLEET_HELP, FLEET_JOBS_HELP, OTHER_KEYS
    from plotman_tui.tui.widgets.fleet_hosts_table import COLUMNS

    assert {column.title for column in COLUMNS} <= set(FLEET_HELP)
    assert [term for term, _ in FLEET_JOBS_HELP] == ["host"]
    fleet_keys = dict(OTHER_KEYS)["fleet screen"]
    for key in ("escape", "F", "tab", "enter", "s / r / k", "p / a", "/ o O"):
        assert key in fleet_keys


# -- against real hosts ----------------------------------------------------------------------------


async def until_here(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``predicate`` with no app running, until it holds or the deadline."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


def _stopped(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_STOPPED
    except psutil.NoSuchProcess:
        return False


def _running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.mark.real_service
@pytest.mark.xdist_group("fleet")
async def test_keys_on_a_real_hosts_job_and_loop_act_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s, r, k (answered no) on a job of a host over sshd, and p on the host: each takes effect
    on that host (the job's process stopped, running on; its pause flag set)."""
    from plotman_tui.farm.actionlog import ActionLog
    from plotman_tui.farm.pauseflags import Loop, read_pause
    from tests.fleethosts import bed, fleet_config, load_fleet, require_fleet

    require_fleet()
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "dashboard-data"))
    with bed(tmp_path, ["rig1"]) as hosts:
        rig1 = hosts[0]
        started = rig1.start_plot(k=22)
        path = fleet_config(tmp_path, hosts)
        log = ActionLog(tmp_path / "dashboard-data" / "actions.jsonl")
        app = DashboardApp(load_fleet(path), path, plotting_enabled=False, action_log=log)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.press("F")
            screen = await until(
                pilot,
                lambda: app.screen if isinstance(app.screen, FleetScreen) else None,
                10,
                "the fleet screen",
            )

            def rig1_job() -> str | None:
                rows = job_rows(screen)
                return next((pid for host, pid, phase in rows if phase.startswith("1:")), None)

            await until(pilot, rig1_job, 90, "rig1's job in phase 1 on the fleet screen")
            here = rig1.job_process(started).pid
            await pilot.press("tab")  # the jobs table
            assert screen.selected_job() is not None

            await pilot.press("s")
            await until(pilot, lambda: _stopped(here), 20, "the job stopped on rig1")
            await pilot.press("r")
            await until(pilot, lambda: _running(here), 20, "the job running on on rig1")

            await pilot.press("k")
            question = await until(
                pilot,
                lambda: app.screen if isinstance(app.screen, KillScreen) else None,
                30,
                "the kill question",
            )
            assert _stopped(here)
            plan = question.plan
            on_disk = {str(p) for p in rig1.temp_files(plan.job.plot_id or "?")}
            assert plan.files and {f.path for f in plan.files} <= on_disk
            assert "on rig1 is stopped" in plan.message
            await pilot.press("n")
            await until(pilot, lambda: _running(here), 20, "the job let run on after no")

            await pilot.press("tab")  # back to the hosts
            await pilot.press("p")
            await until(
                pilot,
                lambda: read_pause(Loop.PLOTTING, directory=rig1.data_dir).paused,
                20,
                "rig1's plotting paused",
            )
            await until(
                pilot,
                lambda: "paused" in screen.hosts_table.cell_text("rig1", "plotting"),
                20,
                "the pause on rig1's line",
            )

            # Quitting with the question open lets the job run on there too.
            await pilot.press("tab", "k")
            await until(
                pilot,
                lambda: isinstance(app.screen, KillScreen),
                30,
                "the kill question again",
            )
            assert _stopped(here)
        await until_here(lambda: _running(here), 20, "the job let run on after quitting")
    actions = [entry.action for entry in log.entries()]
    assert actions[:2] == ["fleet-suspend", "fleet-resume"]
    assert "fleet-pause-plotting" in actions


async def test_enter_on_a_host_opens_its_dashboard_fed_from_the_host() -> None:
    from plotman_tui.tui.widgets.jobs_table import JobsTable
    from plotman_tui.tui.widgets.prefixes_line import PrefixesLine
    from plotman_tui.tui.widgets.status_line import StatusLine

    app = fleet_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_fleet(pilot)
        await pilot.press("down", "enter")  # plotter2's line
        host = await until(
            pilot,
            lambda: app.screen if isinstance(app.screen, DashboardScreen) else None,
            5,
            "plotter2's dashboard",
        )
        assert host is not app.dashboard and host.source is not None
        table = host.query_one(JobsTable)
        await until(pilot, lambda: table.row_count == 3, 5, "plotter2's jobs")
        pids = {table.cell_text(key, "pid") for key in table.row_keys}
        assert pids == {str(job.pid) for job in plotter2_jobs()}
        assert "plotter2: jobs 3" in str(host.query_one(PrefixesLine).render())
        status = str(host.query_one("#status-plotting").render())
        assert "paused" in status and "alice at 21:40" in status
        assert isinstance(host.query_one(StatusLine), StatusLine)
        # p on a paused host resumes it there: its footer says so.
        assert app.check_action("switch_plotting", (True,))
        assert not app.check_action("switch_plotting", (False,))

        # Its host's news reaches it: a job's new phase.
        views = list(fleet_views())
        moved = replace(views[1].jobs[2], phase=Phase(4, 1))
        views[1] = replace(views[1], jobs=(*views[1].jobs[:2], moved))
        app.post_message(FleetChanged(tuple(views)))
        key = next(k for k in table.row_keys if table.cell_text(k, "pid") == str(moved.pid))
        await until(pilot, lambda: table.cell_text(key, "phase") == "4:1", 5, "the new phase")
        # The local dashboard did not take the host's jobs.
        assert not app.state.snapshot.jobs or all(
            job.pid != moved.pid for job in app.state.snapshot.jobs
        )

        await pilot.press("escape")  # back to the fleet
        assert app.screen is screen
        await pilot.press("enter", "d")  # plotter2 again, and its dirs (the host's)
        await pilot.pause()
        dirs = app.screen
        assert "paused" in str(dirs.query_one("#dirs-plotting").render())  # type: ignore[attr-defined]
        await pilot.press("escape", "F")  # its dashboard; from there back to the fleet
        await pilot.pause()
        assert app.screen is screen


async def test_h_on_a_hosts_dashboard_says_where_its_history_is_and_opens_none() -> None:
    app = fleet_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_fleet(pilot)
        await pilot.press("down", "enter")  # plotter2's line
        host = await until(
            pilot,
            lambda: app.screen if isinstance(app.screen, DashboardScreen) else None,
            5,
            "plotter2's dashboard",
        )
        await pilot.press("h")
        await pilot.pause()
        assert app.screen is host  # not this machine's history, passing for plotter2's
        (notice,) = [n for n in app._notifications if n.title == "history"]
        assert notice.severity == "information"
        assert "this machine's" in notice.message
        assert "ssh chia@10.0.0.12 plotman-tui history" in notice.message
        assert "analyze" in notice.message
        # This machine's dashboard's h is this machine's history, as ever.
        await pilot.press("escape", "escape")
        await until(pilot, lambda: app.screen is app.dashboard, 5, "this machine's dashboard")
        await pilot.press("h")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HistoryScreen", 5, "history")


async def test_this_machines_line_goes_back_to_the_local_dashboard() -> None:
    app = fleet_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_fleet(pilot)
        assert screen.hosts_table.selected_host == "local"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is app.dashboard


async def test_enter_on_a_down_host_says_why_and_opens_nothing() -> None:
    app = fleet_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_fleet(pilot)
        screen.hosts_table.select_host("plotter3")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        notices = [notice.message for notice in app._notifications]
        assert any(DOWN_PROBLEM in notice and "plotter3" in notice for notice in notices)


async def test_a_kill_that_fails_after_yes_lets_the_job_run_on_or_says_it_may_be_stopped() -> None:
    # A review found a failed kill left the job the question had stopped frozen, quietly.
    app = fleet_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_fleet(pilot)
        job = host_job("plotter2", plotter2_jobs()[0])
        plan = kill_plan(job, (), 0)
        link, asked = answering(app, {"kill": HUNG, "resume": RemoteResult(0, "resumed", "")})
        link.pending_kill = job
        link.kill_answered(plan, True, "yes")
        await until(pilot, lambda: notices(app), 5, "the notice")
        assert asked == ["kill", "resume"]
        assert notices(app)[0].endswith("; the job runs on there")
        app._notifications.clear()
        link, asked = answering(app, {"kill": HUNG, "resume": HUNG})
        link.pending_kill = job
        link.kill_answered(plan, True, "yes")
        await until(pilot, lambda: notices(app), 5, "the notice")
        assert asked == ["kill", "resume"]
        assert "on plotter2 MAY BE STILL SUSPENDED (kill failed: " in notices(app)[0]


async def test_quitting_while_a_kills_suspend_is_on_its_way_resumes_after_it() -> None:
    # A review found the resume at quit could land before the suspend: the job stayed stopped.
    app = fleet_app()
    job = host_job("plotter2", plotter2_jobs()[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await open_fleet(pilot)
        link, _ = answering(app, {"resume": RemoteResult(0, "resumed", "")})
        suspended = asyncio.Event()
        order: list[str] = []
        client = link.client
        assert client is not None
        answer = client.run_command

        async def run_command(
            name: str, argv: Sequence[str], *, timeout_s: float = 30.0
        ) -> RemoteResult:
            if argv[0] == "suspend":
                await suspended.wait()  # on its way until the test lets it land
                order.append("suspend")
                return RemoteResult(0, "suspended", "")
            order.append(argv[0])
            return await answer(name, argv, timeout_s=timeout_s)

        client.run_command = run_command  # type: ignore[method-assign]
        link.kill(job)
        await until(pilot, lambda: link._suspending is not None, 5, "the suspend on its way")
        closing = asyncio.ensure_future(link.close())
        await pilot.pause()
        assert order == []  # the resume waits for the suspend
        suspended.set()
        await asyncio.wait_for(closing, 10)
    assert order == ["suspend", "resume"]  # and no listing, no question
    assert link.left_suspended == []


async def test_keys_answer_on_the_fleet_screen_while_a_host_never_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's promise: a host that hangs never holds up the keys. Its SSH port accepts
    and never says a word; the fleet screen sorts, filters and opens help meanwhile, the host
    still not up."""
    from plotman_tui.sandbox import make_sandbox
    from tests.fleethosts import load_fleet
    from tests.realservices import SilentFarmer, _keygen

    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    key = tmp_path / "id_ed25519"
    _keygen(key, "the dashboard's key")
    silent = SilentFarmer()
    try:
        text = make_sandbox(tmp_path / "dashboard").config_path.read_text(encoding="utf-8")
        text += (
            "\n[fleet]\ninclude_local = false\n\n[[fleet.hosts]]\n"
            f'name = "hung"\nhost = "127.0.0.1"\nport = {silent.port}\n'
            f'identity_file = "{key}"\nknown_hosts = "{tmp_path / "known_hosts"}"\n'
        )
        path = tmp_path / "fleet.toml"
        path.write_text(text, encoding="utf-8")
        app = DashboardApp(load_fleet(path), path, plotting_enabled=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("F")
            screen = await until(
                pilot,
                lambda: app.screen if isinstance(app.screen, FleetScreen) else None,
                10,
                "the fleet screen",
            )
            await until(pilot, lambda: silent.accepted, 10, "the host's port reached")
            summary = screen.query_one("#fleet-summary", Static)
            before = str(summary.render())
            await pilot.press("o")
            await pilot.pause()
            assert str(summary.render()) != before  # sorted by another column
            await pilot.press("question_mark")
            await until(pilot, lambda: app.screen is not screen, 5, "help over the fleet")
            await pilot.press("question_mark")
            await until(pilot, lambda: app.screen is screen, 5, "back to the fleet")
            view = app.fleet.view("hung") if app.fleet is not None else None
            assert view is not None and view.status is not HostStatus.UP
    finally:
        silent.close()
