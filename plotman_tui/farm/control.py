"""Job control: suspend, resume and kill plot jobs, and delete a killed job's own temp files.

The house rule is that nothing is ever deleted but a job's own temp files, and only after the job
is gone. So every action first checks that the pid still is the job (its create time matches the
job's, read from ``/proc`` as discovery reads it): a job that ended, or whose pid a new process
took, gets a clear refusal and never a signal. On Linux the signal goes through a pidfd opened
before that check, so not even a pid reused between the check and the signal can receive it.

Killing is split into steps so a UI can ask for confirmation in between:

1. :func:`prepare_kill` stops the job (SIGSTOP, so its temp files stop changing) and lists the
   files that would be deleted;
2. :func:`cancel_kill` lets it run on (SIGCONT), nothing deleted; or
3. :func:`execute_kill` ends it (SIGTERM, SIGKILL after a timeout), waits until it is gone, lists
   its temp files again (some may have appeared since the plan) and deletes them.

Which files are a job's is decided by name (:func:`match_temp_name`, per plotter) and by place:
regular files directly inside the job's tmp, tmp2 and dst dirs, never through a symlink. chia,
madMAx and BladeBit name their temp files with the plot id; BladeBit's ``diskplot`` bucket files
do not (see :func:`match_temp_name` for the rule that keeps those safe). It is the one rule:
discovery measures each job's temp space with it (:func:`list_jobs_temp_files`), so `files`,
the temp space shown and what a kill deletes are the same files.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import NamedTuple

from plotman_tui.farm.model import Job, JobStatus, TempFile
from plotman_tui.farm.procfs import sample_process
from plotman_tui.farm.units import human_bytes
from plotman_tui.plotters.limits import sane_path

# Create times are computed the same way everywhere (boot time + start tick), so a job's own
# process always matches exactly; a tolerance under one clock tick (10 ms) only absorbs float
# round trips, never lets a younger process pass.
_CREATE_TIME_TOLERANCE_S = 0.005
# How long prepare_kill waits to see the job stopped: a process in disk sleep stops only when
# its I/O call returns.
_STOP_WAIT_S = 2.0
# After SIGKILL a process is normally gone at once; one stuck in uninterruptible disk I/O
# (a hung NFS mount, a dying disk) is not, and its files may still be written.
_KILL_GRACE_S = 5.0
_POLL_S = 0.05
# BladeBit bucket files carry no plot id: only those written since the job started can be its
# own. The create time is tick-exact but file times and clocks are coarser; allow a little.
_MTIME_SLACK_S = 2.0

_PLOT_ID_RE = re.compile(r"[0-9a-f]{64}")
_HEX = "0123456789abcdef"
# A plot id as _has_plot_id finds one in a name: 64 lowercase hex digits, not in a longer run.
_STANDALONE_ID_RE = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")

# BladeBit's DiskBufferQueue names every temp file ``<set>_<bucket>.tmp`` (``sprintf("%s_%u.tmp",
# name, i)``), with set names such as y0, index1, meta0, t1..t7, map2..map7, lp, lp_map_0,
# table_2_marks, fx_0 that differ between versions: the shape is fixed, the list is not.
_BLADEBIT_BUCKET_RE = re.compile(r"^[a-z][a-z0-9_]*_[0-9]+\.tmp$")


class DirRole(StrEnum):
    """Which of a job's dirs a file lies in."""

    TMP = "tmp"
    TMP2 = "tmp2"
    DST = "dst"


class NameMatch(StrEnum):
    """Why a file name belongs to a job."""

    #: Named with the job's plot id and ending in ``.tmp``: the job's own, whatever the dir.
    PLOT_ID = "plot-id"
    #: A BladeBit ``diskplot`` bucket file: no plot id in its name, so it is the job's only if
    #: no other job uses the dir and it was written while the job ran.
    BLADEBIT_BUCKET = "bladebit-bucket"


