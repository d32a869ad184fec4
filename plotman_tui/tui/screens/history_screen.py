"""The plot history (``h``): plots and TiB finished per day over the last 30 days, phase and
total times per tmp dir, and the plots that finished last.

The charts are textual-plotext's (plotext drawn by a Textual widget); what they show is worked
out in the app's history worker (:func:`~plotman_tui.tui.view.history_view`), so opening the
screen or a new history arriving costs the event loop only the drawing.

Below 120 columns the TiB chart and the phase chart are left out: at 80 columns two charts side
by side are too narrow to read, and each has its figures elsewhere (the TiB in the summary line
above the charts, each plot's phases in the table under them).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import ClassVar, TypeVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult, RenderResult, ScreenStackError
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from plotman_tui.farm.history_stats import TIB, DayTotal
from plotman_tui.farm.units import printable
from plotman_tui.tui import textual_hacks
from plotman_tui.tui.view import HISTORY_DAYS, FinishedRow, HistoryView, TmpTimes
from plotman_tui.tui.widgets.keyed_table import KeyedTable, cell
from plotman_tui.tui.widgets.keys_footer import KeysFooter
from plotman_tui.tui.widgets.line_table import TableColumn

W = TypeVar("W", bound=Widget)

#: The jobs table's colour of each major phase (see widgets/jobs_table.py), for the phase chart.
PHASE_COLOURS = ("cyan", "blue", "magenta", "green")
HOUR = 3600.0
#: The per-day charts label every this many days, counted back from today.
TICK_DAYS = 7


class Chart(PlotextPlot):
    """A PlotextPlot drawn once per size and figure: textual-plotext builds the whole plot
    again on every render, and a screen being laid out renders it several times (a
    profile of h at 120x40 saw each chart built four times)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._figure = 0
        self._drawn: tuple[tuple[int, int, int, str], RenderResult] | None = None

    def redraw(self) -> None:
        """The figure (``plt``) changed: draw it again."""
        self._figure += 1
        self.refresh()

    def render(self) -> RenderResult:
        key = (self.size.width, self.size.height, self._figure, self.app.theme)
        if self._drawn is None or self._drawn[0] != key:
            self._drawn = (key, super().render())
        return self._drawn[1]

    def drawn(self) -> bool:
        """Whether the chart is built at its size (or is not shown: nothing to build)."""
        if not self.display or not self.size:
            return True
        key = (self.size.width, self.size.height, self._figure, self.app.theme)
        return self._drawn is not None and self._drawn[0] == key


class FinishedTable(KeyedTable):
    """The plots that finished last, newest first."""

    COLUMNS = (
        TableColumn("ended", "ended"),
        TableColumn("plot id", "plot id"),
        TableColumn("plotter", "plotter", drop=1),
        TableColumn("k", "k", right=True, drop=2),
        TableColumn("tmp", "tmp", shrinks=True),
        TableColumn("p1", "p1", right=True),
        TableColumn("p2", "p2", right=True),
        TableColumn("p3", "p3", right=True),
        TableColumn("p4", "p4", right=True),
        TableColumn("total", "total", right=True),
        TableColumn("copy", "copy", right=True, drop=3),
    )
    WIDTH_IS_PLANNED = False

    def show(self, rows: Sequence[FinishedRow]) -> None:
        self.show_rows(
            [
                (
                    row.key,
                    [
                        cell(row.ended),
                        cell(row.plot_id),
                        cell(row.plotter),
                        cell(row.k),
                        cell(row.tmp),
                        *(cell(text) for text in row.phases),
                        cell(row.total, "bold"),
                        cell(row.copy),
                    ],
                )
                for row in rows
            ]
        )


