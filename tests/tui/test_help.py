"""Help explains every key, line, panel and column the dashboard shows, at 80x24 too."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll

from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.screens.dashboard import DashboardScreen
from plotman_tui.tui.screens.help_screen import (
    ARCHIVE_DIRS_HELP,
    ARCHIVE_HELP,
    COLUMN_HELP,
    DST_HELP,
    KEYS,
    PREFIXES_LINE,
    STATUS_LINE,
    TMP_HELP,
    HelpScreen,
)
from plotman_tui.tui.view import job_columns
from plotman_tui.tui.widgets.archive_table import ArchiveDirsTable, ArchiveTable
from plotman_tui.tui.widgets.dst_table import DstTable
from plotman_tui.tui.widgets.jobs_table import JobsTable
from plotman_tui.tui.widgets.tmp_table import TmpTable
from tests.tui.farmdata import archive_app, archive_feed

# Key names as Textual spells them, and as help shows them.
_SHOWN = {
    "slash": "/",
    "question_mark": "?",
    "up": "↑",
    "down": "↓",
    "pageup": "pgup",
    "pagedown": "pgdn",
}


def _titles(columns: tuple[object, ...]) -> list[str]:
    """A table's column titles (a TableColumn's, or a plain (id, title, right) tuple's)."""
    return [str(getattr(c, "title", None) or c[1]) for c in columns]  # type: ignore[index]


def _keys_in_help() -> set[str]:
    """Each key help names: ``s / r`` is s and r; ``/`` alone is the filter key."""
    named = {token for keys, _ in KEYS for token in keys.split() if token != "/"}
    return named | {keys for keys, _ in KEYS if keys == "/"}


def test_every_column_of_every_table_is_explained() -> None:
    assert {c.id for c in job_columns("", "")} <= set(COLUMN_HELP)
    assert set(_titles(TmpTable.COLUMNS)) <= set(TMP_HELP)
    assert set(_titles(DstTable(with_priority=True).COLUMNS)) <= set(DST_HELP)
    assert set(_titles(ArchiveTable.COLUMNS)) <= set(ARCHIVE_HELP)
    assert ArchiveTable._REPLOT.title in ARCHIVE_HELP  # shown only while a target replots
    assert set(_titles(ArchiveDirsTable.COLUMNS)) <= set(ARCHIVE_DIRS_HELP)


def test_every_key_of_the_dashboard_is_in_help() -> None:
    bindings = [
        *DashboardScreen.BINDINGS,
        *JobsTable.BINDINGS,
        *DashboardApp.BINDINGS,
    ]
    keys = {
        _SHOWN.get(key.strip(), key.strip())
        for binding in bindings
        if isinstance(binding, Binding)
        for key in binding.key.split(",")
        if not key.strip().startswith("ctrl+")  # Textual's own (quit, palette)
    }
    missing = keys - _keys_in_help()
    assert not missing, f"keys the dashboard binds that help does not name: {missing}"


def test_help_explains_the_status_line_and_the_signals() -> None:
    said = {term for term, _ in STATUS_LINE} | {term for term, _ in PREFIXES_LINE}
    for term in (
        "Plotting: active",
        "Plotting: paused",
        "Plotting: failing",
        "Archiving: idle",
        "Archiving: error",
        "look 2s · plan 20s",
        "stale 1m",
        "Prefixes:",
    ):
        assert term in said, term


async def test_help_opens_scrolls_and_closes_at_80x24() -> None:
    app = archive_app()
    async with app.run_test(size=(80, 24)) as pilot:
        archive_feed(app)
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        scroll = app.screen.query_one(VerticalScroll)
        assert scroll.max_scroll_y > 0  # more than a screen: it scrolls
        await pilot.press("end")
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y
        await pilot.press("escape")
        assert app.screen is app.dashboard
