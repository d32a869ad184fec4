"""What the dashboard shows, computed from the engine's data.

Plain functions over the model (no textual here), so the rules are tested without a screen:
the jobs table's columns (``report.status_columns``, plus a sort key each), ordering and
filtering, the phase histogram's bins, the tmp, dst and archive tables' rows, and the status
line's words.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from plotman_tui.config.schema import Config
from plotman_tui.farm.actionlog import ActionEntry
from plotman_tui.farm.archive.policy import DstRank, DstState, PlotCandidate, dst_priority
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.events import Event
from plotman_tui.farm.model import Job, Snapshot, distinct_dirs
from plotman_tui.farm.scheduler import Decision, Start, Wait, tmp_limits, tmp_need_bytes
from plotman_tui.farm.units import common_prefix, human_bytes, human_duration
from plotman_tui.plotters.phase import Phase
from plotman_tui.report import Column, phases_text, status_columns

if TYPE_CHECKING:
    from plotman_tui.farm.archive.engine import ArchivePassResult
    from plotman_tui.farm.archive.space import TargetSpace

#: How many action log entries the dashboard keeps and shows.
ACTIONS_KEPT = 200

# -- jobs ----------------------------------------------------------------------------------------


def job_key(job: Job) -> str:
    """A job's identity across scans: a reused pid with a new create time is another job."""
    return f"{job.pid}@{job.started_at:.3f}"


#: Columns whose cells move by themselves, second by second (times, space, memory): the
#: jobs table shows them afresh less often than a look (phases and states show at once).
SLOW_COLUMNS = frozenset({"wall", "tmp#2", "mem", "user", "sys", "io"})

#: Names of columns whose title says too little on its own (the sort order names them).
COLUMN_NAMES: dict[str, str] = {
    "tmp": "tmp dir",
    "dst": "dst dir",
    "tmp#2": "temp space",
    "stat": "state",
}


@dataclass(frozen=True)
class JobColumn:
    """A column of the jobs table: ``report``'s column and a unique id."""

    id: str
    column: Column

    @property
    def title(self) -> str:
        return self.column.title

    @property
    def name(self) -> str:
        return COLUMN_NAMES.get(self.id, self.id)


def job_columns(tmp_prefix: str, dst_prefix: str) -> list[JobColumn]:
    """The ``status`` command's columns, each with an id (a repeated title gets "#2")."""
    columns: list[JobColumn] = []
    seen: dict[str, int] = {}
    for column in status_columns(tmp_prefix, dst_prefix):
        seen[column.title] = seen.get(column.title, 0) + 1
        column_id = (
            column.title if seen[column.title] == 1 else f"{column.title}#{seen[column.title]}"
        )
        columns.append(JobColumn(column_id, column))
    return columns


@dataclass(frozen=True)
class SortOrder:
    """How the jobs table is sorted: by a column id, or (None) as the scan lists jobs."""

    column: str | None = None
    descending: bool = False

    def describe(self, columns: Sequence[JobColumn]) -> str:
        if self.column is None:
            return "youngest first"
        name = next((c.name for c in columns if c.id == self.column), self.column)
        return f"by {name} {'▼' if self.descending else '▲'}"

    def next_column(self, columns: Sequence[JobColumn]) -> SortOrder:
        """The next column in table order; after the last, back to the scan's order."""
        ids = [column.id for column in columns]
        if self.column not in ids:
            return SortOrder(ids[0]) if ids else SortOrder()
        index = ids.index(self.column) + 1
        return SortOrder(ids[index]) if index < len(ids) else SortOrder()

    def by(self, column_id: str) -> SortOrder:
        """Sort by ``column_id``: ascending, or flipped when it is already the sort column."""
        if self.column == column_id:
            return SortOrder(column_id, not self.descending)
        return SortOrder(column_id)

    def reversed(self) -> SortOrder:
        return SortOrder(self.column, not self.descending)


def ordered_jobs(jobs: Sequence[Job], columns: Sequence[JobColumn], order: SortOrder) -> list[Job]:
    """Jobs in display order; ties keep the scan's order (youngest first)."""
    found = next((c for c in columns if c.id == order.column), None)
    if found is None:
        return list(jobs)
    rank = {job_key(job): index for index, job in enumerate(jobs)}
    ordered = sorted(jobs, key=lambda job: rank[job_key(job)])
    return sorted(ordered, key=found.column.sort_value, reverse=order.descending)


