"""Plot history: real logs of every plotter into records, skipped files with reasons, the cache."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import pickle
import random
import re
import resource
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from plotman_tui.farm import history as history_module
from plotman_tui.farm.finished import WHOLE_BYTES
from plotman_tui.farm.history import (
    MAX_LOG_BYTES,
    History,
    PlotRecord,
    SkippedLog,
    default_cache_path,
    parse_log,
    read_history,
    read_log,
)
from plotman_tui.farm.plotsize import final_plot_bytes
from plotman_tui.plotters import PLOTTERS, get_plotter
from plotman_tui.plotters.bladebit_cuda import BladebitCudaLogParser

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "plotter-logs"

# Each log's own phase-time lines, as each plotter prints them.
_PHASE_LINES = (
    re.compile(r"^Time for phase (\d) = ([\d.]+) seconds", re.M),  # chia
    re.compile(r"^Phase (\d) took ([\d.]+) sec", re.M),  # madMAx
    re.compile(r"(?:Finished|Completed) Phase (\d) in ([\d.]+) seconds", re.M),  # BladeBit
)

LOGS = {
    "chianetwork.plot.log": ("chia", 32, 1),
    "chia-1.0/2021-04-04T19_00_47.681088-0400.log": ("chia", 32, 1),
    "chia-2.7.5-cli-k18.plot.log": ("chia", 18, 1),
    "chiapos-2.0.12-k18.plot.log": ("chia", 18, 1),
    "madmax.plot.log": ("madmax", 33, 1),
    "madmax-k32/madmax.plot.log": ("madmax", 32, 1),
    "madmax-multi/madmax-2plots.plot.log": ("madmax", 32, 2),
    "bladebit.plot.log": ("bladebit", 32, 1),
    "bladebit2disk.plot.log": ("bladebit2disk", 32, 1),
}


def _phase_times(text: str) -> list[dict[int, float]]:
    """Per plot in the log, its phase times as the log's own lines state them."""
    plots: list[dict[int, float]] = []
    for line in text.splitlines():
        for pattern in _PHASE_LINES:
            match = pattern.search(line)
            if match:
                phase = int(match.group(1))
                if not plots or phase in plots[-1]:
                    plots.append({})
                plots[-1][phase] = float(match.group(2))
    return plots


@pytest.mark.parametrize("name", sorted(LOGS))
def test_every_plotters_real_log_gives_its_plots_with_the_logs_own_phase_times(
    name: str,
) -> None:
    plotter, k, count = LOGS[name]
    path = FIXTURES / name
    records, skipped = read_log(str(path))
    assert skipped is None
    assert len(records) == count
    expected = _phase_times(path.read_text())
    assert len(expected) == count
    for record, phases in zip(records, expected, strict=True):
        assert record.plotter == plotter
        assert record.k == k
        assert len(record.plot_id) == 64
        assert record.log_path == str(path)
        got = {
            1: record.phase1_seconds,
            2: record.phase2_seconds,
            3: record.phase3_seconds,
            4: record.phase4_seconds,
        }
        assert {phase: got[phase] for phase in phases} == phases
        assert set(phases) >= {1, 2, 3}  # BladeBit's disk plotter prints three
        assert record.total_seconds is not None
        assert record.started_at is not None and record.ended_at is not None
        assert record.ended_at >= record.started_at + record.total_seconds
        assert record.final_bytes is not None and record.final_bytes > 0


def test_finished_logs_are_complete_with_their_file_and_settings() -> None:
    (record,), _ = read_log(str(FIXTURES / "chianetwork.plot.log"))
    assert record.completed and record.unfinished_reason == ""
    assert record.final_file is not None and record.final_file.endswith(f"{record.plot_id}.plot")
    assert (record.threads, record.buckets, record.buffer_mib) == (4, 128, 5000)
    assert record.bitfield is True
    assert record.copy_seconds == 178.438
    assert record.compression is None


def test_a_madmax_multi_plot_run_gives_one_record_per_plot() -> None:
    records, _ = read_log(str(FIXTURES / "madmax-multi" / "madmax-2plots.plot.log"))
    first, second = records
    assert first.plot_id.startswith("e6a1f143") and second.plot_id.startswith("bee14159")
    # Plot 1's copy finished while plot 2 was being made: it belongs to plot 1.
    assert first.completed and first.copy_seconds == 964.486
    assert first.final_file == f"/data/final/plot-k32-2021-06-18-14-29-{first.plot_id}.plot"
    assert not second.completed and second.final_file is None
    assert "not yet in place" in second.unfinished_reason
    assert (first.total_seconds, second.total_seconds) == (2380.78, 2405.1)
    assert (first.buckets, first.threads, first.tmp_dir) == (256, 40, "/data/tmp")


def test_a_bladebit_cuda_multi_plot_run_gives_one_record_per_plot(tmp_path: Path) -> None:
    # The only real cudaplot text with whole plots is a grep of a 30-plot run's timing lines
    # (each line stamped by the poster): the records hold what those lines say and no more.
    lines = [
        "Generating plot 1 / 30: " + "e9" * 32,
        "Completed Phase 1 in 42.56 seconds",
        "Completed Phase 2 in 12.64 seconds",
        "Completed Phase 3 in 189.95 seconds",
        "Completed Plot 1 in 245.15 seconds ( 4.09 minutes )",
        "Completed writing plot in 207.92 seconds",
        "Generating plot 2 / 30: " + "ce" * 32,
        "Completed Phase 1 in 42.96 seconds",
    ]
    parser = BladebitCudaLogParser()
    parser.feed("".join(line + "\n" for line in lines).encode())
    (first,) = parser.earlier_plots
    assert first.completed and first.phase_seconds == {1: 42.56, 2: 12.64, 3: 189.95}
    assert parser.info.plot_id == "ce" * 32 and not parser.info.completed
    log = tmp_path / "cuda.log"
    log.write_text("".join(line + "\n" for line in lines))
    records, _ = read_log(str(log))
    assert [record.completed for record in records] == [True, False]
    assert records[0].total_seconds == 245.15


