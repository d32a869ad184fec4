"""The dst table: each dst dir, the finished plots waiting there, its free space, its archive
priority (when archiving is set up) and the jobs headed there (their phases)."""

from __future__ import annotations

from collections.abc import Sequence

from plotman_tui.dirview import DstRow, plots_text
from plotman_tui.farm.units import human_bytes
from plotman_tui.tui.view import short_dir
from plotman_tui.tui.widgets.keyed_table import KeyedTable, cell
from plotman_tui.tui.widgets.line_table import Cell, TableColumn

_COLUMNS = (
    TableColumn("dir", "dst", shrinks=True),
    TableColumn("plots", "plots", right=True),
    TableColumn("free", "free", right=True),
    TableColumn("inbound", "inbound", cut=True),
)
# plotman's archive priority: the dir with the highest one is read first.
_PRIORITY = TableColumn("priority", "prio", right=True)


def _priority(row: DstRow) -> Cell:
    if row.priority is None:
        return cell("-", "dim")
    return cell(str(row.priority), "bold green" if row.archive_next else "")


class DstTable(KeyedTable):
    def __init__(self, *, id: str | None = None, with_priority: bool = False) -> None:
        super().__init__(id=id)
        self.with_priority = with_priority
        self.COLUMNS = (*_COLUMNS[:3], _PRIORITY, _COLUMNS[3]) if with_priority else _COLUMNS

    def show(self, rows: Sequence[DstRow], prefix: str) -> None:
        shown = []
        for row in rows:
            cells = [
                cell(short_dir(row.path, prefix)),
                cell("0" if row.plots == 0 else plots_text(row)),
                cell(row.error, "bold red")
                if row.error
                else cell(human_bytes(row.free_bytes, short=True)),
            ]
            if self.with_priority:
                cells.append(_priority(row))
            cells.append(cell(row.phases if row.inbound else "-", "" if row.inbound else "dim"))
            shown.append((row.path, cells))
        self.show_rows(shown)
