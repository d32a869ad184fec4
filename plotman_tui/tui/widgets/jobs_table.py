"""The jobs table: one line per job (a :class:`LineTable`: only the rows that changed are
drawn again), keyed by the job.

The cursor stays on its job while jobs come, go and re-sort. Columns are the ``status``
command's; when the table is too narrow for them all, long dir names are cut from the left
first, then the least useful columns go (as in ``status``).

The columns that move by themselves (wall time, temp space, memory, CPU times) are shown
afresh at most every ``SLOW_REFRESH_S``, or with their row when one of its other cells changes;
a phase or a state shows on the next look. A job whose shown cells are what they were costs a
tuple comparison a look.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.report import fit_columns
from plotman_tui.tui.view import SLOW_COLUMNS, JobColumn, job_key
from plotman_tui.tui.widgets.cursor_table import CursorTable
from plotman_tui.tui.widgets.line_table import CELL_PADDING, Cell, TableColumn

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


def _cell_style(job: Job, column: JobColumn) -> str:
    if column.id == "stat":
        return _STATUS_STYLE.get(job.status, "")
    if column.id == "phase" and job.phase is not None:
        return _PHASE_STYLE.get(job.phase.major, "")
    if column.id == "plot id" and job.problems:
        return "yellow"
    return ""


class JobsTable(CursorTable, can_focus=True):
    """Every job; ``show`` takes them in display order."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", show=True),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ]

    #: How often the slow columns are shown afresh (see the module doc).
    slow_refresh_s: ClassVar[float] = SLOW_REFRESH_S

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
        super().__init__(id=id, zebra=True, cursor=True)
        self._clock = clock
        self._columns: list[JobColumn] = []
        self._jobs: dict[str, Job] = {}
        # Per job: the text of its cells as last worked out (see _row_cells).
        self._texts: dict[str, tuple[object, ...]] = {}
        self._slow_due_at = float("-inf")

    def key_of(self, job: Job) -> str:
        """A row's key (the fleet's table keys its rows by host too)."""
        return job_key(job)

    # -- what the app asks ---------------------------------------------------------------------

    @property
    def selected_job(self) -> Job | None:
        key = self.selected_key
        return self._jobs.get(key) if key is not None else None

    def show(
        self, jobs: Sequence[Job], columns: Sequence[JobColumn], *, afresh: bool = False
    ) -> None:
        """Show ``jobs`` in this order, repainting only the lines that changed; ``afresh``: the
        slow columns too, due or not (a new history changes every job's progress and ETA)."""
        if [c.id for c in self._columns] != [c.id for c in columns]:
            self._texts, self._cells = {}, {}
        self._columns = list(columns)
        self._jobs = {self.key_of(job): job for job in jobs}
        now = self._clock()
        slow_due = afresh or now >= self._slow_due_at
        if slow_due:
            self._slow_due_at = now + self.slow_refresh_s
        quick = [i for i, c in enumerate(self._columns) if c.id not in SLOW_COLUMNS]
        cells = {key: self._row_cells(key, job, slow_due, quick) for key, job in self._jobs.items()}
        self._texts = {key: self._texts[key] for key in cells}
        self.set_rows(
            [TableColumn(c.id, c.title, c.column.align_right) for c in self._columns], cells
        )

    def _row_cells(self, key: str, job: Job, slow_due: bool, quick: list[int]) -> tuple[Cell, ...]:
        """The job's cells: its old ones while their text is the same (only the quick columns
        count when the slow ones are not due), else all of them afresh."""
        head = (job.problems != (), job.status, job.phase)
        old = self._cells.get(key)
        old_texts = self._texts.get(key)
        # Not due: only the quick columns' texts are worked out (a running job's CPU times
        # change on every scan, so most rows get this far), and the first that differs ends it.
        if (
            old is not None
            and old_texts is not None
            and not slow_due
            and head == old_texts[:3]
            and all(self._columns[i].column.cell(job) == old_texts[i + 3] for i in quick)
        ):
            return old
        texts = (*head, *(c.column.cell(job) for c in self._columns))
        if old is not None and texts == old_texts:
            return old
        self._texts[key] = texts
        if old is not None and old_texts is not None and head == old_texts[:3]:
            # The same state, phase and problems: the same styles. A cell whose text stayed
            # is the one it was (a slow refresh of the fleet's 500 rows changes a few each).
            return tuple(
                cell if text == old_text else Cell(str(text), _cell_style(job, column))
                for column, cell, text, old_text in zip(
                    self._columns, old, texts[3:], old_texts[3:], strict=True
                )
            )
        return tuple(
            Cell(str(text), _cell_style(job, column))
            for column, text in zip(self._columns, texts[3:], strict=True)
        )

    # -- keys and the mouse (CursorTable's) -------------------------------------------------------

    def _select(self, key: str) -> None:
        self.post_message(self.Selected(self, key))

    def action_page_up(self) -> None:
        self._move_cursor(self.cursor_row - self._rows_on_screen())

    def action_page_down(self) -> None:
        self._move_cursor(self.cursor_row + self._rows_on_screen())

    def _header_clicked(self, x: int) -> None:
        column_id = self._column_at(x)
        if column_id is not None:
            self.post_message(self.HeaderSelected(self, column_id))

    def _column_at(self, x: int) -> str | None:
        for column_id, (start, end) in self.column_spans().items():
            if start <= x < end:
                return column_id
        return None

    def _fit(self) -> None:
        """As ``status`` does: long dir names are cut from the left first, then the least
        useful columns go."""
        # The vertical scrollbar takes its width once the rows overflow; fit_columns counts
        # the padding between columns, not at the two ends.
        available = self.size.width - (self.styles.scrollbar_size_vertical or 0)
        shown, self._widths = fit_columns(
            [column.column for column in self._columns],
            self._natural,
            available - 2 * CELL_PADDING,
        )
        self._shown = shown or [0]
