"""`plotman-tui watch --json` as the fleet runs it: a real subprocess on a sandbox farm, with real
plot jobs (the sandbox's chiapos) and stand-in jobs whose logs the test writes."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plotman_tui.config.loader import parse_config
from plotman_tui.farm.loopstate import loop_lock
from plotman_tui.farm.pauseflags import Loop
from plotman_tui.fleet.model import HostStatus, HostView
from plotman_tui.fleet.watch import estimate_moved, run_watch
from plotman_tui.fleet.wire import (
    ActionsMessage,
    Beat,
    ErrorMessage,
    Hello,
    JobsMessage,
    JobUpdate,
    SnapshotMessage,
    StateMessage,
    WireMessage,
    apply,
    decode_line,
    job_key,
)
from plotman_tui.plotters.phase import Phase
from plotman_tui.sandbox import Sandbox, StartedPlot, make_sandbox, start_plot
from tests.conftest import require_chiapos
from tests.fakejobs import K32_ID, chia_argv, install_fake_chia, k32_log, running
from tests.integration.test_cli_readonly import PLOTMAN_TUI
from tests.integration.test_cli_status_eta import COPY, PHASES, TOTAL, median, scaled_log

PLOT_ID = "c0ffee" * 10 + "abcd"


class Watch:
    """A running ``watch --json``; every line it prints is decoded (a bad one fails the test)
    and folded into ``view``."""

    def __init__(
        self,
        config: Path,
        env: dict[str, str],
        *,
        follow: bool = True,
        program: tuple[str, ...] = (str(PLOTMAN_TUI),),
    ) -> None:
        self.popen = subprocess.Popen(
            [*program, "--config", str(config), "watch", "--json"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.seen: list[WireMessage] = []
        self.view = HostView(name="here", address="this machine")
        if follow:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout_s: float) -> WireMessage | None:
        """The next line decoded and folded in; None at the end of the output."""
        line = self.lines.get(timeout=timeout_s)
        if line is None:
            return None
        message = decode_line(line)
        self.view = apply(self.view, message, time.time())
        self.seen.append(message)
        return message

    def until(
        self, found: Callable[[WireMessage], bool], timeout_s: float, what: str
    ) -> WireMessage:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.next(left)
            except queue.Empty:
                break
            if message is None:
                raise AssertionError(f"the watch ended waiting for {what}: {self.stderr()}")
            if found(message):
                return message
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

    def stderr(self) -> str:
        if self.popen.poll() is None or self.popen.stderr is None:
            return ""
        return self.popen.stderr.read().decode(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """This test's own data dir (loops, pause flags, action log) and cache dir."""
    return {
        **os.environ,
        "PLOTMAN_TUI_DATA_DIR": str(tmp_path / "data"),
        "PLOTMAN_TUI_CACHE_DIR": str(tmp_path / "cache"),
    }


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path / "farm")


@pytest.fixture
def watches() -> Iterator[list[Watch]]:
    started: list[Watch] = []
    yield started
    for watch in started:
        watch.stop()


@pytest.fixture
def plots() -> Iterator[list[StartedPlot]]:
    started: list[StartedPlot] = []
    yield started
    for job in started:
        if job.popen.poll() is None:
            os.killpg(job.popen.pid, signal.SIGKILL)
            job.popen.wait(timeout=10)


def start_watch(watches: list[Watch], config: Path, env: dict[str, str], **options: Any) -> Watch:
    watch = Watch(config, env, **options)
    watches.append(watch)
    hello = watch.next(30)
    assert isinstance(hello, Hello), hello
    assert hello.pid == watch.popen.pid
    snapshot = watch.next(30)
    assert isinstance(snapshot, SnapshotMessage), snapshot
    assert watch.view.status is HostStatus.UP
    return watch


def job_of(watch: Watch, pid: int) -> Any:
    return next((job for job in watch.view.jobs if job.pid == pid), None)