def test_an_unfinished_log_says_where_it_ends(tmp_path: Path) -> None:
    text = (FIXTURES / "chianetwork.plot.log").read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(text) if line.startswith("Time for phase 2"))
    log = tmp_path / "cut.log"
    log.write_text("".join(text[:cut]))
    (record,), skipped = read_log(str(log))
    assert skipped is None
    assert not record.completed
    assert record.phase1_seconds == 8134.66 and record.phase2_seconds is None
    assert "ends in phase 2:" in record.unfinished_reason
    assert record.total_seconds is None and record.ended_at is None


def test_files_that_are_no_plot_logs_are_skipped_with_their_reason(tmp_path: Path) -> None:
    real = (FIXTURES / "chianetwork.plot.log").read_bytes()
    (tmp_path / "garbage.log").write_bytes(b"hello\nthis is not a plot log\n\xff\xfe\n")
    (tmp_path / "nul.log").write_bytes(b"\0" * 100 + real)
    (tmp_path / "empty.log").write_bytes(b"")
    (tmp_path / "head.log").write_bytes(real[:300])  # cut before the plot id
    (tmp_path / "dir.log").mkdir()
    os.mkfifo(tmp_path / "fifo.log")
    (tmp_path / "other.txt").write_bytes(real)  # not a *.log: not looked at
    history = read_history(tmp_path)
    assert history.records == ()
    reasons = {Path(skip.log_path).name: skip.reason for skip in history.skipped}
    assert reasons == {
        "dir.log": "is a directory",
        "empty.log": "empty file",
        "fifo.log": "a FIFO, not a regular file",
        "garbage.log": "not a plot log (no plot id in it)",
        "head.log": "not a plot log (no plot id in it)",
        "nul.log": "binary data (NUL bytes), not a plotter's log",
    }


def test_a_missing_log_dir_is_one_skipped_entry(tmp_path: Path) -> None:
    history = read_history(tmp_path / "nowhere")
    assert history.records == ()
    assert [skip.reason for skip in history.skipped] == ["No such file or directory"]


