"""The plotting engine against real plot jobs (chiapos through the sandbox's ``chia``).

The clock is the one fake part: the engine reads ``time.time() + offset`` so a test can skip a
30-minute stagger. Jobs the engine starts are real; most tests suspend them at once, which keeps
them in phase 1 (as a k32 job would be for hours) without spending the CPU on plotting.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from plotman_tui.config import load_config
from plotman_tui.config.schema import Config
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.engine import EventKind, PassResult, PlottingEngine, wait_key
from plotman_tui.farm.lock import SchedulerLock
from plotman_tui.farm.model import Snapshot
from plotman_tui.farm.scheduler import Start, Wait
from plotman_tui.farm.spawn import StartedJob, start_job
from plotman_tui.sandbox import Sandbox, make_sandbox, plot_argv
from tests.conftest import require_chiapos, wait_for

pytestmark = pytest.mark.real_service


class Clock:
    """The real time plus an offset a test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def farm(tmp_path: Path) -> Sandbox:
    require_chiapos()
    return make_sandbox(tmp_path / "farm", k=22, global_stagger_m=30)


@pytest.fixture
def started() -> Iterator[list[StartedJob]]:
    """Jobs started in a test, by hand or by an engine; killed with their group at the end."""
    jobs: list[StartedJob] = []
    yield jobs
    for job in jobs:
        with suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGKILL)
        job.popen.wait(timeout=30)


class SandboxScanner(Scanner):
    """A real scanner that keeps only the jobs under ``root``: plot jobs of other tests running
    at the same time (or of a farmer, on a real plotting machine) stay out of these tests."""

    def __init__(self, root: Path, log_dir: Path) -> None:
        super().__init__(log_dir)
        self.root = str(root)

    def scan(self) -> Snapshot:
        snapshot = super().scan()
        mine = tuple(j for j in snapshot.jobs if any(a.startswith(self.root) for a in j.argv))
        return replace(snapshot, jobs=mine)


class Harness:
    """Engines over one sandbox, sharing a lock file and an action log, as processes would."""

    def __init__(self, farm: Sandbox, root: Path, started: list[StartedJob]) -> None:
        self.farm = farm
        self.root = root
        self.started = started
        self.clock = Clock()
        self.action_log = ActionLog(root / "actions.jsonl")
        self.engines: list[PlottingEngine] = []

    def config(self, **scheduling: Any) -> Config:
        config = load_config(self.farm.config_path)
        return replace(config, scheduling=replace(config.scheduling, **scheduling))

    def engine(
        self, config: Config | None = None, scanner: Scanner | None = None, **scheduling: Any
    ) -> PlottingEngine:
        engine = PlottingEngine(
            config or self.config(**scheduling),
            lock=SchedulerLock(self.root / "scheduler.lock"),
            action_log=self.action_log,
            scanner=scanner or SandboxScanner(self.root, self.farm.log_dir),
            state_path=self.root / "plotting-state.json",
            clock=self.clock,
        )
        self.engines.append(engine)
        return engine

    def step(
        self, engine: PlottingEngine, *, hold: bool = True, schedule: bool = True
    ) -> PassResult:
        """One pass; a job it starts is suspended at once when ``hold`` (it stays in phase 1)."""
        result = engine.step(schedule=schedule)
        if result.started is not None:
            self.started.append(result.started)
            if hold:
                os.killpg(result.started.pid, signal.SIGSTOP)
        return result

    def close(self) -> None:
        for engine in self.engines:
            engine.close()


@pytest.fixture
def harness(farm: Sandbox, tmp_path: Path, started: list[StartedJob]) -> Iterator[Harness]:
    made = Harness(farm, tmp_path, started)
    yield made
    made.close()


def kinds(result: PassResult) -> list[EventKind]:
    return [event.kind for event in result.events]


def reason(result: PassResult) -> str:
    assert isinstance(result.decision, Wait), result.decision
    return result.decision.reason


def actions(harness: Harness) -> list[tuple[str, str]]:
    return [(entry.action, entry.result) for entry in harness.action_log.entries()]


