"""The dashboard's sources of data; each ``read`` blocks and runs in a worker thread (a Poller).

- :class:`PlottingFeed`: engine passes. A look (``schedule=False``) every 5 s keeps the
  process state (STP/RUN, CPU, memory, temp space) fresh, every 1.5 s when the log dir cannot
  be watched; every ``polling_time_s`` (and at once after a pause switch) the pass schedules.
  Between looks, :meth:`PlottingFeed.read_logs` reads the logs the app's watch of the log dir
  saw written (see :mod:`plotman_tui.tui.logwatch`): phases show within a fraction of a second.
- :class:`ArchivingFeed`: archiving passes, with the jobs of the latest plotting pass; a
  transfer it started wakes the next pass when it exits.
- :class:`DirFeed`: free space of the configured dirs, and finished plots in the dst dirs.
- :class:`ActionLogFeed`: the action log's new entries, read only when the file changed.
- :class:`LogTail`: the new lines of one job's log, for its details screen.
- :class:`HistoryFeed`: every plot log of the log dir read into history (cached: a second read
  reads only new or grown logs), the ETA model and the history screen's figures with it.

None of them touches a widget: each returns a message for the poller to post.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from plotman_tui.appdirs import open_regular_file
from plotman_tui.dirview import match_dirs, sample_dirs
from plotman_tui.farm.actionlog import ActionEntry, ActionLog
from plotman_tui.farm.archive.engine import ArchivingEngine
from plotman_tui.farm.archive.transfer import StartedTransfer
from plotman_tui.farm.engine import ARCHIVE_INTERVAL_S as ENGINE_ARCHIVE_INTERVAL_S
from plotman_tui.farm.engine import PlottingEngine
from plotman_tui.farm.eta import EtaModel
from plotman_tui.farm.history import History, read_history
from plotman_tui.farm.model import Job
from plotman_tui.plotters.base import LineSplitter
from plotman_tui.tui.messages import (
    ActionsRead,
    ArchivePassed,
    DirsSampled,
    HistoryRead,
    HistoryScreenLoaded,
    LogsRead,
    LogTailRead,
    PassCompleted,
)
from plotman_tui.tui.view import ACTIONS_KEPT, history_view

#: Without a watch of the log dir, a look at the jobs this often keeps a shown phase at most
#: about this old (plus a pass, a few ms): the goal is 2 s. Each look costs a scan of the
#: process table and of every job (bench/dashboard.py: about 0.5 % of a core per look a second
#: at 50 jobs), so no oftener.
LOOK_INTERVAL_S = 1.5
#: With the watch, phases come from the logs as they are written, and a look only refreshes
#: what the process table says (STP/RUN, CPU, memory; temp space every ``TEMP_REFRESH_S``):
#: as often as the slow columns are shown afresh. The keys that change a job's state wake a
#: look at once, and so does a new file in the log dir (a new job's log).
WATCHED_LOOK_INTERVAL_S = 5.0
#: Free space moves slowly, and counting plots lists every dst dir.
DIRS_INTERVAL_S = 10.0
#: An archiving pass reads every process's command line: as often as the ``archive`` loop
#: (a transfer that ends, a new free-space sample and the first plotting pass wake it sooner).
ARCHIVE_INTERVAL_S = ENGINE_ARCHIVE_INTERVAL_S
#: The action log is checked (one stat) this often; it is read only when it changed. Its
#: entries of this dashboard's own actions are read at once (the app wakes this feed).
ACTION_LOG_INTERVAL_S = 2.0
#: The history is read when the dashboard starts and when a job ends; and this often besides,
#: for a new day on the history screen's charts and logs a job of another machine wrote (the
#: cache makes a read of unchanged logs one stat each).
HISTORY_INTERVAL_S = 600.0
#: A job's log on its details screen.
LOG_TAIL_INTERVAL_S = 1.0
LOG_TAIL_LINES = 200


class PlottingFeed:
    """Engine passes, one at a time, from whichever worker thread runs :meth:`read`.

    The engine is not thread-safe: every use of it (a pass, the pause switch, ``close``) goes
    through one lock, so quitting while a pass runs waits for that pass instead of racing it.
    """

    def __init__(
        self,
        engine: PlottingEngine,
        *,
        plotting_enabled: bool,
        configured_dirs: Sequence[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.schedule_interval_s = float(engine.config.scheduling.polling_time_s)
        self._configured = list(configured_dirs)
        self._clock = clock
        self._lock = threading.Lock()
        self._plotting_enabled = plotting_enabled
        self._schedule_now = True
        self._last_schedule: float | None = None
        self._closed = False
        # The latest pass's jobs, with what their logs said since; and how many passes and log
        # reads made them (the messages carry it, see LogsRead).
        self._jobs: tuple[Job, ...] | None = None
        self._sequence = 0

    @property
    def plotting_enabled(self) -> bool:
        return self._plotting_enabled

    def set_plotting(self, enabled: bool) -> None:
        """Pause or resume plotting; the next pass applies it (and schedules, to say so)."""
        self._plotting_enabled = enabled
        self._schedule_now = True

    def read(self) -> PassCompleted | None:
        with self._lock:
            if self._closed:
                return None
            now = self._clock()
            due = self._last_schedule is None or now - self._last_schedule >= (
                self.schedule_interval_s
            )
            schedule = self._schedule_now or due
            self._schedule_now = False
            self.engine.plotting_enabled = self._plotting_enabled
            result = self.engine.step(schedule=schedule)
            if schedule:
                self._last_schedule = now
            self._jobs = result.snapshot.jobs
            self._sequence += 1
            sequence = self._sequence
        dir_of = self._match_dirs(result.snapshot.jobs)
        return PassCompleted(result=result, scheduled=schedule, dir_of=dir_of, sequence=sequence)

    def read_logs(self, paths: Iterable[str]) -> LogsRead | None:
        """The latest pass's jobs with what the logs at ``paths`` (written, says the watch of the
        log dir) gained since; None when no job changed, before the first pass, once closed.

        Between two passes, under the same lock: the scanner's followers read each byte once,
        whichever of a pass and this reads it first.
        """
        with self._lock:
            if self._closed or self._jobs is None:
                return None
            jobs = self.engine.scanner.update_logs(self._jobs, paths)
            if jobs is None:
                return None
            self._jobs = jobs
            self._sequence += 1
            sequence = self._sequence
        return LogsRead(jobs=jobs, dir_of=self._match_dirs(jobs), sequence=sequence)

    def close(self) -> None:
        """Release the scheduler lock (after the pass under way); jobs run on."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self.engine.close()

    def _match_dirs(self, jobs: Sequence[Job]) -> dict[str, str]:
        # Resolving symlinks touches the disk: here, in the worker thread.
        return match_dirs(jobs, self._configured)


