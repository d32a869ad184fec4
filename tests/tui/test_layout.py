"""The dashboard fed by hand (no workers): the cursor follows its job, sorting, filtering,
resizing and the too-small notice, help and quitting."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.text import Text
from textual import events
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from plotman_tui.farm.scheduler import Wait
from plotman_tui.plotters.phase import Phase
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.messages import LogsRead
from plotman_tui.tui.screens.dirs_screen import DirsScreen
from plotman_tui.tui.screens.help_screen import HelpScreen
from plotman_tui.tui.screens.job_screen import JobScreen
from plotman_tui.tui.view import SortOrder, job_key
from plotman_tui.tui.widgets.action_log_panel import ActionLogPanel, item_text
from plotman_tui.tui.widgets.archive_table import ArchiveDirsTable, ArchiveTable
from plotman_tui.tui.widgets.dst_table import DstTable
from plotman_tui.tui.widgets.jobs_table import JobsTable
from plotman_tui.tui.widgets.keys_footer import KeysFooter
from plotman_tui.tui.widgets.tmp_table import TmpTable
from plotman_tui.tui.widgets.too_small import TooSmall
from tests.tui.farmdata import (
    GIB,
    HUGE_FARM,
    REAL_FARM,
    TRANSFER_PID,
    BigFarm,
    archive_app,
    archive_feed,
    dirs_sampled,
    farm_jobs,
    feed,
    make_job,
    pass_completed,
    still_app,
)
from tests.tui.pilots import jobs_table, shown_keys


async def test_cursor_stays_on_its_job_while_rows_come_go_and_resort() -> None:
    app = still_app()
    jobs = list(farm_jobs())
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.pause()
        table = jobs_table(app)
        watched = job_key(jobs[2])
        assert table.select_key(watched)
        # A new (youngest) job arrives on top, the oldest one ends.
        newcomer = make_job(6, age_s=1, phase=None)
        app.post_message(pass_completed([newcomer, *jobs[:4]]))
        await pilot.pause()
        assert shown_keys(app)[0] == job_key(newcomer)
        assert table.selected_key == watched
        # Sorted by phase, then phases move on so that the order changes under the cursor.
        await pilot.press(*["o"] * 8)
        assert app.jobs_order.column == "phase"
        assert table.selected_key == watched
        moved = [
            replace(job, phase=Phase(4, 0)) if job_key(job) == watched else job for job in jobs
        ]
        app.post_message(pass_completed(moved))
        await pilot.pause()
        assert shown_keys(app)[-1] == watched  # the furthest along sorts last
        assert table.selected_key == watched
        # The cursor's job ends: the cursor stays in the table.
        app.post_message(pass_completed(jobs[:2]))
        await pilot.pause()
        assert table.selected_key in {job_key(job) for job in jobs[:2]}


async def test_header_click_sorts_and_a_second_click_reverses() -> None:
    app = still_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.pause()
        table = jobs_table(app)
        wall_x, _ = table.column_spans()["wall"]
        await pilot.click(table, offset=(wall_x + 2, 1))  # inside the border, on "wall"
        assert app.jobs_order.column == "wall" and not app.jobs_order.descending
        await pilot.click(table, offset=(wall_x + 2, 1))
        assert app.jobs_order.descending


async def test_keys_queued_right_after_slash_go_to_the_filter() -> None:
    app = still_app()
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app)
        await pilot.pause()
        # As a terminal delivers a paste or a fast typist: every key is queued before the
        # first is handled. None may reach the table's bindings (o sorts, s suspends, k kills).
        for key, char in [("slash", "/"), ("o", "o"), ("slash", "/"), ("t", "t"), ("m", "m")]:
            app.post_message(events.Key(key, char))
        await pilot.pause()
        assert app.filter_text == "o/tm"
        assert app.jobs_order == SortOrder()
        await pilot.press("escape")
        # On help, "/" is no filter key.
        await pilot.press("question_mark", "slash")
        assert isinstance(app.screen, HelpScreen)
        assert not app.dashboard.filtering


async def test_filter_narrows_the_rows_and_escape_brings_them_back() -> None:
    app = still_app()
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app)
        await pilot.pause()
        await pilot.press("slash", *"stp")
        assert [key.split("@")[0] for key in shown_keys(app)] == ["4103"]
        await pilot.press("enter")
        assert jobs_table(app).has_focus and app.filter_text == "stp"
        await pilot.press("escape")
        assert len(shown_keys(app)) == 5 and app.filter_text == ""


async def test_resizing_with_data_flowing_reflows_columns_and_shows_the_notice() -> None:
    app = still_app()
    jobs = farm_jobs()
    async with app.run_test(size=(200, 60)) as pilot:
        feed(app)
        await pilot.pause()
        table = jobs_table(app)
        table.select_key(job_key(jobs[3]))
        wide_columns = table.shown_column_ids
        for step, (width, height) in enumerate(
            [(80, 24), (50, 12), (120, 40), (30, 5), (81, 25), (200, 60), (60, 16)]
        ):
            await pilot.resize_terminal(width, height)
            app.post_message(pass_completed([*jobs[: step % 3], jobs[3]]))
            app.post_message(dirs_sampled())
            await pilot.pause()
            notice = app.dashboard.query_one(TooSmall)
            too_small = width < 60 or height < 16
            assert notice.display == too_small, (width, height)
            assert app.dashboard.query_one("#dashboard").display == (not too_small)
            if not too_small:
                assert table.row_count == 1 + step % 3
                assert table.selected_key == job_key(jobs[3])
        await pilot.resize_terminal(80, 24)
        app.post_message(pass_completed())
        await pilot.pause()
        assert len(table.shown_column_ids) < len(wide_columns)  # narrow: the least useful went
        assert {"plot id", "phase"} <= set(table.shown_column_ids)
        assert table.selected_key == job_key(jobs[3])


async def test_help_and_details_screens_open_and_close() -> None:
    app = still_app()
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app)
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("p")  # the dashboard's keys sleep while a modal is open
        assert app.plotting.enabled
        await pilot.press("escape")
        await pilot.press("down", "enter")
        assert isinstance(app.screen, JobScreen)
        assert app.screen.job.pid == farm_jobs()[1].pid
        # The job ends while its screen is open: the screen says so, keys refuse.
        app.post_message(pass_completed(farm_jobs()[2:]))
        await pilot.pause()
        assert app.screen.ended
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_archiving_key_says_it_is_not_set_up_and_q_quits_with_0() -> None:
    app = still_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert any("not set up" in str(n.message) for n in app._notifications)
        assert not app.dashboard.query_one(ArchiveTable).display
        await pilot.press("q")
    assert app.return_code == 0


async def test_archiving_key_pauses_and_resumes_archiving() -> None:
    app = archive_app()
    async with app.run_test(size=(120, 40)) as pilot:
        archive_feed(app)
        await pilot.pause()
        status = app.dashboard.query_one("#status-archiving", Static)
        # The farm has a target in trouble while a transfer runs: an error, the transfer said.
        assert str(status.content).startswith("Archiving: error ")
        assert str(status.content).endswith(f"(pid {TRANSFER_PID})")
        await pilot.press("a")
        assert not app.archiving.enabled
        assert str(status.content).startswith("Archiving: paused ")
        assert str(status.content).endswith(f"(pid {TRANSFER_PID} finishing)")
        await pilot.press("a")
        assert app.archiving.enabled
        assert str(status.content).startswith("Archiving: error ")
        table = app.dashboard.query_one(ArchiveTable)
        assert table.display and table.row_count == 2  # a line per target


async def test_long_dir_names_are_cut_from_the_left_before_columns_go() -> None:
    app = still_app()
    long_dirs = [f"/srv/plotting/{'deep/' * 12}nvme-{n}" for n in range(2)]
    jobs = [replace(job, tmp_dir=long_dirs[index % 2]) for index, job in enumerate(farm_jobs())]
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(pass_completed(jobs))
        await pilot.pause()
        table = jobs_table(app)
        # Every column a 120-column screen shows for short dir names is still there.
        assert {"tmp", "wall", "phase", "pid", "stat", "mem"} <= set(table.shown_column_ids)
        first = table.render_line(1).text
        assert "…" in first and "/nvme-" in first  # the end of the dir, which tells them apart
        assert str(jobs[0].pid) in first


async def test_the_footer_follows_the_focus_without_rebuilding_its_keys() -> None:
    app = still_app()
    async with app.run_test(size=(140, 40)) as pilot:  # wide enough for every key
        feed(app)
        await pilot.pause()
        footer = app.dashboard.query_one(KeysFooter)
        keys = {key.action: key for key in footer.query(FooterKey)}
        assert all(key.display for key in keys.values()) and "select_cursor" in keys
        await pilot.press("slash")
        await pilot.pause()
        # In the filter field every letter is typed, enter keeps the filter: no key applies.
        assert not any(key.display for key in keys.values())
        await pilot.press("enter")
        await pilot.pause()
        assert all(key.display for key in keys.values())
        assert {key.action: key for key in footer.query(FooterKey)} == keys  # the same widgets


def _cursor_line_on_screen(table: JobsTable) -> str | None:
    """The screen line of the cursor's row, or None when it is scrolled out of sight."""
    top = table.scroll_offset.y
    line = table.cursor_row - top + 1  # the header is line 0
    if not 1 <= line < table.scrollable_content_region.height:
        return None
    return table.render_line(line).text


