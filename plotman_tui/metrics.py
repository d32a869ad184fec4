"""Prometheus metrics: plotman's names first, then plotman-tui's own.

What a scrape shows is one :class:`FarmState`, read from the machine by a :class:`StateReader`
(the jobs, the plot history, the dirs' free space, the action log's transfers, the plotting and
archiving state) at most once per ``ttl_s`` however many scrapes come, and turned into metric
families by the pure :func:`families`. prometheus_client writes the text format and serves it
from a private registry: no process-wide default metrics are mixed in (a farm's dashboards want
the farm, and the Python process's own numbers would change with the front end serving them).

Three ways to serve, one reader: ``plotman-tui metrics`` prints once; ``metrics --serve`` scans
on demand; a running loop (``--no-ui``, ``plot``, ``archive``, the dashboard) feeds its passes
to a :class:`MetricsServer`, whose scrapes then take the jobs and the engines' state from the
last pass instead of scanning again.

plotman's eight gauges keep plotman 0.5.3's names, HELP texts, labels and units so that its
Grafana panels work unchanged; plotman-tui's own metrics use base units (seconds, bytes) and
the ``plotman_tui_`` prefix. Every label value comes from untrusted input (dir names, plot ids
read from logs): prometheus_client escapes quotes, backslashes and newlines.
"""

from __future__ import annotations

import errno
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from plotman_tui.config.schema import Config, ListenAddress, TargetType, parse_listen
from plotman_tui.dirview import configured_dirs
from plotman_tui.farm.model import Job, Snapshot

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.core import GaugeMetricFamily, Metric
    from prometheus_client.registry import CollectorRegistry
    from prometheus_client.samples import Sample

    from plotman_tui.farm.archive.engine import ArchivePassResult
    from plotman_tui.farm.archive.replot import ReplotProgress
    from plotman_tui.farm.archive.transfer import RunningTransfer
    from plotman_tui.farm.discovery import Scanner
    from plotman_tui.farm.engine import PassResult
    from plotman_tui.farm.eta import Estimate, EtaModel
    from plotman_tui.farm.events import Event
    from plotman_tui.farm.history import History, PlotRecord

EXIT_USAGE = 2
#: Seconds a read of the farm serves scrapes: a scrape storm does not rescan for each.
DEFAULT_TTL_S = 5.0
#: Seconds the history (and the ETA model and the action log's totals) read for a scrape
#: serves: they change when a plot or transfer ends, and reading 10,000 logs' cache costs
#: about a second. A running loop's pass that saw a job or a transfer end reads them at once.
HISTORY_TTL_S = 60.0
#: Seconds a scrape served over HTTP waits for the history read (in a thread of its own) before
#: it is answered without it: a cold read of 10,000 logs takes 8-12 s on 2 cores, and
#: Prometheus gives a scrape 10 s by default. The read goes on; later scrapes show it.
HISTORY_WAIT_S = 3.0
#: Seconds a dir has to tell its free space (a hung mount) before its sample is left out.
FREE_SPACE_TIMEOUT_S = 5.0

#: The states of ``plotman_tui_plotting_state`` and ``plotman_tui_archiving_state``: exactly
#: one is 1. ``stopped``: no process of this user plots (or archives) on this machine;
#: ``off``: archiving is not set up.
STATES = ("active", "paused", "backing_off", "error", "stopped", "off")

#: plotman 0.5.3's gauges (reporting.prometheus_report), HELP text as it writes it.
PLOTMAN_GAUGES: Mapping[str, str] = {
    "plotman_plot_phase_major": "The phase the plot is currently in",
    "plotman_plot_phase_minor": "The part of the phase the plot is currently in",
    "plotman_plot_phase_major_minor": "major and minor",
    "plotman_plot_tmp_usage": "Tmp dir usage in bytes",
    "plotman_plot_mem_usage": "Memory usage in bytes",
    "plotman_plot_user_time": "Processor time (user) in s",
    "plotman_plot_sys_time": "Processor time (sys) in s",
    "plotman_plot_iowait_time": "Processor time (iowait) in s",
}
PLOTMAN_LABELS = ("plot_id", "tmp_dir", "dst_dir", "run_status", "phase")


