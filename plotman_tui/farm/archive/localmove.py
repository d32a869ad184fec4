"""Moving one plot to a dir of this machine without rsync: ``python -m`` this module.

``python -m plotman_tui.farm.archive.localmove [--bwlimit-kbps N] -- SOURCE DESTINATION``
moves the plot SOURCE to DESTINATION (the plot's final path in a local archive dir), with the
guarantees of the rsync path:

- same file system: one rename, which never replaces a file already there (nothing is copied);
- another file system: a copy to a hidden temp name in the archive dir
  (``.NAME.partial-XXXXXXXX``: neither a harvester nor the archiver takes it for a plot), at
  most ``--bwlimit-kbps`` KiB/s, fsynced, checked for its size, given the plot's mtime, then
  renamed to the final name (never replacing one) and only then the source is removed;
- a DESTINATION that already exists is never replaced: when its bytes are the plot's (a move
  whose source removal was lost), the source is removed; when they differ, or it is no
  regular file (a symlink), both stay;
- an archive dir that is the plot's own dir (through a symlink) moves nothing, and a source
  removed or replaced while it is copied is not removed (the copy is).

It runs as its own process, started like rsync with its own log, so a transfer under way is
found in the process table, outlives the dashboard and is judged from the file system (see
:mod:`plotman_tui.farm.archive.transfer`). A mover that is killed leaves the source in place
and at most its temp file, which the archiver removes once no mover of that plot is alive
(:func:`stale_temp_files`). The log ends with the statistics lines rsync's ``--info=stats2``
writes, and the ``NAME exists (...)`` line of rsync's ``--info=skip2``, so both are read by one
parser. Exit status: 0 moved (or already there, identical), 1 failed, 2 usage, 3 the
destination exists with other bytes (or is no regular file).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import os
import secrets
import signal
import stat
import sys
import time
from collections.abc import Iterator
from types import FrameType
from typing import Final

#: The part of a mover's temp name after the plot's name.
TEMP_MARK: Final = ".partial-"
EXIT_DIFFERS: Final = 3
_CHUNK: Final = 8 * 1024 * 1024
# Copy calls that say "not between these files" rather than an I/O error.
_NO_KERNEL_COPY: Final = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})
_RENAME_NOREPLACE: Final = 1
_AT_FDCWD: Final = -100


class MoveError(Exception):
    """The move failed; the message is one line for the log."""


def temp_name(plot_name: str) -> str:
    """A fresh hidden temp name for ``plot_name`` in its archive dir."""
    return f".{plot_name}{TEMP_MARK}{secrets.token_hex(4)}"


def plot_of_temp(name: str) -> str | None:
    """The plot name a mover's temp file name belongs to; None for any other name."""
    if not name.startswith(".") or TEMP_MARK not in name:
        return None
    plot_name, _, suffix = name[1:].rpartition(TEMP_MARK)
    if not plot_name.endswith(".plot") or len(suffix) != 8:
        return None
    return plot_name


def stale_temp_files(
    archive_dir: str, moving: set[str], now: float, still_s: float
) -> Iterator[str]:
    """The mover temp files in ``archive_dir`` of plots not in ``moving`` (names of plots on
    their way there now) unchanged for ``still_s`` before ``now`` (their ctime, which a
    write or the mover's utime moves on): those are left by a mover that was killed. The wait
    spares the temp file of a mover on another machine sharing the dir (a NAS), which this
    machine's process table does not show. Regular files only."""
    try:
        with os.scandir(archive_dir) as entries:
            for entry in entries:
                plot_name = plot_of_temp(entry.name)
                if plot_name is None or plot_name in moving:
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # gone since the listing
                if stat.S_ISREG(info.st_mode) and now - info.st_ctime >= still_s:
                    yield entry.path
    except OSError:
        return


def _log(message: str) -> None:
    print(message, flush=True)


def _stats(files: int, literal: int, size: int) -> None:
    # The lines of rsync's --info=stats2 the archiver reads (transfer.read_transfer_report).
    _log(f"Number of regular files transferred: {files}")
    _log(f"Total file size: {size:,} bytes")
    _log(f"Literal data: {literal:,} bytes")


def _rename_noreplace(source: str, destination: str) -> None:
    """Rename without ever replacing ``destination`` (FileExistsError when it exists)."""
    # The interpreter's own symbols hold libc's (find_library would run ldconfig each move).
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is not None:
        result = renameat2(
            _AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(destination), _RENAME_NOREPLACE
        )
        if result == 0:
            return
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(code, os.strerror(code), destination)
        if code not in _NO_KERNEL_COPY:
            raise OSError(code, os.strerror(code), destination)
    # No renameat2 (or not on this file system): a hard link never replaces either.
    os.link(source, destination)
    os.unlink(source)


def _same_bytes(first: str, second: str) -> bool:
    with open(first, "rb") as one, open(second, "rb") as other:
        if os.fstat(one.fileno()).st_size != os.fstat(other.fileno()).st_size:
            return False
        while True:
            block = one.read(_CHUNK)
            if block != other.read(_CHUNK):
                return False
            if not block:
                return True


def _already_there(source: str, destination: str, plot_name: str) -> int:
    """DESTINATION exists: remove the source only when its bytes are the plot's (a symlink,
    even one to the plot, is no copy of it)."""
    size = os.stat(source).st_size
    if not stat.S_ISREG(os.lstat(destination).st_mode):
        _log(f"{plot_name} exists (not a regular file)")
        _log(f"{plot_name}: {destination} exists and is no regular file; both are left as they are")
        _stats(0, 0, size)
        return EXIT_DIFFERS
    if _same_bytes(source, destination):
        _log(f"{plot_name} exists (uptodate)")
        os.unlink(source)
        _log(f"{plot_name}: the same bytes are at {destination}; the source is removed")
        _stats(0, 0, size)
        return 0
    _log(f"{plot_name} exists (sum change)")
    _log(f"{plot_name}: {destination} exists with other bytes; both are left as they are")
    _stats(0, 0, size)
    return EXIT_DIFFERS


