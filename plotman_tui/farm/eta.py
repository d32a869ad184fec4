"""Progress and ETA of running jobs, learned from finished runs like them.

An :class:`EtaModel` is built from history records; :meth:`EtaModel.estimate` places a running
job against the finished runs of the same plotter and k (the same tmp dir too when it has at
least three). With no such runs the ETA is unknown, never a guess.

How a job is placed:

- A plot is made in five stages: phases 1 to 4, then the *final* stage (phase 5: the copy to
  the dst dir, or BladeBit's writing of the plot; for a run, its total time less its four
  phases, plus its copy time). A job before phase 1 (``0:n``) is at the start of phase 1.
- Each stage's *typical* time is the **median** of the runs' times for it (one slow run, a
  disk that stalled once, does not move it). Progress is the typical time of the stages the
  job has finished, plus the time it has been in its current stage (at most that stage's
  typical time), over the typical time of all five. It only grows while the job runs, and is
  1.0 only once the job has finished (or is in a final stage its runs did not need).
- The time a job has been in its current stage is its age (``now`` less its process's start)
  less the times its log gives for the phases it has finished.
- ETA: what the runs that took at least as long in the current stage as this job has so far
  took beyond that (their median), plus the typical time of every later stage. A job that has
  been in its stage longer than every run ever was is *late*: its ETA is unknown, not 0.
- A suspended (``STP``) job has no ETA: it will not finish while stopped. Its wall time runs
  on while it is stopped, so after a resume the stage it was stopped in reads as slow.
- What is not known is not guessed: no log (phase unknown), no k, no finished run like it, a
  finished phase whose time the log lacks: ``progress`` and/or ``eta_seconds`` are None.

Limits, said plainly: progress is learned from phase times only (chiapos's ``Progress update``
lines are not read by the plotters' parsers); a multi-plot (``-n``) madMAx or BladeBit job
after its first plot counts its earlier plots' time as time in its current phase, so it reads
as late; BladeBit cudaplot logs give no phase 3 and 4 times, so its runs are not used.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plotman_tui.appdirs import cache_dir, read_regular_file
from plotman_tui.farm.model import Job, JobStatus

if TYPE_CHECKING:
    # Imported when logs are read (a model cache miss): status with a cached model is
    # spared the history's imports (the parsers' registry, launches, the scheduler).
    from plotman_tui.farm.history import PlotRecord

#: How many of the newest logs :func:`load_model` reads: enough runs for a steady median of
#: every tmp dir, few enough that a log dir of 10,000 logs costs ``status`` no more.
NEWEST_LOGS = 300
#: A tmp dir's own runs are used once it has this many; below, the plotter's and k's.
MIN_SAME_TMP = 3
#: How far a log's total may fall short of its phases' sum and still count as the same time
#: (the logs round each phase time to milliseconds).
_ROUNDING_S = 1.0
#: No phase of a plot takes a year: a longer "duration" is garbage.
_MAX_SECONDS = 366 * 86400.0
#: Stages: phases 1-4, then the final stage (copy or plot write), phase 5.
_STAGES = 5


@dataclass(frozen=True)
class Estimate:
    """``progress`` 0.0–1.0 and ``eta_seconds`` left (None: unknown); ``basis``: how many
    finished runs it rests on (0 with no history). ``same_tmp``: those runs were on the job's
    tmp dir (else: any runs of its plotter and k). ``late``: the job has been in its current
    phase longer than every one of those runs (its ETA is then unknown)."""

    progress: float | None
    eta_seconds: float | None
    basis: int
    same_tmp: bool = False
    late: bool = False


UNKNOWN = Estimate(None, None, 0)


@dataclass(frozen=True)
class _Runs:
    """The finished runs of one group: each stage's times, sorted."""

    stages: tuple[tuple[float, ...], ...]  # _STAGES tuples, one time per run each
    typical: tuple[float, ...]  # each stage's median

    @property
    def count(self) -> int:
        return len(self.stages[0])

    @classmethod
    def of(cls, runs: Sequence[tuple[float, ...]]) -> _Runs:
        stages = tuple(tuple(sorted(run[i] for run in runs)) for i in range(_STAGES))
        return cls(stages, tuple(_median(times) for times in stages))


