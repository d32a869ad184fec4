"""The main screen: layout, keys and the breakpoints that reshape it; the app feeds it data."""

from __future__ import annotations

import time
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from plotman_tui.tui.dashboard_layout import BORDER, Plan, Room, TableNeeds, plan
from plotman_tui.tui.view import (
    DashboardSource,
    archive_prefix,
    dir_prefixes,
    dst_rows,
    job_matches,
    ordered_jobs,
    phase_bins,
    tmp_rows,
)
from plotman_tui.tui.widgets.action_log_panel import ActionLogPanel
from plotman_tui.tui.widgets.archive_table import ArchiveTable
from plotman_tui.tui.widgets.dst_table import DstTable
from plotman_tui.tui.widgets.jobs_table import JobsTable
from plotman_tui.tui.widgets.keys_footer import KeysFooter
from plotman_tui.tui.widgets.line_table import LineTable
from plotman_tui.tui.widgets.phase_histogram import PhaseHistogram
from plotman_tui.tui.widgets.prefixes_line import PrefixesLine
from plotman_tui.tui.widgets.status_line import StatusLine
from plotman_tui.tui.widgets.tmp_table import TmpTable
from plotman_tui.tui.widgets.too_small import MIN_HEIGHT, MIN_WIDTH, TooSmall


