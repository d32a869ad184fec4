"""Replotting at work: the farmer's plots listed, old ones removed just in time, every removal
logged.

The archive policy (pure) decides *that* room must be made and *which* old plots go
(:func:`~plotman_tui.farm.archive.replot.plan_room`); this module does it. A :class:`Replotter`
lives in the event loop the free space is read in (the :class:`SpaceMonitor`'s, whose SSH
connections it shares), while the archiving passes run in worker threads: a pass reads the
replot state of each target (:meth:`Replotter.state`) and hands the steps it wants on
(:meth:`Replotter.submit`), both thread-safe.

**Listing.** Each replotting target's archive dirs are listed when the replotter starts, every
:data:`LIST_TTL_S` after, and again after a removal failed: never per plot (1,000 old plots
on a farmer are one listing, not one per new plot). Between listings the listing is kept up
to date with what this machine removed; plots it sends are protected by name, so they need not
be in it.

**One step at a time.** A step's removals run one by one (each file checked just before it
goes, by :func:`~plotman_tui.farm.archive.farmer_files.remove_plot_files`). Then the free space
is read again at once and the archive loop woken: the pass after that read starts the transfer
(the room is not counted before a read shows it: a file the farmer holds open frees nothing
until closed). The target stays *busy* (no other step) until a transfer to it starts or a read
made after the removal shows the room (:data:`ROOM_WAIT_S` at most); so a farmer that goes
away between the removal and the transfer costs no other plot: the new plot stays in its dst
dir and goes when the farmer is back.

**Never more than needed, across steps and runs.** Per target, the bytes removed since a
transfer to it last started are counted (from the action log when the replotter starts, so
cron's ``archive --once`` runs count too). A step whose removals, all but its largest plot,
with those earlier ones would have made its room from an empty disk is refused
(:func:`room_not_showing`): the room the earlier removals made is not showing (a snapshot, a
hard link, a file held open keeps it), and removing more would empty the farmer one plot at a
time. The target waits, saying why, until a transfer to it starts; a step cut short (the farmer
went away) may still finish, as its rest stays below that line.

**Failures.** A removal that fails stops that target's replotting (its wait reason says which
file and why) unless a fresh listing shows the file gone by other means, or the farmer cannot
be reached (then its replotting waits for the farmer, as its transfers do). Plotting and the
other targets go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final

from plotman_tui.config.schema import ArchiveTarget, ReplotRules
from plotman_tui.farm.actionlog import ActionEntry, ActionLog
from plotman_tui.farm.archive.farmer_files import (
    RemovalResult,
    list_plot_files,
    remove_plot_files,
)
from plotman_tui.farm.archive.replot import (
    FarmerListing,
    FarmerPlot,
    ReplotProgress,
    ReplotState,
    ReplotStep,
    matches_rules,
    moved_since_first_removal,
    replot_progress,
)
from plotman_tui.farm.archive.space import SpaceMonitor, TargetSpace, sleep_until_due
from plotman_tui.farm.events import Event, EventKind, record_action
from plotman_tui.farm.units import human_bytes, printable

logger = logging.getLogger(__name__)

#: Seconds a listing of a farmer's plots is kept (it is kept up to date with our removals).
LIST_TTL_S: Final = 900.0
#: Seconds before a listing that failed (or a removal that failed) is tried again.
LIST_RETRY_S: Final = 60.0
#: Seconds a farmer has to list its plots or remove one before it counts as failed.
TIMEOUT_S: Final = 30.0
#: Seconds a step's room may take to show in the farmer's free space (a file held open frees its
#: blocks only when closed) before the target may get another step (one that
#: :func:`room_not_showing` allows: past this wait, room that never showed holds the target).
ROOM_WAIT_S: Final = 600.0
#: Seconds a replotting target's progress is kept while nothing it depends on changes.
PROGRESS_S: Final = 60.0
#: The action log's action for a removal (or, in a dry run, one that would have been made).
ACTION: Final = "replot-remove"


def _room_seen(step: ReplotStep, done_at: float | None, space: TargetSpace | None) -> bool:
    """Whether a read made after ``step``'s removals shows the room it made (or so long has
    passed that something else must have taken it): then the target may get another step.

    Until then a removal's room is not counted: a file the farmer still holds open (a
    harvester reading it) frees its blocks only when closed, and a transfer into room that is
    not there yet would fail, and the next step would remove more than needed.
    """
    if done_at is None or space is None or space.checked_at <= done_at:
        return False
    free = space.free_bytes.get(step.archive_dir)
    return (free is not None and free >= step.for_bytes) or time.time() - done_at > ROOM_WAIT_S


def _without(listing: FarmerListing, archive_dir: str, gone: Set[str]) -> FarmerListing:
    """``listing`` less the plots named ``gone`` in ``archive_dir``."""
    if archive_dir not in listing.dirs:
        return listing
    dirs = dict(listing.dirs)
    dirs[archive_dir] = tuple(p for p in dirs[archive_dir] if p.name not in gone)
    return replace(listing, dirs=MappingProxyType(dirs))


def _matching_plots(listing: FarmerListing, rules: ReplotRules) -> FarmerListing:
    """``listing`` with only the plots ``rules`` match (by name)."""
    dirs = {
        archive_dir: tuple(p for p in plots if matches_rules(p.name, rules) is not None)
        for archive_dir, plots in listing.dirs.items()
    }
    return replace(listing, dirs=MappingProxyType(dirs))


def replotting_targets(targets: Iterable[ArchiveTarget]) -> tuple[ArchiveTarget, ...]:
    """The targets whose replot rules are on."""
    return tuple(t for t in targets if t.replot is not None and t.replot.enabled)


# -- what the action log says -------------------------------------------------------------------


@dataclass(frozen=True)
class ReplotHistory:
    """What this machine did, as its action log tells: the plots it sent (protected from
    removal, whatever target they went to), and per target the sends and the removals."""

    sent_names: frozenset[str]
    sent_at: Mapping[str, tuple[float, ...]]
    removals: Mapping[str, tuple[tuple[float, int], ...]]
    #: Per target, the bytes removed since a transfer to it last started (see
    #: :func:`room_not_showing`).
    removed_since_start: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


def replot_history(entries: Iterable[ActionEntry]) -> ReplotHistory:
    """The sends and removals in action log ``entries``; an entry with odd fields is skipped
    (a log may hold lines of older versions, or hand edits)."""
    names: set[str] = set()
    sent: dict[str, list[float]] = {}
    removed: dict[str, list[tuple[float, int]]] = {}
    since_start: dict[str, int] = {}
    for entry in entries:
        target = entry.extra.get("target")
        if entry.action == "transfer" and entry.result.startswith("ok"):
            source = entry.extra.get("source")
            if isinstance(source, str) and source:
                names.add(os.path.basename(source))
            if isinstance(target, str):
                sent.setdefault(target, []).append(entry.time)
        elif entry.action == "transfer" and entry.result == "started" and isinstance(target, str):
            # The log is in the order things happened: what was removed before this start made
            # room that this transfer is using (a comparison, "verifying", takes no room).
            since_start[target] = 0
        elif entry.action == ACTION and entry.result == "removed" and isinstance(target, str):
            size = entry.extra.get("bytes")
            if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
                removed.setdefault(target, []).append((entry.time, size))
                since_start[target] = since_start.get(target, 0) + size
    return ReplotHistory(
        sent_names=frozenset(names),
        sent_at=MappingProxyType({t: tuple(times) for t, times in sent.items()}),
        removals=MappingProxyType({t: tuple(r) for t, r in removed.items()}),
        removed_since_start=MappingProxyType(since_start),
    )


def room_not_showing(removed_since_start: int, step: ReplotStep) -> bool:
    """Whether ``step`` would remove more than its room needs, counting the bytes already
    removed from its target since a transfer to it last started.

    Those earlier removals plus all of this step's but its largest plot would have made the
    room even on a disk with no free space at all: the room is there but not showing (a
    snapshot, a hard link, a program holding the files open keeps the blocks), and another
    removal would free nothing either. A step cut short (one of two plots removed, then the
    farmer went away) stays below this line and may finish.
    """
    if not step.removals:
        return False
    largest = max(removal.plot.size_bytes for removal in step.removals)
    return removed_since_start + step.freed_bytes - largest >= step.for_bytes


def held_reason(target: str, removed_since_start: int) -> str:
    """The wait reason of a target whose steps :func:`room_not_showing` refuses."""
    return (
        f"replotting held: {human_bytes(removed_since_start)} of old plots removed from "
        f"{target} since a plot last went there, yet its free space did not grow by as much; "
        "a snapshot, a hard link or a program holding the files open keeps that space (free "
        f"it; replotting goes on once a plot goes to {target})"
    )


# -- the worker ---------------------------------------------------------------------------------


@dataclass
class _Target:
    """One replotting target's state; changed in the loop, read by the passes (under the lock)."""

    target: ArchiveTarget
    listing: FarmerListing | None = None
    list_due: float = float("-inf")  # on the monotonic clock
    list_task: asyncio.Task[None] | None = None
    #: The step under way, or done whose room is not used (nor seen by a read) yet.
    step: ReplotStep | None = None
    step_task: asyncio.Task[None] | None = None
    step_done_at: float | None = None  # wall clock, when its removals ended
    removing: bool = False  # the step's removals have begun: a listing may predate them
    stopped: str | None = None
    #: Bytes removed since a transfer to the target last started (see room_not_showing).
    removed_since_start: int = 0
    #: Why the last step submitted was refused by room_not_showing; None once one is not.
    held: str | None = None
    sent_at: list[float] = field(default_factory=list)
    removals: list[tuple[float, int]] = field(default_factory=list)
    #: The dry-run steps already logged (each is logged once, not every pass).
    dry_runs_told: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)
    #: The plots of ``listing`` the rules match, and the listing they were picked from.
    matching: tuple[FarmerListing, FarmerListing] | None = None
    #: The last progress, what it was computed from and when (see Replotter.progress).
    progress: tuple[tuple[object, ...], float, ReplotProgress] | None = None


