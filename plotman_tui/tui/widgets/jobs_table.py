"""The jobs table: one line per job, drawn line by line and kept line by line.

Textual's DataTable draws every visible cell again whenever any cell changes, and drops its
render caches on a restyle or a resize: with 50 jobs that was most of the dashboard's CPU and
of its worst key delays. This table is a Line API widget instead: each row's line (a Strip) is
kept with what it was drawn from, and a refresh repaints only the lines whose job, cells,
stripe or cursor changed. A change of layout (shown columns, column widths, width, theme)
redraws the lines on screen, and only those.

Rows are keyed by job, so the cursor stays on its job while jobs come, go and re-sort. Columns
are the ``status`` command's; when the table is too narrow for them all, the least useful go
first (as in ``status``). The header line stays on top while the rows scroll.

The columns that move by themselves (wall time, temp space, memory, CPU times) are shown
afresh at most every ``SLOW_REFRESH_S``, or with their row when one of its other cells changes;
a phase or a state shows on the next look. A job whose shown cells are what they were costs a
tuple comparison a look.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.report import fit_columns
from plotman_tui.tui.view import SLOW_COLUMNS, JobColumn, job_key

#: The columns in ``SLOW_COLUMNS`` are shown afresh at most this often (see the module doc).
SLOW_REFRESH_S = 5.0
#: Blank cells on each side of a cell (so columns are two apart), as DataTable had.
CELL_PADDING = 1

# Named ANSI colours: every terminal (and its theme) has a readable version of each.
_STATUS_STYLE = {
    JobStatus.RUN: "green",
    JobStatus.SLP: "",
    JobStatus.DSK: "magenta",
    JobStatus.STP: "bold yellow",
    JobStatus.ZMB: "bold red",
    JobStatus.UNK: "red",
}
_PHASE_STYLE = {1: "cyan", 2: "blue", 3: "magenta", 4: "green"}
_STYLES: dict[str, Style] = {}


def _style(name: str) -> Style:
    style = _STYLES.get(name)
    if style is None:
        style = _STYLES[name] = Style.parse(name) if name else Style()
    return style


def _cell_style(job: Job, column: JobColumn) -> str:
    if column.id == "stat":
        return _STATUS_STYLE.get(job.status, "")
    if column.id == "phase" and job.phase is not None:
        return _PHASE_STYLE.get(job.phase.major, "")
    if column.id == "plot id" and job.problems:
        return "yellow"
    return ""


@dataclass(frozen=True)
class _Cell:
    """One cell as shown: its text (never markup: paths hold brackets) and its colour."""

    text: str
    style: str = ""


@dataclass(frozen=True)
class _Looks:
    """What every line's drawing depends on besides its own row (see ``_looks``)."""

    shown: tuple[int, ...]
    widths: tuple[int, ...]
    right: tuple[bool, ...]
    width: int
    base: Style
    header: Style
    even: Style
    cursor: Style
    blurred: Style