def summary_text(view: HistoryView, log_dir: str) -> Text:
    """The line over the charts: how much finished, and what was read."""
    where = printable(log_dir)
    if view.reading:
        return Text(f"Reading plot logs… ({where})")
    notes = []
    if view.unfinished:
        notes.append(f"{view.unfinished} unfinished")
    if view.skipped:
        notes.append(f"{view.skipped} skipped")
    noted = f" ({', '.join(notes)})" if notes else ""
    if not view.plots:
        return Text(f"No completed plots in the logs of {where}{noted}.")
    recent = sum(day.plots for day in view.days)
    written = sum(day.bytes_written for day in view.days) / TIB
    text = Text.assemble(
        (f"{view.plots} plot{'' if view.plots == 1 else 's'} finished", "bold"),
        f"{noted}; last {HISTORY_DAYS} days: ",
        (f"{recent} plot{'' if recent == 1 else 's'}, {written:.1f} TiB", "bold"),
    )
    if view.tmp_prefix:
        text.append(f"; tmp dirs in {printable(view.tmp_prefix)}")
    return text


def _integer_ticks(top: float) -> list[int]:
    step = max(1, math.ceil(top / 4))
    return list(range(0, int(top) + step + 1, step))


def draw_days(plot: Chart, days: Sequence[DayTotal], *, tib: bool) -> None:
    """A bar per day, today on the right; labelled every TICK_DAYS days back from today."""
    plt = plot.plt
    plt.clear_figure()
    values = [day.bytes_written / TIB if tib else day.plots for day in days]
    positions = list(range(1, len(days) + 1))
    if not days:
        return
    plt.bar(positions, values, width=0.6, color="green" if tib else "cyan")
    ticks = positions[::-TICK_DAYS][::-1]
    plt.xticks([float(tick) for tick in ticks], [days[i - 1].day[5:] for i in ticks])
    top = max(values)
    if tib:
        plt.ylim(0, top * 1.1 if top > 0 else 1.0)
    else:
        shown = _integer_ticks(top)
        plt.yticks([float(tick) for tick in shown], [str(tick) for tick in shown])
        plt.ylim(0, shown[-1])
    plot.redraw()


def _rows(plot: Chart, labels: Sequence[str]) -> list[float]:
    """One row of the chart per label, the first at the top."""
    rows = [float(row) for row in range(len(labels), 0, -1)]
    plot.plt.yticks(rows, list(labels))
    plot.plt.ylim(0.5, len(labels) + 0.5)
    plot.plt.xlabel("hours")
    return rows


def draw_totals(plot: Chart, tmp: Sequence[TmpTimes]) -> None:
    """Each tmp dir's total time, hours: a line from the shortest to the longest, the median
    marked on it (min–median–max)."""
    plt = plot.plt
    plt.clear_figure()
    known = [(times.tmp, times.total) for times in tmp if times.total is not None]
    if known:
        rows = _rows(plot, [name for name, _ in known])
        for row, (_, spread) in zip(rows, known, strict=True):
            assert spread is not None
            plt.plot([spread.min / HOUR, spread.max / HOUR], [row, row], marker="─", color="green")
            plt.plot([spread.median / HOUR], [row], marker="┼", color="red")
        plt.xlim(0, None)
    plot.redraw()


def draw_phases(plot: Chart, tmp: Sequence[TmpTimes]) -> None:
    """Each tmp dir's median phase times, hours, one after the other (in the jobs table's
    phase colours)."""
    plt = plot.plt
    plt.clear_figure()
    known = [times for times in tmp if any(times.phases)]
    if known:
        rows = [float(row) for row in range(len(known), 0, -1)]
        medians = [
            [spread.median / HOUR if spread else 0.0 for spread in column]
            for column in zip(*(times.phases for times in known), strict=True)
        ]
        plt.stacked_bar(
            rows,
            medians,
            color=list(PHASE_COLOURS),  # type: ignore[arg-type]  # one a phase (the stub says one)
            orientation="horizontal",
            width=0.5,
        )
        _rows(plot, [times.tmp for times in known])  # after the bars: they set ticks of their own
    plot.redraw()


def _phase_legend() -> Text:
    text = Text("median phases per tmp dir: ")
    for index, colour in enumerate(PHASE_COLOURS, 1):
        text.append("■", colour)
        text.append(f" {index} " if index < 4 else f" {index}")
    return text


def _has_charts(view: HistoryView) -> bool:
    return not view.reading and view.plots > 0


