"""Stateless discovery: find every plot job in the process table and read what its log says.

Nothing is remembered between runs of the tool: a job is whatever process runs a plotter, and its
progress is whatever its log says. A :class:`Scanner` only keeps, per log, how far it has read and
the parser's state, so that a rescan reads just the bytes appended since the last one.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import psutil

from plotman_tui.farm.model import Job, JobStatus, Snapshot, TempFile, distinct_dirs
from plotman_tui.plotters import identify
from plotman_tui.plotters.base import LogInfo, LogParser, PlotArgs, Plotter

# Most of a log arrives on the first read; after that, appends are small. Reading in bounded
# chunks keeps memory flat for a pathological multi-gigabyte log.
_READ_CHUNK = 4 * 1024 * 1024

_PLOT_ID_RE = re.compile(r"[0-9a-f]{64}")

# How much of a log's start is kept to recognise it again: enough to hold the plot id line of
# every plotter's log, so a log rewritten for another plot always differs here.
_HEAD_BYTES = 4096
_CACHE_FORMAT = 1

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
    head: bytes = b""  # the log's first bytes: tells a cached state from a rewritten log
    # False for a state loaded from the cache, until the log's first bytes have been compared.
    verified: bool = True


@dataclass
class _Tracked:
    """What stays true for a process its whole life: read once, reused by every rescan."""

    argv: tuple[str, ...]
    plotter: Plotter
    cwd: str | None
    args: PlotArgs
    log_file: str | None
    follower: _LogFollower | None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class _TempMeasure:
    """A job's temp files and their total size, as measured at ``taken_at``."""

    taken_at: float
    files: tuple[TempFile, ...]
    usage_bytes: int | None


