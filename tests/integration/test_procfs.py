"""The /proc fast path reads what psutil reads: same create time (a job's key), state, ppid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plotman_tui.farm import procfs
from plotman_tui.farm.model import JobStatus
from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(not procfs.LINUX_PROC, reason="the fast path is Linux's /proc")


def asleep_in_python(pid: int) -> bool:
    """Whether ``pid`` is in its script's ``time.sleep`` (exec'd, started, now waiting)."""
    executed = b"time.sleep" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return executed and "nanosleep" in Path(f"/proc/{pid}/wchan").read_text()


def test_linux_reading_matches_psutil_for_a_live_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # Started: the interpreter is in its sleep (both readers must see the same state).
        wait_for(lambda: asleep_in_python(child.pid), 10, "the child asleep in python")
        fast = procfs._sample_linux(child.pid)
        slow = procfs._sample_psutil(child.pid)
        assert fast is not None and slow is not None
        assert fast.create_time == slow.create_time  # keys from either reader agree exactly
        assert fast.ppid == slow.ppid == os.getpid()
        assert fast.status == slow.status == JobStatus.SLP
        assert fast.rss_bytes == slow.rss_bytes and fast.vms_bytes == slow.vms_bytes
        assert fast.user_seconds is not None and slow.user_seconds is not None
        assert abs(fast.user_seconds - slow.user_seconds) < 0.05
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while (reading := procfs._sample_linux(child.pid)) is not None and (
            reading.status is not JobStatus.STP and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert reading is not None and reading.status is JobStatus.STP
        assert procfs._sample_psutil(child.pid).status is JobStatus.STP  # type: ignore[union-attr]
    finally:
        child.kill()
        child.wait()
    assert procfs._sample_linux(child.pid) is None and procfs._sample_psutil(child.pid) is None


def test_command_name_with_spaces_and_parentheses_is_read_right() -> None:
    # The kernel's comm field is "(name)"; a name like "a) (b" must not shift the fields.
    child = subprocess.Popen(
        [sys.executable, "-c", "import ctypes, time\n"
         "ctypes.CDLL(None).prctl(15, b'a) (b z', 0, 0, 0)\n"
         "time.sleep(30)"]
    )  # fmt: skip
    try:
        comm = Path(f"/proc/{child.pid}/comm")
        wait_for(lambda: comm.read_text() == "a) (b z\n", 10, "the child to rename itself")
        fast = procfs._sample_linux(child.pid)
        slow = procfs._sample_psutil(child.pid)
        assert fast is not None and slow is not None
        assert (fast.create_time, fast.ppid) == (slow.create_time, slow.ppid)
    finally:
        child.kill()
        child.wait()
