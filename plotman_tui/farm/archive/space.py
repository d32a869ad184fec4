"""Free space of the archive dirs: read locally, over SSH on the farmer, or by the user's command.

How each target type is read:

- ``local``: :func:`plotman_tui.farm.dirs.inspect_dir` on each dir, each in its own daemon
  thread, so a hung network mount costs only that dir (and never blocks the event loop or the
  interpreter's exit).
- ``rsyncd`` and ``ssh``: one remote command over asyncssh (:func:`df_command`) that runs
  ``df -P -k -- DIR`` for each dir, one section per dir, so a missing dir is an answer for that
  dir and the others keep their numbers (:func:`parse_df_report`).
- ``script``: the target's ``free_space_command`` per dir, no shell; the last whole number it
  prints is the free bytes (:func:`last_whole_number`).

Nothing here raises for a farmer's or the network's trouble: a :class:`TargetSpace` carries the
one-line ``problem`` instead. :class:`SpaceMonitor` keeps one sample per target, refreshes it in
the background when its TTL has run out, and backs off from a target that failed.

**SSH connections** come from :mod:`plotman_tui.farm.ssh` (shared with the fleet):
:class:`~plotman_tui.farm.ssh.SshConnections` keeps one per target open between reads; one that
has dropped is replaced at the next read, one that times out is discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final

import asyncssh

from plotman_tui.config.schema import ArchiveTarget, TargetType, expand_command
from plotman_tui.farm.archive.policy import TargetState
from plotman_tui.farm.dirs import probe_dir
from plotman_tui.farm.ssh import (
    SshConnections as SshConnections,  # re-exported: the cli takes it from here
)
from plotman_tui.farm.ssh import (
    address,
    connect,
    identity_problem,
    ssh_problem,
)

logger = logging.getLogger(__name__)

#: Marks the start of one dir's section in :func:`df_command`'s output; unlikely in a motd.
DF_MARK: Final = "@@plotman-tui-df@@"
# At most this many free_space_command processes per target at once: a command that is itself
# an `ssh farmer df`, run for 40 disks at once, would hit sshd's MaxStartups (10 by default).
SCRIPT_CONCURRENCY: Final = 4

_SECTION = re.compile(rf"^{re.escape(DF_MARK)} (\d+) (missing|not-a-dir|df (\d+))\s*$")
# A ``df -P`` row: the filesystem name may hold spaces (autofs "map auto_home"), so it is
# matched lazily up to the four figures; the mount point is the rest of the line.
_DF_ROW = re.compile(
    r"^(?P<filesystem>.+?)\s+(?P<total>\d+|-)\s+(?P<used>\d+|-)\s+(?P<available>-?\d+|-)"
    r"\s+(?P<capacity>\d+%|-)\s+(?P<mount>.+)$"
)
_DF_HEADER = re.compile(r"^Filesystem\s+(\d+)([KMG]?)-blocks\b", re.IGNORECASE)
_UNIT_FACTORS: Final = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
# A whole number standing on its own: not part of a word or path ("disk04"), a decimal
# ("1.5"), a grouped number ("1,234"), a percentage or a negative number.
_WHOLE_NUMBER = re.compile(r"(?<![\w/.,-])[0-9]+(?![\w/%])(?![.,][0-9])")


# -- results ------------------------------------------------------------------------------------


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def _no_dirs() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class DirFree:
    """One archive dir's free bytes, or None with the reason (``missing``, ``not a dir``, ...)."""

    free_bytes: int | None
    reason: str | None = None


