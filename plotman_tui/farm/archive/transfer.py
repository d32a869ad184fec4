"""Moving one plot to an archive target: its command line, starting it, finding it, judging it.

**The command.** A local target runs the mover of :mod:`plotman_tui.farm.archive.localmove`
(``python -m plotman_tui.farm.archive.localmove [--bwlimit-kbps N] -- SOURCE DIR/NAME``): a
rename on one file system, else a copy to a hidden temp name, renamed into place; no rsync.
The other rsync types run ``rsync [options] -- SOURCE DESTINATION`` where DESTINATION
names the plot's file in the archive dir (``DIR/NAME``, ``rsync://…/module/rel/NAME``,
``[user@]host:DIR/NAME``), never just the dir: rsync then refuses a missing archive dir (a
disk that is not mounted) instead of creating it. rsync writes each file to a hidden temp name
beside it (``.NAME.XXXXXX``) and renames it when complete, so a harvester scanning the farmer's
disks never sees a partly sent plot; options that would write under the final name
(``--inplace``, ``--partial`` …) are refused (:func:`unsafe_rsync_option`). The source is
deleted by rsync itself (``--remove-source-files``) and only once the far side has the whole
file. The options, and why each (:data:`RSYNC_OPTIONS`):

- ``--remove-source-files``: a move, not a copy; rsync deletes the source after success only.
- ``--ignore-existing``: a far file of the plot's name is never compared, replaced or taken
  for the plot. Without it rsync's quick check (same size and mtime) would call a different
  file up to date, send nothing, and delete the only good copy. With it the file is skipped,
  the source stays, and the archiver, reading rsync's statistics, runs a verification
  (:data:`VERIFY_OPTIONS`: ``--dry-run --checksum``): identical bytes (a move whose source
  removal was lost) let the source go; other bytes hold the plot until a person looks.
- ``--times``: the copy keeps the plot's mtime.
- ``--whole-file``: plots are random data; the delta algorithm can only cost a read of a stale
  file at the far side.
- ``--timeout=300``: a dead network or a hung farmer ends the transfer after 5 minutes without
  data instead of never (rsync's default). A target's own ``--timeout=`` in ``rsync_options``
  comes later and wins.
- ``--info=progress2,skip1,stats2``: one progress line a second in the transfer log, for
  ``tail -f``; ``NAME exists`` when the far side has the name; at the end the statistics the
  archiver reports from (:func:`read_transfer_report`): the bytes really sent, not the plot's
  size.
- rsyncd: ``--contimeout=30``, the same for a daemon that does not answer.
- ssh: ``--protect-args`` (archive dirs with spaces also with rsync older than 3.2.4) and
  ``-e "ssh -p PORT [-i KEY -o IdentitiesOnly=yes] [-o UserKnownHostsFile=KH]
  -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=30"``.
  ``~/.ssh/config`` is read (no ``-F /dev/null``): the config's ``user`` falls back to it,
  and farmers keep ProxyJump, ciphers or ControlMaster there. It cannot weaken the options
  above, since ssh keeps the first value it reads and the command line comes first. With
  ``verify_host_key = false`` the host key is not checked and no known_hosts file is read or
  written (``StrictHostKeyChecking=no``, both known-hosts files ``/dev/null``).
- ``--bwlimit=KBPS`` when set, then the target's ``rsync_options``.

A script target runs its ``transfer_command`` with ``{source}``, ``{plot_name}`` and
``{archive_dir}`` filled in; like rsync above it must remove the source only once the plot is
complete at the far side, since that is how the outcome is judged.

**Finding transfers** (:func:`find_transfers`) is stateless: a transfer is a process whose
command line is one :func:`transfer_argv` builds, so a restarted manager finds the ones it (or
an earlier run) started and starts no second one for the same plot. An rsync move of the same
shape to a destination no target names (the config changed since it started) is reported with
``target`` None: its plot is on its way all the same.

**Judging** (:func:`judge_transfer`) needs no exit status either: once no process of the
transfer is found, the source being gone means the far side has the plot, the source still
there means the transfer failed or was interrupted and the plot is sent again later.
"""

from __future__ import annotations

import os
import posixpath
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

