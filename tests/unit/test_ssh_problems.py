"""The shared SSH layer's one-line problems, for a farmer (archiving) and a plotter (the fleet).

The errors are real where they can be made on 127.0.0.1: a refused TCP connection, a host key
or login a real sshd refuses, a port that accepts and never answers.
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from plotman_tui.config.schema import ArchiveTarget, FleetHost, TargetType
from plotman_tui.farm.ssh import (
    DEFAULT_KNOWN_HOSTS,
    SshConnections,
    SshEndpoint,
    address,
    as_endpoint,
    connect,
    endpoint_of_host,
    endpoint_of_target,
    identity_problem,
    known_hosts_path,
    login_problem,
    ssh_problem,
)
from tests.realservices import (  # noqa: F401 (the fixture registers by import)
    LOOPBACK,
    SshServer,
    ssh_server_fixture,
)

TIMEOUT_S = 5.0


def plotter(server: SshServer, **overrides: Any) -> SshEndpoint:
    host = FleetHost(
        name="plotter2",
        host=LOOPBACK,
        port=server.port,
        user=server.user,
        identity_file=server.identity_file,
        known_hosts=server.known_hosts,
    )
    return endpoint_of_host(replace(host, **overrides))


def farmer(server: SshServer, **overrides: object) -> ArchiveTarget:
    options: dict[str, object] = {
        "name": "farmer",
        "type": TargetType.SSH,
        "archive_dirs": ("/farm/d1",),
        "host": LOOPBACK,
        "user": server.user,
        "ssh_port": server.port,
        "known_hosts": server.known_hosts,
        "identity_file": server.identity_file,
        **overrides,
    }
    return ArchiveTarget(**options)  # type: ignore[arg-type]


async def problem_of(endpoint: SshEndpoint | ArchiveTarget) -> tuple[str, bool]:
    """What connecting to ``endpoint`` ends in, as the one line the user reads."""
    try:
        connection = await connect(endpoint, TIMEOUT_S)
    except (TimeoutError, asyncssh.Error, OSError, ValueError) as error:
        return ssh_problem(endpoint, error, timeout_s=TIMEOUT_S, connected=False)
    connection.abort()
    raise AssertionError(f"{endpoint} accepted the connection")


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound, so nobody else takes it, and not
    listening, so the kernel answers a connection with a reset."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections and never says a word."""
    with socket.create_server((LOOPBACK, 0), backlog=16) as listener:
        yield listener.getsockname()[1]


# -- endpoints ----------------------------------------------------------------------------------


def test_a_fleet_host_is_a_plotter_whose_port_key_is_port() -> None:
    host = FleetHost(
        name="p2",
        host="plotter2.lan",
        port=2200,
        user="chia",
        identity_file=Path("/keys/fleet"),
        known_hosts=Path("/keys/known"),
    )
    assert endpoint_of_host(host) == SshEndpoint(
        name="p2",
        host="plotter2.lan",
        port=2200,
        user="chia",
        identity_file=Path("/keys/fleet"),
        known_hosts=Path("/keys/known"),
        verify_host_key=True,
        role="plotter",
        port_key="port",
    )
    assert as_endpoint(host) == endpoint_of_host(host)


def test_an_archive_target_is_a_farmer_whose_port_key_is_ssh_port() -> None:
    target = ArchiveTarget(
        name="farm",
        type=TargetType.SSH,
        archive_dirs=("/d",),
        host="farmer.lan",
        ssh_port=2222,
        verify_host_key=False,
    )
    endpoint = endpoint_of_target(target)
    assert (endpoint.name, endpoint.host, endpoint.port) == ("farm", "farmer.lan", 2222)
    assert (endpoint.role, endpoint.port_key, endpoint.verify_host_key) == (
        "farmer",
        "ssh_port",
        False,
    )
    assert as_endpoint(target) == endpoint and as_endpoint(endpoint) is endpoint


def test_addresses_bracket_ipv6_and_default_to_the_users_known_hosts() -> None:
    assert address(SshEndpoint(name="a", host="::1", port=2222)) == "[::1]:2222"
    assert address(SshEndpoint(name="a", host="plotter3")) == "plotter3:22"
    assert known_hosts_path(SshEndpoint(name="a", host="h")) == DEFAULT_KNOWN_HOSTS.expanduser()


