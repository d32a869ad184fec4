"""What the engines report: events, and the lock and wait-reason bookkeeping they share.

The plotting and archiving engines each return, per pass, the events worth a line in a log or a
line on the dashboard: an action, a change of the reason for waiting (a countdown alone is not
news), a change of who holds their lock, an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.lock import SchedulerLock


class EventKind(StrEnum):
    """What an engine event is about (the ``event`` field of ``--json`` lines)."""

    INFO = "info"  # the front end's own news: started, stopped
    START = "start"  # a plot job was started
    START_FAILED = "start-failed"  # a job could not be started, or died right after its start
    WAIT = "wait"  # the reason for starting nothing changed
    ENDED = "ended"  # a job is gone from the process table
    LOCK = "lock"  # this engine took its lock
    MONITOR = "monitor"  # another process holds the lock
    TRANSFER = "transfer"  # a plot transfer started
    TRANSFERRED = "transferred"  # a plot transfer ended (done or failed)
    REPLOT = "replot"  # old plots removed from the farmer (or would be: dry run) to make room
    ERROR = "error"  # something the farmer must look at (not tied to one start)


@dataclass(frozen=True)
class Event:
    """One line of news from an engine; ``details`` are JSON values for ``--json``."""

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


_NUMBER = re.compile(r"\d[\d.:]*(?:d\d[\d:]*)?(?:\s*(?:[KMGTPE]i?B\b|B\b|[smh]\b))?")


def wait_key(reason: str) -> str:
    """A wait reason with its numbers blanked: a countdown or a changing free space is not news.

    ``stagger (1623s/1800s)`` and ``stagger (1700s/1800s)`` give the same key; ``max jobs (12)``
    and ``stagger (...)`` do not.
    """
    return _NUMBER.sub("#", reason)


class WaitNotes:
    """Says a reason for waiting once, until it changes (per topic: one per archive target)."""

    def __init__(self) -> None:
        self._said: dict[str, str] = {}

    def note(
        self, reason: str, now: float, events: list[Event], topic: str = "", **details: Any
    ) -> None:
        key = wait_key(reason)
        if self._said.get(topic) == key:
            return
        self._said[topic] = key
        prefix = f"{topic}: " if topic else ""
        events.append(
            Event(
                now,
                EventKind.WAIT,
                f"{prefix}waiting: {reason}",
                details={"reason": reason, **details},
            )
        )

    def forget(self, topic: str | None = None) -> None:
        """Say the next reason again (after an action, or a change of lock)."""
        if topic is None:
            self._said.clear()
        else:
            self._said.pop(topic, None)


class LockWatch:
    """Takes ``lock`` when it can, and says so, or who holds it instead, when that changes.

    ``role`` completes "this process ..." (``starts the plot jobs``); ``what`` names the lock
    in messages (``scheduler lock``).
    """

    def __init__(self, lock: SchedulerLock, *, what: str, role: str) -> None:
        self.lock = lock
        self.what = what
        self.role = role
        self._state: str | None = None

    def check(self, now: float, events: list[Event]) -> tuple[bool, bool]:
        """Try the lock; returns (held now, just taken)."""
        try:
            holds = self.lock.acquire()
        except OSError as error:
            state = f"error {error}"
            if state != self._state:
                events.append(
                    Event(
                        now,
                        EventKind.ERROR,
                        f"cannot open the {self.what} {self.lock.path}: "
                        f"{error.strerror or error}; doing nothing",
                        failed=True,
                    )
                )
            self._state = state
            return False, False
        if holds:
            taken = self._state != "held"
            if taken:
                events.append(
                    Event(
                        now,
                        EventKind.LOCK,
                        f"holding the {self.what}: this process {self.role}",
                        details={"lock": str(self.lock.path)},
                    )
                )
            self._state = "held"
            return True, taken
        holder = self.lock.holder()
        who = (
            holder.describe(now, what=self.what)
            if holder is not None
            else f"{self.what} held by another process"
        )
        state = f"elsewhere {holder.pid if holder else None}"
        if state != self._state:
            events.append(
                Event(
                    now,
                    EventKind.MONITOR,
                    f"{who}; monitoring only, taking over when it stops",
                    details={"lock": str(self.lock.path), "holder_pid": holder and holder.pid},
                )
            )
        self._state = state
        return False, False

    def release(self) -> None:
        self.lock.release()
        self._state = None


def record_action(
    action_log: ActionLog | None,
    events: list[Event],
    now: float,
    action: str,
    *,
    pid: int | None,
    argv: Sequence[str],
    reason: str,
    result: str,
    plot_id: str | None = None,
    **extra: object,
) -> None:
    """One action log entry; an error event, never an exception, when it cannot be written."""
    if action_log is None:
        return
    try:
        action_log.record(
            action, plot_id=plot_id, pid=pid, argv=argv, reason=reason, result=result, **extra
        )
    except (OSError, ValueError, TypeError) as error:
        message = f"action log {action_log.path} not written: {error}"
        events.append(Event(now, EventKind.ERROR, message, failed=True))