def test_stagger_and_the_per_dir_phase_limit(harness: Harness) -> None:
    engine = harness.engine(global_stagger_m=30, global_max_jobs=4, tmpdir_max_jobs=2)
    tmp0, tmp1 = (str(path) for path in harness.farm.tmp_dirs)

    first = harness.step(engine)
    assert kinds(first) == [EventKind.LOCK, EventKind.START]
    assert isinstance(first.decision, Start) and first.decision.tmp_dir == tmp0
    assert first.started is not None
    assert first.started.log_path.parent == harness.farm.log_dir

    waiting = harness.step(engine)
    assert reason(waiting).startswith("stagger (") and reason(waiting).endswith("/1800s)")
    assert kinds(waiting) == [EventKind.WAIT]
    (job,) = waiting.snapshot.jobs  # the scan shows the job now, no longer a pending start
    assert job.pid == first.started.pid and job.tmp_dir == tmp0
    # The same reason with another countdown is not news.
    assert harness.step(engine).events == ()

    harness.clock.offset += 1800
    second = harness.step(engine)
    # tmp/0 already has a job before phase 2:1, so the next goes to tmp/1.
    assert isinstance(second.decision, Start) and second.decision.tmp_dir == tmp1
    assert kinds(second) == [EventKind.START]

    harness.clock.offset += 1800
    full = harness.step(engine)
    assert reason(full) == "no eligible tmp dirs (tmp 0: 1 before 2:1; tmp 1: 1 before 2:1)"
    assert kinds(full) == [EventKind.WAIT]

    logged = harness.action_log.entries()
    assert [(entry.action, entry.pid) for entry in logged] == [
        ("start", first.started.pid),
        ("start", second.started.pid if second.started else None),
    ]
    assert logged[0].argv == first.started.argv and logged[0].reason == first.decision.reason
    assert logged[0].extra["log"] == str(first.started.log_path)


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"global_max_jobs": 1}, "max jobs (1)"),
        ({"global_max_phase1": 1}, "max phase 1 jobs (1)"),
        (
            {"tmpdir_max_jobs": 1, "tmpdir_stagger_phase_limit": 5},
            "no eligible tmp dirs (tmp 0: max jobs 1; tmp 1: max jobs 1)",
        ),
    ],
    ids=["global-max-jobs", "global-max-phase1", "tmpdir-max-jobs"],
)
def test_limits_hold_against_real_jobs(
    harness: Harness, limits: dict[str, int], expected: str
) -> None:
    engine = harness.engine(global_stagger_m=0, **limits)
    starts = 0
    for _ in range(4):
        result = harness.step(engine)
        starts += result.started is not None
        if isinstance(result.decision, Wait):
            break
    assert reason(result) == expected
    assert starts == {"max jobs (1)": 1, "max phase 1 jobs (1)": 1}.get(expected, 2)
    # (The scan may not show a job stopped before its exec finished; the reason above counts it
    # all the same, as a start not yet seen.)


def test_a_real_plot_lands_in_dst_and_its_end_is_reported(harness: Harness) -> None:
    config = harness.config(global_stagger_m=0, global_max_jobs=1)
    config = replace(
        config, plotting=replace(config.plotting, chia=replace(config.plotting.chia, k=18))
    )
    engine = harness.engine(config)
    first = harness.step(engine, hold=False)
    assert first.started is not None
    first.started.popen.wait(timeout=120)
    ended = wait_for(
        lambda: [e for e in harness.step(engine, hold=False).events if e.kind is EventKind.ENDED],
        10,
        "the end of the job",
    )
    assert ended[0].message.startswith("job ") and "finished after" in ended[0].message
    plot_id = ended[0].details["plot_id"]
    assert plot_id and len(plot_id) == 64
    plots = [p.name for d in harness.farm.dst_dirs for p in d.glob("*.plot")]
    assert len(plots) == 1 and plot_id in plots[0]
    # Said once, however the end fell between a scan and a look at the process.
    later = [harness.step(engine, hold=False) for _ in range(2)]
    assert not [e for result in later for e in result.events if e.kind is EventKind.ENDED]
    entries = harness.action_log.entries()
    assert [(e.action, e.result) for e in entries[:2]] == [("start", "ok"), ("end", "ok")]
    assert entries[1].plot_id == plot_id


