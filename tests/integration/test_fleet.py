"""The fleet with real parts: plotting "hosts" that are real sshd servers on 127.0.0.1, each in a
PID namespace of its own with its own sandbox farm and real chiapos plot jobs (tests/fleethosts.py).

Every wait polls a condition with a deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import psutil
import pytest

from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.model import Job
from plotman_tui.fleet import control
from plotman_tui.fleet.client import FleetClient
from plotman_tui.fleet.model import HostStatus, HostView
from tests.conftest import wait_for
from tests.fleethosts import BedHost, bed, fleet_config, load_fleet, require_fleet
from tests.realservices import _keygen

pytestmark = [pytest.mark.real_service, pytest.mark.xdist_group("fleet")]

T = TypeVar("T")


@contextlib.asynccontextmanager
async def running(config_path: Path, **options: float) -> AsyncIterator[FleetClient]:
    """A fleet client watching every host of the config while the block runs."""
    stop = asyncio.Event()
    client = FleetClient(load_fleet(config_path), connect_timeout_s=5.0, **options)
    task = asyncio.create_task(client.run(stop))
    try:
        yield client
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def until(
    predicate: Callable[[], T],
    timeout_s: float,
    what: str,
    client: FleetClient | None = None,
) -> T:
    """Poll ``predicate`` on the event loop until it is true (its value) or the deadline; a
    timeout tells each host's state then (with ``client``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    states = [(v.name, v.status.value, v.problem) for v in client.views()] if client else ""
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} {states}")


def up(client: FleetClient, name: str) -> HostView | None:
    view = client.view(name)
    return view if view is not None and view.status is HostStatus.UP else None


def plot_job(client: FleetClient, host: BedHost) -> Job | None:
    """The host's plot job of its sandbox once its log has told its plot id and phase 1."""
    view = up(client, host.name)
    for job in view.jobs if view else ():
        in_farm = job.tmp_dir and job.tmp_dir.startswith(str(host.sandbox.root))
        if in_farm and job.plot_id and job.phase and job.phase.major == 1:
            return job
    return None


def local_job(host: BedHost) -> Job | None:
    """The host's job as this box's own scan sees it (its pid as this box numbers it)."""
    for job in Scanner(host.sandbox.log_dir).scan().jobs:
        in_farm = job.tmp_dir and job.tmp_dir.startswith(str(host.sandbox.root))
        if in_farm and job.plot_id and job.phase and job.phase.major >= 1:
            return job
    return None


