"""The action log: JSON lines, rotation by size, several writers, damaged lines, --since."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plotman_tui.appdirs import data_dir
from plotman_tui.farm.actionlog import (
    ActionEntry,
    ActionLog,
    default_action_log,
    format_entry,
    parse_since,
)
from plotman_tui.farm.units import local_time, short_time
from tests.conftest import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
PLOT_ID = "1a2b3c4d5e6f" + "0" * 52


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- record and read back ------------------------------------------------------------------------


def test_record_then_entries_round_trip(tmp_path: Path, clock: FakeClock) -> None:
    log = ActionLog(tmp_path / "data" / "actions.jsonl", clock=clock)  # its dir is made

    started = log.record(
        "start",
        plot_id=PLOT_ID,
        pid=4321,
        argv=["chia", "plots", "create", "-k", "32", "--note", 'a "quoted" ünïcode\narg'],
        reason="tmp 0 is free",
        tmp_dir=Path("/mnt/tmp/0"),
    )
    clock.now += 60
    killed = log.record(
        "kill",
        plot_id=PLOT_ID,
        pid=4321,
        reason="user asked",
        result="error: no such process",
        freed_bytes=123_456_789,
        files=[Path("/mnt/tmp/0/a.tmp"), "/mnt/tmp/0/b.tmp"],
    )

    assert log.entries() == [started, killed]
    assert started.time == 1_700_000_000.0
    assert started.argv[-1] == 'a "quoted" ünïcode\narg'
    assert started.extra == {"tmp_dir": "/mnt/tmp/0"}  # a Path is written as its text
    assert killed.extra == {
        "freed_bytes": 123_456_789,
        "files": ["/mnt/tmp/0/a.tmp", "/mnt/tmp/0/b.tmp"],
    }
    assert killed.result == "error: no such process"
    lines = log.path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3  # one line per entry, newline-terminated
    first = json.loads(lines[0])
    assert list(first)[:7] == ["time", "action", "plot_id", "pid", "argv", "reason", "result"]
    assert first["tmp_dir"] == "/mnt/tmp/0"


def test_entry_json_round_trip_and_bad_fields() -> None:
    entry = ActionEntry(time=12.5, action="suspend", pid=7, argv=("a", "b"), extra={"x": [1, 2]})
    assert ActionEntry.from_json(entry.to_json()) == entry
    assert ActionEntry.from_json(entry.to_json().encode()) == entry
    with pytest.raises(ValueError, match="core fields"):
        ActionEntry(time=1.0, action="kill", extra={"pid": 3}).to_json()
    with pytest.raises(TypeError, match="object"):
        ActionEntry(time=1.0, action="kill", extra={"thing": object()}).to_json()
    with pytest.raises(ValueError):
        ActionEntry(time=1.0, action="kill", extra={"ratio": float("nan")}).to_json()
    with pytest.raises(TypeError):
        entry.extra["y"] = 1  # type: ignore[index]  # frozen all the way down


def test_unwritable_extra_writes_nothing(tmp_path: Path) -> None:
    log = ActionLog(tmp_path / "actions.jsonl")
    with pytest.raises(TypeError):
        log.record("kill", handle=object())
    with pytest.raises(ValueError):
        log.record("kill", time=3)  # an extra may not replace a core field
    assert not log.path.exists() or log.path.read_bytes() == b""
    assert log.entries() == []


def test_since_keeps_entries_from_that_time_on(tmp_path: Path, clock: FakeClock) -> None:
    log = ActionLog(tmp_path / "actions.jsonl", clock=clock)
    for index in range(5):
        clock.now = 1000.0 + 100 * index
        log.record("start", pid=index)

    assert [e.pid for e in log.entries(since=1200.0)] == [2, 3, 4]
    assert [e.pid for e in log.entries(since=1201.0)] == [3, 4]
    assert log.entries(since=5000.0) == []
    assert [e.pid for e in log.entries()] == [0, 1, 2, 3, 4]


def test_a_missing_log_reads_as_empty_and_creates_nothing(tmp_path: Path) -> None:
    log = ActionLog(tmp_path / "nowhere" / "actions.jsonl")
    assert log.entries() == []
    assert not (tmp_path / "nowhere").exists()


def test_default_action_log_is_in_the_data_dir() -> None:
    assert default_action_log().path == data_dir() / "actions.jsonl"
    assert os.environ["PLOTMAN_TUI_DATA_DIR"] in str(default_action_log().path)


# -- damaged lines -------------------------------------------------------------------------------


def test_damaged_lines_are_skipped(tmp_path: Path, clock: FakeClock) -> None:
    log = ActionLog(tmp_path / "actions.jsonl", clock=clock)
    first = log.record("start", pid=1)
    with log.path.open("ab") as handle:
        handle.write(b'{"time": 5.0, "action": "ki')  # a writer died mid-line ...
        handle.write(b"\n")
        handle.write(b"not json at all\n")
        handle.write(b"\xff\xfe\x00 binary garbage\n")
        handle.write(b"[1, 2, 3]\n")
        handle.write(b'{"time": "yesterday", "action": "kill"}\n')
        handle.write(b'{"time": 5.0, "action": "kill", "pid": "12"}\n')
        handle.write(b'{"time": 5.0, "action": "kill", "argv": "chia plots"}\n')
        handle.write(b'{"time": NaN, "action": "kill"}\n')
        handle.write(b"[" * 100_000 + b"\n")
        handle.write(b"\n   \n")
    clock.now += 1
    last = log.record("resume", pid=1)

    assert log.entries() == [first, last]


def test_a_line_without_extras_or_optional_fields_reads(tmp_path: Path) -> None:
    path = tmp_path / "actions.jsonl"
    path.write_text('{"time": 3, "action": "transfer"}\n')
    (entry,) = ActionLog(path).entries()
    assert entry == ActionEntry(time=3.0, action="transfer")
    assert (entry.plot_id, entry.pid, entry.argv, entry.reason, entry.result) == (
        None,
        None,
        (),
        "",
        "ok",
    )


# -- rotation ------------------------------------------------------------------------------------


def test_rotation_by_size_keeps_n_files_in_order(tmp_path: Path, clock: FakeClock) -> None:
    max_bytes = 1000
    log = ActionLog(tmp_path / "actions.jsonl", max_bytes=max_bytes, keep=2, clock=clock)
    line_bytes = len(log.record("start", seq=0, pad="x" * 100).to_json()) + 1
    for seq in range(1, 60):
        clock.now += 1
        log.record("start", seq=seq, pad="x" * 100)

    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert names == ["actions.jsonl", "actions.jsonl.1", "actions.jsonl.2"]
    for path in log.files():
        assert 0 < path.stat().st_size <= max_bytes
        # Every file holds whole lines only.
        assert all(json.loads(line) for line in path.read_text().splitlines())
    seqs = [entry.extra["seq"] for entry in log.entries()]
    # The newest entries, oldest first, none missing from the oldest kept one on.
    assert seqs == list(range(seqs[0], 60))
    per_file = max_bytes // line_bytes
    assert len(seqs) > 2 * per_file  # two full rotated files and the current one
    assert seqs[0] > 0  # the oldest ones went with the dropped file


def test_rotation_with_keep_zero_starts_over(tmp_path: Path, clock: FakeClock) -> None:
    log = ActionLog(tmp_path / "actions.jsonl", max_bytes=300, keep=0, clock=clock)
    for seq in range(20):
        log.record("start", seq=seq)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == ["actions.jsonl"]
    seqs = [entry.extra["seq"] for entry in log.entries()]
    assert seqs == list(range(seqs[0], 20)) and seqs[0] > 0


def test_one_line_bigger_than_max_bytes_is_still_written(tmp_path: Path) -> None:
    log = ActionLog(tmp_path / "actions.jsonl", max_bytes=100, keep=1)
    log.record("start", pad="y" * 500)
    log.record("start", pad="z" * 500)
    assert [len(e.extra["pad"]) for e in log.entries()] == [500, 500]
    assert log.rotated_path(1).exists()


# -- several writers at once ---------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from plotman_tui.farm.actionlog import ActionLog

    path, writer, count, max_bytes, go = sys.argv[1:6]
    log = ActionLog(Path(path), max_bytes=int(max_bytes), keep=3)
    Path(f"{go}.{writer}.ready").touch()  # imported: all start together at the go
    while not Path(go).exists():
        time.sleep(0.001)
    for seq in range(int(count)):
        # Lines of a few KiB: more than PIPE_BUF, so only O_APPEND keeps them whole.
        log.record("start", pid=int(writer), seq=seq, pad=writer * (1000 + 97 * (seq % 50)))
    """
)


