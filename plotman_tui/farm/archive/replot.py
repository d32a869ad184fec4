"""Replotting: which old plots on the farmer may go, and which to remove to make room for one
new plot. Pure rules, no I/O (the files are listed and removed by :mod:`.farmer_files`).

**Which plots.** A plot on the farmer may be removed only when its name is a plot's, it matches
*every* rule of the target's ``[archiving.targets.replot]`` (:func:`matches_rules`; each rule
narrows), this machine never sent it (``protected``: the names the action log shows were moved
here) and it has not changed for :data:`QUIET_S` (a file being written is no old plot).

**How many.** When no archive dir of a target has room for the next plot, :func:`plan_room`
picks the archive dir that needs the fewest removals (ties: the most free space) and removes its
matching plots oldest first (by the date in the name, then mtime) until the plot, the margin and
``keep_free_gib`` fit: never more than needed.
"""

from __future__ import annotations

import datetime
import fnmatch
import math
import re
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from plotman_tui.config.schema import ReplotRules
from plotman_tui.farm.plotsize import plot_bytes_range
from plotman_tui.farm.units import human_bytes

#: A farmer's plot changed this recently may still be written (a transfer, a copy by hand):
#: it is never removed.
QUIET_S: Final = 600.0


def _no_problems() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class FarmerPlot:
    """One plot file in an archive dir of a target, as listed."""

    archive_dir: str
    name: str
    size_bytes: int
    mtime: float  # POSIX seconds; 0.0 when the listing could not tell


@dataclass(frozen=True)
class FarmerListing:
    """The plot files of a target's archive dirs when last listed.

    ``dirs`` maps each archive dir that could be listed to its plots (names matching
    ``plot-k*.plot``, regular files only, of a size a plot of their k may have); ``problems``
    each one that could not to why, and a listed one whose files named like plots were left
    out (``3 files named like plots have sizes no plot of their k has: left alone``).
    ``problem`` is target-wide (farmer unreachable, no list command): then ``dirs`` is empty.
    """

    target: str
    listed_at: float  # POSIX seconds, when the listing started
    dirs: Mapping[str, tuple[FarmerPlot, ...]]
    problems: Mapping[str, str] = field(default_factory=_no_problems)
    problem: str | None = None


@dataclass(frozen=True)
class Removal:
    """One old plot to remove, and why in a farmer's words (the rules it matched)."""

    plot: FarmerPlot
    reason: str


@dataclass(frozen=True)
class ReplotStep:
    """Make room in one archive dir of one target for one new plot."""

    target: str
    archive_dir: str
    removals: tuple[Removal, ...]
    for_plot: str  # the new plot's file name
    for_bytes: int
    dry_run: bool = False

    @property
    def freed_bytes(self) -> int:
        return sum(removal.plot.size_bytes for removal in self.removals)


@dataclass(frozen=True)
class ReplotState:
    """What the archive policy needs of one target's replotting (in its ``TargetState``)."""

    rules: ReplotRules
    listing: FarmerListing | None  # None: not listed yet
    protected: frozenset[str] = frozenset()  # plot names this machine sent: never removed
    #: A step is under way (its removals run, or the room it made is not used yet): no other.
    busy: bool = False
    #: Why replotting of this target stopped (a removal failed); None: it goes on.
    stopped: str | None = None


@dataclass(frozen=True)
class ReplotProgress:
    """How far replotting of one target has come (``dirs``, ``status --json``, metrics)."""

    target: str
    matching_plots: int  # old plots the rules still match on the farmer
    matching_bytes: int
    removed_plots: int  # removed by this machine (the action log)
    removed_bytes: int  # "replaced": the old plots' bytes removed
    new_plots_moved: int  # plots sent to this target since its first removal
    bytes_per_day: float | None  # removal rate over the last days; None: too early to tell
    days_left: float | None  # matching_bytes at that rate; None: unknown
    dry_run: bool = False
    stopped: str | None = None
    listed_at: float | None = None


@dataclass(frozen=True)
class ReplotDirPlan:
    """``replot plan``: one archive dir, what is in it and what the rules match."""

    archive_dir: str
    plots: int
    plot_bytes: int
    matching_plots: int
    matching_bytes: int
    #: Why it could not be listed; or, with the counts, why files in it were left out.
    problem: str | None = None


@dataclass(frozen=True)
class ReplotPlan:
    """``replot plan``: one target's dirs and what its rules match (nothing is changed)."""

    target: str
    rules: ReplotRules | None  # None: the target has no replot rules
    dirs: tuple[ReplotDirPlan, ...]
    problem: str | None = None

    @property
    def matching_plots(self) -> int:
        return sum(d.matching_plots for d in self.dirs)

    @property
    def matching_bytes(self) -> int:
        return sum(d.matching_bytes for d in self.dirs)


