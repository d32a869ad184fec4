"""The archive table: each archive dir of each target, its free space on the farmer, and what
stands in the way (unreachable farmer, refused host key, missing dir) or is on its way there."""

from __future__ import annotations

from collections.abc import Sequence

from plotman_tui.dirview import ArchiveRow
from plotman_tui.farm.units import human_bytes
from plotman_tui.tui.view import short_dir
from plotman_tui.tui.widgets.keyed_table import KeyedTable, cell
from plotman_tui.tui.widgets.line_table import Cell

_NOTE_STYLE = {"ok": "", "busy": "blue", "unknown": "dim", "problem": "bold red"}


def _free(row: ArchiveRow) -> Cell:
    if row.free_bytes is None:
        return cell("?", "dim")
    return cell(human_bytes(row.free_bytes, short=True))


class ArchiveTable(KeyedTable):
    COLUMNS = (
        ("target", "target", False),
        ("dir", "archive", False),
        ("free", "free", True),
        ("note", "note", False),
    )

    def show(self, rows: Sequence[ArchiveRow], prefix: str) -> None:
        self.show_rows(
            [
                (
                    row.key,
                    [
                        cell(row.target if row.first else "", "bold"),
                        cell(short_dir(row.path, prefix)),
                        _free(row),
                        cell(row.note, _NOTE_STYLE.get(row.level, "")),
                    ],
                )
                for row in rows
            ]
        )