def fleet_cli(config_path: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLOTMAN_TUI_DATA_DIR": str(tmp_path / "dashboard-data")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "plotman_tui",
            "--config",
            str(config_path),
            "fleet",
            "status",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def watches(host: BedHost) -> list[psutil.Process]:
    """The ``watch --json`` processes running with the host's config (not in a namespace)."""
    config = str(host.sandbox.config_path)
    found = []
    for process in psutil.process_iter(["cmdline"]):
        argv = process.info["cmdline"] or []
        if "watch" in argv and config in argv and not gone(process.pid):
            found.append(process)
    return found


def process_status(pid: int) -> str | None:
    try:
        return psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return None


def gone(pid: int) -> bool:
    return process_status(pid) in (None, psutil.STATUS_ZOMBIE)


async def test_fleet_status_and_the_client_show_every_job_of_every_host_with_its_phase(
    tmp_path: Path,
) -> None:
    require_fleet()
    with bed(tmp_path, ["rig1", "rig2", "rig3"]) as hosts:
        for host in hosts:
            host.start_plot(k=22)
        expected: dict[str, Job] = {}
        for host in hosts:
            # Frozen once in phase 1, so its phase is the same wherever it is read.
            job = wait_for(lambda h=host: local_job(h), 90, f"{host.name}'s job in phase 1")
            os.kill(job.pid, signal.SIGSTOP)
            expected[host.name] = wait_for(lambda h=host: local_job(h), 10, "a rescan")
        config_path = fleet_config(tmp_path, hosts)

        done = fleet_cli(config_path, tmp_path, "--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert [h["name"] for h in data["hosts"]] == ["rig1", "rig2", "rig3"]
        assert all(h["status"] == "up" and h["jobs"] == 1 for h in data["hosts"])
        for name, job in expected.items():
            (shown,) = [j for j in data["jobs"] if j["host"] == name]
            assert shown["plot_id"] == job.plot_id
            assert shown["phase"] == str(job.phase)
            assert shown["status"] == "STP"
            # Each host numbers its own processes: the job is pid 2 or so there, not here.
            assert shown["pid"] != job.pid

        text = fleet_cli(config_path, tmp_path)
        assert text.returncode == 0, text.stderr
        lines = text.stdout.splitlines()
        assert lines[0].split()[:3] == ["host", "state", "jobs"]
        for name, job in expected.items():
            assert any(line.split()[:3] == [name, "up", "1"] for line in lines)
            (row,) = [line for line in lines if line.startswith(name) and job.plot_id[:8] in line]
            assert str(job.phase) in row.split()

        async with running(config_path) as client:
            for host in hosts:
                job = await until(
                    lambda h=host: plot_job(client, h), 30, f"{host.name}'s job", client
                )
                assert (job.plot_id, job.phase) == (
                    expected[host.name].plot_id,
                    expected[host.name].phase,
                )
            assert [view.name for view in client.views()] == ["rig1", "rig2", "rig3"]


async def test_suspend_resume_and_kill_on_a_remote_job_take_effect_there_and_are_logged_twice(
    tmp_path: Path,
) -> None:
    require_fleet()
    log = ActionLog(tmp_path / "dashboard-data" / "actions.jsonl")
    with bed(tmp_path, ["rig1", "rig2"]) as hosts:
        rig1 = hosts[0]
        started = rig1.start_plot(k=22)
        hosts[1].start_plot(k=22)
        async with running(fleet_config(tmp_path, hosts)) as client:
            job = await until(lambda: plot_job(client, rig1), 90, "rig1's job in phase 1", client)
            here = rig1.job_process(started).pid

            outcome = await control.suspend(client, "rig1", job, action_log=log)
            assert outcome.ok, outcome.message
            wait_for(lambda: process_status(here) == psutil.STATUS_STOPPED, 10, "stopped")

            files = await control.list_files(client, "rig1", job)
            assert files.problem is None and files.files and files.total_bytes > 0
            on_disk = {str(p) for p in rig1.temp_files(job.plot_id or "?")}
            assert {f.path for f in files.files} <= on_disk

            outcome = await control.resume(client, "rig1", job, action_log=log)
            assert outcome.ok, outcome.message
            wait_for(lambda: process_status(here) != psutil.STATUS_STOPPED, 10, "running on")

            outcome = await control.kill(client, "rig1", job, action_log=log)
            assert outcome.ok, outcome.message
            wait_for(lambda: gone(here), 30, "the job gone")
            assert not [p for p in rig1.temp_files(job.plot_id or "?") if p.suffix == ".tmp"]

            # The other host's job runs on: the ids are per host.
            assert up(client, "rig2") is not None

    ours = [(e.action, e.extra.get("host"), e.plot_id) for e in log.entries()]
    assert ours == [
        ("fleet-suspend", "rig1", job.plot_id),
        ("fleet-resume", "rig1", job.plot_id),
        ("fleet-kill", "rig1", job.plot_id),
    ]
    theirs = [(e.action, e.plot_id, e.result) for e in rig1.action_log.entries()]
    assert theirs == [
        ("suspend", job.plot_id, "ok"),
        ("resume", job.plot_id, "ok"),
        ("kill", job.plot_id, "ok"),
    ]
    assert not hosts[1].action_log.entries()


def loop_events(proc: subprocess.Popen[bytes], lines: list[dict[str, object]]) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        with contextlib.suppress(ValueError):
            lines.append(json.loads(raw))


async def test_pausing_a_remote_loop_stops_its_starts_until_it_is_resumed(tmp_path: Path) -> None:
    require_fleet()
    log = ActionLog(tmp_path / "dashboard-data" / "actions.jsonl")
    with bed(tmp_path, ["rig1"], k=18, global_stagger_m=0, polling_time_s=1) as hosts:
        (rig1,) = hosts
        argv = [sys.executable, "-m", "plotman_tui", "--config", str(rig1.sandbox.config_path)]
        loop = rig1.popen([*argv, "plot", "--json"], stdout=subprocess.PIPE)
        events: list[dict[str, object]] = []
        threading.Thread(target=loop_events, args=(loop, events), daemon=True).start()
        try:
            async with running(fleet_config(tmp_path, hosts)) as client:

                def starts() -> int:
                    return sum(1 for e in events if e.get("event") == "start")

                await until(lambda: starts() >= 1, 60, f"the loop's first start: {events}", client)
                outcome = await control.switch_loop(
                    client, "rig1", "plotting", True, action_log=log
                )
                assert outcome.ok, outcome.message
                await until(
                    lambda: any(
                        e.get("event") == "wait" and "paused" in str(e.get("message"))
                        for e in events
                    ),
                    30,
                    "the loop waiting, paused",
                    client,
                )
                paused_at = starts()
                # With no stagger the loop would start again at once: its jobs all ending
                # while the fleet shows the host paused is what a pause means.
                view = await until(
                    lambda: (v := up(client, "rig1")) and v.plotting.paused and not v.jobs and v,
                    60,
                    "rig1 paused with no job left",
                    client,
                )
                assert view.plotting.running
                assert starts() == paused_at

                outcome = await control.switch_loop(
                    client, "rig1", "plotting", False, action_log=log
                )
                assert outcome.ok, outcome.message
                await until(lambda: starts() > paused_at, 60, "a start after the resume", client)
        finally:
            # The loop itself, not the nsenter that started it (which passes no signal on).
            with contextlib.suppress(psutil.NoSuchProcess):
                rig1.job_process(loop).send_signal(signal.SIGTERM)
            loop.wait(timeout=30)
    ours = [(e.action, e.extra.get("host")) for e in log.entries()]
    assert ours == [("fleet-pause-plotting", "rig1"), ("fleet-resume-plotting", "rig1")]
    theirs = [e for e in rig1.action_log.entries() if "paus" in e.action]
    assert theirs, rig1.action_log.entries()


async def test_a_stopped_sshd_marks_its_host_down_while_the_others_go_on(tmp_path: Path) -> None:
    require_fleet()
    with bed(tmp_path, ["rig1", "rig2"]) as hosts:
        rig1, rig2 = hosts
        async with running(fleet_config(tmp_path, hosts)) as client:
            await until(lambda: up(client, "rig1") and up(client, "rig2"), 60, "both up", client)
            rig2.server.stop()
            down = await until(
                lambda: (v := client.view("rig2")) and v.status is HostStatus.DOWN and v,
                10,
                "rig2 marked down",
                client,
            )
            assert down.problem and "127.0.0.1" in down.problem, down.problem
            # The other host still streams and answers commands.
            started = rig1.start_plot(k=22)
            job = await until(lambda: plot_job(client, rig1), 90, "rig1's new job", client)
            result = await client.run_command("rig1", ["plotting", "status"])
            assert result.ok, result
            assert (await control.kill(client, "rig1", job)).ok
            wait_for(lambda: gone(rig1.job_process(started).pid), 30, "the job gone")
            view = client.view("rig2")
            assert view is not None and view.status is not HostStatus.UP
            # Back on the same port: a wake retries now, and the host comes back.
            rig2.server.start()
            client.wake("rig2")
            await until(lambda: up(client, "rig2"), 60, "rig2 up again", client)


async def test_a_silent_watch_marks_its_host_down_and_it_comes_back_when_it_talks(
    tmp_path: Path,
) -> None:
    require_fleet(namespaces=False)
    with bed(tmp_path, ["rig1"], namespaces=False) as hosts:
        (rig1,) = hosts
        async with running(fleet_config(tmp_path, hosts), silent_s=2.0) as client:
            await until(lambda: up(client, "rig1"), 60, "rig1 up", client)
            (watch,) = watches(rig1)
            watch.suspend()  # a hung machine: the connection stays, nothing comes
            try:
                view = await until(
                    lambda: (v := client.view("rig1")) and v.status is HostStatus.DOWN and v,
                    10,
                    "rig1 down",
                    client,
                )
            finally:
                with contextlib.suppress(psutil.NoSuchProcess):
                    watch.resume()
            assert view.problem == "no news from its watch for 2 s"
            assert view.retry_at is not None
            await until(lambda: up(client, "rig1"), 60, "rig1 up again", client)


OLD_PLOTMAN_TUI = """\
import argparse, sys
parser = argparse.ArgumentParser(prog="plotman-tui")
parser.add_argument("--config")
commands = parser.add_subparsers(dest="command")
for name in ("status", "suspend", "resume", "kill"):
    commands.add_parser(name)
parser.parse_args()
"""

FUTURE = """\
import time
print('{"type": "hello", "time": 1, "protocol": 99}', flush=True)
time.sleep(60)
"""

GARBAGE = """\
import sys, time
print("Welcome to rig5! Uptime: 42 days", flush=True)
time.sleep(60)
"""


async def test_refused_keys_wrong_commands_old_versions_and_garbage_each_say_so(
    tmp_path: Path,
) -> None:
    require_fleet(namespaces=False)
    old = tmp_path / "old_plotman_tui.py"
    old.write_text(OLD_PLOTMAN_TUI)
    junk = tmp_path / "garbage.py"
    junk.write_text(GARBAGE)
    future = tmp_path / "future.py"
    future.write_text(FUTURE)
    broken = tmp_path / "broken.toml"
    broken.write_text("[directories\n")
    broken_command = shlex.join([sys.executable, "-m", "plotman_tui", "--config", str(broken)])
    stranger_key = tmp_path / "stranger_key"
    _keygen(stranger_key, "a key the hosts do not know")
    with bed(tmp_path, ["good"], namespaces=False) as hosts:
        (good,) = hosts
        server = good.server
        hosts = [
            good,
            dataclasses.replace(
                good,
                name="moved",
                known_hosts=server.write_wrong_known_hosts(tmp_path / "known_hosts"),
            ),
            dataclasses.replace(good, name="stranger", identity_file=stranger_key),
            dataclasses.replace(good, name="keyless", identity_file=tmp_path / "no_such_key"),
            dataclasses.replace(good, name="typo", command="/opt/nowhere/plotman-tui"),
            dataclasses.replace(good, name="old", command=f"{sys.executable} {old}"),
            dataclasses.replace(good, name="junk", command=f"{sys.executable} {junk}"),
            dataclasses.replace(good, name="future", command=f"{sys.executable} {future}"),
            dataclasses.replace(good, name="broken", command=broken_command),
        ]
        config_path = fleet_config(tmp_path, hosts, include_local=True)
        async with running(config_path) as client:
            names = [host.name for host in hosts[1:]]
            await until(
                lambda: all(v and v.status is HostStatus.FAILED for v in map(client.view, names)),
                30,
                "every bad host failed",
                client,
            )
            problems = {name: (client.view(name) or good).problem or "" for name in names}
            await until(lambda: up(client, "good"), 30, f"good up: {client.view('good')}", client)
            # This machine is a host too, first, its watch a child process.
            # Its first scan is of this whole box, busy with other tests' jobs: more time.
            local = await until(lambda: up(client, "local"), 90, "this machine up", client)
            assert local.local and client.views()[0] is local
            assert (await client.run_command("local", ["plotting", "status"])).ok
            assert watches(good)
        # Closed with the client: no watch is left running on the host.
        wait_for(lambda: not watches(good), 5, "the watch gone")
        assert "SSH host key of 127.0.0.1" in problems["moved"]
        assert "has changed" in problems["moved"]
        assert problems["stranger"].startswith(f"SSH login as {server.user} on 127.0.0.1:")
        assert "refused (no key accepted)" in problems["stranger"]
        assert problems["keyless"] == (
            f"identity_file {tmp_path / 'no_such_key'} does not exist: fix the path, or leave it "
            "out to use ssh-agent"
        )
        assert problems["typo"].startswith(
            "`/opt/nowhere/plotman-tui` not found on typo: set command in its [[fleet.hosts]] "
            "table to how plotman-tui runs there"
        )
        assert problems["old"] == (
            "the plotman-tui on old has no `watch` (it is older than the fleet): upgrade it"
        )
        assert problems["junk"].startswith("garbage from its watch: not a JSON line")
        assert problems["future"] == (
            "its watch speaks fleet protocol 99; this plotman-tui speaks 2: run the same "
            "version on both"
        )
        # The host's own one-line error about its config, as it printed it.
        assert problems["broken"].startswith("plotman-tui on broken cannot watch: plotman-tui: ")
        assert str(broken) in problems["broken"]

        # Without this machine: its first scan, of a box busy with other tests, can outlast
        # fleet status's 15 s there.
        done = fleet_cli(fleet_config(tmp_path / "cli", hosts), tmp_path)
        assert done.returncode == 1
        lines = done.stdout.splitlines()
        assert any(line.split()[:2] == ["good", "up"] for line in lines)
        for name in names:
            assert any(line.split()[:2] == [name, "failed"] for line in lines)
            assert f"! {name}: {problems[name]}" in lines


def test_fleet_status_without_a_fleet_says_how_to_make_one(tmp_path: Path) -> None:
    from plotman_tui.sandbox import make_sandbox

    sandbox = make_sandbox(tmp_path / "farm")
    path = tmp_path / "alone.toml"
    path.write_text(sandbox.config_path.read_text() + "\n[fleet]\ninclude_local = false\n")
    done = fleet_cli(path, tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "plotman-tui: no fleet: add [[fleet.hosts]] tables\n"