@dataclass(frozen=True)
class TargetSpace:
    """One sample of a target's free space.

    ``free_bytes`` maps each archive dir, in the configured order, to its free bytes (None:
    missing or unreadable, ``dir_problems`` says why). ``problem`` is target-wide and one line
    (unreachable, host key refused, login refused, command failed); then no dir has a value.
    ``reachable`` is False when the farmer did not answer (refused, timed out, unknown name,
    connection lost; for a script target: every command failed or timed out); host key and
    login problems leave it True, since the farmer answered and it is the user who must act.
    ``checked_at`` is when the read started (POSIX seconds): a transfer that ended after it may
    not be counted in these numbers yet.
    """

    target: str
    free_bytes: Mapping[str, int | None] = field(default_factory=_no_dirs)
    dir_problems: Mapping[str, str] = field(default_factory=_no_dirs)
    problem: str | None = None
    checked_at: float = 0.0
    reachable: bool = True

    @classmethod
    def of_dirs(
        cls, target: ArchiveTarget, dirs: Mapping[str, DirFree], checked_at: float
    ) -> TargetSpace:
        """A sample from per-dir answers; a dir without one is unknown."""
        unanswered = DirFree(None, "no answer")
        answers = {d: dirs.get(d, unanswered) for d in target.archive_dirs}
        return cls(
            target=target.name,
            free_bytes=_frozen({d: a.free_bytes for d, a in answers.items()}),
            dir_problems=_frozen({d: a.reason for d, a in answers.items() if a.reason}),
            checked_at=checked_at,
        )

    @classmethod
    def failed(
        cls, target: ArchiveTarget, problem: str, checked_at: float, *, reachable: bool
    ) -> TargetSpace:
        """A sample where nothing could be read: every dir unknown, ``problem`` says why."""
        return cls(
            target=target.name,
            free_bytes=_frozen(dict.fromkeys(target.archive_dirs)),
            problem=problem,
            checked_at=checked_at,
            reachable=reachable,
        )

    def target_state(self, target: ArchiveTarget) -> TargetState:
        """What the archive policy needs of ``target`` from this sample."""
        return TargetState.of(target, self.free_bytes, self.problem)


# -- df over SSH --------------------------------------------------------------------------------


def df_command(dirs: Sequence[str]) -> str:
    """The remote command that prints one section of ``df -P -k`` output per dir.

    Each section starts with ``DF_MARK INDEX STATUS`` (``missing``, ``not-a-dir`` or ``df
    EXIT``), so rows map to dirs even when df prints nothing for one, and whatever a login
    script prints first is skipped. ``LC_ALL=C`` keeps df's words and numbers unlocalised. The
    script runs under ``sh -c``: the farmer's login shell may be fish or csh.
    """
    probe = (
        "p() { "
        f'if [ ! -e "$2" ]; then echo "{DF_MARK} $1 missing"; '
        f'elif [ ! -d "$2" ]; then echo "{DF_MARK} $1 not-a-dir"; '
        f'else out=$(df -P -k -- "$2" 2>&1); echo "{DF_MARK} $1 df $?"; '
        "printf '%s\\n' \"$out\"; fi; }"
    )
    calls = "".join(f"; p {index} {shlex.quote(d)}" for index, d in enumerate(dirs))
    return "sh -c " + shlex.quote(f"LC_ALL=C; export LC_ALL; {probe}{calls}")


def parse_df_section(text: str) -> DirFree:
    """Available bytes from the ``df -P -k`` output of one dir (header, row, maybe errors)."""
    block_bytes = 1024
    row: re.Match[str] | None = None
    messages: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        header = _DF_HEADER.match(stripped)
        if header:
            block_bytes = int(header.group(1)) * _UNIT_FACTORS[header.group(2).upper()]
            continue
        match = _DF_ROW.match(stripped)
        if match:
            row = match
        else:
            messages.append(stripped)
    if row is None:
        if messages:
            message = messages[0].removeprefix("df: ")
            return DirFree(None, f"df failed: {message}")
        return DirFree(None, "df printed no figures")
    available = row.group("available")
    if available == "-":
        return DirFree(None, "df gives no free space figure for this filesystem")
    # BSD df shows the root reserve as negative room; no room is all that matters here.
    return DirFree(max(int(available), 0) * block_bytes)


