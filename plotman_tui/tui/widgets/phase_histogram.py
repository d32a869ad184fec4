"""plotman's phase strip: how many jobs are at each phase, one row at every terminal size.

::

    phases  1[· 2 · 1 · · · ·]  2[· 1 · · · · · ·]  3[· · · · · · ·]  4[·]  ?1    30 jobs

Each major phase is a bracketed group of its minor phases, one character each: ``·`` no job,
a digit how many jobs are there, ``+`` ten or more. The major number stands outside its brackets
(dim), so it never reads as a count. ``?`` counts the jobs whose phase is not known yet (no log
line read). Every state is a normal one: the counts are plain, only the unknown count is
highlighted (it is worth a look, it is no error). Help has the legend.

Narrow terminals drop the room between the groups, the ``phases`` label, the total, and last
the spaces between the bins, so chia's 24 bins and the unknown fit in 80 columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from rich.text import Text
from textual.widget import Widget

from plotman_tui.tui.view import PhaseBin

_LABEL = "phases  "
_FRAME = "dim"  # the label, the major numbers and brackets: the frame, not the data
_EMPTY = "dim"
_COUNT = "bold"
_UNKNOWN = "bold yellow"  # jobs whose phase is not known yet: worth a look, not an error


def count_char(count: int) -> str:
    """One cell for a bin: ``·`` empty, the count up to 9, ``+`` for ten or more."""
    if count == 0:
        return "·"
    return str(count) if count < 10 else "+"


def _groups(bins: Sequence[PhaseBin]) -> list[tuple[int | None, list[PhaseBin]]]:
    """Bins grouped by major phase (None: unknown), in order."""
    return [
        (major, list(members))
        for major, members in groupby(bins, key=lambda b: b.phase.major if b.phase else None)
    ]


#: The layouts tried, roomiest first: (between bins, between groups, label, total). Bins apart
#: come first: side by side, ``1[·2112112]`` reads as a number.
_LAYOUTS = (
    (" ", "  ", True, True),
    (" ", " ", True, True),
    (" ", " ", False, True),
    (" ", " ", False, False),
    ("", "  ", True, True),
    ("", " ", True, True),
    ("", " ", False, True),
    ("", " ", False, False),
)


def strip_text(bins: Sequence[PhaseBin], width: int) -> Text:
    """The strip in at most ``width`` cells, as roomy as fits."""
    total = sum(b.count for b in bins)
    jobs = f"{total} job{'' if total == 1 else 's'}"
    text = Text()
    for between, gap, label, with_total in _LAYOUTS:
        text = _strip(
            bins,
            between=between,
            gap=gap,
            label=_LABEL if label else "",
            total=jobs if with_total else "",
        )
        if text.cell_len <= width:
            break
    return text  # the narrowest layout, cropped by the widget when even it does not fit


def _strip(bins: Sequence[PhaseBin], *, between: str, gap: str, label: str, total: str) -> Text:
    text = Text(no_wrap=True, overflow="crop")
    text.append(label, style=_FRAME)
    for index, (major, members) in enumerate(_groups(bins)):
        if index:
            text.append(gap)
        if major is None:
            text.append("?", style=_UNKNOWN)
            text.append(str(sum(m.count for m in members)), style=_UNKNOWN)
            continue
        text.append(f"{major}[", style=_FRAME)
        for position, member in enumerate(members):
            if position:
                text.append(between)
            text.append(count_char(member.count), style=_COUNT if member.count else _EMPTY)
        text.append("]", style=_FRAME)
    if total:
        text.append(f"{gap}{gap}{total}", style=_FRAME)
    return text


class PhaseHistogram(Widget):
    """How many jobs are at each phase: one row, whatever the terminal's height."""

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
        return strip_text(self._bins, self.size.width)
