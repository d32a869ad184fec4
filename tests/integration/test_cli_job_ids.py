"""Naming jobs by pid, as a farmer does at the command line: `pid:N` reaches a plotter hung before
it printed its plot id, and tells apart two jobs with the same plot id."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from plotman_tui.sandbox import make_sandbox, start_plot
from tests.conftest import require_chiapos, wait_for
from tests.fakejobs import chia_argv, install_fake_chia, k32_log, running

PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"


@pytest.fixture
def farm(tmp_path: Path) -> dict[str, Path]:
    dirs = {name: tmp_path / name for name in ("logs", "tmp", "dst", "bin")}
    for path in dirs.values():
        path.mkdir()
    dirs["chia"] = install_fake_chia(dirs["bin"])
    dirs["config"] = tmp_path / "plotman.toml"
    dirs["config"].write_text(
        f'[logging]\nplots = "{dirs["logs"]}"\n\n'
        f'[directories]\ntmp = ["{dirs["tmp"]}"]\ndst = ["{dirs["dst"]}"]\n\n'
        '[plotting]\ntype = "chia"\n'
    )
    return dirs


def cli(farm: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(PLOTMAN_TUI), "--config", str(farm["config"]), *args]
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def test_a_job_hung_before_its_plot_id_is_killed_by_pid(farm: dict[str, Path]) -> None:
    log = farm["logs"] / "hung.log"
    log.write_text("Starting plotting progress into temporary dirs: /t and /t\n")  # no ID: line
    argv = chia_argv(farm["chia"], str(farm["tmp"]), str(farm["dst"]))
    with running(argv, log) as proc:
        details = cli(farm, "details", f"pid:{proc.pid}")
        killed = cli(farm, "kill", "--force", f"pid:{proc.pid}")
        assert proc.wait(timeout=10) == 0  # the stand-in exits 0 on SIGTERM
    assert details.returncode == 0, details.stderr
    assert str(proc.pid) in details.stdout
    assert killed.returncode == 0, killed.stderr
    assert f"killed the job with pid {proc.pid}" in killed.stdout


def test_two_jobs_with_one_plot_id_are_told_apart_by_pid(farm: dict[str, Path]) -> None:
    plot_id = secrets.token_hex(32)
    text = k32_log(20, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp"], dst=farm["dst"])
    logs = [farm["logs"] / "a.log", farm["logs"] / "copied.log"]
    for log in logs:
        log.write_text(text)  # a log copied by hand: the same plot id twice
    argv = chia_argv(farm["chia"], str(farm["tmp"]), str(farm["dst"]))
    with running(argv, logs[0]) as first, running(argv, logs[1]) as second:
        ambiguous = cli(farm, "details", plot_id[:8])
        one = cli(farm, "details", f"pid:{second.pid}")
        unknown = cli(farm, "details", "pid:999999999")
    assert ambiguous.returncode != 0 and "Traceback" not in ambiguous.stderr
    assert "same plot id" in ambiguous.stderr
    assert f"pid:{first.pid}" in ambiguous.stderr and f"pid:{second.pid}" in ambiguous.stderr
    assert one.returncode == 0, one.stderr
    assert str(logs[1]) in one.stdout and str(logs[0]) not in one.stdout
    assert unknown.returncode != 0 and "no job with pid 999999999" in unknown.stderr


def test_an_id_that_cannot_name_a_job_is_a_one_line_error(farm: dict[str, Path]) -> None:
    result = cli(farm, "files", "xyz")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "'xyz' is not a job id" in result.stderr and "pid:N" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("details", "zz!"),
        ("files", "zz!"),
        ("logs", "zz!"),
        ("suspend", "zz!"),
        ("resume", "zz!"),
        ("kill", "--force", "zz!"),
        ("details", "all", "pid:x"),
    ],
)
def test_a_malformed_id_is_a_usage_error(farm: dict[str, Path], args: tuple[str, ...]) -> None:
    result = cli(farm, *args)
    assert result.returncode == 2, result.stderr
    assert "is not a job id" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_id_help_names_pid_ids(farm: dict[str, Path]) -> None:
    for command in ("details", "files", "suspend", "resume", "kill"):
        assert "pid:N" in cli(farm, command, "--help").stdout, command
    assert "pid:N" in cli(farm, "logs", "--help").stdout


@pytest.mark.parametrize("all_jobs", ["all", "ALL", "All"])
def test_logs_of_all_jobs_is_a_usage_error_in_any_case(
    farm: dict[str, Path], all_jobs: str
) -> None:
    result = cli(farm, "logs", all_jobs)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "plotman-tui: logs takes one job id, not 'all'"


def started_at(farm: dict[str, Path], pid: int) -> float:
    """The job's create time as ``status --json`` (and the fleet's watch) reports it."""
    status = cli(farm, "status", "--json")
    assert status.returncode == 0, status.stderr
    (job,) = [job for job in json.loads(status.stdout)["jobs"] if job["pid"] == pid]
    return float(job["started_at"])


def test_a_pid_id_with_its_create_time_names_that_job_and_no_later_one(
    farm: dict[str, Path],
) -> None:
    plot_id = secrets.token_hex(32)
    log = farm["logs"] / "job.log"
    log.write_text(k32_log(20, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp"], dst=farm["dst"]))
    argv = chia_argv(farm["chia"], str(farm["tmp"]), str(farm["dst"]))
    with running(argv, log) as proc:
        created = started_at(farm, proc.pid)
        right = cli(farm, "details", f"pid:{proc.pid}@{created:.3f}")
        # The id of an earlier job that had this pid (it ended, the pid came round again).
        earlier = cli(farm, "suspend", f"pid:{proc.pid}@{created - 3600:.3f}")
        later = cli(farm, "details", f"PID:{proc.pid}@{created + 0.5:.3f}")
        state = psutil.Process(proc.pid).status()
    assert right.returncode == 0, right.stderr
    assert plot_id in right.stdout
    for wrong in (earlier, later):
        assert wrong.returncode == 3, wrong.stderr
        assert f"no job with pid {proc.pid} created at " in wrong.stderr
        assert len(wrong.stderr.strip().splitlines()) == 1
    assert state != psutil.STATUS_STOPPED  # the wrong id suspended nothing


@pytest.mark.parametrize("bad", ["pid:1@", "pid:1@x", "pid:1@1.2.3", "pid:1@-5", "pid:@5"])
def test_a_malformed_pid_time_id_is_a_usage_error(farm: dict[str, Path], bad: str) -> None:
    result = cli(farm, "details", bad)
    assert result.returncode == 2, result.stderr
    assert "is not a job id" in result.stderr


def test_id_help_names_pid_time_ids(farm: dict[str, Path]) -> None:
    for command in ("details", "files", "suspend", "resume", "kill", "logs"):
        assert "pid:N@T" in cli(farm, command, "--help").stdout, command


def test_files_json_lists_a_real_plot_jobs_temp_files(tmp_path: Path) -> None:
    require_chiapos()
    sandbox = make_sandbox(tmp_path / "farm", k=22)
    job = start_plot(sandbox)
    farm = {"config": sandbox.config_path}
    try:
        # Wait for the plotter's temp files, then ask for them by the job's exact id.
        wait_for(lambda: any(sandbox.tmp_dirs[0].glob("*.tmp")), 60, "its first temp file")
        created = started_at(farm, job.popen.pid)
        result = cli(farm, "files", "--json", f"pid:{job.popen.pid}@{created:.3f}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.popen.pid, signal.SIGKILL)
        job.popen.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    assert "\n" not in result.stdout.strip()  # one compact line
    (found,) = json.loads(result.stdout)["jobs"]
    assert found["pid"] == job.popen.pid and found["started_at"] == created
    assert found["plot_id"] and len(found["plot_id"]) == 64
    files = found["tmp_files"]
    assert files and all(entry["path"].startswith(str(sandbox.root)) for entry in files)
    assert all(isinstance(entry["size_bytes"], int) for entry in files)
    assert found["tmp_usage_bytes"] == sum(entry["size_bytes"] for entry in files)
    assert all(found["plot_id"] in os.path.basename(entry["path"]) for entry in files)
