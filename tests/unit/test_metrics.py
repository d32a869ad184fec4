"""The metrics' families: plotman's gauges as plotman wrote them, plotman-tui's own, escaping of
untrusted label values, the wait reason's label, and the reader's cache and feed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

from plotman_tui import metrics
from plotman_tui.config import parse_config
from plotman_tui.farm import dirs
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.engine import PassResult
from plotman_tui.farm.eta import Estimate
from plotman_tui.farm.events import Event, EventKind
from plotman_tui.farm.history import read_history
from plotman_tui.farm.launches import StartFailures
from plotman_tui.farm.model import Job, JobStatus, Snapshot
from plotman_tui.farm.scheduler import Wait
from plotman_tui.metrics import (
    PLOTMAN_GAUGES,
    PLOTMAN_LABELS,
    DirFree,
    FarmState,
    StateReader,
    TargetTotals,
    exposition,
    families,
    registry_for,
    wait_reason_label,
)
from plotman_tui.plotters.phase import Phase
from tests.conftest import FIXTURES

PLOT_ID = "d2540dcfcffddbfbd7e60b4aca4d54fb937db71991298fabc253f020a87ff7d4"
NASTY_DIR = '/mnt/a "quoted"\\dir\nnext'


def job(**changes: object) -> Job:
    values: dict[str, object] = {
        "pid": 4242,
        "plotter": "chia",
        "argv": ("chia", "plots", "create"),
        "cwd": "/",
        "started_at": 1_000.0,
        "wall_seconds": 7_200.5,
        "status": JobStatus.SLP,
        "plot_id": PLOT_ID,
        "k": 32,
        "tmp_dir": "/mnt/tmp/00",
        "dst_dir": "/mnt/dst/00",
        "phase": Phase(2, 3),
        "tmp_usage_bytes": 123_456_789,
        "mem_rss_bytes": 1_000,
        "mem_vms_bytes": 4_000_000_000,
        "user_seconds": 100.9,
        "sys_seconds": 20.2,
        "iowait_seconds": 3.7,
    }
    values.update(changes)
    return Job(**values)  # type: ignore[arg-type]


class _One(Collector):
    """Serves one fixed state."""

    def __init__(self, state: FarmState) -> None:
        self.state = state

    def collect(self) -> list[Metric]:
        return families(self.state)


def text_of(state: FarmState) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_One(state))
    return generate_latest(registry).decode()


def parsed(state: FarmState) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Each family's samples as Prometheus's text parser reads our exposition back."""
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in text_string_to_metric_families(text_of(state))
    }


def test_plotmans_gauges_have_its_names_help_labels_and_units() -> None:
    state = FarmState(time=0.0, jobs=(job(),))
    text = text_of(state)
    for name, help_text in PLOTMAN_GAUGES.items():
        assert f"# HELP {name} {help_text}.\n# TYPE {name} gauge\n" in text
    labels = {
        "plot_id": "d2540dcf",
        "tmp_dir": "/mnt/tmp/00",
        "dst_dir": "/mnt/dst/00",
        "run_status": "SLP",
        "phase": "2:3",
    }
    assert tuple(labels) == PLOTMAN_LABELS
    samples = parsed(state)
    # As plotman: major, minor, major + minor/10, VMS bytes, CPU seconds truncated.
    assert {name: samples[name] for name in PLOTMAN_GAUGES} == {
        "plotman_plot_phase_major": [(labels, 2.0)],
        "plotman_plot_phase_minor": [(labels, 3.0)],
        "plotman_plot_phase_major_minor": [(labels, 2.3)],
        "plotman_plot_tmp_usage": [(labels, 123_456_789.0)],
        "plotman_plot_mem_usage": [(labels, 4e9)],
        "plotman_plot_user_time": [(labels, 100.0)],
        "plotman_plot_sys_time": [(labels, 20.0)],
        "plotman_plot_iowait_time": [(labels, 3.0)],
    }


