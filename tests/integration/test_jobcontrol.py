"""The one job-control path (farm/jobcontrol.py) on real stand-in processes: the records the
CLI and the dashboard write, the registry of jobs held for a kill question, and stop signals."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from plotman_tui.farm.actionlog import ActionEntry, ActionLog
from plotman_tui.farm.control import KillPlan
from plotman_tui.farm.jobcontrol import (
    JobControl,
    StopSignal,
    StopSignals,
    held_plans,
    release_held,
)
from plotman_tui.farm.model import JobStatus
from tests.integration.test_control import (
    RUNNING,
    hand_made_job,
    procs,
    start_sleep,
    temp_files_in,
)

__all__ = ["procs"]  # the fixture, shared with the control tests

pytestmark = pytest.mark.real_service


def status(proc: subprocess.Popen[bytes]) -> JobStatus | None:
    from plotman_tui.farm.procfs import sample_process

    reading = sample_process(proc.pid)
    return reading.status if reading is not None else None


def held(control: JobControl, proc: subprocess.Popen[bytes], tmp: Path) -> KillPlan:
    plan = control.prepare_kill(hand_made_job(proc, tmp))
    assert isinstance(plan, KillPlan)
    return plan


def comparable(entries: list[ActionEntry], source: str, pid: int) -> list[tuple[object, ...]]:
    """Each record but its time, its pid and where it came from (the reason's start)."""
    return [
        (
            e.action,
            e.plot_id,
            e.result,
            e.reason.removeprefix(source).removeprefix(": ").replace(f"pid {pid}", "pid N"),
            dict(e.extra),
        )
        for e in entries
    ]


def test_the_cli_and_the_dashboard_write_the_same_records_but_for_their_source(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    logs = {}
    for source in ("cli", "dashboard"):
        log = ActionLog(tmp_path / source / "actions.jsonl")
        control = JobControl(log, source)
        proc = start_sleep(procs)
        tmp = tmp_path / "tmp"  # the same files each time: the same paths in the records
        temp_files_in(tmp)
        job = hand_made_job(proc, tmp)
        assert control.suspend(job).ok and control.resume(job).ok
        assert control.cancel_kill(held(control, proc, tmp), "answered no").ok
        outcome = control.execute_kill(held(control, proc, tmp))
        assert outcome.ok and proc.wait(10) is not None
        entries = log.entries()
        assert all(e.reason.startswith(source) for e in entries)
        logs[source] = comparable(entries, source, proc.pid)
    assert logs["cli"] == logs["dashboard"]
    assert [entry[0] for entry in logs["cli"]] == ["suspend", "resume", "resume", "kill"]
    assert logs["cli"][2][3] == "kill cancelled: answered no — resumed"
    assert logs["cli"][3][3] == ""  # a kill's reason is its source alone, as it was
    assert logs["cli"][3][4]["deleted"] and logs["cli"][3][4]["freed_bytes"] > 0  # type: ignore[index]


def test_release_held_lets_every_held_job_run_on_and_a_released_kill_does_nothing(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    log = ActionLog(tmp_path / "actions.jsonl")
    control = JobControl(log, "dashboard")
    tmp = tmp_path / "tmp"
    temp_files_in(tmp)
    first, second = start_sleep(procs), start_sleep(procs)
    plans = [held(control, first, tmp), held(control, second, tmp)]
    assert status(first) is JobStatus.STP and status(second) is JobStatus.STP
    assert set(map(id, plans)) <= set(map(id, held_plans()))
    outcomes = release_held("hangup (SIGHUP)")
    assert len(outcomes) == 2 and all(o.ok for o in outcomes)
    assert status(first) in RUNNING and status(second) in RUNNING
    assert not held_plans()
    # The question's answer comes after the release: no kill, no second record.
    late = control.execute_kill(plans[0])
    assert not late.ok and "called off" in late.message
    assert first.poll() is None and len(list(tmp.iterdir())) == 2  # nothing deleted
    assert control.cancel_kill(plans[1], "answered no").ok
    reasons = [e.reason for e in log.entries() if e.action == "resume"]
    assert reasons == ["dashboard: kill cancelled: hangup (SIGHUP) — resumed"] * 2


def test_a_job_suspended_before_the_kill_stays_suspended_when_it_is_cancelled(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    log = ActionLog(tmp_path / "actions.jsonl")
    control = JobControl(log, "cli")
    proc = start_sleep(procs)
    assert control.suspend(hand_made_job(proc, tmp_path)).ok
    control.cancel_kill(held(control, proc, tmp_path), "answered no")
    assert status(proc) is JobStatus.STP
    last = log.entries()[-1]
    assert (last.action, last.result) == ("resume", "stopped")
    assert last.reason == "cli: kill cancelled: answered no — stays suspended, as before"


def test_stop_signals_interrupt_only_a_question_and_the_old_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: list[signal.Signals] = []
    with StopSignals(seen.append) as stops:
        os.kill(os.getpid(), signal.SIGTERM)  # handled at once: a signal to this very thread
        assert stops.received is signal.SIGTERM and seen == [signal.SIGTERM]
        with pytest.raises(StopSignal, match=r"terminated \(SIGTERM\)"):
            stops.check()  # after the step under way
    assert signal.getsignal(signal.SIGTERM) is before
    with StopSignals() as stops, pytest.raises(StopSignal, match="hangup"), stops.interruptible():
        os.kill(os.getpid(), signal.SIGHUP)  # cuts the question short
        raise AssertionError("not interrupted")
    assert signal.getsignal(signal.SIGHUP) is not None
