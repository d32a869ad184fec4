"""The top line: the clock, what plotting and archiving are doing, and the refresh cadence."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

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
        yield Static(id="status-plotting")
        yield Static(id="status-archiving")
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
        left = Text.assemble(
            (clock, "bold"),
            "  Plotting: ",
            (word, _WORD_STYLE.get(word, "bold")),
            " ",
            Text(printable(detail)),  # a reason may hold paths: never markup, nor controls
        )
        left.no_wrap = True
        left.overflow = "ellipsis"
        archive_word, archive_detail = archiving
        middle = Text.assemble("Archiving: ", (archive_word, _WORD_STYLE.get(archive_word, "bold")))
        if archive_detail:
            middle.append(" ")
            middle.append(printable(archive_detail))
        middle.no_wrap = True
        middle.overflow = "ellipsis"
        right = Text("  ")
        if pass_age_s is None:
            right.append("starting…", "yellow")
        elif pass_age_s > max(STALE_AFTER_S, 2 * look_s):
            right.append(f"stale {human_duration(pass_age_s)}", "bold red")
        else:
            right.append(f"look {look_s:g}s · plan {schedule_s:g}s", "dim")
        self._update("status-plotting", left, sized=False)
        self._update("status-archiving", middle, sized=True)
        self._update("status-cadence", right, sized=True)

    def _update(self, part: str, text: Text, *, sized: bool) -> None:
        old = self._texts.get(part)
        if old is not None and same_text(old, text):
            return
        self._texts[part] = text
        layout = sized and (old is None or old.cell_len != text.cell_len)
        self.query_one(f"#{part}", Static).update(text, layout=layout)


def same_text(old: Text, new: Text) -> bool:
    """Same characters and styles (Text's == compares the characters only)."""
    return old.plain == new.plain and old.spans == new.spans and old.style == new.style
