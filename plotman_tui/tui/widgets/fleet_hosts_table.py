"""The fleet's hosts: one line per host (a :class:`LineTable` with a cursor, keyed by the host's
name), from :func:`plotman_tui.fleet.summary.host_line`.

A host that is down or failed says so in its state cell, in red, and why in full on a line of
its own under the table (:func:`trouble_lines`). The reasons (plotting, archiving, problems)
are the columns cut first on a narrow terminal, between clauses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from plotman_tui.fleet.model import HostStatus
from plotman_tui.fleet.summary import HostLine
from plotman_tui.tui.widgets.cursor_table import CursorTable
from plotman_tui.tui.widgets.line_table import Cell, TableColumn

COLUMNS = (
    TableColumn("host", "host"),
    TableColumn("state", "state"),
    TableColumn("jobs", "jobs", right=True),
    TableColumn("phases", "phases", drop=3),
    TableColumn("today", "today", right=True, drop=4),
    TableColumn("tmp free", "tmp free", right=True, drop=2),
    TableColumn("dst free", "dst free", right=True, drop=5),
    TableColumn("plotting", "plotting", cut=True),
    TableColumn("archiving", "archiving", cut=True, drop=1),
    TableColumn("problems", "problems", cut=True, drop=0),
)

_STATE_STYLE = {
    HostStatus.UP: "green",
    HostStatus.CONNECTING: "yellow",
    HostStatus.DOWN: "bold red",
    HostStatus.FAILED: "bold red",
}
_LOOP_STYLE = {"active": "green", "paused": "bold yellow", "no loop": "dim"}


def _loop_style(text: str) -> str:
    return next((style for word, style in _LOOP_STYLE.items() if text.startswith(word)), "")


def host_cells(line: HostLine) -> tuple[Cell, ...]:
    """The cells of a host's line (text, never markup: reasons hold paths and brackets). A
    host that is not up shows no jobs, space nor loops: what it last said may be over."""
    problems = "" if line.problems == "-" else line.problems
    # "down 2m", "failed": why is on the host's line under the table, in full.
    state = Cell(line.state.split(":", 1)[0], _STATE_STYLE.get(line.status, ""))
    if line.status is not HostStatus.UP:
        return (Cell(line.name, "bold"), state, *(Cell("-"),) * 7, Cell(problems, "yellow"))
    return (
        Cell(line.name, "bold"),
        state,
        Cell(str(line.jobs)),
        Cell(line.phases),
        Cell(line.plots_today),
        Cell(line.tmp_free),
        Cell(line.dst_free),
        Cell(line.plotting, _loop_style(line.plotting)),
        Cell(line.archiving, _loop_style(line.archiving)),
        Cell(problems, "yellow"),
    )


def trouble_lines(lines: Sequence[HostLine]) -> list[Text]:
    """Each host that is down or failed, with why in full (its cell may be cut): one line
    each under the hosts."""
    return [
        Text.assemble((line.name, "bold"), " ", (line.state, _STATE_STYLE.get(line.status, "")))
        for line in lines
        if line.status in (HostStatus.DOWN, HostStatus.FAILED)
    ]


class FleetHostsTable(CursorTable, can_focus=True):
    """Every host, in the fleet's order (this machine first); ``show`` takes their lines."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Host's dashboard", show=True),
    ]

    class Selected(Message):
        """Enter, or a click on the cursor's row: the host's dashboard is wanted."""

        def __init__(self, table: FleetHostsTable, host: str) -> None:
            super().__init__()
            self.table = table
            self.host = host

    REPORTS_MOVES = True  # the fleet screen's p and a say the host's under the cursor

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, zebra=True, cursor=True)

    @property
    def selected_host(self) -> str | None:
        return self.selected_key

    def show(self, lines: Sequence[HostLine]) -> None:
        """Show the hosts' lines; a line whose cells are what they were is not drawn again."""
        rows: dict[str, tuple[Cell, ...]] = {}
        for line in lines:
            key = line.name
            cells = host_cells(line)
            old = self._cells.get(key)
            rows[key] = old if old is not None and old == cells else cells
        self.set_rows(COLUMNS, rows)

    def select_host(self, host: str) -> bool:
        return self.select_key(host)

    def _select(self, key: str) -> None:
        self.post_message(self.Selected(self, key))
