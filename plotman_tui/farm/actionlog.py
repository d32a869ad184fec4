"""The action log: one JSON line for every start, kill, suspend, resume and transfer.

It answers "what did plotman-tui do, when and why" after the fact
(``plotman-tui history --since 2h``).
Several processes may append at once (the dashboard, a one-shot ``kill``). Each entry is one
``os.write`` of one whole line on an ``O_APPEND`` descriptor, and writers take turns through an
``flock`` on a sidecar ``.lock`` file: the size check, a rotation when the file would grow past
``max_bytes`` (``actions.jsonl`` -> ``actions.jsonl.1`` -> ``.2`` ..., ``keep`` old files) and the
append are one step, so no file grows past ``max_bytes``, nothing is rotated twice and each
writer's lines stay in order. Readers take the lock shared and never see a rotation half done.
A line that is not a whole entry (a crash in the middle of a write, a hand edit) is skipped
when reading, never an error.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from plotman_tui.appdirs import data_dir, read_regular_file
from plotman_tui.farm.units import human_bytes, human_duration, local_time, printable

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_KEEP = 3
# How much of one log file is read at most: a few times max_bytes, and never less than the
# floor (a line longer than max_bytes gets a file of its own, and must still be read).
_READ_FACTOR = 4
_READ_FLOOR = 64 * 1024 * 1024

#: The fields every entry has; anything else in a line is an extra field.
CORE_FIELDS = ("time", "action", "plot_id", "pid", "argv", "reason", "result")

# How many characters of a plot id a human line shows (as plotman's status does).
_PLOT_ID_SHOWN = 8


@dataclass(frozen=True)
class ActionEntry:
    """One thing plotman-tui did. ``time`` is epoch seconds; ``extra`` holds optional fields
    such as ``freed_bytes`` or ``files`` (JSON values)."""

    time: float
    action: str
    plot_id: str | None = None
    pid: int | None = None
    argv: tuple[str, ...] = ()
    reason: str = ""
    result: str = "ok"
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Frozen all the way down: the extras are a read-only view of a private copy.
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def to_json(self) -> str:
        """One line of JSON (no newline): the core fields, then the extras."""
        data: dict[str, Any] = {
            "time": self.time,
            "action": self.action,
            "plot_id": self.plot_id,
            "pid": self.pid,
            "argv": list(self.argv),
            "reason": self.reason,
            "result": self.result,
        }
        clash = set(self.extra) & set(CORE_FIELDS)
        if clash:
            raise ValueError(f"extra fields may not be named like core fields: {sorted(clash)}")
        data.update(self.extra)
        return json.dumps(
            data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ActionEntry:
        """Read one line written by :meth:`to_json`; ``ValueError`` when it is not one."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
            raise ValueError(f"not a JSON line: {error}") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        stamp = data.get("time")
        action = data.get("action")
        plot_id = data.get("plot_id")
        pid = data.get("pid")
        argv = data.get("argv", [])
        reason = data.get("reason", "")
        result = data.get("result", "ok")
        if (
            isinstance(stamp, bool)
            or not isinstance(stamp, int | float)
            or not math.isfinite(stamp)
        ):
            raise ValueError(f"bad time {stamp!r}")
        if not isinstance(action, str) or not action:
            raise ValueError(f"bad action {action!r}")
        if plot_id is not None and not isinstance(plot_id, str):
            raise ValueError(f"bad plot_id {plot_id!r}")
        if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int)):
            raise ValueError(f"bad pid {pid!r}")
        if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
            raise ValueError(f"bad argv {argv!r}")
        if not isinstance(reason, str) or not isinstance(result, str):
            raise ValueError("bad reason or result")
        extra = {key: value for key, value in data.items() if key not in CORE_FIELDS}
        return cls(
            time=float(stamp),
            action=action,
            plot_id=plot_id,
            pid=pid,
            argv=tuple(argv),
            reason=reason,
            result=result,
            extra=extra,
        )


def _json_default(value: object) -> object:
    # Paths are common in extras (files, dirs); everything else must be JSON already.
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"an action log field cannot hold {type(value).__name__}: {value!r}")


