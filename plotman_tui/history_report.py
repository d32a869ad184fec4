"""``analyze`` and ``export``: plot history as a table, JSON or CSV.

Both read plot logs: by default every ``*.log`` in the config's ``[logging] plots`` dir (through
the history cache, so a second run reads only new or grown logs), or the files and dirs given.
Only completed plots are counted or exported; unfinished plots and files that are no plot log
are listed below ``analyze``'s table (all of them in its ``--json``).

``analyze`` shows, per group of plots (``--by``, e.g. ``tmp,day``; no ``--by``: all plots in one
group), for each of phase 1-4, the total and the copy time: how many plots have that time
(``n``), their mean, standard deviation (``sd``), min, median and max, as h:mm:ss. Above the
times: the plots finished, the bytes written (their final files' sizes) and plots/day and
TiB/day over the group's span, from its first plot's start to its last plot's end (at least a
day). ``--since`` and ``--until`` keep the plots that ended in that time, as ``--by day`` counts
them (an unfinished plot by its start; one whose log tells neither is left out then).
``--json`` gives the same in seconds and bytes, a group value the logs do not tell as null
(k, threads and the like as numbers); ``--csv`` one row per group and time. See
:mod:`plotman_tui.farm.history_stats` for exactly how each figure is reached.

``export`` writes one CSV row per completed plot, oldest start first: plotman's 34 ``export``
columns, same names, order and number formats, then plotter, k, compression, dst dir and the
final size in bytes. Where plotman wrote ``None`` or ``0`` for something the log does not say
(madMAx's buffer, BladeBit's tmp dir, a missing copy time), the cell is empty: a spreadsheet's
average skips it instead of counting a 0.

Both CSVs are RFC 4180: fields quoted when they need it, lines ending in CRLF (what plotman's
``csv.DictWriter`` wrote too). A text cell from a log that starts with ``=``, ``+``, ``-``,
``@``, tab or CR (a dir named ``=HYPERLINK(...)``) would be run as a formula by a spreadsheet:
it gets a leading ``'``, as OWASP advises. Real paths start with ``/`` and are never changed.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import math
import operator
import os
import re
import stat
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import compress, repeat
from typing import TYPE_CHECKING, Any, TextIO

from plotman_tui.farm.history import (
    PlotRecord,
    SkippedLog,
    default_cache_path,
    each_once,
    read_history,
    read_log,
)
from plotman_tui.farm.history_stats import (
    GROUP_KEYS,
    MAX_BYTES,
    MAX_SECONDS,
    MEASURES,
    TIB,
    UNKNOWN,
    GroupSummary,
    Spread,
    local_datetime,
    summarize,
)
from plotman_tui.farm.units import human_bytes, printable
from plotman_tui.report import Column, render_table

if TYPE_CHECKING:
    from plotman_tui.config.schema import Config

EXIT_FAILED = 1
EXIT_USAGE = 2
#: How many unfinished plots and skipped logs the table lists (``--json`` lists all).
LISTED = 5


class HistoryReportError(Exception):
    """A one-line error for the user, with the exit status to leave with."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- reading the logs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LogsRead:
    """Every plot found in the logs asked for, the files that gave none, and where they were."""

    records: tuple[PlotRecord, ...]
    skipped: tuple[SkippedLog, ...]
    #: The dir or files read, for the reader ("/var/log/plots", or "3 paths").
    where: str


