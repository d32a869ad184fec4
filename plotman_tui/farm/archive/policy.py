"""Which finished plot goes where next: pure rules, no I/O.

The engine lists the dst dirs' plots, samples free space (locally, or over SSH on the farmer),
and knows the plot jobs and the transfers under way; these functions turn that into the
transfers to start now, or the reason each target waits. They read no clock, no disk and no
process table.

**Which plot.** A candidate is a finished plot in a dst dir (:func:`is_finished_plot`). Within
a dst dir the oldest plot goes first.

**Which dst dir first** (:func:`dst_priority`) is plotman's ``compute_priority``::

    priority = 50
             - 4 / 8 / 16 / 32   a job headed to this dst is at phase 3:4 / 3:5 / 3:6 / 3:7 or later
             + 1 + int(10 - room)   when fewer than 10 plots still fit (room: plots that fit)
             + 1 + int(5 - room)    when fewer than 5 plots still fit
             + plots               the finished plots in it

Highest first; ties go to the fuller dst. The penalty keeps archiving from reading a disk
that a job is about to copy its finished plot to (only the furthest job counts, and a job whose
phase is unknown does not). plotman counted free space in GB of k32 plots (1000 and 500 GB, one
point per 100 GB); here it is counted in plots of the size found in that dir, so the rule means
the same for the sandbox's k18 plots. When several transfers run, each transfer reading from a
dst dir costs it as much as a job copying its plot there (32): two transfers reading one disk at
once make both slow, so reads spread over the dst disks.

**Which archive dir** (:func:`choose_archive_dir`): among the dirs with room for the plot, the
margin and the plots already on their way there, the one with the most free space; so
transfers spread over the farmer's disks.

**Never twice.** A plot that is on its way somewhere is not picked again, and each target runs
at most ``max_concurrent`` transfers (:func:`pick_transfers`).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final

from plotman_tui.config.schema import ArchiveTarget
from plotman_tui.farm.archive.replot import ReplotState, ReplotStep, plan_room
from plotman_tui.farm.model import Job
from plotman_tui.farm.plotsize import final_plot_bytes, plot_bytes_range
from plotman_tui.farm.units import human_bytes
from plotman_tui.plotters.phase import Phase

#: A finished plot's file name; the chia, madMAx and BladeBit temp names end in ``.tmp``.
PLOT_NAME: Final = re.compile(r"^plot-k(\d+)-.+\.plot$")
#: The compression level a plot's name states: BladeBit ``plot-k32-c07-...``, Gigahorse
#: ``plot-k32-c18-...``.
PLOT_LEVEL: Final = re.compile(r"^plot-k\d+-c(\d{1,2})-")

#: A plot file must be left unchanged this long before it is moved (copied by hand, or by a
#: plotter that writes the final name directly, it may still be growing).
SETTLE_SECONDS: Final = 60.0

_PRIORITY_BASE: Final = 50
# (phase reached by a job headed to the dst, priority lost), furthest first: plotman's numbers.
_PHASE_PENALTIES: Final = ((Phase(3, 7), 32), (Phase(3, 6), 16), (Phase(3, 5), 8), (Phase(3, 4), 4))
# Priority a dst dir loses for each transfer already reading from it (as for a job copying there).
READ_PENALTY: Final = 32
# Plots that still fit below which a dst counts as filling up, one point more per plot less:
# plotman's 1000 GB and 500 GB at a point per 100 GB, a k32 plot taken as about 100 GB.
_FULLNESS_THRESHOLDS: Final = (10, 5)


@dataclass(frozen=True)
class PlotCandidate:
    """A finished plot in a dst dir, as the engine found it."""

    path: str
    dst_dir: str
    size_bytes: int
    mtime: float  # POSIX seconds
    k: int

    @property
    def name(self) -> str:
        """The plot's file name."""
        return os.path.basename(self.path)


@dataclass(frozen=True)
class DstState:
    """One dst dir: its free space (None: unknown) and the finished plots in it."""

    path: str
    free_bytes: int | None
    plots: tuple[PlotCandidate, ...] = ()


@dataclass(frozen=True)
class DstRank:
    """A dst dir's place in the order plots are taken from, and why."""

    path: str
    priority: int
    furthest_phase: Phase | None  # of the jobs headed there; None: none with a known phase
    free_bytes: int | None
    plot_count: int


