"""Help: the keys and what the columns mean."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from plotman_tui.tui.view import job_columns

KEYS = (
    ("p", "pause or resume plotting (starting new jobs); running jobs are not touched"),
    ("s / r", "suspend (SIGSTOP) / resume (SIGCONT) the job under the cursor"),
    ("k", "kill the job: it is stopped first, then you see the temp files that would go"),
    ("enter", "the job's details: command, dirs, phase times, temp files, live log"),
    ("l", "the job's log in $PAGER (less by default)"),
    ("/", "filter jobs by any text in their row, plot id, dirs or command"),
    ("o / O", "sort by the next column / reverse the order (or click a column title)"),
    ("a", "pause or resume archiving (starting transfers); transfers under way are not touched"),
    ("q", "quit: plot jobs and transfers keep running; the locks are released"),
)

#: What each jobs table column shows, by column id.
COLUMN_HELP = {
    "plot id": "the first 8 characters of the plot id (? until the log names it)",
    "plotter": "chia, madmax, bladebit ...",
    "k": "plot size",
    "tmp": "tmp dir, after the tmp prefix",
    "dst": "dst dir, after the dst prefix",
    "wall": "time since the job started (25s, 42m, h:mm)",
    "phase": "major:minor phase from the log (? when there is no log)",
    "tmp#2": "space the job's temp files take",
    "pid": "process id",
    "stat": "RUN running, SLP sleeping, DSK disk wait, STP suspended, ZMB exited",
    "mem": "resident memory",
    "user": "user CPU time",
    "sys": "system CPU time",
    "io": "time spent waiting for I/O",
}


class HelpScreen(Screen[None]):
    """A screen of its own, not a modal over the dashboard: a modal draws the dashboard under
    it again, dimmed, which made "?" one of the slowest keys."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        keys = Table.grid(padding=(0, 2))
        for key, what in KEYS:
            keys.add_row(Text(key, style="bold"), Text(what))
        columns = Table.grid(padding=(0, 2))
        for column in job_columns("", ""):
            columns.add_row(
                Text(column.title, style="bold"), Text(COLUMN_HELP.get(column.id, column.name))
            )
        with VerticalScroll(id="help-dialog") as dialog:
            dialog.border_title = "plotman-tui: keys (escape closes)"
            yield Static(keys)
            yield Static(Text("\nColumns of the jobs table", style="bold underline"))
            yield Static(columns)

    def action_close(self) -> None:
        self.dismiss(None)
