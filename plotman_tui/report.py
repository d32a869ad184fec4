"""Plain-text and JSON views of a snapshot, for the one-shot commands.

Deliberately free of rich and textual: ``status`` must start fast, and its output is plain text
that pipes and greps well. Column widths follow the terminal; when it is narrow the least useful
columns go first, then long dir names are shortened from the left.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from plotman_tui.farm.units import (
    common_prefix,
    human_bytes,
    human_duration,
    local_time,
    printable,
)

if TYPE_CHECKING:
    # Only for annotations: analyze's table (render_table) is drawn without importing the ETA
    # model and the job model (~10 ms of a warm analyze's start).
    from plotman_tui.config.schema import ReplotRules
    from plotman_tui.dirview import ArchiveRow, DstRow, TmpRow
    from plotman_tui.farm.archive.replot import ReplotPlan, ReplotProgress
    from plotman_tui.farm.eta import Estimate, EtaModel
    from plotman_tui.farm.finished import FinishedLog
    from plotman_tui.farm.model import Job, Snapshot
    from plotman_tui.plotters.base import LogInfo


def job_to_json(job: Job, estimate: Estimate | None = None) -> dict[str, Any]:
    """A job as JSON-ready data; the keys are a stable interface for scripts. With
    ``estimate``: ``progress`` (0-1), ``eta_seconds`` (both null when unknown) and
    ``eta_basis`` (how many finished runs they rest on, 0 with none), ``eta_late`` (slower
    in its phase than every one of those runs: the ETA is then unknown)."""
    data = {
        "plot_id": job.plot_id,
        "pid": job.pid,
        "plotter": job.plotter,
        "k": job.k,
        "compression": job.compression,
        "tmp_dir": job.tmp_dir,
        "tmp2_dir": job.tmp2_dir,
        "dst_dir": job.dst_dir,
        "phase": str(job.phase) if job.phase is not None else None,
        "phase_seconds": {str(number): seconds for number, seconds in job.phase_seconds},
        "tmp_usage_bytes": job.tmp_usage_bytes,
        "tmp_files": len(job.tmp_files),
        "status": job.status.value,
        "mem_rss_bytes": job.mem_rss_bytes,
        "mem_vms_bytes": job.mem_vms_bytes,
        "wall_seconds": round(job.wall_seconds, 3),
        "user_seconds": job.user_seconds,
        "sys_seconds": job.sys_seconds,
        "iowait_seconds": job.iowait_seconds,
        "started_at": job.started_at,
        "threads": job.threads,
        "buckets": job.buckets,
        "buffer_mib": job.buffer_mib,
        "log_file": job.log_file,
        "final_file": job.final_file,
        "completed": job.completed,
        "argv": list(job.argv),
        "cwd": job.cwd,
        "problems": list(job.problems),
    }
    if estimate is not None:
        data["progress"] = _rounded(estimate.progress, 4)
        data["eta_seconds"] = _rounded(estimate.eta_seconds, 1)
        data["eta_basis"] = estimate.basis
        data["eta_late"] = estimate.late
    return data


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def snapshot_to_json(snapshot: Snapshot, eta: EtaModel | None = None) -> dict[str, Any]:
    """The snapshot for ``status --json``; with ``eta``, each job's progress and ETA."""
    return {
        "jobs": [
            job_to_json(job, eta.estimate(job, snapshot.updated) if eta is not None else None)
            for job in snapshot.jobs
        ],
        "total_jobs": len(snapshot.jobs),
        "updated": snapshot.updated,
        "problems": list(snapshot.problems),
    }


# --- the status table ---------------------------------------------------------------------------


SortValue = tuple[int, Any]


def _known(value: Any) -> SortValue:
    # Unknown values (None) sort before every known one, whatever their type.
    return (0, 0) if value is None else (1, value)


@dataclass(frozen=True)
class Column:
    """A table column; ``drop_order`` 0 is never dropped, higher numbers go first (one column
    at a time when each has its own number). ``sort_key`` orders jobs by the value behind the
    text (by the text itself when None): "1:02" after "25s"."""

    title: str
    drop_order: int
    cell: Callable[[Job], str] = lambda _job: ""
    align_right: bool = False
    shrinkable: bool = False
    sort_key: Callable[[Job], SortValue] | None = None

    def sort_value(self, job: Job) -> SortValue:
        return self.sort_key(job) if self.sort_key is not None else (1, self.cell(job))


