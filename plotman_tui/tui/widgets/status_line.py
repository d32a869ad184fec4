"""The top line: the clock, the refresh cadence, and what plotting and archiving are doing."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from plotman_tui.farm.units import human_duration

_WORD_STYLE = {"active": "bold green", "paused": "bold yellow"}
# A pass older than this is called stale on screen (a look runs every second).
STALE_AFTER_S = 3.0


class StatusLine(Horizontal):
    """``14:02:03  Plotting: active  waiting: stagger (…)`` ... ``Archiving: …  look 1s``."""

    def compose(self) -> ComposeResult:
        yield Static(id="status-plotting")
        yield Static(id="status-archiving")

    def show(
        self,
        *,
        clock: str,
        plotting: tuple[str, str],
        archiving: str,
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
            Text(detail),  # a reason may hold paths: never markup
        )
        left.no_wrap = True
        left.overflow = "ellipsis"
        right = Text.assemble("Archiving: ", (archiving, "bold"), "  ")
        if pass_age_s is None:
            right.append("starting…", "yellow")
        elif pass_age_s > STALE_AFTER_S:
            right.append(f"stale {human_duration(pass_age_s)}", "bold red")
        else:
            right.append(f"look {look_s:g}s · plan {schedule_s:g}s", "dim")
        self.query_one("#status-plotting", Static).update(left)
        self.query_one("#status-archiving", Static).update(right)