@dataclass(frozen=True)
class Transfer:
    """One plot going to one archive dir of one target (to start, or under way)."""

    plot: PlotCandidate
    target: str  # the target's name
    archive_dir: str


@dataclass(frozen=True)
class HeldPlot:
    """A finished plot that may not move yet, and why in a farmer's words (``waits for its
    retry at 12:00:30 (in 25 s): ...``): it follows the plot's name in a wait reason."""

    path: str
    reason: str

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


@dataclass(frozen=True)
class ArchiveWait:
    """Nothing (more) starts; ``reason`` says why in a farmer's words, for ``target`` if set."""

    reason: str
    target: str | None = None


def _no_free_space() -> Mapping[str, int | None]:
    return MappingProxyType({})


@dataclass(frozen=True)
class TargetState:
    """What the rules need of one enabled target: its limits and its dirs' sampled free space.

    ``archive_dirs_free`` maps each archive dir, in the configured order, to its free bytes
    (None: unknown). ``problem`` is set when the target cannot take plots now (the farmer
    unreachable, a host key mismatch): it becomes the target's wait reason.
    """

    name: str
    max_concurrent: int = 1
    margin_bytes: int = 0
    archive_dirs_free: Mapping[str, int | None] = field(default_factory=_no_free_space)
    problem: str | None = None
    #: The target's replotting (None: it has no replot rules, or they are off).
    replot: ReplotState | None = None

    @classmethod
    def of(
        cls,
        target: ArchiveTarget,
        archive_dirs_free: Mapping[str, int | None],
        problem: str | None = None,
    ) -> TargetState:
        """The state of a configured target; dirs missing from ``archive_dirs_free`` are unknown."""
        return cls(
            name=target.name,
            max_concurrent=target.max_concurrent,
            margin_bytes=target.free_space_margin_bytes,
            archive_dirs_free=MappingProxyType(
                {d: archive_dirs_free.get(d) for d in target.archive_dirs}
            ),
            problem=problem,
        )


@dataclass(frozen=True)
class ArchivePlan:
    """What to do now: the transfers to start, and why each idle target starts nothing more."""

    starts: tuple[Transfer, ...] = ()
    waits: tuple[ArchiveWait, ...] = ()
    #: Room to make on the farmer (replotting): old plots to remove before the plot can go.
    replots: tuple[ReplotStep, ...] = ()


# -- which files are plots ----------------------------------------------------------------------


def plot_name_k(name: str) -> int | None:
    """The k of a finished plot's file name (``plot-k32-....plot``), None for any other name."""
    match = PLOT_NAME.match(name)
    if match is None:
        return None
    k = int(match.group(1))
    # Plotters make k18 (tests) to k50 at most; anything else is not a plot (and a huge k would
    # overflow the size arithmetic).
    return k if 18 <= k <= 50 else None


def plot_name_level(name: str) -> int | None:
    """The compression level a plot's file name states (``-c07-``), None when it states none."""
    match = PLOT_LEVEL.match(name)
    return int(match.group(1)) if match is not None else None


def plausible_plot_bytes(k: int, level: int | None = None) -> tuple[int, int]:
    """The smallest and largest size a finished plot of size ``k`` may have, compressed or not:
    :func:`plotsize.plot_bytes_range` (down to the smallest plot any plotter makes at the level
    a name states; a name without one may be any plot, down to BladeBit's C9)."""
    return plot_bytes_range(k, level)


def is_finished_plot(
    name: str,
    size_bytes: int,
    mtime: float,
    now: float,
    *,
    settle_seconds: float = SETTLE_SECONDS,
) -> bool:
    """Whether a file is a finished plot that may be moved.

    Its name is a plot's (not a ``.tmp``), its size is plausible for its k (compressed plots
    down to BladeBit's C9 included, and Gigahorse's higher levels when the name states one),
    and it has not changed for ``settle_seconds``.
    """
    k = plot_name_k(name)
    if k is None:
        return False
    low, high = plausible_plot_bytes(k, plot_name_level(name))
    return low <= size_bytes <= high and now - mtime >= settle_seconds


# -- which dst dir first ------------------------------------------------------------------------