def match_temp_name(
    plotter: str, name: str, plot_id: str | None, role: DirRole
) -> NameMatch | None:
    """Is a file called ``name`` in the job's ``role`` dir one of its temp files, and why?

    The rules, per plotter (a finished ``.plot`` never matches, as it does not end in ``.tmp``):

    * every plotter: the name holds the job's plot id (64 lowercase hex digits, not part of a
      longer hex run) and ends in ``.tmp``. That covers chia's ``NAME.sort.tmp``,
      ``NAME.table1.tmp``, ``NAME.p1.t1.sort_bucket_000.tmp`` ... in tmp and ``NAME.2.tmp`` in
      tmp2 and, during the final copy, in dst; madMAx's ``NAME.p1.t1.sort_bucket_000.tmp``,
      ``NAME.p1.table1.tmp`` ... and ``NAME.plot.tmp`` (in tmp, tmp2 or, while copying, dst);
      BladeBit's ``NAME.plot.tmp`` in dst.
    * ``bladebit2disk`` only, in its tmp (``-t1``) and tmp2 (``-t2``) dirs: names shaped like
      BladeBit's bucket files (``y0_12.tmp``, ``t3_0.tmp``, ``table_2_marks_0.tmp``, lowercase
      set name, underscore, bucket number, ``.tmp``). They carry no plot id; the caller must
      also check that no other job uses the dir and that the file was written since the job
      started (:func:`list_temp_files` does).

    No plot id, no match by id: without it one job's files cannot be told from another's.
    Gigahorse's disk buffers (``cuda_plot_tmp2_<microseconds>.tmp``, as chia-gigahorse#111's
    log names one) carry none, so they never match and a kill leaves them, as it leaves
    BladeBit CUDA's; and a Gigahorse job's plot id is the plot under way, so the previous
    plot's file, still being copied to dst, is never taken for the job's temp file.
    """
    if plot_id is not None and name.endswith(".tmp") and _has_plot_id(name, plot_id):
        return NameMatch.PLOT_ID
    if (
        plotter == "bladebit2disk"
        and role in (DirRole.TMP, DirRole.TMP2)
        and _BLADEBIT_BUCKET_RE.match(name)
    ):
        return NameMatch.BLADEBIT_BUCKET
    return None


def _has_plot_id(name: str, plot_id: str) -> bool:
    if _PLOT_ID_RE.fullmatch(plot_id) is None:
        return False  # not a plot id: matching by it could match anything
    start = name.find(plot_id)
    while start >= 0:
        end = start + len(plot_id)
        # The id must stand alone: inside a longer hex run it would be part of another name.
        alone_before = start == 0 or name[start - 1] not in _HEX
        alone_after = end == len(name) or name[end] not in _HEX
        if alone_before and alone_after:
            return True
        start = name.find(plot_id, start + 1)
    return False


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlResult:
    """What a suspend, resume or cancelled kill did, in one line a farmer understands."""

    ok: bool
    message: str


@dataclass(frozen=True)
class TempListing:
    """A job's temp files as found now, and why some were left out (one line each)."""

    files: tuple[TempFile, ...]
    total_bytes: int
    notes: tuple[str, ...] = ()
    #: False when some of the job's files may be missing from ``files``: a dir could not be
    #: listed or looked in (relative to an unknown working dir), or the plot id is not known
    #: yet (files named with it cannot be recognised).
    complete: bool = True
    #: The dirs that could not be listed (one line each; also among ``notes``).
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True)
class KillPlan:
    """A job stopped for killing, and the temp files a kill would delete now.

    ``stopped`` is False when the job could not be stopped (it ended, its pid belongs to
    another process, no permission): ``message`` says why, and :func:`execute_kill` refuses.
    """

    job: Job
    files: tuple[TempFile, ...]
    total_bytes: int
    stopped: bool
    message: str = ""
    notes: tuple[str, ...] = ()
    #: False when the job was already suspended before the plan: a cancel leaves it so.
    resume_on_cancel: bool = True