class MetricsError(Exception):
    """A one-line error for the user, with the exit status to leave with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# -- what a scrape shows -------------------------------------------------------------------------


@dataclass(frozen=True)
class DirFree:
    """Free bytes of one dir; ``role`` tmp, tmp2, dst or archive (``target``: whose)."""

    role: str
    path: str
    free_bytes: int
    target: str = ""


@dataclass(frozen=True)
class TargetTotals:
    """An archive target's transfers: done, failed, the bytes of the plots moved (from the
    action log), and those under way now."""

    target: str
    transfers: int = 0
    failures: int = 0
    plot_bytes: int = 0
    running: int = 0


@dataclass(frozen=True)
class FarmState:
    """Everything one scrape shows, read at ``time``."""

    time: float
    jobs: tuple[Job, ...] = ()
    #: By pid: each job's progress and ETA (jobs without history are missing or UNKNOWN).
    estimates: Mapping[int, Estimate] = field(default_factory=dict)
    #: The history's records (None: the history could not be read).
    records: tuple[PlotRecord, ...] | None = None
    skipped_logs: int = 0
    dirs: tuple[DirFree, ...] = ()
    targets: tuple[TargetTotals, ...] = ()
    plotting: str = "stopped"
    archiving: str = "off"
    #: Why no plot job starts now, in a word or three (``stagger``, ``max jobs``); None when
    #: not waiting or not known (no loop in this process).
    wait_reason: str | None = None
    #: Each replotting target's progress, from the archiving loop's last pass (none without a
    #: loop in this process: a scrape never lists a farmer's plots itself).
    replot: tuple[ReplotProgress, ...] = ()


def families(state: FarmState) -> list[Metric]:
    """The metric families of ``state``: plotman's gauges, then plotman-tui's own."""
    out = [*_plotman_families(state.jobs), *_own_families(state)]
    for family in out:
        family.samples = [_utf8_labels(sample) for sample in family.samples]
    return out


# Lone surrogates (a dir name that is not UTF-8, as psutil and os.listdir give it) as the
# replacement character: the text format is UTF-8, and prometheus_client's encoding of one
# such label failed the whole scrape, every job's metrics with it.
_SURROGATES = {code: 0xFFFD for code in range(0xD800, 0xE000)}


def _utf8_labels(sample: Sample) -> Sample:
    labels = sample.labels
    if all(value.isascii() for value in labels.values()):
        return sample
    return sample._replace(
        labels={name: value.translate(_SURROGATES) for name, value in labels.items()}
    )


# prometheus_client is imported where metrics are made (70 ms): `import plotman_tui.metrics`
# stays cheap for the loops and the dashboard, which serve only when [metrics] listen is set.


def _plotman_families(jobs: Sequence[Job]) -> list[Metric]:
    from prometheus_client.core import GaugeMetricFamily

    gauges = {
        name: GaugeMetricFamily(name, help_text + ".", labels=PLOTMAN_LABELS)
        for name, help_text in PLOTMAN_GAUGES.items()
    }
    seen: set[tuple[str, ...]] = set()
    for job in jobs:
        phase = job.phase
        labels = (
            job.plot_id[:8] if job.plot_id else "--------",
            job.tmp_dir or "",
            job.dst_dir or "",
            str(job.status),
            str(phase) if phase is not None else "?:?",
        )
        # Two jobs with one label set (two new jobs with no plot id yet in the same dirs) would
        # be one series twice, which Prometheus rejects: the youngest is shown.
        if labels in seen:
            continue
        seen.add(labels)
        major, minor = (phase.major, phase.minor) if phase is not None else (0, 0)
        values: dict[str, float | None] = {
            "plotman_plot_phase_major": major,
            "plotman_plot_phase_minor": minor,
            "plotman_plot_phase_major_minor": major + minor / 10,
            "plotman_plot_tmp_usage": job.tmp_usage_bytes,
            "plotman_plot_mem_usage": job.mem_vms_bytes,
            "plotman_plot_user_time": _whole(job.user_seconds),
            "plotman_plot_sys_time": _whole(job.sys_seconds),
            "plotman_plot_iowait_time": _whole(job.iowait_seconds),
        }
        for name, value in values.items():
            if value is not None:  # plotman printed "None", which no scraper reads
                gauges[name].add_metric(labels, value)
    return list(gauges.values())


def _whole(seconds: float | None) -> int | None:
    """Seconds as plotman gives them: truncated to whole seconds."""
    return int(seconds) if seconds is not None else None


_JOB_LABELS = ("pid", "plot_id")


def _own_families(state: FarmState) -> list[Metric]:
    from prometheus_client.core import GaugeMetricFamily

    out: list[Metric] = []
    info = GaugeMetricFamily(
        "plotman_tui_job_info",
        "A running plot job (always 1); join on pid for the other plotman_tui_job_ metrics.",
        labels=(*_JOB_LABELS, "plotter", "k", "phase", "status", "tmp_dir", "dst_dir"),
    )
    progress = GaugeMetricFamily(
        "plotman_tui_job_progress_ratio",
        "How far a plot job is, 0 to 1, from the phase times of finished runs like it.",
        labels=_JOB_LABELS,
    )
    eta = GaugeMetricFamily(
        "plotman_tui_job_eta_seconds",
        "Seconds until a plot job is done, from finished runs like it (absent: unknown).",
        labels=_JOB_LABELS,
    )
    basis = GaugeMetricFamily(
        "plotman_tui_job_eta_basis_runs",
        "How many finished runs a job's progress and ETA rest on (0: no history).",
        labels=_JOB_LABELS,
    )
    wall = GaugeMetricFamily(
        "plotman_tui_job_wall_seconds", "Seconds since a plot job started.", labels=_JOB_LABELS
    )
    by_phase: dict[str, int] = {}
    for job in state.jobs:
        ids = (str(job.pid), job.plot_id or "")
        phase = str(job.phase) if job.phase is not None else "?"
        by_phase[phase] = by_phase.get(phase, 0) + 1
        info.add_metric(
            (
                *ids,
                job.plotter,
                str(job.k) if job.k is not None else "",
                phase,
                str(job.status),
                job.tmp_dir or "",
                job.dst_dir or "",
            ),
            1,
        )
        wall.add_metric(ids, job.wall_seconds)
        estimate = state.estimates.get(job.pid)
        if estimate is None:
            continue
        basis.add_metric(ids, estimate.basis)
        if estimate.progress is not None:
            progress.add_metric(ids, estimate.progress)
        if estimate.eta_seconds is not None:
            eta.add_metric(ids, estimate.eta_seconds)
    jobs = GaugeMetricFamily(
        "plotman_tui_jobs",
        'Running plot jobs by phase (major:minor; "?" before the log tells it).',
        labels=("phase",),
    )
    for phase, count in sorted(by_phase.items()):
        jobs.add_metric((phase,), count)
    out += [info, progress, eta, basis, wall, jobs]
    out += _history_families(state)
    out += _dir_and_archive_families(state)
    return out


def _history_families(state: FarmState) -> list[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    finished = CounterMetricFamily(
        "plotman_tui_plots_finished",
        "Plots finished, as the plot logs in the log dir tell (falls when logs are removed).",
    )
    written = CounterMetricFamily(
        "plotman_tui_plots_written_bytes",
        "Bytes of the plots finished (their files' sizes, else the size of their k).",
    )
    skipped = GaugeMetricFamily(
        "plotman_tui_history_skipped_logs",
        "Files in the log dir that are no readable plot log (broken, binary, empty).",
    )
    last = GaugeMetricFamily(
        "plotman_tui_last_plot_phase_seconds",
        "The last finished plot's phase times (phase 1-4, total, copy).",
        labels=("plot_id", "plotter", "phase"),
    )
    last_end = GaugeMetricFamily(
        "plotman_tui_last_plot_finished_timestamp_seconds",
        "When the last finished plot was done (POSIX time).",
    )
    out: list[Metric] = []
    if state.records is not None:
        done = [record for record in state.records if record.completed]
        finished.add_metric((), len(done))
        written.add_metric((), sum(record.final_bytes or 0 for record in done))
        skipped.add_metric((), state.skipped_logs)
        out += [finished, written, skipped]
        ended = [record for record in done if record.ended_at is not None]
        if ended:
            newest = max(ended, key=lambda record: record.ended_at or 0.0)
            phases = {
                "1": newest.phase1_seconds,
                "2": newest.phase2_seconds,
                "3": newest.phase3_seconds,
                "4": newest.phase4_seconds,
                "total": newest.total_seconds,
                "copy": newest.copy_seconds,
            }
            for phase, seconds in phases.items():
                if seconds is not None:
                    last.add_metric((newest.plot_id, newest.plotter, phase), seconds)
            last_end.add_metric((), newest.ended_at or 0.0)
            out += [last, last_end]
    return out


def _dir_and_archive_families(state: FarmState) -> list[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    free = GaugeMetricFamily(
        "plotman_tui_dir_free_bytes",
        "Free bytes of each tmp, tmp2, dst and archive dir (absent: not readable now).",
        labels=("role", "dir", "target"),
    )
    for entry in state.dirs:
        free.add_metric((entry.role, entry.path, entry.target), entry.free_bytes)
    transfers = CounterMetricFamily(
        "plotman_tui_archive_transfers",
        "Plots moved to an archive target (the action log's, so it falls when it rotates).",
        labels=("target",),
    )
    failures = CounterMetricFamily(
        "plotman_tui_archive_transfer_failures",
        "Transfers to an archive target that failed (could not start, or did not arrive).",
        labels=("target",),
    )
    moved = CounterMetricFamily(
        "plotman_tui_archive_plot_bytes",
        "Bytes of the plots moved to an archive target (their sizes: a rename sends none).",
        labels=("target",),
    )
    running = GaugeMetricFamily(
        "plotman_tui_archive_transfers_running",
        "Transfers to an archive target under way now.",
        labels=("target",),
    )
    for totals in state.targets:
        labels = (totals.target,)
        transfers.add_metric(labels, totals.transfers)
        failures.add_metric(labels, totals.failures)
        moved.add_metric(labels, totals.plot_bytes)
        running.add_metric(labels, totals.running)
    plotting = _state_set(
        "plotman_tui_plotting_state", "Plotting's state: the one with value 1.", state.plotting
    )
    archiving = _state_set(
        "plotman_tui_archiving_state", "Archiving's state: the one with value 1.", state.archiving
    )
    waiting = GaugeMetricFamily(
        "plotman_tui_scheduler_waiting",
        "1 while the scheduler starts no job; reason says why (absent: not known here).",
        labels=("reason",),
    )
    if state.wait_reason is not None:
        waiting.add_metric((state.wait_reason,), 1)
    return [free, transfers, failures, moved, running, plotting, archiving, waiting] + (
        _replot_families(state.replot) if state.replot else []
    )


def _replot_families(progress: Sequence[ReplotProgress]) -> list[Metric]:
    """Per replotting target: the old plots its rules still match on the farmer, what this
    machine removed (counted from the action log, as the transfers are) and the days to finish."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    labels = ("target",)
    matching = GaugeMetricFamily(
        "plotman_tui_replot_matching_plots",
        "Old plots on the farmer the replot rules still match (absent: not listed yet).",
        labels=labels,
    )
    matching_bytes = GaugeMetricFamily(
        "plotman_tui_replot_matching_bytes",
        "Bytes of the old plots the replot rules still match (absent: not listed yet).",
        labels=labels,
    )
    removed = CounterMetricFamily(
        "plotman_tui_replot_removed_plots",
        "Old plots removed to make room (the action log's, so it falls when it rotates).",
        labels=labels,
    )
    removed_bytes = CounterMetricFamily(
        "plotman_tui_replot_removed_bytes",
        "Bytes of the old plots removed to make room (replaced by new plots).",
        labels=labels,
    )
    moved = CounterMetricFamily(
        "plotman_tui_replot_new_plots_moved",
        "Plots moved to a replotting target since its first removal.",
        labels=labels,
    )
    days = GaugeMetricFamily(
        "plotman_tui_replot_days_left",
        "Days until no old plot matches, at the removal rate of the last days (absent: unknown).",
        labels=labels,
    )
    stopped = GaugeMetricFamily(
        "plotman_tui_replot_stopped",
        "1 when a failed removal stopped a target's replotting (until plotman-tui restarts).",
        labels=labels,
    )
    dry_run = GaugeMetricFamily(
        "plotman_tui_replot_dry_run",
        "1 when a target's replot rules are in a dry run: removals are logged, not made.",
        labels=labels,
    )
    for found in progress:
        target = (found.target,)
        if found.listed_at is not None:
            matching.add_metric(target, found.matching_plots)
            matching_bytes.add_metric(target, found.matching_bytes)
            if found.days_left is not None and math.isfinite(found.days_left):
                days.add_metric(target, found.days_left)
        removed.add_metric(target, found.removed_plots)
        removed_bytes.add_metric(target, found.removed_bytes)
        moved.add_metric(target, found.new_plots_moved)
        stopped.add_metric(target, 1 if found.stopped is not None else 0)
        dry_run.add_metric(target, 1 if found.dry_run else 0)
    return [matching, matching_bytes, removed, removed_bytes, moved, days, stopped, dry_run]


