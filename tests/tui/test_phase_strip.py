"""The phase strip: one row at every size, groups a farmer reads apart, no alarm colours."""

from __future__ import annotations

import re

from rich.text import Text

from plotman_tui.farm.model import Job
from plotman_tui.plotters.phase import Phase
from plotman_tui.tui.view import PLOTMAN_PHASES, phase_bins
from plotman_tui.tui.widgets.phase_histogram import PhaseHistogram, strip_text
from tests.tui.farmdata import feed, make_job, still_app

ALARMS = ("red", "magenta")


def _real_farm_jobs() -> list[Job]:
    """A job at every one of chia's phases, some at 0:0 and 5:x, one not read yet, 30 in all."""
    phases: list[Phase | None] = [*PLOTMAN_PHASES, Phase(0, 0), Phase(5, 3), None]
    phases += [Phase(1, 2)] * (30 - len(phases))
    return [make_job(i, age_s=10 + i, phase=phase) for i, phase in enumerate(phases)]


def _styles(text: Text) -> set[str]:
    return {str(span.style) for span in text.spans}


def test_the_strip_groups_minors_in_brackets_after_their_major() -> None:
    jobs = [
        make_job(1, age_s=5, phase=Phase(1, 1)),
        make_job(2, age_s=5, phase=Phase(1, 1)),
        make_job(3, age_s=5, phase=Phase(1, 3)),
        make_job(4, age_s=5, phase=Phase(2, 1)),
        make_job(5, age_s=5, phase=None),
    ]
    bins = phase_bins(jobs)
    assert strip_text(bins, 200).plain == (
        "phases  1[· 2 · 1 · · · ·]  2[· 1 · · · · · ·]  3[· · · · · · ·]  4[·]  ?1    5 jobs"
    )
    # Narrower: the room between groups goes first, the spaces between bins last.
    assert strip_text(bins, 80).plain == (
        "phases  1[· 2 · 1 · · · ·] 2[· 1 · · · · · ·] 3[· · · · · · ·] 4[·] ?1  5 jobs"
    )
    assert strip_text(bins, 50).plain == "1[·2·1····] 2[·1······] 3[·······] 4[·] ?1  5 jobs"


def test_chias_bins_with_unknown_and_final_copy_fit_80_columns_in_one_row() -> None:
    text = strip_text(phase_bins(_real_farm_jobs()), 80)
    assert text.cell_len <= 80 and "\n" not in text.plain
    # Every major is a group of its own, its number outside the brackets: 1[...] 2[...] ...
    assert re.findall(r"(\d)\[", text.plain) == ["0", "1", "2", "3", "4", "5"]
    assert "?1" in text.plain
    assert "5[· · · 1]" in text.plain  # 5:3 in its place
    # Busy bins stay apart: side by side, 1[2112112] would read as a number.
    assert "1[1 1 4 1 1 1 1 1]" in text.plain


def test_no_alarm_colour_for_normal_phases_and_unknown_is_no_error() -> None:
    text = strip_text(phase_bins(_real_farm_jobs()), 200)
    assert not any(alarm in style for style in _styles(text) for alarm in ALARMS)
    question = text.plain.index("?")
    unknown = {str(s.style) for s in text.spans if s.start <= question < s.end}
    assert unknown and all("red" not in style for style in unknown)


async def test_the_strip_is_one_row_high_on_a_tall_terminal() -> None:
    app = still_app()
    async with app.run_test(size=(200, 60)) as pilot:
        feed(app)
        await pilot.pause()
        strip = app.dashboard.query_one(PhaseHistogram)
        assert strip.size.height == 1
        assert strip.render().plain.startswith("phases  1[")