# -- plot names ---------------------------------------------------------------------------------

# A plot's file name: ``plot-k32[-c07]-YYYY-MM-DD-HH-MM-<64 hex>.plot``. BladeBit writes the level
# as two digits (``c07``), Gigahorse as one or two (``c7``, ``c18``). Bounded digit runs: int()
# never meets a huge number from an untrusted listing.
_PLOT_NAME: Final = re.compile(
    r"plot-k(?P<k>\d{2})-(?:c(?P<level>\d{1,2})-)?"
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})-(?P<hour>\d{2})-(?P<minute>\d{2})-"
    r"[0-9a-fA-F]{64}\.plot"
)
# The k plotters make: k18 (tests) to k50; anything else is not a plot.
_K_RANGE: Final = range(18, 51)
_DAY_S: Final = 86400.0
#: Removals older than this (before the newest) do not count towards the replotting rate.
RATE_WINDOW_S: Final = 7 * _DAY_S
#: A rate needs removals spread over at least this long (two at once say nothing of the pace).
RATE_MIN_SPAN_S: Final = 3600.0


def _plot_name(name: str) -> re.Match[str] | None:
    match = _PLOT_NAME.fullmatch(name)
    if match is None or int(match.group("k")) not in _K_RANGE:
        return None
    return match


def plot_name_date(name: str) -> datetime.date | None:
    """The date a plot's name states (``plot-k32[-c07]-2021-06-01-12-30-...``); None if none."""
    match = _plot_name(name)
    return _date_of(match) if match is not None else None


def _date_of(match: re.Match[str]) -> datetime.date | None:
    # An impossible date or time (2021-02-30, 25:61) is no date: the name was not a plotter's.
    if int(match.group("hour")) > 23 or int(match.group("minute")) > 59:
        return None
    try:
        return datetime.date(
            int(match.group("year")), int(match.group("month")), int(match.group("day"))
        )
    except ValueError:
        return None


def _has_rule(rules: ReplotRules) -> bool:
    # ``uncompressed = false`` narrows nothing, so it is no rule.
    return (
        rules.older_than is not None
        or rules.uncompressed is True
        or rules.compression_below is not None
        or bool(rules.k)
        or bool(rules.names)
    )


def matches_rules(name: str, rules: ReplotRules) -> str | None:
    """Why a plot of this name may go under ``rules`` (``older than 2023-01-01, uncompressed``),
    None when it is no plot's name or fails any rule."""
    match = _plot_name(name)
    return _reasons(match, _date_of(match), rules) if match is not None else None


def _reasons(match: re.Match[str], date: datetime.date | None, rules: ReplotRules) -> str | None:
    """:func:`matches_rules` of a plot name already matched (and its date read)."""
    # Rules that narrow nothing would match every plot: the loader refuses them, and so does
    # this, in case a caller builds them by hand.
    if not _has_rule(rules):
        return None
    name = match.string
    level_text = match.group("level")
    level = int(level_text) if level_text is not None else None
    reasons: list[str] = []
    if rules.older_than is not None:
        if date is None or not date < rules.older_than:
            return None
        reasons.append(f"older than {rules.older_than.isoformat()}")
    if rules.uncompressed is True:
        if level is not None:
            return None
        reasons.append("uncompressed")
    if rules.compression_below is not None:
        if (level or 0) >= rules.compression_below:
            return None
        stated = f"C{level}" if level is not None else "uncompressed"
        reasons.append(f"{stated} below C{rules.compression_below}")
    if rules.k:
        k = int(match.group("k"))
        if k not in rules.k:
            return None
        reasons.append(f"k{k}")
    if rules.names:
        glob = next((g for g in rules.names if fnmatch.fnmatchcase(name, g)), None)
        if glob is None:
            return None
        reasons.append(f"name matches {glob}")
    return ", ".join(reasons)


# -- which plots may go -------------------------------------------------------------------------


def _removable(
    plot: FarmerPlot, rules: ReplotRules, protected: Set[str], now: float
) -> tuple[tuple[bool, datetime.date, float, str], Removal] | None:
    """The plot as a removal with its place in the oldest-first order, when the rules match
    it, this machine did not send it and it has not changed for :data:`QUIET_S` (an mtime the
    listing could not tell counts as old: the removal checks the size again just before).
    The name is parsed once: a farmer may hold 10,000 plots."""
    if plot.name in protected or plot.mtime > now - QUIET_S:
        return None
    match = _plot_name(plot.name)
    if match is None:
        return None
    date = _date_of(match)
    reason = _reasons(match, date, rules)
    if reason is None:
        return None
    # A name without a readable date goes after the dated ones (its age is a guess).
    order = (date is None, date or datetime.date.min, plot.mtime, plot.name)
    return order, Removal(plot, reason)