class Replotter:
    """Lists the replotting targets' plots and runs the steps the passes submit.

    ``space``: the monitor whose loop this runs in, whose SSH connections it uses and whose
    samples it asks to be read again. ``action_log``: where every removal goes (and, read
    once, what this machine sent and removed before).
    """

    def __init__(
        self,
        targets: Iterable[ArchiveTarget],
        space: SpaceMonitor,
        *,
        action_log: ActionLog | None,
        list_ttl_s: float = LIST_TTL_S,
        retry_s: float = LIST_RETRY_S,
        timeout_s: float = TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.space = space
        self.action_log = action_log
        self.list_ttl_s = list_ttl_s
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._targets = {t.name: _Target(t) for t in replotting_targets(targets)}
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._protected: set[str] = set()
        self._history_read = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()

    @property
    def names(self) -> tuple[str, ...]:
        """The replotting targets' names."""
        return tuple(self._targets)

    # -- read by the passes (any thread) ---------------------------------------------------------

    def read_history(self) -> None:
        """Read the action log once (the first pass does, in its thread): the plots this machine
        sent are never removed, and progress counts the removals made before."""
        if self._history_read:
            return
        if self.action_log is None or not self._targets:
            self._history_read = True
            return
        try:
            history = replot_history(self.action_log.entries())
        except Exception as error:
            # Then nothing is known to be ours: replotting waits rather than guess (marked
            # read only now: a pass must never go on as if no plot were protected).
            if isinstance(error, OSError):
                why = f"cannot be read ({error.strerror or error})"
                fix = "fix it, then restart plotman-tui"
            else:
                logger.exception("reading the action log %s", self.action_log.path)
                why = f"could not be read: {printable(str(error)) or type(error).__name__}"
                fix = "a bug; restart plotman-tui"
            self._stop_all(
                f"replotting stopped: the action log {self.action_log.path} {why}, so the "
                f"plots this machine sent are unknown ({fix})"
            )
            return
        with self._lock:
            self._protected |= history.sent_names
            for name, state in self._targets.items():
                state.sent_at = list(history.sent_at.get(name, ()))
                state.removals = list(history.removals.get(name, ()))
                state.removed_since_start = history.removed_since_start.get(name, 0)
            self._history_read = True

    def _stop_all(self, problem: str) -> None:
        with self._lock:
            for state in self._targets.values():
                state.stopped = problem
            self._history_read = True

    def state(self, name: str, space: TargetSpace | None) -> ReplotState | None:
        """What the policy needs of target ``name``'s replotting (None: it does not replot).

        ``space``: the target's current sample; a read made after the last step's removals
        that shows their room ends that step. The state's ``listing`` holds only the plots the
        rules match (no other may go; see :meth:`_matching`).
        """
        with self._lock:
            state = self._targets.get(name)
            if state is None:
                return None
            if state.step is not None and _room_seen(state.step, state.step_done_at, space):
                self._end_step(state)
            rules = state.target.replot
            assert rules is not None  # replotting_targets() keeps only those with rules
            replot = ReplotState(
                rules=rules,
                listing=state.listing,
                protected=frozenset(self._protected),
                busy=state.step is not None,
                stopped=state.stopped,
            )
        return replace(replot, listing=self._matching(state))

    def _matching(self, state: _Target) -> FarmerListing | None:
        """The plots of the target's listing its rules match (the others never go), picked
        once per listing: a full farmer of 10,000 plots the rules do not match would otherwise
        cost every pass the rules against each name. Picked outside the lock: the loop's
        thread must not wait for it."""
        with self._lock:
            listing, matching = state.listing, state.matching
        if listing is None:
            return None
        if matching is not None and matching[0] is listing:
            return matching[1]
        rules = state.target.replot
        assert rules is not None
        picked = _matching_plots(listing, rules)
        with self._lock:
            if state.listing is listing:
                state.matching = (listing, picked)
        return picked

    def progress(self, name: str, now: float) -> ReplotProgress | None:
        """How far target ``name``'s replotting has come (None: it does not replot)."""
        with self._lock:
            state = self._targets.get(name)
            if state is None:
                return None
            rules = state.target.replot
            assert rules is not None
            moved = moved_since_first_removal(state.removals, state.sent_at)
            protected = frozenset(self._protected)
            removals, stopped = tuple(state.removals), state.stopped or state.held
            # Matching every plot of a listing against the rules takes a while for 10,000
            # plots: done again when something it depends on changed, or a minute has passed
            # (a plot becomes quiet enough to count), not every pass.
            cached = state.progress
        listing = self._matching(state)  # the rules match no other plot
        key = (listing, len(protected), len(removals), moved, stopped)
        if cached is not None and cached[0] == key and 0 <= now - cached[1] < PROGRESS_S:
            return cached[2]
        progress = replot_progress(
            name, listing, rules, protected, removals, moved, now, stopped=stopped
        )
        with self._lock:
            state.progress = (key, now, progress)
        return progress

    def sent(self, name: str | None, plot_name: str, when: float) -> None:
        """A transfer of ``plot_name`` to target ``name`` ended done: it is never removed."""
        with self._lock:
            self._protected.add(plot_name)
            state = self._targets.get(name or "")
            if state is not None:
                state.sent_at.append(when)

    def room_used(self, name: str) -> None:
        """A transfer to target ``name`` started: the room the last step made is being used."""
        with self._lock:
            state = self._targets.get(name)
            if state is None:
                return
            state.removed_since_start = 0
            state.held = None
            if state.step_done_at is not None:
                self._end_step(state)

    def held(self, name: str) -> str | None:
        """Why target ``name``'s last step was refused as more than its room needs (its wait
        reason), or None."""
        with self._lock:
            state = self._targets.get(name)
            return None if state is None else state.held

    def take_events(self) -> list[Event]:
        """The events since the last call (removals made in the loop)."""
        with self._lock:
            events, self._events = self._events, []
        return events

    def tell_dry_run(self, step: ReplotStep, now: float) -> list[Event]:
        """Log what a dry run's step would remove: once per distinct step, not every pass."""
        with self._lock:
            state = self._targets.get(step.target)
            key = (step.archive_dir, tuple(r.plot.name for r in step.removals))
            if state is None or key in state.dry_runs_told:
                return []
            state.dry_runs_told.add(key)
        events: list[Event] = []
        for removal in step.removals:
            self._record(events, now, step, removal.plot, removal.reason, "dry run")
        return events

    def submit(self, step: ReplotStep) -> bool:
        """Run ``step`` (its removals) in the loop; False when the target is busy, stopped,
        does not replot, or the step would remove more than its room needs (:meth:`held` then
        says why), or the action log was not read yet (nothing would be protected); then
        nothing is done. Thread-safe: the target is busy from here on."""
        with self._lock:
            state = self._targets.get(step.target)
            if state is None or step.dry_run or state.step is not None or state.stopped:
                return False
            if not self._history_read and self.action_log is not None:
                return False
            if room_not_showing(state.removed_since_start, step):
                state.held = held_reason(step.target, state.removed_since_start)
                return False
            state.held = None
            state.step = step
            state.step_done_at = None
        self._call_in_loop(self._begin, step.target)
        return True

    # -- the loop ---------------------------------------------------------------------------------

    async def refresh_due(self) -> None:
        """List every target whose listing is due, and wait for those listings (``--once``)."""
        self._loop = asyncio.get_running_loop()
        tasks = [task for state in self._due() if (task := self._start_listing(state))]
        self._begin_pending()
        if tasks:
            await asyncio.wait(tasks)

    async def drain(self) -> None:
        """Wait for the steps under way (``--once``: a removal is not cut off mid-way)."""
        tasks = [s.step_task for s in self._targets.values() if s.step_task is not None]
        if tasks:
            await asyncio.wait(tasks)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the listings fresh and run the steps until ``stop`` is set."""
        self._loop = asyncio.get_running_loop()
        if not self._targets:
            return
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                self._wake.clear()
                for state in self._due():
                    self._start_listing(state)
                self._begin_pending()
                idle = [
                    s.list_due
                    for s in self._targets.values()
                    if s.list_task is None and s.stopped is None
                ]
                await sleep_until_due(stopping, self._wake, idle, self._clock())
        finally:
            stopping.cancel()
            tasks = [
                task
                for s in self._targets.values()
                for task in (s.list_task, s.step_task)
                if task is not None
            ]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _due(self) -> list[_Target]:
        now = self._clock()
        return [
            s
            for s in self._targets.values()
            if s.stopped is None and s.step is None and now >= s.list_due
        ]

    def _call_in_loop(self, callback: Callable[[str], None], name: str) -> None:
        loop = self._loop
        if loop is None:
            return  # not running yet: run() and refresh_due() start what is pending
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            callback(name)
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(callback, name)

    def _begin_pending(self) -> None:
        for name, state in self._targets.items():
            if state.step is not None and state.step_task is None and state.step_done_at is None:
                self._begin(name)

    def _begin(self, name: str) -> None:
        state = self._targets.get(name)
        if state is None or state.step is None or state.step_task is not None:
            return
        if state.step_done_at is not None:
            return
        step = state.step
        state.step_task = asyncio.create_task(self._run_step(state, step), name=f"replot {name}")
        self._wake.set()

    def _start_listing(self, state: _Target) -> asyncio.Task[None] | None:
        if state.list_task is None:
            state.list_task = asyncio.create_task(
                self._list(state), name=f"replot listing {state.target.name}"
            )
        return state.list_task

    async def _list(self, state: _Target) -> None:
        try:
            listing = await self._listing(state.target)
        finally:
            state.list_task = None
        with self._lock:
            # Removals begun while listing change the farmer: that listing may predate them.
            if not state.removing:
                state.listing = listing
        delay = self.list_ttl_s if listing.problem is None else self.retry_s
        state.list_due = self._clock() + delay
        self._woken(state.target.name)

    async def _listing(self, target: ArchiveTarget) -> FarmerListing:
        try:
            return await list_plot_files(
                target, connections=self.space.connections, timeout_s=self.timeout_s
            )
        except Exception as error:  # a bug here must not stop the other targets
            logger.exception("listing the plots of archive target %s", target.name)
            return FarmerListing(
                target.name, time.time(), MappingProxyType({}), problem=f"listing failed: {error}"
            )

    async def _run_step(self, state: _Target, step: ReplotStep) -> None:
        name = state.target.name
        read_again = False
        try:
            if state.list_task is not None:
                # Let a listing under way land first, so that it cannot undo this step's news.
                await asyncio.wait([state.list_task])
            state.removing = True
            plots = [removal.plot for removal in step.removals]
            result = await self._remove(state.target, step.archive_dir, plots)
            freed = sum(p.size_bytes for p in result.removed)
            with self._lock:  # counted at once: no later step may overlook these removals
                state.removed_since_start += freed
            failure = await asyncio.to_thread(self._log_removals, step, result)
            if result.failed is not None:
                failure = await self._after_failure(state, step, result) or failure
            with self._lock:
                self._forget_removed(state, step.archive_dir, result.removed)
                state.removals += [(time.time(), p.size_bytes) for p in result.removed]
                if failure is not None:
                    state.stopped = failure
                if freed:
                    # Busy until a transfer starts or a read made from now on shows the room.
                    state.step_done_at = time.time()
                else:
                    self._end_step(state)
            # Read again now: that read wakes the archive loop (a pass before it would see
            # no room yet), whose next pass starts the transfer once the room shows.
            self.space.invalidate(name)
            read_again = True
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug: stop this target's replotting, loudly
            logger.exception("replotting of archive target %s", name)
            with self._lock:
                state.stopped = f"replotting stopped: {error} (a bug; restart plotman-tui)"
                self._end_step(state)
        finally:
            state.step_task = None
            state.removing = False
        if read_again:
            self._wake.set()
        else:
            self._woken(name)

    async def _remove(
        self, target: ArchiveTarget, archive_dir: str, plots: Sequence[FarmerPlot]
    ) -> RemovalResult:
        try:
            return await remove_plot_files(
                target,
                archive_dir,
                plots,
                connections=self.space.connections,
                timeout_s=self.timeout_s,
            )
        except Exception as error:  # never raises, they say; if it does, nothing is known
            logger.exception("removing plots of archive target %s", target.name)
            first = plots[0] if plots else None
            return RemovalResult((), first, f"removal failed: {error}")

    async def _after_failure(
        self, state: _Target, step: ReplotStep, result: RemovalResult
    ) -> str | None:
        """Why replotting of the target stops after a failed removal, or None when it goes on.

        The farmer is listed afresh: a file gone by other means (removed by hand) is no reason
        to stop, and a farmer that cannot be reached is waited for, as its transfers are.
        """
        failed = result.failed
        assert failed is not None
        listing = await self._listing(state.target)
        with self._lock:
            state.listing = listing
        state.list_due = self._clock() + (
            self.list_ttl_s if listing.problem is None else self.retry_s
        )
        path = os.path.join(step.archive_dir, failed.name)
        if listing.problem is not None:
            return None
        still_there = any(p.name == failed.name for p in listing.dirs.get(step.archive_dir, ()))
        if not still_there and step.archive_dir in listing.dirs and not result.refused:
            return None
        return (
            f"replotting stopped: could not remove {printable(path)}: "
            f"{printable(result.error or 'unknown error')} (fix it, then restart plotman-tui)"
        )

    def _log_removals(self, step: ReplotStep, result: RemovalResult) -> str | None:
        """One action-log record and one event per removal made, and for the one that failed
        (in a worker thread: the action log is a file under an flock). Returns why the
        target's replotting stops when a record could not be written (a removal not in the
        log is one nobody can audit, and one the next run does not count), else None."""
        now = time.time()
        events: list[Event] = []
        reasons = {removal.plot.name: removal.reason for removal in step.removals}
        unlogged: list[str] = []
        for plot in result.removed:
            if not self._record(events, now, step, plot, reasons.get(plot.name, ""), "removed"):
                unlogged.append(plot.name)
        if result.failed is not None:
            error = " ".join((result.error or "unknown error").split())
            reason = reasons.get(result.failed.name, "")
            if not self._record(events, now, step, result.failed, reason, f"failed: {error}"):
                unlogged.append(result.failed.name)
        with self._lock:
            self._events += events
        if not unlogged or self.action_log is None:
            return None
        path = os.path.join(step.archive_dir, unlogged[0])
        return (
            f"replotting stopped: the removal of {printable(path)} could not be written to the "
            f"action log {self.action_log.path} (fix it, then restart plotman-tui)"
        )

    def _record(
        self,
        events: list[Event],
        now: float,
        step: ReplotStep,
        plot: FarmerPlot,
        reason: str,
        result: str,
    ) -> bool:
        """Log one removal (or dry run) and add its event; False when the action log record
        could not be written (``record_action`` then adds an error event)."""
        details: dict[str, Any] = {
            "target": step.target,
            "archive_dir": step.archive_dir,
            "file": plot.name,
            "bytes": plot.size_bytes,
            "for_plot": step.for_plot,
        }
        before = len(events)
        record_action(
            self.action_log,
            events,
            now,
            ACTION,
            pid=None,
            argv=(),
            reason=reason,
            result=result,
            target=step.target,
            archive_dir=step.archive_dir,
            file=plot.name,
            bytes=plot.size_bytes,
            for_plot=step.for_plot,
        )
        written = not any(e.kind is EventKind.ERROR and e.failed for e in events[before:])
        where = f"{step.target}:{os.path.join(step.archive_dir, plot.name)}"
        size = human_bytes(plot.size_bytes)
        if result == "removed":
            message = f"removed {where} ({size}; {reason}) to make room for {step.for_plot}"
        elif result == "dry run":
            message = (
                f"dry run: would remove {where} ({size}; {reason}) to make room for {step.for_plot}"
            )
        else:
            message = f"could not remove {where} ({size}): {result.removeprefix('failed: ')}"
        events.append(
            Event(
                now,
                EventKind.REPLOT,
                printable(message),
                failed=result.startswith("failed"),
                details={**details, "result": result, "reason": reason},
            )
        )
        return written

    @staticmethod
    def _forget_removed(state: _Target, archive_dir: str, removed: Sequence[FarmerPlot]) -> None:
        listing = state.listing
        if listing is None or not removed or archive_dir not in listing.dirs:
            return
        gone = {plot.name for plot in removed}
        state.listing = _without(listing, archive_dir, gone)
        if state.matching is not None and state.matching[0] is listing:
            state.matching = (state.listing, _without(state.matching[1], archive_dir, gone))

    @staticmethod
    def _end_step(state: _Target) -> None:
        state.step = None
        state.step_done_at = None

    def _woken(self, name: str) -> None:
        self._wake.set()
        if self.space.on_update is not None:
            self.space.on_update(name)  # the archive loop looks again now
