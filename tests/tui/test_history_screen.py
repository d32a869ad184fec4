"""The history screen (h) and the jobs table's progress and ETA: fed the history worker's
message (fixed records, a fixed clock), read from the real fixture logs, and with a live
history worker whose read is held up while keys are pressed."""

from __future__ import annotations

import gc
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from textual.pilot import Pilot

from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.engine import PassResult, PlottingEngine
from plotman_tui.farm.history import History, read_history
from plotman_tui.farm.history_stats import TIB
from plotman_tui.farm.model import Snapshot
from plotman_tui.farm.scheduler import Wait
from plotman_tui.report import eta_text, progress_text
from plotman_tui.tui.app import DashboardApp, _plots_finished
from plotman_tui.tui.feeds import HistoryFeed
from plotman_tui.tui.screens.dirs_screen import DirsScreen
from plotman_tui.tui.screens.help_screen import HelpScreen
from plotman_tui.tui.screens.history_screen import Chart, FinishedTable, HistoryScreen
from plotman_tui.tui.view import history_view
from tests.conftest import FIXTURES
from tests.tui.farmdata import NOW, farm_config, farm_jobs, feed, still_app
from tests.tui.historydata import DAILY, K32_BYTES, farm_history, history_read, history_records
from tests.tui.pilots import assert_imports_load_none_of, jobs_table, until

# Times on screen are local: the zone is pinned (tests/tui/conftest.py).
pytestmark = pytest.mark.usefixtures("utc")


def summary(app: DashboardApp) -> str:
    screen = app.screen
    assert isinstance(screen, HistoryScreen)
    return str(screen.query_one("#history-summary").render())


# -- the screen, fed -----------------------------------------------------------------------------


async def test_h_opens_the_history_with_the_numbers_of_the_records_and_h_closes_it() -> None:
    app = still_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        app.post_message(history_read())
        await pilot.pause()
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        # 96 plots of 108,837,100,000 bytes: 9.5 TiB, all within the last 30 days.
        assert sum(DAILY) == 96
        assert f"{96 * K32_BYTES / TIB:.1f}" == "9.5"
        text = summary(app)
        assert "96 plots finished (1 unfinished, 1 skipped)" in text
        assert "last 30 days: 96 plots, 9.5 TiB" in text
        view = app.screen.view
        assert [day.plots for day in view.days] == list(reversed(DAILY))
        assert [times.plots for times in view.tmp] == [32, 32, 32]
        table = app.screen.query_one(FinishedTable)
        assert table.row_count == 20
        newest = max((r for r in history_records() if r.completed), key=lambda r: r.ended_at or 0)
        first = table.row_keys[0]
        assert table.cell_text(first, "plot id") == newest.plot_id[:8]
        assert table.cell_text(first, "total") == "5:55"  # 9,000+4,000+7,800+500 s = 5h55m
        assert table.cell_text(first, "p1") == "2:30"
        await pilot.press("h")
        assert app.screen is app.dashboard
        await pilot.press("h", "escape")
        assert app.screen is app.dashboard


async def test_reading_then_no_completed_plots_is_said_plainly() -> None:
    app = still_app()
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app)
        await pilot.press("h")
        assert summary(app).startswith("Reading plot logs…")
        assert app.screen.has_class("-no-plots")  # no empty charts under it
        unfinished = [r for r in history_records() if not r.completed]
        app.post_message(history_read(History(tuple(unfinished), (), ())))
        await pilot.pause()
        assert summary(app) == "No completed plots in the logs of /var/log/plots (1 unfinished)."
        assert app.screen.has_class("-no-plots")


async def test_one_plot_finished_is_said_in_the_singular() -> None:
    newest = max((r for r in history_records() if r.completed), key=lambda r: r.ended_at or 0)
    app = still_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        app.post_message(history_read(History((newest,), (), ())))
        await pilot.pause()
        await pilot.press("h")
        assert summary(app).startswith("1 plot finished; last 30 days: 1 plot, ")