def _tmp_height(view: HistoryView) -> int:
    """The tmp dirs' charts: two lines a dir and one, the axis, its labels and title, and
    the borders."""
    return max(2 * len(view.tmp) + 7, 9)


def _titled(widget: W, title: str | Text) -> W:
    widget.border_title = title
    return widget


class HistoryScreen(Screen[None]):
    """A screen of its own (as dirs): ``show`` puts the app's latest history on it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,h,q", "close", "Close")]
    # Narrower than this: one chart a row (see the module's doc).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012

    def __init__(self, view: HistoryView, *, log_dir: str) -> None:
        super().__init__()
        self._view = view
        self.log_dir = log_dir
        self._ready = False

    def compose(self) -> ComposeResult:
        # Everything the view says is set here, before the first layout: set on mount, the
        # tmp charts' height and the -no-plots class laid the screen out (and drew it) twice.
        view, days = self._view, f"last {HISTORY_DAYS} days"
        self.set_class(not _has_charts(view), "-no-plots")
        with VerticalScroll(id="history-body") as body:
            body.border_title = "plot history (escape closes, arrows scroll)"
            yield Static(summary_text(view, self.log_dir), id="history-summary")
            with Horizontal(id="history-days", classes="history-charts"):
                yield _titled(Chart(id="history-plots"), f"plots finished per day, {days}")
                yield _titled(Chart(id="history-tib"), f"TiB finished per day, {days}")
            with Horizontal(id="history-tmp", classes="history-charts") as tmp_row:
                tmp_row.styles.height = _tmp_height(view)
                totals = "total time per tmp dir: min ─┼─ max, ┼ median"
                yield _titled(Chart(id="history-totals"), totals)
                yield _titled(Chart(id="history-phases"), _phase_legend())
            yield _titled(FinishedTable(id="history-last"), "the plots that finished last")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self._ready = True
        self._fill()

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        textual_hacks.restyle_only_when_changed(self, event)

    @property
    def ready(self) -> bool:
        """Mounted: its widgets exist."""
        return self._ready

    @property
    def view(self) -> HistoryView:
        return self._view

    def show(self, view: HistoryView) -> None:
        """Show ``view``; a view like the one shown costs nothing."""
        if view == self._view and self._ready:
            return
        self._view = view
        if self._ready:
            self._fill()

    def _fill(self) -> None:
        view = self._view
        self.query_one("#history-summary", Static).update(summary_text(view, self.log_dir))
        charts = _has_charts(view)
        self.set_class(not charts, "-no-plots")
        if not charts:
            return
        draw_days(self.query_one("#history-plots", Chart), view.days, tib=False)
        draw_days(self.query_one("#history-tib", Chart), view.days, tib=True)
        draw_totals(self.query_one("#history-totals", Chart), view.tmp)
        draw_phases(self.query_one("#history-phases", Chart), view.tmp)
        self.query_one("#history-tmp").styles.height = _tmp_height(view)
        self.query_one(FinishedTable).show(view.last)

    async def draw_unshown(self) -> None:
        """Build the charts not yet built at their size, then render every widget's lines
        (text to strips: the charts' ANSI text is most of a first paint), one at a time with a
        pause between (a key pressed meanwhile waits for one chart at most, some 15 ms). The
        app calls this at idle while the screen is not shown, so that h costs little more
        than putting those lines on the terminal."""
        for chart in self.query(Chart):
            if self._shown_or_closing():
                return  # shown: the paint builds what is left
            if not chart.drawn():
                chart.render()
                await asyncio.sleep(0)
        for widget in self.walk_children(Widget):
            if self._shown_or_closing():
                return
            if widget.display and widget.size:
                widget.render_lines(widget.size.region)
                await asyncio.sleep(0)

    def _shown_or_closing(self) -> bool:
        """This screen is on top, or the app has no screen left (it is closing: a pause of
        :meth:`draw_unshown` can outlast the app's last screen, and asking for the top one
        then raised ScreenStackError in the worker)."""
        try:
            return self.app.screen is self
        except ScreenStackError:
            return True

    def action_close(self) -> None:
        self.dismiss(None)