def test_a_job_without_a_log_yet_is_shown_as_plotman_shows_it() -> None:
    young = job(plot_id=None, phase=None, tmp_usage_bytes=None, iowait_seconds=None)
    samples = parsed(FarmState(time=0.0, jobs=(young,)))
    ((labels, value),) = samples["plotman_plot_phase_major"]
    assert labels["plot_id"] == "--------" and labels["phase"] == "?:?" and value == 0
    # Unknown values are left out (plotman printed "None", which no scraper reads).
    assert samples["plotman_plot_tmp_usage"] == [] and samples["plotman_plot_iowait_time"] == []
    assert samples["plotman_tui_jobs"] == [({"phase": "?"}, 1.0)]


def test_two_jobs_with_one_label_set_are_one_series_not_a_duplicate() -> None:
    twins = (job(pid=1, plot_id=None, phase=None), job(pid=2, plot_id=None, phase=None))
    samples = parsed(FarmState(time=0.0, jobs=twins))
    assert len(samples["plotman_plot_phase_major"]) == 1
    # plotman-tui's own metrics tell them apart by pid.
    assert {labels["pid"] for labels, _ in samples["plotman_tui_job_info"]} == {"1", "2"}


def test_untrusted_dir_names_and_ids_are_escaped_and_read_back_exactly() -> None:
    nasty_id = 'ab"\\\n' + "0" * 60
    state = FarmState(
        time=0.0,
        jobs=(job(tmp_dir=NASTY_DIR, dst_dir=NASTY_DIR, plot_id=nasty_id),),
        dirs=(DirFree("archive", NASTY_DIR, 5, target='t"\\\n'),),
    )
    text = text_of(state)
    assert '\\"quoted\\"\\\\dir\\nnext' in text
    assert all(line.startswith(("#", "plotman")) for line in text.splitlines())
    samples = parsed(state)
    ((labels, _),) = samples["plotman_plot_phase_major"]
    assert labels["tmp_dir"] == NASTY_DIR and labels["dst_dir"] == NASTY_DIR
    assert labels["plot_id"] == nasty_id[:8]
    ((info, _),) = samples["plotman_tui_job_info"]
    assert info["plot_id"] == nasty_id and info["tmp_dir"] == NASTY_DIR
    ((free, value),) = samples["plotman_tui_dir_free_bytes"]
    assert free == {"role": "archive", "dir": NASTY_DIR, "target": 't"\\\n'} and value == 5


def test_a_dir_name_that_is_not_utf8_costs_only_its_own_labels() -> None:
    # psutil gives a command line's bytes that are not UTF-8 as lone surrogates (as os.listdir
    # does): prometheus_client cannot encode them, and one such job failed every scrape.
    bad_dir = os.fsdecode(b"/mnt/tmp-\xff")
    state = FarmState(
        time=0.0,
        jobs=(job(tmp_dir=bad_dir, plot_id="\udcff" + "0" * 63), job(pid=2, plot_id=None)),
        dirs=(DirFree("tmp", bad_dir, 5),),
    )
    samples = parsed(state)
    bad, good = sorted(samples["plotman_tui_job_info"], key=lambda sample: sample[0]["pid"])[::-1]
    assert bad[0]["tmp_dir"] == "/mnt/tmp-\ufffd" and bad[0]["plot_id"] == "\ufffd" + "0" * 63
    assert good[0]["pid"] == "2" and good[0]["tmp_dir"] == "/mnt/tmp/00"
    ((labels, _),) = [
        s for s in samples["plotman_plot_phase_major"] if s[0]["tmp_dir"] != "/mnt/tmp/00"
    ]
    assert labels["tmp_dir"] == "/mnt/tmp-\ufffd" and labels["plot_id"] == "\ufffd0000000"
    assert samples["plotman_tui_dir_free_bytes"] == [
        ({"role": "tmp", "dir": "/mnt/tmp-\ufffd", "target": ""}, 5.0)
    ]