class ArchivingFeed:
    """Archiving passes, one at a time, from whichever worker thread runs :meth:`read`.

    Like :class:`PlottingFeed`, every use of the engine goes through one lock. A pass ranks the
    dst dirs by the phases of the jobs headed there, so it waits for the first plotting pass's
    jobs (:meth:`set_jobs`). Each transfer it starts is watched by a daemon thread of its own
    (a transfer takes hours; the worker threads must stay free for passes), which calls
    ``on_transfer_end(pid)`` when the transfer exits, so the next one starts at once.
    """

    def __init__(
        self,
        engine: ArchivingEngine,
        *,
        archiving_enabled: bool,
        on_transfer_end: Callable[[int], None],
    ) -> None:
        self.engine = engine
        self._on_transfer_end = on_transfer_end
        self._lock = threading.Lock()
        self._archiving_enabled = archiving_enabled
        self._jobs: tuple[Job, ...] | None = None
        self._closed = False

    @property
    def archiving_enabled(self) -> bool:
        return self._archiving_enabled

    @property
    def has_jobs(self) -> bool:
        return self._jobs is not None

    def set_archiving(self, enabled: bool) -> None:
        """Pause or resume archiving; the next pass applies it (transfers under way go on)."""
        self._archiving_enabled = enabled

    def set_jobs(self, jobs: Sequence[Job]) -> None:
        """The jobs of the latest plotting pass (a plain assignment: safe from any thread)."""
        self._jobs = tuple(jobs)

    def read(self) -> ArchivePassed | None:
        jobs = self._jobs
        if jobs is None:
            return None  # no plotting pass yet: the app wakes this feed after the first one
        with self._lock:
            if self._closed:
                return None
            self.engine.archiving_enabled = self._archiving_enabled
            result = self.engine.step(jobs)
        for started in result.started:
            self._watch(started)
        return ArchivePassed(result=result)

    def close(self) -> None:
        """Release the archiver lock (after the pass under way); transfers run on."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self.engine.close()

    def _watch(self, started: StartedTransfer) -> None:
        popen, pid, report = started.popen, started.pid, self._on_transfer_end

        def wait() -> None:
            popen.wait()
            report(pid)

        threading.Thread(target=wait, name=f"transfer-{pid}", daemon=True).start()


class DirFeed:
    """Free space of the configured dirs; the dst dirs' finished plots are counted too."""

    def __init__(self, tmp: Sequence[str], dst: Sequence[str]) -> None:
        self.tmp = list(tmp)
        self.dst = list(dst)

    def read(self) -> DirsSampled:
        taken_at = time.time()
        return DirsSampled(dirs=tuple(sample_dirs(self.tmp, self.dst).values()), taken_at=taken_at)


