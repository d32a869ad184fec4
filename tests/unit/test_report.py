"""Text views: sizes and durations, common prefixes, and tables that fit the terminal."""

from __future__ import annotations

import pytest

from plotman_tui.farm.model import Job, JobStatus, Snapshot
from plotman_tui.farm.units import common_prefix, human_bytes, human_duration
from plotman_tui.plotters.phase import Phase
from plotman_tui.report import render_status, snapshot_to_json, summary_line


def make_job(pid: int, plot_id: str, phase: Phase | None, started: float, **extra: object) -> Job:
    values: dict[str, object] = {
        "pid": pid,
        "plotter": "chia",
        "argv": ("chia", "plots", "create"),
        "cwd": "/",
        "started_at": started,
        "wall_seconds": 3725.0,
        "status": JobStatus.RUN,
        "plot_id": plot_id,
        "k": 32,
        "tmp_dir": "/mnt/tmp/00",
        "dst_dir": "/mnt/dst/00",
        "phase": phase,
        "tmp_usage_bytes": 123 * 1024**3,
        "mem_rss_bytes": 3 * 1024**3,
        "user_seconds": 4000.0,
        "sys_seconds": 61.0,
        "iowait_seconds": 5.0,
    }
    values.update(extra)
    return Job(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "short", "text"),
    [
        (None, False, "-"),
        (0, False, "0 B"),
        (1023, True, "1023"),
        (1536, False, "1.5 KiB"),
        (101 * 1024**3 + 1, True, "101G"),
        (5 * 1024**4, False, "5.0 TiB"),
    ],
)
def test_human_bytes(size: int | None, short: bool, text: str) -> None:
    assert human_bytes(size, short=short) == text


def test_durations_read_like_plotman_above_an_hour_and_spell_units_below() -> None:
    assert human_duration(3725) == "1:02"
    assert human_duration(2 * 86400 + 3 * 3600 + 4 * 60) == "2d03:04"
    assert human_duration(None) == "-"
    assert human_duration(25.9) == "25s"
    assert human_duration(61) == "1m"
    assert human_duration(3599) == "59m"
    assert human_duration(-5) == "0s"


def test_common_prefix_keeps_a_distinguishing_suffix() -> None:
    assert common_prefix(["/mnt/tmp/00", "/mnt/tmp/01"]) == "/mnt/tmp/"
    assert common_prefix(["/mnt/tmp/00", "/mnt/tmp/00"]) == "/mnt/tmp/"
    assert common_prefix(["/mnt/tmp", "/mnt/tmp/sub"]) == "/mnt/"
    assert common_prefix([None, "/a"]) == ""
    assert common_prefix([]) == ""


def test_status_table_shrinks_to_width_but_keeps_id_and_phase() -> None:
    jobs = (
        make_job(11, "ab" * 32, Phase(3, 4), 200.0, tmp_dir="/very/long/path/to/tmp/aaaaaaaa"),
        make_job(12, "cd" * 32, None, 100.0, tmp_dir="/other/long/path/to/tmp/bbbbbbbb"),
    )
    snapshot = Snapshot(jobs=jobs, updated=0.0)
    for width in (200, 100, 60, 40):
        text = render_status(snapshot, width)
        table = [line for line in text.splitlines() if not line.startswith(("Prefixes", "Total"))]
        assert all(len(line) <= width for line in table), (width, text)
        assert "abababab" in text and "3:4" in text and "cdcdcdcd" in text
        assert "?" in table[2]  # unknown phase is shown, not hidden
    wide = render_status(snapshot, 200)
    assert "plotter" in wide and "1:02" in wide and "123G" in wide
    narrow = render_status(snapshot, 40)
    assert "plotter" not in narrow


def test_summary_counts_states_and_phases() -> None:
    jobs = (
        make_job(1, "a" * 64, Phase(1, 2), 3.0),
        make_job(2, "b" * 64, Phase(1, 2), 2.0, status=JobStatus.STP),
        make_job(3, "c" * 64, Phase(4, 0), 1.0),
    )
    line = summary_line(Snapshot(jobs=jobs, updated=0.0))
    assert line.startswith("Total jobs: 3 (RUN 2, STP 1)")
    assert "1:2x2 4:0" in line and "369 GiB" in line
    assert summary_line(Snapshot(jobs=(), updated=0.0)) == "No plot jobs running."


def test_json_phase_is_text_or_null() -> None:
    jobs = (make_job(1, "a" * 64, Phase(2, 7), 2.0), make_job(2, "b" * 64, None, 1.0))
    data = snapshot_to_json(Snapshot(jobs=jobs, updated=12.5))
    assert [job["phase"] for job in data["jobs"]] == ["2:7", None]
    assert data["total_jobs"] == 2 and data["updated"] == 12.5


def test_columns_go_one_at_a_time_and_only_when_needed() -> None:
    # Short dir names: nothing to shrink, so each step narrower must cost exactly one column.
    jobs = (make_job(11, "ab" * 32, Phase(3, 4), 200.0, tmp_dir="/t/0", dst_dir="/d/0"),)
    snapshot = Snapshot(jobs=jobs, updated=0.0)

    def header(width: int | None) -> list[str]:
        table = [line for line in render_status(snapshot, width).splitlines()]
        line = next(line for line in table if line.startswith("plot id"))
        return line.split()

    full = header(None)
    full_width = max(len(line) for line in render_status(snapshot, None).splitlines()[1:3])
    assert header(full_width) == full  # exactly wide enough: nothing dropped
    narrower = header(full_width - 1)
    assert "io" in full and "io" not in narrower
    assert len(narrower) == len(full) - 1  # one column, the least useful, and no more


def test_long_dirs_shrink_before_any_column_is_dropped() -> None:
    # Dirs with no common prefix to strip, so their full names must be shown (or shortened).
    jobs = (
        make_job(11, "ab" * 32, Phase(1, 2), 2.0, tmp_dir="/a" + "x" * 40 + "/tmp0"),
        make_job(12, "cd" * 32, Phase(1, 2), 1.0, tmp_dir="/b" + "y" * 40 + "/tmp1"),
    )
    snapshot = Snapshot(jobs=jobs, updated=0.0)
    text = render_status(snapshot, 100)
    header = next(line for line in text.splitlines() if line.startswith("plot id"))
    assert "io" in header.split() and "plotter" in header.split()  # all columns kept
    row = next(line for line in text.splitlines() if line.startswith("abababab"))
    assert len(row) <= 100 and "…" in row and "tmp0" in row  # cut from the left, end kept