def _state_set(name: str, help_text: str, current: str) -> GaugeMetricFamily:
    """A gauge per state, the current one 1 (Prometheus's state-set, with a ``state`` label)."""
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(name, help_text, labels=("state",))
    for state in STATES:
        family.add_metric((state,), 1 if state == current else 0)
    return family


# A wait reason's head: "stagger (20s/1800s)" -> "stagger"; "backing off 4m: ..." -> "backing
# off". Its details (dir names, countdowns) would make a new series every pass.
_REASON_HEAD = re.compile(r"^\s*([^(:;]*)")
# Counts and countdowns go ("3 failed starts", "4m"); "phase 1" names a rule and stays.
_NUMBER = re.compile(r"(?<!phase)\s+\d\S*")


def wait_reason_label(reason: str) -> str:
    """The few words of a scheduler wait reason that name its kind, for a label."""
    match = _REASON_HEAD.match(reason)
    head = match.group(1) if match else ""
    head = _NUMBER.sub("", head.strip())
    return " ".join(head.split())[:60] or "other"


# -- reading the farm ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slow:
    """What changes only when a plot or a transfer ends, read at ``read_at``."""

    read_at: float
    history: History | None
    model: EtaModel
    totals: tuple[dict[str, int], dict[str, int], dict[str, int]]


