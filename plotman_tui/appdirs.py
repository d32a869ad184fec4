"""Where plotman-tui keeps its own files (the config's dir is the config module's business),
and how it reads a small file of its own without hanging on a FIFO or a device.

- the data dir: the action log and the scheduler lock (``$PLOTMAN_TUI_DATA_DIR`` overrides);
- the cache dir: derived state that can be deleted at any time (``$PLOTMAN_TUI_CACHE_DIR``).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def data_dir() -> Path:
    """The action log and the scheduler lock live here."""
    override = os.environ.get("PLOTMAN_TUI_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("plotman-tui"))


def cache_dir() -> Path:
    """Derived, deletable state: ``$PLOTMAN_TUI_CACHE_DIR`` or the user cache dir."""
    override = os.environ.get("PLOTMAN_TUI_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("plotman-tui"))


class NotRegularFileError(OSError):
    """A path that should be a small file of ours is a FIFO, a device or a socket."""


class FileTooLargeError(OSError):
    """A file of ours larger than it can be (``/dev/zero`` copied in, the wrong file named)."""


_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """``st_mode`` in words: "a regular file", "a directory", "a FIFO" ..."""
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def open_regular_file(
    path: str | os.PathLike[str], flags: int = os.O_RDONLY, mode: int = 0o644
) -> int:
    """A descriptor on the regular file at ``path`` (``flags`` as for ``os.open``).

    A FIFO would block the open until a writer comes, a device may never end: the file is
    opened without blocking and anything but a regular file is refused (NotRegularFileError;
    IsADirectoryError for a dir), with the descriptor closed. Other errors are open's own.
    """
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", os.fspath(path))
        if not stat.S_ISREG(info.st_mode):
            kind = file_kind(info.st_mode)
            raise NotRegularFileError(errno.EINVAL, f"{kind}, not a regular file", os.fspath(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_file(path: str | os.PathLike[str], max_bytes: int, *, tail: bool = False) -> bytes:
    """The bytes of the regular file at ``path`` (see :func:`open_regular_file`), at most
    ``max_bytes`` of them.

    A larger file (``/dev/zero`` copied in, the wrong file named) raises FileTooLargeError, or
    with ``tail`` gives its last ``max_bytes``. Other errors are open's and read's own OSErrors.
    """
    fd = open_regular_file(path)
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            if not tail:
                raise FileTooLargeError(
                    errno.EFBIG, f"{size} bytes, more than {max_bytes}", os.fspath(path)
                )
            os.lseek(fd, size - max_bytes, os.SEEK_SET)
        chunks = []
        left = max_bytes + 1  # one more: a file that grew past the limit since the fstat
        # The whole file in one read as a rule (one chunk: joined without a copy).
        step = max(size + 1, 1 << 20)
        while left > 0 and (chunk := os.read(fd, min(left, step))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        if not tail:
            raise FileTooLargeError(errno.EFBIG, f"more than {max_bytes} bytes", os.fspath(path))
        data = data[-max_bytes:]
    return data