async def test_the_open_screen_shows_new_history_as_it_arrives() -> None:
    records = history_records()
    newest = max((r for r in records if r.completed), key=lambda r: r.ended_at or 0)
    older = [r for r in records if r is not newest]
    app = still_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        app.post_message(history_read(History(tuple(older), (), ())))
        await pilot.pause()
        await pilot.press("h")
        assert "95 plots finished" in summary(app)
        table = app.screen.query_one(FinishedTable)
        assert table.cell_text(table.row_keys[0], "plot id") != newest.plot_id[:8]
        app.post_message(history_read(History(tuple(records), (), ())))
        await pilot.pause()
        assert "96 plots finished" in summary(app)
        assert table.cell_text(table.row_keys[0], "plot id") == newest.plot_id[:8]


async def hidden_screen(
    app: DashboardApp, pilot: Pilot[int], history: History | None = None
) -> HistoryScreen:
    """The farm fed with ``history`` (the farm's), and the history screen the app then builds
    while it idles, not shown."""
    feed(app)
    app.post_message(history_read(history))
    await pilot.pause()
    await until(pilot, lambda: app._history_screen is not None, 10, "the screen built")
    screen = app._history_screen
    assert screen is not None and app.screen is app.dashboard
    return screen


async def test_the_screen_is_composed_and_drawn_before_the_first_h() -> None:
    """Once a history is in, the screen is built while the dashboard idles (its charts drawn
    at the sizes they are shown at): h finds it ready and composes and draws nothing."""
    app = still_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await hidden_screen(app, pilot)
        charts = list(screen.query(Chart))
        await until(pilot, lambda: all(c.drawn() and c.size for c in charts), 10, "drawn")
        drawn = [(chart.id, chart.size) for chart in charts]
        await pilot.press("h")
        assert app.screen is screen
        assert [(chart.id, chart.size) for chart in screen.query(Chart)] == drawn
        assert all(chart.drawn() for chart in charts)
        assert "96 plots finished" in summary(app)


