"""The one SSH layer: connections over asyncssh and the one-line problems they end in.

Archiving reads a farmer's free space and lists and removes its plots over it; the fleet
watches and steers other plotting machines over it. Both describe the machine as an
:class:`SshEndpoint` (or hand over their config object, which :func:`as_endpoint` turns into
one), so a refused host key, a refused login or a silent machine reads the same everywhere,
naming the machine by its role ("farmer", "plotter") and the config key that sets its port.

**Kept connections.** :class:`SshConnections` keeps one connection per endpoint name open and
reuses it (a refresh is then one channel, not a handshake), with SSH keepalives so a dead
machine or a NAT that forgot the connection is noticed. A connection that has dropped is
replaced at the next :meth:`SshConnections.get`; a caller that saw one time out discards it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import asyncssh

from plotman_tui.config.schema import ArchiveTarget, FleetHost

#: Where host keys are looked up when an endpoint names no ``known_hosts``.
DEFAULT_KNOWN_HOSTS: Final = Path("~/.ssh/known_hosts")
#: Seconds between SSH keepalives on a kept connection (asyncssh drops it after 3 unanswered).
KEEPALIVE_S: Final = 30.0


@dataclass(frozen=True)
class SshEndpoint:
    """A machine reached over SSH, and the words its problems are told in.

    ``name`` keys the connection pool (a target's or fleet host's name). ``role`` is the word
    messages use for the machine; ``port_key`` the config key they name for a wrong port.
    """

    name: str
    host: str
    port: int = 22
    user: str | None = None
    identity_file: Path | None = None
    known_hosts: Path | None = None  # None: ~/.ssh/known_hosts
    verify_host_key: bool = True
    role: str = "farmer"
    port_key: str = "ssh_port"


#: What the functions here accept: an endpoint, or the config object one is made from.
Endpoint = SshEndpoint | ArchiveTarget | FleetHost


def endpoint_of_target(target: ArchiveTarget) -> SshEndpoint:
    """An archive target's farmer (an ``ssh`` or ``rsyncd`` target)."""
    return SshEndpoint(
        name=target.name,
        host=target.host or "",
        port=target.ssh_port,
        user=target.user,
        identity_file=target.identity_file,
        known_hosts=target.known_hosts,
        verify_host_key=target.verify_host_key,
    )


def endpoint_of_host(host: FleetHost) -> SshEndpoint:
    """A fleet host: a plotter, whose port is set by ``port``."""
    return SshEndpoint(
        name=host.name,
        host=host.host,
        port=host.port,
        user=host.user,
        identity_file=host.identity_file,
        known_hosts=host.known_hosts,
        role="plotter",
        port_key="port",
    )


def as_endpoint(subject: Endpoint) -> SshEndpoint:
    """``subject`` as an :class:`SshEndpoint`."""
    if isinstance(subject, SshEndpoint):
        return subject
    if isinstance(subject, ArchiveTarget):
        return endpoint_of_target(subject)
    return endpoint_of_host(subject)


# -- problem messages ---------------------------------------------------------------------------


def address(subject: Endpoint) -> str:
    """``host:port`` (``[host]:port`` for an IPv6 address), as messages name the machine."""
    endpoint = as_endpoint(subject)
    host = endpoint.host or "?"
    return f"[{host}]:{endpoint.port}" if ":" in host else f"{host}:{endpoint.port}"


def known_hosts_path(subject: Endpoint) -> Path:
    """The known_hosts file the endpoint's host key is checked against."""
    return (as_endpoint(subject).known_hosts or DEFAULT_KNOWN_HOSTS).expanduser()


def _host_pattern(endpoint: SshEndpoint) -> str:
    """The machine's name as known_hosts writes it: ``host``, or ``[host]:port`` off port 22."""
    return endpoint.host if endpoint.port == 22 else f"[{endpoint.host}]:{endpoint.port}"


def _keyscan(endpoint: SshEndpoint) -> str:
    port = [] if endpoint.port == 22 else ["-p", str(endpoint.port)]
    command = shlex.join(["ssh-keyscan", *port, endpoint.host])
    return f"{command} >> {shlex.quote(str(known_hosts_path(endpoint)))}"


