"""The dashboard app: the engines' passes, dirs and action log come in as messages from thread
workers; the app keeps the latest of each and hands it to the widgets.

Workers (each a :class:`~plotman_tui.tui.poller.Poller` with its own group, one run at a time):

- ``engine``: a pass every 5 s (a look; every ``polling_time_s`` it also schedules), every
  1.5 s when the log dir cannot be watched, and at once after a key's action or when a new
  file (a new job's log) appears in the log dir;
- ``archiving`` (when archiving is set up): a pass every 5 s, and at once when a transfer it
  started exits, a new free-space sample lands or the first plotting pass has the jobs;
- ``dirs``: free space and finished plots every 10 s (and after a job ends or is killed, or a
  transfer starts or ends);
- ``action-log``: one stat every 2 s (and after a key's action), a read when it changed;
- ``control``: one suspend, resume or kill at a time, started by a key.

And ``history``, a :class:`~plotman_tui.tui.history_worker.HistoryWorker` (a daemon thread of
its own, not a Textual worker: quitting never waits for a first read of a big log dir): every
plot log of the log dir read into history (cached), at start, when a plot finishes and every
10 minutes; the ETA model of the jobs table and the history screen's figures are worked out in
the same thread, and come in one message. Before its first read the thread imports the history
screen's module (and its charts' library); then, at idle, the history screen is composed, laid
out and drawn unshown (``history-screen``, an async worker in the event loop, a chart at a
time), and drawn again when a history comes in, so that ``h`` only puts it on the terminal,
also while a first read of a big log dir is under way.

Besides them, ``archive-space`` is an async worker in the app's event loop: the archiving
engine's :class:`~plotman_tui.farm.archive.space.SpaceMonitor`, which reads the archive dirs'
free space (over SSH for a farmer) without ever holding a pass up; a farmer that does not
answer costs nothing but its own timeout; and beside it the engine's
:class:`~plotman_tui.farm.archive.replotter.Replotter`, which lists the replotting targets' plots
and removes the old ones a pass asks for, over the same connections. And ``log-watch``, a
:class:`~plotman_tui.tui.logwatch.LogWatch` of the log dir: the logs written are read in a
thread, one batch at a time, and the jobs' new phases come in as ``LogsRead`` within a fraction
of a second. If the log dir cannot be watched, it says so once and the looks come every 1.5 s.

``live=False`` builds the app with no worker at all: tests post the same messages themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from textual.app import App, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.widgets import Input
from textual.worker import Worker

from plotman_tui.appdirs import cache_dir, data_dir
from plotman_tui.config.schema import Config
from plotman_tui.dirview import ArchiveRow
from plotman_tui.farm.actionlog import ActionLog, default_action_log
from plotman_tui.farm.archive.engine import ArchivingEngine
from plotman_tui.farm.archive.replot import ReplotProgress
from plotman_tui.farm.archive.replotter import Replotter
from plotman_tui.farm.archive.space import SpaceMonitor
from plotman_tui.farm.control import KillPlan
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.engine import EventKind, PlottingEngine
from plotman_tui.farm.eta import Estimate, EtaModel
from plotman_tui.farm.history import History, default_cache_path
from plotman_tui.farm.jobcontrol import StopSignals, release_held, signal_words
from plotman_tui.farm.lock import default_lock
from plotman_tui.farm.model import Job, Snapshot
from plotman_tui.farm.units import printable
from plotman_tui.farm.wiring import archiving_engine
from plotman_tui.fleet.model import HostStatus, HostView
from plotman_tui.metrics import StateReader, server_for
from plotman_tui.tui import job_control, textual_hacks
from plotman_tui.tui.feeds import (
    ACTION_LOG_INTERVAL_S,
    ARCHIVE_INTERVAL_S,
    DIRS_INTERVAL_S,
    HISTORY_INTERVAL_S,
    LOOK_INTERVAL_S,
    WATCHED_LOOK_INTERVAL_S,
    ActionLogFeed,
    ArchivingFeed,
    DirFeed,
    HistoryFeed,
    PlottingFeed,
)
from plotman_tui.tui.fleet import FleetLink, HostSource, LoopName
from plotman_tui.tui.history_worker import HistoryWorker
from plotman_tui.tui.logwatch import LogWatch
from plotman_tui.tui.messages import (
    ActionsRead,
    ArchivePassed,
    ControlFinished,
    DirsSampled,
    FleetChanged,
    FleetKillPrepared,
    HistoryRead,
    HistoryScreenLoaded,
    JobControlDone,
    KillPrepared,
    LogsRead,
    PassCompleted,
    TransferEnded,
    WorkFailed,
)
from plotman_tui.tui.pager import readable_copy
from plotman_tui.tui.poller import Poller
from plotman_tui.tui.screens.dashboard import DashboardScreen
from plotman_tui.tui.screens.dirs_screen import DirsScreen, DirsView
from plotman_tui.tui.screens.fleet_screen import FleetScreen
from plotman_tui.tui.screens.help_screen import HelpScreen
from plotman_tui.tui.screens.job_screen import JobScreen
from plotman_tui.tui.screens.kill_screen import KillAnswer, KillScreen
from plotman_tui.tui.view import (
    HISTORY_READING,
    ArchivingState,
    DashboardSource,
    DashboardState,
    HistoryView,
    HostJob,
    JobColumn,
    PlottingState,
    SortOrder,
    archive_prefix,
    archive_rows,
    archiving_words,
    configured_dst_dirs,
    configured_tmp2_dir,
    configured_tmp_dirs,
    dir_prefixes,
    dst_rows,
    host_job,
    job_columns,
    job_key,
    plotting_words,
    replot_lines,
    shown_signature,
    tmp_rows,
)
from plotman_tui.tui.widgets.fleet_hosts_table import FleetHostsTable
from plotman_tui.tui.widgets.jobs_table import SLOW_REFRESH_S, JobsTable

if TYPE_CHECKING:
    from plotman_tui.tui.screens.history_screen import HistoryScreen

EXIT_OK = 0
#: The scanner measures temp files (a listing of every tmp dir, a stat per file) at most this
#: often: the temp space column moves slowly, and a look every second must stay cheap.
TEMP_REFRESH_S = 30.0
#: On quit, how long the free-space worker may take to stop its reads and close its SSH
#: connections, and the log watch to end (cancelling a read is immediate; a safety net).
SPACE_STOP_S = 5.0
#: A notice's title for each job-control action (the action log's names are not a farmer's
#: words: "cancel-kill", "unpause"). A switch's notice says only that the log was not written.
CONTROL_TITLES = {
    "suspend": "suspend",
    "resume": "resume",
    "kill": "kill",
    "cancel-kill": "kill cancelled",
    "pause": "pause",
    "unpause": "resume",
}
#: A failed worker's notice title, for its group's name.
WORK_TITLES = {
    "engine": "plotting",
    "archiving": "archiving",
    "dirs": "free space",
    "action-log": "action log",
    "log-watch": "watching the logs",
    "history": "plot history",
}
# Archiving engine news that the action log holds already (the panel reads it from there).
_LOGGED_KINDS = (EventKind.TRANSFER, EventKind.TRANSFERRED)


def build_engine(config: Config, scanner: Scanner | None = None) -> PlottingEngine:
    """The engine as the dashboard runs it: the machine's lock, action log and state file."""
    return PlottingEngine(
        config,
        lock=default_lock(),
        action_log=default_action_log(),
        scanner=scanner or Scanner(config.logging.plots, temp_refresh_s=TEMP_REFRESH_S),
        state_path=data_dir() / "plotting-state.json",
        pause_dir=data_dir(),
    )


