"""The archiving engine: one pass finds the transfers under way, reports those that ended, and
starts the ones the archive policy picks.

Like plotting, only the holder of a lock (``archiver.lock`` in the data dir) starts transfers;
everything else is read from the machine on every pass: a transfer is a running rsync (or
script) process whose command line names a target (:func:`transfer.find_transfers`), and its
outcome is what the file system says once it is gone (:func:`transfer.judge_transfer`). So a
restarted manager loses no transfer and starts none twice. Free space of the archive dirs comes
from a :class:`SpaceMonitor` that refreshes it in the background; a pass never waits on a
farmer.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from plotman_tui.appdirs import read_regular_file
from plotman_tui.config.schema import ArchiveTarget, Config, TargetType
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.archive.localmove import stale_temp_files
from plotman_tui.farm.archive.policy import (
    ArchiveWait,
    DstState,
    HeldPlot,
    PlotCandidate,
    TargetState,
    Transfer,
    is_finished_plot,
    pick_transfers,
    plot_name_k,
)
from plotman_tui.farm.archive.replot import ReplotProgress
from plotman_tui.farm.archive.replotter import Replotter
from plotman_tui.farm.archive.space import SpaceMonitor, TargetSpace
from plotman_tui.farm.archive.transfer import (
    RunningTransfer,
    StartedTransfer,
    TransferError,
    TransferOutcome,
    TransferVerdict,
    find_transfers,
    judge_transfer,
    read_transfer_report,
    start_transfer,
    transfer_destination,
)
from plotman_tui.farm.dirs import inspect_dir_within
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.events import Event, EventKind, LockWatch, WaitNotes, record_action
from plotman_tui.farm.launches import BackOff, NoteKeeper, StartFailures, StateWriter
from plotman_tui.farm.lock import SchedulerLock
from plotman_tui.farm.model import Job, JobStatus, distinct_dirs
from plotman_tui.farm.pauseflags import Loop, read_pause
from plotman_tui.farm.procfs import sample_process
from plotman_tui.farm.units import human_bytes, human_duration

#: A target whose transfer failed waits this long before its next one, doubling to the max.
RETRY_S = 30.0
RETRY_MAX_S = 900.0
#: Seconds a dst dir has to tell its free space before it counts as unknown (a hung mount).
FREE_SPACE_TIMEOUT_S = 5.0
#: Seconds a plot must be unchanged before it counts as finished (a copy may still be writing).
SETTLE_S = 60.0
#: Seconds a local mover's temp file of a plot no mover here is moving must be unchanged
#: before it is removed as a killed mover's: a mover on another machine sharing the archive dir
#: writes to its own all the time, and this machine's process table cannot show that mover.
STALE_TEMP_S = 600.0
#: How often the local archive dirs are looked through for such files: a file must be still for
#: ten minutes anyway, and a pass should not list every archive dir.
STALE_SWEEP_S = 60.0
_STATE_VERSION = 1
# The most an archiving state file may be (it lists the transfers under way).
_MAX_STATE_BYTES = 16 * 1024 * 1024
# Name under which a transfer of a target no longer configured counts in the policy.
_UNCONFIGURED = "(not configured)"


@dataclass(frozen=True)
class ArchivePassResult:
    """What one archiving pass saw and did; ``waits`` say why each idle target is idle;
    ``retrying``: the targets whose last transfers failed, by name (they back off until a
    transfer goes through)."""

    time: float
    transfers: tuple[RunningTransfer, ...]
    started: tuple[StartedTransfer, ...]
    waits: tuple[ArchiveWait, ...]
    spaces: Mapping[str, TargetSpace | None]
    events: tuple[Event, ...]
    holds_lock: bool
    retrying: Mapping[str, StartFailures] = field(default_factory=dict)
    #: Each replotting target's progress, by name (targets without replot rules are absent).
    replot: Mapping[str, ReplotProgress] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(event.failed for event in self.events)


@dataclass
class _Seen:
    """A transfer seen running: what its end will be reported with."""

    transfer: RunningTransfer
    size_bytes: int | None
    started_at: float  # its process's create time
    log_path: str | None = None


@dataclass
class _Finished:
    """A transfer that ended, whose bytes the next free-space sample may not show yet."""

    archive_dir: str
    size_bytes: int
    ended_at: float


class ArchivingEngine:
    """Runs archiving passes; one at a time, from one thread at a time.

    ``pause_dir``: where the machine's pause flag is looked for
    (:mod:`~plotman_tui.farm.pauseflags`; None: no flag pauses this engine). While it is set,
    as while the dashboard's switch is off, no transfer starts and replotting removes nothing;
    transfers (and a removal) under way go on.
    """

    def __init__(
        self,
        config: Config,
        *,
        lock: SchedulerLock,
        action_log: ActionLog | None,
        space: SpaceMonitor,
        log_dir: Path,
        scanner: Scanner | None = None,
        state_path: Path | None = None,
        clock: Callable[[], float] = time.time,
        settle_s: float = SETTLE_S,
        retry_s: float = RETRY_S,
        retry_max_s: float = RETRY_MAX_S,
        nice: int | None = None,
        replotter: Replotter | None = None,
        pause_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.pause_dir = pause_dir
        self.action_log = action_log
        self.space = space
        #: Makes room on full farmers (targets with replot rules), in the space monitor's loop.
        self.replotter = replotter or Replotter(
            config.archiving.active_targets, space, action_log=action_log
        )
        self.log_dir = log_dir
        self._scanner = scanner
        #: Where the lock holder keeps the transfers it saw, so that the next run (cron's
        #: ``--once``, a restart) reports how they ended. None: in memory only.
        self.state_path = state_path
        self._state_writer = StateWriter(state_path) if state_path is not None else None
        self._clock = clock
        self._settle_s = settle_s
        self._retry_s = retry_s
        self._retry_max_s = retry_max_s
        self._nice = nice
        #: The dashboard's switch: False starts no transfer (those under way run on).
        self.archiving_enabled = True
        self._lock = LockWatch(lock, what="archiver lock", role="moves the finished plots")
        self._waits = WaitNotes()
        #: The loop's latest word, kept in the state file for ``watch --json``.
        self._notes = NoteKeeper()
        self._seen: dict[tuple[int, float], _Seen] = {}
        self._ours: dict[int, StartedTransfer] = {}
        self._finished: dict[str, list[_Finished]] = {}
        self._retries: dict[str, BackOff] = {}
        self._plot_retries: dict[str, BackOff] = {}
        #: Plots whose name was found at the far side: (target, archive dir) to compare them in.
        self._to_verify: dict[str, tuple[str, str]] = {}
        self._next_sweep = 0.0  # when the local archive dirs are next looked through
        #: Plots found to differ from the far file of their name: (size, mtime) when compared.
        self._differs: dict[str, tuple[int, float]] = {}
        #: Plots young enough to be left to settle, and when they may go (for the wait reason).
        self._settling: dict[str, float] = {}

    @property
    def targets(self) -> tuple[ArchiveTarget, ...]:
        return self.config.archiving.active_targets

    def close(self) -> None:
        """Give the archiver lock up; transfers under way run on."""
        self._lock.release()

    # -- one pass -------------------------------------------------------------------------------

    def step(self, jobs: Sequence[Job] | None = None) -> ArchivePassResult:
        """Report ended transfers and start new ones; ``jobs``: the last scan's plot jobs
        (None: this engine scans itself, for ``archive`` without plotting)."""
        now = self._clock()
        events: list[Event] = []
        holds_lock, taken = self._lock.check(now, events)
        if taken:
            self._waits.forget()
            self._load_state(events, now)
        # Once, before a transfer's end is reported: the plots sent before, removals made.
        self.replotter.read_history()
        running = self._ours_or_from_dst(find_transfers(self.config.archiving.targets))
        running += self._report_ended(running, now, events, record=holds_lock)
        events += self.replotter.take_events()  # the removals made since the last pass
        spaces = {target.name: self.space.current(target.name) for target in self.targets}
        started: list[StartedTransfer] = []
        waits: tuple[ArchiveWait, ...] = ()
        paused = self._paused() if holds_lock else None
        if paused is not None:
            waits = (ArchiveWait(paused),)
            self._waits.note(paused, now, events)
        elif holds_lock:
            if jobs is None:
                jobs = self._scanner.scan().jobs if self._scanner is not None else ()
            waits = self._plan_and_start(jobs, running, spaces, now, events, started)
        if holds_lock:
            self._notes.say(_loop_word(started, waits), now)
        transfers = tuple(running) + tuple(
            RunningTransfer(
                pid=s.pid,
                create_time=s.create_time or s.started_at,
                target=s.target,
                source=s.source,
                archive_dir=s.archive_dir,
                argv=s.argv,
                log_path=str(s.log_path),
            )
            for s in started
        )
        if holds_lock:
            self._save_state(events, now, spaces)
        return ArchivePassResult(
            time=now,
            transfers=transfers,
            started=tuple(started),
            waits=waits,
            spaces=spaces,
            events=tuple(events),
            holds_lock=holds_lock,
            retrying={
                name: failing
                for name, retry in self._retries.items()
                if (failing := retry.failing()) is not None
            },
            replot={
                name: progress
                for name in self.replotter.names
                if (progress := self.replotter.progress(name, now)) is not None
            },
        )

    def _paused(self) -> str | None:
        """Why no transfer may start: the dashboard's switch, else the machine's pause flag
        (read once a pass: one ``lstat`` while it is unset); None: none stops it."""
        if not self.archiving_enabled:
            return "archiving is paused"
        if self.pause_dir is None:
            return None
        flag = read_pause(Loop.ARCHIVING, self.pause_dir)
        return flag.describe(Loop.ARCHIVING) if flag.paused else None

    # -- what the last run saw -------------------------------------------------------------------

    def _load_state(self, events: list[Event], now: float) -> None:
        if self.state_path is None:
            return
        try:
            # A FIFO or a device in its place must not hang the loop: regular files only, capped.
            data = json.loads(read_regular_file(self.state_path, _MAX_STATE_BYTES).decode("utf-8"))
            entries = data["transfers"] if data.get("version") == _STATE_VERSION else []
            for entry in entries:
                transfer = RunningTransfer(
                    pid=int(entry["pid"]),
                    create_time=float(entry["create_time"]),
                    target=entry["target"],
                    source=str(entry["source"]),
                    archive_dir=entry["archive_dir"],
                    argv=tuple(str(arg) for arg in entry["argv"]),
                )
                size = entry.get("bytes")
                log = entry.get("log")
                self._seen.setdefault(
                    (transfer.pid, transfer.create_time),
                    _Seen(
                        transfer,
                        int(size) if size is not None else None,
                        transfer.create_time,
                        str(log) if log is not None else None,
                    ),
                )
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            why = error.strerror if isinstance(error, OSError) and error.strerror else repr(error)
            message = f"{self.state_path}: not read ({why}); starting afresh"
            events.append(Event(now, EventKind.ERROR, message))

    def _save_state(
        self, events: list[Event], now: float, spaces: Mapping[str, TargetSpace | None]
    ) -> None:
        if self._state_writer is None:
            return
        transfers = [
            {
                "pid": seen.transfer.pid,
                "create_time": seen.transfer.create_time,
                "target": seen.transfer.target,
                "source": seen.transfer.source,
                "archive_dir": seen.transfer.archive_dir,
                "argv": list(seen.transfer.argv),
                "bytes": seen.size_bytes,
                "log": seen.log_path,
            }
            for seen in self._seen.values()
        ]
        data: dict[str, Any] = {"version": _STATE_VERSION, "transfers": transfers}
        if self._notes.note is not None:
            data["note"] = self._notes.note.to_json()
        # The farmers' free space as last read, for a look from outside (the fleet's watch)
        # that must not read it again over SSH.
        data["spaces"] = {
            name: space_to_json(space) for name, space in spaces.items() if space is not None
        }
        text = json.dumps(data, indent=1) + "\n"
        problem = self._state_writer.write(text)
        if problem is not None:
            events.append(Event(now, EventKind.ERROR, problem, failed=True))

    # -- transfers that ended -------------------------------------------------------------------

    def _ours_or_from_dst(self, running: list[RunningTransfer]) -> list[RunningTransfer]:
        """The transfers to follow: those of a configured target, and rsync moves of the same
        shape out of a dst dir (a target since renamed or removed: their plots are on their way
        all the same). Other rsync moves on the machine are someone else's business."""
        dst_dirs = set(self._dst_dirs())
        return [
            transfer
            for transfer in running
            if transfer.target is not None
            or os.path.normpath(os.path.dirname(transfer.source)) in dst_dirs
        ]

    def _dst_dirs(self) -> list[str]:
        return distinct_dirs(*(os.fspath(d) for d in self.config.directories.dst_or_tmp))

    def _report_ended(
        self, running: Sequence[RunningTransfer], now: float, events: list[Event], *, record: bool
    ) -> list[RunningTransfer]:
        """Report the seen transfers that ended; return those still running that ``running``
        misses (a transfer started a moment ago may still be inside exec, its command line
        empty), so that they count as under way."""
        unrecognised: list[RunningTransfer] = []
        current = {(t.pid, t.create_time): t for t in running}
        # A transfer's helper processes may outlive the process that started it: it has ended
        # only once no process moves its plot.
        moving = {os.path.normpath(t.source) for t in running}
        for key, seen in list(self._seen.items()):
            transfer = seen.transfer
            if key in current or os.path.normpath(transfer.source) in moving:
                continue
            if _alive(*key):
                unrecognised.append(transfer)
                continue
            del self._seen[key]
            events += self._ended(seen, now, record=record)
        for key, transfer in current.items():
            # A leftover helper of a transfer is no transfer of its own (its end is its
            # transfer's, reported once the helper has gone too).
            if key not in self._seen and transfer.leftover_of is None:
                self._seen[key] = _Seen(
                    transfer, _size(transfer.source), transfer.create_time, transfer.log_path
                )
        for pid in [pid for pid, s in self._ours.items() if s.popen.poll() is not None]:
            if not any(t.pid == pid for t in running):
                self._ours.pop(pid)
        return unrecognised

    def _ended(self, seen: _Seen, now: float, *, record: bool) -> list[Event]:
        transfer = seen.transfer
        target = self._target(transfer.target)
        ours = self._ours.get(transfer.pid)
        exit_code = None
        if ours is not None:
            # Gone from the process table, so its reaper thread records the status any moment.
            with contextlib.suppress(subprocess.TimeoutExpired):
                exit_code = ours.popen.wait(timeout=0.5)
        local = None
        if target is not None and target.type is TargetType.LOCAL and transfer.archive_dir:
            local = transfer_destination(target, transfer.source, transfer.archive_dir)
        program = _program(target, transfer)
        where = f"{transfer.target or _UNCONFIGURED}:{transfer.archive_dir or '?'}"
        report = read_transfer_report(seen.log_path, transfer.plot_name)
        verdict = judge_transfer(
            transfer.source,
            exit_code=exit_code,
            program=program,
            local_destination=local,
            report=report,
            where=f"{transfer.archive_dir or '?'} on {transfer.target or _UNCONFIGURED}",
            compared=transfer.verifies or program == "localmove",
        )
        path = os.path.normpath(transfer.source)
        if verdict.outcome is TransferOutcome.IDENTICAL:
            verdict = _remove_copy(transfer.source, verdict)
        seconds = max(now - seen.started_at, 0.001)
        size = seen.size_bytes or 0
        # What the transfer really sent, by its own statistics (the plot's size without them).
        sent = report.literal_bytes if report.literal_bytes is not None else size
        rate = sent / seconds / 1e6
        name = transfer.plot_name
        already_there = verdict.done and report.same_bytes
        if already_there:
            message = verdict.reason
        elif verdict.done:
            how = "renamed, nothing copied" if report.files_sent and sent == 0 else None
            amount = human_bytes(sent) if how is None else how
            message = f"{name} -> {where}: {amount} in {human_duration(seconds)}" + (
                f" ({rate:.1f} MB/s)" if how is None else ""
            )
        elif verdict.outcome is TransferOutcome.EXISTS:
            message = f"{name} -> {where}: {verdict.reason}"
        else:
            message = f"{name} -> {where} failed: {verdict.reason}"
        self._after(transfer, verdict, path, size, now, exit_code, record=record)
        details: dict[str, Any] = {
            "pid": transfer.pid,
            "target": transfer.target,
            "source": transfer.source,
            "archive_dir": transfer.archive_dir,
            "bytes": size,
            "bytes_sent": sent,
            "seconds": round(seconds, 2),
            "mb_per_s": round(rate, 2),
            "outcome": str(verdict.outcome),
        }
        failed = not verdict.done and verdict.outcome is not TransferOutcome.EXISTS
        events = [Event(now, EventKind.TRANSFERRED, message, failed=failed, details=details)]
        if record:
            if verdict.done:
                result = "ok: already there" if already_there else "ok"
            elif verdict.outcome is TransferOutcome.EXISTS:
                result = f"skipped: {verdict.reason}"
            else:
                result = f"failed: {verdict.reason}"
            record_action(
                self.action_log,
                events,
                now,
                "transfer",
                pid=transfer.pid,
                argv=transfer.argv,
                reason=verdict.reason,
                result=result,
                plot_id=plot_id_of(transfer.plot_name),
                **{key: value for key, value in details.items() if key != "pid"},
            )
        return events

    def _after(
        self,
        transfer: RunningTransfer,
        verdict: TransferVerdict,
        path: str,
        size: int,
        now: float,
        exit_code: int | None,
        *,
        record: bool,
    ) -> None:
        """What a transfer's end changes: back-offs, plots to compare, recent arrivals."""
        if transfer.target is not None:
            self.space.invalidate(transfer.target)  # read again: bytes arrived, or a dir went
            if not _farmer_trouble(exit_code):
                # The farmer answered (a plot sent, one already there, a source that could not
                # be read): the target's back-off is over, and archiving no error for it.
                self._retries.pop(transfer.target, None)
        if verdict.done:
            self._to_verify.pop(path, None)
            self._differs.pop(path, None)
            # On the farmer now, and ours: replotting never removes it.
            self.replotter.sent(transfer.target, transfer.plot_name, now)
            if transfer.target is not None and transfer.archive_dir:
                self._finished.setdefault(transfer.target, []).append(
                    _Finished(transfer.archive_dir, size, now)
                )
            return
        if verdict.outcome is TransferOutcome.EXISTS:
            target = self._target(transfer.target)
            compared = self._differs.get(path)
            stamp = _size_and_mtime(transfer.source)
            held = (
                verdict.reason.split(": nothing sent")[0]
                + ": remove or check it; the plot stays here"
            )
            if compared is not None and compared == stamp:
                # Compared already, and neither has changed since: hold it again.
                self._hold(path, held, now)
            elif transfer.verifies or target is None or target.type not in _COMPARABLE:
                # The comparison itself could not tell (a far file newer under --update), or
                # nothing compares for this type (the local mover compares by itself; a
                # script's run is the transfer again): hold the plot for the farmer, and do
                # not read both copies again while the plot here is unchanged.
                if stamp is not None:
                    self._differs[path] = stamp
                self._hold(path, held, now)
            elif transfer.archive_dir:
                self._to_verify[path] = (target.name, transfer.archive_dir)
            return
        self._to_verify.pop(path, None)
        if verdict.outcome is TransferOutcome.DIFFERS:
            stamp = _size_and_mtime(transfer.source)
            if stamp is not None:
                self._differs[path] = stamp
            self._hold(path, verdict.reason, now)
            return
        # This plot waits before it is tried again (an unreadable or undeletable plot must
        # not block the others); the whole target waits only when the farmer is the problem.
        self._plot_retries.setdefault(path, BackOff()).fail(
            verdict.reason, now, self._retry_s, self._retry_max_s
        )
        if transfer.target is not None and record and _farmer_trouble(exit_code):
            retry = self._retries.setdefault(transfer.target, BackOff())
            retry.fail(verdict.reason, now, self._retry_s, self._retry_max_s)

    def _hold(self, path: str, reason: str, now: float) -> None:
        """Hold a plot a farmer must look at: it is not offered for the longest back-off."""
        self._plot_retries.setdefault(path, BackOff()).fail(
            reason, now, self._retry_max_s, self._retry_max_s
        )

    # -- starting -------------------------------------------------------------------------------

    def _plan_and_start(
        self,
        jobs: Sequence[Job],
        running: Sequence[RunningTransfer],
        spaces: Mapping[str, TargetSpace | None],
        now: float,
        events: list[Event],
        started: list[StartedTransfer],
    ) -> tuple[ArchiveWait, ...]:
        if not self.targets:
            return ()
        if now >= self._next_sweep:
            self._next_sweep = now + STALE_SWEEP_S
            self._remove_stale_temp_files(running, spaces, now)
        dsts = self._dst_states(now)
        in_flight = [self._in_flight(r) for r in running]
        in_flight += self._start_verifications(dsts, in_flight, now, events, started)
        states = [
            replace(
                self._target_state(target, spaces.get(target.name), now),
                replot=self.replotter.state(target.name, spaces.get(target.name)),
            )
            for target in self.targets
        ]
        plan = pick_transfers(dsts, jobs, states, in_flight, self._held(now), now=now)
        for transfer in plan.starts:
            one = self._start(transfer, now, events)
            if one is not None:
                started.append(one)
                self.replotter.room_used(transfer.target)
        held: dict[str, str] = {}
        for step in plan.replots:
            if step.dry_run:
                events += self.replotter.tell_dry_run(step, now)
            elif not self.replotter.submit(step) and (reason := self.replotter.held(step.target)):
                # Refused as more than the room needs: the wait says why, not "making room".
                held[step.target] = reason
        waits = tuple(
            replace(wait, reason=held[wait.target]) if wait.target in held else wait
            for wait in plan.waits
        )
        starting = {t.target for t in plan.starts}
        for wait in waits:
            if wait.target is not None and wait.target not in starting:
                self._waits.note(wait.reason, now, events, topic=wait.target, target=wait.target)
        for target in starting:
            self._waits.forget(target)
        return waits

    def _remove_stale_temp_files(
        self,
        running: Sequence[RunningTransfer],
        spaces: Mapping[str, TargetSpace | None],
        now: float,
    ) -> None:
        """Remove the temp files of local movers that were killed: those of plots no mover
        is moving now, unchanged for :data:`STALE_TEMP_S` (a mover removes its own when it
        fails or is stopped). Only dirs whose free space was last read in time are listed: a
        hung mount must not hang the pass (free space is read with a time limit)."""
        for target in self.targets:
            space = spaces.get(target.name)
            if target.type is not TargetType.LOCAL or space is None:
                continue
            for archive_dir in target.archive_dirs:
                if space.free_bytes.get(archive_dir) is None:
                    continue
                moving = {
                    t.plot_name
                    for t in running
                    if t.archive_dir is None or os.path.normpath(t.archive_dir) == archive_dir
                }
                for stale in stale_temp_files(archive_dir, moving, now, STALE_TEMP_S):
                    with contextlib.suppress(OSError):
                        os.unlink(stale)

    def _start_verifications(
        self,
        dsts: Sequence[DstState],
        in_flight: Sequence[Transfer],
        now: float,
        events: list[Event],
        started: list[StartedTransfer],
    ) -> list[Transfer]:
        """Start comparing the plots whose name was found at the far side, each with the file
        in the archive dir it was found in; they count as transfers under way."""
        plots = {os.path.normpath(p.path): p for dst in dsts for p in dst.plots}
        busy = {os.path.normpath(t.plot.path) for t in in_flight}
        running = Counter(t.target for t in in_flight)
        begun: list[Transfer] = []
        for path, (name, archive_dir) in list(self._to_verify.items()):
            target = self._target(name)
            plot = plots.get(path)
            if target is None or not target.enabled or plot is None or path in busy:
                if plot is None and not os.path.exists(path):
                    del self._to_verify[path]
                continue
            if running[name] >= target.max_concurrent:
                continue
            transfer = Transfer(plot=plot, target=name, archive_dir=archive_dir)
            one = self._start(transfer, now, events, verify=True)
            del self._to_verify[path]
            if one is not None:
                started.append(one)
                running[name] += 1
                begun.append(transfer)
        return begun

    def _held(self, now: float) -> list[HeldPlot]:
        """The plots held back now, with why and until when (the wait reason names them)."""
        held = [
            HeldPlot(
                path,
                f"waits for its retry at {_clock_time(retry.retry_at)} "
                f"(in {human_duration(retry.retry_at - now)}): {retry.last_failure}",
            )
            for path, retry in self._plot_retries.items()
            if retry.retry_at is not None and retry.retry_at > now
        ]
        held += [
            HeldPlot(
                path,
                f"is left to settle until {_clock_time(until)} (a plot must be "
                f"unchanged for {human_duration(self._settle_s)} before it moves)",
            )
            for path, until in self._settling.items()
        ]
        return held

    def _dst_states(self, now: float) -> list[DstState]:
        states = []
        seen_real: set[str] = set()
        self._settling = {}
        self._plot_retries = {
            path: retry
            for path, retry in self._plot_retries.items()
            if retry.retry_at is not None and retry.retry_at > now
        }
        for directory in self._dst_dirs():
            # One disk listed twice (a symlink, a bind mount) would offer each plot twice.
            real = os.path.realpath(directory)
            if real in seen_real:
                continue
            seen_real.add(real)
            plots: list[PlotCandidate] = []
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        k = plot_name_k(entry.name)
                        if k is None or not entry.is_file(follow_symlinks=False):
                            continue
                        if os.path.normpath(entry.path) in self._plot_retries:
                            continue  # failed a moment ago: the others go first
                        stat = entry.stat(follow_symlinks=False)
                        if is_finished_plot(
                            entry.name,
                            stat.st_size,
                            stat.st_mtime,
                            now,
                            settle_seconds=self._settle_s,
                        ):
                            plots.append(
                                PlotCandidate(entry.path, directory, stat.st_size, stat.st_mtime, k)
                            )
                        elif is_finished_plot(
                            entry.name, stat.st_size, stat.st_mtime, math.inf, settle_seconds=0
                        ):
                            # Named and sized like a plot, but changed a moment ago.
                            self._settling[os.path.normpath(entry.path)] = (
                                stat.st_mtime + self._settle_s
                            )
            except OSError:
                pass  # an unplugged dst: no plots from it this pass (the dirs view says why)
            free = inspect_dir_within(directory, FREE_SPACE_TIMEOUT_S).free_bytes
            states.append(DstState(directory, free, tuple(plots)))
        return states

    def _in_flight(self, running: RunningTransfer) -> Transfer:
        size = _size(running.source)
        if size is None:
            seen = self._seen.get((running.pid, running.create_time))
            size = seen.size_bytes if seen is not None else None
        k = plot_name_k(running.plot_name) or 0
        plot = PlotCandidate(
            path=running.source,
            dst_dir=os.path.dirname(running.source),
            size_bytes=size or 0,
            mtime=0.0,
            k=k,
        )
        return Transfer(
            plot=plot,
            target=running.target or _UNCONFIGURED,
            archive_dir=running.archive_dir or "",
        )

    def _target_state(
        self, target: ArchiveTarget, space: TargetSpace | None, now: float
    ) -> TargetState:
        retry = self._retries.get(target.name)
        if retry is not None and retry.retry_at is not None and now < retry.retry_at:
            left = human_duration(retry.retry_at - now)
            problem = f"last transfer failed, next try in {left} ({retry.last_failure})"
            return TargetState.of(target, {}, problem)
        if space is None:
            return TargetState.of(target, {}, "free space of the archive dirs not read yet")
        free = dict(space.free_bytes)
        # Plots sent since this sample was read are not in it yet.
        recent = [f for f in self._finished.get(target.name, []) if f.ended_at > space.checked_at]
        self._finished[target.name] = recent
        for finished in recent:
            if free.get(finished.archive_dir) is not None:
                free[finished.archive_dir] = max(
                    (free[finished.archive_dir] or 0) - finished.size_bytes, 0
                )
        return TargetState.of(target, free, space.problem)

    def _start(
        self, transfer: Transfer, now: float, events: list[Event], *, verify: bool = False
    ) -> StartedTransfer | None:
        target = self._target(transfer.target)
        if target is None:
            return None
        if _same_dir_here(target, transfer.archive_dir, transfer.plot.dst_dir):
            # rsync would find the plot "up to date" and --remove-source-files would delete the
            # only copy. Refused, loudly, and this plot is not offered again for a while.
            problem = (
                f"archive dir {transfer.archive_dir} of {target.name} is the dst dir the plot "
                "is in: nothing moved (fix [[archiving.targets]] archive_dirs)"
            )
            self._plot_retries.setdefault(os.path.normpath(transfer.plot.path), BackOff()).fail(
                problem, now, self._retry_max_s, self._retry_max_s
            )
            events.append(Event(now, EventKind.ERROR, problem, failed=True))
            return None
        try:
            started = start_transfer(
                target,
                transfer.plot.path,
                transfer.archive_dir,
                self.log_dir,
                nice=self._nice,
                verify=verify,
            )
        except TransferError as error:
            retry = self._retries.setdefault(target.name, BackOff())
            retry.fail(str(error), now, self._retry_s, self._retry_max_s)
            events.append(
                Event(
                    now,
                    EventKind.ERROR,
                    f"{target.name}: could not start the transfer of {transfer.plot.name}: {error}",
                    failed=True,
                    details={"target": target.name, "source": transfer.plot.path},
                )
            )
            record_action(
                self.action_log,
                events,
                now,
                "transfer",
                pid=None,
                argv=(),
                reason="could not start",
                result=f"failed: {error}",
                target=target.name,
                source=transfer.plot.path,
            )
            return None
        self._ours[started.pid] = started
        key = (started.pid, started.create_time or started.started_at)
        self._seen[key] = _Seen(
            RunningTransfer(
                pid=started.pid,
                create_time=key[1],
                target=started.target,
                source=started.source,
                archive_dir=started.archive_dir,
                argv=started.argv,
            ),
            transfer.plot.size_bytes,
            now,
            str(started.log_path),
        )
        details: dict[str, Any] = {
            "pid": started.pid,
            "target": target.name,
            "source": started.source,
            "archive_dir": started.archive_dir,
            "bytes": transfer.plot.size_bytes,
            "log": str(started.log_path),
        }
        record_action(
            self.action_log,
            events,
            now,
            "transfer",
            pid=started.pid,
            argv=started.argv,
            reason=f"to {target.name}",
            result="verifying" if verify else "started",
            plot_id=plot_id_of(transfer.plot.name),
            **{key: value for key, value in details.items() if key != "pid"},
        )
        events.append(
            Event(
                now,
                EventKind.TRANSFER,
                (
                    f"comparing {transfer.plot.name} with the file of its name in "
                    if verify
                    else f"sending {transfer.plot.name} "
                    f"({human_bytes(transfer.plot.size_bytes)}) to "
                )
                + f"{target.name}:{started.archive_dir}; log {started.log_path}",
                details={**details, "argv": list(started.argv)},
            )
        )
        return started

    # -- helpers --------------------------------------------------------------------------------

    def _target(self, name: str | None) -> ArchiveTarget | None:
        return next((t for t in self.config.archiving.targets if t.name == name), None)


