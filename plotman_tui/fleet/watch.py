"""``plotman-tui watch --json``: this machine's state as JSON lines, then only what changes.

The fleet view runs it over SSH on every host (and as a child process on its own machine):
one ``hello``, one ``snapshot``, then ``jobs``, ``dirs``, ``state`` and ``actions`` lines as
things change, and a ``beat`` whenever nothing was sent for BEAT_S (:mod:`.wire`).

Read-only: it takes neither the scheduler lock nor the archiver lock, starts and stops nothing
and connects nowhere. What it reads comes the way the dashboard reads it: a scan of the process
table every LOOK_S, the log dir watched between scans (a phase shows within a fraction of a
second), the dirs every DIRS_S, the loops' locks, pause flags and state files every STATE_S,
the action log when it changed, the history (plots today, and what each job's progress and ETA
are learned from) at start, when a job ends and every HISTORY_S.

Each job's progress and ETA (its :class:`~plotman_tui.farm.eta.Estimate`) is worked out at
every scan as the dashboard works it out (an :class:`~plotman_tui.farm.eta.EtaModel` of the
history's records), but sent with the job only when it moved by a whole percent or a minute
(:func:`estimate_moved`): estimates move every second, and a job sent for each move would be a
line per job per scan.

Every read runs in a daemon thread (one for the quick reads, one each for the dirs and the
history): the event loop only writes lines, and a stat stuck on a hung mount never keeps the
watch from answering or from exiting. SIGHUP, SIGTERM and SIGINT end it at once with 0; so does
a closed stdout (the SSH session ended) or stdin at its end (the client left).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import functools
import math
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR
from typing import Any, Final, TextIO, TypeVar

from watchfiles import Change, awatch

from plotman_tui.appdirs import read_regular_file
from plotman_tui.config.loader import MAX_CONFIG_BYTES
from plotman_tui.config.schema import Config
from plotman_tui.dirview import ArchiveRow, archive_rows, configured_dirs, match_dirs
from plotman_tui.farm.actionlog import ActionEntry, ActionLog, default_action_log
from plotman_tui.farm.archive.transfer import find_transfers
from plotman_tui.farm.dirs import DirInfo, probe_dir
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.eta import UNKNOWN, Estimate, EtaModel
from plotman_tui.farm.history import default_cache_path, read_history
from plotman_tui.farm.history_stats import per_day
from plotman_tui.farm.loopstate import LoopReport, loop_report
from plotman_tui.farm.model import Job
from plotman_tui.farm.pauseflags import Loop
from plotman_tui.farm.units import short_time
from plotman_tui.fleet import wire
from plotman_tui.fleet.model import ACTIONS_KEPT, LoopState
from plotman_tui.fleet.wire import BEAT_S

#: A scan of the process table this often while the log dir is watched (the dashboard's
#: WATCHED_LOOK_INTERVAL_S): phases come from the watch, a scan refreshes states and times.
LOOK_S: Final = 5.0
#: ... and this often when the log dir cannot be watched (the dashboard's LOOK_INTERVAL_S).
UNWATCHED_LOOK_S: Final = 1.5
DIRS_S: Final = 10.0
STATE_S: Final = 2.0
ARCHIVE_S: Final = 5.0
ACTIONS_S: Final = 2.0
HISTORY_S: Final = 600.0
#: An estimate is sent again once its ETA moved this much (s) or its progress a whole percent.
ESTIMATE_STEP_S: Final = 60.0
#: Temp space (a stat of every temp file) is measured this often at most (the dashboard's).
TEMP_REFRESH_S: Final = 30.0
#: A scan (or another read of the process table, the logs, the loops' state) under way this
#: long is told as a problem of the host: its beats go on, its jobs are old news meanwhile.
STUCK_S: Final = 30.0
#: How long one dir's free space may take before it counts as a hung mount.
DIR_TIMEOUT_S: Final = 5.0
# A lone append to a log is read after this much quiet (ms), and writes that go on are read
# this often at the least (the dashboard's log watch: phases show well within 1 s).
_WATCH_STEP_MS: Final = 100
_WATCH_DEBOUNCE_MS: Final = 500
#: How often a log dir that could not be watched is tried again, and a watched one checked to
#: be the same dir (removed and made again, or mounted over).
_WATCH_CHECK_S: Final = 5.0

_T = TypeVar("_T")
_STUCK = "its scan has not finished"


class WatchError(Exception):
    """Why the watch cannot go on, in one line (its error line says it)."""


class _ClientGone(Exception):
    """stdout is closed: nobody reads the lines any more."""


class _Worker:
    """One daemon thread that runs blocking reads in turn. Daemon, not an executor: a read
    stuck on a dead mount must not hold the exit (executors join their threads)."""

    def __init__(self, name: str) -> None:
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        #: When the read under way began (monotonic; None: idle).
        self.busy_since: float | None = None
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def _serve(self) -> None:
        while True:
            work = self._work.get()
            self.busy_since = time.monotonic()
            try:
                work()
            finally:
                self.busy_since = None

    def busy_for(self) -> float:
        """How long the read under way has taken so far (0: none)."""
        since = self.busy_since
        return 0.0 if since is None else time.monotonic() - since

    async def run(self, function: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()

        def settle(outcome: Callable[[], None]) -> None:
            if not future.done():
                outcome()

        def work() -> None:
            try:
                value = function()
            except BaseException as error:  # handed to the awaiting side
                failure = error
                with contextlib.suppress(RuntimeError):  # the loop has closed: we are leaving
                    loop.call_soon_threadsafe(settle, lambda: future.set_exception(failure))
                return
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, lambda: future.set_result(value))

        self._work.put(work)
        return await future


@dataclass(frozen=True)
class _Loops:
    plotting: LoopState
    archiving: LoopState


def loop_state(report: LoopReport, *, configured: bool = True, now: float) -> LoopState:
    """A loop report in the fleet's words (what a host's line says of the loop)."""
    pause = report.pause
    paused_by = None
    if pause.paused:
        who = pause.by or "someone"
        paused_by = who if pause.at is None else f"{who} at {short_time(pause.at, now)}"
        if pause.problem:
            paused_by = f"a damaged flag ({pause.problem})"
    reason = report.reason
    if report.problem:
        reason = f"{reason}; {report.problem}" if reason else report.problem
    return LoopState(
        holder=report.holder,
        paused=pause.paused,
        paused_by=paused_by,
        reason=reason,
        configured=configured,
    )


class _NewActions:
    """The action log's entries not yet sent; the log is read only when one of its files
    changed (the dashboard's ActionLogFeed does the same)."""

    # Writers stamp an entry before they queue for the log's lock, so entries may land a
    # little out of time order: each read looks back this far and drops what it already sent.
    _OVERLAP_S = 10.0

    def __init__(self, log: ActionLog) -> None:
        self.log = log
        self._stamp: tuple[tuple[int, int, int], ...] | None = None
        self._since: float | None = None
        self._sent: set[ActionEntry] = set()

    def read(self) -> list[ActionEntry]:
        stamp = tuple(_stamp(path) for path in (self.log.path, self.log.rotated_path(1)))
        if stamp == self._stamp:
            return []
        self._stamp = stamp
        try:
            entries = self.log.entries(self._since)
        except OSError:
            return []  # unreadable now (a permission changed): the next change reads again
        new = [entry for entry in entries if entry not in self._sent]
        if self._since is None:
            new = new[-ACTIONS_KEPT:]
        if entries:
            self._since = max(entry.time for entry in entries) - self._OVERLAP_S
            self._sent = {entry for entry in entries if entry.time >= self._since}
        return new


def _stamp(path: Path) -> tuple[int, int, int]:
    try:
        info = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def sample_dirs_within(tmp: Sequence[str], dst: Sequence[str]) -> list[DirInfo]:
    """Free space of each dir, and the finished plots of the dst dirs; a dir on a hung mount
    is an error after DIR_TIMEOUT_S, not a watch that stops answering."""
    # All at once, each in a prober thread of its own: ten hung mounts cost one timeout.
    probes = [(path, probe_dir(path)) for path in tmp if path not in dst]
    probes += [(path, probe_dir(path, count_plots=True)) for path in dst]
    deadline = time.monotonic() + DIR_TIMEOUT_S
    found = []
    for path, probe in probes:
        try:
            found.append(probe.result(timeout=max(0.0, deadline - time.monotonic())))
        except concurrent.futures.TimeoutError:
            found.append(
                DirInfo(path, error=f"no answer within {DIR_TIMEOUT_S:g} s (a hung mount?)")
            )
        except OSError as error:
            found.append(DirInfo(path, error=error.strerror or str(error)))
    return found


def read_host_history(log_dir: str, now: float) -> tuple[int, EtaModel]:
    """Plots whose logs say they finished since this machine's local midnight, and what the
    finished runs say of how long each phase takes (the dashboard's history read does both)."""
    history = read_history(log_dir, default_cache_path())
    return per_day(history.records, 1, now)[0].plots, EtaModel.from_records(history.records)


def estimate_moved(sent: Estimate | None, now: Estimate | None) -> bool:
    """Whether ``now`` says what ``sent`` said no more: its shown percent, or its ETA by
    ESTIMATE_STEP_S, or its basis or lateness changed, or one is known that was not."""
    if sent is None or now is None:
        return sent is not now
    if (sent.basis, sent.same_tmp, sent.late) != (now.basis, now.same_tmp, now.late):
        return True
    if _percent(sent.progress) != _percent(now.progress):
        return True
    if sent.eta_seconds is None or now.eta_seconds is None:
        return sent.eta_seconds is not now.eta_seconds
    return abs(sent.eta_seconds - now.eta_seconds) >= ESTIMATE_STEP_S


def _percent(progress: float | None) -> int | None:
    # As the table shows it ("42%"): a move within the percent shows nothing new.
    return None if progress is None else math.floor(progress * 100)


class _Watch:
    def __init__(self, config: Config, out: TextIO) -> None:
        self.config = config
        self.out = out
        self.log_dir = os.fspath(config.logging.plots)
        tmp, dst = configured_dirs(config)
        self.tmp, self.dst = tmp, dst
        self.configured = [*tmp, *dst]
        self.archive_configured = bool(config.archiving.active_targets)
        self.scanner = Scanner(config.logging.plots, temp_refresh_s=TEMP_REFRESH_S)
        self.actions = _NewActions(default_action_log())
        self.quick = _Worker("watch-reads")
        self.dir_worker = _Worker("watch-dirs")
        self.history_worker = _Worker("watch-history")
        self.stop = asyncio.Event()
        self.sent_at = 0.0
        # What the client has been sent.
        self.wire_jobs: dict[str, dict[str, Any]] = {}
        self.problems: tuple[str, ...] = ()
        self.dirs: tuple[DirInfo, ...] = ()
        self.dir_of: dict[str, str] = {}
        self.dirs_taken_at: float | None = None
        self.loops = _Loops(LoopState(), LoopState(configured=self.archive_configured))
        self.archive_rows: tuple[ArchiveRow, ...] = ()
        self.plots_today: int | None = None
        self.eta_model: EtaModel | None = None
        self.estimates: dict[str, Estimate] = {}  # as last sent, by job key
        # Wake-ups: a new file in the log dir wakes a scan; a job that ends wakes the dirs
        # and the history.
        self.scan_now = asyncio.Event()
        self.dirs_now = asyncio.Event()
        self.history_now = asyncio.Event()
        self.watched = False
        # The scanner's latest jobs, kept by the reading thread (a log read between two scans
        # goes on from the latest scan, whatever the event loop has sent yet).
        self.scanned_jobs: tuple[Job, ...] = ()
        self.snapshot_sent = False

    # -- output ---------------------------------------------------------------------------------

    def send(self, line: str) -> None:
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except BrokenPipeError:
            raise _ClientGone from None
        except OSError as error:
            if error.errno in (errno.EPIPE, errno.EBADF):
                raise _ClientGone from None
            raise
        except ValueError:  # stdout closed in this process
            raise _ClientGone from None
        self.sent_at = time.monotonic()

    # -- reads (in the workers' threads) --------------------------------------------------------

    def _scan(self) -> tuple[tuple[Job, ...], tuple[str, ...], dict[str, str]]:
        snapshot = self.scanner.scan()
        self.scanned_jobs = snapshot.jobs
        return snapshot.jobs, snapshot.problems, match_dirs(snapshot.jobs, self.configured)

    def _update_logs(self, paths: Iterable[str]) -> tuple[tuple[Job, ...], dict[str, str]] | None:
        jobs = self.scanner.update_logs(self.scanned_jobs, paths)
        if jobs is None:
            return None
        self.scanned_jobs = jobs
        return jobs, match_dirs(jobs, self.configured)

    def _read_loops(self, with_rows: bool) -> tuple[_Loops, tuple[ArchiveRow, ...] | None]:
        now = time.time()
        plotting = loop_report(Loop.PLOTTING, now=now)
        archiving = loop_report(Loop.ARCHIVING, now=now)
        rows = None
        if with_rows and self.archive_configured:
            targets = self.config.archiving.active_targets
            # The free space comes from the archiving loop's reads: with no loop running
            # there, "not read yet" would never end.
            unread = "not read yet" if archiving.holder else "not read: no archiving loop runs"
            transfers = find_transfers(targets)
            rows = tuple(archive_rows(self.config, archiving.spaces, transfers, unread=unread))
        loops = _Loops(
            loop_state(plotting, now=now),
            loop_state(archiving, configured=self.archive_configured, now=now),
        )
        return loops, rows

    def _config_text(self) -> wire.WireConfig:
        source = self.config.source
        text = ""
        if source is not None:
            # The file as on disk (the client reads it with this machine's home), not the
            # parsed config: that is what the host's own commands obey.
            try:
                data = read_regular_file(source, MAX_CONFIG_BYTES)
            except OSError as error:
                why = error.strerror or str(error)
                raise WatchError(f"cannot read its config file {source}: {why}") from None
            text = data.decode("utf-8-sig", "replace")
        return wire.WireConfig(
            path=os.fspath(source) if source is not None else "",
            text=text,
            home=os.path.expanduser("~"),
        )

    # -- what changed ---------------------------------------------------------------------------

    def _estimated(self, jobs: tuple[Job, ...]) -> dict[str, Estimate]:
        """Each job's estimate as it is to be sent: the one sent before while it says the
        same (:func:`estimate_moved`); a job with nothing known has none."""
        model = self.eta_model
        if model is None:
            return {}
        now = time.time()
        found = {}
        for job in jobs:
            key = wire.job_key(job)
            estimate: Estimate | None
            try:
                estimate = model.estimate(job, now)
            except (ArithmeticError, ValueError, TypeError):
                # The job comes from its log (untrusted): an odd one costs its own estimate,
                # never the host's whole view.
                estimate = None
            if estimate == UNKNOWN:
                estimate = None
            sent = self.estimates.get(key)
            if not estimate_moved(sent, estimate):
                estimate = sent
            if estimate is not None:
                found[key] = estimate
        self.estimates = found
        return found

    def _encoded(self, jobs: tuple[Job, ...]) -> dict[str, dict[str, Any]]:
        estimates = self._estimated(jobs)
        keyed = ((wire.job_key(job), job) for job in jobs)
        return {key: wire.job_to_wire(job, estimates.get(key)) for key, job in keyed}

    def _jobs_changed(
        self, jobs: tuple[Job, ...], problems: tuple[str, ...], dir_of: dict[str, str]
    ) -> None:
        encoded = self._encoded(jobs)
        sent = self.wire_jobs
        # New jobs go whole; the others only with what changed (wire.job_delta).
        changed = [data for key, data in encoded.items() if key not in sent]
        updated = [
            delta
            for key, data in encoded.items()
            if key in sent and (delta := wire.job_delta(key, sent[key], data)) is not None
        ]
        gone = [key for key in sent if key not in encoded]
        if changed or updated or gone or problems != self.problems:
            self.wire_jobs = encoded
            self.problems = problems
            self.send(
                wire.encode_jobs(
                    time.time(), changed=changed, updated=updated, gone=gone, problems=problems
                )
            )
        if gone:
            self.dirs_now.set()
            self.history_now.set()
        if dir_of != self.dir_of:
            self.dir_of = dir_of
            self._send_dirs()

    def _send_dirs(self) -> None:
        self.send(
            wire.encode_dirs(
                time.time(), dirs=self.dirs, dir_of=self.dir_of, dirs_taken_at=self.dirs_taken_at
            )
        )

    def _send_state(self) -> None:
        self.send(
            wire.encode_state(
                time.time(),
                plotting=self.loops.plotting,
                archiving=self.loops.archiving,
                archive_rows=self.archive_rows,
                plots_today=self.plots_today,
            )
        )

    # -- the loops ------------------------------------------------------------------------------

    async def _wait(self, event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        event.clear()

    async def scans(self) -> None:
        while True:
            await self._wait(self.scan_now, LOOK_S if self.watched else UNWATCHED_LOOK_S)
            self._jobs_changed(*await self.quick.run(self._scan))

    async def log_watch(self) -> None:
        """Watch the log dir; while it cannot be watched, the scans come oftener."""
        while True:
            identity = await self.quick.run(lambda: _identity(self.log_dir))
            if identity is not None:
                await self._watch_dir(identity)
            self.watched = False
            await asyncio.sleep(_WATCH_CHECK_S)  # a missing dir is looked for again

    async def _watch_dir(self, identity: tuple[int, int]) -> None:
        root = os.path.normpath(self.log_dir)
        checked_at = time.monotonic()
        try:
            batches = awatch(
                self.log_dir,
                # A deleted file has nothing left to read; the dir's own deletion matters.
                watch_filter=lambda change, path: change is not Change.deleted or path == root,
                debounce=_WATCH_DEBOUNCE_MS,
                step=_WATCH_STEP_MS,
                recursive=False,
                rust_timeout=int(_WATCH_CHECK_S * 1000),
                yield_on_timeout=True,
            )
            self.watched = True
            self.scan_now.set()  # what was written before the watch began
            async with contextlib.aclosing(batches) as changes_seen:
                async for changes in changes_seen:
                    if any(path == root for _change, path in changes):
                        return  # the dir itself went: watch what is there anew
                    if any(change is Change.added for change, _path in changes):
                        self.scan_now.set()  # a new job's log: only a scan ties it to its job
                    paths = {path for _change, path in changes}
                    if paths:
                        found = await self.quick.run(functools.partial(self._update_logs, paths))
                        if found is not None:
                            self._jobs_changed(found[0], self.problems, found[1])
                    if time.monotonic() >= checked_at + _WATCH_CHECK_S:
                        checked_at = time.monotonic()
                        if await self.quick.run(lambda: _identity(self.log_dir)) != identity:
                            return
        except (OSError, RuntimeError):  # how watchfiles reports inotify trouble: scan oftener
            return

    async def dir_samples(self) -> None:
        while True:
            await self._wait(self.dirs_now, DIRS_S)
            taken_at = time.time()
            dirs = tuple(await self.dir_worker.run(lambda: sample_dirs_within(self.tmp, self.dst)))
            self.dirs_taken_at = taken_at
            if dirs != self.dirs:
                self.dirs = dirs
                self._send_dirs()

    async def loop_states(self) -> None:
        rows_at = time.monotonic()
        while True:
            await asyncio.sleep(STATE_S)
            with_rows = time.monotonic() >= rows_at + ARCHIVE_S
            loops, rows = await self.quick.run(functools.partial(self._read_loops, with_rows))
            if with_rows:
                rows_at = time.monotonic()
            changed = loops != self.loops or (rows is not None and rows != self.archive_rows)
            self.loops = loops
            if rows is not None:
                self.archive_rows = rows
            if changed:
                self._send_state()

    async def action_log(self) -> None:
        while True:
            await asyncio.sleep(ACTIONS_S)
            entries = await self.quick.run(self.actions.read)
            if entries:
                self.send(wire.encode_actions(time.time(), entries))

    async def history(self) -> None:
        while True:
            count: int | None
            try:
                count, model = await self.history_worker.run(
                    lambda: read_host_history(self.log_dir, time.time())
                )
            except Exception:  # the history is a nicety: a broken cache must not end the watch
                count, model = None, None
            if model is not None or self.eta_model is not None:
                self.eta_model = model
                self.scan_now.set()  # the jobs' estimates by the runs as they are now
            if count != self.plots_today:
                self.plots_today = count
                self._send_state()
            await self._wait(self.history_now, HISTORY_S)

    async def beats(self) -> None:
        while True:
            due = self.sent_at + BEAT_S - time.monotonic()
            if due > 0:
                await asyncio.sleep(due)
                continue
            self.send(wire.encode_beat(time.time()))
            self._tell_stuck()

    def _tell_stuck(self) -> None:
        """A read hung (a dead mount under a temp file, a log on a stuck disk): the host
        stays up, with this among its problems until the next scan's news replace them."""
        stuck_for = self.quick.busy_for()
        if not self.snapshot_sent:
            # No jobs line may come before the snapshot (the client would refuse it as out of
            # turn); a first scan that hangs leaves the host "connecting", beating.
            return
        if stuck_for < STUCK_S or any(p.startswith(_STUCK) for p in self.problems):
            return
        since = short_time(time.time() - stuck_for, time.time())
        self.problems = (
            *self.problems,
            f"{_STUCK} since {since} (a hung mount?): its jobs are as they were then",
        )
        self.send(wire.encode_jobs(time.time(), changed=[], gone=[], problems=self.problems))

    # -- the whole ------------------------------------------------------------------------------

    async def snapshot(self) -> None:
        # The dirs are sampled meanwhile: a hung mount takes DIR_TIMEOUT_S, not the whole start.
        sampling = asyncio.ensure_future(
            self.dir_worker.run(lambda: sample_dirs_within(self.tmp, self.dst))
        )
        taken_at = time.time()
        jobs, problems, dir_of = await self.quick.run(self._scan)
        loops, rows = await self.quick.run(lambda: self._read_loops(True))
        actions = await self.quick.run(self.actions.read)
        config = await self.quick.run(self._config_text)
        dirs = await sampling
        self.problems, self.dir_of = problems, dir_of
        self.wire_jobs = self._encoded(jobs)
        self.loops, self.archive_rows = loops, rows or ()
        self.dirs, self.dirs_taken_at = tuple(dirs), taken_at
        self.send(
            wire.encode_snapshot(
                time.time(),
                jobs=jobs,
                problems=problems,
                dirs=self.dirs,
                dir_of=dir_of,
                dirs_taken_at=taken_at,
                plotting=loops.plotting,
                archiving=loops.archiving,
                archive_rows=self.archive_rows,
                actions=actions,
                plots_today=None,
                config=config,
                estimates=self.estimates,
            )
        )
        self.snapshot_sent = True

    async def run(self) -> None:
        self.send(wire.encode_hello(time.time(), socket.gethostname(), os.getpid()))
        # Beats from the hello on: a slow first scan must not look like a silent host.
        tasks = [asyncio.create_task(self.beats())]
        try:
            await _while_running(tasks, self.snapshot())
            loop = asyncio.get_running_loop()
            _watch_stdin(lambda: loop.call_soon_threadsafe(self.stop.set))
            tasks += [
                asyncio.create_task(work())
                for work in (
                    self.scans,
                    self.log_watch,
                    self.dir_samples,
                    self.loop_states,
                    self.action_log,
                    self.history,
                )
            ]
            await _while_running(tasks, self.stop.wait())
        finally:
            for task in tasks:
                task.cancel()


async def _while_running(tasks: Sequence[asyncio.Task[None]], work: Awaitable[object]) -> None:
    """Await ``work``; a task of ``tasks`` that ends first (they run for ever: it raised) ends
    it with that task's exception."""
    main = asyncio.ensure_future(work)
    done, _pending = await asyncio.wait([main, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task is not main:
            main.cancel()
            task.result()
    main.result()


def _identity(path: str) -> tuple[int, int] | None:
    """The dir's device and inode (None when it is missing or not a dir)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if S_ISDIR(info.st_mode) else None


def _watch_stdin(on_end: Callable[[], object]) -> None:
    """Call ``on_end`` when stdin reaches its end: the client that started us has left (an
    SSH session's stdin closes with it). Without a stdin there is nothing to watch."""

    def read() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError as error:
            if error.errno == errno.EBADF:
                return  # no stdin at all: only stdout and the signals tell the end
        with contextlib.suppress(RuntimeError):  # the loop has closed
            on_end()

    threading.Thread(target=read, name="watch-stdin", daemon=True).start()


def _end_at_once(_signal: int, _frame: object) -> None:
    # Nothing here holds state worth a tidy exit (the watch writes nothing but its lines), and
    # a write blocked on a client that stopped reading must not keep a SIGTERM waiting.
    os._exit(0)


def _describe(error: BaseException) -> str:
    if isinstance(error, WatchError):
        return str(error)
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_watch(config: Config, out: TextIO) -> int:
    """Stream this machine's state to ``out`` until the client leaves; 0 when it left (or a
    signal ended the watch), 1 when the watch could not go on (its last line says why)."""
    numbers = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
    before = {number: signal.signal(number, _end_at_once) for number in numbers}
    watch = _Watch(config, out)
    try:
        asyncio.run(watch.run())
    except _ClientGone:
        _quiet(out)
        return 0
    except Exception as error:  # a bug or an unforeseen OS error: the client is told why
        try:
            watch.send(wire.encode_error(time.time(), _describe(error)))
        except (_ClientGone, OSError):
            _quiet(out)
        return 1
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
    return 0


def _quiet(out: TextIO) -> None:
    """No more output, and no error at exit for what is still buffered (the reader left)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)
