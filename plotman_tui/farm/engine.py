"""The engine: plotting passes, and the asyncio loop that runs them for every front end.

A pass (``PlottingEngine.step``) is one look at the machine and at most one action: scan the
process table, sample the free space of the configured dirs, ask the pure scheduler, and start
the job it asks for. It blocks (``/proc``, ``statvfs``, ``fork``/``exec``), so ``Engine`` runs
passes in a worker thread; the dashboard's event loop and the ``--no-ui`` runner are two
listeners on the same engine.

Safety rules the engine adds to the scheduler's:

- Only the holder of the scheduler lock starts jobs; another engine monitors, says who holds
  the lock, and takes it over when its holder ends.
- A job this engine started counts against every limit from the moment it starts (a
  ``PendingStart``) until the scan shows it.
- A start that fails, or a job that fails within ``quick_exit_s`` of its start, backs further
  starts off (1 min, then 2, 4 ... up to an hour): a broken plotter or a missing key never turns
  into a stream of dying jobs.
- At most one start per pass.

Every pass returns its events (a start, a change of the reason for waiting, a job that ended,
a lock change, an error); front ends print or show them, and starts go into the action log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from plotman_tui.config.schema import Config
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.archive.engine import ArchivePassResult, ArchivingEngine
from plotman_tui.farm.dirs import inspect_dir_within
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.events import (
    Event,
    EventKind,
    LockWatch,
    WaitNotes,
    record_action,
    wait_key,
)
from plotman_tui.farm.launches import (
    BackOff,
    Launch,
    NoteKeeper,
    Outcome,
    StartFailures,
    StateWriter,
    load_state,
    state_text,
)
from plotman_tui.farm.lock import SchedulerLock
from plotman_tui.farm.model import Job, Snapshot, distinct_dirs
from plotman_tui.farm.pauseflags import Loop, read_pause
from plotman_tui.farm.scheduler import Decision, Start, Wait, decide
from plotman_tui.farm.spawn import StartedJob, start_job
from plotman_tui.farm.units import human_duration

#: A job of ours that fails sooner than this after its start counts as a failed start.
QUICK_EXIT_S = 120.0
#: The first back-off after a failed start; it doubles with every further one, up to the max.
BACKOFF_S = 60.0
BACKOFF_MAX_S = 3600.0
#: A job of ours that the scan has not recognised this long after its start gets a warning.
UNSEEN_WARNING_S = 60.0


@dataclass(frozen=True)
class PassResult:
    """What one pass saw and did.

    ``decision`` is None when this pass did not schedule (the lock is held elsewhere, or the
    pass only looked); ``Wait("plotting is paused")`` while the dashboard's switch is off, and
    the flag's own words (``plotting is paused on this machine since ...``) while the machine's
    pause flag is set (``plotman-tui plotting pause``). ``started`` is the job it
    started, if any. ``start_failures``: plotting is failing (the last starts failed and
    further ones back off), whether this pass scheduled or only looked; None while starts go
    well, and when another process holds the lock.
    """

    time: float
    snapshot: Snapshot
    decision: Decision | None
    started: StartedJob | None
    events: tuple[Event, ...]
    holds_lock: bool
    start_failures: StartFailures | None = None

    @property
    def failed(self) -> bool:
        return any(event.failed for event in self.events)


FreeSpace = Callable[[str], int | None]
Starter = Callable[..., StartedJob]


#: Seconds a dir has to tell its free space before it counts as unknown (a hung mount).
FREE_SPACE_TIMEOUT_S = 5.0


def _free_bytes(path: str) -> int | None:
    return inspect_dir_within(path, FREE_SPACE_TIMEOUT_S).free_bytes


__all__ = [
    "Engine",
    "Event",
    "EventKind",
    "PassResult",
    "PlottingEngine",
    "StartFailures",
    "wait_key",
]

#: Which plot jobs the plotting engines built within :func:`counting_only` count against the
#: limits; None (the default, a farm's engines): every plot job of the machine.
_counted: ContextVar[Callable[[Job], bool] | None] = ContextVar("counted_jobs", default=None)


@contextmanager
def counting_only(jobs: Callable[[Job], bool]) -> Iterator[None]:
    """Plotting engines built within this block count only ``jobs`` against their limits (the
    demo's sandbox beside a real farm); the front ends build their engines unchanged."""
    token = _counted.set(jobs)
    try:
        yield
    finally:
        _counted.reset(token)


class PlottingEngine:
    """Runs plotting passes; not thread-safe (one pass at a time, from one thread at a time).

    ``state_path``: where the lock holder keeps its launches and back-off between runs (None:
    in memory only). ``counts``: which plot jobs of the machine count against the limits (None:
    all of them, as a farm's must: a job started by hand takes its share; or as
    :func:`counting_only` says); the jobs this engine started count whatever it says.
    ``pause_dir``: where the machine's pause flag is looked for
    (:mod:`~plotman_tui.farm.pauseflags`; None: no flag pauses this engine).
    """

    def __init__(
        self,
        config: Config,
        *,
        lock: SchedulerLock,
        action_log: ActionLog | None,
        scanner: Scanner | None = None,
        state_path: Path | None = None,
        clock: Callable[[], float] = time.time,
        free_space: FreeSpace = _free_bytes,
        starter: Starter = start_job,
        quick_exit_s: float = QUICK_EXIT_S,
        backoff_s: float = BACKOFF_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        counts: Callable[[Job], bool] | None = None,
        pause_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.pause_dir = pause_dir
        #: Which plot jobs count against the limits (None: every one on the machine).
        self.counts = counts if counts is not None else _counted.get()
        self.lock = lock
        self.action_log = action_log
        self.scanner = scanner or Scanner(config.logging.plots)
        self.state_path = state_path
        self._clock = clock
        self._free_space = free_space
        self._starter = starter
        self._quick_exit_s = quick_exit_s
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        #: The dashboard's switch: False schedules nothing (jobs are still watched).
        self.plotting_enabled = True
        self._launches: dict[int, Launch] = {}
        self._backoff = BackOff()
        self._state_writer = StateWriter(state_path) if state_path is not None else None
        self._previous: dict[tuple[int, float], Job] = {}
        self._lock = LockWatch(lock, what="scheduler lock", role="starts the plot jobs")
        self._waits = WaitNotes()
        #: The loop's latest word, kept in the state file for ``watch --json``.
        self._notes = NoteKeeper()

    # -- one pass -------------------------------------------------------------------------------

    def step(self, *, schedule: bool = True) -> PassResult:
        """Look at the machine and start at most one job; returns what happened.

        ``schedule=False`` only looks (scan, jobs that ended, the lock): a view that refreshes
        more often than ``polling_time_s`` schedules on every n-th pass only.
        """
        now = self._clock()
        events: list[Event] = []
        # The lock before the scan: a holder that starts a job and dies between this pass's
        # scan and its taking the lock would otherwise leave a job this pass does not count.
        holds_lock, taken = self._lock.check(now, events)
        if taken:
            self._waits.forget()  # say the reason for waiting again, now it is ours
            self._load_state(now, events)
        snapshot = self.scanner.scan()
        events += self._follow_jobs(snapshot, now)
        decision: Decision | None = None
        started: StartedJob | None = None
        if not schedule:
            pass
        elif holds_lock and self.plotting_enabled:
            decision = self._paused() or self._decide(snapshot, now)
            if isinstance(decision, Start):
                started = self._start(decision, now, events)
            else:
                self._note_wait(decision, now, events)
        elif holds_lock:
            decision = Wait("plotting is paused")
            self._note_wait(decision, now, events)
        if holds_lock:
            self._save_state(events)
        return PassResult(
            time=now,
            snapshot=snapshot,
            decision=decision,
            started=started,
            events=tuple(events),
            holds_lock=holds_lock,
            start_failures=self._backoff.failing() if holds_lock else self._holders_failures(now),
        )

    def close(self) -> None:
        """Give the scheduler lock up; the jobs run on."""
        self._lock.release()

    def _paused(self) -> Wait | None:
        """The machine's pause flag, read once a scheduling pass (one ``lstat`` when unset)."""
        if self.pause_dir is None:
            return None
        flag = read_pause(Loop.PLOTTING, self.pause_dir)
        return Wait(flag.describe(Loop.PLOTTING)) if flag.paused else None

    @property
    def launched(self) -> tuple[int, ...]:
        """Pids of the jobs this engine started (or took over) that have not ended yet."""
        return tuple(self._launches)

    # -- the lock and the state that goes with it ------------------------------------------------

    def _holders_failures(self, now: float) -> StartFailures | None:
        """The lock holder's failed starts, from the state it keeps (a dashboard beside a
        ``--no-ui`` service would otherwise show plotting healthy while the service backs off);
        None when there is none, it cannot be read, or the failures are long past."""
        if self.state_path is None:
            return None
        _, backoff, problem = load_state(self.state_path)
        if problem is not None or (backoff.retry_at or 0) + self._backoff_max_s < now:
            return None
        return backoff.failing()

    def _load_state(self, now: float, events: list[Event]) -> None:
        """Take over what the previous holder of the lock started (cron runs, restarts)."""
        if self.state_path is None:
            return
        launches, backoff, problem = load_state(self.state_path)
        if problem is not None:
            events.append(Event(now, EventKind.ERROR, problem))
        for launch in launches:
            self._launches.setdefault(launch.pid, launch)
        if backoff.failures and (backoff.retry_at or 0) + self._backoff_max_s < now:
            backoff.reset()  # failures long past say nothing about the plotter now
        if backoff.failures > self._backoff.failures:
            self._backoff = backoff

    def _save_state(self, events: list[Event]) -> None:
        if self._state_writer is None:
            return
        problem = self._state_writer.write(
            state_text(list(self._launches.values()), self._backoff, self._notes.note)
        )
        if problem is not None:
            events.append(Event(self._clock(), EventKind.ERROR, problem, failed=True))

    # -- following jobs -------------------------------------------------------------------------

    def _follow_jobs(self, snapshot: Snapshot, now: float) -> list[Event]:
        events: list[Event] = []
        current = {(job.pid, job.started_at): job for job in snapshot.jobs}
        ended_launches: set[int] = set()
        for pid, launch in list(self._launches.items()):
            job = next((job for job in snapshot.jobs if launch.matches(job)), None)
            if job is not None:
                launch.seen = True
                launch.plot_id = job.plot_id or launch.plot_id
            outcome = launch.outcome(now)
            if outcome is None:
                age = now - launch.started_at
                if not launch.seen and not launch.warned_unseen and age >= UNSEEN_WARNING_S:
                    launch.warned_unseen = True
                    events.append(_unseen_warning(launch, now))
                # A job started since the last failure lives on: the plotter works again.
                failed_at = self._backoff.failed_at
                if (
                    failed_at is not None
                    and launch.started_at >= failed_at
                    and age >= self._quick_exit_s
                ):
                    self._backoff.reset()
                continue
            del self._launches[pid]
            ended_launches.add(pid)
            events += self._ended_launch(launch, outcome, now)
        for key, job in self._previous.items():
            # A job of ours is reported through its outcome, even when the scan loses it first.
            if (
                key not in current
                and job.pid not in ended_launches
                and job.pid not in self._launches
            ):
                events.append(_ended_job(job, now))
        # A job that ended between the scan and its outcome is reported once, as a launch.
        self._previous = {k: j for k, j in current.items() if j.pid not in ended_launches}
        return events

    def _ended_launch(self, launch: Launch, outcome: Outcome, now: float) -> list[Event]:
        """The news of a job of ours that ended; every end goes into the action log too."""
        lasted = outcome.ended_at - launch.started_at
        who = _who(outcome.plot_id, launch.pid)
        details: dict[str, Any] = {
            "pid": launch.pid,
            "plot_id": outcome.plot_id,
            "returncode": outcome.returncode,
            "seconds": round(lasted, 1),
            "log": str(launch.log_path),
        }
        status = outcome.status()
        failed = False
        kind = EventKind.ENDED
        if outcome.finished:
            self._backoff.reset()  # the plotter works
            message = f"{who} finished after {human_duration(lasted)}"
            if outcome.final_file:
                message += f": {outcome.final_file}"
                details["plot"] = outcome.final_file
            result = "ok"
        elif outcome.stopped_on_purpose:
            message = f"{who} was stopped ({status}) after {human_duration(lasted)}"
            result = f"stopped: {status}"
        else:
            problem = f"{status} after {human_duration(lasted)}"
            if outcome.last_line:
                problem += f": {outcome.last_line}"
            failed = True
            result = f"failed: {problem}"
            if lasted >= self._quick_exit_s:
                message = f"{who} failed: {problem}"
            else:
                delay = self._backoff.fail(
                    f"{who} died: {problem}", outcome.ended_at, self._backoff_s, self._backoff_max_s
                )
                kind = EventKind.START_FAILED
                wait_left = max(outcome.ended_at + delay - now, 0)
                message = (
                    f"{who} died right after its start ({problem}); "
                    f"next start in {human_duration(wait_left)}"
                )
        events = [Event(now, kind, message, failed=failed, details=details)]
        self._record(
            events,
            "end",
            launch.pid,
            launch.argv,
            f"lasted {human_duration(lasted)}",
            result,
            outcome.plot_id,
            log=str(launch.log_path),
        )
        return events

    # -- deciding and starting ------------------------------------------------------------------

    def _decide(self, snapshot: Snapshot, now: float) -> Decision:
        failing = self._backoff.failing()
        if failing is not None and now < failing.retry_at:
            return Wait(failing.describe(now))
        config = self.config
        dirs = distinct_dirs(
            *(os.fspath(path) for path in config.directories.tmp),
            *(os.fspath(path) for path in config.directories.dst_or_tmp),
        )
        free = {path: self._free_space(path) for path in dirs}
        counted = snapshot.jobs
        if self.counts is not None:
            ours = self._launches.values()
            counted = tuple(
                job
                for job in counted
                if self.counts(job) or any(launch.matches(job) for launch in ours)
            )
        jobs = _match_configured_dirs(counted, config)
        pending = [
            launch.pending()
            for launch in self._launches.values()
            if not any(launch.matches(job) for job in snapshot.jobs)
        ]
        return decide(jobs, config, now, free, pending)

    def _start(self, decision: Start, now: float, events: list[Event]) -> StartedJob | None:
        config = self.config
        try:
            job = self._starter(
                list(decision.argv), Path(config.logging.plots), nice=config.plotting.nice
            )
        except (OSError, ValueError) as error:
            problem = _start_problem(error, decision.argv[0])
            delay = self._backoff.fail(problem, now, self._backoff_s, self._backoff_max_s)
            events.append(
                Event(
                    now,
                    EventKind.START_FAILED,
                    f"could not start the plotter: {problem}; next try in {human_duration(delay)}",
                    failed=True,
                    details={"argv": list(decision.argv), "reason": decision.reason},
                )
            )
            self._record(
                events, "start", None, decision.argv, decision.reason, f"failed: {problem}"
            )
            return None
        self._launches[job.pid] = Launch.of(
            job, now, decision.tmp_dir, decision.dst_dir, decision.k
        )
        self._waits.forget()  # whatever the next wait is, it is news after a start
        self._notes.say(
            f"started pid {job.pid}: {decision.tmp_dir} -> {decision.dst_dir} ({decision.reason})",
            now,
        )
        self._record(
            events,
            "start",
            job.pid,
            job.argv,
            decision.reason,
            "ok",
            None,
            log=str(job.log_path),
            tmp=decision.tmp_dir,
            dst=decision.dst_dir,
            nice=job.nice,
        )
        message = (
            f"started pid {job.pid}: {decision.tmp_dir} -> {decision.dst_dir} "
            f"({decision.reason}); log {job.log_path}; command: {shlex.join(job.argv)}"
        )
        events.append(
            Event(
                now,
                EventKind.START,
                message,
                details={
                    "pid": job.pid,
                    "argv": list(job.argv),
                    "tmp": decision.tmp_dir,
                    "tmp2": decision.tmp2_dir,
                    "dst": decision.dst_dir,
                    "log": str(job.log_path),
                    "reason": decision.reason,
                },
            )
        )
        if job.warning:
            events.append(Event(now, EventKind.ERROR, job.warning, details={"pid": job.pid}))
        return job

    def _note_wait(self, decision: Wait, now: float, events: list[Event]) -> None:
        self._notes.say(decision.reason, now)
        failing = self._backoff.failing()
        if failing is None or not self.plotting_enabled or now >= failing.retry_at:
            self._waits.note(decision.reason, now, events)
            return
        # The back-off's wait (see _decide): --json lines carry it as fields too.
        self._waits.note(
            decision.reason,
            now,
            events,
            failed_starts=failing.count,
            last_failure=failing.last_failure,
            retry_at=failing.retry_at,
        )

    def _record(
        self,
        events: list[Event],
        action: str,
        pid: int | None,
        argv: Sequence[str],
        reason: str,
        result: str,
        plot_id: str | None = None,
        **extra: object,
    ) -> None:
        record_action(
            self.action_log,
            events,
            self._clock(),
            action,
            pid=pid,
            argv=argv,
            reason=reason,
            result=result,
            plot_id=plot_id,
            **extra,
        )


def _start_problem(error: OSError | ValueError, program: str) -> str:
    """Why a start failed, naming the file it was about (the program, or the log dir)."""
    if isinstance(error, FileNotFoundError) and error.filename in (None, program):
        return f"{program}: program not found"
    if isinstance(error, OSError):
        name = f"{error.filename}: " if error.filename else ""
        return f"{name}{error.strerror or error}"
    return str(error)


def _unseen_warning(launch: Launch, now: float) -> Event:
    return Event(
        now,
        EventKind.ERROR,
        f"pid {launch.pid}, started {human_duration(now - launch.started_at)} ago, "
        "is not recognised as a plot job by the process scan: it counts against the limits "
        "only while this loop runs. Check [plotting] executable.",
        failed=True,
        details={"pid": launch.pid, "argv": list(launch.argv)},
    )


def _ended_job(job: Job, now: float) -> Event:
    phase = str(job.phase) if job.phase is not None else "?"
    state = "finished" if job.completed else f"ended (last seen at phase {phase})"
    return Event(
        now,
        EventKind.ENDED,
        f"{_who(job.plot_id, job.pid)} {state}",
        details={"pid": job.pid, "plot_id": job.plot_id, "phase": phase},
    )


def _who(plot_id: str | None, pid: int) -> str:
    return f"job {plot_id[:8]} (pid {pid})" if plot_id else f"job pid {pid}"


def _match_configured_dirs(jobs: Sequence[Job], config: Config) -> list[Job]:
    """Jobs with their tmp and dst dirs spelled as the config spells them, where they are the same.

    The scheduler compares normalised paths and never touches the disk; a job started by hand
    through a symlink (``/mnt/t0`` -> ``/mnt/nvme0``) would not count against its dir. Real paths
    are resolved here, once per distinct dir a pass, and only when a job's dir is not spelled as
    a configured one.
    """
    configured = distinct_dirs(
        *(os.fspath(p) for p in config.directories.tmp),
        *(os.fspath(p) for p in config.directories.dst_or_tmp),
    )
    known = set(configured)
    by_real: dict[str, str] = {}
    resolved: dict[str, str] = {}

    def spelled(path: str | None) -> str | None:
        if not path:
            return path
        normal = os.path.normpath(path)
        if normal in known:
            return normal  # the usual case: no disk access at all
        if not by_real:
            for configured_dir in configured:
                by_real.setdefault(os.path.realpath(configured_dir), configured_dir)
        if normal not in resolved:
            resolved[normal] = by_real.get(os.path.realpath(normal), normal)
        return resolved[normal]

    matched = []
    for job in jobs:
        tmp_dir, dst_dir = spelled(job.tmp_dir), spelled(job.dst_dir)
        if tmp_dir != job.tmp_dir or dst_dir != job.dst_dir:
            job = replace(job, tmp_dir=tmp_dir, dst_dir=dst_dir)
        matched.append(job)
    return matched


#: Seconds between archiving passes (a transfer that ends wakes the next one at once).
ARCHIVE_INTERVAL_S = 5.0

AnyPass = PassResult | ArchivePassResult


class Engine:
    """Runs the plotting and archiving passes on their schedules and hands each result on.

    Passes run in worker threads (they block on /proc, disks and fork); the free space of the
    archive dirs is refreshed by the archiving engine's :class:`SpaceMonitor` in this event
    loop, so a farmer that does not answer delays nothing. ``on_pass`` and ``on_error`` (a pass
    that raised: the loop goes on) are called in the event loop's thread. ``wake()`` runs the
    next passes now.
    """

    def __init__(
        self,
        plotting: PlottingEngine | None,
        on_pass: Callable[[AnyPass], None],
        *,
        archiving: ArchivingEngine | None = None,
        on_error: Callable[[Exception], None] | None = None,
        interval_s: float | None = None,
        archive_interval_s: float = ARCHIVE_INTERVAL_S,
    ) -> None:
        self.plotting = plotting
        self.archiving = archiving
        self.on_pass = on_pass
        self.on_error = on_error
        either = plotting or archiving
        if either is None:
            raise ValueError("an engine runs plotting, archiving or both")
        polling = either.config.scheduling.polling_time_s
        self.interval_s = float(polling) if interval_s is None else interval_s
        self.archive_interval_s = archive_interval_s
        self._wake = asyncio.Event()
        self._archive_wake = asyncio.Event()
        self._jobs: tuple[Job, ...] | None = None

    def wake(self) -> None:
        self._wake.set()
        self._archive_wake.set()

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        """Pass after pass until ``stop`` is set (the passes under way are finished first)."""
        loops = []
        if self.plotting is not None:
            loops.append(self._plotting_loop(self.plotting, stop, once))
        if self.archiving is not None:
            loops.append(self._archiving_loop(self.archiving, stop, once))
        if once:  # one pass each, archiving after plotting so that it has the jobs' phases
            for one in loops:
                await one
        else:
            await asyncio.gather(*loops)

    async def _plotting_loop(
        self, plotting: PlottingEngine, stop: asyncio.Event, once: bool
    ) -> None:
        while not stop.is_set():
            self._wake.clear()
            result = await self._pass(plotting.step)
            if isinstance(result, PassResult):
                self._jobs = result.snapshot.jobs
                self._archive_wake.set()  # archiving wants the jobs' phases (dst priority)
            if once:
                return
            await _sleep(stop, self._wake, self.interval_s)

    async def _archiving_loop(
        self, archiving: ArchivingEngine, stop: asyncio.Event, once: bool
    ) -> None:
        space = archiving.space
        replotter = archiving.replotter
        # A new sample (or room made on a farmer) may let a waiting target start: look at once.
        space.on_update = lambda _name: self._archive_wake.set()
        if once:
            await asyncio.gather(space.refresh_due(), replotter.refresh_due())
            workers: list[asyncio.Future[None]] = []
        else:
            # The replotter lists and removes in this loop, over the monitor's connections.
            workers = [
                asyncio.ensure_future(space.run(stop)),
                asyncio.ensure_future(replotter.run(stop)),
            ]
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                self._archive_wake.clear()
                # Without plotting here, the archiving engine scans the jobs itself.
                jobs = self._jobs if self.plotting is not None else None
                result = await self._pass(functools.partial(archiving.step, jobs))
                if isinstance(result, ArchivePassResult):
                    for started in result.started:
                        _wake_on_exit(started.popen, loop, self._archive_wake)
                if once:
                    # A removal the pass asked for is finished, not cut off (the next run
                    # sends the plot into the room it made).
                    await replotter.drain()
                    return
                await _sleep(stop, self._archive_wake, self.archive_interval_s)
        finally:
            for worker in workers:
                await worker
            await space.close()

    async def _pass(self, step: Callable[[], AnyPass]) -> AnyPass | None:
        try:
            result = await asyncio.to_thread(step)
        except Exception as error:  # a bug or an unforeseen OS error: report, go on
            if self.on_error is None:
                raise
            self.on_error(error)
            return None
        self.on_pass(result)
        return result


async def _sleep(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    """Until ``timeout`` passes, ``stop`` is set or ``wake`` is."""
    stopping = asyncio.ensure_future(stop.wait())
    waking = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait((stopping, waking), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        waking.cancel()


def _wake_on_exit(
    popen: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop, wake: asyncio.Event
) -> None:
    """Set ``wake`` when the process ends, so the next transfer starts without waiting for the
    next pass. A thread of its own: a transfer takes hours, and the event loop's default
    executor has only a few threads, which the passes need."""

    def wait() -> None:
        popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody to wake
            loop.call_soon_threadsafe(wake.set)

    threading.Thread(target=wait, name=f"wake-on-{popen.pid}", daemon=True).start()
