"""``plotting|archiving pause|resume|status`` as a farmer (or the fleet, over SSH) runs them: the
installed command, a sandbox farm with real plots, and the loops that must obey the flag —
a one-shot ``plot --once``, a running ``plot`` loop, and an ``archive --once`` pass with a real
plot to move. Each test has its own data dir (flags, locks, state files, action log), as a
machine user has one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from plotman_tui.farm.loopstate import LoopReport, loop_report
from plotman_tui.farm.pauseflags import Loop, flag_path
from plotman_tui.sandbox import Sandbox, make_sandbox, start_plot
from tests.conftest import require_chiapos, wait_for
from tests.integration.test_cli_plot import Loop as LoopProcess
from tests.integration.test_cli_plot import configure, farm_jobs, two_more_passes
from tests.integration.test_cli_readonly import PLOTMAN_TUI

pytestmark = pytest.mark.real_service

Event = dict[str, Any]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        PLOTMAN_TUI_DATA_DIR=str(tmp_path / "data"),
        PLOTMAN_TUI_CACHE_DIR=str(tmp_path / "cache"),
        COLUMNS="200",
    )


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    require_chiapos()
    farm = make_sandbox(tmp_path / "farm", k=18, global_stagger_m=0, polling_time_s=1)
    configure(farm, global_max_jobs=1000)  # other tests' jobs on this machine do not count
    yield farm
    for pid in farm_jobs(farm):
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PLOTMAN_TUI), *args], capture_output=True, text=True, env=env, timeout=120
    )


def switch(env: dict[str, str], config: Path, loop: str, what: str) -> str:
    """``plotman-tui <loop> <what>``: its one line (exit 0 asserted)."""
    result = run(env, "--config", str(config), loop, what)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (line,) = result.stdout.splitlines()
    return line


def events(result: subprocess.CompletedProcess[str]) -> list[Event]:
    assert "Traceback" not in result.stderr, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def history(env: dict[str, str]) -> list[Event]:
    result = run(env, "history", "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.exclusive  # a plotting loop counts every plot job of the machine
def test_plot_once_obeys_the_flag_and_both_switches_are_logged(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    once = ("--config", str(sandbox.config_path), "plot", "--once", "--json")

    paused = switch(env, sandbox.config_path, "plotting", "pause")
    again = switch(env, sandbox.config_path, "plotting", "pause")
    status = switch(env, sandbox.config_path, "plotting", "status")
    while_paused = run(env, *once)
    resumed = switch(env, sandbox.config_path, "plotting", "resume")
    after = run(env, *once)

    assert paused.startswith("plotting paused on this machine by ")
    assert again.startswith("plotting is paused already on this machine since ")
    assert status.startswith("plotting is paused on this machine since ")
    assert "via `plotman-tui plotting pause`" in status
    assert while_paused.returncode == 0, while_paused.stderr
    (wait,) = [e for e in events(while_paused) if e["event"] == "wait"]
    assert wait["reason"].startswith("plotting is paused on this machine since ")
    assert not [e for e in events(while_paused) if e["event"] == "start"]
    assert resumed.startswith("plotting resumed on this machine by ")
    assert not flag_path(Loop.PLOTTING, tmp_path / "data").exists()
    assert after.returncode == 0, after.stderr
    (start,) = [e for e in events(after) if e["event"] == "start"]
    assert Path(start["log"]).is_file()
    switches = [e for e in history(env) if e["action"] in ("pause", "unpause")]
    assert [(e["action"], e["switch"], e["result"]) for e in switches] == [
        ("pause", "plotting", "ok"),
        ("unpause", "plotting", "ok"),
    ]
    assert all(e["by"] and e["reason"].startswith("cli: plotting ") for e in switches)
    # The start went to the same log after them.
    assert [e["action"] for e in history(env)][-1] == "start"


@pytest.fixture
def loops() -> Iterator[list[LoopProcess]]:
    started: list[LoopProcess] = []
    yield started
    for loop in started:
        if loop.proc.poll() is None:
            loop.proc.kill()
        loop.proc.wait(timeout=30)


def report_says(data: Path, predicate: Any, what: str, loop: Loop = Loop.PLOTTING) -> LoopReport:
    """The loop's report once ``predicate`` holds for it."""
    found: list[LoopReport] = []

    def check() -> bool:
        found[:] = [loop_report(loop, data=data)]
        return bool(predicate(found[0]))

    try:
        wait_for(check, 30, what)
    except AssertionError:
        raise AssertionError(f"{what}: last report {found}") from None
    return found[0]


