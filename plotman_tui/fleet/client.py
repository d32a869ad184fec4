"""The fleet client: one connection and one ``watch --json`` per host, decoded into views.

Each host has a task of its own, so a host that is slow, silent or gone never holds up another
or the caller. A remote host is one kept asyncssh connection (:mod:`plotman_tui.farm.ssh`) on
which its watch runs as ``<command> watch --json``; this machine's watch is a child process
run with this interpreter and this config. Lines are decoded by :mod:`plotman_tui.fleet.wire`
into the host's :class:`~plotman_tui.fleet.model.HostView`; every change calls ``on_change``.

**Liveness.** A watch prints something at least every :data:`~plotman_tui.fleet.wire.BEAT_S`;
nothing for ``silent_s`` marks the host down and drops its connection, as does the end of the
watch or of the connection. Down hosts are retried after 1, 2, 4 ... 60 s; hosts that answer
but cannot serve (a refused host key or login, a wrong command, an older plotman-tui, garbage)
are *failed* and retried from 15 s on, since the farmer has to act first. :meth:`wake` retries
at once.

**Control.** :meth:`FleetClient.run_command` runs the host's own plotman-tui command (``suspend
pid:N@T``, ``plotting pause`` ...) on the same connection, so the host checks and records it
as if typed there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final, Protocol

import asyncssh

from plotman_tui.config.schema import LOCAL_HOST_NAME, Config, FleetHost
from plotman_tui.farm import ssh
from plotman_tui.farm.units import printable
from plotman_tui.fleet.model import LOCAL_ADDRESS, HostStatus, HostView
from plotman_tui.fleet.wire import MAX_LINE_BYTES, Hello, WireError, apply, decode_line

logger = logging.getLogger(__name__)

#: No line (nor part of one) from a watch for this long marks its host down; it beats every 2 s.
SILENT_S: Final = 8.0
#: Seconds before each retry of a host that went down, one after another; the last repeats.
DOWN_BACKOFF_S: Final = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0)
#: The same for a host that failed (its farmer must act first).
FAILED_BACKOFF_S: Final = (15.0, 30.0, 60.0)
#: How much of a watch's or a command's stderr is kept for its message.
STDERR_KEPT_BYTES: Final = 8 * 1024
#: The most of a control command's stdout that is read (its answer is a line or a JSON list).
COMMAND_OUTPUT_BYTES: Final = 4 * 1024 * 1024
_CHUNK: Final = 64 * 1024
#: A line under way keeps its host up while it comes at least this fast (bytes a second): a
#: 50-job snapshot (some 270 KB) over a 32 kbit/s link still comes whole; a byte now and then
#: does not keep a host up.
LINE_PACE_BYTES: Final = 2 * 1024
#: A session that served this long starts the back-off from its first step again when it ends;
#: a host that sends its snapshot and dies each time backs off as one that never answers.
SERVED_S: Final = 60.0
#: Lines longer than this are decoded off the event loop (the keys answer meanwhile).
DECODE_OFF_LOOP_BYTES: Final = 1024 * 1024
#: How long a closing watch or connection is given before it is dropped.
CLOSE_S: Final = 1.0


@dataclass(frozen=True)
class RemoteResult:
    """What a host's own plotman-tui command did: its exit status and output; ``problem`` when
    it could not be run at all (the host unreachable, the command not answering in time)."""

    exit_code: int | None
    stdout: str
    stderr: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.exit_code == 0

    def last_line(self) -> str:
        """The command's own word on what it did: its last non-blank stderr line (an error),
        else stdout's, else the problem."""
        for text in (self.stderr if self.exit_code else "", self.stdout, self.stderr):
            line = _last_line(text)
            if line:
                return line
        return self.problem or (f"exit status {self.exit_code}" if self.exit_code else "")


