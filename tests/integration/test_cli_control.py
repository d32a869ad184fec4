"""suspend, resume, kill and history as a farmer runs them: the installed command, real jobs."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.model import JobStatus
from tests.integration.test_cli_readonly import cli, farm, start_job

__all__ = ["farm"]  # the fixture, shared with the read-only command tests


def status_of(farm: dict[str, Path], pid: int) -> JobStatus:
    deadline = time.monotonic() + 5
    while True:
        (job,) = [job for job in Scanner(farm["logs"]).scan().jobs if job.pid == pid]
        if job.status is JobStatus.STP or time.monotonic() > deadline:
            return job.status
        time.sleep(0.05)


def test_suspend_resume_and_history(farm: dict[str, Path]) -> None:
    plot_id = secrets.token_hex(32)
    started = time.time()
    with start_job(farm, 20, plot_id) as proc:
        suspended = cli("suspend", plot_id[:6], config=farm["config"])
        assert suspended.returncode == 0, suspended.stderr
        assert status_of(farm, proc.pid) is JobStatus.STP
        resumed = cli("resume", plot_id[:6], config=farm["config"])
        assert resumed.returncode == 0, resumed.stderr
        assert status_of(farm, proc.pid) in (JobStatus.SLP, JobStatus.RUN)
    history = cli("history", "--since", "10m", "--json", config=farm["config"])
    assert history.returncode == 0, history.stderr
    mine = [json.loads(line) for line in history.stdout.splitlines()]
    mine = [entry for entry in mine if entry["plot_id"] == plot_id]
    assert [entry["action"] for entry in mine] == ["suspend", "resume"]
    assert all(entry["pid"] == proc.pid and entry["time"] >= started for entry in mine)
    text = cli("history", config=farm["config"])
    assert plot_id[:8] in text.stdout and "suspend" in text.stdout
    bad = cli("history", "--since", "yesterday-ish", config=farm["config"])
    assert bad.returncode == 2 and "2h" in bad.stderr and "Traceback" not in bad.stderr


def test_kill_needs_force_without_a_terminal_and_leaves_the_job_alone(
    farm: dict[str, Path],
) -> None:
    plot_id = secrets.token_hex(32)
    with start_job(farm, 20, plot_id) as proc:
        refused = cli("kill", plot_id[:6], config=farm["config"])
        assert refused.returncode == 2 and "--force" in refused.stderr
        assert status_of(farm, proc.pid) in (JobStatus.SLP, JobStatus.RUN)  # not even stopped
        assert proc.poll() is None


def test_kill_force_ends_the_job_deletes_its_temp_files_and_records_it(
    farm: dict[str, Path],
) -> None:
    plot_id = secrets.token_hex(32)
    name = f"plot-k32-2021-07-14-22-33-{plot_id}.plot"
    keep = farm["dst"] / name  # a finished plot named with the same id is never touched
    keep.write_bytes(b"p" * 10)
    with start_job(farm, 20, plot_id) as proc:
        (farm["tmp2"] / f"{name}.2.tmp").write_bytes(b"t" * 3000)
        killed = cli("kill", "--force", plot_id[:6], config=farm["config"])
        assert proc.wait(timeout=20) is not None
    assert killed.returncode == 0, killed.stdout + killed.stderr
    assert not list(farm["tmp"].glob(f"*{plot_id}*")) and not list(farm["tmp2"].iterdir())
    assert keep.exists()
    assert "4.9 KiB" in killed.stdout  # 2048 + 3000 bytes, listed before the kill
    history = cli("history", "--json", config=farm["config"])
    (entry,) = [
        json.loads(line)
        for line in history.stdout.splitlines()
        if json.loads(line)["plot_id"] == plot_id
    ]
    assert entry["action"] == "kill" and entry["freed_bytes"] == 5048
