"""Plot history summarised: groups of records, their phase-time spreads and their output.

Pure functions over :class:`~plotman_tui.farm.history.PlotRecord` s: ``analyze``, ``export``,
the dashboard's history screen and the metrics all read history through here.

What the numbers mean:

- Only **completed** plots count: a plot still running, killed or cut short is left out of
  every figure here (``analyze`` lists those below its table).
- A **spread** is n, mean, standard deviation, min, median and max of one duration over a group,
  in seconds: the phase 1-4 times, the total time (the plotter's own "Total time", without the
  copy) and the copy time (to the final dir), each as the plot's log states it. ``n`` is how
  many plots of the group have that duration: a plotter that does no copy (BladeBit writing to
  its final dir) has no copy spread. The standard deviation is the sample one (n - 1), 0 for a
  single plot. A duration that is missing, not a finite number, negative or longer than
  :data:`MAX_SECONDS` (a log's or cache's garbage, not a plot) is left out of its spread.
- **Plots finished** counts the group's completed plots; **bytes written** adds up their final
  files' sizes (the file's own size when it is still there, else the planned size for its k).
- **plots/day** and **TiB/day** (1 TiB = 2**40 bytes) are those divided by the group's
  **span**: from the first plot's start to the last plot's end, in days, at least one day (so
  one plot made in 8 hours reads as 1 plot/day, not 3). For a group of plots run in parallel
  this is the farm's real rate, not one job's. Grouped by ``day`` or ``week``, the span is
  clipped to that day or week: a day's plots/day is the plots that ended on it (not spread
  back to the evening before, when the first of them started), a week's counts from its
  Monday.
- A **day** is the local calendar date (``YYYY-MM-DD``) the plot ended on, or started on when
  its end is unknown; a **week** is its ISO week (``2026-W48``, weeks start on Monday).
"""

from __future__ import annotations

import math
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import repeat
from operator import attrgetter
from typing import Any

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

