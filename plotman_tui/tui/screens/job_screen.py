"""A job's details: command, dirs, phase timeline, temp files, and its log as it grows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Log, Static
from textual.worker import Worker

from plotman_tui.farm.model import Job
from plotman_tui.farm.units import human_duration, printable
from plotman_tui.report import render_details
from plotman_tui.tui.feeds import LOG_TAIL_INTERVAL_S, LOG_TAIL_LINES, LogTail
from plotman_tui.tui.messages import LogTailRead
from plotman_tui.tui.poller import Poller
from plotman_tui.tui.view import job_key
from plotman_tui.tui.widgets.keys_footer import KeysFooter
from plotman_tui.tui.widgets.temp_files import temp_files_grid

_BAR_WIDTH = 20
_PHASE_STYLE = {1: "cyan", 2: "blue", 3: "magenta", 4: "green"}


def phase_timeline(job: Job) -> Text:
    """A bar per phase, as long as it took; the phase under way so far, marked running."""
    # A time below 0 (from a damaged log or another machine's answer) is drawn as none: it
    # made a bar of billions of blocks (OverflowError).
    done = [(number, max(seconds, 0.0)) for number, seconds in job.phase_seconds]
    rows: list[tuple[int, float, bool]] = [(number, seconds, False) for number, seconds in done]
    if not job.completed and job.phase is not None and job.phase.major >= 1:
        running_for = job.wall_seconds - sum(seconds for _, seconds in done)
        finished = {number for number, _ in done}
        if job.phase.major not in finished:
            rows.append((job.phase.major, max(running_for, 0.0), True))
    text = Text()
    if not rows:
        text.append("no phase has finished yet" if job.phase else "phase unknown (no log)", "dim")
        return text
    longest = max(seconds for _, seconds, _ in rows) or 1.0
    for number, seconds, running in rows:
        width = min(max(round(seconds / longest * _BAR_WIDTH), 1), _BAR_WIDTH)
        text.append(f"phase {number}  ")
        text.append("█" * width, _PHASE_STYLE.get(number, "yellow"))
        text.append(" " * (_BAR_WIDTH - width))
        text.append(f"  {human_duration(seconds):>7}")
        if running:
            text.append(f"  now at {job.phase}", "bold")
        text.append("\n")
    total = job.total_seconds
    if total is not None:
        text.append(f"total {human_duration(total)}", "dim")
    text.rstrip()
    return text


def details_table(job: Job) -> Table:
    """``report.render_details``'s facts as a two-column grid, so long values wrap in their
    column instead of under the labels."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    rows: list[list[str]] = []
    for line in render_details(job).splitlines():
        label, sep, value = line.partition(": ")
        if sep and label.strip():
            rows.append([label.strip(), value])
        elif rows:
            rows[-1][1] += "\n" + line  # a value that held a newline
    for label, value in rows:
        # Text, not markup: argv and paths hold brackets and other markup characters.
        grid.add_row(label, Text(value))
    return grid


def temp_files_view(job: Job) -> Table | Text:
    if not job.tmp_files:
        return Text("none found", "dim")
    return temp_files_grid(job.tmp_files, job.plot_id)


class JobScreen(Screen[None]):
    """One job, live: the app hands each new scan of it to :meth:`update_job`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("l", "app.pager", "Log in pager"),
        Binding("s", "app.suspend_job", "Suspend"),
        Binding("r", "app.resume_job", "Resume"),
        Binding("k", "app.kill_job", "Kill"),
    ]

    # Narrow terminals put the log under the details instead of beside them.
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 (Textual reads it as is)
        (0, "-narrow"),
        (120, "-wide"),
    ]

    def __init__(self, job: Job, *, live: bool = True) -> None:
        super().__init__()
        self.job = job
        self.key = job_key(job)
        self.ended = False
        self._live = live
        self._tail: Poller | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="job-title")
        with Horizontal(id="job-body"):
            with VerticalScroll(id="job-facts") as facts:
                facts.border_title = "details"
                yield Static(id="job-details")
                yield Static(Text("\nPhases", style="bold underline"))
                yield Static(id="job-timeline")
                yield Static(Text("\nTemp files", style="bold underline"))
                yield Static(id="job-files")
            log = Log(id="job-log", max_lines=2000, auto_scroll=True)
            log.border_title = "log"
            yield log
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self._show()
        log_file = self.job.log_file
        if log_file is None:
            self.query_one(Log).write_line("(no log found for this job)")
        elif self._live:
            tail = LogTail(log_file, lines=LOG_TAIL_LINES)
            self._tail = Poller(self, "log-tail", tail.read, LOG_TAIL_INTERVAL_S)
            self._tail.start()

    def on_unmount(self) -> None:
        if self._tail is not None:
            self._tail.stop()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if self._tail is not None and self._tail.handle(event):
            event.stop()

    def on_log_tail_read(self, message: LogTailRead) -> None:
        self.show_log(message.lines, reset=message.reset)

    def show_log(self, lines: Sequence[str], *, reset: bool) -> None:
        log = self.query_one(Log)
        if reset:
            log.clear()
        # The parsers' lines keep their control characters; a terminal must not obey them.
        log.write_lines([printable(line) for line in lines])

    def update_job(self, job: Job | None) -> None:
        """The job as the latest scan saw it; None: it is gone."""
        if job is None:
            if not self.ended:
                self.ended = True
                self._show()
            return
        self.job = job
        self._show()

    def _show(self) -> None:
        job = self.job
        title = Text.assemble(
            ("Job ", "bold"),
            ((job.plot_id or "?")[:8], "bold"),
            f"  pid {job.pid}  {job.plotter} k{job.k or '?'}  phase {job.phase or '?'}  ",
            (job.status.value, "bold"),
        )
        if self.ended:
            title.append("  (ended: no longer in the process table)", "bold red")
        self.query_one("#job-title", Static).update(title)
        self.query_one("#job-details", Static).update(details_table(job))
        self.query_one("#job-timeline", Static).update(phase_timeline(job))
        self.query_one("#job-files", Static).update(temp_files_view(job))

    def action_close(self) -> None:
        self.dismiss(None)