def _suffix(path: str | None, prefix: str) -> str:
    if not path:
        return "-"
    if prefix and path.startswith(prefix):
        return path[len(prefix) :] or "."
    return path


def _by(attribute: str) -> Callable[[Job], SortValue]:
    return lambda job: _known(getattr(job, attribute))


def status_columns(
    tmp_prefix: str, dst_prefix: str, estimate: Callable[[Job], Estimate] | None = None
) -> list[Column]:
    """``status``'s columns; with ``estimate``, ``done`` and ``eta`` after the phase, which
    a narrow terminal keeps before every column but the plot id, phase, tmp dir and wall."""
    duration, size = human_duration, partial(human_bytes, short=True)
    columns = [
        Column("plot id", 0, lambda j: (j.plot_id or "?")[:8], sort_key=_by("plot_id")),
        Column("plotter", 12, lambda j: j.plotter, sort_key=_by("plotter")),
        Column("k", 9, lambda j: str(j.k) if j.k else "-", True, sort_key=_by("k")),
        # The compression level (0: an uncompressed plot); kept longer than k: during a
        # replot it is what tells the new plots from the old.
        Column("C", 6, compression_text, True, sort_key=_by("compression")),
        Column("tmp", 1, lambda j: _suffix(j.tmp_dir, tmp_prefix), False, True, _by("tmp_dir")),
        Column("dst", 7, lambda j: _suffix(j.dst_dir, dst_prefix), False, True, _by("dst_dir")),
        Column("wall", 2, lambda j: duration(j.wall_seconds), True, sort_key=_by("wall_seconds")),
        Column("phase", 0, lambda j: str(j.phase) if j.phase else "?", sort_key=_by("phase")),
        Column("tmp", 4, lambda j: size(j.tmp_usage_bytes), True, sort_key=_by("tmp_usage_bytes")),
        Column("pid", 3, lambda j: str(j.pid), True, sort_key=_by("pid")),
        Column("stat", 5, lambda j: j.status.value, sort_key=lambda j: _known(j.status.value)),
        Column("mem", 8, lambda j: size(j.mem_rss_bytes), True, sort_key=_by("mem_rss_bytes")),
        Column("user", 10, lambda j: duration(j.user_seconds), True, sort_key=_by("user_seconds")),
        Column("sys", 11, lambda j: duration(j.sys_seconds), True, sort_key=_by("sys_seconds")),
        Column(
            "io", 13, lambda j: duration(j.iowait_seconds), True, sort_key=_by("iowait_seconds")
        ),
    ]
    if estimate is None:
        return columns
    # eta goes after wall and before pid (3), done after pid and before the temp space (5):
    # every later column moves up to make room.
    moved = [
        replace(c, drop_order=c.drop_order + (c.drop_order >= 3) + (c.drop_order >= 4))
        for c in columns
    ]
    phase = next(i for i, c in enumerate(columns) if c.title == "phase")
    done = Column(
        "done",
        5,
        lambda j: progress_text(estimate(j)),
        True,
        sort_key=lambda j: _known(estimate(j).progress),
    )
    left = Column(
        "eta",
        3,
        lambda j: eta_text(estimate(j)),
        True,
        sort_key=lambda j: _known(estimate(j).eta_seconds),
    )
    return [*moved[: phase + 1], done, left, *moved[phase + 1 :]]


def compression_text(job: Job) -> str:
    """The ``C`` cell: a job's compression level (``0``: uncompressed), ``-`` when unknown."""
    return "-" if job.compression is None else str(job.compression)


def compression_words(level: int | None) -> str:
    """A plot's compression level for ``details``: ``C7``, ``none (C0)``, or unknown."""
    if level is None:
        return "- (not stated by its command line, log or plot name)"
    return "none (C0)" if level == 0 else f"C{level}"


