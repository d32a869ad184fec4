"""One line of words per fleet host, and the fleet's jobs: what ``fleet status`` prints and the
dashboard's fleet screen shows. Pure: views in, text out (no textual, no I/O)."""

from __future__ import annotations

import os
import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plotman_tui.config.schema import Config, FleetHost
from plotman_tui.dirview import configured_dirs
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.model import Job
from plotman_tui.farm.units import human_bytes, human_duration, printable
from plotman_tui.fleet.model import HostStatus, HostView, LoopState

#: The major phases every plotter of plotman-tui goes through; shown even when empty, so the
#: lines of several hosts line up.
MAJOR_PHASES = (1, 2, 3, 4)
#: A host problem's words are cut to this many characters in a host line.
PROBLEM_CHARS = 160


@dataclass(frozen=True)
class HostLine:
    """One host in words, each field one cell of the fleet's host table.

    ``state``: ``up``, ``connecting``, ``down 2m: <why>`` (no news for that long) or
    ``failed: <why>``. ``phases``: jobs per major phase (``1:3 2:1 3:2 4:0``, then ``?:N`` for
    jobs whose phase is not known). Free space is summed over the host's tmp (and tmp2) dirs
    and its dst dirs, each file system once.
    """

    name: str
    address: str
    status: HostStatus
    state: str
    jobs: int
    phases: str
    plots_today: str
    tmp_free: str
    dst_free: str
    plotting: str
    archiving: str
    problems: str


def ssh_hint(host: FleetHost, words: str) -> str:
    """The command line a farmer types here to run ``plotman-tui <words>`` on ``host`` (as
    the fleet reaches it: its user, port, key and command)."""
    argv = ["ssh"]
    if host.port != 22:
        argv += ["-p", str(host.port)]
    if host.identity_file is not None:
        argv += ["-i", os.fspath(host.identity_file)]
    argv.append(f"{host.user}@{host.host}" if host.user else host.host)
    # The command is a shell line of the farmer's own: as written, not quoted again.
    return f"{shlex.join(argv)} {host.command} {words}"


def host_line(view: HostView, now: float) -> HostLine:
    """``view`` in words, as of ``now`` (the local clock, as the view's times are)."""
    tmp_dirs, dst_dirs = _dir_split(view)
    return HostLine(
        name=view.name,
        address=view.address,
        status=view.status,
        state=state_text(view, now),
        jobs=len(view.jobs),
        phases=phase_counts_text(view.jobs),
        plots_today="-" if view.plots_today is None else str(view.plots_today),
        tmp_free=_free_text(view.dirs, tmp_dirs),
        dst_free=_free_text(view.dirs, dst_dirs),
        plotting=loop_text(view.plotting),
        archiving=loop_text(view.archiving),
        problems=problems_text(view),
    )


def state_text(view: HostView, now: float) -> str:
    """``up``, ``connecting``, ``down 2m: <why>`` or ``failed: <why>``."""
    word = state_word(view, now)
    if view.status in (HostStatus.DOWN, HostStatus.FAILED):
        return f"{word}: {_one_line(view.problem) if view.problem else 'no reason known'}"
    return word


def state_word(view: HostView, now: float) -> str:
    """The state without its why: ``up``, ``connecting``, ``failed``, ``down`` (never heard
    from) or ``down 2m`` (no news for that long), for a table cell."""
    if view.status is HostStatus.DOWN and view.news_at is not None:
        return f"down {human_duration(now - view.news_at)}"
    return view.status.value


def phase_counts_text(jobs: Sequence[Job]) -> str:
    """Jobs per major phase: ``1:3 2:1 3:2 4:0``; a phase 0 (started, no table yet) or 5 only
    when a job is there, ``?:N`` for jobs whose log has not told their phase."""
    counts = Counter(job.phase.major for job in jobs if job.phase is not None)
    unknown = sum(1 for job in jobs if job.phase is None)
    majors = sorted(set(MAJOR_PHASES) | set(counts))
    parts = [f"{major}:{counts.get(major, 0)}" for major in majors]
    if unknown:
        parts.append(f"?:{unknown}")
    return " ".join(parts)


def loop_text(loop: LoopState) -> str:
    """A plotting or archiving loop in a few words: ``active``, ``paused (<by whom, since>)``,
    ``no loop``, or ``not set up``; the loop's latest reason after a colon when it has one."""
    if not loop.configured:
        return "not set up"
    if loop.paused:
        words = f"paused ({_one_line(loop.paused_by)})" if loop.paused_by else "paused"
    elif loop.running:
        words = "active"
    else:
        words = "no loop"
    if loop.reason:
        words += f": {_one_line(loop.reason)}"
    return words


def problems_text(view: HostView) -> str:
    """How many problems the host's scan and jobs have, and the first: ``-`` for none,
    ``log dir ... missing`` for one, ``3 problems, first: log dir ... missing`` for more."""
    found = list(all_problems(view))
    if not found:
        return "-"
    first = _one_line(found[0])
    return first if len(found) == 1 else f"{len(found)} problems, first: {first}"


def all_problems(view: HostView) -> Iterable[str]:
    """The host scan's problems, then each job's (named by its plot id and pid)."""
    yield from view.problems
    for job in view.jobs:
        for problem in job.problems:
            yield f"{(job.plot_id or '?')[:8]} (pid {job.pid}): {problem}"


def fleet_jobs(views: Iterable[HostView], *, stale: bool = False) -> list[tuple[str, Job]]:
    """Every job of every host as ``(host name, job)``, hosts in the order given, each host's
    jobs as it listed them. A host that is not up shows no jobs (its last ones may have ended
    since it went silent) unless ``stale``."""
    return [
        (view.name, job)
        for view in views
        if stale or view.status is HostStatus.UP
        for job in view.jobs
    ]


def _dir_split(view: HostView) -> tuple[set[str], set[str]]:
    """The host's tmp (with tmp2) and dst dirs, by its own config; both empty without one."""
    config: Config | None = view.config.config if view.config is not None else None
    if config is None:
        return set(), set()
    tmp, dst = configured_dirs(config)
    return {os.path.normpath(path) for path in tmp}, {os.path.normpath(path) for path in dst}


def free_bytes(view: HostView) -> tuple[int | None, int | None]:
    """The free bytes of the host's tmp (with tmp2) dirs and of its dst dirs, each disk once;
    None when not known (no dir read yet, or no config to tell the dirs apart)."""
    tmp_dirs, dst_dirs = _dir_split(view)
    return _free_sum(view.dirs, tmp_dirs), _free_sum(view.dirs, dst_dirs)


def _free_text(dirs: Sequence[DirInfo], wanted: set[str]) -> str:
    return human_bytes(_free_sum(dirs, wanted))


def _free_sum(dirs: Sequence[DirInfo], wanted: set[str]) -> int | None:
    """The free bytes of ``wanted`` dirs, summed with each file system counted once; None when
    none of them has been read."""
    seen: set[tuple[int, int]] = set()
    total = 0
    known = False
    for info in dirs:
        if os.path.normpath(info.path) not in wanted or info.free_bytes is None:
            continue
        known = True
        # Dirs on one disk report the same size and free space (read moments apart on the
        # same pass): counting each would give a disk's free space once per dir on it.
        disk = (info.total_bytes or 0, info.free_bytes)
        if disk in seen:
            continue
        seen.add(disk)
        total += info.free_bytes
    return total if known else None


def _one_line(text: str | None) -> str:
    """A remote host's words as one printable line of bounded length."""
    line = printable(" ".join((text or "").split()))
    return line if len(line) <= PROBLEM_CHARS else line[: PROBLEM_CHARS - 1] + "…"