@dataclass(frozen=True)
class KillResult:
    """What a kill did: the files deleted (paths), the bytes freed, and what went wrong."""

    ok: bool
    message: str
    deleted: tuple[str, ...] = ()
    freed_bytes: int = 0
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


# -- suspend and resume ------------------------------------------------------------------------


def suspend(job: Job) -> ControlResult:
    """Stop the job (SIGSTOP); it keeps its memory and files and can be resumed."""
    error = _send(job, (signal.SIGSTOP,), "suspend")
    if error is not None:
        return ControlResult(False, error)
    # SIGSTOP takes effect when the kernel next schedules the job: wait for it, so that what
    # the caller sees (and a kill planned right after) agrees with this result.
    if not _wait_stopped(job, _STOP_WAIT_S):
        return ControlResult(
            True, f"suspending {_label(job)}: it stops once its disk I/O call returns"
        )
    return ControlResult(True, f"suspended {_label(job)}")


def resume(job: Job) -> ControlResult:
    """Let a suspended job run on (SIGCONT)."""
    error = _send(job, (signal.SIGCONT,), "resume")
    if error is not None:
        return ControlResult(False, error)
    return ControlResult(True, f"resumed {_label(job)}")


# -- kill --------------------------------------------------------------------------------------


def prepare_kill(job: Job) -> KillPlan:
    """Stop the job and list the temp files a kill would delete; nothing is deleted yet."""
    reading = sample_process(job.pid)
    already_stopped = reading is not None and reading.status is JobStatus.STP
    error = _send(job, (signal.SIGSTOP,), "kill")
    if error is not None:
        return KillPlan(job=job, files=(), total_bytes=0, stopped=False, message=error)
    notes: list[str] = []
    if not _wait_stopped(job, _STOP_WAIT_S):
        notes.append(
            f"{_label(job)} has not stopped yet (busy with disk I/O?): "
            "its temp files may still change; the kill lists them again"
        )
    try:
        listing = list_temp_files(job)
    except Exception as failure:  # a value no check foresaw: never leave the job stopped for it
        how = "it stays suspended, as before"
        if not already_stopped:
            how = "it runs on" if _send(job, (signal.SIGCONT,), "resume") is None else "stopped"
        return KillPlan(
            job=job,
            files=(),
            total_bytes=0,
            stopped=False,
            message=f"{_label(job)}: {_unlisted(failure)}; not killed, {how}",
        )
    notes.extend(listing.notes)
    count = len(listing.files)
    if count:
        what = f"killing it deletes {_files(count)} ({human_bytes(listing.total_bytes)})"
    else:
        what = "it has no temp files to delete"
    return KillPlan(
        job=job,
        files=listing.files,
        total_bytes=listing.total_bytes,
        stopped=True,
        message=f"{_label(job)} is stopped; {what}",
        notes=tuple(notes),
        resume_on_cancel=not already_stopped,
    )


def cancel_kill(plan: KillPlan) -> ControlResult:
    """Give up a planned kill: the job runs on (unless it was suspended before); nothing deleted."""
    label = _label(plan.job)
    if not plan.stopped:
        return ControlResult(True, f"kill of {label} cancelled; nothing was done")
    if not plan.resume_on_cancel:
        return ControlResult(True, f"kill of {label} cancelled; it stays suspended, as before")
    error = _send(plan.job, (signal.SIGCONT,), "resume")
    if error is not None:
        return ControlResult(False, f"kill cancelled, but {error}")
    return ControlResult(True, f"kill of {label} cancelled; it runs on")