def test_a_second_scan_reads_only_new_or_grown_logs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("chianetwork.plot.log", "bladebit.plot.log"):
        shutil.copy(FIXTURES / name, logs / name)
    full = (FIXTURES / "madmax-k32" / "madmax.plot.log").read_bytes()
    (logs / "growing.log").write_bytes(full[: len(full) // 2])
    (logs / "junk.log").write_bytes(b"junk\n")
    cache = str(tmp_path / "cache" / "history.json")

    first = read_history(logs, cache_path=cache)
    assert len(first.read_paths) == 4
    assert len(first.records) == 3 and len(first.skipped) == 1

    second = read_history(logs, cache_path=cache)
    assert second.read_paths == ()
    assert second.records == first.records and second.skipped == first.skipped

    (logs / "growing.log").write_bytes(full)
    shutil.copy(FIXTURES / "bladebit2disk.plot.log", logs / "new.log")
    third = read_history(logs, cache_path=cache)
    assert sorted(Path(path).name for path in third.read_paths) == ["growing.log", "new.log"]
    grown = next(r for r in third.records if r.log_path.endswith("growing.log"))
    assert grown.completed and grown.phase4_seconds is not None
    assert len(third.records) == 4


def test_a_broken_cache_is_read_around(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "chianetwork.plot.log", tmp_path / "a.log")
    cache = tmp_path / "history.json"
    cache.write_text('{"format": "plotman-tui history cache", "version": 1, "logs": {"x": [')
    history = read_history(tmp_path, cache_path=str(cache))
    assert len(history.records) == 1 and len(history.read_paths) == 1
    assert read_history(tmp_path, cache_path=str(cache)).read_paths == ()


# The cache holds its records as columns: each field's values, every record's in turn.
_ROW = PlotRecord._fields[1:]  # all but log_path
_BODY_PARTS = ("logs", "keys", "counts", "skipped", *_ROW)

# What a cache file (untrusted: any program can write it) may hold that no read of a log gives.
_BAD_VALUES = {
    "k as a list": ("k", ["not", "a", "number"]),
    "k as a bool": ("k", True),
    "k out of range": ("k", 99),
    "k as a float": ("k", 32.0),
    "threads as a bool": ("threads", True),
    "threads zero": ("threads", 0),
    "buckets huge": ("buckets", 10**9),
    "buffer negative": ("buffer_mib", -1),
    "compression negative": ("compression", -3),
    "phase time NaN": ("phase1_seconds", "NaN"),
    "phase time infinite": ("phase2_seconds", "Infinity"),
    "phase time negative": ("phase3_seconds", -1.5),
    "phase time as text": ("phase4_seconds", "6364.582"),
    "total time as a bool": ("total_seconds", True),
    "copy time -infinite": ("copy_seconds", "-Infinity"),
    "start time negative": ("started_at", -86400.0),
    "end time NaN": ("ended_at", "NaN"),
    "final size negative": ("final_bytes", -1),
    "final size a float": ("final_bytes", 1.5),
    "tmp dir with NUL": ("tmp_dir", "/mnt/tmp\u0000x"),
    "tmp dir relative": ("tmp_dir", "tmp"),
    "dst dir not normalised": ("dst_dir", "/mnt/dst/../x"),
    "final file with NUL": ("final_file", "/mnt/dst/a\u0000.plot"),
    "final file empty": ("final_file", ""),
    "plot id short": ("plot_id", "abc"),
    "plot id not hex": ("plot_id", "z" * 64),
    "plot id upper case": ("plot_id", "A" * 64),
    "plotter unknown": ("plotter", "plotman"),
    "completed as a number": ("completed", 1),
    "completed with a reason": ("unfinished_reason", "the log ends in phase 2:1"),
    "reason with NUL": ("unfinished_reason", "x\u0000"),
    "bitfield as text": ("bitfield", "yes"),
}


def _cache_file(cache: Path | str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A cache file's header line and body (a JSON value a line), the body as one object:
    ``logs``, ``keys``, ``counts``, ``skipped`` and ``records`` (the columns by name)."""
    head, _newline, body = Path(cache).read_text().partition("\n")
    parts = dict(zip(_BODY_PARTS, map(json.loads, body.split("\n")), strict=True))
    records = {name: parts.pop(name) for name in _ROW}
    return json.loads(head), {**parts, "records": records}


def _write_cache_file(
    cache: Path, header: dict[str, Any], saved: object, *, literal: str | None = None
) -> None:
    """A cache file of ``header`` and ``saved`` (an object as :func:`_cache_file` gives, a line
    per part and column, in their order; anything else on one line). The header keeps the
    CRC-32 of the body it came with: a body changed no longer matches it, and the reader
    checks its values one by one. ``literal``: the JSON text written where a value is
    ``"@VALUE@"`` (NaN and Infinity as such)."""
    parts: list[object] = [saved]
    if isinstance(saved, dict) and isinstance(saved.get("records"), dict):
        parts = [saved[name] for name in ("logs", "keys", "counts", "skipped")]
        parts += saved["records"].values()
    text = "\n".join(json.dumps(part) for part in parts)
    if literal is not None:
        text = text.replace('"@VALUE@"', literal)
    cache.write_text(json.dumps(header) + "\n" + text)


def _cached_once(tmp_path: Path) -> tuple[Path, Path, tuple[PlotRecord, ...]]:
    """A dir of two logs, both cached: a.log (one plot) and b.log (a two-plot madMAx run)."""
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    shutil.copy(FIXTURES / "chianetwork.plot.log", logs / "a.log")
    shutil.copy(FIXTURES / "madmax-multi" / "madmax-2plots.plot.log", logs / "b.log")
    cache = tmp_path / "history.json"
    first = read_history(logs, cache_path=str(cache))
    assert first.read_paths and read_history(logs, cache_path=str(cache)).read_paths == ()
    assert len(first.records) == 3
    return logs, cache, first.records


def _a_log_row(saved: dict[str, Any], logs: Path) -> int:
    """The place of a.log's record among the cached records."""
    at = saved["logs"].index(str(logs / "a.log"))
    return sum(saved["counts"][:at])


@pytest.mark.parametrize("case", sorted(_BAD_VALUES))
def test_a_cache_entry_with_a_value_no_log_gives_is_read_again(tmp_path: Path, case: str) -> None:
    logs, cache, records = _cached_once(tmp_path)
    name, value = _BAD_VALUES[case]
    header, saved = _cache_file(cache)
    saved["records"][name][_a_log_row(saved, logs)] = "@VALUE@"
    # Written as text so that NaN, Infinity and escaped NULs reach the reader as such.
    literal = value if value in ("NaN", "Infinity", "-Infinity") else json.dumps(value)
    _write_cache_file(cache, header, saved, literal=literal)
    again = read_history(logs, cache_path=str(cache))
    assert again.read_paths == (str(logs / "a.log"),)  # b.log's records are still taken
    assert again.records == records
    assert read_history(logs, cache_path=str(cache)).read_paths == ()  # written right again


@pytest.mark.parametrize(
    "shape",
    ["no records", "skipped and records", "skipped not text", "skipped empty"],
)
def test_a_cache_entry_of_the_wrong_shape_is_read_again(tmp_path: Path, shape: str) -> None:
    logs, cache, records = _cached_once(tmp_path)
    header, saved = _cache_file(cache)
    at = saved["logs"].index(str(logs / "a.log"))
    row = _a_log_row(saved, logs)
    if shape == "no records":
        saved["counts"][at] = 0
        for column in saved["records"].values():
            del column[row]
    else:
        saved["skipped"][at] = {
            "skipped and records": "empty file",
            "skipped not text": 7,
            "skipped empty": "",
        }[shape]
    _write_cache_file(cache, header, saved)
    again = read_history(logs, cache_path=str(cache))
    assert again.read_paths == (str(logs / "a.log"),)
    assert again.records == records


@pytest.mark.parametrize(
    "change",
    [
        "a column too short",
        "a column missing",
        "columns in another order",
        "records a list",
        "counts negative",
        "counts not numbers",
        "fewer keys than logs",
        "a log path a number",
        "not an object",
        "an older layout",
        "no header",
    ],
)
def test_a_cache_file_of_the_wrong_shape_is_read_around(tmp_path: Path, change: str) -> None:
    logs, cache, records = _cached_once(tmp_path)
    header, saved = _cache_file(cache)
    if change == "a column too short":
        saved["records"]["k"].pop()
    elif change == "a column missing":
        del saved["records"]["copy_seconds"]
    elif change == "columns in another order":
        saved["records"] = dict(reversed(saved["records"].items()))
    elif change == "records a list":
        saved["records"] = list(saved["records"].values())
    elif change == "counts negative":
        saved["counts"] = [-1, 4]
    elif change == "counts not numbers":
        saved["counts"] = ["1", "2"]
    elif change == "fewer keys than logs":
        saved["keys"].pop()
    elif change == "a log path a number":
        saved["logs"][0] = 7
    elif change == "not an object":
        saved = [saved]
    elif change == "an older layout":
        header["version"] = 3
    elif change == "no header":
        header = saved
    _write_cache_file(cache, header, saved)
    again = read_history(logs, cache_path=str(cache))
    assert sorted(again.read_paths) == [str(logs / "a.log"), str(logs / "b.log")]
    assert again.records == records
    assert read_history(logs, cache_path=str(cache)).read_paths == ()


def test_a_cache_of_many_logs_gives_the_records_a_read_gives(tmp_path: Path) -> None:
    """The cache's records, checked and made a column at a time, are the records a read of
    the logs makes: every fixture log, several copies each, one skipped among them."""
    logs = tmp_path / "logs"
    logs.mkdir()
    sources = sorted(path for path in FIXTURES.rglob("*.log") if "fragments" not in path.parts)
    for copy in range(3):
        for number, source in enumerate(sources):
            shutil.copy(source, logs / f"{copy}-{number}.log")
    (logs / "junk.log").write_bytes(b"junk\n")
    cache = str(tmp_path / "history.json")
    cold = read_history(logs, cache_path=cache)
    warm = read_history(logs, cache_path=cache)
    assert warm.read_paths == () and len(cold.read_paths) == 3 * len(sources) + 1
    assert warm.records == cold.records and warm.skipped == cold.skipped
    assert [repr(record) for record in warm.records] == [repr(r) for r in cold.records]
    assert {hash(record) for record in warm.records} == {hash(r) for r in cold.records}
    with pytest.raises(AttributeError):
        warm.records[0].k = 33  # type: ignore[misc]


def test_the_newest_logs_only_are_read_when_asked(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    names = ["a.log", "b.log", "c.log", "d.log"]
    for age, name in enumerate(names):  # a.log the newest ... d.log the oldest
        _copy_with_own_ids(FIXTURES / "bladebit.plot.log", logs / name)
        os.utime(logs / name, (1_700_000_000 - age * 60, 1_700_000_000 - age * 60))
    (logs / "d.log").write_bytes(b"junk\n")
    os.utime(logs / "d.log", (1_600_000_000, 1_600_000_000))
    cache = str(tmp_path / "history.json")
    two = read_history(logs, cache_path=cache, newest=2)
    assert [Path(record.log_path).name for record in two.records] == ["a.log", "b.log"]
    assert sorted(Path(path).name for path in two.read_paths) == ["a.log", "b.log"]
    assert two.skipped == ()  # the junk is older than the two
    assert read_history(logs, newest=0).records == ()
    # The newest two stay cached when the whole dir is read.
    every = read_history(logs, cache_path=cache)
    assert sorted(Path(path).name for path in every.read_paths) == ["c.log", "d.log"]
    assert len(every.records) == 3 and len(every.skipped) == 1
    # And a read of the newest does not drop the older ones from the cache.
    assert read_history(logs, cache_path=cache, newest=1).read_paths == ()
    assert read_history(logs, cache_path=cache).read_paths == ()


def test_one_cache_keeps_every_dirs_logs(tmp_path: Path) -> None:
    main, other = tmp_path / "main", tmp_path / "other"
    main.mkdir()
    other.mkdir()
    shutil.copy(FIXTURES / "chianetwork.plot.log", main / "a.log")
    shutil.copy(FIXTURES / "bladebit.plot.log", main / "b.log")
    shutil.copy(FIXTURES / "madmax-k32" / "madmax.plot.log", other / "c.log")
    cache = str(tmp_path / "history.json")
    read_history(main, cache_path=cache)
    read_history(other, cache_path=cache)  # analyze /some/other/dir
    assert read_history(main, cache_path=cache).read_paths == ()
    assert read_history(other, cache_path=cache).read_paths == ()
    # A log gone from another dir leaves the cache with the next write; this dir's stay.
    (main / "b.log").unlink()
    shutil.copy(FIXTURES / "bladebit2disk.plot.log", other / "d.log")
    read_history(other, cache_path=cache)
    assert set(_cache_file(cache)[1]["logs"]) == {
        str(main / "a.log"),
        str(other / "c.log"),
        str(other / "d.log"),
    }
    assert read_history(main, cache_path=cache).read_paths == ()


def test_a_plot_id_after_a_long_preamble_is_still_found(tmp_path: Path) -> None:
    # Parsers that see no plot id in a log's head stop reading it; with none seen, all read on.
    log = tmp_path / "preamble.log"
    preamble = b"".join(b"warning: something the shell printed %d\n" % n for n in range(3000))
    assert len(preamble) > 64 * 1024
    log.write_bytes(preamble + (FIXTURES / "chianetwork.plot.log").read_bytes())
    (record,), skipped = read_log(str(log))
    assert skipped is None
    assert record.plotter == "chia" and record.completed and record.phase4_seconds == 425.637


def test_the_cache_is_rewritten_only_when_the_logs_changed(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("chianetwork.plot.log", "bladebit.plot.log"):
        shutil.copy(FIXTURES / name, logs / name)
    cache = tmp_path / "history.json"
    read_history(logs, cache_path=str(cache))
    written = cache.stat().st_ino
    assert read_history(logs, cache_path=str(cache)).read_paths == ()
    assert cache.stat().st_ino == written  # not replaced: nothing changed
    (logs / "bladebit.plot.log").unlink()
    gone = read_history(logs, cache_path=str(cache))
    assert [record.plotter for record in gone.records] == ["chia"]
    assert cache.stat().st_ino != written
    assert set(_cache_file(cache)[1]["logs"]) == {str(logs / "chianetwork.plot.log")}


@pytest.mark.parametrize(
    ("name", "compression", "phases"),
    [
        ("bladebit_cuda_3.1.0_c7_n90_disk128_plot14_gh448", 7, {1: 2132.26, 2: 77.28}),
        ("bladebit_cuda_alpha4.3_c1_plot48_gh405", 1, {1: 68.0, 2: 8.66}),
        ("bladebit_cuda_3.1.0-beta1_alloc_to_P1_gh409", 3, {}),
    ],
)
def test_real_cudaplot_fragments_read_as_unfinished_cudaplot_runs(
    name: str, compression: int, phases: dict[int, float]
) -> None:
    # No whole cudaplot log is known: users posted pieces of runs, each cut off mid-plot.
    path = FIXTURES / "fragments" / f"{name}.fragment.log"
    (record,), skipped = read_log(str(path))
    assert skipped is None
    assert record.plotter == "bladebit_cuda"
    assert (record.k, record.compression) == (32, compression)
    assert {1: record.phase1_seconds, 2: record.phase2_seconds} == {
        1: phases.get(1),
        2: phases.get(2),
    }
    stated = _phase_times(path.read_text())  # the fragment's own "Completed Phase N" lines
    assert (stated[0] if stated else {}) == phases
    assert not record.completed and "ends in phase" in record.unfinished_reason


@pytest.mark.parametrize(
    ("name", "plotter"),
    [("bladebit.plot.log", "bladebit"), ("bladebit2disk.plot.log", "bladebit2disk")],
)
def test_a_bladebit_log_cut_anywhere_in_its_phases_reads_as_its_own_plotter(
    tmp_path: Path, name: str, plotter: str
) -> None:
    # BladeBit's three parsers read each other's logs; the one that reads it best must win
    # at every point a running or killed plot's log can end.
    lines = (FIXTURES / name).read_bytes().splitlines(keepends=True)
    first_phase = next(i for i, line in enumerate(lines) if line.startswith(b"Running Phase 1"))
    log = tmp_path / "cut.log"
    for end in range(first_phase + 1, len(lines) + 1):
        log.write_bytes(b"".join(lines[:end]))
        records, _ = read_log(str(log))
        assert [record.plotter for record in records] == [plotter], lines[end - 1]


def test_the_default_cache_is_in_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLOTMAN_TUI_CACHE_DIR", str(tmp_path / "cache"))
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(FIXTURES / "chianetwork.plot.log", logs / "a.log")
    read_history(logs, cache_path=default_cache_path())
    assert default_cache_path() == str(tmp_path / "cache" / "history.json")
    assert read_history(logs, cache_path=default_cache_path()).read_paths == ()


def test_the_final_size_is_the_plot_files_and_a_fifo_there_counts_as_none(
    tmp_path: Path,
) -> None:
    text = (FIXTURES / "madmax-multi" / "madmax-2plots.plot.log").read_text()
    final = tmp_path / "final"
    final.mkdir()
    log = tmp_path / "run.log"
    log.write_text(text.replace("/data/final/", f"{final}/"))
    (first, _), _ = read_log(str(log))
    assert first.final_file is not None and first.final_file.startswith(str(final))
    # No file there: the size the log states ("final plot size is 108832382686 bytes").
    assert first.final_bytes == 108_832_382_686
    Path(first.final_file).write_bytes(b"x" * 1234)
    (first, _), _ = read_log(str(log))
    assert first.final_bytes == 1234
    # A FIFO named like the plot is no plot: the stated size, and no wait for a writer.
    os.remove(first.final_file)
    os.mkfifo(first.final_file)
    (first, _), _ = read_log(str(log))
    assert first.final_bytes == 108_832_382_686


@pytest.mark.parametrize(
    ("log", "size"),
    [
        # The size the log states: madMAx to the byte, chiapos in GiB to 3 decimals.
        ("madmax-k32/madmax.plot.log", 108_836_238_815),
        ("chianetwork.plot.log", round(101.330 * 2**30)),
        ("chia-1.0/2021-04-04T19_00_47.681088-0400.log", round(101.336 * 2**30)),
        # BladeBit states none: a k32 plot's nominal size (chia-docs: 108.88 GB).
        ("bladebit.plot.log", 108_884_400_275),
        ("bladebit2disk.plot.log", 108_884_400_275),
        # ... and a compressed one's: chia-docs' C7 k32 plot, 78.0 of 101.4 GiB.
        ("fragments/bladebit_cuda_3.1.0_c7_n90_disk128_plot14_gh448.fragment.log", 83_757_230_981),
    ],
)
def test_a_plot_not_on_this_machine_counts_the_size_its_log_states_or_a_nominal_one(
    log: str, size: int
) -> None:
    records, _ = read_log(str(FIXTURES / log))
    assert records and records[0].final_bytes == size
    # Never the planning size, which adds 3% so a plot never runs out of room.
    assert records[0].final_bytes < final_plot_bytes(32)
    real_k32 = 108_836_238_815  # madMAx's own count of a real k32 plot
    if records[0].compression is None:
        assert abs(records[0].final_bytes - real_k32) < 0.001 * real_k32


def _every_fixture_log() -> list[str]:
    return sorted(
        path.relative_to(FIXTURES).as_posix()
        for path in FIXTURES.rglob("*")
        if path.is_file() and path.suffix == ".log"
    )


def _copy_with_own_ids(source: Path, target: Path) -> None:
    """A copy of the log ``source`` whose plots are other plots (ids of their own, from the
    target's name): a plain copy is the same plots, counted once."""
    data = source.read_bytes()
    for record in read_log(str(source))[0]:
        own = hashlib.sha256(f"{target.name} {record.plot_id}".encode()).hexdigest()
        for form in (record.plot_id, record.plot_id.upper()):
            data = data.replace(form.encode(), own.encode())
    target.write_bytes(data)


def _incremental(path: str, data: bytes, plotter: str, chunk: int) -> list[PlotRecord]:
    """The plots of a log as the plotter's parser reads it while a job runs: fed a piece at a
    time (through its own line splitter), then finished, and shown every line (no skipping)."""
    parser = get_plotter(plotter).new_log_parser()
    for start in range(0, len(data), chunk):
        parser.feed(data[start : start + chunk])
    parser.finish()  # type: ignore[attr-defined]
    infos = [*parser.earlier_plots, parser.info]
    return [history_module._record(path, plotter, info) for info in infos if info.plot_id]


def _no_line_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    for plotter in PLOTTERS:
        parser_class = type(plotter.new_log_parser())
        monkeypatch.setattr(parser_class, "_LINE_STARTS", ("",))
        monkeypatch.setattr(parser_class, "_STARTS_AFTER_INDENT", False)


@pytest.mark.parametrize("name", _every_fixture_log())
def test_a_whole_log_read_fast_gives_the_incremental_parsers_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # read_log splits a log once for all parsers and skips the lines they never act on; it
    # must give what the parser gives fed a piece at a time, whole logs and logs cut short.
    data = (FIXTURES / name).read_bytes()
    lines = data.splitlines(keepends=True)
    cuts = sorted({len(lines), *range(1, len(lines), max(1, len(lines) // 40))})
    log = tmp_path / "cut.log"
    fast = []
    for cut in cuts:
        log.write_bytes(b"".join(lines[:cut]))
        fast.append(read_log(str(log)))
    _no_line_skipping(monkeypatch)
    for cut, (records, skipped) in zip(cuts, fast, strict=True):
        cut_data = b"".join(lines[:cut])
        log.write_bytes(cut_data)
        assert (records, skipped) == read_log(str(log)), cut  # the same plotter chosen
        if records:
            plotter = records[0].plotter
            for chunk in (997, 8192):
                assert records == _incremental(str(log), cut_data, plotter, chunk), cut
    # The whole log gives plots, but for the real fragments that show no plot id: a header
    # alone (gh421), ids the poster dotted out (gh372), phase 3 lines alone (gh120).
    assert fast[-1][0] or name in _FRAGMENTS_WITHOUT_A_PLOT_ID


_FRAGMENTS_WITHOUT_A_PLOT_ID = frozenset(
    {
        "fragments/bladebit_cuda_3.1.0-rc2_c7_check_header_gh421.fragment.log",
        "fragments/bladebit_cuda_tail_completed_writing_gh372.fragment.log",
        "fragments/gigahorse_cuda_plot_k32_P3_timestamped_gh120.fragment.log",
    }
)


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.parametrize("in_a_thread", [False, True], ids=["main thread", "worker thread"])
def test_many_logs_read_by_worker_processes_give_what_one_process_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_a_thread: bool
) -> None:
    # A cold read of a big log dir goes to one process per core (spawned, never forked: the
    # dashboard reads history from a thread). Same records, skips and order as read serially.
    logs = tmp_path / "logs"
    logs.mkdir()
    for copy in range(3):
        for name in _every_fixture_log():
            _copy_with_own_ids(FIXTURES / name, logs / f"{copy}-{name.replace('/', '-')}")
    (logs / "junk.log").write_bytes(b"junk\n")
    (logs / "empty.log").write_bytes(b"")
    serial = read_history(logs)
    assert len(serial.read_paths) > 30 and len(serial.records) > 30
    monkeypatch.setattr(history_module, "POOL_MIN_LOGS", 2)
    monkeypatch.setattr(history_module, "_cores", lambda: 2)
    before = _children_cpu_seconds()
    results: list[History] = []
    if in_a_thread:
        reader = threading.Thread(target=lambda: results.append(read_history(logs)))
        reader.start()
        reader.join()
    else:
        results.append(read_history(logs))
    assert _children_cpu_seconds() > before  # worker processes did read them
    assert results == [serial]


def _many_logs(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    for copy in range(2):
        for name in _every_fixture_log():
            shutil.copy(FIXTURES / name, logs / f"{copy}-{name.replace('/', '-')}")
    (logs / "junk.log").write_bytes(b"junk\n")
    # A name that is no UTF-8 (a path of surrogate escapes to Python) goes to a worker too.
    shutil.copy(FIXTURES / "bladebit.plot.log", os.path.join(logs, os.fsdecode(b"\xff\xfe.log")))
    return logs


class _TextualStderr(io.StringIO):
    """What Textual puts in sys.stderr while the dashboard runs: no file descriptor."""

    def fileno(self) -> int:
        return -1


def test_worker_processes_start_under_a_stderr_without_a_file_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In the dashboard, multiprocessing's pool failed to start ("bad value(s) in
    # fds_to_keep": its resource tracker passes sys.stderr's descriptor on).
    logs = _many_logs(tmp_path)
    serial = read_history(logs)
    monkeypatch.setattr(history_module, "POOL_MIN_LOGS", 2)
    monkeypatch.setattr(history_module, "_cores", lambda: 2)
    monkeypatch.setattr(sys, "stderr", _TextualStderr())
    before = _children_cpu_seconds()
    assert read_history(logs) == serial
    assert _children_cpu_seconds() > before


# A worker reads the paths (JSON) on stdin and answers one JSON line each.
_EACH_PATH = "import json, sys; sys.stdout.write({!r} * len(json.loads(sys.stdin.read())))"


@pytest.mark.parametrize(
    "worker",
    [
        "print('not json')",
        "import sys; sys.exit(3)",
        "print('{}')",
        _EACH_PATH.format("not json\n"),
        _EACH_PATH.format('{"records": [], "skipped": "\\u0000"}\n'),
        _EACH_PATH.format("{}\n"),
        _EACH_PATH.format("[]\n"),
    ],
    ids=[
        "garbage",
        "exit status 3",
        "too few answers",
        "a line of garbage each",
        "a NUL reason each",
        "empty answers",
        "lists",
    ],
)
def test_a_worker_that_fails_or_answers_wrong_costs_only_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker: str
) -> None:
    # A worker's answer is untrusted input like the cache: refused, and its logs read here.
    logs = _many_logs(tmp_path)
    serial = read_history(logs)
    monkeypatch.setattr(history_module, "POOL_MIN_LOGS", 2)
    monkeypatch.setattr(history_module, "_cores", lambda: 2)
    monkeypatch.setattr(history_module, "_WORKER_CODE", worker)
    assert read_history(logs) == serial


def test_a_worker_reads_at_a_lower_priority_than_the_program_it_reads_for(
    tmp_path: Path,
) -> None:
    # A cold read of a big log dir is background work: a dashboard's keys come first.
    log = tmp_path / "a.log"
    shutil.copy(FIXTURES / "chianetwork.plot.log", log)
    code = history_module._WORKER_CODE + "; import os; print(os.nice(0), file=sys.stderr)"
    argv = [sys.executable, "-c", code, json.dumps(sys.path), str(os.getpid())]
    done = subprocess.run(argv, input=json.dumps([str(log)]), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["records"]  # it read the log
    expected = min(os.nice(0) + history_module.WORKER_NICE, 19)
    assert int(done.stderr) == expected


def test_a_record_from_the_cache_is_the_record_the_log_gives(tmp_path: Path) -> None:
    # Records come out of the cache without PlotRecord's constructor (each made from its row
    # by tuple.__new__): they must be the same in every way the program uses a record.
    logs, cache, records = _cached_once(tmp_path)
    again = read_history(logs, cache_path=str(cache))
    assert again.read_paths == ()
    assert len(again.records) == len(records) == 3
    for fresh, cached in zip(records, again.records, strict=True):
        assert cached == fresh and hash(cached) == hash(fresh) and repr(cached) == repr(fresh)
        assert cached._asdict() == fresh._asdict()
        assert pickle.loads(pickle.dumps(cached)) == fresh
        assert cached._replace(k=33) == fresh._replace(k=33)
        with pytest.raises(AttributeError):
            cached.k = 33  # type: ignore[misc]
    assert gc.isenabled()  # paused while the cache is read, and only then


def test_a_log_dir_named_relative_or_absolute_is_one_dir_to_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(FIXTURES / "bladebit.plot.log", logs / "a.log")
    cache = str(tmp_path / "history.json")
    monkeypatch.chdir(tmp_path)
    relative = read_history("logs", cache_path=cache)
    assert relative.records[0].log_path == os.path.join("logs", "a.log")  # as the dir was named
    absolute = read_history(logs, cache_path=cache)
    assert absolute.read_paths == () and absolute.records[0].log_path == str(logs / "a.log")
    assert set(_cache_file(cache)[1]["logs"]) == {str(logs / "a.log")}
    assert read_history("./logs/", cache_path=cache, skip=[str(logs / "a.log")]).records == ()


_WRITER = """
import sys
from pathlib import Path
from plotman_tui.farm.history import read_history, read_log
logs, cache, fixture = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
data = Path(fixture).read_bytes()
(plot_id,) = [record.plot_id for record in read_log(fixture)[0]]
for round in range(8):
    # A new log (a plot of its own): every read writes the cache.
    (logs / f"{round}.log").write_bytes(data.replace(plot_id.encode(), b"%064x" % round))
    assert len(read_history(logs, cache).records) == round + 1
"""


def test_processes_writing_the_cache_at_once_leave_a_whole_one(tmp_path: Path) -> None:
    # Each writes the whole cache and renames it into place: the last one's stands, never a
    # mix of two. Every log is then either cached or read again, never wrong.
    cache = tmp_path / "history.json"
    dirs = [tmp_path / f"logs{index}" for index in range(4)]
    writers = []
    for logs in dirs:
        logs.mkdir()
        argv = [sys.executable, "-c", _WRITER, str(logs), str(cache)]
        writers.append(subprocess.Popen([*argv, str(FIXTURES / "bladebit.plot.log")]))
    assert [writer.wait() for writer in writers] == [0] * len(dirs)
    header, saved = _cache_file(cache)
    assert header["format"] == "plotman-tui history cache" and saved["logs"]
    assert set(saved["logs"]) <= {str(logs / f"{n}.log") for logs in dirs for n in range(8)}
    assert list(tmp_path.glob(".history.json.*")) == []  # no partial file left behind
    for logs in dirs:
        history = read_history(logs, str(cache))
        assert len(history.records) == 8 and history.skipped == ()


def _chia_run_of(plots: int) -> tuple[bytes, list[str]]:
    """A ``chia plots create -n N`` style log: the real chia log once per plot, each with its
    own plot id, and those ids."""
    text = (FIXTURES / "chianetwork.plot.log").read_bytes()
    real_id = b"d2540dcfcffddbfbd7e60b4aca4d54fb937db71991298fabc253f020a87ff7d4"
    ids = [f"{number + 1:064x}" for number in range(plots)]
    return b"".join(text.replace(real_id, plot_id.encode()) for plot_id in ids), ids


def test_a_log_larger_than_16_mib_is_read_in_pieces_with_every_plot(tmp_path: Path) -> None:
    # A 100-plot chia run writes some 20 MB of log: it was skipped whole ("20790000 bytes,
    # more than 16777216") and its 100 plots lost.
    data, ids = _chia_run_of(100)
    assert len(data) > WHOLE_BYTES
    log = tmp_path / "run.log"
    log.write_bytes(data)
    records, skipped = read_log(str(log))
    assert skipped is None
    assert [record.plot_id for record in records] == ids
    for record in records:  # the log's own lines: "Time for phase 1 = 8134.660 seconds" ...
        assert record.completed
        assert (record.phase1_seconds, record.phase2_seconds) == (8134.660, 3304.860)
        assert (record.phase3_seconds, record.phase4_seconds) == (6515.266, 425.637)
        assert (record.total_seconds, record.copy_seconds) == (18380.426, 178.438)
        assert record.final_bytes == round(101.330 * 2**30)
    # The same as a read of the whole log at once (the plot across the first 16 MiB too).
    assert records == parse_log(str(log), data)[0]
    history = read_history(tmp_path, cache_path=str(tmp_path / "cache.json"))
    assert len(history.records) == 100 and history.skipped == ()


def test_a_file_larger_than_1_gib_is_no_plot_log(tmp_path: Path) -> None:
    big = tmp_path / "huge.log"
    with big.open("wb") as out:  # sparse: no disk taken
        out.write((FIXTURES / "chianetwork.plot.log").read_bytes())
        out.truncate(MAX_LOG_BYTES + 1)
    assert read_log(str(big)) == ([], SkippedLog(str(big), "larger than 1 GiB: not a plot log"))


def test_a_log_that_grows_past_1_gib_while_read_is_no_plot_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ids = _chia_run_of(100)
    log = tmp_path / "run.log"
    log.write_bytes(data)
    # No more to read than the first 16 MiB: as if it had grown past 1 GiB since its size
    # was looked at.
    pieces = history_module._pieces
    monkeypatch.setattr(history_module, "_pieces", lambda handle, _limit: pieces(handle, 0))
    records, skipped = history_module.read_log(str(log))
    assert records == [] and skipped is not None and skipped.reason.startswith("larger than")


def _mutated(value: Any, rng: random.Random) -> Any:
    """``value`` (a JSON document) with one value somewhere in it replaced by garbage."""
    garbage = [
        None,
        True,
        -1,
        0,
        2**70,
        1.5,
        -1.5,
        -0.0,
        1e308,
        "",
        "\x00",
        "/x/../y",
        [],
        {},
        [1],
        "a" * 64,
    ]
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: _mutated(value[key], rng)}
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        return [*value[:index], _mutated(value[index], rng), *value[index + 1 :]]
    return rng.choice(garbage)


def test_a_cache_with_garbage_anywhere_gives_what_a_read_of_the_logs_gives(tmp_path: Path) -> None:
    # The cache is untrusted: one value changed anywhere in it (a key, a count, a column's
    # value, a skip reason) is never an error, never moves a record to another log, and never
    # gives a value the parsers could not (the columns' checks at once refuse what a row's
    # check refuses). A value a parser could give (bitfield None) cannot be told from a real
    # one, as before: the cache is derived data, a wrong value only mis-states its own plot.
    logs, cache, _records = _cached_once(tmp_path)
    (logs / "junk.log").write_bytes(b"junk\n")
    fresh = read_history(logs, cache_path=str(cache))
    header, saved = _cache_file(cache)
    rng = random.Random(12)
    for _ in range(150):
        _write_cache_file(cache, header, _mutated(saved, rng))
        again = read_history(logs, cache_path=str(cache))
        assert [r.log_path for r in again.records] == [r.log_path for r in fresh.records]
        assert [s.log_path for s in again.skipped] == [s.log_path for s in fresh.skipped]
        for record in again.records:
            row = [getattr(record, name) for name in _ROW]
            assert history_module._row_record(record.log_path, row) == record
        assert read_history(logs, cache_path=str(cache)).read_paths == ()  # written right


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_a_heap_the_caller_froze_stays_frozen_after_a_history_read(
    tmp_path: Path, warm: bool
) -> None:
    # The dashboard freezes its startup heap (gc.freeze) so full collections skip it; a history
    # read that unfroze it put all of it back under every full collection (150-270 ms pauses).
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(FIXTURES / "chianetwork.plot.log", logs / "a.log")
    cache = str(tmp_path / "history.json")
    if warm:
        read_history(logs, cache_path=cache)
    startup_heap = [[index] for index in range(1000)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen >= len(startup_heap)
        history = read_history(logs, cache_path=cache)
        assert len(history.records) == 1 and (history.read_paths == ()) == warm
        # The heap itself, not a count: another thread of this test process may free a few
        # frozen objects meanwhile (CI saw 2 go). gc.get_objects() lists no frozen object, so
        # a read that unfroze the heap puts every one of these lists back in it.
        heap_ids = {id(item) for item in startup_heap}
        assert not [item for item in gc.get_objects() if id(item) in heap_ids]
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_a_copied_log_is_one_plot_to_every_reader(tmp_path: Path) -> None:
    # "a (copy).log" beside "a.log": a completed plot's id is its own hash, so it is one plot.
    # The rule lived only in analyze: metrics' plots finished and bytes written (and the ETA
    # model, the history screen) counted the copy as a second plot.
    from plotman_tui.metrics import FarmState, families

    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(FIXTURES / "chianetwork.plot.log", logs / "a.log")
    shutil.copy(FIXTURES / "chianetwork.plot.log", logs / "a (copy).log")
    shutil.copy(FIXTURES / "madmax-multi" / "madmax-2plots.plot.log", logs / "m.log")
    shutil.copy(FIXTURES / "madmax-multi" / "madmax-2plots.plot.log", logs / "m2.log")
    cache = str(tmp_path / "history.json")
    for _cold_then_warm in range(2):
        history = read_history(logs, cache_path=cache)
        done = [record for record in history.records if record.completed]
        # The chia plot and madMAx's first once each, from the first log by name.
        assert sorted((r.plotter, os.path.basename(r.log_path)) for r in done) == [
            ("chia", "a (copy).log"),
            ("madmax", "m.log"),
        ]
        # madMAx's second plot is unfinished in each log: once per log, as analyze lists it.
        unfinished = [record for record in history.records if not record.completed]
        assert sorted(os.path.basename(r.log_path) for r in unfinished) == ["m.log", "m2.log"]
        values = {
            sample.name: sample.value
            for family in families(FarmState(time=0.0, records=history.records))
            for sample in family.samples
        }
        assert values["plotman_tui_plots_finished_total"] == 2.0
        written = sum(record.final_bytes or 0 for record in done)
        assert written > 100 << 30 and values["plotman_tui_plots_written_bytes_total"] == written


# A process reading a log dir cold with two workers whose reads never end (a log on a hung
# mount): each worker leaves a file named by its pid in argv[2] once it is reading.
_COLD_READER = """
import sys
from plotman_tui.farm import history
history.POOL_MIN_LOGS = 2
history._cores = lambda: 2
history._WORKER_CODE = (
    "import json, os, sys, threading; sys.path[:0] = json.loads(sys.argv[1]); "
    "from plotman_tui.farm import history; "
    "history.read_log = lambda path: (open(os.path.join(%r, str(os.getpid())), 'w').close(), "
    "threading.Event().wait()); "
    "history._worker()"
) % sys.argv[2]
history.read_history(sys.argv[1])
"""


def _gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _poll(condition: Any, seconds: float) -> bool:
    """Whether ``condition()`` came true within ``seconds`` (looked at every 20 ms)."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("signal_number", [15, 2], ids=["SIGTERM", "SIGINT"])
def test_cold_read_workers_end_with_their_parent(tmp_path: Path, signal_number: int) -> None:
    # `metrics --serve` stopped, or Ctrl-C in analyze, during a cold read of thousands of logs:
    # its two workers were left to PID 1 and read on for seconds (here: for ever).
    logs = _many_logs(tmp_path)
    marks = tmp_path / "reading"
    marks.mkdir()
    reader = subprocess.Popen(
        [sys.executable, "-c", _COLD_READER, str(logs), str(marks)],
        stdin=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        assert _poll(lambda: len(list(marks.iterdir())) == 2, 60), "the workers never read"
        workers = [int(mark.name) for mark in marks.iterdir()]
        os.kill(reader.pid, signal_number)
        assert reader.wait(timeout=60) != 0  # a hung exit is a failure, not a hung test
        assert _poll(lambda: all(_gone(pid) for pid in workers), 30), "workers outlived it"
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
        for pid in workers:
            if not _gone(pid):
                os.kill(pid, 9)