def host_has_known_key(subject: Endpoint) -> bool:
    """Whether known_hosts names the machine at all (then a refused key has changed)."""
    endpoint = as_endpoint(subject)
    try:
        known = asyncssh.read_known_hosts(str(known_hosts_path(endpoint)))
        port = None if endpoint.port == 22 else endpoint.port
        # No address: asyncssh then takes the host as one if it is an IP address.
        return bool(known.match(endpoint.host, "", port)[0])
    except (OSError, ValueError):
        return False


def host_key_problem(subject: Endpoint, *, known: bool) -> str:
    """What to do about a host key that known_hosts does not vouch for (one line)."""
    endpoint = as_endpoint(subject)
    path = known_hosts_path(endpoint)
    role = endpoint.role
    where = address(endpoint)
    if known:
        forget = shlex.join(["ssh-keygen", "-R", _host_pattern(endpoint), "-f", str(path)])
        return (
            f"SSH host key of {where} has changed since it was added to {path}, so it "
            f"is refused (the {role} was reinstalled, or something poses as it): check the "
            f"{role}'s key, then replace it: {forget} && {_keyscan(endpoint)}"
        )
    absent = f"is not in {path}" if path.exists() else f"is unknown ({path} does not exist)"
    return (
        f"SSH host key of {where} {absent}, so it is refused: check the {role}'s key "
        f"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the {role}) and add it with: "
        f"{_keyscan(endpoint)}"
    )


def login_problem(subject: Endpoint) -> str:
    """What to do when the machine refuses our SSH login (one line)."""
    endpoint = as_endpoint(subject)
    who = f" as {endpoint.user}" if endpoint.user else ""
    role = endpoint.role
    if endpoint.identity_file is not None:
        fix = f"add the public key of {endpoint.identity_file} to the {role}'s authorized_keys"
    else:
        fix = (
            "set identity_file, or load a key into ssh-agent, whose public key is in the "
            f"{role}'s authorized_keys"
        )
    return f"SSH login{who} on {address(endpoint)} refused (no key accepted): {fix}"


def identity_problem(subject: Endpoint) -> str | None:
    """A missing or unreadable identity_file, told before asyncssh reports it as an OSError."""
    identity_file = as_endpoint(subject).identity_file
    if identity_file is None:
        return None
    path = identity_file.expanduser()
    if not path.is_file():
        return (
            f"identity_file {path} does not exist: fix the path, or leave it out to use ssh-agent"
        )
    if not os.access(path, os.R_OK):
        return f"identity_file {path} is not readable by {_user_name()}"
    return None


def _user_name() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return "this user"


def ssh_problem(
    subject: Endpoint,
    error: BaseException,
    *,
    timeout_s: float,
    connected: bool,
    doing: str = "df",
) -> tuple[str, bool]:
    """A one-line problem for an SSH failure, and whether the machine still counts as reachable.

    ``connected``: whether the SSH connection was up when ``error`` happened (a timeout then
    means ``doing`` hung, not that the machine is silent). Host key and login problems leave
    the machine reachable: it answered, and it is the user who must act.
    """
    endpoint = as_endpoint(subject)
    where = address(endpoint)
    role = endpoint.role
    if isinstance(error, TimeoutError):
        if connected:
            # df waits on every mount; a fleet host's command more likely on the network.
            why = "a hung mount?" if doing == "df" else "a slow link or a busy host?"
            hung = f"{doing} on {where} did not finish within {timeout_s:g} s ({why})"
            return hung, True
        return (f"{role} unreachable: no SSH answer from {where} within {timeout_s:g} s", False)
    if isinstance(error, asyncssh.HostKeyNotVerifiable):
        return host_key_problem(endpoint, known=host_has_known_key(endpoint)), True
    if isinstance(error, asyncssh.PermissionDenied):
        return login_problem(endpoint), True
    if isinstance(error, asyncssh.KeyImportError):
        key = endpoint.identity_file
        if "passphrase" in str(error).lower() or "encrypt" in str(error).lower():
            return (
                f"identity_file {key} is protected by a passphrase, which cannot be asked for "
                f"here: load it into ssh-agent (ssh-add {key}) and leave identity_file out",
                True,
            )
        return f"cannot use identity_file {key}: {error}", True
    if isinstance(error, asyncssh.ConfigParseError):
        return f"cannot read your SSH client config (~/.ssh/config): {error}", True
    if isinstance(error, ValueError):  # asyncssh refusing an option before connecting
        return f"SSH settings for {where} rejected: {error}", True
    if isinstance(error, ConnectionRefusedError):
        return (
            f"{role} unreachable: {where} refused the connection (sshd not running, or the "
            f"wrong {endpoint.port_key}?)",
            False,
        )
    if isinstance(error, socket.gaierror):
        return f"{role} unreachable: cannot resolve host {endpoint.host} ({error.strerror})", False
    if isinstance(error, OSError):
        return f"{role} unreachable: {where}: {error.strerror or error}", False
    if isinstance(error, asyncssh.Error):
        return f"SSH connection to {where} failed: {error.reason or type(error).__name__}", False
    # Archiving's own words for its df, kept as they were before the fleet shared this.
    what = "free space check of" if doing == "df" else f"{doing} on"
    return f"{what} {where} failed: {error}", False


