"""Plot history: every plot log in the log dir read into records, cached.

A log is read whole with the plotters' own parsers (:func:`~plotman_tui.farm.finished.best_parser`
picks the plotter), one :class:`PlotRecord` per plot it names: a madMAx or BladeBit ``-n`` run
makes several plots in one log. A log that is no plot log (empty, binary, not a regular file,
no plot id) is a :class:`SkippedLog` with its reason, never an exception.

Records are cached as plain JSON keyed by each log's (path, inode, size, mtime) and
:data:`PARSER_VERSION`: a second scan reads only logs that are new or changed. The cache is
derived data; a cache that cannot be read is ignored and the logs are read again.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from plotman_tui.appdirs import cache_dir, read_regular_file
from plotman_tui.farm.finished import WHOLE_BYTES, best_parser
from plotman_tui.farm.launches import save_state
from plotman_tui.farm.plotsize import final_plot_bytes
from plotman_tui.plotters.base import LogInfo

#: Bump when what a record holds or how a log is read changes: older cache entries are re-read.
PARSER_VERSION = 1
_CACHE_FORMAT = "plotman-tui history cache"
#: The cache of a dir of 100,000 logs is some 100 MB; anything larger is not ours.
_MAX_CACHE_BYTES = 512 * 1024 * 1024
#: A NUL in a log's first bytes: a binary file, not a plotter's text output.
_BINARY_PROBE = 4096


@dataclass(frozen=True)
class PlotRecord:
    """One plot as its log tells it. Times are POSIX timestamps, durations seconds; None where
    the log does not say (or, for ``compression`` and ``bitfield``, the plotter has none)."""

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
    #: The final file's size when it exists, else the planned size of a plot of size k.
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
    """What a scan of a log dir found. ``read_paths``: the logs read this time (not cached)."""

    records: tuple[PlotRecord, ...]
    skipped: tuple[SkippedLog, ...]
    read_paths: tuple[str, ...]


def default_cache_path() -> str:
    """Where the history cache lives: ``history.json`` in the cache dir."""
    return os.fspath(cache_dir() / "history.json")


def read_log(path: str) -> tuple[list[PlotRecord], SkippedLog | None]:
    """The plots in the log at ``path``; or no plots and why the log was skipped."""
    try:
        data = read_regular_file(path, WHOLE_BYTES, tail=False)
    except OSError as error:
        return [], SkippedLog(path, _os_reason(error))
    return parse_log(path, data)


def parse_log(path: str, data: bytes) -> tuple[list[PlotRecord], SkippedLog | None]:
    """:func:`read_log` on the bytes ``data`` of the log at ``path``."""
    if not data:
        return [], SkippedLog(path, "empty file")
    if b"\0" in data[:_BINARY_PROBE]:
        return [], SkippedLog(path, "binary data (NUL bytes), not a plotter's log")
    best = best_parser(data, finish=True)
    if best is None:
        return [], SkippedLog(path, "not a plot log (no plot id in it)")
    plotter, parser = best
    infos = [*parser.earlier_plots, parser.info]
    return [_record(path, plotter, info) for info in infos if info.plot_id], None


def read_history(log_dir: str | os.PathLike[str], cache_path: str | None = None) -> History:
    """Every ``*.log`` in ``log_dir`` (not its subdirs) read into records, by path.

    With ``cache_path`` the records of logs unchanged since the last scan come from the cache,
    and the cache is rewritten (best effort) with what this scan found.
    """
    cached = _load_cache(cache_path) if cache_path is not None else {}
    entries: dict[str, dict[str, Any]] = {}
    records: list[PlotRecord] = []
    skipped: list[SkippedLog] = []
    read_paths: list[str] = []
    try:
        names = sorted(entry.name for entry in os.scandir(log_dir) if entry.name.endswith(".log"))
    except OSError as error:
        return History((), (SkippedLog(os.fspath(log_dir), _os_reason(error)),), ())
    for name in names:
        path = os.path.join(os.fspath(log_dir), name)
        try:
            stat = os.stat(path, follow_symlinks=False)
            key = [stat.st_ino, stat.st_size, stat.st_mtime_ns, PARSER_VERSION]
        except OSError as error:
            skipped.append(SkippedLog(path, _os_reason(error)))
            continue
        entry = cached.get(path)
        found: tuple[list[PlotRecord], SkippedLog | None] | None = None
        if entry is not None and entry.get("key") == key:
            found = _from_json(path, entry)
        if entry is None or found is None:
            found = read_log(path)
            read_paths.append(path)
            entry = _to_json(key, *found)
        entries[path] = entry  # as cached, when it was: not serialised again
        records.extend(found[0])
        if found[1] is not None:
            skipped.append(found[1])
    if cache_path is not None and (read_paths or entries.keys() != cached.keys()):
        _save_cache(cache_path, entries)
    return History(tuple(records), tuple(skipped), tuple(read_paths))


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
        final_bytes=_final_bytes(info),
        completed=info.completed,
        unfinished_reason="" if info.completed else _unfinished_reason(info),
    )


def _final_bytes(info: LogInfo) -> int | None:
    """The plot's size: its file's when a regular file is there, else the size for its k. The
    path comes from the log: it is looked at (stat), never opened (a device could act on it)."""
    if info.final_file is not None:
        try:
            found = os.stat(info.final_file)
        except OSError:
            pass
        else:
            if stat.S_ISREG(found.st_mode):
                return found.st_size
    return final_plot_bytes(info.k) if info.k is not None else None


def _unfinished_reason(info: LogInfo) -> str:
    if info.total_seconds is not None:
        return f"plot made but not yet in place: the log ends in phase {info.phase}"
    return f"the log ends in phase {info.phase} (still running, killed or cut short)"


def _os_reason(error: OSError) -> str:
    return error.strerror or str(error)


# --- the cache ----------------------------------------------------------------------------------

_RECORD_FIELDS = {field.name for field in fields(PlotRecord)}


def _is_plain(value: object) -> bool:
    return value is None or type(value) in (str, int, float, bool)


def _to_json(
    key: list[int], records: list[PlotRecord], skipped: SkippedLog | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": key, "records": [asdict(record) for record in records]}
    if skipped is not None:
        entry["skipped"] = skipped.reason
    return entry


def _from_json(
    path: str, entry: dict[str, Any]
) -> tuple[list[PlotRecord], SkippedLog | None] | None:
    """A cache entry's records; None when it is malformed (the log is read again)."""
    try:
        records = []
        for saved in entry["records"]:
            if not isinstance(saved, dict) or set(saved) != _RECORD_FIELDS:
                return None
            if not all(_is_plain(value) for value in saved.values()):
                return None
            saved = {**saved, "log_path": path}
            records.append(PlotRecord(**saved))
        reason = entry.get("skipped")
        skipped = SkippedLog(path, reason) if isinstance(reason, str) else None
    except (TypeError, KeyError):
        return None
    return records, skipped


def _load_cache(path: str) -> dict[str, dict[str, Any]]:
    try:
        saved = json.loads(read_regular_file(path, _MAX_CACHE_BYTES).decode("utf-8"))
        if saved.get("format") != _CACHE_FORMAT or saved.get("version") != PARSER_VERSION:
            return {}
        logs = saved["logs"]
        if not isinstance(logs, dict):
            return {}
        return {name: entry for name, entry in logs.items() if isinstance(entry, dict)}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _save_cache(path: str, logs: dict[str, dict[str, Any]]) -> None:
    """Write the cache whole; a cache that cannot be written only costs speed."""
    text = json.dumps({"format": _CACHE_FORMAT, "version": PARSER_VERSION, "logs": logs})
    with contextlib.suppress(OSError):
        save_state(Path(path), text)
