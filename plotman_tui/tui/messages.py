"""The messages workers post to the app (thread workers never touch widgets)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.message import Message

from plotman_tui.farm.actionlog import ActionEntry
from plotman_tui.farm.archive.engine import ArchivePassResult
from plotman_tui.farm.control import KillPlan
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.engine import PassResult
from plotman_tui.farm.eta import EtaModel
from plotman_tui.farm.history import History
from plotman_tui.farm.model import Job
from plotman_tui.fleet.model import HostView
from plotman_tui.tui.view import HistoryView


@dataclass
class PassCompleted(Message):
    """One engine pass: what it saw and did.

    ``dir_of`` maps each job dir (as the job names it) that is one of the configured dirs under
    another name (a symlink, a trailing slash) to the configured dir's name. ``sequence``
    orders the feed's news of the jobs (see :class:`LogsRead`).
    """

    result: PassResult
    scheduled: bool
    dir_of: Mapping[str, str]
    sequence: int = 0


@dataclass
class LogsRead(Message):
    """The jobs of the latest pass, with what their logs said since (the log dir's watch saw
    them written); ``dir_of`` as in :class:`PassCompleted`.

    ``sequence`` numbers passes and log reads in the order the feed made them: news with a
    lower number than the jobs shown is older than they are (the worker threads post in any
    order).
    """

    jobs: tuple[Job, ...]
    dir_of: Mapping[str, str]
    sequence: int


@dataclass
class ArchivePassed(Message):
    """One archiving pass: the transfers under way, why each idle target waits, free space."""

    result: ArchivePassResult


@dataclass
class TransferEnded(Message):
    """A transfer this dashboard started has exited: time for the next pass (and the next plot)."""

    pid: int


@dataclass
class DirsSampled(Message):
    """Free space of every configured dir (and the finished plots in the dst dirs)."""

    dirs: tuple[DirInfo, ...]
    taken_at: float


@dataclass
class ActionsRead(Message):
    """Action log entries that are new since the last read, oldest first."""

    entries: tuple[ActionEntry, ...]


@dataclass
class HistoryRead(Message):
    """The plot logs read into history (in a worker thread), with all that is worked out from
    it there: the ETA model of the running jobs and what the history screen shows."""

    history: History
    eta: EtaModel
    view: HistoryView


@dataclass
class HistoryScreenLoaded(Message):
    """The history screen's module and its charts' library are imported (by the history
    thread, before its first read): the app may build that screen, hidden, at idle."""


@dataclass
class LogTailRead(Message):
    """New lines of a job's log (``reset``: the log is new or was replaced, start over)."""

    path: str
    lines: tuple[str, ...]
    reset: bool


@dataclass
class WorkFailed(Message):
    """A worker's job raised: a bug or an unforeseen OS error; the worker runs again later."""

    group: str
    error: str


@dataclass
class JobControlDone(Message):
    """A suspend, resume, cancelled or executed kill is over; ``message`` says how it went."""

    action: str
    ok: bool
    message: str


@dataclass
class ControlFinished(Message):
    """A key's blocking work (a signal, a kill, a pause recorded) is over, whatever it posted."""


@dataclass
class KillPrepared(Message):
    """The job is stopped and its temp files listed: time to ask."""

    plan: KillPlan


@dataclass
class FleetChanged(Message):
    """A fleet host's view changed: every host's latest view (this machine first). Many
    changes a second make one refresh: a newer one replaces one not handled yet."""

    views: tuple[HostView, ...]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FleetChanged)


@dataclass
class FleetKillPrepared(Message):
    """A fleet host's job is stopped there and its temp files listed: time to ask."""

    host: str
    plan: KillPlan
