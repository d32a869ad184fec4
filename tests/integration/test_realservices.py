"""The real-service harness does what archiving tests rely on: real rsync and ssh on 127.0.0.1."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

import asyncssh
import pytest

from tests.realservices import (  # noqa: F401 (fixtures register by import)
    LOOPBACK,
    RsyncDaemon,
    SshServer,
    rsync_daemon_fixture,
    ssh_server_fixture,
)

pytestmark = pytest.mark.real_service


def random_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=1.0).close()
    except ConnectionRefusedError:
        return True
    return False


def run(argv: list[str], timeout_s: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
    )


def parse_df(output: str) -> tuple[int, int]:
    """(total, available) KiB from ``df -P`` output for one path."""
    fields = output.splitlines()[-1].split()
    return int(fields[1]), int(fields[3])


def test_rsync_daemon_receives_the_same_bytes(rsync_daemon: RsyncDaemon, tmp_path: Path) -> None:
    plot = tmp_path / "plot-k18-a.plot"
    data = random_file(plot, 1 << 20)

    plain = run(["rsync", str(plot), rsync_daemon.url("copied.plot")])
    assert plain.returncode == 0, plain.stderr
    partial = run(["rsync", "--partial-dir=.partial", str(plot), rsync_daemon.url("incoming/")])
    assert partial.returncode == 0, partial.stderr

    assert (rsync_daemon.module_root / "copied.plot").read_bytes() == data
    assert (rsync_daemon.module_root / "incoming" / plot.name).read_bytes() == data
    assert rsync_daemon.url("a/b") == f"rsync://127.0.0.1:{rsync_daemon.port}/plots/a/b"


def test_rsync_daemon_killed_mid_transfer_comes_back_on_its_port(
    rsync_daemon: RsyncDaemon, tmp_path: Path
) -> None:
    plot = tmp_path / "big.plot"
    data = random_file(plot, 8 << 20)
    port = rsync_daemon.port
    # Slowed to about 16 s so the kill surely lands mid-transfer.
    client = subprocess.Popen(
        ["rsync", "--bwlimit=512", "--partial-dir=.partial", str(plot), rsync_daemon.url()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 3
        while not any(rsync_daemon.module_root.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(rsync_daemon.module_root.iterdir()), "the transfer never started"

        rsync_daemon.kill()

        _, stderr = client.communicate(timeout=5)
        assert client.returncode != 0, f"rsync must notice its daemon died: {stderr}"
        assert not rsync_daemon.running
        assert refuses_connections(port)
        assert not (rsync_daemon.module_root / plot.name).exists()
    finally:
        client.kill()
        client.wait()

    rsync_daemon.restart()
    assert rsync_daemon.port == port
    resumed = run(["rsync", "--partial-dir=.partial", str(plot), rsync_daemon.url()])
    assert resumed.returncode == 0, resumed.stderr
    assert (rsync_daemon.module_root / plot.name).read_bytes() == data


def test_ssh_runs_df_with_the_generated_key(ssh_server: SshServer, tmp_path: Path) -> None:
    argv = [
        "ssh",
        "-i",
        str(ssh_server.identity_file),
        "-o",
        f"UserKnownHostsFile={ssh_server.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-p",
        str(ssh_server.port),
        f"{ssh_server.user}@127.0.0.1",
        "df",
        "-P",
        str(tmp_path),
    ]
    done = run(argv)
    assert done.returncode == 0, done.stderr
    total_kib, available_kib = parse_df(done.stdout)
    assert 0 < available_kib <= total_kib
    # The harness's own argv reaches the same server.
    again = run([*ssh_server.ssh_argv(), ssh_server.destination, "true"])
    assert again.returncode == 0, again.stderr


async def test_asyncssh_runs_df(ssh_server: SshServer, tmp_path: Path) -> None:
    async with asyncssh.connect(
        "127.0.0.1",
        port=ssh_server.port,
        username=ssh_server.user,
        client_keys=[str(ssh_server.identity_file)],
        known_hosts=str(ssh_server.known_hosts),
        config=None,
        agent_path=None,
    ) as conn:
        result = await conn.run(f"df -P {shlex.quote(str(tmp_path))}", check=True, timeout=5)
    assert isinstance(result.stdout, str)
    total_kib, available_kib = parse_df(result.stdout)
    assert 0 < available_kib <= total_kib


async def test_a_changed_host_key_is_refused(ssh_server: SshServer, tmp_path: Path) -> None:
    wrong = ssh_server.write_wrong_known_hosts(tmp_path / "known_hosts")
    assert ssh_server.host_public_key not in wrong.read_text()

    options = {**ssh_server.asyncssh_options(), "known_hosts": str(wrong)}
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with asyncssh.connect(**options):
            pass

    done = run([*ssh_server.ssh_argv(known_hosts=wrong), ssh_server.destination, "true"])
    assert done.returncode == 255
    assert "host key" in done.stderr.lower()


async def test_killed_sshd_refuses_then_starts_on_its_port(ssh_server: SshServer) -> None:
    port = ssh_server.port
    ssh_server.kill()

    assert refuses_connections(port)
    with pytest.raises(OSError):
        async with asyncssh.connect(**ssh_server.asyncssh_options()):
            pass
    assert run([*ssh_server.ssh_argv(), ssh_server.destination, "true"]).returncode == 255

    ssh_server.start()
    assert ssh_server.port == port
    done = run([*ssh_server.ssh_argv(), ssh_server.destination, "true"])
    assert done.returncode == 0, done.stderr


def test_rsync_over_ssh(ssh_server: SshServer, tmp_path: Path) -> None:
    plot = tmp_path / "plot-k18-b.plot"
    data = random_file(plot, 1 << 20)
    farm = tmp_path / "farm"
    farm.mkdir()

    done = run(
        [
            "rsync",
            "--partial-dir=.partial",
            "-e",
            ssh_server.rsync_rsh(),
            str(plot),
            f"{ssh_server.destination}:{farm}/",
        ]
    )
    assert done.returncode == 0, done.stderr
    assert (farm / plot.name).read_bytes() == data
