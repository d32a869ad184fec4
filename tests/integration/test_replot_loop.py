"""Replotting as a farmer runs it: real k18 plots, a farmer disk that is really full (a small
tmpfs), the archiving loop with replot rules making room just in time.

The farmer's old plots are copies of a real plot under old names (and, as decoys, a compressed
one, a new one, a file that is no plot and a symlink); the new plots are real plots of the
sandbox plotter. After the loop: every new plot is on the farmer byte for byte, exactly the
oldest matching plots needed were removed, and nothing else on the farmer changed. Faults are
real too: sshd stopped between a removal and the transfer, a removal the file system refuses,
rules that match nothing.
"""

# The fixtures imported from test_archiving are the tests' parameters of the same name.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import contextlib
import datetime
import math
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from plotman_tui.config.schema import ArchiveTarget, ReplotRules, TargetType
from plotman_tui.farm.actionlog import ActionEntry
from plotman_tui.farm.archive import replotter as replotter_module
from plotman_tui.farm.archive.engine import ArchivePassResult, ArchivingEngine
from plotman_tui.farm.archive.replot import matches_rules, plot_name_date
from plotman_tui.farm.archive.replotter import ACTION
from plotman_tui.farm.engine import Engine, PassResult
from plotman_tui.farm.events import EventKind
from plotman_tui.farm.units import human_bytes
from tests.integration.test_archiving import (  # noqa: F401 (fixtures, used by name)
    TIMEOUT_S,
    Farm,
    farm,
    real_plots,
    ssh_options,
    wait_reason,
)
from tests.realservices import (  # noqa: F401
    RsyncDaemon,
    SshServer,
    farmer_plot_name,
    fill_archive_dir,
    listing_of,
    removal_refused,
    rsync_daemon_fixture,
    small_disks_fixture,
    small_filesystem,
    ssh_server_fixture,
)

pytestmark = pytest.mark.real_service

PAGE = 4096
RULES = ReplotRules(older_than=datetime.date(2023, 1, 1), uncompressed=True)
#: Old plots on the farmer disk, in the order they are written (not their names' order).
OLD_DAYS = (5, 2, 9, 1, 7, 3)
NEW_PLOTS = 3  # new plots the loop sends (each needs one old plot gone)


def pages(size: int) -> int:
    return math.ceil(size / PAGE)


def old_names() -> list[str]:
    return [
        farmer_plot_name(datetime.datetime(2021, 6, day, 12, 30), index=day) for day in OLD_DAYS
    ]


def fill_farmer_disk(
    small_disks: Callable[[str, int], Path], pool: list[Path], name: str = "disk00"
) -> tuple[Path, dict[str, tuple[int, float, int]]]:
    """A farmer disk with no room for one more plot: old plots (copies of the largest pool plot,
    so one old plot always makes room for one new one), two plots the rules do not match, a
    note and a symlink. Returns the archive dir and its listing."""
    largest = max(pool, key=lambda p: p.stat().st_size)
    plot_pages = pages(largest.stat().st_size)
    decoys = [
        farmer_plot_name(datetime.datetime(2021, 5, 1, 12, 0), level=5, index=100),  # compressed
        farmer_plot_name(datetime.datetime(2025, 1, 1, 12, 0), index=101),  # new
    ]
    files = len(OLD_DAYS) + len(decoys)
    # Room for the files, the note and two pages more: less than a plot.
    disk = small_disks(name, (files * plot_pages + 3) * PAGE)
    archive_dir = disk / "plots"
    fill_archive_dir(archive_dir, largest, [*old_names(), *decoys], age_s=30 * 86400)
    (archive_dir / "notes.txt").write_text("the farmer's own notes\n")
    (archive_dir / "plot-k18-link.plot").symlink_to(archive_dir / old_names()[0])
    assert os.statvfs(archive_dir).f_bavail * os.statvfs(archive_dir).f_frsize < min(
        p.stat().st_size for p in pool
    )
    return archive_dir, listing_of(archive_dir)


def replot_target(farm: Farm, archive_dir: Path, **changes: object) -> ArchiveTarget:
    options: dict[str, object] = {
        "name": farm.name("replot"),
        "type": TargetType.LOCAL,
        "archive_dirs": (str(archive_dir),),
        "free_space_margin_gib": 0,
        "replot": RULES,
        **changes,
    }
    return ArchiveTarget(**options)  # type: ignore[arg-type]