def test_own_metrics_of_jobs_dirs_targets_and_states() -> None:
    estimate = Estimate(progress=0.25, eta_seconds=3_600.0, basis=4)
    state = FarmState(
        time=0.0,
        jobs=(job(), job(pid=7, phase=Phase(2, 3)), job(pid=8, phase=Phase(1, 0))),
        estimates={4242: estimate, 7: Estimate(None, None, 0)},
        dirs=(DirFree("tmp", "/mnt/tmp/00", 10), DirFree("dst", "/mnt/dst/00", 20)),
        targets=(TargetTotals("farmer", transfers=3, failures=1, plot_bytes=9, running=1),),
        plotting="backing_off",
        archiving="active",
        wait_reason="stagger",
    )
    samples = parsed(state)
    mine = {"pid": "4242", "plot_id": PLOT_ID}
    assert samples["plotman_tui_job_progress_ratio"] == [(mine, 0.25)]
    assert samples["plotman_tui_job_eta_seconds"] == [(mine, 3600.0)]
    assert samples["plotman_tui_job_eta_basis_runs"] == [
        (mine, 4.0),
        ({"pid": "7", "plot_id": PLOT_ID}, 0.0),
    ]
    assert samples["plotman_tui_jobs"] == [({"phase": "1:0"}, 1.0), ({"phase": "2:3"}, 2.0)]
    assert samples["plotman_tui_dir_free_bytes"] == [
        ({"role": "tmp", "dir": "/mnt/tmp/00", "target": ""}, 10.0),
        ({"role": "dst", "dir": "/mnt/dst/00", "target": ""}, 20.0),
    ]
    assert samples["plotman_tui_archive_transfers"] == [({"target": "farmer"}, 3.0)]
    assert samples["plotman_tui_archive_transfer_failures"] == [({"target": "farmer"}, 1.0)]
    assert samples["plotman_tui_archive_plot_bytes"] == [({"target": "farmer"}, 9.0)]
    assert samples["plotman_tui_archive_transfers_running"] == [({"target": "farmer"}, 1.0)]
    on = [labels["state"] for labels, value in samples["plotman_tui_plotting_state"] if value]
    assert on == ["backing_off"]
    assert len(samples["plotman_tui_plotting_state"]) == 6
    assert samples["plotman_tui_scheduler_waiting"] == [({"reason": "stagger"}, 1.0)]
    # No history read: no counters that would read as "zero plots ever".
    assert "plotman_tui_plots_finished" not in samples


def test_history_metrics_agree_with_the_real_logs_own_lines(tmp_path: Path) -> None:
    logs = FIXTURES / "plotter-logs"
    for name in ("chianetwork.plot.log", "madmax-multi/madmax-2plots.plot.log"):
        shutil.copy(logs / name, tmp_path / Path(name).name)
    (tmp_path / "broken.log").write_bytes(b"\0\0binary")
    history = read_history(tmp_path)
    done = [record for record in history.records if record.completed]
    samples = parsed(FarmState(time=0.0, records=history.records, skipped_logs=1))
    assert samples["plotman_tui_plots_finished"] == [({}, float(len(done)))]
    # The chia plot and madMAx's first: its log ends while the second is copied (phase 5:1).
    assert sorted(record.plotter for record in done) == ["chia", "madmax"]
    written = sum(record.final_bytes or 0 for record in done)
    assert samples["plotman_tui_plots_written_bytes"] == [({}, float(written))]
    assert samples["plotman_tui_history_skipped_logs"] == [({}, 1.0)]
    phases = {
        labels["phase"]: value for labels, value in samples["plotman_tui_last_plot_phase_seconds"]
    }
    labels = samples["plotman_tui_last_plot_phase_seconds"][0][0]
    # The newest is the chia plot (Jul 2021; the madMAx run is of June): the numbers of its
    # log's lines "Time for phase 1 = 8134.660 seconds" ... "Copy time = 178.438 seconds".
    assert labels["plotter"] == "chia" and labels["plot_id"].startswith("d2540dcf")
    assert phases == {
        "1": 8134.66, "2": 3304.86, "3": 6515.266, "4": 425.637,
        "total": 18380.426, "copy": 178.438,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("max jobs (12)", "max jobs"),
        ("stagger (20s/1800s)", "stagger"),
        ("max phase 1 jobs (4)", "max phase 1 jobs"),
        ("no eligible tmp dirs (00: 2 jobs before 2:1; 01: full)", "no eligible tmp dirs"),
        ("dst full (00: 10 GiB free, needs 101 GiB)", "dst full"),
        ("backing off 4m: chia: program not found (3 failed starts)", "backing off"),
        ("retrying after 3 failed starts: chia died", "retrying after failed starts"),
        ("plotting is paused", "plotting is paused"),
        ("(odd)", "other"),
        ("x" * 500, "x" * 60),
    ],
)
def test_wait_reasons_become_few_label_values(reason: str, label: str) -> None:
    assert wait_reason_label(reason) == label