@pytest.mark.exclusive  # a plotting loop counts every plot job of the machine
def test_a_running_loop_obeys_pause_and_resume_and_its_report_says_why(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path, loops: list[LoopProcess]
) -> None:
    data = tmp_path / "data"
    config = sandbox.config_path
    switch(env, config, "plotting", "pause")
    loop = LoopProcess(env, "--config", str(config), "plot", "--json")
    loops.append(loop)

    waiting = loop.wait(lambda e: e["event"] == "wait", 30, "the loop to say it is paused")
    paused = report_says(data, lambda r: r.reason, "the paused loop's reason")
    switch(env, config, "plotting", "resume")
    loop.wait(lambda e: e["event"] == "start", 30, "the loop to start a plot")
    going = report_says(
        data, lambda r: r.reason and "paused" not in r.reason, "a reason that is not the pause"
    )
    switch(env, config, "plotting", "pause")
    seen = len(loop.events)
    again = loop.wait(
        lambda e: loop.events.index(e) >= seen and "paused on this machine" in e.get("reason", ""),
        30,
        "the loop to say it is paused again",
    )
    two_more_passes(loop, sandbox)
    code, stderr = loop.stop(signal.SIGTERM)
    gone = loop_report(Loop.PLOTTING, data=data)

    assert waiting["reason"].startswith("plotting is paused on this machine since ")
    assert paused.holder_pid == loop.proc.pid
    assert paused.holder is not None and f"pid {loop.proc.pid}" in paused.holder
    assert paused.holder.startswith("scheduler lock held by ")
    assert paused.pause.paused and paused.pause.by
    assert paused.reason is not None and paused.reason.startswith("plotting is paused on")
    assert paused.reason_at is not None and paused.problem is None
    assert not going.pause.paused and going.holder_pid == loop.proc.pid
    assert going.reason_at is not None and going.reason_at >= paused.reason_at
    # Paused again: the passes after it started nothing.
    after = loop.events[loop.events.index(again) :]
    assert not [e for e in after if e["event"] == "start"], after
    assert code == 0, stderr
    # The loop is gone: its note in the state file says nothing any more.
    assert gone.holder is None and gone.reason is None and gone.reason_at is None
    assert (data / "plotting-state.json").exists()


@pytest.fixture
def archive_farm(tmp_path: Path) -> tuple[Sandbox, Path]:
    """A farm with a local archive target and one real finished plot in a dst dir."""
    require_chiapos()
    farm = make_sandbox(tmp_path / "farm", k=18, n_archive=1)
    plot_job = start_plot(farm)
    assert plot_job.popen.wait(timeout=120) == 0, plot_job.log_path.read_text(errors="replace")
    (plot,) = farm.dst_dirs[0].glob("plot-k18-*.plot")
    old = plot.stat().st_mtime - 3600
    os.utime(plot, (old, old))  # long finished: no settling time to wait for
    return farm, plot