def dst_score(
    furthest_phase: Phase | None, free_bytes: int | None, plot_count: int, plot_bytes: int
) -> int:
    """plotman's priority of a dst dir to archive from (higher first); see the module doc.

    ``plot_bytes``: the size of one plot there, the unit free space is counted in.
    """
    priority = _PRIORITY_BASE
    if furthest_phase is not None:
        for phase, penalty in _PHASE_PENALTIES:
            if furthest_phase >= phase:
                priority -= penalty
                break
    if free_bytes is not None and plot_bytes > 0:
        room = max(free_bytes, 0) / plot_bytes
        for threshold in _FULLNESS_THRESHOLDS:
            if room < threshold:
                priority += 1 + int(threshold - room)
    return priority + plot_count


def _norm(path: str | None) -> str | None:
    return os.path.normpath(path) if path else None


def furthest_phases(jobs: Iterable[Job]) -> dict[str, Phase]:
    """Each dst dir's furthest phase among the running jobs headed there (known phases only)."""
    furthest: dict[str, Phase] = {}
    for job in jobs:
        dst = _norm(job.dst_dir)
        # A completed job has copied its plot: it will not write to the dst again.
        if dst is None or job.phase is None or job.completed:
            continue
        if dst not in furthest or job.phase > furthest[dst]:
            furthest[dst] = job.phase
    return furthest


def dst_priority(dsts: Sequence[DstState], jobs: Sequence[Job]) -> list[DstRank]:
    """The dst dirs in the order to take plots from: highest priority first, then fuller."""
    phases = furthest_phases(jobs)
    ranks: list[tuple[tuple[int, bool, int, int], DstRank]] = []
    for position, dst in enumerate(dsts):
        path = os.path.normpath(dst.path)
        sizes = [plot.size_bytes for plot in dst.plots]
        # A dir without plots is ranked too (for display); it counts in k32 plots.
        plot_bytes = max(sizes) if sizes else final_plot_bytes(32)
        phase = phases.get(path)
        rank = DstRank(
            path=dst.path,
            priority=dst_score(phase, dst.free_bytes, len(dst.plots), plot_bytes),
            furthest_phase=phase,
            free_bytes=dst.free_bytes,
            plot_count=len(dst.plots),
        )
        free = dst.free_bytes
        ranks.append(((-rank.priority, free is None, free or 0, position), rank))
    ranks.sort(key=lambda item: item[0])
    return [rank for _, rank in ranks]


# -- which archive dir --------------------------------------------------------------------------


def choose_archive_dir(
    archive_dirs_free: Mapping[str, int | None],
    plot_bytes: int,
    margin_bytes: int,
    in_flight_bytes: Mapping[str, int] | None = None,
) -> str | ArchiveWait:
    """The archive dir for a plot of ``plot_bytes``, or why none will do.

    A dir fits when its free space, less the plots on their way to it (``in_flight_bytes``:
    they may not have landed yet), holds the plot and ``margin_bytes``. Of those that fit, the
    one with the most room left; ties go to the first listed.
    """
    on_the_way = in_flight_bytes or {}
    if not archive_dirs_free:
        return ArchiveWait("no archive dirs")
    best: tuple[int, str] | None = None
    problems: list[str] = []
    for directory, free in archive_dirs_free.items():
        inbound = on_the_way.get(directory, 0)
        needed = plot_bytes + margin_bytes + inbound
        if free is None:
            problems.append(f"{directory}: free space unknown")
            continue
        if free < needed:
            detail = f"{directory}: {human_bytes(free)} free, needs {human_bytes(needed)}"
            if inbound:
                detail += f" ({human_bytes(inbound)} of it for plots on their way)"
            problems.append(detail)
            continue
        room = free - inbound
        if best is None or room > best[0]:
            best = (room, directory)
    if best is not None:
        return best[1]
    details = "; ".join(problems)
    if all(archive_dirs_free[d] is not None for d in archive_dirs_free):
        return ArchiveWait(f"archive dirs full ({details})")
    return ArchiveWait(f"no archive dir with room ({details})")


# -- what to start ------------------------------------------------------------------------------