class JobsTable(ScrollView, can_focus=True):
    """Every job; ``show`` takes them in display order."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", show=True),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "jobs-table--header",
        "jobs-table--even-row",
        "jobs-table--cursor",
        "jobs-table--cursor-blurred",
    }
    DEFAULT_CSS = """
    JobsTable {
        background: $surface;
        color: $foreground;
        & > .jobs-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .jobs-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .jobs-table--even-row {
            background: $surface-lighten-1 50%;
        }
        &:dark > .jobs-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .jobs-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .jobs-table--cursor-blurred {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class Selected(Message):
        """Enter, or a click on the cursor's row: the job's details are wanted."""

        def __init__(self, table: JobsTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class HeaderSelected(Message):
        """A click on a column's title: sort by it."""

        def __init__(self, table: JobsTable, column_id: str) -> None:
            super().__init__()
            self.table = table
            self.column_id = column_id

    def __init__(
        self, *, id: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(id=id)
        self._clock = clock
        self._columns: list[JobColumn] = []
        self._shown: list[int] = []  # indices into _columns of the columns on screen
        self._natural: list[int] = []  # the width of every column's title and cells
        self._widths: list[int] = []  # every column's width as shown (dir columns may shrink)
        self._jobs: dict[str, Job] = {}
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        # Per job: the text of its cells as last worked out (see _row_cells), and its cells.
        self._texts: dict[str, tuple[object, ...]] = {}
        self._cells: dict[str, tuple[_Cell, ...]] = {}
        self._slow_due_at = float("-inf")
        self.cursor_row = 0
        self._looks: _Looks | None = None
        # Per job: its line, and what it was drawn from (cells, stripe, cursor, looks).
        self._lines: dict[str, tuple[tuple[object, ...], Strip]] = {}
        self._header: tuple[_Looks, Strip] | None = None
        # What each row index showed when the last refresh was asked for (see _repaint).
        self._drawn: list[tuple[str, tuple[_Cell, ...]]] = []

    # -- what the app asks ---------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def row_keys(self) -> list[str]:
        """The jobs' keys, top to bottom."""
        return list(self._order)

    @property
    def selected_key(self) -> str | None:
        if not self._order:
            return None
        return self._order[min(self.cursor_row, len(self._order) - 1)]

    @property
    def selected_job(self) -> Job | None:
        key = self.selected_key
        return self._jobs.get(key) if key is not None else None

    @property
    def shown_column_ids(self) -> list[str]:
        return [self._columns[i].id for i in self._shown]

    def cell_text(self, key: str, column_id: str) -> str:
        """The text a row shows (or would, were the column shown) in a column."""
        index = next(i for i, column in enumerate(self._columns) if column.id == column_id)
        return self._cells[key][index].text

    def show(self, jobs: Sequence[Job], columns: Sequence[JobColumn]) -> None:
        """Show ``jobs`` in this order, repainting only the lines that changed."""
        keep_key = self.selected_key
        same_columns = [c.id for c in self._columns] == [c.id for c in columns]
        self._columns = list(columns)
        if not same_columns:
            self._texts, self._cells = {}, {}
        self._jobs = {job_key(job): job for job in jobs}
        self._order = list(self._jobs)
        self._index = {key: i for i, key in enumerate(self._order)}
        now = self._clock()
        slow_due = now >= self._slow_due_at
        if slow_due:
            self._slow_due_at = now + SLOW_REFRESH_S
        quick = [i for i, c in enumerate(self._columns) if c.id not in SLOW_COLUMNS]
        self._cells = {
            key: self._row_cells(key, job, slow_due, quick) for key, job in self._jobs.items()
        }
        self._texts = {key: self._texts[key] for key in self._cells}
        self._lines = {key: line for key, line in self._lines.items() if key in self._cells}
        self._natural = [
            max([cell_len(column.title), *(cell_len(row[i].text) for row in self._cells.values())])
            for i, column in enumerate(self._columns)
        ]
        self._fit()
        self._put_cursor(keep_key)
        self._repaint()

    def _row_cells(self, key: str, job: Job, slow_due: bool, quick: list[int]) -> tuple[_Cell, ...]:
        """The job's cells: its old ones while their text is the same (only the quick columns
        count when the slow ones are not due), else all of them afresh."""
        texts = (
            job.problems != (),
            job.status,
            job.phase,
            *(c.column.cell(job) for c in self._columns),
        )
        old = self._cells.get(key)
        old_texts = self._texts.get(key)
        if old is not None and old_texts is not None:
            same = (
                texts == old_texts
                if slow_due
                else texts[:3] == old_texts[:3]
                and all(texts[i + 3] == old_texts[i + 3] for i in quick)
            )
            if same:
                return old
        self._texts[key] = texts
        return tuple(
            _Cell(str(text), _cell_style(job, column))
            for column, text in zip(self._columns, texts[3:], strict=True)
        )

    def select_key(self, key: str) -> bool:
        index = self._index.get(key)
        if index is None:
            return False
        self._move_cursor(index)
        return True

    # -- keys and the mouse ----------------------------------------------------------------------

    def action_select_cursor(self) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def action_cursor_up(self) -> None:
        self._move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._move_cursor(self.cursor_row - self._rows_on_screen())

    def action_page_down(self) -> None:
        self._move_cursor(self.cursor_row + self._rows_on_screen())

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_last(self) -> None:
        self._move_cursor(len(self._order) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column_id = self._column_at(offset.x)
            if column_id is not None:
                self.post_message(self.HeaderSelected(self, column_id))
            return
        row = int(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self._order):
            if row == self.cursor_row:
                self.action_select_cursor()
            else:
                self._move_cursor(row)

    def _column_at(self, x: int) -> str | None:
        for column_id, (start, end) in self.column_spans().items():
            if start <= x < end:
                return column_id
        return None

    def column_spans(self) -> dict[str, tuple[int, int]]:
        """Where each shown column lies on a line: [start, end) in cells, padding included."""
        spans = {}
        start = 0
        for i in self._shown:
            end = start + self._widths[i] + 2 * CELL_PADDING
            spans[self._columns[i].id] = (start, end)
            start = end
        return spans

    def _rows_on_screen(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def _move_cursor(self, row: int) -> None:
        if not self._order:
            return
        row = max(0, min(row, len(self._order) - 1))
        if row != self.cursor_row:
            old = self.cursor_row
            self.cursor_row = row
            self.refresh_line(old + 1)
            self.refresh_line(row + 1)
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        # Row i is virtual line i + 1; the header hides the top line of the window.
        top = int(self.scroll_y)
        rows = self._rows_on_screen()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False, immediate=True)

    def _put_cursor(self, key: str | None) -> None:
        """Back on its job after rows changed; kept in the table when its job has gone."""
        index = self._index.get(key) if key is not None else None
        if index is None:
            index = min(self.cursor_row, max(len(self._order) - 1, 0))
        self.cursor_row = index
        self._scroll_to_cursor()

    # -- fitting the width -----------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        if self._columns:
            keep_key = self.selected_key
            self._fit()
            self._put_cursor(keep_key)
            self._repaint()

    def _fit(self) -> None:
        """Choose the columns that fit the width, as ``status`` does: long dir names are cut
        from the left first, then the least useful columns go."""
        # The vertical scrollbar takes its width once the rows overflow; fit_columns counts
        # the padding between columns, not at the two ends.
        available = self.size.width - (self.styles.scrollbar_size_vertical or 0)
        shown, self._widths = fit_columns(
            [column.column for column in self._columns],
            self._natural,
            available - 2 * CELL_PADDING,
        )
        self._shown = shown or [0]
        self.virtual_size = Size(self.size.width, len(self._order) + 1)

    # -- drawing ---------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._looks = None  # the theme or a class may have changed the component styles

    def on_focus(self) -> None:
        self.refresh_line(self.cursor_row + 1)

    def on_blur(self) -> None:
        self.refresh_line(self.cursor_row + 1)

    def _work_out_looks(self) -> _Looks:
        looks = _Looks(
            shown=tuple(self._shown),
            widths=tuple(self._widths[i] for i in self._shown),
            right=tuple(self._columns[i].column.align_right for i in self._shown),
            width=self.scrollable_content_region.width,
            base=self.rich_style,
            header=self.get_component_rich_style("jobs-table--header"),
            even=self.get_component_rich_style("jobs-table--even-row"),
            cursor=self.get_component_rich_style("jobs-table--cursor"),
            blurred=self.get_component_rich_style("jobs-table--cursor-blurred"),
        )
        self._looks = looks
        return looks

    def _repaint(self) -> None:
        """Ask for the lines whose row changed since the last time (all of them when the
        layout did)."""
        drawn = [(key, self._cells[key]) for key in self._order]
        old, self._drawn = self._drawn, drawn
        looks_before = self._looks
        if looks_before != self._work_out_looks() or len(old) != len(drawn):
            self.refresh()
            return
        top = int(self.scroll_y)
        for index in range(top, min(top + self._rows_on_screen(), len(drawn))):
            row, before = drawn[index], old[index]
            if row[0] != before[0] or row[1] is not before[1]:
                self.refresh_line(index + 1)
        self.refresh_line(self.cursor_row + 1)

    def render_line(self, y: int) -> Strip:
        looks = self._looks or self._work_out_looks()
        if y == 0:
            if self._header is None or self._header[0] != looks:
                titles = [(self._columns[i].title, looks.header) for i in looks.shown]
                self._header = (looks, _line(titles, looks, looks.header))
            return self._header[1]
        row = int(self.scroll_y) + y - 1
        if row >= len(self._order):
            return Strip([Segment(" " * looks.width, looks.base)], looks.width)
        key = self._order[row]
        cells = self._cells[key]
        # The cursor's colours win over a cell's (a highlighted bar); a stripe's do not.
        cursor = None
        if row == self.cursor_row:
            cursor = looks.cursor if self.has_focus else looks.blurred
            style = cursor
        else:
            style = looks.even if row % 2 == 0 else looks.base
        source = (cells, style, looks)
        kept = self._lines.get(key)
        if kept is not None and kept[0] == source:
            return kept[1]
        shown = []
        for i in looks.shown:
            cell = cells[i]
            cell_style = style + _style(cell.style)
            shown.append((cell.text, cell_style if cursor is None else cell_style + cursor))
        strip = _line(shown, looks, style)
        self._lines[key] = (source, strip)
        return strip


def _line(cells: list[tuple[str, Style]], looks: _Looks, style: Style) -> Strip:
    """One line: each cell padded to its column's width (and CELL_PADDING each side), the rest
    of the width blank in ``style``."""
    pad = Segment(" " * CELL_PADDING, style)
    segments: list[Segment] = []
    used = 0
    for (text, cell_style), width, right in zip(cells, looks.widths, looks.right, strict=True):
        length = cell_len(text)
        if length > width:
            # Cut from the left: a dir's end is what tells it from the others.
            while text and cell_len(text) > width - 1:
                text = text[1:]
            text = "…" + text
            length = cell_len(text)
        blank = " " * (width - length)
        fitted = blank + text if right else text + blank
        segments += (pad, Segment(fitted, cell_style), pad)
        used += width + 2 * CELL_PADDING
    if used < looks.width:
        segments.append(Segment(" " * (looks.width - used), style))
    return Strip(segments, used + max(looks.width - used, 0)).crop(0, looks.width)