def execute_kill(plan: KillPlan, *, timeout_s: float = 10.0) -> KillResult:
    """End the planned job, wait until it is gone, then delete its temp files.

    SIGTERM first (with SIGCONT, so the stopped job can act on it), SIGKILL when it is still
    there after ``timeout_s``. Temp files are listed again once the job is gone, by the same
    rules as the plan, and only then deleted; if the job will not die nothing is deleted.
    A job that ended by itself since the plan is gone too: its temp files are deleted.
    """
    job = plan.job
    label = _label(job)
    if not plan.stopped:
        return KillResult(False, f"kill of {label} was not prepared: {plan.message}")
    how = ""
    state = _identify(job)
    if state is _State.ALIVE:
        # TERM before CONT: the job wakes with the signal already pending and dies at once,
        # without another moment of writing.
        error = _send(job, (signal.SIGTERM, signal.SIGCONT), "kill")
        if error is not None and _identify(job) is _State.ALIVE:
            # The job the plan stopped must not stay stopped with nobody holding it.
            resumed = cancel_kill(plan)
            return KillResult(False, f"{error}; nothing deleted; {resumed.message}")
        if not _wait_gone(job, timeout_s):
            error = _send(job, (signal.SIGKILL,), "kill")
            if error is not None and _identify(job) is _State.ALIVE:
                return KillResult(False, f"{error}; nothing deleted")
            if not _wait_gone(job, _KILL_GRACE_S):
                return KillResult(
                    False,
                    f"{label} did not exit even after SIGKILL (stuck in disk I/O?); "
                    "nothing deleted, as its files may still be in use: try the kill again later",
                )
            how = f" with SIGKILL (it was still running {timeout_s:g}s after SIGTERM)"
    elif state is _State.UNKNOWN:
        # Not known to be gone: deleting now could pull files from under a running job.
        return KillResult(False, f"{_refusal(job, state, 'kill')}; nothing deleted")
    else:
        how = " (it had already ended)"
    try:
        listing, candidates = _list_one(job, None)
    except Exception as failure:  # a value no check foresaw: delete nothing rather than guess
        return KillResult(False, f"killed {label}{how}; {_unlisted(failure)}; nothing deleted")
    deleted, freed, errors = _delete(candidates)
    message = f"killed {label}{how}; deleted {_files(len(deleted))} ({human_bytes(freed)})"
    if errors:
        message += f"; {len(errors)} not deleted (first: {errors[0]})"
    return KillResult(
        ok=not errors,
        message=message,
        deleted=tuple(deleted),
        freed_bytes=freed,
        errors=tuple(errors),
        notes=listing.notes,
    )


# -- which process ------------------------------------------------------------------------------


class _State(Enum):
    ALIVE = "alive"
    ENDED = "ended"  # vanished, or exited and not reaped yet (a zombie)
    REUSED = "reused"  # the pid belongs to a younger process
    UNKNOWN = "unknown"  # the job's start time was never read: it cannot be recognised


def _identify(job: Job) -> _State:
    """Is the job's pid still the job, judged by its create time?"""
    if job.started_at <= 0:
        return _State.UNKNOWN
    reading = sample_process(job.pid)
    if reading is None:
        return _State.ENDED
    if reading.denied:
        return _State.UNKNOWN
    if abs(reading.create_time - job.started_at) > _CREATE_TIME_TOLERANCE_S:
        return _State.REUSED
    # A zombie has exited and closed its files; whoever started it reaps it (reaping it here
    # would take its exit status from its owner, e.g. a subprocess.Popen).
    if reading.status is JobStatus.ZMB:
        return _State.ENDED
    return _State.ALIVE


def _refusal(job: Job, state: _State, action: str) -> str:
    label = _label(job)
    if state is _State.ENDED:
        return f"{label} has ended: nothing to {action}"
    if state is _State.REUSED:
        return (
            f"pid {job.pid} now belongs to another process ({label} has ended): "
            f"nothing to {action}, no signal sent"
        )
    return (
        f"{label}: its start time is unknown, so it cannot be told from a process that took "
        f"its pid; not signalled (run as the user that owns the job, or as root)"
    )


