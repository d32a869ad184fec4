"""The dashboard shows control characters from a job's dirs, its log and the action log as
visible stand-ins, never as terminal commands: in the jobs table, the details screen (its
facts and its log tail) and the action log panel. The CLI's side: tests/integration."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Log, Static

from plotman_tui.config import load_config
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.screens.job_screen import JobScreen
from plotman_tui.tui.view import job_key
from plotman_tui.tui.widgets.action_log_panel import ActionLogPanel
from tests.integration.test_control_chars import RAW_CONTROL, nasty_job_running
from tests.tui.pilots import job_in_app, jobs_table, until


async def test_the_dashboard_shows_no_raw_control_character(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    with nasty_job_running(tmp_path) as nasty:
        app = DashboardApp(
            load_config(nasty.config), plotting_enabled=False, action_log=nasty.action_log
        )
        async with app.run_test(size=(200, 50)) as pilot:
            job = await until(pilot, lambda: job_in_app(app, nasty.pid), 20, "the job shown")
            table = jobs_table(app)
            key = job_key(job)
            cells = [table.cell_text(key, column) for column in table.shown_column_ids]
            assert any("␛[31mred␇␍cr" in text for text in cells), cells
            assert not any(RAW_CONTROL.search(text) for text in cells), cells

            panel = app.dashboard.query_one(ActionLogPanel)
            await until(pilot, lambda: panel.entries, 10, "the action log entry shown")
            shown = panel.query_one("#action-log-text", Static).content
            assert "␛[31mred␇" in str(shown) and not RAW_CONTROL.search(str(shown)), shown

            assert table.select_key(key)
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, JobScreen)
            log = screen.query_one(Log)
            await until(pilot, lambda: any("cleared" in line for line in log.lines), 10, "tail")
            assert not any(RAW_CONTROL.search(line) for line in log.lines), log.lines
            # The splitter drops colour codes; the bell and the NUL are left to be seen.
            assert any("cleared␇ and ␀ NUL" in line for line in log.lines), log.lines


def test_a_hosts_kill_question_shows_its_plot_id_harmless() -> None:
    # A fleet host's answer is untrusted: a plot id holding a title-setting and a
    # screen-clearing escape reached the terminal through the kill question (a review's find).
    from dataclasses import replace

    from rich.console import Console

    from plotman_tui.farm.model import Phase, TempFile
    from plotman_tui.tui.fleet import kill_plan
    from plotman_tui.tui.screens.kill_screen import plan_text
    from plotman_tui.tui.view import host_job
    from tests.tui.farmdata import make_job

    nasty = "ab\x1b]0;PWNED\x07\x1b[2Jcd"
    job = host_job("p1", replace(make_job(1, age_s=60, phase=Phase(1, 2)), plot_id=nasty))
    plan = kill_plan(job, [TempFile(f"/t/plot-{nasty}.tmp", 5)], 5)
    console = Console(width=200, force_terminal=False, color_system=None, record=True)
    console.print(plan_text(plan))
    shown = console.export_text()
    assert "␛]0;PWNED␇␛[2Jcd" in shown, shown
    assert not RAW_CONTROL.search(shown.replace("\n", "")), shown


@pytest.mark.parametrize("seconds", [-1e12, -5.0, 1e12])
def test_a_job_whose_phase_times_are_absurd_still_draws_its_timeline(seconds: float) -> None:
    # A host sent phase times of -1e12 s: Enter on the job ended the dashboard (OverflowError).
    from dataclasses import replace

    from plotman_tui.farm.model import Phase
    from plotman_tui.tui.screens.job_screen import phase_timeline
    from tests.tui.farmdata import make_job

    job = replace(
        make_job(2, age_s=600, phase=Phase(3, 1)), phase_seconds=((1, seconds), (2, 300.0))
    )
    lines = phase_timeline(job).plain.splitlines()
    assert [line.split()[:2] for line in lines[:3]] == [
        ["phase", "1"],
        ["phase", "2"],
        ["phase", "3"],
    ]
    assert all(line.count("█") <= 20 for line in lines), lines
