"""Acting on another host's jobs and loops, exactly as on this machine's: by its own commands.

Each action runs the host's plotman-tui over the fleet client's connection (``suspend
pid:N@T``, ``kill --force pid:N@T``, ``plotting pause`` ...), so the host checks the job
itself, signals it, deletes its temp files and records the action in *its* action log; this
machine records that it asked (``fleet-suspend`` ..., with the host's name) in its own. A job is
named by pid *and* create time (:func:`job_ref`), so a pid the host has since given to another
process is never hit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Literal

from plotman_tui.farm.actionlog import ActionLog, default_action_log
from plotman_tui.farm.jobcontrol import JobControl
from plotman_tui.farm.model import Job, TempFile
from plotman_tui.fleet.client import FleetClient, RemoteResult

#: Where this machine's records of fleet actions say they came from.
SOURCE = "fleet"
#: Seconds a remote kill may take (it waits for the job to end before deleting its files).
KILL_TIMEOUT_S = 60.0

LoopName = Literal["plotting", "archiving"]


@dataclass(frozen=True)
class ControlOutcome:
    """What a remote action did: ``message`` is the host's own one-line answer or error."""

    ok: bool
    message: str


@dataclass(frozen=True)
class RemoteFiles:
    """A remote job's temp files as its host lists them; ``problem`` when they could not be."""

    files: tuple[TempFile, ...] = ()
    total_bytes: int = 0
    problem: str | None = None


def job_ref(job: Job) -> str:
    """The id a host's commands take for exactly this job: ``pid:N@T`` (T: create time)."""
    return f"pid:{job.pid}@{job.started_at:.3f}"


def _outcome(result: RemoteResult) -> ControlOutcome:
    return ControlOutcome(result.ok, result.last_line())


def _record(
    action_log: ActionLog | None,
    action: str,
    host: str,
    job: Job | None,
    outcome: ControlOutcome,
    **extra: object,
) -> ControlOutcome:
    """This machine's record of the action (the host's command records its own side)."""
    log = action_log if action_log is not None else default_action_log()
    problem = JobControl(log, SOURCE).record(
        action, job, "ok" if outcome.ok else "failed", outcome.message, host=host, **extra
    )
    if problem is not None:
        return ControlOutcome(outcome.ok, f"{outcome.message} ({problem})")
    return outcome


async def _job_action(
    client: FleetClient,
    host: str,
    job: Job,
    action: str,
    argv: list[str],
    action_log: ActionLog | None,
    timeout_s: float = 30.0,
) -> ControlOutcome:
    result = await client.run_command(host, argv, timeout_s=timeout_s)
    return _record(action_log, f"fleet-{action}", host, job, _outcome(result))


async def suspend(
    client: FleetClient, host: str, job: Job, *, action_log: ActionLog | None = None
) -> ControlOutcome:
    """Suspend the job on its host (``suspend pid:N@T`` there)."""
    return await _job_action(client, host, job, "suspend", ["suspend", job_ref(job)], action_log)


async def resume(
    client: FleetClient, host: str, job: Job, *, action_log: ActionLog | None = None
) -> ControlOutcome:
    """Let a suspended job on its host run on (``resume pid:N@T`` there)."""
    return await _job_action(client, host, job, "resume", ["resume", job_ref(job)], action_log)


async def kill(
    client: FleetClient, host: str, job: Job, *, action_log: ActionLog | None = None
) -> ControlOutcome:
    """End the job on its host and delete its temp files (``kill --force pid:N@T`` there: the
    question was asked here, with :func:`list_files`' answer)."""
    return await _job_action(
        client,
        host,
        job,
        "kill",
        ["kill", "--force", job_ref(job)],
        action_log,
        timeout_s=KILL_TIMEOUT_S,
    )


async def switch_loop(
    client: FleetClient,
    host: str,
    loop: LoopName,
    paused: bool,
    *,
    action_log: ActionLog | None = None,
) -> ControlOutcome:
    """Pause or resume the host's plotting or archiving (``plotting pause`` ... there): every
    loop of that host obeys its flag."""
    switch = "pause" if paused else "resume"
    result = await client.run_command(host, [loop, switch])
    return _record(action_log, f"fleet-{switch}-{loop}", host, None, _outcome(result), switch=loop)


async def list_files(client: FleetClient, host: str, job: Job) -> RemoteFiles:
    """The job's temp files and their total size as its host sees them now (``files pid:N@T
    --json`` there), for the kill question."""
    result = await client.run_command(host, ["files", job_ref(job), "--json"])
    if not result.ok:
        return RemoteFiles(problem=result.last_line() or "files failed")
    try:
        return parse_files(result.stdout, job)
    except ValueError as error:
        return RemoteFiles(problem=f"{host} answered files --json with garbage: {error}")


def parse_files(text: str, job: Job) -> RemoteFiles:
    """``files --json``'s answer for ``job``; ValueError for anything else (the text is
    another machine's)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"not JSON ({error})") from None
    jobs = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(jobs, list):
        raise ValueError("no list of jobs")
    for entry in jobs:
        if not isinstance(entry, dict) or entry.get("pid") != job.pid:
            continue
        started = _number(entry.get("started_at"))
        if started is None or abs(started - job.started_at) > 0.01:
            continue  # another process that took the pid
        files = []
        for item in entry.get("tmp_files", ()) if isinstance(entry.get("tmp_files"), list) else ():
            path = item.get("path") if isinstance(item, dict) else None
            size = item.get("size_bytes") if isinstance(item, dict) else None
            if not isinstance(path, str) or isinstance(size, bool) or not isinstance(size, int):
                raise ValueError(f"a temp file entry that is not a path and a size: {item!r:.80}")
            files.append(TempFile(path, max(size, 0)))
        return RemoteFiles(tuple(files), sum(f.size_bytes for f in files))
    raise ValueError(f"pid {job.pid} is not in it (the job has ended?)")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
