"""When the watch sends a job's estimate again: only once it says something new."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from plotman_tui.farm.eta import Estimate
from plotman_tui.fleet.watch import ESTIMATE_STEP_S, estimate_moved

SENT = Estimate(progress=0.4217, eta_seconds=5400.0, basis=3, same_tmp=True)


def at(progress: float | None = 0.4217, eta: float | None = 5400.0, **changes: object) -> Estimate:
    values: dict[str, object] = {"basis": 3, "same_tmp": True, "late": False, **changes}
    return Estimate(progress, eta, **values)  # type: ignore[arg-type]


def test_within_the_shown_percent_and_a_minute_it_is_not_sent_again() -> None:
    assert not estimate_moved(SENT, at(0.4299, 5400.0 - ESTIMATE_STEP_S + 1))
    assert not estimate_moved(SENT, SENT)


def test_a_new_percent_a_minute_or_a_new_basis_is_sent() -> None:
    assert estimate_moved(SENT, at(0.43))
    assert estimate_moved(SENT, at(eta=5400.0 - ESTIMATE_STEP_S))
    assert estimate_moved(SENT, at(eta=5400.0 + ESTIMATE_STEP_S))
    assert estimate_moved(SENT, at(basis=4))
    assert estimate_moved(SENT, at(same_tmp=False))
    assert estimate_moved(SENT, at(eta=None, late=True))
    assert estimate_moved(SENT, at(progress=None))
    assert estimate_moved(SENT, None) and estimate_moved(None, SENT)
    assert not estimate_moved(None, None)


@given(
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1e6),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1e6),
)
def test_what_is_not_sent_again_shows_the_same_and_is_within_a_minute(
    progress: float, eta: float, later_progress: float, later_eta: float
) -> None:
    sent, now = at(progress, eta), at(later_progress, later_eta)
    if not estimate_moved(sent, now):
        assert int(progress * 100) == int(later_progress * 100)
        assert abs(eta - later_eta) < ESTIMATE_STEP_S