class LocalSource:
    """This machine's dashboard data: the app's own state, as its workers report it (a
    :class:`~plotman_tui.tui.view.DashboardSource`)."""

    host: str | None = None

    def __init__(self, app: DashboardApp) -> None:
        self._app = app

    @property
    def jobs_order(self) -> SortOrder:
        return self._app.jobs_order

    @jobs_order.setter
    def jobs_order(self, order: SortOrder) -> None:
        self._app.jobs_order = order

    @property
    def filter_text(self) -> str:
        return self._app.filter_text

    @filter_text.setter
    def filter_text(self, text: str) -> None:
        self._app.filter_text = text

    @property
    def config(self) -> Config:
        return self._app.config

    @property
    def state(self) -> DashboardState:
        return self._app.state

    @property
    def archiving_configured(self) -> bool:
        return self._app.archiving.configured

    def columns(self) -> list[JobColumn]:
        return self._app._columns()

    def archive_view(self) -> tuple[list[ArchiveRow], Mapping[str, ReplotProgress] | None]:
        result = self._app.archiving.result
        rows = archive_rows(self._app.config, result)
        return rows, result.replot if result is not None else None

    def replot_lines(self) -> tuple[str, ...]:
        return replot_lines(self._app.archiving.result)

    def plotting_words(self, now: float) -> tuple[str, str]:
        return plotting_words(self._app.plotting, now)

    def archiving_words(self) -> tuple[str, str]:
        return archiving_words(self._app.archiving)

    def cadence(self, now: float) -> tuple[float, float, float | None]:
        return self._app.cadence(now)