def test_real_plot_jobs_stream_from_snapshot_to_gone(
    sandbox: Sandbox, env: dict[str, str], watches: list[Watch], plots: list[StartedPlot]
) -> None:
    require_chiapos()
    plot = start_plot(sandbox, k=20)
    plots.append(plot)
    watch = start_watch(watches, sandbox.config_path, env)
    snapshot = watch.seen[1]
    assert isinstance(snapshot, SnapshotMessage)
    assert snapshot.config.path == str(sandbox.config_path)
    assert snapshot.config.text == sandbox.config_path.read_text()
    assert watch.view.config is not None and watch.view.config.config is not None
    assert {info.path for info in snapshot.dirs} >= {str(d) for d in sandbox.tmp_dirs}

    # Its phases come as they are written (the snapshot may have caught the job at 0:0).
    watch.until(
        lambda _m: (
            (job := job_of(watch, plot.popen.pid)) is not None
            and job.phase is not None
            and job.phase >= Phase(1, 1)
        ),
        30,
        "the real job in phase 1",
    )
    key = job_key(job_of(watch, plot.popen.pid))
    assert plot.popen.wait(timeout=120) == 0
    gone = watch.until(
        lambda m: isinstance(m, JobsMessage) and key in m.gone, 30, "the ended job gone"
    )
    assert isinstance(gone, JobsMessage)
    assert job_of(watch, plot.popen.pid) is None
    # The plot it made counts today (the history read when a job ends).
    watch.until(lambda _m: (watch.view.plots_today or 0) >= 1, 30, "plots today")


def test_a_log_line_written_makes_a_jobs_line_with_the_new_phase(
    tmp_path: Path, sandbox: Sandbox, env: dict[str, str], watches: list[Watch]
) -> None:
    script = install_fake_chia(tmp_path / "fakebin")
    tmp, dst = sandbox.tmp_dirs[0], sandbox.dst_dirs[0]
    log = sandbox.log_dir / "fake.log"
    log.write_text(k32_log(100, plot_id=PLOT_ID, tmp=tmp, tmp2=tmp, dst=dst))
    with running(chia_argv(script, str(tmp), str(dst)), log) as proc:
        watch = start_watch(watches, sandbox.config_path, env)
        watch.until(
            lambda _m: (
                (job := job_of(watch, proc.pid)) is not None
                and job.phase is not None
                and job.phase.major == 1
            ),
            30,
            "the stand-in job in phase 1",
        )
        with log.open("a") as handle:
            handle.write(
                k32_log(810, plot_id=PLOT_ID, tmp=tmp, tmp2=tmp, dst=dst)[len(log.read_text()) :]
            )
        moved = watch.until(
            lambda m: (
                isinstance(m, JobsMessage)
                and (job := job_of(watch, proc.pid)) is not None
                and job.phase is not None
                and job.phase.major == 2
            ),
            10,
            "a jobs line with phase 2",
        )
        assert isinstance(moved, JobsMessage)
        job = job_of(watch, proc.pid)
        assert job.plot_id == PLOT_ID
        # The job was sent whole before: this line holds only what changed.
        (update,) = [update for update in moved.updated if update.key == job_key(job)]
        assert "phase" in update.values
        assert not {"argv", "plot_id", "tmp_dir", "log_file"} & set(update.values)


def test_a_job_with_finished_runs_like_it_streams_its_progress_and_eta(
    tmp_path: Path, sandbox: Sandbox, env: dict[str, str], watches: list[Watch]
) -> None:
    """The host's own history (three finished k32 runs on the job's tmp dir, the real log's
    times scaled) gives its job a progress and ETA, as its dashboard would show them."""
    tmp, dst = sandbox.tmp_dirs[0], sandbox.dst_dirs[0]
    factors = [0.9, 1.0, 1.25]
    for index, factor in enumerate(factors):
        text = scaled_log(factor).replace(K32_ID, f"{index:02d}" * 32)
        text = text.replace("/farm/yards/902/fake_tmp2", str(tmp))
        text = text.replace("/farm/yards/902/fake_dst", str(dst))
        text = text.replace("/farm/yards/902", str(tmp))
        (sandbox.log_dir / f"2021-07-{index + 10:02d}T22_33_24.log").write_text(text)
    script = install_fake_chia(tmp_path / "fakebin")
    log = sandbox.log_dir / "job.log"
    log.write_text(k32_log(900, plot_id=PLOT_ID, tmp=tmp, tmp2=tmp, dst=dst))  # in phase 3
    with running(chia_argv(script, str(tmp), str(dst)), log) as proc:
        watch = start_watch(watches, sandbox.config_path, env)
        watch.until(
            lambda _m: (
                (job := job_of(watch, proc.pid)) is not None
                and job_key(job) in watch.view.estimates
            ),
            30,
            "the job's estimate",
        )
        key = job_key(job_of(watch, proc.pid))
        estimate = watch.view.estimates[key]
        final = median([(TOTAL - sum(PHASES.values()) + COPY) * f for f in factors])
        typical = {n: median([PHASES[n] * f for f in factors]) for n in PHASES}
        whole = sum(typical.values()) + final
        # Seconds old, the job has been in phase 3 for no time by its log's phase 1 and 2
        # times: all of phase 3 is ahead, and what is behind is phases 1 and 2.
        assert (estimate.basis, estimate.same_tmp, estimate.late) == (3, True, False)
        assert estimate.progress == pytest.approx((typical[1] + typical[2]) / whole, abs=1e-4)
        assert estimate.eta_seconds == pytest.approx(typical[3] + typical[4] + final, abs=0.1)

        # Scans go on (each sends the job's moving times); an estimate goes with them only
        # once it moved by a percent or a minute.
        updates: list[JobUpdate] = []

        def carried(message: WireMessage) -> bool:
            if isinstance(message, JobsMessage):
                updates.extend(update for update in message.updated if update.key == key)
            return len(updates) >= 2

        watch.until(carried, 30, "two more jobs lines with the job")
        before = estimate
        for update in updates:
            if update.estimate_sent:
                assert update.estimate is not None and estimate_moved(before, update.estimate)
                before = update.estimate
        assert watch.view.estimates[key] == before