def _run_writers(tmp_path: Path, path: Path, writers: int, count: int, max_bytes: int) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(w), str(count), str(max_bytes), str(go)],
            env=env,
        )
        for w in range(1, writers + 1)
    ]
    try:
        # All imported and waiting, so that they really write at once (not needed to pass).
        ready = [Path(f"{go}.{w}.ready") for w in range(1, writers + 1)]
        wait_for(lambda: all(path.exists() for path in ready), 60, "every writer ready")
        go.touch()
        assert [proc.wait(timeout=120) for proc in procs] == [0] * writers
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _raw_lines(log: ActionLog) -> Iterator[bytes]:
    for path in log.files():
        content = path.read_bytes()
        assert content.endswith(b"\n"), path
        yield from content.split(b"\n")[:-1]


def test_concurrent_writers_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "actions.jsonl"
    writers, count = 4, 150
    _run_writers(tmp_path, path, writers, count, max_bytes=1 << 30)  # no rotation
    log = ActionLog(path)

    parsed = [ActionEntry.from_json(line) for line in _raw_lines(log)]  # raises on a torn line
    assert len(parsed) == writers * count
    for writer in range(1, writers + 1):
        mine = [e for e in parsed if e.pid == writer]
        assert [e.extra["seq"] for e in mine] == list(range(count))
        assert all(set(e.extra["pad"]) == {str(writer)} for e in mine)
    assert log.entries() == parsed


