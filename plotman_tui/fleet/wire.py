"""The fleet's wire format: what ``plotman-tui watch --json`` prints, one JSON object a line.

Pure: encoders from farm types to lines, :func:`decode_line` from a line to a
:data:`WireMessage`, and :func:`apply`, the reducer that folds a message into a
:class:`~plotman_tui.fleet.model.HostView`. Every line has ``type`` and ``time`` (the host's
clock, POSIX seconds):

- ``hello``: protocol, version, hostname, pid (first, once);
- ``snapshot``: everything (second, once): jobs, problems, dirs, dir_of, dirs_taken_at,
  plotting, archiving, archive_rows, actions (the last ACTIONS_KEPT), plots_today, config;
- ``jobs`` (new jobs whole, the others' changed fields under their keys, keys gone, the
  scan's problems), ``dirs``, ``state`` (loops, archive rows, plots today), ``actions`` (new
  entries, oldest first): only what changed;
- ``beat``: nothing changed for BEAT_S; ``error``: the watch cannot go on (it exits 1).

A job may hold an ``estimate`` (its progress and ETA from the host's own history, as the
host's dashboard works them out); a job without one (one with no finished run like it) shows
"-". A decoder reads only the fields it knows: a newer watch's additions are let be.

The lines come from another machine over SSH: a decoder that trusts them lets one broken or
hostile host crash the dashboard. So :func:`decode_line` checks every field's type and range
and raises only :class:`WireError`, whose text says what is wrong in one line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from plotman_tui import __version__
from plotman_tui.dirview import ArchiveRow
from plotman_tui.farm.actionlog import ActionEntry
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.eta import Estimate
from plotman_tui.farm.model import Job, JobStatus, TempFile
from plotman_tui.fleet.model import (
    ACTIONS_KEPT,
    NO_ESTIMATES,
    PROTOCOL,
    HostConfig,
    HostStatus,
    HostView,
    LoopState,
)
from plotman_tui.plotters.phase import Phase

#: A line longer than this is refused unread (a snapshot of thousands of jobs is a few MiB).
MAX_LINE_BYTES: Final = 16 * 1024 * 1024
#: The longest string a field may hold (a config's text has its own limit, the loader's).
MAX_TEXT_CHARS: Final = 64 * 1024
MAX_CONFIG_CHARS: Final = 1024 * 1024
#: The watch sends a beat when it sent nothing else for this long (s); the client marks a host
#: down after some 8 s without a line.
BEAT_S: Final = 2.0

# Bounds that no real value reaches: a time past the year 30,000, a pid above Linux's limit.
_MAX_TIME: Final = 1e12
_MAX_PID: Final = 2**31 - 1
_MAX_COUNT: Final = 2**63 - 1


class WireError(ValueError):
    """A line that is not exactly what the protocol says (one line, for the host's problem)."""


def job_key(job: Job) -> str:
    """A job's identity across scans and hosts' lines: a reused pid with a new create time is
    another job (the dashboard's job key too). The start as the wire carries it (a time the
    wire cannot carry goes as 0), so that a watch and its client key a job alike."""
    return f"{job.pid}@{_time(job.started_at):.3f}"


# -- messages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WireConfig:
    """The host's config file: its path there, its text as on disk and the home dir ``~`` is."""

    path: str
    text: str
    home: str | None


@dataclass(frozen=True)
class Hello:
    time: float
    protocol: int
    version: str
    hostname: str
    pid: int


@dataclass(frozen=True)
class SnapshotMessage:
    time: float
    jobs: tuple[Job, ...]
    problems: tuple[str, ...]
    dirs: tuple[DirInfo, ...]
    dir_of: Mapping[str, str]
    dirs_taken_at: float | None
    plotting: LoopState
    archiving: LoopState
    archive_rows: tuple[ArchiveRow, ...]
    actions: tuple[ActionEntry, ...]
    plots_today: int | None
    config: WireConfig
    #: The jobs' estimates by :func:`job_key` (a job without one is not in it).
    estimates: Mapping[str, Estimate] = field(default_factory=lambda: NO_ESTIMATES)


@dataclass(frozen=True)
class JobUpdate:
    """What changed in a job sent before (by its :func:`job_key`): its fields of those names;
    ``estimate`` only when ``estimate_sent`` (None: it has none now)."""

    key: str
    values: Mapping[str, Any]
    estimate: Estimate | None = None
    estimate_sent: bool = False


@dataclass(frozen=True)
class JobsMessage:
    time: float
    #: New jobs, whole.
    changed: tuple[Job, ...]
    gone: tuple[str, ...]
    problems: tuple[str, ...]
    #: The changed jobs' estimates by :func:`job_key` (a changed job not in it has none now).
    estimates: Mapping[str, Estimate] = field(default_factory=lambda: NO_ESTIMATES)
    #: Jobs sent before, only their fields that changed.
    updated: tuple[JobUpdate, ...] = ()


@dataclass(frozen=True)
class DirsMessage:
    time: float
    dirs: tuple[DirInfo, ...]
    dir_of: Mapping[str, str]
    dirs_taken_at: float | None


@dataclass(frozen=True)
class StateMessage:
    time: float
    plotting: LoopState
    archiving: LoopState
    archive_rows: tuple[ArchiveRow, ...]
    plots_today: int | None


@dataclass(frozen=True)
class ActionsMessage:
    time: float
    entries: tuple[ActionEntry, ...]


@dataclass(frozen=True)
class Beat:
    time: float


@dataclass(frozen=True)
class ErrorMessage:
    time: float
    message: str


WireMessage = (
    Hello
    | SnapshotMessage
    | JobsMessage
    | DirsMessage
    | StateMessage
    | ActionsMessage
    | Beat
    | ErrorMessage
)


# -- encoding -----------------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    # A value the decoder would refuse (NaN from a broken clock) is sent as unknown, not as a
    # line that costs the host its whole view.
    if value is None or not math.isfinite(value) or abs(value) > _MAX_TIME:
        return None
    return float(value)


def _line(kind: str, now: float, fields: Mapping[str, Any]) -> str:
    data: dict[str, Any] = {"type": kind, "time": _finite(now) or 0.0}
    data.update(fields)
    line = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        # A file name that is not UTF-8 (held as lone surrogates) goes escaped: the line must
        # stay UTF-8, and the name comes back the same.
        line = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return line


def job_to_wire(job: Job, estimate: Estimate | None = None) -> dict[str, Any]:
    """A job as a JSON object (the watch compares these to send only the jobs that changed),
    with its ``estimate`` when one is given."""
    data = _written(job, _JOB_FIELDS)
    data["status"] = job.status.value
    data["phase"] = None if job.phase is None else [job.phase.major, job.phase.minor]
    data["phase_seconds"] = [
        [number, max(seconds, 0.0)]
        for number, seconds in job.phase_seconds
        if _finite(seconds) is not None
    ]
    data["tmp_files"] = [[temp.path, temp.size_bytes] for temp in job.tmp_files]
    if estimate is not None:
        data["estimate"] = estimate_to_wire(estimate)
    return data


def estimate_to_wire(estimate: Estimate) -> dict[str, Any]:
    return _written(estimate, _ESTIMATE_FIELDS)


def dir_to_wire(info: DirInfo) -> dict[str, Any]:
    data = _written(info, _DIR_FIELDS)
    data["plot_levels"] = [[level, count] for level, count in info.plot_levels]
    return data


def loop_to_wire(state: LoopState) -> dict[str, Any]:
    return _written(state, _LOOP_FIELDS)


def archive_row_to_wire(row: ArchiveRow) -> dict[str, Any]:
    return _written(row, _ARCHIVE_ROW_FIELDS)


def _entries_to_wire(entries: Iterable[ActionEntry]) -> list[Any]:
    found = []
    for entry in entries:
        if not 0.0 <= entry.time <= _MAX_TIME:
            continue  # a damaged entry's time: the client would refuse the whole line
        try:
            found.append(json.loads(entry.to_json()))
        except (TypeError, ValueError):
            continue  # an extra JSON cannot hold: the entry was never in the log as such
    return found


def encode_hello(now: float, hostname: str, pid: int, *, version: str = __version__) -> str:
    return _line(
        "hello",
        now,
        {"protocol": PROTOCOL, "version": version, "hostname": hostname, "pid": pid},
    )


def encode_snapshot(
    now: float,
    *,
    jobs: Sequence[Job],
    problems: Sequence[str],
    dirs: Sequence[DirInfo],
    dir_of: Mapping[str, str],
    dirs_taken_at: float | None,
    plotting: LoopState,
    archiving: LoopState,
    archive_rows: Sequence[ArchiveRow],
    actions: Sequence[ActionEntry],
    plots_today: int | None,
    config: WireConfig,
    estimates: Mapping[str, Estimate] | None = None,
) -> str:
    """``estimates``: the jobs' by :func:`job_key` (a job not in it is sent without)."""
    found = estimates if estimates is not None else {}
    return _line(
        "snapshot",
        now,
        {
            "jobs": [job_to_wire(job, found.get(job_key(job))) for job in jobs],
            "problems": list(problems),
            "dirs": [dir_to_wire(info) for info in dirs],
            "dir_of": dict(dir_of),
            "dirs_taken_at": _finite(dirs_taken_at),
            "plotting": loop_to_wire(plotting),
            "archiving": loop_to_wire(archiving),
            "archive_rows": [archive_row_to_wire(row) for row in archive_rows],
            "actions": _entries_to_wire(list(actions)[-ACTIONS_KEPT:]),
            "plots_today": plots_today,
            "config": {"path": config.path, "text": config.text, "home": config.home},
        },
    )


def encode_jobs(
    now: float,
    *,
    changed: Iterable[Mapping[str, Any]],
    gone: Iterable[str],
    problems: Iterable[str],
    updated: Iterable[Mapping[str, Any]] = (),
) -> str:
    """``changed``: new jobs as :func:`job_to_wire` made them (the watch has them at hand);
    ``updated``: jobs sent before, as :func:`job_delta` made them."""
    return _line(
        "jobs",
        now,
        {
            "changed": [dict(job) for job in changed],
            "updated": [dict(delta) for delta in updated],
            "gone": list(gone),
            "problems": list(problems),
        },
    )


def job_delta(key: str, sent: Mapping[str, Any], now: Mapping[str, Any]) -> dict[str, Any] | None:
    """A job's fields as :func:`job_to_wire` makes them ``now`` that differ from those
    ``sent`` before, under its ``key`` (None: nothing changed). On a busy plotter every job
    changes at every scan (its times, memory, I/O), and a whole job is kilobytes (its temp
    files): only what changed goes, a few dozen bytes."""
    delta = {name: value for name, value in now.items() if sent.get(name) != value}
    if "estimate" in sent and "estimate" not in now:
        delta["estimate"] = None
    if not delta:
        return None
    delta["key"] = key
    return delta


def encode_dirs(
    now: float, *, dirs: Sequence[DirInfo], dir_of: Mapping[str, str], dirs_taken_at: float | None
) -> str:
    return _line(
        "dirs",
        now,
        {
            "dirs": [dir_to_wire(info) for info in dirs],
            "dir_of": dict(dir_of),
            "dirs_taken_at": _finite(dirs_taken_at),
        },
    )


def encode_state(
    now: float,
    *,
    plotting: LoopState,
    archiving: LoopState,
    archive_rows: Sequence[ArchiveRow],
    plots_today: int | None,
) -> str:
    return _line(
        "state",
        now,
        {
            "plotting": loop_to_wire(plotting),
            "archiving": loop_to_wire(archiving),
            "archive_rows": [archive_row_to_wire(row) for row in archive_rows],
            "plots_today": plots_today,
        },
    )


def encode_actions(now: float, entries: Sequence[ActionEntry]) -> str:
    return _line("actions", now, {"entries": _entries_to_wire(entries)})


def encode_beat(now: float) -> str:
    return _line("beat", now, {})


def encode_error(now: float, message: str) -> str:
    return _line("error", now, {"message": message[:MAX_TEXT_CHARS]})


# -- decoding -----------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise WireError(f"{name} is not a number the protocol allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise WireError(f"number {text[:40]} is out of range")
    return value


class _Fields:
    """One JSON object's fields, read with their types checked; ``where`` names it in errors."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise WireError(f"{where}: not a JSON object")
        self.data: dict[str, Any] = data
        self.where = where

    def value(self, key: str) -> Any:
        if key not in self.data:
            raise WireError(f"{self.where}: no {key!r}")
        return self.data[key]

    def _bad(self, key: str, what: str) -> WireError:
        shown = repr(self.data.get(key))
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return WireError(f"{self.where}: {key!r} must be {what}, not {shown}")

    def text(self, key: str, *, limit: int = MAX_TEXT_CHARS) -> str:
        value = self.value(key)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        if len(value) > limit:
            raise WireError(f"{self.where}: {key!r} is over {limit // 1024} KiB")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.value(key) is None else self.text(key)

    def integer(self, key: str, *, low: int = 0, high: int = _MAX_COUNT) -> int:
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._bad(key, f"a whole number from {low} to {high}")
        return value

    def optional_integer(self, key: str, *, high: int = _MAX_COUNT) -> int | None:
        return None if self.value(key) is None else self.integer(key, high=high)

    def number(self, key: str, *, low: float = -_MAX_TIME) -> float:
        value = self.value(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= _MAX_TIME
        ):
            raise self._bad(key, f"a number from {low:g} to {_MAX_TIME:g}")
        return float(value)

    def optional_number(self, key: str, *, low: float = -_MAX_TIME) -> float | None:
        return None if self.value(key) is None else self.number(key, low=low)

    def flag(self, key: str) -> bool:
        value = self.value(key)
        if not isinstance(value, bool):
            raise self._bad(key, "true or false")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.value(key)
        if not isinstance(value, list):
            raise self._bad(key, "a list")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        return tuple(_text_item(item, f"{self.where}: {key}") for item in self.items(key))

    def text_map(self, key: str) -> Mapping[str, str]:
        value = self.value(key)
        if not isinstance(value, dict):
            raise self._bad(key, "an object")
        where = f"{self.where}: {key}"
        return MappingProxyType(
            {_text_item(name, where): _text_item(item, where) for name, item in value.items()}
        )

    def each(self, key: str, read: Callable[[object, str], Any]) -> tuple[Any, ...]:
        return tuple(
            read(item, f"{self.where}: {key}[{index}]")
            for index, item in enumerate(self.items(key))
        )


def _text_item(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise WireError(f"{where}: holds {type(value).__name__}, not a string")
    if len(value) > MAX_TEXT_CHARS:
        raise WireError(f"{where}: a string over {MAX_TEXT_CHARS // 1024} KiB")
    return value


def _pair(value: object, where: str) -> list[Any]:
    if not isinstance(value, list) or len(value) != 2:
        raise WireError(f"{where}: not a pair")
    return value


def _count(value: object, where: str, high: int = _MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise WireError(f"{where}: {str(value)[:40]} is not a count")
    return value


# -- the records' fields --------------------------------------------------------------------------
# Each record's plain fields in one table: how each is written (a time the decoder would refuse
# goes as unknown) and read back (checked); the encoder and the decoder both follow it.


def _as_is(value: Any) -> Any:
    return value


def _time(value: float) -> float:
    return max(_finite(value) or 0.0, 0.0)


def _progress(value: float | None) -> float | None:
    # Out of 0-1 only by a bug; sent as unknown, not as a line the client refuses.
    return value if value is not None and 0.0 <= value <= 1.0 else None


def _read_progress(fields: _Fields, key: str) -> float | None:
    progress = fields.optional_number(key, low=0.0)
    if progress is not None and progress > 1.0:
        raise WireError(f"{fields.where}: {key!r} must be from 0 to 1, not {progress:g}")
    return progress


@dataclass(frozen=True)
class _Field:
    name: str
    read: Callable[[_Fields, str], Any]
    write: Callable[[Any], Any] = _as_is


def _written(record: object, table: Sequence[_Field]) -> dict[str, Any]:
    return {field.name: field.write(getattr(record, field.name)) for field in table}


def _read(fields: _Fields, table: Sequence[_Field]) -> dict[str, Any]:
    return {field.name: field.read(fields, field.name) for field in table}


def _text_field(name: str) -> _Field:
    return _Field(name, _Fields.text)


def _optional_text_field(name: str) -> _Field:
    return _Field(name, _Fields.optional_text)


def _count_field(name: str, high: int = _MAX_COUNT) -> _Field:
    return _Field(name, lambda fields, key: fields.optional_integer(key, high=high))


def _duration(value: float | None) -> float | None:
    # A duration below 0 (a clock stepped back on the host) goes as none rather than as a
    # line the client refuses whole.
    value = _finite(value)
    return None if value is None else max(value, 0.0)


def _seconds_field(name: str) -> _Field:
    return _Field(name, lambda fields, key: fields.optional_number(key, low=0.0), _duration)


# A job's status, phase, phase times and temp files have their own shapes (see _job).
_JOB_FIELDS: Final = (
    _Field("pid", lambda fields, key: fields.integer(key, low=1, high=_MAX_PID)),
    _text_field("plotter"),
    _Field("argv", _Fields.texts, list),
    _optional_text_field("cwd"),
    _Field("started_at", lambda fields, key: fields.number(key, low=0.0), _time),
    _Field("wall_seconds", lambda fields, key: fields.number(key, low=0.0), _time),
    _optional_text_field("plot_id"),
    _count_field("k", 255),
    *map(_optional_text_field, ("tmp_dir", "tmp2_dir", "dst_dir")),
    *map(_count_field, ("threads", "buckets", "buffer_mib")),
    _count_field("compression", 255),
    *map(_seconds_field, ("total_seconds", "copy_seconds")),
    _optional_text_field("final_file"),
    _Field("completed", _Fields.flag),
    _optional_text_field("log_file"),
    *map(_count_field, ("tmp_usage_bytes", "mem_rss_bytes", "mem_vms_bytes")),
    *map(_seconds_field, ("user_seconds", "sys_seconds", "iowait_seconds")),
    _Field("problems", _Fields.texts, list),
    _seconds_field("plot_started_at"),
)
_ESTIMATE_FIELDS: Final = (
    _Field("progress", _read_progress, _progress),
    _Field("eta_seconds", lambda fields, key: fields.optional_number(key, low=0.0), _finite),
    _Field("basis", _Fields.integer),
    _Field("same_tmp", _Fields.flag),
    _Field("late", _Fields.flag),
)
# A dir's plot levels are pairs (see _dir).
_DIR_FIELDS: Final = (
    _text_field("path"),
    *map(_count_field, ("total_bytes", "free_bytes")),
    _Field("plots", _Fields.integer),
    _Field("plot_bytes", _Fields.integer),
    _optional_text_field("error"),
)
_LOOP_FIELDS: Final = (
    _optional_text_field("holder"),
    _Field("paused", _Fields.flag),
    *map(_optional_text_field, ("paused_by", "reason")),
    _Field("configured", _Fields.flag),
)
_ARCHIVE_ROW_FIELDS: Final = (
    *map(_text_field, ("key", "target", "path")),
    _count_field("free_bytes"),
    *map(_text_field, ("note", "level")),
    _Field("first", _Fields.flag),
)


def _status(fields: _Fields) -> JobStatus:
    text = fields.text("status")
    try:
        return JobStatus(text)
    except ValueError:
        raise WireError(f"{fields.where}: no job status {text[:40]!r}") from None


def _phase(fields: _Fields) -> Phase | None:
    data = fields.value("phase")
    if data is None:
        return None
    major, minor = _pair(data, f"{fields.where}: phase")
    where = f"{fields.where}: phase"
    return Phase(_count(major, where, 999), _count(minor, where, 999))


def _phase_seconds(fields: _Fields) -> tuple[tuple[int, float], ...]:
    where = f"{fields.where}: phase_seconds"
    found = []
    for item in fields.items("phase_seconds"):
        number, seconds = _pair(item, where)
        # A duration: never below 0 (a bar of -1e12 s ended the details screen).
        seconds_value = _Fields({"s": seconds}, where).number("s", low=0.0)
        found.append((_count(number, where, 999), seconds_value))
    return tuple(found)


def _tmp_files(fields: _Fields) -> tuple[TempFile, ...]:
    where = f"{fields.where}: tmp_files"
    found = []
    for item in fields.items("tmp_files"):
        path, size = _pair(item, where)
        found.append(TempFile(_text_item(path, where), _count(size, where)))
    return tuple(found)


#: A job's fields with shapes of their own, each read by its function.
_JOB_SHAPES: Final[dict[str, Callable[[_Fields], Any]]] = {
    "status": _status,
    "phase": _phase,
    "phase_seconds": _phase_seconds,
    "tmp_files": _tmp_files,
}
_JOB_TABLE: Final = {field.name: field for field in _JOB_FIELDS}


def _job_values(fields: _Fields, names: Iterable[str]) -> dict[str, Any]:
    """The job's fields of ``names`` (each must be there; a name no job has is let be: a
    newer watch's field), read and checked."""
    values: dict[str, Any] = {}
    for name in names:
        table_field = _JOB_TABLE.get(name)
        if table_field is not None:
            values[name] = table_field.read(fields, name)
        elif name in _JOB_SHAPES:
            values[name] = _JOB_SHAPES[name](fields)
    return values


def _job(data: object, where: str) -> Job:
    return Job(**_job_values(_Fields(data, where), [*_JOB_TABLE, *_JOB_SHAPES]))


def _job_update(data: object, where: str) -> JobUpdate:
    fields = _Fields(data, where)
    key = fields.text("key", limit=200)
    estimate_sent = "estimate" in fields.data
    estimate = fields.data.get("estimate")
    return JobUpdate(
        key=key,
        values=_job_values(fields, [name for name in fields.data if name != "key"]),
        estimate=None if estimate is None else _estimate(estimate, f"{where}: estimate"),
        estimate_sent=estimate_sent,
    )


def _estimate(data: object, where: str) -> Estimate:
    return Estimate(**_read(_Fields(data, where), _ESTIMATE_FIELDS))


def _estimated_jobs(fields: _Fields, key: str) -> tuple[tuple[Job, ...], Mapping[str, Estimate]]:
    """The jobs under ``key``, and the estimates of those that hold one (an older watch's
    jobs hold none)."""
    jobs = fields.each(key, _job)
    estimates = {
        job_key(job): _estimate(item["estimate"], f"{fields.where}: {key}[{index}]: estimate")
        for index, (job, item) in enumerate(zip(jobs, fields.items(key), strict=True))
        if item.get("estimate") is not None
    }
    return jobs, MappingProxyType(estimates) if estimates else NO_ESTIMATES


def _dir(data: object, where: str) -> DirInfo:
    fields = _Fields(data, where)
    levels = []
    for item in fields.items("plot_levels"):
        level, count = _pair(item, f"{where}: plot_levels")
        levels.append((_count(level, f"{where}: plot_levels", 255), _count(count, where)))
    return DirInfo(**_read(fields, _DIR_FIELDS), plot_levels=tuple(levels))


def _loop(data: object, where: str) -> LoopState:
    return LoopState(**_read(_Fields(data, where), _LOOP_FIELDS))


def _archive_row(data: object, where: str) -> ArchiveRow:
    return ArchiveRow(**_read(_Fields(data, where), _ARCHIVE_ROW_FIELDS))


def _action(data: object, where: str) -> ActionEntry:
    if not isinstance(data, dict):
        raise WireError(f"{where}: not a JSON object")
    # The action log's own reader checks the fields (it reads lines from disk: the same trust).
    try:
        entry = ActionEntry.from_json(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as error:
        raise WireError(f"{where}: not an action log entry: {error}") from None
    for text in (entry.action, entry.reason, entry.result, entry.plot_id or "", *entry.argv):
        _text_item(text, where)
    if not 0.0 <= entry.time <= _MAX_TIME:
        raise WireError(f"{where}: an entry's time {entry.time:g} is not a time")
    return entry


def _loops(fields: _Fields) -> tuple[LoopState, LoopState]:
    return (
        _loop(fields.value("plotting"), f"{fields.where}: plotting"),
        _loop(fields.value("archiving"), f"{fields.where}: archiving"),
    )


def _hello(fields: _Fields, now: float) -> Hello:
    protocol = fields.integer("protocol", high=_MAX_PID)
    if protocol != PROTOCOL:
        # Another protocol's hello may differ in everything else: the reducer says which.
        return Hello(now, protocol, "", "", 1)
    return Hello(
        time=now,
        protocol=protocol,
        version=fields.text("version"),
        hostname=fields.text("hostname"),
        pid=fields.integer("pid", low=1, high=_MAX_PID),
    )


def _snapshot(fields: _Fields, now: float) -> SnapshotMessage:
    plotting, archiving = _loops(fields)
    config = _Fields(fields.value("config"), "snapshot: config")
    jobs, estimates = _estimated_jobs(fields, "jobs")
    return SnapshotMessage(
        time=now,
        jobs=jobs,
        problems=fields.texts("problems"),
        dirs=fields.each("dirs", _dir),
        dir_of=fields.text_map("dir_of"),
        dirs_taken_at=fields.optional_number("dirs_taken_at"),
        plotting=plotting,
        archiving=archiving,
        archive_rows=fields.each("archive_rows", _archive_row),
        actions=fields.each("actions", _action)[-ACTIONS_KEPT:],
        plots_today=fields.optional_integer("plots_today"),
        config=WireConfig(
            path=config.text("path"),
            text=config.text("text", limit=MAX_CONFIG_CHARS),
            home=config.optional_text("home"),
        ),
        estimates=estimates,
    )


def _jobs(fields: _Fields, now: float) -> JobsMessage:
    changed, estimates = _estimated_jobs(fields, "changed")
    return JobsMessage(
        time=now,
        changed=changed,
        gone=fields.texts("gone"),
        problems=fields.texts("problems"),
        estimates=estimates,
        updated=fields.each("updated", _job_update) if "updated" in fields.data else (),
    )


def _dirs(fields: _Fields, now: float) -> DirsMessage:
    return DirsMessage(
        time=now,
        dirs=fields.each("dirs", _dir),
        dir_of=fields.text_map("dir_of"),
        dirs_taken_at=fields.optional_number("dirs_taken_at"),
    )


def _state(fields: _Fields, now: float) -> StateMessage:
    plotting, archiving = _loops(fields)
    return StateMessage(
        time=now,
        plotting=plotting,
        archiving=archiving,
        archive_rows=fields.each("archive_rows", _archive_row),
        plots_today=fields.optional_integer("plots_today"),
    )


def _actions(fields: _Fields, now: float) -> ActionsMessage:
    return ActionsMessage(time=now, entries=fields.each("entries", _action))


_DECODERS: Final[dict[str, Callable[[_Fields, float], WireMessage]]] = {
    "hello": _hello,
    "snapshot": _snapshot,
    "jobs": _jobs,
    "dirs": _dirs,
    "state": _state,
    "actions": _actions,
    "beat": lambda _fields, now: Beat(now),
    "error": lambda fields, now: ErrorMessage(now, fields.text("message")),
}


_KINDS: Final[dict[type, str]] = {
    Hello: "hello",
    SnapshotMessage: "snapshot",
    JobsMessage: "jobs",
    DirsMessage: "dirs",
    StateMessage: "state",
    ActionsMessage: "actions",
    Beat: "beat",
    ErrorMessage: "error",
}


def decode_line(line: str | bytes) -> WireMessage:
    """One line of a watch's output (its newline may be there), checked field by field;
    :class:`WireError` for anything else."""
    # A str has at most as many characters as its UTF-8 bytes: the length is a first, free check.
    size = len(line)
    if isinstance(line, str) and size <= MAX_LINE_BYTES:
        size = len(line.encode("utf-8", "surrogatepass"))
    if size > MAX_LINE_BYTES:
        raise WireError(f"a line of {size} bytes, over the {MAX_LINE_BYTES // 2**20} MiB limit")
    try:
        data = json.loads(line, parse_constant=_refuse_constant, parse_float=_finite_float)
    except WireError:
        raise
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise WireError(f"not a JSON line: {_short(str(error))}") from None
    fields = _Fields(data, "line")
    kind = fields.text("type")
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise WireError(f"a line of unknown type {kind[:40]!r}")
    fields.where = kind
    try:
        return decoder(fields, fields.number("time", low=0.0))
    except (ValueError, TypeError, RecursionError) as error:
        # WireError is a ValueError; anything else is a check this module missed.
        if isinstance(error, WireError):
            raise
        raise WireError(f"{kind}: {_short(str(error))}") from None


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 200 else line[:197] + "..."


# -- the reducer ----------------------------------------------------------------------------------


def host_config(config: WireConfig) -> HostConfig:
    """The host's config parsed here with the host's home; a problem is told, never raised."""
    from plotman_tui.config.errors import ConfigError
    from plotman_tui.config.loader import parse_config

    try:
        parsed = parse_config(config.text, Path(config.path), check_dirs=False, home=config.home)
    except ConfigError as error:
        return HostConfig(config.path, config.text, config.home, None, _short(str(error)))
    except Exception as error:  # the text is another machine's: one odd file is its problem
        return HostConfig(
            config.path, config.text, config.home, None, f"unreadable config: {_short(str(error))}"
        )
    return HostConfig(config.path, config.text, config.home, parsed)


def _sorted_jobs(jobs: Iterable[Job]) -> tuple[Job, ...]:
    # As a scan lists them: youngest first.
    return tuple(sorted(jobs, key=lambda job: (-job.started_at, job.pid)))


def apply(view: HostView, message: WireMessage, now: float) -> HostView:
    """``view`` with ``message`` folded in (``now``: the local clock); :class:`WireError` for
    a message out of turn (a delta before the snapshot) or a protocol this one does not speak.

    A view has had its snapshot when its status is UP: the client sets another status whenever
    it (re)connects, so a new watch's deltas wait for that watch's snapshot.
    """
    if isinstance(message, Beat):
        return replace(view, news_at=now)
    if isinstance(message, Hello):
        if message.protocol != PROTOCOL:
            raise WireError(
                f"speaks fleet protocol {message.protocol}; this plotman-tui speaks {PROTOCOL}: "
                "run the same version on both"
            )
        return _news(view, now, version=message.version, hostname=message.hostname)
    if isinstance(message, SnapshotMessage):
        return _news(
            view,
            now,
            status=HostStatus.UP,
            problem=None,
            retry_at=None,
            jobs=_sorted_jobs(message.jobs),
            actions=message.actions[-ACTIONS_KEPT:],
            config=host_config(message.config),
            **_as_sent(message),
        )
    if isinstance(message, ErrorMessage):
        problem = f"its watch stopped: {_short(message.message)}"
        return _news(view, now, status=HostStatus.FAILED, problem=problem)
    if view.status is not HostStatus.UP:
        raise WireError(f"a {_KINDS[type(message)]!r} line before the snapshot")
    if isinstance(message, JobsMessage):
        return _news(view, now, problems=message.problems, **_jobs_applied(view, message))
    if isinstance(message, DirsMessage | StateMessage):
        return _news(view, now, **_as_sent(message))
    return _news(view, now, actions=(view.actions + message.entries)[-ACTIONS_KEPT:])


#: What each line sets in a view as it came (the view's fields of the same names).
_AS_SENT: Final[dict[type, tuple[str, ...]]] = {
    SnapshotMessage: (
        "problems",
        "dirs",
        "dir_of",
        "dirs_taken_at",
        "plotting",
        "archiving",
        "archive_rows",
        "plots_today",
        "estimates",
    ),
    DirsMessage: ("dirs", "dir_of", "dirs_taken_at"),
    StateMessage: ("plotting", "archiving", "archive_rows", "plots_today"),
}


def _as_sent(message: WireMessage) -> dict[str, Any]:
    return {name: getattr(message, name) for name in _AS_SENT[type(message)]}


def _news(view: HostView, now: float, **changes: Any) -> HostView:
    """``view`` with what a line brought, heard and brought at ``now``."""
    return replace(view, news_at=now, updated_at=now, **changes)


def _jobs_applied(view: HostView, message: JobsMessage) -> dict[str, Any]:
    """The view's jobs and their estimates with a jobs line's changes and gone jobs."""
    jobs = {job_key(job): job for job in view.jobs}
    estimates = dict(view.estimates)
    for key in message.gone:
        jobs.pop(key, None)
        estimates.pop(key, None)
    for job in message.changed:
        key = job_key(job)
        jobs[key] = job
        estimate = message.estimates.get(key)
        if estimate is None:
            estimates.pop(key, None)
        else:
            estimates[key] = estimate
    for update in message.updated:
        old = jobs.get(update.key)
        if old is None:
            raise WireError(f"jobs: an update of job {update.key[:40]!r}, never sent whole")
        job = replace(old, **update.values)
        if job_key(job) != update.key:
            raise WireError(f"jobs: an update that makes job {update.key[:40]!r} another job")
        jobs[update.key] = job
        if update.estimate_sent:
            if update.estimate is None:
                estimates.pop(update.key, None)
            else:
                estimates[update.key] = update.estimate
    return {
        "jobs": _sorted_jobs(jobs.values()),
        "estimates": MappingProxyType(estimates) if estimates else NO_ESTIMATES,
    }
