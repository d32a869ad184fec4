"""The dashboard app: the engine's passes, dirs and action log come in as messages from thread
workers; the app keeps the latest of each and hands it to the widgets.

Workers (each a :class:`~plotman_tui.tui.poller.Poller` with its own group, one run at a time):

- ``engine``: a pass every second (a look; every ``polling_time_s`` it also schedules);
- ``dirs``: free space and finished plots every 10 s (and after a job ends or is killed);
- ``action-log``: one stat a second, a read when the log changed;
- ``control``: one suspend, resume or kill at a time, started by a key.

``live=False`` builds the app with no worker at all: tests post the same messages themselves.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.app import App, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Input
from textual.worker import Worker

from plotman_tui.appdirs import cache_dir, data_dir
from plotman_tui.config.schema import Config
from plotman_tui.farm.actionlog import ActionLog, default_action_log
from plotman_tui.farm.control import KillPlan, cancel_kill
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.engine import EventKind, PlottingEngine
from plotman_tui.farm.lock import default_lock
from plotman_tui.farm.model import Job
from plotman_tui.tui import job_control
from plotman_tui.tui.feeds import (
    ACTION_LOG_INTERVAL_S,
    DIRS_INTERVAL_S,
    LOOK_INTERVAL_S,
    ActionLogFeed,
    DirFeed,
    PlottingFeed,
)
from plotman_tui.tui.messages import (
    ActionsRead,
    DirsSampled,
    JobControlDone,
    KillPrepared,
    PassCompleted,
    WorkFailed,
)
from plotman_tui.tui.poller import Poller
from plotman_tui.tui.screens.dashboard import DashboardScreen
from plotman_tui.tui.screens.help_screen import HelpScreen
from plotman_tui.tui.screens.job_screen import JobScreen
from plotman_tui.tui.screens.kill_screen import KillScreen
from plotman_tui.tui.view import (
    DashboardState,
    JobColumn,
    PlottingState,
    SortOrder,
    archiving_words,
    configured_dst_dirs,
    configured_tmp2_dir,
    configured_tmp_dirs,
    dir_prefixes,
    dst_rows,
    job_columns,
    job_key,
    job_matches,
    ordered_jobs,
    phase_bins,
    plotting_words,
    tmp_rows,
)
from plotman_tui.tui.widgets.action_log_panel import ActionLogPanel
from plotman_tui.tui.widgets.dst_table import DstTable
from plotman_tui.tui.widgets.jobs_table import JobsTable
from plotman_tui.tui.widgets.phase_histogram import PhaseHistogram
from plotman_tui.tui.widgets.prefixes_line import PrefixesLine
from plotman_tui.tui.widgets.status_line import StatusLine
from plotman_tui.tui.widgets.tmp_table import TmpTable

EXIT_OK = 0
#: The scanner measures temp files (a stat per file) at most this often.
TEMP_REFRESH_S = 5.0


def build_engine(config: Config, scanner: Scanner | None = None) -> PlottingEngine:
    """The engine as the dashboard runs it: the machine's lock, action log and state file."""
    return PlottingEngine(
        config,
        lock=default_lock(),
        action_log=default_action_log(),
        scanner=scanner or Scanner(config.logging.plots, temp_refresh_s=TEMP_REFRESH_S),
        state_path=data_dir() / "plotting-state.json",
    )