def _send(job: Job, signals: Sequence[signal.Signals], action: str) -> str | None:
    """Send ``signals`` to the job's process, never to another; None, or why not (one line)."""
    with _pidfd(job.pid) as pidfd:
        # The pidfd was opened first: if the check below still finds the job under this pid,
        # the pidfd is the job's, and signals through it cannot reach a later owner of the pid.
        state = _identify(job)
        if state is not _State.ALIVE:
            return _refusal(job, state, action)
        try:
            for sig in signals:
                if pidfd is not None and sys.platform == "linux":
                    signal.pidfd_send_signal(pidfd, sig)
                else:
                    os.kill(job.pid, sig)
        except ProcessLookupError:
            return _refusal(job, _State.ENDED, action)
        except PermissionError:
            return (
                f"{_label(job)}: permission denied (run as the user that owns the job, or as root)"
            )
        except OSError as error:
            return f"{_label(job)}: could not {action}: {error.strerror or error}"
    return None


@contextlib.contextmanager
def _pidfd(pid: int) -> Iterator[int | None]:
    """A pidfd for ``pid`` where the system has them (Linux 5.3+), else None (plain kill)."""
    fd: int | None = None
    if sys.platform == "linux":
        # ESRCH (gone) and ENOSYS/EPERM (old kernel, seccomp) alike fall back to os.kill, whose
        # own check and error then tell what happened.
        with contextlib.suppress(OSError):
            fd = os.pidfd_open(pid)
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _wait_gone(job: Job, timeout_s: float) -> bool:
    """Poll until the job's process has ended (or its pid moved on); False at the timeout."""
    deadline = time.monotonic() + max(timeout_s, 0.0)
    while True:
        if _identify(job) in (_State.ENDED, _State.REUSED):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)


def _wait_stopped(job: Job, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        reading = sample_process(job.pid)
        if reading is None or reading.status in (JobStatus.STP, JobStatus.ZMB):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)


# -- which files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dir:
    """One of a job's dirs: as the job names it, where it really is, and in which roles."""

    shown: str
    real: str
    roles: tuple[DirRole, ...]


class _Candidate(NamedTuple):
    """A file to delete, with what identifies it: deleted only if still the same file.

    A tuple, not a dataclass: a scan makes one for each of hundreds of temp files per job.
    """

    dir: _Dir
    dir_key: tuple[int, int]  # st_dev, st_ino of the dir as listed
    name: str
    inode: int
    size_bytes: int

    @property
    def path(self) -> str:
        return f"{self.dir.shown.rstrip('/')}/{self.name}"  # shown is normalised: "/" only at /


def list_temp_files(job: Job, *, other_jobs: Sequence[Job] | None = None) -> TempListing:
    """The job's temp files now, by :func:`match_temp_name`, directly inside its dirs.

    Only regular files count (lstat: a symlink, whatever it points to, a dir or a FIFO never
    does). ``other_jobs`` (the other running jobs) matters only for BladeBit ``diskplot``,
    whose bucket files carry no plot id: they are the job's only in a dir no other job uses.
    None: scan for them now.
    """
    listing, _ = _list_one(job, other_jobs)
    return listing


def _list_one(job: Job, other_jobs: Sequence[Job] | None) -> tuple[TempListing, list[_Candidate]]:
    if other_jobs is None:
        other_jobs = _running_jobs() if job.plotter == "bladebit2disk" else ()
    ((listing, candidates),) = _list([job], other_jobs)
    return listing, candidates


def list_jobs_temp_files(jobs: Sequence[Job], *, all_jobs: Sequence[Job]) -> list[TempListing]:
    """Each job's temp files, as :func:`list_temp_files` finds them (in the order of ``jobs``).

    The one rule of which files are a job's: discovery measures temp space with it, ``files``
    shows what it found and a kill deletes what it finds. Each dir is listed once, however many
    of ``jobs`` use it; ``all_jobs`` are every running job (for BladeBit's bucket files).
    """
    return [listing for listing, _ in _list(jobs, all_jobs)]