def removals(farm: Farm) -> list[ActionEntry]:
    return [e for e in farm.action_log.entries() if e.action == ACTION]


async def step(farm: Farm, engine: ArchivingEngine) -> ArchivePassResult:
    """One pass as the loop makes it: free space and listings refreshed where due, the pass,
    then the removals it asked for run to their end (the loop runs them beside the passes)."""
    await asyncio.gather(engine.space.refresh_due(), engine.replotter.refresh_due())
    result = engine.step(())
    farm.started += result.started
    farm.events += result.events
    await engine.replotter.drain()
    return result


async def passes_until(
    farm: Farm,
    engine: ArchivingEngine,
    predicate: Callable[[ArchivePassResult], object],
    what: str,
) -> ArchivePassResult:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        result = await step(farm, engine)
        if predicate(result):
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"timed out waiting for {what}; events: {[e.message for e in farm.events]}"
    )


def oldest_matching(names: list[str], count: int) -> list[str]:
    matching = [n for n in names if matches_rules(n, RULES) is not None]
    return sorted(matching, key=lambda n: (plot_name_date(n) or datetime.date.max, n))[:count]


# -- the loop -----------------------------------------------------------------------------------


def far_replot_target(
    farm: Farm,
    kind: str,
    small_disks: Callable[[str, int], Path],
    request: pytest.FixtureRequest,
    mounts: contextlib.ExitStack,
) -> tuple[ArchiveTarget, Path, dict[str, tuple[int, float, int]]]:
    """A full farmer disk and a replotting target of ``kind`` for it: local, ssh (removals
    over SFTP) or rsyncd (sent by the rsync daemon, removed over SFTP; the disk in its module)."""
    if kind == "rsyncd":
        daemon: RsyncDaemon = request.getfixturevalue("rsync_daemon")
        server: SshServer = request.getfixturevalue("ssh_server")

        def in_module(name: str, size: int) -> Path:
            return mounts.enter_context(small_filesystem(daemon.module_root / name, size))

        archive_dir, before = fill_farmer_disk(in_module, list(farm.pool))
        target = replot_target(
            farm,
            archive_dir,
            type=TargetType.RSYNCD,
            rsync_port=daemon.port,
            module=daemon.module,
            module_root=str(daemon.module_root),
            **ssh_options(server),
        )
        return target, archive_dir, before
    archive_dir, before = fill_farmer_disk(small_disks, list(farm.pool))
    if kind == "script":
        target = replot_target(
            farm,
            archive_dir,
            type=TargetType.SCRIPT,
            transfer_command=("sh", "-c", SCRIPT_SEND, "sh", "{source}", "{archive_dir}"),
            free_space_command=("sh", "-c", SCRIPT_FREE, "sh", "{archive_dir}"),
            list_command=("sh", "-c", SCRIPT_LIST, "sh", "{archive_dir}"),
            remove_command=("sh", "-c", 'rm -- "$2/$1"', "sh", "{plot_name}", "{archive_dir}"),
        )
        return target, archive_dir, before
    if kind == "ssh":
        server = request.getfixturevalue("ssh_server")
        target = replot_target(farm, archive_dir, type=TargetType.SSH, **ssh_options(server))
        return target, archive_dir, before
    return replot_target(farm, archive_dir), archive_dir, before


# A script target's commands, as a farmer might write them for a farmer mounted here.
SCRIPT_SEND = 'n="${1##*/}"; cp -- "$1" "$2/.$n.part" && mv -- "$2/.$n.part" "$2/$n" && rm -- "$1"'
SCRIPT_FREE = "df -P -k -- \"$1\" | awk 'NR == 2 { print $4 * 1024 }'"
SCRIPT_LIST = (
    'for f in "$1"/plot-k*.plot; do [ -f "$f" ] && [ ! -L "$f" ] || continue; '
    'printf "%s %s %s\\n" "$(stat -c %s "$f")" "${f##*/}" "$(stat -c %Y "$f")"; done'
)


@pytest.mark.parametrize("kind", ["local", "ssh", "rsyncd", "script"])
async def test_the_loop_replots_a_full_farmer_removing_only_the_oldest_plots_needed(
    farm: Farm, small_disks: Callable[[str, int], Path], kind: str, request: pytest.FixtureRequest
) -> None:
    with contextlib.ExitStack() as mounts:
        target, archive_dir, before = far_replot_target(farm, kind, small_disks, request, mounts)
        await replot_loop(farm, target, archive_dir, before)