def _loop_word(started: Sequence[StartedTransfer], waits: Sequence[ArchiveWait]) -> str:
    """The archiving loop's word for a pass: what it started, else why each target waits."""
    if started:
        return "; ".join(f"sending {os.path.basename(s.source)} to {s.target}" for s in started)
    reasons = [f"{w.target}: {w.reason}" if w.target else w.reason for w in waits]
    return "; ".join(reasons) if reasons else "nothing to move"


def space_to_json(space: TargetSpace) -> dict[str, Any]:
    """A free-space sample as the archiving state file keeps it (see :func:`space_from_json`)."""
    return {
        "free_bytes": dict(space.free_bytes),
        "dir_problems": dict(space.dir_problems),
        "problem": space.problem,
        "checked_at": space.checked_at,
        "reachable": space.reachable,
    }


def space_from_json(name: str, data: object) -> TargetSpace | None:
    """A sample :func:`space_to_json` wrote; None for anything else (the file is untrusted)."""
    if not isinstance(data, dict):
        return None
    free, problems = data.get("free_bytes"), data.get("dir_problems", {})
    problem, checked_at = data.get("problem"), data.get("checked_at")
    reachable = data.get("reachable", True)
    if not isinstance(free, dict) or not isinstance(problems, dict):
        return None
    if not all(
        isinstance(key, str) and (value is None or _count(value)) for key, value in free.items()
    ):
        return None
    if not all(isinstance(key, str) and isinstance(v, str) for key, v in problems.items()):
        return None
    if problem is not None and not isinstance(problem, str):
        return None
    if isinstance(checked_at, bool) or not isinstance(checked_at, int | float):
        return None
    if not math.isfinite(checked_at) or not isinstance(reachable, bool):
        return None
    return TargetSpace(
        target=name,
        free_bytes=MappingProxyType(dict(free)),
        dir_problems=MappingProxyType(dict(problems)),
        problem=problem,
        checked_at=float(checked_at),
        reachable=reachable,
    )


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_PLOT_ID = re.compile(r"-([0-9a-f]{64})\.plot$")