# -- refused, silent, unresolvable --------------------------------------------------------------


async def test_a_refused_connection_names_the_role_and_its_port_key(closed_port: int) -> None:
    where = f"{LOOPBACK}:{closed_port}"
    as_plotter = SshEndpoint(
        name="p", host=LOOPBACK, port=closed_port, role="plotter", port_key="port"
    )
    assert await problem_of(as_plotter) == (
        f"plotter unreachable: {where} refused the connection (sshd not running, or the "
        "wrong port?)",
        False,
    )
    as_farmer = ArchiveTarget(
        name="f", type=TargetType.SSH, archive_dirs=("/d",), host=LOOPBACK, ssh_port=closed_port
    )
    assert await problem_of(as_farmer) == (
        f"farmer unreachable: {where} refused the connection (sshd not running, or the "
        "wrong ssh_port?)",
        False,
    )


async def test_silence_before_and_after_the_connection_tell_apart(silent_port: int) -> None:
    endpoint = SshEndpoint(name="p", host=LOOPBACK, port=silent_port, role="plotter")
    where = f"{LOOPBACK}:{silent_port}"
    with pytest.raises(TimeoutError) as raised:
        async with asyncio.timeout(0.2):
            await connect(endpoint, 0.2)
    silent = ssh_problem(endpoint, raised.value, timeout_s=0.2, connected=False, doing="watch")
    assert silent == (f"plotter unreachable: no SSH answer from {where} within 0.2 s", False)
    hung = ssh_problem(endpoint, raised.value, timeout_s=0.2, connected=True, doing="watch")
    assert hung == (
        f"watch on {where} did not finish within 0.2 s (a slow link or a busy host?)",
        True,
    )
    # Archiving's df keeps its own word.
    df = ssh_problem(endpoint, raised.value, timeout_s=0.2, connected=True)
    assert df[0].startswith(f"df on {where} did not finish")


def test_an_unknown_name_says_which_host() -> None:
    endpoint = SshEndpoint(name="p", host="plotter9.lan", role="plotter", port_key="port")
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert ssh_problem(endpoint, error, timeout_s=1, connected=False) == (
        "plotter unreachable: cannot resolve host plotter9.lan (Name or service not known)",
        False,
    )


def test_something_unforeseen_is_told_with_what_was_being_done() -> None:
    endpoint = SshEndpoint(name="p", host="h", role="plotter")
    error = RuntimeError("boom")
    assert ssh_problem(endpoint, error, timeout_s=1, connected=True, doing="watch") == (
        "watch on h:22 failed: boom",
        False,
    )
    assert ssh_problem(endpoint, error, timeout_s=1, connected=True)[0] == (
        "free space check of h:22 failed: boom"
    )


# -- host keys and logins against a real sshd ---------------------------------------------------

pytest_real = pytest.mark.real_service


@pytest_real
async def test_a_changed_host_key_of_a_plotter(ssh_server: SshServer, tmp_path: Path) -> None:
    wrong = ssh_server.write_wrong_known_hosts(tmp_path / "known_hosts")
    port = ssh_server.port
    text, reachable = await problem_of(plotter(ssh_server, known_hosts=wrong))
    forget = f"ssh-keygen -R '[{LOOPBACK}]:{port}' -f {wrong}"
    assert text == (
        f"SSH host key of {LOOPBACK}:{port} has changed since it was added to {wrong}, so it is "
        "refused (the plotter was reinstalled, or something poses as it): check the plotter's "
        f"key, then replace it: {forget} && ssh-keyscan -p {port} {LOOPBACK} >> {wrong}"
    )
    assert reachable  # it answered; the user must act


@pytest_real
async def test_a_changed_host_key_of_a_farmer_keeps_archivings_words(
    ssh_server: SshServer, tmp_path: Path
) -> None:
    wrong = ssh_server.write_wrong_known_hosts(tmp_path / "known_hosts")
    text, _ = await problem_of(farmer(ssh_server, known_hosts=wrong))
    assert "(the farmer was reinstalled, or something poses as it): check the farmer's key" in text
    assert "plotter" not in text


