"""What the dashboard shows, computed from the engine's data.

Plain functions over the model (no textual here), so the rules are tested without a screen:
the jobs table's columns (``report.status_columns``, plus a sort key each), ordering and
filtering, the phase histogram's bins, the dir tables' prefixes, and the status line's words.
The tmp, dst and archive tables' rows are :mod:`plotman_tui.dirview`'s (the ``dirs`` command
shows the same rows); the names the app takes from it are imported here ``as`` themselves.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Protocol

from plotman_tui import dirview
from plotman_tui.config.schema import Config
from plotman_tui.dirview import ArchiveRow, pids_text
from plotman_tui.dirview import archive_prefix as archive_prefix
from plotman_tui.dirview import configured_dst_dirs as configured_dst_dirs
from plotman_tui.dirview import configured_tmp2_dir as configured_tmp2_dir
from plotman_tui.dirview import configured_tmp_dirs as configured_tmp_dirs
from plotman_tui.dirview import dst_rows as dst_rows
from plotman_tui.dirview import tmp_rows as tmp_rows
from plotman_tui.farm.actionlog import ActionEntry
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.eta import UNKNOWN as UNKNOWN_ESTIMATE
from plotman_tui.farm.eta import Estimate
from plotman_tui.farm.events import Event
from plotman_tui.farm.history import History, PlotRecord
from plotman_tui.farm.history_stats import UNKNOWN as UNKNOWN_GROUP
from plotman_tui.farm.history_stats import DayTotal, Spread, per_day, summarize
from plotman_tui.farm.launches import StartFailures
from plotman_tui.farm.model import Job, Snapshot
from plotman_tui.farm.scheduler import Decision, Start, Wait
from plotman_tui.farm.units import common_prefix, human_duration, printable, short_time
from plotman_tui.plotters.phase import Phase
from plotman_tui.report import Column, fit_cell, replot_progress_text, status_columns

if TYPE_CHECKING:
    from plotman_tui.farm.archive.engine import ArchivePassResult
    from plotman_tui.farm.archive.replot import ReplotProgress

#: How many action log entries the dashboard keeps and shows.
ACTIONS_KEPT = 200

# -- jobs ----------------------------------------------------------------------------------------


def job_key(job: Job) -> str:
    """A job's identity across scans: a reused pid with a new create time is another job."""
    return f"{job.pid}@{job.started_at:.3f}"


#: Columns whose cells move by themselves, second by second (times, space, memory, progress):
#: the jobs table shows them afresh less often than a look (phases and states show at once).
SLOW_COLUMNS = frozenset({"wall", "tmp#2", "mem", "user", "sys", "io", "done", "eta"})