def test_concurrent_writers_rotate_once_each_time(tmp_path: Path) -> None:
    path = tmp_path / "actions.jsonl"
    writers, count, max_bytes = 4, 150, 64 * 1024
    _run_writers(tmp_path, path, writers, count, max_bytes=max_bytes)
    log = ActionLog(path, max_bytes=max_bytes, keep=3)

    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("actions.jsonl"))
    assert names == [
        "actions.jsonl",
        "actions.jsonl.1",
        "actions.jsonl.2",
        "actions.jsonl.3",
        "actions.jsonl.lock",
    ]
    parsed = [ActionEntry.from_json(line) for line in _raw_lines(log)]  # whole lines only
    seen = [(e.pid, e.extra["seq"]) for e in parsed]
    assert len(seen) == len(set(seen))  # nothing written twice
    present = 0
    for writer in range(1, writers + 1):
        seqs = [seq for pid, seq in seen if pid == writer]
        if seqs:  # a writer that finished early may have had all its lines rotated away
            present += 1
            # Each writer's entries stay in its order, a contiguous run up to its last one.
            assert seqs == list(range(seqs[0], count)), writer
    assert present >= 1
    # A rotated file was full when it was rotated (a double rotation would leave a small one)
    # and took no line after that.
    for rotated in log.files()[:-1]:
        assert max_bytes - 7 * 1024 < rotated.stat().st_size <= max_bytes


# -- --since -------------------------------------------------------------------------------------

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("90s", 90),
        ("30m", 30 * 60),
        ("2h", 2 * 3600),
        ("1d", 86400),
        ("1w", 7 * 86400),
        ("1.5h", 5400),
        (" 2H ", 7200),
        ("0m", 0),
        # An age always counts back from now: "-5h" is "5h" (`history --since -5h`).
        ("-5h", 5 * 3600),
        (" - 30m", 30 * 60),
    ],
)
def test_parse_since_ages(text: str, ago: float) -> None:
    assert parse_since(text, NOW) == NOW - ago


def test_parse_since_dates() -> None:
    assert (
        parse_since("2026-11-24T14:02:00+00:00", NOW)
        == datetime(2026, 11, 24, 14, 2, tzinfo=UTC).timestamp()
    )
    assert (
        parse_since("2026-11-24T14:02:00Z", NOW)
        == datetime(2026, 11, 24, 14, 2, tzinfo=UTC).timestamp()
    )
    # Without a zone: local time.
    assert parse_since("2026-11-24", NOW) == datetime(2026, 11, 24).timestamp()
    assert parse_since("2026-11-24 14:02", NOW) == datetime(2026, 11, 24, 14, 2).timestamp()


@pytest.mark.parametrize(
    "text", ["", "2x", "h", "-2x", "--2h", "+2h", "yesterday", "2 hours", "2026-13-01"]
)
def test_parse_since_refuses_other_text_clearly(text: str) -> None:
    with pytest.raises(ValueError, match=r"give an age like 90s, 30m, 2h, 1d") as caught:
        parse_since(text, NOW)
    assert repr(text) in str(caught.value)


# -- one line for humans -------------------------------------------------------------------------


def test_format_entry_is_one_readable_line() -> None:
    entry = ActionEntry(
        time=NOW,
        action="kill",
        plot_id=PLOT_ID,
        pid=4321,
        argv=("chia", "plots", "create"),
        reason="user asked\nfrom the dashboard",
        result="ok",
        extra={"freed_bytes": 5},
    )
    line = format_entry(entry)
    assert "\n" not in line
    assert line.startswith(local_time(NOW))
    assert "kill" in line
    assert "1a2b3c4d" in line and PLOT_ID not in line  # a prefix, not the whole id
    assert "pid 4321" in line
    assert line.endswith("ok  user asked from the dashboard")
    order = [line.index(part) for part in (local_time(NOW), "kill", "1a2b3c4d", "4321", "ok")]
    assert order == sorted(order)


