"""``plotman-tui export``: plotman's CSV columns and formats, then ours, from real logs."""

from __future__ import annotations

import csv
import io
import math
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from plotman_tui.cli import main
from plotman_tui.farm.history import read_log
from plotman_tui.history_report import (
    EXPORT_COLUMNS,
    HistoryReportError,
    export_row,
    export_rows,
    write_atomically,
    write_export,
    write_rows,
)
from tests.integration.test_cli_analyze import (
    FIXTURES,
    REAL_LOGS,
    first_plot_times,
    make_farm,
)

PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"

#: plotman 0.5.3's ``export`` header (src/plotman/csv_exporter.py, Row's field names), verbatim.
PLOTMAN_COLUMNS = [
    "Plot ID",
    "Started at",
    "Date",
    "Size",
    "Buffer",
    "Buckets",
    "Threads",
    "Tmp dir 1",
    "Tmp dir 2",
    "Phase 1 duration (raw)",
    "Phase 1 duration",
    "Phase 1 duration (minutes)",
    "Phase 1 duration (hours)",
    "Phase 2 duration (raw)",
    "Phase 2 duration",
    "Phase 2 duration (minutes)",
    "Phase 2 duration (hours)",
    "Phase 3 duration (raw)",
    "Phase 3 duration",
    "Phase 3 duration (minutes)",
    "Phase 3 duration (hours)",
    "Phase 4 duration (raw)",
    "Phase 4 duration",
    "Phase 4 duration (minutes)",
    "Phase 4 duration (hours)",
    "Total time (raw)",
    "Total time",
    "Total time (minutes)",
    "Total time (hours)",
    "Copy time (raw)",
    "Copy time",
    "Copy time (minutes)",
    "Copy time (hours)",
    "Filename",
]
OUR_COLUMNS = ["Plotter", "k", "Compression", "Dst dir", "Final size (bytes)"]


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    yield make_farm(tmp_path, monkeypatch)
    monkeypatch.undo()
    time.tzset()