class ActionLogFeed:
    """New action log entries; the log is re-read only when one of its files changed."""

    # Writers stamp an entry before they queue for the log's lock, so entries may land a little
    # out of time order: each read looks back this far and drops what it already delivered.
    _OVERLAP_S = 10.0

    def __init__(self, log: ActionLog, *, keep: int = ACTIONS_KEPT) -> None:
        self.log = log
        self.keep = keep
        self._stamp: tuple[tuple[int, int, int], ...] | None = None
        self._since: float | None = None
        self._delivered: set[ActionEntry] = set()

    def read(self) -> ActionsRead | None:
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        entries = self.log.entries(self._since)
        new = [entry for entry in entries if entry not in self._delivered]
        if self._since is None:
            new = new[-self.keep :]
        if entries:
            latest = max(entry.time for entry in entries)
            self._since = latest - self._OVERLAP_S
            self._delivered = {entry for entry in entries if entry.time >= self._since}
        return ActionsRead(entries=tuple(new)) if new else None

    def _file_stamp(self) -> tuple[tuple[int, int, int], ...]:
        stamps = []
        for path in (self.log.path, self.log.rotated_path(1)):
            try:
                info = os.stat(path)
            except OSError:
                stamps.append((0, 0, 0))
                continue
            stamps.append((info.st_ino, info.st_size, info.st_mtime_ns))
        return tuple(stamps)


class LogTail:
    """The last lines of a log file, then each line as it is appended."""

    def __init__(self, path: str, *, lines: int = LOG_TAIL_LINES) -> None:
        self.path = path
        self.lines = lines
        self._inode: int | None = None
        self._offset = 0
        self._splitter = LineSplitter()
        self._mid_line = False  # the read began inside a line: its first line is a fragment
        self._problem: str | None = None

    def read(self) -> LogTailRead | None:
        try:
            # A FIFO (an ended job's tee) would wait for a writer: regular files only.
            with os.fdopen(open_regular_file(self.path), "rb") as handle:
                info = os.fstat(handle.fileno())
                reset = info.st_ino != self._inode or info.st_size < self._offset
                if reset:
                    self._inode = info.st_ino
                    # The first read shows the last lines only: a log can be megabytes.
                    self._offset = max(info.st_size - 256 * self.lines, 0)
                    self._splitter = LineSplitter()
                    self._mid_line = self._offset > 0
                elif info.st_size == self._offset:
                    return None
                start = self._offset
                handle.seek(start)
                data = handle.read(info.st_size - start)
        except OSError as error:
            problem = f"{self.path}: {error.strerror or error}"
            if problem == self._problem:
                return None
            self._problem = problem
            self._inode = None
            return LogTailRead(
                path=self.path, lines=(f"[cannot read the log: {problem}]",), reset=True
            )
        self._problem = None
        self._offset += len(data)
        # The parsers' splitter: the lines shown are the lines they read (no colour codes, a
        # progress line ended by a lone CR is a line, a character cut between reads is whole).
        lines = self._splitter.feed(data)
        if self._mid_line and lines:
            lines, self._mid_line = lines[1:], False
        return LogTailRead(path=self.path, lines=tuple(lines[-self.lines :]), reset=reset)


class HistoryFeed:
    """The plot logs of ``log_dir`` read into history, cached in ``cache_path``; ``read`` also
    works out, in its thread, all the app needs of it (10,000 records are summarised in
    tens of milliseconds: not a thing for the event loop). ``reader``: how the logs are read
    (tests hold a read up with it)."""

    def __init__(
        self,
        log_dir: str,
        cache_path: str | None,
        *,
        clock: Callable[[], float] = time.time,
        reader: Callable[[str, str | None], History] = read_history,
    ) -> None:
        self.log_dir = log_dir
        self.cache_path = cache_path
        self._clock = clock
        self._reader = reader

    def prepare(self) -> HistoryScreenLoaded:
        """The history screen's module and its charts' library (textual-plotext, plotext: some
        0.1-0.2 s) imported here, off the event loop, before the first read: the app then
        builds that screen at idle, in its "reading" state while a first read of a big log dir
        takes seconds (an h before that imported and composed it: 0.2-0.4 s)."""
        importlib.import_module("plotman_tui.tui.screens.history_screen")
        return HistoryScreenLoaded()

    def read(self) -> HistoryRead:
        history = self._reader(self.log_dir, self.cache_path)
        eta = EtaModel.from_records(history.records)
        return HistoryRead(history, eta, history_view(history, self._clock()))