def test_a_second_engine_only_monitors_and_takes_over_without_a_double_start(
    harness: Harness,
) -> None:
    first = harness.engine(global_stagger_m=30)
    second = harness.engine(global_stagger_m=30)
    started = harness.step(first)
    assert started.started is not None

    watching = harness.step(second)
    assert watching.decision is None and watching.started is None and not watching.holds_lock
    (event,) = watching.events
    assert event.kind is EventKind.MONITOR and f"pid {os.getpid()}" in event.message
    assert harness.step(second).events == ()  # said once

    first.close()  # the holder stops (a crash releases the flock the same way)
    taken = harness.step(second)
    assert kinds(taken) == [EventKind.LOCK, EventKind.WAIT]
    assert reason(taken).startswith("stagger (")  # the running job's start still counts
    assert [action for action, _ in actions(harness)] == ["start"]


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _with_executable(harness: Harness, executable: Path | str, **scheduling: Any) -> Config:
    config = harness.config(**scheduling)
    chia = replace(config.plotting.chia, executable=str(executable))
    return replace(config, plotting=replace(config.plotting, chia=chia))


def test_a_plotter_that_dies_at_once_backs_off_instead_of_a_stream_of_starts(
    harness: Harness, tmp_path: Path
) -> None:
    (tmp_path / "bin").mkdir()
    broken = _script(
        tmp_path / "bin" / "chia",
        "import sys\nprint('starting')\nprint('Error: no farmer key found in the keychain')\n"
        "sys.exit(3)\n",
    )
    engine = harness.engine(_with_executable(harness, broken, global_stagger_m=0))
    first = harness.step(engine, hold=False)
    assert first.started is not None
    first.started.popen.wait(timeout=30)

    died = harness.step(engine)
    assert kinds(died) == [EventKind.START_FAILED, EventKind.WAIT]
    assert died.failed and died.started is None
    assert "exit 3" in died.events[0].message
    assert "Error: no farmer key found in the keychain" in died.events[0].message
    assert "next start in 1m" in died.events[0].message
    assert reason(died).startswith("backing off 1m: job pid ")
    assert reason(died).endswith("Error: no farmer key found in the keychain (1 failed start)")
    failing = died.start_failures
    assert failing is not None and failing.count == 1 and "exit 3" in failing.last_failure

    harness.clock.offset += 61
    again = harness.step(engine, hold=False)
    assert again.started is not None  # one more try after the back-off ...
    again.started.popen.wait(timeout=30)
    twice = harness.step(engine)
    assert "next start in 2m" in twice.events[0].message  # ... and a longer one after that
    assert reason(twice).startswith("backing off 2m: ")
    assert reason(twice).endswith("(2 failed starts)")
    assert twice.start_failures is not None and twice.start_failures.count == 2
    logged = actions(harness)
    assert [action for action, _ in logged] == ["start", "end", "start", "end"]
    assert [result for _, result in logged[::2]] == ["ok", "ok"]
    assert all(result.startswith("failed: exit 3 after") for _, result in logged[1::2])


def test_a_missing_plotter_is_one_clear_failure(harness: Harness, tmp_path: Path) -> None:
    engine = harness.engine(
        _with_executable(harness, tmp_path / "nowhere" / "chia", global_stagger_m=0)
    )
    failed = harness.step(engine)
    assert kinds(failed) == [EventKind.LOCK, EventKind.START_FAILED] and failed.failed
    missing = tmp_path / "nowhere" / "chia"
    assert failed.events[1].message == (
        f"could not start the plotter: {missing}: program not found; next try in 1m"
    )
    assert failed.start_failures is not None and failed.start_failures.count == 1
    backing_off = harness.step(engine)
    text = reason(backing_off)
    assert text.startswith("backing off ")
    assert text.endswith(f": {missing}: program not found (1 failed start)")
    # --no-ui prints it as a line, --json gives the back-off as fields too.
    (wait,) = [event for event in backing_off.events if event.kind is EventKind.WAIT]
    assert wait.message == f"waiting: {text}"
    assert wait.to_json()["failed_starts"] == 1
    assert wait.to_json()["last_failure"] == f"{missing}: program not found"
    ((action, result),) = actions(harness)
    assert action == "start" and result.startswith("failed:") and "not found" in result


def test_an_engine_that_only_watches_sees_the_holders_failed_starts(
    harness: Harness, tmp_path: Path
) -> None:
    # A dashboard beside a --no-ui service: the service holds the lock and backs off; the
    # dashboard must not show plotting healthy.
    config = _with_executable(harness, tmp_path / "nowhere" / "chia", global_stagger_m=0)
    holder, watcher = harness.engine(config), harness.engine(config)
    assert harness.step(holder).start_failures is not None
    watching = harness.step(watcher)
    assert not watching.holds_lock
    failures = watching.start_failures
    assert failures is not None and failures.count == 1
    assert failures.last_failure.endswith("program not found")
    # Failures long past say nothing about the plotter now.
    harness.clock.offset += 2 * 3600
    assert harness.step(watcher).start_failures is None


