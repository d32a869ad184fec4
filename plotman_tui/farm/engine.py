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
import os
import re
import shlex
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from plotman_tui.config.schema import Config
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.dirs import inspect_dir
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.lock import SchedulerLock
from plotman_tui.farm.model import Job, Snapshot, distinct_dirs
from plotman_tui.farm.scheduler import Decision, PendingStart, Start, Wait, decide
from plotman_tui.farm.spawn import StartedJob, start_job
from plotman_tui.farm.units import human_duration
from plotman_tui.plotters import identify
from plotman_tui.plotters.base import LogInfo

#: A job of ours that fails sooner than this after its start counts as a failed start.
QUICK_EXIT_S = 120.0
#: The first back-off after a failed start; it doubles with every further one, up to the max.
BACKOFF_S = 60.0
BACKOFF_MAX_S = 3600.0
#: A job of ours that the scan has not recognised this long after its start gets a warning.
UNSEEN_WARNING_S = 60.0

# Exit statuses of a job that was stopped on purpose (a kill, a closed terminal), not a failure.
_STOPPED_ON_PURPOSE = frozenset(
    -s for s in (signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGHUP)
)


class EventKind(StrEnum):
    """What an engine event is about (the ``event`` field of ``--json`` lines)."""

    INFO = "info"  # the front end's own news: started, stopped
    START = "start"  # a job was started
    START_FAILED = "start-failed"  # a job could not be started, or died right after its start
    WAIT = "wait"  # the reason for starting nothing changed
    ENDED = "ended"  # a job is gone from the process table
    LOCK = "lock"  # this engine took the scheduler lock
    MONITOR = "monitor"  # another process holds the scheduler lock
    ERROR = "error"  # something the farmer must look at (not tied to one start)


@dataclass(frozen=True)
class Event:
    """One line of news from the engine; ``details`` are JSON values for ``--json``."""

    time: float
    kind: EventKind
    message: str
    failed: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "event": str(self.kind),
            "message": self.message,
            "failed": self.failed,
            **self.details,
        }


@dataclass(frozen=True)
class PassResult:
    """What one pass saw and did.

    ``decision`` is None when this engine did not schedule (the lock is held elsewhere, or
    plotting is paused); ``started`` is the job it started, if any.
    """

    time: float
    snapshot: Snapshot
    decision: Decision | None
    started: StartedJob | None
    events: tuple[Event, ...]
    holds_lock: bool

    @property
    def failed(self) -> bool:
        return any(event.failed for event in self.events)


@dataclass
class _Launch:
    """A job this engine started, followed until it ends."""

    job: StartedJob
    pending: PendingStart
    seen: bool = False  # the scan has shown it
    warned_unseen: bool = False
    plot_id: str | None = None
    phase: str | None = None


FreeSpace = Callable[[str], int | None]
Starter = Callable[..., StartedJob]


def _free_bytes(path: str) -> int | None:
    return inspect_dir(path).free_bytes


def wait_key(reason: str) -> str:
    """A wait reason with its numbers blanked: a countdown or a changing free space is not news.

    ``stagger (1623s/1800s)`` and ``stagger (1700s/1800s)`` give the same key; ``max jobs (12)``
    and ``stagger (...)`` do not.
    """
    return _NUMBER.sub("#", reason)


_NUMBER = re.compile(r"\d[\d.:]*(?:d\d[\d:]*)?(?:\s*(?:[KMGTPE]i?B\b|B\b|[smh]\b))?")