def plot_id_of(name: str) -> str | None:
    """The plot id in a plot file's name (``plot-k32-2021-...-<64 hex>.plot``)."""
    match = _PLOT_ID.search(name)
    return match.group(1) if match else None


def _alive(pid: int, create_time: float) -> bool:
    """Whether process ``pid`` started at ``create_time`` still runs (not a zombie)."""
    sample = sample_process(pid)
    return (
        sample is not None
        and sample.status is not JobStatus.ZMB
        and sample.create_time == create_time
    )


# rsync exit statuses that say the farmer (or the way to it) is the trouble, not this plot:
# protocol start, socket I/O, data stream, timeouts, and ssh's 255.
_FARMER_EXIT_CODES = frozenset({5, 10, 12, 30, 35, 255})


# Target types whose far file of a plot's name can be compared by a checksum run of rsync.
_COMPARABLE: Final = frozenset({TargetType.RSYNCD, TargetType.SSH})


def _farmer_trouble(exit_code: int | None) -> bool:
    return exit_code in _FARMER_EXIT_CODES


def _same_dir_here(target: ArchiveTarget, archive_dir: str, dst_dir: str) -> bool:
    """Whether ``archive_dir`` is ``dst_dir`` itself, for a target on this machine (a local
    one, or a farmer reached at this host's own name or address). A farmer's disk mounted here
    as a dst dir under another path cannot be told from here: the README warns of that."""
    if target.type is not TargetType.LOCAL and (target.host or "") not in _this_host():
        return False
    try:
        return os.path.samefile(archive_dir, dst_dir)
    except OSError:
        return os.path.realpath(archive_dir) == os.path.realpath(dst_dir)


