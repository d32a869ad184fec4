"""The plot files on the farmer: list an archive dir's plots, remove old ones (replotting).

Local targets: ``os.scandir``/``os.unlink`` relative to an open dir fd, never following a symlink
(the archive dir itself may be a symlink to a disk: it is opened as configured; its entries are
looked at with ``lstat``). The blocking calls run in daemon threads of their own, so a hung
mount costs that dir ``timeout_s`` and never keeps the program from exiting.
rsyncd and ssh targets: SFTP over the target's kept SSH connection (the one free space is read
over, :class:`~plotman_tui.farm.ssh.SshConnections`); the farmer's sftp-server lists
with ``lstat`` too. Script targets: the target's ``list_command`` (one ``SIZE NAME [MTIME]``
line per plot) and ``remove_command`` (exit status 0: removed).

Every name a listing gives is untrusted: only a plot file's name (``plot-k32-....plot``, no
``/``, no NUL, no control or other odd characters) is kept; anything else is skipped, and one
bad entry costs only itself. Every size is untrusted too: a plot whose size no plot of its
name's k and level has is left out (never removed), and the dir's problem counts it.

A file with more than one hard link is never removed: removing it frees no space.

A removal checks each file just before it goes: a regular file (``lstat``, not a symlink), a
plot's name, the size it was listed with, unchanged for :data:`replot.QUIET_S`; anything else
is refused and stops the removals. ``unlink`` never follows a symlink in the last part of a
path, so not even a file swapped for a symlink between the check and the removal takes
anything outside the archive dir with it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import os
import posixpath
import re
import stat
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeVar

import asyncssh

from plotman_tui.config.schema import ArchiveTarget, TargetType, expand_command
from plotman_tui.farm.archive.policy import plausible_plot_bytes, plot_name_k, plot_name_level
from plotman_tui.farm.archive.replot import QUIET_S, FarmerListing, FarmerPlot
from plotman_tui.farm.archive.space import SCRIPT_CONCURRENCY, last_line, run_command
from plotman_tui.farm.ssh import SshConnections, identity_problem, ssh_problem
from plotman_tui.farm.units import human_bytes, human_duration
from plotman_tui.plotters.limits import PLOT_BYTES_MAX

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: A plot file's name as a listing may give it: what a plotter writes, nothing a shell or a
#: path could misread (the strict form, with the date and id, is :mod:`.replot`'s business).
PLOT_FILE: Final = re.compile(r"plot-k\d{2}-[0-9A-Za-z][0-9A-Za-z._-]{0,200}\.plot")
# ``SIZE NAME [MTIME]`` from a list_command: bounded digit runs, so int() and float() stay cheap.
_LIST_LINE: Final = re.compile(r"\s*(\d{1,20})\s+(\S+)(?:\s+(\d{1,15}(?:\.\d{1,9})?))?\s*")


class Refusal(str):
    """Why a file was not removed after looking at it (a check refused it: a symlink in its
    place, another hard link, a new size, a fresh mtime, an odd name): the file may be there
    still, so a listing that leaves such files out cannot tell it was removed by other means."""


@dataclass(frozen=True)
class RemovalResult:
    """What a removal did: the plots removed (in order), and the first failure, if any (the
    plots after it were not tried)."""

    removed: tuple[FarmerPlot, ...]
    failed: FarmerPlot | None = None
    error: str | None = None  # one line, a farmer's words
    #: False: the farmer could not be reached (connection refused, lost, timed out), so
    #: ``failed`` may or may not be gone; True: the farmer answered (a refusal, a check failed).
    reachable: bool = True
    #: ``failed`` was refused by a check (see :class:`Refusal`), not lost to an error.
    refused: bool = False


def plot_file_name(name: str) -> bool:
    """Whether ``name`` (untrusted, from a listing) may name a plot file in an archive dir."""
    return PLOT_FILE.fullmatch(name) is not None


def _plausible_size(size: object) -> bool:
    return type(size) is int and 0 < size <= PLOT_BYTES_MAX


def _refusal(
    plot: FarmerPlot, regular: bool, size: int, mtime: float, now: float, links: int | None
) -> str | None:
    """Why a plot must not go, from what ``lstat`` says of it just now (``links``: its hard
    link count, None when unknown); None: it may."""
    where = f"{plot.name} in {plot.archive_dir}"
    if not plot_file_name(plot.name):
        return Refusal(f"{where} was not removed: not a plot file's name")
    if not regular:
        return Refusal(f"{where} was not removed: it is not a regular file (a symlink or a dir?)")
    if links is not None and links > 1:
        # Its blocks stay while another name holds them: the room would never show.
        return Refusal(
            f"{where} was not removed: it has {links} hard links, so removing it frees no "
            "space (remove its other links first)"
        )
    if size != plot.size_bytes:
        return Refusal(
            f"{where} was not removed: it is {human_bytes(size)} ({size} bytes), not the "
            f"{plot.size_bytes} bytes it was listed with (it changed since)"
        )
    if mtime > now - QUIET_S:
        return Refusal(
            f"{where} was not removed: it changed {human_duration(max(now - mtime, 0.0))} ago "
            "(it may still be written)"
        )
    return None


def _error_text(error: OSError) -> str:
    return error.strerror or str(error)


def _dir_problem(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "missing"
    if isinstance(error, NotADirectoryError):
        return "not a dir"
    return f"cannot list: {_error_text(error)}"


# -- blocking calls in daemon threads -----------------------------------------------------------


async def _in_thread(function: Callable[[], T], timeout_s: float) -> T:
    """``function()`` in a daemon thread of its own, waited for at most ``timeout_s``.

    Not ``asyncio.to_thread``: the default executor's threads are joined at exit, so a call
    stuck on a dead NFS server would keep the program from ending. A call that times out
    keeps its thread until it returns (the caller says so, as it may still take effect).
    """
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        future.set_running_or_notify_cancel()  # from now on a timeout cannot cancel it
        try:
            future.set_result(function())
        except BaseException as error:  # handed to the waiting side
            future.set_exception(error)

    threading.Thread(target=run, name="farmer-files", daemon=True).start()
    async with asyncio.timeout(timeout_s):
        return await asyncio.shield(asyncio.wrap_future(future))


# -- local targets ------------------------------------------------------------------------------


def _list_local_dir(archive_dir: str) -> tuple[FarmerPlot, ...] | str:
    try:
        fd = os.open(archive_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        return _dir_problem(error)
    plots: list[FarmerPlot] = []
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if not plot_file_name(entry.name):
                    continue
                try:
                    # Through the dir fd, not following a symlink: the entry itself.
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # gone since it was read: one entry costs only itself
                if stat.S_ISREG(info.st_mode) and _plausible_size(info.st_size):
                    plots.append(FarmerPlot(archive_dir, entry.name, info.st_size, info.st_mtime))
    except OSError as error:
        return _dir_problem(error)
    finally:
        os.close(fd)
    return tuple(plots)


async def _list_local(target: ArchiveTarget, timeout_s: float, listed_at: float) -> FarmerListing:
    async def one(archive_dir: str) -> tuple[FarmerPlot, ...] | str:
        try:
            return await _in_thread(lambda: _list_local_dir(archive_dir), timeout_s)
        except TimeoutError:
            return f"no answer within {timeout_s:g} s (a hung mount?)"

    answers = await asyncio.gather(*(one(d) for d in target.archive_dirs))
    return _listing(target, dict(zip(target.archive_dirs, answers, strict=True)), listed_at)


def _remove_local(archive_dir: str, plot: FarmerPlot) -> str | None:
    """Check ``plot`` through a fd of its dir and unlink it; why not, or None when it is gone.

    The dir is opened for each plot, in the same thread: a call that timed out may still run,
    and must never meet a fd closed (and its number reused) under it.
    """
    if not plot_file_name(plot.name):  # a name with "/" must never reach a *at() call
        return Refusal(f"{plot.name} in {archive_dir} was not removed: not a plot file's name")
    try:
        fd = os.open(archive_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        return f"cannot open {archive_dir}: {_error_text(error)}"
    try:
        info = os.stat(plot.name, dir_fd=fd, follow_symlinks=False)
        refusal = _refusal(
            plot,
            stat.S_ISREG(info.st_mode),
            info.st_size,
            info.st_mtime,
            time.time(),
            info.st_nlink,
        )
        if refusal is not None:
            return refusal
        os.unlink(plot.name, dir_fd=fd)
    except OSError as error:
        return f"cannot remove {plot.name} in {archive_dir}: {_error_text(error)}"
    finally:
        os.close(fd)
    return None


class _Unreachable(Exception):
    """The farmer stopped answering in the middle of removals (its one-line problem)."""


async def _remove_each(
    plots: Sequence[FarmerPlot],
    remove: Callable[[FarmerPlot], Awaitable[str | None]],
    timeout_s: float,
) -> RemovalResult:
    """Remove ``plots`` in order with ``remove`` (why not, or None when gone); stop at the
    first that fails."""
    removed: list[FarmerPlot] = []
    for plot in plots:
        try:
            error = await remove(plot)
        except TimeoutError:
            error = (
                f"removing {plot.name} in {plot.archive_dir} gave no answer within "
                f"{timeout_s:g} s (a hung mount?); it may still go"
            )
        except _Unreachable as lost:
            return RemovalResult(tuple(removed), plot, str(lost), reachable=False)
        if error is not None:
            return RemovalResult(tuple(removed), plot, error, refused=isinstance(error, Refusal))
        removed.append(plot)
    return RemovalResult(tuple(removed))


# -- ssh and rsyncd targets: SFTP ---------------------------------------------------------------

# What says the SSH connection itself is gone (not one file's or dir's trouble).
_LOST: Final = (asyncssh.SFTPConnectionLost, asyncssh.ConnectionLost, asyncssh.DisconnectError)


def _sftp_reason(error: asyncssh.SFTPError) -> str:
    return error.reason or type(error).__name__


async def _open_sftp(
    target: ArchiveTarget, connections: SshConnections, timeout_s: float
) -> asyncssh.SFTPClient:
    connection, reused = await connections.get(target, timeout_s)
    try:
        return await connection.start_sftp_client()
    except (asyncssh.Error, OSError):
        if not reused:
            raise
    # A kept connection may have died since it was last used: one fresh try.
    connections.discard(target.name)
    connection, _ = await connections.get(target, timeout_s)
    return await connection.start_sftp_client()


def _sftp_plot(archive_dir: str, entry: asyncssh.SFTPName) -> FarmerPlot | None:
    raw = entry.filename
    try:
        name = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        return None
    attrs = entry.attrs
    if (
        not plot_file_name(name)
        or attrs.type != asyncssh.FILEXFER_TYPE_REGULAR
        or not _plausible_size(attrs.size)
        or attrs.size is None
    ):
        return None
    mtime = attrs.mtime if isinstance(attrs.mtime, int | float) else 0.0
    return FarmerPlot(archive_dir, name, attrs.size, float(mtime))


async def _list_sftp_dir(
    sftp: asyncssh.SFTPClient, archive_dir: str
) -> tuple[FarmerPlot, ...] | str:
    try:
        # Bytes: a name that is no UTF-8 costs itself, not the whole listing.
        entries = await sftp.readdir(archive_dir.encode())
    except _LOST:
        raise
    except asyncssh.SFTPNoSuchFile:
        return "missing"
    except asyncssh.SFTPError as error:
        return f"cannot list: {_sftp_reason(error)}"
    plots: dict[str, FarmerPlot] = {}
    for entry in entries:
        plot = _sftp_plot(archive_dir, entry)
        if plot is not None:
            plots.setdefault(plot.name, plot)
    return tuple(plots.values())


async def _list_sftp(
    target: ArchiveTarget, connections: SshConnections, timeout_s: float, listed_at: float
) -> FarmerListing:
    answers: dict[str, tuple[FarmerPlot, ...] | str] = {}
    problem = identity_problem(target)  # told as such, not as an unreachable farmer
    if problem is not None:
        return FarmerListing(target.name, listed_at, MappingProxyType({}), problem=problem)
    connected = False
    try:
        async with asyncio.timeout(timeout_s):
            sftp = await _open_sftp(target, connections, timeout_s)
            connected = True
            try:
                for archive_dir in target.archive_dirs:
                    answers[archive_dir] = await _list_sftp_dir(sftp, archive_dir)
            finally:
                sftp.exit()
    except (TimeoutError, asyncssh.Error, OSError, ValueError) as error:
        connections.discard(target.name)
        problem = _ssh_problem(target, error, timeout_s, connected, "listing plots")
        return FarmerListing(target.name, listed_at, MappingProxyType({}), problem=problem)
    except asyncio.CancelledError:
        connections.discard(target.name)
        raise
    return _listing(target, answers, listed_at)


def _ssh_problem(
    target: ArchiveTarget, error: BaseException, timeout_s: float, connected: bool, doing: str
) -> str:
    if isinstance(error, TimeoutError) and connected:
        # The farmer answered SSH but the files did not come (a hung disk).
        return f"{doing} on {target.host} did not finish within {timeout_s:g} s (a hung mount?)"
    text, _ = ssh_problem(target, error, timeout_s=timeout_s, connected=connected)
    return text


async def _remove_sftp_one(sftp: asyncssh.SFTPClient, plot: FarmerPlot) -> str | None:
    where = f"{plot.name} in {plot.archive_dir}"
    if not plot_file_name(plot.name):
        return Refusal(f"{where} was not removed: not a plot file's name")
    path = posixpath.join(plot.archive_dir, plot.name).encode()
    try:
        attrs = await sftp.lstat(path)
    except _LOST:
        raise
    except asyncssh.SFTPNoSuchFile:
        return f"{where} was not removed: it is no longer there"
    except asyncssh.SFTPError as error:
        return f"cannot check {where}: {_sftp_reason(error)}"
    if not isinstance(attrs.mtime, int | float) or not isinstance(attrs.size, int):
        return Refusal(f"{where} was not removed: the farmer does not say its size and age")
    refusal = _refusal(
        plot,
        attrs.type == asyncssh.FILEXFER_TYPE_REGULAR,
        attrs.size,
        float(attrs.mtime),
        time.time(),
        # SFTP version 3 (OpenSSH's sftp-server) does not say; version 6 servers do.
        attrs.nlink if isinstance(attrs.nlink, int) else None,
    )
    if refusal is not None:
        return refusal
    try:
        await sftp.remove(path)
    except _LOST:
        raise
    except asyncssh.SFTPError as error:
        return f"cannot remove {where}: {_sftp_reason(error)}"
    return None


async def _remove_sftp(
    target: ArchiveTarget,
    plots: Sequence[FarmerPlot],
    connections: SshConnections,
    timeout_s: float,
) -> RemovalResult:
    problem = identity_problem(target)
    if problem is not None:
        return RemovalResult((), plots[0], problem)
    try:
        async with asyncio.timeout(timeout_s):
            sftp = await _open_sftp(target, connections, timeout_s)
    except (TimeoutError, asyncssh.Error, OSError, ValueError) as error:
        connections.discard(target.name)
        problem = _ssh_problem(target, error, timeout_s, False, "removing plots")
        return RemovalResult((), plots[0], problem, reachable=False)
    except asyncio.CancelledError:
        connections.discard(target.name)
        raise

    async def remove(plot: FarmerPlot) -> str | None:
        try:
            async with asyncio.timeout(timeout_s):
                return await _remove_sftp_one(sftp, plot)
        except (TimeoutError, asyncssh.Error, OSError) as error:
            # Lost, or no answer: whether this plot went is unknown until the next listing.
            connections.discard(target.name)
            problem = _ssh_problem(target, error, timeout_s, True, f"removing {plot.name}")
            raise _Unreachable(problem) from error

    try:
        return await _remove_each(plots, remove, timeout_s)
    finally:
        sftp.exit()


# -- script targets -----------------------------------------------------------------------------


def _how(status: int) -> str:
    if status < 0:
        return f"was killed by signal {-status}"
    return f"exited with status {status}"


def parse_list_output(archive_dir: str, output: str) -> tuple[FarmerPlot, ...]:
    """The plots in a ``list_command``'s output: ``SIZE NAME [MTIME]`` lines; any other line,
    a name that is no plot file's or an implausible size is skipped (the first of a name wins)."""
    plots: dict[str, FarmerPlot] = {}
    for line in output.splitlines():
        match = _LIST_LINE.fullmatch(line)
        if match is None:
            continue
        size, name = int(match.group(1)), match.group(2)
        mtime = float(match.group(3)) if match.group(3) is not None else 0.0
        if plot_file_name(name) and _plausible_size(size) and math.isfinite(mtime):
            plots.setdefault(name, FarmerPlot(archive_dir, name, size, mtime))
    return tuple(plots.values())