@dataclass
class _Work:
    """One job's part of a listing: its dirs, and what was found in them so far."""

    job: Job
    dirs: list[_Dir]
    shared: set[str]  # real paths of its dirs that another job uses too
    notes: list[str]
    found: dict[str, list[_Candidate]] = field(default_factory=dict)  # by real dir
    unreadable: list[str] = field(default_factory=list)
    bucket_skipped: set[str] = field(default_factory=set)  # real dirs
    dirs_skipped: bool = False  # a dir it names could not be looked in (relative, impossible)


def _list(
    jobs: Sequence[Job], all_jobs: Sequence[Job]
) -> list[tuple[TempListing, list[_Candidate]]]:
    # Many jobs name the same dirs: each path is resolved (an lstat per component) once here.
    real_paths: dict[str, str] = {}
    works = [_prepare(job, all_jobs, real_paths) for job in jobs]
    users: dict[str, list[tuple[_Work, _Dir]]] = {}
    for work in works:
        for directory in work.dirs:
            users.setdefault(directory.real, []).append((work, directory))
    for real, group in users.items():
        _list_dir(real, group)
    return [_finish(work) for work in works]


def _prepare(job: Job, all_jobs: Sequence[Job], real_paths: dict[str, str]) -> _Work:
    notes: list[str] = []
    dirs = _resolve_dirs(_job_dirs(job, notes), real_paths)
    dirs_skipped = bool(notes)  # each dir it leaves out is a note
    if job.plot_id is None:
        which = "only BladeBit's bucket files are" if job.plotter == "bladebit2disk" else "none is"
        notes.append(
            f"{_label(job)}: plot id not known yet (its log has not named it), so its temp "
            f"files cannot be told from other jobs'; {which} listed"
        )
        if job.plotter != "bladebit2disk":
            dirs = []  # no name can match: nothing to look for
    if job.plotter == "bladebit_cuda" and (job.tmp_dir or job.tmp2_dir):
        notes.append(
            "bladebit_cuda: temp files of its disk modes carry no plot id and are not deleted; "
            "remove them by hand once no job uses the dir"
        )
    shared: set[str] = set()
    if job.plotter == "bladebit2disk":
        shared = _dirs_used_by_others(job, all_jobs, real_paths)
    return _Work(job, dirs, shared, notes, dirs_skipped=dirs_skipped)


def _finish(work: _Work) -> tuple[TempListing, list[_Candidate]]:
    candidates: list[_Candidate] = []
    files: list[TempFile] = []
    notes = work.notes
    for directory in work.dirs:
        found = work.found.get(directory.real)
        if found:
            found.sort(key=_candidate_name)
            candidates.extend(found)
            prefix = f"{directory.shown.rstrip('/')}/"  # as _Candidate.path, once per dir
            files.extend(TempFile(prefix + c.name, c.size_bytes) for c in found)
        if directory.real in work.bucket_skipped:
            notes.append(
                f"{directory.shown}: another job uses this dir too, so BladeBit bucket files "
                "(which carry no plot id) are not deleted there"
            )
    notes.extend(work.unreadable)
    listing = TempListing(
        files=tuple(files),
        total_bytes=sum(c.size_bytes for c in candidates),
        notes=tuple(notes),
        complete=work.job.plot_id is not None and not work.unreadable and not work.dirs_skipped,
        unreadable=tuple(work.unreadable),
    )
    return listing, candidates


def _candidate_name(candidate: _Candidate) -> str:
    return candidate.name


def _job_dirs(job: Job, notes: list[str]) -> list[tuple[DirRole, str]]:
    """The job's tmp, tmp2 and dst dirs that can be looked in, normalised, with their roles."""
    dirs: list[tuple[DirRole, str]] = []
    roles = ((DirRole.TMP, job.tmp_dir), (DirRole.TMP2, job.tmp2_dir), (DirRole.DST, job.dst_dir))
    for role, path in roles:
        if not path:
            continue
        if sane_path(path) is None:
            # Jobs also come from outside (another machine's `watch --json`): never trust one.
            notes.append(f"{role} dir {path!r} cannot be a dir: skipped")
            continue
        if not os.path.isabs(path):
            # Relative to a working dir we could not read: which dir it means is unknown.
            notes.append(f"{role} dir {path!r} is relative to an unknown working dir: skipped")
            continue
        dirs.append((role, os.path.normpath(path)))
    return dirs