def read_logs(config: Config, paths: Sequence[str]) -> LogsRead:
    """The plot logs at ``paths`` (files or dirs; none: the config's plot log dir).

    A path that is missing or cannot be read is a :class:`HistoryReportError` naming it: a
    mistyped path must not read as "no plots". Dirs go through the history cache.
    """
    given = list(paths) or [os.fspath(config.logging.plots)]
    # Every path is looked at before any is read: a mistyped last one fails at once.
    what = "{}" if paths else "the plot log dir {} ([logging] plots)"
    dirs = [_is_dir(path, what) for path in given]
    records: list[PlotRecord] = []
    skipped: list[SkippedLog] = []
    cache = default_cache_path()
    for path, is_dir in zip(given, dirs, strict=True):
        if is_dir:
            history = read_history(path, cache)
            records.extend(history.records)
            skipped.extend(history.skipped)
        else:
            found, skip = read_log(path)
            records.extend(found)
            if skip is not None:
                skipped.append(skip)
    # One dir given: read_history has counted each plot once already. One file: its logs are
    # each listed once (their paths differ), so only ids are compared; a realpath per
    # unfinished plot's log cost 60 ms on 10,000 logs.
    if len(given) > 1 or not dirs[0]:
        records = each_once(records, resolve=len(given) > 1)
    if len(given) > 1:  # a dir and a file in it, or a path given twice: each file once
        firsts: dict[str, SkippedLog] = {}
        for skip in skipped:
            firsts.setdefault(os.path.realpath(skip.log_path), skip)
        skipped = list(firsts.values())
    where = given[0] if len(given) == 1 else f"{len(given)} paths"
    return LogsRead(tuple(records), tuple(skipped), where)


def _is_dir(path: str, what: str) -> bool:
    """Whether ``path`` is a dir; a :class:`HistoryReportError` when it is neither a dir nor a
    file that can be read, naming it as ``what`` says (``{}``: the path)."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            with os.scandir(path):
                return True
        # Only a regular file is opened to see that it can be read: opening a device can act
        # on it, a FIFO can hang. read_log skips those with their reason.
        if stat.S_ISREG(mode):
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except OSError as error:
        reason = error.strerror or str(error)
        named = what.format(printable(path))
        raise HistoryReportError(f"cannot read {named}: {reason}") from None
    return False


def _time_filter(args: argparse.Namespace) -> tuple[float | None, float | None]:
    """``--since`` and ``--until`` as POSIX times; exit 2 for a value that is no time."""
    if not (args.since or args.until):
        return None, None
    from plotman_tui.farm.actionlog import parse_since  # only when asked: a quicker start

    now = time.time()
    found: list[float | None] = []
    for option, text in (("--since", args.since), ("--until", args.until)):
        if not text:
            found.append(None)
            continue
        try:
            found.append(parse_since(text, now))
        except (ValueError, OverflowError) as error:
            raise HistoryReportError(f"{option}: {error}", EXIT_USAGE) from None
    since, until = found
    if since is not None and until is not None and until <= since:
        raise HistoryReportError(
            f"--until {printable(args.until)} is not after --since {printable(args.since)}: "
            "no plot can finish between them",
            EXIT_USAGE,
        )
    return since, until


def in_time(record: PlotRecord, since: float | None, until: float | None) -> bool:
    """Whether the plot ended in [since, until) (an unfinished one: started), the time
    ``--by day`` files it under; with either set, a plot whose time is not known is out."""
    if since is None and until is None:
        return True
    when = record.ended_at if record.ended_at is not None else record.started_at
    if when is None or when != when:  # None or NaN
        return False
    return (since is None or when >= since) and (until is None or when < until)


def _group_names(text: str | None) -> list[str]:
    """``--by``'s comma list; exit 2 with the valid names for one that is not."""
    names: list[str] = []
    for name in (text or "").split(","):
        name = name.strip().lower()
        if name and name not in names:
            names.append(name)
    unknown = [name for name in names if name not in GROUP_KEYS]
    if unknown:
        raise HistoryReportError(
            f"--by: cannot group by {printable(', '.join(unknown))}; "
            f"choose from {','.join(GROUP_KEYS)}",
            EXIT_USAGE,
        )
    return names


# --- analyze ------------------------------------------------------------------------------------


