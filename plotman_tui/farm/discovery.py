"""Stateless discovery: find every plot job in the process table and read what its log says.

Nothing is remembered between runs of the tool: a job is whatever process runs a plotter, and its
progress is whatever its log says. A :class:`Scanner` only keeps, per process, what never
changes (command line, working dir, log) and, per log, how far it has read and the parser's
state, so that a rescan reads just the bytes appended since the last one. One-shot commands can
carry that parser state from run to run in a cache file (plain JSON, derived data only).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from plotman_tui import __version__
from plotman_tui.appdirs import open_regular_file, read_regular_file
from plotman_tui.farm.control import TempListing, list_jobs_temp_files
from plotman_tui.farm.model import Job, JobStatus, Snapshot, TempFile
from plotman_tui.farm.procfs import (
    LINUX_PROC,
    ProcessSample,
    fd_target,
    open_paths,
    process_cwd,
    sample_process,
)
from plotman_tui.plotters import get_plotter, identify
from plotman_tui.plotters.base import LogInfo, LogParser, PlotArgs, Plotter
from plotman_tui.plotters.limits import COMPRESSION_MAX, sane_path

# Most of a log arrives on the first read; after that, appends are small. Reading in bounded
# chunks keeps memory flat for a pathological multi-gigabyte log.
_READ_CHUNK = 4 * 1024 * 1024

# How much of a log's start identifies it: enough to hold the plot id line of every plotter's
# log, so a log rewritten for another plot always differs here.
_HEAD_BYTES = 4096
_CACHE_FORMAT = 2
# The most a scan cache may be: far more than the state of every job a machine can run.
_MAX_CACHE_BYTES = 64 * 1024 * 1024

_DELETED = " (deleted)"


@dataclass
class _LogFollower:
    """How far one log has been read, and the parser that has read it."""

    parser: LogParser
    offset: int = 0  # bytes fed to the parser
    boundary: int = 0  # end of the last complete line fed: where a saved state is exact
    inode: int | None = None
    head_length: int = 0  # how many of the log's first bytes head_crc covers
    head_crc: int = 0
    # False for a state loaded from the cache, until the log's first bytes have been compared.
    verified: bool = True


@dataclass
class _Tracked:
    """What stays true for a process its whole life: read once, reused by every rescan."""

    argv: tuple[str, ...]
    plotter: Plotter
    cwd: str | None
    args: PlotArgs
    log_file: str | None  # the log's path, as shown
    read_path: str | None  # where to read it: the path, or the job's fd once it is deleted
    problems: tuple[str, ...] = ()
    follower: _LogFollower | None = None  # made on the first read of the log


@dataclass(frozen=True)
class _Remembered:
    """A job as a previous run saved it: its identity, its log and its parser's state."""

    pid: int
    create_time: float
    argv: tuple[str, ...]
    plotter: str
    log_file: str | None
    inode: int | None
    offset: int
    head_length: int
    head_crc: int
    state: Any


# Whose temp files a measure is: the job (pid, create time) and its plot id (see _temp_key).
_TempKey = tuple[int, float, str | None]


@dataclass(frozen=True)
class _TempMeasure:
    """A job's temp files and their total size, as measured at ``taken_at``."""

    taken_at: float
    files: tuple[TempFile, ...]
    usage_bytes: int | None


@dataclass
class _Sample:
    """What one scan read about one process."""

    pid: int
    create_time: float
    status: JobStatus
    tracked: _Tracked
    reading: ProcessSample | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, float]:
        return (self.pid, self.create_time)