class _Reader(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


class _LineTooLong(Exception):
    pass


class _Silent(Exception):
    pass


class _Lines:
    """Lines from a byte stream, each at most ``limit`` bytes. A line must end within
    ``silent_s`` of its start, plus a second for every :data:`LINE_PACE_BYTES` of it come so
    far: a watch that goes quiet is down, even mid-line, and so is one that trickles a byte
    now and then (each read alone in time); a big snapshot on a slow link is not."""

    def __init__(self, reader: _Reader, limit: int, silent_s: float) -> None:
        self._reader = reader
        self._limit = limit
        self._silent_s = silent_s
        self._buffer = bytearray()
        self._scanned = 0

    async def next(self) -> bytes | None:
        """The next line without its newline; None at the end of the stream."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                self._scanned = 0
                return line
            if len(self._buffer) > self._limit:
                raise _LineTooLong
            self._scanned = len(self._buffer)
            allowed = self._silent_s + len(self._buffer) / LINE_PACE_BYTES
            left = min(started + allowed - loop.time(), self._silent_s)
            if left <= 0:
                raise _Silent
            try:
                async with asyncio.timeout(left):
                    chunk = await self._reader.read(_CHUNK)
            except TimeoutError:
                raise _Silent from None
            if not chunk:
                if self._buffer:  # a last line without its newline: still a line
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    return line
                return None
            self._buffer += chunk


class _Tail:
    """The last bytes of a stream (a watch's stderr), read in the background."""

    def __init__(self, reader: _Reader) -> None:
        self.data = bytearray()
        self._task = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: _Reader) -> None:
        with contextlib.suppress(Exception):
            while chunk := await reader.read(_CHUNK):
                self.data += chunk
                del self.data[:-STDERR_KEPT_BYTES]

    async def text(self, wait_s: float = 0.5) -> str:
        """What came, once the stream ended (or ``wait_s`` passed)."""
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(wait_s):
                await asyncio.shield(self._task)
        return self.data.decode("utf-8", "replace")

    def cancel(self) -> None:
        self._task.cancel()


@dataclass(frozen=True)
class _Ended:
    """How a watch session ended: the host's status and why."""

    status: HostStatus
    problem: str


def host_address(host: FleetHost) -> str:
    """How the fleet names where a host is: ``user@host:port`` (``host:port`` with no user)."""
    where = ssh.address(host)
    return f"{host.user}@{where}" if host.user else where


def watch_command(host: FleetHost) -> str:
    # ``command`` is a shell line of the farmer's (it may hold its own quoting and env).
    return f"{host.command} watch --json"


def control_command(host: FleetHost, argv: Sequence[str]) -> str:
    return f"{host.command} {shlex.join(argv)}"


def local_argv(config: Config, argv: Sequence[str]) -> list[str]:
    """This machine's plotman-tui with this config, run by this interpreter (PATH may name
    another install, or none)."""
    config_args = ["--config", str(config.source)] if config.source is not None else []
    return [sys.executable, "-m", "plotman_tui", *config_args, *argv]


def ended_problem(
    name: str, command: str, exit_code: int | None, stderr: str, *, remote: bool = True
) -> _Ended:
    """Why a watch that ended is no use, from its exit status and the end of its stderr."""
    last = _last_line(stderr)
    if exit_code == 2 and "invalid choice: 'watch'" in stderr:
        return _Ended(
            HostStatus.FAILED,
            f"the plotman-tui on {name} has no `watch` (it is older than the fleet): upgrade it",
        )
    not_found = exit_code in (126, 127) or (
        exit_code not in (0, 1, 2, None) and "not found" in last
    )
    if not_found and remote:
        return _Ended(
            HostStatus.FAILED,
            f"`{command}` not found on {name}: set command in its [[fleet.hosts]] table to how "
            "plotman-tui runs there" + (f" ({last})" if last else ""),
        )
    if exit_code is None:
        return _Ended(HostStatus.DOWN, f"its watch was cut off{_after(last)}")
    if exit_code == 0:  # it left on a signal or a hangup there (a reboot, a killed session)
        return _Ended(HostStatus.DOWN, f"its watch ended{_after(last)}")
    if exit_code == 2:  # plotman-tui's status for a config or usage error: its line says which
        return _Ended(
            HostStatus.FAILED, f"plotman-tui on {name} cannot watch: {last or 'exit status 2'}"
        )
    return _Ended(HostStatus.FAILED, f"its watch ended (exit status {exit_code}){_after(last)}")


def _after(last: str) -> str:
    return f": {last}" if last else ""


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            shown = printable(line.strip())
            return shown if len(shown) <= 300 else shown[:299] + "…"
    return ""


class _Host:
    """One host's mutable state, owned by the client's event loop."""

    def __init__(self, name: str, host: FleetHost | None, view: HostView) -> None:
        self.name = name
        self.host = host  # None: this machine
        self.view = view
        self.wake = asyncio.Event()
        self.failures = 0
        self.up_since: float | None = None  # monotonic: when this session had its snapshot
        self.connection: asyncssh.SSHClientConnection | None = None
        self.connecting = asyncio.Lock()

    def served(self, seconds: float) -> bool:
        """Whether this session has been up (its snapshot in) for ``seconds``."""
        return self.up_since is not None and time.monotonic() - self.up_since >= seconds


class FleetClient:
    """Every host of ``config``'s fleet, each watched by its own task while :meth:`run` runs."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[str], None] | None = None,
        connect_timeout_s: float = 10.0,
        silent_s: float = SILENT_S,
    ) -> None:
        self._config = config
        self._clock = clock
        self._on_change = on_change
        self._connect_timeout_s = connect_timeout_s
        self._silent_s = silent_s
        self._hosts: dict[str, _Host] = {}
        if config.fleet.include_local:
            view = HostView(name=LOCAL_HOST_NAME, address=LOCAL_ADDRESS)
            self._hosts[LOCAL_HOST_NAME] = _Host(LOCAL_HOST_NAME, None, view)
        for host in config.fleet.active_hosts:
            view = HostView(name=host.name, address=host_address(host))
            self._hosts[host.name] = _Host(host.name, host, view)

    # -- what it knows ---------------------------------------------------------------------------

    def views(self) -> list[HostView]:
        """Every host's view: this machine first, then the hosts in config order."""
        return [state.view for state in self._hosts.values()]

    def view(self, name: str) -> HostView | None:
        state = self._hosts.get(name)
        return state.view if state is not None else None

    def names(self) -> list[str]:
        return list(self._hosts)

    def wake(self, name: str) -> None:
        """Retry a down or failed host now instead of at its back-off's end."""
        state = self._hosts.get(name)
        if state is not None:
            state.wake.set()

    # -- running ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Watch every host until ``stop`` is set, then close every watch and connection."""
        tasks = [
            asyncio.create_task(self._keep_watching(state, stop), name=f"fleet {state.name}")
            for state in self._hosts.values()
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._close_connections()

    async def _close_connections(self) -> None:
        connections = [s.connection for s in self._hosts.values() if s.connection is not None]
        for state in self._hosts.values():
            state.connection = None
        for connection in connections:
            connection.close()
        for connection in connections:
            with contextlib.suppress(TimeoutError, asyncssh.Error, OSError):
                async with asyncio.timeout(CLOSE_S):
                    await connection.wait_closed()

    def _set(self, state: _Host, view: HostView) -> None:
        if view == state.view:
            return
        state.view = view
        if view.status is HostStatus.UP and state.up_since is None:
            state.up_since = time.monotonic()
        if self._on_change is not None:
            self._on_change(state.name)

    async def _keep_watching(self, state: _Host, stop: asyncio.Event) -> None:
        while not stop.is_set():
            state.up_since = None
            now = self._clock()
            self._set(state, replace(state.view, status=HostStatus.CONNECTING, updated_at=now))
            try:
                ended = await self._watch(state)
            except Exception as error:  # a bug here must cost this host, not the fleet
                logger.exception("fleet host %s: watch session failed", state.name)
                ended = _Ended(HostStatus.DOWN, f"fleet client error: {type(error).__name__}")
                self._drop_connection(state)
            if state.served(SERVED_S):  # back off from the first step again
                state.failures = 0
            delays = FAILED_BACKOFF_S if ended.status is HostStatus.FAILED else DOWN_BACKOFF_S
            delay = delays[min(state.failures, len(delays) - 1)]
            state.failures += 1
            now = self._clock()
            self._set(
                state,
                replace(
                    state.view,
                    status=ended.status,
                    problem=ended.problem,
                    retry_at=now + delay,
                    updated_at=now,
                ),
            )
            state.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await state.wake.wait()

    async def _watch(self, state: _Host) -> _Ended:
        """One watch session of the host, from connecting to its end."""
        if state.host is None:
            return await self._watch_local(state)
        return await self._watch_remote(state, state.host)

    async def _watch_local(self, state: _Host) -> _Ended:
        argv = local_argv(self._config, ["watch", "--json"])
        try:
            # stdin kept open: a watch ends when its stdin does (its client has left).
            process = await _spawn(argv, asyncio.subprocess.PIPE)
        except OSError as error:
            return _Ended(HostStatus.FAILED, f"cannot start this machine's watch: {error}")
        assert process.stdout is not None and process.stderr is not None
        tail = _Tail(process.stderr)
        try:
            ended = await self._follow(
                state, _Lines(process.stdout, MAX_LINE_BYTES, self._silent_s)
            )
            if ended is not None:
                return ended
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_S):
                    await process.wait()
            return ended_problem(
                state.name, argv[0], process.returncode, await tail.text(), remote=False
            )
        finally:
            tail.cancel()
            if process.stdin is not None:
                process.stdin.close()
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    async with asyncio.timeout(CLOSE_S):
                        await process.wait()
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()

    async def _connect(self, state: _Host, host: FleetHost) -> asyncssh.SSHClientConnection:
        async with state.connecting:
            connection = state.connection
            if connection is not None and not connection.is_closed():
                return connection
            async with asyncio.timeout(self._connect_timeout_s + 1.0):
                connection = await ssh.connect(host, self._connect_timeout_s)
            state.connection = connection
            return connection

    def _drop_connection(self, state: _Host) -> None:
        if state.connection is not None:
            state.connection.abort()
            state.connection = None

    def _ssh_ended(self, host: FleetHost, error: BaseException, *, connected: bool) -> _Ended:
        problem, reachable = ssh.ssh_problem(
            host, error, timeout_s=self._connect_timeout_s, connected=connected, doing="watch"
        )
        # Reachable but refused (host key, login, identity): only the farmer can fix that.
        return _Ended(HostStatus.FAILED if reachable else HostStatus.DOWN, problem)

    async def _watch_remote(self, state: _Host, host: FleetHost) -> _Ended:
        problem = ssh.identity_problem(host)
        if problem is not None:
            return _Ended(HostStatus.FAILED, problem)
        try:
            connection = await self._connect(state, host)
        except (TimeoutError, asyncssh.Error, OSError, ValueError) as error:
            self._drop_connection(state)
            return self._ssh_ended(host, error, connected=False)
        try:
            process = await connection.create_process(watch_command(host), encoding=None)
        except (asyncssh.Error, OSError) as error:
            self._drop_connection(state)
            return self._ssh_ended(host, error, connected=True)
        tail = _Tail(process.stderr)
        try:
            ended = await self._follow(
                state, _Lines(process.stdout, MAX_LINE_BYTES, self._silent_s)
            )
            if ended is not None:
                self._drop_connection(state)
                return ended
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_S):
                    await process.wait_closed()
            if process.exit_status is None and connection.is_closed():
                self._drop_connection(state)
                return _Ended(HostStatus.DOWN, f"lost the SSH connection to {ssh.address(host)}")
            ended = ended_problem(host.name, host.command, process.exit_status, await tail.text())
            if ended.status is HostStatus.DOWN:
                self._drop_connection(state)
            return ended
        except (asyncssh.Error, OSError) as error:
            self._drop_connection(state)
            return self._ssh_ended(host, error, connected=True)
        finally:
            tail.cancel()
            process.close()

    def _lines(self, reader: _Reader) -> _Lines:
        return _Lines(reader, MAX_LINE_BYTES, self._silent_s)

    async def _follow(self, state: _Host, lines: _Lines) -> _Ended | None:
        """Apply the watch's lines to the host's view until its output ends (None) or the
        host turns out silent, failed or garbled (how it ended)."""
        while True:
            try:
                line = await lines.next()
            except _Silent:
                return _Ended(HostStatus.DOWN, f"no news from its watch for {self._silent_s:g} s")
            except _LineTooLong:
                return _Ended(
                    HostStatus.FAILED,
                    f"garbage from its watch: a line over {MAX_LINE_BYTES // 2**20} MiB",
                )
            if line is None:
                return None
            if not line.strip():
                continue
            try:
                if len(line) > DECODE_OFF_LOOP_BYTES:
                    message = await asyncio.to_thread(decode_line, line)
                else:
                    message = decode_line(line)
            except WireError as error:
                return _Ended(HostStatus.FAILED, f"garbage from its watch: {error}")
            try:
                view = apply(state.view, message, self._clock())
            except WireError as error:
                # A hello refused is another version, not garbage: its words say which.
                why = f"its watch {error}" if isinstance(message, Hello) else f"garbage: {error}"
                return _Ended(HostStatus.FAILED, why)
            self._set(state, view)
            if view.status is HostStatus.FAILED:  # the watch's own error line
                return _Ended(HostStatus.FAILED, view.problem or "its watch stopped")

    # -- control ---------------------------------------------------------------------------------

    async def run_command(
        self, name: str, argv: Sequence[str], *, timeout_s: float = 30.0
    ) -> RemoteResult:
        """Run ``plotman-tui <argv>`` on host ``name`` (its own command, its own config) and
        return what it did; never raises for the host's or the network's trouble."""
        state = self._hosts.get(name)
        if state is None:
            return RemoteResult(None, "", "", f"no fleet host named {name!r}")
        if state.host is None:
            return await _run_local(local_argv(self._config, argv), argv, timeout_s)
        return await self._run_remote(state, state.host, argv, timeout_s)

    async def _run_remote(
        self, state: _Host, host: FleetHost, argv: Sequence[str], timeout_s: float
    ) -> RemoteResult:
        problem = ssh.identity_problem(host)
        if problem is not None:
            return RemoteResult(None, "", "", problem)
        deadline = asyncio.get_running_loop().time() + timeout_s
        for attempt in (1, 2):
            connected = started = False
            try:
                async with asyncio.timeout_at(deadline):
                    connection = await self._connect(state, host)
                    connected = True
                    process = await connection.create_process(
                        control_command(host, argv), encoding=None, stdin=asyncssh.DEVNULL
                    )
                    started = True
                    try:
                        stdout, stderr = await asyncio.gather(
                            _read_capped(process.stdout), _read_capped(process.stderr)
                        )
                        await process.wait_closed()
                    finally:
                        process.close()
                    return RemoteResult(process.exit_status, stdout, stderr)
            except (TimeoutError, asyncssh.Error, OSError, ValueError) as error:
                if not connected:
                    self._drop_connection(state)
                elif not started and not isinstance(error, TimeoutError) and attempt == 1:
                    # The kept connection went (the watch's side saw it go, or it is being
                    # closed at quit) before the command could start: nothing ran there, so
                    # once more on a new connection. A resume at quit failed so, and the job
                    # held for a kill question stayed stopped.
                    if state.connection is connection:  # not one made meanwhile
                        self._drop_connection(state)
                    continue
                text, _ = ssh.ssh_problem(
                    host,
                    error,
                    timeout_s=timeout_s if connected else self._connect_timeout_s,
                    connected=connected,
                    doing=shlex.join(argv),
                )
                return RemoteResult(None, "", "", text)
        raise AssertionError("unreachable: the second attempt returns")


async def _read_capped(reader: _Reader) -> str:
    data = bytearray()
    while chunk := await reader.read(_CHUNK):
        if len(data) < COMMAND_OUTPUT_BYTES:
            data += chunk[: COMMAND_OUTPUT_BYTES - len(data)]
    return data.decode("utf-8", "replace")


async def _spawn(argv: Sequence[str], stdin: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv, stdin=stdin, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def _run_local(argv: list[str], shown: Sequence[str], timeout_s: float) -> RemoteResult:
    try:
        process = await _spawn(argv, asyncio.subprocess.DEVNULL)
    except OSError as error:
        return RemoteResult(None, "", "", f"cannot run plotman-tui {shlex.join(shown)}: {error}")
    assert process.stdout is not None and process.stderr is not None
    streams = asyncio.gather(_read_capped(process.stdout), _read_capped(process.stderr))
    try:
        async with asyncio.timeout(timeout_s):
            stdout, stderr = await streams
            await process.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return RemoteResult(
            None, "", "", f"{shlex.join(shown)} did not finish within {timeout_s:g} s"
        )
    return RemoteResult(process.returncode, stdout, stderr)