def test_archive_once_obeys_the_flag_and_sends_the_plot_once_resumed(
    archive_farm: tuple[Sandbox, Path], env: dict[str, str]
) -> None:
    farm, plot = archive_farm
    once = ("--config", str(farm.config_path), "archive", "--once", "--json")

    paused = switch(env, farm.config_path, "archiving", "pause")
    while_paused = run(env, *once)
    plotting = switch(env, farm.config_path, "plotting", "status")
    resumed = switch(env, farm.config_path, "archiving", "resume")
    after = run(env, *once)
    wait_for(lambda: list(farm.archive_dirs[0].glob(plot.name)), 60, "the plot in the archive")

    assert paused.startswith("archiving paused on this machine by ")
    assert "transfers under way go on" in paused
    assert while_paused.returncode == 0, while_paused.stderr
    said = events(while_paused)
    assert not [e for e in said if e["event"] == "transfer"]
    assert any(
        e["event"] == "wait" and e["reason"].startswith("archiving is paused on this machine")
        for e in said
    ), said
    assert plotting == "plotting is not paused on this machine"  # the loops are apart
    assert resumed.startswith("archiving resumed on this machine by ")
    assert after.returncode == 0, after.stderr
    (sent,) = [e for e in events(after) if e["event"] == "transfer"]
    assert sent["source"] == str(plot)
    actions = [(e["action"], e.get("switch")) for e in history(env)]
    assert ("pause", "archiving") in actions and ("unpause", "archiving") in actions
    assert actions.index(("unpause", "archiving")) < actions.index(("transfer", None))


def test_a_damaged_flag_pauses_and_says_so_in_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    config = make_sandbox(tmp_path / "farm").config_path
    flag = flag_path(Loop.ARCHIVING, tmp_path / "data")
    flag.parent.mkdir(parents=True)
    os.mkfifo(flag)

    status = run(env, "--config", str(config), "archiving", "status")
    resumed = switch(env, config, "archiving", "resume")

    assert status.returncode == 0, status.stderr
    (line,) = status.stdout.splitlines()
    assert line.startswith("archiving is paused on this machine; its flag is damaged (")
    assert "a FIFO" in line and "`plotman-tui archiving resume` clears it" in line
    assert resumed.startswith("archiving resumed on this machine by ")
    assert not os.path.lexists(flag)


def test_a_flag_that_cannot_be_written_is_a_one_line_error(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = make_sandbox(tmp_path / "farm").config_path
    (tmp_path / "data").write_text("a file where the data dir should be")
    result = run(env, "--config", str(config), "plotting", "pause")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert "cannot write the plotting pause flag" in line


def test_a_running_archive_loop_reports_its_pause_and_the_farmers_free_space(
    archive_farm: tuple[Sandbox, Path],
    env: dict[str, str],
    tmp_path: Path,
    loops: list[LoopProcess],
) -> None:
    farm, plot = archive_farm
    data = tmp_path / "data"
    switch(env, farm.config_path, "archiving", "pause")
    loop = LoopProcess(env, "--config", str(farm.config_path), "archive", "--json")
    loops.append(loop)

    paused = report_says(
        data, lambda r: r.reason and r.spaces, "its reason and free space", Loop.ARCHIVING
    )
    switch(env, farm.config_path, "archiving", "resume")
    sent = loop.wait(lambda e: e["event"] == "transfer", 30, "the transfer once resumed")
    going = report_says(
        data, lambda r: r.reason and "paused" not in r.reason, "its next word", Loop.ARCHIVING
    )
    code, stderr = loop.stop(signal.SIGTERM)

    assert paused.holder_pid == loop.proc.pid
    assert paused.holder is not None and paused.holder.startswith("archiver lock held by ")
    assert paused.reason is not None
    assert paused.reason.startswith("archiving is paused on this machine since ")
    ((name, space),) = paused.spaces.items()
    archive_dir = os.path.normpath(farm.archive_dirs[0])
    assert space.target == name and space.problem is None and space.reachable
    assert set(space.free_bytes) == {archive_dir}
    free = space.free_bytes[archive_dir]
    assert free is not None and free > 0
    assert sent["source"] == str(plot)
    assert going.holder_pid == loop.proc.pid and not going.pause.paused
    assert code == 0, stderr