def progress_text(estimate: Estimate | None) -> str:
    """``43%``, rounded down (a running job never reads 100%); ``-`` when unknown."""
    if estimate is None or estimate.progress is None:
        return "-"
    return f"{math.floor(min(max(estimate.progress, 0.0), 1.0) * 100)}%"


def eta_text(estimate: Estimate | None) -> str:
    """The time left as :func:`human_duration` says it (``1:58``, ``42m``); ``late`` when the
    job is slower than every finished run like it; ``-`` when unknown."""
    if estimate is None:
        return "-"
    if estimate.late:
        return "late"
    return human_duration(estimate.eta_seconds)


def render_table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None
) -> list[str]:
    """Lay out rows under titles, fitting ``width`` if given (see :func:`fit_columns`); a
    control character in a cell (a dir named with a colour code) is shown, not obeyed."""
    # isprintable() (a C check) is true only for text printable() leaves as it is: analyze's
    # table of a farm's days has thousands of cells, nearly all numbers.
    rows = [[text if text.isprintable() else printable(text) for text in row] for row in rows]
    natural = [
        max([len(columns[i].title), *(len(row[i]) for row in rows)]) for i in range(len(columns))
    ]
    keep, widths = fit_columns(columns, natural, width)
    lines = []
    header = [fit_cell(columns[i].title, widths[i], columns[i].align_right) for i in keep]
    lines.append("  ".join(header).rstrip())
    for row in rows:
        cells = [fit_cell(row[i], widths[i], columns[i].align_right) for i in keep]
        lines.append("  ".join(cells).rstrip())
    return lines


def fit_columns(
    columns: Sequence[Column], natural: Sequence[int], width: int | None
) -> tuple[list[int], list[int]]:
    """Which columns to show, and every column's width, for a line of ``width`` cells with
    two between columns (None: no limit). ``natural``: the width each column's cells need.

    Dir columns shrink first (down to a readable minimum, keeping their right end); only when
    that is not enough do whole columns go, highest ``drop_order`` first.
    """
    smallest = [
        min(natural[i], max(len(column.title), _MIN_SHRUNK)) if column.shrinkable else natural[i]
        for i, column in enumerate(columns)
    ]
    keep = list(range(len(columns)))
    widths = list(natural)
    if width is None:
        return keep, widths
    orders = sorted({c.drop_order for c in columns if c.drop_order > 0}, reverse=True)
    for order in [*orders, None]:
        if _line_width(keep, smallest) <= width or order is None:
            break
        keep = [i for i in keep if columns[i].drop_order != order]
    excess = _line_width(keep, natural) - width
    for i in keep:
        if excess <= 0:
            break
        cut = min(natural[i] - smallest[i], excess)
        widths[i] -= cut
        excess -= cut
    return keep, widths


def fit_cell(text: str, size: int, right: bool) -> str:
    """``text`` in exactly ``size`` characters: padded, or cut from the left (a dir's end is
    the part that tells dirs apart)."""
    if len(text) > size:
        text = "…" + text[len(text) - size + 1 :]
    return text.rjust(size) if right else text.ljust(size)


_MIN_SHRUNK = 8  # a dir column is never cut below this many characters


def _line_width(indices: Sequence[int], widths: Sequence[int]) -> int:
    return sum(widths[i] for i in indices) + 2 * (len(indices) - 1)


def terminal_width(use_stty_size: bool = True) -> int | None:
    """The width to fit tables into; None means no limit (stty size ignored by config)."""
    if not use_stty_size:
        return None
    # shutil.get_terminal_size, without importing shutil (and its compression modules) here.
    try:
        return max(int(os.environ["COLUMNS"]), 1)
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(1).columns or None
    except OSError:
        return None  # not a terminal: a pipe or a file, keep the lines whole


