"""Jobs the plotting engine started, followed until they end, across restarts of the engine.

What the engine must remember of its own starts — a job the scan does not show yet still counts
against the limits; a job that died right after its start backs further starts off — is kept in
a small JSON file in the data dir by whoever holds the scheduler lock, and read by the next
holder: the next ``--once`` run from cron, a restarted service, a loop taking over from one
that crashed. A job whose parent is gone has no exit status for us; its log says whether it
finished its plot.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plotman_tui.appdirs import open_regular_file, read_regular_file
from plotman_tui.farm.events import wait_key
from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.farm.procfs import sample_process
from plotman_tui.farm.scheduler import PendingStart
from plotman_tui.farm.spawn import StartedJob
from plotman_tui.farm.units import human_duration
from plotman_tui.plotters import identify
from plotman_tui.plotters.base import LogInfo

_STATE_VERSION = 1
# A job is the process with this pid whose create time is within this of the one recorded.
_CREATE_TIME_SLACK_S = 1.0
# Exit statuses of a job stopped on purpose (a kill, a closed terminal). SIGKILL is not one:
# it is also how the kernel ends a job that ran out of memory.
_STOPPED_ON_PURPOSE = frozenset(-s for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP))


@dataclass(frozen=True)
class Outcome:
    """How a job ended. ``returncode`` is None for a job that was not our child."""

    returncode: int | None
    finished: bool  # its plot is complete
    ended_at: float
    plot_id: str | None
    final_file: str | None
    last_line: str

    @property
    def stopped_on_purpose(self) -> bool:
        return self.returncode in _STOPPED_ON_PURPOSE

    def status(self) -> str:
        """``exit 3``, ``killed by SIGKILL (out of memory?)``, or what the log says."""
        code = self.returncode
        if code is None:
            return "finished its plot" if self.finished else "ended without finishing its plot"
        if code >= 0:
            return f"exit {code}"
        name = f"signal {-code}"
        with contextlib.suppress(ValueError):
            name = signal.Signals(-code).name
        return f"killed by {name}" + (" (out of memory?)" if -code == signal.SIGKILL else "")


@dataclass
class Launch:
    """A job the engine started, until it ends."""

    pid: int
    create_time: float | None  # the process's, from /proc; None when it ended before we looked
    started_at: float  # the engine's clock
    log_path: Path
    argv: tuple[str, ...]
    tmp_dir: str
    dst_dir: str
    k: int
    popen: subprocess.Popen[bytes] | None = None  # None: started by an earlier run
    seen: bool = False  # the scan has shown it
    warned_unseen: bool = False
    plot_id: str | None = None

    @classmethod
    def of(cls, job: StartedJob, started_at: float, tmp_dir: str, dst_dir: str, k: int) -> Launch:
        """``started_at`` on the engine's clock, which the stagger and the back-off use."""
        sample = sample_process(job.pid)
        return cls(
            pid=job.pid,
            create_time=sample.create_time if sample is not None else None,
            started_at=started_at,
            log_path=job.log_path,
            argv=job.argv,
            tmp_dir=tmp_dir,
            dst_dir=dst_dir,
            k=k,
            popen=job.popen,
        )

    def pending(self) -> PendingStart:
        return PendingStart(
            tmp_dir=self.tmp_dir, dst_dir=self.dst_dir, k=self.k, started_at=self.started_at
        )

    def matches(self, job: Job) -> bool:
        """Whether the scan's ``job`` is this launch (same pid, same process: not a reused pid)."""
        return job.pid == self.pid and (
            self.create_time is None
            or abs(job.started_at - self.create_time) < _CREATE_TIME_SLACK_S
        )

    def outcome(self, now: float) -> Outcome | None:
        """How the job ended, or None while it runs."""
        if self.popen is not None:
            returncode = self.popen.poll()
            if returncode is None:
                return None
            return self._judge(returncode, now)
        sample = sample_process(self.pid)
        alive = (
            sample is not None
            and sample.status is not JobStatus.ZMB
            and (
                self.create_time is None
                or abs(sample.create_time - self.create_time) < _CREATE_TIME_SLACK_S
            )
        )
        if alive:
            return None
        # Not our child: when it ended is when its log was last written.
        ended_at = now
        with contextlib.suppress(OSError):
            ended_at = min(now, max(self.log_path.stat().st_mtime, self.started_at))
        return self._judge(None, ended_at)

    def _judge(self, returncode: int | None, ended_at: float) -> Outcome:
        info = read_whole_log(self.log_path, self.argv)
        finished = info is not None and (info.completed or info.final_file is not None)
        return Outcome(
            returncode=returncode,
            finished=returncode == 0 if returncode is not None else finished,
            ended_at=ended_at,
            plot_id=self.plot_id or (info.plot_id if info else None),
            final_file=info.final_file if info else None,
            last_line=last_log_line(self.log_path),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "create_time": self.create_time,
            "started_at": self.started_at,
            "log": str(self.log_path),
            "argv": list(self.argv),
            "tmp": self.tmp_dir,
            "dst": self.dst_dir,
            "k": self.k,
            "plot_id": self.plot_id,
        }

    @classmethod
    def from_json(cls, data: Any) -> Launch:
        """Raises KeyError, TypeError or ValueError for an entry that is not one of ours."""
        create_time = data["create_time"]
        return cls(
            pid=int(data["pid"]),
            create_time=float(create_time) if create_time is not None else None,
            started_at=float(data["started_at"]),
            log_path=Path(str(data["log"])),
            argv=tuple(str(arg) for arg in data["argv"]),
            tmp_dir=str(data["tmp"]),
            dst_dir=str(data["dst"]),
            k=int(data["k"]),
            plot_id=str(data["plot_id"]) if data.get("plot_id") else None,
        )