def job_matches(job: Job, text: str, columns: Sequence[JobColumn]) -> bool:
    """Whether a job shows under the filter ``text`` (case-insensitive, any word anywhere).

    Each word of the filter must occur in the job's cells, its full plot id, dirs or command.
    """
    words = text.lower().split()
    if not words:
        return True
    haystack = " ".join(
        [
            *(column.column.cell(job) for column in columns),
            job.plot_id or "",
            job.tmp_dir or "",
            job.tmp2_dir or "",
            job.dst_dir or "",
            str(job.pid),
            " ".join(job.argv),
        ]
    ).lower()
    return all(word in haystack for word in words)


# -- dirs ----------------------------------------------------------------------------------------


def configured_tmp_dirs(config: Config) -> list[str]:
    return distinct_dirs(*(os.fspath(path) for path in config.directories.tmp))


def configured_tmp2_dir(config: Config) -> str | None:
    tmp2 = config.directories.tmp2
    return os.path.normpath(os.fspath(tmp2)) if tmp2 else None


def configured_dst_dirs(config: Config) -> list[str]:
    return distinct_dirs(*(os.fspath(path) for path in config.directories.dst_or_tmp))


def dir_prefixes(config: Config, jobs: Sequence[Job]) -> tuple[str, str]:
    """The shared prefixes of the tmp dirs and of the dst dirs (configured and the jobs')."""
    tmp2 = configured_tmp2_dir(config)
    tmp = common_prefix(
        [*configured_tmp_dirs(config), *(job.tmp_dir for job in jobs), *([tmp2] if tmp2 else [])]
    )
    dst = common_prefix([*configured_dst_dirs(config), *(job.dst_dir for job in jobs)])
    return tmp, dst


def short_dir(path: str, prefix: str) -> str:
    """``path`` without ``prefix`` (``.`` when they are the same dir)."""
    if prefix and path.startswith(prefix):
        return path[len(prefix) :] or "."
    return path


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


@dataclass(frozen=True)
class TmpRow:
    """A row of the tmp table: a tmp dir (or the tmp2 dir), its jobs and whether it is ready."""

    path: str
    role: str  # "tmp" or "tmp2"
    jobs: int
    phases: str
    free_bytes: int | None
    error: str | None
    ready: bool | None  # None: cannot tell (free space unknown), or not scheduled (tmp2)
    why: str


@dataclass(frozen=True)
class DstRow:
    """A row of the dst table: a dst dir, its finished plots and the jobs headed there.

    ``priority``: the archive priority (plotman's; None: archiving is off, or no sample yet);
    ``archive_next``: this dir's plots are the next ones archiving takes.
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


def tmp_readiness(
    config: Config, tmp_dir: str, jobs_here: Sequence[Job], free: int | None
) -> tuple[bool | None, str]:
    """Whether the scheduler would start a job in ``tmp_dir`` now, going by the dir alone.

    The same per-dir rules as ``scheduler.decide`` (max jobs, the phase limit before the
    milestone, free space); global limits (max jobs, stagger) are the status line's business.
    """
    limits = tmp_limits(config, tmp_dir)
    before = sum(1 for job in jobs_here if job.phase is None or job.phase < limits.milestone)
    if len(jobs_here) >= limits.max_jobs:
        return False, f"max jobs {limits.max_jobs}"
    if before >= limits.phase_limit:
        return False, f"{before} before {limits.milestone}"
    if free is None:
        return None, "free space unknown"
    needed = tmp_need_bytes(config)
    if free < needed:
        return False, f"{human_bytes(free)} free, needs {human_bytes(needed)}"
    return True, "ready"


def tmp_rows(
    config: Config,
    jobs: Sequence[Job],
    dir_of: Mapping[str, str],
    infos: Mapping[str, DirInfo],
) -> list[TmpRow]:
    rows = []
    by_tmp = jobs_by_dir(jobs, dir_of, lambda job: job.tmp_dir)
    for path in configured_tmp_dirs(config):
        here = by_tmp.get(path, [])
        info = infos.get(path)
        free = info.free_bytes if info is not None else None
        if info is None:
            ready, why = None, "?"
        else:
            ready, why = tmp_readiness(config, path, here, free)
        error = info.error if info is not None else None
        rows.append(TmpRow(path, "tmp", len(here), phases_text(here), free, error, ready, why))
    tmp2 = configured_tmp2_dir(config)
    if tmp2 is not None:
        here = jobs_by_dir(jobs, dir_of, lambda job: job.tmp2_dir).get(tmp2, [])
        info = infos.get(tmp2)
        rows.append(
            TmpRow(
                tmp2,
                "tmp2",
                len(here),
                "",  # every job's phase again: the tmp dirs' rows say it
                info.free_bytes if info is not None else None,
                info.error if info is not None else None,
                None,
                "shared tmp2",
            )
        )
    return rows


def dst_rows(
    config: Config,
    jobs: Sequence[Job],
    dir_of: Mapping[str, str],
    infos: Mapping[str, DirInfo],
    *,
    with_priority: bool = False,
) -> list[DstRow]:
    ranks = dst_ranks(config, jobs, dir_of, infos) if with_priority else {}
    # The dir archiving reads next: the highest priority among those with plots to take.
    next_dir = next((rank.path for rank in ranks.values() if rank.plot_count), None)
    rows = []
    by_dst = jobs_by_dir([job for job in jobs if not job.completed], dir_of, lambda j: j.dst_dir)
    for path in configured_dst_dirs(config):
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
            )
        )
    return rows


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


# -- archiving -----------------------------------------------------------------------------------


def configured_archive_dirs(config: Config) -> list[str]:
    """The archive dirs of every active target, in config order (farmer paths)."""
    return [d for target in config.archiving.active_targets for d in target.archive_dirs]


def archive_prefix(config: Config) -> str:
    """The prefix the archive dirs share (left out of the archive table, shown in the
    prefixes line)."""
    return common_prefix(configured_archive_dirs(config))


def _pids(pids: Sequence[int]) -> str:
    return ("pid " if len(pids) == 1 else "pids ") + ", ".join(str(pid) for pid in pids)


@dataclass(frozen=True)
class ArchiveRow:
    """A row of the archive table: one archive dir of a target.

    ``target`` is the target's name on its first dir and empty on the others; ``level`` is
    ``ok``, ``busy`` (a transfer is on its way there: ``← pid N``), ``unknown`` (no sample
    yet) or ``problem`` (``note`` says which: ``unreachable``, ``host key refused``,
    ``missing`` ...).
    """

    key: str
    target: str
    path: str
    free_bytes: int | None
    note: str
    level: str


def space_problem_note(space: TargetSpace) -> str:
    """A target-wide problem in a table cell's words (the status line has the whole reason)."""
    problem = space.problem or ""
    if not space.reachable:
        return "unreachable"
    if "host key" in problem:
        return "host key refused"
    if "login" in problem.lower():
        return "login refused"
    return "not read"


