"""Archiving in the live dashboard: real archiving engines, real farmers that fail.

- ``a`` pauses and resumes archiving while a real sandbox plot (chiapos, k18) waits in a dst
  dir: paused, it stays; resumed, it is moved to the local archive target, the transfer's
  end wakes the next pass (no timer would), and every step is in the action log and its panel.
- A farmer whose SSH port is closed shows as unreachable, while a second farmer that accepts
  the connection and never says a word holds up nothing: keys are handled while its read is
  under way. How fast they answer then, and how fast the dashboard quits, is measured by
  ``bench/dashboard.py --archiving`` (timing is no test's business).

Each test has its own data dir (archiver and scheduler locks, action log); plotting is paused.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Static

from plotman_tui.config import load_config
from plotman_tui.config.schema import ArchiveTarget, ArchivingConfig, ReplotRules, TargetType
from plotman_tui.farm import wiring
from plotman_tui.farm.actionlog import ActionEntry, ActionLog
from plotman_tui.farm.units import human_bytes
from plotman_tui.sandbox import Sandbox, make_sandbox, start_plot
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.screens.help_screen import HelpScreen
from plotman_tui.tui.widgets.action_log_panel import ActionLogPanel
from plotman_tui.tui.widgets.archive_table import ArchiveTable
from plotman_tui.tui.widgets.dst_table import DstTable
from tests.conftest import require_chiapos
from tests.realservices import (  # noqa: F401 (real_plot_fixture: the fixture, by import)
    LOOPBACK,
    SilentFarmer,
    farmer_plot_name,
    fill_archive_dir,
    free_port,
    listing_of,
    real_plot_fixture,
)
from tests.tui.pilots import until

pytestmark = pytest.mark.real_service

#: Generous bounds on waits for what must happen (a loaded machine is slow, never wrong).
WAIT_S = 30.0


def status(app: DashboardApp) -> str:
    return str(app.dashboard.query_one("#status-archiving", Static).content)


def notes(app: DashboardApp) -> dict[str, str]:
    """The archive summary's note column (a line per target), by each archive dir of the
    target."""
    table = app.dashboard.query_one(ArchiveTable)
    return {
        directory: table.cell_text(target.name, "note")
        for target in app.config.archiving.active_targets
        if target.name in table.row_keys
        for directory in target.archive_dirs
    }


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    return make_sandbox(tmp_path / "farm", k=18, n_archive=2)


@pytest.mark.exclusive
async def test_a_pauses_and_resumes_archiving_of_a_real_plot(farm: Sandbox, tmp_path: Path) -> None:
    require_chiapos()
    job = start_plot(farm, k=18)
    assert job.popen.wait(120) == 0, job.log_path.read_text(errors="replace")
    (plot,) = farm.dst_dirs[0].glob("plot-k18-*.plot")
    settled_at = plot.stat().st_mtime + 2  # min_plot_age_s of the sandbox config
    config = load_config(farm.config_path)
    app = DashboardApp(config, farm.config_path, plotting_enabled=False, archiving_enabled=False)
    async with app.run_test(size=(120, 40)) as pilot:
        # Paused: passes go on (free space, the reason), but the settled plot stays.
        await until(
            pilot,
            lambda: app.archiving.result and app.archiving.result.time > settled_at,
            20,
            "a paused pass after the plot settled",
        )
        assert status(app) == "Archiving: paused"
        assert plot.exists()
        await until(
            pilot,
            lambda: all(note == "" for note in notes(app).values()),
            10,
            "the archive dirs' free space read",
        )
        assert "prio" in app.dashboard.query_one(DstTable).column_titles

        await pilot.press("a")
        assert app.archiving.enabled
        log = ActionLog(tmp_path / "data" / "actions.jsonl")

        def transfer(result: str) -> ActionEntry | None:
            found = [e for e in log.entries() if e.action == "transfer" and e.result == result]
            return found[0] if found else None

        # A local rsync of a k18 plot takes a moment: look at what the action log keeps.
        started = await until(pilot, lambda: transfer("started"), WAIT_S, "a transfer started")
        assert started.extra["source"] == str(plot)
        # From now on no timer brings a pass: only the transfer's end can.
        app.pollers["archiving"].set_interval(3600)
        done = await until(pilot, lambda: transfer("ok"), WAIT_S, "the transfer's end recorded")
        assert done.pid == started.pid
        arrived = Path(started.extra["archive_dir"]) / plot.name
        assert arrived.exists() and not plot.exists()
        panel = app.dashboard.query_one(ActionLogPanel)
        await until(
            pilot,
            lambda: (
                {"started", "ok"} <= {e.result for e in panel.entries if e.action == "transfer"}
            ),
            5,
            "both transfer entries in the panel",
        )

        await pilot.press("a")
        assert not app.archiving.enabled
        await until(pilot, lambda: status(app) == "Archiving: paused", 5, "paused again")
    switches = [
        (e.action, e.extra.get("switch")) for e in log.entries() if e.action in ("pause", "unpause")
    ]
    assert switches == [("unpause", "archiving"), ("pause", "archiving")]
    transfers = [(e.result, e.pid) for e in log.entries() if e.action == "transfer"]
    assert transfers == [("started", started.pid), ("ok", started.pid)]
    assert arrived.exists()


@pytest.fixture
def silent_farmer() -> Iterator[SilentFarmer]:
    farmer = SilentFarmer()
    yield farmer
    farmer.close()


async def test_an_unreachable_farmer_is_marked_and_a_silent_one_holds_no_key_up(
    farm: Sandbox, tmp_path: Path, silent_farmer: SilentFarmer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The silent farmer's read stays under way for the whole test, however slow the machine:
    # were quitting to wait for it, the test would run into pytest's timeout (300 s).
    monkeypatch.setattr(wiring, "SPACE_TIMEOUT_S", 900.0)

    def ssh_target(name: str, port: int, directory: str) -> ArchiveTarget:
        return ArchiveTarget(
            name=f"{name}-{tmp_path.name}",  # transfers are found machine-wide
            type=TargetType.SSH,
            archive_dirs=(directory,),
            host=LOOPBACK,
            ssh_port=port,
            verify_host_key=False,
        )

    closed = ssh_target("closed", free_port(), "/srv/plots/hdd00")
    silent = ssh_target("silent", silent_farmer.port, "/srv/plots/hdd01")
    config = load_config(farm.config_path)
    config = replace(config, archiving=ArchivingConfig(enabled=True, targets=(closed, silent)))
    app = DashboardApp(config, farm.config_path, plotting_enabled=False, archiving_enabled=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(
            pilot,
            lambda: notes(app).get("/srv/plots/hdd00") == "unreachable",
            15,
            "the closed farmer marked unreachable",
        )
        await until(pilot, lambda: silent_farmer.accepted, 10, "the silent farmer connected to")
        assert notes(app)["/srv/plots/hdd01"] == "not read yet"  # its read still waits
        assert "farmer unreachable" in status(app)
        # The read of the silent farmer is under way in the event loop: keys are handled.
        for key, shown in [
            ("question_mark", lambda: isinstance(app.screen, HelpScreen)),
            ("escape", lambda: app.screen is app.dashboard),
            ("slash", lambda: app.dashboard.filtering),
            ("escape", lambda: not app.dashboard.filtering),
            ("a", lambda: status(app).startswith("Archiving: paused")),
            ("a", lambda: not status(app).startswith("Archiving: paused")),
        ]:
            await pilot.press(key)
            await until(pilot, shown, WAIT_S, f"the screen after {key}")
        assert app.archiving.result is not None
        assert app.archiving.result.spaces[silent.name] is None  # still no answer
    assert app.return_code in (None, 0)


async def test_the_dashboard_lists_a_replotting_targets_old_plots_and_shows_them(
    farm: Sandbox, tmp_path: Path, real_plot: Path
) -> None:
    """The dashboard runs the archiving engine's replotter beside its space monitor: the
    farmer's old plots are listed (a dry run removes none) and the archive summary counts them."""
    old = [farmer_plot_name(datetime.datetime(2021, 6, 1 + i, 12, 30), index=i) for i in range(3)]
    archive_dir = farm.archive_dirs[0]
    fill_archive_dir(archive_dir, real_plot, old)
    fill_archive_dir(
        archive_dir, real_plot, [farmer_plot_name(datetime.datetime(2024, 1, 1), level=7)]
    )
    before = listing_of(archive_dir)
    config = load_config(farm.config_path)
    rules = ReplotRules(uncompressed=True, dry_run=True)
    targets = tuple(replace(t, replot=rules) for t in config.archiving.targets)
    config = replace(config, archiving=replace(config.archiving, targets=targets))
    app = DashboardApp(config, farm.config_path, plotting_enabled=False, archiving_enabled=False)
    async with app.run_test(size=(200, 60)) as pilot:
        table = app.dashboard.query_one(ArchiveTable)
        name = targets[0].name
        shown = await until(
            pilot,
            lambda: (
                name in table.row_keys
                and "replot" in [column.id for column in table._table_columns]
                and " old (" in table.cell_text(name, "replot")  # not "old ?": listed
                and table.cell_text(name, "replot")
            ),
            WAIT_S,
            "the farmer's old plots listed",
        )
        size = human_bytes(3 * real_plot.stat().st_size, short=True)
        assert shown == f"3 old ({size}), dry run"
    assert listing_of(archive_dir) == before  # a dry run removes nothing