@dataclass
class _Sample:
    """What one scan read about one process."""

    proc: psutil.Process
    create_time: float
    status: JobStatus
    tracked: _Tracked
    rss: int | None = None
    vms: int | None = None
    user: float | None = None
    system: float | None = None
    iowait: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid


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
        self._temp_seen: dict[str, _TempMeasure] = {}
        self._tracked: dict[tuple[int, float], _Tracked] = {}
        # Parser states carried over from an earlier run (see load_cache); used once each.
        self._cached: dict[str, _LogFollower] = {}
        self._identified: dict[tuple[str, ...], Plotter | None] = {}
        self._procs: dict[int, psutil.Process] = {}
        #: Log bytes read since this scanner was made (tests and the benchmark check it).
        self.bytes_read = 0

    # -- the scan ------------------------------------------------------------------------------

    def scan(self) -> Snapshot:
        """One pass over the process table; returns the jobs, youngest first."""
        now = self._clock()
        samples: list[_Sample] = []
        known = self._identified
        self._identified = {}
        procs = self._procs
        self._procs = {}
        tracked_argv = {pid: tracked.argv for (pid, _), tracked in self._tracked.items()}
        for pid, argv in _command_lines():
            if not argv:
                # A zombie's command line is empty: a job seen alive before is still shown.
                if pid not in tracked_argv:
                    continue
                argv = tracked_argv[pid]
            # Most processes are not plot jobs and keep their command line for life: decide
            # once per distinct command line, not once per process per scan.
            plotter = known[argv] if argv in known else identify(argv)
            self._identified[argv] = plotter
            if plotter is None:
                continue
            proc = procs.get(pid)
            if proc is None:
                try:
                    proc = psutil.Process(pid)
                except psutil.Error:
                    continue  # gone since the listing
            self._procs[pid] = proc
            sample = self._sample(proc, argv, plotter)
            if sample is not None:
                samples.append(sample)
        samples = _drop_gui_parents(samples)
        live = {(sample.pid, sample.create_time) for sample in samples}
        for key in [key for key in self._tracked if key not in live]:
            del self._tracked[key]
        infos = [self._follow(sample) for sample in samples]
        problems: list[str] = []
        jobs = self._build_jobs(samples, infos, now, problems)
        jobs.sort(key=lambda job: (-job.started_at, job.pid))
        return Snapshot(jobs=tuple(jobs), updated=now, problems=tuple(problems))

    def _sample(
        self, proc: psutil.Process, argv: tuple[str, ...], plotter: Plotter
    ) -> _Sample | None:
        try:
            with proc.oneshot():
                create_time = proc.create_time()
                status = _STATUS.get(proc.status(), JobStatus.UNK)
                key = (proc.pid, create_time)
                tracked = self._tracked.get(key)
                if tracked is None or tracked.argv != argv:
                    tracked = self._track(proc, argv, plotter, status)
                    self._tracked[key] = tracked
                sample = _Sample(proc, create_time, status, tracked)
                if status is not JobStatus.ZMB:
                    _read_usage(proc, sample)
                return sample
        except psutil.NoSuchProcess:
            return None  # it ended between the listing and now: not a job any more
        except psutil.AccessDenied:
            tracked = _Tracked(
                argv,
                plotter,
                None,
                plotter.parse_args(argv, None),
                None,
                None,
                (_denied(proc.pid),),
            )
            return _Sample(proc, 0.0, JobStatus.UNK, tracked)

    def _track(
        self, proc: psutil.Process, argv: tuple[str, ...], plotter: Plotter, status: JobStatus
    ) -> _Tracked:
        """Read what a process keeps for life: its cwd, its arguments and its log."""
        problems: list[str] = []
        cwd = None
        log_file = None
        if status is not JobStatus.ZMB:  # a zombie has no cwd and no open files left
            # Without the cwd, relative dirs stay relative; absolute ones are unaffected.
            with contextlib.suppress(psutil.AccessDenied):
                cwd = proc.cwd()
            log_file = self._find_log(proc, problems)
        follower = None
        if log_file is not None:
            follower = self._cached.pop(log_file, None)
            if follower is None or type(follower.parser) is not type(plotter.new_log_parser()):
                follower = _LogFollower(parser=plotter.new_log_parser())
        return _Tracked(
            argv, plotter, cwd, plotter.parse_args(argv, cwd), log_file, follower, tuple(problems)
        )

    def _find_log(self, proc: psutil.Process, problems: list[str]) -> str | None:
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
            problems.append(_denied(proc.pid))
        except (psutil.NoSuchProcess, OSError):
            pass
        return None

    def _in_log_dir(self, path: str) -> bool:
        return path.startswith("/") and os.path.dirname(path) == self._log_dir

    def _follow(self, sample: _Sample) -> LogInfo | None:
        """Read what the job's log gained since the last scan; its parser's view of it."""
        tracked = sample.tracked
        follower = tracked.follower
        if follower is None or tracked.log_file is None:
            return None
        path = tracked.log_file
        try:
            stat = os.stat(path)
            unchanged = stat.st_size == follower.offset and stat.st_ino == follower.inode
            if unchanged and follower.verified:
                return follower.parser.info  # nothing new: not even an open()
            with open(path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                head = handle.read(len(follower.head)) if follower.head else b""
                if (
                    stat.st_size < follower.offset
                    or (follower.inode is not None and stat.st_ino != follower.inode)
                    or head != follower.head
                ):
                    # Truncated or replaced: start over rather than show stale progress.
                    follower.parser = tracked.plotter.new_log_parser()
                    follower.offset = 0
                    follower.head = b""
                follower.inode = stat.st_ino
                follower.verified = True
                handle.seek(follower.offset)
                while True:
                    data = handle.read(_READ_CHUNK)
                    if not data:
                        break
                    if follower.offset == 0:
                        follower.head = data[:_HEAD_BYTES]
                    follower.offset += len(data)
                    self.bytes_read += len(data)
                    follower.parser.feed(data)
        except OSError as error:
            sample.problems.append(f"log {path}: {error.strerror or error}")
        return follower.parser.info

    def _build_jobs(
        self,
        samples: list[_Sample],
        infos: list[LogInfo | None],
        now: float,
        problems: list[str],
    ) -> list[Job]:
        """Jobs from samples and log infos, each with its temp files (dirs listed once)."""
        layouts = [
            _layout(sample.tracked.args, info) for sample, info in zip(samples, infos, strict=True)
        ]
        own_dirs = [distinct_dirs(*dirs) for dirs in layouts]
        previous = self._temp_seen
        fresh = {
            plot_id: measure
            for plot_id, measure in previous.items()
            if now - measure.taken_at < self._temp_refresh_s
        }
        wanted: dict[str, set[str]] = {}
        for info, directories in zip(infos, own_dirs, strict=True):
            if info is not None and info.plot_id and info.plot_id not in fresh:
                for directory in directories:
                    wanted.setdefault(directory, set()).add(info.plot_id)
        files, broken = _find_temp_files(wanted, problems)
        self._temp_seen = {}
        jobs = []
        for sample, info, dirs, directories in zip(samples, infos, layouts, own_dirs, strict=True):
            plot_id = info.plot_id if info is not None else None
            measure = None
            if plot_id:
                measure = fresh.get(plot_id)
                if measure is None:
                    own = tuple(sorted(files.get(plot_id, ()), key=lambda temp: temp.path))
                    usage = None
                    if broken.isdisjoint(directories):
                        usage = sum(temp.size_bytes for temp in own)
                    measure = _TempMeasure(now, own, usage)
                self._temp_seen[plot_id] = measure
            jobs.append(
                _make_job(
                    sample,
                    info,
                    dirs,
                    measure.files if measure else (),
                    measure.usage_bytes if measure else None,
                    now,
                )
            )
        return jobs

    # -- carrying parser state across runs -------------------------------------------------------

    def load_cache(self, path: str | os.PathLike[str]) -> None:
        """Take the parser states a previous run saved; anything unreadable is ignored.

        A one-shot command is a new process each time; without this it would parse every job's
        whole log on every run. The cache is derived data only: each state is checked against
        the log's inode and first bytes before use, and deleting the file changes nothing but
        speed.
        """
        try:
            with open(path, "rb") as handle:
                saved = pickle.load(handle)
            if saved.get("format") != _CACHE_FORMAT:
                return
            followers = saved["followers"]
            self._cached = {
                log: follower
                for log, follower in followers.items()
                if isinstance(log, str) and isinstance(follower, _LogFollower)
            }
            for follower in self._cached.values():
                follower.verified = False
        except Exception:  # a broken cache must never stop a scan
            self._cached = {}

    def save_cache(self, path: str | os.PathLike[str]) -> None:
        """Save the parser state of every log followed now (best effort, atomic replace)."""
        followers = {
            tracked.log_file: tracked.follower
            for tracked in self._tracked.values()
            if tracked.log_file is not None and tracked.follower is not None
        }
        target = os.fspath(path)
        temporary = f"{target}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            with open(temporary, "wb") as handle:
                pickle.dump({"format": _CACHE_FORMAT, "followers": followers}, handle)
            os.replace(temporary, target)
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _command_lines() -> Iterator[tuple[int, tuple[str, ...]]]:
    """Every process's pid and command line (empty for kernel threads and zombies).

    On Linux this reads ``/proc/<pid>/cmdline`` directly: one read per process, where
    ``psutil.process_iter`` also reads each process's stat file to check its identity; the few
    processes that are plot jobs get a ``psutil.Process`` afterwards. Elsewhere, psutil.
    """
    if not _HAS_PROC_FD:
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
        yield int(name), _split_cmdline(raw)


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


def _read_usage(proc: psutil.Process, sample: _Sample) -> None:
    """CPU and memory; each may fail on its own without losing the other."""
    try:
        times = proc.cpu_times()
        sample.user = times.user
        sample.system = times.system
        sample.iowait = getattr(times, "iowait", None)
    except psutil.AccessDenied:
        sample.problems.append(_denied(proc.pid))
    try:
        memory = proc.memory_info()
        sample.rss = memory.rss
        sample.vms = memory.vms
    except psutil.AccessDenied:
        sample.problems.append(_denied(proc.pid))


def _drop_gui_parents(samples: list[_Sample]) -> list[_Sample]:
    """The chia GUI runs a parent and a child with one command line: report the child only.

    Parents are only looked up among jobs that share a command line, which is rare, so the
    usual scan reads no parent pids at all.
    """
    by_argv: dict[tuple[str, ...], list[_Sample]] = {}
    for sample in samples:
        by_argv.setdefault(sample.tracked.argv, []).append(sample)
    parents: set[int] = set()
    for group in by_argv.values():
        if len(group) < 2:
            continue
        pids = {sample.pid for sample in group}
        for sample in group:
            try:
                ppid = sample.proc.ppid()
            except psutil.Error:
                continue
            if ppid in pids:
                parents.add(ppid)
    return [sample for sample in samples if sample.pid not in parents]


def _layout(args: PlotArgs, info: LogInfo | None) -> tuple[str | None, str | None, str | None]:
    """tmp, tmp2 and dst: what the log says, else what the command line says."""
    tmp_dir = info.tmp_dir if info and info.tmp_dir else args.tmp_dir
    tmp2_dir = info.tmp2_dir if info and info.tmp2_dir else args.tmp2_dir
    dst_dir = info.dst_dir if info and info.dst_dir else args.dst_dir
    # Plotters write into the tmp dir when no final dir is given.
    return tmp_dir, tmp2_dir, dst_dir if dst_dir is not None else tmp_dir


def _make_job(
    sample: _Sample,
    info: LogInfo | None,
    dirs: tuple[str | None, str | None, str | None],
    tmp_files: tuple[TempFile, ...],
    tmp_usage: int | None,
    now: float,
) -> Job:
    tracked = sample.tracked
    args = tracked.args

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
        plot_id=info.plot_id if info else None,
        k=pick(info.k if info else None, args.k),
        tmp_dir=dirs[0],
        tmp2_dir=dirs[1],
        dst_dir=dirs[2],
        threads=pick(info.threads if info else None, args.threads),
        buckets=pick(info.buckets if info else None, args.buckets),
        buffer_mib=pick(info.buffer_mib if info else None, args.buffer_mib),
        phase=info.phase if info else None,
        phase_seconds=tuple(sorted(info.phase_seconds.items())) if info else (),
        total_seconds=info.total_seconds if info else None,
        copy_seconds=info.copy_seconds if info else None,
        final_file=info.final_file if info else None,
        completed=info.completed if info else False,
        log_file=tracked.log_file,
        tmp_files=tmp_files,
        tmp_usage_bytes=tmp_usage,
        mem_rss_bytes=sample.rss,
        mem_vms_bytes=sample.vms,
        user_seconds=sample.user,
        sys_seconds=sample.system,
        iowait_seconds=sample.iowait,
        problems=tuple(dict.fromkeys([*tracked.problems, *sample.problems])),
    )


def _find_temp_files(
    wanted: dict[str, set[str]], problems: list[str]
) -> tuple[dict[str, list[TempFile]], set[str]]:
    """Files named with a wanted plot id in each dir (each dir listed once per scan).

    A finished ``.plot`` is not a temp file. A dir that cannot be listed is reported once, and
    returned as broken so its jobs' usage shows as unknown rather than as zero.
    """
    files: dict[str, list[TempFile]] = {}
    broken: set[str] = set()
    for directory, plot_ids in wanted.items():
        try:
            for path, plot_id, size in _list_plot_files(directory, plot_ids):
                files.setdefault(plot_id, []).append(TempFile(path=path, size_bytes=size))
        except OSError as error:
            broken.add(directory)
            problems.append(f"dir {directory}: {error.strerror or error}")
    return files, broken


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


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