async def _list_script_dir(
    target: ArchiveTarget, archive_dir: str, limit: asyncio.Semaphore
) -> tuple[FarmerPlot, ...] | str:
    argv = expand_command(target.list_command or (), {"archive_dir": archive_dir})
    async with limit:
        result = await run_command(argv)
    if result.status is None:
        return result.stderr
    if result.status != 0:
        detail = last_line(result.stderr) or last_line(result.stdout)
        return f"list_command {_how(result.status)}" + (f": {detail}" if detail else "")
    return parse_list_output(archive_dir, result.stdout)


async def _list_script(target: ArchiveTarget, timeout_s: float, listed_at: float) -> FarmerListing:
    if not target.list_command:
        return FarmerListing(
            target.name, listed_at, MappingProxyType({}), problem="no list_command configured"
        )
    limit = asyncio.Semaphore(SCRIPT_CONCURRENCY)
    try:
        async with asyncio.timeout(timeout_s):
            answers = await asyncio.gather(
                *(_list_script_dir(target, d, limit) for d in target.archive_dirs)
            )
    except TimeoutError:
        problem = f"list_command did not finish within {timeout_s:g} s"
        return FarmerListing(target.name, listed_at, MappingProxyType({}), problem=problem)
    listing = _listing(target, dict(zip(target.archive_dirs, answers, strict=True)), listed_at)
    if answers and all(isinstance(answer, str) for answer in answers):
        # Every dir failed: most likely the farmer (or the command) as a whole.
        first = next(iter(listing.problems.values()))
        return FarmerListing(target.name, listed_at, MappingProxyType({}), listing.problems, first)
    return listing


