"""Shared test fixtures.

Tests that need a real outside program (the chiapos plotter, rsync, sshd) call ``require_real``:
on a laptop without it they skip with the reason; in CI (``PLOTMAN_TUI_REQUIRE_REAL=1``, set by
``.ci/run``) they fail instead, so a missing service can never pass silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def require_real(available: bool, reason: str) -> None:
    """Skip (laptop) or fail (CI) when a real service a test needs is missing."""
    if available:
        return
    if os.environ.get("PLOTMAN_TUI_REQUIRE_REAL"):
        pytest.fail(f"required real service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the tests' (and their subprocesses') cache and data out of the user's dirs."""
    os.environ["PLOTMAN_TUI_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["PLOTMAN_TUI_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