def _median(ordered: Sequence[float]) -> float:
    """The median of values in ascending order (at least one)."""
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


#: One finished run as the model keeps it: plotter, k, tmp dir (normalised) and stage times.
_Run = tuple[str, int, str | None, tuple[float, ...]]


class EtaModel:
    """What finished runs say about how long each phase takes."""

    def __init__(
        self,
        by_plotter: dict[tuple[str, int], _Runs],
        by_tmp: dict[tuple[str, int, str], _Runs],
    ) -> None:
        self._by_plotter = by_plotter
        self._by_tmp = by_tmp

    @classmethod
    def from_records(cls, records: Iterable[PlotRecord]) -> EtaModel:
        """Learn from the completed records; a record whose times are missing, negative or
        not finite (a cut log, a tampered cache) is left out."""
        return cls._of_runs(_runs_of(records))

    @classmethod
    def _of_runs(cls, runs: Iterable[_Run]) -> EtaModel:
        by_plotter: dict[tuple[str, int], list[tuple[float, ...]]] = {}
        by_tmp: dict[tuple[str, int, str], list[tuple[float, ...]]] = {}
        for plotter, k, tmp, stages in runs:
            by_plotter.setdefault((plotter, k), []).append(stages)
            if tmp is not None:
                by_tmp.setdefault((plotter, k, tmp), []).append(stages)
        return cls(
            {key: _Runs.of(times) for key, times in by_plotter.items()},
            {key: _Runs.of(times) for key, times in by_tmp.items() if len(times) >= MIN_SAME_TMP},
        )

    @property
    def runs(self) -> int:
        """How many finished runs the model learned from."""
        return sum(runs.count for runs in self._by_plotter.values())

    def basis(self, job: Job) -> tuple[int, bool]:
        """How many finished runs an estimate for ``job`` rests on, and whether they are its
        tmp dir's own."""
        runs, same_tmp = self._runs_for(job)
        return (runs.count if runs is not None else 0), same_tmp

    def estimate(self, job: Job, now: float) -> Estimate:
        """Where ``job`` stands at ``now`` (POSIX seconds) against the runs like it."""
        runs, same_tmp = self._runs_for(job)
        basis = runs.count if runs is not None else 0
        if job.completed:
            return Estimate(1.0, 0.0, basis, same_tmp)
        if runs is None or job.phase is None:
            return UNKNOWN
        typical = runs.typical
        total = sum(typical)
        if not total > 0:
            return UNKNOWN
        stage = min(max(job.phase.major, 1), _STAGES) - 1  # 0-based; phase 0 is phase 1's start
        elapsed = _elapsed(job, stage, now)
        done = sum(typical[:stage]) + (min(elapsed, typical[stage]) if elapsed is not None else 0)
        progress = min(max(done / total, 0.0), 1.0)
        if elapsed is None or job.status == JobStatus.STP:
            return Estimate(progress, None, basis, same_tmp)
        times = runs.stages[stage]  # ascending
        beyond = times[bisect_right(times, elapsed) :]  # the runs that took longer so far
        if not beyond:
            return Estimate(progress, None, basis, same_tmp, late=True)
        eta = _median(beyond) - elapsed + sum(typical[stage + 1 :])
        return Estimate(progress, eta, basis, same_tmp)

    def _runs_for(self, job: Job) -> tuple[_Runs | None, bool]:
        if job.k is None:
            return None, False
        tmp = _dir_key(job.tmp_dir)
        if tmp is not None:
            runs = self._by_tmp.get((job.plotter, job.k, tmp))
            if runs is not None:
                return runs, True
        return self._by_plotter.get((job.plotter, job.k)), False