def export(farm: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``plotman-tui export``; its output as written (CRLF kept)."""
    argv = [str(PLOTMAN_TUI), "--config", str(farm["config"]), "export", *args]
    done = subprocess.run(argv, capture_output=True, timeout=60)
    return subprocess.CompletedProcess(
        argv, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_header_is_plotmans_34_columns_then_ours(farm: dict[str, Path]) -> None:
    done = export(farm)
    assert done.returncode == 0, done.stderr
    header = next(csv.reader(io.StringIO(done.stdout, newline="")))
    assert header[:34] == PLOTMAN_COLUMNS
    assert header[34:] == OUR_COLUMNS


def test_a_chia_plot_is_written_as_plotman_wrote_it(farm: dict[str, Path]) -> None:
    done = export(farm)
    assert done.returncode == 0, done.stderr
    # RFC 4180: every line ends in CRLF.
    assert done.stdout.endswith("\r\n") and "\n" not in done.stdout.replace("\r\n", "")
    found = rows(done.stdout)
    row = next(r for r in found if r["Plot ID"].startswith("d2540dcf"))
    # The values of plotman's own test of this log (test_chianetwork.py), in its formats:
    # raw seconds as logged, rounded seconds, rounded minutes, hours to two decimals.
    assert row["Started at"] == "2021-07-14T22:33:24"
    assert row["Date"] == "2021-07-14"
    assert [row["Size"], row["Buffer"], row["Buckets"], row["Threads"]] == [
        "32",
        "5000",
        "128",
        "4",
    ]
    assert [row["Tmp dir 1"], row["Tmp dir 2"]] == ["/farm/yards/902", "/farm/yards/902/fake_tmp2"]
    assert [
        row["Phase 1 duration (raw)"],
        row["Phase 1 duration"],
        row["Phase 1 duration (minutes)"],
        row["Phase 1 duration (hours)"],
    ] == ["8134.66", "8135", "136", "2.26"]
    assert [row["Phase 3 duration (raw)"], row["Phase 4 duration (raw)"]] == [
        "6515.266",
        "425.637",
    ]
    assert [
        row["Total time (raw)"],
        row["Total time"],
        row["Total time (minutes)"],
        row["Total time (hours)"],
    ] == ["18380.426", "18380", "306", "5.11"]
    assert [row["Copy time (raw)"], row["Copy time"], row["Copy time (minutes)"]] == [
        "178.438",
        "178",
        "3",
    ]
    assert row["Copy time (hours)"] == "0.05"
    assert row["Filename"] == (
        "/farm/yards/902/fake_dst/plot-k32-2021-07-14-22-33-"
        "d2540dcfcffddbfbd7e60b4aca4d54fb937db71991298fabc253f020a87ff7d4.plot"
    )
    assert [row["Plotter"], row["k"], row["Compression"]] == ["chia", "32", ""]
    assert row["Dst dir"] == "/farm/yards/902/fake_dst"
    assert int(row["Final size (bytes)"]) > 100 * 2**30


def test_every_completed_plot_once_oldest_first_with_its_logs_times(
    farm: dict[str, Path],
) -> None:
    found = rows(export(farm).stdout)
    assert len(found) == 6  # madmax-multi's second plot never reached its dst: not exported
    starts = [row["Started at"] for row in found]
    assert starts == sorted(starts)
    assert [row["Plotter"] for row in found] == [
        "chia",
        "madmax",
        "madmax",
        "chia",
        "bladebit",
        "bladebit2disk",
    ]
    for source, (_name, plotter) in REAL_LOGS.items():
        times = first_plot_times((FIXTURES / source).read_text())
        matching = [
            row
            for row in found
            if row["Plotter"] == plotter and float(row["Total time (raw)"]) == times["total"]
        ]
        (row,) = matching
        for phase in (1, 2, 3, 4):
            logged = times.get(f"phase{phase}")
            cell = row[f"Phase {phase} duration (raw)"]
            assert (float(cell) if cell else None) == logged, (source, phase)
        copy = row["Copy time (raw)"]
        assert (float(copy) if copy else None) == times.get("copy"), source


def test_what_a_log_does_not_say_is_an_empty_cell_not_none_or_0(farm: dict[str, Path]) -> None:
    found = rows(export(farm).stdout)
    madmax = next(r for r in found if r["Plot ID"].startswith("522acbd6"))
    # plotman wrote "None" for madMAx's buffer and 0 for a copy not in the log.
    assert madmax["Buffer"] == ""
    assert [madmax[f"Copy time{how}"] for how in (" (raw)", "", " (minutes)", " (hours)")] == [
        "",
        "",
        "",
        "",
    ]
    disk = next(r for r in found if r["Plotter"] == "bladebit2disk")
    assert disk["Phase 4 duration (raw)"] == "" and disk["Phase 4 duration"] == ""


def test_output_to_a_file_replaces_it_whole(farm: dict[str, Path]) -> None:
    target = farm["root"] / "plots.csv"
    target.write_text("an older export\n")
    target.chmod(0o640)
    done = export(farm, "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert target.read_bytes().decode() == export(farm).stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in farm["root"].iterdir()) == [
        "cache",
        "logs",
        "plotman.toml",
        "plots.csv",
    ]


def test_output_to_a_dash_is_stdout_not_a_file_named_dash(farm: dict[str, Path]) -> None:
    done = export(farm, "-o", "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout == export(farm).stdout
    assert len(rows(done.stdout)) >= 1
    assert not (Path.cwd() / "-").exists()


def test_output_to_a_dir_or_nowhere_is_a_one_line_error(farm: dict[str, Path]) -> None:
    done = export(farm, "-o", str(farm["logs"]))
    assert done.returncode == 1
    assert done.stderr == f"plotman-tui: cannot write {farm['logs']}: it is a directory\n"
    missing = farm["root"] / "no-such-dir" / "plots.csv"
    done = export(farm, "-o", str(missing))
    assert done.returncode == 1
    assert done.stderr == f"plotman-tui: cannot write {missing}: No such file or directory\n"
    assert not missing.parent.exists()


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "plots.csv"
    target.write_text("the old export\n")

    def fails(out: io.TextIOBase) -> None:
        out.write("Plot ID,Started at\r\nhalf a ro")
        raise OSError(28, "No space left on device")

    with pytest.raises(HistoryReportError, match="No space left on device"):
        write_atomically(str(target), fails)
    assert target.read_text() == "the old export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plots.csv"]

    def interrupted(out: io.TextIOBase) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(str(target), interrupted)
    assert [p.name for p in tmp_path.iterdir()] == ["plots.csv"]


def test_a_new_file_gets_the_usual_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomically(str(tmp_path / "new.csv"), lambda out: out.write("x\r\n"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o644


def test_no_completed_plots_is_the_header_alone(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    empty = farm["root"] / "empty"
    empty.mkdir()
    assert main(["--config", str(farm["config"]), "export", str(empty)]) == 0
    out = capsys.readouterr().out
    assert out == ",".join(PLOTMAN_COLUMNS + OUR_COLUMNS) + "\r\n"


def test_a_missing_log_path_is_an_error(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    gone = farm["root"] / "gone.log"
    assert main(["--config", str(farm["config"]), "export", str(gone)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"plotman-tui: cannot read {gone}: No such file or directory\n"


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_guarded() -> None:
    (record,), _skipped = read_log(str(FIXTURES / "chianetwork.plot.log"))
    # No parser gives a dir that is not absolute; a future one, or a hand-made record, could.
    risky = record._replace(tmp_dir='=HYPERLINK("http://x","y")', tmp2_dir="@SUM(1)", dst_dir="-x")
    row = export_row(risky)
    assert row[7:9] == ['\'=HYPERLINK("http://x","y")', "'@SUM(1)"]
    assert row[-2] == "'-x"
    assert export_row(record)[7] == "/farm/yards/902"  # real paths are left as they are


def test_durations_that_are_no_durations_are_empty_cells() -> None:
    (record,), _skipped = read_log(str(FIXTURES / "chianetwork.plot.log"))
    broken = record._replace(
        phase1_seconds=math.nan,
        phase2_seconds=math.inf,
        phase3_seconds=-1.0,
        started_at=math.nan,
        final_bytes=-5,
    )
    row = export_row(broken)
    assert row[1:3] == ["", ""]
    assert row[9:21] == [""] * 12
    assert row[21] == "425.637"
    assert row[-1] == ""


def test_a_start_not_known_is_an_empty_cell_and_leaves_the_other_plots_starts() -> None:
    (record,), _skipped = read_log(str(FIXTURES / "chianetwork.plot.log"))
    assert record.started_at is not None
    start = datetime.fromtimestamp(record.started_at).isoformat(timespec="seconds")
    assert [row[1:3] for row in export_rows([record])] == [(start, start[:10])]
    unknown = [None, math.nan, math.inf, -math.inf, 1e300, -1e300]
    plots = [record, *(record._replace(started_at=value) for value in unknown), record]
    cells = [row[1:3] for row in export_rows(plots)]
    assert cells == [(start, start[:10]), *[("", "")] * len(unknown), (start, start[:10])]


def test_a_text_cell_that_needs_quoting_is_quoted_in_every_text_column() -> None:
    # write_export looks for commas, quotes and line breaks in the text columns only (the
    # numbers and times it formats have none): each text column must be among them.
    (record,), _skipped = read_log(str(FIXTURES / "chianetwork.plot.log"))
    fields = ("plot_id", "tmp_dir", "tmp2_dir", "final_file", "plotter", "dst_dir")
    for field in fields:
        for text in ("/a,b", '/a"b', "/a\nb", "/a\rb"):
            plots = [record, record._replace(**{field: text})]
            out = io.StringIO()
            write_export(out, plots)
            rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
            assert rows == [list(EXPORT_COLUMNS), *map(list, export_rows(plots))]
            assert text in rows[2] or "'" + text in rows[2]


def test_duration_cells_are_plotmans_formulas_for_every_kind_of_duration() -> None:
    # plotman's four cells (csv_exporter.py): str(s), str(round(s)), str(round(s / 60)),
    # str(round(s / 3600, 2)); export makes them a column at a time, and faster: the same text.
    (record,), _skipped = read_log(str(FIXTURES / "chianetwork.plot.log"))
    durations = [0.0, 0.5, 1.5, 2.5, 18.0, 54.0, 90.0, 5399.99, 6364.582, 8134.66, 1e9]
    durations += [n * 0.001 + n * 36.0 for n in range(0, 200_000, 7)]
    plots = [record._replace(phase1_seconds=seconds) for seconds in durations]
    for plot, row in zip(plots, export_rows(plots), strict=True):
        seconds = plot.phase1_seconds
        assert seconds is not None
        plotman = [str(seconds), str(round(seconds)), str(round(seconds / 60))]
        assert list(row[9:13]) == [*plotman, str(round(seconds / 3600, 2))]


def test_rows_are_written_exactly_as_the_csv_module_writes_them() -> None:
    rows = [
        ["Plot ID", "Tmp dir 1", "Phase 1 duration (raw)"],
        ["a" * 64, "/mnt/tmp/00", "8134.66"],
        ["b" * 64, "/mnt/tmp,comma", "1.0"],
        ["c" * 64, '/mnt/"quoted"', ""],
        ["d" * 64, "/mnt/line\nbreak", "2.5"],
        ["e" * 64, "/mnt/cr\rhere", ""],
        ["f" * 64, "", ""],
        ["0" * 64, " /mnt/space first", "0.0"],
    ]
    ours = io.StringIO()
    write_rows(ours, rows)
    theirs = io.StringIO()
    csv.writer(theirs, lineterminator="\r\n").writerows(rows)
    assert ours.getvalue() == theirs.getvalue()
    assert list(csv.reader(io.StringIO(ours.getvalue(), newline=""))) == rows


def test_output_through_a_symlink_writes_the_file_it_points_to(farm: dict[str, Path]) -> None:
    # A farmer's `latest.csv -> reports/plots.csv`: the link stays a link, the report is new.
    reports = farm["root"] / "reports"
    reports.mkdir()
    real = reports / "plots.csv"
    real.write_text("an older export\n")
    link = farm["root"] / "latest.csv"
    link.symlink_to(real)
    done = export(farm, "-o", str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink()
    assert real.read_bytes().decode() == export(farm).stdout
    assert [p.name for p in reports.iterdir()] == ["plots.csv"]


def test_output_to_a_fifo_writes_into_it_and_leaves_it_a_fifo(farm: dict[str, Path]) -> None:
    # A device or a FIFO (`-o /dev/stdout`, a named pipe to a loader) is written into, never
    # renamed over: as root, `-o /dev/full` replaced the device with a regular file.
    fifo = farm["root"] / "plots.fifo"
    os.mkfifo(fifo)
    argv = [str(PLOTMAN_TUI), "--config", str(farm["config"]), "export", "-o", str(fifo)]
    # The read end is opened first, without blocking: the writer's open never waits, and the
    # export (a few KiB) fits in the pipe's buffer, read once the writer is done.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=60)
        chunks = []
        while chunk := _read_ready(reader):
            chunks.append(chunk)
    finally:
        os.close(reader)
    written = b"".join(chunks)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert written.decode() == export(farm).stdout
    assert sorted(p.name for p in farm["root"].iterdir()) == [
        "cache",
        "logs",
        "plotman.toml",
        "plots.fifo",
    ]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_a_full_disk_is_a_one_line_error_not_a_traceback(farm: dict[str, Path]) -> None:
    # /dev/full is opened here, by the test: export never gets its path, so it cannot harm it.
    for command in (["export"], ["analyze"], ["analyze", "--json"], ["analyze", "--csv"]):
        argv = [str(PLOTMAN_TUI), "--config", str(farm["config"]), *command]
        with open("/dev/full", "w") as full:
            done = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, timeout=60)
        err = done.stderr.decode()
        assert done.returncode == 1, (command, err)
        assert err == "plotman-tui: cannot write the output: No space left on device\n", command


def _read_ready(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def test_an_empty_output_name_is_a_usage_error(farm: dict[str, Path]) -> None:
    # `-o "$OUT"` with OUT unset: said plainly, nothing written anywhere.
    done = export(farm, "-o", "")
    assert done.returncode == 2
    assert done.stderr == "plotman-tui: -o: the file name is empty\n"
    assert sorted(p.name for p in farm["root"].iterdir()) == ["logs", "plotman.toml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write a read-only file: run as a user")
def test_a_read_only_file_is_not_replaced(farm: dict[str, Path]) -> None:
    # `> plots.csv` would fail on it: a rename beside it must not get round the farmer's 0444.
    target = farm["root"] / "plots.csv"
    target.write_text("a kept export\n")
    target.chmod(0o444)
    done = export(farm, "-o", str(target))
    assert done.returncode == 1
    assert done.stderr == f"plotman-tui: cannot write {target}: Permission denied\n"
    assert target.read_text() == "a kept export\n"