class DashboardApp(App[int]):
    """The plotting dashboard. ``plotting_enabled`` and ``archiving_enabled`` are the pause
    switches' states at start.

    ``engine`` and ``archiver``: the engines to run (live only); by default the machine's
    (:func:`build_engine`, and :func:`~plotman_tui.farm.wiring.archiving_engine` when the
    config sets archiving up). ``history``: the reader of the plot logs (live only); by
    default the log dir's, with the cache in the cache dir.
    """

    CSS_PATH = "app.tcss"
    TITLE = "plotman-tui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", show=False)
    ]

    def __init__(
        self,
        config: Config,
        config_path: Path | None = None,
        *,
        plotting_enabled: bool,
        archiving_enabled: bool = False,
        engine: PlottingEngine | None = None,
        archiver: ArchivingEngine | None = None,
        history: HistoryFeed | None = None,
        action_log: ActionLog | None = None,
        live: bool = True,
        clock: Callable[[], float] = time.time,
        freeze_gc: bool = False,
        metrics: StateReader | None = None,
    ) -> None:
        super().__init__()
        #: Fed every pass when [metrics] listen serves them (see run_dashboard).
        self.metrics = metrics
        self._freeze_gc = freeze_gc
        self.config = config
        self.config_path = config_path
        self.live = live
        self.clock = clock
        self.state = DashboardState()
        self.plotting = PlottingState(enabled=plotting_enabled)
        self.archiving = ArchivingState(
            configured=bool(config.archiving.active_targets), enabled=archiving_enabled
        )
        self.jobs_order = SortOrder()
        self.filter_text = ""
        #: What this machine's dashboard shows (a fleet host's dashboard has its own).
        self.local = LocalSource(self)
        self.action_log = action_log
        self.control = job_control.controller(action_log)
        self._engine = engine
        self._archiver = archiver
        self._history_feed = history
        #: The latest history read (None: none yet), the ETA model learned from it and what the
        #: history screen shows of it (see on_history_read).
        self.history: History | None = None
        self.eta: EtaModel | None = None
        self.history_view: HistoryView = HISTORY_READING
        self._history_screen: HistoryScreen | None = None  # once a history came, or h
        self.plotting_feed: PlottingFeed | None = None
        self.archiving_feed: ArchivingFeed | None = None
        self.pollers: dict[str, Poller] = {}
        self.history_worker: HistoryWorker | None = None
        self._space_stop: asyncio.Event | None = None
        self._space_worker: Worker[None] | None = None
        self.log_watch: LogWatch | None = None
        self._log_watch_stop: asyncio.Event | None = None
        self._log_watch_worker: Worker[None] | None = None
        # The feed's number of the jobs shown (see LogsRead): older news of them is passed over.
        self._jobs_sequence = 0
        # The job stopped for the kill question. Set from the worker thread that stopped it;
        # whatever closes the app lets it (and any job held for a kill) run on: close_feeds.
        self._pending_kill: KillPlan | None = None
        self._kill_lock = threading.Lock()
        # Why the app stops, when something other than a key stops it (a signal).
        self._stop_why: str | None = None
        self._signal_loop: asyncio.AbstractEventLoop | None = None
        self._notified: set[tuple[str, str]] = set()
        # What the last pass shown had of the jobs (see on_pass_completed), and when the
        # columns that move by themselves are due anyway.
        self._signature: tuple[object, ...] | None = None
        self._tables_due_at = float("-inf")
        self._feeds_closed = False
        self._shown_ready = False
        #: The other plotting machines ([fleet]); None: none configured.
        self.fleet: FleetLink | None = (
            FleetLink(self, config, clock=clock, action_log=lambda: self.action_log)
            if config.fleet.active_hosts
            else None
        )
        self._fleet_screen: FleetScreen | None = None

    @property
    def archiving_enabled(self) -> bool:
        return self.archiving.enabled

    def get_default_screen(self) -> DashboardScreen:
        return DashboardScreen(archiving=self.archiving.configured)

    @property
    def dashboard(self) -> DashboardScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    def _shown(self) -> DashboardScreen | None:
        """The dashboard, if its widgets are there: not before the first frame (messages may
        come first), nor while the app shuts down (a worker's message may come meanwhile)."""
        if (
            not self._shown_ready
            or self._feeds_closed
            or not self.is_running  # shutting down: the screens' widgets go before on_unmount
            or not self.screen_stack
        ):
            return None
        screen = self.screen_stack[0]
        return screen if isinstance(screen, DashboardScreen) else None

    # -- starting and stopping -------------------------------------------------------------------

    def on_mount(self) -> None:
        self._signal_loop = asyncio.get_running_loop()
        if self._stop_why is not None:  # a stop signal came while the app started
            self._stop(self._stop_why)

    def stop_on_signal(self, signum: signal.Signals) -> None:
        """From a signal handler (see :class:`~plotman_tui.farm.jobcontrol.StopSignals`): the
        app closes as on ctrl+q, and says why. Only schedules: a handler may take no lock."""
        why = signal_words(signum)
        self._stop_why = why
        if signum == signal.SIGHUP:
            textual_hacks.forget_the_terminal()  # it is gone: closing must not wait on it
        loop = self._signal_loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stop, why)

    def _stop(self, why: str) -> None:
        self._stop_why = why
        # Let the jobs go first: a terminal that hung up may keep the app from closing cleanly.
        self.close_feeds()
        self.exit(EXIT_OK)

    def on_ready(self) -> None:
        # Ready, not Mount: the dashboard's widgets exist only once the first frame is drawn;
        # data that came before is kept in the state and shown now.
        self._shown_ready = True
        self._show_all()
        if self._freeze_gc:
            # What exists now (modules, widgets, styles) lives as long as the app: kept out of
            # the collector's full passes, each of which would otherwise walk it all again
            # (bench/dashboard.py saw 67 ms pauses, a key press's whole budget).
            gc.collect()
            gc.freeze()
        if not self.live:
            return
        if self.action_log is None:
            self.action_log = default_action_log()
            self.control = job_control.controller(self.action_log)
        engine = self._engine or build_engine(self.config)
        dirs = configured_tmp_dirs(self.config)
        tmp2 = configured_tmp2_dir(self.config)
        if tmp2 is not None:
            dirs.append(tmp2)
        dst = configured_dst_dirs(self.config)
        self.plotting_feed = PlottingFeed(
            engine,
            plotting_enabled=self.plotting.enabled,
            configured_dirs=[*dirs, *dst],
        )
        # The watch of the log dir brings the phases; while it cannot, the looks come every
        # LOOK_INTERVAL_S (see _log_watch_state). A look schedules too: no rarer than that.
        look_s = min(WATCHED_LOOK_INTERVAL_S, self.plotting_feed.schedule_interval_s)
        history = self._history_feed or HistoryFeed(
            os.fspath(self.config.logging.plots), default_cache_path(), clock=self.clock
        )
        self.pollers = {
            "engine": Poller(self, "engine", self.plotting_feed.read, look_s),
            "dirs": Poller(self, "dirs", DirFeed(dirs, dst).read, DIRS_INTERVAL_S),
            "action-log": Poller(
                self, "action-log", ActionLogFeed(self.action_log).read, ACTION_LOG_INTERVAL_S
            ),
        }
        archiver = self._archiver
        if archiver is None and self.archiving.configured:
            archiver = archiving_engine(self.config, None)
        if archiver is not None:
            self._start_archiving(archiver)
        self.log_watch = LogWatch(
            os.fspath(self.config.logging.plots),
            self.plotting_feed.read_logs,
            self.post_message,
            on_new_file=partial(self._wake, "engine"),
            on_state=self._log_watch_state,
        )
        self._log_watch_stop = asyncio.Event()
        self._log_watch_worker = self.run_worker(
            self.log_watch.run(self._log_watch_stop),
            name="log-watch",
            group="log-watch",
            exit_on_error=False,
        )
        for poller in self.pollers.values():
            poller.start()
        self.history_worker = HistoryWorker(
            self, history.read, HISTORY_INTERVAL_S, prepare=history.prepare
        )
        self.history_worker.start()
        if self.fleet is not None:
            self.fleet.start()
        self.set_interval(1.0, self._show_status, name="clock")

    def _log_watch_state(self, problem: str | None) -> None:
        """The log dir is watched (None) or not, and why: the looks bring the phases meanwhile,
        at their old pace."""
        engine, feed = self.pollers.get("engine"), self.plotting_feed
        if engine is None or feed is None or self._feeds_closed:
            return
        look_s = WATCHED_LOOK_INTERVAL_S if problem is None else LOOK_INTERVAL_S
        engine.set_interval(min(look_s, feed.schedule_interval_s))
        if problem is not None and problem != "missing":  # a missing dir shows on the top line
            self._notify_once(
                f"cannot watch the log dir {self.config.logging.plots} ({problem}): phases "
                f"show within {LOOK_INTERVAL_S:g} s instead of at once",
                severity="warning",
            )

    def _start_archiving(self, archiver: ArchivingEngine) -> None:
        self.archiving_feed = ArchivingFeed(
            archiver,
            archiving_enabled=self.archiving.enabled,
            on_transfer_end=self._transfer_ended,
        )
        self.pollers["archiving"] = Poller(
            self, "archiving", self.archiving_feed.read, ARCHIVE_INTERVAL_S
        )
        space = archiver.space
        # A new sample may let a waiting target start, and the archive table shows it.
        space.on_update = lambda _name: self._wake("archiving")
        self._space_stop = asyncio.Event()
        self._space_worker = self.run_worker(
            self._keep_space_fresh(space, archiver.replotter, self._space_stop),
            name="archive-space",
            group="archive-space",
            exit_on_error=False,
        )

    @staticmethod
    async def _keep_space_fresh(
        space: SpaceMonitor, replotter: Replotter, stop: asyncio.Event
    ) -> None:
        # The replotter lists the farmers' plots and makes room on them in this loop, over the
        # monitor's SSH connections (as the --no-ui loop runs it): without it a replotting
        # target is never listed and never gets room.
        workers = [
            asyncio.ensure_future(space.run(stop)),
            asyncio.ensure_future(replotter.run(stop)),
        ]
        try:
            for worker in workers:
                await worker
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await space.close()  # the kept SSH connections

    def _transfer_ended(self, pid: int) -> None:
        """From a transfer's watcher thread (maybe after the app has gone)."""
        with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody to tell
            self.post_message(TransferEnded(pid))

    async def on_unmount(self) -> None:
        self.close_feeds()
        if self.fleet is not None:
            # A job held on its host for a kill question runs on; the connections close.
            await self.fleet.close()
        # The free-space worker's reads are cancelled and its SSH connections closed, and the
        # log watch ends (after a read under way), before the loop ends.
        for worker in (self._space_worker, self._log_watch_worker):
            if worker is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker.wait(), SPACE_STOP_S)

    def close_feeds(self) -> None:
        """Let every job held for a kill run on, stop the workers and give the locks up."""
        with self._kill_lock:
            if self._feeds_closed:
                return
            self._feeds_closed = True
            self._pending_kill = None
        # Never leave a job stopped behind a question nobody answers; each is recorded with why.
        release_held(self._closing_why())
        for poller in self.pollers.values():
            poller.stop()
        if self.history_worker is not None:
            self.history_worker.stop()  # a read under way is left behind (a daemon thread)
        if self.plotting_feed is not None:
            self.plotting_feed.close()  # waits for a pass under way: the engine is not shared
        if self.archiving_feed is not None:
            self.archiving_feed.close()  # transfers under way run on
        for stop in (self._space_stop, self._log_watch_stop):
            if stop is not None:
                with contextlib.suppress(RuntimeError):  # called again after the loop closed
                    stop.set()

    def _closing_why(self) -> str:
        if self._stop_why is not None:
            return self._stop_why
        if self.return_code not in (None, EXIT_OK):
            return "the dashboard stopped on an error"  # Textual exits with 1 on an exception
        return "the dashboard quit"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        for poller in self.pollers.values():
            if poller.handle(event):
                return

    # -- data from the workers -------------------------------------------------------------------

    def on_pass_completed(self, message: PassCompleted) -> None:
        result = message.result
        snapshot, dir_of = result.snapshot, message.dir_of
        if message.sequence < self._jobs_sequence:
            # A read of the logs after this pass is shown already: its jobs are this pass's,
            # with what their logs said since.
            snapshot = replace(snapshot, jobs=self.state.snapshot.jobs)
            dir_of = self.state.dir_of
        self.state.last_pass_at = result.time
        if self.metrics is not None:
            self.metrics.plotting_pass(result, enabled=self.plotting.enabled)
        plotting = self.plotting
        plotting.holds_lock = result.holds_lock
        plotting.error = None
        plotting.start_failures = result.start_failures
        if result.decision is not None:
            plotting.decision = result.decision
        if result.started is not None:
            plotting.last_start = max(plotting.last_start or 0.0, result.started.started_at)
        ended = False
        for event in result.events:
            if event.kind in (EventKind.LOCK, EventKind.MONITOR):
                plotting.lock_note = event.message
            elif event.kind is EventKind.ENDED:
                ended = True
            if event.failed or event.kind is EventKind.ERROR:
                self.notify(event.message, title="plotting", severity="error", timeout=15)
        if ended or result.started is not None:
            self._wake("dirs")
        self._take_jobs(snapshot, dir_of, message.sequence)

    def on_logs_read(self, message: LogsRead) -> None:
        if message.sequence < self._jobs_sequence:
            return  # a later pass or read, shown already, has read these logs too
        snapshot = replace(self.state.snapshot, jobs=message.jobs)
        self._take_jobs(snapshot, message.dir_of, message.sequence)

    def _take_jobs(self, snapshot: Snapshot, dir_of: Mapping[str, str], sequence: int) -> None:
        """Keep the jobs of a pass or of a read of their logs, and show what changed."""
        if self.history_worker is not None and _plots_finished(
            self.state.snapshot.jobs, snapshot.jobs
        ):
            self.history_worker.wake()
        self.state.snapshot = snapshot
        self.state.dir_of = dir_of
        self._jobs_sequence = max(self._jobs_sequence, sequence)
        feed = self.archiving_feed
        if feed is not None:
            first = not feed.has_jobs
            feed.set_jobs(snapshot.jobs)
            if first:
                self._wake("archiving")  # it waited for the jobs' phases
        # News of the jobs comes often: the tables are worked out again only when something
        # they show (a phase, a state, a job come or gone) changed, or their slow columns are due.
        signature = shown_signature(snapshot, dir_of)
        now = time.monotonic()
        if signature != self._signature or now >= self._tables_due_at:
            self._signature = signature
            self._tables_due_at = now + SLOW_REFRESH_S
            self._show_all()
        else:
            self._show_status()
        self._update_job_screens()

    def on_archive_passed(self, message: ArchivePassed) -> None:
        result = message.result
        if self.metrics is not None:
            self.metrics.archiving_pass(result, enabled=self.archiving.enabled)
        archiving = self.archiving
        archiving.result = result
        archiving.error = None
        logged = False
        for event in result.events:
            if event.kind in (EventKind.LOCK, EventKind.MONITOR):
                archiving.lock_note = event.message
            if event.failed or event.kind is EventKind.ERROR:
                self.notify(event.message, title="archiving", severity="error", timeout=15)
            if event.kind not in _LOGGED_KINDS:
                self.state.actions.append(event)
                logged = True
        if result.started or any(e.kind is EventKind.TRANSFERRED for e in result.events):
            self._wake("dirs")  # plots left (or are leaving) the dst dirs
        if self._shown() is None:
            return
        with self.batch_update():
            self._show_archiving()
            self._show_status()
            if logged:
                self._show_actions()

    def on_transfer_ended(self, message: TransferEnded) -> None:
        self._wake("archiving")

    def on_history_read(self, message: HistoryRead) -> None:
        self.history, self.eta, self.history_view = message.history, message.eta, message.view
        if self._freeze_gc:
            # The read leaves the startup heap frozen in on_ready as it was, but its some
            # 60,000 objects land in the collector's oldest generation, and each full pass
            # would walk them all, a 150-200 ms pause landing on a key now and then
            # (bench/dashboard.py --history). Frozen with the startup heap (acyclic records,
            # freed by their counts when replaced); the young garbage collected first (cheap),
            # so little of it is kept for good.
            gc.collect(1)
            gc.freeze()
        self._show_jobs(afresh=True)  # their progress and ETA
        self._show_history_screen()
        self.run_worker(self._prepare_history_screen(), group="history-screen")

    def on_history_screen_loaded(self, message: HistoryScreenLoaded) -> None:
        # Built now, hidden, in its "reading" state: the first h of a session, before a first
        # read of a big log dir is over, then only paints (see _prepare_history_screen).
        self.run_worker(self._prepare_history_screen(), group="history-screen")

    def on_dirs_sampled(self, message: DirsSampled) -> None:
        self.state.dirs = {info.path: info for info in message.dirs}
        self.state.dirs_taken_at = message.taken_at
        self._show_dirs()

    def on_actions_read(self, message: ActionsRead) -> None:
        self.state.actions.extend(message.entries)
        self._show_actions()
        starts = [entry.time for entry in message.entries if entry.action == "start"]
        if starts:
            self.plotting.last_start = max([*starts, self.plotting.last_start or 0.0])
            self._show_status()

    def on_work_failed(self, message: WorkFailed) -> None:
        if self.metrics is not None and message.group in ("engine", "archiving"):
            self.metrics.pass_failed("plotting" if message.group == "engine" else "archiving")
        if message.group == "engine":
            self.plotting.error = message.error
            self._show_status()
        elif message.group == "archiving":
            self.archiving.error = message.error
            self._show_status()
        self._notify_once(message.error, title=WORK_TITLES.get(message.group, message.group))

    def on_job_control_done(self, message: JobControlDone) -> None:
        self.notify(
            message.message,
            title=CONTROL_TITLES.get(message.action, message.action),
            severity="information" if message.ok else "error",
            timeout=8 if message.ok else 15,
        )
        self._wake("engine")
        if message.action == "kill":
            self._wake("dirs")

    def on_kill_prepared(self, message: KillPrepared) -> None:
        self.push_screen(KillScreen(message.plan), self._kill_answered)

    def _kill_answered(self, answer: KillAnswer | None) -> None:
        with self._kill_lock:
            plan, self._pending_kill = self._pending_kill, None
        if plan is None:
            return  # the app is closing: close_feeds let the job run on
        if answer is not None and answer.kill:
            self.notify(f"killing pid {plan.job.pid}…", title="kill", timeout=4)
            self._in_thread(partial(job_control.finish_kill, self.control, plan))
        else:
            why = answer.why if answer is not None else "the question closed"
            self._in_thread(partial(job_control.call_off_kill, self.control, plan, why))

    # -- showing ---------------------------------------------------------------------------------

    def _show_all(self) -> None:
        screen = self._shown()
        if screen is None:
            return
        with self.batch_update():
            screen.show_all(self.local, self.clock())
            self._show_dirs_screen()

    def _show_jobs(self, *, afresh: bool = False) -> None:
        screen = self._shown()
        if screen is not None:
            screen.show_jobs(self.local, afresh=afresh)

    def _show_dirs(self) -> None:
        screen = self._shown()
        if screen is not None:
            screen.show_dirs(self.local)
            self._show_dirs_screen()

    def _show_archiving(self) -> None:
        screen = self._shown()
        if screen is not None and self.archiving.configured:
            screen.show_archiving(self.local)
            self._show_dirs_screen()

    def _dirs_view(self, source: DashboardSource) -> DirsView:
        config, state = source.config, source.state
        jobs, dir_of, dirs = state.snapshot.jobs, state.dir_of, state.dirs
        tmp_prefix, dst_prefix = dir_prefixes(config, jobs)
        archiving = source.archiving_configured
        return DirsView(
            tmp=tmp_rows(config, jobs, dir_of, dirs),
            dst=dst_rows(config, jobs, dir_of, dirs, with_priority=archiving),
            archive=source.archive_view()[0] if archiving else (),
            tmp_prefix=tmp_prefix,
            dst_prefix=dst_prefix,
            archive_prefix=archive_prefix(config),
            plotting=source.plotting_words(self.clock()),
            archiving=source.archiving_words(),
            replot=source.replot_lines(),
        )

    def _show_dirs_screen(self) -> None:
        """The dirs screen, when it is the one on top, shows the latest rows and words (of
        the dashboard it was opened from)."""
        stack = self.screen_stack
        if stack and isinstance(stack[-1], DirsScreen):
            below = stack[-2] if len(stack) > 1 else None
            stack[-1].show(self._dirs_view(self._source_of(below)))

    def action_dirs(self) -> None:
        _screen, source = self._current()
        view = self._dirs_view(source)
        self.push_screen(DirsScreen(view, archiving=source.archiving_configured))

    def _show_history_screen(self) -> None:
        """The history screen shows the latest history (drawn when it is next on screen)."""
        if self._history_screen is not None:
            self._history_screen.show(self.history_view)

    def _new_history_screen(self) -> HistoryScreen:
        # Imported by the history thread before its first read (see HistoryFeed.prepare), off
        # the event loop (with its charts' library, textual-plotext and plotext: 0.1-0.2 s);
        # here only on an h before that.
        from plotman_tui.tui.screens.history_screen import HistoryScreen

        self._history_screen = HistoryScreen(
            self.history_view, log_dir=os.fspath(self.config.logging.plots)
        )
        return self._history_screen

    async def _prepare_history_screen(self) -> None:
        """At idle once the screen's module is loaded and after each history that came in:
        the history screen composed, laid out and drawn while it is not shown, so that h only
        paints it (the first h of a session composed a screen of four charts and a table,
        0.2-0.5 s; a later one after a new history drew the four charts again, some 15 ms
        each)."""
        await asyncio.sleep(0)  # after the jobs table's refresh and any key already in
        if not self.screen_stack:
            return  # the app is closing: its screens are gone
        if self._history_screen is None:
            await textual_hacks.mount_unshown(self, self._new_history_screen(), "history")
        screen = self._history_screen
        if not self.screen_stack or screen is None or self.screen is screen or not screen.ready:
            return  # closing, or shown meanwhile: h laid it out
        textual_hacks.lay_out_unshown(self, screen)
        await screen.draw_unshown()

    def on_resize(self) -> None:
        # The hidden history screen drawn again at the new size (after the app's own resize).
        shown = self.screen_stack[-1] if self.screen_stack else None  # none while closing
        if self._history_screen is not None and shown not in (None, self._history_screen):
            self.call_after_refresh(
                self.run_worker, self._prepare_history_screen(), group="history-screen"
            )

    def action_history(self) -> None:
        view = self._host_view()
        if view is not None and not view.local:
            # The history screen is this machine's logs: on a host's dashboard it would pass
            # for the host's. Each machine keeps its own history; this says where it is.
            self.notify(self._history_elsewhere(view.name), title="history", timeout=12)
            return
        # One screen, kept (as help): its charts are drawn again only when the history or
        # the size changed, not on every h; mostly composed and drawn before the first h.
        if self._history_screen is None:
            self.install_screen(self._new_history_screen(), name="history")
        self.push_screen("history")

    def _history_elsewhere(self, name: str) -> str:
        from plotman_tui.fleet.summary import ssh_hint

        host = next((host for host in self.config.fleet.hosts if host.name == name), None)
        where = (
            f"run `{ssh_hint(host, 'history')}` (or `analyze`)"
            if host is not None
            else "run `plotman-tui history` (or `analyze`) there"
        )
        return (
            f"the history screen is this machine's plots only; {name}'s history is on {name}: "
            f"{where}. h on this machine's dashboard shows this machine's."
        )

    def _show_actions(self) -> None:
        screen = self._shown()
        if screen is not None:
            screen.show_actions(self.local, self.clock())

    def _show_status(self) -> None:
        screen = self._shown()
        if screen is None:
            return
        screen.show_status(self.local, self.clock())
        self._show_dirs_screen()

    def cadence(self, now: float) -> tuple[float, float, float | None]:
        """This machine's: how often the engine looks and plans, and the last pass's age."""
        last = self.state.last_pass_at
        feed = self.plotting_feed
        engine = self.pollers.get("engine")
        return (
            engine.interval_s if engine is not None else LOOK_INTERVAL_S,
            feed.schedule_interval_s
            if feed is not None
            else float(self.config.scheduling.polling_time_s),
            None if last is None else max(now - last, 0.0),
        )

    def _source_of(self, screen: object) -> DashboardSource:
        """The data a dashboard screen shows: a fleet host's, or this machine's."""
        if isinstance(screen, DashboardScreen) and screen.source is not None:
            return screen.source
        return self.local

    def _current(self) -> tuple[DashboardScreen, DashboardSource]:
        """The dashboard the keys act on: the one on top (a host's), else this machine's."""
        screen = self.screen
        if isinstance(screen, DashboardScreen):
            return screen, self._source_of(screen)
        return self.dashboard, self.local

    def _update_job_screens(self) -> None:
        jobs = {job_key(job): job for job in self.state.snapshot.jobs}
        for screen in self.screen_stack:
            if isinstance(screen, JobScreen) and not isinstance(screen.job, HostJob):
                screen.update_job(jobs.get(screen.key))

    # -- the fleet -------------------------------------------------------------------------------

    def action_fleet(self, configured: bool) -> None:
        """``F``: every plotting machine of [fleet]; none configured: the notice says how."""
        if self.fleet is None or not configured:
            self.notify(
                "no other plotting machines: add a [[fleet.hosts]] table (name, host, user, "
                "identity_file) per machine to the config, then start the dashboard again",
                title="fleet",
                timeout=10,
            )
            return
        if self._fleet_screen in self.screen_stack:
            # From a host's dashboard (or what it opened): back down to the fleet.
            while len(self.screen_stack) > 1 and self.screen is not self._fleet_screen:
                self.pop_screen()
            return
        if self._fleet_screen is None:
            self._fleet_screen = FleetScreen(clock=self.clock)
            self._fleet_screen.show_views(self.fleet.views)
            self.install_screen(self._fleet_screen, name="fleet")
        self.push_screen("fleet")

    def on_fleet_changed(self, message: FleetChanged) -> None:
        if self.fleet is None:
            return
        self.fleet.views = message.views
        if self._fleet_screen is not None:
            self._fleet_screen.show_views(message.views)
        self._update_host_dashboards()
        self._update_host_job_screens()

    def on_fleet_hosts_table_selected(self, event: FleetHostsTable.Selected) -> None:
        """Enter on a host's line: its dashboard, the same screen as this machine's, fed
        from the host; this machine's line goes back to this machine's own."""
        fleet = self.fleet
        view = fleet.view(event.host) if fleet is not None else None
        if view is None:
            return
        if view.local:
            self.pop_screen()
            return
        if view.status is not HostStatus.UP and not view.jobs:
            # Nothing of it to show yet: try it again now rather than at its back-off's end.
            if fleet is not None and fleet.client is not None:
                fleet.client.wake(view.name)
            why = f": {view.problem}" if view.problem else ""
            self.notify(
                f"{view.name} is {view.status.value}{why}; trying it again now", title="fleet"
            )
            return
        source = HostSource(view, self.config)
        screen = DashboardScreen(archiving=source.archiving_configured, source=source)
        self.push_screen(screen)
        self.call_after_refresh(screen.show_all, source, self.clock())

    def _update_host_dashboards(self) -> None:
        """Each open host dashboard shows its host's latest view (its tables redraw only the
        rows that changed)."""
        fleet = self.fleet
        if fleet is None:
            return
        for screen in self.screen_stack:
            if not isinstance(screen, DashboardScreen):
                continue
            source = screen.source
            if not isinstance(source, HostSource) or source.host is None:
                continue
            view = fleet.view(source.host)
            if view is not None and view is not source.view:
                source.update(view)
                if screen.is_mounted:
                    screen.show_all(source, self.clock())
        if self._host_view() is not None:
            self.refresh_bindings()  # p and a say what they would do to the host now

    def _update_host_job_screens(self) -> None:
        """A host's job's details follow its host's news, as a local job's follow the scans."""
        fleet = self.fleet
        if fleet is None:
            return
        for screen in self.screen_stack:
            if isinstance(screen, JobScreen) and isinstance(screen.job, HostJob):
                host = screen.job.host
                view = fleet.view(host)
                if view is None or view.status is not HostStatus.UP:
                    continue  # no news is not an end: the job may run on there
                found = next((job for job in view.jobs if job_key(job) == screen.key), None)
                screen.update_job(None if found is None else host_job(host, found))

    def _host_view(self) -> HostView | None:
        """The fleet host whose dashboard is on top (None: this machine's, or another
        screen)."""
        screen = self.screen
        if not isinstance(screen, DashboardScreen) or screen.source is None:
            return None
        host = screen.source.host
        return self.fleet.view(host) if self.fleet is not None and host is not None else None

    def _switch_host_loop(self, loop: LoopName, enabled: bool) -> bool:
        """On a fleet host's dashboard: pause (False) or resume its loop there. False on
        this machine's dashboard (the key is this machine's)."""
        view = self._host_view()
        if view is None or self.fleet is None:
            return False
        self.notify(
            f"{'resuming' if enabled else 'pausing'} {loop} on {view.name}…", title=loop, timeout=4
        )
        self.fleet.switch(view.name, loop, not enabled)
        return True

    def action_fleet_loop(self, loop: LoopName, pause: bool | None = None) -> None:
        """``p`` or ``a`` on the fleet screen: pause (``pause`` True) or resume that loop on
        the selected host (its line, or the selected job's host), as the footer said; None
        turns it the other way."""
        screen = self.screen
        fleet = self.fleet
        if not isinstance(screen, FleetScreen) or fleet is None:
            return
        host = screen.selected_host()
        view = fleet.view(host) if host is not None else None
        if host is None or view is None:
            self.notify("no host selected", severity="warning")
            return
        state = view.plotting if loop == "plotting" else view.archiving
        if not state.configured:
            self.notify(f"{loop} is not set up on {host}", title=loop, severity="warning")
            return
        if pause is not None and pause == state.paused:
            # The host's state changed since the footer was drawn: nothing to turn.
            word = "paused" if pause else "running"
            self.notify(f"{loop} is {word} on {host} already", title=loop)
            self.screen.refresh_bindings()
            return
        paused = not state.paused
        self.notify(
            f"{'pausing' if paused else 'resuming'} {loop} on {host}…", title=loop, timeout=4
        )
        fleet.switch(host, loop, paused)

    def on_fleet_kill_prepared(self, message: FleetKillPrepared) -> None:
        fleet = self.fleet
        if fleet is None:
            return
        plan = message.plan

        def answered(answer: KillAnswer | None) -> None:
            if answer is not None and answer.kill:
                fleet.kill_answered(plan, True, "")
            else:
                why = answer.why if answer is not None else "the question closed"
                fleet.kill_answered(plan, False, why)

        self.push_screen(KillScreen(plan, host=message.host), answered)

    # -- keys ------------------------------------------------------------------------------------

    def action_switch_plotting(self, enabled: bool) -> None:
        """``p``: pause (False) or resume (True) starting new jobs; the footer's label says
        which (see check_action). On a fleet host's dashboard, that host's."""
        if self._switch_host_loop("plotting", enabled):
            return
        if enabled == self.plotting.enabled:
            return
        self.plotting.enabled = enabled
        self.refresh_bindings()  # the footer's "p" now says the other way
        if self.plotting_feed is not None:
            self.plotting_feed.set_plotting(enabled)
        self._wake("engine")
        if self.live:
            self._in_thread(partial(job_control.switch, self.control, "plotting", enabled))
        self.notify(
            "plotting resumed: new jobs start on schedule"
            if enabled
            else "plotting paused: no new jobs start; running jobs go on",
            title="plotting",
            timeout=5,
        )
        self._show_status()

    def action_suspend_job(self) -> None:
        self._signal_job("suspend")

    def action_resume_job(self) -> None:
        self._signal_job("resume")

    def _signal_job(self, action: Literal["suspend", "resume"]) -> None:
        job = self._target_job()
        if isinstance(job, HostJob):
            if self.fleet is not None:
                self.fleet.signal(action, job)
        elif job is not None:
            self._in_thread(partial(job_control.signal_job, self.control, action, job))

    def action_kill_job(self) -> None:
        job = self._target_job()
        if job is None:
            return
        if isinstance(job, HostJob):
            if self.fleet is not None:
                self.fleet.kill(job)
            return
        if self._pending_kill is not None:
            self.notify("a kill is waiting for an answer already", severity="warning")
            return
        self.run_worker(
            partial(self._prepare_kill, job), group="control", thread=True, exit_on_error=False
        )

    def _prepare_kill(self, job: Job) -> None:
        """In a worker thread: stop the job and list its files, then ask (unless closing)."""
        message = job_control.plan_kill(self.control, job)
        if isinstance(message, KillPrepared):
            with self._kill_lock:
                closing = self._feeds_closed
                if not closing and self._pending_kill is None:
                    self._pending_kill = message.plan
                    self.post_message(message)
                    return
            # Quitting, or a second question: the job runs on.
            why = self._closing_why() if closing else "a kill question is open already"
            message = job_control.call_off_kill(self.control, message.plan, why)
            if closing:
                return
        self.post_message(message)

    def action_pager(self) -> None:
        job = self._target_job()
        if job is None:
            return
        if isinstance(job, HostJob) and not self._log_is_here(job):
            self.notify(
                f"the log of pid {job.pid} is on {job.host}: {job.log_file or 'none found'}",
                title="log",
                severity="warning",
            )
            return
        if job.log_file is None:
            self.notify(
                f"pid {job.pid} has no log in {self.config.logging.plots}", severity="warning"
            )
            return
        try:
            pager = shlex.split(os.environ.get("PAGER") or "") or ["less"]
        except ValueError as error:  # "less '": no closing quotation
            self.notify(f"$PAGER cannot be read: {error}", title="pager", severity="error")
            return
        # The pager reads a cleaned copy: no colour code shown raw, no control character of
        # the log obeyed by the terminal (see tui/pager.py).
        try:
            with readable_copy(job.log_file) as copy:
                argv = [*pager, os.fspath(copy)]
                try:
                    with self.suspend():
                        subprocess.run(argv, check=False)
                except SuspendNotSupported:
                    self.notify("cannot hand the terminal to a pager here", severity="warning")
                except OSError as error:
                    what = f"{argv[0]}: {error.strerror or error}"
                    self.notify(what, title="pager", severity="error")
        except OSError as error:
            what = f"cannot show the log {job.log_file}: {error.strerror or error}"
            self.notify(what, title="log", severity="error")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            # "/" is a priority key of the dashboard (see its BINDINGS); typed in the filter,
            # it is a character of the filter.
            return not isinstance(self.screen.focused, Input)
        # p and a have a binding per state: the one that would change it is shown and runs
        # (False hides a binding from the footer, and the key goes on to the next one).
        if action == "fleet":
            return parameters == (self.fleet is not None,)
        host = self._host_view()
        if action == "switch_plotting":
            enabled = self.plotting.enabled if host is None else not host.plotting.paused
            return parameters != (enabled,)
        if action == "switch_archiving":
            configured = self.archiving.configured if host is None else host.archiving.configured
            if not configured:
                return parameters == (None,)
            enabled = self.archiving.enabled if host is None else not host.archiving.paused
            return parameters != (None,) and parameters != (enabled,)
        return True

    def action_filter(self) -> None:
        screen, source = self._current()
        screen.show_filter(True)
        field = screen.query_one("#filter", Input)
        field.value = source.filter_text
        # At once, not with focus() (which waits a turn of the loop): keys typed or pasted
        # right after "/" may be queued already, and must not reach the table's bindings.
        screen.set_focus(field)

    def action_clear_filter(self) -> None:
        screen, source = self._current()
        if not source.filter_text and not screen.filtering:
            if source.host is not None and screen is self.screen:
                self.pop_screen()  # a fleet host's dashboard: back to the fleet
            return
        source.filter_text = ""
        screen.query_one("#filter", Input).value = ""
        self._close_filter()
        self._show_jobs_of(screen, source)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            screen, source = self._current()
            source.filter_text = event.value.strip()
            self._show_jobs_of(screen, source)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._close_filter()

    def _close_filter(self) -> None:
        screen, _source = self._current()
        screen.show_filter(False)
        screen.set_focus(screen.query_one(JobsTable))  # at once, as in action_filter

    def _show_jobs_of(self, screen: DashboardScreen, source: DashboardSource) -> None:
        if source is self.local:
            self._show_jobs()
        else:
            screen.show_jobs(source)

    def action_sort(self) -> None:
        _screen, source = self._current()
        self._sort(source.jobs_order.next_column(source.columns()))

    def action_reverse_sort(self) -> None:
        _screen, source = self._current()
        self._sort(source.jobs_order.reversed())

    def on_jobs_table_header_selected(self, event: JobsTable.HeaderSelected) -> None:
        _screen, source = self._current()
        self._sort(source.jobs_order.by(event.column_id))

    def on_jobs_table_selected(self, event: JobsTable.Selected) -> None:
        job = event.table.selected_job
        if job is not None and job_key(job) == event.key:
            self.push_screen(JobScreen(job, live=self.live and self._log_is_here(job)))

    def _log_is_here(self, job: Job) -> bool:
        """Whether a job's log is on this machine: a fleet host's is on that host."""
        if not isinstance(job, HostJob):
            return True
        view = self.fleet.view(job.host) if self.fleet is not None else None
        return view is not None and view.local

    def action_help(self) -> None:
        # One help screen, kept: composing and rendering its tables anew costs a key press
        # most of its 100 ms on a slow machine.
        if not self.is_screen_installed("help"):
            self.install_screen(HelpScreen(), name="help")
        self.push_screen("help")

    def action_switch_archiving(self, enabled: bool | None) -> None:
        """``a``: pause (False) or resume (True) starting transfers; None: archiving is not
        set up, and the notice says how."""
        if enabled is not None and self._switch_host_loop("archiving", enabled):
            return
        if enabled is None or not self.archiving.configured:
            self.notify(
                "archiving is not set up: set [archiving] enabled = true and add an enabled "
                "[[archiving.targets]] table to the config",
                title="archiving",
            )
            return
        if enabled == self.archiving.enabled:
            return
        self.archiving.enabled = enabled
        self.refresh_bindings()
        if self.archiving_feed is not None:
            self.archiving_feed.set_archiving(enabled)
        self._wake("archiving")
        if self.live:
            self._in_thread(partial(job_control.switch, self.control, "archiving", enabled))
        self.notify(
            "archiving resumed: finished plots move to the farmer"
            if enabled
            else "archiving paused: no new transfer starts; transfers under way go on",
            title="archiving",
            timeout=5,
        )
        self._show_status()

    async def action_quit(self) -> None:
        self.exit(EXIT_OK)

    # -- helpers ---------------------------------------------------------------------------------

    def _columns(self) -> list[JobColumn]:
        """The jobs table's columns, with each job's progress and ETA as of now."""
        jobs = self.state.snapshot.jobs
        return job_columns(*dir_prefixes(self.config, jobs), self._estimates(jobs))

    def _estimates(self, jobs: tuple[Job, ...]) -> dict[str, Estimate]:
        eta = self.eta
        if eta is None:
            return {}
        now = self.clock()
        return {job_key(job): eta.estimate(job, now) for job in jobs}

    def _sort(self, order: SortOrder) -> None:
        screen, source = self._current()
        source.jobs_order = order
        self._show_jobs_of(screen, source)

    def _target_job(self) -> Job | None:
        """The job a key acts on: the details screen's, else the one under the cursor."""
        screen = self.screen
        if isinstance(screen, JobScreen):
            if screen.ended:
                self.notify("this job has ended", severity="warning")
                return None
            return screen.job
        job: Job | None
        if isinstance(screen, FleetScreen):
            job = screen.selected_job()
        else:
            job = self._current()[0].query_one(JobsTable).selected_job
        if job is None:
            self.notify("no job selected", severity="warning")
        return job

    def _in_thread(self, work: Callable[[], Message | None]) -> None:
        """Run blocking control work in the ``control`` group; post what it returns."""

        def run() -> None:
            message = work()
            if message is not None:
                self.post_message(message)
            self.post_message(ControlFinished())  # its action log entry: show it now

        self.run_worker(run, group="control", thread=True, exit_on_error=False)

    def on_control_finished(self, _message: ControlFinished) -> None:
        self._wake("action-log")

    def _wake(self, name: str) -> None:
        poller = self.pollers.get(name)
        if poller is not None:
            poller.wake()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notice of the dashboard: its text is shown as it is, never as markup (a path
        or a log's text holds brackets: ``[/b]`` in a dir name stopped the app), and its
        control characters as pictures (:func:`~plotman_tui.farm.units.printable`)."""
        if not markup:
            message, title = printable(message), printable(title)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def action_help_quit(self) -> None:
        """ctrl+c (Textual's own notice is markup, and does not say the jobs run on)."""
        self.notify("q or ctrl+q quits; plot jobs and transfers keep running", title="quit?")

    def _notify_once(
        self, text: str, severity: SeverityLevel = "error", *, title: str = ""
    ) -> None:
        if (title, text) in self._notified:
            return
        self._notified.add((title, text))
        self.notify(text, title=title, severity=severity, timeout=15)


def _plots_finished(before: tuple[Job, ...], after: tuple[Job, ...]) -> bool:
    """Whether a plot finished between two looks at the jobs: a job went, its log says it
    finished, or it began its next plot (a madMAx or BladeBit ``-n`` run)."""
    now = {job_key(job): job for job in after}
    for job in before:
        later = now.get(job_key(job))
        if later is None or (later.completed and not job.completed):
            return True
        if job.plot_id is not None and later.plot_id != job.plot_id:
            return True
    return False


def say_left_suspended(app: DashboardApp) -> None:
    """On the terminal, once the screen is gone: each job quitting could not let run on on its
    host, which stays stopped there until someone resumes it."""
    for line in app.fleet.left_suspended if app.fleet is not None else ():
        print(f"plotman-tui: {line}", file=sys.stderr)


def run_dashboard(
    config: Config,
    config_path: Path,
    *,
    autostart_plotting: bool,
    autostart_archiving: bool,
) -> int:
    """Run the dashboard until the farmer quits; plot jobs and transfers keep running.
    Returns 0."""
    # The metrics' port first: one in use is a one-line error (exit 2) before the screen opens.
    metrics = server_for(config)
    if metrics is not None:
        metrics.start()
    scanner = Scanner(config.logging.plots, temp_refresh_s=TEMP_REFRESH_S)
    cache = cache_dir() / "logstate.json"
    scanner.load_cache(cache)  # resume every log where the last run left it
    app = DashboardApp(
        config,
        config_path,
        plotting_enabled=autostart_plotting,
        archiving_enabled=autostart_archiving,
        engine=build_engine(config, scanner),
        # The plotting passes hand it the jobs: no scanner of its own.
        archiver=archiving_engine(config, None),
        freeze_gc=True,
        metrics=metrics.reader if metrics is not None else None,
    )
    # A hangup (an SSH session gone), SIGTERM or SIGINT closes the app as ctrl+q does, so a
    # job stopped for the kill question runs on. The handlers stay until close_feeds is done.
    with StopSignals(app.stop_on_signal):
        try:
            app.run()
        finally:
            app.close_feeds()
            scanner.save_cache(cache)
            if metrics is not None:
                metrics.close()
            say_left_suspended(app)
    return EXIT_OK if app.return_code in (None, 0) else app.return_code
