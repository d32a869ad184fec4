"""``plotman-tui fleet status [--json]``: every host's state and every job, from the command line.

It connects to every host at once (the fleet client), waits until each has sent its snapshot
or has failed or been down once (at most :data:`SETTLE_S`), prints one line per host and then
the jobs of every host that is up, in ``status``'s table with a ``host`` column first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from plotman_tui.config.schema import Config
from plotman_tui.farm.units import common_prefix, printable
from plotman_tui.fleet.client import FleetClient
from plotman_tui.fleet.model import HostStatus, HostView, LoopState
from plotman_tui.fleet.summary import (
    all_problems,
    fleet_jobs,
    free_bytes,
    host_line,
    phase_counts_text,
    state_word,
)
from plotman_tui.fleet.wire import loop_to_wire
from plotman_tui.report import (
    Column,
    job_to_json,
    render_table,
    status_columns,
    terminal_width,
)

#: The most ``fleet status`` waits for the slowest host's first answer (s).
SETTLE_S: Final = 15.0
EXIT_OK: Final = 0
EXIT_HOST_PROBLEM: Final = 1
EXIT_NO_FLEET: Final = 2


def fleet_status(config: Config, json_output: bool = False) -> int:
    """Print the fleet; exit 0 when every host is up, 1 when one is not (its line says why),
    2 when the config names no fleet."""
    if not config.fleet.include_local and not config.fleet.active_hosts:
        print("plotman-tui: no fleet: add [[fleet.hosts]] tables", file=sys.stderr)
        return EXIT_NO_FLEET
    views = asyncio.run(settled_views(config, SETTLE_S))
    now = time.time()
    if json_output:
        print(fleet_json_text(views, now))
    else:
        print(render_fleet(views, now, terminal_width()))
    return EXIT_OK if all(v.status is HostStatus.UP for v in views) else EXIT_HOST_PROBLEM


def fleet_json_text(views: Sequence[HostView], now: float) -> str:
    """``fleet status --json``'s output: ASCII with escapes, as ``status --json``'s, so a
    host's path that is not UTF-8 (a surrogate here) keeps it valid and printable."""
    return json.dumps(fleet_to_json(views, now))


def _settled(view: HostView) -> bool:
    return view.status is not HostStatus.CONNECTING


async def settled_views(config: Config, deadline_s: float) -> list[HostView]:
    """Every host's view once each has had its snapshot, failed or gone down (a host still
    connecting at ``deadline_s`` is shown down, with why)."""
    stop = asyncio.Event()
    settled = asyncio.Event()
    client: FleetClient | None = None

    def changed(_name: str) -> None:
        if client is not None and all(_settled(view) for view in client.views()):
            settled.set()

    client = FleetClient(config, on_change=changed)
    runner = asyncio.create_task(client.run(stop))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(deadline_s):
            await settled.wait()
    views = client.views()
    stop.set()
    await runner
    return [
        view
        if _settled(view)
        else replace(
            view,
            status=HostStatus.DOWN,
            problem=f"no answer from its watch within {deadline_s:g} s",
        )
        for view in views
    ]


_HOST_COLUMNS = (
    Column("host", 0),
    Column("state", 0),
    Column("jobs", 0, align_right=True),
    Column("phases", 3),
    Column("today", 4, align_right=True),
    Column("tmp free", 5, align_right=True),
    Column("dst free", 6, align_right=True),
    Column("plotting", 1, shrinkable=True),
    Column("archiving", 2, shrinkable=True),
)


def render_fleet(views: Sequence[HostView], now: float, width: int | None) -> str:
    """The host table, each host's problem under it, then the jobs of the hosts that are up."""
    rows = []
    notes = []
    for view in views:
        line = host_line(view, now)
        rows.append(
            [
                line.name,
                state_word(view, now),
                str(line.jobs) if view.status is HostStatus.UP else "-",
                line.phases if view.status is HostStatus.UP else "-",
                line.plots_today,
                line.tmp_free,
                line.dst_free,
                line.plotting,
                line.archiving,
            ]
        )
        if view.problem and view.status is not HostStatus.UP:
            notes.append(f"! {printable(view.name)}: {printable(view.problem)}")
        elif view.status is HostStatus.UP:
            notes.extend(f"! {printable(view.name)}: {printable(p)}" for p in all_problems(view))
    lines = [*render_table(_HOST_COLUMNS, rows, width), *notes, ""]
    jobs = fleet_jobs(views)
    if not jobs:
        lines.append("No plot jobs running on the hosts that are up.")
        return "\n".join(lines)
    tmp_prefix = common_prefix([job.tmp_dir for _, job in jobs])
    dst_prefix = common_prefix([job.dst_dir for _, job in jobs])
    if tmp_prefix or dst_prefix:
        lines.append(f"Prefixes: tmp={tmp_prefix or '-'}  dst={dst_prefix or '-'}")
    columns = [Column("host", 0), *status_columns(tmp_prefix, dst_prefix)]
    job_rows = [[host, *(column.cell(job) for column in columns[1:])] for host, job in jobs]
    lines.extend(render_table(columns, job_rows, width))
    up = sum(1 for view in views if view.status is HostStatus.UP)
    lines.append(
        f"Total jobs: {len(jobs)} on {up} of {len(views)} hosts; phases: "
        f"{phase_counts_text([job for _, job in jobs])}"
    )
    return "\n".join(lines)


def _loop_json(loop: LoopState) -> dict[str, Any]:
    return {**loop_to_wire(loop), "running": loop.running}


def host_to_json(view: HostView, now: float) -> dict[str, Any]:
    """A host for ``fleet status --json``; the keys are a stable interface for scripts."""
    tmp_free, dst_free = free_bytes(view)
    up = view.status is HostStatus.UP
    return {
        "name": view.name,
        "address": view.address,
        "status": view.status.value,
        "problem": view.problem,
        "version": view.version,
        "hostname": view.hostname,
        "news_at": view.news_at,
        "retry_at": view.retry_at,
        "jobs": len(view.jobs) if up else None,
        "phases": phase_counts_text(view.jobs) if up else None,
        "plots_today": view.plots_today,
        "tmp_free_bytes": tmp_free,
        "dst_free_bytes": dst_free,
        "plotting": _loop_json(view.plotting),
        "archiving": _loop_json(view.archiving),
        "problems": list(all_problems(view)),
    }


def fleet_to_json(views: Sequence[HostView], now: float) -> dict[str, Any]:
    """``fleet status --json``: every host, and every job of the hosts that are up."""
    return {
        "hosts": [host_to_json(view, now) for view in views],
        "jobs": [{"host": host, **job_to_json(job)} for host, job in fleet_jobs(views)],
        "updated": now,
    }
