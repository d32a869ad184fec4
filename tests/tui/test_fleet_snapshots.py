"""Screenshots of the fleet screen (F) at 80x24 and 120x40, fed the message the fleet's client
posts: this machine and plotter2 up with their jobs, plotter3 down, plotter4 failed. The app
runs without workers at a fixed time, in UTC; the baselines are in ``snapshots/``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from tests.tui.farmdata import feed
from tests.tui.fleetdata import fleet_app, fleet_changed

SnapCompare = Callable[..., bool]

pytestmark = pytest.mark.usefixtures("utc")


async def fed(pilot: Pilot[int]) -> None:
    feed(pilot.app)  # type: ignore[arg-type]
    pilot.app.post_message(fleet_changed())
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_fleet(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(fleet_app(), terminal_size=size, run_before=fed, press=["F"])


def test_fleet_filtered_by_host(snap_compare: SnapCompare) -> None:
    press = ["F", "tab", "o", "slash", *"plotter2", "enter"]
    assert snap_compare(fleet_app(), terminal_size=(120, 40), run_before=fed, press=press)
