"""What every plotter module provides, and the shared pieces they are built from.

A plotter module knows four things about one plotter program: how to build its command line from
the configuration, how to recognise its processes, how to read their arguments, and how to follow
its log incrementally. Nothing here raises on bad input: logs and command lines come from the
outside world.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol, TypeVar

from plotman_tui.plotters.limits import (
    BUCKETS_MAX,
    BUFFER_MIB_MAX,
    COUNT_MAX,
    K_MAX,
    K_MIN,
    MAX_SECONDS,
    NAME_MAX,
    THREADS_MAX,
    sane_path,
)
from plotman_tui.plotters.phase import PHASE_START, Phase

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlottingConfig


@dataclass(frozen=True)
class PlotArgs:
    """What a plotter's command line says about the plot it makes (None: not given)."""

    k: int | None = None
    tmp_dir: str | None = None
    tmp2_dir: str | None = None
    dst_dir: str | None = None
    threads: int | None = None
    buckets: int | None = None
    buffer_mib: int | None = None
    count: int | None = None
    #: Compression level asked for (``bladebit -z/--compress``, Gigahorse ``-C``); 0: none.
    compression: int | None = None


@dataclass(frozen=True)
class LogInfo:
    """What a plotter's log has said so far.

    ``started_at`` is a POSIX timestamp read from the log (local time), ``phase_seconds`` maps a
    phase number (1..4) to its duration, ``final_file`` is the finished plot's path once known.
    """

    phase: Phase = PHASE_START
    plot_id: str | None = None
    k: int | None = None
    tmp_dir: str | None = None
    tmp2_dir: str | None = None
    dst_dir: str | None = None
    threads: int | None = None
    buckets: int | None = None
    buffer_mib: int | None = None
    #: Compression level (BladeBit, Gigahorse: ``c07`` in the plot name); None for none given.
    compression: int | None = None
    #: chiapos's bitfield back-propagation (``-e`` turns it off); None where a log cannot say.
    bitfield: bool | None = None
    started_at: float | None = None
    phase_seconds: dict[int, float] = field(default_factory=dict)
    total_seconds: float | None = None
    copy_seconds: float | None = None
    final_file: str | None = None
    #: The finished plot file's size as the log states it (madMAx in bytes, chiapos in GiB to
    #: three decimals, within 0.0005 GiB); None where the log does not (BladeBit).
    final_bytes: int | None = None
    completed: bool = False


class LogParser(Protocol):
    """An incremental log parser: feed it bytes in any chunking; read ``info`` at any time."""

    def feed(self, data: bytes) -> None: ...

    def feed_lines(self, lines: list[str]) -> None:
        """Read complete, clean lines (as a :class:`LineSplitter` gives them) split elsewhere."""
        ...

    def finish(self) -> None:
        """The log's writer is gone: read a last line that no newline ended."""
        ...

    def save_state(self) -> dict[str, object]:
        """JSON-ready state, valid up to the end of the last complete line fed."""
        ...

    def restore_state(self, state: object) -> bool:
        """Take a saved state (on a fresh parser); False when it does not fit this parser."""
        ...

    @property
    def earlier_plots(self) -> tuple[LogInfo, ...]:
        """The plots a multi-plot log finished before the one ``info`` describes."""
        ...

    @property
    def info(self) -> LogInfo: ...

    @property
    def has_plot_id(self) -> bool:
        """``info.plot_id`` is set (asked without building ``info``)."""
        ...


class Plotter(Protocol):
    """One plotter program."""

    #: Short name used in the config (``[plotting] type``), tables and JSON.
    name: str

    def matches(self, argv: Sequence[str]) -> bool:
        """Is this process command line a plot job of this plotter?"""
        ...

    def parse_args(self, argv: Sequence[str], cwd: str | None = None) -> PlotArgs:
        """Read the plot's parameters from a command line that ``matches``; never raises."""
        ...

    def build_argv(
        self, plotting: PlottingConfig, tmp_dir: str, tmp2_dir: str | None, dst_dir: str
    ) -> list[str]:
        """The command line that starts one plot (a list, never a shell string)."""
        ...

    def new_log_parser(self) -> LogParser:
        """A fresh parser for one log file."""
        ...


