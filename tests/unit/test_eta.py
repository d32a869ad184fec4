"""Progress and ETA of running jobs, learned from the real logs of finished runs."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from plotman_tui.farm.eta import UNKNOWN, Estimate, EtaModel, load_model
from plotman_tui.farm.history import PlotRecord, read_history, read_log
from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.plotters import PLOTTERS
from plotman_tui.plotters.phase import Phase

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "plotter-logs"
CHIA_LOG = FIXTURES / "chianetwork.plot.log"
PLOTTERS_BY_NAME = {plotter.name: plotter for plotter in PLOTTERS}
CHIA_ID = "d2540dcfcffddbfbd7e60b4aca4d54fb937db71991298fabc253f020a87ff7d4"
START = 1_700_000_000.0


def log_numbers(path: Path) -> dict[str, float]:
    """The chia log's own lines: "Time for phase 1 = 8134.660 seconds", "Copy time = ..."."""
    text = path.read_text()
    numbers = {
        f"phase{m[1]}": float(m[2])
        for m in re.finditer(r"^Time for phase (\d) = ([\d.]+) seconds", text, re.M)
    }
    for name, label in (("total", "Total time"), ("copy", "Copy time")):
        found = re.search(rf"^{label} = ([\d.]+) seconds", text, re.M)
        assert found is not None
        numbers[name] = float(found[1])
    return numbers


CHIA = log_numbers(CHIA_LOG)
#: The final stage of the real chia run: what its total leaves over its phases, plus its copy.
CHIA_FINAL = CHIA["total"] - sum(CHIA[f"phase{n}"] for n in range(1, 5)) + CHIA["copy"]


def chia_record(**changes: object) -> PlotRecord:
    (record,), skipped = read_log(str(CHIA_LOG))
    assert skipped is None and record.completed
    return record._replace(**changes)


def scaled(record: PlotRecord, factor: float, **changes: object) -> PlotRecord:
    """The run as if every stage had taken ``factor`` times as long."""
    times = {
        name: getattr(record, name) * factor
        for name in ("phase1_seconds", "phase2_seconds", "phase3_seconds", "phase4_seconds")
    }
    times["total_seconds"] = record.total_seconds * factor  # type: ignore[operator]
    times["copy_seconds"] = record.copy_seconds * factor  # type: ignore[operator]
    return record._replace(**{**times, **changes})


def job_at(
    at: Phase | None,
    finished: dict[int, float],
    in_phase: float,
    **extra: object,
) -> tuple[Job, float]:
    """A chia k32 job on the record's tmp dir that has finished the phases ``finished`` and
    been ``in_phase`` seconds in ``phase``; and the time "now" at which that is so."""
    values: dict[str, object] = {
        "pid": 4242,
        "plotter": "chia",
        "argv": ("chia", "plots", "create"),
        "cwd": "/",
        "started_at": START,
        "wall_seconds": sum(finished.values()) + in_phase,
        "status": JobStatus.RUN,
        "plot_id": "ab" * 32,
        "k": 32,
        "tmp_dir": "/farm/yards/902",
        "dst_dir": "/farm/yards/902/fake_dst",
        "phase": at,
        "phase_seconds": tuple(sorted(finished.items())),
    }
    values.update(extra)
    job = Job(**values)  # type: ignore[arg-type]
    return job, START + sum(finished.values()) + in_phase


def phases_before(major: int) -> dict[int, float]:
    """The real run's phase times for the phases before ``major``."""
    return {n: CHIA[f"phase{n}"] for n in range(1, min(major, 5))}


def test_eta_of_a_job_in_phase_3_is_what_the_real_runs_phase_times_leave() -> None:
    model = EtaModel.from_records([chia_record(plot_id=f"{n:064x}") for n in range(3)])
    job, now = job_at(Phase(3, 4), phases_before(3), 1000.0)
    estimate = model.estimate(job, now)
    expected_eta = CHIA["phase3"] - 1000.0 + CHIA["phase4"] + CHIA_FINAL
    assert estimate.eta_seconds == pytest.approx(expected_eta, abs=1e-6)
    typical_total = CHIA["total"] + CHIA["copy"]
    assert estimate.progress == pytest.approx(
        (CHIA["phase1"] + CHIA["phase2"] + 1000.0) / typical_total
    )
    assert estimate.basis == 3 and estimate.same_tmp and not estimate.late