class ActionLog:
    """An append-only JSON-lines log at ``path``, rotated by size, safe for several writers.

    ``keep`` is how many rotated files (``path.1`` ... ``path.<keep>``) are kept besides the
    current one; ``clock`` stamps the entries.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}")
        if keep < 0:
            raise ValueError(f"keep must be 0 or more, not {keep}")
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._clock = clock  # entries are stamped with it (a fake clock in tests)

    @property
    def lock_path(self) -> Path:
        """The sidecar file whose flock keeps rotation apart from appends and reads."""
        return self.path.with_name(self.path.name + ".lock")

    def rotated_path(self, index: int) -> Path:
        """``path.1`` (the newest old file) ... ``path.<keep>`` (the oldest)."""
        return self.path.with_name(f"{self.path.name}.{index}")

    def files(self) -> list[Path]:
        """The log's files that exist, oldest first (the rotated ones, then the current one)."""
        candidates = [self.rotated_path(i) for i in range(self.keep, 0, -1)] + [self.path]
        return [path for path in candidates if path.exists()]

    # -- writing -----------------------------------------------------------------------------

    def record(
        self,
        action: str,
        *,
        plot_id: str | None = None,
        pid: int | None = None,
        argv: Sequence[str] = (),
        reason: str = "",
        result: str = "ok",
        **extra: Any,
    ) -> ActionEntry:
        """Append one entry stamped now and return it as a reader will see it.

        Raises ``ValueError``/``TypeError`` for a field JSON cannot hold (nothing is written)
        and ``OSError`` when the log cannot be written.
        """
        entry = ActionEntry(
            time=self._clock(),
            action=action,
            plot_id=plot_id,
            pid=pid,
            argv=tuple(argv),
            reason=reason,
            result=result,
            extra=extra,
        )
        line = entry.to_json()
        written = ActionEntry.from_json(line)  # extras as JSON has them (a Path is a str)
        data = (line + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            # One writer at a time: the size check, a rotation and the append happen together,
            # so no two writers rotate twice, no line lands in a file being renamed away and
            # no file grows past max_bytes. (Actions are a few an hour: the wait is nothing.)
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            if self._full(len(data)):
                self._rotate()
            self._append(data)
        finally:
            os.close(lock_fd)  # and with it the flock
        return written

    def _append(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            done = os.write(fd, data)
            # Only a full disk or a signal cuts a regular-file write short: finish the line
            # (readers skip it, should another append land in between).
            while done < len(data):
                done += os.write(fd, data[done:])
        finally:
            os.close(fd)

    def _full(self, incoming: int) -> bool:
        """Whether ``incoming`` more bytes would take the current file past ``max_bytes``.

        An empty file is never full: a line longer than ``max_bytes`` gets a file of its own.
        """
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return False
        return size > 0 and size + incoming > self.max_bytes

    def _rotate(self) -> None:
        """``path`` -> ``path.1`` -> ... -> ``path.<keep>``; the oldest beyond that goes."""
        if self.keep == 0:
            self.path.unlink(missing_ok=True)
            return
        self.rotated_path(self.keep).unlink(missing_ok=True)
        for index in range(self.keep - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.rename(self.rotated_path(index), self.rotated_path(index + 1))
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.path, self.rotated_path(1))

    # -- reading -----------------------------------------------------------------------------

    def entries(self, since: float | None = None) -> list[ActionEntry]:
        """Every readable entry, oldest first, from ``since`` (epoch seconds) on if given.

        No log yet is no entries; a log that is there but cannot be read (no permission, a dir
        or a FIFO in its place) raises OSError, whose ``strerror`` says why.
        """
        if not self.path.parent.exists():
            return []
        if not self.path.parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(self.path.parent))
        try:
            lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            lock_fd = None  # a read-only data dir: no rotation can happen there either
        try:
            if lock_fd is not None:
                fcntl.flock(lock_fd, fcntl.LOCK_SH)
            contents = [self._read(path) for path in self.files()]
        finally:
            if lock_fd is not None:
                os.close(lock_fd)
        found: list[ActionEntry] = []
        for content in contents:
            for raw in content.split(b"\n"):
                if not raw.strip():
                    continue
                try:
                    entry = ActionEntry.from_json(raw)
                except ValueError:
                    continue  # a damaged line: half written, or not ours
                if since is None or entry.time >= since:
                    found.append(entry)
        return found

    def _read(self, path: Path) -> bytes:
        try:
            # A file grows past max_bytes only by one long line; a much larger one is not ours
            # as written: its newest part is read (a cut first line is skipped as damaged).
            limit = max(_READ_FACTOR * self.max_bytes, _READ_FLOOR)
            return read_regular_file(path, limit, tail=True)
        except FileNotFoundError:
            return b""


def default_action_log() -> ActionLog:
    """The action log in plotman-tui's data dir."""
    return ActionLog(data_dir() / "actions.jsonl")


# "-5h" reads as "5h": an age is always back from now (argparse needs --since=-5h for it).
_DURATION = re.compile(r"^\s*-?\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float) -> float:
    """``--since``: ``90s``, ``30m``, ``2h``, ``1d``, ``1w`` ago (``-2h`` too), or an ISO date
    or time.

    A date or time without a zone is local time. Returns epoch seconds; ``ValueError`` with
    the accepted forms otherwise.
    """
    match = _DURATION.match(text)
    if match:
        return now - float(match[1]) * _UNIT_SECONDS[match[2].lower()]
    stripped = text.strip()
    try:
        # 3.11 reads "2026-11-24", "2026-11-24T14:02", "2026-11-24 14:02:00+01:00", "...Z".
        when = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: give an age like 90s, 30m, 2h, 1d or 1w, "
            "or a date like 2026-11-24 or 2026-11-24T14:02"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # a naive time is local
    return when.timestamp()


def format_entry(
    entry: ActionEntry, *, details: bool = False, when: Callable[[float], str] | None = None
) -> str:
    """One line for humans: local time, action, plot id prefix, pid, result, reason; with
    ``details``, also what the extras say (the dirs a job started on, a transfer's size and
    speed, the space a kill freed), as ``history --json`` has them. ``when``: how the time is
    written (default: the local date and time)."""
    plot = entry.plot_id[:_PLOT_ID_SHOWN] if entry.plot_id else "-"
    pid = str(entry.pid) if entry.pid is not None else "-"
    reason = " ".join(entry.reason.split())  # one line, whatever the reason held
    stamp = (when or local_time)(entry.time)
    line = f"{stamp}  {entry.action:<8}  {plot:<8}  pid {pid:<7}  {entry.result}"
    line = f"{line}  {reason}" if reason else line
    told = _details(entry.extra) if details else ""
    # A reason or a path may hold a control character: shown, never obeyed by the terminal.
    return printable(f"{line}  [{told}]" if told else line)


def _details(extra: Mapping[str, Any]) -> str:
    """The extras a person asks about, in words; values of the wrong type are left out."""

    def text(key: str) -> str | None:
        value = extra.get(key)
        return " ".join(value.split()) if isinstance(value, str) and value else None

    def number(key: str) -> float | None:
        value = extra.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None

    parts = []
    tmp, dst = text("tmp"), text("dst")
    if tmp or dst:
        parts.append(f"{tmp or '?'} -> {dst or '?'}")
    size, seconds, rate = number("bytes"), number("seconds"), number("mb_per_s")
    if size is not None:
        parts.append(human_bytes(int(size)))
    if rate is not None and seconds is not None and seconds > 0:
        parts.append(f"{rate:g} MB/s in {human_duration(seconds)}")
    target, archive_dir = text("target"), text("archive_dir")
    removed, for_plot = text("file"), text("for_plot")
    if removed:  # an old plot removed from the farmer (replotting): where it was, and for what
        parts.append(f"{removed} in {target or '?'}:{archive_dir or '?'}")
        if for_plot:
            parts.append(f"for {for_plot}")
    elif target or archive_dir:
        parts.append(f"to {target or '?'}:{archive_dir or '?'}")
    freed = number("freed_bytes")
    if freed is not None:
        parts.append(f"freed {human_bytes(int(freed))}")
    return ", ".join(parts)
