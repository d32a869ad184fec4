"""The back-off of failed starts and transfers never overflows, however long the failures last."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plotman_tui.farm.launches import BackOff, load_state, state_text


def test_weeks_of_failures_and_a_state_files_huge_count_keep_the_longest_back_off() -> None:
    # 2.0 ** 1024 overflows: an archiving target failing every 15 minutes got there in ~11
    # days, and every pass after failed with 'Numerical result out of range'.
    backoff = BackOff(failures=5_000)
    assert backoff.fail("farmer unreachable", 100.0, 30.0, 900.0) == 900.0
    assert backoff.retry_at == 1000.0 and backoff.failures == 5_001
    fresh = BackOff()
    assert [fresh.fail("x", 0.0, 60.0, 3600.0) for _ in range(8)] == [
        60.0,
        120.0,
        240.0,
        480.0,
        960.0,
        1920.0,
        3600.0,
        3600.0,
    ]


@pytest.mark.parametrize(
    "backoff",
    [
        {"failures": 3, "failed_at": 1.0, "retry_at": "nan", "last_failure": "x"},
        {"failures": 3, "failed_at": 1.0, "retry_at": float("inf"), "last_failure": "x"},
        {"failures": -2, "failed_at": 1.0, "retry_at": 2.0, "last_failure": "x"},
        {"failures": 3, "failed_at": True, "retry_at": 2.0, "last_failure": "x"},
    ],
)
def test_a_state_files_back_off_with_no_sane_time_is_reported_and_ignored(
    tmp_path: Path, backoff: dict[str, object]
) -> None:
    # A watching dashboard shows the holder's back-off from this file: a NaN retry time made
    # its countdown raise on every redraw.
    path = tmp_path / "plotting-state.json"
    good = json.loads(state_text([], BackOff(3, 1.0, 2.0, "x")))
    path.write_text(json.dumps({**good, "backoff": backoff}))
    launches, loaded, problem = load_state(path)
    assert launches == [] and loaded.failing() is None
    assert problem is not None and str(path) in problem
    path.write_text(json.dumps(good))
    assert load_state(path)[1].failing() is not None  # the same file, sane, is taken
