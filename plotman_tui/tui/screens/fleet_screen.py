"""The fleet: one line per host over every host's jobs, with a ``host`` column.

The screen keeps its own order and filter; the app hands it every host's view as the fleet's
client reports them (:meth:`FleetScreen.show_views`). Only the rows that changed are drawn
again (the hosts by name, the jobs by host and job). Keys on a job (s, r, k) act on it on its
host; p and a on the selected host's line, or the selected job's host, pause or resume that
host's plotting or archiving (the footer says which, as the host's line is now). Enter on a
host opens its dashboard; on a job, its details.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from plotman_tui.farm.eta import Estimate
from plotman_tui.farm.model import Job
from plotman_tui.fleet.model import HostStatus, HostView, LoopState
from plotman_tui.fleet.summary import HostLine, fleet_jobs, host_line
from plotman_tui.tui.screens.job_screen import JobScreen
from plotman_tui.tui.view import (
    HostJob,
    JobColumn,
    SortOrder,
    fleet_columns,
    fleet_key,
    fleet_prefixes,
    host_job,
    job_matches,
    ordered_jobs,
)
from plotman_tui.tui.widgets.fleet_hosts_table import FleetHostsTable, trouble_lines
from plotman_tui.tui.widgets.fleet_jobs_table import FleetJobsTable
from plotman_tui.tui.widgets.jobs_table import JobsTable
from plotman_tui.tui.widgets.keys_footer import KeysFooter

#: From this many lines the tables have borders (class ``-tall``, as on the dashboard).
TALL_FROM = 36
#: The hosts' lines say how long ago a host went down: shown afresh this often.
AGE_REFRESH_S = 5.0


#: A host's jobs as the screen keeps them: the view's jobs and state they came from, their
#: HostJobs, and the (tmp, dst) dirs they are in.
_HostJobs = tuple[tuple[Job, ...], HostStatus, list[HostJob], set[tuple[str | None, str | None]]]


def _line_parts(view: HostView) -> tuple[object, ...]:
    """What a host's line is made of besides its jobs, dirs and config (see host_line)."""
    return (
        view.address,
        view.status,
        view.problem,
        view.plots_today,
        view.plotting,
        view.archiving,
        view.problems,
    )