async def test_a_long_table_scrolls_to_its_cursor_and_stays_where_the_farmer_scrolled() -> None:
    app = still_app()
    many = [make_job(seed, age_s=1000 - seed, phase=Phase(1, 1)) for seed in range(40)]
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(pass_completed(many[:10]))
        await pilot.pause()
        table = jobs_table(app)
        assert table.select_key(job_key(many[9]))  # the oldest, last row
        # 30 younger jobs arrive above it in one pass: the view follows the cursor down.
        app.post_message(pass_completed(many))
        await pilot.pause()
        assert table.selected_key == job_key(many[9])
        line = _cursor_line_on_screen(table)
        assert line is not None and str(many[9].pid) in line
        assert not table.show_horizontal_scrollbar  # no row lost to a scrollbar
        await pilot.press("end")
        line = _cursor_line_on_screen(table)
        assert line is not None and str(many[-1].pid) in line
        await pilot.press("home")
        # The farmer scrolls down with the wheel to look; the next update leaves the view be.
        for _ in range(5):
            table.scroll_down(animate=False)  # what a turn of the wheel does
        await pilot.pause()
        scrolled = table.scroll_offset.y
        assert scrolled > 0
        moved = [replace(job, phase=Phase(1, 2)) for job in many]
        app.post_message(pass_completed(moved))
        await pilot.pause()
        assert table.scroll_offset.y == scrolled
        first_shown = table.render_line(1).text
        assert "1:2" in first_shown and str(moved[scrolled].pid) in first_shown