async def test_h_does_not_restyle_the_screen_when_nothing_changed_but_a_new_theme_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Textual works out every node's styles again when a screen is put back on top (20-30 ms
    of each h on the history screen): done only when the CSS changed while it was hidden (a
    theme chosen meanwhile shows), not on every h."""
    app = still_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await hidden_screen(app, pilot)
        await pilot.press("h", "h")  # shown once
        restyled: list[object] = []
        update_nodes = app.stylesheet.update_nodes

        def counted(nodes: object, animate: bool = False) -> None:
            nodes = list(nodes)  # type: ignore[call-overload]
            restyled.extend(nodes)
            update_nodes(nodes, animate=animate)

        monkeypatch.setattr(app.stylesheet, "update_nodes", counted)
        await pilot.press("h")
        assert app.screen is screen
        assert screen not in restyled
        await pilot.press("h")
        body = screen.query_one("#history-body")
        dark = body.styles.border_top[1]
        app.theme = "nord"
        await pilot.pause()
        await pilot.press("h")
        assert app.screen is screen
        assert body.styles.border_top[1] != dark
        assert body.styles.border_top[1].hex.upper() == "#88C0D0"  # nord's primary


async def test_preparing_the_screen_as_the_app_closes_is_no_crash() -> None:
    # A history (or a resize) that comes in as the farmer quits starts a preparation that
    # runs when the app's screens are gone: it raised ScreenStackError, and the dashboard
    # ended in a traceback.
    app = still_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await hidden_screen(app, pilot)
    assert not app.screen_stack
    await app._prepare_history_screen()


async def test_a_new_history_is_drawn_on_the_hidden_screen_before_h() -> None:
    records = history_records()
    newest = max((r for r in records if r.completed), key=lambda r: r.ended_at or 0)
    older = History(tuple(r for r in records if r is not newest), (), ())
    app = still_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await hidden_screen(app, pilot, older)
        await pilot.press("h")
        assert "95 plots finished" in summary(app)
        await pilot.press("h")
        chart = screen.query_one("#history-plots", Chart)
        app.post_message(history_read(History(tuple(records), (), ())))
        await until(
            pilot, lambda: "96" in str(screen.query_one("#history-summary").render()), 10, "shown"
        )
        await until(pilot, chart.drawn, 10, "the new plots per day drawn")
        assert app.screen is app.dashboard
        await pilot.press("h")
        assert "96 plots finished" in summary(app)
        table = screen.query_one(FinishedTable)
        assert table.cell_text(table.row_keys[0], "plot id") == newest.plot_id[:8]


async def test_a_terminal_resized_while_the_screen_is_hidden_draws_it_at_the_new_size() -> None:
    app = still_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await hidden_screen(app, pilot)
        chart = screen.query_one("#history-plots", Chart)
        await until(pilot, lambda: chart.drawn() and chart.size.width > 0, 10, "drawn")
        wide = chart.size
        await pilot.resize_terminal(200, 60)
        await until(pilot, lambda: chart.size.width > wide.width, 10, "laid out again")
        await until(pilot, chart.drawn, 10, "drawn at the new size")
        assert app.screen is app.dashboard
        await pilot.press("h")
        assert chart.drawn() and chart.size.width > wide.width


async def test_a_history_read_keeps_the_startup_heap_out_of_full_collections(
    tmp_path: Path,
) -> None:
    """The read (farm/history.py) leaves what the dashboard froze at start frozen (it once
    unfroze it), and a history that comes in is frozen with it, so that the collector's full
    passes (over 10,000 logs' records, 150-200 ms) do not land on keys."""
    logs = tmp_path / "logs"
    logs.mkdir()
    for number in range(20):
        shutil.copy(FIXTURES / "plotter-logs" / "chianetwork.plot.log", logs / f"{number}.log")
    feed_ = HistoryFeed(os.fspath(logs), os.fspath(tmp_path / "cache.json"))
    app = DashboardApp(farm_config(), plotting_enabled=True, live=False, freeze_gc=True)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            frozen = gc.get_freeze_count()
            assert frozen > 0  # the startup heap
            message = feed_.read()  # as the history thread does: it leaves the freeze be
            assert gc.get_freeze_count() >= frozen
            app.post_message(message)
            await until(pilot, lambda: app.history is not None, 10, "the history")
            assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()


# -- the jobs table's done and eta ---------------------------------------------------------------


async def test_a_new_history_shows_every_jobs_progress_and_eta_at_once() -> None:
    """Not at the slow columns' next refresh, up to 5 s later: the history came in once."""
    app = still_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.pause()
        table = jobs_table(app)
        key = table.row_keys[3]  # at 3:5, tmp/0: 32 runs there
        assert (table.cell_text(key, "done"), table.cell_text(key, "eta")) == ("-", "-")
        message = history_read()
        app.post_message(message)
        await pilot.pause()
        job = next(j for j in farm_jobs() if key.startswith(f"{j.pid}@"))
        estimate = message.eta.estimate(job, NOW + 0.5)
        assert estimate.eta_seconds is not None and estimate.progress is not None
        assert table.cell_text(key, "done") == progress_text(estimate) != "-"
        assert table.cell_text(key, "eta") == eta_text(estimate) != "-"


def test_a_plot_finished_when_a_job_goes_completes_or_begins_its_next_plot() -> None:
    jobs = farm_jobs()
    assert not _plots_finished(jobs, jobs)
    assert not _plots_finished((), jobs)  # jobs come: nothing finished
    assert _plots_finished(jobs, jobs[1:])
    done = (replace(jobs[0], completed=True), *jobs[1:])
    assert _plots_finished(jobs, done)
    next_plot = (replace(jobs[0], plot_id="f" * 64), *jobs[1:])
    assert _plots_finished(jobs, next_plot)


# -- the real logs -------------------------------------------------------------------------------


def test_the_view_of_a_real_chia_log_has_its_own_phase_times(tmp_path: Path) -> None:
    """chianetwork.plot.log: phase 1 = 8134.660 s, 2 = 3304.860, 3 = 6515.266, 4 = 425.637,
    total = 18380.426, copy = 178.438 (its own lines)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(FIXTURES / "plotter-logs" / "chianetwork.plot.log", logs / "a.log")
    (logs / "notes.log").write_text("no plot here\n")
    history = read_history(logs, None)
    (record,) = history.records
    assert record.ended_at is not None
    view = history_view(history, record.ended_at + 60)
    assert (view.plots, view.skipped) == (1, 1)
    assert view.days[-1].plots == 1
    (tmp,) = view.tmp
    assert tmp.total is not None and tmp.total.median == pytest.approx(18380.426)
    medians = [spread.median if spread else None for spread in tmp.phases]
    assert medians == pytest.approx([8134.660, 3304.860, 6515.266, 425.637])
    (row,) = view.last
    assert row.phases == ("2:15", "55m", "1:48", "7m")
    assert (row.total, row.copy, row.plotter, row.k) == ("5:06", "2m", "chia", "32")


def test_broken_numbers_of_a_record_show_as_dashes() -> None:
    record = next(r for r in history_records() if r.completed)
    broken = record._replace(
        ended_at=math.nan,
        phase1_seconds=math.inf,
        phase2_seconds=-5.0,
        copy_seconds=1e300,
        total_seconds=math.nan,
    )
    view = history_view(farm_history([broken]), NOW)
    (row,) = view.last
    assert (row.ended, row.phases[:2], row.total, row.copy) == ("-", ("-", "-"), "-", "-")


def test_a_tmp_dir_on_a_chart_is_cut_from_the_left_and_its_controls_shown() -> None:
    completed = [r for r in history_records() if r.completed][:3]
    named = [
        completed[0]._replace(tmp_dir="/mnt/\x1b[31mred/tmp"),
        completed[1]._replace(tmp_dir="/mnt/a-very-long-name-of-an-nvme-drive/tmp"),
        completed[2]._replace(tmp_dir=None),  # a RAM plotter's: none
    ]
    labels = [times.tmp for times in history_view(farm_history(named), NOW).tmp]
    assert labels == ["␛[31mred/tmp", "…-nvme-drive/tmp", "no tmp dir"]


# -- a live history worker -----------------------------------------------------------------------


class StillEngine:
    """A plotting engine whose every pass sees the farm's jobs (``jobs``) and starts nothing."""

    def __init__(self) -> None:
        self.config = farm_config()
        self.plotting_enabled = True
        self.jobs = farm_jobs()
        self.passes = 0

    def step(self, *, schedule: bool) -> PassResult:
        self.passes += 1
        return PassResult(
            time.time(), Snapshot(self.jobs, time.time()), Wait("stagger"), None, (), True
        )

    def close(self) -> None:
        pass


async def test_keys_answer_while_the_history_worker_reads_a_big_log_dir(tmp_path: Path) -> None:
    """The worker reads 300 real k32 logs and then holds on until the test lets it go: every
    key in between is answered (the screens open and close), and the history shows after."""
    logs = tmp_path / "logs"
    logs.mkdir()
    data = (FIXTURES / "plotter-logs" / "chianetwork.plot.log").read_bytes()
    real_id = b"d2540dcfcffddbfbd7e60b4aca4d54fb937db71991298fabc253f020a87ff7d4"
    for number in range(300):  # 300 plots: a plain copy is the same plot, counted once
        (logs / f"{number:04d}.log").write_bytes(data.replace(real_id, b"%064x" % number))
    started, release = threading.Event(), threading.Event()

    def held_read(log_dir: str, cache_path: str | None) -> History:
        started.set()
        history = read_history(logs, cache_path)
        release.wait(60)
        return history

    app = DashboardApp(
        farm_config(),
        plotting_enabled=True,
        engine=cast(PlottingEngine, StillEngine()),
        history=HistoryFeed(os.fspath(logs), os.fspath(tmp_path / "cache.json"), reader=held_read),
        action_log=ActionLog(tmp_path / "actions.jsonl"),
    )
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, started.is_set, 10, "the history read to start")
            await pilot.press("h")
            assert summary(app).startswith("Reading plot logs…")
            await pilot.press("escape", "d")
            assert isinstance(app.screen, DirsScreen)
            await pilot.press("escape", "question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape", "h")
            assert summary(app).startswith("Reading plot logs…")  # the read is still held
            assert app.history is None
            release.set()
            await until(pilot, lambda: app.history is not None, 30, "the history")
            await pilot.pause()
            assert summary(app).startswith("300 plots finished")
            assert app.eta is not None
    finally:
        release.set()


