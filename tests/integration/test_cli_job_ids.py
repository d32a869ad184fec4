"""Naming jobs by pid, as a farmer does at the command line: `pid:N` reaches a plotter hung before
it printed its plot id, and tells apart two jobs with the same plot id."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

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
