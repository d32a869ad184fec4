"""Screenshots of the dashboard at 80x24, 120x40 and 200x60, fed the messages its workers post.

The app runs without workers (``live=False``) at a fixed time, in UTC; the baselines are in the
top-level ``snapshots/`` folder. After a deliberate change of the look, refresh them with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the report.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from plotman_tui.farm.control import KillPlan
from plotman_tui.farm.model import TempFile
from plotman_tui.farm.scheduler import Wait
from plotman_tui.tui.messages import KillPrepared
from tests.tui import farmdata
from tests.tui.farmdata import (
    GIB,
    REAL_FARM,
    TMP,
    TMP2,
    BigFarm,
    archive_app,
    archive_feed,
    archive_passed,
    farm_jobs,
    feed,
    pass_completed,
    still_app,
)
from tests.tui.historydata import history_read

SIZES = [(80, 24), (120, 40), (200, 60)]
SnapCompare = Callable[..., bool]


# Times on screen are local: the zone is pinned (tests/tui/conftest.py).
pytestmark = pytest.mark.usefixtures("utc")


async def fed(pilot: Pilot[int]) -> None:
    feed(pilot.app)  # type: ignore[arg-type]
    await pilot.pause()


async def fed_with_history(pilot: Pilot[int]) -> None:
    """The farm, and its history: the jobs table shows each job's progress and ETA."""
    await fed(pilot)
    pilot.app.post_message(history_read())
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_dashboard(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(still_app(), terminal_size=size, run_before=fed_with_history)


def test_dashboard_before_any_data(snap_compare: SnapCompare) -> None:
    assert snap_compare(still_app(), terminal_size=(80, 24))


def test_paused_and_monitoring(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        await fed(pilot)
        app.post_message(pass_completed(decision=None, holds_lock=False))
        await pilot.pause()

    app = still_app(plotting_enabled=False)
    app.plotting.lock_note = "plot jobs are started by pid 812 (plotman-tui plot) since 20:02"
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_no_eligible_dir(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[int]) -> None:
        await fed(pilot)
        reason = "no eligible tmp dirs (tmp/0: max jobs 3; tmp/1: 1 before 2:1)"
        pilot.app.post_message(pass_completed(decision=Wait(reason)))
        await pilot.pause()

    assert snap_compare(still_app(), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_job_details(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(
        still_app(), terminal_size=size, run_before=fed, press=["down", "down", "enter"]
    )


def test_kill_question(snap_compare: SnapCompare) -> None:
    job = farm_jobs()[1]
    name = f"plot-k32-2023-11-14-21-06-{job.plot_id}"
    files = (
        TempFile(f"{TMP[0]}/{name}.plot.sort.tmp", 90 * GIB),
        TempFile(f"{TMP[0]}/{name}.plot.table1.tmp", 30 * GIB),
        TempFile(f"{TMP2}/{name}.plot.2.tmp", 0),
    )
    plan = KillPlan(
        job=job,
        files=files,
        total_bytes=120 * GIB,
        stopped=True,
        message=f"job {job.plot_id[:8]} (pid {job.pid}) is stopped; killing it deletes "  # type: ignore[index]
        "3 temp files (120.0 GiB)",
    )

    async def run_before(pilot: Pilot[int]) -> None:
        await fed(pilot)
        pilot.app.post_message(KillPrepared(plan=plan))
        await pilot.pause()

    assert snap_compare(still_app(), terminal_size=(80, 24), run_before=run_before)


def test_help(snap_compare: SnapCompare) -> None:
    assert snap_compare(
        still_app(), terminal_size=(120, 40), run_before=fed, press=["question_mark"]
    )


def test_filter_and_sort(snap_compare: SnapCompare) -> None:
    keys = ["slash", "t", "m", "p", "slash", "0", "enter", "o", "o", "o", "o", "o", "o", "O"]
    assert snap_compare(still_app(), terminal_size=(80, 24), run_before=fed, press=keys)


def test_terminal_too_small(snap_compare: SnapCompare) -> None:
    assert snap_compare(still_app(), terminal_size=(50, 12), run_before=fed)


# -- archiving -----------------------------------------------------------------------------------


async def settled(pilot: Pilot[int]) -> None:
    """Two rounds: tables size themselves (height: auto) on the refresh after their rows came."""
    await pilot.pause()
    await pilot.pause()


async def archive_fed(pilot: Pilot[int]) -> None:
    archive_feed(pilot.app)  # type: ignore[arg-type]
    await settled(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_archiving(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """A plot on its way to the farmer, a missing archive dir, a second farmer unreachable;
    the dst dirs' archive priority; transfers and a wait in the action log."""
    assert snap_compare(archive_app(), terminal_size=size, run_before=archive_fed)


def test_archiving_paused_and_idle(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[int]) -> None:
        await archive_fed(pilot)
        pilot.app.post_message(archive_passed(transfers=False))
        await settled(pilot)

    assert snap_compare(
        archive_app(archiving_enabled=False), terminal_size=(80, 24), run_before=run_before
    )


# -- farms of a real size ------------------------------------------------------------------------


@pytest.mark.parametrize("farm", ["REAL_FARM", "HUGE_FARM"], ids=["real", "huge"])
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_farm_of_real_size(snap_compare: SnapCompare, farm: str, size: tuple[int, int]) -> None:
    """12 tmp dirs, 6 dst dirs, 2 targets of 40 disks and 30 jobs (real); 24, 12, 100 and 60
    (huge), with their plot history: the jobs table keeps its rows, the dir tables flow and the
    archive disks are summed up per target."""
    big: BigFarm = getattr(farmdata, farm)

    async def run_before(pilot: Pilot[int]) -> None:
        big.feed(pilot.app)  # type: ignore[arg-type]
        pilot.app.post_message(history_read())  # each job's progress and ETA
        await settled(pilot)

    assert snap_compare(big.app(), terminal_size=size, run_before=run_before)


def test_dirs_screen(snap_compare: SnapCompare) -> None:
    """Every dir of the realistic farm, every reason whole (``d``)."""

    async def run_before(pilot: Pilot[int]) -> None:
        REAL_FARM.feed(pilot.app)  # type: ignore[arg-type]
        await settled(pilot)

    assert snap_compare(
        REAL_FARM.app(), terminal_size=(120, 40), run_before=run_before, press=["d"]
    )


# -- the plot history ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_history_screen(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """30 days of plots on three tmp dirs (``h``): plots and TiB per day, total and phase
    times per tmp dir, the last plots; the TiB and phase charts only from 120 columns."""

    async def run_before(pilot: Pilot[int]) -> None:
        await fed_with_history(pilot)
        await settled(pilot)

    assert snap_compare(still_app(), terminal_size=size, run_before=run_before, press=["h"])