@dataclass
class _Live:
    """What a running loop last told (its passes), for the reader to use instead of scanning."""

    snapshot: Snapshot | None = None
    plotting: str | None = None
    wait_reason: str | None = None
    archive: ArchivePassResult | None = None
    archiving: str | None = None


class StateReader:
    """Reads a :class:`FarmState` for ``config``, at most once per ``ttl_s``; concurrent
    scrapes wait for the read under way and share it.

    A running loop feeds its passes (``plotting_pass``, ``archiving_pass``, ``pass_failed``,
    from any thread, never waiting on a read); the reader then takes the jobs and the engines'
    state from the last pass and scans nothing itself. Without a feed it scans with
    ``scanner`` (kept between reads, so a rescan reads only new log bytes).
    """

    def __init__(
        self,
        config: Config,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        history_ttl_s: float = HISTORY_TTL_S,
        history_wait_s: float | None = None,
        scanner: Scanner | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.ttl_s = ttl_s
        self.history_ttl_s = history_ttl_s
        #: None: a read that needs the history reads it. A number: the history is read in a
        #: thread of its own, which a read waits for at most that long before it shows the
        #: last history read (or, before the first, none) with the jobs it read.
        self.history_wait_s = history_wait_s
        self._refresh: threading.Thread | None = None  # the history read under way
        self._refreshed: _Slow | None = None  # what it read, for the next read to take
        self._refresh_lock = threading.Lock()
        self._scanner = scanner
        self._clock = clock
        self._read_lock = threading.Lock()  # one read at a time
        self._feed_lock = threading.Lock()  # held only to copy or change the feed
        self._live: _Live | None = None
        self._fed = 0  # passes fed so far: a read older than the last pass is stale
        self._cached: tuple[FarmState, float, int] | None = None
        self._slow: _Slow | None = None
        self._ended = False  # a fed pass saw a job or a transfer end: read the history again
        #: Reads made (not served from the cache), and of those the history's.
        self.reads = 0
        self.history_reads = 0

    # -- what a running loop tells --------------------------------------------------------------

    def plotting_pass(self, result: PassResult, *, enabled: bool = True) -> None:
        """A plotting pass's jobs and state (``enabled``: the dashboard's pause switch)."""
        with self._feed_lock:
            live = self._live = self._live or _Live()
            live.snapshot = result.snapshot
            live.plotting = _plotting_word(result, enabled)
            if result.decision is not None or not result.holds_lock:
                live.wait_reason = _wait_reason(result)
            self._ended = self._ended or _something_ended(result.events)
            self._fed += 1

    def archiving_pass(self, result: ArchivePassResult, *, enabled: bool = True) -> None:
        """An archiving pass's transfers, free space and state."""
        with self._feed_lock:
            live = self._live = self._live or _Live()
            live.archive = result
            live.archiving = _archiving_word(result, enabled)
            self._ended = self._ended or _something_ended(result.events)
            self._fed += 1

    def pass_failed(self, which: str) -> None:
        """A pass of ``which`` ("plotting" or "archiving") raised: its state is ``error``
        until its next pass."""
        with self._feed_lock:
            live = self._live = self._live or _Live()
            if which == "plotting":
                live.plotting = "error"
            else:
                live.archiving = "error"
            self._fed += 1

    # -- reading --------------------------------------------------------------------------------

    def read(self) -> FarmState:
        with self._read_lock:
            with self._feed_lock:
                live = replace(self._live) if self._live is not None else None
                fed = self._fed
                ended, self._ended = self._ended, False
            now = self._clock()
            taken = self._take_refreshed()
            slow = self._slow
            slow_due = ended or slow is None or not 0 <= now - slow.read_at < self.history_ttl_s
            refreshing = self._refresh is not None
            if self._cached is not None and not taken and (not slow_due or refreshing):
                state, read_at, read_fed = self._cached
                if read_fed == fed and 0 <= now - read_at < self.ttl_s:
                    return state
            jobs = self._jobs(live)
            if slow_due and refreshing:
                if ended:  # the read under way may have begun before the job ended
                    with self._feed_lock:
                        self._ended = True
            elif slow_due:
                running = [job.log_file for job in jobs if job.log_file]
                if self.history_wait_s is None:
                    slow = self._slow = self._read_slow(now, running)
                else:
                    self._start_refresh(now, running)
                    if self.wait_for_history(self.history_wait_s) and self._take_refreshed():
                        slow = self._slow
            state = self._read(now, live, slow, jobs)
            self.reads += 1
            self._cached = (state, now, fed)
            return state

    def wait_for_history(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the history read under way (if any); whether
        none is under way now."""
        thread = self._refresh
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _start_refresh(self, now: float, running_logs: Sequence[str]) -> None:
        def refresh() -> None:
            try:
                read = self._read_slow(now, running_logs)
            except Exception:  # a bug: the scrapes go on showing the last history read
                read = None
            with self._refresh_lock:
                self._refreshed = read

        with self._refresh_lock:
            self._refreshed = None
            self._refresh = threading.Thread(target=refresh, name="metrics-history", daemon=True)
        self._refresh.start()

    def _take_refreshed(self) -> bool:
        """Whether a history read in its thread has ended (its result is now the history)."""
        with self._refresh_lock:
            thread = self._refresh
            if thread is None or thread.is_alive():
                return False
            self._refresh, read, self._refreshed = None, self._refreshed, None
        if read is not None:
            self._slow = read
        return True

    def _read_slow(self, now: float, running_logs: Sequence[str]) -> _Slow:
        """The history, the ETA model and the transfers' totals. The running jobs' logs are
        left unread, as status leaves them: they grow, so each read would read them again
        and rewrite the history cache, and the model is kept in eta.json under status's key."""
        from plotman_tui.farm.eta import load_model, running_in
        from plotman_tui.farm.history import default_cache_path, read_history

        self.history_reads += 1
        log_dir = self.config.logging.plots
        skip = running_in(log_dir, running_logs)
        history: History | None = read_history(log_dir, default_cache_path(), skip=skip)
        if history is not None and _unreadable_dir(history, self.config):
            history = None
        # The model status and details use (the newest logs'), so the ETAs agree with theirs.
        model = load_model(log_dir, running_logs=running_logs)
        return _Slow(now, history, model, _transfer_totals())

    def _jobs(self, live: _Live | None) -> tuple[Job, ...]:
        if live is not None and live.snapshot is not None:
            return live.snapshot.jobs
        return self._scan(fed=live is not None).jobs

    def _read(
        self, now: float, live: _Live | None, slow: _Slow | None, jobs: tuple[Job, ...]
    ) -> FarmState:
        """``slow`` None: the history is not read yet, so its metrics, the jobs' estimates and
        the targets' counters are left out (a counter shown as 0 for a while would read as a
        reset to Prometheus)."""
        history = slow.history if slow is not None else None
        return FarmState(
            time=now,
            jobs=jobs,
            estimates={job.pid: slow.model.estimate(job, now) for job in jobs} if slow else {},
            records=history.records if history is not None else None,
            skipped_logs=len(history.skipped) if history is not None else 0,
            dirs=tuple(self._dirs(live)),
            targets=tuple(self._targets(live, slow.totals)) if slow is not None else (),
            plotting=(live.plotting if live and live.plotting else _plotting_from_files(now)),
            archiving=(
                live.archiving if live and live.archiving else _archiving_from_files(self.config)
            ),
            wait_reason=live.wait_reason if live is not None else None,
            replot=tuple(live.archive.replot.values()) if live and live.archive else (),
        )

    def _scan(self, *, fed: bool) -> Snapshot:
        """The jobs, scanned here: with the scanner given; else once, resuming the logs from
        the one-shot commands' cache (not written while a loop feeds: the loop owns it)."""
        from plotman_tui.appdirs import cache_dir
        from plotman_tui.farm.discovery import scan_once

        if self._scanner is not None:
            return self._scanner.scan()
        cache = None if fed else cache_dir() / "logstate.json"
        return scan_once(self.config.logging.plots, cache=cache)

    def _dirs(self, live: _Live | None) -> list[DirFree]:
        tmp, dst = configured_dirs(self.config)
        tmp2 = self.config.directories.tmp2
        tmp2_dir = os.path.normpath(os.fspath(tmp2)) if tmp2 is not None else None
        wanted = [("tmp2" if path == tmp2_dir else "tmp", path, "") for path in tmp]
        wanted += [("dst", path, "") for path in dst]
        found: list[DirFree] = []
        archive = live.archive if live is not None else None
        for target in self.config.archiving.active_targets:
            space = archive.spaces.get(target.name) if archive is not None else None
            if space is not None:
                found += [
                    DirFree("archive", path, free, target.name)
                    for path, free in space.free_bytes.items()
                    if free is not None
                ]
            elif archive is None and target.type is TargetType.LOCAL:
                # No loop here to ask the farmer; a local target's dirs are this machine's.
                wanted += [("archive", path, target.name) for path in target.archive_dirs]
        return _free_space(wanted) + found

    def _targets(
        self, live: _Live | None, totals: tuple[dict[str, int], dict[str, int], dict[str, int]]
    ) -> Iterator[TargetTotals]:
        names = [target.name for target in self.config.archiving.targets]
        done, failed, moved = totals
        archive = live.archive if live is not None else None
        transfers: Sequence[RunningTransfer] = ()
        if archive is not None:
            transfers = archive.transfers
        elif self.config.archiving.targets:
            from plotman_tui.farm.archive.transfer import find_transfers

            transfers = find_transfers(self.config.archiving.targets)
        running: dict[str, int] = {}
        for transfer in transfers:
            if transfer.target is not None:
                running[transfer.target] = running.get(transfer.target, 0) + 1
        for name in dict.fromkeys([*names, *done, *failed]):
            yield TargetTotals(
                name,
                done.get(name, 0),
                failed.get(name, 0),
                moved.get(name, 0),
                running.get(name, 0),
            )


def _free_space(wanted: Sequence[tuple[str, str, str]]) -> list[DirFree]:
    """Each (role, dir, target)'s free space, the dirs probed side by side within one
    FREE_SPACE_TIMEOUT_S: a hung mount leaves its dir out, and two do not add up to a scrape
    that times out."""
    import concurrent.futures

    from plotman_tui.farm.dirs import probe_dir

    probes = [(role, path, target, probe_dir(path)) for role, path, target in wanted]
    deadline = time.monotonic() + FREE_SPACE_TIMEOUT_S
    found: list[DirFree] = []
    for role, path, target, probe in probes:
        try:
            free = probe.result(timeout=max(deadline - time.monotonic(), 0.0)).free_bytes
        except (concurrent.futures.TimeoutError, OSError):
            continue
        if free is not None:
            found.append(DirFree(role, path, free, target))
    return found


def _unreadable_dir(history: History, config: Config) -> bool:
    """Whether the history is only the log dir's own failure (missing, not readable)."""
    base = os.fspath(config.logging.plots)
    return not history.records and any(s.log_path == base for s in history.skipped)


def _something_ended(events: Iterable[Event]) -> bool:
    """Whether a pass saw a plot job or a transfer end (the history or the action log grew)."""
    from plotman_tui.farm.events import EventKind

    return any(event.kind in (EventKind.ENDED, EventKind.TRANSFERRED) for event in events)


def _transfer_totals() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Per target: transfers done, failed, and the bytes of the plots moved, from the action
    log (a plot found already there counts as moved)."""
    from plotman_tui.farm.actionlog import default_action_log

    done: dict[str, int] = {}
    failed: dict[str, int] = {}
    moved: dict[str, int] = {}
    try:
        entries = default_action_log().entries()
    except OSError:
        return done, failed, moved
    for entry in entries:
        target = entry.extra.get("target")
        if entry.action != "transfer" or not isinstance(target, str) or not target:
            continue
        if entry.result.startswith("ok"):
            done[target] = done.get(target, 0) + 1
            size = entry.extra.get("bytes")
            if isinstance(size, int) and not isinstance(size, bool) and 0 <= size < 1 << 60:
                moved[target] = moved.get(target, 0) + size
        elif entry.result.startswith("failed"):
            failed[target] = failed.get(target, 0) + 1
    return done, failed, moved


def _plotting_word(result: PassResult, enabled: bool) -> str:
    failing = result.start_failures
    if failing is not None and result.time < failing.retry_at:
        return "backing_off"
    if result.holds_lock and not enabled:
        return "paused"
    return "active"


def _wait_reason(result: PassResult) -> str | None:
    from plotman_tui.farm.scheduler import Wait

    if result.holds_lock and isinstance(result.decision, Wait):
        return wait_reason_label(result.decision.reason)
    return None


def _archiving_word(result: ArchivePassResult, enabled: bool) -> str:
    if result.holds_lock and not enabled:
        return "paused"
    if any(space is not None and space.problem is not None for space in result.spaces.values()):
        return "error"
    if any(result.time < failing.retry_at for failing in result.retrying.values()):
        return "backing_off"
    return "active"


def _plotting_from_files(now: float) -> str:
    """Without a loop in this process: the scheduler lock's holder, and its back-off from the
    state file it keeps (``plotting-state.json`` in the data dir, see farm.wiring)."""
    from plotman_tui.appdirs import data_dir
    from plotman_tui.farm.launches import load_state
    from plotman_tui.farm.lock import default_lock

    try:
        if default_lock().holder() is None:
            return "stopped"
    except OSError:
        return "stopped"
    _, backoff, problem = load_state(data_dir() / "plotting-state.json")
    failing = backoff.failing() if problem is None else None
    return "backing_off" if failing is not None and now < failing.retry_at else "active"


def _archiving_from_files(config: Config) -> str:
    from plotman_tui.farm.lock import default_archive_lock

    if not config.archiving.active_targets:
        return "off"
    try:
        return "stopped" if default_archive_lock().holder() is None else "active"
    except OSError:
        return "stopped"


# -- prometheus_client's side --------------------------------------------------------------------


def registry_for(reader: StateReader) -> CollectorRegistry:
    """A private registry holding only the farm's metrics, read from ``reader`` per scrape."""
    from prometheus_client.registry import Collector, CollectorRegistry

    class FarmCollector(Collector):
        def collect(self) -> Iterable[Metric]:
            return families(reader.read())

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FarmCollector())
    return registry


def exposition(reader: StateReader) -> bytes:
    """The Prometheus text format of one read."""
    from prometheus_client.exposition import generate_latest

    return generate_latest(registry_for(reader))


_BIND_HINTS = {
    errno.EADDRINUSE: "another program serves on that port: choose another",
    errno.EADDRNOTAVAIL: "not an address of this machine",
    errno.EACCES: "ports below 1024 are for root: choose a higher one",
}


class MetricsServer:
    """Serves ``/metrics`` on ``address`` in a thread of its own, from ``reader``.

    A running loop builds one before it starts anything (a port in use is its one-line
    error), feeds it each pass through ``reader.plotting_pass`` / ``archiving_pass`` /
    ``pass_failed``, and closes it when it stops.
    """

    def __init__(self, reader: StateReader, address: ListenAddress) -> None:
        self.reader = reader
        self.address = address
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        port = self._server.server_port if self._server is not None else self.address.port
        host = self.address.host
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/metrics"

    def start(self) -> None:
        """Listen; :class:`MetricsError` (exit 2) when the address cannot be bound."""
        from prometheus_client.exposition import start_http_server

        try:
            self._server, self._thread = start_http_server(
                self.address.port, self.address.host, registry=registry_for(self.reader)
            )
        except OSError as error:
            reason = error.strerror or str(error)
            hint = _BIND_HINTS.get(error.errno or 0, "")
            if isinstance(error, socket.gaierror):
                hint = "no such host name or address"
            raise MetricsError(
                f"cannot serve metrics on {self.address}: {reason}"
                + (f" ({hint})" if hint else ""),
                EXIT_USAGE,
            ) from None

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def server_for(config: Config, scanner: Scanner | None = None) -> MetricsServer | None:
    """The server ``[metrics] listen`` asks for, not yet started (None: metrics are off)."""
    address = config.metrics.address
    if address is None:
        return None
    return MetricsServer(
        StateReader(config, history_wait_s=HISTORY_WAIT_S, scanner=scanner), address
    )


# -- the command ---------------------------------------------------------------------------------


def run_metrics(config: Config, *, serve: str | None) -> int:
    """``plotman-tui metrics``: print once, or with ``serve`` serve until SIGINT or SIGTERM."""
    if serve is None:
        reader = StateReader(config, ttl_s=0.0)
        import sys

        text = exposition(reader)
        try:
            sys.stdout.buffer.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # the reader left (| head): the command says nothing more
        except OSError as error:  # > textfile/plotman.prom on a full disk
            raise MetricsError(f"cannot write the metrics: {error.strerror or error}") from None
        return 0
    try:
        address = parse_listen(serve)
    except ValueError as error:
        raise MetricsError(f"--serve {error}", EXIT_USAGE) from None
    return _serve_until_stopped(config, address)


def _serve_until_stopped(config: Config, address: ListenAddress) -> int:
    import signal
    import sys

    from plotman_tui.appdirs import cache_dir
    from plotman_tui.farm.discovery import Scanner

    scanner = Scanner(config.logging.plots)
    cache = cache_dir() / "logstate.json"
    scanner.load_cache(cache)
    stop = threading.Event()
    received: list[str] = []

    def on_signal(number: int, _frame: object) -> None:
        received.append(signal.Signals(number).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        reader = StateReader(config, history_wait_s=HISTORY_WAIT_S, scanner=scanner)
        with MetricsServer(reader, address) as server:
            print(f"serving {server.url} (SIGTERM or Ctrl-C stops)", file=sys.stderr, flush=True)
            while not stop.wait(3600):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        scanner.save_cache(cache)
    print(f"stopped ({received[0] if received else 'done'})", file=sys.stderr, flush=True)
    return 0
