"""The dirs as both front ends show them: one view model for ``dirs``, ``dsched`` and the
dashboard's tmp, dst and archive tables.

Rows are computed here from the config, the jobs and the dirs' last sample (``DirInfo``; the
archive targets' ``TargetSpace``); the CLI lays them out as plain text (``report``), the
dashboard as table cells (``tui.widgets``). Free of rich and textual. Only :func:`match_dirs`
and :func:`sample_dirs` touch the disk; every other function is pure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from plotman_tui.config.schema import Config
from plotman_tui.farm.archive.policy import DstRank, DstState, PlotCandidate, dst_priority
from plotman_tui.farm.dirs import DirInfo, inspect_dir
from plotman_tui.farm.model import Job, distinct_dirs
from plotman_tui.farm.scheduler import tmp_dir_problem
from plotman_tui.farm.units import common_prefix, human_bytes

if TYPE_CHECKING:
    from plotman_tui.farm.archive.space import TargetSpace
    from plotman_tui.farm.archive.transfer import RunningTransfer

# -- the configured dirs -------------------------------------------------------------------------


def configured_tmp_dirs(config: Config) -> list[str]:
    return distinct_dirs(*(os.fspath(path) for path in config.directories.tmp))


def configured_tmp2_dir(config: Config) -> str | None:
    tmp2 = config.directories.tmp2
    return os.path.normpath(os.fspath(tmp2)) if tmp2 else None


def configured_dst_dirs(config: Config) -> list[str]:
    return distinct_dirs(*(os.fspath(path) for path in config.directories.dst_or_tmp))


def configured_dirs(config: Config) -> tuple[list[str], list[str]]:
    """The dirs to sample: the tmp dirs with the tmp2 dir, and the dst dirs."""
    tmp2 = configured_tmp2_dir(config)
    return [*configured_tmp_dirs(config), *([tmp2] if tmp2 else [])], configured_dst_dirs(config)


def configured_archive_dirs(config: Config) -> list[str]:
    """The archive dirs of every active target, in config order (farmer paths)."""
    return [d for target in config.archiving.active_targets for d in target.archive_dirs]


def archive_prefix(config: Config) -> str:
    """The prefix the archive dirs share (what the dashboard's archive table leaves out)."""
    return common_prefix(configured_archive_dirs(config))


def sample_dirs(tmp: Sequence[str], dst: Sequence[str]) -> dict[str, DirInfo]:
    """Free space of each dir, and the finished plots of the dst dirs, by dir."""
    infos = {path: inspect_dir(path) for path in tmp if path not in dst}
    infos.update((path, inspect_dir(path, count_plots=True)) for path in dst)
    return infos


def match_dirs(jobs: Sequence[Job], configured: Sequence[str]) -> dict[str, str]:
    """Job dirs that are configured dirs under another name (a symlink, a trailing slash),
    mapped to the configured dir's name; resolving them touches the disk, so the dashboard
    calls this in a worker thread."""
    known = {os.path.normpath(path) for path in configured}
    names = {path for job in jobs for path in (job.tmp_dir, job.tmp2_dir, job.dst_dir) if path}
    unknown = [name for name in names if os.path.normpath(name) not in known]
    if not unknown:
        return {}
    by_real = {os.path.realpath(path): path for path in sorted(known)}
    found = {}
    for name in unknown:
        real = by_real.get(os.path.realpath(name))
        if real is not None:
            found[name] = real
    return found


def placed(path: str | None, dir_of: Mapping[str, str]) -> str | None:
    """Which configured dir a job's dir is (by ``dir_of``), else the dir itself, normalised."""
    if not path:
        return None
    return dir_of.get(path) or os.path.normpath(path)


def jobs_by_dir(
    jobs: Sequence[Job], dir_of: Mapping[str, str], dir_field: Callable[[Job], str | None]
) -> dict[str | None, list[Job]]:
    """The jobs grouped by the configured dir ``dir_field`` places them in (one pass)."""
    grouped: dict[str | None, list[Job]] = {}
    for job in jobs:
        grouped.setdefault(placed(dir_field(job), dir_of), []).append(job)
    return grouped


def phases_text(jobs: Sequence[Job]) -> str:
    """The jobs' phases in order, ``?`` for each unknown one; ``-`` for no job."""
    phases = sorted(job.phase for job in jobs if job.phase is not None)
    unknown = sum(1 for job in jobs if job.phase is None)
    parts = [str(phase) for phase in phases] + ["?"] * unknown
    return " ".join(parts) if parts else "-"


# -- tmp dirs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TmpRow:
    """A tmp dir (or the tmp2 dir), its jobs and whether a new job may start there."""

    path: str
    role: str  # "tmp" or "tmp2"
    jobs: int
    phases: str
    free_bytes: int | None
    error: str | None
    ready: bool | None  # None: cannot tell (free space unknown), or not scheduled (tmp2)
    why: str
    total_bytes: int | None = None


def tmp_readiness(
    config: Config, tmp_dir: str, jobs_here: Sequence[Job], free: int | None
) -> tuple[bool | None, str]:
    """Whether the scheduler would start a job in ``tmp_dir`` now, going by the dir alone
    (``scheduler.tmp_dir_problem``: max jobs, the phase limit before the milestone, free
    space); the global limits (max jobs, stagger) are the status line's business.
    ``None``: the dir's limits allow a job, but its free space is unknown."""
    phases = [job.phase for job in jobs_here]
    limit = tmp_dir_problem(config, tmp_dir, phases, sys.maxsize)
    if limit is not None:
        return False, limit
    if free is None:
        return None, "free space unknown"
    problem = tmp_dir_problem(config, tmp_dir, phases, free)
    return (False, problem) if problem is not None else (True, "ready")


def tmp_rows(
    config: Config,
    jobs: Sequence[Job],
    dir_of: Mapping[str, str],
    infos: Mapping[str, DirInfo],
) -> list[TmpRow]:
    """Every configured tmp dir, then the tmp2 dir (when set), in config order."""
    rows = []
    by_tmp = jobs_by_dir(jobs, dir_of, lambda job: job.tmp_dir)
    for path in configured_tmp_dirs(config):
        here = by_tmp.get(path, [])
        info = infos.get(path)
        if info is None:
            rows.append(TmpRow(path, "tmp", len(here), phases_text(here), None, None, None, "?"))
            continue
        ready, why = tmp_readiness(config, path, here, info.free_bytes)
        rows.append(
            TmpRow(
                path,
                "tmp",
                len(here),
                phases_text(here),
                info.free_bytes,
                info.error,
                ready,
                why,
                info.total_bytes,
            )
        )
    tmp2 = configured_tmp2_dir(config)
    if tmp2 is not None:
        here = jobs_by_dir(jobs, dir_of, lambda job: job.tmp2_dir).get(tmp2, [])
        info = infos.get(tmp2)
        rows.append(
            TmpRow(
                tmp2,
                "tmp2",
                len(here),
                phases_text(here),
                info.free_bytes if info is not None else None,
                info.error if info is not None else None,
                None,
                "shared tmp2",
                info.total_bytes if info is not None else None,
            )
        )
    return rows


# -- dst dirs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DstRow:
    """A dst dir, its finished plots and the jobs headed there (``inbound``: running jobs
    whose plot will land there; a finished job's plot is already counted in ``plots``).

    ``priority``: the archive priority (plotman's; None: archiving is off, or no sample yet);
    ``archive_next``: this dir's plots are the next ones archiving takes. ``configured``
    False: a dir jobs write to that the config does not name (``path`` ``?``: a job whose
    dst dir is not known).
    """

    path: str
    plots: int | None  # None: not counted yet
    plot_bytes: int
    free_bytes: int | None
    error: str | None
    inbound: int
    phases: str
    priority: int | None = None
    archive_next: bool = False
    total_bytes: int | None = None
    configured: bool = True
    #: ``(level, count)`` of the finished plots by compression level (0: uncompressed).
    plot_levels: tuple[tuple[int, int], ...] = ()


def dst_rows(
    config: Config,
    jobs: Sequence[Job],
    dir_of: Mapping[str, str],
    infos: Mapping[str, DirInfo],
    *,
    with_priority: bool = False,
    with_unconfigured: bool = False,
) -> list[DstRow]:
    """Every configured dst dir in config order; ``with_unconfigured``: then the other dirs
    running jobs write to, by name."""
    ranks = dst_ranks(config, jobs, dir_of, infos) if with_priority else {}
    # The dir archiving reads next: the highest priority among those with plots to take.
    next_dir = next((rank.path for rank in ranks.values() if rank.plot_count), None)
    rows = []
    by_dst = jobs_by_dir([job for job in jobs if not job.completed], dir_of, lambda j: j.dst_dir)
    configured = configured_dst_dirs(config)
    for path in configured:
        inbound = by_dst.get(path, [])
        info = infos.get(path)
        rank = ranks.get(path)
        rows.append(
            DstRow(
                path=path,
                plots=info.plots if info is not None else None,
                plot_bytes=info.plot_bytes if info is not None else 0,
                free_bytes=info.free_bytes if info is not None else None,
                error=info.error if info is not None else None,
                inbound=len(inbound),
                phases=phases_text(inbound),
                priority=rank.priority if rank is not None else None,
                archive_next=path == next_dir,
                total_bytes=info.total_bytes if info is not None else None,
                plot_levels=info.plot_levels if info is not None else (),
            )
        )
    if with_unconfigured:
        others = sorted(
            (path or "?", jobs) for path, jobs in by_dst.items() if path not in configured
        )
        for path, inbound in others:
            rows.append(
                DstRow(
                    path=path,
                    plots=None,
                    plot_bytes=0,
                    free_bytes=None,
                    error=None,
                    inbound=len(inbound),
                    phases=phases_text(inbound),
                    configured=False,
                )
            )
    return rows


def plots_text(row: DstRow) -> str:
    """A dst dir's finished plots: ``12 (1.2T)``, and with plots of more than one compression
    level how many of each, the most first: ``12 (1.2T; C7 10, C0 2)``; ``?``: not counted."""
    if row.plots is None:
        return "?"
    size = human_bytes(row.plot_bytes, short=True)
    if len(row.plot_levels) < 2:  # one level: the count says it all
        return f"{row.plots} ({size})"
    ordered = sorted(row.plot_levels, key=lambda pair: (-pair[1], -pair[0]))
    levels = ", ".join(f"C{level} {count}" for level, count in ordered)
    return f"{row.plots} ({size}; {levels})"


def dst_ranks(
    config: Config,
    jobs: Sequence[Job],
    dir_of: Mapping[str, str],
    infos: Mapping[str, DirInfo],
) -> dict[str, DstRank]:
    """Each sampled dst dir's archive priority (``policy.dst_priority``), highest first.

    From the dirs' last sample (free space and the plots counted there, each taken at the
    dir's mean plot size) and the jobs' phases: no disk is touched. A dir that could not be
    read is left out (archiving takes nothing from it either).
    """
    states = []
    for path in configured_dst_dirs(config):
        info = infos.get(path)
        if info is None or info.error is not None:
            continue
        size = info.plot_bytes // info.plots if info.plots else 0
        plots = tuple(
            PlotCandidate(path=f"{path}/#{index}", dst_dir=path, size_bytes=size, mtime=0.0, k=0)
            for index in range(info.plots)
        )
        states.append(DstState(path, info.free_bytes, plots))
    if not states:
        return {}
    if dir_of:  # jobs that name a configured dst dir by another name count for it
        jobs = [replace(job, dst_dir=placed(job.dst_dir, dir_of)) for job in jobs]
    return {rank.path: rank for rank in dst_priority(states, jobs)}


# -- archive dirs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveRow:
    """One archive dir of a target.

    ``first``: the target's first dir (the dashboard names the target there only); ``level``
    is ``ok``, ``busy`` (a transfer is on its way there: ``← pid N``), ``unknown`` (no sample
    yet) or ``problem`` (``note`` says which: ``unreachable``, ``host key refused``,
    ``missing`` ...).
    """

    key: str
    target: str
    path: str
    free_bytes: int | None
    note: str
    level: str
    first: bool = True


def pids_text(pids: Sequence[int]) -> str:
    return ("pid " if len(pids) == 1 else "pids ") + ", ".join(str(pid) for pid in pids)


def space_problem_note(space: TargetSpace) -> str:
    """A target-wide problem in a table cell's words (the whole reason is said elsewhere)."""
    problem = space.problem or ""
    if not space.reachable:
        return "unreachable"
    if "host key" in problem:
        return "host key refused"
    if "login" in problem.lower():
        return "login refused"
    return "not read"


def archive_rows(
    config: Config,
    spaces: Mapping[str, TargetSpace | None],
    transfers: Sequence[RunningTransfer] = (),
    *,
    unread: str = "not read yet",
) -> list[ArchiveRow]:
    """Every archive dir of every active target with its free space, or why it is unknown
    (``spaces``: each target's last sample by name; missing or None: ``unread``, the note),
    and the transfers on their way there."""
    receiving: dict[tuple[str | None, str], list[int]] = {}
    for transfer in transfers:
        if transfer.archive_dir:
            key = (transfer.target, os.path.normpath(transfer.archive_dir))
            receiving.setdefault(key, []).append(transfer.pid)
    rows = []
    for target in config.archiving.active_targets:
        space = spaces.get(target.name)
        for index, directory in enumerate(target.archive_dirs):
            free: int | None = None
            if space is None:
                note, level = unread, "unknown"
            elif space.problem is not None:
                note, level = space_problem_note(space), "problem"
            elif directory in space.dir_problems:
                note, level = space.dir_problems[directory], "problem"
            else:
                free = space.free_bytes.get(directory)
                pids = receiving.get((target.name, os.path.normpath(directory)), [])
                note, level = (f"← {pids_text(pids)}", "busy") if pids else ("", "ok")
            rows.append(
                ArchiveRow(
                    key=f"{target.name}\n{directory}",
                    target=target.name,
                    path=directory,
                    free_bytes=free,
                    note=note,
                    level=level,
                    first=index == 0,
                )
            )
    return rows
