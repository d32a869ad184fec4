"""Stateless discovery: find every plot job in the process table and read what its log says.

Nothing is remembered between runs of the tool: a job is whatever process runs a plotter, and its
progress is whatever its log says. A :class:`Scanner` only keeps, per log, how far it has read and
the parser's state, so that a rescan reads just the bytes appended since the last one.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import psutil

from plotman_tui.farm.model import Job, JobStatus, Snapshot, TempFile, job_dirs
from plotman_tui.plotters import identify
from plotman_tui.plotters.base import LogInfo, LogParser, PlotArgs, Plotter

# Most of a log arrives on the first read; after that, appends are small. Reading in bounded
# chunks keeps memory flat for a pathological multi-gigabyte log.
_READ_CHUNK = 4 * 1024 * 1024

_PLOT_ID_RE = re.compile(r"[0-9a-f]{64}")

_STATUS = {
    psutil.STATUS_RUNNING: JobStatus.RUN,
    psutil.STATUS_SLEEPING: JobStatus.SLP,
    psutil.STATUS_IDLE: JobStatus.SLP,
    psutil.STATUS_DISK_SLEEP: JobStatus.DSK,
    psutil.STATUS_STOPPED: JobStatus.STP,
    psutil.STATUS_TRACING_STOP: JobStatus.STP,
    psutil.STATUS_ZOMBIE: JobStatus.ZMB,
    psutil.STATUS_DEAD: JobStatus.ZMB,
}

_HAS_PROC_FD = sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")


@dataclass
class _LogFollower:
    """How far one log has been read, and the parser that has read it."""

    parser: LogParser
    offset: int = 0
    inode: int | None = None


@dataclass
class _Candidate:
    """A process whose command line is a plotter's, before its details are read."""

    proc: psutil.Process
    argv: tuple[str, ...]
    plotter: Plotter


@dataclass
class _Gathered:
    """What one scan read about one process (mutable while it is filled in)."""

    candidate: _Candidate
    args: PlotArgs
    create_time: float
    status: JobStatus
    cwd: str | None = None
    log_file: str | None = None
    info: LogInfo | None = None
    rss: int | None = None
    vms: int | None = None
    user: float | None = None
    system: float | None = None
    iowait: float | None = None
    problems: list[str] = field(default_factory=list)