def run_analyze(config: Config, args: argparse.Namespace, width: int | None) -> int:
    by = _group_names(args.by)
    since, until = _time_filter(args)
    logs = read_logs(config, args.logs)
    records = list(logs.records)
    if since is not None or until is not None:
        records = [r for r in records if in_time(r, since, until)]
    groups = summarize(records, by)
    unfinished = [r for r in records if not r.completed]
    if args.json:
        data = analysis_to_json(by, since, until, groups, unfinished, logs.skipped)
        text = json.dumps(data, indent=2) + "\n"
        write_stdout(lambda out: out.write(text))
    elif args.csv:
        write_stdout(lambda out: write_analysis_csv(out, by, groups))
    else:
        outside = 0 if groups else sum(r.completed for r in logs.records)
        text = render_analysis(
            by, groups, unfinished, logs.skipped, logs.where, width, _asked(args, outside)
        )
        text += "\n"
        write_stdout(lambda out: out.write(text), lossy=True)
    return 0


def _asked(args: argparse.Namespace, outside: int) -> str:
    """Why no plot is shown when ``--since``/``--until`` left out all ``outside`` completed
    ones ("" when they did not): the dir has plots, the time asked has none."""
    if not outside or not (args.since or args.until):
        return ""
    options = " ".join(
        f"{option} {printable(text)}"
        for option, text in (("--since", args.since), ("--until", args.until))
        if text
    )
    plots = "plot" if outside == 1 else "plots"
    return (
        f" finished in the time asked ({options}); {outside} completed {plots} there finished "
        "outside it"
    )


def clock(seconds: float | None) -> str:
    """Seconds as h:mm:ss (hours past 24 go on counting: ``30:00:00``); None as ``-``."""
    if seconds is None:
        return UNKNOWN
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _rate(value: float) -> str:
    """A per-day figure: two decimals, or two significant digits when smaller (a test farm's
    k18 plots make 0.000009 TiB/day, not 0.00), never as an exponent (9e-06); below a
    millionth, ``<0.000001``."""
    if value == 0 or value >= 0.01 or not math.isfinite(value):
        return f"{value:.2f}"
    if value < 1e-6:
        return "<0.000001"
    from decimal import Decimal  # seldom needed: a quicker start

    return format(Decimal(f"{value:.2g}"), "f")


_MEASURE_TITLES = {
    "phase1": "phase 1",
    "phase2": "phase 2",
    "phase3": "phase 3",
    "phase4": "phase 4",
    "total": "total",
    "copy": "copy",
}
assert tuple(_MEASURE_TITLES) == MEASURES

# When the terminal is narrow, the median goes first, then sd, min and max; n and mean stay.
_TIME_COLUMNS = (
    Column("time", 0),
    Column("n", 0, align_right=True),
    Column("mean", 0, align_right=True),
    Column("sd", 3, align_right=True),
    Column("min", 2, align_right=True),
    Column("median", 4, align_right=True),
    Column("max", 1, align_right=True),
)
_INDENT = "  "


def _time_rows(group: GroupSummary) -> list[list[str]]:
    rows = []
    for measure in MEASURES:
        found = group.spreads[measure]
        if found is None:
            rows.append([_MEASURE_TITLES[measure], "0", *[UNKNOWN] * 5])
            continue
        times = (found.mean, found.stdev, found.min, found.median, found.max)
        rows.append([_MEASURE_TITLES[measure], str(found.n), *map(clock, times)])
    return rows


def _wrapped(text: str, width: int | None, indent: str = "") -> list[str]:
    """``text`` in lines of ``width`` (continued lines indented two more); a long path is
    broken, never cut, so nothing of it is lost."""
    text = printable(text)
    if width is None or len(indent) + len(text) <= width:
        return [indent + text]
    import textwrap  # seldom needed: a quicker start

    return textwrap.wrap(
        text,
        max(width, len(indent) + 12),
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_on_hyphens=False,
    )