def archive_rows(config: Config, result: ArchivePassResult | None) -> list[ArchiveRow]:
    """Every archive dir of every active target with its free space, or why it is unknown."""
    spaces: Mapping[str, TargetSpace | None] = result.spaces if result is not None else {}
    receiving: dict[tuple[str | None, str], list[int]] = {}
    for transfer in result.transfers if result is not None else ():
        if transfer.archive_dir:
            key = (transfer.target, os.path.normpath(transfer.archive_dir))
            receiving.setdefault(key, []).append(transfer.pid)
    rows = []
    for target in config.archiving.active_targets:
        space = spaces.get(target.name)
        for index, directory in enumerate(target.archive_dirs):
            free: int | None = None
            if space is None:
                note, level = "not read yet", "unknown"
            elif space.problem is not None:
                note, level = space_problem_note(space), "problem"
            elif directory in space.dir_problems:
                note, level = space.dir_problems[directory], "problem"
            else:
                free = space.free_bytes.get(directory)
                pids = receiving.get((target.name, os.path.normpath(directory)), [])
                note, level = (f"← {_pids(pids)}", "busy") if pids else ("", "ok")
            rows.append(
                ArchiveRow(
                    key=f"{target.name}\n{directory}",
                    target=target.name if index == 0 else "",
                    path=directory,
                    free_bytes=free,
                    note=note,
                    level=level,
                )
            )
    return rows


# -- the phase histogram -------------------------------------------------------------------------

#: plotman's strip: chia's phases 1:0-1:7, 2:0-2:7, 3:0-3:6 and 4:0, one bin each.
PLOTMAN_PHASES: tuple[Phase, ...] = (
    *(Phase(1, minor) for minor in range(8)),
    *(Phase(2, minor) for minor in range(8)),
    *(Phase(3, minor) for minor in range(7)),
    Phase(4, 0),
)


@dataclass(frozen=True)
class PhaseBin:
    """How many jobs are at ``phase`` (None: phase unknown)."""

    phase: Phase | None
    count: int


def phase_bins(jobs: Sequence[Job]) -> list[PhaseBin]:
    """plotman's bins, plus any other phase a job is at (in order), plus unknown when any."""
    counts: dict[Phase, int] = dict.fromkeys(PLOTMAN_PHASES, 0)
    unknown = 0
    for job in jobs:
        if job.phase is None:
            unknown += 1
        else:
            counts[job.phase] = counts.get(job.phase, 0) + 1
    bins: list[PhaseBin] = [PhaseBin(phase, counts[phase]) for phase in sorted(counts)]
    if unknown:
        bins.append(PhaseBin(None, unknown))
    return bins


