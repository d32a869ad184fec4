"""The dashboard's workers with a stand-in engine: one pass at a time, a failing pass is shown
and the next one goes on; quitting releases the lock; run_dashboard from start to exit."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest
from textual.pilot import Pilot

from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.engine import PassResult, PlottingEngine
from plotman_tui.farm.lock import default_lock
from plotman_tui.farm.model import Snapshot
from plotman_tui.farm.scheduler import Wait
from plotman_tui.sandbox import make_sandbox
from plotman_tui.tui import app as app_module
from plotman_tui.tui.app import DashboardApp, run_dashboard
from tests.tui.farmdata import farm_config, farm_jobs
from tests.tui.pilots import assert_imports_load_none_of, until


class SlowEngine:
    """Takes its time over each pass, fails the second one, and counts passes at once."""

    def __init__(self) -> None:
        self.config = farm_config(polling_time_s=20)
        self.plotting_enabled = True
        self.passes = 0
        self.running = 0
        self.most_at_once = 0
        self.closed = 0
        self._guard = threading.Lock()

    def step(self, *, schedule: bool) -> PassResult:
        with self._guard:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.passes += 1
            number = self.passes
        try:
            time.sleep(0.05)
            if number == 2:
                raise OSError("disk on fire")
            decision = Wait("plotting is paused") if not self.plotting_enabled else Wait("stagger")
            return PassResult(
                time.time(), Snapshot(farm_jobs(), time.time()), decision, None, (), True
            )
        finally:
            with self._guard:
                self.running -= 1

    def close(self) -> None:
        self.closed += 1


async def test_passes_never_overlap_a_failure_shows_and_the_next_pass_clears_it(
    tmp_path: Path,
) -> None:
    engine = SlowEngine()
    app = DashboardApp(
        farm_config(),
        plotting_enabled=True,
        engine=cast(PlottingEngine, engine),
        action_log=ActionLog(tmp_path / "actions.jsonl"),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.plotting.error, 5, "the failed pass shown")
        assert "disk on fire" in (app.plotting.error or "")
        await until(pilot, lambda: app.plotting.error is None, 5, "the next pass")
        for _ in range(6):  # each press wakes the engine worker
            await pilot.press("p")
        await until(pilot, lambda: engine.passes >= 6, 5, "more passes")
        assert app.state.snapshot.jobs == farm_jobs()
    assert engine.most_at_once == 1
    assert engine.closed == 1


def test_importing_the_package_or_the_view_loads_no_textual() -> None:
    assert_imports_load_none_of("plotman_tui.tui, plotman_tui.tui.view", {"textual"})


def test_run_dashboard_runs_until_q_and_releases_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PLOTMAN_TUI_CACHE_DIR", str(tmp_path / "cache"))
    farm = make_sandbox(tmp_path / "farm")
    from plotman_tui.config import load_config

    config = load_config(farm.config_path)
    seen: dict[str, Any] = {}
    original_run = DashboardApp.run

    def headless_run(self: DashboardApp, **_: Any) -> int | None:
        async def pilot(pilot: Pilot[int]) -> None:
            await until(
                pilot, lambda: self.plotting.decision == Wait("plotting is paused"), 10, "pass"
            )
            seen["holds_lock"] = self.plotting.holds_lock
            await pilot.press("q")

        return original_run(self, headless=True, auto_pilot=pilot, size=(80, 24))

    monkeypatch.setattr(app_module.DashboardApp, "run", headless_run)
    status = run_dashboard(
        config, farm.config_path, autostart_plotting=False, autostart_archiving=False
    )
    assert status == 0
    assert seen["holds_lock"] is True
    lock = default_lock()
    assert lock.acquire()  # released on quit: another process may schedule now
    lock.release()
    assert (tmp_path / "cache" / "logstate.json").exists()