def group_title(by: Sequence[str], key: Sequence[str]) -> str:
    """``tmp /mnt/tmp/00 · day 2026-11-24``; ``all plots`` without ``--by``."""
    if not by:
        return "all plots"
    return " · ".join(f"{name} {value}" for name, value in zip(by, key, strict=True))


def group_figures(group: GroupSummary) -> list[str]:
    """The group's output in words, as parts a line may break between."""
    plots = group.plots_finished
    days = f"{group.span_seconds / 86400:.1f}"
    return [
        f"{plots} plot{'s' if plots != 1 else ''} finished ({human_bytes(group.bytes_written)})",
        f"{_rate(group.plots_per_day)} plots/day",
        f"{_rate(group.tib_per_day)} TiB/day over {days} day{'' if days == '1.0' else 's'}",
    ]


def _joined(parts: Sequence[str], width: int | None, indent: str) -> list[str]:
    """``parts`` joined by ", " (the first by "; ") in lines of ``width``, broken only between
    parts."""
    lines = [indent + parts[0]]
    for number, part in enumerate(parts[1:]):
        joint = ";" if number == 0 else ","
        if width is not None and len(lines[-1]) + 2 + len(part) > width:
            lines[-1] += joint
            lines.append(indent + part)
        else:
            lines[-1] += f"{joint} {part}"
    return lines


def render_analysis(
    by: Sequence[str],
    groups: Sequence[GroupSummary],
    unfinished: Sequence[PlotRecord],
    skipped: Sequence[SkippedLog],
    where: str,
    width: int | None,
    asked: str = "",
) -> str:
    """``analyze``'s text: one block per group (its key, its output, a table of its times),
    then the plots and logs left out. ``asked``: what follows "No completed plots in WHERE"
    when there are none (the time asked left out those there are)."""
    lines: list[str] = []
    if not groups:
        lines.extend(_wrapped(f"No completed plots in {where}{asked}.", width))
    # One table for all groups' rows, cut into blocks: every block has the same columns.
    inner = None if width is None else max(width - len(_INDENT), 1)
    rows = [_time_rows(group) for group in groups]
    table = render_table(_TIME_COLUMNS, [row for block in rows for row in block], inner)
    start = 1
    for group, block in zip(groups, rows, strict=True):
        if lines:
            lines.append("")
        lines.extend(_wrapped(group_title(by, group.key), width))
        lines.extend(_joined(group_figures(group), width, _INDENT))
        lines.extend(_INDENT + line for line in [table[0], *table[start : start + len(block)]])
        start += len(block)
    lines.extend(_left_out(unfinished, skipped, where, width))
    return "\n".join(lines)


def _left_out(
    unfinished: Sequence[PlotRecord],
    skipped: Sequence[SkippedLog],
    where: str,
    width: int | None,
) -> list[str]:
    """The plots and files the table leaves out: counted, the first few listed with why; a log
    in the dir read is named by its name in it."""
    base = where.rstrip(os.sep) + os.sep

    def shown(path: str) -> str:
        return path[len(base) :] if path.startswith(base) and len(path) > len(base) else path

    lines: list[str] = []
    if unfinished:
        count = len(unfinished)
        lines += ["", f"{count} unfinished plot{'s' if count != 1 else ''} (not counted above):"]
        for record in unfinished[:LISTED]:
            text = f"{shown(record.log_path)} ({record.plot_id[:8]}): {record.unfinished_reason}"
            lines.extend(_wrapped(text, width, _INDENT))
        if count > LISTED:
            lines.append(f"{_INDENT}... and {count - LISTED} more (--json lists them all)")
    if skipped:
        count = len(skipped)
        lines += ["", f"{count} file{'s' if count != 1 else ''} skipped (no plot in them):"]
        for skip in skipped[:LISTED]:
            lines.extend(_wrapped(f"{shown(skip.log_path)}: {skip.reason}", width, _INDENT))
        if count > LISTED:
            lines.append(f"{_INDENT}... and {count - LISTED} more (--json lists them all)")
    return lines


