"""The dst table: each dst dir, the finished plots waiting there, its free space and the jobs
headed there (their phases)."""

from __future__ import annotations

from collections.abc import Sequence

from plotman_tui.farm.units import human_bytes
from plotman_tui.tui.view import DstRow, short_dir
from plotman_tui.tui.widgets.keyed_table import KeyedTable, cell


class DstTable(KeyedTable):
    COLUMNS = (
        ("dir", "dst", False),
        ("plots", "plots", True),
        ("free", "free", True),
        ("inbound", "inbound", False),
    )

    def show(self, rows: Sequence[DstRow], prefix: str) -> None:
        self.show_rows(
            [
                (
                    row.path,
                    [
                        cell(short_dir(row.path, prefix)),
                        cell(
                            "?"
                            if row.plots is None
                            else f"{row.plots} ({human_bytes(row.plot_bytes, short=True)})"
                            if row.plots
                            else "0",
                            right=True,
                        ),
                        cell(row.error, "bold red", right=True)
                        if row.error
                        else cell(human_bytes(row.free_bytes, short=True), right=True),
                        cell(row.phases if row.inbound else "-", "" if row.inbound else "dim"),
                    ],
                )
                for row in rows
            ]
        )