async def _remove_script_one(target: ArchiveTarget, plot: FarmerPlot) -> str | None:
    if not plot_file_name(plot.name):
        return Refusal(f"{plot.name} in {plot.archive_dir} was not removed: not a plot file's name")
    values = {"plot_name": plot.name, "archive_dir": plot.archive_dir}
    result = await run_command(expand_command(target.remove_command or (), values))
    if result.status is None:
        return result.stderr
    if result.status != 0:
        detail = last_line(result.stderr) or last_line(result.stdout)
        return f"remove_command {_how(result.status)} for {plot.name}" + (
            f": {detail}" if detail else ""
        )
    return None


async def _remove_script(
    target: ArchiveTarget, plots: Sequence[FarmerPlot], timeout_s: float
) -> RemovalResult:
    if not target.remove_command:
        return RemovalResult((), plots[0], "no remove_command configured")

    async def remove(plot: FarmerPlot) -> str | None:
        try:
            async with asyncio.timeout(timeout_s):
                return await _remove_script_one(target, plot)
        except TimeoutError:
            raise _Unreachable(
                f"remove_command did not finish within {timeout_s:g} s for {plot.name}; "
                "it may still have removed it"
            ) from None

    return await _remove_each(plots, remove, timeout_s)


# -- the two entry points -----------------------------------------------------------------------


