"""A DataTable with fixed columns whose rows are kept in step with a list, by key."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey


class KeyedTable(DataTable[Text]):
    """Rows added, updated and removed by key inside one batch: never cleared."""

    COLUMNS: Sequence[tuple[str, str, bool]] = ()  # (key, title, right-aligned)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", zebra_stripes=False, show_cursor=False)
        self.can_focus = False
        self._rows: dict[str, list[Text]] = {}

    def on_mount(self) -> None:
        for key, title, right in self.COLUMNS:
            self.add_column(Text(title, justify="right" if right else "left"), key=key)

    def watch_virtual_size(self, old: Size, new: Size) -> None:
        # Textual 8.2.8 caches a widget's box model under a layout counter that a virtual size
        # change does not bump while a layout is already pending: a table whose rows came in
        # the same frame keeps its old height (header only) in its parent's auto height, and
        # the panels below are cut. One more layout refresh, after this frame, bumps it.
        if old.height != new.height:
            self.call_after_refresh(self.refresh, layout=True)

    def show_rows(self, rows: Sequence[tuple[str, Sequence[Text]]]) -> None:
        wanted = dict(rows)
        with self.app.batch_update():
            for key in [key for key in self._rows if key not in wanted]:
                self.remove_row(key)
                del self._rows[key]
            for key, cells in wanted.items():
                old = self._rows.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                else:
                    for (column, _, _), before, after in zip(self.COLUMNS, old, cells, strict=True):
                        if before.plain != after.plain or before.style != after.style:
                            # Fit the width only to grow: for a narrower cell DataTable
                            # measures every cell of the column.
                            width = self.columns[ColumnKey(column)].content_width
                            grow = after.cell_len > width
                            self.update_cell(key, column, after, update_width=grow)
                self._rows[key] = list(cells)


def cell(text: str, style: str = "", *, right: bool = False) -> Text:
    """A table cell: Text, never markup (paths and reasons hold brackets)."""
    return Text(text, style=style, justify="right" if right else "left", no_wrap=True)