class DashboardApp(App[int]):
    """The plotting dashboard. ``plotting_enabled`` is the pause switch's state at start."""

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
        action_log: ActionLog | None = None,
        live: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.config = config
        self.config_path = config_path
        self.live = live
        self.clock = clock
        # Archiving is not run by the dashboard yet; the switch's state is kept for when it is.
        self.archiving_enabled = archiving_enabled
        self.state = DashboardState()
        self.plotting = PlottingState(enabled=plotting_enabled)
        self.jobs_order = SortOrder()
        self.filter_text = ""
        self.action_log = action_log
        self._engine = engine
        self.plotting_feed: PlottingFeed | None = None
        self.pollers: dict[str, Poller] = {}
        # A job stopped for the kill question. Set from the worker thread that stopped it, so a
        # quit at any moment finds it and lets the job run on (see close_feeds).
        self._pending_kill: KillPlan | None = None
        self._kill_lock = threading.Lock()
        self._notified: set[str] = set()
        self._feeds_closed = False
        self._shown_ready = False

    def get_default_screen(self) -> DashboardScreen:
        return DashboardScreen()

    @property
    def dashboard(self) -> DashboardScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    def _shown(self) -> DashboardScreen | None:
        """The dashboard, if its widgets are there: not before the first frame (messages may
        come first), nor while the app shuts down (a worker's last message may come after)."""
        if not self._shown_ready or self._feeds_closed or not self.screen_stack:
            return None
        screen = self.screen_stack[0]
        return screen if isinstance(screen, DashboardScreen) else None

    # -- starting and stopping -------------------------------------------------------------------

    def on_ready(self) -> None:
        # Ready, not Mount: the dashboard's widgets exist only once the first frame is drawn;
        # data that came before is kept in the state and shown now.
        self._shown_ready = True
        self._show_all()
        if not self.live:
            return
        if self.action_log is None:
            self.action_log = default_action_log()
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
        self.pollers = {
            "engine": Poller(self, "engine", self.plotting_feed.read, LOOK_INTERVAL_S),
            "dirs": Poller(self, "dirs", DirFeed(dirs, dst).read, DIRS_INTERVAL_S),
            "action-log": Poller(
                self, "action-log", ActionLogFeed(self.action_log).read, ACTION_LOG_INTERVAL_S
            ),
        }
        for poller in self.pollers.values():
            poller.start()
        self.set_interval(1.0, self._show_status, name="clock")

    def on_unmount(self) -> None:
        self.close_feeds()

    def close_feeds(self) -> None:
        """Stop the workers, give the scheduler lock up, and let a job held for a kill go on."""
        with self._kill_lock:
            if self._feeds_closed:
                return
            self._feeds_closed = True
            plan, self._pending_kill = self._pending_kill, None
        for poller in self.pollers.values():
            poller.stop()
        if plan is not None:
            cancel_kill(plan)  # never leave a job stopped behind a question nobody answers
        if self.plotting_feed is not None:
            self.plotting_feed.close()  # waits for a pass under way: the engine is not shared

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        for poller in self.pollers.values():
            if poller.handle(event):
                return

    # -- data from the workers -------------------------------------------------------------------

    def on_pass_completed(self, message: PassCompleted) -> None:
        result = message.result
        self.state.snapshot = result.snapshot
        self.state.dir_of = message.dir_of
        self.state.last_pass_at = result.time
        plotting = self.plotting
        plotting.holds_lock = result.holds_lock
        plotting.error = None
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
        self._show_all()
        self._update_job_screens()

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
        if message.group == "engine":
            self.plotting.error = message.error
            self._show_status()
        self._notify_once(f"{message.group}: {message.error}")

    def on_job_control_done(self, message: JobControlDone) -> None:
        self.notify(
            message.message,
            title=message.action,
            severity="information" if message.ok else "error",
            timeout=8 if message.ok else 15,
        )
        self._wake("engine")
        if message.action == "kill":
            self._wake("dirs")

    def on_kill_prepared(self, message: KillPrepared) -> None:
        self.push_screen(KillScreen(message.plan), self._kill_answered)

    def _kill_answered(self, kill: bool | None) -> None:
        with self._kill_lock:
            plan, self._pending_kill = self._pending_kill, None
        if plan is None:
            return  # the app is closing: close_feeds let the job run on
        log = self.action_log
        if kill:
            self.notify(f"killing pid {plan.job.pid}…", title="kill", timeout=4)
            self._in_thread(partial(job_control.finish_kill, log, plan))
        else:
            self._in_thread(partial(job_control.call_off_kill, plan))

    # -- showing ---------------------------------------------------------------------------------

    def _show_all(self) -> None:
        if self._shown() is None:
            return
        with self.batch_update():
            self._show_jobs()
            self._show_dirs()
            self._show_actions()
            self._show_status()

    def _show_jobs(self) -> None:
        screen = self._shown()
        if screen is None:
            return
        jobs = self.state.snapshot.jobs
        tmp_prefix, dst_prefix = dir_prefixes(self.config, jobs)
        columns = job_columns(tmp_prefix, dst_prefix)
        shown = [
            job
            for job in ordered_jobs(jobs, columns, self.jobs_order)
            if job_matches(job, self.filter_text, columns)
        ]
        table = screen.query_one(JobsTable)
        table.show(shown, columns)
        summary = f"jobs {len(shown)}/{len(jobs)}" if self.filter_text else f"jobs {len(jobs)}"
        summary += f", {self.jobs_order.describe(columns)}"
        if self.filter_text:
            summary += f", filter “{self.filter_text}”"
        screen.query_one(PhaseHistogram).show(phase_bins(jobs))
        problems = list(self.state.snapshot.problems)
        screen.query_one(PrefixesLine).show(tmp_prefix, dst_prefix, problems, summary)

    def _show_dirs(self) -> None:
        screen = self._shown()
        if screen is None:
            return
        jobs = self.state.snapshot.jobs
        tmp_prefix, dst_prefix = dir_prefixes(self.config, jobs)
        dirs, dir_of = self.state.dirs, self.state.dir_of
        screen.query_one(TmpTable).show(tmp_rows(self.config, jobs, dir_of, dirs), tmp_prefix)
        screen.query_one(DstTable).show(dst_rows(self.config, jobs, dir_of, dirs), dst_prefix)

    def _show_actions(self) -> None:
        screen = self._shown()
        if screen is not None:
            screen.query_one(ActionLogPanel).show(self.state.actions)

    def _show_status(self) -> None:
        screen = self._shown()
        if screen is None:
            return
        now = self.clock()
        last = self.state.last_pass_at
        feed = self.plotting_feed
        screen.query_one(StatusLine).show(
            clock=time.strftime("%H:%M:%S", time.localtime(now)),
            plotting=plotting_words(self.plotting, now),
            archiving=archiving_words(self.config),
            look_s=LOOK_INTERVAL_S,
            schedule_s=feed.schedule_interval_s
            if feed is not None
            else float(self.config.scheduling.polling_time_s),
            pass_age_s=None if last is None else max(now - last, 0.0),
        )

    def _update_job_screens(self) -> None:
        jobs = {job_key(job): job for job in self.state.snapshot.jobs}
        for screen in self.screen_stack:
            if isinstance(screen, JobScreen):
                screen.update_job(jobs.get(screen.key))

    # -- keys ------------------------------------------------------------------------------------

    def action_toggle_plotting(self) -> None:
        enabled = not self.plotting.enabled
        self.plotting.enabled = enabled
        if self.plotting_feed is not None:
            self.plotting_feed.set_plotting(enabled)
        self._wake("engine")
        if self.live:
            self._in_thread(partial(job_control.switch_plotting, self.action_log, enabled))
        self.notify(
            "plotting resumed: new jobs start on schedule"
            if enabled
            else "plotting paused: no new jobs start; running jobs go on",
            title="plotting",
            timeout=5,
        )
        self._show_status()

    def action_suspend_job(self) -> None:
        job = self._target_job()
        if job is not None:
            self._in_thread(partial(job_control.signal_job, self.action_log, "suspend", job))

    def action_resume_job(self) -> None:
        job = self._target_job()
        if job is not None:
            self._in_thread(partial(job_control.signal_job, self.action_log, "resume", job))

    def action_kill_job(self) -> None:
        job = self._target_job()
        if job is None:
            return
        if self._pending_kill is not None:
            self.notify("a kill is waiting for an answer already", severity="warning")
            return
        self.run_worker(
            partial(self._prepare_kill, job), group="control", thread=True, exit_on_error=False
        )

    def _prepare_kill(self, job: Job) -> None:
        """In a worker thread: stop the job and list its files, then ask (unless closing)."""
        message = job_control.plan_kill(self.action_log, job)
        if isinstance(message, KillPrepared):
            with self._kill_lock:
                if not self._feeds_closed and self._pending_kill is None:
                    self._pending_kill = message.plan
                    self.post_message(message)
                    return
            cancel_kill(message.plan)  # quitting, or a second question: the job runs on
            return
        self.post_message(message)

    def action_pager(self) -> None:
        job = self._target_job()
        if job is None:
            return
        if job.log_file is None:
            self.notify(
                f"pid {job.pid} has no log in {self.config.logging.plots}", severity="warning"
            )
            return
        pager = os.environ.get("PAGER") or "less"
        argv = [*shlex.split(pager), job.log_file]
        try:
            with self.suspend():
                subprocess.run(argv, check=False)
        except SuspendNotSupported:
            self.notify("cannot hand the terminal to a pager here", severity="warning")
        except OSError as error:
            self.notify(f"{argv[0]}: {error.strerror or error}", title="pager", severity="error")

    def action_filter(self) -> None:
        screen = self.dashboard
        screen.add_class("-filtering")
        field = screen.query_one("#filter", Input)
        field.value = self.filter_text
        field.focus()

    def action_clear_filter(self) -> None:
        screen = self.dashboard
        if not self.filter_text and not screen.has_class("-filtering"):
            return
        self.filter_text = ""
        screen.query_one("#filter", Input).value = ""
        self._close_filter()
        self._show_jobs()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value.strip()
            self._show_jobs()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._close_filter()

    def _close_filter(self) -> None:
        screen = self.dashboard
        screen.remove_class("-filtering")
        screen.query_one(JobsTable).focus()

    def action_sort(self) -> None:
        self._sort(self.jobs_order.next_column(self._columns()))

    def action_reverse_sort(self) -> None:
        self._sort(self.jobs_order.reversed())

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        if isinstance(event.data_table, JobsTable) and event.column_key.value is not None:
            self._sort(self.jobs_order.by(event.column_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if not isinstance(event.data_table, JobsTable):
            return
        job = event.data_table.selected_job
        if job is not None:
            self.push_screen(JobScreen(job, live=self.live))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_archiving(self) -> None:
        if not self.config.archiving.active_targets:
            self.notify(
                "archiving is not set up: add [[archiving.targets]] to the config",
                title="archiving",
            )
        else:
            self.notify("archiving from the dashboard comes in a later version", title="archiving")

    async def action_quit(self) -> None:
        self.exit(EXIT_OK)

    # -- helpers ---------------------------------------------------------------------------------

    def _columns(self) -> list[JobColumn]:
        return job_columns(*dir_prefixes(self.config, self.state.snapshot.jobs))

    def _sort(self, order: SortOrder) -> None:
        self.jobs_order = order
        self._show_jobs()

    def _target_job(self) -> Job | None:
        """The job a key acts on: the details screen's, else the one under the cursor."""
        screen = self.screen
        if isinstance(screen, JobScreen):
            if screen.ended:
                self.notify("this job has ended", severity="warning")
                return None
            return screen.job
        job = self.dashboard.query_one(JobsTable).selected_job
        if job is None:
            self.notify("no job selected", severity="warning")
        return job

    def _in_thread(self, work: Callable[[], Message | None]) -> None:
        """Run blocking control work in the ``control`` group; post what it returns."""

        def run() -> None:
            message = work()
            if message is not None:
                self.post_message(message)

        self.run_worker(run, group="control", thread=True, exit_on_error=False)

    def _wake(self, name: str) -> None:
        poller = self.pollers.get(name)
        if poller is not None:
            poller.wake()

    def _notify_once(self, text: str) -> None:
        if text in self._notified:
            return
        self._notified.add(text)
        self.notify(text, severity="error", timeout=15)


def run_dashboard(
    config: Config,
    config_path: Path,
    *,
    autostart_plotting: bool,
    autostart_archiving: bool,
) -> int:
    """Run the dashboard until the farmer quits; plot jobs keep running. Returns 0."""
    scanner = Scanner(config.logging.plots, temp_refresh_s=TEMP_REFRESH_S)
    cache = cache_dir() / "logstate.json"
    scanner.load_cache(cache)  # resume every log where the last run left it
    app = DashboardApp(
        config,
        config_path,
        plotting_enabled=autostart_plotting,
        archiving_enabled=autostart_archiving,
        engine=build_engine(config, scanner),
    )
    try:
        app.run()
    finally:
        app.close_feeds()
        scanner.save_cache(cache)
    return EXIT_OK if app.return_code in (None, 0) else app.return_code
