"""A table drawn line by line that keeps its lines: the base of every table on the dashboard.

Textual's DataTable draws every visible cell again whenever any cell changes, and drops its
render caches on a restyle or a resize: with 50 jobs that was most of the dashboard's CPU and
of its worst key delays. Here each row's line (a Strip) is kept with what it was drawn from,
and an update repaints only the lines whose row, cells, stripe or cursor changed. A change of
layout (shown columns, their widths, the width, the theme) redraws the lines on screen, and
only those. The header line stays on top while the rows scroll.

Rows are keyed; the cursor (when the table has one) stays on its row's key while rows come,
go and move.

A table with more rows than room can flow into ``groups`` side by side, each under its own
header (as plotman showed 12 tmp dirs in two tables): the dashboard sets how many
(:meth:`LineTable.set_groups`), from :meth:`LineTable.group_width`. Columns that hold reasons
(``TableColumn.cut``) are the ones that give way when a group is narrow, cut between clauses
(:func:`~plotman_tui.farm.clauses.cut_clauses`); other cells (dir names) are cut from the left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from plotman_tui.farm.clauses import cut_clauses
from plotman_tui.farm.units import printable

#: Blank cells on each side of a cell (so columns are two apart), as DataTable had.
CELL_PADDING = 1
#: A reason column is not cut below this width (or its title's): ``max jobs…`` still reads.
MIN_CUT_WIDTH = 9
#: A dir column is not cut below this width (as the ``status`` command's).
DIR_MIN_WIDTH = 8
#: A reason column keeps room for its reasons' first words up to this width.
MAX_FIRST_WORD = 16
#: Between two groups of a flowed table.
GROUP_SEPARATOR = "│"

_STYLES: dict[str, Style] = {}


def parse_style(name: str) -> Style:
    """A style by its definition ("bold green"), parsed once."""
    style = _STYLES.get(name)
    if style is None:
        style = _STYLES[name] = Style.parse(name) if name else Style()
    return style


@dataclass(frozen=True)
class TableColumn:
    id: str
    title: str
    right: bool = False  # right-aligned (numbers)
    # A reason: cut between clauses (and first to give way to a narrow table), never from the
    # left as dir names are.
    cut: bool = False
    # A dir name: when the reasons are cut as far as they go, cut from the left (its end tells
    # it from the others), down to DIR_MIN_WIDTH.
    shrinks: bool = False
    # Left out whole when the columns do not fit even cut as far as they go: the lowest first
    # (None: only after every such column, and then from the right; a column cut in half
    # says nothing).
    drop: int | None = None


@dataclass(frozen=True)
class Cell:
    """One cell as shown: its text (never markup: paths hold brackets) and its colour."""

    text: str
    style: str = ""

    def __post_init__(self) -> None:
        # What a table draws is never a terminal command: a dir named with a colour code or a
        # NUL shows as its control pictures (one place for every table of the dashboard).
        object.__setattr__(self, "text", printable(self.text))


@dataclass(frozen=True)
class _Looks:
    """What every line's drawing depends on besides its own row."""

    shown: tuple[int, ...]
    widths: tuple[int, ...]
    right: tuple[bool, ...]
    cut: tuple[bool, ...]
    width: int  # of one group
    base: Style
    header: Style
    even: Style
    cursor: Style
    blurred: Style