def _seconds(value: object) -> float | None:
    """A duration from a record or a job (untrusted: a cache is a file anyone may have
    edited); None unless a number of seconds a plot's phase can take (five of 1e308 would
    add up to infinity)."""
    if type(value) not in (int, float):
        return None
    seconds = float(value)  # type: ignore[arg-type]
    return seconds if 0 <= seconds <= _MAX_SECONDS else None


def _runs_of(records: Iterable[PlotRecord]) -> list[_Run]:
    runs = []
    for record in records:
        stages = _stage_times(record)
        if stages is not None:
            assert isinstance(record.plotter, str) and isinstance(record.k, int)  # checked
            runs.append((record.plotter, record.k, _dir_key(record.tmp_dir), stages))
    return runs


def _stage_times(record: PlotRecord) -> tuple[float, ...] | None:
    """A completed run's five stage times; None when it cannot be used (any time NaN,
    infinite, negative or not a number). One missing phase time (BladeBit's diskplot prints
    none for its phase 4) is what the total leaves for it."""
    if not record.completed or not isinstance(record.plotter, str) or type(record.k) is not int:
        return None
    given = (
        record.phase1_seconds,
        record.phase2_seconds,
        record.phase3_seconds,
        record.phase4_seconds,
        record.total_seconds,
        record.copy_seconds,
    )
    if any(value is not None and _seconds(value) is None for value in given):
        return None  # a time that is there but is no time: the record is not to be trusted
    phases = [_seconds(value) for value in given[:4]]
    total, copy = _seconds(given[4]), _seconds(given[5])
    missing = [i for i, seconds in enumerate(phases) if seconds is None]
    known = sum(seconds for seconds in phases if seconds is not None)
    if missing:
        if len(missing) > 1 or total is None or total < known - _ROUNDING_S:
            return None
        phases[missing[0]] = max(total - known, 0.0)
        known = sum(seconds for seconds in phases if seconds is not None)
    final = max(total - known, 0.0) if total is not None else 0.0
    final += copy if copy is not None else 0.0
    return (*(seconds for seconds in phases if seconds is not None), final)


def _elapsed(job: Job, stage: int, now: float) -> float | None:
    """How long ``job`` has been in ``stage`` (0-based) at ``now``; None when its log lacks
    an earlier phase's time or its start is unknown."""
    start = _plot_start(job, now)
    if start is None:
        return None
    finished = dict(job.phase_seconds)
    before = 0.0
    for major in range(1, stage + 1):
        seconds = _seconds(finished.get(major))
        if seconds is None:
            return None
        before += seconds
    return max(now - start - before, 0.0)


#: A plot whose log states a start this much later than its process's is a later plot of a
#: multi-plot run: a first plot's log states its start within seconds of the process's.
LATER_PLOT_S = 600.0


def _plot_start(job: Job, now: float) -> float | None:
    """When ``job``'s plot under way started: its process's start, or for a later plot of a
    multi-plot run the start its log states, if not past ``now`` (timed from the process, the
    second plot of a ``-n 2`` run read as late from its first minute). None when unknown."""
    start = job.started_at
    if not (math.isfinite(start) and start > 0 and math.isfinite(now)):
        return None
    stated = job.plot_started_at
    if stated is not None and start + LATER_PLOT_S < stated <= now:
        return stated
    return start


def _dir_key(path: object) -> str | None:
    return os.path.normpath(path) if isinstance(path, str) and path else None


def running_in(
    log_dir: str | os.PathLike[str], running_logs: Collection[str], *, real_dir: str | None = None
) -> list[str]:
    """The running jobs' logs that are in ``log_dir``, named under it as it is given (sorted):
    what a history read of ``log_dir`` is to leave unread (``read_history(skip=...)``)."""
    # A job's log is named as the kernel has it (symlinks resolved), the dir as configured.
    here = {real_dir or os.path.realpath(log_dir), os.path.normpath(log_dir)}
    return sorted(
        os.path.join(os.fspath(log_dir), os.path.basename(path))
        for path in running_logs
        if os.path.dirname(os.path.normpath(path)) in here
    )


