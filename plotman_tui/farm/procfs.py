"""Reading one process: state, times, memory, working dir and open files.

On Linux the per-scan sample is read straight from ``/proc/<pid>/stat`` and ``statm``: two small
reads, where psutil would add a pid-reuse check (a second Process object) and a read of the
boot time per call. Elsewhere psutil does the work. The values are the same either way: create
time is boot time plus the start tick, as psutil computes it, so keys made by either agree.
psutil is imported only where it is used, so `status` on Linux does not pay for its import.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

from plotman_tui.farm.model import JobStatus

LINUX_PROC = sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")

_LINUX_STATES = {
    "R": JobStatus.RUN,
    "S": JobStatus.SLP,
    "I": JobStatus.SLP,
    "D": JobStatus.DSK,
    "T": JobStatus.STP,
    "t": JobStatus.STP,
    "Z": JobStatus.ZMB,
    "X": JobStatus.ZMB,
}

# psutil's status names (its STATUS_* constants are these strings).
_PSUTIL_STATES = {
    "running": JobStatus.RUN,
    "sleeping": JobStatus.SLP,
    "idle": JobStatus.SLP,
    "disk-sleep": JobStatus.DSK,
    "stopped": JobStatus.STP,
    "tracing-stop": JobStatus.STP,
    "zombie": JobStatus.ZMB,
    "dead": JobStatus.ZMB,
}


@dataclass(frozen=True)
class ProcessSample:
    """One reading of a process; a value that could not be read is None."""

    create_time: float
    status: JobStatus
    ppid: int | None
    user_seconds: float | None = None
    sys_seconds: float | None = None
    iowait_seconds: float | None = None
    rss_bytes: int | None = None
    vms_bytes: int | None = None
    denied: bool = False


class _Clock:
    """Constants of this boot, read once: they never change while the machine runs."""

    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    _boot: float | None = None

    @classmethod
    def boot_time(cls) -> float:
        if cls._boot is None:
            cls._boot = _read_boot_time()
        return cls._boot


def _read_boot_time() -> float:
    """The boot time as psutil gives it: the ``btime`` line of ``/proc/stat`` on Linux."""
    if LINUX_PROC:
        with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/stat", "rb") as stat:
            for line in stat:
                if line.startswith(b"btime"):
                    return float(line.split()[1])
    import psutil

    return psutil.boot_time()


def sample_process(pid: int) -> ProcessSample | None:
    """State, times and memory of ``pid``; None when it no longer exists."""
    if LINUX_PROC:
        return _sample_linux(pid)
    return _sample_psutil(pid)


def _sample_linux(pid: int) -> ProcessSample | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces or parentheses itself.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        ticks = _Clock.ticks
        create_time = _Clock.boot_time() + int(fields[19]) / ticks
        status = _LINUX_STATES.get(fields[0].decode("ascii", "replace"), JobStatus.UNK)
        user = int(fields[11]) / ticks
        system = int(fields[12]) / ticks
        iowait = int(fields[39]) / ticks if len(fields) > 39 else None
        ppid = int(fields[1])
    except (IndexError, ValueError):
        return None  # not a stat line we understand: treat as gone rather than guess
    rss = vms = None
    if status is not JobStatus.ZMB:
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                pages = handle.read().split()
            vms, rss = int(pages[0]) * _Clock.page, int(pages[1]) * _Clock.page
        except (OSError, IndexError, ValueError):
            pass
    return ProcessSample(create_time, status, ppid, user, system, iowait, rss, vms)


def _sample_psutil(pid: int) -> ProcessSample | None:
    import psutil

    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            create_time = proc.create_time()
            status = _PSUTIL_STATES.get(proc.status(), JobStatus.UNK)
            ppid = proc.ppid()
            if status is JobStatus.ZMB:
                return ProcessSample(create_time, status, ppid)
            times = proc.cpu_times()
            memory = proc.memory_info()
            return ProcessSample(
                create_time,
                status,
                ppid,
                times.user,
                times.system,
                getattr(times, "iowait", None),
                memory.rss,
                memory.vms,
            )
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        return ProcessSample(0.0, JobStatus.UNK, None, denied=True)


def process_cwd(pid: int) -> str | None:
    """The working dir; raises PermissionError when it is not ours to read."""
    if LINUX_PROC:
        try:
            return os.readlink(f"/proc/{pid}/cwd")
        except PermissionError:
            raise
        except OSError:
            return None
    import psutil

    try:
        return psutil.Process(pid).cwd()
    except psutil.AccessDenied:
        raise PermissionError(pid) from None
    except psutil.Error:
        return None


def fd_target(pid: int, fd: int) -> str | None:
    """Where file descriptor ``fd`` of ``pid`` points (Linux); raises PermissionError."""
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except PermissionError:
        raise
    except OSError:
        return None


def open_paths(pid: int) -> list[str]:
    """Paths of the files ``pid`` has open; raises PermissionError."""
    if LINUX_PROC:
        # What psutil.open_files reads, without importing psutil into one-shot commands.
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except PermissionError:
            raise
        except OSError:
            return []
        paths = []
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue  # closed since the listing
            if target.startswith("/"):  # sockets, pipes and anon inodes are not paths
                paths.append(target)
        return paths
    import psutil

    try:
        return [opened.path for opened in psutil.Process(pid).open_files()]
    except psutil.AccessDenied:
        raise PermissionError(pid) from None
    except (psutil.Error, OSError):
        return []