def test_archiving_and_a_missing_log_dir_are_in_the_snapshot(
    tmp_path: Path, env: dict[str, str], watches: list[Watch]
) -> None:
    farm = make_sandbox(tmp_path / "archiving", n_archive=2)
    farm.log_dir.rmdir()
    watch = start_watch(watches, farm.config_path, env)
    view = watch.view
    assert view.archiving.configured and not view.archiving.running
    assert [row.path for row in view.archive_rows] == [str(d) for d in farm.archive_dirs]
    # No archiving loop runs there: nothing will read their free space, and they say so.
    assert {row.note for row in view.archive_rows} == {"not read: no archiving loop runs"}
    assert any(str(farm.log_dir) in problem and "missing" in problem for problem in view.problems)
    # Without a watch of the log dir the scans come oftener: they still stream.
    watch.until(lambda m: len(watch.seen) >= 4, 15, "lines after the snapshot")
    assert watch.popen.poll() is None


def test_pausing_plotting_makes_a_state_line_and_an_actions_line(
    sandbox: Sandbox, env: dict[str, str], watches: list[Watch]
) -> None:
    watch = start_watch(watches, sandbox.config_path, env)
    assert not watch.view.plotting.paused
    pause = subprocess.run(
        [str(PLOTMAN_TUI), "--config", str(sandbox.config_path), "plotting", "pause"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pause.returncode == 0, pause.stderr
    state = watch.until(
        lambda m: isinstance(m, StateMessage) and m.plotting.paused, 15, "plotting paused"
    )
    assert isinstance(state, StateMessage)
    assert state.plotting.paused_by
    assert not state.archiving.paused
    watch.until(
        lambda m: isinstance(m, ActionsMessage) and any(e.action == "pause" for e in m.entries),
        15,
        "the pause in the action log",
    )
    assert watch.view.actions[-1].action == "pause"


def test_it_never_takes_the_loops_locks(
    sandbox: Sandbox, env: dict[str, str], watches: list[Watch]
) -> None:
    watch = start_watch(watches, sandbox.config_path, env)
    # Past its first reads of the loops: a state line, or beats that follow them.
    watch.until(lambda m: len(watch.seen) >= 4, 15, "a few lines")
    data = Path(env["PLOTMAN_TUI_DATA_DIR"])
    plotting, archiving = loop_lock(Loop.PLOTTING, data), loop_lock(Loop.ARCHIVING, data)
    try:
        assert plotting.acquire(), "the watch holds the scheduler lock"
        assert archiving.acquire(), "the watch holds the archiver lock"
        state = watch.until(
            lambda m: isinstance(m, StateMessage) and m.plotting.holder is not None,
            15,
            "the holder seen",
        )
        assert isinstance(state, StateMessage)
        assert f"pid {os.getpid()}" in (state.plotting.holder or "")
    finally:
        plotting.release()
        archiving.release()
    assert watch.popen.poll() is None


def test_a_plot_once_beside_it_still_schedules(
    sandbox: Sandbox, env: dict[str, str], watches: list[Watch]
) -> None:
    start_watch(watches, sandbox.config_path, env)
    once = subprocess.run(
        [str(PLOTMAN_TUI), "--config", str(sandbox.config_path), "plot", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert once.returncode == 0, once.stderr
    assert "lock" not in once.stderr


def test_a_closed_stdout_ends_it_with_0(
    sandbox: Sandbox, env: dict[str, str], watches: list[Watch]
) -> None:
    watch = Watch(sandbox.config_path, env, follow=False)
    watches.append(watch)
    assert watch.popen.stdout is not None
    kinds = [json.loads(watch.popen.stdout.readline())["type"] for _ in range(2)]
    assert kinds == ["hello", "snapshot"]
    watch.popen.stdout.close()  # the next line (a beat, at the latest) has no reader
    assert watch.popen.wait(timeout=20) == 0
    assert watch.stderr() == ""


@pytest.mark.parametrize("how", ["stdin", "SIGTERM", "SIGHUP", "SIGINT"])
def test_the_client_leaving_ends_it_with_0(
    how: str, sandbox: Sandbox, env: dict[str, str], watches: list[Watch]
) -> None:
    watch = start_watch(watches, sandbox.config_path, env)
    assert watch.popen.stdin is not None
    if how == "stdin":
        watch.popen.stdin.close()
    else:
        watch.popen.send_signal(getattr(signal, how))
    assert watch.popen.wait(timeout=20) == 0
    assert watch.stderr() == ""


def test_a_config_that_cannot_be_read_is_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[logging\n")
    for config in (bad, tmp_path / "missing.toml"):
        result = subprocess.run(
            [str(PLOTMAN_TUI), "--config", str(config), "watch", "--json"],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        assert result.returncode == 2
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert str(config) in result.stderr


def test_a_watch_that_cannot_go_on_says_why_in_an_error_line_and_returns_1(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    # Its config file gone since the command line read it: there is no text to send.
    gone = tmp_path / "gone.toml"
    config = parse_config(sandbox.config_path.read_text(), gone, check_dirs=False)
    out = io.StringIO()
    before = signal.getsignal(signal.SIGTERM)
    assert run_watch(config, out) == 1
    assert signal.getsignal(signal.SIGTERM) is before
    kinds = [decode_line(line) for line in out.getvalue().splitlines()]
    assert isinstance(kinds[0], Hello)
    error = kinds[-1]
    assert isinstance(error, ErrorMessage)
    assert error.message == f"cannot read its config file {gone}: No such file or directory"


#: plotman-tui whose scans hang while a file is there, as a scan hangs on a dead mount (no
#: hung mount can be made here without root's FUSE); the watch's threshold is a second.
HANGING_SCANS = """\
import os, sys, time
from plotman_tui.farm import discovery
from plotman_tui.fleet import watch
real_scan = discovery.Scanner.scan
def scan(self):
    while os.path.exists(os.environ["HANG_FLAG"]):
        time.sleep(0.05)  # the hung read, until the test lifts it
    return real_scan(self)
discovery.Scanner.scan = scan
watch.STUCK_S = 1.0
from plotman_tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_scan_that_hangs_is_a_problem_of_the_host_until_a_scan_comes_through(
    tmp_path: Path, sandbox: Sandbox, env: dict[str, str], watches: list[Watch]
) -> None:
    # A review found a host whose scans hung stayed "up" with its jobs frozen, saying nothing.
    flag = tmp_path / "hang"
    program = tmp_path / "hanging_scans.py"
    program.write_text(HANGING_SCANS)
    env = {**env, "HANG_FLAG": str(flag)}
    watch = start_watch(watches, sandbox.config_path, env, program=(sys.executable, str(program)))
    assert not any("scan has not finished" in p for p in watch.view.problems)
    flag.touch()
    watch.until(
        lambda m: any("its scan has not finished since" in p for p in watch.view.problems),
        30,
        "the hung scan told",
    )
    assert watch.view.status is HostStatus.UP  # the host answers; its reads are stuck
    (said,) = [p for p in watch.view.problems if "scan has not finished" in p]
    assert said.endswith("(a hung mount?): its jobs are as they were then")
    flag.unlink()
    watch.until(
        lambda m: (
            isinstance(m, JobsMessage)
            and not any("scan has not finished" in p for p in watch.view.problems)
        ),
        30,
        "the problem gone with the next scan",
    )


def test_a_first_scan_that_hangs_sends_beats_and_no_line_out_of_turn(
    tmp_path: Path, sandbox: Sandbox, env: dict[str, str], watches: list[Watch]
) -> None:
    # A review found the hung-scan problem sent as a jobs line before the snapshot: the client
    # refused it as garbage and the host failed, again at every retry.
    flag = tmp_path / "hang"
    flag.touch()
    program = tmp_path / "hanging_scans.py"
    program.write_text(HANGING_SCANS)
    env = {**env, "HANG_FLAG": str(flag)}
    watch = Watch(sandbox.config_path, env, program=(sys.executable, str(program)))
    watches.append(watch)
    assert isinstance(watch.next(30), Hello)
    # STUCK_S is 1 s here: three beats (6 s) are well past it.
    for _ in range(3):
        assert isinstance(watch.next(10), Beat)
    flag.unlink()
    watch.until(lambda m: isinstance(m, SnapshotMessage), 30, "the snapshot once the scan ran")
    assert watch.view.status is HostStatus.UP