def removable_plots(
    plots: Iterable[FarmerPlot], rules: ReplotRules, protected: Set[str], now: float
) -> list[Removal]:
    """The plots that may go under ``rules``, oldest first (name's date, then mtime, name)."""
    ranked = [r for r in (_removable(p, rules, protected, now) for p in plots) if r is not None]
    ranked.sort(key=lambda pair: pair[0])
    return [removal for _, removal in ranked]


@dataclass(frozen=True)
class _DirRoom:
    archive_dir: str
    free_bytes: int
    removals: tuple[Removal, ...]  # exactly enough; empty when the plot already fits
    enough: bool
    room_bytes: int  # free space with every removable plot gone


def _dir_room(archive_dir: str, free: int, need: int, candidates: Sequence[Removal]) -> _DirRoom:
    taken: list[Removal] = []
    room = free
    for removal in candidates:
        if room >= need:
            break
        taken.append(removal)
        room += removal.plot.size_bytes
    all_gone = free + sum(r.plot.size_bytes for r in candidates)
    return _DirRoom(archive_dir, free, tuple(taken), room >= need, all_gone)


def _smallest_plausible(name: str) -> int | None:
    """The smallest size a plot of this name may have (its k and stated level), None if the
    name is no plot's."""
    match = _plot_name(name)
    if match is None:
        return None
    level = match.group("level")
    low, _ = plot_bytes_range(int(match.group("k")), int(level) if level is not None else None)
    return low


def most_removals(need_bytes: int, removals: Sequence[Removal]) -> int:
    """The most plots like ``removals`` that can be needed to free ``need_bytes``: need over
    the smallest plausible size of their k and level (:func:`plotsize.plot_bytes_range`),
    rounded up, plus one. 0 for no removals, or any of them not a plot's name."""
    lows: list[int] = []
    for removal in removals:
        low = _smallest_plausible(removal.plot.name)
        if low is None or low <= 0:
            return 0
        lows.append(low)
    return math.ceil(max(need_bytes, 0) / min(lows)) + 1 if lows else 0


def plan_room(
    listing: FarmerListing,
    free_bytes: Mapping[str, int | None],
    need_bytes: int,
    rules: ReplotRules,
    *,
    for_plot: str,
    protected: Set[str],
    now: float,
    in_flight_bytes: Mapping[str, int] | None = None,
) -> ReplotStep | str:
    """The fewest removals from one archive dir that let a plot of ``need_bytes`` (margins
    included) fit, or why there are none (``no plot matches the replot rules``).

    A dir counts when it was listed and its free space is known; it needs ``need_bytes`` plus
    the bytes already on their way to it (``in_flight_bytes``). Its removable plots
    (:func:`removable_plots`) go oldest first until the plot fits, and not one more. The dir
    needing the fewest wins; ties go to the most free space, then to the listing's order. A dir
    where the plot fits already wins with no removals (the caller asked while one had room).

    A last guard against sizes that lie (a ``list_command`` printing KiB makes every plot look
    1,000 times smaller): a step removing more plots than plots of their k could possibly need
    (:func:`most_removals`) is refused with the reason.
    """
    in_flight = in_flight_bytes or {}
    options: list[_DirRoom] = []
    any_match = False
    for archive_dir, plots in listing.dirs.items():
        free = free_bytes.get(archive_dir)
        if free is None:
            continue
        candidates = removable_plots(plots, rules, protected, now)
        any_match = any_match or bool(candidates)
        options.append(
            _dir_room(archive_dir, free, need_bytes + in_flight.get(archive_dir, 0), candidates)
        )
    fitting = [option for option in options if option.enough]
    if fitting:
        # min() keeps the first of equals: the listing's (the target's) order breaks last ties.
        best = min(fitting, key=lambda o: (len(o.removals), -o.free_bytes))
        needed = need_bytes + in_flight.get(best.archive_dir, 0)
        limit = most_removals(needed, best.removals)
        if len(best.removals) > limit:
            return (
                f"full, and making room for {for_plot} in {best.archive_dir} would remove "
                f"{len(best.removals)} plots where no more than {limit} plots of their size can "
                f"be needed for {human_bytes(needed)}: their listed sizes cannot be right; "
                "nothing is removed"
            )
        return ReplotStep(
            target=listing.target,
            archive_dir=best.archive_dir,
            removals=best.removals,
            for_plot=for_plot,
            for_bytes=need_bytes,
            dry_run=rules.dry_run,
        )
    if not options:
        why = listing.problem or "no archive dir with known free space could be listed"
        return f"full, and the plots on the farmer cannot be listed: {why}"
    if not any_match:
        return "full, and no plot matches the replot rules"
    largest = max(options, key=lambda o: o.room_bytes)
    return (
        f"full, and the plots the replot rules match cannot make room for {for_plot} "
        f"(largest room: {human_bytes(largest.room_bytes)} in {largest.archive_dir}, "
        f"{human_bytes(need_bytes + in_flight.get(largest.archive_dir, 0))} needed)"
    )


