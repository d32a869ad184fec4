"""``plot`` and ``--no-ui`` as a farmer runs them: the installed command, a sandbox, real plots.

Every loop gets its own data dir (its scheduler lock and action log), as a machine has one.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil
import pytest
import tomlkit

from plotman_tui.sandbox import Sandbox, make_sandbox
from tests.conftest import require_chiapos, wait_for
from tests.fakejobs import chia_argv, install_fake_chia, running
from tests.integration.test_cli_readonly import PLOTMAN_TUI

# Exclusive: a loop counts every plot job on the machine, so these run alone (see Makefile).
pytestmark = [pytest.mark.real_service, pytest.mark.exclusive]

Event = dict[str, Any]


def configure(sandbox: Sandbox, **scheduling: int) -> Path:
    """Set [scheduling] keys in the sandbox's config (comments kept) and return its path."""
    document = tomlkit.parse(sandbox.config_path.read_text(encoding="utf-8"))
    table = document["scheduling"]
    for key, value in scheduling.items():
        table[key] = value  # type: ignore[index]
    sandbox.config_path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return sandbox.config_path


class Loop:
    """A running ``plotman-tui ... --json`` loop whose JSON lines are collected as they come."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(PLOTMAN_TUI), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.events: list[Event] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _drain(self) -> None:
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                self.events.append(json.loads(line))

    def wait(self, predicate: Callable[[Event], bool], timeout_s: float, what: str) -> Event:
        def found() -> Event | None:
            self._drain()
            return next((event for event in self.events if predicate(event)), None)

        try:
            return wait_for(found, timeout_s, what)
        except AssertionError:
            raise AssertionError(f"{what}: not in {self.events}") from None

    def of(self, kind: str) -> list[Event]:
        self._drain()
        return [event for event in self.events if event["event"] == kind]

    def ended_launches(self) -> list[Event]:
        """The ends of the jobs this loop started."""
        return [event for event in self.of("ended") if "returncode" in event]

    def stop(self, number: int = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(number)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)  # every line it printed, up to its last
        self._drain()
        assert self.proc.stderr is not None
        return self.proc.returncode, self.proc.stderr.read()


@pytest.fixture
def loops() -> Iterator[list[Loop]]:
    started: list[Loop] = []
    yield started
    for loop in started:
        if loop.proc.poll() is None:
            loop.proc.kill()
        loop.proc.wait(timeout=30)


def farm_jobs(sandbox: Sandbox) -> list[int]:
    """Pids of the plot jobs running for this sandbox (its chia front in their command line)."""
    needle = str(sandbox.chia).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError):
                if needle in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
    return pids


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    require_chiapos()
    farm = make_sandbox(tmp_path / "farm", k=22, global_stagger_m=30, polling_time_s=1)
    yield farm
    for pid in farm_jobs(farm):
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        PLOTMAN_TUI_DATA_DIR=str(tmp_path / "data"),
        PLOTMAN_TUI_CACHE_DIR=str(tmp_path / "cache"),
    )


def start_loop(loops: list[Loop], env: dict[str, str], config: Path, *args: str) -> Loop:
    loop = Loop(env, "--config", str(config), *args)
    loops.append(loop)
    return loop


def two_more_passes(loop: Loop, sandbox: Sandbox) -> None:
    """Return once ``loop`` has made two more passes: one that read the log of a plot job
    started here (its access time moves), one that saw the job gone (its "ended" line)."""
    log = sandbox.log_dir / "marker.log"
    log.write_text("a plot job that only marks the loop's passes\n")
    written = log.stat().st_mtime
    os.utime(log, (written - 100, written))  # an access now moves it on (relatime)
    argv = chia_argv(install_fake_chia(sandbox.root / "marker"), "/nonexistent", "/nonexistent")
    with running(argv, log) as marker:
        wait_for(lambda: log.stat().st_atime > written - 100, 30, "a pass to read its log")
    loop.wait(
        lambda e: e["event"] == "ended" and e.get("pid") == marker.pid, 30, "a pass to see it end"
    )


def history(env: dict[str, str]) -> list[Event]:
    result = subprocess.run(
        [str(PLOTMAN_TUI), "history", "--json"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_loop_makes_real_plots_and_stops_cleanly(
    sandbox: Sandbox, env: dict[str, str], loops: list[Loop]
) -> None:
    make_sandbox(sandbox.root, k=18, global_stagger_m=0, polling_time_s=1)
    config = configure(sandbox, global_max_jobs=2)
    loop = start_loop(loops, env, config, "plot", "--json")
    # Its own jobs' ends carry a return code (a plot job of another program's ending does not).
    wait_for(lambda: len(loop.ended_launches()) >= 3, 90, "three plots to finish")
    code, stderr = loop.stop(signal.SIGTERM)
    assert code == 0 and stderr == ""
    assert loop.events[0]["event"] == "info" and "loop started" in loop.events[0]["message"]
    assert loop.events[-1]["event"] == "info" and "stopped (SIGTERM)" in loop.events[-1]["message"]
    finished = [event for event in loop.ended_launches() if event["returncode"] == 0]
    assert len(finished) >= 3
    plots = {p.name: p for d in sandbox.dst_dirs for p in d.glob("plot-k18-*.plot")}
    for event in finished:
        (name,) = [name for name in plots if event["plot_id"] in name]
        assert event["plot"] == str(plots[name]) and plots[name].stat().st_size > 0
    # Never more than global_max_jobs at once: starts minus ends, in the order they were said.
    running = peak = 0
    for event in loop.events:
        if event["event"] == "start":
            running += 1
        elif event["event"] == "ended" and "returncode" in event:
            running -= 1
        peak = max(peak, running)
    assert peak <= 2
    starts = [entry for entry in history(env) if entry["action"] == "start"]
    assert [entry["pid"] for entry in starts] == [event["pid"] for event in loop.of("start")]
    assert all(entry["argv"][1:3] == ["plots", "create"] for entry in starts)


@pytest.mark.parametrize("command", ["plot", "--no-ui", "archive"])
def test_stop_signals_while_it_winds_down_after_a_failed_job_still_exit_0(
    sandbox: Sandbox, env: dict[str, str], loops: list[Loop], command: str
) -> None:
    farm = make_sandbox(sandbox.root, k=22, global_stagger_m=30, polling_time_s=1, n_archive=1)
    # The job dies at once: the sandbox's chia refuses a missing tmp2 dir (exit 2).
    assert farm.tmp2_dir is not None
    farm.tmp2_dir.rmdir()
    loop = start_loop(loops, env, farm.config_path, command, "--json")
    if command == "archive":
        loop.wait(lambda e: e["event"] == "lock", 30, "the archiver's first pass")
    else:
        died = loop.wait(lambda e: e["event"] == "start-failed", 30, "the job to fail")
        assert died["returncode"] == 2
    # `timeout`, a process-group kill and an impatient farmer send more than one: every one
    # after the first comes while the loop releases its locks and the interpreter exits.
    loop.proc.send_signal(signal.SIGTERM)
    while loop.proc.poll() is None:
        with suppress(ProcessLookupError):
            loop.proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            loop.proc.wait(timeout=0.005)
    code, stderr = loop.stop(signal.SIGTERM)
    assert code == 0, stderr
    last = loop.events[-1]
    assert last["event"] == "info" and " loop stopped (SIGTERM)" in last["message"]


def test_two_loops_and_a_killed_loop_never_start_twice(
    sandbox: Sandbox, env: dict[str, str], loops: list[Loop]
) -> None:
    config = sandbox.config_path  # stagger 30 minutes: one start, then waiting
    first = start_loop(loops, env, config, "plot", "--json")
    (start,) = [first.wait(lambda e: e["event"] == "start", 20, "the first start")]
    second = start_loop(loops, env, config, "--no-ui", "--json")
    watching = second.wait(lambda e: e["event"] == "monitor", 20, "the second loop monitoring")
    assert f"pid {first.proc.pid}" in watching["message"]
    assert watching["holder_pid"] == first.proc.pid

    first.stop(signal.SIGKILL)  # a crash: the kernel drops its lock
    second.wait(lambda e: e["event"] == "lock", 20, "the second loop taking over")
    waiting = second.wait(lambda e: e["event"] == "wait", 20, "the reason it waits")
    assert waiting["reason"].startswith("stagger (")
    two_more_passes(second, sandbox)  # still nothing started
    code, _ = second.stop(signal.SIGINT)
    assert code == 0 and second.of("start") == []

    # A loop started afresh (here for one pass, as cron runs it) sees the job and waits too.
    once = subprocess.run(
        [str(PLOTMAN_TUI), "--config", str(config), "plot", "--once"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert once.returncode == 0, once.stderr
    assert "waiting: stagger (" in once.stdout and " start " not in once.stdout
    # The job outlived both loops, and exactly one start is on record.
    os.kill(start["pid"], 0)
    assert [entry["pid"] for entry in history(env) if entry["action"] == "start"] == [start["pid"]]


LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (info|lock|wait|start|start-failed)\s+\S")


def test_once_for_cron_exit_status_and_lines(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    config = configure(sandbox, dst_min_free_gib=10**9)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(PLOTMAN_TUI), "--config", str(config), *args]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)

    full = run("--no-ui", "--once", "--json")
    assert full.returncode == 0, full.stderr
    events = [json.loads(line) for line in full.stdout.splitlines()]
    assert [event["event"] for event in events] == ["info", "lock", "wait"]
    assert events[-1]["reason"].startswith("dst full (dst 0: ")
    assert farm_jobs(sandbox) == []

    text = run("plot", "--once")
    assert text.returncode == 0 and text.stdout.splitlines()
    assert all(LINE.match(line) for line in text.stdout.splitlines()), text.stdout

    document = tomlkit.parse(config.read_text(encoding="utf-8"))
    document["plotting"]["chia"]["executable"] = str(tmp_path / "no" / "chia")  # type: ignore[index]
    document["scheduling"]["dst_min_free_gib"] = 0  # type: ignore[index]
    config.write_text(tomlkit.dumps(document), encoding="utf-8")
    broken = run("plot", "--once")
    assert broken.returncode == 1
    assert "start-failed" in broken.stdout and "program not found" in broken.stdout

    for args, message in [
        (("--no-ui", "status"), "--no-ui runs the engine and takes no command"),
        (("--once", "status"), "go with --no-ui"),
    ]:
        usage = run(*args)
        assert usage.returncode == 2 and message in usage.stderr
    for result in (full, text, broken):
        assert "Traceback" not in result.stderr + result.stdout


def test_the_demo_plots_and_archives_real_plots(tmp_path: Path, loops: list[Loop]) -> None:
    require_chiapos()
    farm = tmp_path / "demo"
    loop = Loop(dict(os.environ), "demo", "--dir", str(farm), "--no-ui", "--json")
    loops.append(loop)
    try:
        moved = loop.wait(
            lambda e: e["event"] == "transferred" and not e["failed"], 120, "a plot archived"
        )
    finally:
        code, stderr = loop.stop(signal.SIGTERM)
    assert code == 0, stderr
    assert f"Sandbox farm in {farm.resolve()}" in stderr
    archived = {p.name for p in (farm / "archive").glob("*/*.plot")}
    assert os.path.basename(moved["source"]) in archived
    assert not Path(moved["source"]).exists()
    # The demo keeps its lock and action log in the farm, away from a real loop's.
    assert (farm / "data" / "actions.jsonl").exists()
    for pid in [e["pid"] for e in loop.of("start")]:
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


# -- what the README promises of the loops ------------------------------------------------------


def test_a_closed_output_pipe_is_dropped_and_plotting_goes_on(
    sandbox: Sandbox, env: dict[str, str]
) -> None:
    make_sandbox(sandbox.root, k=18, global_stagger_m=0, polling_time_s=1)
    config = configure(sandbox, global_max_jobs=1)
    proc = subprocess.Popen(
        [str(PLOTMAN_TUI), "--config", str(config), "plot", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if json.loads(line)["event"] == "start":
                break
        proc.stdout.close()  # the reader goes away (a `| head`, a closed terminal)

        def starts() -> int:
            return sum(1 for entry in history(env) if entry["action"] == "start")

        # One start at a time, each after the last ended: two more need the loop alive.
        wait_for(lambda: starts() >= 3, 120, "two more starts after the pipe closed")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None and "Traceback" not in proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("stop", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_a_stop_signal_exits_0_and_the_job_runs_on(
    sandbox: Sandbox, env: dict[str, str], loops: list[Loop], stop: signal.Signals
) -> None:
    loop = start_loop(loops, env, sandbox.config_path, "plot", "--json")  # one start, then waits
    started = loop.wait(lambda e: e["event"] == "start", 30, "the start")
    code, stderr = loop.stop(stop)
    assert code == 0, stderr
    last = loop.events[-1]
    assert last["event"] == "info" and f"loop stopped ({stop.name})" in last["message"]
    assert "1 job(s) it started keep running" in last["message"]
    job = psutil.Process(started["pid"])
    assert job.status() in (psutil.STATUS_RUNNING, psutil.STATUS_SLEEPING, psutil.STATUS_DISK_SLEEP)
    assert job.ppid() != loop.proc.pid


def test_once_exits_1_when_the_action_log_cannot_be_written(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "data" / "actions.jsonl").mkdir(parents=True)  # in the way of the log
    result = subprocess.run(
        [str(PLOTMAN_TUI), "--config", str(sandbox.config_path), "plot", "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert " start " in result.stdout  # the job started all the same
    assert "actions.jsonl" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