def render_status(snapshot: Snapshot, width: int | None, eta: EtaModel | None = None) -> str:
    """``status``: plotman's table, youngest job first, plus a summary and any problems; with
    ``eta``, each job's progress and time left (``done``, ``eta``)."""
    jobs = snapshot.jobs
    tmp_prefix = common_prefix([j.tmp_dir for j in jobs])
    dst_prefix = common_prefix([j.dst_dir for j in jobs])
    lines: list[str] = []
    if tmp_prefix or dst_prefix:
        lines.append(f"Prefixes: tmp={tmp_prefix or '-'}  dst={dst_prefix or '-'}")
    estimate = None
    if eta is not None:
        estimates = {job.pid: eta.estimate(job, snapshot.updated) for job in jobs}
        estimate = lambda job: estimates[job.pid]  # noqa: E731
    columns = status_columns(tmp_prefix, dst_prefix, estimate)
    rows = [[column.cell(job) for column in columns] for job in jobs]
    lines.extend(render_table(columns, rows, width))
    lines.append(summary_line(snapshot))
    for job in jobs:
        for problem in job.problems:
            lines.append(f"! {(job.plot_id or '?')[:8]} (pid {job.pid}): {printable(problem)}")
    lines.extend(f"! {printable(problem)}" for problem in snapshot.problems)
    return "\n".join(lines)


def summary_line(snapshot: Snapshot) -> str:
    jobs = snapshot.jobs
    if not jobs:
        return "No plot jobs running."
    states = Counter(job.status.value for job in jobs)
    phases = Counter(str(job.phase) if job.phase else "?" for job in jobs)
    used = sum(job.tmp_usage_bytes or 0 for job in jobs)
    unknown = sum(1 for job in jobs if job.tmp_usage_bytes is None)
    state_text = ", ".join(f"{name} {count}" for name, count in sorted(states.items()))
    phase_text = " ".join(
        f"{phase}x{count}" if count > 1 else phase for phase, count in sorted(phases.items())
    )
    if unknown == len(jobs):
        space = "unknown"
    else:
        space = human_bytes(used) + (f" (+{unknown} jobs unknown)" if unknown else "")
    return f"Total jobs: {len(jobs)} ({state_text}); phases: {phase_text}; temp space used: {space}"


# --- details and files ----------------------------------------------------------------------------


def render_details(job: Job, estimate: Estimate | None = None, now: float | None = None) -> str:
    """``details`` of a running job; with ``estimate`` (made at ``now``), its progress and
    ETA and what they rest on."""
    phase_times = ", ".join(
        f"phase {number}: {human_duration(seconds)}" for number, seconds in job.phase_seconds
    )
    rows: list[tuple[str, str]] = [
        ("plot id", job.plot_id or "? (not in the log yet)"),
        ("plotter", f"{job.plotter}, k{job.k if job.k else '?'}"),
        ("compression", compression_words(job.compression)),
        ("pid", f"{job.pid} ({job.status.value})"),
        ("started", f"{local_time(job.started_at)} ({human_duration(job.wall_seconds)} ago)"),
        ("phase", str(job.phase) if job.phase else "? (no log found)"),
        ("phase times", phase_times or "-"),
        *(_estimate_rows(job, estimate, now) if estimate is not None else []),
        *_dirs_and_settings(job),
        ("temp files", f"{len(job.tmp_files)} ({human_bytes(job.tmp_usage_bytes)})"),
        ("memory", f"rss {human_bytes(job.mem_rss_bytes)}, vms {human_bytes(job.mem_vms_bytes)}"),
        (
            "cpu",
            f"user {human_duration(job.user_seconds)}, sys {human_duration(job.sys_seconds)}, "
            f"iowait {human_duration(job.iowait_seconds)}",
        ),
        ("log", job.log_file or "-"),
        ("cwd", job.cwd or "-"),
        ("command", shlex.join(job.argv)),
    ]
    if job.final_file:
        rows.append(("final file", job.final_file))
    rows.extend(("problem", problem) for problem in job.problems)
    return _aligned(rows)


