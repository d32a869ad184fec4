"""plotman's phase strip (one character per phase, how many jobs are there), as a bar chart.

One line high it is the strip, with counts for plotman's `` .:;!``::

    Phases 1 ·2·1····· 2 ·1······ 3 ······· 4 ·  ? 1

Taller, each phase gets a bar over its count and its minor number, grouped by major phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from rich.text import Text
from textual.widget import Widget

from plotman_tui.tui.view import PhaseBin

_MAJOR_STYLE = {1: "cyan", 2: "blue", 3: "magenta", 4: "green"}
_EIGHTHS = " ▁▂▃▄▅▆▇█"
_LABEL = "Phases "


def _count_char(count: int) -> str:
    if count == 0:
        return "·"
    return str(count) if count < 10 else "+"


def _style(major: int | None) -> str:
    return _MAJOR_STYLE.get(major, "yellow") if major is not None else "yellow"


def _groups(bins: Sequence[PhaseBin]) -> list[tuple[str, list[PhaseBin]]]:
    """Bins grouped by major phase, labelled ``1`` ... and ``?`` for unknown."""
    grouped = []
    for major, members in groupby(bins, key=lambda b: b.phase.major if b.phase else None):
        grouped.append(("?" if major is None else str(major), list(members)))
    return grouped


class PhaseHistogram(Widget):
    """How many jobs are at each phase."""

    DEFAULT_CSS = """
    PhaseHistogram { height: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._bins: list[PhaseBin] = []

    def show(self, bins: Sequence[PhaseBin]) -> None:
        if list(bins) != self._bins:
            self._bins = list(bins)
            self.refresh()

    def render(self) -> Text:
        height = self.size.height
        if height <= 1:
            return self._strip()
        return self._chart(height)

    def _strip(self) -> Text:
        text = Text(_LABEL, style="dim", no_wrap=True, overflow="crop")
        for label, members in _groups(self._bins):
            major = members[0].phase.major if members[0].phase else None
            text.append(label, style=f"bold {_style(major)}")
            text.append(" ")
            for member in members:
                char = _count_char(member.count)
                text.append(char, style=_style(major) if member.count else "dim")
            text.append(" ")
        text.append(f" {sum(b.count for b in self._bins)} jobs", style="dim")
        return text

    def _chart(self, height: int) -> Text:
        groups = _groups(self._bins)
        bins = len(self._bins)
        # Two cells a phase when there is room, one otherwise.
        wide = len(_LABEL) + bins * 2 + len(groups) * 2 <= self.size.width
        cell = 2 if wide else 1
        bar_rows = max(height - 2, 0)
        peak = max([b.count for b in self._bins] + [1])
        lines = [Text(no_wrap=True, overflow="crop") for _ in range(height)]
        for row, line in enumerate(lines):
            line.append(_LABEL if row == height - 1 else " " * len(_LABEL), style="dim")
        for label, members in groups:
            major = members[0].phase.major if members[0].phase else None
            style = _style(major)
            for row in range(height):
                lines[row].append(label if row == height - 1 else " ", style=f"bold {style}")
                lines[row].append(" ")
            for member in members:
                eighths = round(member.count / peak * bar_rows * 8)
                for row in range(bar_rows):
                    # Row 0 is the top: it fills last.
                    filled = eighths - (bar_rows - 1 - row) * 8
                    char = _EIGHTHS[min(max(filled, 0), 8)]
                    lines[row].append(char.ljust(cell), style=style)
                count = str(member.count) if member.count else ""
                lines[bar_rows].append(count[-cell:].ljust(cell), style=f"bold {style}")
                minor = str(member.phase.minor) if member.phase else ""
                lines[height - 1].append(minor[-cell:].ljust(cell), style="dim")
            for row in range(height):
                lines[row].append(" ")
        total = sum(b.count for b in self._bins)
        lines[height - 1].append(f" {total} jobs", style="dim")
        return Text("\n", no_wrap=True, overflow="crop").join(lines)
