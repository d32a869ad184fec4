"""Progress and ETA in `status`, `status --json` and `details`: the installed `plotman-tui` in a
subprocess, with running jobs and the real k32 chia log, under varied ids, as finished runs."""

from __future__ import annotations

import importlib.util
import json
import re
import secrets
from pathlib import Path

import pytest

from plotman_tui.farm.history import read_log
from plotman_tui.sandbox import make_sandbox, start_plot
from tests.conftest import require_real
from tests.fakejobs import K32_ID, K32_LOG
from tests.integration.test_cli_readonly import cli, farm, start_job

__all__ = ["farm"]  # the fixture, shared with the other read-only commands' tests

TEXT = K32_LOG.read_text()
# The real log's own lines: "Time for phase 1 = 8134.660 seconds", "Total time = ...".
PHASES = {
    int(m[1]): float(m[2]) for m in re.finditer(r"^Time for phase (\d) = ([\d.]+) sec", TEXT, re.M)
}
TOTAL = float(re.findall(r"^Total time = ([\d.]+) sec", TEXT, re.M)[0])
COPY = float(re.findall(r"^Copy time = ([\d.]+) sec", TEXT, re.M)[0])


def status(farm: dict[str, Path], *args: str, columns: int = 200) -> str:
    result = cli(*args, config=farm["config"], columns=columns)
    assert result.returncode == 0, result.stderr
    return result.stdout


def scaled_log(factor: float) -> str:
    """The real finished log with every phase, total and copy time ``factor`` times as long."""

    def scale(match: re.Match[str]) -> str:
        return f"{match[1]}{float(match[2]) * factor:.3f}"

    times = r"^((?:Time for phase \d|Total time|Copy time) = )([\d.]+)"
    return re.sub(times, scale, TEXT, flags=re.MULTILINE)


def add_finished_runs(farm: dict[str, Path], factors: list[float], tmp: Path) -> None:
    """Finished runs on ``tmp``: the real log under a new id each, its times scaled."""
    for index, factor in enumerate(factors):
        text = scaled_log(factor).replace(K32_ID, secrets.token_hex(32))
        text = text.replace("/farm/yards/902/fake_tmp2", str(farm["tmp2"]))
        text = text.replace("/farm/yards/902/fake_dst", str(farm["dst"]))
        text = text.replace("/farm/yards/902", str(tmp))
        (farm["logs"] / f"2021-07-{index + 10:02d}T22_33_24.log").write_text(text)


def titles(header: str) -> list[str]:
    """A status table's column titles, as many as its rows have cells."""
    return header.replace("plot id", "plot_id").split()


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def test_status_json_eta_is_what_the_finished_runs_phase_times_leave(
    farm: dict[str, Path],
) -> None:
    factors = [0.9, 1.0, 1.25]  # three runs on the job's tmp dir: its own are used
    add_finished_runs(farm, factors, farm["tmp"])
    phase3_id, phase1_id = secrets.token_hex(32), secrets.token_hex(32)
    with (
        start_job(farm, 900, phase3_id, "p3.log"),
        start_job(farm, 20, phase1_id, "p1.log"),
    ):
        data = json.loads(status(farm, "status", "--json"))
    jobs = {job["plot_id"]: job for job in data["jobs"]}
    final = median([(TOTAL - sum(PHASES.values()) + COPY) * f for f in factors])
    typical = {n: median([PHASES[n] * f for f in factors]) for n in PHASES}
    whole = sum(typical.values()) + final

    # In phase 3 with phases 1 and 2 behind it, by the log's times (8134.660 s and 3304.860 s):
    # the fake job is seconds old, so its time in phase 3 is 0 and all of phase 3 is ahead.
    job = jobs[phase3_id]
    assert job["phase"] == "3:1" and job["eta_basis"] == 3 and job["eta_late"] is False
    assert job["eta_seconds"] == pytest.approx(typical[3] + typical[4] + final, abs=0.1)
    assert job["progress"] == pytest.approx((typical[1] + typical[2]) / whole, abs=1e-4)

    # In phase 1 for as long as the process has lived (its start and the scan's time).
    job = jobs[phase1_id]
    age = data["updated"] - job["started_at"]
    assert job["phase"].startswith(("0:", "1:")) and job["eta_basis"] == 3
    assert job["eta_seconds"] == pytest.approx(whole - age, abs=0.1)
    assert job["progress"] == pytest.approx(age / whole, abs=1e-4)


def test_with_fewer_than_three_runs_on_its_tmp_dir_a_job_rests_on_its_plotter_and_ks(
    farm: dict[str, Path],
) -> None:
    add_finished_runs(farm, [1.0, 2.0], farm["tmp"].parent / "other")
    plot_id = secrets.token_hex(32)
    with start_job(farm, 900, plot_id, "job.log"):
        data = json.loads(status(farm, "status", "--json"))
        details = status(farm, "details", plot_id[:8])
    (job,) = [job for job in data["jobs"] if job["plot_id"] == plot_id]
    ahead = (PHASES[3] + PHASES[4] + TOTAL - sum(PHASES.values()) + COPY) * 1.5
    assert job["eta_basis"] == 2 and job["eta_seconds"] == pytest.approx(ahead, abs=0.1)
    assert "from 2 finished chia k32 runs, fewer than 3 on this tmp dir" in details


