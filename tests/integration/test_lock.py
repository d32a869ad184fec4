"""The scheduler lock with real processes: one holder, who it is, and a crash frees it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from plotman_tui.appdirs import data_dir
from plotman_tui.farm.lock import (
    LockHolder,
    SchedulerLock,
    SchedulerLockHeld,
    default_lock,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

# Holds the lock and prints what it got; with "spawn", also starts a long job first.
HOLDER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from plotman_tui.farm.lock import SchedulerLock

    lock = SchedulerLock(Path(sys.argv[1]))
    got = lock.acquire()
    job_pid = None
    if got and sys.argv[2] == "spawn":
        from plotman_tui.farm.spawn import start_job
        job = start_job(
            [sys.executable, "-c", "import time; time.sleep(120)"], Path(sys.argv[3]), nice=0
        )
        job_pid = job.pid
    print(json.dumps({"acquired": got, "job_pid": job_pid}), flush=True)
    if got:
        sys.stdin.read()  # hold it until the test closes stdin (or kills this process)
        lock.release()
    """
)

# Tries once and reports what it saw.
TRY = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from plotman_tui.farm.lock import SchedulerLock

    lock = SchedulerLock(Path(sys.argv[1]))
    got = lock.acquire()
    holder = lock.holder()
    print(json.dumps({
        "acquired": got,
        "holder": None if holder is None else json.loads(holder.to_json()),
        "describe": None if holder is None else holder.describe(),
    }))
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


class Holder:
    """A helper process holding the lock (started with ``plot`` as its last argument)."""

    def __init__(self, lock_path: Path, *extra: str) -> None:
        self.argv = [sys.executable, "-c", HOLDER, str(lock_path), *(extra or ("hold", "-"))]
        self.before = time.time()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert self.proc.stdout is not None
        self.report = json.loads(self.proc.stdout.readline())
        self.after = time.time()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.stop()


def try_in_other_process(lock_path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", TRY, str(lock_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_second_process_cannot_acquire_and_sees_the_holder(
    tmp_path: Path, holders: list[Holder]
) -> None:
    lock_path = tmp_path / "data" / "scheduler.lock"  # the dir is made by acquire
    holder = Holder(lock_path)
    holders.append(holder)
    assert holder.report["acquired"] is True

    # Another process: refused, and told who holds it.
    other = try_in_other_process(lock_path)
    assert other["acquired"] is False
    seen = other["holder"]
    assert isinstance(seen, dict)
    assert seen["pid"] == holder.proc.pid
    assert holder.before <= seen["since"] <= holder.after
    assert seen["argv"] == ["-c", str(lock_path), "hold", "-"]  # sys.argv of the holder
    assert f"scheduler lock held by pid {holder.proc.pid} since " in str(other["describe"])

    # This process too, with the message a command would print.
    lock = SchedulerLock(lock_path)
    assert lock.acquire() is False
    assert not lock.held
    found = lock.holder()
    assert found is not None
    assert found.pid == holder.proc.pid
    assert found.argv == ("-c", str(lock_path), "hold", "-")
    clock = time.strftime("%H:%M", time.localtime(found.since))
    assert found.describe(now=found.since) == (
        f"scheduler lock held by pid {holder.proc.pid} since {clock} (-c {lock_path} hold -)"
    )
    with pytest.raises(SchedulerLockHeld, match=f"held by pid {holder.proc.pid}"), lock:
        pass

    # The holder lets go: now it is free.
    assert holder.proc.stdin is not None
    holder.proc.stdin.close()
    assert holder.proc.wait(timeout=30) == 0
    assert lock.holder() is None
    assert lock.acquire() is True


def test_sigkill_of_the_holder_frees_the_lock(tmp_path: Path, holders: list[Holder]) -> None:
    lock_path = tmp_path / "scheduler.lock"
    holder = Holder(lock_path)
    holders.append(holder)
    assert holder.report["acquired"] is True
    lock = SchedulerLock(lock_path)
    assert lock.holder() is not None

    os.kill(holder.proc.pid, signal.SIGKILL)
    assert holder.proc.wait(timeout=30) == -signal.SIGKILL

    # The dead holder's details are still in the file, but nobody holds the lock.
    assert json.loads(lock_path.read_text())["pid"] == holder.proc.pid
    assert lock.holder() is None
    assert lock.acquire() is True
    mine = lock.holder()
    assert mine is not None and mine.pid == os.getpid()
    lock.release()


def test_jobs_the_holder_started_do_not_keep_the_lock(
    tmp_path: Path, holders: list[Holder]
) -> None:
    lock_path = tmp_path / "scheduler.lock"
    holder = Holder(lock_path, "spawn", str(tmp_path / "logs"))
    holders.append(holder)
    assert holder.report["acquired"] is True
    job = psutil.Process(holder.report["job_pid"])
    try:
        os.kill(holder.proc.pid, signal.SIGKILL)
        holder.proc.wait(timeout=30)

        assert job.is_running() and job.status() != psutil.STATUS_ZOMBIE
        assert SchedulerLock(lock_path).holder() is None
        other = try_in_other_process(lock_path)
        assert other["acquired"] is True
    finally:
        job.kill()


def test_release_lets_another_process_in(tmp_path: Path) -> None:
    lock_path = tmp_path / "scheduler.lock"
    lock = SchedulerLock(lock_path)
    assert lock.acquire() is True
    assert lock.acquire() is True  # already held by this object: still yes
    assert lock.held

    assert try_in_other_process(lock_path)["acquired"] is False
    lock.release()
    assert not lock.held
    assert lock_path.read_text() == ""  # no stale holder left behind
    assert lock.holder() is None
    assert try_in_other_process(lock_path)["acquired"] is True  # and it let go on exit
    lock.release()  # releasing twice is harmless


def test_context_manager_holds_for_the_block(tmp_path: Path) -> None:
    lock_path = tmp_path / "scheduler.lock"
    with SchedulerLock(lock_path) as lock:
        assert lock.held
        holder = lock.holder()
        assert holder is not None
        assert holder.pid == os.getpid()
        assert holder.argv == tuple(sys.argv)
        # A second lock object in the same process is a second holder: refused.
        assert SchedulerLock(lock_path).acquire() is False
        assert try_in_other_process(lock_path)["acquired"] is False
    assert not lock.held
    assert SchedulerLock(lock_path).holder() is None


def test_a_dropped_lock_object_lets_go(tmp_path: Path) -> None:
    lock_path = tmp_path / "scheduler.lock"
    lock = SchedulerLock(lock_path)
    assert lock.acquire()
    del lock
    assert SchedulerLock(lock_path).holder() is None


def test_holder_of_a_missing_file_is_nobody(tmp_path: Path) -> None:
    lock = SchedulerLock(tmp_path / "no" / "scheduler.lock")
    assert lock.holder() is None
    assert not (tmp_path / "no").exists()


def test_describe_names_another_host_and_day() -> None:
    since = time.mktime((2026, 11, 23, 14, 2, 0, 0, 0, -1))
    holder = LockHolder(
        pid=1234,
        since=since,
        hostname="not-this-host.invalid",
        argv=("/usr/bin/plotman-tui", "plot"),
    )
    text = holder.describe(now=since + 86400)
    assert text == (
        "scheduler lock held by pid 1234 on not-this-host.invalid since 2026-11-23 14:02 "
        "(plotman-tui plot)"
    )
    assert LockHolder.from_json(holder.to_json()) == holder


def test_default_lock_is_in_the_data_dir() -> None:
    assert default_lock().path == data_dir() / "scheduler.lock"