def pick_transfers(
    dsts: Sequence[DstState],
    jobs: Sequence[Job],
    targets: Sequence[TargetState],
    in_flight: Sequence[Transfer],
    held: Sequence[HeldPlot] = (),
    *,
    now: float = 0.0,
) -> ArchivePlan:
    """The transfers to start now over all ``targets``, and each idle target's wait reason.

    ``held``: plots left out of ``dsts`` for now (a retry's back-off, settling); a target with
    nothing else to take says which plot waits for what, not that there are no plots.

    Plots are taken in dst priority order, less ``READ_PENALTY`` for each transfer reading from
    the dir, oldest plot first; targets take one plot each in turn until each is at its
    ``max_concurrent`` or has nothing it can take. A plot in ``in_flight`` or picked once is
    never picked again.

    **Replotting.** A target with replot rules whose archive dirs are all full (every one's
    free space known) gets a :class:`ReplotStep` in ``replots``: the old plots to remove from
    one archive dir so that this plot fits, as :func:`replot.plan_room` picks them at ``now``
    (the engine's clock; a plot on the farmer changed since ``now - QUIET_S`` is left alone).
    Its wait reason says so. No step while one is under way (``busy``), while a transfer to the
    target is under way (its bytes partly written, the free space cannot be counted right),
    once replotting stopped, or before the farmer's plots were listed. A plot room is made for
    is taken: no other target makes room for it, or sends it, in the same pass.
    """
    ranks = dst_priority(dsts, jobs)
    ranked = {rank.path: (rank.priority, position) for position, rank in enumerate(ranks)}
    # Each plot with the dst dir it is read from, that dir's priority and its place in the order.
    plots = [
        (plot, os.path.normpath(dst.path), *ranked[dst.path]) for dst in dsts for plot in dst.plots
    ]
    taken = {os.path.normpath(t.plot.path) for t in in_flight}
    reading = Counter(os.path.normpath(t.plot.dst_dir) for t in in_flight)
    running = Counter(t.target for t in in_flight)
    # Bytes on their way to each (target, archive dir), the ones picked here included.
    inbound: Counter[tuple[str, str]] = Counter()
    for transfer in in_flight:
        inbound[(transfer.target, transfer.archive_dir)] += transfer.plot.size_bytes

    def next_plot() -> tuple[PlotCandidate, str] | None:
        free = [entry for entry in plots if os.path.normpath(entry[0].path) not in taken]
        if not free:
            return None
        plot, dst, _, _ = min(
            free,
            key=lambda entry: (
                READ_PENALTY * reading[entry[1]] - entry[2],  # highest priority first
                entry[3],
                entry[0].mtime,
                entry[0].path,
            ),
        )
        return plot, dst

    starts: list[Transfer] = []
    waits: dict[str, ArchiveWait] = {}
    replots: list[ReplotStep] = []
    active = [t for t in targets if t.problem is None]
    for target in targets:
        if target.problem is not None:
            waits[target.name] = ArchiveWait(target.problem, target.name)
    # Round robin: one plot per target per pass, so targets share the best plots.
    while active:
        still_active: list[TargetState] = []
        for target in active:
            if running[target.name] >= target.max_concurrent:
                waits[target.name] = _busy(target, running[target.name])
                continue
            found = next_plot()
            if found is None:
                waits[target.name] = ArchiveWait(_nothing_to_take(plots != [], held), target.name)
                continue
            plot, dst = found
            dirs_inbound = {
                directory: inbound[(target.name, directory)]
                for directory in target.archive_dirs_free
            }
            choice = choose_archive_dir(
                target.archive_dirs_free, plot.size_bytes, _margin(target), dirs_inbound
            )
            if isinstance(choice, ArchiveWait):
                reason = choice.reason
                if target.replot is not None and _all_known(target.archive_dirs_free):
                    step, reason = _make_room(
                        target, target.replot, plot, dirs_inbound, now, taken, running[target.name]
                    )
                    if step is not None:
                        replots.append(step)
                        # Room is made for this plot on this target: no other makes room for it
                        # (or sends it) in this pass, or two farmers lose plots for one.
                        taken.add(os.path.normpath(plot.path))
                waits[target.name] = ArchiveWait(reason, target.name)
                continue
            transfer = Transfer(plot=plot, target=target.name, archive_dir=choice)
            starts.append(transfer)
            taken.add(os.path.normpath(plot.path))
            reading[dst] += 1
            running[target.name] += 1
            inbound[(target.name, choice)] += plot.size_bytes
            still_active.append(target)
        active = still_active
    ordered_waits = tuple(waits[t.name] for t in targets if t.name in waits)
    return ArchivePlan(starts=tuple(starts), waits=ordered_waits, replots=tuple(replots))