def _resolve_dirs(dirs: Sequence[tuple[DirRole, str]], real_paths: dict[str, str]) -> list[_Dir]:
    """Each dir once, by where it really is (the same dir may play several roles)."""
    by_real: dict[str, _Dir] = {}
    for role, shown in dirs:
        real = _real_path(shown, real_paths)
        known = by_real.get(real)
        if known is None:
            by_real[real] = _Dir(shown, real, (role,))
        elif role not in known.roles:
            by_real[real] = _Dir(known.shown, real, (*known.roles, role))
    return list(by_real.values())


def _real_path(path: str, real_paths: dict[str, str]) -> str:
    """``os.path.realpath(path)``, remembered in ``real_paths`` (one listing's)."""
    real = real_paths.get(path)
    if real is None:
        real = real_paths[path] = os.path.realpath(path)
    return real


def _list_dir(real: str, users: Sequence[tuple[_Work, _Dir]]) -> None:
    """Add the matching regular files directly in one dir to the work of each job that uses it.

    Which jobs a name can be the file of is found without asking every job (a shared tmp dir
    holds hundreds of files of each of several jobs). A name ending in ``.tmp`` that holds a
    job's plot id standing alone is that job's (match_temp_name's first rule, whatever the
    role): the jobs are found by their ids, each job once. Only BladeBit diskplot jobs are asked
    about every other name (their bucket files carry no id), by match_temp_name itself.
    """
    try:
        fd = _open_dir(real)
    except OSError as error:
        for work, directory in users:
            work.unreadable.append(
                f"{directory.shown}: {error.strerror or error}; nothing listed there"
            )
        return
    # Each user's finds in this dir, made up front: a find is then one append.
    by_plot_id: dict[str, list[tuple[_Dir, list[_Candidate]]]] = {}
    bucket_users: list[tuple[_Work, _Dir, list[_Candidate]]] = []
    for work, directory in users:
        found = work.found.setdefault(real, [])
        plot_id = work.job.plot_id
        if plot_id is not None and _PLOT_ID_RE.fullmatch(plot_id) is not None:
            by_plot_id.setdefault(plot_id, []).append((directory, found))
        if work.job.plotter == "bladebit2disk":
            bucket_users.append((work, directory, found))
    try:
        info = os.fstat(fd)
        dir_key = (info.st_dev, info.st_ino)
        with os.scandir(fd) as entries:
            for entry in entries:
                name = entry.name
                if not name.endswith(".tmp"):
                    continue  # every temp name ends so (match_temp_name)
                # The users' plot ids that stand alone in the name (_has_plot_id), each once.
                ids = [i for i in set(_STANDALONE_ID_RE.findall(name)) if i in by_plot_id]
                st = None
                if ids:
                    st = _regular_stat(entry)
                    if st is None:
                        continue
                    for plot_id in ids:
                        for directory, found in by_plot_id[plot_id]:
                            found.append(
                                _Candidate(directory, dir_key, name, st.st_ino, st.st_size)
                            )
                if bucket_users:
                    _take_bucket_file(entry, st, ids, real, dir_key, bucket_users)
    except OSError as error:
        for work, directory in users:
            work.unreadable.append(
                f"{directory.shown}: {error.strerror or error}; listing incomplete"
            )
    finally:
        os.close(fd)


