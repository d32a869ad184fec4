"""``plotman-tui analyze`` on the real logs of every plotter, checked against their own lines."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plotman_tui.cli import main
from plotman_tui.farm.history_stats import GroupSummary
from plotman_tui.history_report import group_figures

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "plotter-logs"
PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"

#: Each real log, copied into the farm's log dir under a name of its own, and its plotter.
REAL_LOGS = {
    "chianetwork.plot.log": ("chianetwork.log", "chia"),
    "chia-1.0/2021-04-04T19_00_47.681088-0400.log": ("chia-1.0.log", "chia"),
    "madmax-k32/madmax.plot.log": ("madmax-k32.log", "madmax"),
    "madmax-multi/madmax-2plots.plot.log": ("madmax-multi.log", "madmax"),
    "bladebit.plot.log": ("bladebit.log", "bladebit"),
    "bladebit2disk.plot.log": ("bladebit2disk.log", "bladebit2disk"),
}

# The logs' own lines for each time, as each plotter prints them.
_LINES = {
    "phase": (
        re.compile(r"^Time for phase (\d) = ([\d.]+) seconds"),  # chia
        re.compile(r"^Phase (\d) took ([\d.]+) sec"),  # madMAx
        re.compile(r"(?:Finished|Completed) Phase (\d) in ([\d.]+) seconds"),  # BladeBit
    ),
    "total": (
        re.compile(r"^Total time = ([\d.]+) seconds"),
        re.compile(r"^Total plot creation time was ([\d.]+) sec"),
        re.compile(r"^Finished plotting in ([\d.]+) seconds"),
    ),
    "copy": (
        re.compile(r"^Copy time = ([\d.]+) seconds"),
        re.compile(r"^Copy to .* finished, took ([\d.]+) sec"),
    ),
}


def first_plot_times(text: str) -> dict[str, float]:
    """The first plot's times (every real log's first plot is complete), from its own lines:
    phase1..phase4, total and copy (the copy of madMAx's plot 1 is logged inside plot 2)."""
    times: dict[str, float] = {}
    for line in text.splitlines():
        for pattern in _LINES["phase"]:
            match = pattern.search(line)
            if match and f"phase{match[1]}" not in times:
                times[f"phase{match[1]}"] = float(match[2])
        for name in ("total", "copy"):
            for pattern in _LINES[name]:
                match = pattern.search(line)
                if match and name not in times:
                    times[name] = float(match[1])
    return times


def expected_by_plotter() -> dict[str, dict[str, list[float]]]:
    found: dict[str, dict[str, list[float]]] = {}
    for source, (_name, plotter) in REAL_LOGS.items():
        times = first_plot_times((FIXTURES / source).read_text())
        for measure, seconds in times.items():
            found.setdefault(plotter, {}).setdefault(measure, []).append(seconds)
    return found


def hms(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def make_farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A config whose plot log dir holds a copy of every real log, its own history cache, and
    UTC as the local zone (days and the logs' times are local: the same on every machine)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    for source, (name, _plotter) in REAL_LOGS.items():
        shutil.copy(FIXTURES / source, logs / name)
    config = tmp_path / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{logs}"\n\n'
        f'[directories]\ntmp = ["{tmp_path / "tmp"}"]\ndst = ["{tmp_path / "dst"}"]\n\n'
        '[plotting]\ntype = "chia"\n'
    )
    monkeypatch.setenv("PLOTMAN_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    return {"logs": logs, "config": config, "root": tmp_path}


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    yield make_farm(tmp_path, monkeypatch)
    monkeypatch.undo()
    time.tzset()


def run(farm: dict[str, Path], *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    """The installed ``plotman-tui``, as a farmer runs it."""
    argv = [str(PLOTMAN_TUI), "--config", str(farm["config"]), "analyze", *args]
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def analyze(
    farm: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    columns: int = 80,
) -> tuple[int, str, str]:
    monkeypatch.setenv("COLUMNS", str(columns))
    code = main(["--config", str(farm["config"]), "analyze", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_by_plotter_agrees_with_every_logs_own_time_lines(farm: dict[str, Path]) -> None:
    done = run(farm, "--by", "plotter", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    expected = expected_by_plotter()
    groups = {group["key"]["plotter"]: group for group in report["groups"]}
    assert list(groups) == ["bladebit", "bladebit2disk", "chia", "madmax"]
    assert report["plots_finished"] == 6
    for plotter, measures in expected.items():
        group = groups[plotter]
        assert group["plots_finished"] == len(measures["total"])
        for name in ("phase1", "phase2", "phase3", "phase4", "total", "copy"):
            spread = group["times"][name]
            values = measures.get(name, [])
            if not values:  # the disk plotter's phase 4, BladeBit's copy, madmax-k32's copy
                assert spread is None, (plotter, name)
                continue
            assert spread["n"] == len(values), (plotter, name)
            assert spread["mean"] == pytest.approx(statistics.mean(values), abs=5e-4)
            assert spread["min"] == min(values) and spread["max"] == max(values)
            assert spread["median"] == pytest.approx(statistics.median(values), abs=5e-4)
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            assert spread["stdev"] == pytest.approx(sd, abs=5e-4)
    # madmax-multi's second plot: made, never copied into place.
    (unfinished,) = report["unfinished"]
    assert unfinished["log_path"].endswith("madmax-multi.log")
    assert unfinished["plot_id"].startswith("bee14159")
    assert report["skipped"] == []


def test_the_table_shows_the_logs_times_and_fits_80_columns(farm: dict[str, Path]) -> None:
    done = run(farm, "--by", "plotter", columns=80)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    expected = expected_by_plotter()
    blocks = done.stdout.split("\n\n")
    chia = next(block for block in blocks if block.startswith("plotter chia\n"))
    assert "2 plots finished" in chia
    for name, title in (("phase1", "phase 1"), ("total", "total"), ("copy", "copy")):
        values = expected["chia"][name]
        row = next(line.split() for line in chia.splitlines() if line.startswith(f"  {title} "))
        cells = row[len(title.split()) :]
        # n mean sd min median max
        assert cells == [
            str(len(values)),
            hms(statistics.mean(values)),
            hms(statistics.stdev(values)),
            hms(min(values)),
            hms(statistics.median(values)),
            hms(max(values)),
        ]
    # chianetwork.plot.log: "Time for phase 1 = 8134.660 seconds": 2:15:35 is its min.
    assert "2:15:35" in chia
    assert "1 unfinished plot (not counted above):" in done.stdout
    assert "  madmax-multi.log (bee14159): plot made but not yet in place" in done.stdout


def test_the_csv_has_a_row_per_group_and_time_in_rfc_4180(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _err = analyze(farm, capsys, monkeypatch, "--by", "plotter,k", "--csv")
    assert code == 0
    assert out.endswith("\r\n") and "\n" not in out.replace("\r\n", "")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(rows) == 4 * 6
    bladebit_total = next(r for r in rows if r["plotter"] == "bladebit" and r["measure"] == "total")
    # bladebit.plot.log: "Finished plotting in 582.91 seconds (9.72 minutes)."
    assert bladebit_total["k"] == "32"
    assert float(bladebit_total["mean_seconds"]) == 582.91
    assert bladebit_total["n"] == "1" and bladebit_total["plots_finished"] == "1"
    disk_phase4 = next(
        r for r in rows if r["plotter"] == "bladebit2disk" and r["measure"] == "phase4"
    )
    assert disk_phase4["n"] == "0" and disk_phase4["mean_seconds"] == ""


def test_no_by_is_one_group_of_all_and_two_keys_nest(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _err = analyze(farm, capsys, monkeypatch)
    assert code == 0
    assert out.startswith("all plots\n  6 plots finished")
    code, out, _err = analyze(farm, capsys, monkeypatch, "--by", "tmp,day", "--json")
    keys = [group["key"] for group in json.loads(out)["groups"]]
    assert keys[0] == {"tmp": "/data/tmp", "day": "2021-06-18"}
    assert {"tmp": "/farm/yards/902", "day": "2021-07-14"} in keys
    # BladeBit's RAM plotter has no tmp dir: unknown is null, and sorts last.
    assert keys[-1] == {"tmp": None, "day": "2021-08-29"}


def test_since_and_until_keep_the_plots_finished_between(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("--since", "2021-07-01", "--until", "2021-08-01", "--by", "plotter", "--json")
    code, out, _err = analyze(farm, capsys, monkeypatch, *args)
    assert code == 0
    report = json.loads(out)
    # chianetwork (2021-07-14 22:33) and madmax-k32 (2021-07-14 21:56) only.
    assert [(g["key"]["plotter"], g["plots_finished"]) for g in report["groups"]] == [
        ("chia", 1),
        ("madmax", 1),
    ]
    assert report["groups"][0]["times"]["phase1"]["mean"] == 8134.66
    assert report["unfinished"] == []  # madmax-multi's plot 2 started in June


def test_a_plot_is_in_the_time_it_finished_as_by_day_counts_it(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # chianetwork started 2021-07-14 22:33 and ended some five hours later, on the 15th, the
    # day --by day files it under; madmax-k32 started and ended on the 14th.
    args = ("--since", "2021-07-15", "--until", "2021-07-16", "--by", "plotter,day", "--json")
    code, out, err = analyze(farm, capsys, monkeypatch, *args)
    assert code == 0, err
    report = json.loads(out)
    assert [(g["key"]["plotter"], g["key"]["day"]) for g in report["groups"]] == [
        ("chia", "2021-07-15")
    ]


def test_nothing_completed_in_the_time_asked_is_said_plainly(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not "no completed plots in the dir": it has six, none finished in the last two days.
    code, out, err = analyze(farm, capsys, monkeypatch, "--since", "-2d", columns=500)
    assert code == 0, err
    assert out.startswith(
        f"No completed plots in {farm['logs']} finished in the time asked (--since -2d); "
        "6 completed plots there finished outside it.\n"
    )
    code, out, err = analyze(farm, capsys, monkeypatch, "--until", "2020-01-01", "--json")
    assert code == 0, err
    assert json.loads(out)["groups"] == []


def test_until_before_since_is_a_usage_error_not_an_empty_report(farm: dict[str, Path]) -> None:
    done = run(farm, "--since", "2022-01-01", "--until", "2021-01-01")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "plotman-tui: --until 2021-01-01 is not after --since 2022-01-01: "
        "no plot can finish between them\n"
    )
    done = run(farm, "--since", "2021-07-01", "--until", "2021-07-01")
    assert done.returncode == 2


def test_an_empty_log_dir_has_no_completed_plots(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = farm["root"] / "empty"
    empty.mkdir()
    code, out, _err = analyze(farm, capsys, monkeypatch, str(empty), columns=500)
    assert (code, out) == (0, f"No completed plots in {empty}.\n")
    code, out, _err = analyze(farm, capsys, monkeypatch, str(empty), "--json")
    assert json.loads(out)["groups"] == []


def test_bad_arguments_exit_2_with_what_is_allowed(farm: dict[str, Path]) -> None:
    done = run(farm, "--by", "tmp,disk")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "plotman-tui: --by: cannot group by disk; choose from "
        "plotter,k,compression,tmp,tmp2,dst,threads,buckets,buffer,bitfield,day,week\n"
    )
    done = run(farm, "--since", "yesterday")
    assert done.returncode == 2
    assert done.stderr.startswith("plotman-tui: --since: cannot read 'yesterday' as a time")
    assert done.stderr.count("\n") == 1


def test_a_missing_path_is_an_error_that_names_it(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = farm["root"] / "no-such-dir"
    code, out, err = analyze(farm, capsys, monkeypatch, str(farm["logs"]), str(gone))
    assert code == 1 and out == ""
    assert err == f"plotman-tui: cannot read {gone}: No such file or directory\n"
    # The config's log dir, missing: not "no plots".
    shutil.rmtree(farm["logs"])
    code, out, err = analyze(farm, capsys, monkeypatch)
    assert code == 1
    assert err == (
        f"plotman-tui: cannot read the plot log dir {farm['logs']} ([logging] plots): "
        "No such file or directory\n"
    )


def test_a_log_given_with_its_dir_counts_once_and_files_can_be_given(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = farm["logs"] / "chianetwork.log"
    code, out, _err = analyze(farm, capsys, monkeypatch, str(farm["logs"]), str(log), "--json")
    assert code == 0 and json.loads(out)["plots_finished"] == 6
    code, out, _err = analyze(farm, capsys, monkeypatch, str(log), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["plots_finished"] == 1
    assert report["groups"][0]["times"]["phase1"]["mean"] == 8134.66


def test_files_that_are_no_plot_logs_are_listed_below_the_table(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (farm["logs"] / "binary.log").write_bytes(b"\0\1\2" * 100)
    (farm["logs"] / "empty.log").write_bytes(b"")
    for number in range(6):
        (farm["logs"] / f"notes-{number}.log").write_text("nothing to see\n")
    (farm["logs"] / "\x1b[31mred.log").write_text("a colour code in a name\n")
    code, out, _err = analyze(farm, capsys, monkeypatch)
    assert code == 0
    assert "9 files skipped (no plot in them):" in out
    assert "  binary.log: binary data (NUL bytes), not a plotter's log" in out
    assert "  ... and 4 more (--json lists them all)" in out
    assert "\x1b" not in out  # shown, not obeyed: ␛
    code, out, _err = analyze(farm, capsys, monkeypatch, "--json")
    skipped = json.loads(out)["skipped"]
    assert len(skipped) == 9
    assert json.loads(out)["plots_finished"] == 6


def test_many_unfinished_plots_are_counted_and_the_first_listed(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (FIXTURES / "chianetwork.plot.log").read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(text) if line.startswith("Time for phase 2"))
    for number in range(7):
        (farm["logs"] / f"running-{number}.log").write_text("".join(text[:cut]))
    code, out, _err = analyze(farm, capsys, monkeypatch)
    assert code == 0
    assert "8 unfinished plots (not counted above):" in out
    assert "  ... and 3 more (--json lists them all)" in out
    assert out.startswith("all plots\n  6 plots finished")


def test_a_narrow_terminal_drops_columns_but_keeps_n_and_mean(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _err = analyze(farm, capsys, monkeypatch, "--by", "dst", columns=40)
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 40 for line in lines), [line for line in lines if len(line) > 40]
    headers = {line.split()[0:3] == ["time", "n", "mean"] for line in lines if "time" in line}
    assert headers == {True}
    # A long dst dir is wrapped, never cut: all of it is there.
    assert "/farm/yards/902/fake_dst" in out.replace("\n  ", "")


def test_a_fifo_given_as_a_log_is_skipped_not_waited_on(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = farm["root"] / "pipe.log"
    os.mkfifo(fifo)
    code, out, _err = analyze(farm, capsys, monkeypatch, str(fifo), "--json")
    assert code == 0
    (skipped,) = json.loads(out)["skipped"]
    assert skipped["log_path"] == str(fifo)


def test_a_log_named_in_bytes_that_are_not_utf8_is_listed_not_a_traceback(
    farm: dict[str, Path],
) -> None:
    (Path(os.fsdecode(bytes(farm["logs"]))) / os.fsdecode(b"bad\xff.log")).write_text("x\n")
    argv = [str(PLOTMAN_TUI), "--config", str(farm["config"]), "analyze"]
    # A UTF-8 terminal: stdout refuses what is not UTF-8 (a C locale would let it through).
    env = dict(os.environ, COLUMNS="80", PYTHONIOENCODING="utf-8:strict")
    done = subprocess.run(argv, capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "  bad\ufffd.log: not a plot log (no plot id in it)" in done.stdout.decode()


def test_json_keys_are_numbers_and_booleans_where_the_logs_have_them(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A script's `select(.key.k == 32)` must match: k 32 is the number 32, not the text "32".
    by = "plotter,k,threads,buckets,buffer,bitfield"
    code, out, err = analyze(farm, capsys, monkeypatch, "--by", by, "--json")
    assert code == 0, err
    keys = [g["key"] for g in json.loads(out)["groups"]]
    # chianetwork.plot.log: "Buffer size is: 5000MiB", "Using 128 buckets", "Using 4 threads".
    assert {
        "plotter": "chia",
        "k": 32,
        "threads": 4,
        "buckets": 128,
        "buffer": 5000,
        "bitfield": True,
    } in keys
    # madMAx tells no buffer, and has no bitfield: null, not "-".
    madmax = [key for key in keys if key["plotter"] == "madmax"]
    assert madmax and all(key["buffer"] is None and key["bitfield"] is None for key in madmax)


def test_a_plot_whose_log_was_copied_counts_once(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plot id is the plot's own hash: two logs with it (a copy beside the original, or
    # another machine's log dir given too) are one plot, not two plots/day.
    backup = farm["root"] / "backup"
    backup.mkdir()
    shutil.copy(FIXTURES / "chianetwork.plot.log", backup / "chianetwork-copy.log")
    shutil.copy(FIXTURES / "chianetwork.plot.log", farm["logs"] / "chianetwork-copy.log")
    code, out, err = analyze(farm, capsys, monkeypatch, "--json")
    assert code == 0, err
    assert json.loads(out)["plots_finished"] == 6
    code, out, err = analyze(farm, capsys, monkeypatch, str(farm["logs"]), str(backup), "--json")
    assert code == 0, err
    assert json.loads(out)["plots_finished"] == 6
    argv = ["--config", str(farm["config"]), "export", str(farm["logs"]), str(backup)]
    assert main(argv) == 0
    exported = capsys.readouterr().out
    assert exported.count("d2540dcfcffddbfbd7e60b4aca4d54fb937db71991298fabc253f020a87ff7d4,") == 1


def test_a_terminal_that_is_not_unicode_gets_no_traceback(farm: dict[str, Path]) -> None:
    # An ASCII terminal: the table's "·" and a dir named "äcker" are shown as "?"; the CSV,
    # whose cells must be exact, is refused in one line rather than written wrong.
    text = (FIXTURES / "chianetwork.plot.log").read_text()
    (farm["logs"] / "chianetwork.log").write_text(text.replace("/farm/yards/902", "/farm/äcker"))
    env = dict(os.environ, COLUMNS="80", PYTHONIOENCODING="ascii")
    argv = [str(PLOTMAN_TUI), "--config", str(farm["config"])]
    done = subprocess.run(
        [*argv, "analyze", "--by", "tmp,k"], capture_output=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "tmp /farm/?cker ? k 32\n" in done.stdout.decode("ascii")
    done = subprocess.run([*argv, "analyze", "--json"], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr  # JSON escapes what is not ASCII
    for command in (["export"], ["analyze", "--csv", "--by", "tmp"]):
        done = subprocess.run([*argv, *command], capture_output=True, env=env, timeout=60)
        assert done.returncode == 1, command
        assert done.stderr.decode() == (
            "plotman-tui: cannot write the output: its encoding (ascii) cannot write '\\xe4'; "
            "use a UTF-8 locale or PYTHONIOENCODING=utf-8\n"
        )


def test_a_file_given_twice_is_skipped_once(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = farm["logs"] / "binary.log"
    binary.write_bytes(b"\0\1\2" * 100)
    logs = str(farm["logs"])
    code, out, err = analyze(farm, capsys, monkeypatch, logs, str(binary), logs, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [skip["log_path"] for skip in report["skipped"]] == [str(binary)]
    assert report["plots_finished"] == 6


def test_small_rates_are_decimals_a_farmer_reads_not_exponents(
    farm: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two real k18 test plots on one day, 0.004 GiB each as their logs state ("Final File
    # size: 0.004 GiB"): 7.8e-06 TiB/day reads as a typo.
    for name in ("chia-2.7.5-cli-k18.plot.log", "chiapos-2.0.12-k18.plot.log"):
        shutil.copy(FIXTURES / name, farm["logs"] / name)
    code, out, err = analyze(farm, capsys, monkeypatch, "--by", "k", columns=200)
    assert code == 0, err
    k18 = out[out.index("k 18\n") :].splitlines()[1]
    assert k18 == "  2 plots finished (8.2 MiB); 2.00 plots/day, 0.0000078 TiB/day over 1.0 day"
    assert "e-0" not in out
    # One k18 plot over five years: a rate below a millionth is said to be one, not 30 zeros.
    group = GroupSummary((), {}, 1, 4945046, 5 * 365 * 86400.0, 1 / 1825, 4945046 / 2**40 / 1825)
    assert group_figures(group)[1:] == ["0.00055 plots/day", "<0.000001 TiB/day over 1825.0 days"]


def test_analyze_imports_neither_the_eta_model_nor_the_job_model() -> None:
    # A warm analyze is mostly starting up: its table, JSON and CSV need the history and its
    # statistics, not the ETA model, the job model, the action log (~15 ms of imports) nor
    # every plotter's module (the history's checks need only their names and bounds).
    code = (
        "import sys, plotman_tui.history_report\n"
        "heavy = ('plotman_tui.farm.eta', 'plotman_tui.farm.model', 'plotman_tui.farm.actionlog',"
        " 'plotman_tui.plotters.registry')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