def plausible_plot(plot: FarmerPlot) -> bool:
    """Whether a listed plot's size is one a plot of its name's k and level may have
    (:func:`policy.plausible_plot_bytes`). A listing's sizes are trusted for how many plots to
    remove: sizes in the wrong unit (a ``list_command`` printing ``du -k``'s KiB) would make
    every plot look 1,000 times smaller, and a step remove 1,000 plots for one."""
    k = plot_name_k(plot.name)
    if k is None:
        return False
    low, high = plausible_plot_bytes(k, plot_name_level(plot.name))
    return low <= plot.size_bytes <= high


def _left_out_text(odd: Sequence[FarmerPlot]) -> str:
    first = odd[0]
    k = plot_name_k(first.name)
    expected = ""
    if k is not None:
        low, high = plausible_plot_bytes(k, plot_name_level(first.name))
        expected = f", a k{k} plot is {human_bytes(low)} to {human_bytes(high)}"
    example = f"{first.name} is listed at {first.size_bytes} bytes{expected}"
    if len(odd) == 1:
        return f"1 file named like a plot has a size no plot of its k has: left alone ({example})"
    return (
        f"{len(odd)} files named like plots have sizes no plot of their k has: left alone "
        f"({example})"
    )


def _listing(
    target: ArchiveTarget,
    answers: Mapping[str, tuple[FarmerPlot, ...] | str],
    listed_at: float,
) -> FarmerListing:
    """The listing of every target type from each dir's plots or problem. A plot of an
    implausible size (:func:`plausible_plot`) is left out, and the dir's problem counts it."""
    dirs: dict[str, tuple[FarmerPlot, ...]] = {}
    problems: dict[str, str] = {}
    for archive_dir, answer in answers.items():
        if isinstance(answer, str):
            problems[archive_dir] = answer
            continue
        dirs[archive_dir] = tuple(plot for plot in answer if plausible_plot(plot))
        if len(dirs[archive_dir]) < len(answer):
            odd = [plot for plot in answer if not plausible_plot(plot)]
            problems[archive_dir] = _left_out_text(odd)
    return FarmerListing(
        target=target.name,
        listed_at=listed_at,
        dirs=MappingProxyType(dirs),
        problems=MappingProxyType(problems),
    )