# -- replot plan and progress -------------------------------------------------------------------


def plan_summary(
    listing: FarmerListing, rules: ReplotRules | None, protected: Set[str], now: float
) -> ReplotPlan:
    """``replot plan``'s view of one target's listing.

    "Matching" plots are the ones a step could remove now (:func:`removable_plots`); with no
    rules, none. Dirs that could not be listed come after the listed ones, with the reason; a
    listed dir with files left out of its listing has its counts and that problem.
    """
    dirs: list[ReplotDirPlan] = []
    for archive_dir, plots in listing.dirs.items():
        matching = removable_plots(plots, rules, protected, now) if rules is not None else []
        dirs.append(
            ReplotDirPlan(
                archive_dir=archive_dir,
                plots=len(plots),
                plot_bytes=sum(plot.size_bytes for plot in plots),
                matching_plots=len(matching),
                matching_bytes=sum(removal.plot.size_bytes for removal in matching),
                problem=listing.problems.get(archive_dir),
            )
        )
    dirs.extend(
        ReplotDirPlan(archive_dir, 0, 0, 0, 0, problem=problem)
        for archive_dir, problem in listing.problems.items()
        if archive_dir not in listing.dirs
    )
    return ReplotPlan(target=listing.target, rules=rules, dirs=tuple(dirs), problem=listing.problem)


def removal_rate(removals: Sequence[tuple[float, int]]) -> float | None:
    """Bytes removed per day over the last :data:`RATE_WINDOW_S` of ``removals`` (time, bytes);
    None before two removals at least :data:`RATE_MIN_SPAN_S` apart.

    The first removal of the window only starts the clock: n removals span n - 1 gaps.
    """
    sane = sorted(
        (time, size)
        for time, size in removals
        if math.isfinite(time) and isinstance(size, int) and size >= 0
    )
    if len(sane) < 2:
        return None
    newest = sane[-1][0]
    window = [(time, size) for time, size in sane if time >= newest - RATE_WINDOW_S]
    span = newest - window[0][0]
    if len(window) < 2 or span < RATE_MIN_SPAN_S:
        return None
    return sum(size for _, size in window[1:]) / (span / _DAY_S)


def moved_since_first_removal(
    removals: Iterable[tuple[float, int]], sent_at: Iterable[float]
) -> int:
    """The plots sent to a target since its first removal (time, bytes): the new plots of its
    replot; 0 before any removal."""
    first = min((when for when, _ in removals), default=None)
    return 0 if first is None else sum(1 for when in sent_at if when >= first)


def replot_progress(
    target: str,
    listing: FarmerListing | None,
    rules: ReplotRules,
    protected: Set[str],
    removals: Sequence[tuple[float, int]],
    moved_since_first_removal: int,
    now: float,
    *,
    stopped: str | None = None,
) -> ReplotProgress:
    """Progress from the last listing and the removals made (time, bytes) by this machine.

    The rate is :func:`removal_rate`; ``days_left`` the matching bytes at that rate (0 when
    nothing matches any more; None while the farmer was not listed or the rate is unknown).
    """
    matching: list[Removal] = []
    if listing is not None:
        for plots in listing.dirs.values():
            matching.extend(removable_plots(plots, rules, protected, now))
    matching_bytes = sum(removal.plot.size_bytes for removal in matching)
    rate = removal_rate(removals)
    days_left: float | None = None
    if listing is not None and not matching:
        days_left = 0.0
    elif listing is not None and rate is not None and rate > 0:
        days_left = matching_bytes / rate
    return ReplotProgress(
        target=target,
        matching_plots=len(matching),
        matching_bytes=matching_bytes,
        removed_plots=len(removals),
        removed_bytes=sum(size for _, size in removals),
        new_plots_moved=moved_since_first_removal,
        bytes_per_day=rate,
        days_left=days_left,
        dry_run=rules.dry_run,
        stopped=stopped,
        listed_at=listing.listed_at if listing is not None else None,
    )
