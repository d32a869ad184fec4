"""A table with fixed columns whose rows are kept in step with a list, by key (a
:class:`LineTable`: a row that changed is the only one drawn again)."""

from __future__ import annotations

from collections.abc import Sequence

from plotman_tui.tui.widgets.line_table import Cell, LineTable, TableColumn


class KeyedTable(LineTable):
    """Rows shown by key; the columns are ``COLUMNS``."""

    COLUMNS: Sequence[TableColumn] = ()
    WIDTH_IS_PLANNED = True
    # A dir table cannot take the focus to scroll by keys: every row is on the dirs screen (d).
    HIDDEN_NOTE = " +{} more: d "

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_focus = False

    def show_rows(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        shown = {}
        for key, row in rows:
            cells = tuple(row)
            old = self._cells.get(key)
            # The same tuple as before when nothing changed: its line is not drawn again.
            shown[key] = old if old is not None and old == cells else cells
        self.set_rows(self.COLUMNS, shown)


def cell(text: str, style: str = "") -> Cell:
    """A table cell: plain text, never markup (paths and reasons hold brackets), and a style
    such as "bold red"; its column says how it is aligned."""
    return Cell(text, style)
