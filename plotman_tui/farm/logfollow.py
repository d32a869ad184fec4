"""Copy a log to an output stream, and optionally keep following it while its job runs.

Following waits on file-change notifications (watchfiles), not on a polling loop, and stops by
itself once the job's process has exited and the last bytes are out.
"""

from __future__ import annotations

import os
from typing import BinaryIO

import psutil

from plotman_tui.appdirs import open_regular_file

_CHUNK = 1 << 16
# How long one wait for a change may last before the job's liveness is checked again (ms).
_LIVENESS_CHECK_MS = 1000


class LogFollowError(Exception):
    """The log could not be read or watched (the message names the log and the reason)."""


def _pump(path: str, source: BinaryIO, out: BinaryIO) -> None:
    while True:
        try:
            data = source.read(_CHUNK)
        except OSError as error:
            raise LogFollowError(f"log {path}: {error.strerror or error}") from None
        if not data:
            break
        out.write(data)
    out.flush()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists; it is just not ours to inspect


def copy_log(path: str, out: BinaryIO, *, follow_pid: int | None = None) -> None:
    """Write the log at ``path`` to ``out``; with ``follow_pid``, go on until that job ends.

    Raises LogFollowError when the log cannot be read or watched; errors writing ``out`` are
    the caller's (OSError).
    """
    try:
        # A FIFO would wait for a writer, or for bytes that never come: regular files only.
        source = os.fdopen(open_regular_file(path), "rb")
    except OSError as error:
        raise LogFollowError(f"log {path}: {error.strerror or error}") from None
    with source:
        _pump(path, source, out)
        if follow_pid is None:
            return
        from watchfiles import watch

        try:
            for _changes in watch(
                path,
                rust_timeout=_LIVENESS_CHECK_MS,
                yield_on_timeout=True,
                debounce=50,
                step=20,
                raise_interrupt=True,
            ):
                _pump(path, source, out)
                if not _alive(follow_pid):
                    break
        except (RuntimeError, OSError) as error:
            # watchfiles reports inotify trouble (watch limits, a vanished file) this way.
            raise LogFollowError(f"cannot watch log {path}: {error}") from None
        _pump(path, source, out)