def _regular_stat(entry: os.DirEntry[str]) -> os.stat_result | None:
    """The entry's lstat if it is a regular file: a symlink (to anywhere), a dir or a FIFO is
    never a job's. None also when it is gone since the listing."""
    try:
        if not entry.is_file(follow_symlinks=False):
            return None  # known from the listing (d_type): no stat needed
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _take_bucket_file(
    entry: os.DirEntry[str],
    st: os.stat_result | None,
    ids: Sequence[str],
    real: str,
    dir_key: tuple[int, int],
    bucket_users: Sequence[tuple[_Work, _Dir, list[_Candidate]]],
) -> None:
    """Offer a name to the BladeBit diskplot jobs that use the dir but did not take it by id."""
    for work, directory, found in bucket_users:
        job = work.job
        if job.plot_id in ids:
            continue  # taken by its plot id already
        match = _match_in(job, entry.name, directory.roles)
        if match is None:
            continue
        if st is None:
            st = _regular_stat(entry)
            if st is None:
                return
        if match is NameMatch.BLADEBIT_BUCKET:
            if real in work.shared:
                work.bucket_skipped.add(real)
                continue
            if st.st_mtime < job.started_at - _MTIME_SLACK_S:
                continue  # left by an earlier run: not this job's
        found.append(_Candidate(directory, dir_key, entry.name, st.st_ino, st.st_size))


def _match_in(job: Job, name: str, roles: Sequence[DirRole]) -> NameMatch | None:
    """The strongest match of a name over every role its dir plays for the job."""
    best = None
    for role in roles:
        match = match_temp_name(job.plotter, name, job.plot_id, role)
        if match is NameMatch.PLOT_ID:
            return match
        best = best or match
    return best


def _open_dir(path: str) -> int:
    # Listing and deleting relative to this descriptor keeps every file directly in this very
    # dir, even if a path component is swapped for a symlink meanwhile.
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))


def _dirs_used_by_others(job: Job, jobs: Sequence[Job], real_paths: dict[str, str]) -> set[str]:
    """Real paths of every dir another job (any plotter) uses."""
    used: set[str] = set()
    for other in jobs:
        if other.pid == job.pid and other.started_at == job.started_at:
            continue
        for path in (other.tmp_dir, other.tmp2_dir, other.dst_dir):
            if path and sane_path(path) is not None and os.path.isabs(path):
                used.add(_real_path(path, real_paths))
    return used


def _running_jobs() -> Sequence[Job]:
    """Every plot job running now, dirs as their command lines say (no logs needed)."""
    # Imported here: control is used by commands that need no scanner otherwise.
    from plotman_tui.farm.discovery import Scanner

    return Scanner(None).scan().jobs


def _delete(candidates: Sequence[_Candidate]) -> tuple[list[str], int, list[str]]:
    """Delete each file that is still the one listed; (deleted paths, bytes freed, errors)."""
    deleted: list[str] = []
    errors: list[str] = []
    freed = 0
    by_dir: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        by_dir.setdefault(candidate.dir.real, []).append(candidate)
    for real, group in by_dir.items():
        shown = group[0].dir.shown
        try:
            fd = _open_dir(real)
        except OSError as error:
            errors.append(f"{shown}: {error.strerror or error}; nothing deleted there")
            continue
        try:
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) != group[0].dir_key:
                errors.append(f"{shown}: replaced by another dir since it was listed; skipped")
                continue
            for candidate in group:
                try:
                    st = os.stat(candidate.name, dir_fd=fd, follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode) or st.st_ino != candidate.inode:
                        continue  # replaced since the listing: not the file we judged
                    os.unlink(candidate.name, dir_fd=fd)
                except FileNotFoundError:
                    continue  # already gone: nothing to free
                except OSError as error:
                    errors.append(f"could not delete {candidate.path}: {error.strerror or error}")
                    continue
                deleted.append(candidate.path)
                freed += st.st_size
        finally:
            os.close(fd)
    return deleted, freed, errors


# -- words ---------------------------------------------------------------------------------------


def _label(job: Job) -> str:
    if job.plot_id:
        return f"job {job.plot_id[:8]} (pid {job.pid})"
    return f"the job with pid {job.pid}"


def _unlisted(error: Exception) -> str:
    return f"its temp files could not be listed ({type(error).__name__}: {error})"


def _files(count: int) -> str:
    return f"{count} temp file{'' if count == 1 else 's'}"