# --- shared helpers -------------------------------------------------------------------------

_PYTHON_RE = re.compile(r"^python(\d+(\.\d+)*)?[mdu]?(\.exe)?$")


def is_python(arg: str) -> bool:
    """``python``, ``python3``, ``python3.11`` (any path), as argv[0] of a script's process."""
    return _PYTHON_RE.match(os.path.basename(arg)) is not None


def strip_interpreter(argv: Sequence[str]) -> Sequence[str]:
    """Drop a leading Python interpreter (and its ``-X``/``-u`` style options) from argv."""
    if not argv or not is_python(argv[0]):
        return argv
    index = 1
    while index < len(argv) and argv[index].startswith("-") and argv[index] != "-":
        # Options such as -u, -O, -X dev, -W ignore; -m module is not a script path.
        if argv[index] in ("-X", "-W"):
            index += 1
        index += 1
    return argv[index:]


def resolve_dir(path: str | None, cwd: str | None) -> str | None:
    """An argument dir made absolute against the process's working dir, normalised.

    None for no dir, and for text no dir can have (see :func:`sane_path`); relative when the
    working dir is unknown.
    """
    if path is None or path == "" or sane_path(path) is None:
        return None
    if not os.path.isabs(path) and cwd:
        path = os.path.join(cwd, path)
    return sane_path(os.path.normpath(path))


# --- validation of what logs and command lines say ------------------------------------------
# The bounds and the path checks live in plotters.limits (light: the history cache's checks use
# them without importing the plotters); the checks below build on them.

_PLOT_ID_RE = re.compile(r"[0-9a-fA-F]{64}")


def sane_file_name(text: str | None) -> str | None:
    """A plain file name: no ``/``, no NUL, not ``.`` or ``..``, at most NAME_MAX long."""
    if not text or len(text) > NAME_MAX or "/" in text or "\0" in text or text in (".", ".."):
        return None
    return text


def sane_plot_id(text: str | None) -> str | None:
    """A plot id (exactly 64 hex digits), lower case; None for anything else."""
    if text is None or _PLOT_ID_RE.fullmatch(text) is None:
        return None
    return text.lower()


def sane_int(value: int | None, low: int, high: int) -> int | None:
    """``value`` when ``low <= value <= high``, else None (a number no plotter can mean)."""
    if value is None or not low <= value <= high:
        return None
    return value


def sane_seconds(value: float | None) -> float | None:
    """A duration: from 0 to :data:`MAX_SECONDS` (NaN and inf are not), else None."""
    if value is None or not 0.0 <= value <= MAX_SECONDS:
        return None
    return value


_Settings = TypeVar("_Settings", PlotArgs, LogInfo)


def sane_numbers(
    k: int | None, threads: int | None, buckets: int | None, buffer_mib: int | None
) -> tuple[int | None, int | None, int | None, int | None]:
    """k, threads, buckets and buffer with the numbers no plotter can mean dropped (None): k
    outside K_MIN..K_MAX, threads, buckets or buffer not positive or beyond bounds."""
    return (
        sane_int(k, K_MIN, K_MAX),
        sane_int(threads, 1, THREADS_MAX),
        sane_int(buckets, 1, BUCKETS_MAX),
        sane_int(buffer_mib, 1, BUFFER_MIB_MAX),
    )


def sane_settings(settings: _Settings) -> _Settings:
    """``settings`` (a command line's or a log's) with :func:`sane_numbers`'s numbers."""
    k, threads, buckets, buffer_mib = sane_numbers(
        settings.k, settings.threads, settings.buckets, settings.buffer_mib
    )
    return replace(settings, k=k, threads=threads, buckets=buckets, buffer_mib=buffer_mib)


