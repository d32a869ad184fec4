"""One scheduler per machine: an ``flock`` on a file in the data dir.

The dashboard and ``--no-ui`` both start plot jobs; two of them at once would each think they
own the stagger and start twice as many jobs. Whoever schedules holds an exclusive ``flock`` on
``scheduler.lock`` for as long as it runs. The kernel drops the lock when its holder dies, however
it dies (a crash, ``kill -9``), so a stale lock cannot outlive its process. The holder writes who it
is (pid, since when, host, command line) into the file, so a second process can say who is in
its way; that text is trusted only while the lock is really held.

The lock's descriptor is not inheritable (Python's default), so plot jobs the holder starts do
not keep it alive after the holder ends. A ``fork()`` without ``exec`` would share it: the
engine never forks (``subprocess`` execs at once and closes it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from plotman_tui.appdirs import data_dir, open_regular_file
from plotman_tui.farm.units import clock_time

# A holder() probe holds a shared lock for microseconds; an acquire() that meets one retries
# for this long before deciding the lock is really taken.
_ACQUIRE_RETRY_S = 0.2
# A new holder writes its details right after it gets the lock; wait this long for them.
_DETAILS_WAIT_S = 1.0
_POLL_S = 0.01


@dataclass(frozen=True)
class LockHolder:
    """Who holds the scheduler lock, as it wrote itself into the lock file.

    ``pid`` and ``since`` are None when the holder has not written its details (yet).
    """

    pid: int | None
    since: float | None
    hostname: str = ""
    argv: tuple[str, ...] = ()

    def command(self) -> str:
        """The holder's command line, its program shown by name (``plotman-tui plot``)."""
        if not self.argv:
            return ""
        return " ".join([os.path.basename(self.argv[0]), *self.argv[1:]])

    def describe(self, now: float | None = None, *, what: str = "scheduler lock") -> str:
        """``scheduler lock held by pid 1234 since 14:02 (plotman-tui plot)``."""
        if self.pid is None:
            return f"{what} held by another process (it has not said which yet)"
        text = f"{what} held by pid {self.pid}"
        if self.hostname and self.hostname != socket.gethostname():
            text += f" on {self.hostname}"
        if self.since is not None:
            text += f" since {clock_time(self.since, time.time() if now is None else now)}"
        command = self.command()
        return f"{text} ({command})" if command else text

    def to_json(self) -> str:
        return json.dumps(
            {"pid": self.pid, "since": self.since, "hostname": self.hostname, "argv": self.argv}
        )

    @classmethod
    def from_json(cls, text: str) -> LockHolder:
        """``ValueError`` unless ``text`` is what :meth:`to_json` writes."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        pid, since = data.get("pid"), data.get("since")
        hostname, argv = data.get("hostname", ""), data.get("argv", [])
        if isinstance(pid, bool) or not isinstance(pid, int):
            raise ValueError(f"bad pid {pid!r}")
        if isinstance(since, bool) or not isinstance(since, int | float):
            raise ValueError(f"bad since {since!r}")
        if not isinstance(hostname, str):
            raise ValueError(f"bad hostname {hostname!r}")
        if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
            raise ValueError(f"bad argv {argv!r}")
        return cls(pid=pid, since=float(since), hostname=hostname, argv=tuple(argv))


class SchedulerLockHeld(RuntimeError):
    """Raised by ``with SchedulerLock(...)`` when another process holds the lock."""

    def __init__(self, path: Path, holder: LockHolder | None) -> None:
        self.path = path
        self.holder = holder
        described = holder.describe() if holder is not None else "scheduler lock is busy"
        super().__init__(f"{described}; lock file {path}")


class SchedulerLock:
    """An exclusive, non-blocking ``flock`` on ``path``.

    Not thread-safe: callers in several threads (the dashboard takes it in a worker and gives
    it up when it quits) must not call it at the same time. An ``flock`` belongs to the open
    file, not to a thread, so which thread releases it does not matter.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock without waiting; True when this object holds it (now or already).

        On success the file says who holds it (this process). ``OSError`` when the file cannot
        be opened (e.g. the data dir is not writable) or is not a regular file.
        """
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A FIFO in its place would not take the details (and would hang holder()).
        fd = open_regular_file(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _flock_nb(fd, fcntl.LOCK_EX, retry_s=_ACQUIRE_RETRY_S):
                os.close(fd)
                return False
            holder = LockHolder(
                pid=os.getpid(),
                since=time.time(),
                hostname=socket.gethostname(),
                argv=tuple(sys.argv),
            )
            data = (holder.to_json() + "\n").encode("utf-8")
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except BaseException:
            os.close(fd)  # and with it the lock
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up (nothing happens when this object does not hold it).

        The file stays: removing it would let a newcomer lock a new file while someone still
        holds the old one. Its details are cleared first so nobody reads a stale holder.
        """
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def holder(self) -> LockHolder | None:
        """Who holds the lock (this process included), or None when nobody does."""
        try:
            fd = open_regular_file(self.path)  # a FIFO would wait for a writer
        except FileNotFoundError:
            return None
        try:
            if _flock_nb(fd, fcntl.LOCK_SH, retry_s=0.0):
                return None  # nobody holds it exclusively; our shared lock goes with the fd
            # Held: the holder writes its details right after taking the lock.
            deadline = time.monotonic() + _DETAILS_WAIT_S
            while True:
                text = os.pread(fd, 64 * 1024, 0).decode("utf-8", errors="replace")
                with contextlib.suppress(ValueError):
                    found = LockHolder.from_json(text)
                    # A holder that crashed left its details; the new one overwrites them
                    # a moment after it takes the lock.
                    if not _is_gone(found):
                        return found
                if time.monotonic() >= deadline:
                    return LockHolder(pid=None, since=None)
                time.sleep(_POLL_S)
        finally:
            os.close(fd)

    def __enter__(self) -> SchedulerLock:
        if not self.acquire():
            raise SchedulerLockHeld(self.path, self.holder())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def __del__(self) -> None:
        # A lock object dropped without release() must not hold the lock (through a leaked
        # descriptor) until the process ends.
        if getattr(self, "_fd", None) is not None:
            with contextlib.suppress(Exception):
                self.release()


def _flock_nb(fd: int, operation: int, *, retry_s: float) -> bool:
    """Try a non-blocking flock, again for ``retry_s``; False when someone else holds it."""
    deadline = time.monotonic() + retry_s
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return True
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)


def _is_gone(holder: LockHolder) -> bool:
    """Whether a holder on this host has certainly ended (it cannot hold the lock then)."""
    if holder.pid is None or holder.hostname != socket.gethostname():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def default_lock() -> SchedulerLock:
    """The scheduler lock in plotman-tui's data dir."""
    return SchedulerLock(data_dir() / "scheduler.lock")


def default_archive_lock() -> SchedulerLock:
    """The archiver's lock in plotman-tui's data dir: one process moves plots at a time."""
    return SchedulerLock(data_dir() / "archiver.lock")
