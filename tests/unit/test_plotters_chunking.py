"""Log parsers read any chunking, line ending, colouring and garbage alike, and never raise.

The engine reads each log from its last offset, so a chunk may end anywhere: inside a line, inside
a UTF-8 character, between ``\\r`` and ``\\n``. Logs are outside input: whatever the bytes, the
parser must keep going.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plotman_tui.plotters import get_plotter
from plotman_tui.plotters.base import LineSplitter, LogInfo

LOGS = Path(__file__).parents[1] / "fixtures" / "plotter-logs"

FIXTURES = [
    ("chia", "chianetwork.plot.log"),
    ("chia", "chia-1.0/2021-04-04T19_00_47.681088-0400.log"),
    ("chia", "chia-2.7.5-cli-k18.plot.log"),
    ("chia", "chiapos-2.0.12-k18.plot.log"),
    ("madmax", "madmax.plot.log"),
    ("madmax", "madmax-k32/madmax.plot.log"),
    ("bladebit", "bladebit.plot.log"),
    ("bladebit2disk", "bladebit2disk.plot.log"),
]
# Paths with characters of 2, 3 and 4 bytes in UTF-8, so chunks can end inside one.
UNICODE_DIRS = {
    b"/farm/yards/902": "/farm/yärds/902✓".encode(),
    b"/farm/yards/901": "/farm/ярды/901".encode(),
    b"/mnt/farm/cli_pl18": "/mnt/färm/𝔠𝔩𝔦_pl18".encode(),
    b"/mnt/farm/k18": "/mnt/农场/k18".encode(),
    b"/mnt/tmp/01": "/mnt/tmp/ø1".encode(),
    b"/farm/yards/907": "/farm/🚜/907".encode(),
}


def unicode_log(fixture: str) -> bytes:
    data = (LOGS / fixture).read_bytes()
    for ascii_dir, unicode_dir in UNICODE_DIRS.items():
        data = data.replace(ascii_dir, unicode_dir)
    return data


def parse(plotter_name: str, chunks: list[bytes], finish: bool = False) -> LogInfo:
    parser = get_plotter(plotter_name).new_log_parser()
    for chunk in chunks:
        parser.feed(chunk)
    if finish:
        parser.finish()  # type: ignore[attr-defined]
    return parser.info


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(points)]


WHOLE = {fixture: parse(name, [unicode_log(fixture)]) for name, fixture in FIXTURES}


def test_unicode_logs_keep_their_unicode_paths() -> None:
    # Guards the tests below: the replaced dirs really are in what the parsers report.
    info = WHOLE["chianetwork.plot.log"]
    assert info.tmp_dir == "/farm/yärds/902✓"
    assert info.final_file is not None and info.final_file.startswith("/farm/yärds/902✓/fake_dst/")
    assert WHOLE["bladebit2disk.plot.log"].tmp2_dir == "/farm/🚜/907/2"
    assert all(info.completed for info in WHOLE.values())


@pytest.mark.parametrize(("plotter_name", "fixture"), FIXTURES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_chunking_gives_the_same_info(
    plotter_name: str, fixture: str, data: st.DataObject
) -> None:
    log = unicode_log(fixture)
    if data.draw(st.booleans(), label="crlf"):
        log = log.replace(b"\n", b"\r\n")
    cuts = data.draw(st.lists(st.integers(0, len(log)), max_size=60), label="cuts")
    assert parse(plotter_name, split_at(log, cuts)) == WHOLE[fixture]


@pytest.mark.parametrize(
    ("plotter_name", "fixture"),
    [
        ("madmax", "madmax.plot.log"),
        ("bladebit", "bladebit.plot.log"),
        ("bladebit2disk", "bladebit2disk.plot.log"),
    ],
)
def test_one_byte_at_a_time_gives_the_same_info(plotter_name: str, fixture: str) -> None:
    # Every boundary at once: inside each multibyte character and between each \r and \n.
    log = unicode_log(fixture).replace(b"\n", b"\r\n")
    assert parse(plotter_name, [log[i : i + 1] for i in range(len(log))]) == WHOLE[fixture]


@pytest.mark.parametrize(("plotter_name", "fixture"), FIXTURES)
def test_crlf_and_lone_cr_line_endings(plotter_name: str, fixture: str) -> None:
    log = unicode_log(fixture)
    assert parse(plotter_name, [log.replace(b"\n", b"\r\n")]) == WHOLE[fixture]
    # A final lone \r may be half of a \r\n still to come: the last line waits for finish().
    assert parse(plotter_name, [log.replace(b"\n", b"\r")], finish=True) == WHOLE[fixture]


def colour(line: bytes) -> bytes:
    """A line as a terminal-colouring logger writes it: codes around and inside the text."""
    head, space, tail = line.partition(b" ")
    return b"\x1b[32m" + head + b"\x1b[0m" + space + b"\x1b[1;34m" + tail + b"\x1b[0m"


@pytest.mark.parametrize(("plotter_name", "fixture"), FIXTURES)
def test_ansi_coloured_log(plotter_name: str, fixture: str) -> None:
    lines = unicode_log(fixture).split(b"\n")
    coloured = b"\n".join(colour(line) if line else line for line in lines)
    assert coloured != unicode_log(fixture)
    assert parse(plotter_name, [coloured]) == WHOLE[fixture]


PLOTTER_NAMES = sorted({name for name, _ in FIXTURES} | {"bladebit_cuda"})
REAL_LINES = sorted(
    {line for _, fixture in FIXTURES for line in unicode_log(fixture).split(b"\n") if line}
)


def read_everything(plotter_name: str, chunks: list[bytes]) -> None:
    parser = get_plotter(plotter_name).new_log_parser()
    for chunk in chunks:
        parser.feed(chunk)
        info = parser.info
        assert isinstance(info, LogInfo)
        assert info.plot_id is None or len(info.plot_id) == 64
    finish = getattr(parser, "finish", None)
    if finish is not None:
        finish()
    assert isinstance(parser.info, LogInfo)


@pytest.mark.parametrize("plotter_name", PLOTTER_NAMES)
@settings(max_examples=100, deadline=None)
@given(chunks=st.lists(st.binary(max_size=300), max_size=20))
def test_binary_garbage_never_raises(plotter_name: str, chunks: list[bytes]) -> None:
    read_everything(plotter_name, chunks)


# Real line beginnings with random endings reach every handler with values it cannot expect.
MANGLED_LINES = st.builds(
    lambda line, cut, tail: line[:cut] + tail,
    st.sampled_from(REAL_LINES),
    st.integers(0, 80),
    st.binary(max_size=40) | st.text(max_size=40).map(str.encode),
)


@pytest.mark.parametrize("plotter_name", PLOTTER_NAMES)
@settings(max_examples=100, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(REAL_LINES).map(lambda line: line + b"\n")
        | MANGLED_LINES.map(lambda line: line + b"\n")
        | st.binary(max_size=50),
        max_size=40,
    )
)
def test_garbage_interleaved_with_real_lines_never_raises(
    plotter_name: str, pieces: list[bytes]
) -> None:
    read_everything(plotter_name, pieces)


@pytest.mark.parametrize("plotter_name", PLOTTER_NAMES)
def test_endless_numbers_never_raise(plotter_name: str) -> None:
    # Every number of every real line made 5000 digits long: too long for int() to convert.
    parser = get_plotter(plotter_name).new_log_parser()
    for line in REAL_LINES:
        parser.feed(re.sub(rb"\d+", b"9" * 5000, line) + b"\n")
        assert isinstance(parser.info, LogInfo)


def test_a_huge_line_without_newline_is_bounded() -> None:
    parser = get_plotter("chia").new_log_parser()
    parser.feed(os.urandom(256 * 1024))
    parser.feed(b"\nPlot size is: 32\n")
    assert parser.info.k == 32


SPLITTER_BYTES = st.lists(
    st.sampled_from([b"\n", b"\r", b"\r\n", b"\0", b"\xff", b"\xe2\x82", b"\xac", b"\x1b[3", b"1m"])
    | st.binary(max_size=12)
    | st.just(b"y" * 40),
    max_size=30,
).map(b"".join)


def split_lines(chunks: list[bytes], max_line: int) -> list[str]:
    splitter = LineSplitter(max_line=max_line)
    return [line for chunk in chunks for line in splitter.feed(chunk)] + splitter.flush()


@settings(max_examples=300, deadline=None)
@given(data=SPLITTER_BYTES, cuts=st.lists(st.integers(0, 400), max_size=12))
def test_line_splitter_takes_any_bytes_in_any_chunking_alike(data: bytes, cuts: list[int]) -> None:
    """NUL, invalid UTF-8, lone CRs, cut escape codes and over-long lines: the same clean lines
    whatever the chunking, none longer than the limit, none with a line break in it."""
    whole = split_lines([data], max_line=32)
    assert split_lines(split_at(data, [cut for cut in cuts if cut <= len(data)]), 32) == whole
    assert all(len(line) <= 32 and "\n" not in line and "\r" not in line for line in whole)
