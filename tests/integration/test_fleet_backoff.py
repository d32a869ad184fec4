"""A host that comes up and dies at once, again and again, is tried less and less often, as one
that never answers: a review found it retried every second for ever (each time a new watch
and a whole scan on that plotter). Real sshd on 127.0.0.1, the host's real watch cut after its
snapshot."""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path

import pytest

from plotman_tui.fleet.client import DOWN_BACKOFF_S, FleetClient
from plotman_tui.fleet.model import HostStatus
from tests.fleethosts import bed, fleet_config, load_fleet, require_fleet

pytestmark = [pytest.mark.real_service, pytest.mark.xdist_group("fleet")]

#: The host's real watch, its hello and snapshot passed on, then gone (exit 0: as a watch
#: killed there, or a plotter that reboots right after answering).
SNAPSHOT_THEN_EXIT = """\
import subprocess, sys
real = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
assert real.stdout is not None
for _ in range(2):
    sys.stdout.buffer.write(real.stdout.readline())
sys.stdout.flush()
real.kill()
"""


async def test_a_host_that_dies_right_after_its_snapshot_backs_off_further_each_time(
    tmp_path: Path,
) -> None:
    require_fleet(namespaces=False)
    flaky = tmp_path / "snapshot_then_exit.py"
    flaky.write_text(SNAPSHOT_THEN_EXIT)
    with bed(tmp_path, ["flaky"], namespaces=False) as hosts:
        (host,) = hosts
        host.command = f"{shlex.quote(sys.executable)} {shlex.quote(str(flaky))} {host.command}"
        config = load_fleet(fleet_config(tmp_path, hosts))
        delays: list[float] = []
        ups = 0
        done = asyncio.Event()

        def changed(name: str) -> None:
            nonlocal ups
            view = client.view(name)
            assert view is not None
            if view.status is HostStatus.UP:
                ups += 1
            elif view.status is HostStatus.DOWN and view.retry_at is not None:
                delays.append(round(view.retry_at - view.updated_at, 3))
                if len(delays) >= 3:
                    done.set()

        client = FleetClient(config, on_change=changed, connect_timeout_s=10.0)
        stop = asyncio.Event()
        task = asyncio.create_task(client.run(stop))
        try:
            await asyncio.wait_for(done.wait(), 90)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
    assert ups >= 3  # each session did come up: its snapshot was in
    assert delays[:3] == list(DOWN_BACKOFF_S[:3]), delays