@dataclass(frozen=True)
class StartFailures:
    """Plotting is failing: ``count`` starts failed in a row (the program missing, a job that
    died right after its start), the last one with ``last_failure``; no start is tried before
    ``retry_at``. What the front ends show instead of a healthy "active". (An archiving
    target's failed transfers back off the same way.)"""

    count: int
    last_failure: str
    failed_at: float
    retry_at: float

    def describe(self, now: float, what: str = "start") -> str:
        """``backing off 4m: chia: program not found (3 failed starts)``, or once the back-off
        is over (the next start under way or due) ``retrying after 3 failed starts: …``;
        ``what`` failed (``transfer`` for an archiving target's)."""
        failed = self.failed(what)
        if now < self.retry_at:
            left = human_duration(self.retry_at - now)
            return f"backing off {left}: {self.last_failure} ({failed})"
        return f"retrying after {failed}: {self.last_failure}"

    def failed(self, what: str = "start") -> str:
        """``1 failed start``, ``3 failed transfers``."""
        return f"{self.count} failed {what}{'' if self.count == 1 else 's'}"


@dataclass
class BackOff:
    """Failed starts in a row, and when the next start may be tried."""

    failures: int = 0
    failed_at: float | None = None
    retry_at: float | None = None
    last_failure: str = ""

    def fail(self, problem: str, at: float, first_s: float, max_s: float) -> float:
        """Count one more failure at ``at``; returns the back-off in seconds (doubling)."""
        self.failures += 1
        # The exponent capped: 2.0 ** 1024 overflows (weeks of failures, or a state file's
        # count), and the delay is at max_s long before.
        delay: float = min(first_s * 2.0 ** min(self.failures - 1, 64), max_s)
        self.failed_at = at
        self.retry_at = at + delay
        self.last_failure = problem
        return delay

    def reset(self) -> None:
        self.failures, self.failed_at, self.retry_at, self.last_failure = 0, None, None, ""

    def failing(self) -> StartFailures | None:
        """The failures in a row as the front ends show them (None: the last start went well)."""
        if not self.failures or self.failed_at is None or self.retry_at is None:
            return None
        return StartFailures(self.failures, self.last_failure, self.failed_at, self.retry_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "failures": self.failures,
            "failed_at": self.failed_at,
            "retry_at": self.retry_at,
            "last_failure": self.last_failure,
        }

    @classmethod
    def from_json(cls, data: Any) -> BackOff:
        """Raises ValueError or TypeError for values no back-off has (a NaN or infinite time,
        a negative count): the state is then reported and ignored, not shown as a countdown."""

        def number(key: str) -> float | None:
            value = data.get(key)
            if value is None:
                return None
            if isinstance(value, bool) or not math.isfinite(found := float(value)):
                raise ValueError(f"{key} is not a time: {value!r}")
            return found

        failures = int(data.get("failures", 0))
        if failures < 0:
            raise ValueError(f"failures is negative: {failures}")
        return cls(
            failures=failures,
            failed_at=number("failed_at"),
            retry_at=number("retry_at"),
            last_failure=str(data.get("last_failure", "")),
        )


