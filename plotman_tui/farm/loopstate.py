"""A loop of this machine as seen from outside it: who runs it, whether it is paused, and its
latest word, read from the files in the data dir without taking any lock.

``watch --json`` (the fleet's eyes on a host) reports this for plotting and archiving: the
lock says who runs the loop, the pause flag whether it may start anything, and the loop's
state file (written by the lock holder) why it waits or what it did last, and for archiving the
farmers' free space as the loop last read it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from plotman_tui.appdirs import data_dir
from plotman_tui.farm.archive.engine import space_from_json
from plotman_tui.farm.archive.space import TargetSpace
from plotman_tui.farm.launches import LoopNote, read_state_object
from plotman_tui.farm.lock import SchedulerLock, default_archive_lock, default_lock
from plotman_tui.farm.pauseflags import Loop, PauseFlag, read_pause

#: The lock holder's state file of each loop, in the data dir.
STATE_FILES = {Loop.PLOTTING: "plotting-state.json", Loop.ARCHIVING: "archiving-state.json"}
# What the holder's description calls each lock.
_LOCK_WORDS = {Loop.PLOTTING: "scheduler lock", Loop.ARCHIVING: "archiver lock"}


def state_path(loop: Loop, directory: Path | None = None) -> Path:
    """Where the holder of ``loop``'s lock keeps its state (``directory``: the data dir)."""
    return (data_dir() if directory is None else directory) / STATE_FILES[loop]


def loop_lock(loop: Loop, directory: Path | None = None) -> SchedulerLock:
    """``loop``'s lock (in ``directory``, the data dir by default)."""
    lock = default_lock() if loop is Loop.PLOTTING else default_archive_lock()
    return lock if directory is None else SchedulerLock(directory / lock.path.name)


def _no_spaces() -> Mapping[str, TargetSpace]:
    return MappingProxyType({})


@dataclass(frozen=True)
class LoopReport:
    """One loop of this machine, as of now.

    ``holder``: who holds its lock, in words (``scheduler lock held by pid 42 since 10:02
    (plotman-tui plot)``), None when no process runs the loop; ``holder_pid`` its pid when
    known. ``pause``: the machine's pause flag. ``reason``: the holder's latest word on why it
    waits or what it did, since ``reason_at`` (None: no loop, or it has not said). ``spaces``:
    archiving only, each target's free space as the loop last read it. ``problem``: what could
    not be read (the lock or the state file), one line.
    """

    loop: Loop
    holder: str | None
    pause: PauseFlag
    reason: str | None
    reason_at: float | None
    spaces: Mapping[str, TargetSpace] = field(default_factory=_no_spaces)
    holder_pid: int | None = None
    problem: str | None = None


def loop_report(loop: Loop, *, data: Path | None = None, now: float | None = None) -> LoopReport:
    """``loop``'s report from the data dir ``data`` (default: this user's); never raises."""
    directory = data_dir() if data is None else data
    now = time.time() if now is None else now
    pause = read_pause(loop, directory)
    problems: list[str] = []
    try:
        found = loop_lock(loop, directory).holder()
    except OSError as error:
        found = None
        lock_name = loop_lock(loop, directory).path
        problems.append(f"{lock_name}: not read ({error.strerror or error})")
    holder = found.describe(now, what=_LOCK_WORDS[loop]) if found is not None else None
    holder_pid = found.pid if found is not None else None
    reason: str | None = None
    reason_at: float | None = None
    spaces: dict[str, TargetSpace] = {}
    if found is not None:
        state, problem = read_state_object(state_path(loop, directory))
        if problem is not None:
            problems.append(problem)
        note = LoopNote.from_json(state.get("note"))
        # A note is the holder's only: one left by a holder that is gone (or by another process
        # before this holder wrote its own) says nothing about the loop now.
        # The free space written with it is as old.
        if note is not None and note.pid == holder_pid:
            reason, reason_at = note.reason, note.since
            if loop is Loop.ARCHIVING:
                spaces = _spaces(state.get("spaces"))
    return LoopReport(
        loop=loop,
        holder=holder,
        pause=pause,
        reason=reason,
        reason_at=reason_at,
        spaces=MappingProxyType(spaces),
        holder_pid=holder_pid,
        problem="; ".join(problems) or None,
    )


def _spaces(data: object) -> dict[str, TargetSpace]:
    """The samples in an archiving state file; a bad one costs itself only."""
    if not isinstance(data, dict):
        return {}
    return {
        name: space
        for name, sample in data.items()
        if isinstance(name, str) and (space := space_from_json(name, sample)) is not None
    }
