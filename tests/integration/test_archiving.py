"""Archiving as a farmer runs it: real plots, moved by real rsync to a real farmer.

The plots are real k18 chiapos plots from the sandbox plotter (made once per worker, then
copied into each test's own sandbox); the far side is a local dir, an ``rsync --daemon`` or an
``sshd`` on 127.0.0.1, with free space read by df over SSH. The archiving engine runs its
passes here as the ``archive`` loop would (``refresh_due`` stands for the loop's background
refresh of free space). Faults are real too: sshd stopped, the rsync daemon killed mid-transfer,
a wrong host key, archive dirs without room.

Transfers are found machine-wide, so every test uses its own target names and dirs (tests run
side by side under ``pytest -n``) and looks only at those.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import psutil
import pytest

from plotman_tui.config import load_config
from plotman_tui.config.schema import ArchiveTarget, ArchivingConfig, Config, TargetType
from plotman_tui.farm.actionlog import ActionEntry, ActionLog
from plotman_tui.farm.archive.engine import (
    RETRY_S,
    STALE_SWEEP_S,
    STALE_TEMP_S,
    ArchivePassResult,
    ArchivingEngine,
)
from plotman_tui.farm.archive.space import SpaceMonitor
from plotman_tui.farm.archive.transfer import (
    RunningTransfer,
    StartedTransfer,
    find_transfers,
    start_transfer,
)
from plotman_tui.farm.engine import Engine, PassResult, PlottingEngine
from plotman_tui.farm.events import Event, EventKind
from plotman_tui.farm.lock import SchedulerLock
from plotman_tui.farm.spawn import start_job
from plotman_tui.sandbox import make_sandbox, start_plot
from tests.conftest import require_chiapos, require_real, wait_for
from tests.integration.test_archive_localmove import run_mover_killed_at_unlink
from tests.integration.test_cli_readonly import PLOTMAN_TUI
from tests.integration.test_engine import SandboxScanner
from tests.realservices import (  # noqa: F401
    LOOPBACK,
    RsyncDaemon,
    SshServer,
    other_filesystem_fixture,
    rsync_available,
    rsync_daemon_fixture,
    ssh_server_fixture,
)

pytestmark = pytest.mark.real_service

T = TypeVar("T")

#: Distinct real plots each worker makes once (a test needs at most this many at once).
POOL_PLOTS = 3
#: A finished plot's mtime is set this far back, past the 60 s it must stay unchanged.
SETTLED_S = 120.0
#: KiB/s that keep a ~4 MiB k18 plot on its way for about two seconds.
SLOW_KBPS = 2048
#: Seconds a transfer, a pass or a service gets before a test gives up on it.
TIMEOUT_S = 15.0


@pytest.fixture(autouse=True)
def _need_rsync() -> None:
    require_real(rsync_available(), "rsync is not installed (apt-get install rsync)")


@pytest.fixture(scope="module")
def real_plots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Real k18 plots made by the sandbox plotter (chiapos), side by side, once per worker."""
    require_chiapos()
    sandbox = make_sandbox(tmp_path_factory.mktemp("plot-pool") / "farm", k=18)
    jobs = [
        start_plot(sandbox, tmp_index=i % len(sandbox.tmp_dirs), dst_index=0)
        for i in range(POOL_PLOTS)
    ]
    for job in jobs:
        assert job.popen.wait(120) == 0, job.log_path.read_text(errors="replace")
    plots = sorted(sandbox.dst_dirs[0].glob("plot-k18-*.plot"))
    assert len(plots) == POOL_PLOTS
    return plots