# -- connections --------------------------------------------------------------------------------


def _connect_options(endpoint: SshEndpoint, timeout_s: float, keepalive_s: float) -> dict[str, Any]:
    options: dict[str, Any] = {
        "port": endpoint.port,
        "connect_timeout": timeout_s,
        "keepalive_interval": keepalive_s,
    }
    if endpoint.user:
        options["username"] = endpoint.user
    if not endpoint.verify_host_key:
        options["known_hosts"] = None
    else:
        path = known_hosts_path(endpoint)
        # A missing file trusts nothing (asyncssh would raise FileNotFoundError, which reads
        # like a network error): the refusal then says which file to create.
        options["known_hosts"] = str(path) if path.is_file() else b""
    if endpoint.identity_file is not None:
        # Only that key, as the transfers' `ssh -i ... -o IdentitiesOnly=yes` does: an agent
        # holding many keys could use up the machine's MaxAuthTries.
        options["client_keys"] = [str(endpoint.identity_file.expanduser())]
        options["agent_path"] = None
    return options


async def connect(
    subject: Endpoint, timeout_s: float, *, keepalive_s: float = KEEPALIVE_S
) -> asyncssh.SSHClientConnection:
    """A new SSH connection to the machine; raises what asyncssh raises (:func:`ssh_problem`
    tells it in one line)."""
    endpoint = as_endpoint(subject)
    return await asyncssh.connect(
        endpoint.host, **_connect_options(endpoint, timeout_s, keepalive_s)
    )


def _connection_key(endpoint: SshEndpoint) -> tuple[object, ...]:
    # Role and port_key only change words: they need no new connection.
    return (
        endpoint.host,
        endpoint.port,
        endpoint.user,
        endpoint.known_hosts,
        endpoint.identity_file,
        endpoint.verify_host_key,
    )


class SshConnections:
    """One SSH connection per endpoint name, kept open between uses and replaced when it drops.

    An endpoint whose host, port, user or keys changed gets a new one. Used from one event loop.
    """

    def __init__(self, *, keepalive_s: float = KEEPALIVE_S) -> None:
        self._keepalive_s = keepalive_s
        self._open: dict[str, tuple[tuple[object, ...], asyncssh.SSHClientConnection]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(
        self, subject: Endpoint, timeout_s: float
    ) -> tuple[asyncssh.SSHClientConnection, bool]:
        """An open connection to the machine and whether it was reused."""
        endpoint = as_endpoint(subject)
        lock = self._locks.setdefault(endpoint.name, asyncio.Lock())
        async with lock:
            key = _connection_key(endpoint)
            kept = self._open.get(endpoint.name)
            if kept is not None:
                kept_key, connection = kept
                if kept_key == key and not connection.is_closed():
                    return connection, True
                self.discard(endpoint.name)
            connection = await connect(endpoint, timeout_s, keepalive_s=self._keepalive_s)
            self._open[endpoint.name] = (key, connection)
            return connection, False

    def discard(self, name: str) -> None:
        """Close and forget the connection kept for ``name`` (it failed or timed out)."""
        kept = self._open.pop(name, None)
        if kept is not None:
            kept[1].abort()

    async def close(self) -> None:
        """Close every connection."""
        connections = [connection for _, connection in self._open.values()]
        self._open.clear()
        for connection in connections:
            connection.close()
        for connection in connections:
            with contextlib.suppress(TimeoutError, asyncssh.Error, OSError):
                async with asyncio.timeout(2.0):
                    await connection.wait_closed()