def test_a_job_the_scan_cannot_recognise_still_counts_and_is_reported(
    harness: Harness, tmp_path: Path
) -> None:
    wrapper = _script(tmp_path / "plot-wrapper", "import time\ntime.sleep(60)\n")
    engine = harness.engine(
        _with_executable(harness, wrapper, global_stagger_m=0, global_max_jobs=1)
    )
    first = harness.step(engine)
    assert first.started is not None
    second = harness.step(engine)
    assert second.snapshot.jobs == ()  # not a plot job to the scan ...
    assert reason(second) == "max jobs (1)"  # ... yet it counts
    harness.clock.offset += 61
    warned = harness.step(engine)
    (event,) = warned.events
    assert event.kind is EventKind.ERROR and "not recognised as a plot job" in event.message


def test_a_full_dst_gets_no_job_and_the_reason_says_so(harness: Harness) -> None:
    engine = harness.engine(global_stagger_m=0, dst_min_free_gib=10**9)
    result = harness.step(engine)
    assert result.started is None and result.snapshot.jobs == ()
    text = reason(result)
    assert text.startswith("dst full (dst 0: ") and "; dst 1: " in text and "needs" in text
    assert [e.message for e in result.events if e.kind is EventKind.WAIT] == [f"waiting: {text}"]
    assert actions(harness) == []


def test_a_job_started_through_a_symlinked_tmp_dir_counts_against_that_dir(
    harness: Harness, tmp_path: Path
) -> None:
    link = tmp_path / "t0-link"
    link.symlink_to(harness.farm.tmp_dirs[0])
    argv = plot_argv(harness.farm)
    argv[argv.index(str(harness.farm.tmp_dirs[0]))] = str(link)
    by_hand = start_job(argv, harness.farm.log_dir)
    harness.started.append(by_hand)
    os.killpg(by_hand.pid, signal.SIGSTOP)

    engine = harness.engine(global_stagger_m=0, global_max_jobs=4)
    result = harness.step(engine)
    assert isinstance(result.decision, Start)
    assert result.decision.tmp_dir == str(harness.farm.tmp_dirs[1])
    assert reason(harness.step(engine)) == (
        "no eligible tmp dirs (tmp 0: 1 before 2:1; tmp 1: 1 before 2:1)"
    )


def test_paused_plotting_starts_nothing(harness: Harness) -> None:
    engine = harness.engine(global_stagger_m=0)
    engine.plotting_enabled = False
    result = harness.step(engine)
    assert reason(result) == "plotting is paused" and result.started is None
    assert [e.message for e in result.events][-1] == "waiting: plotting is paused"
    engine.plotting_enabled = True
    looked = harness.step(engine, schedule=False)  # a look between two scheduling passes
    assert looked.decision is None and looked.started is None and looked.holds_lock
    assert isinstance(harness.step(engine).decision, Start)


def test_wait_keys_ignore_numbers_but_not_words() -> None:
    assert wait_key("stagger (1623s/1800s)") == wait_key("stagger (7s/1800s)")
    assert wait_key("dst full (d0: 80.0 GiB free, needs 104 GiB)") == wait_key(
        "dst full (d0: 79.5 GiB free, needs 104 GiB)"
    )
    assert wait_key("backing off 42s: x (1 failed start)") == wait_key(
        "backing off 3m: x (1 failed start)"
    )
    assert wait_key("max jobs (12)") != wait_key("max phase 1 jobs (12)")
    assert wait_key("no eligible tmp dirs (0: max jobs 3)") != wait_key(
        "no eligible tmp dirs (0: 1 before 2:1)"
    )


def _broken_chia(tmp_path: Path) -> Path:
    (tmp_path / "bin").mkdir(exist_ok=True)
    return _script(
        tmp_path / "bin" / "chia",
        "import sys\nprint('Error: no farmer key found in the keychain')\nsys.exit(3)\n",
    )


