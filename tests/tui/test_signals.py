"""What the dashboard says of itself, as a farmer reads it: the sort order, plotting and
archiving in trouble (the status line's words and colours)."""

from __future__ import annotations

from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.view import job_key
from plotman_tui.tui.widgets.prefixes_line import PrefixesLine
from tests.tui.farmdata import farm_jobs, feed, still_app
from tests.tui.pilots import shown_keys


def _prefixes_text(app: DashboardApp) -> str:
    line = app.dashboard.query_one(PrefixesLine)
    return line._shown.plain if line._shown is not None else ""


async def test_o_reverses_the_default_order_to_oldest_first() -> None:
    app = still_app()
    jobs = farm_jobs()  # youngest first
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.pause()
        assert shown_keys(app) == [job_key(job) for job in jobs]
        assert "youngest first" in _prefixes_text(app)
        await pilot.press("O")
        assert shown_keys(app) == [job_key(job) for job in reversed(jobs)]
        assert "oldest first" in _prefixes_text(app)
        await pilot.press("O")
        assert shown_keys(app) == [job_key(job) for job in jobs]
