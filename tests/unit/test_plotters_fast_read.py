"""The shortcuts that make a whole log quick to read change nothing a parser reads.

- A parser calls ``_line`` only for lines that start with one of its ``_LINE_STARTS``: every
  other line of every real log, at the point it comes in that log, must leave the parser as it
  was, whichever parser reads it (BladeBit's three read each other's logs, and all five read
  the head of every log).
- The line splitter skips work on plain logs (no copy of the text, one length check for all
  lines): its lines are still those of the plain model, one line per line ending, cut to the
  limit, colour codes dropped.
"""

from __future__ import annotations

import copy
import itertools
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plotman_tui.plotters import PLOTTERS
from plotman_tui.plotters.base import LineSplitter
from plotman_tui.plotters.logscan import PlotLogParser

LOGS = Path(__file__).parents[1] / "fixtures" / "plotter-logs"
EVERY_LOG = sorted(
    path.relative_to(LOGS).as_posix()
    for path in LOGS.rglob("*")
    if path.is_file() and path.suffix == ".log"
)


def _state(parser: PlotLogParser) -> tuple[object, ...]:
    return (parser.save_state(), parser.earlier_plots)


def _skipping_parser(plotter: object) -> tuple[PlotLogParser, list[str]]:
    """A fresh parser of ``plotter`` and the lines its ``feed_lines`` hands to ``_line``."""
    parser = plotter.new_log_parser()  # type: ignore[attr-defined]
    assert isinstance(parser, PlotLogParser)
    called: list[str] = []
    line_method = parser._line

    def recording(line: str) -> None:
        called.append(line)
        line_method(line)

    parser._line = recording  # type: ignore[method-assign]
    return parser, called


@pytest.mark.parametrize("plotter", PLOTTERS, ids=lambda plotter: plotter.name)
@pytest.mark.parametrize("name", EVERY_LOG)
def test_every_line_a_parser_skips_would_change_nothing(plotter: object, name: str) -> None:
    parser, called = _skipping_parser(plotter)
    lines = LineSplitter().feed((LOGS / name).read_bytes() + b"\n")
    skipped = 0
    for line in lines:
        before = copy.deepcopy(_state(parser))
        parser.feed_lines([line])
        if called and called[-1] is line:
            continue
        skipped += 1
        assert _state(parser) == before  # skipped: nothing changed
        type(parser)._line(parser, line)  # and had it been read, nothing would have
        assert _state(parser) == before, line
    assert skipped or len(lines) < 30  # the filter does skip lines


def test_the_line_starts_skip_most_of_a_k32_chia_log() -> None:
    # Guards the test above: a chia log's thousands of bucket lines go by without a call.
    lines = LineSplitter().feed((LOGS / "chianetwork.plot.log").read_bytes())
    chia, called = _skipping_parser(PLOTTERS[0])
    chia.feed_lines(lines)
    assert len(lines) > 2500 and len(called) < 200


_NEWLINE = re.compile(r"\r\n|\r|\n")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def _model_lines(data: bytes, max_line: int) -> list[str]:
    """The lines of ``data`` read whole: split at every line ending, each cut to ``max_line``
    characters, then its colour codes dropped."""
    parts = _NEWLINE.split(data.decode("utf-8", errors="replace"))
    if parts[-1] == "":
        parts.pop()
    return [_ANSI.sub("", part[:max_line]) for part in parts]


LOG_LIKE = st.lists(
    st.sampled_from(
        [b"\n", b"\r", b"\r\n", b"\0", b"\xff", b"\xe2\x82", b"\xac", b"\x1b[3", b"1m", b"\x1b"]
    )
    | st.binary(max_size=12)
    | st.just(b"y" * 40)
    | st.just(b"z" * 70)
    | st.just(b"\x1b[1;34m" + b"c" * 30),
    max_size=40,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(data=LOG_LIKE, cuts=st.lists(st.integers(0, 600), max_size=6))
def test_the_splitter_gives_the_plain_models_lines(data: bytes, cuts: list[int]) -> None:
    splitter = LineSplitter(max_line=32)
    points = [0, *sorted(cut for cut in cuts if cut <= len(data)), len(data)]
    lines = []
    for start, end in itertools.pairwise(points):
        lines += splitter.feed(data[start:end])
    lines += splitter.flush()
    assert lines == _model_lines(data, 32)