def _spread_json(found: Spread | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "n": found.n,
        "mean": found.mean,
        "stdev": found.stdev,
        "min": found.min,
        "median": found.median,
        "max": found.max,
    }


#: ``--by`` names whose values are numbers in ``--json``; bitfield's are true/false.
_NUMBER_KEYS = frozenset({"k", "compression", "threads", "buckets", "buffer"})


def _key_json(name: str, value: str) -> str | int | bool | None:
    """A group value as JSON: null when unknown, a number or boolean where it is one."""
    if value == UNKNOWN:
        return None
    if name in _NUMBER_KEYS and value.isascii() and value.isdigit():
        return int(value)
    if name == "bitfield":
        return value == "on"
    return value


def analysis_to_json(
    by: Sequence[str],
    since: float | None,
    until: float | None,
    groups: Sequence[GroupSummary],
    unfinished: Sequence[PlotRecord],
    skipped: Sequence[SkippedLog],
) -> dict[str, Any]:
    """``analyze --json``: durations in seconds, sizes in bytes; a group value the logs do
    not tell is null, k, compression, threads, buckets and buffer (MiB) are numbers, bitfield
    true or false. The keys are a stable interface for scripts."""
    return {
        "by": list(by),
        "since": since,
        "until": until,
        "plots_finished": sum(group.plots_finished for group in groups),
        "groups": [
            {
                "key": {
                    name: _key_json(name, value) for name, value in zip(by, group.key, strict=True)
                },
                "plots_finished": group.plots_finished,
                "bytes_written": group.bytes_written,
                "tib_written": group.bytes_written / TIB,
                "span_seconds": group.span_seconds,
                "plots_per_day": group.plots_per_day,
                "tib_per_day": group.tib_per_day,
                "times": {name: _spread_json(group.spreads[name]) for name in MEASURES},
            }
            for group in groups
        ],
        "unfinished": [
            {
                "log_path": record.log_path,
                "plot_id": record.plot_id,
                "plotter": record.plotter,
                "reason": record.unfinished_reason,
            }
            for record in unfinished
        ],
        "skipped": [{"log_path": skip.log_path, "reason": skip.reason} for skip in skipped],
    }


#: ``analyze --csv``'s columns after the ``--by`` names.
ANALYSIS_CSV_COLUMNS = (
    "measure",
    "n",
    "mean_seconds",
    "stdev_seconds",
    "min_seconds",
    "median_seconds",
    "max_seconds",
    "plots_finished",
    "bytes_written",
    "span_seconds",
    "plots_per_day",
    "tib_per_day",
)


def write_analysis_csv(out: TextIO, by: Sequence[str], groups: Sequence[GroupSummary]) -> None:
    """``analyze --csv``: one row per group and measure (a group value not known is empty)."""
    rows: list[list[str]] = [[*by, *ANALYSIS_CSV_COLUMNS]]
    for group in groups:
        key = [safe_cell("" if value == UNKNOWN else value) for value in group.key]
        output = [
            str(group.plots_finished),
            str(group.bytes_written),
            str(group.span_seconds),
            str(group.plots_per_day),
            str(group.tib_per_day),
        ]
        for measure in MEASURES:
            found = group.spreads[measure]
            times = ["0", "", "", "", "", ""]
            if found is not None:
                values = (found.mean, found.stdev, found.min, found.median, found.max)
                times = [str(found.n), *map(str, values)]
            rows.append([*key, measure, *times, *output])
    write_rows(out, rows)


# --- CSV ----------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """A text cell from a log that a spreadsheet would run as a formula, with a leading ``'``."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_writer(out: TextIO) -> Any:
    """RFC 4180 rows: minimal quoting, CRLF line ends (the csv module's default, plotman's)."""
    import csv  # only when a cell needs quoting: a quicker start

    return csv.writer(out, lineterminator="\r\n")


