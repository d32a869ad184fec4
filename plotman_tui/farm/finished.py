"""Logs of plot jobs that no longer run: found in the log dir by their plot id.

``logs`` and ``details`` name a job by plot id prefix; when no running job has it, the log dir is
searched. A log names its plot id in its first lines, so only the head of each log is read (a few
KiB, at most :data:`HEAD_BYTES`) and handed to the plotters' own parsers only when a 64-digit hex
word in it starts with the prefix: a log dir of thousands of logs is searched in well under a
second. The log found is then read whole (up to :data:`WHOLE_BYTES`) for what it says.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from plotman_tui.appdirs import open_regular_file
from plotman_tui.plotters import PLOTTERS
from plotman_tui.plotters.base import LineSplitter, LogInfo, LogParser
from plotman_tui.plotters.phase import Phase

#: How much of a log is read at most to find its plot id.
HEAD_BYTES = 64 * 1024
#: The first read of each log; most name their plot id in the first few hundred bytes.
_FIRST_READ = 8 * 1024
#: How much of a log ``read_finished_log`` reads (a k32 chia log is about 200 KiB).
WHOLE_BYTES = 16 * 1024 * 1024

# A plot id: exactly 64 hex digits (keys are 96, and are not taken for one). The plain pattern
# is the quick test of whether a head names one yet (twenty times faster than the exact one).
_HEX64 = re.compile(rb"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
_HEX64_RUN = re.compile(rb"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class FinishedLog:
    """A log in the log dir: its path, the plotter whose parser reads it best, what it says."""

    path: str
    plotter: str
    info: LogInfo

    @property
    def plot_id(self) -> str:
        return self.info.plot_id or ""


def find_finished_logs(log_dir: str | os.PathLike[str], prefix: str) -> list[FinishedLog]:
    """The logs in ``log_dir`` whose plot id starts with ``prefix``, by path (their heads read).

    A log dir that cannot be listed has none; unreadable logs are passed over.
    """
    wanted = prefix.lower()
    needle = wanted.encode()
    found = []
    try:
        entries = list(os.scandir(log_dir))
    except OSError:
        return []
    for entry in sorted(entries, key=lambda e: e.name):
        if not entry.name.endswith(".log"):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            head = _head(entry.path)
        except OSError:
            continue
        if needle not in head.lower():
            continue  # the usual case: not parsed at all
        ids = {match.group().decode().lower() for match in _HEX64.finditer(head)}
        if not any(plot_id.startswith(wanted) for plot_id in ids):
            continue
        log = _best_reading(entry.path, head)
        if log is not None and log.plot_id.startswith(wanted):
            found.append(log)
    return found


def read_finished_log(log: FinishedLog) -> FinishedLog:
    """``log`` read whole (up to WHOLE_BYTES): its phases, times and plot file; as found when
    it cannot be read again."""
    try:
        with os.fdopen(open_regular_file(log.path), "rb") as handle:
            data = handle.read(WHOLE_BYTES)
    except OSError:
        return log
    return _best_reading(log.path, data, finish=True) or log


def _head(path: str) -> bytes:
    """The start of a log: up to the first plot id it names, at most HEAD_BYTES."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        data = b""
        while len(data) < HEAD_BYTES:
            chunk = os.read(fd, min(_FIRST_READ, HEAD_BYTES - len(data)))
            data += chunk
            if not chunk or _HEX64_RUN.search(data):
                break
    finally:
        os.close(fd)
    return data


def _best_reading(path: str, data: bytes, *, finish: bool = False) -> FinishedLog | None:
    """``data`` as the plotter whose parser makes the most of it reads it, or None."""
    best = best_parser(data, finish=finish)
    return FinishedLog(path, best[0], best[1].info) if best is not None else None


#: The plotters in the order ties between their readings of a log go.
_TIE_ORDER = sorted(PLOTTERS, key=lambda plotter: plotter.name == "bladebit2disk")


def best_parser(
    data: bytes, *, finish: bool = False, more: Iterable[bytes] = ()
) -> tuple[str, LogParser] | None:
    """The plotter whose parser makes the most of ``data`` and that parser, fed; None when no
    parser finds a plot id in it. (BladeBit's three read each other's logs; the right one also
    finds the plot file.) ``more``: the rest of the log in pieces, fed on after ``data`` (a log
    too big to hold whole). ``finish``: that is the whole log. The parsers are fed lines
    split once for all of them: they are not to be fed more.

    Every parser reads the head (8 KiB at a time, up to the first plot id, at most HEAD_BYTES);
    only those that found a plot id there read the rest: a k32 chia log is read by one parser
    instead of five.
    """
    parsers = [(plotter.name, plotter.new_log_parser()) for plotter in _TIE_ORDER]
    # One split of the log into lines, shared by the parsers (each would split it the same).
    splitter = LineSplitter()
    offset = 0
    while offset < min(len(data), HEAD_BYTES):
        chunk = data[offset : offset + _FIRST_READ]
        offset += len(chunk)
        lines = splitter.feed(chunk)
        for _name, parser in parsers:
            parser.feed_lines(lines)
        if any(parser.has_plot_id for _name, parser in parsers):
            break
    if offset < len(data):
        # No plot id in the head: every parser reads on (it may come later). Of those that
        # found one, a parser that has read lines only another plotter prints (Gigahorse's
        # reading a madMAx header) reads on only if no other did: it reads the log as that
        # plotter's does, so it could only tie and lose (a madMAx log is read once, not twice).
        found = [entry for entry in parsers if entry[1].has_plot_id]
        own = [entry for entry in found if getattr(entry[1], "own_lines", 0) >= 0]
        parsers = own or found or parsers
        lines = splitter.feed(data[offset:])
        for _name, parser in parsers:
            parser.feed_lines(lines)
    for piece in more:
        lines = splitter.feed(piece)
        for _name, parser in parsers:
            parser.feed_lines(lines)
    if finish:
        lines = splitter.flush()
        for _name, parser in parsers:
            parser.feed_lines(lines)
    best: tuple[tuple[bool, bool, int, int, int, Phase, int], str, LogParser] | None = None
    for name, parser in parsers:
        if not parser.has_plot_id:
            continue
        info = parser.info
        # A multi-plot log's last plot may be unfinished: the plots before it count too.
        earlier_done = sum(plot.completed for plot in parser.earlier_plots)
        # Then the parser that read the most settings (diskplot's header names its temp dirs,
        # buckets and cache), then the one that got furthest: an unfinished cudaplot log reads
        # as the RAM plotter's up to phase 3, where only cudaplot's lines go on. Ties go to the
        # first in _TIE_ORDER: the RAM plotter's logs are the common ones, and a diskplot log
        # always names its temp dirs. Before that, the lines only one plotter prints: madMAx's
        # and Gigahorse's parsers read each other's logs alike (the same author's lines).
        settings = (info.tmp_dir, info.tmp2_dir, info.buckets, info.buffer_mib)
        score = (
            info.final_file is not None,
            info.completed,
            earlier_done,
            len(info.phase_seconds),
            sum(value is not None for value in settings),
            info.phase,
            # Not in the LogParser protocol: a parser that counts no such lines has none.
            int(getattr(parser, "own_lines", 0)),
        )
        if best is None or score > best[0]:
            best = (score, name, parser)
    return (best[1], best[2]) if best is not None else None