def load_model(
    log_dir: str | os.PathLike[str],
    *,
    running_logs: Collection[str] = (),
    newest: int = NEWEST_LOGS,
    cache_path: str | None = None,
    model_path: str | None = None,
) -> EtaModel:
    """The model of the newest ``newest`` finished logs in ``log_dir``.

    The logs are read through the history cache (``cache_path``, default
    :func:`~plotman_tui.farm.history.default_cache_path`), so only new or changed ones are
    parsed; ``running_logs`` (the running jobs' logs) are not read: they grow, so would be read
    again every time, and hold no finished plot yet. The runs found are kept in ``model_path``
    (default ``eta.json`` in the cache dir) with the log dir's mtime and the running logs: while
    neither changes (no log was made or removed, no job started or ended), the next call reads
    that file instead of listing the log dir. A missing or unreadable dir gives a model that
    knows no runs.
    """
    real_dir = os.path.realpath(log_dir)
    skip = running_in(log_dir, running_logs, real_dir=real_dir)
    saved_at = model_path if model_path is not None else os.fspath(cache_dir() / "eta.json")
    try:
        key: dict[str, Any] | None = {
            "log_dir": real_dir,
            "mtime_ns": os.stat(real_dir).st_mtime_ns,
            "newest": newest,
            "running_logs": skip,
        }
    except OSError:
        key = None
    if key is not None:
        runs = _load_runs(saved_at, key)
        if runs is not None:
            return EtaModel._of_runs(runs)
    from plotman_tui.farm.history import default_cache_path, read_history

    cache = cache_path if cache_path is not None else default_cache_path()
    runs = _runs_of(read_history(log_dir, cache, newest=newest, skip=skip).records)
    if key is not None:
        _save_runs(saved_at, key, runs)
    return EtaModel._of_runs(runs)


_MODEL_FORMAT = "plotman-tui eta runs"
_MODEL_VERSION = 1
#: NEWEST_LOGS runs of a few hundred bytes each; a larger file is not ours.
_MAX_MODEL_BYTES = 16 * 1024 * 1024


def _load_runs(path: str, key: dict[str, Any]) -> list[_Run] | None:
    """The runs saved under ``key``; None when there are none, or the file is not sound (it
    is untrusted: every value is checked as a log's would be)."""
    try:
        saved = json.loads(read_regular_file(path, _MAX_MODEL_BYTES).decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("format") != _MODEL_FORMAT:
        return None
    if saved.get("version") != _MODEL_VERSION or saved.get("key") != key:
        return None
    rows = saved.get("runs")
    if not isinstance(rows, list):
        return None
    runs: list[_Run] = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 3 + _STAGES):
            return None
        plotter, k, tmp, *times = row
        stages = tuple(_seconds(value) for value in times)
        if (
            not isinstance(plotter, str)
            or type(k) is not int
            or not (tmp is None or (isinstance(tmp, str) and tmp and "\0" not in tmp))
            or any(seconds is None for seconds in stages)
        ):
            return None
        runs.append((plotter, k, tmp, tuple(s for s in stages if s is not None)))
    return runs


def _save_runs(path: str, key: dict[str, Any], runs: list[_Run]) -> None:
    """Keep the runs for the next call; a file that cannot be written only costs speed."""
    from plotman_tui.farm.launches import save_state

    rows = [[plotter, k, tmp, *stages] for plotter, k, tmp, stages in runs]
    text = json.dumps(
        {"format": _MODEL_FORMAT, "version": _MODEL_VERSION, "key": key, "runs": rows}
    )
    with contextlib.suppress(OSError):
        save_state(Path(path), text)