# --- export -------------------------------------------------------------------------------------

#: plotman's ``export`` columns (plotman 0.5.3 src/plotman/csv_exporter.py), then ours.
PLOTMAN_EXPORT_COLUMNS = (
    "Plot ID",
    "Started at",
    "Date",
    "Size",
    "Buffer",
    "Buckets",
    "Threads",
    "Tmp dir 1",
    "Tmp dir 2",
    *(
        f"{what} duration{how}"
        for what in ("Phase 1", "Phase 2", "Phase 3", "Phase 4")
        for how in (" (raw)", "", " (minutes)", " (hours)")
    ),
    *(
        f"{what}{how}"
        for what in ("Total time", "Copy time")
        for how in (" (raw)", "", " (minutes)", " (hours)")
    ),
    "Filename",
)
EXPORT_COLUMNS = (
    *PLOTMAN_EXPORT_COLUMNS,
    "Plotter",
    "k",
    "Compression",
    "Dst dir",
    "Final size (bytes)",
)


def run_export(config: Config, args: argparse.Namespace) -> int:
    if args.output is not None and not args.output.strip():
        # `-o "$OUT"` with OUT unset: not the current dir, not stdout.
        raise HistoryReportError("-o: the file name is empty", EXIT_USAGE)
    logs = read_logs(config, args.logs)
    plots = export_records(logs.records)
    if args.output in (None, "-"):  # "-o -": stdout, as the tools a farmer pipes into read it
        write_stdout(lambda out: write_export(out, plots))
        return 0
    write_atomically(args.output, lambda out: write_export(out, plots))
    return 0


def export_records(records: Iterable[PlotRecord]) -> list[PlotRecord]:
    """The completed plots, oldest start first (a start not known last), as plotman did."""
    done = [record for record in records if record.completed]
    return sorted(done, key=_start_order)


def _start_order(record: PlotRecord) -> tuple[bool, float, str]:
    start = record.started_at
    if start is None or not math.isfinite(start):
        return (True, 0.0, record.plot_id)
    return (False, start, record.plot_id)


_STARTED_AT = operator.attrgetter("started_at")


def _duration_columns(values: Sequence[float | None]) -> list[list[str]]:
    """plotman's four cells for each duration in ``values``, as four columns: raw seconds as the
    log has them, rounded seconds, rounded minutes, hours to two decimals; empty when the log
    has none (or it is no duration: see
    :func:`~plotman_tui.farm.history_stats.usable_seconds`). Each column is made in one C
    loop (``map``), not a Python call per cell: 10,000 plots have 240,000 such cells. The
    same operations as a cell at a time, so the same text."""
    # usable_seconds inline: NaN fails both comparisons.
    numbers = [v if v is not None and 0.0 <= v <= MAX_SECONDS else -1.0 for v in values]
    columns = [
        list(map(str, numbers)),
        list(map(str, map(round, numbers))),
        list(map(str, map(round, map(operator.truediv, numbers, repeat(60))))),
        # str(round(hours, 2)) is '%.2f' (the same correctly rounded digits) without its one
        # trailing zero (1.50 -> 1.5, 2.00 -> 2.0): twice as fast, the same text (checked on a
        # million durations from 0 to MAX_SECONDS).
        [
            text[:-1] if text[-1] == "0" else text
            for text in map("%.2f".__mod__, map(operator.truediv, numbers, repeat(3600)))
        ],
    ]
    if -1.0 in numbers:
        for index in compress(range(len(numbers)), map((-1.0).__eq__, numbers)):
            for column in columns:
                column[index] = ""
    return columns


def _text_column(values: Iterable[str | None]) -> list[str]:
    """Each of ``values`` as :func:`safe_cell` makes it, empty for None: inline, a Python call
    per cell costs more than the check (a plot's final file is its own)."""
    starts = _FORMULA_STARTS
    return ["" if v is None else ("'" + v if v.startswith(starts) else v) for v in values]