async def test_news_of_the_jobs_handled_late_never_puts_an_older_phase_back() -> None:
    app = still_app()
    jobs = list(farm_jobs())
    watched = jobs[1]
    newer = [replace(job, phase=Phase(4, 0)) if job is watched else job for job in jobs]
    async with app.run_test(size=(120, 40)) as pilot:
        first = pass_completed(jobs)
        first.sequence = 1
        app.post_message(first)
        await pilot.pause()
        # A read of the logs (number 3) is handled before a pass that came before it (2).
        app.post_message(LogsRead(jobs=tuple(newer), dir_of={}, sequence=3))
        late = pass_completed(jobs, decision=Wait("plotting is paused"))
        late.sequence = 2
        app.post_message(late)
        await pilot.pause()
        assert jobs_table(app).cell_text(job_key(watched), "phase") == "4:0"
        assert app.plotting.decision == Wait("plotting is paused")  # its news still counts
        # A read older than the jobs shown is passed over.
        app.post_message(LogsRead(jobs=tuple(jobs), dir_of={}, sequence=1))
        await pilot.pause()
        assert jobs_table(app).cell_text(job_key(watched), "phase") == "4:0"


async def test_a_click_puts_the_cursor_on_a_row_and_a_second_click_opens_its_details() -> None:
    app = still_app()
    jobs = farm_jobs()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.pause()
        table = jobs_table(app)
        assert table.selected_key == job_key(jobs[0])
        # Inside the border (tall layout): line 1 is the header, line 1 + n the n-th row.
        await pilot.click(table, offset=(4, 1 + 3))
        assert table.selected_key == job_key(jobs[2])
        assert app.screen is app.dashboard
        await pilot.click(table, offset=(4, 1 + 3))
        await pilot.pause()
        assert isinstance(app.screen, JobScreen) and app.screen.job.pid == jobs[2].pid


async def test_the_jobs_table_has_its_cursor_again_after_the_terminal_was_too_small() -> None:
    app = still_app()
    jobs = farm_jobs()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.pause()
        await pilot.resize_terminal(50, 12)  # the too-small notice hides the dashboard
        await pilot.pause()
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        table = jobs_table(app)
        assert table.has_focus
        # Arrows and enter work at once, with no tab first.
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, JobScreen) and app.screen.job.pid == jobs[1].pid


async def test_the_open_filter_keeps_the_keys_after_the_terminal_was_too_small() -> None:
    app = still_app()
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app)
        await pilot.pause()
        await pilot.press("slash", "s")
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.press("t", "p")  # typed into the filter, not the table's keys (p pauses)
        assert app.filter_text == "stp" and app.plotting.enabled