def test_the_median_of_each_phase_is_used_so_one_slow_run_does_not_move_it() -> None:
    base = chia_record()
    runs = [scaled(base, 1.0), scaled(base, 1.1), scaled(base, 10.0)]  # a disk that stalled
    model = EtaModel.from_records(runs)
    job, now = job_at(Phase(1, 0), {}, 0.0)
    estimate = model.estimate(job, now)
    assert estimate.progress == 0.0
    assert estimate.eta_seconds == pytest.approx((CHIA["total"] + CHIA["copy"]) * 1.1)


def test_a_tmp_dir_with_three_runs_uses_its_own_else_the_plotters_and_ks() -> None:
    base = chia_record()
    fast = [base._replace(tmp_dir="/mnt/nvme/") for _ in range(3)]  # the log's trailing "/"
    slow_two = [scaled(base, 2.0, tmp_dir="/mnt/hdd") for _ in range(2)]
    model = EtaModel.from_records([*fast, *slow_two])
    job_nvme, now = job_at(Phase(1, 0), {}, 0.0, tmp_dir="/mnt/nvme")
    job_hdd, _ = job_at(Phase(1, 0), {}, 0.0, tmp_dir="/mnt/hdd")
    nvme, hdd = model.estimate(job_nvme, now), model.estimate(job_hdd, now)
    assert (nvme.basis, nvme.same_tmp) == (3, True)
    assert nvme.eta_seconds == pytest.approx(CHIA["total"] + CHIA["copy"])
    # Only two runs on the hdd: all five chia k32 runs, whose median is the nvme's.
    assert (hdd.basis, hdd.same_tmp) == (5, False)
    assert hdd.eta_seconds == pytest.approx(CHIA["total"] + CHIA["copy"])
    assert model.basis(job_hdd) == (5, False) and model.runs == 5


@pytest.mark.parametrize(
    "change",
    [
        {"plotter": "madmax"},  # another plotter's runs
        {"k": 33},  # another k
        {"k": None},  # k unknown
        {"phase": None},  # no log found
    ],
)
def test_no_runs_like_the_job_or_no_phase_means_unknown_not_a_guess(
    change: dict[str, object],
) -> None:
    model = EtaModel.from_records([chia_record()] * 3)
    job, now = job_at(Phase(2, 1), phases_before(2), 60.0, **change)
    assert model.estimate(job, now) == UNKNOWN
    assert Estimate(None, None, 0) == UNKNOWN
    empty, _ = job_at(Phase(2, 1), phases_before(2), 60.0)
    assert EtaModel.from_records([]).estimate(empty, now) == UNKNOWN


def test_a_job_slower_than_every_run_in_its_phase_is_late_not_zero_seconds_from_done() -> None:
    base = chia_record()
    model = EtaModel.from_records([scaled(base, 1.0), scaled(base, 1.2), scaled(base, 0.9)])
    slowest = CHIA["phase4"] * 1.2
    job, now = job_at(Phase(4, 1), phases_before(4), slowest + 5.0)
    estimate = model.estimate(job, now)
    assert estimate.late and estimate.eta_seconds is None and estimate.basis == 3
    # Progress stops at the end of phase 4, where the next phase begins.
    total = CHIA["total"] + CHIA["copy"]
    assert estimate.progress == pytest.approx((total - CHIA_FINAL) / total)


def test_past_the_typical_time_the_eta_is_what_the_slower_runs_took_beyond_it() -> None:
    base = chia_record()
    model = EtaModel.from_records([scaled(base, f) for f in (0.8, 1.0, 1.2, 1.5)])
    # In phase 2 longer than the runs at 0.8 and 1.0 took: the two slower runs remain.
    in_phase = CHIA["phase2"] * 1.1
    job, now = job_at(Phase(2, 3), phases_before(2), in_phase)
    estimate = model.estimate(job, now)
    rest = ((CHIA["phase2"] * 1.2 - in_phase) + (CHIA["phase2"] * 1.5 - in_phase)) / 2
    later = [CHIA["phase3"], CHIA["phase4"], CHIA_FINAL]
    assert estimate.eta_seconds == pytest.approx(rest + sum(later) * (1.0 + 1.2) / 2)
    assert not estimate.late