from plotman_tui.appdirs import read_regular_file
from plotman_tui.config.rsync_rules import unsafe_rsync_option
from plotman_tui.config.schema import ArchiveTarget, TargetType, expand_command
from plotman_tui.farm.discovery import _command_lines, _split_cmdline
from plotman_tui.farm.model import JobStatus
from plotman_tui.farm.procfs import sample_process
from plotman_tui.farm.spawn import start_job

RSYNC: Final = "rsync"
#: Seconds without data after which rsync gives up (its own default is never).
IO_TIMEOUT_S: Final = 300
#: Seconds to wait for the farmer to answer a connection (SSH or rsync daemon).
CONNECT_TIMEOUT_S: Final = 30
#: Options of every rsync transfer, before the type's own (see the module doc for why).
RSYNC_OPTIONS: Final = (
    "--remove-source-files",
    "--ignore-existing",
    "--times",
    "--whole-file",
    f"--timeout={IO_TIMEOUT_S}",
    "--info=progress2,skip1,stats2",
)
#: Added to a transfer's options (less ``--ignore-existing``) to compare a far file of the
#: plot's name with the plot: rsync then writes nothing and deletes nothing (``--dry-run``),
#: and itemizes the file (``-ii``, which an rsync daemon passes on, unlike its skip messages):
#: ``.f`` for the same checksum, ``<fc`` for other bytes.
VERIFY_OPTIONS: Final = ("--dry-run", "--checksum", "--itemize-changes", "--itemize-changes")
#: The module a local target's transfer runs (``python -m``).
LOCAL_MOVER: Final = "plotman_tui.farm.archive.localmove"

# What rsync's exit statuses mean (rsync(1), EXIT VALUES), for a farmer reading the reason.
_RSYNC_EXIT: Final[Mapping[int, str]] = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files, dirs",
    4: "requested action not supported",
    5: "error starting client-server protocol",
    6: "daemon unable to append to log-file",
    10: "error in socket I/O",
    11: "error in file I/O",
    12: "error in rsync protocol data stream",
    13: "errors with program diagnostics",
    14: "error in IPC code",
    20: "received SIGUSR1 or SIGINT",
    21: "some error returned by waitpid()",
    22: "error allocating core memory buffers",
    23: "partial transfer due to error",
    24: "partial transfer due to vanished source files",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    255: "the SSH connection failed: host key, login or network",
}
# Interpreter words a script may run under (``/bin/sh script args``, ``env python3 script``).
_MAX_INTERPRETER_WORDS: Final = 3
# How far up the process tree a transfer's own helper processes are looked for.
_MAX_ANCESTORS: Final = 32
# Longest log tag kept: file names stop at 255 bytes, and the time takes 31 of them.
_MAX_LOG_TAG: Final = 180


class TransferError(Exception):
    """A transfer could not be started; the message is one line for the farmer."""


class TransferOutcome(StrEnum):
    """How a transfer that is no longer running ended."""

    DONE = "done"  # the source is gone: the far side has the plot
    FAILED = "failed"  # the source is still here: sent again later
    VANISHED = "vanished"  # the source is gone, but not sent by the transfer (or not arrived)
    EXISTS = "exists"  # nothing sent: the far side has a file of the plot's name (not compared)
    IDENTICAL = "identical"  # compared: the far file has the plot's bytes; the source may go
    DIFFERS = "differs"  # compared: the far file has other bytes; the plot stays here


@dataclass(frozen=True)
class TransferVerdict:
    """A transfer's outcome and why, in one line."""

    outcome: TransferOutcome
    reason: str

    @property
    def done(self) -> bool:
        return self.outcome is TransferOutcome.DONE


@dataclass(frozen=True)
class TransferMatch:
    """What a transfer's command line says: its target (None: none configured), plot and dir."""

    target: str | None
    source: str
    archive_dir: str | None


@dataclass(frozen=True)
class RunningTransfer:
    """A transfer found in the process table.

    ``target`` and ``archive_dir`` are None for an rsync move of the shape
    :func:`transfer_argv` builds whose destination no configured target names (started under
    another config): its plot is on its way all the same and must not be picked again.
    ``leftover_of`` is set for a helper process whose transfer process is gone (a local rsync's
    receiver, reparented when its client was killed): the pid of that transfer. It is not a
    transfer of its own, but its plot is still being written to until it goes.
    ``log_path`` is the transfer's log (its standard output), when it could be read.
    """

    pid: int
    create_time: float
    target: str | None
    source: str
    archive_dir: str | None
    argv: tuple[str, ...]
    leftover_of: int | None = None
    log_path: str | None = None

    @property
    def plot_name(self) -> str:
        return os.path.basename(self.source)

    @property
    def verifies(self) -> bool:
        """Whether it compares a far file with the plot (:data:`VERIFY_OPTIONS`) instead of
        sending it."""
        return is_verification(self.argv)