def _estimate_rows(job: Job, estimate: Estimate, now: float | None) -> list[tuple[str, str]]:
    """``progress`` and ``eta`` lines: the numbers, then what they rest on, in words."""
    from plotman_tui.farm.eta import MIN_SAME_TMP
    from plotman_tui.farm.model import JobStatus

    if job.completed:
        return [("progress", "100% (its plot is finished)"), ("eta", "none: done")]
    if job.phase is None:
        why = "unknown: no log found, so no phase"
        return [("progress", why), ("eta", why)]
    if estimate.basis == 0:
        why = "unknown: its k is not known"
        if job.k:
            why = f"unknown: no finished {job.plotter} k{job.k} runs in the log dir"
        return [("progress", why), ("eta", why)]
    runs = f"{estimate.basis} finished{'' if estimate.same_tmp else f' {job.plotter} k{job.k}'}"
    runs += f" run{'' if estimate.basis == 1 else 's'}"
    if estimate.same_tmp:
        basis = f"{runs} on this tmp dir"
    elif job.tmp_dir:
        basis = f"{runs}, fewer than {MIN_SAME_TMP} on this tmp dir"
    else:
        basis = runs
    done = progress_text(estimate)
    rows = [("progress", f"{done} (from {basis})" if estimate.progress is not None else "-")]
    if estimate.late:
        eta = f"unknown: in phase {max(job.phase.major, 1)} longer than any of the {basis}"
    elif job.status == JobStatus.STP:
        eta = "none while suspended"
    elif estimate.eta_seconds is None:
        eta = f"unknown: how long it has been in this phase is not known ({basis})"
    else:
        at = f" (about {local_time(now + estimate.eta_seconds)})" if now is not None else ""
        eta = f"{human_duration(estimate.eta_seconds)} left{at}, from {basis}"
    return [*rows, ("eta", eta)]


def render_finished_details(log: FinishedLog) -> str:
    """``details`` of a job that no longer runs: what its log says."""
    info = log.info
    if info.completed or info.final_file:
        state = "finished its plot"
    else:
        state = f"not running, and its log ends at phase {info.phase} without a finished plot"
    phase_times = ", ".join(
        f"phase {number}: {human_duration(seconds)}"
        for number, seconds in sorted(info.phase_seconds.items())
    )
    started = local_time(info.started_at) if info.started_at is not None else "-"
    rows: list[tuple[str, str]] = [
        ("plot id", log.plot_id),
        ("plotter", f"{log.plotter}, k{info.k if info.k else '?'} (as its log reads)"),
        ("compression", compression_words(info.compression)),
        ("state", state),
        ("started", started),
        ("phase times", phase_times or "-"),
        ("total", human_duration(info.total_seconds) if info.total_seconds else "-"),
        ("copy", human_duration(info.copy_seconds) if info.copy_seconds else "-"),
        *_dirs_and_settings(info),
        ("final file", info.final_file or "-"),
        ("log", log.path),
    ]
    return _aligned(rows)


def _dirs_and_settings(plot: Job | LogInfo) -> list[tuple[str, str]]:
    """The dirs and plotter settings rows, from a running job or from a log."""
    buffer = f"{plot.buffer_mib} MiB" if plot.buffer_mib else "-"
    return [
        ("tmp", plot.tmp_dir or "-"),
        ("tmp2", plot.tmp2_dir or "-"),
        ("dst", plot.dst_dir or "-"),
        ("threads/buckets/buffer", f"{plot.threads or '-'} / {plot.buckets or '-'} / {buffer}"),
    ]


def _aligned(rows: Sequence[tuple[str, str]]) -> str:
    """``label: value`` lines, the labels right-aligned, the values :func:`printable`."""
    label_width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.rjust(label_width)}: {printable(value)}" for label, value in rows)


def render_files(job: Job) -> str:
    lines = [f"{job.plot_id or '?'} (pid {job.pid}):"]
    for temp in job.tmp_files:
        lines.append(f"  {human_bytes(temp.size_bytes).rjust(10)}  {printable(temp.path)}")
    lines.append(
        f"  {human_bytes(job.tmp_usage_bytes).rjust(10)}  total, {len(job.tmp_files)} files"
    )
    return "\n".join(lines)


def files_json(jobs: Sequence[Job]) -> str:
    """``files --json``: each job's temp files, compact, for a program (the fleet's kill
    question lists a remote job's files from it); the keys are a stable interface."""
    data = {
        "jobs": [
            {
                "pid": job.pid,
                "started_at": job.started_at,
                "plot_id": job.plot_id,
                "tmp_files": [
                    {"path": temp.path, "size_bytes": temp.size_bytes} for temp in job.tmp_files
                ],
                "tmp_usage_bytes": job.tmp_usage_bytes,
            }
            for job in jobs
        ]
    }
    # Paths are as the file system gives them: a name that is not UTF-8 holds surrogates,
    # which json writes as escapes (\udcXX) and a reader's json turns back into the same str.
    return json.dumps(data, separators=(",", ":"))


