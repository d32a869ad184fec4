"""The tmp table: each tmp dir (and tmp2), whether a new job may start there, its jobs and space."""

from __future__ import annotations

from collections.abc import Sequence

from plotman_tui.dirview import TmpRow
from plotman_tui.farm.units import human_bytes
from plotman_tui.tui.view import short_dir
from plotman_tui.tui.widgets.keyed_table import KeyedTable, cell
from plotman_tui.tui.widgets.line_table import Cell, TableColumn


def _ready(row: TmpRow) -> Cell:
    if row.role == "tmp2":
        return cell("tmp2", "dim")
    if row.ready is True:
        return cell("ready", "bold green")
    if row.ready is None:
        return cell(row.why, "dim")
    return cell(row.why, "yellow")


class TmpTable(KeyedTable):
    COLUMNS = (
        TableColumn("dir", "tmp", shrinks=True),
        TableColumn("jobs", "jobs", right=True),
        TableColumn("phases", "phases", cut=True),
        TableColumn("free", "free", right=True),
        # Last: its reasons are the longest cells, cut between clauses when room is short.
        TableColumn("ready", "ready", cut=True),
    )

    def show(self, rows: Sequence[TmpRow], prefix: str) -> None:
        self.show_rows(
            [
                (
                    row.path,
                    [
                        cell(short_dir(row.path, prefix)),
                        cell(str(row.jobs)),
                        # tmp2's row would list every job's phase again.
                        cell(row.phases if row.role == "tmp" else ""),
                        cell(row.error, "bold red")
                        if row.error
                        else cell(human_bytes(row.free_bytes, short=True)),
                        _ready(row),
                    ],
                )
                for row in rows
            ]
        )