class Clock:
    """The real time plus an offset a test moves forward (to skip a retry's back-off)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Farm:
    """One plotting machine: a sandbox (its dst dirs and config), an archiver lock, an action log.

    Engines made here share the lock file and the action log, as processes on one machine do.
    """

    def __init__(self, root: Path, pool: Sequence[Path]) -> None:
        self.root = root
        self.pool = pool
        self.sandbox = make_sandbox(root / "farm", k=18)
        self.clock = Clock()
        self.action_log = ActionLog(root / "actions.jsonl")
        self.lock_path = root / "archiver.lock"
        self.log_dir = root / "transfers"
        self.engines: list[ArchivingEngine] = []
        self.started: list[StartedTransfer] = []
        #: The events of every pass so far, of every engine.
        self.events: list[Event] = []

    def name(self, kind: str) -> str:
        """A target name no other test uses: transfers are found machine-wide."""
        return f"{kind}-{self.root.parent.name}-{self.root.name}"

    def plot(self, index: int = 0, dst_index: int = 0) -> Path:
        """A finished real plot (pool plot ``index``) in dst dir ``dst_index``, settled."""
        source = self.pool[index]
        path = self.sandbox.dst_dirs[dst_index] / source.name
        shutil.copyfile(source, path)
        settled = time.time() - SETTLED_S
        os.utime(path, (settled, settled))
        return path

    def config(self, *targets: ArchiveTarget) -> Config:
        config = load_config(self.sandbox.config_path)
        return replace(config, archiving=ArchivingConfig(enabled=True, targets=targets))

    def engine(self, *targets: ArchiveTarget, state: bool = False) -> ArchivingEngine:
        config = self.config(*targets)
        space = SpaceMonitor(
            config.archiving.active_targets,
            ttl_s=60.0,
            timeout_s=5.0,
            # A farmer that is back is read again within a fraction of a second.
            backoff_s=0.1,
            max_backoff_s=0.2,
        )
        engine = ArchivingEngine(
            config,
            lock=SchedulerLock(self.lock_path),
            action_log=self.action_log,
            space=space,
            log_dir=self.log_dir,
            clock=self.clock,
            state_path=self.root / "archiving-state.json" if state else None,
        )
        self.engines.append(engine)
        return engine

    async def step(self, engine: ArchivingEngine) -> ArchivePassResult:
        """One pass as the loop makes it: free space refreshed where due, then the pass."""
        await engine.space.refresh_due()
        result = engine.step(())
        self.started += result.started
        self.events += result.events
        return result

    async def until(
        self,
        engine: ArchivingEngine,
        predicate: Callable[[ArchivePassResult], T | None],
        what: str,
        timeout_s: float = TIMEOUT_S,
    ) -> tuple[ArchivePassResult, T]:
        """Passes until ``predicate`` gives something true for one; that pass and that value."""
        deadline = time.monotonic() + timeout_s
        seen: list[ArchivePassResult] = []
        while time.monotonic() < deadline:
            result = await self.step(engine)
            seen.append(result)
            found = predicate(result)
            if found:
                return result, found
            await asyncio.sleep(0.05)
        events = [event.message for result in seen for event in result.events]
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; events: {events}")

    async def until_ended(self, engine: ArchivingEngine, *sources: Path) -> list[Event]:
        """Passes until the end of the last transfer of each of ``sources`` is reported (by this
        call's passes or earlier ones); those events."""
        ended: dict[Path, Event] = {}

        def all_ended(_: ArchivePassResult) -> bool:
            ended.clear()
            for event in self.events:
                source = Path(event.details.get("source", ""))
                if source not in sources:
                    continue
                if event.kind is EventKind.TRANSFER:
                    ended.pop(source, None)  # a (new) transfer of it: wait for its end
                elif event.kind is EventKind.TRANSFERRED:
                    ended[source] = event
            return len(ended) == len(sources)

        names = ", ".join(source.name for source in sources)
        await self.until(engine, all_ended, f"the end of the transfers of {names}")
        return [ended[source] for source in sources]

    def transfers(self, target: ArchiveTarget) -> list[RunningTransfer]:
        """The transfers to ``target`` running now (any process's)."""
        return [t for t in find_transfers([target]) if t.target == target.name]

    def entries(self, target: ArchiveTarget) -> list[ActionEntry]:
        """The action log's transfer entries for ``target``."""
        return [
            entry
            for entry in self.action_log.entries()
            if entry.action == "transfer" and entry.extra.get("target") == target.name
        ]

    async def close(self) -> None:
        for engine in self.engines:
            engine.close()
            await engine.space.close()
        for transfer in self.started:
            # Only while unreaped: a reaped transfer's pid may already be another process's.
            if transfer.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(transfer.pid, signal.SIGKILL)


@pytest.fixture
async def farm(tmp_path: Path, real_plots: list[Path]) -> AsyncIterator[Farm]:
    made = Farm(tmp_path, real_plots)
    try:
        yield made
    finally:
        await made.close()


# -- targets ------------------------------------------------------------------------------------


def local_target(farm: Farm, *names: str, on: Path | None = None, **changes: Any) -> ArchiveTarget:
    """A local target with archive dirs ``names`` under ``on`` (default: on the dst dirs' file
    system, where a plot moves by a rename; another file system makes it a copy)."""
    dirs = []
    for name in names or ("usb0",):
        directory = (on or farm.root) / "archive" / name
        directory.mkdir(parents=True)
        dirs.append(str(directory))
    return ArchiveTarget(
        name=farm.name("usb"), type=TargetType.LOCAL, archive_dirs=tuple(dirs), **changes
    )


def ssh_options(server: SshServer) -> dict[str, Any]:
    """What an ssh or rsyncd target needs to reach (and df on) the test's sshd."""
    return {
        "host": LOOPBACK,
        "user": server.user,
        "ssh_port": server.port,
        "known_hosts": server.known_hosts,
        "identity_file": server.identity_file,
    }


def ssh_target(farm: Farm, server: SshServer, **changes: Any) -> ArchiveTarget:
    directory = farm.root / "farmer" / "disk00"
    directory.mkdir(parents=True)
    options = {**ssh_options(server), **changes}
    return ArchiveTarget(
        name=farm.name("ssh"), type=TargetType.SSH, archive_dirs=(str(directory),), **options
    )


def rsyncd_target(
    farm: Farm, daemon: RsyncDaemon, server: SshServer, **changes: Any
) -> ArchiveTarget:
    # The farmer's daemon serves module_root; its free space is read by df over SSH.
    directory = daemon.module_root / "disk00"
    directory.mkdir()
    options = {**ssh_options(server), **changes}
    return ArchiveTarget(
        name=farm.name("rsyncd"),
        type=TargetType.RSYNCD,
        archive_dirs=(str(directory),),
        rsync_port=daemon.port,
        module=daemon.module,
        module_root=str(daemon.module_root),
        **options,
    )


# -- what a farmer looks at ---------------------------------------------------------------------


def plots_under(root: Path) -> list[Path]:
    """Every file named like a plot below ``root``, hidden dirs included (a harvester's scan)."""
    return sorted(root.rglob("*.plot"))


def wait_reason(result: ArchivePassResult, target: ArchiveTarget) -> str:
    (reason,) = [wait.reason for wait in result.waits if wait.target == target.name]
    return reason


def kinds(result: ArchivePassResult) -> list[EventKind]:
    return [event.kind for event in result.events]


# -- each target type ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["local", "local-same-filesystem", "rsyncd", "ssh"])
async def test_a_real_plot_is_archived_through_each_target_type(
    farm: Farm, kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "local":  # a USB disk: copied, without rsync
        target = local_target(farm, on=request.getfixturevalue("other_filesystem"))
    elif kind == "local-same-filesystem":  # renamed: nothing copied
        target = local_target(farm)
    elif kind == "ssh":
        target = ssh_target(farm, request.getfixturevalue("ssh_server"))
    else:
        server = request.getfixturevalue("ssh_server")
        target = rsyncd_target(farm, request.getfixturevalue("rsync_daemon"), server)
    far_side = Path(target.archive_dirs[0])
    plot = farm.plot()
    data = plot.read_bytes()
    engine = farm.engine(target)

    first = await farm.step(engine)
    assert first.holds_lock
    (started,) = first.started
    assert (started.target, started.source, started.archive_dir) == (
        target.name,
        str(plot),
        target.archive_dirs[0],
    )
    assert kinds(first) == [EventKind.LOCK, EventKind.TRANSFER]
    assert plot.name in first.events[-1].message and target.name in first.events[-1].message

    (ended,) = await farm.until_ended(engine, plot)
    assert not ended.failed, ended.message
    assert ended.message.startswith(f"{plot.name} -> {target.name}:{target.archive_dirs[0]}: ")
    landed = far_side / plot.name
    assert landed.read_bytes() == data
    assert not plot.exists()
    # rsync's temp file was renamed into place: nothing else is left at the far side.
    assert [p.name for p in far_side.iterdir()] == [plot.name]

    started_entry, ok = farm.entries(target)
    assert (started_entry.result, started_entry.pid) == ("started", started.pid)
    assert started_entry.argv == started.argv and started_entry.extra["bytes"] == len(data)
    assert (ok.result, ok.pid, ok.plot_id) == ("ok", started.pid, started_entry.plot_id)
    assert ok.plot_id is not None and ok.plot_id in plot.name
    assert ok.extra["bytes"] == len(data)
    # What rsync (or the mover) says it sent: all of it, or nothing for a rename.
    renamed = kind == "local-same-filesystem"
    assert ok.extra["bytes_sent"] == (0 if renamed else len(data))
    assert ("renamed, nothing copied" in ended.message) == renamed
    assert (ok.extra["mb_per_s"] > 0) != renamed
    assert ok.extra["seconds"] > 0
    assert ok.extra["source"] == str(plot) and ok.extra["archive_dir"] == target.archive_dirs[0]

    after = await farm.step(engine)
    assert after.started == ()
    assert wait_reason(after, target) == "no finished plots in the dst dirs"


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ssh", "rsyncd"])
async def test_a_farmer_refusing_connections_gets_nothing_sent(
    farm: Farm, ssh_server: SshServer, kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "ssh":
        target = ssh_target(farm, ssh_server)
    else:  # the daemon answers, but the farmer's free space cannot be read
        target = rsyncd_target(farm, request.getfixturevalue("rsync_daemon"), ssh_server)
    plot = farm.plot()
    data = plot.read_bytes()
    ssh_server.stop()
    engine = farm.engine(target)

    for _ in range(3):
        result = await farm.step(engine)
        assert result.started == ()
        reason = wait_reason(result, target)
        assert reason.startswith(f"farmer unreachable: {LOOPBACK}:{ssh_server.port} refused")
    assert farm.transfers(target) == []
    assert farm.entries(target) == []
    assert plot.read_bytes() == data
    assert plots_under(Path(target.archive_dirs[0])) == []


async def test_sshd_stopped_after_a_transfer_later_plots_wait_and_go_when_it_is_back(
    farm: Farm, ssh_server: SshServer
) -> None:
    target = ssh_target(farm, ssh_server)
    far_side = Path(target.archive_dirs[0])
    engine = farm.engine(target)
    first = farm.plot(0)
    (started,) = (await farm.step(engine)).started
    assert not any(e.failed for e in await farm.until_ended(engine, first))

    ssh_server.stop()
    # Plots finished while the farmer is down wait for it, untouched.
    later = [farm.plot(1, dst_index=0), farm.plot(2, dst_index=1)]
    data = {plot: plot.read_bytes() for plot in later}
    for _ in range(3):
        result = await farm.step(engine)
        assert result.started == ()
        assert wait_reason(result, target).startswith("farmer unreachable: ")
    assert farm.transfers(target) == []
    assert all(plot.read_bytes() == data[plot] for plot in later)
    assert plots_under(far_side) == [far_side / first.name]

    ssh_server.start()  # on the same port, with the same host key
    ended = await farm.until_ended(engine, *later)
    assert not any(event.failed for event in ended), [event.message for event in ended]
    assert plots_under(far_side) == sorted(far_side / p.name for p in [first, *later])
    for plot in later:
        assert not plot.exists()
        assert (far_side / plot.name).read_bytes() == data[plot]
    results = [entry.result for entry in farm.entries(target)]
    assert results == ["started", "ok"] * 3
    assert farm.entries(target)[0].pid == started.pid


class _Killed(NamedTuple):
    """A transfer under way when the rsync daemon was killed, and its end."""

    target: ArchiveTarget
    plot: Path
    data: bytes  # the plot's bytes before the transfer
    engine: ArchivingEngine
    started: StartedTransfer
    ended: Event


async def _kill_rsyncd_mid_transfer(
    farm: Farm, rsync_daemon: RsyncDaemon, ssh_server: SshServer
) -> _Killed:
    target = rsyncd_target(farm, rsync_daemon, ssh_server, bwlimit_kbps=SLOW_KBPS)
    plot = farm.plot()
    data = plot.read_bytes()
    engine = farm.engine(target)
    (started,) = (await farm.step(engine)).started
    # Bytes are flowing into rsync's hidden temp file at the far side.
    far_side = rsync_daemon.module_root
    wait_for(lambda: list(far_side.rglob(f".{plot.name}.*")), TIMEOUT_S, "a temp file")
    rsync_daemon.kill()
    (ended,) = await farm.until_ended(engine, plot)
    return _Killed(target, plot, data, engine, started, ended)


async def test_rsync_daemon_killed_mid_transfer_loses_nothing_and_is_retried(
    farm: Farm, rsync_daemon: RsyncDaemon, ssh_server: SshServer
) -> None:
    far_side = rsync_daemon.module_root
    target, plot, data, engine, started, ended = await _kill_rsyncd_mid_transfer(
        farm, rsync_daemon, ssh_server
    )
    assert ended.failed
    assert f"{plot.name} not moved (" in ended.message and "sent again later" in ended.message
    assert plot.read_bytes() == data
    assert plots_under(far_side) == []
    started_entry, failed = farm.entries(target)
    assert started_entry.result == "started"
    assert failed.pid == started.pid and failed.result.startswith("failed: ")

    # The target backs off: nothing starts until its retry time, even with the daemon back.
    rsync_daemon.start()
    waiting = await farm.step(engine)
    assert waiting.started == ()
    reason = wait_reason(waiting, target)
    assert reason.startswith("last transfer failed, next try in "), reason
    assert plot.name in reason
    # The dashboard says "error" from this field, not from the reason's words.
    assert waiting.retrying[target.name].count == 1

    farm.clock.offset += RETRY_S
    (retried,) = (await farm.step(engine)).started
    assert retried.source == str(plot)
    assert not any(e.failed for e in await farm.until_ended(engine, plot))
    assert target.name not in (await farm.step(engine)).retrying  # it went through
    landed = Path(target.archive_dirs[0]) / plot.name
    assert plots_under(far_side) == [landed]
    assert landed.read_bytes() == data
    assert not plot.exists()
    assert [entry.result.split(":")[0] for entry in farm.entries(target)] == [
        "started",
        "failed",
        "started",
        "ok",
    ]


async def test_a_farmer_that_answers_again_ends_the_targets_error_though_the_plot_is_held(
    farm: Farm, rsync_daemon: RsyncDaemon, ssh_server: SshServer
) -> None:
    # The retried plot is found already at the far side with other bytes: it is held, and no
    # plot goes through. The farmer answered all the same: archiving must not stay an error.
    target, plot, data, engine, _, ended = await _kill_rsyncd_mid_transfer(
        farm, rsync_daemon, ssh_server
    )
    assert ended.failed
    rsync_daemon.start()
    assert (await farm.step(engine)).retrying[target.name].count == 1
    decoy = Path(target.archive_dirs[0]) / plot.name
    decoy.write_bytes(os.urandom(len(data)))
    farm.clock.offset += RETRY_S
    result, _ = await farm.until(engine, lambda r: held_reason(r, target), "the plot to be held")
    assert target.name not in result.retrying
    assert plot.read_bytes() == data


async def test_full_archive_dirs_get_nothing_and_the_reason_names_them(farm: Farm) -> None:
    target = local_target(farm, "usb0", "usb1", free_space_margin_gib=10**6)
    plot = farm.plot()
    engine = farm.engine(target)
    result = await farm.step(engine)
    assert result.started == ()
    reason = wait_reason(result, target)
    assert reason.startswith("archive dirs full (")
    for directory in target.archive_dirs:
        assert f"{directory}: " in reason
    # Each dir's free space, and what it would need: the plot and the margin of 10**6 GiB.
    assert len(re.findall(r": [0-9.]+ [KMGT]?i?B free, needs 977 TiB", reason)) == 2, reason
    (wait,) = [event for event in result.events if event.kind is EventKind.WAIT]
    assert wait.message == f"{target.name}: waiting: {reason}"
    assert plot.exists() and farm.transfers(target) == []
    assert all(not any(Path(d).iterdir()) for d in target.archive_dirs)


async def test_a_wrong_host_key_is_refused_and_nothing_is_sent(
    farm: Farm, ssh_server: SshServer
) -> None:
    wrong = ssh_server.write_wrong_known_hosts(farm.root / "known_hosts")
    target = ssh_target(farm, ssh_server, known_hosts=wrong)
    plot = farm.plot()
    data = plot.read_bytes()
    engine = farm.engine(target)
    for _ in range(2):
        result = await farm.step(engine)
        assert result.started == ()
        reason = wait_reason(result, target)
        assert reason.startswith(f"SSH host key of {LOOPBACK}:{ssh_server.port} has changed")
        assert str(wrong) in reason and "ssh-keygen -R" in reason
    assert farm.transfers(target) == [] and farm.entries(target) == []
    assert plot.read_bytes() == data
    assert plots_under(farm.root / "farmer") == []


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections and never says a word (a hung farmer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(16)  # the kernel completes handshakes; nobody ever reads or writes
        yield listener.getsockname()[1]


@pytest.mark.parametrize("farmer", ["stopped", "silent"])
async def test_plotting_keeps_starting_jobs_while_the_farmer_is_down(
    farm: Farm, ssh_server: SshServer, farmer: str, request: pytest.FixtureRequest
) -> None:
    if farmer == "stopped":
        target = ssh_target(farm, ssh_server)
        ssh_server.stop()
        # Found down at once: plotting starts jobs after archiving has said so.
        down = "farmer unreachable: "
    else:
        target = ssh_target(farm, ssh_server, ssh_port=request.getfixturevalue("silent_port"))
        # Its free space is never read (the read times out after 5 s): plotting starts jobs
        # while the read hangs.
        down = "free space of the archive dirs not read yet"
    plot = farm.plot()
    archiving = farm.engine(target)
    sandbox = farm.sandbox
    config = load_config(sandbox.config_path)
    config = replace(
        config,
        scheduling=replace(config.scheduling, global_stagger_m=0),
        archiving=archiving.config.archiving,
    )
    plotting = PlottingEngine(
        config,
        lock=SchedulerLock(farm.root / "scheduler.lock"),
        action_log=farm.action_log,
        scanner=SandboxScanner(sandbox.root, sandbox.log_dir),
    )
    # (seconds since the start, what) for each plotting start and each archiving wait reason.
    seen: list[tuple[float, str]] = []
    begun = time.monotonic()

    def on_pass(result: PassResult | ArchivePassResult) -> None:
        now = time.monotonic() - begun
        if isinstance(result, PassResult) and result.started is not None:
            seen.append((now, "start"))
        elif isinstance(result, ArchivePassResult):
            seen.extend((now, wait.reason) for wait in result.waits)

    def unreachable_then_started() -> bool:
        """Plotting started two jobs, one pass apart, after archiving found the farmer down."""
        first = next((t for t, what in seen if what.startswith(down)), None)
        starts = [t for t, what in seen if what == "start" and first is not None and t > first]
        return len(starts) >= 2

    engine = Engine(plotting, on_pass, archiving=archiving, interval_s=0.2, archive_interval_s=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(engine.run(stop))
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not unreachable_then_started() and time.monotonic() < deadline:
            assert not running.done(), running
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(running, TIMEOUT_S)
        plotting.close()
        for pid in plotting.launched:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    assert unreachable_then_started(), seen
    assert plot.exists() and farm.transfers(target) == []


# -- transfers followed to their end ------------------------------------------------------------


async def test_the_loop_starts_the_next_plot_as_soon_as_a_transfer_ends(farm: Farm) -> None:
    target = local_target(farm)
    plots = [farm.plot(0, 0), farm.plot(1, 1)]
    archiving = farm.engine(target)
    results: list[ArchivePassResult] = []
    errors: list[Exception] = []

    def on_pass(result: PassResult | ArchivePassResult) -> None:
        assert isinstance(result, ArchivePassResult)
        results.append(result)

    # A pass a minute, as a farmer might set it: only a transfer's end wakes the loop sooner.
    engine = Engine(None, on_pass, archiving=archiving, on_error=errors.append)
    engine.archive_interval_s = 60.0
    stop = asyncio.Event()
    running = asyncio.create_task(engine.run(stop))

    def ended() -> list[Event]:
        return [e for r in results for e in r.events if e.kind is EventKind.TRANSFERRED]

    try:
        deadline = time.monotonic() + TIMEOUT_S
        while len(ended()) < len(plots) and time.monotonic() < deadline and not errors:
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(running, TIMEOUT_S)
    assert errors == []
    assert sorted(e.details["source"] for e in ended()) == sorted(map(str, plots))
    assert not any(e.failed for e in ended())
    assert plots_under(Path(target.archive_dirs[0])) == sorted(
        Path(target.archive_dirs[0]) / p.name for p in plots
    )
    assert [e.result for e in farm.entries(target)] == ["started", "ok"] * 2


async def test_a_transfer_whose_command_line_changes_is_followed_until_it_ends(
    farm: Farm,
) -> None:
    # A farmer's script that execs into its copier: the process moves on under another name,
    # as any transfer does for a moment inside exec (its command line is empty then).
    script = farm.root / "send-plot"
    script.write_text(
        "#!/bin/sh\n"
        'exec sh -c \'while [ ! -e "$3" ]; do sleep 0.02; done; '
        'part="$2/.$(basename "$1").part"; '
        'cp "$1" "$part" && mv "$part" "$2/$(basename "$1")" && rm "$1"\' '
        'copier "$1" "$2" "$3"\n'
    )
    script.chmod(0o755)
    go = farm.root / "go"
    archive_dir = farm.root / "farmer" / "disk00"
    archive_dir.mkdir(parents=True)
    target = ArchiveTarget(
        name=farm.name("script"),
        type=TargetType.SCRIPT,
        archive_dirs=(str(archive_dir),),
        max_concurrent=2,
        transfer_command=(str(script), "{source}", "{archive_dir}", str(go)),
        free_space_command=("sh", "-c", "echo 1000000000000000", "{archive_dir}"),
    )
    plot = farm.plot()
    data = plot.read_bytes()
    engine = farm.engine(target)
    (started,) = (await farm.step(engine)).started

    def copier_runs() -> bool:
        with contextlib.suppress(OSError):
            return b"copier" in Path(f"/proc/{started.pid}/cmdline").read_bytes()
        return False

    wait_for(copier_runs, TIMEOUT_S, "the script to exec its copier")
    for _ in range(3):
        result = await farm.step(engine)
        assert EventKind.TRANSFERRED not in kinds(result), result.events
        assert result.started == ()  # the plot is on its way: never a second transfer of it
        assert wait_reason(result, target) == "every finished plot is already on its way"
    go.touch()
    (ended,) = await farm.until_ended(engine, plot)
    assert not ended.failed, ended.message
    assert (archive_dir / plot.name).read_bytes() == data
    assert [e.result for e in farm.entries(target)] == ["started", "ok"]


# -- restarts and a second archiver -------------------------------------------------------------


async def test_a_restarted_archiver_follows_the_transfer_under_way(
    farm: Farm, other_filesystem: Path
) -> None:
    target = local_target(farm, on=other_filesystem, bwlimit_kbps=SLOW_KBPS, max_concurrent=2)
    plot = farm.plot()
    data = plot.read_bytes()
    before = farm.engine(target)
    (started,) = (await farm.step(before)).started
    before.close()  # the manager restarts; its transfer runs on

    after = farm.engine(target)
    result = await farm.step(after)
    assert result.holds_lock and result.started == ()
    assert [(t.pid, t.source) for t in result.transfers if t.target == target.name] == [
        (started.pid, str(plot))
    ]
    assert wait_reason(result, target) == "every finished plot is already on its way"
    assert [t.pid for t in farm.transfers(target)] == [started.pid]

    (ended,) = await farm.until_ended(after, plot)
    assert not ended.failed and ended.details["pid"] == started.pid
    assert (Path(target.archive_dirs[0]) / plot.name).read_bytes() == data
    started_entry, ok = farm.entries(target)
    assert (started_entry.result, started_entry.pid) == ("started", started.pid)
    assert (ok.result, ok.pid, ok.extra["bytes"]) == ("ok", started.pid, len(data))
    assert (await farm.step(after)).started == ()


async def test_two_archivers_on_one_lock_only_one_starts_transfers(
    farm: Farm, other_filesystem: Path
) -> None:
    target = local_target(farm, on=other_filesystem, bwlimit_kbps=SLOW_KBPS, max_concurrent=2)
    plots = [farm.plot(0, 0), farm.plot(1, 1), farm.plot(2, 0)]
    first = farm.engine(target)
    second = farm.engine(target)

    holder = await farm.step(first)
    assert holder.holds_lock and len(holder.started) == 2
    watchers = [await farm.step(second) for _ in range(2)]
    assert all(not w.holds_lock and w.started == () for w in watchers)
    (monitor,) = [e for w in watchers for e in w.events if e.kind is EventKind.MONITOR]
    assert f"held by pid {os.getpid()}" in monitor.message, monitor.message
    assert sorted(t.pid for t in farm.transfers(target)) == sorted(s.pid for s in holder.started)

    first.close()  # the holder ends: the other takes over, and still starts no second copy
    taken = await farm.step(second)
    assert taken.holds_lock and EventKind.LOCK in kinds(taken)
    assert taken.started == ()
    assert wait_reason(taken, target) == "2 of 2 transfers running (max_concurrent)"
    _, (last,) = await farm.until(second, lambda r: r.started, "the third plot to start")
    assert last.source == str(plots[2])
    ended = await farm.until_ended(second, *plots)
    assert not any(event.failed for event in ended), [event.message for event in ended]
    assert plots_under(other_filesystem) == sorted(
        Path(target.archive_dirs[0]) / p.name for p in plots
    )
    starts = [entry.pid for entry in farm.entries(target) if entry.result == "started"]
    assert len(starts) == 3 and set(starts) == {*(s.pid for s in holder.started), last.pid}


# -- the archive command ------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        PLOTMAN_TUI_DATA_DIR=str(tmp_path / "data"),
        PLOTMAN_TUI_CACHE_DIR=str(tmp_path / "cache"),
    )


def archive(env: dict[str, str], config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(PLOTMAN_TUI), "--config", str(config), "archive", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def test_the_archive_command_moves_a_plot_and_says_so_in_json(
    tmp_path: Path, real_plots: list[Path], env: dict[str, str]
) -> None:
    farm = Farm(tmp_path, real_plots)
    plot = farm.plot()
    data = plot.read_bytes()
    archive_dir = tmp_path / "usb0"
    archive_dir.mkdir()
    name = farm.name("usb")
    config = farm.sandbox.config_path
    with config.open("a", encoding="utf-8") as file:
        file.write(
            "\n[archiving]\nenabled = true\n\n[[archiving.targets]]\n"
            f'name = "{name}"\ntype = "local"\narchive_dirs = [{json.dumps(str(archive_dir))}]\n'
        )

    done = archive(env, config, "--once", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [event["event"] for event in events] == ["info", "lock", "transfer"]
    (sending,) = [event for event in events if event["event"] == "transfer"]
    assert (sending["target"], sending["source"]) == (name, str(plot))
    assert sending["archive_dir"] == str(archive_dir) and sending["bytes"] == len(data)
    # The transfer outlives the one pass that started it.
    landed = archive_dir / plot.name
    wait_for(lambda: landed.exists() and not plot.exists(), TIMEOUT_S, "the plot to arrive")
    assert landed.read_bytes() == data
    history = subprocess.run(
        [str(PLOTMAN_TUI), "history", "--json"], capture_output=True, text=True, env=env
    )
    assert history.returncode == 0, history.stderr
    logged = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(e["action"], e["result"], e["pid"]) for e in logged] == [
        ("transfer", "started", sending["pid"])
    ]

    off = make_sandbox(tmp_path / "plain", k=18).config_path  # no [archiving]: off
    refused = archive(env, off, "--once", "--json")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("plotman-tui: archiving is off: ")
    assert len(refused.stderr.splitlines()) == 1


# -- what must never move ---------------------------------------------------------------------


async def test_an_archive_dir_that_is_the_plots_own_dst_dir_moves_nothing(farm: Farm) -> None:
    plot = farm.plot()
    data = plot.read_bytes()
    # rsync would call the plot up to date there, and --remove-source-files would delete it.
    target = ArchiveTarget(
        name=farm.name("self"),
        type=TargetType.LOCAL,
        archive_dirs=(str(farm.sandbox.dst_dirs[0]),),
    )
    engine = farm.engine(target)
    result = await farm.step(engine)
    assert result.started == ()
    (error,) = [e for e in result.events if e.kind is EventKind.ERROR]
    assert "is the dst dir the plot is in" in error.message and error.failed
    assert plot.read_bytes() == data
    assert (await farm.step(engine)).started == ()  # and it is not offered again at once
    assert plot.exists()


async def test_young_odd_and_twice_listed_plots_are_left_alone(farm: Farm) -> None:
    dst = farm.sandbox.dst_dirs[0]
    young = farm.plot()
    os.utime(young, None)  # written just now: a copy may still be under way
    (dst / "plot-k1100-2026-11-24-10-00-x.plot").write_bytes(b"not a plot")
    (dst / "plot-k18-2026-11-24-10-00-small.plot").write_bytes(b"too small for k18")
    engine = farm.engine(local_target(farm))
    result = await farm.step(engine)
    assert result.started == ()
    # Not "no finished plots": the plot is named and sized like one, and waits to settle.
    reason = wait_reason(result, engine.targets[0])
    assert reason.startswith(f"{young.name} is left to settle until "), reason
    assert "unchanged for 1m before it moves" in reason

    # One disk listed twice (a symlink to it) offers its plot once, to one of two targets.
    settled = time.time() - SETTLED_S
    os.utime(young, (settled, settled))
    link = farm.root / "dst-link"
    link.symlink_to(dst)
    first, second = (
        replace(local_target(farm, name), name=farm.name(f"usb-{name}")) for name in ("a", "b")
    )
    config = farm.config(first, second)
    config = replace(
        config, directories=replace(config.directories, dst=(*config.directories.dst, link))
    )
    for target_engine in farm.engines:
        target_engine.close()
    two = farm.engine(*config.archiving.targets)
    two.config = config
    started = (await farm.step(two)).started
    assert [s.source for s in started] == [str(young)]


async def test_a_plot_that_cannot_be_removed_does_not_block_the_others(farm: Farm) -> None:
    stuck = farm.plot(0)
    settled = time.time() - SETTLED_S - 60  # the oldest: picked first
    os.utime(stuck, (settled, settled))
    other = farm.plot(1)
    # An immutable file (or a dst remounted read-only): rsync copies it but cannot remove it.
    made = subprocess.run(["chattr", "+i", str(stuck)], capture_output=True)
    require_real(made.returncode == 0, "chattr +i needs root and a file system that has it")
    try:
        engine = farm.engine(local_target(farm))
        (ended,) = await farm.until_ended(engine, stuck)
        assert ended.failed and stuck.exists()
        (moved,) = await farm.until_ended(engine, other)
        assert not moved.failed and not other.exists()
        # The failed plot waits its turn; the target itself did not back off.
        assert [e.details["source"] for e in farm.events if e.kind is EventKind.TRANSFER] == [
            str(stuck),
            str(other),
        ]
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=False)


async def test_the_next_run_reports_how_the_last_runs_transfer_ended(
    farm: Farm, other_filesystem: Path
) -> None:
    # cron's `archive --once`: one run starts a transfer and exits; the next says how it ended.
    plot = farm.plot()
    target = local_target(farm, on=other_filesystem, bwlimit_kbps=2048)  # about 2 s for k18
    first = farm.engine(target, state=True)
    (started,) = (await farm.step(first)).started
    first.close()
    started.popen.wait(timeout=30)
    assert not plot.exists()

    second = farm.engine(target, state=True)
    result = await farm.step(second)
    (ended,) = [e for e in result.events if e.kind is EventKind.TRANSFERRED]
    assert not ended.failed and ended.details["pid"] == started.pid
    assert [(e.result, e.pid) for e in farm.entries(target)] == [
        ("started", started.pid),
        ("ok", started.pid),
    ]
    second.close()
    third = farm.engine(target, state=True)  # said once: the state forgets it after that
    assert [e for e in (await farm.step(third)).events if e.kind is EventKind.TRANSFERRED] == []


# -- a far file of the plot's name (issue 10, 1.3) ---------------------------------------------


def far_target(farm: Farm, kind: str, request: pytest.FixtureRequest) -> ArchiveTarget:
    if kind == "ssh-skip2":
        # A farmer's --info=skip2 makes an ordinary move print "exists (uptodate)" from rsync's
        # quick check alone: no proof of the same bytes.
        target = far_target(farm, "ssh", request)
        return dataclasses.replace(target, rsync_options=("--info=skip2",))
    if kind == "ssh":
        return ssh_target(farm, request.getfixturevalue("ssh_server"))
    if kind == "rsyncd":
        server = request.getfixturevalue("ssh_server")
        return rsyncd_target(farm, request.getfixturevalue("rsync_daemon"), server)
    if kind == "local-same-filesystem":
        return local_target(farm)
    return local_target(farm, on=request.getfixturevalue("other_filesystem"))


def held_reason(result: ArchivePassResult, target: ArchiveTarget) -> str | None:
    reason = wait_reason(result, target)
    return reason if "remove or check it" in reason else None


@pytest.mark.parametrize("kind", ["rsyncd", "ssh", "local", "local-same-filesystem", "ssh-skip2"])
async def test_a_decoy_of_the_plots_name_size_and_mtime_is_never_taken_for_it(
    farm: Farm, kind: str, request: pytest.FixtureRequest
) -> None:
    # rsync's quick check would call the decoy up to date, send nothing, and
    # --remove-source-files would delete the only good copy.
    target = far_target(farm, kind, request)
    plot = farm.plot()
    data = plot.read_bytes()
    decoy = Path(target.archive_dirs[0]) / plot.name
    decoy_bytes = os.urandom(len(data))
    decoy.write_bytes(decoy_bytes)
    stat = plot.stat()
    os.utime(decoy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    engine = farm.engine(target)

    _, reason = await farm.until(engine, lambda r: held_reason(r, target), "the plot to be held")
    assert reason.startswith(f"{plot.name} waits for its retry at "), reason
    assert reason.endswith(
        f"{plot.name} is already in {target.archive_dirs[0]} on {target.name} with other "
        "bytes: remove or check it; the plot stays here"
    ), reason
    assert plot.read_bytes() == data
    assert decoy.read_bytes() == decoy_bytes
    assert plots_under(Path(target.archive_dirs[0])) == [decoy]
    results = [entry.result.split(":")[0] for entry in farm.entries(target)]
    if kind.startswith("local"):  # the mover compares by itself
        assert results == ["started", "failed"]
    else:  # rsync skips the existing file, then compares it by checksum
        assert results == ["started", "skipped", "verifying", "failed"]
    assert "with other bytes" in farm.entries(target)[-1].result
    # Held: later passes start nothing for it.
    again = await farm.step(engine)
    assert again.started == () and held_reason(again, target) is not None
    assert plot.read_bytes() == data and decoy.read_bytes() == decoy_bytes


async def test_a_far_file_the_comparison_cannot_judge_is_held_not_compared_again(
    farm: Farm, request: pytest.FixtureRequest
) -> None:
    # --update (allowed) skips a far file newer than the plot in the checksum run too: that run
    # ends without a verdict. The plot is held for the farmer; both copies are not read again
    # on every pass.
    target = dataclasses.replace(far_target(farm, "rsyncd", request), rsync_options=("--update",))
    plot = farm.plot()
    data = plot.read_bytes()
    decoy = Path(target.archive_dirs[0]) / plot.name
    decoy_bytes = os.urandom(len(data))
    decoy.write_bytes(decoy_bytes)
    newer = plot.stat().st_mtime + 3600
    os.utime(decoy, (newer, newer))
    engine = farm.engine(target)

    _, reason = await farm.until(engine, lambda r: held_reason(r, target), "the plot to be held")
    assert reason.endswith(
        f"{plot.name} is already in {target.archive_dirs[0]} on {target.name}: "
        "remove or check it; the plot stays here"
    ), reason
    results = [entry.result.split(":")[0] for entry in farm.entries(target)]
    assert results == ["started", "skipped", "verifying", "skipped"]
    for _ in range(3):
        again = await farm.step(engine)
        assert again.started == () and held_reason(again, target) is not None
    assert len(farm.entries(target)) == 4
    assert plot.read_bytes() == data and decoy.read_bytes() == decoy_bytes


@pytest.mark.parametrize("kind", ["rsyncd", "ssh", "local", "local-same-filesystem"])
async def test_a_far_copy_with_the_plots_bytes_lets_the_source_go(
    farm: Farm, kind: str, request: pytest.FixtureRequest
) -> None:
    # A move whose source removal was lost: the far side has the whole plot already.
    target = far_target(farm, kind, request)
    plot = farm.plot()
    data = plot.read_bytes()
    landed = Path(target.archive_dirs[0]) / plot.name
    shutil.copy2(plot, landed)
    engine = farm.engine(target)

    (ended,) = await farm.until_ended(engine, plot)
    if not kind.startswith("local"):  # the first end was the skip; the second the comparison
        assert [e.details["outcome"] for e in farm.events if e.kind is EventKind.TRANSFERRED] == [
            "exists",
            "done",
        ]
    assert not ended.failed, ended.message
    assert not plot.exists()
    assert landed.read_bytes() == data
    assert "already in" in ended.message and "same bytes" in ended.message, ended.message
    assert "MB/s" not in ended.message  # not reported as a transfer of its bytes
    assert ended.details["bytes_sent"] == 0
    assert farm.entries(target)[-1].result == "ok: already there"
    assert plots_under(Path(target.archive_dirs[0])) == [landed]


# -- a killed transfer is counted once (issue 10, 1.4) -----------------------------------------


async def test_a_killed_rsync_is_one_failure_and_its_leftover_helper_no_second_transfer(
    farm: Farm,
) -> None:
    # A local rsync move of the shape earlier versions started (or one started by hand): its
    # client forks a receiver, which the kernel reparents when the client is killed -9.
    target = local_target(farm)
    plot = farm.plot()
    data = plot.read_bytes()
    destination = str(Path(target.archive_dirs[0]) / plot.name)
    argv = [
        "rsync",
        "--remove-source-files",
        "--times",
        "--whole-file",
        "--bwlimit=256",
        "--",
        str(plot),
        destination,
    ]
    job = start_job(argv, farm.log_dir, nice=None)
    engine = farm.engine(target)
    try:
        first = await farm.step(engine)
        assert first.started == () and [t.pid for t in first.transfers] == [job.pid]
        wait_for(
            lambda: len(psutil.Process(job.pid).children(recursive=True)) == 2,
            TIMEOUT_S,
            "rsync's receiver and generator",
        )
        helpers = psutil.Process(job.pid).children(recursive=True)
        # The helpers are stuck a while (a slow disk): they outlive the client killed -9.
        for helper in helpers:
            helper.suspend()
        os.kill(job.pid, signal.SIGKILL)
        job.popen.wait(TIMEOUT_S)
        for _ in range(3):
            result = await farm.step(engine)
            assert result.started == ()  # a helper still holds the plot: nothing starts
            (leftover,) = [t for t in result.transfers if t.source == str(plot)]
            assert leftover.leftover_of == job.pid
            assert not any(e.kind is EventKind.TRANSFERRED for e in result.events)
        for helper in helpers:
            helper.resume()
        (ended,) = await farm.until_ended(engine, plot)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGKILL)
    assert ended.failed and ended.details["pid"] == job.pid
    (failed,) = farm.entries(target)  # one failure, under the pid that was started
    assert failed.pid == job.pid and failed.result.startswith("failed: ")
    assert plot.read_bytes() == data
    # The plot waits the documented 30 s from that failure, and says so (not "no plots").
    waiting = await farm.step(engine)
    retry_at = time.strftime("%H:%M:%S", time.localtime(ended.time + RETRY_S))
    assert wait_reason(waiting, target).startswith(
        f"{plot.name} waits for its retry at {retry_at} (in "
    ), wait_reason(waiting, target)
    farm.clock.offset += RETRY_S - (time.time() - ended.time) + 0.5
    (retried,) = (await farm.step(engine)).started
    assert retried.source == str(plot)
    assert not (await farm.until_ended(engine, plot))[0].failed
    assert Path(destination).read_bytes() == data


# -- a killed local mover's temp file (issue 10) -----------------------------------------------


def mover_temp_files(archive_dir: Path, plot_name: str) -> list[Path]:
    """The hidden temp files of local movers of ``plot_name`` in ``archive_dir``."""
    return sorted(archive_dir.glob(f".{plot_name}.partial-*"))


async def test_the_archiver_removes_a_killed_movers_temp_file_and_never_a_live_ones(
    farm: Farm, other_filesystem: Path
) -> None:
    # 64 KiB/s: a k18 plot takes over a minute, so each mover is mid-copy when looked at.
    target = local_target(farm, on=other_filesystem, bwlimit_kbps=64, max_concurrent=2)
    archive_dir = Path(target.archive_dirs[0])
    # Outside the dst dirs, so the archiver offers neither plot itself: only the movers here.
    outside = farm.root / "elsewhere"
    outside.mkdir()
    plots = [Path(shutil.copy2(farm.pool[i], outside / farm.pool[i].name)) for i in (0, 1)]
    data = [plot.read_bytes() for plot in plots]
    killed, live = (
        start_transfer(target, str(plot), str(archive_dir), farm.log_dir) for plot in plots
    )
    farm.started += [killed, live]  # killed at the end if still running
    (killed_temp,) = wait_for(
        lambda: mover_temp_files(archive_dir, plots[0].name), TIMEOUT_S, "the first copy to start"
    )
    (live_temp,) = wait_for(
        lambda: mover_temp_files(archive_dir, plots[1].name), TIMEOUT_S, "the second copy"
    )
    os.kill(killed.pid, signal.SIGKILL)
    assert killed.popen.wait(TIMEOUT_S) == -signal.SIGKILL
    engine = farm.engine(target)

    # Just killed: it could be the temp file of a mover on another machine sharing the dir.
    result = await farm.step(engine)
    assert killed_temp.exists() and live_temp.exists()
    # Unchanged since, by the archiver's clock: a killed mover's. The live mover's is kept
    # however old it looks, since that mover is alive here.
    farm.clock.offset += STALE_TEMP_S + 1
    result = await farm.step(engine)
    assert result.holds_lock and result.started == ()
    assert [t.pid for t in result.transfers if t.target == target.name] == [live.pid]
    assert not killed_temp.exists()
    assert mover_temp_files(archive_dir, plots[1].name) == [live_temp]
    assert live.popen.poll() is None
    assert [plot.read_bytes() for plot in plots] == data  # both sources whole
    assert plots_under(archive_dir) == []  # a temp name is no plot's


async def test_a_temp_file_without_a_mover_here_is_removed_only_once_unchanged_for_a_while(
    farm: Farm, other_filesystem: Path
) -> None:
    # A NAS dir two plotting machines archive to: the other machine's mover writes its temp
    # file, and this machine's process table cannot show that mover.
    target = local_target(farm, on=other_filesystem)
    archive_dir = Path(target.archive_dirs[0])
    name = farm.pool[0].name
    theirs = archive_dir / f".{name}.partial-0123abcd"
    theirs.write_bytes(b"being written elsewhere")
    # Named like a temp file, but no regular file: never removed.
    not_a_file = archive_dir / f".{name}.partial-4567cdef"
    not_a_file.mkdir()
    link = archive_dir / f".{name}.partial-89abcdef"
    link.symlink_to(farm.pool[0])
    engine = farm.engine(target)
    for _ in range(2):
        await farm.step(engine)
        assert theirs.exists()
    farm.clock.offset += STALE_TEMP_S - 30  # looked through, but not still for long enough
    await farm.step(engine)
    assert theirs.exists()
    farm.clock.offset += STALE_SWEEP_S  # the next look, when it has been still long enough
    await farm.step(engine)
    assert not theirs.exists()
    assert not_a_file.is_dir() and link.is_symlink() and farm.pool[0].exists()


async def test_a_mover_killed_between_rename_and_unlink_the_next_pass_removes_only_the_source(
    farm: Farm, other_filesystem: Path
) -> None:
    target = local_target(farm, on=other_filesystem)
    plot = farm.plot()
    data = plot.read_bytes()
    far = Path(target.archive_dirs[0]) / plot.name
    # The mover killed -9 the moment it unlinks its source: the plot is whole in both places.
    run_mover_killed_at_unlink(plot, far)
    assert plot.read_bytes() == data and far.read_bytes() == data
    engine = farm.engine(target)

    (ended,) = await farm.until_ended(engine, plot)
    assert not ended.failed, ended.message
    assert "already in" in ended.message and "same bytes" in ended.message, ended.message
    assert not plot.exists()
    assert far.read_bytes() == data
    assert plots_under(Path(target.archive_dirs[0])) == [far]
    assert [e.result for e in farm.entries(target)] == ["started", "ok: already there"]


async def test_a_plot_and_archive_dir_with_spaces_in_their_names_are_moved(
    farm: Farm, other_filesystem: Path
) -> None:
    target = local_target(farm, "usb disk 1", on=other_filesystem, bwlimit_kbps=SLOW_KBPS)
    copy = farm.plot()
    plot = copy.with_name(copy.name.removesuffix(".plot") + " copy (2).plot")
    copy.rename(plot)
    data = plot.read_bytes()
    engine = farm.engine(target)
    (started,) = (await farm.step(engine)).started
    assert started.source == str(plot)
    # Found under way by its command line (once out of exec), and followed to its end.
    found = wait_for(lambda: farm.transfers(target), TIMEOUT_S, "the mover in the process table")
    assert [(t.pid, t.source) for t in found] == [(started.pid, str(plot))]
    (ended,) = await farm.until_ended(engine, plot)
    assert not ended.failed, ended.message
    assert not plot.exists()
    assert (Path(target.archive_dirs[0]) / plot.name).read_bytes() == data
    assert plots_under(Path(target.archive_dirs[0])) == [Path(target.archive_dirs[0]) / plot.name]
