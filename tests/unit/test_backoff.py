"""The back-off of failed starts and transfers never overflows, however long the failures last."""

from __future__ import annotations

from plotman_tui.farm.launches import BackOff


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