def _this_host() -> set[str]:
    names = {"localhost", "127.0.0.1", "::1", socket.gethostname()}
    with contextlib.suppress(OSError):
        names.add(socket.getfqdn())
    return names


def _program(target: ArchiveTarget | None, transfer: RunningTransfer) -> str:
    """The program a transfer ran, as its end is told."""
    if target is not None and target.type is TargetType.SCRIPT:
        return "script"
    return "localmove" if target is not None and target.type is TargetType.LOCAL else "rsync"


def _remove_copy(source: str, verdict: TransferVerdict) -> TransferVerdict:
    """The far side has the plot's bytes (compared by checksum): the source goes, as the move
    whose source removal was lost would have ended."""
    try:
        os.unlink(source)
    except FileNotFoundError:
        pass
    except OSError as error:
        return TransferVerdict(
            TransferOutcome.FAILED,
            f"{verdict.reason}, but {source} cannot be removed: {error.strerror or error}",
        )
    return TransferVerdict(
        TransferOutcome.DONE,
        verdict.reason.replace(" (compared by checksum)", "")
        + " (compared by checksum): the copy here is removed",
    )


def _clock_time(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))


def _size_and_mtime(path: str) -> tuple[int, float] | None:
    try:
        stat = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime


def _size(path: str) -> int | None:
    stamp = _size_and_mtime(path)
    return None if stamp is None else stamp[0]
