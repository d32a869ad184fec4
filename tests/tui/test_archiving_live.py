"""Archiving in the live dashboard: real archiving engines, real farmers that fail.

- ``a`` pauses and resumes archiving while a real sandbox plot (chiapos, k18) waits in a dst
  dir: paused, it stays; resumed, rsync moves it to the local archive target, the transfer's
  end wakes the next pass at once, and every step is in the action log and its panel.
- A farmer whose SSH port is closed shows as unreachable, while a second farmer that accepts
  the connection and never says a word holds up nothing: keys answer at once.

Each test has its own data dir (archiver and scheduler locks, action log); plotting is paused.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Static

from plotman_tui.config import load_config
from plotman_tui.config.schema import ArchiveTarget, ArchivingConfig, TargetType
from plotman_tui.farm.actionlog import ActionEntry, ActionLog
from plotman_tui.sandbox import Sandbox, make_sandbox, start_plot
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.screens.help_screen import HelpScreen
from plotman_tui.tui.widgets.action_log_panel import ActionLogPanel
from plotman_tui.tui.widgets.archive_table import ArchiveTable
from plotman_tui.tui.widgets.dst_table import DstTable
from tests.conftest import require_chiapos, require_real
from tests.realservices import LOOPBACK, free_port, rsync_available
from tests.tui.pilots import until

pytestmark = pytest.mark.real_service

#: Well below the 5 s between archiving passes: the transfer's exit woke the pass.
WAKE_S = 2.0
#: What "keys answer at once" means here (the goal is far lower; see bench/dashboard.py).
KEY_S = 1.0


def status(app: DashboardApp) -> str:
    return str(app.dashboard.query_one("#status-archiving", Static).content)


def notes(app: DashboardApp) -> dict[str, str]:
    """The archive table's note column, by archive dir."""
    table = app.dashboard.query_one(ArchiveTable)
    rows = {}
    for key in table.row_keys:
        rows[key.split("\n", 1)[1]] = table.cell_text(key, "note")
    return rows


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    return make_sandbox(tmp_path / "farm", k=18, n_archive=2)


@pytest.mark.exclusive
async def test_a_pauses_and_resumes_archiving_of_a_real_plot(farm: Sandbox, tmp_path: Path) -> None:
    require_chiapos()
    require_real(rsync_available(), "rsync is not installed (apt-get install rsync)")
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
        started = await until(pilot, lambda: transfer("started"), 20, "a transfer started")
        assert started.extra["source"] == str(plot)
        done = await until(pilot, lambda: transfer("ok"), 30, "the transfer's end recorded")
        assert done.pid == started.pid
        arrived = Path(started.extra["archive_dir"]) / plot.name
        assert arrived.exists() and not plot.exists()
        # rsync's last word in its log is its exit, give or take: the exit woke the next pass
        # well before the 5 s between passes would have.
        exited = Path(started.extra["log"]).stat().st_mtime
        assert done.time - exited < WAKE_S
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


class SilentFarmer:
    """A TCP server on 127.0.0.1 that accepts connections and never sends a byte."""

    def __init__(self) -> None:
        self.server = socket.create_server((LOOPBACK, 0))
        self.port: int = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return  # closed
            self.accepted.append(connection)

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_farmer() -> Iterator[SilentFarmer]:
    farmer = SilentFarmer()
    yield farmer
    farmer.close()


async def test_an_unreachable_farmer_is_marked_and_a_silent_one_holds_no_key_up(
    farm: Sandbox, tmp_path: Path, silent_farmer: SilentFarmer
) -> None:
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
        # The read of the silent farmer is under way in the event loop: keys answer at once.
        for key, shown in [
            ("question_mark", lambda: isinstance(app.screen, HelpScreen)),
            ("escape", lambda: app.screen is app.dashboard),
            ("slash", lambda: app.dashboard.filtering),
            ("escape", lambda: not app.dashboard.filtering),
            ("a", lambda: status(app).startswith("Archiving: paused")),
            ("a", lambda: not status(app).startswith("Archiving: paused")),
        ]:
            pressed = time.monotonic()
            await pilot.press(key)
            await until(pilot, shown, KEY_S, f"the screen after {key}")
            assert time.monotonic() - pressed < KEY_S, key
        assert app.archiving.result is not None
        assert app.archiving.result.spaces[silent.name] is None  # still no answer
        quitting = time.monotonic()
    # Quitting does not wait for the silent farmer either.
    assert time.monotonic() - quitting < 3.0