def _margin(target: TargetState) -> int:
    """The room a target's dir keeps beyond a plot: its margin, and a replotting target's
    ``keep_free_gib`` (kept by every transfer, not only by the ones room was made for)."""
    extra = target.replot.rules.keep_free_bytes if target.replot is not None else 0
    return target.margin_bytes + extra


def _all_known(archive_dirs_free: Mapping[str, int | None]) -> bool:
    """Whether every dir's free space is known: a dir that could not be read may have room, and
    no plot is removed for room that may be there already."""
    return bool(archive_dirs_free) and all(f is not None for f in archive_dirs_free.values())


def _make_room(
    target: TargetState,
    replot: ReplotState,
    plot: PlotCandidate,
    dirs_inbound: Mapping[str, int],
    now: float,
    taken: Iterable[str],
    running: int = 0,
) -> tuple[ReplotStep | None, str]:
    """The step that makes room on a full target for ``plot``, or None; and the wait reason.

    ``running``: the transfers under way to the target. While any is, no step: the free space
    sampled already shows part of a running transfer written, so counting its full size on top
    would remove plots for room that is there; once it ends, the sample tells the truth.
    """
    if replot.stopped is not None:
        return None, replot.stopped
    if replot.busy:
        # One step at a time: the room the last one made is not used (or not seen) yet.
        return (
            None,
            "full; making room on the farmer: the plot goes once the room shows",
        )
    if running:
        return (
            None,
            f"full; waiting for the transfers under way to {target.name} before making room",
        )
    listing = replot.listing
    if listing is None:
        return None, "full; listing the plots on the farmer to make room (replot rules)"
    if listing.problem is not None:
        return None, f"full, and the plots on the farmer could not be listed: {listing.problem}"
    # The plots on their way to the farmer are this machine's: never removed, even before their
    # transfer is seen to end (a plot renamed into place keeps its old mtime under rsync -t).
    on_the_way = {os.path.basename(path) for path in taken}
    room = plan_room(
        listing,
        target.archive_dirs_free,
        plot.size_bytes + _margin(target),
        replot.rules,
        for_plot=plot.name,
        protected=replot.protected | on_the_way,
        now=now,
        in_flight_bytes=dirs_inbound,
    )
    if isinstance(room, str):
        return None, room if room.startswith("full") else f"full, and {room}"
    if not room.removals:  # it fits already (a race with a new sample): nothing to remove
        return None, f"full; room for {plot.name} in {room.archive_dir} not seen yet"
    step = replace(room, dry_run=replot.rules.dry_run)
    return step, "full; " + describe_step(step)


def describe_step(step: ReplotStep) -> str:
    """A replot step in a farmer's words (``making room in /mnt/d0 for plot-...: removing 2 old
    plots (203.4 GiB)``); a dry run says nothing is removed."""
    count = len(step.removals)
    plots = "old plot" if count == 1 else "old plots"
    amount = f"{count} {plots} ({human_bytes(step.freed_bytes)})"
    if step.dry_run:
        return (
            f"dry run: would remove {amount} in {step.archive_dir} for {step.for_plot} "
            "(nothing is removed: dry_run = true)"
        )
    return f"making room in {step.archive_dir} for {step.for_plot}: removing {amount}"


def _nothing_to_take(any_plots: bool, held: Sequence[HeldPlot]) -> str:
    if not held:
        return (
            "every finished plot is already on its way"
            if any_plots
            else "no finished plots in the dst dirs"
        )
    first = held[0]
    more = f"; {len(held) - 1} more waiting" if len(held) > 1 else ""
    others = "every other finished plot is already on its way; " if any_plots else ""
    return f"{others}{first.name} {first.reason}{more}"


def _busy(target: TargetState, running: int) -> ArchiveWait:
    limit = target.max_concurrent
    word = "transfer" if limit == 1 else "transfers"
    return ArchiveWait(f"{running} of {limit} {word} running (max_concurrent)", target.name)