class DashboardScreen(Screen[None]):
    """Every key lives here (the Footer shows them); the actions are the app's.

    Keys bound on this screen do nothing while a modal (kill, help) is open over it.
    ``archiving``: archiving is set up, so the archive table and the dst dirs' archive priority
    show (class ``-archiving``).
    """

    # In the Footer's order, most used first: keys that do not fit are left out whole, from the
    # end (at 120 columns with archiving set up, from q on; at 80, from d on), and "? Help", which
    # lists every key, is pinned at the footer's right end. From 135 columns every key shows.
    # p and a have a binding per state: the footer says what the key does now (Pause while
    # plotting is active, Resume while it is paused); check_action shows the one that applies.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "app.switch_plotting(False)", "Pause plotting"),
        Binding("p", "app.switch_plotting(True)", "Resume plotting"),
        Binding("s", "app.suspend_job", "Suspend"),
        Binding("r", "app.resume_job", "Resume"),
        Binding("k", "app.kill_job", "Kill"),
        Binding("l", "app.pager", "Log"),
        # A priority key, run in the App's turn: the App hands each key to the widget that has
        # the focus when it takes the key off its queue, so keys pasted or typed right after
        # "/" would otherwise reach the jobs table's bindings (s suspends, k kills).
        Binding("slash", "app.filter", "Filter", priority=True),
        Binding("d", "app.dirs", "Dirs"),
        Binding("h", "app.history", "History"),
        # F: the fleet, shown when [fleet] has hosts; without, the key says how to add them.
        Binding("F", "app.fleet(True)", "Fleet"),
        Binding("F", "app.fleet(False)", "Fleet", show=False),
        Binding("a", "app.switch_archiving(False)", "Pause archiving"),
        Binding("a", "app.switch_archiving(True)", "Resume archiving"),
        Binding("a", "app.switch_archiving(None)", "Archiving"),  # not set up: says how
        Binding("o", "app.sort", "Sort"),
        Binding("q", "app.quit", "Quit"),
        Binding("O", "app.reverse_sort", "Reverse"),
        Binding("question_mark", "app.help", "Help"),
    ]

    # Width: narrow (80 columns) lays the status line out on two lines (the jobs table drops
    # columns by its own width). Height: tall gives the panels borders. How the panels below
    # the jobs share the lines and columns is _lay_out's (dashboard_layout), not a breakpoint's.
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 (Textual reads it as is)
        (0, "-narrow"),
        (100, "-medium"),
        (160, "-wide"),
    ]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]  # noqa: RUF012

    def __init__(self, *, archiving: bool = False, source: DashboardSource | None = None) -> None:
        """``source``: a fleet host's (None: this machine's, fed by the app)."""
        super().__init__(classes="-archiving" if archiving else None)
        self.archiving = archiving
        self.source = source
        self._focus_before_too_small: Widget | None = None
        self._layout: Plan | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dashboard"):
            yield StatusLine(id="status")
            # The filter field covers the prefixes line while it is open: nothing moves, so
            # opening it repaints one line (no layout; the jobs table keeps its render caches,
            # which a resize or a restyle would drop).
            with Container(id="top-line"):
                yield PrefixesLine(id="prefixes")
                with Horizontal(id="filter-row"):
                    yield Static("filter: ", id="filter-label")
                    yield Input(
                        placeholder="any text of a job (enter keeps it, escape clears it)",
                        id="filter",
                        compact=True,
                    )
            yield JobsTable(id="jobs")
            yield PhaseHistogram(id="phases")
            # A grid placed and sized by _lay_out (see dashboard_layout): the tmp table over
            # (or, wide, beside) the dst table and a side column of the archive summary over
            # the action log; wider, the log the whole width under the others.
            with Container(id="lower"):
                yield TmpTable(id="tmp-table")
                yield DstTable(id="dst-table", with_priority=self.archiving)
                yield ArchiveTable(id="archive-table")
                yield ActionLogPanel(id="actions")
        yield TooSmall(id="too-small")
        yield KeysFooter(compact=True)

    # -- showing a source's data ------------------------------------------------------------------

    def show_all(self, source: DashboardSource, now: float) -> None:
        with self.app.batch_update():
            self.show_jobs(source)
            self.show_dirs(source)
            self.show_archiving(source)
            self.show_actions(source, now)
            self.show_status(source, now)

    def show_jobs(self, source: DashboardSource, *, afresh: bool = False) -> None:
        config, jobs = source.config, source.state.snapshot.jobs
        columns = source.columns()
        tmp_prefix, dst_prefix = dir_prefixes(config, jobs)
        shown = [
            job
            for job in ordered_jobs(jobs, columns, source.jobs_order)
            if job_matches(job, source.filter_text, columns)
        ]
        self.query_one(JobsTable).show(shown, columns, afresh=afresh)
        filtered = source.filter_text
        summary = f"jobs {len(shown)}/{len(jobs)}" if filtered else f"jobs {len(jobs)}"
        summary += f", {source.jobs_order.describe(columns)}"
        if filtered:
            summary += f", filter “{filtered}”"
        if source.host is not None:
            summary = f"{source.host}: {summary}"
        self.query_one(PhaseHistogram).show(phase_bins(jobs))
        problems = list(source.state.snapshot.problems)
        archive = archive_prefix(config) if source.archiving_configured else None
        self.query_one(PrefixesLine).show(tmp_prefix, dst_prefix, problems, summary, archive)

    def show_dirs(self, source: DashboardSource) -> None:
        config, state = source.config, source.state
        jobs = state.snapshot.jobs
        tmp_prefix, dst_prefix = dir_prefixes(config, jobs)
        dirs, dir_of = state.dirs, state.dir_of
        self.query_one(TmpTable).show(tmp_rows(config, jobs, dir_of, dirs), tmp_prefix)
        with_priority = source.archiving_configured
        rows = dst_rows(config, jobs, dir_of, dirs, with_priority=with_priority)
        self.query_one(DstTable).show(rows, dst_prefix)

    def show_archiving(self, source: DashboardSource) -> None:
        if not source.archiving_configured:
            return
        rows, replot = source.archive_view()
        self.query_one(ArchiveTable).show(rows, archive_prefix(source.config), replot)

    def show_actions(self, source: DashboardSource, now: float) -> None:
        self.query_one(ActionLogPanel).show(source.state.actions, today=now)

    def show_status(self, source: DashboardSource, now: float) -> None:
        look_s, schedule_s, pass_age_s = source.cadence(now)
        self.query_one(StatusLine).show(
            # Minutes: a clock in seconds would repaint the screen every second for nothing
            # (a pass that stops coming shows as "stale" on this line anyway).
            clock=time.strftime("%H:%M", time.localtime(now)),
            plotting=source.plotting_words(now),
            archiving=source.archiving_words(),
            look_s=look_s,
            schedule_s=schedule_s,
            pass_age_s=pass_age_s,
        )

    def on_mount(self) -> None:
        host = self.source.host if self.source is not None else None
        self.query_one("#jobs").border_title = "jobs" if host is None else f"jobs on {host}"
        self.query_one("#tmp-table").border_title = "tmp dirs"
        self.query_one("#dst-table").border_title = "dst dirs"
        self.query_one("#archive-table").border_title = "archive dirs"
        self.query_one("#actions").border_title = "action log"
        self.query_one(JobsTable).focus()

    @property
    def filtering(self) -> bool:
        """Whether the filter field is open."""
        return self.query_one("#filter-row").styles.visibility == "visible"

    def show_filter(self, shown: bool) -> None:
        """Open or close the filter field over the prefixes line: its visibility only, not a
        class on the screen (which restyles every widget) nor ``display`` (a layout of the
        whole screen)."""
        self.query_one("#filter-row").styles.visibility = "visible" if shown else "hidden"

    def on_resize(self, event: Resize) -> None:
        width, height = event.size
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        was_too_small = self.has_class("-too-small")
        if too_small and not was_too_small:
            # Hiding the dashboard takes the focus from it (nothing else can hold it).
            self._focus_before_too_small = self.focused
        self.set_class(too_small, "-too-small")
        if too_small:
            self.query_one(TooSmall).show(width, height)
            return
        if was_too_small:
            # Back to the widget that had it (the jobs table, or the open filter field), after
            # this refresh: a widget still hidden by the class cannot take the focus.
            self.call_after_refresh(self._give_focus_back)
        # Once this size's breakpoints have given the status line and the phases their height.
        self.call_after_refresh(self._lay_out)

    def on_screen_resume(self) -> None:
        # The terminal may have changed size while another screen (help, dirs, details) was
        # on top: the dashboard is laid out again for the new size once it is shown.
        self.call_after_refresh(self._lay_out)

    def on_line_table_needs_changed(self, event: LineTable.NeedsChanged) -> None:
        event.stop()
        # Not while the filter is typed: each key would lay the screen out again.
        if not (isinstance(event.table, JobsTable) and self.filtering):
            self._lay_out()

    def on_action_log_panel_count_changed(self, event: ActionLogPanel.CountChanged) -> None:
        event.stop()
        self._lay_out()

    def _lay_out(self) -> None:
        """Share the lines between the jobs table and the panels below it (dashboard_layout):
        styles are set only when the plan changed, so only then is the screen laid out."""
        if self.has_class("-too-small") or not self.is_attached:
            return
        jobs = self.query_one(JobsTable)
        tmp, dst = self.query_one(TmpTable), self.query_one(DstTable)
        archive = self.query_one(ArchiveTable)
        dashboard = self.query_one("#dashboard")
        taken = sum(
            self.query_one(selector).outer_size.height
            for selector in ("#status", "#top-line", "#phases")
        )
        tall = self.has_class("-tall")
        room = Room(
            width=self.size.width,
            height=self.size.height,
            lines=dashboard.size.height - taken,
            jobs=jobs.row_count,
            jobs_chrome=1 + (BORDER if tall else 0),
            tmp=_needs(tmp),
            dst=_needs(dst),
            archive=_needs(archive) if self.archiving else TableNeeds(0, 0, 0),
            bordered=tall,
            actions=self.query_one(ActionLogPanel).count,
        )
        layout = plan(room)
        if layout == self._layout:
            return
        self._layout = layout
        lower = self.query_one("#lower")
        lower.styles.height = layout.lower
        lower.set_class(not layout.bordered, "-flat")
        _place(lower, layout, archiving=self.archiving)
        tmp.styles.height = layout.tmp_height
        tmp.set_groups(layout.tmp_groups)
        dst.styles.height = layout.dst_height
        dst.styles.width = layout.dst_width
        dst.set_groups(layout.dst_groups)
        archive.styles.height = layout.archive_height

    def _give_focus_back(self) -> None:
        if self.focused is not None:
            return
        before = self._focus_before_too_small
        if isinstance(before, Input) and before.is_attached and before.focusable:
            # The field selects all its text when it takes the focus, and the next key would
            # replace the filter typed so far: its selection is put back once the focus came
            # (a callback queued behind the Focus event, on the field's own queue).
            selection = before.selection
            self.set_focus(before)
            before.call_later(setattr, before, "selection", selection)
        elif before is not None and before.is_attached and before.focusable:
            self.set_focus(before)
        else:
            self.set_focus(self.query_one(JobsTable))


