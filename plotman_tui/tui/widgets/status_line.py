"""The top line: the clock, what plotting and archiving are doing, and the refresh cadence."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual.widgets import Static

from plotman_tui.farm.clauses import cut_clauses, text_width
from plotman_tui.farm.units import human_duration, printable

_WORD_STYLE = {
    "active": "bold green",
    "paused": "bold yellow",
    "failing": "bold red",  # plotting: starts fail (backing off), or the pass failed
    "error": "bold red",  # archiving: a target cannot take plots, or the pass failed
    "idle": "bold",
    "not set up": "bold",
}
# A pass older than this, and than two looks, is called stale on screen.
STALE_AFTER_S = 3.0


class StatusPart(Static):
    """Plotting's or archiving's part: its head (``Plotting: active``) whole, its detail (the
    reason) cut between clauses to the width it is given, never in the middle of a number or
    a phase (``cut_clauses``). ``content`` is the whole text (it sizes an ``auto`` part)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._head = Text()
        self._detail = ""

    def show(self, head: Text, detail: str, *, layout: bool) -> None:
        self._head, self._detail = head, detail
        whole = head.copy()
        if detail:
            whole.append(" ")
            whole.append(detail)
        whole.no_wrap = True
        whole.overflow = "ellipsis"
        self.update(whole, layout=layout)

    def render(self) -> RenderResult:
        width = self.size.width
        room = width - self._head.cell_len - 1
        if not self._detail or text_width(self._detail) <= room:
            return super().render()
        text = self._head.copy()
        cut = cut_clauses(self._detail, room)
        if cut:
            text.append(" ")
            text.append(cut)
        text.no_wrap = True
        text.overflow = "ellipsis"  # a head wider than the part (a very narrow terminal)
        return text


class StatusLine(Horizontal):
    """``14:02:03  Plotting: active  waiting: stagger (…)`` ``Archiving: idle …``  ``look 1s``.

    Three parts: plotting takes the room left, archiving as much as it needs (CSS caps it),
    the cadence (or how stale the last pass is) always shows. It is shown every second (the
    clock): a part is updated only when its text changed, and the screen laid out again only
    when a part sized by its text changed width (``Static.update`` lays out by default).
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._texts: dict[str, Text] = {}

    def compose(self) -> ComposeResult:
        yield StatusPart(id="status-plotting")
        yield StatusPart(id="status-archiving")
        yield Static(id="status-cadence")

    def show(
        self,
        *,
        clock: str,
        plotting: tuple[str, str],
        archiving: tuple[str, str],
        look_s: float,
        schedule_s: float,
        pass_age_s: float | None,
    ) -> None:
        word, detail = plotting
        left = Text.assemble((clock, "bold"), "  Plotting: ", (word, _WORD_STYLE.get(word, "bold")))
        archive_word, archive_detail = archiving
        middle = Text.assemble("Archiving: ", (archive_word, _WORD_STYLE.get(archive_word, "bold")))
        right = Text("  ")
        if pass_age_s is None:
            right.append("starting…", "yellow")
        elif pass_age_s > max(STALE_AFTER_S, 2 * look_s):
            right.append(f"stale {human_duration(pass_age_s)}", "bold red")
        else:
            right.append(f"look {look_s:g}s · plan {schedule_s:g}s", "dim")
        # A reason may hold paths: never markup, nor controls.
        self._update("status-plotting", left, printable(detail), sized=False)
        self._update("status-archiving", middle, printable(archive_detail), sized=True)
        self._update("status-cadence", right, None, sized=True)

    def _update(self, part: str, head: Text, detail: str | None, *, sized: bool) -> None:
        text = head if not detail else Text.assemble(head, " ", detail)
        old = self._texts.get(part)
        if old is not None and same_text(old, text):
            return
        self._texts[part] = text
        layout = sized and (old is None or old.cell_len != text.cell_len)
        widget = self.query_one(f"#{part}", Static)
        if isinstance(widget, StatusPart):
            widget.show(head, detail or "", layout=layout)
        else:
            widget.update(text, layout=layout)


def same_text(old: Text, new: Text) -> bool:
    """Same characters and styles (Text's == compares the characters only)."""
    return old.plain == new.plain and old.spans == new.spans and old.style == new.style