#: The text of a group value the log does not tell (or the plotter does not have).
UNKNOWN = "-"
#: 1 TiB.
TIB = 2**40
DAY_SECONDS = 86400.0
#: A duration above this (about 31 years) is no plot's: garbage from a log or a cache, left out
#: (it also keeps sums and squares of untrusted numbers finite).
MAX_SECONDS = 1e9
#: A final size above this (8 EiB) is no plot's: left out of bytes written.
MAX_BYTES = 2**63


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
    #: From the group's first start to its last end (within its day or week when grouped by
    #: one), at least one day.
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
    groups in order of their key.

    Keys sort as a farmer reads them: numbers by value (k 32 before k 33, threads 4 before
    16), text by its characters, unknown ("-") last. ``ValueError`` for a name not in
    GROUP_KEYS. No completed plots: no groups.
    """
    unknown = [name for name in by if name not in _KEYS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)}: use {', '.join(GROUP_KEYS)}")
    done = [record for record in records if record.completed]
    groups: dict[tuple[str, ...], list[PlotRecord]] = {(): done} if done else {}
    if by:
        groups = defaultdict(list)
        # A column of key texts per name, then one pass putting each plot in its group.
        keys = zip(*[_key_column(name, done) for name in by], strict=True)
        for key, record in zip(keys, done, strict=True):
            groups[key].append(record)
    day = by.index("day") if "day" in by else None
    week = by.index("week") if "week" in by else None
    return [
        _summary(key, groups[key], _period(key, day, week))
        for key in sorted(groups, key=_key_order)
    ]


def per_day(records: Iterable[PlotRecord], days: int, now: float) -> list[DayTotal]:
    """The last ``days`` local days up to ``now``, oldest first, days without plots included."""
    if days <= 0:
        return []
    today = _local_date(now)
    if today is None:
        return []
    names = [(today - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]
    plots = dict.fromkeys(names, 0)
    written = dict.fromkeys(names, 0)
    for record in records:
        if not record.completed:
            continue
        day = _day(record)
        if day in plots:
            plots[day] += 1
            written[day] += usable_bytes(record)
    return [DayTotal(name, plots[name], written[name]) for name in names]


# --- groups -------------------------------------------------------------------------------------


def _number(value: int | None) -> str:
    return UNKNOWN if value is None else str(value)


def _path(value: str | None) -> str:
    return value if value else UNKNOWN


def _on_off(value: bool | None) -> str:
    return UNKNOWN if value is None else ("on" if value else "off")


def _local_date(timestamp: float | None) -> date | None:
    found = local_datetime(timestamp)
    return None if found is None else found.date()


def _end_date(record: PlotRecord) -> date | None:
    found = _local_date(record.ended_at)
    return found if found is not None else _local_date(record.started_at)


def _end_dates(records: Sequence[PlotRecord]) -> list[date | None]:
    """:func:`_end_date` of each of ``records``: in C loops when every plot's end is a time
    that has a local date (the usual case), else a plot at a time."""
    try:
        moments = map(datetime.fromtimestamp, map(_ENDED_AT, records))
        return list(map(datetime.date, moments))
    except (TypeError, ValueError, OverflowError, OSError):  # an end not known, or out of range
        return list(map(_end_date, records))


_ENDED_AT = attrgetter("ended_at")


def _day_text(found: date | None) -> str:
    return UNKNOWN if found is None else found.isoformat()


def _week_text(found: date | None) -> str:
    if found is None:
        return UNKNOWN
    year, week, _weekday = found.isocalendar()
    return f"{year}-W{week:02d}"


def _day(record: PlotRecord) -> str:
    return _day_text(_end_date(record))


def _values(name: str) -> Callable[[Sequence[PlotRecord]], list[Any]]:
    get = attrgetter(name)
    return lambda records: list(map(get, records))


#: Per ``--by`` name: the value each record is grouped on, and that value's text.
_KEYS: dict[str, tuple[Callable[[Sequence[PlotRecord]], list[Any]], Callable[[Any], str]]] = {
    "plotter": (_values("plotter"), _path),
    "k": (_values("k"), _number),
    "compression": (_values("compression"), _number),
    "tmp": (_values("tmp_dir"), _path),
    "tmp2": (_values("tmp2_dir"), _path),
    "dst": (_values("dst_dir"), _path),
    "threads": (_values("threads"), _number),
    "buckets": (_values("buckets"), _number),
    "buffer": (_values("buffer_mib"), _number),
    "bitfield": (_values("bitfield"), _on_off),
    "day": (_end_dates, _day_text),
    "week": (_end_dates, _week_text),
}
assert tuple(_KEYS) == GROUP_KEYS


def _key_column(name: str, records: Sequence[PlotRecord]) -> list[str]:
    """Each record's ``--by name`` text. Each distinct value's text is made once: a farm's
    thousands of plots have a few dirs and k's, a few hundred days."""
    values_of, text_of = _KEYS[name]
    values = values_of(records)
    texts = {value: text_of(value) for value in set(values)}
    return list(map(texts.__getitem__, values))


def _key_order(key: tuple[str, ...]) -> tuple[tuple[int, int, str], ...]:
    # Numbers by value before text; unknown after both.
    def part(text: str) -> tuple[int, int, str]:
        if text == UNKNOWN:
            return (2, 0, "")
        if text.isascii() and text.isdigit():
            return (0, int(text), "")
        return (1, 0, text)

    return tuple(part(text) for text in key)


# --- figures ------------------------------------------------------------------------------------


def usable_seconds(value: float | None) -> float | None:
    """A duration as a float when it is one a plot can have (finite, 0 to :data:`MAX_SECONDS`),
    else None."""
    if value is None or not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
        return None
    return float(value)


def local_datetime(timestamp: float | None) -> datetime | None:
    """A POSIX timestamp as a naive local datetime; None when unknown or out of range."""
    if timestamp is None or not math.isfinite(timestamp):
        return None
    try:
        return datetime.fromtimestamp(timestamp)
    except (OverflowError, OSError, ValueError):  # a year past 9999, or before the epoch's range
        return None


