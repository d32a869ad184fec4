"""Copy a log to an output stream, and optionally keep following it while its job runs.

Following waits on file-change notifications (watchfiles), not on a polling loop, and stops by
itself once the job's process has exited and the last bytes are out.
"""

from __future__ import annotations

from typing import BinaryIO

import psutil

_CHUNK = 1 << 16
# How long one wait for a change may last before the job's liveness is checked again (ms).
_LIVENESS_CHECK_MS = 1000


def _pump(source: BinaryIO, out: BinaryIO) -> None:
    while True:
        data = source.read(_CHUNK)
        if not data:
            break
        out.write(data)
    out.flush()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def copy_log(path: str, out: BinaryIO, *, follow_pid: int | None = None) -> None:
    """Write the log at ``path`` to ``out``; with ``follow_pid``, go on until that job ends."""
    with open(path, "rb") as source:
        _pump(source, out)
        if follow_pid is None:
            return
        from watchfiles import watch

        for _changes in watch(
            path,
            rust_timeout=_LIVENESS_CHECK_MS,
            yield_on_timeout=True,
            debounce=50,
            step=20,
            raise_interrupt=True,
        ):
            _pump(source, out)
            if not _alive(follow_pid):
                break
        _pump(source, out)