async def replot_loop(
    farm: Farm, target: ArchiveTarget, archive_dir: Path, before: dict[str, tuple[int, float, int]]
) -> None:
    new = [farm.plot(i) for i in range(NEW_PLOTS)]
    engine = farm.engine(target)
    results: list[ArchivePassResult] = []

    def on_pass(result: PassResult | ArchivePassResult) -> None:
        if isinstance(result, ArchivePassResult):
            results.append(result)
            farm.started += result.started
            farm.events += result.events

    loop = Engine(None, on_pass, archiving=engine, archive_interval_s=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(loop.run(stop))

    def sent() -> int:
        sources = {str(plot) for plot in new}
        return sum(
            1
            for e in farm.events
            if e.kind is EventKind.TRANSFERRED
            and not e.failed
            and e.details.get("source") in sources
        )

    try:
        deadline = time.monotonic() + 4 * TIMEOUT_S
        while sent() < NEW_PLOTS:
            assert time.monotonic() < deadline, [e.message for e in farm.events]
            assert not running.done(), running
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(running, TIMEOUT_S)

    after = listing_of(archive_dir)
    removed = sorted(set(before) - set(after))
    # Exactly the oldest matching plots needed: one per new plot, by the date in the name.
    assert removed == sorted(oldest_matching(old_names(), NEW_PLOTS))
    for source, plot in zip(farm.pool, new, strict=True):
        assert (archive_dir / plot.name).read_bytes() == source.read_bytes()
    # Nothing else changed: the other old plots, the decoys, the note, the symlink.
    kept = {name: info for name, info in before.items() if name not in removed}
    assert {name: after[name] for name in kept} == kept
    assert set(after) == set(kept) | {plot.name for plot in new}
    # Every removal is in the action log, with the plot it made room for.
    logged = removals(farm)
    assert sorted(e.extra["file"] for e in logged) == removed
    assert {e.result for e in logged} == {"removed"}
    assert {e.extra["for_plot"] for e in logged} <= {plot.name for plot in new}
    assert all("older than 2023-01-01" in e.reason and "uncompressed" in e.reason for e in logged)
    assert [e for e in farm.events if e.kind is EventKind.REPLOT and e.failed] == []
    progress = results[-1].replot[target.name]
    assert (progress.removed_plots, progress.new_plots_moved) == (NEW_PLOTS, NEW_PLOTS)
    assert progress.matching_plots == len(OLD_DAYS) - NEW_PLOTS


async def test_rules_that_match_nothing_say_so_and_remove_nothing(
    farm: Farm, small_disks: Callable[[str, int], Path]
) -> None:
    archive_dir, before = fill_farmer_disk(small_disks, list(farm.pool))
    rules = replace(RULES, older_than=datetime.date(2020, 1, 1))
    target = replot_target(farm, archive_dir, replot=rules)
    plot = farm.plot()
    engine = farm.engine(target)
    result = await passes_until(
        farm, engine, lambda r: "no plot matches" in wait_reason(r, target), "the wait reason"
    )
    assert wait_reason(result, target) == "full, and no plot matches the replot rules"
    assert listing_of(archive_dir) == before and plot.exists() and removals(farm) == []


async def test_a_dry_run_logs_its_step_once_and_removes_nothing(
    farm: Farm, small_disks: Callable[[str, int], Path]
) -> None:
    archive_dir, before = fill_farmer_disk(small_disks, list(farm.pool))
    target = replot_target(farm, archive_dir, replot=replace(RULES, dry_run=True))
    plot = farm.plot()
    engine = farm.engine(target)
    result = await passes_until(
        farm, engine, lambda r: "dry run" in wait_reason(r, target), "the dry run"
    )
    for _ in range(3):
        result = await step(farm, engine)
    assert wait_reason(result, target).startswith("full; dry run: would remove 1 old plot")
    (logged,) = removals(farm)
    assert logged.result == "dry run"
    assert logged.extra["file"] == oldest_matching(old_names(), 1)[0]
    assert listing_of(archive_dir) == before and plot.exists()


async def test_a_refused_removal_stops_replotting_with_the_file_and_the_cause(
    farm: Farm, small_disks: Callable[[str, int], Path]
) -> None:
    archive_dir, before = fill_farmer_disk(small_disks, list(farm.pool))
    target = replot_target(farm, archive_dir)
    plot = farm.plot()
    engine = farm.engine(target)
    with removal_refused(archive_dir):
        result = await passes_until(
            farm,
            engine,
            lambda r: wait_reason(r, target).startswith("replotting stopped"),
            "replotting to stop",
        )
        for _ in range(3):  # stopped stays stopped: nothing else is tried
            result = await step(farm, engine)
    first = oldest_matching(old_names(), 1)[0]
    reason = wait_reason(result, target)
    assert reason.startswith(f"replotting stopped: could not remove {archive_dir / first}: ")
    assert reason.endswith("(fix it, then restart plotman-tui)")
    (logged,) = removals(farm)
    assert logged.result.startswith("failed: ") and logged.extra["file"] == first
    assert listing_of(archive_dir) == before and plot.exists()
    assert result.replot[target.name].stopped == reason


# -- over SSH -----------------------------------------------------------------------------------


async def test_a_farmer_gone_between_removal_and_transfer_costs_no_other_plot(
    farm: Farm, small_disks: Callable[[str, int], Path], ssh_server: SshServer
) -> None:
    archive_dir, before = fill_farmer_disk(small_disks, list(farm.pool))
    target = replot_target(farm, archive_dir, type=TargetType.SSH, **ssh_options(ssh_server))
    plot = farm.plot()
    source = plot.read_bytes()
    engine = farm.engine(target)
    # Removed over SFTP; the removal has run to its end when the pass returns (step drains).
    await passes_until(farm, engine, lambda _: removals(farm), "the removal")
    ssh_server.stop()
    await passes_until(
        farm,
        engine,
        lambda r: wait_reason(r, target).startswith("farmer unreachable"),
        "the farmer to be found gone",
    )
    for _ in range(3):
        await step(farm, engine)
    assert plot.exists() and farm.transfers(target) == []
    ssh_server.start()
    await farm.until_ended(engine, plot)
    (logged,) = removals(farm)  # nothing else was removed meanwhile
    first = oldest_matching(old_names(), 1)[0]
    assert (logged.result, logged.extra["file"]) == ("removed", first)
    after = listing_of(archive_dir)
    assert (archive_dir / plot.name).read_bytes() == source and not plot.exists()
    assert set(after) == (set(before) - {first}) | {plot.name}


async def test_two_runs_of_archive_once_make_room_then_send(
    farm: Farm, small_disks: Callable[[str, int], Path]
) -> None:
    """cron's ``archive --once``: the first run removes (and waits for the removal to end, not
    cutting it off), the next one, a new process, sends the plot into the room made."""
    archive_dir, before = fill_farmer_disk(small_disks, list(farm.pool))
    target = replot_target(farm, archive_dir)
    plot = farm.plot()
    first = farm.engine(target)
    await Engine(None, lambda r: farm.events.extend(r.events), archiving=first).run(
        asyncio.Event(), once=True
    )
    first.close()
    (logged,) = removals(farm)
    assert logged.result == "removed" and plot.exists()
    assert set(listing_of(archive_dir)) == set(before) - {logged.extra["file"]}
    second = farm.engine(target)
    await Engine(None, lambda r: farm.events.extend(r.events), archiving=second).run(
        asyncio.Event(), once=True
    )
    (ended,) = await farm.until_ended(second, plot)
    assert not ended.failed and not plot.exists()
    assert len(removals(farm)) == 1


# -- never more than needed ---------------------------------------------------------------------


async def test_room_that_never_shows_costs_one_old_plot_and_replotting_says_why(
    farm: Farm, small_disks: Callable[[str, int], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A farmer disk where removing a plot frees nothing (here a program holds every old plot
    open; a snapshot does the same): one plot goes, not one per pass, nor one per run."""
    # The wait for the room ends at the first read after the removal (600 s in real life):
    # from then on only the count of bytes removed since the last transfer start holds.
    monkeypatch.setattr(replotter_module, "ROOM_WAIT_S", 0.0)
    archive_dir, before = fill_farmer_disk(small_disks, list(farm.pool))
    old_size = (archive_dir / old_names()[0]).stat().st_size
    target = replot_target(farm, archive_dir)
    plot = farm.plot()
    with contextlib.ExitStack() as holding:
        for name in old_names():  # a harvester reading them: their blocks stay when unlinked
            holding.enter_context((archive_dir / name).open("rb"))
        first = farm.engine(target)
        result = await passes_until(
            farm,
            first,
            lambda r: wait_reason(r, target).startswith("replotting held"),
            "replotting to be held",
        )
        for _ in range(3):
            result = await step(farm, first)
        held = (
            f"replotting held: {human_bytes(old_size)} of old plots removed from {target.name} "
            "since a plot last went there, yet its free space did not grow by as much; a "
            "snapshot, a hard link or a program holding the files open keeps that space"
        )
        assert wait_reason(result, target).startswith(held)
        assert result.replot[target.name].stopped == wait_reason(result, target)
        first.close()
        # cron's next ``archive --once``: a new process, which reads the count in the log.
        second = farm.engine(target)
        for _ in range(3):
            result = await step(farm, second)
        assert wait_reason(result, target).startswith(held)
        (logged,) = removals(farm)
        oldest = oldest_matching(old_names(), 1)[0]
        assert (logged.result, logged.extra["file"]) == ("removed", oldest)
        assert set(listing_of(archive_dir)) == set(before) - {oldest} and plot.exists()
    # The program lets go: the next read (due in a minute; here at once) shows the room, the
    # plot goes, and no other old plot went.
    second.space.invalidate(target.name)
    (ended,) = await farm.until_ended(second, plot)
    assert not ended.failed and not plot.exists()
    assert len(removals(farm)) == 1


async def test_a_plot_swapped_for_a_symlink_stops_replotting_though_no_listing_shows_it(
    farm: Farm, small_disks: Callable[[str, int], Path]
) -> None:
    archive_dir, before = fill_farmer_disk(small_disks, list(farm.pool))
    target = replot_target(farm, archive_dir)
    plot = farm.plot()
    engine = farm.engine(target)
    await asyncio.gather(engine.space.refresh_due(), engine.replotter.refresh_due())
    # Between the listing and the removal the oldest plot becomes a symlink (its data kept
    # under another name, so the disk stays full): a listing skips symlinks.
    oldest = oldest_matching(old_names(), 1)[0]
    (archive_dir / oldest).rename(archive_dir / "kept.bak")
    (archive_dir / oldest).symlink_to(archive_dir / "kept.bak")
    result = engine.step(())
    farm.events += result.events
    await engine.replotter.drain()
    result = await passes_until(
        farm,
        engine,
        lambda r: wait_reason(r, target).startswith("replotting stopped"),
        "replotting to stop",
    )
    for _ in range(3):  # stopped stays stopped: no other plot is tried
        result = await step(farm, engine)
    reason = wait_reason(result, target)
    assert reason.startswith(f"replotting stopped: could not remove {archive_dir / oldest}: ")
    assert "not a regular file" in reason
    assert [e.result.startswith("failed: ") for e in removals(farm)] == [True]
    after = listing_of(archive_dir)
    assert {name: after[name] for name in before if name != oldest} == {
        name: info for name, info in before.items() if name != oldest
    }
    assert plot.exists()


async def test_a_removal_the_action_log_cannot_record_stops_replotting(
    farm: Farm, small_disks: Callable[[str, int], Path]
) -> None:
    archive_dir, before = fill_farmer_disk(small_disks, list(farm.pool))
    target = replot_target(farm, archive_dir)
    farm.plot()
    engine = farm.engine(target)
    engine.replotter.read_history()  # read while it could be; then it cannot be written
    log_path = farm.action_log.path
    log_path.unlink(missing_ok=True)
    log_path.mkdir()
    result = await passes_until(
        farm, engine, lambda r: r.replot[target.name].stopped, "replotting to stop"
    )
    oldest = oldest_matching(old_names(), 1)[0]
    stopped = result.replot[target.name].stopped
    assert stopped == (
        f"replotting stopped: the removal of {archive_dir / oldest} could not be written to the "
        f"action log {log_path} (fix it, then restart plotman-tui)"
    )
    assert any(e.kind is EventKind.ERROR and str(log_path) in e.message for e in farm.events)
    # The one removal made (its room used by the plot or not), and no other.
    assert set(before) - set(listing_of(archive_dir)) == {oldest}
