"""Plot history summarised: groups of records, their phase-time spreads and their output.

Pure functions over :class:`~plotman_tui.farm.history.PlotRecord` s: ``analyze``, ``export``,
the dashboard's history screen and the metrics all read history through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plotman_tui.farm.history import PlotRecord

#: What ``analyze --by`` can group on, in the order the table shows them.
GROUP_KEYS = (
    "plotter",
    "k",
    "compression",
    "tmp",
    "tmp2",
    "dst",
    "threads",
    "buckets",
    "buffer",
    "bitfield",
    "day",
    "week",
)
#: The durations summarised for each group, in the order the table shows them.
MEASURES = ("phase1", "phase2", "phase3", "phase4", "total", "copy")


@dataclass(frozen=True)
class Spread:
    """n, mean, standard deviation (0 for one value), min, median and max of some seconds."""

    n: int
    mean: float
    stdev: float
    min: float
    median: float
    max: float


@dataclass(frozen=True)
class GroupSummary:
    """One group of plots: ``key`` holds one text per ``--by`` name ("-" for unknown)."""

    key: tuple[str, ...]
    #: Per name in MEASURES; None when no plot of the group has that duration.
    spreads: dict[str, Spread | None]
    plots_finished: int
    bytes_written: int
    #: From the group's first start to its last end, at least one day.
    span_seconds: float
    plots_per_day: float
    tib_per_day: float


@dataclass(frozen=True)
class DayTotal:
    """Plots finished (and their bytes) on one local calendar day, ``day`` as ``YYYY-MM-DD``."""

    day: str
    plots: int
    bytes_written: int


def summarize(records: Iterable[PlotRecord], by: Sequence[str]) -> list[GroupSummary]:
    """Completed plots grouped by ``by`` (names from GROUP_KEYS; none: one group of all),
    groups in order of their key."""
    raise NotImplementedError


def per_day(records: Iterable[PlotRecord], days: int, now: float) -> list[DayTotal]:
    """The last ``days`` local days up to ``now``, oldest first, days without plots included."""
    raise NotImplementedError