def test_a_long_running_job_does_not_cancel_the_back_off(harness: Harness, tmp_path: Path) -> None:
    engine = harness.engine(global_stagger_m=0, global_max_jobs=4, tmpdir_max_jobs=2)
    good = harness.step(engine)
    assert good.started is not None
    harness.clock.offset += 600  # the good job has long outlived the quick-exit window
    engine.config = _with_executable(
        harness, _broken_chia(tmp_path), global_stagger_m=0, global_max_jobs=4, tmpdir_max_jobs=2
    )
    bad = harness.step(engine, hold=False)
    assert bad.started is not None
    bad.started.popen.wait(timeout=30)
    died = harness.step(engine)
    assert EventKind.START_FAILED in kinds(died)
    for _ in range(3):
        assert reason(harness.step(engine)).startswith("backing off ")


def test_a_job_killed_by_sigkill_right_away_counts_as_a_failed_start(harness: Harness) -> None:
    engine = harness.engine(global_stagger_m=0)
    first = harness.step(engine)
    assert first.started is not None
    os.killpg(first.started.pid, signal.SIGKILL)  # as the out-of-memory killer would
    first.started.popen.wait(timeout=30)
    died = harness.step(engine)
    (event,) = [e for e in died.events if e.kind is EventKind.START_FAILED]
    assert "killed by SIGKILL (out of memory?)" in event.message
    assert reason(died).startswith("backing off 1m: ")


def test_the_next_run_takes_over_the_launches_and_back_off_of_the_last(
    harness: Harness, tmp_path: Path
) -> None:
    config = _with_executable(harness, _broken_chia(tmp_path), global_stagger_m=0)
    first = harness.engine(config)
    started = harness.step(first, hold=False).started
    assert started is not None
    first.close()  # the run ends (cron's --once), its job dies after that
    started.popen.wait(timeout=30)

    second = harness.engine(config)
    result = harness.step(second)
    assert result.started is None
    (event,) = [e for e in result.events if e.kind is EventKind.START_FAILED]
    assert "ended without finishing its plot" in event.message
    assert "Error: no farmer key found in the keychain" in event.message
    assert reason(result).endswith("(1 failed start)")
    second.close()

    third = harness.engine(config)  # and the back-off itself survives the next run
    assert reason(harness.step(third)).endswith("(1 failed start)")
    assert [action for action, _ in actions(harness)] == ["start", "end"]


def test_a_job_started_while_this_engine_waits_for_the_lock_is_counted(
    harness: Harness,
) -> None:
    holder = harness.engine(global_stagger_m=30)
    assert harness.step(holder).started is not None  # takes the lock and starts a job
    config = harness.config(global_stagger_m=30)

    class RacingScanner(SandboxScanner):
        """Between this engine's lock check and its scan, the holder starts a job and dies."""

        def scan(self) -> Snapshot:
            if holder.lock.held:
                harness.clock.offset += 3600  # the holder's stagger has run out
                started = harness.step(holder).started
                assert started is not None
                holder.close()
            return super().scan()

    waiting = harness.engine(config, scanner=RacingScanner(harness.root, harness.farm.log_dir))
    assert harness.step(waiting).decision is None  # the lock was still held
    taken = harness.step(waiting)
    assert taken.holds_lock and taken.started is None
    # Both of the holder's jobs count (a scan from before the lock would miss the second).
    assert reason(taken) == "no eligible tmp dirs (tmp 0: 1 before 2:1; tmp 1: 1 before 2:1)"
    assert [action for action, _ in actions(harness)] == ["start", "start"]


def test_plotting_is_failing_until_a_start_lives_past_the_quick_exit(
    harness: Harness, tmp_path: Path
) -> None:
    good = harness.config(global_stagger_m=0, global_max_jobs=4, tmpdir_max_jobs=2)
    missing = tmp_path / "nowhere" / "chia"
    engine = harness.engine(
        _with_executable(harness, missing, global_stagger_m=0, global_max_jobs=4)
    )
    failed = harness.step(engine)
    assert failed.start_failures is not None
    looked = harness.step(engine, schedule=False)  # a look says it too, not only a schedule
    assert looked.start_failures == failed.start_failures
    engine.config = good  # the farmer installs the plotter
    harness.clock.offset += 61
    retried = harness.step(engine)
    assert retried.started is not None
    assert retried.start_failures is not None  # not proven yet: it may die at once
    harness.clock.offset += 121
    assert harness.step(engine, schedule=False).start_failures is None
