"""Suspend, resume and kill against real processes: chiapos plots from the sandbox, and small
stand-ins (``sleep``, a Python script that ignores SIGTERM) for the cases a plot cannot show."""

from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from pathlib import Path

import pytest

from plotman_tui.farm import control
from plotman_tui.farm.control import (
    cancel_kill,
    execute_kill,
    prepare_kill,
    resume,
    suspend,
)
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.farm.procfs import sample_process
from plotman_tui.sandbox import StartedPlot, make_sandbox, start_plot
from tests.conftest import require_chiapos, wait_for

pytestmark = pytest.mark.real_service

RUNNING = {JobStatus.RUN, JobStatus.SLP, JobStatus.DSK}


@pytest.fixture
def plots() -> Iterator[list[StartedPlot]]:
    """Plots a test starts; whatever is left running at the end is killed."""
    started: list[StartedPlot] = []
    yield started
    for plot in started:
        if plot.popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(plot.popen.pid, signal.SIGKILL)
        plot.popen.wait(timeout=30)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Stand-in processes a test starts; killed and reaped at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def wait_for_job(
    scanner: Scanner, pid: int, ready: Callable[[Job], bool], timeout: float = 90.0
) -> Job:
    deadline = time.monotonic() + timeout
    last: Job | None = None
    while time.monotonic() < deadline:
        for job in scanner.scan().jobs:
            if job.pid == pid:
                last = job
                if ready(job):
                    return job
        time.sleep(0.05)
    pytest.fail(f"job {pid} never got ready; last seen: {last}")


def in_phase_1(job: Job) -> bool:
    """In phase 1, with temp files that hold data (chiapos creates them all empty first)."""
    return bool(
        job.plot_id
        and job.phase
        and job.phase.major == 1
        and job.tmp_usage_bytes
        and job.tmp_usage_bytes > 1_000_000
    )


def status_of(scanner: Scanner, pid: int) -> JobStatus | None:
    return next((job.status for job in scanner.scan().jobs if job.pid == pid), None)


def wait_status(scanner: Scanner, pid: int, wanted: set[JobStatus]) -> JobStatus | None:
    deadline = time.monotonic() + 10
    status = status_of(scanner, pid)
    while status not in wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        status = status_of(scanner, pid)
    return status


def files_named_with(plot_id: str, dirs: Sequence[Path]) -> dict[str, int]:
    """Regular ``.tmp`` files (not symlinks) named with ``plot_id`` directly in ``dirs``."""
    found: dict[str, int] = {}
    for directory in dict.fromkeys(dirs):
        for path in directory.iterdir():
            named = plot_id in path.name and path.name.endswith(".tmp")
            if named and not path.is_symlink() and path.is_file():
                found[str(path)] = path.stat().st_size
    return found


def finish_ok(plot: StartedPlot, dst: Path, plot_id: str) -> None:
    assert plot.popen.wait(timeout=180) == 0, plot.log_path.read_text()[-2000:]
    assert len(list(dst.glob(f"*{plot_id}.plot"))) == 1


# -- real plots ------------------------------------------------------------------------------------