def test_progress_only_grows_as_a_job_moves_through_its_phases_and_ends_at_one() -> None:
    base = chia_record()
    model = EtaModel.from_records([scaled(base, f) for f in (0.9, 1.0, 1.3)])
    seen: list[float] = []
    etas: list[float | None] = []
    # This job's phases take 1.2 times the median run's: past the typical time in each.
    for major in range(1, 6):
        actual = {n: CHIA[f"phase{n}"] * 1.2 for n in range(1, min(major, 5))}
        length = CHIA[f"phase{major}"] * 1.2 if 1 <= major <= 4 else CHIA_FINAL * 1.2
        for step in range(11):
            job, now = job_at(Phase(major, 0), actual, length * step / 10)
            estimate = model.estimate(job, now)
            assert estimate.progress is not None
            seen.append(estimate.progress)
            etas.append(estimate.eta_seconds)
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] <= 1.0
    assert all(eta is None or eta > 0 for eta in etas)
    done, now = job_at(Phase(5, 3), phases_before(5), 10.0, completed=True)
    assert model.estimate(done, now) == Estimate(1.0, 0.0, 3, True)


def test_a_suspended_job_has_progress_but_no_eta() -> None:
    model = EtaModel.from_records([chia_record()] * 3)
    job, now = job_at(Phase(3, 1), phases_before(3), 100.0, status=JobStatus.STP)
    estimate = model.estimate(job, now)
    assert estimate.eta_seconds is None and not estimate.late
    assert estimate.progress is not None and estimate.progress > 0


def test_a_finished_phase_the_log_gives_no_time_for_leaves_the_eta_unknown() -> None:
    model = EtaModel.from_records([chia_record()] * 3)
    job, now = job_at(Phase(3, 1), {1: CHIA["phase1"]}, 100.0)  # no phase 2 time
    estimate = model.estimate(job, now)
    total = CHIA["total"] + CHIA["copy"]
    assert estimate.eta_seconds is None
    assert estimate.progress == pytest.approx((CHIA["phase1"] + CHIA["phase2"]) / total)
    unborn, _ = job_at(Phase(3, 1), phases_before(3), 100.0, started_at=0.0)
    assert model.estimate(unborn, now).eta_seconds is None


def test_before_phase_1_the_whole_typical_run_is_ahead() -> None:
    model = EtaModel.from_records([chia_record()] * 3)
    job, now = job_at(Phase(0, 0), {}, 0.0)
    estimate = model.estimate(job, now)
    assert estimate.progress == 0.0
    assert estimate.eta_seconds == pytest.approx(CHIA["total"] + CHIA["copy"])


@pytest.mark.parametrize(
    "bad",
    [
        {"phase2_seconds": math.nan},
        {"phase3_seconds": math.inf},
        {"phase1_seconds": -5.0},
        {"phase1_seconds": "8134"},  # a cache entry of the wrong type
        {"phase1_seconds": True},
        {"copy_seconds": math.nan},
        {"total_seconds": -1.0},
        {"phase2_seconds": 1e308},  # finite, but five of them add up to infinity
        {"phase1_seconds": None, "phase2_seconds": None},
        {"k": "32"},
        {"k": None},
        {"plotter": None},
        {"completed": False},
    ],
)
def test_runs_with_broken_times_or_fields_are_left_out(bad: dict[str, object]) -> None:
    good = [chia_record()] * 3
    model = EtaModel.from_records([*good, chia_record(**bad)])
    job, now = job_at(Phase(1, 0), {}, 0.0)
    estimate = model.estimate(job, now)
    assert estimate.basis == 3
    assert estimate.eta_seconds == pytest.approx(CHIA["total"] + CHIA["copy"])
    assert EtaModel.from_records([chia_record(**bad)]).estimate(job, now) == UNKNOWN


def test_a_clock_that_is_nan_or_a_phase_time_of_1e308_leaves_the_eta_unknown() -> None:
    model = EtaModel.from_records([chia_record()] * 3)
    job, now = job_at(Phase(1, 0), {}, 0.0)
    assert model.estimate(job, math.nan).eta_seconds is None
    assert model.estimate(job, now).eta_seconds is not None
    # A job's phase times come from the log-state cache, a file too.
    huge, now = job_at(Phase(2, 0), {1: 1e308}, 10.0)
    estimate = model.estimate(huge, now)
    assert estimate.eta_seconds is None and estimate.progress == pytest.approx(
        CHIA["phase1"] / (CHIA["total"] + CHIA["copy"])
    )


def test_diskplot_runs_whose_log_gives_no_phase_4_time_are_used() -> None:
    (record,), _ = read_log(str(FIXTURES / "bladebit2disk.plot.log"))
    assert record.phase4_seconds is None and record.total_seconds is not None
    model = EtaModel.from_records([record] * 3)
    job, now = job_at(Phase(1, 2), {}, 100.0, plotter="bladebit2disk", tmp_dir=record.tmp_dir)
    estimate = model.estimate(job, now)
    assert estimate.basis == 3 and estimate.same_tmp
    assert estimate.eta_seconds == pytest.approx(record.total_seconds - 100.0)


