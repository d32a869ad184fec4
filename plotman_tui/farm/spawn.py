"""Start one plot job the way plotman does, so that it outlives plotman-tui.

A job is a plain process: an argv list (never a shell), stdin from ``/dev/null``, stdout and
stderr into a new log file in the log dir named by its start time, its own session (a closed
terminal or a dying manager does not take it down; it can be signalled as a group) and a lower
CPU priority. Discovery finds it again later by its command line and that open log file.

Reaping: a job's parent is the plotman-tui process that started it. When that parent exits
first, the kernel reparents the job to init (or the nearest subreaper), which reaps it. When the
parent lives on (the dashboard, ``--no-ui``), someone in it must ``waitpid`` the job when it ends,
or it stays a zombie in the process table until the manager exits. ``start_job`` therefore
hands the ``Popen`` to a daemon *reaper thread* that only waits on it: the job is reaped as soon
as it ends, whether or not the caller keeps the ``StartedJob``. The caller may still use
``popen.poll()``, ``popen.wait()`` and ``popen.returncode``: ``Popen`` serialises its waits with a
lock, so the job is reaped once, and ``poll()`` gives the exit status as soon as the reaper has
recorded it (a moment after the job ends). A daemon thread does not keep the manager alive, and the
manager exiting leaves the job to init. A double fork would reap too, but then nobody could read
the job's exit status, and the sandbox, its tests and the engine want it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

#: Niceness is clamped to what the kernel accepts.
NICE_MIN = -20
NICE_MAX = 19

# How many extra names ("<time>-1.log" ...) to try before giving up on a log name.
_MAX_SUFFIX = 1000

_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


@dataclass(frozen=True)
class StartedJob:
    """A job ``start_job`` started.

    ``popen`` is reaped by a background thread (see the module doc); ``poll()``/``wait()`` on it
    are safe. ``nice`` is the niceness the job got (None when it ended before it could be read);
    ``warning`` says why it is not the one asked for, else None.
    """

    pid: int
    log_path: Path
    argv: tuple[str, ...]
    started_at: float
    popen: subprocess.Popen[bytes] = field(compare=False, repr=False)
    nice: int | None = None
    warning: str | None = None


def log_name_for(timestamp: float) -> str:
    """The log name plotman gives a job started at ``timestamp``, in local time.

    ``2026-11-24T14_09_47.819131+0000.log`` (the ISO time with ``:`` as ``_``, so every file
    system takes it).
    """
    when = datetime.fromtimestamp(timestamp).astimezone()
    return when.strftime("%Y-%m-%dT%H_%M_%S.%f%z") + ".log"


def _open_new_log(
    log_dir: Path, started_at: float, log_name: str | None, log_tag: str | None = None
) -> tuple[Path, int]:
    """Create the job's log exclusively; a taken start-time name gets ``-1``, ``-2`` ... added.

    An explicit ``log_name`` is used as is: ``FileExistsError`` when it is taken. A ``log_tag``
    follows the start time (``<time>-<tag>.log``).
    """
    if log_name is not None:
        path = log_dir / log_name
        return path, os.open(path, _LOG_FLAGS, 0o644)
    base = log_name_for(started_at).removesuffix(".log")
    if log_tag:
        base = f"{base}-{log_tag}"
    for attempt in range(_MAX_SUFFIX):
        name = f"{base}.log" if attempt == 0 else f"{base}-{attempt}.log"
        path = log_dir / name
        try:
            return path, os.open(path, _LOG_FLAGS, 0o644)
        except FileExistsError:
            continue
    raise FileExistsError(f"{log_dir}: {_MAX_SUFFIX} log names for {base} are all taken")


def _task_ids(pid: int) -> set[int]:
    """The thread ids of a process (Linux); just the pid where /proc has no task list."""
    try:
        return {int(name) for name in os.listdir(f"/proc/{pid}/task")}
    except (OSError, ValueError):
        return {pid}


def _set_niceness(pid: int, nice: int) -> tuple[int | None, str | None]:
    """Give ``pid`` (all its threads) the niceness ``nice``; returns (niceness it has, warning).

    Linux applies PRIO_PROCESS to one thread: threads the job made before this call keep the
    old value, so every task is set, again until no new one shows up. Threads made later
    inherit from their (already niced) creator.
    """
    wanted = min(max(nice, NICE_MIN), NICE_MAX)
    warning = None if wanted == nice else f"niceness {nice} is out of range; used {wanted}"
    done: set[int] = set()
    for _ in range(5):
        tasks = _task_ids(pid) - done
        if not tasks:
            break
        for tid in sorted(tasks):
            try:
                os.setpriority(os.PRIO_PROCESS, tid, wanted)
            except ProcessLookupError:
                pass  # that thread (or the whole job) has already ended
            except PermissionError:
                # Without CAP_SYS_NICE niceness only goes up: a lower value than the job
                # inherited from plotman-tui is refused. The job runs anyway.
                current = _niceness(pid)
                return current, (
                    f"cannot set niceness {wanted} for pid {pid} "
                    f"(it stays at {current}): lowering it needs privileges"
                )
        done |= tasks
    return _niceness(pid), warning


def _niceness(pid: int) -> int | None:
    try:
        return os.getpriority(os.PRIO_PROCESS, pid)
    except ProcessLookupError:
        return None


def start_job(
    argv: Sequence[str],
    log_dir: Path,
    *,
    nice: int | None = 15,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    now: float | None = None,
    log_name: str | None = None,
    log_tag: str | None = None,
) -> StartedJob:
    """Start ``argv`` as a plot job logging to a new file in ``log_dir``; return at once.

    ``argv[0]`` is looked up on PATH as ``execvp`` does; no shell is involved. ``env`` replaces
    the environment (None: inherit plotman-tui's). ``now`` is the start time that names the log
    (default: the clock); ``log_tag`` is added after that time (``<time>-<tag>.log``).
    ``log_name`` picks the log's name instead (``FileExistsError`` when taken). ``nice`` None
    leaves the job at plotman-tui's niceness. ``log_dir`` is created if missing. Raises
    ``ValueError`` for an empty argv and ``OSError`` (e.g. ``FileNotFoundError`` for a missing
    program) when the job cannot start; the log file made for it is then removed again, as
    nothing has written to it.
    """
    argv = tuple(argv)
    if not argv:
        raise ValueError("cannot start a job without a command line")
    if not all(isinstance(arg, str) for arg in argv):
        raise TypeError(f"a job's argv must be strings, not {argv!r}")
    started_at = time.time() if now is None else now
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path, log_fd = _open_new_log(log_dir, started_at, log_name, log_tag)
    try:
        # Niceness is set from here after the start, not in the child with preexec_fn: a
        # preexec_fn runs Python between fork and exec, which can deadlock when the parent has
        # other threads (the dashboard has), and CPython warns against it.
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=None if env is None else dict(env),
            start_new_session=True,
            close_fds=True,
        )
    except BaseException:
        os.close(log_fd)
        with contextlib.suppress(OSError):
            log_path.unlink()
        raise
    os.close(log_fd)  # the job has its own copy on stdout and stderr
    if nice is None:
        niceness, warning = _niceness(popen.pid), None
    else:
        niceness, warning = _set_niceness(popen.pid, nice)
    # The reaper: wait() without a timeout returns only once the job is reaped (see above).
    threading.Thread(target=popen.wait, name=f"reap-job-{popen.pid}", daemon=True).start()
    return StartedJob(
        pid=popen.pid,
        log_path=log_path,
        argv=argv,
        started_at=started_at,
        nice=niceness,
        warning=warning,
        popen=popen,
    )
