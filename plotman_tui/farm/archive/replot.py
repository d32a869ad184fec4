"""Replotting: which old plots on the farmer may go, and which to remove to make room for one
new plot. Pure rules, no I/O (the files are listed and removed by :mod:`.farmer_files`).

SKELETON of issue 13: the types are final, the functions are filled in by the replot work.

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
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from plotman_tui.config.schema import ReplotRules

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
    ``plot-k*.plot``, regular files only); ``problems`` each one that could not to why.
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
    problem: str | None = None  # could not be listed


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


def plot_name_date(name: str) -> datetime.date | None:
    """The date a plot's name states (``plot-k32[-c07]-2021-06-01-12-30-...``); None if none."""
    raise NotImplementedError


def matches_rules(name: str, rules: ReplotRules) -> str | None:
    """Why a plot of this name may go under ``rules`` (``older than 2023-01-01, uncompressed``),
    None when it is no plot's name or fails any rule."""
    raise NotImplementedError


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
    included) fit, or why there are none (``no plot matches the replot rules``)."""
    raise NotImplementedError


def plan_summary(
    listing: FarmerListing, rules: ReplotRules | None, protected: Set[str], now: float
) -> ReplotPlan:
    """``replot plan``'s view of one target's listing."""
    raise NotImplementedError


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
    """Progress from the last listing and the removals made (time, bytes) by this machine."""
    raise NotImplementedError