async def test_the_screen_is_built_hidden_while_a_first_read_is_under_way(
    tmp_path: Path,
) -> None:
    """A first read of a big log dir takes seconds: the screen is built meanwhile (in its
    "reading" state), so that an h then only shows it (it imported the charts' library and
    composed the screen: 0.2-0.4 s), and the history fills it when it comes."""
    release = threading.Event()

    def held_read(log_dir: str, cache_path: str | None) -> History:
        release.wait(60)
        return farm_history()

    app = DashboardApp(
        farm_config(),
        plotting_enabled=True,
        engine=cast(PlottingEngine, StillEngine()),
        history=HistoryFeed("/var/log/plots", None, reader=held_read),
        action_log=ActionLog(tmp_path / "actions.jsonl"),
    )
    try:
        async with app.run_test(size=(120, 40)) as pilot:

            def built() -> bool:
                return app._history_screen is not None and app._history_screen.ready

            await until(pilot, built, 10, "the screen built")
            screen = app._history_screen
            assert screen is not None and screen.is_running
            assert app.screen is app.dashboard and app.history is None
            await pilot.press("h")
            assert app.screen is screen
            assert summary(app).startswith("Reading plot logs…")
            await pilot.press("h")
            release.set()
            await until(pilot, lambda: app.history is not None, 10, "the history")
            await pilot.press("h")
            assert app.screen is screen
            await until(pilot, lambda: "plots finished" in summary(app), 10, "the plots")
    finally:
        release.set()


