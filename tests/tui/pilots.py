"""Helpers for the dashboard's Pilot tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from textual.pilot import Pilot

from plotman_tui.farm.model import Job
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.widgets.jobs_table import JobsTable

T = TypeVar("T")


async def until(pilot: Pilot[int], predicate: Callable[[], T], timeout_s: float, what: str) -> T:
    """Let the app run (its workers post, its handlers handle) until ``predicate`` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await pilot.pause(0.05)


def jobs_table(app: DashboardApp) -> JobsTable:
    return app.dashboard.query_one(JobsTable)


def shown_keys(app: DashboardApp) -> list[str]:
    return jobs_table(app).row_keys


def job_in_app(app: DashboardApp, pid: int) -> Job | None:
    return next((job for job in app.state.snapshot.jobs if job.pid == pid), None)


def assert_imports_load_none_of(modules: str, packages: set[str]) -> None:
    """``import modules`` in a fresh interpreter loads no module of these top-level
    ``packages`` (the failure lists those it did load)."""
    code = (
        f"import sys, {modules}\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(packages)!r})\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