@pytest_real
async def test_an_unknown_host_key_of_a_plotter_says_how_to_add_it(
    ssh_server: SshServer, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    port = ssh_server.port
    text, reachable = await problem_of(plotter(ssh_server, known_hosts=empty))
    assert text == (
        f"SSH host key of {LOOPBACK}:{port} is not in {empty}, so it is refused: check the "
        "plotter's key (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the plotter) and "
        f"add it with: ssh-keyscan -p {port} {LOOPBACK} >> {empty}"
    )
    assert reachable
    # The fix, run as written, lets the next connection in.
    fix = text.split("add it with: ", 1)[1]
    subprocess.run(["sh", "-c", fix], check=True, capture_output=True, timeout=10)
    connection = await connect(plotter(ssh_server, known_hosts=empty), TIMEOUT_S)
    connection.abort()


@pytest_real
async def test_a_key_the_plotter_does_not_know_is_a_login_problem(
    ssh_server: SshServer, tmp_path: Path
) -> None:
    stranger = tmp_path / "id_stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    text, reachable = await problem_of(plotter(ssh_server, identity_file=stranger))
    assert text == (
        f"SSH login as {ssh_server.user} on {LOOPBACK}:{ssh_server.port} refused (no key "
        f"accepted): add the public key of {stranger} to the plotter's authorized_keys"
    )
    assert reachable
    assert "the plotter's authorized_keys" in login_problem(
        SshEndpoint(name="p", host="h", role="plotter")
    )


def test_a_missing_identity_file_is_told_before_connecting(tmp_path: Path) -> None:
    absent = tmp_path / "id_absent"
    endpoint = SshEndpoint(name="p", host="h", identity_file=absent, role="plotter")
    assert identity_problem(endpoint) == (
        f"identity_file {absent} does not exist: fix the path, or leave it out to use ssh-agent"
    )
    assert identity_problem(SshEndpoint(name="p", host="h")) is None


def test_a_hostile_host_name_is_quoted_in_the_suggested_commands(tmp_path: Path) -> None:
    known = tmp_path / "known hosts"
    endpoint = SshEndpoint(name="p", host="x; rm -rf ~", known_hosts=known, role="plotter")
    error = asyncssh.HostKeyNotVerifiable("not trusted")
    text, _ = ssh_problem(endpoint, error, timeout_s=1, connected=False)
    command = text.split("add it with: ", 1)[1]
    assert shlex.split(command) == ["ssh-keyscan", "x; rm -rf ~", ">>", str(known)]


# -- kept connections ---------------------------------------------------------------------------


@pytest_real
async def test_a_kept_connection_is_reused_until_the_endpoint_changes(
    ssh_server: SshServer,
) -> None:
    connections = SshConnections(keepalive_s=5.0)
    try:
        await check_kept_connections(ssh_server, connections)
    finally:
        await connections.close()


async def check_kept_connections(ssh_server: SshServer, connections: SshConnections) -> None:
    endpoint = plotter(ssh_server)
    first, reused = await connections.get(endpoint, TIMEOUT_S)
    assert not reused
    again, reused = await connections.get(endpoint, TIMEOUT_S)
    assert reused and again is first
    # Words alone need no new connection; another port (or user, or key) does.
    reworded = replace(endpoint, role="farmer", port_key="ssh_port")
    same, reused = await connections.get(reworded, TIMEOUT_S)
    assert reused and same is first
    # user None logs in as the local user, as the server's user is: the same login, but set
    # another way, so a new connection.
    other, reused = await connections.get(replace(endpoint, user=None), TIMEOUT_S)
    assert not reused and other is not first
    async with asyncio.timeout(TIMEOUT_S):
        await first.wait_closed()  # the replaced one is closed, not leaked
    connections.discard(endpoint.name)
    async with asyncio.timeout(TIMEOUT_S):
        await other.wait_closed()
    fresh, reused = await connections.get(endpoint, TIMEOUT_S)
    assert not reused and fresh is not other
    result = await fresh.run("echo kept", check=True)
    assert result.stdout == "kept\n"