CONFIG = '[logging]\nplots = "{logs}"\n[directories]\ntmp = ["{tmp}"]\n[plotting]\ntype = "chia"\n'


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_reader_reads_at_most_once_per_ttl_and_again_after_a_pass(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    config = parse_config(CONFIG.format(logs=tmp_path / "logs", tmp=tmp_path), check_dirs=False)
    clock = Clock()
    reader = StateReader(config, ttl_s=5.0, clock=clock)
    snapshot = Snapshot(jobs=(job(),), updated=clock.now)
    result = PassResult(
        time=clock.now,
        snapshot=snapshot,
        decision=Wait("stagger (20s/1800s)"),
        started=None,
        events=(),
        holds_lock=True,
    )
    reader.plotting_pass(result)
    first = reader.read()
    assert [j.pid for j in first.jobs] == [4242]  # the loop's jobs: no scan of its own
    assert first.plotting == "active" and first.wait_reason == "stagger"
    assert first.records == () and first.dirs[0].role == "tmp"
    for _ in range(50):  # a scrape storm
        assert reader.read() is first
    clock.now += 5.0
    assert reader.read() is not first and reader.reads == 2
    failing = StartFailures(3, "chia: program not found", clock.now, clock.now + 60)
    reader.plotting_pass(PassResult(clock.now, snapshot, None, None, (), True, failing))
    assert reader.read().plotting == "backing_off" and reader.reads == 3
    reader.plotting_pass(
        PassResult(clock.now, snapshot, Wait("plotting is paused"), None, (), True), enabled=False
    )
    paused = reader.read()
    assert paused.plotting == "paused" and paused.wait_reason == "plotting is paused"
    reader.pass_failed("plotting")
    assert reader.read().plotting == "error"


def test_a_missing_log_dir_gives_no_history_counters(tmp_path: Path) -> None:
    config = parse_config(
        CONFIG.format(logs=tmp_path / "gone", tmp=tmp_path / "unplugged"), check_dirs=False
    )
    reader = StateReader(config, ttl_s=0.0)
    text = exposition(reader).decode()
    assert "plotman_tui_plots_finished_total" not in text
    assert "plotman_tui_dir_free_bytes{" not in text  # an unplugged tmp dir is left out
    assert 'plotman_tui_plotting_state{state="stopped"} 1.0' in text
    assert 'plotman_tui_archiving_state{state="off"} 1.0' in text
    # Only the farm's metrics: no process or platform collectors in the private registry.
    assert "process_" not in text and "python_" not in text
    assert registry_for(reader) is not registry_for(reader)


def test_history_is_read_again_after_its_ttl_or_when_a_fed_pass_saw_a_job_end(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    config = parse_config(CONFIG.format(logs=logs, tmp=tmp_path), check_dirs=False)
    clock = Clock()
    reader = StateReader(config, ttl_s=5.0, history_ttl_s=60.0, clock=clock)
    snapshot = Snapshot(jobs=(), updated=clock.now)

    def finished() -> int:
        return sum(record.completed for record in reader.read().records or ())

    assert finished() == 0
    shutil.copy(FIXTURES / "plotter-logs" / "chianetwork.plot.log", logs / "a.log")
    clock.now += 30.0  # the jobs and dirs are read again, the history not yet
    assert finished() == 0 and (reader.reads, reader.history_reads) == (2, 1)
    ended = Event(clock.now, EventKind.ENDED, "job d2540dcf (pid 1) finished")
    reader.plotting_pass(PassResult(clock.now, snapshot, None, None, (ended,), True))
    assert finished() == 1 and reader.history_reads == 2
    shutil.copy(FIXTURES / "plotter-logs" / "bladebit.plot.log", logs / "b.log")
    clock.now += 59.0
    assert finished() == 1
    clock.now += 1.0
    assert finished() == 2 and reader.history_reads == 3


def test_dirs_on_hung_mounts_are_left_out_and_the_others_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hung NFS mount cannot be made in a test: its statvfs is one that blocks (as in
    # test_dirs_probe), for the two tmp dirs named "hung*".
    release = threading.Event()
    real = dirs.inspect_dir

    def maybe_hung(path: str, *, count_plots: bool = False) -> DirInfo:
        if os.path.basename(path).startswith("hung"):
            release.wait(10)
        return real(path, count_plots=count_plots)

    for name in ("hung1", "hung2", "ok"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(dirs, "inspect_dir", maybe_hung)
    monkeypatch.setattr(metrics, "FREE_SPACE_TIMEOUT_S", 0.2)
    text = (
        f'[logging]\nplots = "{tmp_path}"\n[directories]\n'
        f'tmp = ["{tmp_path / "hung1"}", "{tmp_path / "hung2"}"]\ndst = ["{tmp_path / "ok"}"]\n'
        '[plotting]\ntype = "chia"\n'
    )
    try:
        state = StateReader(parse_config(text, check_dirs=False), ttl_s=0.0).read()
    finally:
        release.set()
    assert [(d.role, d.path) for d in state.dirs] == [("dst", str(tmp_path / "ok"))]


def test_importing_the_metrics_module_leaves_prometheus_client_for_when_it_serves() -> None:
    """--no-ui, plot and archive import it; only [metrics] listen should cost the 70 ms."""
    code = "import sys, plotman_tui.headless; print(any('prometheus' in m for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_scrape_leaves_the_running_jobs_logs_unread_and_status_then_reads_no_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A running job's log grows: read by every history read, it cost the whole cache's rewrite,
    # and the scrape's ETA runs were kept under another key than status's, so each of the two
    # threw the other's eta.json away and read the logs again.
    from plotman_tui.farm import eta, history

    logs = tmp_path / "logs"
    logs.mkdir()
    real = FIXTURES / "plotter-logs" / "chianetwork.plot.log"
    shutil.copy(real, logs / "done.log")
    running = logs / "running.log"
    running.write_text("".join(real.read_text().splitlines(keepends=True)[:60]))
    config = parse_config(CONFIG.format(logs=logs, tmp=tmp_path), check_dirs=False)
    reader = StateReader(config, ttl_s=0.0)
    snapshot = Snapshot(jobs=(job(log_file=str(running)),), updated=1_000.0)
    reader.plotting_pass(PassResult(1_000.0, snapshot, None, None, (), True))
    state = reader.read()
    assert [os.path.basename(r.log_path) for r in state.records or ()] == ["done.log"]

    def no_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("status read the logs again after a scrape")

    monkeypatch.setattr(history, "read_history", no_read)
    model = eta.load_model(logs, running_logs=[str(running)])
    assert model.runs == 1


def test_a_scrape_waits_for_a_slow_history_read_only_so_long_then_shows_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cold read of 10,000 logs takes 8-12 s on 2 cores: Prometheus's scrape timeout is 10 s,
    # so the first scrape of a big log dir failed (and every minute's, when the cache could
    # not be written). A served reader waits history_wait_s for it, then shows the jobs and
    # dirs without the history (or with the last one) while the read goes on.
    from plotman_tui.farm import history

    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(FIXTURES / "plotter-logs" / "chianetwork.plot.log", logs / "a.log")
    config = parse_config(CONFIG.format(logs=logs, tmp=tmp_path), check_dirs=False)
    release = threading.Event()
    real_read = history.read_history

    def slow_read(*args: object, **kwargs: object) -> object:
        release.wait()
        return real_read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(history, "read_history", slow_read)
    clock = Clock()
    reader = StateReader(config, ttl_s=0.0, history_ttl_s=60.0, history_wait_s=0.0, clock=clock)
    snapshot = Snapshot(jobs=(job(),), updated=clock.now)
    reader.plotting_pass(PassResult(clock.now, snapshot, None, None, (), True))
    first = reader.read()
    assert [j.pid for j in first.jobs] == [4242] and first.records is None
    assert "plotman_tui_plots_finished_total" not in text_of(first)
    assert reader.read().records is None  # still reading: not a second read begun
    release.set()
    assert reader.wait_for_history(timeout=30.0)
    done = reader.read()
    assert done.records is not None and sum(r.completed for r in done.records) == 1
    assert reader.history_reads == 1
    # Due again: while the next read goes on, the last history is shown, not none.
    release.clear()
    clock.now += 61.0
    assert reader.read().records == done.records
    release.set()
    assert reader.wait_for_history(timeout=30.0) and reader.history_reads == 2


def test_replot_progress_per_target_from_the_archiving_loops_pass(tmp_path: Path) -> None:
    from plotman_tui.farm.archive.engine import ArchivePassResult
    from plotman_tui.farm.archive.replot import ReplotProgress

    going = ReplotProgress(
        target="farmer",
        matching_plots=120,
        matching_bytes=120 * 2**30,
        removed_plots=30,
        removed_bytes=30 * 2**30,
        new_plots_moved=28,
        bytes_per_day=10 * 2**30,
        days_left=12.0,
        listed_at=100.0,
    )
    # Not listed yet, stopped by a failed removal: what is not known is left out.
    halted = ReplotProgress("usb", 0, 0, 2, 2 * 2**30, 1, None, None, True, "refused", None)
    (tmp_path / "logs").mkdir()
    config = parse_config(CONFIG.format(logs=tmp_path / "logs", tmp=tmp_path), check_dirs=False)
    reader = StateReader(config, clock=Clock())
    result = ArchivePassResult(
        0.0, (), (), (), {}, (), True, replot={"farmer": going, "usb": halted}
    )
    reader.archiving_pass(result)
    samples = parsed(reader.read())
    farmer, usb = {"target": "farmer"}, {"target": "usb"}
    assert samples["plotman_tui_replot_matching_plots"] == [(farmer, 120.0)]
    assert samples["plotman_tui_replot_matching_bytes"] == [(farmer, 120.0 * 2**30)]
    assert samples["plotman_tui_replot_days_left"] == [(farmer, 12.0)]
    assert samples["plotman_tui_replot_removed_plots"] == [(farmer, 30.0), (usb, 2.0)]
    assert samples["plotman_tui_replot_removed_bytes"] == [(farmer, 30.0 * 2**30), (usb, 2.0**31)]
    assert samples["plotman_tui_replot_new_plots_moved"] == [(farmer, 28.0), (usb, 1.0)]
    assert samples["plotman_tui_replot_stopped"] == [(farmer, 0.0), (usb, 1.0)]
    assert samples["plotman_tui_replot_dry_run"] == [(farmer, 0.0), (usb, 1.0)]
    # Without a loop's pass nothing is said of replotting (a scrape lists no farmer).
    assert not [name for name in parsed(FarmState(time=0.0)) if "replot" in name]
