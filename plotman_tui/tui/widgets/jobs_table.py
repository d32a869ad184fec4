"""The jobs table: one row per job, keyed by the job, updated cell by cell.

Rows are added, changed and removed by key, so the cursor stays on its job while jobs come,
go and re-sort. Columns are the ``status`` command's; when the table is too narrow for them all,
the least useful go first (as in ``status``). Only a change of the shown columns (a resize
across a threshold) rebuilds the table, and the cursor is put back on its job after it.

Cheap to keep up to date: any changed cell makes DataTable draw every visible row again, so
the columns that move by themselves (wall time, temp space, memory, CPU times) are shown afresh
at most every ``SLOW_REFRESH_S``, or with their row when one of its other cells changes; a
phase or a state shows on the next look. A job whose shown cells are what they were costs a
tuple comparison a look.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.events import Resize
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist

from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.tui.view import SLOW_COLUMNS, JobColumn, columns_that_fit, job_key

#: The columns in ``SLOW_COLUMNS`` are shown afresh at most this often (see the module doc).
SLOW_REFRESH_S = 5.0

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


def _cell(job: Job, column: JobColumn, text: str) -> Text:
    style = ""
    if column.id == "stat":
        style = _STATUS_STYLE.get(job.status, "")
    elif column.id == "phase" and job.phase is not None:
        style = _PHASE_STYLE.get(job.phase.major, "")
    elif column.id == "plot id" and job.problems:
        style = "yellow"
    # Text, never str: a cell holding a path or an id must not be read as markup.
    return Text(text, style=style, justify="right" if column.column.align_right else "left")


def _same(old: Text, new: Text) -> bool:
    # Text's == compares the characters only; a cell that only changes colour changed too.
    return old.plain == new.plain and old.style == new.style and old.justify == new.justify


class JobsTable(DataTable[Text]):
    """Every job; ``show`` takes them in display order."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", show=True)
    ]

    def __init__(
        self, *, id: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._clock = clock
        self._columns: list[JobColumn] = []
        self._shown: list[int] = []  # indices into _columns of the columns on screen
        self._jobs: dict[str, Job] = {}
        self._cells: dict[str, list[Text]] = {}  # every column's cell, shown or not
        # Per job, the text of its cells as shown (see _row_cells).
        self._texts: dict[str, tuple[object, ...]] = {}
        self._slow_due_at = float("-inf")
        self._order: list[str] = []
        self._fitted_width = -1

    # -- what the app asks ---------------------------------------------------------------------

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        except CellDoesNotExist:
            return None

    @property
    def selected_job(self) -> Job | None:
        key = self.selected_key
        return self._jobs.get(key) if key is not None else None

    @property
    def shown_column_ids(self) -> list[str]:
        return [self._columns[i].id for i in self._shown]

    def show(self, jobs: Sequence[Job], columns: Sequence[JobColumn]) -> None:
        """Show ``jobs`` in this order, changing only what changed."""
        keep_key = self.selected_key
        old_titles = [c.id for c in self._columns]
        same_columns = old_titles == [c.id for c in columns]
        self._columns = list(columns)
        self._jobs = {job_key(job): job for job in jobs}
        self._order = list(self._jobs)
        now = self._clock()
        slow_due = now >= self._slow_due_at or not same_columns
        if slow_due:
            self._slow_due_at = now + SLOW_REFRESH_S
        quick = [i for i, c in enumerate(self._columns) if c.id not in SLOW_COLUMNS]
        cells = {key: self._row_cells(key, job, slow_due, quick) for key, job in self._jobs.items()}
        self._texts = {key: self._texts[key] for key in cells}
        rows_changed = set(cells) != set(self._cells)
        with self.app.batch_update():
            layout_changed = not same_columns or rows_changed
            if (layout_changed or not self.columns) and self._refit(cells, keep_key):
                return
            self._update_rows(cells)
            self._restore_cursor(keep_key)

    def _row_cells(self, key: str, job: Job, slow_due: bool, quick: list[int]) -> list[Text]:
        """The job's cells: its old ones while their text is the same (only the quick columns
        count when the slow ones are not due), else all of them afresh."""
        texts = (job.problems != (), *(c.column.cell(job) for c in self._columns))
        old = self._cells.get(key)
        old_texts = self._texts.get(key)
        if old is not None and old_texts is not None:
            same = (
                texts == old_texts
                if slow_due
                else texts[0] == old_texts[0]
                and all(texts[i + 1] == old_texts[i + 1] for i in quick)
            )
            if same:
                return old
        self._texts[key] = texts
        return [
            _cell(job, column, str(text))
            for column, text in zip(self._columns, texts[1:], strict=True)
        ]

    def select_key(self, key: str) -> bool:
        try:
            index = self.get_row_index(key)
        except RowDoesNotExist:
            return False
        self.move_cursor(row=index)
        return True

    # -- keeping rows in step --------------------------------------------------------------------

    def _update_rows(self, cells: dict[str, list[Text]]) -> None:
        shown = set(self._shown)
        for key in [key for key in self._cells if key not in cells]:
            self.remove_row(key)
            del self._cells[key]
        for key, row in cells.items():
            old = self._cells.get(key)
            if old is None:
                self.add_row(*(row[i] for i in self._shown), key=key)
                self._cells[key] = row
                continue
            # Keep the cell objects the table holds where nothing changed (see _apply_order).
            if row is old:
                continue
            merged = [o if _same(o, n) else n for o, n in zip(old, row, strict=True)]
            for i in shown:
                if merged[i] is not old[i]:
                    column_id = self._columns[i].id
                    self.update_cell(
                        key, column_id, merged[i], update_width=self._wider(column_id, merged[i])
                    )
            self._cells[key] = merged
        self._apply_order()

    def _wider(self, column_id: str, cell: Text) -> bool:
        """Whether ``cell`` needs its column to grow. Only then is DataTable asked to fit the
        width: for a cell narrower than its column it measures every cell of the column."""
        column = self.columns.get(ColumnKey(column_id))
        return column is None or cell.cell_len > column.content_width

    def _apply_order(self) -> None:
        current = [row.key.value for row in self.ordered_rows]
        if current == self._order:
            return
        # DataTable sorts by cell values; the first shown column's cell objects are ours and
        # one per row, so their identity gives each row its rank in the wanted order.
        rank = {}
        first = self._shown[0]
        for index, key in enumerate(self._order):
            rank[id(self._cells[key][first])] = index
        self.sort(self._columns[first].id, key=lambda cell: rank.get(id(cell), len(rank)))

    def _restore_cursor(self, key: str | None) -> None:
        if key is None or key not in self._cells:
            return
        index = self.get_row_index(key)
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)

    # -- fitting the width -----------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        if event.size.width != self._fitted_width and self._columns:
            keep_key = self.selected_key
            with self.app.batch_update():
                self._refit(dict(self._cells), keep_key)

    def _refit(self, cells: dict[str, list[Text]], keep_key: str | None) -> bool:
        """Choose the columns that fit; rebuild (and return True) when they changed."""
        self._fitted_width = self.size.width
        widths = [
            max([len(column.title), *(row[i].cell_len for row in cells.values())])
            for i, column in enumerate(self._columns)
        ]
        # The vertical scrollbar takes its width once the rows overflow.
        available = self.size.width - (self.styles.scrollbar_size_vertical or 0)
        shown = columns_that_fit(self._columns, widths, available, gap=2 * self.cell_padding)
        if not shown:
            shown = [0]
        if shown == self._shown and self.columns:
            return False
        self._shown = shown
        # A different set of columns: the one case the table is rebuilt (DataTable cannot
        # insert a column between others); scroll and cursor are put back by hand.
        scroll_y = self.scroll_y
        self.clear(columns=True)
        for i in shown:
            column = self._columns[i]
            self.add_column(
                Text(column.title, justify="right" if column.column.align_right else "left"),
                key=column.id,
            )
        self._cells = {}
        for key in self._order:
            row = cells[key]
            self.add_row(*(row[i] for i in shown), key=key)
            self._cells[key] = row
        self.scroll_to(y=scroll_y, animate=False, immediate=True)
        self._restore_cursor(keep_key)
        return True
