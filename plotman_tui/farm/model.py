"""The domain model: jobs and the snapshot of a plotting machine (frozen dataclasses).

:class:`Phase` lives with the plotters (:mod:`plotman_tui.plotters.phase`): their parsers make it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

from plotman_tui.plotters.phase import Phase


class JobStatus(StrEnum):
    """The process state, in plotman's words."""

    RUN = "RUN"  # running or runnable
    SLP = "SLP"  # sleeping (waiting on something other than disk)
    DSK = "DSK"  # in uninterruptible (disk) sleep
    STP = "STP"  # stopped (suspended)
    ZMB = "ZMB"  # exited, not yet reaped
    UNK = "?"  # vanished or unreadable


@dataclass(frozen=True)
class Job:
    """One running plot job, as seen in one scan of the process table and its log.

    Values that could not be read are None (a vanished process, a permission error); ``problems``
    says why, in words a farmer understands.
    """

    pid: int
    plotter: str
    argv: tuple[str, ...]
    cwd: str | None
    started_at: float  # process create time, POSIX seconds
    wall_seconds: float
    status: JobStatus
    plot_id: str | None = None
    k: int | None = None
    tmp_dir: str | None = None
    tmp2_dir: str | None = None
    dst_dir: str | None = None
    threads: int | None = None
    buckets: int | None = None
    buffer_mib: int | None = None
    #: The plot's compression level (0: none), from its log, command line or name; None: unknown.
    compression: int | None = None
    phase: Phase | None = None  # None: no log found, phase unknown
    phase_seconds: tuple[tuple[int, float], ...] = ()
    total_seconds: float | None = None
    copy_seconds: float | None = None
    final_file: str | None = None
    completed: bool = False
    log_file: str | None = None
    tmp_files: tuple[TempFile, ...] = ()
    tmp_usage_bytes: int | None = None
    mem_rss_bytes: int | None = None
    mem_vms_bytes: int | None = None
    user_seconds: float | None = None
    sys_seconds: float | None = None
    iowait_seconds: float | None = None
    problems: tuple[str, ...] = ()
    #: When the plot under way started, as its log states it (local time read as POSIX
    #: seconds): a multi-plot run's (madMAx, BladeBit or chia ``-n``) later plots start hours
    #: after the process.
    plot_started_at: float | None = None


@dataclass(frozen=True)
class TempFile:
    """A file that belongs to a job's plot (named with its plot id) in one of its dirs."""

    path: str
    size_bytes: int


@dataclass(frozen=True)
class Snapshot:
    """Everything one scan saw: jobs (youngest first) and problems not tied to one job."""

    jobs: tuple[Job, ...]
    updated: float
    problems: tuple[str, ...] = ()


def distinct_dirs(*dirs: str | None) -> list[str]:
    """The given dirs normalised, each once, in order; None and empty ones left out."""
    return list(dict.fromkeys(os.path.normpath(d) for d in dirs if d))


def dir_identity(path: str) -> str:
    """What decides whether two dir names mean the same dir: the real path, symlinks resolved.

    Used to match jobs to configured dirs (a job started by hand through a symlink is still
    that dir's job); the scan itself only normalises names, as it must not touch the disks.
    """
    return os.path.realpath(path)