def load_state(path: Path) -> tuple[list[Launch], BackOff, str | None]:
    """The launches and back-off saved in ``path``; third item: why nothing could be read.

    A missing file is an empty state; an unreadable or foreign one is reported and ignored.
    """
    try:
        # A FIFO or a device in its place must not hang the loop: regular files only, capped.
        data = json.loads(read_regular_file(path, 16 * 1024 * 1024).decode("utf-8"))
    except FileNotFoundError:
        return [], BackOff(), None
    except (OSError, ValueError) as error:
        return [], BackOff(), f"{path}: not read ({error}); starting afresh"
    try:
        if data.get("version") != _STATE_VERSION:
            return [], BackOff(), f"{path}: written by another version; starting afresh"
        launches = [Launch.from_json(entry) for entry in data["launches"]]
        return launches, BackOff.from_json(data["backoff"]), None
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        return [], BackOff(), f"{path}: not understood ({error!r}); starting afresh"


def state_text(launches: list[Launch], backoff: BackOff, note: LoopNote | None = None) -> str:
    data: dict[str, Any] = {
        "version": _STATE_VERSION,
        "launches": [launch.to_json() for launch in launches],
        "backoff": backoff.to_json(),
    }
    if note is not None:
        data["note"] = note.to_json()
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


@dataclass(frozen=True)
class LoopNote:
    """A loop's latest word on what it does (``stagger (20s/1800s)``, ``started pid 42 ...``),
    kept in its state file for whoever looks from outside (``watch --json``, the fleet).

    ``since``: when it first said so (POSIX seconds); ``pid``: the process that said it (the
    lock holder then): a note of a holder that is gone says nothing about the loop now.
    """

    reason: str
    since: float
    pid: int

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "since": self.since, "pid": self.pid}

    @classmethod
    def from_json(cls, data: object) -> LoopNote | None:
        """None for anything but what :meth:`to_json` writes (a state file is untrusted)."""
        if not isinstance(data, dict):
            return None
        reason, since, pid = data.get("reason"), data.get("since"), data.get("pid")
        if not isinstance(reason, str) or isinstance(since, bool) or isinstance(pid, bool):
            return None
        if not isinstance(since, int | float) or not math.isfinite(since):
            return None
        if not isinstance(pid, int):
            return None
        return cls(reason=reason, since=float(since), pid=pid)


class NoteKeeper:
    """The loop's note, changed only when its reason does: a countdown or a free space that
    moves is the same reason (:func:`~plotman_tui.farm.events.wait_key`), so the state file is
    not written again every pass for it."""

    def __init__(self) -> None:
        self.note: LoopNote | None = None

    def say(self, reason: str, now: float) -> None:
        if self.note is None or wait_key(self.note.reason) != wait_key(reason):
            self.note = LoopNote(reason=reason, since=now, pid=os.getpid())


def read_state_object(
    path: Path, max_bytes: int = 16 * 1024 * 1024
) -> tuple[dict[str, Any], str | None]:
    """The JSON object in a loop's state file (``{}`` when there is none); second item: why it
    could not be read. Regular files only, capped: never a hang on a FIFO, never a raise."""
    try:
        data = json.loads(read_regular_file(path, max_bytes).decode("utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError, RecursionError) as error:
        why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return {}, f"{path}: not read ({why})"
    if not isinstance(data, dict):
        return {}, f"{path}: not read (not a JSON object)"
    return data, None


class StateWriter:
    """Writes an engine's state file when its text has changed since the last write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._written: str | None = None

    def write(self, text: str) -> str | None:
        """Write ``text`` unless it is what the file holds; returns the problem, if any."""
        if text == self._written:
            return None
        try:
            save_state(self.path, text)
        except OSError as error:
            return f"{self.path}: not written ({error.strerror or error})"
        self._written = text
        return None


def save_state(path: Path, text: str) -> None:
    """Write ``text`` whole and rename it into place (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def read_whole_log(path: Path, argv: tuple[str, ...], limit: int = 16 << 20) -> LogInfo | None:
    """What the log of an ended job says (its plot id and plot file above all).

    A short job can end between two scans, before discovery has read a line of it.
    """
    plotter = identify(argv)
    if plotter is None:
        return None
    parser = plotter.new_log_parser()
    try:
        with os.fdopen(open_regular_file(path), "rb") as log:
            parser.feed(log.read(limit))
    except OSError:
        return None
    parser.finish()
    return parser.info


def last_log_line(path: Path, limit: int = 200) -> str:
    """The last non-empty line of a log (at most ``limit`` characters), '' when unreadable."""
    try:
        with os.fdopen(open_regular_file(path), "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(log.tell() - 4096, 0))
            tail = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""
