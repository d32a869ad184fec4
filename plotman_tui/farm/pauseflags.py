"""Host-wide pause flags: ``plotting.paused`` and ``archiving.paused`` in the data dir.

``plotman-tui plotting pause`` (typed on the machine, or sent over SSH by the fleet view) must
stop every loop of the machine from starting plots: a ``--no-ui`` service, a ``plot`` run from
cron, a dashboard. They share no process, but they share the data dir, so the switch is a file
there that each loop looks at once per scheduling pass (one ``lstat`` while it is absent).

The flag says who set it and when (small JSON, written whole and renamed into place). A flag
that cannot be read or understood counts as *set*, with the problem said: a farmer who paused
must not be un-paused by a bad byte, a FIFO or a file of the wrong kind in its place.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import math
import os
import socket
import stat
import sys
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from plotman_tui.appdirs import data_dir, file_kind, read_regular_file
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.jobcontrol import JobControl
from plotman_tui.farm.units import clock_time, printable

#: A flag's time past this (POSIX seconds, the year 5138) is not a time.
_LATEST_TIME = 1e11
#: A flag is a few hundred bytes; anything much larger is not ours.
FLAG_MAX_BYTES = 64 * 1024
# Text from the flag file is shown in one line: a pasted novel in ``by`` is cut short.
_FIELD_MAX_CHARS = 200

#: What the action log calls the switches (the dashboard's p and a keys use the same words).
PAUSE_ACTION = "pause"
RESUME_ACTION = "unpause"


class Loop(StrEnum):
    """A loop of this machine that a flag pauses."""

    PLOTTING = "plotting"
    ARCHIVING = "archiving"


#: What goes on while a loop is paused, for messages.
_GOES_ON = {
    Loop.PLOTTING: "running jobs go on",
    Loop.ARCHIVING: "transfers under way go on",
}


class PauseFlagError(Exception):
    """The flag cannot be written or removed; the message is one line and says why."""


@dataclass(frozen=True)
class PauseFlag:
    """A loop's flag as read: ``paused``; ``by`` whom and ``at`` when (POSIX seconds; None
    when the flag does not say); ``via``: the command that set it; ``problem``: why the flag
    could not be read or understood (it then counts as paused)."""

    paused: bool
    by: str | None = None
    at: float | None = None
    problem: str | None = None
    via: str | None = None
    #: ``resume`` can take the flag away (it unlinks it: not a directory in its place).
    resume_clears: bool = True

    def describe(self, loop: Loop, now: float | None = None) -> str:
        """``plotting is paused on this machine since 10:02 (by alice@box via `plotman-tui
        plotting pause`)``, or ``plotting is not paused on this machine``."""
        if not self.paused:
            return f"{loop} is not paused on this machine"
        text = f"{loop} is paused on this machine"
        if self.at is not None:
            text += f" since {clock_time(self.at, time.time() if now is None else now)}"
        who = [f"by {self.by}"] if self.by else []
        who += [f"via `{self.via}`"] if self.via else []
        if who:
            text += f" ({' '.join(who)})"
        if self.problem:
            how = f"`plotman-tui {loop} resume` clears it" if self.resume_clears else "remove it"
            text += f"; its flag is damaged ({self.problem}): {how}"
        return text


def flag_path(loop: Loop, directory: Path | None = None) -> Path:
    """The flag of ``loop``: ``<loop>.paused`` in ``directory`` (the data dir by default)."""
    return (data_dir() if directory is None else directory) / f"{loop}.paused"


def read_pause(loop: Loop, directory: Path | None = None) -> PauseFlag:
    """The flag of ``loop`` as it is now; never raises (see the module's doc)."""
    path = flag_path(loop, directory)
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return PauseFlag(paused=False)  # the usual case: one lstat
    except OSError as error:
        return PauseFlag(paused=True, problem=f"{path}: {_why(error)}")
    if stat.S_ISLNK(info.st_mode):
        # A link can point anywhere (a device, another user's file): not followed.
        return PauseFlag(paused=True, problem=f"{path} is a symbolic link, not a regular file")
    if not stat.S_ISREG(info.st_mode):
        return PauseFlag(
            paused=True,
            problem=f"{path} is {file_kind(info.st_mode)}, not a regular file",
            resume_clears=not stat.S_ISDIR(info.st_mode),
        )
    try:
        data = read_regular_file(path, FLAG_MAX_BYTES)
    except FileNotFoundError:
        return PauseFlag(paused=False)  # resumed a moment ago
    except OSError as error:
        return PauseFlag(paused=True, problem=f"{path}: {_why(error)}")
    return parse_flag(data, str(path))


def parse_flag(data: bytes, where: str = "the flag") -> PauseFlag:
    """A flag file's bytes as a :class:`PauseFlag` (always paused: the file exists).

    An empty file is a flag set by hand (``touch``): paused, by nobody known, no problem.
    """
    if not data.strip():
        return PauseFlag(paused=True)
    try:
        found = json.loads(data.decode("utf-8"))
        if not isinstance(found, dict):
            raise ValueError("not a JSON object")
        return PauseFlag(
            paused=True, by=_text(found.get("by")), at=_time(found.get("at")), via=_via(found)
        )
    except (ValueError, RecursionError) as error:
        return PauseFlag(paused=True, problem=f"{where}: not understood ({_short(str(error))})")


def set_pause(
    loop: Loop,
    paused: bool,
    *,
    action_log: ActionLog | None,
    directory: Path | None = None,
    by: str | None = None,
    via: str | None = None,
) -> str:
    """Set (``paused``) or clear the flag of ``loop``; returns what happened, in one line.

    Idempotent: pausing a paused loop (or resuming a running one) changes nothing, records
    nothing and says so. A change is recorded in ``action_log`` (``pause``/``unpause`` with
    ``switch``, as the dashboard's keys); a log that cannot be written is said in the line,
    the flag is changed all the same. ``by``: who asks (default :func:`who_asks`); ``via``:
    how (default the command, ``plotman-tui plotting pause``). PauseFlagError when the flag
    cannot be written or removed.
    """
    path = flag_path(loop, directory)
    current = read_pause(loop, directory)
    if paused and current.paused and current.problem is None:
        return current.describe(loop).replace(" is paused ", " is paused already ", 1)
    if not paused and not current.paused:
        return f"{loop} is not paused on this machine: nothing to resume"
    who = by or who_asks()
    if paused:
        how = via or f"plotman-tui {loop} pause"
        content = {"by": who, "at": time.time(), "via": how, "from": list(sys.argv)}
        _write_flag(path, content, loop)
        done = f"{loop} paused on this machine by {who} ({_GOES_ON[loop]})"
        if current.problem:
            done += f"; its damaged flag was replaced ({current.problem})"
        extra: dict[str, Any] = {"via": how}
    else:
        _remove_flag(path, loop)
        done = f"{loop} resumed on this machine by {who}"
        extra = {"paused_by": current.by, "paused_at": current.at}
    control = JobControl(action_log, source="cli")
    problem = control.record(
        PAUSE_ACTION if paused else RESUME_ACTION,
        None,
        "ok",
        done,
        switch=str(loop),
        by=who,
        flag=str(path),
        **extra,
    )
    return f"{done}; {problem}" if problem else done


def who_asks() -> str:
    """``alice@box``, and ``from 10.0.0.5`` when this runs in an SSH session (the fleet view
    of another machine, or a farmer logged in), so a pause says where it came from."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a container)
        user = f"uid {os.getuid()}"
    who = f"{user}@{socket.gethostname()}"
    client = os.environ.get("SSH_CLIENT", "").split()
    if client:
        who += f" from {printable(client[0])[:64]}"
    return who


# -- the file ------------------------------------------------------------------------------------


def _write_flag(path: Path, content: dict[str, Any], loop: Loop) -> None:
    """Write the flag whole: a temp file, fsync'd, renamed over ``path``; then the dir synced,
    so a pause survives a power cut right after it was said to be done."""
    text = (json.dumps(content, ensure_ascii=False) + "\n").encode("utf-8")
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(
            partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
        )
        try:
            os.write(fd, text)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, path)
        _sync_dir(path.parent)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise PauseFlagError(f"cannot write the {loop} pause flag {path}: {_why(error)}") from None


def _remove_flag(path: Path, loop: Loop) -> None:
    """Remove the flag (whatever it is: a link or a FIFO in its place goes too, not what a link
    points to); a flag already gone is fine."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as error:
        raise PauseFlagError(
            f"cannot remove the {loop} pause flag {path}: {_why(error)}; remove it by hand"
        ) from None
    _sync_dir(path.parent)


def _sync_dir(directory: Path) -> None:
    # Best effort: some file systems refuse to fsync a dir; the rename has happened anyway.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- reading untrusted fields --------------------------------------------------------------------


def _text(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _short(value)


def _time(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    stamp = float(value)
    # A flag's time is when it was set: never past the year 5000 (a damaged "1e300" would
    # not survive a calendar, nor the wire's time checks).
    return stamp if math.isfinite(stamp) and 0 < stamp < _LATEST_TIME else None


def _via(found: dict[str, Any]) -> str | None:
    """How the flag was set: its ``via``, else its command line (``from``)."""
    if isinstance(found.get("via"), str):
        return _text(found["via"])
    argv = found.get("from")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        return None
    return _short(_command(argv))


def _command(argv: list[str]) -> str:
    """The command line as a farmer would type it: ``plotman-tui plotting pause``."""
    program = os.path.basename(argv[0]) if argv else "plotman-tui"
    if program in ("__main__.py", "-m", ""):  # python -m plotman_tui
        program = "plotman-tui"
    return " ".join([program, *argv[1:]])


def _short(text: str) -> str:
    """One printable line of at most :data:`_FIELD_MAX_CHARS` characters."""
    text = printable(" ".join(text.split()))
    return text if len(text) <= _FIELD_MAX_CHARS else text[: _FIELD_MAX_CHARS - 1] + "…"


def _why(error: OSError) -> str:
    return error.strerror or str(error)