def test_every_plotters_real_runs_give_an_estimate_at_the_start() -> None:
    """Every real log with a completed plot: a job of its plotter and k, just started, has the
    run's whole time ahead of it."""
    names = [
        "chianetwork.plot.log",
        "chia-1.0/2021-04-04T19_00_47.681088-0400.log",
        "chia-2.7.5-cli-k18.plot.log",
        "madmax-k32/madmax.plot.log",
        "madmax-multi/madmax-2plots.plot.log",
        "bladebit.plot.log",
        "bladebit2disk.plot.log",
    ]
    for name in names:
        records, _ = read_log(str(FIXTURES / name))
        record = next(r for r in records if r.completed)
        model = EtaModel.from_records([record])
        job, now = job_at(Phase(1, 0), {}, 0.0, plotter=record.plotter, k=record.k)
        estimate = model.estimate(job, now)
        ahead = (record.total_seconds or 0.0) + (record.copy_seconds or 0.0)
        assert estimate.eta_seconds == pytest.approx(ahead), name
        assert estimate.basis == 1 and estimate.progress == 0.0


def test_load_model_reads_the_newest_logs_of_the_log_dir_through_the_cache(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    text = CHIA_LOG.read_text()
    for index in range(5):
        log = logs / f"run{index}.log"
        log.write_text(text.replace(CHIA_ID, f"{index:064x}"))
        os.utime(log, (START + index, START + index))
    (logs / "garbage.log").write_bytes(b"\0\xff" * 100)
    os.utime(logs / "garbage.log", (START - 10, START - 10))
    cache = str(tmp_path / "history.json")
    assert load_model(logs, cache_path=cache).runs == 5
    assert load_model(logs, newest=3, cache_path=cache).runs == 3
    assert os.path.getsize(cache) > 0
    assert load_model(tmp_path / "missing", cache_path=cache).runs == 0
    (tmp_path / "empty").mkdir()
    assert load_model(tmp_path / "empty", cache_path=cache).runs == 0


def test_load_model_leaves_the_running_jobs_logs_unread_and_their_cache_entries_kept(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real-logs"
    real.mkdir()
    (tmp_path / "logs").symlink_to(real)  # the config names the dir through a symlink
    logs = tmp_path / "logs"
    for index in range(4):
        (real / f"run{index}.log").write_text(
            CHIA_LOG.read_text().replace(CHIA_ID, f"{index:064x}")
        )
    cache = str(tmp_path / "history.json")
    assert load_model(logs, cache_path=cache).runs == 4
    # run3's job is "running": its log, as /proc names it, is left out, and not read though it
    # grew; its cache entry stays (a scan of the whole dir after it reads nothing again).
    running = [str(real / "run3.log"), "/elsewhere/run2.log"]
    assert load_model(logs, running_logs=running, cache_path=cache).runs == 3
    assert read_history(logs, cache).read_paths == ()
    with open(real / "run3.log", "a") as log:
        log.write("a line more\n")
    history = read_history(logs, cache, skip=[str(logs / "run3.log")])
    assert history.read_paths == () and len(history.records) == 3


def chia_logs(logs: Path, count: int) -> list[Path]:
    """``count`` copies of the real k32 run under new ids in ``logs``."""
    logs.mkdir(exist_ok=True)
    paths = []
    for index in range(count):
        path = logs / f"run{index}.log"
        path.write_text(CHIA_LOG.read_text().replace(CHIA_ID, f"{index:064x}"))
        paths.append(path)
    return paths


def load(root: Path, running: list[Path] | None = None, model_path: Path | None = None) -> EtaModel:
    """load_model of the log dir ``root/logs``, its caches in ``root``."""
    return load_model(
        root / "logs",
        running_logs=[str(path) for path in running or []],
        cache_path=str(root / "history.json"),
        model_path=str(model_path or root / "eta.json"),
    )


def test_the_runs_are_kept_until_a_log_comes_or_goes_or_a_job_starts_or_ends(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    paths = chia_logs(logs, 4)
    assert load(tmp_path, [paths[3]]).runs == 3
    # A log rewritten in place changes no dir entry: the kept runs are used, no log is read.
    paths[0].write_text("not a plot log any more\n")
    assert load(tmp_path, [paths[3]]).runs == 3
    # The job of run3 ended: its log is read now, and the changed run0 too.
    assert load(tmp_path).runs == 3
    # A new log in the dir (its mtime moves): read again.
    chia_logs(tmp_path / "more", 1)[0].rename(logs / "new.log")
    os.utime(logs, ns=(1, 1))
    assert load(tmp_path).runs == 4


@pytest.mark.parametrize(
    "saved",
    [
        b"{not json",
        b"\0" * 100,
        b"[]",
        b'{"format": "plotman-tui eta runs", "version": 1, "key": KEY, "runs": [["chia", 32, '
        b"null, NaN, 1, 1, 1, 1]]}",
        b'{"format": "plotman-tui eta runs", "version": 1, "key": KEY, "runs": [["chia", 32, '
        b"null, -1, 1, 1, 1, 1]]}",
        b'{"format": "plotman-tui eta runs", "version": 1, "key": KEY, "runs": [["chia", true, '
        b"null, 1, 1, 1, 1, 1]]}",
        b'{"format": "plotman-tui eta runs", "version": 1, "key": KEY, "runs": [["chia", 32, '
        b'"/t\\u0000", 1, 1, 1, 1, 1]]}',
        b'{"format": "plotman-tui eta runs", "version": 1, "key": KEY, "runs": [["chia", 32]]}',
        b'{"format": "plotman-tui eta runs", "version": 1, "key": KEY, "runs": {}}',
    ],
)
def test_a_broken_or_tampered_runs_file_is_ignored_and_the_logs_read(
    tmp_path: Path, saved: bytes
) -> None:
    logs = tmp_path / "logs"
    chia_logs(logs, 3)
    model_path = tmp_path / "eta.json"
    assert load(tmp_path, model_path=model_path).runs == 3
    key = json.loads(model_path.read_text())["key"]
    model_path.write_bytes(saved.replace(b"KEY", json.dumps(key).encode()))
    model = load(tmp_path, model_path=model_path)
    assert model.runs == 3
    job, now = job_at(Phase(1, 0), {}, 0.0)
    assert model.estimate(job, now).eta_seconds == pytest.approx(CHIA["total"] + CHIA["copy"])


def test_a_fifo_in_place_of_the_runs_file_is_not_opened_for_reading(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    chia_logs(logs, 3)
    fifo = tmp_path / "eta.json"
    os.mkfifo(fifo)
    assert load(tmp_path, model_path=fifo).runs == 3  # does not hang on the FIFO


def test_the_second_plot_of_a_multi_plot_run_is_timed_from_its_own_start() -> None:
    """The real two-plot madMAx run as a running job in its second plot's phase 2: timed from
    the process's start (its first plot's), it read as late in its first minute."""
    log = FIXTURES / "madmax-multi" / "madmax-2plots.plot.log"
    first, second = read_log(str(log))[0]
    assert first.completed and first.started_at is not None
    model = EtaModel.from_records([first] * 3)
    parser = PLOTTERS_BY_NAME["madmax"].new_log_parser()
    text = log.read_bytes()
    # Fed up to the second plot's first phase 2 line: its phase 2 has just begun.
    phase_2 = text.index(b"[P2]", text.index(b"Crafting plot 2"))
    parser.feed(text[: text.index(b"\n", phase_2) + 1])
    info = parser.info
    assert info.plot_id == second.plot_id and info.phase.major == 2
    assert info.started_at == second.started_at
    job = Job(
        pid=4242,
        plotter="madmax",
        argv=("chia_plot", "-n", "2"),
        cwd="/",
        started_at=first.started_at,  # the process started with the first plot
        wall_seconds=0.0,
        status=JobStatus.RUN,
        plot_id=info.plot_id,
        k=32,
        tmp_dir=info.tmp_dir,
        phase=info.phase,
        phase_seconds=tuple(sorted(info.phase_seconds.items())),
        plot_started_at=info.started_at,
    )
    now = second.started_at + info.phase_seconds[1] + 60.0  # a minute into phase 2
    estimate = model.estimate(job, now)
    assert not estimate.late
    ahead = (first.total_seconds or 0.0) + (first.copy_seconds or 0.0)
    assert estimate.eta_seconds == pytest.approx(ahead - first.phase1_seconds - 60.0, abs=1.0)
    assert estimate.progress == pytest.approx((first.phase1_seconds + 60.0) / ahead)
    # A stated start not later than the process's own (a first plot), or past now (a log's
    # garbage), is not taken: the process's start is.
    for stated in (first.started_at + 5.0, now + 3600.0):
        assert model.estimate(replace(job, plot_started_at=stated), now).late