class Scanner:
    """Finds plot jobs; reuse one instance so rescans read only new log bytes.

    ``log_dir`` is the configured ``[logging] plots`` dir: a job's log is the open file of the
    process that lies in it, compared by resolved real path so a symlinked log dir works.
    What never changes for a process (its command line, working dir and log) is read once per
    process, keyed by (pid, create time) so a reused pid is a new job.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None,
        *,
        clock: Callable[[], float] = time.time,
        temp_refresh_s: float = 0.0,
    ) -> None:
        self._log_dir = os.path.realpath(log_dir) if log_dir is not None else None
        self._clock = clock
        # Temp space needs a stat of every temp file (hundreds per k32 job), while a phase
        # costs one stat of the log: a long-running scanner may measure space less often.
        self._temp_refresh_s = temp_refresh_s
        self._temp_seen: dict[_TempKey, _TempMeasure] = {}
        self._tracked: dict[tuple[int, float], _Tracked] = {}
        self._identified: dict[_RawCommand, tuple[tuple[str, ...], Plotter | None]] = {}
        # Jobs a previous run saved (see load_cache), by pid; each is used at most once.
        self._remembered: dict[int, _Remembered] = {}
        #: Log bytes read since this scanner was made (tests and the benchmark check it).
        self.bytes_read = 0

    # -- the scan ------------------------------------------------------------------------------

    def scan(self) -> Snapshot:
        """One pass over the process table; returns the jobs, youngest first."""
        now = self._clock()
        problems: list[str] = []
        self._check_log_dir(problems)
        # A zombie's command line is empty: a job seen alive before (in this scanner or by the
        # run that saved the cache) is still recognised, if its create time is the same.
        earlier = {pid: (r.create_time, r.argv) for pid, r in self._remembered.items()}
        earlier.update({pid: (ctime, t.argv) for (pid, ctime), t in self._tracked.items()})
        known = self._identified
        self._identified = {}
        samples: list[_Sample] = []
        for pid, raw in _command_lines():
            # Most processes are not plot jobs and keep their command line for life: read and
            # judge each distinct command line once, not once per process per scan.
            seen = known.get(raw)
            if seen is None:
                seen = _judge(raw)
            self._identified[raw] = seen
            argv, plotter = seen
            expected_create_time = None
            if not argv:
                if pid not in earlier:
                    continue
                expected_create_time, argv = earlier[pid]
                plotter = identify(argv)
            if plotter is not None:
                try:
                    sample = self._sample(pid, argv, plotter, expected_create_time)
                except Exception as error:  # one job's odd data must never cost the scan
                    sample = _failed_sample(pid, argv, plotter, error)
                if sample is not None:
                    samples.append(sample)
        live = {sample.key for sample in samples}
        for key in [key for key in self._tracked if key not in live]:
            del self._tracked[key]
        samples = _drop_gui_parents(samples)
        infos = [self._follow_safely(sample) for sample in samples]
        jobs = self._build_jobs(samples, infos, now, problems)
        jobs.sort(key=lambda job: (-job.started_at, job.pid))
        return Snapshot(jobs=tuple(jobs), updated=now, problems=tuple(problems))

    def update_logs(self, jobs: Sequence[Job], paths: Iterable[str]) -> tuple[Job, ...] | None:
        """``jobs`` (from this scanner's last scan) again, with what the logs at ``paths`` have
        gained since they were last read; None when no job changed.

        For a watch of the log dir, between scans: no process is looked at, only the named logs
        are read, through the followers a scan uses, so the next scan goes on where this left
        off (no byte is read twice). A job's log fields (phase, plot id, dirs, times, ...) are
        what a scan would make of its log; its process and temp-space fields, and its wall
        time, stay as given. ``paths`` may name the log dir through a symlink; paths of no
        job's log, and jobs the scanner no longer tracks, are passed over.
        """
        if self._log_dir is None:
            return None
        real_dirs: dict[str, str] = {}
        wanted = set()
        for path in paths:
            directory, name = os.path.split(path)
            if directory not in real_dirs:
                real_dirs[directory] = os.path.realpath(directory)
            wanted.add(os.path.join(real_dirs[directory], name))
        now = self._clock()
        updated: list[Job] = []
        changed = False
        for job in jobs:
            tracked = self._tracked.get((job.pid, job.started_at))
            if tracked is None or tracked.log_file not in wanted:
                updated.append(job)
                continue
            sample = _Sample(job.pid, job.started_at, job.status, tracked)
            info = self._follow_safely(sample)
            fresh = _make_job_safely(sample, info, now)
            fresh = replace(
                fresh,
                wall_seconds=job.wall_seconds,
                tmp_files=job.tmp_files,
                tmp_usage_bytes=job.tmp_usage_bytes,
                mem_rss_bytes=job.mem_rss_bytes,
                mem_vms_bytes=job.mem_vms_bytes,
                user_seconds=job.user_seconds,
                sys_seconds=job.sys_seconds,
                iowait_seconds=job.iowait_seconds,
            )
            changed = changed or fresh != job
            updated.append(fresh)
        return tuple(updated) if changed else None

    def _check_log_dir(self, problems: list[str]) -> None:
        if self._log_dir is None:
            return
        if not os.path.isdir(self._log_dir):
            problems.append(f"log dir {self._log_dir}: missing, so no job's phase is known")
        elif not os.access(self._log_dir, os.R_OK | os.X_OK):
            problems.append(f"log dir {self._log_dir}: not readable, so no job's phase is known")

    def _sample(
        self,
        pid: int,
        argv: tuple[str, ...],
        plotter: Plotter,
        expected_create_time: float | None,
    ) -> _Sample | None:
        reading = sample_process(pid)
        if reading is None:
            return None  # it ended between the listing and now: not a job any more
        if reading.denied:
            args = plotter.parse_args(argv, None)
            denied = _Tracked(argv, plotter, None, args, None, None, (_denied(pid),))
            return _Sample(pid, 0.0, JobStatus.UNK, denied)
        if expected_create_time is not None and reading.create_time != expected_create_time:
            return None  # a process with no command line took a known job's pid
        key = (pid, reading.create_time)
        tracked = self._tracked.get(key)
        if tracked is None or tracked.argv != argv:
            tracked = self._track(key, argv, plotter, reading.status)
            self._tracked[key] = tracked
        return _Sample(pid, reading.create_time, reading.status, tracked, reading)

    def _track(
        self,
        key: tuple[int, float],
        argv: tuple[str, ...],
        plotter: Plotter,
        status: JobStatus,
    ) -> _Tracked:
        """Read what a process keeps for life: its cwd, its arguments and its log."""
        pid = key[0]
        problems: list[str] = []
        cwd = None
        log_file = read_path = None
        if status is not JobStatus.ZMB:
            # Without the cwd, relative dirs stay relative; absolute ones are unaffected.
            with contextlib.suppress(PermissionError):
                cwd = process_cwd(pid)
            log_file, read_path = self._find_log(pid, problems)
        else:
            # A zombie has no cwd and no open files left; a previous run may know its log.
            remembered = self._remembered.get(pid)
            if remembered is not None and remembered.create_time == key[1]:
                log_file = read_path = remembered.log_file
        return _Tracked(
            argv, plotter, cwd, plotter.parse_args(argv, cwd), log_file, read_path, tuple(problems)
        )

    def _find_log(self, pid: int, problems: list[str]) -> tuple[str | None, str | None]:
        """The job's log in the log dir (as shown, and where to read it), or (None, None)."""
        if self._log_dir is None:
            return None, None
        try:
            if LINUX_PROC:
                # The log is almost always the job's stdout or stderr: two readlinks instead
                # of listing every open file (a k32 chia job holds well over a hundred).
                for fd in (1, 2):
                    target = fd_target(pid, fd)
                    if target is None:
                        continue
                    if target.endswith(_DELETED) and self._in_log_dir(target[: -len(_DELETED)]):
                        # Deleted while the job runs: still readable through the job's own fd.
                        return target, f"/proc/{pid}/fd/{fd}"
                    if self._in_log_dir(target):
                        return target, target
            for path in open_paths(pid):
                if self._in_log_dir(path):
                    return path, path
        except PermissionError:
            problems.append(_denied(pid))
        return None, None

    def _in_log_dir(self, path: str) -> bool:
        return path.startswith("/") and os.path.dirname(path) == self._log_dir

    def _follow_safely(self, sample: _Sample) -> LogInfo | None:
        """:meth:`_follow`, with anything it did not foresee as a problem of this job only."""
        try:
            return self._follow(sample)
        except Exception as error:  # a value no check foresaw: it costs this job, not the scan
            tracked = sample.tracked
            problem = _failure(f"log {tracked.log_file}", error, "its phase may be out of date")
            if problem not in tracked.problems:
                tracked.problems = (*tracked.problems, problem)  # until the job ends
            follower = tracked.follower
            return follower.parser.info if follower is not None and follower.offset else None

    def _follow(self, sample: _Sample) -> LogInfo | None:
        """Read what the job's log gained since the last scan; its parser's view of it.

        None when the job has no log, or none of it could be read yet (phase unknown).
        """
        tracked = sample.tracked
        path = tracked.read_path
        if path is None:
            return None
        follower = tracked.follower
        if follower is None:
            follower = self._resume(sample) or _LogFollower(tracked.plotter.new_log_parser())
            tracked.follower = follower
        try:
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                # Deleted since it was found: the job may still hold it open, readable
                # through its fd (same inode, so nothing is read twice).
                tracked.log_file, tracked.read_path = self._find_log(sample.pid, [])
                if tracked.read_path is None or tracked.read_path == path:
                    raise
                path = tracked.read_path
                stat = os.stat(path)
            unchanged = stat.st_size == follower.offset and stat.st_ino == follower.inode
            if not (unchanged and follower.verified):
                self._read_log(path, follower, tracked.plotter)
        except OSError as error:
            sample.problems.append(f"log {tracked.log_file or path}: {error.strerror or error}")
            if follower.offset == 0:
                return None
        return follower.parser.info

    def _read_log(self, path: str, follower: _LogFollower, plotter: Plotter) -> None:
        # A FIFO as the log (a farmer's tee) is a problem of the job, not a read that waits.
        with os.fdopen(open_regular_file(path), "rb") as handle:
            stat = os.fstat(handle.fileno())
            stale = stat.st_size < follower.offset or (
                follower.inode is not None and stat.st_ino != follower.inode
            )
            if not stale and not follower.verified:
                head = handle.read(follower.head_length)
                stale = zlib.crc32(head) != follower.head_crc
            if stale:
                # Truncated, replaced or rewritten: start over rather than show stale progress.
                follower.parser = plotter.new_log_parser()
                follower.offset = follower.boundary = follower.head_length = 0
            follower.inode = stat.st_ino
            follower.verified = True
            handle.seek(follower.offset)
            while data := handle.read(_READ_CHUNK):
                if follower.offset == 0:
                    follower.head_length = min(len(data), _HEAD_BYTES)
                    follower.head_crc = zlib.crc32(data[: follower.head_length])
                # A CR as the very last byte may be half of a CRLF: its line is not done yet.
                end = max(data.rfind(b"\n"), data.rfind(b"\r", 0, len(data) - 1))
                if end >= 0:
                    follower.boundary = follower.offset + end + 1
                follower.offset += len(data)
                self.bytes_read += len(data)
                follower.parser.feed(data)

    def _build_jobs(
        self,
        samples: list[_Sample],
        infos: list[LogInfo | None],
        now: float,
        problems: list[str],
    ) -> list[Job]:
        """Jobs from samples and log infos, each with its temp files (dirs listed once)."""
        # A job whose temp files were measured recently enough is built with that measure; the
        # others are built, listed together, and given theirs (a Job is frozen: one replace).
        fresh = {
            key: measure
            for key, measure in self._temp_seen.items()
            if now - measure.taken_at < self._temp_refresh_s
        }
        jobs = [
            _make_job_safely(sample, info, now, fresh)
            for sample, info in zip(samples, infos, strict=True)
        ]
        self._temp_seen = {}
        stale: list[int] = []
        for index, job in enumerate(jobs):
            key = _temp_key(job)
            if key in fresh:
                self._temp_seen[key] = fresh[key]
            else:
                stale.append(index)
        # Which files are a job's is kill's rule: what `files` shows and the temp space
        # counted are exactly what a kill would delete.
        listings = self._list_temp_files([jobs[index] for index in stale], jobs)
        for index, (listing, problem) in zip(stale, listings, strict=True):
            job = jobs[index]
            problems.extend(problem for problem in listing.unreadable if problem not in problems)
            usage = listing.total_bytes if listing.complete else None
            self._temp_seen[_temp_key(job)] = _TempMeasure(now, listing.files, usage)
            jobs[index] = replace(
                job,
                tmp_files=listing.files,
                tmp_usage_bytes=usage,
                problems=job.problems if problem is None else (*job.problems, problem),
            )
        return jobs

    @staticmethod
    def _list_temp_files(
        jobs: list[Job], all_jobs: list[Job]
    ) -> list[tuple[TempListing, str | None]]:
        """Each job's temp files; one whose listing fails costs only that job (a problem)."""
        try:
            return [(listing, None) for listing in list_jobs_temp_files(jobs, all_jobs=all_jobs)]
        except Exception:  # a value no check foresaw: find the job it belongs to, one by one
            pass
        results: list[tuple[TempListing, str | None]] = []
        for job in jobs:
            try:
                (listing,) = list_jobs_temp_files([job], all_jobs=all_jobs)
                results.append((listing, None))
            except Exception as error:
                unknown = TempListing(files=(), total_bytes=0, complete=False)
                results.append((unknown, _failure("temp files", error, "temp space unknown")))
        return results

    # -- carrying parser state across runs -------------------------------------------------------

    def _resume(self, sample: _Sample) -> _LogFollower | None:
        """A follower rebuilt from a previous run's saved state for this job, if one fits."""
        remembered = self._remembered.pop(sample.pid, None)
        tracked = sample.tracked
        if (
            remembered is None
            or remembered.create_time != sample.create_time
            or remembered.log_file != tracked.log_file
            or remembered.plotter != tracked.plotter.name
        ):
            return None
        parser = tracked.plotter.new_log_parser()
        if not parser.restore_state(remembered.state):
            return None
        return _LogFollower(
            parser,
            offset=remembered.offset,
            boundary=remembered.offset,
            inode=remembered.inode,
            head_length=remembered.head_length,
            head_crc=remembered.head_crc,
            verified=False,
        )

    def load_cache(self, path: str | os.PathLike[str]) -> None:
        """Take the jobs a previous run saved; a cache that is unreadable or from another
        version of plotman-tui is ignored.

        A one-shot command is a new process each time; without this it would parse every job's
        whole log on every run. The cache is derived data only, plain JSON read into plain
        fields: each state is checked against its job's create time and its log's inode and
        first bytes before use, and deleting the file changes nothing but speed.
        """
        try:
            # A FIFO or a device in its place must not hang the scan: regular files only, capped.
            saved = json.loads(read_regular_file(path, _MAX_CACHE_BYTES).decode("utf-8"))
            if saved.get("format") != _CACHE_FORMAT or saved.get("version") != __version__:
                return
            remembered = [_remembered_from_json(entry) for entry in saved["jobs"]]
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return
        self._remembered = {entry.pid: entry for entry in remembered}

    def save_cache(self, path: str | os.PathLike[str]) -> None:
        """Save every job's identity and parser state (best effort, atomic replace)."""
        jobs = []
        for (pid, create_time), tracked in self._tracked.items():
            follower = tracked.follower
            entry: dict[str, Any] = {
                "pid": pid,
                "create_time": create_time,
                "argv": list(tracked.argv),
                "plotter": tracked.plotter.name,
                "log_file": tracked.log_file,
            }
            if follower is not None and follower.boundary > 0:
                entry.update(
                    inode=follower.inode,
                    offset=follower.boundary,
                    head_length=follower.head_length,
                    head_crc=follower.head_crc,
                    state=follower.parser.save_state(),
                )
            jobs.append(entry)
        target = os.fspath(path)
        temporary = f"{target}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump({"format": _CACHE_FORMAT, "version": __version__, "jobs": jobs}, handle)
            os.replace(temporary, target)
        except (OSError, TypeError, ValueError):
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _remembered_from_json(entry: dict[str, Any]) -> _Remembered:
    """One saved job; raises (TypeError, ValueError, KeyError) on anything malformed."""
    argv = tuple(entry["argv"])
    if not all(isinstance(arg, str) for arg in argv):
        raise TypeError("argv")
    get_plotter(entry["plotter"])  # raises ValueError for a name this version does not know
    log_file = entry["log_file"]
    if log_file is not None and (
        not isinstance(log_file, str) or sane_path(log_file) is None or not log_file.startswith("/")
    ):
        raise TypeError("log_file")  # the cache is outside input too: only a path that can be
    return _Remembered(
        pid=int(entry["pid"]),
        create_time=float(entry["create_time"]),
        argv=argv,
        plotter=str(entry["plotter"]),
        log_file=log_file,
        inode=int(entry["inode"]) if "inode" in entry else None,
        offset=int(entry.get("offset", 0)),
        head_length=int(entry.get("head_length", 0)),
        head_crc=int(entry.get("head_crc", 0)),
        state=entry.get("state"),
    )


# A command line as listed: raw bytes from /proc, or psutil's argv elsewhere.
_RawCommand = bytes | tuple[str, ...]


def _command_lines() -> Iterator[tuple[int, _RawCommand]]:
    """Every process's pid and raw command line (empty for kernel threads and zombies).

    On Linux this reads ``/proc/<pid>/cmdline`` directly: one read per process, where
    ``psutil.process_iter`` also reads each process's stat file to check its identity; the few
    processes that are plot jobs are sampled afterwards. Elsewhere, psutil.
    """
    if not LINUX_PROC:
        import psutil

        for proc in psutil.process_iter(["cmdline"]):
            yield proc.pid, tuple(proc.info.get("cmdline") or ())
        return
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                raw = handle.read()
        except OSError:
            continue  # ended since the listing, or not ours to read
        yield int(name), raw


def _judge(raw: _RawCommand) -> tuple[tuple[str, ...], Plotter | None]:
    """A raw command line as argv, and the plotter it runs (None: not a plot job)."""
    argv = _split_cmdline(raw) if isinstance(raw, bytes) else raw
    return argv, identify(argv) if argv else None


def _split_cmdline(raw: bytes) -> tuple[str, ...]:
    """A raw ``/proc`` command line as argv, as psutil reads it."""
    if not raw:
        return ()
    separator = b"\0" if raw.endswith(b"\0") else b" "
    if raw.endswith(separator):
        raw = raw[:-1]
    parts = raw.split(separator)
    # A process that rewrote its title with spaces (setproctitle) keeps one NUL-ended string.
    if separator == b"\0" and len(parts) == 1 and b" " in raw:
        parts = raw.split(b" ")
    return tuple(os.fsdecode(part) for part in parts)


def _denied(pid: int) -> str:
    return f"pid {pid}: permission denied (run as the user that owns the job, or as root)"


def _drop_gui_parents(samples: list[_Sample]) -> list[_Sample]:
    """The chia GUI runs a parent and a child with one command line: report the child only."""
    by_argv: dict[tuple[str, ...], set[int]] = {}
    for sample in samples:
        by_argv.setdefault(sample.tracked.argv, set()).add(sample.pid)
    parents = {
        sample.reading.ppid
        for sample in samples
        if sample.reading is not None and sample.reading.ppid in by_argv[sample.tracked.argv]
    }
    return [sample for sample in samples if sample.pid not in parents]


def _layout(args: PlotArgs, info: LogInfo | None) -> tuple[str | None, str | None, str | None]:
    """tmp, tmp2 and dst: what the log says, else what the command line says."""
    tmp_dir = info.tmp_dir if info and info.tmp_dir else args.tmp_dir
    tmp2_dir = info.tmp2_dir if info and info.tmp2_dir else args.tmp2_dir
    dst_dir = info.dst_dir if info and info.dst_dir else args.dst_dir
    return tmp_dir, tmp2_dir, dst_dir


def _failure(what: str, error: Exception, consequence: str) -> str:
    """A problem line for something that failed unforeseen: what, why, and what it costs."""
    return f"{what}: could not be read ({type(error).__name__}: {error}); {consequence}"


def _failed_sample(pid: int, argv: tuple[str, ...], plotter: Plotter, error: Exception) -> _Sample:
    """A job whose process could not be read: listed with the reason, as a denied one is."""
    problem = _failure(f"pid {pid}", error, "only its command line is shown")
    tracked = _Tracked(argv, plotter, None, PlotArgs(), None, None, (problem,))
    return _Sample(pid, 0.0, JobStatus.UNK, tracked)


def _make_job_safely(
    sample: _Sample,
    info: LogInfo | None,
    now: float,
    temp: Mapping[_TempKey, _TempMeasure] | None = None,
) -> Job:
    """:func:`_make_job`; a job that cannot be built from its log is shown without it."""
    try:
        return _make_job(sample, info, _layout(sample.tracked.args, info), now, temp)
    except Exception as error:  # a value no check foresaw: this job only
        problem = _failure(f"log {sample.tracked.log_file}", error, "shown without it")
        bare = _Sample(sample.pid, sample.create_time, sample.status, sample.tracked)
        bare.problems = [*sample.problems, problem]
        return _make_job(bare, None, _layout(sample.tracked.args, None), now, temp)


def _make_job(
    sample: _Sample,
    info: LogInfo | None,
    dirs: tuple[str | None, str | None, str | None],
    now: float,
    temp: Mapping[_TempKey, _TempMeasure] | None = None,
) -> Job:
    """The job as its process and log show it; temp files are measured apart (by kill's rule),
    and given here when ``temp`` holds a measure of the job's (see :func:`_temp_key`)."""
    tracked = sample.tracked
    plot_id = info.plot_id if info else None
    measure = temp.get((sample.pid, sample.create_time, plot_id)) if temp else None
    args = tracked.args
    reading = sample.reading

    def pick(from_log: int | None, from_argv: int | None) -> int | None:
        return from_log if from_log is not None else from_argv

    return Job(
        pid=sample.pid,
        plotter=tracked.plotter.name,
        argv=tracked.argv,
        cwd=tracked.cwd,
        started_at=sample.create_time,
        wall_seconds=max(now - sample.create_time, 0.0) if sample.create_time else 0.0,
        status=sample.status,
        plot_id=plot_id,
        k=pick(info.k if info else None, args.k),
        tmp_dir=dirs[0],
        tmp2_dir=dirs[1],
        dst_dir=dirs[2],
        threads=pick(info.threads if info else None, args.threads),
        buckets=pick(info.buckets if info else None, args.buckets),
        buffer_mib=pick(info.buffer_mib if info else None, args.buffer_mib),
        compression=_compression(args, info),
        phase=info.phase if info else None,
        phase_seconds=tuple(sorted(info.phase_seconds.items())) if info else (),
        total_seconds=info.total_seconds if info else None,
        copy_seconds=info.copy_seconds if info else None,
        final_file=info.final_file if info else None,
        completed=info.completed if info else False,
        log_file=tracked.log_file,
        tmp_files=measure.files if measure else (),
        tmp_usage_bytes=measure.usage_bytes if measure else None,
        mem_rss_bytes=reading.rss_bytes if reading else None,
        mem_vms_bytes=reading.vms_bytes if reading else None,
        user_seconds=reading.user_seconds if reading else None,
        sys_seconds=reading.sys_seconds if reading else None,
        iowait_seconds=reading.iowait_seconds if reading else None,
        problems=tuple(dict.fromkeys([*tracked.problems, *sample.problems])),
        plot_started_at=info.started_at if info else None,
    )


def _compression(args: PlotArgs, info: LogInfo | None) -> int | None:
    """The plot's compression level (0: none): what its log says, else its command line, else
    its final file's name; None when none of them tells. A level no plotter makes (a garbled
    log, a cache edited by hand) is passed over, so the next source may tell."""
    for level in (info.compression if info else None, args.compression):
        if type(level) is int and 0 <= level <= COMPRESSION_MAX:
            return level
    final_file = info.final_file if info else None
    if final_file is None:
        return None
    # The plotters' own reading of a plot's name (already imported: a log was read). Not the
    # archive rules' plot_name_level: importing them costs a one-shot ``status`` some 90 ms.
    from plotman_tui.plotters.logscan import PLOT_NAME_RE

    match = PLOT_NAME_RE.match(os.path.basename(final_file))
    if match is None:
        return None
    named = match.group("compression")
    if named is None:
        return 0  # a plot's name without ``-cNN-``: an uncompressed plot
    return int(named) if int(named) <= COMPRESSION_MAX else None


def _temp_key(job: Job) -> _TempKey:
    """Whose temp files a measure is: the job, and its plot (a log may start a second one)."""
    return (job.pid, job.started_at, job.plot_id)


def scan_once(
    log_dir: str | os.PathLike[str] | None, *, cache: str | os.PathLike[str] | None = None
) -> Snapshot:
    """One scan with a throwaway scanner (the one-shot commands), resuming from ``cache``."""
    scanner = Scanner(log_dir)
    if cache is not None:
        scanner.load_cache(cache)
    snapshot = scanner.scan()
    if cache is not None:
        scanner.save_cache(cache)
    return snapshot


_ID_PREFIX_RE = re.compile(r"[0-9a-fA-F]{1,64}")
# ``pid:N``, or ``pid:N@T`` with T the process's create time in POSIX seconds (the dashboard's
# and the fleet's job key: ``f"{started_at:.3f}"``).
_PID_ID_RE = re.compile(r"pid:([0-9]{1,10})(?:@([0-9]{1,12}(?:\.[0-9]{1,9})?))?", re.IGNORECASE)
#: A ``pid:N@T`` id names the job with pid N whose create time is within this of T: the key
#: is written with three decimals, and a reused pid (another job) starts later by far more.
CREATE_TIME_SLACK_S = 0.01


def pid_id(job: Job) -> str:
    """``pid:N@T``: the id that names this job and no other, even once its pid is reused (the
    fleet acts on remote jobs with it)."""
    return f"pid:{job.pid}@{job.started_at:.3f}"


def job_id_errors(ids: Sequence[str]) -> list[str]:
    """Usage errors for ``ids`` that cannot name a job, one line each (none: all can).

    A job is named by a prefix of its plot id (hex digits), by ``pid:N`` (a job whose log has not
    named its plot id yet, or two jobs with the same plot id), by ``pid:N@T`` (pid N created at
    T, POSIX seconds: never another job that got the pid since), or by ``all``. Checked before
    any scan, so a typo is a usage error rather than "no such job".
    """
    return [
        f"{text!r} is not a job id: give a plot id prefix (hex digits), pid:N, or all"
        for text in ids
        if text.lower() != "all"
        and _ID_PREFIX_RE.fullmatch(text) is None
        and _PID_ID_RE.fullmatch(text) is None
    ]


def select_jobs(jobs: Sequence[Job], ids: Sequence[str]) -> tuple[list[Job], list[str]]:
    """Jobs named by ``ids`` (see :func:`job_id_errors`); second item: errors, one an id.

    An id that names several jobs, or none, is an error that lists the candidates, each as
    ``pid:N`` with its plot id prefix so the farmer can copy one; jobs whose log has not named
    their plot id yet are listed by pid only.
    """
    errors = job_id_errors(ids)
    if errors:
        return [], errors
    chosen: list[Job] = list(jobs) if any(text.lower() == "all" for text in ids) else []
    for text in ids:
        if text.lower() == "all":
            continue
        pid_match = _PID_ID_RE.fullmatch(text)
        if pid_match is not None:
            pid = int(pid_match.group(1))
            matches = [job for job in jobs if job.pid == pid]
            created = pid_match.group(2)
            if created is not None:
                matches = [
                    job
                    for job in matches
                    if abs(job.started_at - float(created)) <= CREATE_TIME_SLACK_S
                ]
            if not matches and created is not None and any(job.pid == pid for job in jobs):
                errors.append(
                    f"no job with pid {pid} created at {created}: the job it named has ended "
                    f"and the pid is another process's now ({_candidates(jobs)})"
                )
            elif not matches:
                errors.append(f"no job with pid {pid} ({_candidates(jobs)})")
        else:
            prefix = text.lower()
            matches = [job for job in jobs if job.plot_id and job.plot_id.startswith(prefix)]
            if not matches:
                errors.append(f"no job with an id starting {text!r} ({_candidates(jobs)})")
            elif len(matches) > 1:
                errors.append(_ambiguous(text, matches))
                continue
        for job in matches:
            if job not in chosen:
                chosen.append(job)
    return chosen, errors


def _ambiguous(text: str, matches: Sequence[Job]) -> str:
    names = ", ".join(_named(job, len(text) + 4) for job in matches)
    if len({job.plot_id for job in matches}) == 1:
        return (
            f"id {text!r} names {len(matches)} jobs with the same plot id (a copied log?): "
            f"name one by pid: {names}"
        )
    return f"id prefix {text!r} is ambiguous: {names}; give a longer prefix, or pid:N"


def _named(job: Job, length: int = 8) -> str:
    """``pid:N (plot-id prefix)``: how a job can be named, and how it is recognised."""
    if job.plot_id:
        return f"pid:{job.pid} ({job.plot_id[: max(length, 8)]})"
    return f"pid:{job.pid} (no plot id in its log yet)"


def _candidates(jobs: Sequence[Job]) -> str:
    if not jobs:
        return "no plot jobs are running"
    return "running: " + ", ".join(_named(job) for job in jobs)
