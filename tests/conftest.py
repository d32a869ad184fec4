"""Shared test fixtures.

Tests that need a real outside program (the chiapos plotter, rsync, sshd) call ``require_real``:
on a laptop without it they skip with the reason; in CI (``PLOTMAN_TUI_REQUIRE_REAL=1``, set by
``.ci/run``) they fail instead, so a missing service can never pass silently.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

FIXTURES = Path(__file__).parent / "fixtures"


def require_real(available: bool, reason: str) -> None:
    """Skip (laptop) or fail (CI) when a real service a test needs is missing."""
    if available:
        return
    if os.environ.get("PLOTMAN_TUI_REQUIRE_REAL"):
        pytest.fail(f"required real service missing: {reason}")
    pytest.skip(reason)


def require_chiapos() -> None:
    """Skip (laptop) or fail (CI) when chiapos, the real plotter, is not installed."""
    require_real(
        importlib.util.find_spec("chiapos") is not None,
        "chiapos (the real plotter) is not installed",
    )


def wait_for(predicate: Callable[[], T], timeout_s: float, what: str) -> T:
    """Poll until ``predicate`` returns something true, and return that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the tests' (and their subprocesses') cache and data out of the user's dirs."""
    os.environ["PLOTMAN_TUI_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["PLOTMAN_TUI_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))


# -- dashboard snapshots -------------------------------------------------------------------------
# SVG baselines of the dashboard live in the top-level snapshots/ folder (one subfolder per test
# module), not beside the tests: snap_compare looks SVGImageExtension up in its module when it
# runs, so a subclass assigned there moves every baseline.
try:
    import pytest_textual_snapshot
except ImportError:  # a run without the dev extras: no snapshot tests to place
    pass
else:
    from typing import Any

    SNAPSHOTS_DIR = Path(__file__).resolve().parent.parent / "snapshots"

    class _TopLevelSnapshots(pytest_textual_snapshot.SVGImageExtension):  # type: ignore[misc]
        @classmethod
        def dirname(cls, *, test_location: Any) -> str:
            return str(SNAPSHOTS_DIR / test_location.basename)

    pytest_textual_snapshot.SVGImageExtension = _TopLevelSnapshots  # type: ignore[misc]