class LineTable(ScrollView):
    """Keyed rows of cells under a header line; ``zebra`` stripes every other row, ``cursor``
    highlights one row (``cursor_row``)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "line-table--header",
        "line-table--even-row",
        "line-table--cursor",
        "line-table--cursor-blurred",
    }
    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        /* Lines are cut to the width: never a horizontal scrollbar (it would take a row). */
        overflow-x: hidden;
        & > .line-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .line-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .line-table--even-row {
            background: $surface-lighten-1 50%;
        }
        &:dark > .line-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .line-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .line-table--cursor-blurred {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    #: Said at the header's right end when rows are out of sight ("" for nothing: the jobs
    #: table has a scrollbar and keys to move to its rows); ``{}`` is their number.
    HIDDEN_NOTE: ClassVar[str] = ""
    #: Whether a change of the width a group of rows needs is news to the screen (for the dir
    #: tables, whose width the screen plans; not for the jobs table, which takes the width).
    WIDTH_IS_PLANNED: ClassVar[bool] = False

    class NeedsChanged(Message):
        """Rows came or went (or, ``WIDTH_IS_PLANNED``, their width changed): the screen may
        share its lines anew. A pass that changes cells only does not post this."""

        def __init__(self, table: LineTable) -> None:
            super().__init__()
            self.table = table

    def __init__(self, *, id: str | None = None, zebra: bool = False, cursor: bool = False) -> None:
        super().__init__(id=id)
        self._zebra = zebra
        self._has_cursor = cursor
        self.cursor_row = 0
        self._table_columns: list[TableColumn] = []
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._natural: list[int] = []  # the width of every column's title and cells
        self._first_words: list[int] = []  # a reason column's widest first word, and "…"
        # By row key: the cells last measured, their widths and first words' widths.
        self._measured: dict[str, tuple[tuple[Cell, ...], tuple[int, ...], tuple[int, ...]]] = {}
        self._widths: list[int] = []  # every column's width as shown (see _fit)
        self._shown: list[int] = []  # indices of the columns on screen
        self._looks: _Looks | None = None
        # Per row: its line, and what it was drawn from (cells, row style, looks).
        self._lines: dict[str, tuple[tuple[object, ...], Strip]] = {}
        self._header: tuple[_Looks, Strip] | None = None
        # What each row index showed when the last repaint was asked for (see _repaint).
        self._drawn: list[tuple[str, tuple[Cell, ...]]] = []
        self._drawn_cursor: int | None = None  # the cursor's row at that time
        self._groups = 1

    # -- what callers ask ------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def row_keys(self) -> list[str]:
        """The rows' keys, top to bottom."""
        return list(self._order)

    @property
    def column_titles(self) -> list[str]:
        """The titles of the columns on screen."""
        return [self._table_columns[i].title for i in self._shown]

    @property
    def shown_column_ids(self) -> list[str]:
        return [self._table_columns[i].id for i in self._shown]

    @property
    def selected_key(self) -> str | None:
        """The key of the cursor's row (None without a cursor or rows)."""
        if not self._has_cursor or not self._order:
            return None
        return self._order[min(self.cursor_row, len(self._order) - 1)]

    def cell_text(self, key: str, column_id: str) -> str:
        """The text a row has in a column (shown or not)."""
        index = next(i for i, c in enumerate(self._table_columns) if c.id == column_id)
        return self._cells[key][index].text

    def drawn_cells(self) -> dict[tuple[str, str], str]:
        """What the table shows now, by (row key, column id): each cell of each row in sight
        as drawn (cut to its column, without its padding)."""
        height = self.scrollable_content_region.height
        room = self._group_room() if self._groups > 1 else 0
        spans = self.column_spans()
        drawn = {}
        for y in range(1, height):
            line = self.render_line(y).text
            for group in range(self._groups):
                row = group * self.rows_per_group() + self.scroll_offset.y + y - 1
                if y - 1 + self.scroll_offset.y >= self.rows_per_group() or row >= len(self._order):
                    continue
                offset = group * (room + len(GROUP_SEPARATOR))
                for column_id, (start, end) in spans.items():
                    text = line[offset + start : offset + end].strip()
                    drawn[(self._order[row], column_id)] = text
        return drawn

    def column_spans(self) -> dict[str, tuple[int, int]]:
        """Where each shown column lies on a line: [start, end) in cells, padding included."""
        spans = {}
        start = 0
        for i in self._shown:
            end = start + self._widths[i] + 2 * CELL_PADDING
            spans[self._table_columns[i].id] = (start, end)
            start = end
        return spans

    def set_rows(
        self, columns: Sequence[TableColumn], rows: Mapping[str, tuple[Cell, ...]]
    ) -> None:
        """Show ``rows`` (by key, in this order) under ``columns``; only the lines that changed
        are drawn again. A row whose cells are the same tuple as before costs nothing."""
        keep_key = self.selected_key
        counted = len(rows) != len(self._order)
        width_before = self.group_width(natural=True) if self._table_columns else -1
        if self._table_columns != list(columns):
            self._measured = {}
        self._table_columns = list(columns)
        self._cells = dict(rows)
        self._order = list(rows)
        self._index = {key: i for i, key in enumerate(self._order)}
        self._lines = {key: line for key, line in self._lines.items() if key in self._cells}
        # Each row's widths are kept with the cells they were measured from: a row that kept
        # its cells (most of them, on each update of 500 fleet jobs) is not measured again.
        cuts = tuple(column.cut for column in columns)
        measured: dict[str, tuple[tuple[Cell, ...], tuple[int, ...], tuple[int, ...]]] = {}
        new = len(rows) != len(self._measured)
        for key, row in rows.items():
            kept = self._measured.get(key)
            if kept is None or kept[0] is not row:
                widths, first_words = _row_widths(row, cuts)
                kept = (row, widths, first_words)
                new = True
            measured[key] = kept
        self._measured = measured
        # The same rows measured as before (a fleet host's news that changed no cell): the
        # widths are what they were.
        if new or not self._natural:
            titles = [cell_len(column.title) for column in columns]
            self._natural = [
                max(column)
                for column in zip(titles, *(m[1] for m in measured.values()), strict=True)
            ]
            # A reason column keeps room for each reason's first word ("unreachable" is never
            # cut to a bare ellipsis), up to MAX_FIRST_WORD.
            self._first_words = [
                max(column)
                for column in zip(
                    [0] * len(columns), *(m[2] for m in measured.values()), strict=True
                )
            ]
        self._relayout(keep_key)
        if counted or (self.WIDTH_IS_PLANNED and self.group_width(natural=True) != width_before):
            self.post_message(self.NeedsChanged(self))

    # -- width and cursor ------------------------------------------------------------------------

    @property
    def groups(self) -> int:
        return self._groups

    def set_groups(self, groups: int) -> None:
        """Flow the rows into ``groups`` side by side (1: one table)."""
        groups = max(groups, 1)
        if groups != self._groups:
            self._groups = groups
            self._relayout(self.selected_key)

    def group_width(self, *, natural: bool) -> int:
        """The width of one group's lines: with every cell whole (``natural``), or with the
        reason columns cut as far as they go."""
        widths = self._natural if natural else self._smallest()
        return sum(widths) + 2 * CELL_PADDING * len(widths)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """``width: auto``: every cell whole (the dirs screen's tables)."""
        groups = self._groups
        return groups * self.group_width(natural=True) + (groups - 1) * len(GROUP_SEPARATOR)

    def rows_per_group(self, groups: int | None = None) -> int:
        count = len(self._order)
        groups = groups or self._groups
        return -(-count // groups) if count else 0

    def on_resize(self, _event: events.Resize) -> None:
        if self._table_columns:
            self._relayout(self.selected_key)

    def _relayout(self, keep_key: str | None) -> None:
        self._fit()
        self.virtual_size = Size(self.size.width, self.rows_per_group() + 1)
        if self._has_cursor:
            self._put_cursor(keep_key)
        self._repaint()

    def _group_room(self) -> int:
        """The width of one group on screen."""
        groups = self._groups
        width = self.scrollable_content_region.width
        return max((width - (groups - 1) * len(GROUP_SEPARATOR)) // groups, 1)

    def _smallest(self) -> list[int]:
        smallest = []
        for natural, column, first_word in zip(
            self._natural, self._table_columns, self._first_words, strict=True
        ):
            floor = MIN_CUT_WIDTH if column.cut else DIR_MIN_WIDTH if column.shrinks else natural
            smallest.append(min(natural, max(cell_len(column.title), floor, first_word)))
        return smallest

    def _fit(self) -> None:
        """Choose the shown columns and their widths: all of them, each as wide as its widest
        cell, but when a group is narrower the reason columns (``cut``, the last first) give
        way, down to their smallest, then the dir names (``shrinks``); when that is not
        enough, whole columns are left out (``drop``, the lowest first, then from the right)
        and the others cut again as little as the room left allows. The first column always
        shows (cut at its right end in a group narrower than it)."""
        columns = self._table_columns
        smallest = self._smallest()
        room = self._group_room()
        droppable = sorted(
            (i for i, column in enumerate(columns) if column.drop is not None),
            key=lambda i: columns[i].drop or 0,
        )
        others = [i for i, column in enumerate(columns) if column.drop is None and i > 0]
        dropping = [*droppable, *reversed(others)]
        shown = list(range(len(columns)))
        while True:
            widths = list(self._natural)
            excess = sum(widths[i] + 2 * CELL_PADDING for i in shown) - room
            reasons = [i for i in shown if columns[i].cut]
            dirs = [i for i in shown if columns[i].shrinks]
            for i in [*reversed(reasons), *dirs]:
                if excess <= 0:
                    break
                cut = min(widths[i] - smallest[i], excess)
                widths[i] -= cut
                excess -= cut
            if excess <= 0 or not dropping:
                break
            shown.remove(dropping.pop(0))
        self._shown = shown
        self._widths = widths

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
        # Row i is virtual line i + 1; the header hides the top line of the window. Forced:
        # rows that overflow only now have no scrollbar yet, which would make scroll_to a
        # no-op (the offset is still kept within the rows).
        top = self.scroll_offset.y
        rows = self._rows_on_screen()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True, force=True)
        elif self.cursor_row >= top + rows:
            y = self.cursor_row - rows + 1
            self.scroll_to(y=y, animate=False, immediate=True, force=True)

    def _put_cursor(self, key: str | None) -> None:
        """Back on its row after rows changed; kept in the table when its row has gone. The
        view follows it only when it moved: a farmer who scrolled away to look at other rows
        is not pulled back by each update."""
        index = self._index.get(key) if key is not None else None
        if index is None:
            index = min(self.cursor_row, max(len(self._order) - 1, 0))
        moved = index != self.cursor_row
        self.cursor_row = index
        if moved:
            self._scroll_to_cursor()

    # -- drawing ---------------------------------------------------------------------------------

    def watch_virtual_size(self, old: Size, new: Size) -> None:
        # Textual 8.2.8 caches a widget's box model under a layout counter that a virtual size
        # change does not bump while a layout is already pending: a table whose rows came in
        # the same frame keeps its old height (header only) in its parent's auto height, and
        # the panels below are cut. One more layout refresh, after this frame, bumps it.
        if old.height != new.height:
            self.call_after_refresh(self.refresh, layout=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._looks = None  # the theme or a class may have changed the component styles
        self._style_cache = None

    _style_cache: dict[str, Style] | None = None

    def _styles(self) -> dict[str, Style]:
        """The table's and its components' styles, kept until a style update: Textual drops
        its own copy on every refresh, and working them out again on each update of the
        fleet's 500 jobs was a tenth of the fleet screen's time."""
        if self._style_cache is None:
            self._style_cache = {
                "base": self.rich_style,
                "header": self.get_component_rich_style("line-table--header"),
                "even": self.get_component_rich_style("line-table--even-row"),
                "cursor": self.get_component_rich_style("line-table--cursor"),
                "blurred": self.get_component_rich_style("line-table--cursor-blurred"),
            }
        return self._style_cache

    def on_focus(self) -> None:
        self.refresh_line(self.cursor_row + 1)

    def on_blur(self) -> None:
        self.refresh_line(self.cursor_row + 1)

    def _work_out_looks(self) -> _Looks:
        looks = _Looks(
            shown=tuple(self._shown),
            widths=tuple(self._widths[i] for i in self._shown),
            right=tuple(self._table_columns[i].right for i in self._shown),
            cut=tuple(self._table_columns[i].cut for i in self._shown),
            width=self._group_room() if self._groups > 1 else self.scrollable_content_region.width,
            **self._styles(),
        )
        self._looks = looks
        return looks

    def _repaint(self) -> None:
        """Ask for the lines on screen whose row changed since the last time (all of them when
        the layout did)."""
        drawn = [(key, self._cells[key]) for key in self._order]
        old, self._drawn = self._drawn, drawn
        cursor_before, self._drawn_cursor = self._drawn_cursor, self.cursor_row
        looks_before = self._looks
        if looks_before != self._work_out_looks() or len(old) != len(drawn) or self._groups > 1:
            self.refresh()  # a flowed table (a few dirs) is drawn whole
            return
        top = self.scroll_offset.y
        for index in range(top, min(top + self._rows_on_screen(), len(drawn))):
            row, before = drawn[index], old[index]
            if row[0] != before[0] or row[1] is not before[1]:
                self.refresh_line(index + 1)
        # The cursor's line only when the cursor moved (a row that changed under it is drawn
        # above): the fleet's jobs are shown anew several times a second.
        if self._has_cursor and self.cursor_row != cursor_before:
            if cursor_before is not None:
                self.refresh_line(cursor_before + 1)
            self.refresh_line(self.cursor_row + 1)

    def render_line(self, y: int) -> Strip:
        line = self._whole_line(y)
        if y == 0 and self.HIDDEN_NOTE and (hidden := self.hidden_rows()):
            # The header's right end says how many rows are out of sight, and where they are;
            # in the blank after the titles only (shorter if need be), never over a title.
            width = self.scrollable_content_region.width
            free = width - cell_len(line.text.rstrip())
            for note in (self.HIDDEN_NOTE.format(hidden), f" +{hidden} "):
                if cell_len(note) <= free:
                    looks = self._looks or self._work_out_looks()
                    tail = Strip([Segment(note, looks.header)])
                    return Strip.join([line.crop(0, width - tail.cell_length), tail])
        return line

    def hidden_rows(self) -> int:
        """How many rows are out of sight (scrolled away, or below a table too short)."""
        per_group = self.rows_per_group()
        top, shown = self.scroll_offset.y, self._rows_on_screen()
        in_view = 0
        for group in range(self._groups):
            first = group * per_group
            last = min(first + per_group, len(self._order))  # one past the group's last row
            in_view += max(min(first + top + shown, last) - (first + top), 0)
        return len(self._order) - in_view

    def _whole_line(self, y: int) -> Strip:
        looks = self._looks or self._work_out_looks()
        if self._groups == 1:
            return self._group_line(looks, y, 0)
        separator = Strip([Segment(GROUP_SEPARATOR, looks.header if y == 0 else looks.base)], 1)
        strips: list[Strip] = []
        for group in range(self._groups):
            if group:
                strips.append(separator)
            strips.append(self._group_line(looks, y, group * self.rows_per_group()))
        width = self.scrollable_content_region.width
        return Strip.join(strips).extend_cell_length(width, looks.base).crop(0, width)

    def _group_line(self, looks: _Looks, y: int, first: int) -> Strip:
        """Line ``y`` of the group whose first row is ``first`` (0: the header)."""
        if y == 0:
            if self._header is None or self._header[0] != looks:
                titles = [(self._table_columns[i].title, looks.header) for i in looks.shown]
                self._header = (looks, _line(titles, looks, looks.header))
            return self._header[1]
        in_group = self.scroll_offset.y + y - 1
        row = first + in_group
        if row >= len(self._order) or (self._groups > 1 and in_group >= self.rows_per_group()):
            return Strip([Segment(" " * looks.width, looks.base)], looks.width)
        key = self._order[row]
        cells = self._cells[key]
        # The cursor's colours win over a cell's (a highlighted bar); a stripe's do not.
        cursor = None
        if self._has_cursor and row == self.cursor_row:
            cursor = looks.cursor if self.has_focus else looks.blurred
            style = cursor
        else:
            style = looks.even if self._zebra and in_group % 2 == 0 else looks.base
        source = (cells, style, looks)
        kept = self._lines.get(key)
        if kept is not None and kept[0] == source:
            return kept[1]
        shown = []
        for i in looks.shown:
            cell = cells[i]
            cell_style = style + parse_style(cell.style)
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
    for (text, cell_style), width, right, cut in zip(
        cells, looks.widths, looks.right, looks.cut, strict=True
    ):
        length = cell_len(text)
        if length > width and cut:
            # A reason loses whole clauses: a cut one never says the opposite of the whole.
            text = cut_clauses(text, width)
            length = cell_len(text)
        elif length > width:
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


def _row_widths(
    row: tuple[Cell, ...], cuts: tuple[bool, ...]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A row's cells' widths, and (in a reason column, else 0) their first words'."""
    return (
        tuple(cell_len(cell.text) for cell in row),
        tuple(
            _first_word_width(cell.text) if cut else 0 for cell, cut in zip(row, cuts, strict=True)
        ),
    )


def _first_word_width(text: str) -> int:
    """The room a reason's first word takes with the ellipsis after it (0: a whole short
    reason needs no more than its width)."""
    word = text.split(" ", 1)[0]
    return min(cell_len(word) + (1 if word != text else 0), MAX_FIRST_WORD)
