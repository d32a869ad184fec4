"""The machinery every plotter's incremental log parser shares.

A parser subclasses :class:`PlotLogParser` and implements ``_line``, which looks at one clean line
and updates the parser's fields. Feeding, line splitting, the lazily built :class:`LogInfo` and the
reset when a second plot starts in the same log live here. Handlers must stay cheap: a log of
thousands of lines is parsed for every job on every rescan, so each ``_line`` starts with
``startswith`` checks and only runs a regular expression on the few lines that can match.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from itertools import compress, repeat
from operator import not_
from typing import Any, TypeGuard

from plotman_tui.plotters.base import (
    LineSplitter,
    LogInfo,
    sane_int,
    sane_numbers,
    sane_plot_id,
    sane_seconds,
)
from plotman_tui.plotters.limits import COMPRESSION_MAX, PLOT_BYTES_MAX, sane_dir, sane_path
from plotman_tui.plotters.phase import PHASE_START, Phase

# Regexes take bounded digit runs so int() can never meet a number too large to convert.
PLOT_NAME_RE = re.compile(
    r"plot-k(\d{2})-(?:c(?P<compression>\d{1,2})-)?(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-"
    r"([0-9a-fA-F]{64})(?![0-9a-fA-F])"
)
#: A time stamp before a line's text: ``[2023/05/12 17:08:33] `` (Gigahorse, as posted in
#: chia-gigahorse#120) or ``[Sep 24 10:50:53] `` (a syslog-style wrapper; bladebit#417).
STAMP_RE = re.compile(r"\[(?:\d{4}/\d{2}/\d{2}|[A-Z][a-z]{2} {1,2}\d{1,2}) \d{2}:\d{2}:\d{2}\] ")
#: The phases any plotter reports: 0:0 before phase 1 to 5:n for the final copy.
MAJOR_MAX, MINOR_MAX = 5, 9
NUMBER = r"(\d{1,12}(?:\.\d{1,9})?)"
_INT_RE = re.compile(r"(?<!\d)(\d{1,12})(?!\d)")

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# ``Sun Apr  4 19:00:50 2021``: C's asctime, as chiapos prints it (always English).
_ASCTIME_RE = re.compile(
    r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})"
)


def sane_plot_bytes(value: object) -> int | None:
    """A plot file's size as a log states it: a whole number of bytes, 1 to PLOT_BYTES_MAX
    (a state restored from the cache may hold anything)."""
    if type(value) is not int or not 1 <= value <= PLOT_BYTES_MAX:
        return None
    return value


def first_int(text: str) -> int | None:
    """The first whole number of at most 12 digits in ``text`` (longer ones cannot be real)."""
    match = _INT_RE.search(text)
    return int(match.group(1)) if match else None


def local_timestamp(
    year: int, month: int, day: int, hour: int, minute: int, second: int = 0
) -> float | None:
    """The POSIX timestamp of a local wall-clock time; None when the fields make no date."""
    try:
        return datetime(year, month, day, hour, minute, second).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def asctime_timestamp(text: str) -> float | None:
    """The first ``Sun Apr  4 19:00:50 2021`` in ``text`` as a timestamp (locale independent)."""
    match = _ASCTIME_RE.search(text)
    if match is None:
        return None
    month = _MONTHS.get(match.group(1))
    if month is None:
        return None
    day, hour, minute, second, year = (int(match.group(i)) for i in range(2, 7))
    return local_timestamp(year, month, day, hour, minute, second)


def _is_pair(value: object) -> TypeGuard[list[Any]]:
    return isinstance(value, list) and len(value) == 2


def possible_phase(major: int, minor: int) -> bool:
    """Can a plotter be in phase ``major:minor``? (A garbled log line can say anything.)"""
    return 0 <= major <= MAJOR_MAX and 0 <= minor <= MINOR_MAX


class PlotLogParser:
    """Bytes in any chunking -> lines -> ``_line``; ``info`` is built only when read."""

    def __init__(self) -> None:
        self._splitter = LineSplitter()
        self._cached: LogInfo | None = None
        # Settings of the run: they stay when a second plot starts in the same log.
        self.k: int | None = None
        self.tmp_dir: str | None = None
        self.tmp2_dir: str | None = None
        self.dst_dir: str | None = None
        self.threads: int | None = None
        self.buckets: int | None = None
        self.buffer_mib: int | None = None
        self.compression: int | None = None
        self.bitfield: bool | None = None
        # The plots this log finished before the current one (madMAx ``-n``, BladeBit ``-n``):
        # history reads one record per plot. Not saved with the state: a job follows one plot.
        self._earlier: list[LogInfo] = []
        # Lines only this plotter prints (madMAx and Gigahorse share most of theirs): which
        # parser a finished log is read with goes by it when all else is equal.
        self._own_lines = 0
        self._reset_plot()

    def _reset_plot(self) -> None:
        """Forget what belongs to one plot, when the log starts the next one."""
        self.phase: Phase = PHASE_START
        self.plot_id: str | None = None
        self.started_at: float | None = None
        self.phase_seconds: dict[int, float] = {}
        self.total_seconds: float | None = None
        self.copy_seconds: float | None = None
        self.final_file: str | None = None
        self.final_bytes: int | None = None
        self.completed = False

    def _start_plot(self) -> None:
        """Called on a line that begins a plot; a second plot in one log starts afresh."""
        if self.plot_id is not None or self.phase.major > 0:
            if self.plot_id is not None:
                self._earlier.append(self.info)
            self._reset_plot()
            self._cached = None

    @property
    def earlier_plots(self) -> tuple[LogInfo, ...]:
        """What the log said of each plot before the current one, oldest first."""
        return tuple(self._earlier)

    @property
    def own_lines(self) -> int:
        """How many lines read so far only this parser's plotter prints."""
        return self._own_lines

    def _named_plot(self, file_name: str) -> str | None:
        """The plot id in a plot file's name, when it is not the current plot's: a copy line
        of an earlier plot (madMAx, Gigahorse copy plot N while they make plot N+1). None for
        the current plot's, and for a name without a plot id (taken as the current plot's)."""
        match = PLOT_NAME_RE.search(file_name)
        if match is None:
            return None
        named = match.group(8).lower()
        return None if named == self.plot_id else named

    def _earlier_copy_started(self, file_name: str) -> bool:
        """``Started copy to`` an earlier plot's file: its phase moves on, the current plot's
        stays. False when the file is the current plot's."""
        named = self._named_plot(file_name)
        if named is None:
            return False
        for index, earlier in enumerate(self._earlier):
            if earlier.plot_id == named and not earlier.completed:
                self._earlier[index] = replace(earlier, phase=Phase(5, 1))
        return True

    def _finish_earlier(self, final_file: str, copy_seconds: float | None) -> bool:
        """A plot finished whose name is an earlier plot's (madMAx copies plot N while it
        makes plot N+1): that plot is finished, not the current one. False if the name is the
        current plot's (or names no plot). A plot the log did not show being made (the log
        was followed from a saved state, or is a piece of a run) counts as finished before
        the plots it shows."""
        lowered = final_file.lower()
        for index, earlier in enumerate(self._earlier):
            if earlier.plot_id is not None and earlier.plot_id in lowered:
                self._earlier[index] = replace(
                    earlier,
                    phase=Phase(5, 2),
                    final_file=sane_path(final_file),
                    copy_seconds=sane_seconds(copy_seconds),
                    completed=True,
                )
                return True
        named = self._named_plot(final_file)
        match = PLOT_NAME_RE.search(final_file)
        if named is None or match is None:
            return False
        year, month, day, hour, minute = (int(match.group(i)) for i in range(3, 8))
        level = match.group("compression")
        unseen = LogInfo(
            phase=Phase(5, 2),
            plot_id=named,
            k=sane_numbers(int(match.group(1)), None, None, None)[0],
            compression=sane_int(int(level), 0, COMPRESSION_MAX) if level else None,
            started_at=local_timestamp(year, month, day, hour, minute),
            final_file=sane_path(final_file),
            copy_seconds=sane_seconds(copy_seconds),
            completed=True,
        )
        self._earlier.insert(0, unseen)
        return True

    def _unstamped(self, line: str) -> str | None:
        """``line`` without the time stamp it may start with (:data:`STAMP_RE`), for ``_line``
        to read on as the same line unstamped; None when what follows the stamp is a line
        ``_LINE_STARTS`` skips (it is skipped too)."""
        match = STAMP_RE.match(line)
        if match is None:
            return line
        end = match.end()
        while (again := STAMP_RE.match(line, end)) is not None:  # stamps on stamps: garbled
            end = again.end()
        rest = line[end:]
        tested = rest.lstrip() if self._STARTS_AFTER_INDENT else rest
        if not rest or not tested.startswith(self._LINE_STARTS):
            return None
        if self._NOISE and rest.startswith(self._NOISE):
            return None
        return rest

    #: The starts of every line ``_line`` acts on: any other line is skipped without a call
    #: (a Python call per line is most of a whole log's reading). A subclass that reads a new
    #: kind of line adds its start here; test_plotters_line_starts checks every real log's
    #: lines against it.
    _LINE_STARTS: tuple[str, ...] = ("",)
    #: ``_LINE_STARTS`` are matched against a line without its leading whitespace (BladeBit
    #: indents its settings and steps by any number of spaces).
    _STARTS_AFTER_INDENT = False
    #: Lines that start with this never matter (chia's thousands of "\tBucket N ..." lines);
    #: checked first, as one prefix is cheaper than all of ``_LINE_STARTS``.
    _NOISE: str | tuple[str, ...] = ()

    def feed(self, data: bytes) -> None:
        self.feed_lines(self._splitter.feed(data))

    def feed_lines(self, lines: list[str]) -> None:
        """Read complete lines split elsewhere (one split of a log shared by several parsers)."""
        if lines:
            self._cached = None
        if self._NOISE:
            lines = list(
                compress(lines, map(not_, map(str.startswith, lines, repeat(self._NOISE))))
            )
        # The test runs in C (map and compress): no Python code runs for a line skipped.
        tested = map(str.lstrip, lines) if self._STARTS_AFTER_INDENT else lines
        for line in compress(lines, map(str.startswith, tested, repeat(self._LINE_STARTS))):
            self._line(line)

    def finish(self) -> None:
        """At the end of a log whose writer is gone: read the last line even without a newline."""
        self.feed_lines(self._splitter.flush())

    def save_state(self) -> dict[str, object]:
        """The parser's fields as JSON-ready data.

        Valid for the log up to the end of the last complete line fed: whatever follows it
        (a partial line) must be fed again after :meth:`restore_state`.
        """
        state: dict[str, object] = {}
        for name, value in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(value, Phase):
                state[name] = [value.major, value.minor]
            elif isinstance(value, dict):
                state[name] = [[key, item] for key, item in value.items()]
            else:
                state[name] = value
        return state

    def restore_state(self, state: object) -> bool:
        """Take fields saved by :meth:`save_state` (on a fresh parser); False if they don't fit.

        Only the fields a fresh parser has are accepted, each in its own shape, so a state saved
        by another version of the parser is refused rather than half applied.
        """
        if not isinstance(state, dict):
            return False
        fields = vars(self)
        restored: dict[str, object] = {}
        for name, value in state.items():
            if not isinstance(name, str) or name.startswith("_") or name not in fields:
                return False
            current = fields[name]
            if isinstance(current, Phase):
                if not (
                    _is_pair(value)
                    and all(type(part) is int for part in value)
                    and possible_phase(value[0], value[1])
                ):
                    return False
                restored[name] = Phase(value[0], value[1])
            elif isinstance(current, dict):
                if not isinstance(value, list) or not all(
                    _is_pair(pair) and type(pair[0]) is int and type(pair[1]) in (int, float)
                    for pair in value
                ):
                    return False
                restored[name] = {pair[0]: pair[1] for pair in value}
            elif value is None or type(value) in (str, int, float, bool):
                restored[name] = value
            else:
                return False
        fields.update(restored)
        self._cached = None
        return True

    @property
    def info(self) -> LogInfo:
        """What the log says, with every value no plotter can mean dropped (None).

        The one gate between a log (or a state restored from the cache) and the program: dirs
        absolute and free of NUL, a 64-hex plot id, numbers in the ranges plotters use.
        """
        if self._cached is None:
            k, threads, buckets, buffer_mib = sane_numbers(
                self.k, self.threads, self.buckets, self.buffer_mib
            )
            self._cached = LogInfo(
                phase=self.phase,
                plot_id=sane_plot_id(self.plot_id),
                k=k,
                tmp_dir=sane_dir(self.tmp_dir),
                tmp2_dir=sane_dir(self.tmp2_dir),
                dst_dir=sane_dir(self.dst_dir),
                threads=threads,
                buckets=buckets,
                buffer_mib=buffer_mib,
                # A state restored from the cache may hold any JSON value here.
                compression=sane_int(self.compression, 0, COMPRESSION_MAX)
                if type(self.compression) is int
                else None,
                bitfield=self.bitfield,
                started_at=self.started_at,
                phase_seconds={
                    major: seconds
                    for major, seconds in self.phase_seconds.items()
                    if possible_phase(major, 0) and sane_seconds(seconds) is not None
                },
                total_seconds=sane_seconds(self.total_seconds),
                copy_seconds=sane_seconds(self.copy_seconds),
                final_file=sane_path(self.final_file),
                final_bytes=sane_plot_bytes(self.final_bytes),
                completed=self.completed,
            )
        return self._cached

    @property
    def has_plot_id(self) -> bool:
        """``info.plot_id`` is set: the check :attr:`info` makes, without building it (a
        :class:`LogInfo` costs more than a whole small log's lines)."""
        return sane_plot_id(self.plot_id) is not None

    def _line(self, line: str) -> None:
        raise NotImplementedError

    # --- helpers for subclasses -----------------------------------------------------------

    def _set_phase(self, major: int, minor: int = 0) -> None:
        if possible_phase(major, minor):  # "Computing table 99" is garbage, not progress
            self.phase = Phase(major, minor)

    def _set_minor(self, minor: int) -> None:
        self._set_phase(self.phase.major, minor)

    def _take_plot_name(self, text: str) -> bool:
        """Read k, start time and plot id from a plot file name in ``text``."""
        match = PLOT_NAME_RE.search(text)
        if match is None:
            return False
        self.k = int(match.group(1))
        if match.group("compression") is not None:
            self.compression = int(match.group("compression"))
        year, month, day, hour, minute = (int(match.group(i)) for i in range(3, 8))
        if self.started_at is None:
            self.started_at = local_timestamp(year, month, day, hour, minute)
        self.plot_id = match.group(8).lower()
        return True

    @staticmethod
    def _dir(text: str) -> str | None:
        """A directory as the log prints it, normalised (madMAx adds trailing slashes); None
        unless absolute and a possible path (a relative one is the command line's to resolve
        against the job's working dir)."""
        return sane_dir(text.strip())
