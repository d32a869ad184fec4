"""What the dashboard says of itself, as a farmer reads it: the sort order, plotting and
archiving in trouble (the status line's words and colours)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Static

from plotman_tui.config import load_config
from plotman_tui.config.schema import ArchiveTarget, ArchivingConfig, TargetType
from plotman_tui.farm import wiring
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.engine import PlottingEngine
from plotman_tui.farm.lock import SchedulerLock
from plotman_tui.sandbox import make_sandbox
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.view import job_key
from plotman_tui.tui.widgets.prefixes_line import PrefixesLine
from tests.realservices import (  # noqa: F401 (the fixture registers by import)
    LOOPBACK,
    SshServer,
    ssh_server_fixture,
)
from tests.tui.farmdata import farm_jobs, feed, still_app
from tests.tui.pilots import shown_keys, until


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


# -- plotting that cannot start jobs -------------------------------------------------------------


def _status_part(app: DashboardApp, part: str) -> Text:
    content = app.dashboard.query_one(f"#status-{part}", Static).content
    assert isinstance(content, Text)
    return content


def _style_of(text: Text, word: str) -> str:
    """The style the status line gives ``word`` (its first occurrence)."""
    start = text.plain.index(word)
    styles = [str(span.style) for span in text.spans if span.start <= start < span.end]
    return " ".join(styles)


@pytest.mark.real_service
async def test_a_missing_plotter_shows_plotting_failing_in_red(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    farm = make_sandbox(tmp_path / "farm", global_stagger_m=0)
    config = load_config(farm.config_path)
    missing = tmp_path / "nowhere" / "chia"
    chia = replace(config.plotting.chia, executable=str(missing))
    config = replace(config, plotting=replace(config.plotting, chia=chia))
    engine = PlottingEngine(
        config,
        lock=SchedulerLock(tmp_path / "data" / "scheduler.lock"),
        action_log=ActionLog(tmp_path / "data" / "actions.jsonl"),
        state_path=tmp_path / "data" / "plotting-state.json",
        counts=lambda job: False,  # other plot jobs of the machine are not this test's
    )
    app = DashboardApp(config, farm.config_path, plotting_enabled=True, engine=engine)
    async with app.run_test(size=(200, 60)) as pilot:
        await until(
            pilot,
            lambda: "failing" in _status_part(app, "plotting").plain,
            30,
            "plotting shown failing",
        )
        text = _status_part(app, "plotting")
        assert "Plotting: failing backing off " in text.plain
        assert f"{missing}: program not found (1 failed start)" in text.plain
        assert "active" not in text.plain
        assert "red" in _style_of(text, "failing") and "green" not in _style_of(text, "failing")
    engine.close()


# -- archiving that cannot move plots ------------------------------------------------------------


def _archiving_app(tmp_path: Path, target: ArchiveTarget) -> DashboardApp:
    farm = make_sandbox(tmp_path / "farm")
    config = load_config(farm.config_path)
    config = replace(config, archiving=ArchivingConfig(enabled=True, targets=(target,)))
    return DashboardApp(config, farm.config_path, plotting_enabled=False, archiving_enabled=True)


def _archiving_says(app: DashboardApp, word: str) -> bool:
    return _status_part(app, "archiving").plain.startswith(f"Archiving: {word}")


@pytest.mark.real_service
async def test_a_farmer_that_stops_answering_shows_archiving_error_naming_it(
    ssh_server: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(wiring, "SPACE_TTL_S", 0.5)  # read again soon after sshd goes
    (tmp_path / "hdd00").mkdir()
    target = ArchiveTarget(
        name=f"farmer-{tmp_path.name}",  # transfers are found machine-wide
        type=TargetType.SSH,
        archive_dirs=(str(tmp_path / "hdd00"),),
        host=LOOPBACK,
        user=ssh_server.user,
        ssh_port=ssh_server.port,
        known_hosts=ssh_server.known_hosts,
        identity_file=ssh_server.identity_file,
    )
    app = _archiving_app(tmp_path, target)
    async with app.run_test(size=(200, 60)) as pilot:
        # The farmer answers: a healthy target with nothing to move is idle.
        await until(
            pilot,
            lambda: (
                app.archiving.result is not None
                and app.archiving.result.spaces.get(target.name) is not None
            ),
            30,
            "the farmer's free space read",
        )
        await until(pilot, lambda: _archiving_says(app, "idle"), 30, "archiving idle")
        ssh_server.stop()
        await until(pilot, lambda: _archiving_says(app, "error"), 30, "archiving error")
        text = _status_part(app, "archiving")
        assert f"{target.name}: farmer unreachable" in text.plain
        assert "red" in _style_of(text, "error")


@pytest.mark.real_service
async def test_a_missing_archive_dir_shows_archiving_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "hdd00").mkdir()
    target = ArchiveTarget(
        name=f"usb-{tmp_path.name}",
        type=TargetType.LOCAL,
        archive_dirs=(str(tmp_path / "hdd00"), str(tmp_path / "hdd01")),  # hdd01 is not there
    )
    app = _archiving_app(tmp_path, target)
    async with app.run_test(size=(200, 60)) as pilot:
        await until(pilot, lambda: _archiving_says(app, "error"), 30, "archiving error")
        text = _status_part(app, "archiving")
        assert f"{target.name}: archive dir hdd01: missing" in text.plain
        assert "red" in _style_of(text, "error")