class PlottingEngine:
    """Runs plotting passes; not thread-safe (one pass at a time, from one thread at a time)."""

    def __init__(
        self,
        config: Config,
        *,
        lock: SchedulerLock,
        action_log: ActionLog | None,
        scanner: Scanner | None = None,
        clock: Callable[[], float] = time.time,
        free_space: FreeSpace = _free_bytes,
        starter: Starter = start_job,
        quick_exit_s: float = QUICK_EXIT_S,
        backoff_s: float = BACKOFF_S,
        backoff_max_s: float = BACKOFF_MAX_S,
    ) -> None:
        self.config = config
        self.lock = lock
        self.action_log = action_log
        self.scanner = scanner or Scanner(config.logging.plots)
        self._clock = clock
        self._free_space = free_space
        self._starter = starter
        self._quick_exit_s = quick_exit_s
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        #: The dashboard's switch: False schedules nothing (jobs are still watched).
        self.plotting_enabled = True
        self._launches: dict[int, _Launch] = {}
        self._previous: dict[tuple[int, float], Job] = {}
        self._lock_state: str | None = None
        self._last_wait: str | None = None
        self._failures = 0
        self._retry_at: float | None = None
        self._last_failure = ""

    # -- one pass -------------------------------------------------------------------------------

    def step(self) -> PassResult:
        """Look at the machine and start at most one job; returns what happened."""
        now = self._clock()
        events: list[Event] = []
        snapshot = self.scanner.scan()
        events += self._follow_jobs(snapshot, now)
        holds_lock = self._check_lock(now, events)
        decision: Decision | None = None
        started: StartedJob | None = None
        if holds_lock and self.plotting_enabled:
            decision = self._decide(snapshot, now)
            if isinstance(decision, Start):
                started = self._start(decision, now, events)
            else:
                self._note_wait(decision, now, events)
        elif holds_lock:
            self._note_wait(Wait("plotting is paused"), now, events)
        return PassResult(
            time=now,
            snapshot=snapshot,
            decision=decision,
            started=started,
            events=tuple(events),
            holds_lock=holds_lock,
        )

    def close(self) -> None:
        """Give the scheduler lock up; the jobs run on."""
        self.lock.release()

    @property
    def launched(self) -> tuple[StartedJob, ...]:
        """Jobs this engine started that have not ended yet."""
        return tuple(launch.job for launch in self._launches.values())

    # -- the lock -------------------------------------------------------------------------------

    def _check_lock(self, now: float, events: list[Event]) -> bool:
        try:
            holds = self.lock.acquire()
        except OSError as error:
            state = f"error {error}"
            if state != self._lock_state:
                events.append(
                    Event(
                        now,
                        EventKind.ERROR,
                        f"cannot open the scheduler lock {self.lock.path}: "
                        f"{error.strerror or error}; starting nothing",
                        failed=True,
                    )
                )
            self._lock_state = state
            return False
        if holds:
            if self._lock_state != "held":
                self._last_wait = None  # say the reason for waiting again, now it is ours
                events.append(
                    Event(
                        now,
                        EventKind.LOCK,
                        "holding the scheduler lock: this process starts the plot jobs",
                        details={"lock": str(self.lock.path)},
                    )
                )
            self._lock_state = "held"
            return True
        holder = self.lock.holder()
        who = holder.describe(now) if holder is not None else "another process"
        state = f"elsewhere {holder.pid if holder else None}"
        if state != self._lock_state:
            events.append(
                Event(
                    now,
                    EventKind.MONITOR,
                    f"plot jobs are started by {who}; monitoring only, taking over when it stops",
                    details={"lock": str(self.lock.path), "holder_pid": holder and holder.pid},
                )
            )
        self._lock_state = state
        return False

    # -- following jobs -------------------------------------------------------------------------

    def _follow_jobs(self, snapshot: Snapshot, now: float) -> list[Event]:
        events: list[Event] = []
        current = {(job.pid, job.started_at): job for job in snapshot.jobs}
        by_pid = {job.pid: job for job in snapshot.jobs}
        reported: set[int] = set()
        for pid, launch in list(self._launches.items()):
            job = by_pid.get(pid)
            if job is not None:
                launch.seen = True
                launch.plot_id = job.plot_id or launch.plot_id
                launch.phase = str(job.phase) if job.phase is not None else launch.phase
            returncode = launch.job.popen.poll()
            age = now - launch.job.started_at
            if returncode is None:
                if not launch.seen and not launch.warned_unseen and age >= UNSEEN_WARNING_S:
                    launch.warned_unseen = True
                    events.append(self._unseen_warning(launch, now))
                continue
            del self._launches[pid]
            reported.add(pid)
            events += self._ended_launch(launch, returncode, now)
        for key, job in self._previous.items():
            if key not in current and job.pid not in reported and job.pid not in by_pid:
                events.append(self._ended_job(job, now))
        # A launch that lived past the quick-exit window proves the plotter works.
        if any(
            now - launch.job.started_at >= self._quick_exit_s for launch in self._launches.values()
        ):
            self._failures = 0
            self._retry_at = None
        self._previous = current
        return events

    def _unseen_warning(self, launch: _Launch, now: float) -> Event:
        return Event(
            now,
            EventKind.ERROR,
            f"pid {launch.job.pid}, started {human_duration(now - launch.job.started_at)} ago, "
            "is not recognised as a plot job by the process scan: it counts against the limits "
            "only while this process runs. Check [plotting] executable.",
            failed=True,
            details={"pid": launch.job.pid, "argv": list(launch.job.argv)},
        )

    def _ended_launch(self, launch: _Launch, returncode: int, now: float) -> list[Event]:
        """The news of a job of ours that ended; every end goes into the action log too."""
        job = launch.job
        lasted = now - job.started_at
        info = _read_whole_log(job)
        if info is not None:
            launch.plot_id = launch.plot_id or info.plot_id
        who = _who(launch.plot_id, job.pid)
        details: dict[str, Any] = {
            "pid": job.pid,
            "plot_id": launch.plot_id,
            "returncode": returncode,
            "seconds": round(lasted, 1),
            "log": str(job.log_path),
        }
        status = _exit_status(returncode)
        failed = False
        kind = EventKind.ENDED
        if returncode == 0:
            self._failures, self._retry_at = 0, None  # the plotter works
            message = f"{who} finished after {human_duration(lasted)}"
            if info is not None and info.final_file:
                message += f": {info.final_file}"
                details["plot"] = info.final_file
            result = "ok"
        elif returncode in _STOPPED_ON_PURPOSE:
            message = f"{who} was stopped ({status}) after {human_duration(lasted)}"
            result = f"stopped: {status}"
        else:
            last_line = _last_log_line(job.log_path)
            problem = f"{status} after {human_duration(lasted)}" + (
                f": {last_line}" if last_line else ""
            )
            failed = True
            result = f"failed: {problem}"
            if lasted >= self._quick_exit_s:
                message = f"{who} failed: {problem}"
            else:
                delay = self._failed_start(f"{who} died: {problem}", now)
                kind = EventKind.START_FAILED
                message = (
                    f"{who} died right after its start ({problem}); "
                    f"next start in {human_duration(delay)}"
                )
        events = [Event(now, kind, message, failed=failed, details=details)]
        self._record(
            events,
            "end",
            job.pid,
            job.argv,
            f"lasted {human_duration(lasted)}",
            result,
            launch.plot_id,
            log=str(job.log_path),
        )
        return events

    def _ended_job(self, job: Job, now: float) -> Event:
        phase = str(job.phase) if job.phase is not None else "?"
        state = "finished" if job.completed else f"ended (last seen at phase {phase})"
        return Event(
            now,
            EventKind.ENDED,
            f"{_who(job.plot_id, job.pid)} {state}",
            details={"pid": job.pid, "plot_id": job.plot_id, "phase": phase},
        )

    # -- deciding and starting ------------------------------------------------------------------

    def _decide(self, snapshot: Snapshot, now: float) -> Decision:
        if self._retry_at is not None and now < self._retry_at:
            return Wait(
                f"start failed {self._failures}x in a row, next try in "
                f"{human_duration(self._retry_at - now)} ({self._last_failure})"
            )
        config = self.config
        dirs = distinct_dirs(
            *(os.fspath(path) for path in config.directories.tmp),
            *(os.fspath(path) for path in config.directories.dst_or_tmp),
        )
        free = {path: self._free_space(path) for path in dirs}
        jobs = _match_configured_dirs(snapshot.jobs, config)
        running = {job.pid for job in snapshot.jobs}
        pending = [launch.pending for pid, launch in self._launches.items() if pid not in running]
        return decide(jobs, config, now, free, pending)

    def _start(self, decision: Start, now: float, events: list[Event]) -> StartedJob | None:
        config = self.config
        try:
            job = self._starter(
                list(decision.argv), Path(config.logging.plots), nice=config.plotting.nice
            )
        except (OSError, ValueError) as error:
            problem = getattr(error, "strerror", None) or str(error)
            if isinstance(error, FileNotFoundError):
                problem = f"{decision.argv[0]}: program not found"
            delay = self._failed_start(problem, now)
            events.append(
                Event(
                    now,
                    EventKind.START_FAILED,
                    f"could not start {decision.argv[0]}: {problem}; next try in "
                    f"{human_duration(delay)}",
                    failed=True,
                    details={"argv": list(decision.argv), "reason": decision.reason},
                )
            )
            self._record(
                events, "start", None, decision.argv, decision.reason, f"failed: {problem}"
            )
            return None
        self._launches[job.pid] = _Launch(
            job=job,
            pending=PendingStart(
                tmp_dir=decision.tmp_dir, dst_dir=decision.dst_dir, k=decision.k, started_at=now
            ),
        )
        self._last_wait = None  # whatever the next wait is, it is news after a start
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

    def _failed_start(self, problem: str, now: float) -> float:
        """Count a failed start and back off; returns the seconds until the next try."""
        self._failures += 1
        delay: float = min(self._backoff_s * 2.0 ** (self._failures - 1), self._backoff_max_s)
        self._retry_at = now + delay
        self._last_failure = problem
        return delay

    def _note_wait(self, decision: Wait, now: float, events: list[Event]) -> None:
        key = wait_key(decision.reason)
        if key == self._last_wait:
            return
        self._last_wait = key
        events.append(
            Event(
                now,
                EventKind.WAIT,
                f"waiting: {decision.reason}",
                details={"reason": decision.reason},
            )
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
        """One action log entry; an error event (not an exception) when it cannot be written."""
        if self.action_log is None:
            return
        try:
            self.action_log.record(
                action, plot_id=plot_id, pid=pid, argv=argv, reason=reason, result=result, **extra
            )
        except (OSError, ValueError, TypeError) as error:
            message = f"action log {self.action_log.path} not written: {error}"
            events.append(Event(self._clock(), EventKind.ERROR, message, failed=True))


def _who(plot_id: str | None, pid: int) -> str:
    return f"job {plot_id[:8]} (pid {pid})" if plot_id else f"job pid {pid}"


def _exit_status(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
        return f"killed by signal {-returncode}"
    return f"exit {returncode}"


def _read_whole_log(job: StartedJob, limit: int = 16 << 20) -> LogInfo | None:
    """What the log of an ended job says (its plot id and plot file, above all).

    A short job can end between two scans, before discovery has read a line of it.
    """
    plotter = identify(job.argv)
    if plotter is None:
        return None
    parser = plotter.new_log_parser()
    try:
        with job.log_path.open("rb") as log:
            parser.feed(log.read(limit))
    except OSError:
        return None
    parser.finish()
    return parser.info


def _last_log_line(path: Path, limit: int = 200) -> str:
    """The last non-empty line of a log (at most ``limit`` characters), '' when unreadable."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(size - 4096, 0))
            tail = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""


def _match_configured_dirs(jobs: Sequence[Job], config: Config) -> list[Job]:
    """Jobs with their tmp and dst dirs spelled as the config spells them, where they are the same.

    The scheduler compares normalised paths and never touches the disk; a job started by hand
    through a symlink (``/mnt/t0`` -> ``/mnt/nvme0``) would not count against its dir. Real paths
    are resolved here, once per distinct dir a pass.
    """
    configured = distinct_dirs(
        *(os.fspath(p) for p in config.directories.tmp),
        *(os.fspath(p) for p in config.directories.dst_or_tmp),
    )
    known = set(configured)
    by_real: dict[str, str] = {}
    for path in configured:
        by_real.setdefault(os.path.realpath(path), path)
    resolved: dict[str, str] = {}

    def spelled(path: str | None) -> str | None:
        if not path:
            return path
        normal = os.path.normpath(path)
        if normal in known:
            return normal
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


class Engine:
    """Runs passes every ``polling_time_s`` in a worker thread and hands each result on.

    ``on_pass`` (and ``on_error``, for a pass that raised: the loop goes on) are called in the
    event loop's thread. ``wake()`` runs the next pass now.
    """

    def __init__(
        self,
        plotting: PlottingEngine,
        on_pass: Callable[[PassResult], None],
        *,
        on_error: Callable[[Exception], None] | None = None,
        interval_s: float | None = None,
    ) -> None:
        self.plotting = plotting
        self.on_pass = on_pass
        self.on_error = on_error
        self.interval_s = (
            float(plotting.config.scheduling.polling_time_s) if interval_s is None else interval_s
        )
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        """Pass after pass until ``stop`` is set (the pass under way is finished first)."""
        while not stop.is_set():
            self._wake.clear()
            try:
                result = await asyncio.to_thread(self.plotting.step)
            except Exception as error:  # a bug or an unforeseen OS error: report, go on
                if self.on_error is None:
                    raise
                self.on_error(error)
            else:
                self.on_pass(result)
            if once:
                return
            stopping = asyncio.ensure_future(stop.wait())
            waking = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait(
                    (stopping, waking),
                    timeout=self.interval_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                stopping.cancel()
                waking.cancel()