def parse_df_report(output: str, dirs: Sequence[str]) -> dict[str, DirFree]:
    """Each dir's answer in the output of :func:`df_command` ``(dirs)``.

    A dir whose section is missing (the command stopped early) is unknown, with a reason.
    """
    sections: dict[int, tuple[str, list[str]]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        mark = _SECTION.match(line)
        if mark:
            current = []
            sections[int(mark.group(1))] = (mark.group(2), current)
        elif current is not None:
            current.append(line)
    report: dict[str, DirFree] = {}
    for index, directory in enumerate(dirs):
        if index not in sections:
            report[directory] = DirFree(None, "no answer from df for this dir")
            continue
        status, lines = sections[index]
        if status == "missing":
            report[directory] = DirFree(None, "missing")
        elif status == "not-a-dir":
            report[directory] = DirFree(None, "not a dir")
        else:
            report[directory] = parse_df_section("\n".join(lines))
    return report


def parse_df(output: str, dirs: Sequence[str]) -> dict[str, int | None]:
    """Each dir's free bytes in the output of :func:`df_command` ``(dirs)`` (None: unknown)."""
    return {d: answer.free_bytes for d, answer in parse_df_report(output, dirs).items()}


def has_df_sections(output: str) -> bool:
    """Whether ``output`` holds any section of :func:`df_command` (else the command failed)."""
    return any(_SECTION.match(line) for line in output.splitlines())


# -- df over a kept connection -------------------------------------------------------------


async def _run_df(connection: asyncssh.SSHClientConnection, command: str) -> tuple[int, str, str]:
    result = await connection.run(command, check=False, encoding="utf-8", errors="replace")
    stdout = result.stdout if isinstance(result.stdout, str) else ""
    stderr = result.stderr if isinstance(result.stderr, str) else ""
    status = result.exit_status if result.exit_status is not None else -1
    return status, stdout, stderr


async def _read_ssh_space(
    target: ArchiveTarget,
    timeout_s: float,
    connections: SshConnections | None,
    checked_at: float,
) -> TargetSpace:
    problem = identity_problem(target)
    if problem is not None:
        return TargetSpace.failed(target, problem, checked_at, reachable=True)
    if not target.archive_dirs:
        return TargetSpace.of_dirs(target, {}, checked_at)
    command = df_command(target.archive_dirs)
    connected = False
    connection: asyncssh.SSHClientConnection | None = None
    try:
        async with asyncio.timeout(timeout_s):
            if connections is None:
                connection = await connect(target, timeout_s)
                connected = True
                status, stdout, stderr = await _run_df(connection, command)
            else:
                connection, reused = await connections.get(target, timeout_s)
                connected = not reused
                try:
                    status, stdout, stderr = await _run_df(connection, command)
                except (asyncssh.Error, OSError):
                    if not reused:
                        raise
                    # A kept connection may have died since the last read: one fresh try.
                    connections.discard(target.name)
                    connected = False
                    connection, _ = await connections.get(target, timeout_s)
                    connected = True
                    status, stdout, stderr = await _run_df(connection, command)
    except (TimeoutError, asyncssh.Error, OSError, ValueError) as error:
        if connections is not None:
            connections.discard(target.name)
        text, reachable = ssh_problem(target, error, timeout_s=timeout_s, connected=connected)
        return TargetSpace.failed(target, text, checked_at, reachable=reachable)
    except asyncio.CancelledError:
        if connections is not None:
            connections.discard(target.name)
        raise
    finally:
        if connections is None and connection is not None:
            connection.abort()
    if not has_df_sections(stdout):
        detail = _first_line(stderr) or _first_line(stdout) or f"exit status {status}"
        return TargetSpace.failed(
            target, f"df on {address(target)} failed: {detail}", checked_at, reachable=True
        )
    return TargetSpace.of_dirs(target, parse_df_report(stdout, target.archive_dirs), checked_at)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


# -- local dirs ---------------------------------------------------------------------------------


async def _read_local_dir(path: str, timeout_s: float) -> DirFree:
    future = probe_dir(path)
    try:
        async with asyncio.timeout(timeout_s):
            # Shielded: a timeout here must not mark the shared probe cancelled.
            info = await asyncio.shield(asyncio.wrap_future(future))
    except TimeoutError:
        return DirFree(None, f"no answer within {timeout_s:g} s (a hung mount?)")
    except OSError as error:
        return DirFree(None, error.strerror or str(error))
    if info.error is not None:
        return DirFree(None, info.error)
    return DirFree(info.free_bytes)


async def _read_local_space(
    target: ArchiveTarget, timeout_s: float, checked_at: float
) -> TargetSpace:
    answers = await asyncio.gather(*(_read_local_dir(d, timeout_s) for d in target.archive_dirs))
    return TargetSpace.of_dirs(
        target, dict(zip(target.archive_dirs, answers, strict=True)), checked_at
    )


# -- script targets -----------------------------------------------------------------------------


def last_whole_number(text: str) -> int | None:
    """The last whole number standing on its own in ``text`` (not ``disk04``, ``1.5``, ``50%``)."""
    numbers = _WHOLE_NUMBER.findall(text)
    return int(numbers[-1]) if numbers else None


@dataclass(frozen=True)
class _CommandResult:
    status: int | None  # None: it could not start (``stderr`` says why); < 0: killed by a signal
    stdout: str
    stderr: str


async def run_command(argv: Sequence[str]) -> _CommandResult:
    """Run ``argv`` (no shell); kill its whole process group if the caller gives up on it."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own group, so a timeout also ends what it started (sh -c "ssh ... df").
            start_new_session=True,
        )
    except OSError as error:
        return _CommandResult(None, "", f"cannot run {argv[0]}: {error.strerror or error}")
    try:
        stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    return _CommandResult(
        process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")
    )


async def _read_script_dir(
    target: ArchiveTarget, directory: str, limit: asyncio.Semaphore
) -> DirFree:
    argv = expand_command(target.free_space_command or (), {"archive_dir": directory})
    async with limit:
        result = await run_command(argv)
    if result.status is None:
        return DirFree(None, result.stderr)
    if result.status != 0:
        how = (
            f"was killed by signal {-result.status}"
            if result.status < 0
            else f"exited with status {result.status}"
        )
        detail = last_line(result.stderr) or last_line(result.stdout)
        return DirFree(None, f"free_space_command {how}" + (f": {detail}" if detail else ""))
    free = last_whole_number(result.stdout)
    if free is None:
        return DirFree(None, "free_space_command printed no whole number")
    return DirFree(free)


def last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


async def _read_script_space(
    target: ArchiveTarget, timeout_s: float, checked_at: float
) -> TargetSpace:
    if not target.free_space_command:
        return TargetSpace.failed(
            target, "no free_space_command configured", checked_at, reachable=True
        )
    limit = asyncio.Semaphore(SCRIPT_CONCURRENCY)
    try:
        async with asyncio.timeout(timeout_s):
            answers = await asyncio.gather(
                *(_read_script_dir(target, d, limit) for d in target.archive_dirs)
            )
    except TimeoutError:
        problem = f"free_space_command did not finish within {timeout_s:g} s"
        return TargetSpace.failed(target, problem, checked_at, reachable=False)
    space = TargetSpace.of_dirs(
        target, dict(zip(target.archive_dirs, answers, strict=True)), checked_at
    )
    if answers and all(answer.free_bytes is None for answer in answers):
        # Every dir failed: most likely the farmer (or the command) as a whole.
        return replace(space, problem=answers[0].reason, reachable=False)
    return space


# -- one read -----------------------------------------------------------------------------------


async def read_target_space(
    target: ArchiveTarget,
    *,
    timeout_s: float,
    connection_cache: SshConnections | None = None,
) -> TargetSpace:
    """Free space of every archive dir of ``target``, in about ``timeout_s`` at most.

    Never raises for the farmer's or the network's trouble: the answer's ``problem`` says what
    went wrong. ``connection_cache`` keeps SSH connections open between reads; without it each
    read connects and disconnects.
    """
    checked_at = time.time()
    if target.type is TargetType.LOCAL:
        return await _read_local_space(target, timeout_s, checked_at)
    if target.type is TargetType.SCRIPT:
        return await _read_script_space(target, timeout_s, checked_at)
    return await _read_ssh_space(target, timeout_s, connection_cache, checked_at)


# -- the monitor --------------------------------------------------------------------------------


@dataclass
class _Watched:
    target: ArchiveTarget
    space: TargetSpace | None = None
    due_at: float = float("-inf")  # on the monitor's clock
    failures: int = 0
    task: asyncio.Task[None] | None = None
    # Invalidated while a read was under way: that read may predate the change, so read again.
    read_again: bool = False


class SpaceMonitor:
    """Free space of every target, sampled in the background; :meth:`current` never waits.

    A sample is kept ``ttl_s``; a target whose read failed (any target-wide problem) is tried
    again after ``backoff_s``, doubled at each failure in a row up to ``max_backoff_s``. Reads
    of several targets run side by side, so a silent farmer delays no other target.
    """

    def __init__(
        self,
        targets: Iterable[ArchiveTarget],
        *,
        ttl_s: float = 60.0,
        timeout_s: float = 10.0,
        backoff_s: float = 5.0,
        max_backoff_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        on_update: Callable[[str], None] | None = None,
    ) -> None:
        self._watched = {target.name: _Watched(target) for target in targets}
        #: Called (in the event loop) with a target's name when a new sample of it has landed.
        self.on_update = on_update
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop refreshing the samples
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._connections = SshConnections()
        self._wake = asyncio.Event()

    def current(self, name: str) -> TargetSpace | None:
        """The last sample of target ``name`` (None: none yet, or no such target)."""
        watched = self._watched.get(name)
        return watched.space if watched is not None else None

    def due_at(self, name: str) -> float | None:
        """When (on the monitor's clock) target ``name`` is next read; None: no such target."""
        watched = self._watched.get(name)
        return watched.due_at if watched is not None else None

    @property
    def connections(self) -> SshConnections:
        """The kept SSH connections (replotting lists and removes over the same ones)."""
        return self._connections

    def invalidate(self, name: str) -> None:
        """Read target ``name`` again as soon as possible (a transfer to it has just ended).

        The old sample stays in :meth:`current` until the new one lands: count the transfer as
        under way until ``current(name).checked_at`` is later than its end. A backoff is cut
        short too: a transfer that just ended shows the farmer answers. Safe to call from any
        thread (the engine's passes run in worker threads): the change is made in the loop.
        """
        loop = self._loop
        if loop is not None and not _running_in(loop):
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to refresh
                loop.call_soon_threadsafe(self._invalidate, name)
            return
        self._invalidate(name)

    def _invalidate(self, name: str) -> None:
        watched = self._watched.get(name)
        if watched is None:
            return
        watched.due_at = float("-inf")
        watched.read_again = watched.task is not None
        self._wake.set()

    async def refresh_due(self) -> None:
        """Read every target whose sample is due, side by side, and wait for those reads."""
        self._loop = asyncio.get_running_loop()
        now = self._clock()
        tasks = [
            self._start(watched) for watched in self._watched.values() if now >= watched.due_at
        ]
        if tasks:
            # asyncio.wait, not gather: cancelling this call leaves reads shared with run().
            await asyncio.wait(tasks)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep every sample fresh until ``stop`` is set; a read never holds up another."""
        self._loop = asyncio.get_running_loop()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                self._wake.clear()
                now = self._clock()
                for watched in self._watched.values():
                    if now >= watched.due_at:
                        self._start(watched)
                idle = [w.due_at for w in self._watched.values() if w.task is None]
                await sleep_until_due(stopping, self._wake, idle, now)
        finally:
            stopping.cancel()
            reads = [w.task for w in self._watched.values() if w.task is not None]
            for task in reads:
                task.cancel()
            await asyncio.gather(*reads, return_exceptions=True)

    async def close(self) -> None:
        """Close the kept SSH connections."""
        await self._connections.close()

    def _start(self, watched: _Watched) -> asyncio.Task[None]:
        if watched.task is None:
            watched.read_again = False
            watched.task = asyncio.create_task(
                self._refresh(watched), name=f"space {watched.target.name}"
            )
        return watched.task

    async def _refresh(self, watched: _Watched) -> None:
        target = watched.target
        try:
            space = await read_target_space(
                target, timeout_s=self.timeout_s, connection_cache=self._connections
            )
        except Exception as error:  # a bug here must not stop the other targets' samples
            logger.exception("free space of archive target %s", target.name)
            space = TargetSpace.failed(
                target, f"free space check failed: {error}", time.time(), reachable=False
            )
        finally:
            watched.task = None
        watched.space = space
        if self.on_update is not None:
            self.on_update(target.name)
        if space.problem is None:
            watched.failures = 0
            watched.due_at = self._clock() + self.ttl_s
        else:
            watched.failures += 1
            backoff = self.backoff_s * 2.0 ** min(watched.failures - 1, 64)  # never overflows
            watched.due_at = self._clock() + min(backoff, self.max_backoff_s)
        if watched.read_again:
            watched.read_again = False
            watched.due_at = float("-inf")
        # The run loop sleeps until the earliest due time, which has just changed.
        self._wake.set()


async def sleep_until_due(
    stopping: asyncio.Future[Any], wake: asyncio.Event, due: Sequence[float], now: float
) -> None:
    """Until ``stopping`` is done, ``wake`` is set or the earliest of ``due`` (on the clock
    ``now`` is from) comes; with nothing due, until one of the first two."""
    delay = max(min(due) - now, 0.0) if due else None
    waking = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait([stopping, waking], timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waking.cancel()


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the caller runs in ``loop``'s thread, inside it."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
