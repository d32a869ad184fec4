"""One view model for the dirs: the ``dirs`` and ``dsched`` commands and the dashboard's tmp,
dst and archive tables (the dashboard's and the dirs screen's) show the same rows
(``plotman_tui.dirview``)."""

from __future__ import annotations

from plotman_tui.dirview import archive_rows, dst_rows, tmp_rows
from plotman_tui.report import render_archive_dirs, render_dirs, render_dsched
from plotman_tui.tui.screens.dirs_screen import DirsScreen
from plotman_tui.tui.widgets.archive_table import ArchiveDirsTable, ArchiveTable
from plotman_tui.tui.widgets.dst_table import DstTable
from plotman_tui.tui.widgets.tmp_table import TmpTable
from tests.tui.farmdata import ARCHIVE, DST, TMP, TMP2, archive_app, archive_feed


def _cells(text: str, path: str) -> list[str]:
    """The cells of the text table's line of ``path`` (cells are two spaces apart or more)."""
    line = next(line for line in text.splitlines() if line.startswith(path + " "))
    return [cell.strip() for cell in line.split("  ") if cell.strip()]


async def test_the_dirs_command_and_the_dashboard_show_the_same_rows() -> None:
    app = archive_app(archiving_enabled=True)
    async with app.run_test(size=(200, 60)) as pilot:
        archive_feed(app)
        await pilot.pause()
        config, jobs, infos = app.config, app.state.snapshot.jobs, app.state.dirs
        tmp = tmp_rows(config, jobs, {}, infos)
        dst = dst_rows(config, jobs, {}, infos, with_priority=True)
        assert app.archiving.result is not None
        archive = archive_rows(config, app.archiving.result.spaces, app.archiving.result.transfers)
        text = render_dirs(tmp, dst, None, with_priority=True)
        archive_text = render_archive_dirs(archive, [], None)

        # The farm's words in the command's lines: dir, jobs, phases, free, size, ready.
        assert _cells(text, TMP[0])[1:3] == ["3", "1:6 3:5 ?"]
        assert _cells(text, TMP[0])[-1] == "max jobs 3"
        assert _cells(text, TMP2)[1:3] == ["5", "1:2 1:6 2:3 3:5 ?"]
        tmp_table = app.dashboard.query_one(TmpTable)
        for row in tmp:
            cells = _cells(text, row.path)
            assert tmp_table.cell_text(row.path, "jobs") == cells[1]
            assert tmp_table.cell_text(row.path, "free") == cells[3]
            if row.role == "tmp":
                assert tmp_table.cell_text(row.path, "phases") == cells[2]
                assert tmp_table.cell_text(row.path, "ready") == cells[-1]

        dst_table = app.dashboard.query_one(DstTable)
        for row in dst:
            cells = _cells(text, row.path)
            assert cells[1] == str(row.inbound)
            assert dst_table.cell_text(row.path, "inbound") == cells[2]
            assert dst_table.cell_text(row.path, "free") == cells[3]
            assert dst_table.cell_text(row.path, "priority") == cells[-1]
        assert {_cells(text, path)[-1] for path in DST} != {"-"}  # priorities are shown
        for row in dst:
            assert _cells(render_dsched(dst), row.path)[-1] == row.phases

        # Every archive dir is on the dirs screen; the dashboard sums each target up.
        summary = app.dashboard.query_one(ArchiveTable)
        assert summary.row_keys == ["farmer", "backup"]
        assert summary.cell_text("farmer", "note") == "← pid 5201; 1 missing"
        assert summary.cell_text("backup", "note") == "unreachable"
        await pilot.press("d")
        assert isinstance(app.screen, DirsScreen)
        archive_table = app.screen.query_one(ArchiveDirsTable)
        for row in archive:
            cells = _cells(archive_text, row.path)
            assert cells[1] == row.target
            assert archive_table.cell_text(row.key, "free") == cells[2].replace("-", "?")
            assert archive_table.cell_text(row.key, "note") == (cells[3] if row.note else "")
        assert _cells(archive_text, ARCHIVE[1])[-1].startswith("← pid ")


async def test_the_archive_summary_shows_each_replotting_targets_progress() -> None:
    from dataclasses import replace

    from textual.widgets import Static

    from plotman_tui.farm.archive.replot import ReplotProgress
    from plotman_tui.report import replot_progress_text
    from plotman_tui.tui.messages import ArchivePassed
    from tests.tui.farmdata import archive_passed

    app = archive_app(archiving_enabled=True)
    async with app.run_test(size=(200, 60)) as pilot:
        archive_feed(app)
        await pilot.pause()
        summary = app.dashboard.query_one(ArchiveTable)
        # No target replots: no column for it.
        passed = archive_passed()
        app.post_message(ArchivePassed(replace(passed.result, replot={})))
        await pilot.pause()
        assert "replot" not in [column.id for column in summary._table_columns]
        progress = ReplotProgress(
            "farmer", 120, 120 * 2**30, 30, 30 * 2**30, 28, 10 * 2**30, 12.0, listed_at=1.0
        )
        app.post_message(ArchivePassed(replace(passed.result, replot={"farmer": progress})))
        await pilot.pause()
        shown = summary.cell_text("farmer", "replot")
        assert shown == "120 old (120G), 12d left, 30 removed, 28 new"
        assert shown == replot_progress_text(progress, short=True)
        assert summary.cell_text("backup", "replot") == "-"  # it has no replot rules
        assert summary.drawn_cells()[("farmer", "replot")] == shown  # 200 columns: whole
        # The dirs screen says it in full, as the dirs command does.
        await pilot.press("d")
        assert isinstance(app.screen, DirsScreen)
        line = str(app.screen.query_one("#dirs-replot", Static).render())
        assert line == replot_progress_text(progress)
        assert line.startswith("replot farmer: 120 old plots left (120 GiB); removed 30")
        await pilot.press("escape")
        stopped = replace(progress, stopped="could not remove plot-k32-x.plot: refused")
        app.post_message(ArchivePassed(replace(passed.result, replot={"farmer": stopped})))
        await pilot.pause()
        assert summary.cell_text("farmer", "replot").startswith("stopped: could not remove")
