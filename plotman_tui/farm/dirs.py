"""Facts about the configured dirs: free space and finished plots, each dir on its own.

An unplugged or unreadable disk is an answer ("missing", "I/O error") for that dir, never an
exception for the caller.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass


@dataclass(frozen=True)
class DirInfo:
    """One dir: its space and the finished plots in it; ``error`` set when it cannot be read."""

    path: str
    total_bytes: int | None = None
    free_bytes: int | None = None
    plots: int = 0
    plot_bytes: int = 0
    error: str | None = None


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
    if count_plots:
        try:
            with os.scandir(text) as entries:
                for entry in entries:
                    if entry.name.endswith(".plot") and entry.is_file(follow_symlinks=False):
                        plots += 1
                        plot_bytes += entry.stat(follow_symlinks=False).st_size
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
    )