# --- dirs and dsched ----------------------------------------------------------------------------
# The rows are ``dirview``'s, the dashboard's dir tables' too; here they are laid out as text.


def _dir_columns(title: str, jobs_title: str) -> list[Column]:
    """The columns every dir table starts with: the dir, its jobs, their phases, the space."""
    return [
        Column(title, 0, shrinkable=True),
        Column(jobs_title, 0, align_right=True),
        Column("phases", 1),
        Column("free", 0, align_right=True),
        Column("size", 3, align_right=True),
    ]


def _dir_cells(
    path: str, jobs: int, phases: str, free: int | None, error: str | None, total: int | None
) -> list[str]:
    """The cells of :func:`_dir_columns`: an unreadable dir's error in place of its space."""
    space = human_bytes(total, short=True)
    return [path, str(jobs), phases, error or human_bytes(free, short=True), space]


def _tmp_table(title: str, rows: Sequence[TmpRow], width: int | None) -> list[str]:
    scheduled = any(row.role == "tmp" for row in rows)
    columns = _dir_columns(title, "jobs")
    if scheduled:
        columns.append(Column("ready", 2))
    lines = []
    for row in rows:
        line = _dir_cells(
            row.path, row.jobs, row.phases, row.free_bytes, row.error, row.total_bytes
        )
        if scheduled:
            line.append("" if row.error else row.why)
        lines.append(line)
    return render_table(columns, lines, width)


def render_dirs(
    tmp: Sequence[TmpRow], dst: Sequence[DstRow], width: int | None, *, with_priority: bool
) -> str:
    """``dirs``: every configured dir with its jobs, phases and free space (an unreadable
    dir's error in its place); whether a tmp dir takes a new job, or why not; the dst dirs'
    finished plots, and their archive priority when archiving is set up."""
    lines = _tmp_table("tmp dir", [row for row in tmp if row.role == "tmp"], width)
    tmp2 = [row for row in tmp if row.role == "tmp2"]
    if tmp2:
        lines.append("")
        lines.extend(_tmp_table("tmp2 dir", tmp2, width))
    from plotman_tui.dirview import plots_text

    columns = [*_dir_columns("dst dir", "inbound"), Column("plots", 2, align_right=True)]
    if with_priority:
        columns.append(Column("prio", 4, align_right=True))
    rows = []
    for row in dst:
        line = _dir_cells(
            row.path, row.inbound, row.phases, row.free_bytes, row.error, row.total_bytes
        )
        line.append(plots_text(row))
        if with_priority:
            line.append("-" if row.priority is None else str(row.priority))
        rows.append(line)
    lines.append("")
    lines.extend(render_table(columns, rows, width))
    return "\n".join(lines)


def render_archive_dirs(
    rows: Sequence[ArchiveRow], problems: Sequence[str], width: int | None
) -> str:
    """``dirs``: each archive target's dirs with their free space, or why it is not known;
    then ``problems``, a line each (a whole target's, with what the rows' notes shorten)."""
    columns = [
        Column("archive dir", 0, shrinkable=True),
        Column("target", 0),
        Column("free", 0, align_right=True),
        Column("note", 1),
    ]
    cells = [
        [row.path, row.target, human_bytes(row.free_bytes, short=True), row.note] for row in rows
    ]
    return "\n".join([*render_table(columns, cells, width), *map(printable, problems)])


def render_dsched(dst: Sequence[DstRow]) -> str:
    """``dsched``: for each dst dir, the phases of the jobs that will write their plot there
    (dirs the config does not name last, marked so)."""
    width = max([len(printable(row.path)) for row in dst] + [7])
    lines = []
    for row in dst:
        free = row.error or human_bytes(row.free_bytes, short=True)
        if not row.configured:
            free = "(not in config)"
        lines.append(f"{printable(row.path).ljust(width)}  {printable(free):>7}  {row.phases}")
    return "\n".join(lines) if lines else "No dst dirs configured."


