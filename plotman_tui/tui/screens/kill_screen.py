"""The kill question: the job is already stopped; these temp files go if you say yes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from plotman_tui.farm.control import KillPlan
from plotman_tui.farm.units import printable
from plotman_tui.tui.widgets.keys_footer import KeysFooter
from plotman_tui.tui.widgets.temp_files import temp_files_grid


def plan_text(plan: KillPlan) -> Group:
    """The files a kill deletes, by dir, then the notes (Text: paths are not markup).

    Every file's name holds the job's whole plot id (that is how it was chosen); the names show
    its first 8 characters, so that a bucket number or a table name is what stands out.
    """
    parts: list[RenderableType] = []
    plot_id = plan.job.plot_id
    if plot_id and plan.files:
        # A fleet host's plot id came over the wire: shown harmless, as every table shows.
        named = ("every file is named with plot id ", "dim")
        parts.append(Text.assemble(named, (printable(plot_id), "bold")))
    if plan.files:
        parts.append(temp_files_grid(plan.files, plot_id))
    parts.extend(Text(printable(f"note: {note}"), "yellow") for note in plan.notes)
    return Group(*parts)


@dataclass(frozen=True)
class KillAnswer:
    """Kill (and delete the listed temp files), or let the job run on: ``why`` not, for the
    action log."""

    kill: bool
    why: str = ""


class KillScreen(ModalScreen[KillAnswer]):
    """The question; every way out of it but ``y`` lets the job run on.

    Its own footer shows its own keys (the dashboard's do nothing while it is open). Notices do
    not show over it (app.tcss hides its toast rack): a toast from an earlier key covered the
    buttons for seconds. Those still in time show again once the question is answered.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "kill", "Kill, delete files"),
        Binding("n", "cancel('answered no')", "Cancel, let it run"),
        Binding("escape", "cancel('escape pressed')", "Cancel", show=False),
        # Keys that leave a screen elsewhere leave this one as a cancel: q closes the other
        # screens, and ctrl+c is what a farmer presses to get out of anything.
        Binding("q", "cancel('q pressed')", show=False),
        Binding("ctrl+c", "cancel('ctrl+c pressed')", show=False),
    ]

    #: The safe answer has the focus: a stray enter does not kill. Textual focuses it as the
    #: screen shows (an ``on_mount`` that looked for it ran, under load, before the dialog's
    #: buttons were mounted: NoMatches, the dashboard gone).
    AUTO_FOCUS = "#kill-no"

    def __init__(self, plan: KillPlan, *, host: str | None = None) -> None:
        """``host``: the fleet host the job runs on (None: this machine's own dashboard)."""
        super().__init__()
        self.plan = plan
        self.host = host

    def compose(self) -> ComposeResult:
        job = self.plan.job
        who = (job.plot_id or "?")[:8]
        where = f" on {self.host}" if self.host is not None else ""
        with Vertical(id="kill-dialog") as dialog:
            dialog.border_title = printable(f"Kill job {who} (pid {job.pid}){where}?")
            yield Static(Text(printable(self.plan.message)), id="kill-message")
            with VerticalScroll(id="kill-files"):
                yield Static(plan_text(self.plan))
            with Horizontal(id="kill-buttons"):
                yield Button("Kill, delete files (y)", variant="error", id="kill-yes")
                yield Button("Cancel: let it run (n)", variant="primary", id="kill-no")
        yield KeysFooter(compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "kill-yes":
            self.action_kill()
        else:
            self.action_cancel("cancel pressed")

    def action_kill(self) -> None:
        self.dismiss(KillAnswer(kill=True))

    def action_cancel(self, why: str) -> None:
        self.dismiss(KillAnswer(kill=False, why=why))