def test_the_dashboard_loads_the_charts_library_only_for_the_history_screen() -> None:
    """textual-plotext and plotext (some 8 MB, 0.1-0.2 s) are not loaded with the dashboard:
    the history thread imports them before its first read, off the event loop."""
    assert_imports_load_none_of("plotman_tui.tui.app", {"plotext", "textual_plotext"})


async def test_the_history_is_read_at_start_and_when_a_job_ends_not_on_every_look(
    tmp_path: Path,
) -> None:
    reads: list[float] = []

    def counted_read(log_dir: str, cache_path: str | None) -> History:
        reads.append(time.monotonic())
        return farm_history()

    engine = StillEngine()
    app = DashboardApp(
        farm_config(),
        plotting_enabled=True,
        engine=cast(PlottingEngine, engine),
        history=HistoryFeed("/var/log/plots", None, reader=counted_read),
        action_log=ActionLog(tmp_path / "actions.jsonl"),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.history is not None, 10, "the first history")
        for _ in range(4):  # each press wakes a pass; the jobs are the same ones
            await pilot.press("p")
            passes = engine.passes
            await until(pilot, lambda passes=passes: engine.passes > passes, 10, "a pass")
        assert len(reads) == 1
        engine.jobs = farm_jobs()[1:]  # the youngest job ended
        await pilot.press("p")
        await until(pilot, lambda: len(reads) == 2, 10, "the history read again")
        await until(pilot, lambda: app.state.snapshot.jobs == engine.jobs, 10, "the pass shown")


_QUIT_WHILE_READING = """
import sys, threading
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.feeds import HistoryFeed
from tests.tui.farmdata import farm_config
from tests.tui.test_history_screen import StillEngine

started = threading.Event()

def never_done(log_dir, cache_path):
    started.set()
    threading.Event().wait()  # a first read of a huge log dir, that never ends here

async def auto_pilot(pilot):
    while not started.is_set():
        await pilot.pause(0.05)
    await pilot.press("q")

app = DashboardApp(
    farm_config(),
    plotting_enabled=True,
    engine=StillEngine(),
    history=HistoryFeed("/var/log/plots", None, reader=never_done),
    action_log=ActionLog(sys.argv[1]),
)
app.run(headless=True, auto_pilot=auto_pilot, size=(80, 24))
print("quit with the read under way")
"""


def test_q_quits_while_a_history_read_is_under_way(tmp_path: Path) -> None:
    """The read is a daemon thread's: the app's exit (asyncio.run, which waits for its
    executor's threads: a Textual thread worker's) does not wait for it."""
    result = subprocess.run(
        [sys.executable, "-c", _QUIT_WHILE_READING, str(tmp_path / "actions.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,  # a failure's guard: a dashboard that waits for the read never exits
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "quit with the read under way" in result.stdout