# --- replotting ---------------------------------------------------------------------------------
# ``dirs`` and ``status --json`` show each replotting target's progress, the dashboard's archive
# summary the short form; ``replot plan`` what a target's rules match before they are turned on.


def rules_text(rules: ReplotRules) -> str:
    """A target's replot rules in a farmer's words: which plots may go (every rule must hold),
    then the margin, a dry run, rules turned off."""
    which: list[str] = []
    if rules.older_than is not None:
        which.append(f"named with a date before {rules.older_than.isoformat()}")
    if rules.uncompressed is True:
        which.append("uncompressed")
    if rules.compression_below is not None:
        which.append(f"below C{rules.compression_below} (uncompressed is C0)")
    if rules.k:
        which.append(" or ".join(f"k{k}" for k in rules.k))
    if rules.names:
        which.append("named like " + " or ".join(repr(glob) for glob in rules.names))
    text = "plots " + (", ".join(which) if which else "(no rule: none match)")
    if len(which) > 1:
        text += " (all of these)"
    if rules.keep_free_gib:
        text += f"; keeps {rules.keep_free_gib} GiB free"
    if rules.dry_run:
        text += "; dry run: removes nothing"
    if not rules.enabled:
        text += "; off (enabled = false)"
    return text


def _days_text(days: float) -> str:
    return f"{days:.1f}" if days < 10 else f"{days:.0f}"


def replot_progress_text(
    progress: ReplotProgress, problem: str | None = None, *, short: bool = False
) -> str:
    """A replotting target's progress: old plots left, removed, new plots moved, days to
    finish at the current rate, and a dry run or why it stopped; ``problem``: why the farmer's
    plots are not known now. ``short``: the dashboard's clauses, the most telling first
    (``120 old (11.9T), 12d left, 30 removed, 28 new``), which a narrow table cuts from the end."""
    listed = progress.listed_at is not None and problem is None
    size = partial(human_bytes, short=short)
    if short:
        if not listed:
            parts = ["old ?"]
        elif progress.matching_plots == 0:
            parts = ["no old plot left"]
        else:
            parts = [f"{progress.matching_plots} old ({size(progress.matching_bytes)})"]
            if progress.days_left is not None:
                parts.append(f"{_days_text(progress.days_left)}d left")
        if progress.removed_plots or progress.new_plots_moved:
            parts += [f"{progress.removed_plots} removed", f"{progress.new_plots_moved} new"]
        if progress.dry_run:  # after the counts (the dashboard shows it yellow, too)
            parts.append("dry run")
        text = ", ".join(parts)
        if progress.stopped is not None:
            text = f"stopped: {progress.stopped}; {text}"
        return text
    if listed:
        left = (
            f"{_plots(progress.matching_plots, 'old plot')} left ({size(progress.matching_bytes)})"
        )
    else:
        left = f"old plots left unknown ({problem or 'the farmer is not listed yet'})"
    parts = [
        left,
        f"removed {progress.removed_plots} ({size(progress.removed_bytes)} replaced)",
        f"{_plots(progress.new_plots_moved, 'new plot')} moved",
    ]
    if listed and progress.matching_plots == 0:
        parts.append("nothing left to replace")
    elif listed and progress.days_left is not None:
        parts.append(f"about {_days_text(progress.days_left)} days to finish at the current rate")
    else:
        parts.append("days to finish unknown (too few removals yet to tell a rate)")
    if progress.stopped is not None:  # first: what the farmer must act on
        parts.insert(0, f"STOPPED: {progress.stopped}")
    dry_run = " (dry run: nothing is removed)" if progress.dry_run else ""
    return f"replot {progress.target}{dry_run}: " + "; ".join(parts)