#: Names of columns whose title says too little on its own (the sort order names them).
COLUMN_NAMES: dict[str, str] = {
    "tmp": "tmp dir",
    "dst": "dst dir",
    "tmp#2": "temp space",
    "stat": "state",
    "done": "progress",
    "eta": "time left",
    "C": "compression",
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


def job_columns(
    tmp_prefix: str, dst_prefix: str, estimates: Mapping[str, Estimate] | None = None
) -> list[JobColumn]:
    """The ``status`` command's columns with its ``done`` and ``eta``, each with an id (a
    repeated title gets "#2"): each job's :class:`Estimate` is in ``estimates`` by
    :func:`job_key` (none: "-", as before the history is read)."""
    found = estimates if estimates is not None else {}
    return _with_ids(
        status_columns(
            tmp_prefix, dst_prefix, lambda job: found.get(job_key(job), UNKNOWN_ESTIMATE)
        )
    )


def _with_ids(columns: Sequence[Column]) -> list[JobColumn]:
    """Each column with its id: its title, a repeated title with "#2"."""
    shown: list[JobColumn] = []
    seen: dict[str, int] = {}
    for column in columns:
        seen[column.title] = seen.get(column.title, 0) + 1
        column_id = (
            column.title if seen[column.title] == 1 else f"{column.title}#{seen[column.title]}"
        )
        shown.append(JobColumn(column_id, column))
    return shown


@dataclass(frozen=True)
class SortOrder:
    """How the jobs table is sorted: by a column id, or (None) as the scan lists jobs
    (youngest first; ``descending``: oldest first)."""

    column: str | None = None
    descending: bool = False

    def describe(self, columns: Sequence[JobColumn]) -> str:
        if self.column is None:
            return "oldest first" if self.descending else "youngest first"
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
        return list(reversed(jobs)) if order.descending else list(jobs)
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
# The rows of the tmp, dst and archive tables are ``dirview``'s (the ``dirs`` command's too).


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


def archive_rows(config: Config, result: ArchivePassResult | None) -> list[ArchiveRow]:
    """The archive table's rows after the last archiving pass (None: no pass yet)."""
    if result is None:
        return dirview.archive_rows(config, {})
    return dirview.archive_rows(config, result.spaces, result.transfers)


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
    """plotman's bins, plus any other phase a job is at (in order), plus unknown when any.

    A major phase outside plotman's strip (``0:0`` before phase 1, ``5:x`` the final copy)
    gets every minor from 0 up to the furthest one a job is at, so each minor keeps its place:
    a job at 5:1 shows as ``5[·1]``, never as a lone ``1`` that reads as 5:0.
    """
    counts: dict[Phase, int] = dict.fromkeys(PLOTMAN_PHASES, 0)
    unknown = 0
    for job in jobs:
        if job.phase is None:
            unknown += 1
        else:
            counts[job.phase] = counts.get(job.phase, 0) + 1
    furthest: dict[int, int] = {}
    for phase in counts:
        furthest[phase.major] = max(furthest.get(phase.major, 0), phase.minor)
    for major, last in furthest.items():
        for minor in range(last + 1):
            counts.setdefault(Phase(major, minor), 0)
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
    start_failures: StartFailures | None = None  # the last pass's: starts fail, back off


def plotting_words(state: PlottingState, now: float) -> tuple[str, str]:
    """``("active" | "failing" | "paused", detail)`` for ``Plotting: <word> <detail>``.

    The word is the pause switch, or ``failing`` when plotting is switched on and cannot
    work: the starts fail (a missing plotter, jobs that die at once: ``backing off 4m: …``)
    or the pass itself failed. The detail is why nothing starts, or when the last job did.
    """
    word = "active" if state.enabled else "paused"
    last = (
        f"last start {human_duration(now - state.last_start)} ago"
        if state.last_start is not None
        else "no start yet"
    )
    if state.error is not None:
        paused = "" if state.enabled else " (plotting is paused)"
        return "failing", f"pass failed: {state.error}{paused}"
    failing = state.start_failures
    if state.holds_lock is False:
        note = state.lock_note or "another process starts the plot jobs"
        if failing is not None:  # the holder's: this dashboard's switch does not matter
            return "failing", f"{failing.describe(now)}; monitoring only: {note}"
        return word, f"monitoring only: {note}"
    if failing is not None:
        if state.enabled:
            return "failing", failing.describe(now)
        return word, f"({last}; {failing.failed()}: {failing.last_failure})"
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


def replot_lines(result: ArchivePassResult | None) -> tuple[str, ...]:
    """Each replotting target's progress in full words (the dirs screen's, as ``dirs`` says)."""
    if result is None:
        return ()
    return tuple(replot_progress_text(progress) for progress in result.replot.values())


def archive_problems(result: ArchivePassResult) -> dict[str, str]:
    """Each target in trouble, by name, and its trouble in one line: the farmer unreachable,
    its host key or the login refused (the sample's ``problem``), archive dirs missing or
    unreadable (``dir_problems``), its last transfers failed (``retrying``: backing off until
    one goes through). From the pass's fields, never from a wait's words."""
    problems: dict[str, str] = {}
    for name, space in result.spaces.items():
        failing = result.retrying.get(name)
        if space is not None and space.problem is not None:
            problems[name] = space.problem
        elif failing is not None:
            problems[name] = failing.describe(result.time, "transfer")
        if space is None or name in problems:
            continue  # not read yet: no news of its dirs, good or bad
        if space.dir_problems:
            # The dirs by what sets them apart from the target's others (``hdd02``).
            prefix = common_prefix(list(space.free_bytes) or list(space.dir_problems))
            listed = "; ".join(
                f"{short_dir(d, prefix)}: {why}" for d, why in space.dir_problems.items()
            )
            count = len(space.dir_problems)
            problems[name] = (
                f"archive dir {listed}" if count == 1 else f"{count} archive dirs ({listed})"
            )
    return problems


def archiving_words(state: ArchivingState) -> tuple[str, str]:
    """``(word, detail)`` for ``Archiving: <word> <detail>``.

    The word is ``active`` (transfers under way; the detail names their pids), ``paused``
    (the switch is off; transfers under way finish), ``error`` (a target cannot take plots:
    its farmer unreachable, its host key refused, an archive dir missing; or the pass
    failed; the detail names the target), ``idle`` (healthy, the detail says why nothing
    moves) or ``not set up``. Transfers under way while another target is in trouble are an
    ``error`` too: the detail says the trouble first, then the transfers.
    """
    if not state.configured:
        return "not set up", ""
    result = state.result
    pids = [transfer.pid for transfer in result.transfers] if result is not None else []
    running = f"({pids_text(pids)})" if pids else ""
    if state.error is not None:
        paused = "" if state.enabled else " (archiving is paused)"
        return "error", f"pass failed: {state.error}{paused}"
    problems = archive_problems(result) if result is not None else {}
    trouble = [f"{name}: {problem}" for name, problem in problems.items()]
    # A target's trouble comes first: the detail is cut from its end on a narrow status line,
    # and the pids are on the archive summary too.
    if not state.enabled:
        finishing = [f"({pids_text(pids)} finishing)"] if pids else []
        return "paused", "; ".join(trouble + finishing)
    # A target in trouble makes archiving an error even while others' transfers run: at a
    # glance the farmer must see that some plots have nowhere to go (the detail says which,
    # and the transfers under way).
    word = "error" if trouble else "active" if pids else "idle"
    if result is not None and not result.holds_lock:
        note = state.lock_note or "another process moves the plots"
        return word, "; ".join(
            [*trouble, *([running] if running else []), f"monitoring only: {note}"]
        )
    if pids:
        return word, "; ".join([*trouble, running])
    if result is None:
        return word, "starting…"
    # A target the farmer's trouble or a back-off stops waits for that: said once, above.
    stopped = {name for name, space in result.spaces.items() if space and space.problem}
    stopped |= {name for name, failing in result.retrying.items() if result.time < failing.retry_at}
    waits = [w for w in result.waits if w.reason and w.target not in stopped]
    named = len({wait.target for wait in waits}) > 1 or bool(trouble)
    reasons = [
        f"{wait.target}: {wait.reason}" if named and wait.target else wait.reason for wait in waits
    ]
    return word, "; ".join(trouble + reasons) or "nothing to move"


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


# -- the history screen --------------------------------------------------------------------------

#: The history screen's charts cover this many local days, today the last.
HISTORY_DAYS = 30
#: The history screen's table: the plots that finished last, newest first.
LAST_PLOTS = 20
#: A duration longer than this, or a time past this, is no plot's: an untrusted log's number
#: (NaN, 1e999 and negative numbers are none either).
_MAX_SECONDS = 1e9
_MAX_TIMESTAMP = 1e10  # the year 2286


@dataclass(frozen=True)
class TmpTimes:
    """One tmp dir's finished plots: their phase 1–4 and total times (None: none known)."""

    tmp: str  # after the history's tmp prefix
    plots: int
    phases: tuple[Spread | None, Spread | None, Spread | None, Spread | None]
    total: Spread | None


@dataclass(frozen=True)
class FinishedRow:
    """A line of the table of the last plots: every cell's text."""

    key: str
    ended: str
    plot_id: str
    plotter: str
    k: str
    tmp: str
    phases: tuple[str, str, str, str]
    total: str
    copy: str


@dataclass(frozen=True)
class HistoryView:
    """What the history screen shows; ``reading``: no history read yet."""

    reading: bool
    plots: int = 0  # completed plots in the history
    unfinished: int = 0  # records of plots that did not finish
    skipped: int = 0  # files of the log dir that are no plot log
    days: tuple[DayTotal, ...] = ()
    tmp_prefix: str = ""
    tmp: tuple[TmpTimes, ...] = ()
    last: tuple[FinishedRow, ...] = ()


#: Before the first read of the log dir is over.
HISTORY_READING = HistoryView(reading=True)


def _within(value: float | None, most: float) -> float | None:
    """``value`` when a cell or a chart can show it (0 to ``most``), else None."""
    if value is None or not math.isfinite(value) or not 0 <= value <= most:
        return None
    return value


def _duration(seconds: float | None) -> str:
    return human_duration(_within(seconds, _MAX_SECONDS))


def _finished_row(record: PlotRecord, prefix: str, now: float) -> FinishedRow:
    ended = _within(record.ended_at, _MAX_TIMESTAMP)
    return FinishedRow(
        key=f"{record.log_path}\0{record.plot_id}",
        ended="-" if ended is None else short_time(ended, now),
        plot_id=record.plot_id[:8] or "?",
        plotter=record.plotter,
        k="-" if record.k is None else str(record.k),
        tmp="-" if not record.tmp_dir else short_dir(record.tmp_dir, prefix),
        phases=(
            _duration(record.phase1_seconds),
            _duration(record.phase2_seconds),
            _duration(record.phase3_seconds),
            _duration(record.phase4_seconds),
        ),
        total=_duration(record.total_seconds),
        copy=_duration(record.copy_seconds),
    )


def _label_prefix(paths: Sequence[str | None]) -> str:
    """The prefix the history screen leaves out of tmp dirs: their common one, less its last
    dir when that would leave names of a character or two (``tmp/0`` reads, ``0`` does not)."""
    prefix = common_prefix(paths)
    names = [short_dir(path, prefix) for path in paths if path]
    if prefix.rstrip("/") and all(len(name) <= 2 for name in names):
        parent = prefix.rstrip("/").rpartition("/")[0]
        return f"{parent}/"
    return prefix


#: A tmp dir's label on the history screen's charts is cut (from the left) to this many
#: characters: the charts keep their room.
CHART_LABEL_WIDTH = 16


def _chart_label(tmp_dir: str, prefix: str) -> str:
    """A tmp dir on a chart: after the prefix, cut from the left, controls shown as pictures
    (plotext's output is read back as ANSI: a dir named with a colour code must not be one)."""
    if tmp_dir == UNKNOWN_GROUP:
        return "no tmp dir"
    name = short_dir(tmp_dir, prefix)
    return printable(fit_cell(name, min(len(name), CHART_LABEL_WIDTH), False))


def history_view(history: History, now: float) -> HistoryView:
    """The history screen's charts and table from ``history`` at ``now`` (read in a worker
    thread: on 10,000 logs this is the heavy part after the read)."""
    completed = [record for record in history.records if record.completed]
    prefix = _label_prefix([record.tmp_dir for record in completed])
    tmp = tuple(
        TmpTimes(
            tmp=_chart_label(group.key[0], prefix),
            plots=group.plots_finished,
            phases=(
                group.spreads.get("phase1"),
                group.spreads.get("phase2"),
                group.spreads.get("phase3"),
                group.spreads.get("phase4"),
            ),
            total=group.spreads.get("total"),
        )
        for group in summarize(completed, ["tmp"])
    )
    newest = sorted(
        completed, key=lambda record: _within(record.ended_at, _MAX_TIMESTAMP) or 0.0, reverse=True
    )[:LAST_PLOTS]
    return HistoryView(
        reading=False,
        plots=len(completed),
        unfinished=len(history.records) - len(completed),
        skipped=len(history.skipped),
        days=tuple(per_day(completed, HISTORY_DAYS, now)),
        tmp_prefix=prefix,
        tmp=tmp,
        last=tuple(_finished_row(record, prefix, now) for record in newest),
    )


# -- the fleet -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostJob(Job):
    """A job of a fleet host: the host's own job, and the host's name (the fleet's jobs table,
    its ``host`` column and the keys, which act on that host)."""

    host: str = ""


def host_job(host: str, job: Job) -> HostJob:
    """``job`` as one of ``host``'s."""
    if type(job) is Job:
        # A host's whole scan comes anew every few seconds (50 jobs a host): its fields as
        # they are, without the frozen dataclass's __init__ setting each one (Job checks
        # nothing in it).
        made = object.__new__(HostJob)
        made.__dict__.update(job.__dict__, host=host)
        return made
    values = {name: getattr(job, name) for name in _JOB_FIELDS}
    return HostJob(**values, host=host)


_JOB_FIELDS = tuple(f.name for f in fields(Job))


def fleet_job_key(job: Job) -> str:
    """A fleet job's row: two hosts may have a job of the same pid and start."""
    return fleet_key(_host_of(job), job_key(job))


def fleet_key(host: str, key: str) -> str:
    """The fleet's key of ``host``'s job whose :func:`job_key` is ``key``."""
    return f"{host}\0{key}"


def _host_of(job: Job) -> str:
    return job.host if isinstance(job, HostJob) else ""


#: The fleet's jobs table's first column, never left out (the keys act on that host).
HOST_COLUMN = Column("host", 0, _host_of, sort_key=lambda job: (0, _host_of(job)))


def fleet_prefixes(jobs: Sequence[Job]) -> tuple[str, str]:
    """The tmp and dst dir prefixes every host's jobs share."""
    return common_prefix([job.tmp_dir for job in jobs]), common_prefix(
        [job.dst_dir for job in jobs]
    )


def fleet_columns(
    tmp_prefix: str, dst_prefix: str, estimates: Mapping[str, Estimate]
) -> list[JobColumn]:
    """The fleet's jobs table's columns: ``host``, then ``status``'s with ``done`` and ``eta``,
    dirs after the prefixes (:func:`fleet_prefixes`). Each job's :class:`Estimate` is in
    ``estimates`` by :func:`fleet_job_key`, as its host worked it out from its own history
    (none: "-"); the columns look it up as they draw, so a mapping that is kept up to date
    keeps the same columns."""
    return _with_ids(
        [
            HOST_COLUMN,
            *status_columns(
                tmp_prefix,
                dst_prefix,
                lambda job: estimates.get(fleet_job_key(job), UNKNOWN_ESTIMATE),
            ),
        ]
    )


# -- what a dashboard screen is fed --------------------------------------------------------------


class DashboardSource(Protocol):
    """What a dashboard screen shows, from wherever it comes: this machine's engines (the app)
    or a fleet host's view. Its order and filter are its own."""

    jobs_order: SortOrder
    filter_text: str

    @property
    def config(self) -> Config: ...

    @property
    def state(self) -> DashboardState: ...

    @property
    def archiving_configured(self) -> bool: ...

    @property
    def host(self) -> str | None:
        """The fleet host it shows (None: this machine's own dashboard)."""

    def columns(self) -> list[JobColumn]:
        """The jobs table's columns, with each job's progress and ETA as known now."""

    def archive_view(self) -> tuple[list[ArchiveRow], Mapping[str, ReplotProgress] | None]:
        """The archive table's rows and each replotting target's progress."""

    def replot_lines(self) -> tuple[str, ...]: ...

    def plotting_words(self, now: float) -> tuple[str, str]: ...

    def archiving_words(self) -> tuple[str, str]: ...

    def cadence(self, now: float) -> tuple[float, float, float | None]:
        """How often it looks, how often it plans, and how old its last news is (None: none
        yet), for the status line."""
