"""Facts about the configured dirs: free space and finished plots, each dir on its own.

An unplugged or unreadable disk is an answer ("missing", "I/O error") for that dir, never an
exception for the caller.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import shutil
import threading
from collections import Counter
from dataclasses import dataclass

from plotman_tui.farm.archive.policy import plot_name_level


@dataclass(frozen=True)
class DirInfo:
    """One dir: its space and the finished plots in it; ``error`` set when it cannot be read."""

    path: str
    total_bytes: int | None = None
    free_bytes: int | None = None
    plots: int = 0
    plot_bytes: int = 0
    error: str | None = None
    #: How many of ``plots`` each compression level has, ``(level, count)`` by level; a name
    #: stating no level (``-cNN-``) counts as 0 (uncompressed).
    plot_levels: tuple[tuple[int, int], ...] = ()


def inspect_dir(path: str | os.PathLike[str], *, count_plots: bool = False) -> DirInfo:
    """Free space (and, when asked, the finished ``.plot`` files) of one dir."""
    text = os.fspath(path)
    if not os.path.isdir(text):
        return DirInfo(path=text, error="missing" if not os.path.exists(text) else "not a dir")
    try:
        usage = shutil.disk_usage(text)
    except OSError as error:
        return DirInfo(path=text, error=error.strerror or str(error))
    plots = 0
    plot_bytes = 0
    levels: Counter[int] = Counter()
    if count_plots:
        try:
            with os.scandir(text) as entries:
                for entry in entries:
                    # Regular files only: a symlink to a plot elsewhere is not one that the
                    # archiver moves from here.
                    if entry.name.endswith(".plot") and entry.is_file(follow_symlinks=False):
                        try:
                            size = entry.stat(follow_symlinks=False).st_size
                        except FileNotFoundError:
                            continue  # moved away since the listing (the archiver at work)
                        plots += 1
                        plot_bytes += size
                        levels[plot_name_level(entry.name) or 0] += 1
        except OSError as error:
            return DirInfo(
                path=text,
                total_bytes=usage.total,
                free_bytes=usage.free,
                error=error.strerror or str(error),
            )
    return DirInfo(
        path=text,
        total_bytes=usage.total,
        free_bytes=usage.free,
        plots=plots,
        plot_bytes=plot_bytes,
        plot_levels=tuple(sorted(levels.items())),
    )


class _Probers:
    """Daemon threads that run probes, kept between calls (starting a thread per probe costs
    more than the statvfs). A probe stuck on a hung mount keeps its thread; a new one is started
    whenever no idle thread is left for the work waiting. Daemon threads, not an executor: a stat
    stuck on a dead NFS server must not keep the program from exiting (executors join theirs)."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[tuple[concurrent.futures.Future[DirInfo], str, bool]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._idle = 0
        self._waiting = 0

    def submit(self, path: str, count_plots: bool) -> concurrent.futures.Future[DirInfo]:
        future: concurrent.futures.Future[DirInfo] = concurrent.futures.Future()
        with self._lock:
            self._waiting += 1
            if self._waiting > self._idle:
                threading.Thread(target=self._serve, name="dir-probe", daemon=True).start()
        self._work.put((future, path, count_plots))
        return future

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            future, path, count_plots = self._work.get()
            with self._lock:
                self._idle -= 1
                self._waiting -= 1
            try:
                future.set_result(inspect_dir(path, count_plots=count_plots))
            except BaseException as error:  # handed to the waiting side
                future.set_exception(error)


_probers = _Probers()
# Probes still running, by path: a dir on a hung mount is not probed again while its last
# probe hangs (each hung probe holds a thread for good); the next caller waits on that one.
_probes: dict[str, concurrent.futures.Future[DirInfo]] = {}
_probes_lock = threading.Lock()


def probe_dir(path: str, *, count_plots: bool = False) -> concurrent.futures.Future[DirInfo]:
    """``inspect_dir`` in a thread of its own; the future is shared while a probe runs."""
    key = f"{int(count_plots)}{path}"
    with _probes_lock:
        running = _probes.get(key)
        if running is not None and not running.done():
            return running
        future = _probers.submit(path, count_plots)
        _probes[key] = future
        return future


def inspect_dir_within(
    path: str | os.PathLike[str], timeout_s: float, *, count_plots: bool = False
) -> DirInfo:
    """``inspect_dir``, or an error "no answer within N s (a hung mount?)" after ``timeout_s``."""
    text = os.fspath(path)
    try:
        return probe_dir(text, count_plots=count_plots).result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        return DirInfo(path=text, error=f"no answer within {timeout_s:g} s (a hung mount?)")
    except OSError as error:
        return DirInfo(path=text, error=error.strerror or str(error))
