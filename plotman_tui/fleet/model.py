"""What the fleet knows of each host: decoded from its ``watch --json`` lines (frozen)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from plotman_tui.config.schema import Config
from plotman_tui.dirview import ArchiveRow
from plotman_tui.farm.actionlog import ActionEntry
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.eta import Estimate
from plotman_tui.farm.model import Job

#: The wire protocol's version: a watch speaking another one is refused with a clear message.
#: 2: a job sent before comes as only its fields that changed (``updated``), which a client of
#: protocol 1 would not apply: its jobs would stand still without a word.
PROTOCOL = 2


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


#: A host's jobs' estimates when none is known (an older watch's, or before its history).
NO_ESTIMATES: Mapping[str, Estimate] = MappingProxyType({})


@dataclass(frozen=True)
class LoopState:
    """A host's plotting (or archiving) loop, as its watch sees it.

    ``holder``: the process that runs the loop there (holds its lock), in words
    (``pid 4242, plotman-tui --no-ui, since 10:02``); None: no loop runs. ``paused``: the
    host's pause flag is set (``plotman-tui plotting pause``); ``paused_by`` says who and when.
    ``reason``: the loop's latest word on why it waits or what it did (None: not known).
    ``configured``: False for archiving without an enabled target.
    """

    holder: str | None = None
    paused: bool = False
    paused_by: str | None = None
    reason: str | None = None
    configured: bool = True

    @property
    def running(self) -> bool:
        return self.holder is not None


class HostStatus(StrEnum):
    CONNECTING = "connecting"  # no snapshot yet (first try, or a retry under way)
    UP = "up"  # its watch streams
    DOWN = "down"  # unreachable, silent or lost: retried with back-off
    FAILED = "failed"  # it answers but cannot serve (host key, login, command, old version,
    # garbage): retried too, more slowly, since the farmer must act


@dataclass(frozen=True)
class HostConfig:
    """The host's own config, as its watch sent it: the text, where it lives there and the
    home dir ``~`` means there; ``config`` is it parsed here (None: it could not be, see
    ``problem``)."""

    path: str
    text: str
    home: str | None
    config: Config | None
    problem: str | None = None


@dataclass(frozen=True)
class HostView:
    """Everything the fleet shows of one host, as of ``updated_at`` (local clock).

    ``problem``: why the host is down or failed, one line (None when up). ``news_at``: when the
    last line came from its watch (None: never). ``retry_at``: when a down or failed host is
    tried again. ``jobs`` are the host's jobs as its own scans saw them (pids are the host's);
    ``problems`` the scan's own (e.g. an unreadable log); ``dir_of`` as in
    :class:`~plotman_tui.tui.messages.PassCompleted`. ``estimates``: each job's progress and
    ETA by its job key, from the host's own history (a job without one shows "-").
    """

    name: str
    address: str  # user@host:port, or "this machine"
    status: HostStatus = HostStatus.CONNECTING
    problem: str | None = None
    updated_at: float = 0.0
    news_at: float | None = None
    retry_at: float | None = None
    version: str | None = None  # the host's plotman-tui version (from its hello)
    hostname: str | None = None  # what the host calls itself
    jobs: tuple[Job, ...] = ()
    problems: tuple[str, ...] = ()
    dirs: tuple[DirInfo, ...] = ()
    dir_of: Mapping[str, str] = field(default_factory=_empty)
    dirs_taken_at: float | None = None
    plotting: LoopState = field(default_factory=LoopState)
    archiving: LoopState = field(default_factory=lambda: LoopState(configured=False))
    archive_rows: tuple[ArchiveRow, ...] = ()
    #: The tail of its action log, oldest first (at most ACTIONS_KEPT).
    actions: tuple[ActionEntry, ...] = ()
    plots_today: int | None = None
    config: HostConfig | None = None
    estimates: Mapping[str, Estimate] = field(default_factory=lambda: NO_ESTIMATES)

    @property
    def local(self) -> bool:
        return self.address == LOCAL_ADDRESS


#: The address of the fleet's own machine (its watch runs as a child process, not over SSH).
LOCAL_ADDRESS = "this machine"
#: Action log entries a host view keeps (its snapshot sends as many).
ACTIONS_KEPT = 50