def test_kill_in_phase_1_deletes_only_the_jobs_own_temp_files(
    tmp_path: Path, plots: list[StartedPlot]
) -> None:
    require_chiapos()
    sandbox = make_sandbox(tmp_path / "farm", k=22)
    assert sandbox.tmp2_dir is not None
    tmp, tmp2, dst = sandbox.tmp_dirs[0], sandbox.tmp2_dir, sandbox.dst_dirs[0]
    victim = start_plot(sandbox, k=22, tmp_index=0, dst_index=0)
    plots.append(victim)
    # A second real job shares tmp2 with the victim (its NAME.2.tmp lies beside the victim's).
    # k21: half the work of the victim's k22, so the test waits less for it to finish.
    bystander = start_plot(sandbox, k=21, tmp_index=1, dst_index=1)
    plots.append(bystander)
    scanner = Scanner(sandbox.log_dir)
    job = wait_for_job(scanner, victim.popen.pid, in_phase_1)
    other = wait_for_job(scanner, bystander.popen.pid, in_phase_1)
    assert job.plot_id and other.plot_id
    assert job.tmp_dir == str(tmp) and job.tmp2_dir == str(tmp2) and job.dst_dir == str(dst)

    # Things a kill must never touch, in the victim's own dirs.
    name = f"plot-k22-2024-01-01-00-00-{job.plot_id}"
    stranger_id = secrets.token_hex(32)
    keep = [
        tmp / f"{name}.plot",  # a finished plot, named with the victim's id
        dst / f"{name}.plot",
        tmp / f"plot-k22-2024-01-01-00-00-{stranger_id}.plot.sort.tmp",  # another id
        tmp2 / f"plot-k22-2024-01-01-00-00-{stranger_id}.plot.2.tmp",
    ]
    for path in keep:
        path.write_bytes(b"keep me")
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / f"{name}.plot.table1.tmp"
    target.write_bytes(b"not in a job dir")
    link = tmp / f"{name}.plot.link.tmp"
    link.symlink_to(target)  # named like a temp file, pointing out of the dir
    # Its NAME.2.tmp lives from the plot's start to its end.
    bystander_files = files_named_with(other.plot_id, [tmp2])
    assert bystander_files, "the bystander has no NAME.2.tmp in the shared tmp2"

    plan = prepare_kill(job)

    assert plan.stopped, plan.message
    assert wait_status(scanner, job.pid, {JobStatus.STP}) is JobStatus.STP
    planned = {f.path: f.size_bytes for f in plan.files}
    assert planned, plan.message
    for planned_path in map(Path, planned):
        assert job.plot_id in planned_path.name and planned_path.suffix == ".tmp", planned_path
        assert planned_path.parent in (tmp, tmp2, dst)
    assert any(Path(p).parent == tmp2 for p in planned), "its NAME.2.tmp is missing"
    assert str(link) not in planned
    assert plan.total_bytes == sum(planned.values())
    # k22 needs about 175 MB of temp space at its peak; early phase 1 holds some of it.
    assert 1_000_000 < plan.total_bytes < 400_000_000, plan.total_bytes
    assert "is stopped" in plan.message and "temp file" in plan.message
    # Stopped, the job changes nothing: what the plan lists is what is there, even once the
    # running bystander has written on (proof that a running job would have changed them).
    bystander_dirs = [sandbox.tmp_dirs[1], tmp2, sandbox.dst_dirs[1]]
    written = files_named_with(other.plot_id, bystander_dirs)
    wait_for(
        lambda: files_named_with(other.plot_id, bystander_dirs) != written,
        60,
        "the bystander to write on",
    )
    assert files_named_with(job.plot_id, [tmp, tmp2, dst]) == planned

    expected = files_named_with(job.plot_id, [tmp, tmp2, dst])
    result = execute_kill(plan)

    assert result.ok, result.message
    assert result.errors == ()
    assert victim.popen.wait(timeout=10) == -signal.SIGTERM
    assert sample_process(job.pid) is None
    assert sorted(result.deleted) == sorted(expected)
    assert result.freed_bytes == sum(expected.values())
    assert files_named_with(job.plot_id, [tmp, tmp2, dst]) == {}
    for kept in keep:
        assert kept.read_bytes() == b"keep me", kept
    assert link.is_symlink() and target.read_bytes() == b"not in a job dir"
    assert "killed" in result.message and "deleted" in result.message
    # The bystander's files were left alone: it is still plotting, and it finishes its plot.
    assert bystander.popen.poll() is None, "the bystander ended with the victim"
    assert all(Path(path).exists() for path in bystander_files)
    finish_ok(bystander, sandbox.dst_dirs[1], other.plot_id)


