"""Help: every key, and what every line, panel and column of the dashboard says.

A test holds the lists here to the tables' own columns and the dashboard's own keys
(tests/tui/test_help.py): a column or key added and left out of help fails it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from plotman_tui.plotters.phase import Phase
from plotman_tui.tui.view import PLOTMAN_PHASES, PhaseBin, job_columns
from plotman_tui.tui.widgets.phase_histogram import strip_text

#: The dashboard's keys, as a farmer presses them.
KEYS = (
    ("p", "pause or resume plotting (starting new jobs); running jobs are not touched"),
    ("a", "pause or resume archiving (starting transfers); transfers under way go on"),
    ("↑ ↓ pgup pgdn home end", "move the cursor in the jobs table (or click a row)"),
    ("enter", "the job's details: command, dirs, phase times, temp files, live log"),
    ("s / r", "suspend (SIGSTOP) / resume (SIGCONT) the job under the cursor"),
    ("k", "kill the job: it is stopped first, then you see the temp files that would go"),
    ("l", "the job's log in $PAGER (less by default), colour codes removed"),
    ("/", "filter jobs by any text in their row, plot id, dirs or command"),
    ("escape", "clear the filter"),
    ("o / O", "sort by the next column / reverse the order (or click a column title)"),
    ("d", "every tmp, dst and archive dir with its full reason, and the full status text"),
    (
        "h",
        "plot history: plots and TiB finished per day, phase and total times per tmp dir, "
        "the last 20 finished plots",
    ),
    (
        "F",
        "the fleet: every plotting machine of [fleet], a line each, over all their jobs "
        "(without [[fleet.hosts]] in the config it says how to add them)",
    ),
    ("?", "this help (escape, q or ? closes it)"),
    ("q", "quit: plot jobs and transfers keep running; the locks are released"),
)

#: Keys of the other screens.
OTHER_KEYS = (
    ("details", "escape or q back; l log in $PAGER; s / r suspend / resume; k kill"),
    ("kill question", "y kill and delete the temp files; n or escape cancel, the job runs on"),
    ("dirs screen", "escape, d or q back"),
    ("history screen", "escape, h or q back; arrows, pgup and pgdn scroll"),
    (
        "fleet screen",
        "escape or F back; tab hosts / jobs; enter a host's dashboard or a job's details; "
        "s / r / k the job on its host (the kill question lists the files there); p / a "
        "pause or resume plotting / archiving on the selected host (or the job's host); "
        "/ o O as here",
    ),
)

STATUS_LINE = (
    ("14:02", "the time (minutes)"),
    (
        "Plotting: active",
        "plotting is on: the detail says why nothing starts now (waiting: …, the scheduler's "
        "reason) or which job starts and why",
    ),
    ("Plotting: paused", "p paused it: no new job starts; running jobs go on"),
    (
        "Plotting: failing",
        "starts fail: the plotter is missing or its jobs die right after starting; further "
        "starts back off (backing off 4m: why (3 failed starts)), or the look itself failed",
    ),
    ("monitoring only", "another plotman-tui starts the jobs; this one takes over when it ends"),
    ("Archiving: active", "transfers under way (their pids), every target healthy"),
    ("Archiving: idle", "every target is healthy, nothing to move now: the detail says why"),
    ("Archiving: paused", "a paused it: no new transfer starts; transfers under way finish"),
    (
        "Archiving: error",
        "a target cannot take plots: its farmer unreachable, its host key or login refused, "
        "an archive dir missing, its transfers failing; or the archiving pass failed. The "
        "detail names the target first, then any transfers still under way elsewhere",
    ),
    ("Archiving: not set up", "no enabled [[archiving.targets]] in the config"),
    (
        "look 2s · plan 20s",
        "how often the dashboard looks at the jobs (the process table; phases come from the "
        "logs as they are written) and how often the scheduler plans a start "
        "([scheduling] polling_time_s)",
    ),
    ("stale 1m", "(red) the last look is this old: the figures on screen may be out of date"),
    ("starting…", "no look has finished yet"),
)

PREFIXES_LINE = (
    ("jobs 30", "how many jobs (shown/all while a filter is on), their order, the filter"),
    ("Prefixes:", "the start of the paths the tables leave out: tmp=, dst=, archive="),
    ("! …", "(red) a problem of the last look: a log dir missing, a log not readable …"),
)

#: What each jobs table column shows, by column id.
COLUMN_HELP = {
    "plot id": "the first 8 characters of the plot id (? until the log names it)",
    "plotter": "chia, madmax, bladebit …",
    "k": "plot size",
    "C": "compression level (0 uncompressed; - not stated by its command line, log or name)",
    "tmp": "tmp dir, after the tmp prefix",
    "dst": "dst dir, after the dst prefix",
    "wall": "time since the job started (25s, 42m, h:mm)",
    "phase": "major:minor phase from the log (? until the log says; 5:x the final copy)",
    "done": (
        "progress: how far the job is, from its phase and the times of finished runs like it "
        "(or chia's own progress lines); - with no finished run of its plotter and k"
    ),
    "eta": (
        "time left, from finished runs of the same plotter and k (and tmp dir, with 3 or "
        "more); late: longer in its phase than every such run; - unknown (no such run, or "
        "the job is suspended), never a guess; h shows the history it learns from"
    ),
    "tmp#2": "space the job's temp files take",
    "pid": "process id",
    "stat": "RUN running, SLP sleeping, DSK disk wait, STP suspended, ZMB exited",
    "mem": "resident memory",
    "user": "user CPU time",
    "sys": "system CPU time",
    "io": "time spent waiting for I/O",
}

#: What each tmp table column shows, by its title.
TMP_HELP = {
    "tmp": "the tmp dir after the tmp prefix (and the shared tmp2 dir)",
    "jobs": "jobs using it",
    "phases": "their phases, furthest back first (? unknown)",
    "free": "free space (red: why it could not be read)",
    "ready": (
        "ready (green): a new job may start here; else why not: max jobs N (the dir's limit), "
        "N before 2:1 (N jobs have not reached the stagger phase yet), "
        "low space (N GiB free, needs M); "
        "the global limits are the status line's"
    ),
}

#: What each dst table column shows, by its title.
DST_HELP = {
    "dst": "the dst dir after the dst prefix",
    "plots": (
        "finished plots waiting there (their size; with plots of several compression levels, "
        "how many of each: C7 10, C0 2)"
    ),
    "free": "free space (red: why it could not be read)",
    "prio": (
        "with archiving on: plotman's archive priority; the highest (green) is the dir "
        "archiving takes from next (- not known)"
    ),
    "inbound": "the phases of the running jobs whose plot will land there (- none)",
}

#: What each archive panel column shows, by its title.
ARCHIVE_HELP = {
    "target": "the archiving target, as the config names it",
    "disks": "its archive dirs",
    "free": "free space over the dirs whose space is known (? none read yet)",
    "note": (
        "← pid N: a transfer on its way; what is wrong (red): unreachable, host key refused, "
        "N missing …; not read yet"
    ),
    "fullest": "the dir with the least free space, and that space",
    "emptiest": "the dir with the most free space, and that space",
    "replot": (
        "while a target replots: old plots its rules still match (their size) and the days "
        "to finish at the current rate, plots removed and new plots moved; dry run; stopped "
        "(red) and why; plotman-tui dirs says it in full"
    ),
}

#: What the dirs screen's (d) archive table adds, by its title.
ARCHIVE_DIRS_HELP = {
    "target": "the archiving target, named on its first dir",
    "archive": "each archive dir (disk) after the archive prefix",
    "free": "its free space (? not read)",
    "note": "← pid N: a transfer on its way there; or why its space is not known (red)",
}

#: The history screen (h), part by part.
HISTORY_HELP = (
    (
        "plots finished per day",
        "the last 30 days, today on the right; a plot counts on the day it finished",
    ),
    ("TiB finished per day", "the same days, in TiB written (120 columns and wider)"),
    (
        "total time per tmp dir",
        "shortest ─│─ longest, the │ at the median: a slow or failing drive stands out",
    ),
    (
        "median phase times",
        "each tmp dir's phases 1 to 4 one after the other, in the jobs table's phase colours "
        "(120 columns and wider)",
    ),
    (
        "the plots that finished last",
        "the last 20, newest first: when, plot id, plotter, k, tmp dir, phase 1–4 (p1–p4), "
        "total and copy times (h:mm); narrow, plotter and k are left out",
    ),
    (
        "Reading plot logs…",
        "the logs are being read (once; later reads take only new or grown logs from a cache)",
    ),
)

#: What each column of the fleet screen's hosts table shows, by its title.
FLEET_HELP = {
    "host": "the host's name in [[fleet.hosts]] (local: this machine)",
    "state": (
        "up; connecting; down 2m (no news for 2 minutes, retried) or failed (its key, login "
        "or command refused, an old plotman-tui): why is on a line under the hosts"
    ),
    "jobs": "its plot jobs",
    "phases": "its jobs per major phase (1:3 2:1 …; ?: not known yet)",
    "today": "plots it finished today",
    "tmp free": "free space of its tmp dirs (each disk once)",
    "dst free": "free space of its dst dirs (each disk once)",
    "plotting": "active, paused (by whom, since), no loop, with the loop's latest reason",
    "archiving": "the same for archiving; not set up",
    "problems": "its scan's and jobs' problems: how many, and the first",
}

#: The fleet's jobs table: the jobs table's columns after this one.
FLEET_JOBS_HELP = (("host", "the host the job runs on (sort and filter by it: o, /plotter2)"),)

ACTION_LOG = (
    "Newest first: what was started, ended, suspended, resumed, killed, paused and moved to "
    "the farmer (from the action log, `plotman-tui history` shows it all), in red when it "
    "failed, with archiving's news: why a target waits (dim), who holds its lock, errors."
)


class _Grid:
    """Two columns, a term in bold and what it means wrapped beside it: what a rich grid Table
    draws, for a fraction of its cost (a Table measures every cell by rendering it)."""

    def __init__(self, rows: Iterable[tuple[str, str]]) -> None:
        self.rows = [(key, what) for key, what in rows]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        key_width = max((cell_len(key) for key, _ in self.rows), default=0)
        key_width = min(key_width, max(options.max_width // 3, 1))
        text_width = max(options.max_width - key_width - 2, 10)
        for key, what in self.rows:
            lines = Text(what).wrap(console, text_width)
            if cell_len(key) > key_width:  # a long term: its own line, the meaning under it
                yield Text(key, style="bold")
                key = ""
            for index, line in enumerate(lines):
                term = key if index == 0 else ""
                yield Text.assemble((term.ljust(key_width), "bold"), "  ", line)


def _grid(rows: Iterable[tuple[str, str]]) -> _Grid:
    return _Grid(rows)


def phase_example() -> Text:
    """The strip of five jobs: two at 1:1, one at 1:3, one at 2:1, one whose phase is unknown."""
    at = {Phase(1, 1): 2, Phase(1, 3): 1, Phase(2, 1): 1}
    example = [PhaseBin(phase, at.get(phase, 0)) for phase in PLOTMAN_PHASES]
    return strip_text([*example, PhaseBin(None, 1)], 66)


PHASE_LEGEND = (
    ("1[ … ]", "major phase 1, then one place per minor phase: 1:0, 1:1 … 1:7"),
    ("· 2 +", "no job at that minor phase; 2 jobs there; ten or more"),
    ("0[ … ]", "jobs that have not begun phase 1 yet (0:0)"),
    ("5[ … ]", "the final copy of the plot to its dst dir (5:x)"),
    ("?1", "jobs whose phase is not known yet (no log line read yet): not an error"),
)


def _heading(text: str) -> Text:
    return Text(f"\n{text}", style="bold underline")


class _Prerendered(Widget):
    """A renderable drawn once per width and kept: Static rendered help's tables again for its
    height and for every paint (some 1,700 table renders on the first "?", over 100 ms)."""

    DEFAULT_CSS = "_Prerendered { height: auto; }"

    def __init__(self, renderable: RenderableType, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._renderable = renderable
        self._drawn: tuple[int, list[Strip]] | None = None

    def _lines(self, width: int) -> list[Strip]:
        if self._drawn is None or self._drawn[0] != width:
            console = self.app.console
            options = console.options.update_width(max(width, 1))
            lines = console.render_lines(self._renderable, options, pad=False)
            self._drawn = (width, [Strip(line) for line in lines])
        return self._drawn[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width
        lines = self._lines(width)
        line = lines[y] if y < len(lines) else Strip.blank(width)
        return line.apply_style(self.rich_style).adjust_cell_length(width, self.rich_style)


class HelpScreen(Screen[None]):
    """A screen of its own, not a modal over the dashboard: a modal draws the dashboard under
    it again, dimmed, which made "?" one of the slowest keys."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        jobs = _grid(
            (column.title, COLUMN_HELP.get(column.id, column.name))
            for column in job_columns("", "")
        )
        # One Static of one Group, not a widget per table and heading: the first "?" of a
        # session composed, styled and laid out two dozen widgets (over 100 ms on the real farm).
        parts: list[RenderableType] = [
            _grid(KEYS),
            _heading("Other screens"),
            _grid(OTHER_KEYS),
            _heading("The status line (top)"),
            _grid(STATUS_LINE),
            _heading("The line under the status line"),
            _grid(PREFIXES_LINE),
            _heading("The jobs table"),
            jobs,
            _heading("The phase strip: how many jobs are at each phase"),
            phase_example(),
            Text("five jobs: two at 1:1, one at 1:3, one at 2:1, one not known yet", "dim"),
            _grid(PHASE_LEGEND),
            _heading("The tmp dirs"),
            _grid(TMP_HELP.items()),
            _heading("The dst dirs"),
            _grid(DST_HELP.items()),
            _heading("The archive panel: one line per target (d lists every dir)"),
            _grid(ARCHIVE_HELP.items()),
            _heading("The dirs screen (d): every dir, every disk, every reason whole"),
            _grid(ARCHIVE_DIRS_HELP.items()),
            _heading("The history screen (h): from the plot logs of [logging] plots"),
            _grid(HISTORY_HELP),
            _heading("The fleet (F): one line per host, then every host's jobs"),
            _grid(FLEET_HELP.items()),
            _grid(FLEET_JOBS_HELP),
            _heading("The action log"),
            Text(ACTION_LOG),
        ]
        with VerticalScroll(id="help-dialog") as dialog:
            dialog.border_title = "plotman-tui help (escape closes, arrows scroll)"
            yield _Prerendered(Group(*parts), id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