class FleetScreen(Screen[None]):
    """Every host and every host's jobs; the keys' actions are the app's."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "app.suspend_job", "Suspend"),
        Binding("r", "app.resume_job", "Resume"),
        Binding("k", "app.kill_job", "Kill"),
        # p and a have a binding per state of the selected host's loop, as on the dashboard:
        # the one that would change it is shown and runs (check_action); with no host, or a
        # loop not set up there, the last one, which says why.
        Binding("p", "loop('plotting', True)", "Pause plotting"),
        Binding("p", "loop('plotting', False)", "Resume plotting"),
        Binding("p", "loop('plotting', None)", "Plotting"),
        Binding("a", "loop('archiving', True)", "Pause archiving"),
        Binding("a", "loop('archiving', False)", "Resume archiving"),
        Binding("a", "loop('archiving', None)", "Archiving"),
        Binding("slash", "filter", "Filter", priority=True),
        Binding("o", "sort", "Sort"),
        Binding("O", "reverse_sort", "Reverse"),
        Binding("tab", "switch_table", "Hosts/jobs", show=False),
        Binding("escape", "back", "Back", show=False),
        Binding("F", "leave", "Back"),
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help"),
    ]

    VERTICAL_BREAKPOINTS = [(0, "-short"), (TALL_FROM, "-tall")]  # noqa: RUF012 (Textual reads it)

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self.views: tuple[HostView, ...] = ()
        self.order = SortOrder()
        self.filter_text = ""
        self._columns: list[JobColumn] = []
        # The columns are kept (the same list) while the jobs' dir prefixes stay: the jobs
        # table then keeps the cells of the jobs that did not change.
        self._prefixes: tuple[str, str] | None = None
        # Per host: the jobs and state its rows came from, and its rows' HostJobs (made again
        # only when they changed: a view whose jobs did not keeps the same tuple). A host
        # that is not up shows no jobs (fleet_jobs): its last ones may have ended since.
        self._jobs_signature: tuple[object, ...] | None = None
        self._jobs_of: dict[str, _HostJobs] = {}
        # Per host: the view its line was made from, and the line (see _host_line).
        self._lines_of: dict[str, tuple[HostView, HostLine]] = {}
        # Every shown job's estimate by its fleet key, filled again in place as the hosts'
        # jobs change: the columns read it as they draw, so they stay the same list.
        self._estimates: dict[str, Estimate] = {}
        # What the footer's p and a were last shown for (see _loop_keys_shown).
        self._loop_keys: tuple[object, ...] | None = None
        # What the hosts' table, the trouble lines and the summary last showed: a host's beat
        # (every 2 s each) changes only when its news came, which none of them shows, and a
        # Static's update lays the whole screen out again.
        self._host_lines: list[HostLine] | None = None
        self._trouble: list[Text] | None = None
        self._summary: Text | None = None
        # The dirs (tmp, dst) of every shown job the prefixes were worked out from.
        self._dirs: frozenset[tuple[str | None, str | None]] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="fleet"):
            with Container(id="fleet-top"):
                yield Static(id="fleet-summary")
                with Horizontal(id="fleet-filter-row"):
                    yield Static("filter: ", id="fleet-filter-label")
                    yield Input(
                        placeholder="any text of a job or its host (enter keeps it)",
                        id="fleet-filter",
                        compact=True,
                    )
            yield FleetHostsTable(id="fleet-hosts")
            yield Static(id="fleet-trouble")
            yield FleetJobsTable(id="fleet-jobs")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#fleet-hosts").border_title = "hosts"
        self.query_one("#fleet-jobs").border_title = "jobs"
        self.query_one(FleetHostsTable).focus()
        self.set_interval(AGE_REFRESH_S, self._show_ages, name="fleet-ages")
        self._show()

    def on_resize(self) -> None:
        # Once this size's breakpoint (-tall: borders) is set: the hosts' height anew.
        self.call_after_refresh(self._show_hosts)

    # -- what the app asks -------------------------------------------------------------------

    @property
    def hosts_table(self) -> FleetHostsTable:
        return self.query_one(FleetHostsTable)

    @property
    def jobs_table(self) -> FleetJobsTable:
        return self.query_one(FleetJobsTable)

    def show_views(self, views: Sequence[HostView]) -> None:
        """The hosts' latest views: shown now when the screen is on top, else when it is
        next (each host's beat brings a view every 2 s; a hidden screen does nothing)."""
        self.views = tuple(views)
        if self.is_mounted and self.app.screen is self:
            self._show()

    def on_screen_resume(self) -> None:
        self._show()

    def selected_job(self) -> HostJob | None:
        """The job a key acts on: the one under the jobs table's cursor."""
        return self.jobs_table.selected_host_job

    def selected_host(self) -> str | None:
        """The host p and a act on: the hosts table's, or (from the jobs) the job's host."""
        if self.focused is self.jobs_table:
            job = self.jobs_table.selected_host_job
            if job is not None:
                return job.host
        return self.hosts_table.selected_host

    def view(self, host: str) -> HostView | None:
        return next((view for view in self.views if view.name == host), None)

    # -- showing -----------------------------------------------------------------------------

    def _show(self) -> None:
        with self.app.batch_update():
            self._show_hosts()
            # A beat changes a host's view, not its jobs: the jobs table is worked out again
            # only when some host's jobs (or whether they show) changed. The tuples are kept
            # (_jobs_of) until then, so an id is never another tuple's meanwhile.
            signature = tuple((view.name, id(view.jobs), view.status) for view in self.views)
            if signature != self._jobs_signature:
                self._show_jobs()
            self._loop_keys_shown()

    def _show_ages(self) -> None:
        if self.app.screen is self:
            self._show_hosts()

    def _show_hosts(self) -> None:
        now = self.clock()
        table = self.hosts_table
        lines = [self._host_line(view, now) for view in self.views]
        if lines != self._host_lines:
            self._host_lines = lines
            table.show(lines)
            trouble = trouble_lines(lines)
            if trouble != self._trouble:
                self._trouble = trouble
                notes = self.query_one("#fleet-trouble", Static)
                notes.display = bool(trouble)
                notes.update(Text("\n").join(trouble))
        # As many lines as the hosts (a third of the screen at most, the rest scrolls), set
        # here: an auto height missed rows that came in the frame the table was laid out.
        room = max(self.size.height // 3, 4)
        # By the size, not the class: the breakpoint's class may come after this resize.
        border = 2 if self.size.height >= TALL_FROM else 0
        height = min(table.row_count + 1, room) + border
        if table.styles.height is None or table.styles.height.value != height:
            table.styles.height = height

    def _host_line(self, view: HostView, now: float) -> HostLine:
        """The host's line, kept while what it is made of stayed (a beat changes the view's
        news time only): its jobs, dirs and config the same objects, the rest equal. A down
        host's line says how long ago it went silent, so it is made anew each time."""
        kept = self._lines_of.get(view.name)
        if kept is not None and view.status is not HostStatus.DOWN:
            old, line = kept
            if (
                old.jobs is view.jobs
                and old.dirs is view.dirs
                and old.config is view.config
                and _line_parts(old) == _line_parts(view)
            ):
                return line
        line = host_line(view, now)
        self._lines_of[view.name] = (view, line)
        return line

    def _host_jobs(self) -> tuple[list[HostJob], frozenset[tuple[str | None, str | None]]]:
        """Every shown job, and the (tmp, dst) dirs they are in."""
        jobs: list[HostJob] = []
        dirs: set[tuple[str | None, str | None]] = set()
        kept: dict[str, _HostJobs] = {}
        for view in self.views:
            old = self._jobs_of.get(view.name)
            if old is None or old[0] is not view.jobs or old[1] is not view.status:
                listed = [host_job(host, job) for host, job in fleet_jobs([view])]
                old = (view.jobs, view.status, listed, {(j.tmp_dir, j.dst_dir) for j in listed})
            kept[view.name] = old
            jobs.extend(old[2])
            dirs |= old[3]
        self._jobs_of = kept
        self._estimates.clear()
        for view in self.views:
            for key, estimate in view.estimates.items():
                self._estimates[fleet_key(view.name, key)] = estimate
        return jobs, frozenset(dirs)

    def _show_jobs(self) -> None:
        self._jobs_signature = tuple((view.name, id(view.jobs), view.status) for view in self.views)
        jobs, dirs = self._host_jobs()
        # The prefixes (a commonpath over every job's dirs) only when the set of dirs changed:
        # 500 jobs share a few dozen, and their hosts' news comes twice a second.
        if dirs != self._dirs or self._prefixes is None:
            self._dirs = dirs
            prefixes = fleet_prefixes(jobs)
            if prefixes != self._prefixes:
                self._prefixes = prefixes
                self._columns = fleet_columns(*prefixes, self._estimates)
        columns = self._columns
        shown = [
            job
            for job in ordered_jobs(jobs, columns, self.order)
            if job_matches(job, self.filter_text, columns)
        ]
        self.jobs_table.show(shown, columns)
        self._show_summary(len(shown), len(jobs), columns)

    def _show_summary(self, shown: int, total: int, columns: Sequence[JobColumn]) -> None:
        counts: dict[HostStatus, int] = {}
        for view in self.views:
            counts[view.status] = counts.get(view.status, 0) + 1
        hosts = len(self.views)
        text = Text.assemble(("Fleet: ", "bold"), f"{hosts} host{'' if hosts == 1 else 's'}")
        states = [
            (f"{counts[status]} {status.value}", style)
            for status, style in (
                (HostStatus.UP, "green"),
                (HostStatus.CONNECTING, "yellow"),
                (HostStatus.DOWN, "bold red"),
                (HostStatus.FAILED, "bold red"),
            )
            if counts.get(status)
        ]
        if states:
            text.append(" (")
            for index, (words, style) in enumerate(states):
                text.append(", " if index else "")
                text.append(words, style)
            text.append(")")
        jobs = f"jobs {shown}/{total}" if self.filter_text else f"jobs {total}"
        text.append(f"  {jobs}, {self.order.describe(columns)}")
        if self.filter_text:
            text.append(f", filter “{self.filter_text}”")
        if text != self._summary:
            self._summary = text
            self.query_one("#fleet-summary", Static).update(text)

    # -- keys --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            return not isinstance(self.focused, Input)
        if action == "loop":
            loop, pause = parameters
            state = self._loop_state(str(loop))
            if state is None or not state.configured:
                return pause is None
            return pause is not None and pause != state.paused
        return True

    def _loop_state(self, loop: str) -> LoopState | None:
        """The selected host's plotting or archiving loop, as its line shows it (None: no
        host selected)."""
        host = self.selected_host()
        view = self.view(host) if host is not None else None
        if view is None:
            return None
        return view.plotting if loop == "plotting" else view.archiving

    def _loop_keys_shown(self) -> None:
        """The footer's p and a anew when the selected host, or its loops' states, changed."""
        shown = (self.selected_host(), self._loop_state("plotting"), self._loop_state("archiving"))
        if shown != self._loop_keys:
            self._loop_keys = shown
            self.refresh_bindings()

    async def action_loop(self, loop: str, pause: bool | None) -> None:
        """``p`` or ``a``: pause or resume that loop on the selected host, as the footer said
        (None: say why it cannot)."""
        await self.app.run_action(f"fleet_loop({loop!r}, {pause!r})")

    def on_descendant_focus(self) -> None:
        self._loop_keys_shown()

    def on_cursor_table_cursor_moved(self) -> None:
        self._loop_keys_shown()

    def action_sort(self) -> None:
        self.order = self.order.next_column(self._columns)
        self._show_jobs()

    def action_reverse_sort(self) -> None:
        self.order = self.order.reversed()
        self._show_jobs()

    def on_jobs_table_header_selected(self, event: JobsTable.HeaderSelected) -> None:
        event.stop()
        self.order = self.order.by(event.column_id)
        self._show_jobs()

    def action_switch_table(self) -> None:
        hosts, jobs = self.hosts_table, self.jobs_table
        self.set_focus(jobs if self.focused is hosts else hosts)

    def action_filter(self) -> None:
        self.query_one("#fleet-filter-row").styles.visibility = "visible"
        field = self.query_one("#fleet-filter", Input)
        field.value = self.filter_text
        self.set_focus(field)  # at once: keys typed right after "/" are the filter's

    @property
    def filtering(self) -> bool:
        return self.query_one("#fleet-filter-row").styles.visibility == "visible"

    def _close_filter(self) -> None:
        self.query_one("#fleet-filter-row").styles.visibility = "hidden"
        self.set_focus(self.jobs_table)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "fleet-filter":
            event.stop()
            self.filter_text = event.value.strip()
            self._show_jobs()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "fleet-filter":
            event.stop()
            self._close_filter()

    def action_leave(self) -> None:
        self.app.pop_screen()

    def on_jobs_table_selected(self, event: JobsTable.Selected) -> None:
        """Enter on a job: its details (the app keeps them up to date from its host)."""
        event.stop()
        job = self.jobs_table.selected_host_job
        if job is None:
            return
        view = self.view(job.host)
        # The log is read where it is: this machine's job's live, a host's not (its phases
        # and times still come with its host's news).
        self.app.push_screen(JobScreen(job, live=view is not None and view.local))

    def action_back(self) -> None:
        """escape: clear the filter first (as on the dashboard), then back to the dashboard."""
        if self.filter_text or self.filtering:
            self.filter_text = ""
            self.query_one("#fleet-filter", Input).value = ""
            self._close_filter()
            self._show_jobs()
            return
        self.app.pop_screen()