def test_cancelled_kill_lets_the_job_finish(tmp_path: Path, plots: list[StartedPlot]) -> None:
    require_chiapos()
    sandbox = make_sandbox(tmp_path / "farm", k=20)
    plot = start_plot(sandbox, k=20)
    plots.append(plot)
    scanner = Scanner(sandbox.log_dir)
    job = wait_for_job(scanner, plot.popen.pid, in_phase_1)
    assert job.plot_id

    plan = prepare_kill(job)
    assert plan.stopped and plan.files, plan.message
    assert wait_status(scanner, job.pid, {JobStatus.STP}) is JobStatus.STP

    result = cancel_kill(plan)

    assert result.ok, result.message
    assert "runs on" in result.message
    assert wait_status(scanner, job.pid, RUNNING) in RUNNING
    assert all(Path(f.path).exists() for f in plan.files if f.path.endswith(".2.tmp"))
    finish_ok(plot, sandbox.dst_dirs[0], job.plot_id)


def test_suspend_shows_stp_and_resume_runs_again(tmp_path: Path, plots: list[StartedPlot]) -> None:
    require_chiapos()
    sandbox = make_sandbox(tmp_path / "farm", k=20)
    plot = start_plot(sandbox, k=20)
    plots.append(plot)
    scanner = Scanner(sandbox.log_dir)
    job = wait_for_job(scanner, plot.popen.pid, in_phase_1)
    assert job.plot_id

    suspended = suspend(job)
    assert suspended.ok and suspended.message == f"suspended job {job.plot_id[:8]} (pid {job.pid})"
    assert wait_status(scanner, job.pid, {JobStatus.STP}) is JobStatus.STP
    # Still stopped over more scans: nothing (a scan above all) woke it.
    assert [status_of(scanner, job.pid) for _ in range(5)] == [JobStatus.STP] * 5

    resumed = resume(job)
    assert resumed.ok, resumed.message
    assert wait_status(scanner, job.pid, RUNNING) in RUNNING

    # A kill prepared for a job suspended before leaves it suspended when cancelled.
    assert suspend(job).ok
    plan = prepare_kill(job)
    assert plan.stopped and not plan.resume_on_cancel
    cancelled = cancel_kill(plan)
    assert cancelled.ok and "stays suspended" in cancelled.message
    assert wait_status(scanner, job.pid, {JobStatus.STP}) is JobStatus.STP
    assert resume(job).ok
    finish_ok(plot, sandbox.dst_dirs[0], job.plot_id)


# -- stand-in processes ----------------------------------------------------------------------------

PLOT_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

STUBBORN = """\
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(120)
"""


def hand_made_job(
    proc: subprocess.Popen[bytes], tmp: Path, *, started_at: float | None = None
) -> Job:
    """A Job for a stand-in process, as a scan would have built it."""
    reading = sample_process(proc.pid)
    assert reading is not None
    args = proc.args
    assert isinstance(args, list)
    return Job(
        pid=proc.pid,
        plotter="chia",
        argv=tuple(str(arg) for arg in args),
        cwd=None,
        started_at=reading.create_time if started_at is None else started_at,
        wall_seconds=0.0,
        status=reading.status,
        plot_id=PLOT_ID,
        tmp_dir=str(tmp),
    )


def temp_files_in(tmp: Path) -> list[Path]:
    tmp.mkdir(exist_ok=True)
    name = f"plot-k32-2024-01-01-00-00-{PLOT_ID}.plot"
    paths = [tmp / f"{name}.sort.tmp", tmp / f"{name}.p1.t1.sort_bucket_000.tmp"]
    for size, path in enumerate(paths, start=1):
        path.write_bytes(b"x" * 1000 * size)
    return paths