def _copy(
    source_fd: int, temp_fd: int, size: int, bwlimit_kbps: int | None, plot_name: str
) -> None:
    """Copy ``size`` bytes: in the kernel where it can, at most ``bwlimit_kbps`` KiB/s."""
    rate = bwlimit_kbps * 1024 if bwlimit_kbps else None
    chunk = min(_CHUNK, max(rate // 4, 64 * 1024)) if rate else _CHUNK
    copied = 0
    began = last_report = time.monotonic()
    kernel = True
    while copied < size:
        want = min(chunk, size - copied)
        done = 0
        if kernel:
            try:
                done = os.copy_file_range(source_fd, temp_fd, want, copied, copied)
            except OSError as error:
                if error.errno not in _NO_KERNEL_COPY:
                    raise
                kernel = False
        if not kernel:
            block = os.pread(source_fd, want, copied)
            done = os.pwrite(temp_fd, block, copied) if block else 0
        if done == 0:
            raise MoveError(f"{plot_name}: the source ended at {copied} of {size} bytes")
        copied += done
        now = time.monotonic()
        if rate is not None:
            ahead = copied / rate - (now - began)
            if ahead > 0:
                time.sleep(ahead)  # the bandwidth limit itself, not a synchronisation
                now = time.monotonic()
        if now - last_report >= 1.0 or copied == size:
            seconds = max(now - began, 1e-6)
            _log(f"{copied:,} {100 * copied // size}% {copied / seconds / 1e6:.2f}MB/s")
            last_report = now


def move(source: str, destination: str, bwlimit_kbps: int | None = None) -> int:
    """Move ``source`` to ``destination`` (see the module doc); the exit status."""
    plot_name = os.path.basename(source)
    archive_dir = os.path.dirname(destination)
    if os.path.basename(destination) != plot_name:
        raise MoveError(f"{destination} does not name {plot_name}")
    try:
        source_stat = os.stat(source, follow_symlinks=False)
    except FileNotFoundError:
        raise MoveError(f"{source}: no such plot file; nothing moved") from None
    dir_stat = os.stat(archive_dir)  # a missing archive dir is an error, never created
    if os.path.samefile(archive_dir, os.path.dirname(source)):
        # DESTINATION is the plot itself: "already there" would remove the only copy.
        raise MoveError(f"{archive_dir} is the dir the plot is in: nothing moved")
    if os.path.lexists(destination):
        return _already_there(source, destination, plot_name)
    size = source_stat.st_size
    if source_stat.st_dev == dir_stat.st_dev:
        renaming = time.perf_counter()
        try:
            _rename_noreplace(source, destination)
        except FileExistsError:
            return _already_there(source, destination, plot_name)
        except OSError as error:
            if error.errno != errno.EXDEV:  # two mounts of one file system: copy instead
                raise
        else:
            took_ms = (time.perf_counter() - renaming) * 1000
            _log(
                f"{plot_name}: renamed into {archive_dir} in {took_ms:.2f} ms "
                "(one file system: nothing copied)"
            )
            _stats(1, 0, size)
            return 0
    temp = os.path.join(archive_dir, temp_name(plot_name))
    began = time.monotonic()
    try:
        with open(source, "rb") as source_file:
            temp_fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                _copy(source_file.fileno(), temp_fd, size, bwlimit_kbps, plot_name)
                os.utime(temp_fd, ns=(source_stat.st_atime_ns, source_stat.st_mtime_ns))
                os.fsync(temp_fd)
                if os.fstat(temp_fd).st_size != size:
                    raise MoveError(f"{plot_name}: the copy is not {size} bytes long")
            finally:
                os.close(temp_fd)
        try:
            after = os.stat(source, follow_symlinks=False)
        except FileNotFoundError:
            raise MoveError(
                f"{plot_name} was removed while it was copied; the copy is removed"
            ) from None
        # Another file put in its place (same size and mtime: cp -p) is not what was copied.
        if _identity(after) != _identity(source_stat):
            raise MoveError(f"{plot_name} changed while it was copied; it is sent again later")
        try:
            _rename_noreplace(temp, destination)
        except FileExistsError:
            os.unlink(temp)
            return _already_there(source, destination, plot_name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(archive_dir)
    os.unlink(source)
    seconds = max(time.monotonic() - began, 1e-6)
    rate = size / seconds / 1e6
    _log(f"{plot_name}: copied to {archive_dir} in {seconds:.1f} s ({rate:.1f} MB/s)")
    _stats(1, size, size)
    return 0


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stop(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM or SIGHUP: end like an interrupt, so the temp file is removed.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m plotman_tui.farm.archive.localmove",
        description="Move one plot to a local archive dir (see the module doc).",
    )
    parser.add_argument("--bwlimit-kbps", type=int, default=None)
    parser.add_argument("source")
    parser.add_argument("destination")
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    try:
        return move(args.source, args.destination, args.bwlimit_kbps)
    except MoveError as error:
        _log(f"localmove: {error}")
    except KeyboardInterrupt as stopped:
        _log(f"localmove: stopped ({stopped or 'SIGINT'}); the source is left in place")
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        _log(f"localmove: {where}{error.strerror or error}; the source is left in place")
    return 1


if __name__ == "__main__":
    sys.exit(main())