# -- the status line -----------------------------------------------------------------------------


@dataclass
class PlottingState:
    """What the status line says about plotting; kept by the app from pass to pass."""

    enabled: bool
    holds_lock: bool | None = None  # None: no pass yet
    lock_note: str = ""  # the engine's word on who starts jobs, when it is not us
    decision: Decision | None = None  # the last scheduling pass's
    last_start: float | None = None
    error: str | None = None  # the last pass failed with this


def plotting_words(state: PlottingState, now: float) -> tuple[str, str]:
    """``("active" | "paused", detail)`` for ``Plotting: <word> <detail>``.

    The word is the pause switch; the detail is why nothing starts, or when the last job did.
    """
    word = "active" if state.enabled else "paused"
    last = (
        f"last start {human_duration(now - state.last_start)} ago"
        if state.last_start is not None
        else "no start yet"
    )
    if state.error is not None:
        return word, f"pass failed: {state.error}"
    if state.holds_lock is False:
        note = state.lock_note or "another process starts the plot jobs"
        return word, f"monitoring only: {note}"
    if not state.enabled:
        return word, f"({last})"
    decision = state.decision
    if isinstance(decision, Start):
        return word, f"starting a job: {decision.reason}"
    if isinstance(decision, Wait):
        return word, f"waiting: {decision.reason}; {last}"
    return word, f"({last})"


@dataclass
class ArchivingState:
    """What the status line says about archiving; kept by the app from pass to pass.

    ``configured``: the config has archiving on with an enabled target (else ``not set up``).
    """

    configured: bool
    enabled: bool
    result: ArchivePassResult | None = None  # the last pass's
    lock_note: str = ""  # the engine's word on who moves the plots, when it is not us
    error: str | None = None  # the last pass failed with this


def archiving_words(state: ArchivingState) -> tuple[str, str]:
    """``(word, detail)`` for ``Archiving: <word> <detail>``.

    The word is ``active`` (transfers under way; the detail names their pids), ``paused``
    (the switch is off; transfers under way finish), ``idle`` (the detail says why nothing
    moves) or ``not set up``.
    """
    if not state.configured:
        return "not set up", ""
    result = state.result
    pids = [transfer.pid for transfer in result.transfers] if result is not None else []
    word = "paused" if not state.enabled else "active" if pids else "idle"
    running = f"({_pids(pids)})" if pids else ""
    if state.error is not None:
        return word, f"pass failed: {state.error}"
    if not state.enabled:
        return word, f"({_pids(pids)} finishing)" if pids else ""
    if result is not None and not result.holds_lock:
        note = state.lock_note or "another process moves the plots"
        return word, f"{running} monitoring only: {note}".lstrip()
    if pids:
        return word, running
    if result is None:
        return word, "starting…"
    waits = [wait for wait in result.waits if wait.reason]
    named = len({wait.target for wait in waits}) > 1
    reasons = [
        f"{wait.target}: {wait.reason}" if named and wait.target else wait.reason for wait in waits
    ]
    return "idle", "; ".join(reasons) or "nothing to move"


def shown_signature(snapshot: Snapshot, dir_of: Mapping[str, str]) -> tuple[object, ...]:
    """What the tables show of a pass, but for the columns that move by themselves (times,
    space, memory: ``SLOW_COLUMNS``): equal signatures, nothing else to show."""
    jobs = tuple(
        (
            job.pid,
            job.started_at,
            job.phase,
            job.status,
            job.plot_id,
            job.plotter,
            job.k,
            job.tmp_dir,
            job.tmp2_dir,
            job.dst_dir,
            job.completed,
            job.problems,
        )
        for job in snapshot.jobs
    )
    return (snapshot.problems, tuple(sorted(dir_of.items())), jobs)


@dataclass
class DashboardState:
    """Everything the dashboard shows, as the workers last reported it."""

    snapshot: Snapshot = field(default_factory=lambda: Snapshot(jobs=(), updated=0.0))
    dir_of: Mapping[str, str] = field(default_factory=dict)
    dirs: dict[str, DirInfo] = field(default_factory=dict)
    dirs_taken_at: float | None = None
    last_pass_at: float | None = None  # the clock of the last pass that reached the screen
    #: The action log's newest entries, in the order they were read (oldest first), and the
    #: archiving engine's news that the action log does not hold (waits, lock, errors).
    actions: deque[ActionEntry | Event] = field(default_factory=lambda: deque(maxlen=ACTIONS_KEPT))