def start_stubborn(tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    script = tmp_path / "stubborn_plotter.py"
    script.write_text(STUBBORN)
    proc = subprocess.Popen(
        [sys.executable, str(script), "plots", "create", "-t", str(tmp_path / "tmp")],
        stdout=subprocess.PIPE,
    )
    procs.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"  # the SIGTERM handler is in place
    return proc


ECHO = """\
import sys
for line in sys.stdin:
    print(line, end="", flush=True)
"""


def start_echo(procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """A process that echoes each line it is sent: it answers only while it runs."""
    proc = subprocess.Popen(
        [sys.executable, "-c", ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    procs.append(proc)
    return proc


def start_sleep(procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["sleep", "30"])
    procs.append(proc)
    return proc


def test_a_reused_pid_is_never_signalled(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    stranger = start_echo(procs)
    files = temp_files_in(tmp_path / "tmp")
    reading = sample_process(stranger.pid)
    assert reading is not None
    # The job had this pid once, and started earlier than the process that has it now.
    job = hand_made_job(stranger, tmp_path / "tmp", started_at=reading.create_time - 100)

    for result in (suspend(job), resume(job)):
        assert not result.ok
        assert f"pid {stranger.pid} now belongs to another process" in result.message
    plan = prepare_kill(job)
    assert not plan.stopped and plan.files == ()
    assert "another process" in plan.message
    killed = execute_kill(plan, timeout_s=0.5)
    assert not killed.ok and killed.deleted == ()
    assert "not prepared" in killed.message
    assert cancel_kill(plan).ok

    # A job scanned without its start time (not ours to read then) cannot be recognised.
    unknown = hand_made_job(stranger, tmp_path / "tmp", started_at=0.0)
    refused = suspend(unknown)
    assert not refused.ok and "start time is unknown" in refused.message
    assert not prepare_kill(unknown).stopped

    # It answers after every call above: no stop was sent to it (a stop sent before a line
    # comes is acted on before the line is read).
    assert stranger.stdin is not None and stranger.stdout is not None
    stranger.stdin.write(b"still there?\n")
    stranger.stdin.flush()
    ready, _, _ = select.select([stranger.stdout], [], [], 30)
    assert ready and stranger.stdout.readline() == b"still there?\n"
    after = sample_process(stranger.pid)
    assert after is not None and after.status is not JobStatus.STP
    assert stranger.poll() is None
    assert all(path.exists() for path in files)


def test_a_job_that_has_ended_is_refused(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    files = temp_files_in(tmp_path / "tmp")
    gone = start_sleep(procs)
    gone_job = hand_made_job(gone, tmp_path / "tmp")
    gone.kill()
    gone.wait()
    # Exited but not reaped by its parent yet: a zombie is an ended job too.
    zombie = start_sleep(procs)
    zombie_job = hand_made_job(zombie, tmp_path / "tmp")
    zombie.kill()
    deadline = time.monotonic() + 5
    while (reading := sample_process(zombie.pid)) and reading.status is not JobStatus.ZMB:
        assert time.monotonic() < deadline
        time.sleep(0.02)

    for job in (gone_job, zombie_job):
        result = suspend(job)
        assert not result.ok and result.message == (
            f"job {PLOT_ID[:8]} (pid {job.pid}) has ended: nothing to suspend"
        )
        plan = prepare_kill(job)
        assert not plan.stopped and "has ended" in plan.message
        assert not execute_kill(plan).ok
    assert all(path.exists() for path in files)


def test_a_job_that_ignores_sigterm_is_sigkilled_after_the_timeout(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    proc = start_stubborn(tmp_path, procs)
    files = temp_files_in(tmp_path / "tmp")
    job = hand_made_job(proc, tmp_path / "tmp")

    plan = prepare_kill(job)
    assert plan.stopped, plan.message
    assert sorted(f.path for f in plan.files) == sorted(str(path) for path in files)
    assert plan.total_bytes == 3000
    started = time.monotonic()
    result = execute_kill(plan, timeout_s=1.0)
    took = time.monotonic() - started

    assert result.ok, result.message
    assert "SIGKILL" in result.message
    assert took >= 1.0
    assert proc.wait(timeout=5) == -signal.SIGKILL
    assert sorted(result.deleted) == sorted(str(path) for path in files)
    assert result.freed_bytes == 3000
    assert not any(path.exists() for path in files)


def test_a_job_that_will_not_die_keeps_its_files(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No process survives SIGKILL on demand (only one stuck in disk I/O does): this test drops
    # the SIGKILL on its way out instead, so the stubborn process plays one that will not die.
    real_send = control._send

    def send_without_sigkill(
        job: Job, signals: Sequence[signal.Signals], action: str
    ) -> str | None:
        return real_send(job, [sig for sig in signals if sig != signal.SIGKILL], action)

    monkeypatch.setattr(control, "_send", send_without_sigkill)
    monkeypatch.setattr(control, "_KILL_GRACE_S", 0.3)
    proc = start_stubborn(tmp_path, procs)
    files = temp_files_in(tmp_path / "tmp")
    plan = prepare_kill(hand_made_job(proc, tmp_path / "tmp"))
    assert plan.stopped

    result = execute_kill(plan, timeout_s=0.3)

    assert not result.ok
    assert "did not exit" in result.message and "nothing deleted" in result.message
    assert result.deleted == () and result.freed_bytes == 0
    assert all(path.exists() for path in files)
    assert proc.poll() is None


def test_a_job_that_ended_after_the_plan_still_gets_its_files_deleted(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    proc = start_stubborn(tmp_path, procs)
    files = temp_files_in(tmp_path / "tmp")
    plan = prepare_kill(hand_made_job(proc, tmp_path / "tmp"))
    assert plan.stopped
    # Something else (the OOM killer, a farmer's own kill -9) ends it before the confirmation.
    proc.kill()
    proc.wait()
    late = temp_files_in(tmp_path / "tmp")  # the same names, rewritten: still its own

    result = execute_kill(plan, timeout_s=0.5)

    assert result.ok, result.message
    assert "had already ended" in result.message
    assert sorted(result.deleted) == sorted(str(path) for path in {*files, *late})
    assert not any(path.exists() for path in files)


def fail_listing_for(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """Listing the temp files of a job in ``tmp`` raises, as a value no check foresaw would."""
    real_job_dirs = control._job_dirs

    def fragile(job: Job, notes: list[str]) -> list[control._Dir]:
        if job.tmp_dir == str(tmp):
            raise ValueError("a path no check foresaw")
        return real_job_dirs(job, notes)

    monkeypatch.setattr(control, "_job_dirs", fragile)


def test_a_plan_whose_listing_fails_leaves_the_job_running(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = start_sleep(procs)
    files = temp_files_in(tmp_path / "tmp")
    fail_listing_for(monkeypatch, tmp_path / "tmp")

    plan = prepare_kill(hand_made_job(proc, tmp_path / "tmp"))

    assert not plan.stopped and plan.files == ()
    assert "could not be listed (ValueError: a path no check foresaw)" in plan.message
    assert plan.message.endswith("not killed, it runs on")
    reading = sample_process(proc.pid)
    assert reading is not None and reading.status in RUNNING
    assert not execute_kill(plan).ok
    assert proc.poll() is None and all(path.exists() for path in files)


def test_a_kill_whose_signal_fails_lets_the_stopped_job_run_on(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = start_sleep(procs)
    files = temp_files_in(tmp_path / "tmp")
    plan = prepare_kill(hand_made_job(proc, tmp_path / "tmp"))
    assert plan.stopped and plan.resume_on_cancel
    send = control._send

    def term_refused(job: Job, signals: Sequence[signal.Signals], action: str) -> str | None:
        if signal.SIGTERM in signals:  # as a kernel refusing it would (EPERM)
            return f"cannot {action} pid {job.pid}: Operation not permitted"
        return send(job, signals, action)

    monkeypatch.setattr(control, "_send", term_refused)
    result = execute_kill(plan, timeout_s=5)

    assert not result.ok and result.deleted == ()
    assert "nothing deleted" in result.message and "runs on" in result.message
    reading = sample_process(proc.pid)
    assert reading is not None and reading.status in RUNNING
    assert all(path.exists() for path in files)


def test_a_kill_whose_listing_fails_after_the_job_ended_deletes_nothing(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = start_sleep(procs)
    files = temp_files_in(tmp_path / "tmp")
    plan = prepare_kill(hand_made_job(proc, tmp_path / "tmp"))
    assert plan.stopped and len(plan.files) == 2
    fail_listing_for(monkeypatch, tmp_path / "tmp")

    result = execute_kill(plan, timeout_s=5)

    assert not result.ok and result.deleted == ()
    assert "could not be listed" in result.message and "nothing deleted" in result.message
    assert proc.wait(timeout=5) == -signal.SIGTERM
    assert all(path.exists() for path in files)