# -- farms of a real size ------------------------------------------------------------------------


def _cut_keeps_meaning(shown: str, whole: str) -> bool:
    """A cell shows its whole text, or a start of it that ends between clauses or words,
    marked with an ellipsis (never half a number, a phase or a word, nor a bare ellipsis)."""
    if shown == whole:
        return True
    if not shown.endswith("…"):
        return False
    kept = shown[:-1].rstrip()
    return kept != "" and whole.startswith(kept) and whole[len(kept) : len(kept) + 1] in " ;,("


def _on_screen(app: DashboardApp, widget: Widget) -> bool:
    """The widget is shown whole, above the footer."""
    region = widget.region
    return widget.display and region.height > 0 and region.bottom <= app.size.height - 1


async def _fed(pilot: Pilot[int], farm: BigFarm) -> None:
    """The farm's data posted and shown: the tables sized on the refresh after their rows."""
    farm.feed(pilot.app)  # type: ignore[arg-type]
    await pilot.pause()
    await pilot.pause()


REASON_COLUMNS = {TmpTable: ("phases", "ready"), DstTable: ("inbound",), ArchiveTable: ("note",)}


@pytest.mark.parametrize("farm", [REAL_FARM, HUGE_FARM], ids=["real", "huge"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_jobs_table_keeps_its_rows_on_a_farm_of_real_size(
    farm: BigFarm, size: tuple[int, int]
) -> None:
    app = farm.app()
    async with app.run_test(size=size) as pilot:
        await _fed(pilot, farm)
        table = jobs_table(app)
        assert _on_screen(app, table)
        rows = {key for key, _column in table.drawn_cells()}
        # 5 rows at 24 lines, 12 at 40 (the issue's), 20 at 60: whatever the number of dirs.
        wanted = {24: 5, 40: 12, 60: 20}[size[1]]
        assert len(rows) >= min(farm.job_count, wanted), len(rows)
        # Every reason on screen says what the whole says, or less with an ellipsis; a dir is
        # cut from the left; any other cell is whole: no column is cut in half.
        for kind, columns in REASON_COLUMNS.items():
            dir_table = app.dashboard.query_one(kind)
            assert _on_screen(app, dir_table)
            for (key, column_id), shown in dir_table.drawn_cells().items():
                whole = dir_table.cell_text(key, column_id)
                if column_id in columns:
                    assert _cut_keeps_meaning(shown, whole), (shown, whole)
                elif column_id == "dir":
                    cut = shown.removeprefix("…")
                    assert shown == whole or (cut and whole.endswith(cut)), shown
                else:
                    assert shown == whole, (column_id, shown, whole)
            # A column left out is not drawn at all: its title is not on the header line.
            header = dir_table.render_line(0).text
            shown_ids = dir_table.shown_column_ids
            hidden = [column for column in dir_table.COLUMNS if column.id not in shown_ids]
            assert not any(f" {column.title}" in header for column in hidden), header


async def test_a_large_terminal_shows_the_whole_realistic_farm() -> None:
    app = REAL_FARM.app()
    async with app.run_test(size=(200, 60)) as pilot:
        await _fed(pilot, REAL_FARM)
        assert {key for key, _ in jobs_table(app).drawn_cells()} == set(shown_keys(app))
        assert len(shown_keys(app)) == REAL_FARM.job_count
        for kind in (TmpTable, DstTable, ArchiveTable):
            table = app.dashboard.query_one(kind)
            drawn = table.drawn_cells()
            assert {key for key, _ in drawn} == set(table.row_keys)
            # Nothing is cut that fits: every cell is whole.
            assert all(
                table.cell_text(key, column) == text for (key, column), text in drawn.items()
            )
        # The action log spans the width under the dir tables: each entry in sight is whole.
        log = app.dashboard.query_one(ActionLogPanel)
        assert log.region.width == app.size.width
        assert log.region.y > app.dashboard.query_one(ArchiveTable).region.bottom
        text = log.query_one("#action-log-text", Static)
        lines = log.scrollable_content_region.height
        assert lines >= 3
        items = [*log.entries, *log.events]
        items.sort(key=lambda item: item.time, reverse=True)
        today = app.clock()
        assert text.region.width >= max(item_text(item, today).cell_len for item in items) > 140
        for y in range(lines):
            assert text.render_line(y).text.rstrip() == item_text(items[y], today).plain


async def test_twelve_tmp_dirs_flow_into_two_tables_at_120_columns() -> None:
    app = REAL_FARM.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _fed(pilot, REAL_FARM)
        table = app.dashboard.query_one(TmpTable)
        assert table.groups == 2
        drawn = table.drawn_cells()
        assert {key for key, _ in drawn} == set(table.row_keys)  # every dir, and tmp2
        assert len(table.row_keys) == 13
        # The dir short of space says so, cut between clauses (whole on the dirs screen).
        short = drawn[(REAL_FARM.tmp[-2], "ready")]
        assert short.startswith("low space")
        assert _cut_keeps_meaning(short, "low space (78.0 GiB free, needs 239 GiB)")
        # Each group has its header.
        assert table.render_line(0).text.count("ready") == 2


async def test_the_dirs_screen_shows_every_dir_and_whole_reasons() -> None:
    app = REAL_FARM.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _fed(pilot, REAL_FARM)
        # 80x24 has no room for 13 tmp rows: the table's header says how many are out of
        # sight, and where they are.
        short = app.dashboard.query_one(TmpTable)
        hidden = short.hidden_rows()
        assert hidden == 13 - len({key for key, _ in short.drawn_cells()}) > 0
        assert short.render_line(0).text.rstrip().endswith(f"+{hidden} more: d")
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, DirsScreen)
        archive = screen.query_one(ArchiveDirsTable)
        assert len(archive.row_keys) == 80  # every disk of both targets
        tmp = screen.query_one(TmpTable)
        assert tmp.row_keys == [*REAL_FARM.tmp, REAL_FARM.tmp2]
        line = tmp.render_line(1 + REAL_FARM.tmp.index(REAL_FARM.tmp[-2])).text
        # Whole, though wider than the dashboard.
        assert "low space (78.0 GiB free, needs 239 GiB)" in line
        status = screen.query_one("#dirs-archiving", Static)
        assert "nas: archive dir nas007: missing" in str(status.content)
        # A new sample while it is open shows at once.
        sampled = REAL_FARM.dirs_sampled()
        fuller = [
            replace(info, free_bytes=5 * GIB) if info.path == REAL_FARM.tmp[0] else info
            for info in sampled.dirs
        ]
        app.post_message(replace(sampled, dirs=tuple(fuller)))
        await pilot.pause()
        assert tmp.cell_text(REAL_FARM.tmp[0], "free") == "5.0G"
        await pilot.press("escape")
        assert app.screen is app.dashboard
        assert jobs_table(app).has_focus


@pytest.mark.parametrize("width", [80, 120])
async def test_the_status_line_cuts_a_long_reason_between_clauses(width: int) -> None:
    app = still_app()
    reason = (
        "no eligible tmp dirs (tmp 00: low space (77.6 GiB free, needs 239 GiB); "
        "tmp 01: 1 before 2:1)"
    )
    async with app.run_test(size=(width, 40)) as pilot:
        feed(app)
        app.post_message(pass_completed(decision=Wait(reason)))
        await pilot.pause()
        part = app.dashboard.query_one("#status-plotting", Static)
        whole = str(part.content)
        assert reason in whole  # the whole text is kept (and on the dirs screen)
        shown = part.render()
        assert isinstance(shown, Text)
        assert shown.cell_len <= part.size.width < len(whole)
        assert _cut_keeps_meaning(shown.plain, whole)
        assert "77.6 GiB" not in shown.plain or "77.6 GiB free" in shown.plain


async def test_a_narrow_archive_summary_still_names_each_targets_problem() -> None:
    app = archive_app()
    async with app.run_test(size=(80, 24)) as pilot:
        archive_feed(app)
        await pilot.pause()
        await pilot.pause()
        drawn = app.dashboard.query_one(ArchiveTable).drawn_cells()
        assert drawn[("backup", "note")] == "unreachable"  # its first word at least, never "…"
        assert drawn[("farmer", "note")].startswith("← pid 5201")


async def test_a_resize_while_another_screen_is_open_lays_the_dashboard_out_again() -> None:
    app = REAL_FARM.app()
    async with app.run_test(size=(200, 60)) as pilot:
        await _fed(pilot, REAL_FARM)
        await pilot.press("d")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        await pilot.pause()
        table = jobs_table(app)
        assert _on_screen(app, table)
        assert len({key for key, _ in table.drawn_cells()}) >= 5
        footer = app.dashboard.query_one(KeysFooter)
        assert footer.region.bottom == 24  # the panels below fit: the footer is on screen