def sane_args(args: PlotArgs) -> PlotArgs:
    """A command line's plot parameters with every value no plotter can mean dropped (None)."""
    return replace(
        sane_settings(args),
        tmp_dir=sane_path(args.tmp_dir),
        tmp2_dir=sane_path(args.tmp2_dir),
        dst_dir=sane_path(args.dst_dir),
        count=sane_int(args.count, -1, COUNT_MAX),  # madMAx: -1 plots forever
    )


_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def _may_hold_long_lines(text: str, max_line: int) -> bool:
    """Can a line of ``text`` be longer than ``max_line``? False when every aligned stretch of
    ``max_line // 2`` characters holds a line feed: a longer line would hold one whole. (A
    few searches of a log instead of a length for each of its thousands of lines.)"""
    stretch = max_line // 2
    if stretch < 1:
        return True
    return any(
        text.find("\n", start, start + stretch) < 0
        for start in range(0, len(text) - stretch + 1, stretch)
    )


class LineSplitter:
    """Turns bytes fed in any chunking into complete, clean text lines.

    Decodes UTF-8 incrementally (a character split across chunks is joined; invalid bytes become
    U+FFFD; NUL stays a character, for the readers to refuse), drops ANSI colour codes, handles
    LF, CRLF and lone CR, and keeps a partial last line until its end arrives. A line longer than
    ``max_line`` keeps its first ``max_line`` characters and loses the rest, whatever the
    chunking, so binary garbage with no newline cannot grow memory without bound.
    """

    def __init__(self, max_line: int = 64 * 1024) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._max_line = max_line
        # The line being received was cut already: drop the rest of it, up to its end.
        self._dropping = False

    def feed(self, data: bytes) -> list[str]:
        """The lines completed by ``data`` (possibly none)."""
        text = self._pending + self._decoder.decode(data)
        # Hold back a trailing CR: it may be the first half of a CRLF split across chunks.
        hold = ""
        if text.endswith("\r"):
            text, hold = text[:-1], "\r"
        parts: list[str]
        if "\r" in text:
            end = max(text.rfind("\n"), text.rfind("\r"))
            body = text[end + 1 :]
            complete = text[: end - 1 if text[end - 1 : end + 1] == "\r\n" else end]
            parts = _NEWLINE_RE.split(complete) if end >= 0 else []
        else:
            # A job's whole log is read on its first scan: plain LF logs split in C, with no
            # copy of the text (a fresh copy of a 200 KB log costs as much as its split).
            parts = text.split("\n")
            body = parts.pop()
        if parts:
            if self._dropping:
                parts = parts[1:]  # the end of a line already cut
                self._dropping = False
            # Only the few lines with an escape character or too long pay for more.
            if (
                parts
                and _may_hold_long_lines(text, self._max_line)
                and max(map(len, parts)) > self._max_line
            ):
                parts = [part[: self._max_line] for part in parts]
            if "\x1b" in text:
                parts = [_ANSI_RE.sub("", part) if "\x1b" in part else part for part in parts]
        if len(body) > self._max_line:
            if not self._dropping:
                parts.append(_ANSI_RE.sub("", body[: self._max_line]))
            body = ""
            self._dropping = True
        self._pending = body + hold  # a held CR still ends the line, cut or not
        return parts

    def flush(self) -> list[str]:
        """At end of file: the last line even though no newline ended it."""
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        # A held-back CR may stand before what the decoder kept back (now U+FFFD): split again.
        parts = _NEWLINE_RE.split(text)
        if parts[-1] == "":
            parts.pop()  # the text ended with its line's end
        if self._dropping:
            parts = parts[1:]  # the end of a line already cut
            self._dropping = False
        return [_ANSI_RE.sub("", part[: self._max_line]) for part in parts]