def test_without_finished_runs_progress_and_eta_are_unknown_not_guessed(
    farm: dict[str, Path],
) -> None:
    plot_id = secrets.token_hex(32)
    with start_job(farm, 900, plot_id, "job.log"):
        data = json.loads(status(farm, "status", "--json"))
        table = status(farm, "status")
        details = status(farm, "details", plot_id[:8])
    (job,) = [job for job in data["jobs"] if job["plot_id"] == plot_id]
    assert (job["progress"], job["eta_seconds"], job["eta_basis"]) == (None, None, 0)
    (row,) = [line for line in table.splitlines() if line.startswith(plot_id[:8])]
    cells = row.split()
    header = titles(table.splitlines()[1])
    assert cells[header.index("done")] == "-" and cells[header.index("eta")] == "-"
    assert "eta: unknown: no finished chia k32 runs in the log dir" in details


def test_status_table_and_details_show_done_and_eta(farm: dict[str, Path]) -> None:
    add_finished_runs(farm, [1.0, 1.0, 1.0, 1.0], farm["tmp"])
    plot_id = secrets.token_hex(32)
    with start_job(farm, 900, plot_id, "job.log"):
        wide, middle, narrow = (status(farm, "status", columns=c) for c in (200, 120, 80))
        details = status(farm, "details", plot_id[:8])
    # All of phases 1 and 2 done of the whole run, all of phases 3, 4 and the copy ahead.
    done = f"{int((PHASES[1] + PHASES[2]) / (TOTAL + COPY) * 100)}%"
    left = TOTAL + COPY - PHASES[1] - PHASES[2]
    eta = f"{int(left // 3600)}:{int(left % 3600 // 60):02d}"
    assert (done, eta) == ("61%", "1:58")
    for text, width in ((wide, 200), (middle, 120), (narrow, 80)):
        lines = text.splitlines()
        header = titles(next(line for line in lines if line.startswith("plot id")))
        (row,) = [line for line in lines if line.startswith(plot_id[:8])]
        assert all(len(line) <= width for line in lines[1:-1]), text
        assert header[header.index("phase") + 1 : header.index("phase") + 3] == ["done", "eta"]
        cells = row.split()
        assert cells[header.index("done")] == done and cells[header.index("eta")] == eta
    # At 80 columns the plotter, sys and io times go first; done and eta stay.
    assert {"plotter", "sys", "io"} & set(titles(narrow.splitlines()[1])) == set()
    assert "plotter" in wide.splitlines()[1]
    assert f"progress: {done} (from 4 finished runs on this tmp dir)" in details
    assert f"eta: {eta} left (about " in details
    assert "), from 4 finished runs on this tmp dir" in details


@pytest.mark.real_service
def test_a_real_plot_is_placed_against_the_real_plot_that_finished_before_it(
    tmp_path: Path,
) -> None:
    """Two real k20 chiapos plots, one after the other: every `status --json` of the second
    says what the first one's logged phase times imply, and its progress never goes back."""
    require_real(importlib.util.find_spec("chiapos") is not None, "chiapos is not installed")
    sandbox = make_sandbox(tmp_path / "farm")
    first = start_plot(sandbox, k=20, tmp_index=0, dst_index=0)
    assert first.popen.wait(timeout=180) == 0
    (run,), skipped = read_log(str(first.log_path))
    assert skipped is None and run.completed
    logged = [run.phase1_seconds, run.phase2_seconds, run.phase3_seconds, run.phase4_seconds]
    assert all(seconds is not None for seconds in logged) and run.total_seconds is not None
    phases = [float(seconds or 0.0) for seconds in logged]
    # The final stage: what the total leaves over the phases, plus the copy (if any).
    stages = [*phases, run.total_seconds - sum(phases) + (run.copy_seconds or 0.0)]
    second = start_plot(sandbox, k=20, tmp_index=1, dst_index=1)
    samples = []
    while second.popen.poll() is None:
        data = json.loads(cli("status", "--json", config=sandbox.config_path).stdout)
        samples += [
            (data["updated"], job) for job in data["jobs"] if job["pid"] == second.popen.pid
        ]
    assert second.popen.wait(timeout=5) == 0
    assert samples, "status never saw the second plot"
    assert len({job["phase"][0] for _, job in samples}) >= 2, "the phase never moved"
    progress = [job["progress"] for _, job in samples]
    assert progress == sorted(progress) and all(0 <= p <= 1 for p in progress)
    for updated, job in samples:
        assert job["eta_basis"] == 1
        if job["completed"]:
            assert (job["progress"], job["eta_seconds"]) == (1.0, 0.0)
            continue
        stage = min(max(int(job["phase"].split(":")[0]), 1), 5) - 1
        earlier = sum(job["phase_seconds"][str(n)] for n in range(1, stage + 1))
        elapsed = max(updated - job["started_at"] - earlier, 0.0)
        done = sum(stages[:stage]) + min(elapsed, stages[stage])
        assert job["progress"] == pytest.approx(done / sum(stages), abs=1e-4)
        if elapsed < stages[stage]:
            left = stages[stage] - elapsed + sum(stages[stage + 1 :])
            assert job["eta_seconds"] == pytest.approx(left, abs=0.1)
        else:
            assert job["eta_seconds"] is None and job["eta_late"] is True