class Scanner:
    """Finds plot jobs; reuse one instance so rescans read only new log bytes.

    ``log_dir`` is the configured ``[logging] plots`` dir: a job's log is the open file of the
    process that lies in it, compared by resolved real path so a symlinked log dir works.
    """

    def __init__(
        self, log_dir: str | os.PathLike[str] | None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._log_dir = os.path.realpath(log_dir) if log_dir is not None else None
        self._clock = clock
        self._followers: dict[tuple[int, float, str], _LogFollower] = {}
        #: Log bytes read since this scanner was made (tests and the benchmark check it).
        self.bytes_read = 0

    # -- the scan ------------------------------------------------------------------------------

    def scan(self) -> Snapshot:
        """One pass over the process table; returns the jobs, youngest first."""
        now = self._clock()
        problems: list[str] = []
        candidates = _drop_gui_parents(self._candidates())
        gathered = [g for g in (self._gather(c) for c in candidates) if g is not None]
        seen_keys = set()
        for item in gathered:
            if item.log_file is not None:
                key = (item.candidate.proc.pid, item.create_time, item.log_file)
                seen_keys.add(key)
                item.info = self._follow(key, item)
        for key in list(self._followers):
            if key not in seen_keys:
                del self._followers[key]
        jobs = [_make_job(item, now) for item in gathered]
        jobs = _attach_temp_files(jobs, problems)
        jobs.sort(key=lambda job: (-job.started_at, job.pid))
        return Snapshot(jobs=tuple(jobs), updated=now, problems=tuple(problems))

    def _candidates(self) -> list[_Candidate]:
        found: list[_Candidate] = []
        for proc in psutil.process_iter(["cmdline"]):
            argv = proc.info.get("cmdline")
            if not argv:
                continue
            plotter = identify(argv)
            if plotter is not None:
                found.append(_Candidate(proc=proc, argv=tuple(argv), plotter=plotter))
        return found

    def _gather(self, candidate: _Candidate) -> _Gathered | None:
        proc = candidate.proc
        try:
            with proc.oneshot():
                create_time = proc.create_time()
                status = _STATUS.get(proc.status(), JobStatus.UNK)
                item = _Gathered(
                    candidate=candidate,
                    args=PlotArgs(),
                    create_time=create_time,
                    status=status,
                )
                if status is JobStatus.ZMB:
                    item.args = candidate.plotter.parse_args(candidate.argv, None)
                    return item
                _read_process_details(proc, item)
        except psutil.NoSuchProcess:
            return None  # it ended between the listing and now: not a job any more
        except psutil.AccessDenied:
            return _Gathered(
                candidate=candidate,
                args=candidate.plotter.parse_args(candidate.argv, None),
                create_time=0.0,
                status=JobStatus.UNK,
                problems=[_denied(proc.pid)],
            )
        item.args = candidate.plotter.parse_args(candidate.argv, item.cwd)
        item.log_file = self._find_log(proc, item)
        return item

    def _find_log(self, proc: psutil.Process, item: _Gathered) -> str | None:
        if self._log_dir is None:
            return None
        if _HAS_PROC_FD:
            # The log is almost always the job's stdout or stderr: two readlinks instead of
            # listing every open file (a k32 chia job holds well over a hundred).
            for fd in (1, 2):
                try:
                    target = os.readlink(f"/proc/{proc.pid}/fd/{fd}")
                except OSError:
                    continue
                if self._in_log_dir(target):
                    return target
        try:
            for opened in proc.open_files():
                if self._in_log_dir(opened.path):
                    return opened.path
        except psutil.AccessDenied:
            item.problems.append(_denied(proc.pid))
        except (psutil.NoSuchProcess, OSError):
            pass
        return None

    def _in_log_dir(self, path: str) -> bool:
        return path.startswith("/") and os.path.dirname(path) == self._log_dir

    def _follow(self, key: tuple[int, float, str], item: _Gathered) -> LogInfo | None:
        path = key[2]
        follower = self._followers.get(key)
        if follower is None:
            follower = _LogFollower(parser=item.candidate.plotter.new_log_parser())
            self._followers[key] = follower
        try:
            with open(path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                if stat.st_size < follower.offset or (
                    follower.inode is not None and stat.st_ino != follower.inode
                ):
                    # Truncated or replaced: start over rather than show stale progress.
                    follower.parser = item.candidate.plotter.new_log_parser()
                    follower.offset = 0
                follower.inode = stat.st_ino
                if stat.st_size > follower.offset:
                    handle.seek(follower.offset)
                    while True:
                        data = handle.read(_READ_CHUNK)
                        if not data:
                            break
                        follower.offset += len(data)
                        self.bytes_read += len(data)
                        follower.parser.feed(data)
        except OSError as error:
            item.problems.append(f"log {path}: {error.strerror or error}")
        return follower.parser.info


def _denied(pid: int) -> str:
    return f"pid {pid}: permission denied (run as the user that owns the job, or as root)"


def _read_process_details(proc: psutil.Process, item: _Gathered) -> None:
    """CPU, memory and working dir; each may fail on its own without losing the others."""
    try:
        times = proc.cpu_times()
        item.user = times.user
        item.system = times.system
        item.iowait = getattr(times, "iowait", None)
    except psutil.AccessDenied:
        item.problems.append(_denied(proc.pid))
    try:
        memory = proc.memory_info()
        item.rss = memory.rss
        item.vms = memory.vms
    except psutil.AccessDenied:
        item.problems.append(_denied(proc.pid))
    # Without the cwd, relative dirs stay relative; absolute ones (the usual case) are unaffected.
    with contextlib.suppress(psutil.AccessDenied):
        item.cwd = proc.cwd()


def _drop_gui_parents(candidates: list[_Candidate]) -> list[_Candidate]:
    """The chia GUI runs a parent and a child with one command line: report the child only."""
    by_pid = {c.proc.pid: c for c in candidates}
    parents: set[int] = set()
    for candidate in candidates:
        try:
            ppid = candidate.proc.ppid()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        parent = by_pid.get(ppid)
        if parent is not None and parent.argv == candidate.argv:
            parents.add(ppid)
    return [c for c in candidates if c.proc.pid not in parents]


def _make_job(item: _Gathered, now: float) -> Job:
    args = item.args
    info = item.info
    candidate = item.candidate

    def pick(from_log: object, from_argv: object) -> object:
        return from_log if from_log is not None else from_argv

    tmp_dir = info.tmp_dir if info and info.tmp_dir else args.tmp_dir
    dst_dir = info.dst_dir if info and info.dst_dir else args.dst_dir
    return Job(
        pid=candidate.proc.pid,
        plotter=candidate.plotter.name,
        argv=candidate.argv,
        cwd=item.cwd,
        started_at=item.create_time,
        wall_seconds=max(now - item.create_time, 0.0) if item.create_time else 0.0,
        status=item.status,
        plot_id=info.plot_id if info else None,
        k=_int(pick(info.k if info else None, args.k)),
        tmp_dir=tmp_dir,
        tmp2_dir=info.tmp2_dir if info and info.tmp2_dir else args.tmp2_dir,
        # Plotters write into the tmp dir when no final dir is given.
        dst_dir=dst_dir if dst_dir is not None else tmp_dir,
        threads=_int(pick(info.threads if info else None, args.threads)),
        buckets=_int(pick(info.buckets if info else None, args.buckets)),
        buffer_mib=_int(pick(info.buffer_mib if info else None, args.buffer_mib)),
        phase=info.phase if info else None,
        phase_seconds=tuple(sorted(info.phase_seconds.items())) if info else (),
        total_seconds=info.total_seconds if info else None,
        copy_seconds=info.copy_seconds if info else None,
        final_file=info.final_file if info else None,
        completed=info.completed if info else False,
        log_file=item.log_file,
        mem_rss_bytes=item.rss,
        mem_vms_bytes=item.vms,
        user_seconds=item.user,
        sys_seconds=item.system,
        iowait_seconds=item.iowait,
        problems=tuple(dict.fromkeys(item.problems)),
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _attach_temp_files(jobs: list[Job], problems: list[str]) -> list[Job]:
    """Find each job's temp files: files named with its plot id in its tmp, tmp2 and dst dirs.

    Each dir is listed once per scan however many jobs share it. A finished ``.plot`` is not a
    temp file. A dir that cannot be listed is reported once, and its jobs' usage is unknown.
    """
    wanted: dict[str, set[str]] = {}
    for job in jobs:
        if job.plot_id:
            for directory in job_dirs(job):
                wanted.setdefault(directory, set()).add(job.plot_id)
    files: dict[str, list[TempFile]] = {}
    broken: set[str] = set()
    for directory, plot_ids in wanted.items():
        try:
            for path, plot_id, size in _list_plot_files(directory, plot_ids):
                files.setdefault(plot_id, []).append(TempFile(path=path, size_bytes=size))
        except OSError as error:
            broken.add(directory)
            problems.append(f"dir {directory}: {error.strerror or error}")
    result = []
    for job in jobs:
        if not job.plot_id:
            result.append(job)
            continue
        own = tuple(sorted(files.get(job.plot_id, ()), key=lambda f: f.path))
        unknown = any(d in broken for d in job_dirs(job))
        result.append(
            replace(
                job,
                tmp_files=own,
                tmp_usage_bytes=None if unknown else sum(f.size_bytes for f in own),
            )
        )
    return result


def _list_plot_files(directory: str, plot_ids: set[str]) -> Iterable[tuple[str, str, int]]:
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if name.endswith(".plot"):
                continue
            match = _PLOT_ID_RE.search(name)
            if match is None or match.group(0) not in plot_ids:
                continue
            try:
                size = entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue  # deleted between the listing and the stat: the job just moved on
            yield entry.path, match.group(0), size


def scan_once(log_dir: str | os.PathLike[str] | None) -> Snapshot:
    """One scan with a throwaway scanner (the one-shot CLI commands)."""
    return Scanner(log_dir).scan()


def select_jobs(jobs: Sequence[Job], prefixes: Sequence[str]) -> tuple[list[Job], list[str]]:
    """Jobs named by plot-id prefixes (``all`` for every job); second item: errors, one a prefix.

    A prefix that names several jobs, or none, is an error that lists the candidates.
    """
    if any(prefix == "all" for prefix in prefixes):
        return list(jobs), []
    chosen: list[Job] = []
    errors: list[str] = []
    for prefix in prefixes:
        lowered = prefix.lower()
        matches = [job for job in jobs if job.plot_id and job.plot_id.startswith(lowered)]
        if len(matches) == 1:
            if matches[0] not in chosen:
                chosen.append(matches[0])
        elif not matches:
            known = ", ".join(job.plot_id[:8] for job in jobs if job.plot_id) or "none running"
            errors.append(f"no job with an id starting {prefix!r} (running: {known})")
        else:
            names = ", ".join(job.plot_id[: len(lowered) + 4] for job in matches if job.plot_id)
            errors.append(f"id prefix {prefix!r} is ambiguous: {names}")
    return chosen, errors