def _number_column(values: Iterable[int | None]) -> list[str]:
    """Each of ``values`` as text, empty for None; each distinct value once (a farm's plots
    have a few k, threads or buckets)."""
    values = list(values)
    cells = {value: "" if value is None else str(value) for value in set(values)}
    return list(map(cells.__getitem__, values))


def _start_cells(plots: Sequence[PlotRecord]) -> list[str]:
    """Each plot's start as local ``YYYY-MM-DDTHH:MM:SS``, empty when not known."""
    starts = list(map(_STARTED_AT, plots))
    try:  # every start a time: in C loops, no Python call per plot
        return list(
            map(
                datetime.isoformat,
                map(datetime.fromtimestamp, starts),
                repeat("T"),
                repeat("seconds"),
            )
        )
    except (TypeError, ValueError, OverflowError, OSError):  # one unknown or out of range
        found = map(local_datetime, starts)
        return ["" if start is None else start.isoformat(timespec="seconds") for start in found]


def export_rows(plots: Sequence[PlotRecord]) -> list[tuple[str, ...]]:
    """Completed plots' cells, in the order of :data:`EXPORT_COLUMNS`."""
    return list(zip(*export_columns(plots), strict=True))


def export_columns(plots: Sequence[PlotRecord]) -> list[list[str]]:
    """Completed plots' cells as columns, in the order of :data:`EXPORT_COLUMNS`: made a column
    at a time (see :func:`_duration_columns`), the same cells as a plot at a time."""
    started = _start_cells(plots)

    def values(name: str) -> list[Any]:
        return list(map(operator.attrgetter(name), plots))

    ks = _number_column(values("k"))
    columns = [
        values("plot_id"),
        started,
        # the date: YYYY-MM-DD, as date().isoformat()
        list(map(operator.getitem, started, repeat(slice(0, 10)))),
        ks,
        _number_column(values("buffer_mib")),
        _number_column(values("buckets")),
        _number_column(values("threads")),
        _text_column(values("tmp_dir")),
        _text_column(values("tmp2_dir")),
        *_duration_columns(values("phase1_seconds")),
        *_duration_columns(values("phase2_seconds")),
        *_duration_columns(values("phase3_seconds")),
        *_duration_columns(values("phase4_seconds")),
        *_duration_columns(values("total_seconds")),
        *_duration_columns(values("copy_seconds")),
        _text_column(values("final_file")),
        _text_column(values("plotter")),
        ks,
        _number_column(values("compression")),
        _text_column(values("dst_dir")),
        # the final size when a file can have it (usable_bytes), else empty
        [str(v) if v is not None and 0 <= v <= MAX_BYTES else "" for v in values("final_bytes")],
    ]
    return columns


#: The export's columns whose cells are text from a log, which may need quoting; the others
#: are numbers and times as this module formats them, which never hold a comma, a quote or a
#: line break.
_TEXT_COLUMNS = tuple(
    EXPORT_COLUMNS.index(name)
    for name in ("Plot ID", "Tmp dir 1", "Tmp dir 2", "Filename", "Plotter", "Dst dir")
)


def export_row(record: PlotRecord) -> list[str]:
    """A completed plot's cells, in the order of :data:`EXPORT_COLUMNS`."""
    return list(export_rows([record])[0])


def write_export(out: TextIO, plots: Sequence[PlotRecord]) -> None:
    """The export CSV. When no text cell needs quoting (looked at a column at a time), each row
    is joined straight from the columns, no row kept; else row by row (:func:`write_rows`)."""
    columns = export_columns(plots)
    texts = "".join(["".join(columns[index]) for index in _TEXT_COLUMNS])
    if any(character in texts for character in _QUOTED_IF_IN):  # a fast search each, in C
        write_rows(out, [EXPORT_COLUMNS, *zip(*columns, strict=True)])
        return
    write_rows(out, [EXPORT_COLUMNS])
    if plots:
        out.write("\r\n".join(map(",".join, zip(*columns, strict=True))))
        out.write("\r\n")


