"""Plot history: every plot log in the log dir read into records, cached.

A log is read whole with the plotters' own parsers (:func:`~plotman_tui.farm.finished.best_parser`
picks the plotter), one :class:`PlotRecord` per plot it names: a madMAx or BladeBit ``-n`` run
makes several plots in one log. A log that is no plot log (empty, binary, not a regular file,
no plot id) is a :class:`SkippedLog` with its reason, never an exception.

Records are cached as plain JSON keyed by each log's (path, inode, size, mtime) and
:data:`PARSER_VERSION`: a second scan reads only logs that are new or changed. One cache holds
the logs of every dir scanned with it: a scan keeps the entries of logs it did not look at (other
dirs, older logs than ``newest``) as long as their files are there. The cache is derived data
and untrusted input: a cache that cannot be read is ignored. Its header holds the CRC-32 of its
body: a body byte for byte as this module wrote it holds the values that were checked as they
came from the logs, and is taken as it is. Any other body (edited, damaged, written by another
program) is checked value by value: an entry holding anything the parsers would not give (NaN,
a negative time, a bool for a number, a NUL in a path) is refused, its log read again. The CRC
guards against damage and edits, not against a program that forges one on purpose: running as
the farmer, such a program could as well change plotman-tui itself.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import gc
import json
import math
import operator
import os
import re
import stat
import sys
import zlib
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

if TYPE_CHECKING:
    import subprocess

    from plotman_tui.plotters.base import LogInfo

from plotman_tui.appdirs import cache_dir, open_regular_file, read_regular_file
from plotman_tui.farm.plotsize import nominal_plot_bytes
from plotman_tui.plotters.limits import (
    BUCKETS_MAX,
    BUFFER_MIB_MAX,
    K_MAX,
    K_MIN,
    PATH_MAX,
    PLOTTER_NAMES,
    THREADS_MAX,
    sane_dir,
    sane_path,
)

#: Bump when what a record holds or how a log is read changes: older cache entries are re-read.
#: 3: Gigahorse logs are read (an older cache holds them as skipped), and a compressed plot's
#: nominal size comes from its plotter's table (Gigahorse's, levels past C9).
PARSER_VERSION = 3
_CACHE_FORMAT = "plotman-tui history cache"
#: The cache file's layout: a header line (format, layout, the body's CRC-32), then the body, a
#: JSON value a line (:data:`_BODY_PARTS`): the logs, their keys, record counts and skip reasons,
#: then the records as columns (each of PlotRecord's fields, a list of every record's value),
#: which JSON reads and the checks take faster than a row per record.
_CACHE_LAYOUT = 4
#: The cache of a dir of 100,000 logs is some 100 MB; anything larger is not ours.
_MAX_CACHE_BYTES = 512 * 1024 * 1024
#: A NUL in a log's first bytes: a binary file, not a plotter's text output.
_BINARY_PROBE = 4096


class PlotRecord(NamedTuple):
    """One plot as its log tells it. Times are POSIX timestamps, durations seconds; None where
    the log does not say (or, for ``compression`` and ``bitfield``, the plotter has none).

    A named tuple rather than a frozen dataclass, as immutable: a warm read of 10,000 logs
    makes 11,667 of them from the cache's columns, and a tuple is made from a row in C
    (``tuple.__new__`` over ``zip`` of the columns), where a dataclass takes 24 attribute
    stores a record: a tenth of a warm ``analyze``. Change one with ``_replace``."""

    log_path: str
    plotter: str
    plot_id: str
    k: int | None
    compression: int | None
    started_at: float | None
    #: Start plus total (and copy) time: the log's plotters print no end stamp of their own.
    ended_at: float | None
    tmp_dir: str | None
    tmp2_dir: str | None
    dst_dir: str | None
    threads: int | None
    buckets: int | None
    buffer_mib: int | None
    bitfield: bool | None
    phase1_seconds: float | None
    phase2_seconds: float | None
    phase3_seconds: float | None
    phase4_seconds: float | None
    total_seconds: float | None
    copy_seconds: float | None
    final_file: str | None
    #: The plot's size in bytes, the best known of: its final file's (when a regular file is
    #: there on this machine), the size its log states (madMAx: to the byte; chiapos: in GiB
    #: to three decimals), the nominal size of a plot of its k and compression level by its
    #: plotter (plotsize's tables: chia-docs' "K Sizes", Gigahorse's; never the planning size
    #: with its safety margin); None when the log tells no k.
    final_bytes: int | None
    completed: bool
    #: Why the plot is not complete ("" when it is).
    unfinished_reason: str


@dataclass(frozen=True)
class SkippedLog:
    """A file in the log dir that gives no record, and why."""

    log_path: str
    reason: str


@dataclass(frozen=True)
class History:
    """What a scan of a log dir found. ``read_paths``: the logs read this time (not cached).
    ``records``: each plot once (:func:`each_once`: a completed plot in two logs, a log and
    its copy, is the first by log name)."""

    records: tuple[PlotRecord, ...]
    skipped: tuple[SkippedLog, ...]
    read_paths: tuple[str, ...]


def default_cache_path() -> str:
    """Where the history cache lives: ``history.json`` in the cache dir."""
    return os.fspath(cache_dir() / "history.json")


#: A log larger than this is no plot log: a ``chia plots create -n 100`` log is some 20 MB.
MAX_LOG_BYTES = 1 << 30
_TOO_LARGE = "larger than 1 GiB: not a plot log"
#: A log larger than WHOLE_BYTES is read on in pieces of this size (memory stays bounded).
_PIECE_BYTES = 4 << 20


class _TooLargeError(Exception):
    """The log grew past MAX_LOG_BYTES while it was read."""


def read_log(path: str) -> tuple[list[PlotRecord], SkippedLog | None]:
    """The plots in the log at ``path``; or no plots and why the log was skipped.

    A log is read whole up to WHOLE_BYTES; a larger one (a ``chia plots create -n 100`` run)
    is read on in pieces through the same parsers, up to MAX_LOG_BYTES."""
    from plotman_tui.farm.finished import WHOLE_BYTES  # not imported for a warm read

    try:
        with open(open_regular_file(path), "rb", buffering=0) as handle:
            if os.fstat(handle.fileno()).st_size > MAX_LOG_BYTES:
                return [], SkippedLog(path, _TOO_LARGE)
            data = _read_up_to(handle, WHOLE_BYTES)
            if len(data) < WHOLE_BYTES:
                return parse_log(path, data)
            return parse_log(path, data, more=_pieces(handle, MAX_LOG_BYTES - len(data)))
    except _TooLargeError:
        return [], SkippedLog(path, _TOO_LARGE)
    except OSError as error:
        return [], SkippedLog(path, _os_reason(error))


def _read_up_to(handle: BinaryIO, size: int) -> bytes:
    """The next ``size`` bytes of ``handle``, fewer only at its end."""
    chunks = []
    while size > 0 and (chunk := handle.read(min(size, 1 << 20))):
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _pieces(handle: BinaryIO, limit: int) -> Iterator[bytes]:
    """The rest of ``handle`` in pieces; _TooLargeError past ``limit`` more bytes."""
    while piece := _read_up_to(handle, _PIECE_BYTES):
        limit -= len(piece)
        if limit < 0:
            raise _TooLargeError
        yield piece


def parse_log(
    path: str, data: bytes, *, more: Iterable[bytes] = ()
) -> tuple[list[PlotRecord], SkippedLog | None]:
    """:func:`read_log` on the bytes ``data`` of the log at ``path`` (and ``more``: the rest
    of a log too large to hold whole, in pieces)."""
    if not data:
        return [], SkippedLog(path, "empty file")
    if b"\0" in data[:_BINARY_PROBE]:
        return [], SkippedLog(path, "binary data (NUL bytes), not a plotter's log")
    from plotman_tui.farm.finished import best_parser  # not imported for a warm read

    best = best_parser(data, finish=True, more=more)
    if best is None:
        return [], SkippedLog(path, "not a plot log (no plot id in it)")
    plotter, parser = best
    infos = [*parser.earlier_plots, parser.info]
    return [_record(path, plotter, info) for info in infos if info.plot_id], None


#: Below this many logs to read, they are read in this process: starting the worker processes
#: (an interpreter each, ~0.15 s) costs more than it saves.
POOL_MIN_LOGS = 400
#: A worker: a fresh interpreter (never a fork: the dashboard reads history in a thread of a
#: threaded program, and a forked child of one may hang on a lock another thread held) with
#: this process's import path (argv[1]), reading the paths given on stdin; argv[2] is this
#: process's pid, the parent it ends with.
_WORKER_CODE = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
    "from plotman_tui.farm.history import _worker; _worker()"
)


def read_logs(paths: list[str]) -> list[tuple[list[PlotRecord], SkippedLog | None]]:
    """:func:`read_log` of each of ``paths``, in order; what :func:`read_history` found to
    read. Many logs (a cold read of a big log dir) are shared out to one worker process per
    core: the same results, in the same order.

    The workers are plain subprocesses, not a multiprocessing pool: its "spawn" start needs a
    main module safe to import again and a real ``sys.stderr`` (Textual's has no file
    descriptor: the pool's resource tracker fails to start in the dashboard). A worker's
    answer is checked as a cache entry is (:func:`_from_json`); a worker that fails or
    answers wrong costs its share a read in this process.
    """
    workers = _cores()
    if len(paths) < POOL_MIN_LOGS or workers < 2 or not sys.executable:
        return [read_log(path) for path in paths]
    shares = [paths[index::workers] for index in range(workers)]  # each a mix of the dir
    answers: list[list[tuple[list[PlotRecord], SkippedLog | None]] | None] = [None] * workers
    started: list[subprocess.Popen[bytes]] = []

    def share_out(index: int) -> None:
        answers[index] = _read_in_worker(shares[index], started)

    import threading  # only for a cold read of many logs

    threads = [threading.Thread(target=share_out, args=(index,)) for index in range(workers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        # Interrupted (Ctrl-C in the join): the workers end now, not after their share (a
        # cold read of thousands of logs: seconds); the threads waiting on them end with them.
        for worker in started:
            if worker.poll() is None:
                worker.kill()
    results: list[tuple[list[PlotRecord], SkippedLog | None]] = [([], None)] * len(paths)
    for index, answer in enumerate(answers):
        results[index::workers] = answer or [read_log(path) for path in shares[index]]
    return results


def _read_in_worker(
    paths: list[str], started: list[subprocess.Popen[bytes]]
) -> list[tuple[list[PlotRecord], SkippedLog | None]] | None:
    """:func:`read_log` of each of ``paths`` by a worker process (put in ``started``, for the
    caller to end it); None when it fails."""
    import subprocess  # only for a cold read of many logs

    try:
        worker = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE, json.dumps(sys.path), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # nothing of its own on a dashboard's screen
        )
        started.append(worker)
        output, _ = worker.communicate(json.dumps(paths).encode())
    except OSError:
        return None
    if worker.returncode != 0:
        return None
    lines = output.splitlines()
    if len(lines) != len(paths):
        return None
    results = []
    with _gc_paused():
        for path, line in zip(paths, lines, strict=True):
            # A line at a time: short calls, so the dashboard's event loop gets the GIL between
            # them (one loads of the whole answer would hold it for tens of milliseconds).
            try:
                entry = json.loads(line, parse_constant=_refuse_constant)
            except ValueError:
                entry = None
            result = _from_json(path, entry) if type(entry) is dict else None
            results.append(result if result is not None else read_log(path))
    return results


#: How much lower a worker runs than its parent (``nice``): a dashboard's keys waited 0.2 s at
#: worst while two workers read 10,000 logs cold on 2 cores, 0.14 s with them at 10.
WORKER_NICE = 10


def _worker() -> None:
    """A worker process's work: the paths on stdin (JSON), their cache entries on stdout, one
    JSON line each, in order. It ends with its parent (argv[2]): a parent killed mid-read
    (``metrics --serve`` stopped, Ctrl-C in ``analyze``) left its workers reading on for
    seconds, children of PID 1."""
    parent = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else None
    _end_with_parent(parent)
    # A cold read is background work: the farmer's keys (the dashboard shares the cores with
    # every worker) come first. Only felt when the cores are busy.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICE)
    paths = json.loads(sys.stdin.buffer.read())
    lines = []
    for path in paths:
        if parent is not None and os.getppid() != parent:  # where the kernel cannot tell it
            sys.exit(1)
        lines.append(json.dumps(_to_json([], *read_log(path))))
    sys.stdout.buffer.write("".join(line + "\n" for line in lines).encode())


def _end_with_parent(parent: int | None) -> None:
    """On Linux, have the kernel kill this process when its parent ends (PR_SET_PDEATHSIG);
    exit now if the parent has ended already (before the request was made). Elsewhere the
    worker looks at its parent between logs."""
    if parent is None:
        return
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        # The signal comes when the thread that started this process ends: read_logs' thread
        # for it, which waits for this process's answer, so only with the parent's end.
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        sys.exit(1)


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def read_history(
    log_dir: str | os.PathLike[str],
    cache_path: str | None = None,
    *,
    newest: int | None = None,
    skip: Collection[str] = (),
) -> History:
    """Every ``*.log`` in ``log_dir`` (not its subdirs) read into records, by path.

    ``newest``: only the newest that many logs (by mtime) are read. ``skip``: logs not to read
    nor count, their cache entries kept (running jobs' logs: they grow, and would be read again
    on every scan for no finished plot). With ``cache_path`` the
    records of logs unchanged since the last scan come from the cache, and the cache is
    rewritten (best effort) when this scan read a log or found one gone.
    """
    base = os.fspath(log_dir)
    try:
        listing = [entry for entry in os.scandir(base) if entry.name.endswith(".log")]
    except OSError as error:
        return History((), (SkippedLog(base, _os_reason(error)),), ())
    skipped: list[SkippedLog] = []
    prefix = os.path.join(base, "")
    # The cache knows a log by its absolute path: "logs" and "/srv/plots/logs" are one dir.
    this_dir = os.path.abspath(base)
    cache_prefix = os.path.join(this_dir, "")
    found_stats: list[tuple[str, os.stat_result]] = []  # (name, stat)
    for dir_entry in listing:
        try:
            found_stats.append((dir_entry.name, dir_entry.stat(follow_symlinks=False)))
        except OSError as error:
            if newest is None:  # gone since the listing: it has no mtime to rank it by
                skipped.append(SkippedLog(prefix + dir_entry.name, _os_reason(error)))
    listed = {cache_prefix + name for name, _ in found_stats}
    if skip:
        left_out = {os.path.abspath(path) for path in skip}
        found_stats = [item for item in found_stats if cache_prefix + item[0] not in left_out]
    if newest is not None:
        found_stats.sort(key=lambda item: item[1].st_mtime_ns, reverse=True)
        del found_stats[max(newest, 0) :]
    found_stats.sort()
    keys: dict[str, list[int]] = {}  # by name
    with _gc_paused():
        cache = _load_cache(cache_path) if cache_path is not None else _NO_CACHE
        index, cached_keys = cache.index, cache.keys
        hits: list[tuple[str, int]] = []  # (name, its log's place in the cache)
        for name, found_stat in found_stats:
            key = [found_stat.st_ino, found_stat.st_size, found_stat.st_mtime_ns, PARSER_VERSION]
            keys[name] = key
            at = index.get(cache_prefix + name)
            if at is not None and cached_keys[at] == key:
                hits.append((name, at))
        found = cache.results(prefix, hits)
    to_read = [name for name in keys if name not in found]
    read_paths = [prefix + name for name in to_read]
    fresh: dict[str, _Fresh] = {}
    for name, result in zip(to_read, read_logs(read_paths), strict=True):
        found[name] = result
        fresh[cache_prefix + name] = (keys[name], *result)
    records: list[PlotRecord] = []
    for name in keys:
        log_records, log_skipped = found[name]
        records += log_records
        if log_skipped is not None:
            skipped.append(log_skipped)
    records = each_once(records, resolve=False)  # after the cache: it keeps every log's own
    skipped.sort(key=lambda skip: skip.log_path)
    if cache_path is not None:
        gone = [path for path in index if path not in listed and os.path.dirname(path) == this_dir]
        if fresh or gone:
            kept = _existing([path for path in index if path not in fresh], this_dir, listed)
            _save_cache(cache_path, cache, kept, fresh)
    return History(tuple(records), tuple(skipped), tuple(read_paths))


def each_once(records: Iterable[PlotRecord], *, resolve: bool = True) -> list[PlotRecord]:
    """Each plot once, the first of its records kept (:func:`read_history`'s are in log name
    order): a completed plot's id is its own hash, so two logs with it (a copy of a log beside
    it, a dir given with one of its logs, a path given twice) are one plot; an unfinished one
    once per log file (a log given twice). ``resolve``: log paths may name one file two ways
    (several paths given), so they are compared resolved.

    Every reader of the history counts plots by this rule: :func:`read_history` applies it to
    its records, and ``analyze`` again across the paths it is given."""
    done: set[str] = set()
    seen: set[tuple[str, str]] = set()
    kept = []
    for record in records:
        if record.completed:
            if record.plot_id in done:
                continue
            done.add(record.plot_id)
        else:
            path = os.path.realpath(record.log_path) if resolve else record.log_path
            key = (path, record.plot_id)
            if key in seen:
                continue
            seen.add(key)
        kept.append(record)
    return kept


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused: the cache's JSON and its records are some 60,000
    new containers, and the collector would walk the growing heap dozens of times over for
    cycles that a cache read never makes (a quarter of a warm read of 10,000 logs). After,
    they go straight to the oldest generation (freeze, unfreeze): left young, the first
    allocation after ``gc.enable()`` would walk them all at once.

    A heap the caller froze (the dashboard freezes its startup heap) stays frozen:
    ``gc.unfreeze()`` moves every frozen object, not only this read's, back under full
    collections. Then the read's objects are moved on by one collection of the young
    generations instead (it walks only them, never the frozen heap). Freezing them too is no
    way out: it would freeze for good whatever cyclic garbage other threads made meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        elif enabled:
            gc.collect(1)
        if enabled:
            gc.enable()


def _existing(paths: list[str], this_dir: str, listed: set[str]) -> list[str]:
    """The cached logs that are still there: this dir's as listed, other dirs' listed now
    (one listing per dir; a dir that cannot be listed has none left)."""
    present: dict[str, set[str]] = {this_dir: listed}
    kept = []
    for path in paths:
        if not os.path.isabs(path):
            continue  # not a key this module writes
        parent = os.path.dirname(path)
        if parent not in present:
            try:
                present[parent] = {os.path.join(parent, name) for name in os.listdir(parent)}
            except OSError:
                present[parent] = set()
        if path in present[parent]:
            kept.append(path)
    return kept


# --- records ------------------------------------------------------------------------------------


def _record(path: str, plotter: str, info: LogInfo) -> PlotRecord:
    total = info.total_seconds
    ended_at = None
    if info.started_at is not None and total is not None:
        ended_at = info.started_at + total + (info.copy_seconds or 0.0)
    return PlotRecord(
        log_path=path,
        plotter=plotter,
        plot_id=info.plot_id or "",
        k=info.k,
        compression=info.compression,
        started_at=info.started_at,
        ended_at=ended_at,
        tmp_dir=info.tmp_dir,
        tmp2_dir=info.tmp2_dir,
        dst_dir=info.dst_dir,
        threads=info.threads,
        buckets=info.buckets,
        buffer_mib=info.buffer_mib,
        bitfield=info.bitfield,
        phase1_seconds=info.phase_seconds.get(1),
        phase2_seconds=info.phase_seconds.get(2),
        phase3_seconds=info.phase_seconds.get(3),
        phase4_seconds=info.phase_seconds.get(4),
        total_seconds=total,
        copy_seconds=info.copy_seconds,
        final_file=info.final_file,
        final_bytes=_final_bytes(plotter, info),
        completed=info.completed,
        unfinished_reason="" if info.completed else _unfinished_reason(info),
    )


def _final_bytes(plotter: str, info: LogInfo) -> int | None:
    """The plot's size: its file's when a regular file is there, else the size its log states,
    else the nominal size for its k and compression in ``plotter``'s table (plotsize's, the one
    table of sizes). The path comes from the log: it is looked at (stat), never opened (a
    device could act on it)."""
    if info.final_file is not None:
        try:
            found = os.stat(info.final_file)
        except OSError:
            pass
        else:
            if stat.S_ISREG(found.st_mode):
                return found.st_size
    if info.final_bytes is not None:
        return info.final_bytes
    if info.k is None:
        return None
    return nominal_plot_bytes(info.k, info.compression, plotter)


def _unfinished_reason(info: LogInfo) -> str:
    if info.total_seconds is not None:
        return f"plot made but not yet in place: the log ends in phase {info.phase}"
    return f"the log ends in phase {info.phase} (still running, killed or cut short)"


def _os_reason(error: OSError) -> str:
    return error.strerror or str(error)


# --- the cache ----------------------------------------------------------------------------------

#: A record in the cache: its values in field order, without ``log_path`` (the entry's key).
_ROW_FIELDS = PlotRecord._fields[1:]  # all but log_path
_PLOTTER_NAMES = frozenset(PLOTTER_NAMES)
#: The largest number :func:`~plotman_tui.plotters.logscan.first_int` reads (12 digits).
_INT_MAX = 10**12 - 1
_BYTES_MAX = 1 << 62
_REASON_MAX = 4096
#: A plot id as the parsers give it: 64 hex digits, lower case.
_PLOT_ID = re.compile(r"[0-9a-f]{64}")
_INF = math.inf
_save_lock = _thread.allocate_lock()


@functools.lru_cache(maxsize=4096)
def _is_sane_dir(text: str) -> bool:
    """A dir as the parsers give it (a log dir's thousands of records name a few dirs: each
    is checked once)."""
    return sane_dir(text) == text


def _text_ok(value: object, limit: int) -> bool:
    return type(value) is str and len(value) <= limit and "\0" not in value


def _row_record(path: str, row: object) -> PlotRecord | None:
    """A cached row as a record when every value is one the parsers could have given: numbers
    in their ranges (NaN fails every comparison), times finite and not negative, dirs absolute
    and normalised, no NUL, a bool where a bool belongs and nowhere else."""
    if type(row) is not list or len(row) != len(_ROW_FIELDS):
        return None
    (
        plotter,
        plot_id,
        k,
        compression,
        started_at,
        ended_at,
        tmp_dir,
        tmp2_dir,
        dst_dir,
        threads,
        buckets,
        buffer_mib,
        bitfield,
        phase1,
        phase2,
        phase3,
        phase4,
        total,
        copy,
        final_file,
        final_bytes,
        completed,
        reason,
    ) = row
    # Written out, not a call per value: 10,000 records are checked on every warm read.
    if not (
        type(plotter) is str
        and plotter in _PLOTTER_NAMES
        and type(plot_id) is str
        and _PLOT_ID.fullmatch(plot_id) is not None
        and (k is None or (type(k) is int and K_MIN <= k <= K_MAX))
        and (compression is None or (type(compression) is int and 0 <= compression <= _INT_MAX))
        and (started_at is None or (type(started_at) is float and 0.0 <= started_at < _INF))
        and (ended_at is None or (type(ended_at) is float and 0.0 <= ended_at < _INF))
        and (tmp_dir is None or (type(tmp_dir) is str and _is_sane_dir(tmp_dir)))
        and (tmp2_dir is None or (type(tmp2_dir) is str and _is_sane_dir(tmp2_dir)))
        and (dst_dir is None or (type(dst_dir) is str and _is_sane_dir(dst_dir)))
        and (threads is None or (type(threads) is int and 1 <= threads <= THREADS_MAX))
        and (buckets is None or (type(buckets) is int and 1 <= buckets <= BUCKETS_MAX))
        and (buffer_mib is None or (type(buffer_mib) is int and 1 <= buffer_mib <= BUFFER_MIB_MAX))
        and (bitfield is None or type(bitfield) is bool)
        and (phase1 is None or (type(phase1) is float and 0.0 <= phase1 < _INF))
        and (phase2 is None or (type(phase2) is float and 0.0 <= phase2 < _INF))
        and (phase3 is None or (type(phase3) is float and 0.0 <= phase3 < _INF))
        and (phase4 is None or (type(phase4) is float and 0.0 <= phase4 < _INF))
        and (total is None or (type(total) is float and 0.0 <= total < _INF))
        and (copy is None or (type(copy) is float and 0.0 <= copy < _INF))
        and (final_file is None or (type(final_file) is str and sane_path(final_file) is not None))
        and (final_bytes is None or (type(final_bytes) is int and 0 <= final_bytes <= _BYTES_MAX))
        and type(completed) is bool
        and type(reason) is str
        and (reason == "") is completed
        and len(reason) <= _REASON_MAX
        and "\0" not in reason
    ):
        return None
    return _new_record(path, row)


_tuple_new = tuple.__new__


def _new_record(path: str, row: list[Any]) -> PlotRecord:
    """``PlotRecord(path, *row)``, ``row`` checked: see :func:`_new_records`."""
    return _new_records([[value] for value in (path, *row)])[0]


def _new_records(columns: list[list[Any]]) -> list[PlotRecord]:
    """Records of checked values, ``columns`` in PlotRecord's field order (``log_path``
    first), each made from its row in C loops (``map`` and ``zip``), no Python call per
    record. Each record is equal to (and hashes as) the one ``PlotRecord(...)`` would make."""
    return list(map(_tuple_new, repeat(PlotRecord), zip(*columns, strict=True)))


def _to_json(
    key: list[int], records: list[PlotRecord], skipped: SkippedLog | None
) -> dict[str, Any]:
    rows = [[getattr(record, name) for name in _ROW_FIELDS] for record in records]
    entry: dict[str, Any] = {"key": key, "records": rows}
    if skipped is not None:
        entry["skipped"] = skipped.reason
    return entry


def _from_json(
    path: str, entry: dict[str, Any]
) -> tuple[list[PlotRecord], SkippedLog | None] | None:
    """A cache entry's records, or why its log was skipped; None when anything in it is not
    what a read of the log could give (the log is read again)."""
    rows = entry.get("records")
    reason = entry.get("skipped")
    if type(rows) is not list:
        return None
    if reason is not None:
        # A skipped log has no records, and its reason is plain text.
        if rows or not _text_ok(reason, _REASON_MAX) or not reason:
            return None
        return [], SkippedLog(path, reason)
    if not rows:
        return None  # a log is either skipped or has plots
    records = []
    for row in rows:
        record = _row_record(path, row)
        if record is None:
            return None
        records.append(record)
    return records, None


def _refuse_constant(name: str) -> object:
    """NaN and Infinity in the cache file: a value no type check lets through."""
    return _refuse_constant


#: A log read this time, for the cache: its key, its records, why it was skipped.
_Fresh = tuple[list[int], list[PlotRecord], SkippedLog | None]
_NONE = type(None)
_FLOAT_COLUMNS = (
    "started_at",
    "ended_at",
    "phase1_seconds",
    "phase2_seconds",
    "phase3_seconds",
    "phase4_seconds",
    "total_seconds",
    "copy_seconds",
)
#: Whole-number columns and their bounds, as :func:`_row_record` has them.
_INT_COLUMNS = {
    "k": (K_MIN, K_MAX),
    "compression": (0, _INT_MAX),
    "threads": (1, THREADS_MAX),
    "buckets": (1, BUCKETS_MAX),
    "buffer_mib": (1, BUFFER_MIB_MAX),
    "final_bytes": (0, _BYTES_MAX),
}
_DIR_COLUMNS = ("tmp_dir", "tmp2_dir", "dst_dir")
_HEX_TEXT = re.compile(r"[0-9a-f]*")
_is_not_none = functools.partial(operator.is_not, None)


def _columns_ok(columns: dict[str, list[Any]]) -> bool:
    """Whether :func:`_row_record` takes every row of ``columns``: the same checks, made a
    column at a time in C loops (types by ``set(map(type, ...))``, ranges by ``min`` and
    ``max``, texts joined) instead of a Python expression per value: a warm read of 10,000
    logs checks 11,667 records of 23 values."""
    types = {name: set(map(type, column)) for name, column in columns.items()}
    for name in _FLOAT_COLUMNS:
        if not types[name] <= {float, _NONE}:
            return False
        values = list(filter(_is_not_none, columns[name]))
        # NaN is equal to nothing, itself included, and would fool min and max.
        if values and not (
            all(map(operator.eq, values, values)) and min(values) >= 0.0 and max(values) < _INF
        ):
            return False
    for name, (low, high) in _INT_COLUMNS.items():
        if not types[name] <= {int, _NONE}:
            return False
        values = list(filter(_is_not_none, columns[name]))
        if values and not low <= min(values) <= max(values) <= high:
            return False
    for name in _DIR_COLUMNS:
        if not types[name] <= {str, _NONE} or not all(
            map(_is_sane_dir, set(filter(_is_not_none, columns[name])))
        ):
            return False
    plot_ids = columns["plot_id"]
    files = list(filter(_is_not_none, columns["final_file"]))
    reasons = columns["unfinished_reason"]
    return (
        types["plotter"] <= {str}
        and set(columns["plotter"]) <= _PLOTTER_NAMES
        and types["plot_id"] <= {str}
        and set(map(len, plot_ids)) <= {64}
        and _HEX_TEXT.fullmatch("".join(plot_ids)) is not None
        and types["bitfield"] <= {bool, _NONE}
        and types["final_file"] <= {str, _NONE}
        and (not files or (min(map(len, files)) > 0 and max(map(len, files)) <= PATH_MAX))
        and "\0" not in "".join(files)
        and types["completed"] <= {bool}
        and types["unfinished_reason"] <= {str}
        and (not reasons or max(map(len, reasons)) <= _REASON_MAX)
        and "\0" not in "".join(reasons)
        # A reason exactly when the plot is not complete.
        and all(map(operator.is_, map(operator.not_, reasons), columns["completed"]))
    )


@dataclass(frozen=True)
class _Cache:
    """A cache file as read: its logs (absolute paths), each one's key, number of records and
    skip reason (None: not skipped), and the records of all of them, a column per field in
    :data:`_ROW_FIELDS` order, each log's rows one after the other. Only its shape has been
    checked: its values are checked when they are used."""

    paths: list[str]
    keys: list[Any]
    counts: list[int]
    skipped: list[Any]
    columns: dict[str, list[Any]]
    #: Each log's first row.
    starts: list[int]
    #: Each log's place in ``paths``.
    index: dict[str, int]
    #: The body is byte for byte as :func:`_save_cache` wrote it (its CRC-32 is the header's):
    #: its values are the ones checked as they came from the logs (or from an intact cache).
    intact: bool = False

    def results(
        self, prefix: str, hits: list[tuple[str, int]]
    ) -> dict[str, tuple[list[PlotRecord], SkippedLog | None]]:
        """What the logs ``hits`` (each a name in the dir ``prefix``, its place in the cache)
        gave when they were read, by name; those whose entries hold anything a read of the log
        could not give are left out (to be read again)."""
        found: dict[str, tuple[list[PlotRecord], SkippedLog | None]] = {}
        with_rows: list[tuple[int, int, str]] = []  # (first row, rows, name)
        for name, at in hits:
            reason, count = self.skipped[at], self.counts[at]
            if reason is not None:
                # A skipped log has no records, and its reason is plain text.
                if count == 0 and reason and _text_ok(reason, _REASON_MAX):
                    found[name] = ([], SkippedLog(prefix + name, reason))
            elif count > 0:  # a log is either skipped or has plots
                with_rows.append((self.starts[at], count, name))
        if not with_rows:
            return found
        columns = list(self.columns.values())
        if not self.intact and not _columns_ok(self.columns):
            # Some value is refused: each log's rows checked on their own, as a row is.
            for start, count, name in with_rows:
                path = prefix + name
                rows = zip(*(column[start : start + count] for column in columns), strict=True)
                checked = [_row_record(path, list(row)) for row in rows]
                good = [record for record in checked if record is not None]
                if len(good) == len(checked):
                    found[name] = (good, None)
            return found
        with_rows.sort()
        paths: list[str] = []
        for _start, count, name in with_rows:
            paths += [prefix + name] * count
        if len(paths) == len(columns[0]):
            # Every row taken (each log at most once, rows in order): the columns as they are,
            # not copied through a mask (a warm read of 10,000 logs: 24 columns of 11,667).
            records = _new_records([paths, *columns])
        else:
            chosen = bytearray(len(columns[0]))
            for start, count, _name in with_rows:
                chosen[start : start + count] = b"\x01" * count
            records = _new_records([paths, *(list(compress(column, chosen)) for column in columns)])
        taken = 0
        for _start, count, name in with_rows:
            found[name] = (records[taken : taken + count], None)
            taken += count
        return found


_NO_CACHE = _Cache([], [], [], [], {name: [] for name in _ROW_FIELDS}, [], {})


#: The cache body's lines, in order: what each holds.
_BODY_PARTS = ("logs", "keys", "counts", "skipped", *_ROW_FIELDS)


def _body_values(text: str) -> dict[str, Any] | None:
    """The cache body's parts by name (:data:`_BODY_PARTS`), read a line at a time where they
    lie in ``text`` (no copy of each line): short calls, so the dashboard's event loop gets the
    GIL between them (one json.loads of the whole held it 40-60 ms). None when the body is
    not a JSON value on each of as many lines."""
    decoder = json.JSONDecoder(parse_constant=_refuse_constant)
    values = []
    at = 0
    for _part in _BODY_PARTS:
        value, end = decoder.raw_decode(text, at)
        values.append(value)
        if text[end : end + 1] != ("\n" if len(values) < len(_BODY_PARTS) else ""):
            return None
        at = end + 1
    return dict(zip(_BODY_PARTS, values, strict=True))


def _load_cache(path: str) -> _Cache:
    """The cache file at ``path``; an empty cache when it is missing or not of its shape."""
    try:
        data = read_regular_file(path, _MAX_CACHE_BYTES)
        newline = data.find(b"\n")
        if newline < 0:
            return _NO_CACHE
        header = json.loads(data[:newline])
        if (
            type(header) is not dict
            or header.get("format") != _CACHE_FORMAT
            or header.get("version") != _CACHE_LAYOUT
        ):
            return _NO_CACHE
        # The body is looked at in place, never copied but to be decoded: each copy of a cache
        # of 10,000 logs is 5 MB of fresh memory, some 1,300 page faults.
        body = memoryview(data)[newline + 1 :]
        intact = header.get("crc32") == zlib.crc32(body)
        saved = _body_values(str(body, "utf-8"))
        if saved is None:
            return _NO_CACHE
        paths, keys, counts, skipped = (
            saved[name] for name in ("logs", "keys", "counts", "skipped")
        )
        columns = {name: saved[name] for name in _ROW_FIELDS}
        if not (
            type(paths) is list
            and type(keys) is list
            and type(counts) is list
            and type(skipped) is list
            and len(paths) == len(keys) == len(counts) == len(skipped)
            and set(map(type, paths)) <= {str}
            and set(map(type, counts)) <= {int}
            and (not counts or min(counts) >= 0)
        ):
            return _NO_CACHE
        total = sum(counts)
        if any(type(column) is not list or len(column) != total for column in columns.values()):
            return _NO_CACHE
        starts = list(accumulate(counts, initial=0))
        starts.pop()
        index = dict(zip(paths, range(len(paths)), strict=True))
        return _Cache(paths, keys, counts, skipped, columns, starts, index, intact)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return _NO_CACHE


def _save_cache(path: str, cache: _Cache, kept: list[str], fresh: dict[str, _Fresh]) -> None:
    """Write the cache: the logs ``kept`` as ``cache`` has them, and those read this time
    (``fresh``), whole, renamed into place; a cache that cannot be written only costs speed.
    Processes that write at once: the last one's cache stands (each writes its own partial
    file). Threads of one process take turns (they would share one)."""
    from plotman_tui.farm.launches import save_state  # only when writing: 30 ms of imports

    places = sorted(cache.index[log] for log in kept)
    chosen = bytearray(len(cache.columns[_ROW_FIELDS[0]]))
    for at in places:
        start, count = cache.starts[at], cache.counts[at]
        chosen[start : start + count] = b"\x01" * count
    new_records = [record for _key, records, _skip in fresh.values() for record in records]
    parts = {
        "logs": [cache.paths[at] for at in places] + list(fresh),
        "keys": [cache.keys[at] for at in places] + [item[0] for item in fresh.values()],
        "counts": [cache.counts[at] for at in places] + [len(item[1]) for item in fresh.values()],
        "skipped": [cache.skipped[at] for at in places]
        + [None if item[2] is None else item[2].reason for item in fresh.values()],
    }
    # A part at a time, a column at a time: short calls, so the dashboard's event loop gets
    # the GIL between them (one json.dumps of the whole held it ~80 ms).
    lines = [json.dumps(part) for part in parts.values()]
    for name, column in cache.columns.items():
        values = list(compress(column, chosen))
        values += map(operator.attrgetter(name), new_records)
        lines.append(json.dumps(values))
    body = "\n".join(lines)
    crc = zlib.crc32(body.encode())  # ASCII: json.dumps escapes the rest
    header = json.dumps({"format": _CACHE_FORMAT, "version": _CACHE_LAYOUT, "crc32": crc})
    with _save_lock, contextlib.suppress(OSError):
        save_state(Path(path), f"{header}\n{body}")