def usable_bytes(record: PlotRecord) -> int:
    """The plot's final size when it is one a file can have, else 0."""
    size = record.final_bytes
    return size if size is not None and 0 <= size <= MAX_BYTES else 0


_DURATIONS: dict[str, Callable[[PlotRecord], float | None]] = {
    "phase1": attrgetter("phase1_seconds"),
    "phase2": attrgetter("phase2_seconds"),
    "phase3": attrgetter("phase3_seconds"),
    "phase4": attrgetter("phase4_seconds"),
    "total": attrgetter("total_seconds"),
    "copy": attrgetter("copy_seconds"),
}
assert tuple(_DURATIONS) == MEASURES
_STARTED_AT = attrgetter("started_at")
_FINAL_BYTES = attrgetter("final_bytes")


def spread(values: Iterable[float | None]) -> Spread | None:
    """The spread of the usable durations among ``values`` (see the module's notes); None when
    none is usable."""
    # usable_seconds inline (10,000 plots: six spreads each): NaN fails both comparisons.
    kept = [v for v in values if v is not None and 0.0 <= v <= MAX_SECONDS]
    kept.sort()
    n = len(kept)
    if n == 0:
        return None
    mean = math.fsum(kept) / n
    # (v - mean) ** 2 for each v, computed in C (map), the same operations in the same order.
    squares = map(pow, map(operator.sub, kept, repeat(mean)), repeat(2))
    stdev = math.sqrt(math.fsum(squares) / (n - 1)) if n > 1 else 0.0
    middle = n // 2
    median = kept[middle] if n % 2 else (kept[middle - 1] + kept[middle]) / 2
    return Spread(n, mean, stdev, kept[0], median, kept[-1])


def _period(key: tuple[str, ...], day: int | None, week: int | None) -> tuple[float, float] | None:
    """The local calendar time a group of one day or one week covers, as POSIX times (None:
    not grouped by day or week, or the group's day or week is unknown or out of range)."""
    midnight = datetime.min.time()
    try:
        if day is not None and key[day] != UNKNOWN:
            begin = datetime.combine(date.fromisoformat(key[day]), midnight).timestamp()
            # One day, however long its clock made it (23 or 25 hours when it changed): a
            # day's plots/day is the plots that ended on it.
            return (begin, begin + DAY_SECONDS)
        if week is not None and key[week] != UNKNOWN:
            year, number = key[week].split("-W")
            monday = date.fromisocalendar(int(year), int(number), 1)
            return (
                datetime.combine(monday, midnight).timestamp(),
                datetime.combine(monday + timedelta(days=7), midnight).timestamp(),
            )
    except (ValueError, OverflowError, OSError):  # the last week of year 9999
        pass
    return None


def _summary(
    key: tuple[str, ...], records: list[PlotRecord], period: tuple[float, float] | None = None
) -> GroupSummary:
    spreads = {name: spread(map(get, records)) for name, get in _DURATIONS.items()}
    # usable_bytes inline, and only finite times: a Python call per plot costs more than the rest.
    sizes = map(_FINAL_BYTES, records)
    written = sum([v for v in sizes if v is not None and 0 <= v <= MAX_BYTES])
    starts = [t for t in map(_STARTED_AT, records) if t is not None and math.isfinite(t)]
    ends = [t for t in map(_ENDED_AT, records) if t is not None and math.isfinite(t)]
    span = DAY_SECONDS
    if starts or ends:
        first, last = min(starts or ends), max(ends or starts)
        if period is not None:  # a day's or week's plots: over that day or week, not before
            first, last = max(first, period[0]), min(last, period[1])
        span = max(last - first, DAY_SECONDS) if math.isfinite(last - first) else DAY_SECONDS
    span_days = span / DAY_SECONDS
    return GroupSummary(
        key=key,
        spreads=spreads,
        plots_finished=len(records),
        bytes_written=written,
        span_seconds=span,
        plots_per_day=len(records) / span_days,
        tib_per_day=written / TIB / span_days,
    )