def write_rows(out: TextIO, rows: Iterable[Sequence[str]]) -> None:
    """RFC 4180 rows, as :func:`csv_writer` writes them. A row none of whose cells holds a
    comma, a quote or a line break needs no quoting: it is written joined, which is 8 times as
    fast as the csv module on export's 40 cells a row; any other row goes through the csv
    module. All rows are joined and looked at at once (a few C passes over the text), and only
    when one needs quoting a row at a time (10,000 plots: 150 -> 20 -> 8 ms)."""
    rows = list(rows)
    lines = list(map(",".join, rows))
    joined = "".join(lines)
    if joined.count(",") == sum(map(len, rows)) - len(rows) and not _NEEDS_QUOTES.search(joined):
        if lines:
            out.write("\r\n".join(lines) + "\r\n")
        return
    writer = csv_writer(out)
    chunk: list[str] = []
    for row, line in zip(rows, lines, strict=True):
        if line.count(",") == len(row) - 1 and not _NEEDS_QUOTES.search(line):
            chunk.append(line)
            continue
        if chunk:
            out.write("\r\n".join(chunk) + "\r\n")
            chunk = []
        writer.writerow(row)
    if chunk:
        out.write("\r\n".join(chunk) + "\r\n")


_NEEDS_QUOTES = re.compile(r'["\r\n]')
#: What a cell needs quoting for (RFC 4180).
_QUOTED_IF_IN = (",", '"', "\r", "\n")


def write_atomically(path: str, write: Any) -> None:
    """``write(file)`` into a temp file beside ``path``, then renamed onto it: a failure (a full
    disk, ctrl-c) leaves the old file or none, never half a file.

    A symlink is followed: the file it points to is replaced, the link stays. A file the user
    may not write (0444) is not replaced. A path that is
    neither a regular file nor missing (a device such as ``/dev/stdout``, a FIFO) is written
    into as it is: renaming a file over it would replace the device or pipe itself.
    """
    import tempfile  # only for -o: a quicker start

    def failed(error: OSError) -> HistoryReportError:
        return HistoryReportError(f"cannot write {printable(path)}: {error.strerror or error}")

    try:
        mode: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise failed(error) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise HistoryReportError(f"cannot write {printable(path)}: it is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                write(out)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise failed(error) from None
        return
    if mode is not None and not os.access(path, os.W_OK):
        # `> FILE` would fail: renaming a new file over a read-only one must not get round it.
        raise failed(PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if mode is not None:
        mode &= 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        handle, temp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
    except OSError as error:
        raise failed(error) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise failed(error) from None
        raise


def write_stdout(write: Any, *, lossy: bool = False) -> None:
    """``write(sys.stdout)``, flushed; a failed write (a full disk under ``> file``) is a
    :class:`HistoryReportError`, not a traceback. A reader that left (``| head``) is the
    caller's ``BrokenPipeError``, as for every command.

    ``lossy``: text for the eye, whose characters an ASCII terminal cannot show are shown as
    ``?``; else (CSV, whose cells must be exact) such a character is an error."""
    out = sys.stdout
    if lossy and isinstance(out, io.TextIOWrapper):
        out.reconfigure(errors="replace")
    try:
        write(out)
        out.flush()
    except BrokenPipeError:
        raise
    except UnicodeEncodeError as error:
        character = ascii(error.object[error.start : error.end])
        raise HistoryReportError(
            f"cannot write the output: its encoding ({error.encoding}) cannot write "
            f"{character}; use a UTF-8 locale or PYTHONIOENCODING=utf-8"
        ) from None
    except OSError as error:
        # What is still buffered would fail again (and be reported) when Python exits.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        raise HistoryReportError(f"cannot write the output: {error.strerror or error}") from None