def _place(lower: Widget, layout: Plan, *, archiving: bool) -> None:
    """Place the lower part's panels in its grid (in order: tmp, dst, archive, action log;
    the archive summary takes no cell when archiving is not set up)."""
    tmp, dst, archive, log = lower.children
    spans: dict[Widget, tuple[int, int]]  # (columns, rows)
    if layout.log_under:
        # tmp | dst over the archive summary; the log the whole width under them.
        top = layout.lower - layout.side_height
        columns: tuple[int | str, ...] = (layout.tmp_width or 0, "1fr")
        if archiving:
            rows: tuple[int | str, ...] = (layout.dst_height, top - layout.dst_height, "1fr")
            spans = {tmp: (1, 2), dst: (1, 1), archive: (1, 1), log: (2, 1)}
        else:
            rows = (top, "1fr")
            spans = {tmp: (1, 1), dst: (1, 1), archive: (1, 1), log: (2, 1)}
    elif layout.beside:
        # tmp | dst | the archive summary over the log.
        columns = (layout.tmp_width or 0, layout.dst_width, "1fr")
        rows = (layout.archive_height, "1fr") if archiving else ("1fr",)
        span = 2 if archiving else 1
        spans = {tmp: (1, span), dst: (1, span), archive: (1, 1), log: (1, 1)}
    else:
        # tmp the whole width over dst | the archive summary over the log.
        columns = (layout.dst_width, "1fr")
        if archiving:
            rows = (layout.tmp_height, layout.archive_height, "1fr")
            spans = {tmp: (2, 1), dst: (1, 2), archive: (1, 1), log: (1, 1)}
        else:
            rows = (layout.tmp_height, "1fr")
            spans = {tmp: (2, 1), dst: (1, 1), archive: (1, 1), log: (1, 1)}
    lower.styles.grid_size_columns = len(columns)
    lower.styles.grid_columns = [str(column) for column in columns]
    lower.styles.grid_rows = [str(row) for row in rows]
    for panel, (column_span, row_span) in spans.items():
        panel.styles.column_span = column_span
        panel.styles.row_span = row_span


def _needs(table: LineTable) -> TableNeeds:
    return TableNeeds(
        table.row_count, table.group_width(natural=True), table.group_width(natural=False)
    )