def is_verification(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is a verification run (``--dry-run`` is refused in rsync_options)."""
    return bool(argv) and os.path.basename(argv[0]) == RSYNC and VERIFY_OPTIONS[0] in argv


@dataclass(frozen=True)
class StartedTransfer:
    """A transfer :func:`start_transfer` started.

    ``popen`` is reaped by a background thread (as a plot job is, see
    :mod:`plotman_tui.farm.spawn`); ``poll()`` gives the exit status once it has ended.
    ``create_time`` is the process's, as :func:`find_transfers` reports it (None when it ended
    at once). ``nice`` and ``warning`` are those of :func:`plotman_tui.farm.spawn.start_job`.
    """

    pid: int
    create_time: float | None
    target: str
    source: str
    archive_dir: str
    argv: tuple[str, ...]
    log_path: Path
    started_at: float
    popen: subprocess.Popen[bytes] = field(compare=False, repr=False)
    nice: int | None = None
    warning: str | None = None


# -- the command line ---------------------------------------------------------------------------


def transfer_argv(
    target: ArchiveTarget, source: str, archive_dir: str, *, verify: bool = False
) -> list[str]:
    """The command line that moves the plot ``source`` to ``archive_dir`` of ``target``.

    ``source`` must be an absolute path (the command line alone must say which file moves)
    and ``archive_dir`` one of the target's archive dirs; raises ``ValueError`` otherwise, and
    for ``rsync_options`` that would leave a partly sent plot under its final name or skip
    sending it. ``verify``: the rsync run that compares a far file of the plot's name with the
    plot instead (:data:`VERIFY_OPTIONS`; rsync types only).
    """
    source = os.fspath(source)
    plot_name = os.path.basename(source)
    if not os.path.isabs(source) or not plot_name:
        raise ValueError(f"{source}: the plot to send must be given by its absolute path")
    if archive_dir not in target.archive_dirs:
        raise ValueError(f"{archive_dir} is not an archive dir of target {target.name}")
    if target.type is TargetType.SCRIPT:
        if not target.transfer_command:
            raise ValueError(f"target {target.name} has no transfer_command")
        values = {"source": source, "plot_name": plot_name, "archive_dir": archive_dir}
        return list(expand_command(target.transfer_command, values))
    if target.type is TargetType.LOCAL:
        if verify:
            raise ValueError(f"target {target.name}: the local mover compares by itself")
        bwlimit = [f"--bwlimit-kbps={target.bwlimit_kbps}"] if target.bwlimit_kbps else []
        destination = transfer_destination(target, source, archive_dir)
        return [sys.executable, "-m", LOCAL_MOVER, *bwlimit, "--", source, destination]
    for option in target.rsync_options:
        reason = unsafe_rsync_option(option)
        if reason is not None:
            raise ValueError(f"target {target.name}: rsync option {reason}; remove it")
    if verify:
        options = [o for o in RSYNC_OPTIONS if o != "--ignore-existing"]
        argv = [RSYNC, *options, *VERIFY_OPTIONS]
    else:
        argv = [RSYNC, *RSYNC_OPTIONS]
    if target.type is TargetType.RSYNCD:
        argv.append(f"--contimeout={CONNECT_TIMEOUT_S}")
    elif target.type is TargetType.SSH:
        argv += ["--protect-args", "-e", _rsync_rsh(ssh_argv(target))]
    if target.bwlimit_kbps is not None:
        argv.append(f"--bwlimit={target.bwlimit_kbps}")
    argv += target.rsync_options
    argv += ["--", source, transfer_destination(target, source, archive_dir)]
    return argv


def transfer_destination(target: ArchiveTarget, source: str, archive_dir: str) -> str:
    """Where the plot lands, as the command line names it: a path (local), an rsync URL
    (rsyncd), ``[user@]host:path`` (ssh); for a script target the path it is told of."""
    plot_name = os.path.basename(source)
    if target.type is TargetType.LOCAL:
        return os.path.join(archive_dir, plot_name)
    if target.type is TargetType.RSYNCD:
        return target.rsync_url(archive_dir) + plot_name
    if target.type is TargetType.SSH:
        if target.host is None:
            raise ValueError(f"target {target.name} has no host")
        host = f"[{target.host}]" if ":" in target.host else target.host  # an IPv6 address
        user = f"{target.user}@" if target.user else ""
        return f"{user}{host}:{posixpath.join(archive_dir, plot_name)}"
    return posixpath.join(archive_dir, plot_name)


def ssh_argv(target: ArchiveTarget) -> list[str]:
    """``ssh`` and its options for an ssh target, without the host (see the module doc)."""
    argv = ["ssh", "-p", str(target.ssh_port)]
    if target.identity_file is not None:
        # Only that key: an agent holding many keys could use up the farmer's MaxAuthTries.
        argv += ["-i", _ssh_path(target.identity_file), "-o", "IdentitiesOnly=yes"]
    if target.verify_host_key:
        if target.known_hosts is not None:
            known_hosts = _ssh_path(target.known_hosts)
            argv += ["-o", f"UserKnownHostsFile={_ssh_config_word(known_hosts)}"]
        argv += ["-o", "StrictHostKeyChecking=yes"]
    else:
        argv += [
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
        ]
    argv += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}"]
    return argv


def _ssh_path(path: Path) -> str:
    # ssh expands %-tokens in key and known_hosts paths: a literal % is written %%.
    return os.fspath(path).replace("%", "%%")


def _ssh_config_word(value: str) -> str:
    # An -o value is split like a config line: a path with spaces would name several files.
    if any(char.isspace() for char in value):
        return '"' + value + '"'
    return value


def _rsync_rsh(argv: Sequence[str]) -> str:
    """``argv`` as one ``-e`` string, quoted the way rsync splits it (not the shell's way).

    rsync splits on spaces; inside single or double quotes a doubled quote is a literal one.
    """
    words = []
    for word in argv:
        if word and not any(char.isspace() or char in "'\"" for char in word):
            words.append(word)
        else:
            words.append("'" + word.replace("'", "''") + "'")
    return " ".join(words)


# -- recognising a command line -----------------------------------------------------------------


def match_transfer_argv(
    argv: Sequence[str], targets: Sequence[ArchiveTarget]
) -> TransferMatch | None:
    """Which transfer ``argv`` is, if it is one :func:`transfer_argv` builds; else None.

    An rsync command line matches the first target whose command line for that plot and dir
    is the same; failing that, the first whose destination is the same (the target's options
    changed since it started); failing that, it is an rsync move of our shape to an unknown
    place. A script target's command matches also when run by an interpreter (a ``#!`` script
    shows as ``/bin/sh /path/to/script ARGS``) or found on PATH.
    """
    argv = tuple(argv)
    if _is_rsync_move(argv) or _is_local_move(argv):
        return _match_rsync(argv, targets)
    for target in targets:
        if target.type is TargetType.SCRIPT:
            found = _match_script(argv, target)
            if found is not None:
                return found
    return None


def _is_rsync_move(argv: tuple[str, ...]) -> bool:
    """An rsync client moving one absolute file to a destination named after it."""
    if len(argv) < 4 or os.path.basename(argv[0]) != RSYNC:
        return False
    if "--remove-source-files" not in argv or "--server" in argv or "--daemon" in argv:
        return False
    source, destination = argv[-2], argv[-1]
    plot_name = os.path.basename(source)
    return bool(plot_name) and source.startswith("/") and destination.endswith("/" + plot_name)


def _is_local_move(argv: tuple[str, ...]) -> bool:
    """The local mover (any interpreter: a venv's python may be named differently)."""
    if len(argv) < 6 or argv[1:3] != ("-m", LOCAL_MOVER) or argv[-3] != "--":
        return False
    source, destination = argv[-2], argv[-1]
    plot_name = os.path.basename(source)
    return bool(plot_name) and source.startswith("/") and destination.endswith("/" + plot_name)


def _match_rsync(argv: tuple[str, ...], targets: Sequence[ArchiveTarget]) -> TransferMatch:
    """The target of an rsync move or a local mover: both name the plot's final path last."""
    source, destination = argv[-2], argv[-1]
    same_destination: TransferMatch | None = None
    verify = is_verification(argv)
    for target in targets:
        if target.type is TargetType.SCRIPT or (verify and target.type is TargetType.LOCAL):
            continue
        for archive_dir in target.archive_dirs:
            try:
                built = transfer_argv(target, source, archive_dir, verify=verify)
            except ValueError:
                break  # this target cannot send at all (unsafe options, no host)
            if built[-1] != destination:
                continue
            if tuple(built[1:]) == argv[1:]:
                return TransferMatch(target.name, source, archive_dir)
            if same_destination is None:
                same_destination = TransferMatch(target.name, source, archive_dir)
    return same_destination or TransferMatch(None, source, None)


# Stand-ins for the variables while a script target's command is turned into a pattern.
_MARK: Final = "\0"
_MARKED_VARIABLE: Final = re.compile(_MARK + r"(source|plot_name|archive_dir)" + _MARK)
_VARIABLE_PATTERNS: Final[Mapping[str, str]] = {
    "source": "[^\0]+",
    "plot_name": "[^\0/]+",
    "archive_dir": "[^\0]*",
}


def _script_pattern(command: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for the arguments of ``command`` joined by NUL; repeats must be equal."""
    marked = expand_command(command, {name: f"{_MARK}{name}{_MARK}" for name in _VARIABLE_PATTERNS})
    seen: set[str] = set()
    parts: list[str] = []
    for word in marked:
        pattern = ""
        position = 0
        for variable in _MARKED_VARIABLE.finditer(word):
            pattern += re.escape(word[position : variable.start()])
            name = variable.group(1)
            if name in seen:
                pattern += f"(?P={name})"
            else:
                pattern += f"(?P<{name}>{_VARIABLE_PATTERNS[name]})"
                seen.add(name)
            position = variable.end()
        parts.append(pattern + re.escape(word[position:]))
    return re.compile(re.escape(_MARK).join(parts))


def _match_script(argv: tuple[str, ...], target: ArchiveTarget) -> TransferMatch | None:
    command = target.transfer_command
    if not command:
        return None
    offset = len(argv) - len(command)
    if not 0 <= offset <= _MAX_INTERPRETER_WORDS:
        return None
    program, arguments = argv[offset], argv[offset + 1 :]
    if program != command[0] and os.path.basename(program) != os.path.basename(command[0]):
        return None
    found = _script_pattern(command[1:]).fullmatch(_MARK.join(arguments))
    if found is None or "source" not in found.groupdict():
        return None
    source = found.group("source")
    captured_dir = found.groupdict().get("archive_dir")
    for archive_dir in target.archive_dirs:
        if captured_dir is not None and archive_dir != captured_dir:
            continue
        try:
            built = transfer_argv(target, source, archive_dir)
        except ValueError:
            return None
        if tuple(built[1:]) == arguments:
            return TransferMatch(target.name, source, archive_dir)
    return None


# -- finding running transfers ------------------------------------------------------------------


def find_transfers(targets: Sequence[ArchiveTarget]) -> list[RunningTransfer]:
    """The transfers running now, one per transfer, oldest first (see the module doc).

    A transfer's own helper processes are left out: the processes a local rsync forks (the
    same command line), and an rsync that a script target runs; so is rsync's server side
    (``--server``) when the farmer is this machine. Those helpers may outlive the process that
    was started (a local rsync's receiver, reparented when its client was killed, still
    writing its temp file): such a helper is told by its process group, which is its
    transfer's (a transfer is started as the leader of its own session) while that leader is
    gone. It is reported with ``leftover_of``, the pid of its transfer: no transfer of its
    own, and no new one is started for its plot before it goes.
    """
    needles = _needles(targets)
    matches: dict[int, tuple[TransferMatch, tuple[str, ...]]] = {}
    for pid, raw in _command_lines():
        if isinstance(raw, bytes):
            # Most processes are not transfers: skip them before splitting their command line.
            if not any(needle in raw for needle in needles):
                continue
            argv = _split_cmdline(raw)
        else:
            argv = raw
        match = match_transfer_argv(argv, targets)
        if match is not None:
            matches[pid] = (match, argv)
    parents: dict[int, int | None] = {}
    found: list[RunningTransfer] = []
    for pid, (match, argv) in matches.items():
        sample = sample_process(pid)
        if sample is None or sample.status is JobStatus.ZMB:
            continue  # ended since the listing
        parents[pid] = sample.ppid
        if any(ancestor in matches for ancestor in _ancestors(pid, parents)):
            continue
        found.append(
            RunningTransfer(
                pid=pid,
                create_time=sample.create_time,
                target=match.target,
                source=match.source,
                archive_dir=match.archive_dir,
                argv=argv,
                leftover_of=_leader_gone(pid, sample.create_time),
                log_path=_stdout_path(pid),
            )
        )
    found.sort(key=lambda transfer: (transfer.create_time, transfer.pid))
    return found


def _leader_gone(pid: int, create_time: float) -> int | None:
    """The leader of ``pid``'s process group when that is another process and gone (or one
    started after ``pid``: its pid was reused); else None."""
    try:
        group = os.getpgid(pid)
    except OSError:
        return None
    if group == pid:
        return None
    leader = sample_process(group)
    if leader is None or leader.status is JobStatus.ZMB or leader.create_time > create_time:
        return group
    return None


def _stdout_path(pid: int) -> str | None:
    """Where ``pid`` writes its standard output, when it is a file (a transfer's log)."""
    try:
        path = os.readlink(f"/proc/{pid}/fd/1")
    except OSError:
        return None
    return path if path.startswith("/") else None


def _needles(targets: Sequence[ArchiveTarget]) -> tuple[bytes, ...]:
    """Bytes every transfer's raw command line holds: rsync's option, or a script's program."""
    needles = [b"--remove-source-files", LOCAL_MOVER.encode()]
    for target in targets:
        if target.type is TargetType.SCRIPT and target.transfer_command:
            needles.append(os.fsencode(os.path.basename(target.transfer_command[0])))
    return tuple(dict.fromkeys(needles))


def _ancestors(pid: int, parents: dict[int, int | None]) -> Iterator[int]:
    """The parent of ``pid``, its parent and so on (``parents`` caches what was read)."""
    current: int | None = pid
    for _ in range(_MAX_ANCESTORS):
        if current is None:
            return
        if current not in parents:
            sample = sample_process(current)
            parents[current] = sample.ppid if sample is not None else None
        parent = parents[current]
        if parent is None or parent <= 1:
            return
        yield parent
        current = parent


# -- starting a transfer ------------------------------------------------------------------------


def start_transfer(
    target: ArchiveTarget,
    source: str,
    archive_dir: str,
    log_dir: Path,
    *,
    nice: int | None = None,
    now: float | None = None,
    verify: bool = False,
) -> StartedTransfer:
    """Start moving ``source`` to ``archive_dir`` of ``target``; return at once.

    The transfer is a detached process like a plot job (its own session, stdin from
    ``/dev/null``, reaped by a thread): it outlives a manager restart and is found again by
    :func:`find_transfers`. Its output goes to a new log in ``log_dir`` named
    ``<start time>-<target>-<plot name>.log``. ``nice`` None leaves it at plotman-tui's
    niceness. ``verify``: compare the far file of the plot's name with the plot instead
    (:func:`transfer_argv`). Raises :class:`TransferError` (one line) when it cannot start.
    """
    try:
        argv = transfer_argv(target, source, archive_dir, verify=verify)
    except ValueError as error:
        raise TransferError(str(error)) from None
    if not os.path.isfile(source):
        raise TransferError(f"{source}: no such plot file, nothing to send to {target.name}")
    tag = f"{target.name}-{os.path.basename(source).removesuffix('.plot')}"
    if verify:
        tag = f"verify-{tag}"
    try:
        job = start_job(argv, log_dir, nice=nice, now=now, log_tag=tag[:_MAX_LOG_TAG])
    except FileNotFoundError as error:
        if error.filename == argv[0]:
            hint = "install rsync" if argv[0] == RSYNC else "check transfer_command"
            raise TransferError(
                f"target {target.name}: cannot run {argv[0]}: not found ({hint})"
            ) from None
        raise TransferError(f"{log_dir}: cannot create the transfer log: {_why(error)}") from None
    except OSError as error:
        raise TransferError(
            f"target {target.name}: cannot start {argv[0]}: {_why(error)}"
        ) from None
    sample = sample_process(job.pid)
    return StartedTransfer(
        pid=job.pid,
        create_time=sample.create_time if sample is not None else None,
        target=target.name,
        source=source,
        archive_dir=archive_dir,
        argv=job.argv,
        log_path=job.log_path,
        started_at=job.started_at,
        popen=job.popen,
        nice=job.nice,
        warning=job.warning,
    )


def _why(error: OSError) -> str:
    return error.strerror or str(error)


# -- judging a transfer that has ended ----------------------------------------------------------

# The most of a transfer log read for its report (a day of progress lines is far less).
_MAX_LOG_BYTES: Final = 8 * 1024 * 1024
_FILES_SENT: Final = re.compile(r"^Number of regular files transferred: ([0-9][0-9,.' ]*)$")
_LITERAL: Final = re.compile(r"^Literal data: ([0-9][0-9,.' ]*) bytes$")
# ``exists`` outcomes of a comparison that say the far file holds the plot's bytes.
_SAME_BYTES: Final = frozenset({"uptodate", "attr change"})


@dataclass(frozen=True)
class TransferReport:
    """What a transfer's log says it did (rsync's ``--info=stats2`` and ``skip`` lines, which
    the local mover writes too); a value the log does not give is None.

    ``exists`` is set when the far side had a file of the plot's name: ``""`` when it was not
    compared, else rsync's word for the comparison (``uptodate``, ``sum change`` …).
    """

    files_sent: int | None = None
    literal_bytes: int | None = None
    exists: str | None = None
    #: The last line ssh wrote about why it could not connect, when it wrote one.
    ssh_error: str | None = None

    @property
    def same_bytes(self) -> bool:
        """The far file was compared and holds the plot's bytes."""
        return self.exists in _SAME_BYTES

    @property
    def other_bytes(self) -> bool:
        """The far file was compared and holds other bytes."""
        return bool(self.exists) and self.exists not in _SAME_BYTES


# What ssh writes when it cannot connect (ssh(1) and its usual messages): the host key, the
# login, or the way to the farmer.
_SSH_ERROR: Final = re.compile(
    r"^(?:Host key verification failed\.?"
    r"|.*Permission denied \(.*\)\.?"
    r"|ssh: (?:connect to host|Could not resolve hostname) .*"
    r"|kex_exchange_identification: .*"
    r"|Connection (?:closed|reset) by .*)$"
)
_MAX_SSH_ERROR: Final = 300


def _number(text: str) -> int | None:
    digits = re.sub(r"[^0-9]", "", text)
    return int(digits) if digits else None


def read_transfer_report(log_path: str | os.PathLike[str] | None, plot_name: str) -> TransferReport:
    """The report in a transfer's log; an empty one when the log cannot be read."""
    if log_path is None:
        return TransferReport()
    try:
        # Its standard output may be anything (a terminal, a FIFO): regular files only. The
        # statistics are at its end.
        text = read_regular_file(log_path, _MAX_LOG_BYTES, tail=True).decode(errors="replace")
    except OSError:
        return TransferReport()
    exists_line = re.compile(rf"^{re.escape(plot_name)} exists(?: \((.+)\))?$")
    item_line = re.compile(rf"^[<>ch.*]f(.)[ -~]{{8,9}} {re.escape(plot_name)}$")
    files_sent = literal = exists = ssh_error = None
    for line in re.split(r"[\r\n]+", text):
        if (found := item_line.match(line)) is not None:
            # The checksum column of rsync's itemized line: c other bytes, . or space same.
            exists = {"c": "sum change", ".": "uptodate", " ": "uptodate"}.get(found.group(1))
            continue
        line = line.strip()
        if (found := _FILES_SENT.match(line)) is not None:
            files_sent = _number(found.group(1))
        elif (found := _LITERAL.match(line)) is not None:
            literal = _number(found.group(1))
        elif (found := exists_line.match(line)) is not None:
            exists = found.group(1) or ""
        elif _SSH_ERROR.match(line) is not None:
            ssh_error = line[:_MAX_SSH_ERROR]
    return TransferReport(files_sent, literal, exists, ssh_error)


def judge_transfer(
    source: str,
    *,
    exit_code: int | None = None,
    program: str = RSYNC,
    local_destination: str | None = None,
    report: TransferReport | None = None,
    where: str = "the archive dir",
    compared: bool = False,
) -> TransferVerdict:
    """How the transfer of ``source`` ended, from the file system and its log (call it once
    :func:`find_transfers` no longer finds it: helpers may outlive the process started).

    The source gone means done: rsync (and a script, by its contract) removes it only once the
    far side has the whole plot; unless its ``report`` says it sent nothing (``VANISHED``:
    moved or deleted by something else). The source still there means failed or interrupted:
    the plot stays where it is and is sent again later; unless the report says the far side
    had a file of the plot's name (``where``: the archive dir and target, for the reason):
    ``EXISTS`` (not compared yet), ``IDENTICAL`` or ``DIFFERS`` (compared). For a local target
    ``local_destination`` (:func:`transfer_destination`) is checked too: a gone source without
    the plot there is ``VANISHED``. ``exit_code`` (``Popen.returncode``, when this process
    started it) and ``program`` only make the reason clearer. ``IDENTICAL`` needs
    ``compared``: the transfer was a comparison of contents (rsync's ``--checksum`` run, or the
    local mover, which compares bytes itself); rsync's ``uptodate`` from an ordinary run (its
    quick check of size and mtime, shown by an ``--info=skip`` a farmer added) proves nothing.
    """
    name = os.path.basename(source)
    status = _exit_text(exit_code, program)
    report = report or TransferReport()
    try:
        os.stat(source, follow_symlinks=False)
        still_here = True
    except FileNotFoundError:
        still_here = False
    except OSError as error:
        return TransferVerdict(
            TransferOutcome.FAILED, f"cannot tell whether {name} moved: {source}: {_why(error)}"
        )
    if still_here:
        if (
            compared
            and report.same_bytes
            and exit_code in (0, None)
            and not (report.files_sent or 0) > 0
        ):
            return TransferVerdict(
                TransferOutcome.IDENTICAL,
                f"{name} is already in {where} with the same bytes (compared by checksum)",
            )
        if report.other_bytes:
            return TransferVerdict(
                TransferOutcome.DIFFERS,
                f"{name} is already in {where} with other bytes: remove or check it; "
                "the plot stays here",
            )
        # Nothing sent, status 0: with the options allowed, only a far file of the name skips.
        if report.exists is not None or (report.files_sent == 0 and exit_code in (0, None)):
            return TransferVerdict(
                TransferOutcome.EXISTS,
                f"{name} is already in {where}: nothing sent; it is compared with the plot here",
            )
        if exit_code == 0:
            why = f"{program} exited with status 0 but did not remove it"
        elif report.ssh_error is not None:
            # Which end notices first decides rsync's status (255, or 12 when the pipe broke
            # first): ssh's own words say what went wrong.
            why = f"the SSH connection failed: {report.ssh_error}; {status or 'interrupted'}"
        else:
            why = status or "interrupted"
        return TransferVerdict(
            TransferOutcome.FAILED, f"{name} not moved ({why}); it is sent again later"
        )
    if not os.path.isdir(os.path.dirname(source)):
        return TransferVerdict(
            TransferOutcome.FAILED,
            f"cannot tell whether {name} moved: {os.path.dirname(source)} is not there "
            "(not mounted?); it is sent if it shows up again",
        )
    if local_destination is not None and not os.path.lexists(local_destination):
        return TransferVerdict(
            TransferOutcome.VANISHED,
            f"{name} left {os.path.dirname(source)} but is not at {local_destination} "
            "(moved or deleted by something else)",
        )
    if report.files_sent == 0 and not report.same_bytes:
        return TransferVerdict(
            TransferOutcome.VANISHED,
            f"{name} left {os.path.dirname(source)} but {program} sent none of it "
            "(moved or deleted by something else)",
        )
    note = f" ({status})" if exit_code else ""
    if report.same_bytes:
        return TransferVerdict(
            TransferOutcome.DONE,
            f"{name} was already in {where} with the same bytes: the copy here is removed",
        )
    return TransferVerdict(TransferOutcome.DONE, f"{name} moved{note}")


def _exit_text(exit_code: int | None, program: str) -> str:
    """``rsync exited with status 23 (partial transfer due to error)``; empty for None."""
    if exit_code is None:
        return ""
    if exit_code < 0:
        try:
            signal_name = signal.Signals(-exit_code).name
        except ValueError:
            signal_name = f"signal {-exit_code}"
        return f"{program} was killed by {signal_name}"
    meaning = _RSYNC_EXIT.get(exit_code) if program == RSYNC else None
    return f"{program} exited with status {exit_code}" + (f" ({meaning})" if meaning else "")