def _plots(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def replot_progress_to_json(progress: ReplotProgress) -> dict[str, Any]:
    """One target's replot progress for ``status --json``; the keys are a stable interface."""
    return {
        "matching_plots": progress.matching_plots,
        "matching_bytes": progress.matching_bytes,
        "removed_plots": progress.removed_plots,
        "removed_bytes": progress.removed_bytes,
        "new_plots_moved": progress.new_plots_moved,
        "bytes_per_day": _finite(progress.bytes_per_day, 1),
        "days_left": _finite(progress.days_left, 2),
        "dry_run": progress.dry_run,
        "stopped": progress.stopped,
        "listed_at": progress.listed_at,
    }


def _finite(value: float | None, digits: int) -> float | None:
    """A rounded number, or None for none or a value JSON cannot hold (inf, NaN)."""
    return round(value, digits) if value is not None and math.isfinite(value) else None


def replot_plan_to_json(plans: Sequence[ReplotPlan]) -> dict[str, Any]:
    """``replot plan --json``: each target's dirs, what its rules match, and the totals."""
    targets = []
    for plan in plans:
        targets.append(
            {
                "target": plan.target,
                "rules": _rules_json(plan.rules) if plan.rules is not None else None,
                "rules_text": rules_text(plan.rules) if plan.rules is not None else None,
                "problem": plan.problem,
                "plots": sum(d.plots for d in plan.dirs),
                "plot_bytes": sum(d.plot_bytes for d in plan.dirs),
                "matching_plots": plan.matching_plots,
                "matching_bytes": plan.matching_bytes,
                "dirs": [
                    {
                        "archive_dir": d.archive_dir,
                        "plots": d.plots,
                        "plot_bytes": d.plot_bytes,
                        "matching_plots": d.matching_plots,
                        "matching_bytes": d.matching_bytes,
                        "problem": d.problem,
                    }
                    for d in plan.dirs
                ],
            }
        )
    return {
        "targets": targets,
        "matching_plots": sum(plan.matching_plots for plan in plans),
        "matching_bytes": sum(plan.matching_bytes for plan in plans),
    }


def _rules_json(rules: ReplotRules) -> dict[str, Any]:
    return {
        "older_than": rules.older_than.isoformat() if rules.older_than is not None else None,
        "uncompressed": rules.uncompressed,
        "compression_below": rules.compression_below,
        "k": list(rules.k),
        "names": list(rules.names),
        "keep_free_gib": rules.keep_free_gib,
        "dry_run": rules.dry_run,
        "enabled": rules.enabled,
    }


def render_replot_plan(plans: Sequence[ReplotPlan], width: int | None) -> str:
    """``replot plan``: per target its rules in words, then per archive dir the plots there and
    those the rules match (counts and sizes) with the target's totals; a target without rules,
    or whose farmer could not be listed, says so in a line."""
    blocks = []
    for plan in plans:
        if plan.rules is None:
            blocks.append(
                f"{printable(plan.target)}: no replot rules ([archiving.targets.replot] not set)"
            )
            continue
        head = printable(f"{plan.target}: {rules_text(plan.rules)}")
        if plan.problem is not None:
            blocks.append(f"{head}\n! {printable(f'{plan.target}: {plan.problem}')}")
            continue
        columns = [
            Column("archive dir", 0, shrinkable=True),
            Column("plots", 0, align_right=True),
            Column("size", 1, align_right=True),
            Column("matching", 0, align_right=True),
            Column("matching size", 0, align_right=True),
        ]
        size = partial(human_bytes, short=True)
        # A dir that could not be listed has no counts; one listed with files left out (sizes
        # no plot has) keeps its counts. Either way its problem is a line under the table.
        rows = [
            [d.archive_dir, "-", "-", "-", "-"]
            if d.problem is not None and d.plots == 0
            else [
                d.archive_dir,
                str(d.plots),
                size(d.plot_bytes),
                str(d.matching_plots),
                size(d.matching_bytes),
            ]
            for d in plan.dirs
        ]
        notes = [f"! {printable(f'{d.archive_dir}: {d.problem}')}" for d in plan.dirs if d.problem]
        rows.append(
            [
                "total",
                str(sum(d.plots for d in plan.dirs)),
                size(sum(d.plot_bytes for d in plan.dirs)),
                str(plan.matching_plots),
                size(plan.matching_bytes),
            ]
        )
        blocks.append("\n".join([head, *render_table(columns, rows, width), *notes]))
    if not blocks:
        return "No archive targets configured."
    return "\n\n".join(blocks)