async def list_plot_files(
    target: ArchiveTarget,
    *,
    connections: SshConnections,
    timeout_s: float = 30.0,
) -> FarmerListing:
    """The plot files of every archive dir of ``target``; never raises (problems say why)."""
    listed_at = time.time()
    try:
        if target.type is TargetType.LOCAL:
            return await _list_local(target, timeout_s, listed_at)
        if target.type is TargetType.SCRIPT:
            return await _list_script(target, timeout_s, listed_at)
        return await _list_sftp(target, connections, timeout_s, listed_at)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # a bug must cost this listing, not the archiver
        logger.exception("listing the plots of archive target %s", target.name)
        return FarmerListing(
            target.name, listed_at, MappingProxyType({}), problem=f"listing failed: {error}"
        )


async def remove_plot_files(
    target: ArchiveTarget,
    archive_dir: str,
    plots: Sequence[FarmerPlot],
    *,
    connections: SshConnections,
    timeout_s: float = 30.0,
) -> RemovalResult:
    """Remove ``plots`` (all in ``archive_dir``) one by one, each checked first; stops at the
    first failure. Never raises."""
    if not plots:
        return RemovalResult(())
    if archive_dir not in target.archive_dirs:
        return RemovalResult((), plots[0], f"{archive_dir} is no archive dir of {target.name}")
    stray = next((plot for plot in plots if plot.archive_dir != archive_dir), None)
    if stray is not None:
        return RemovalResult(
            (),
            stray,
            f"{stray.name} was not removed: it is in {stray.archive_dir}, not {archive_dir}",
            refused=True,
        )
    try:
        if target.type is TargetType.LOCAL:
            return await _remove_each(
                plots,
                lambda plot: _in_thread(lambda: _remove_local(archive_dir, plot), timeout_s),
                timeout_s,
            )
        if target.type is TargetType.SCRIPT:
            return await _remove_script(target, plots, timeout_s)
        return await _remove_sftp(target, plots, connections, timeout_s)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # a bug: nothing more is removed, and it is said
        logger.exception("removing plots of archive target %s", target.name)
        return RemovalResult((), plots[0], f"removal failed: {error}")