def test_the_dashboards_short_time_drops_only_what_the_day_makes_plain() -> None:
    """The dashboard's action log writes the clock alone for today's entries (the date took
    11 of a narrow log's columns), the day for older ones, the year for another year's."""
    noon = time.mktime((2026, 12, 2, 12, 0, 0, 0, 0, -1))
    morning = time.mktime((2026, 12, 2, 7, 5, 9, 0, 0, -1))
    yesterday = time.mktime((2026, 12, 1, 23, 59, 0, 0, 0, -1))
    last_year = time.mktime((2025, 12, 2, 8, 0, 0, 0, 0, -1))
    assert short_time(morning, noon) == "07:05:09"
    assert short_time(yesterday, noon) == "12-01 23:59"
    assert short_time(last_year, noon) == "2025-12-02 08:00"
    entry = ActionEntry(time=morning, action="start", pid=7, result="ok", reason="tmp 00: ready")
    line = format_entry(entry, when=lambda at: short_time(at, noon))
    assert line == "07:05:09  start     -         pid 7        ok  tmp 00: ready"
    assert format_entry(entry).startswith(local_time(morning))  # history keeps the date


def test_a_time_no_calendar_holds_shows_as_a_question_mark() -> None:
    # An entry from another machine's log (the fleet) or a damaged one at 1e300 ended the
    # host's dashboard with OverflowError.
    noon = time.mktime((2026, 12, 2, 12, 0, 0, 0, 0, -1))
    entry = ActionEntry(time=1e300, action="start", pid=7, result="ok", reason="")
    assert short_time(1e300, noon) == local_time(1e300) == "?"
    assert format_entry(entry, when=lambda at: short_time(at, noon)).startswith("?  start")


def test_format_entry_without_ids() -> None:
    line = format_entry(ActionEntry(time=NOW, action="start", result="error: no such file"))
    assert line == f"{local_time(NOW)}  start     -         pid -        error: no such file"


def test_format_entry_with_details_says_what_the_json_has() -> None:
    start = ActionEntry(
        time=NOW,
        action="start",
        pid=4321,
        result="ok",
        reason="tmp 0 is free",
        extra={"tmp": "/mnt/tmp/0", "dst": "/mnt/dst/1", "log": "/logs/x.log", "nice": 15},
    )
    assert format_entry(start).endswith("tmp 0 is free")  # the dashboard's short line
    assert format_entry(start, details=True).endswith("tmp 0 is free  [/mnt/tmp/0 -> /mnt/dst/1]")
    transfer = ActionEntry(
        time=NOW,
        action="transfer",
        plot_id=PLOT_ID,
        pid=99,
        result="ok",
        extra={
            "target": "farmer",
            "archive_dir": "/farm/disk00",
            "bytes": 108 * 1024**3,
            "seconds": 900.0,
            "mb_per_s": 128.85,
            "source": "/mnt/dst/1/plot-k32-x.plot",
        },
    )
    line = format_entry(transfer, details=True)
    assert "\n" not in line
    assert line.endswith("[108 GiB, 128.85 MB/s in 15m, to farmer:/farm/disk00]"), line
    kill = ActionEntry(time=NOW, action="kill", pid=7, extra={"freed_bytes": 2048})
    assert format_entry(kill, details=True).endswith("[freed 2.0 KiB]")
    # Extras of the wrong type (a hand edit) are left out rather than shown wrong.
    odd = ActionEntry(time=NOW, action="transfer", extra={"bytes": "lots", "mb_per_s": True})
    assert format_entry(odd, details=True) == format_entry(odd)


def test_entries_of_a_log_that_cannot_be_read_raise_saying_why(tmp_path: Path) -> None:
    assert ActionLog(tmp_path / "absent" / "actions.jsonl").entries() == []  # none yet
    data_file = tmp_path / "data"
    data_file.write_text("a file where the data dir should be")
    with pytest.raises(NotADirectoryError):
        ActionLog(data_file / "actions.jsonl").entries()
    data = tmp_path / "d"
    (data / "actions.jsonl").mkdir(parents=True)
    with pytest.raises(IsADirectoryError):
        ActionLog(data / "actions.jsonl").entries()


def test_entries_of_a_huge_log_read_its_newest_part(tmp_path: Path, clock: FakeClock) -> None:
    log = ActionLog(tmp_path / "actions.jsonl", clock=clock)
    # Not one of ours as written: 100 MiB (sparse: no disk used) of NULs, then one entry.
    with open(log.path, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    with open(log.path, "ab") as handle:
        handle.write(
            b"\n" + ActionEntry(time=1.0, action="start", pid=1).to_json().encode() + b"\n"
        )
    assert [entry.pid for entry in log.entries()] == [1]
    assert len(log._read(log.path)) == 64 * 1024 * 1024  # the newest part, not all of it
