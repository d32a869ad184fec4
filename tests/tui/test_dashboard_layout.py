"""How the dashboard shares its lines (``tui.dashboard_layout.plan``, pure): the jobs table's
rows come first, the dir tables flow and lose their borders before they scroll, the action log
takes the rest as far as it has entries."""

from __future__ import annotations

import pytest

from plotman_tui.tui.dashboard_layout import Room, TableNeeds, jobs_guarantee, plan

#: 13 tmp rows (12 and tmp2) of 48 cells whole, 41 with reasons cut; 6 dst rows; 2 targets.
TMP = TableNeeds(rows=13, natural_width=48, min_width=41)
DST = TableNeeds(rows=6, natural_width=53, min_width=43)
ARCHIVE = TableNeeds(rows=2, natural_width=68, min_width=58)


def room(
    width: int,
    height: int,
    jobs: int = 30,
    actions: int = 100,
    tmp: TableNeeds = TMP,
) -> Room:
    tall = height >= 36
    taken = 3 if width < 160 else 2  # status line(s), the prefixes line, the phase strip
    return Room(
        width=width,
        height=height,
        lines=height - 1 - taken - 1,  # the footer
        jobs=jobs,
        jobs_chrome=3 if tall else 1,
        tmp=tmp,
        dst=DST,
        archive=ARCHIVE,
        bordered=tall,
        actions=actions,
    )


def test_the_guarantee_grows_with_the_terminal() -> None:
    assert [jobs_guarantee(h) for h in (16, 24, 40, 60)] == [5, 5, 12, 20]


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_the_jobs_keep_their_rows(size: tuple[int, int]) -> None:
    shared = room(*size)
    layout = plan(shared)
    jobs_lines = shared.lines - layout.lower - shared.jobs_chrome
    assert jobs_lines >= jobs_guarantee(size[1])


def test_twelve_tmp_dirs_flow_into_two_groups_at_120_columns() -> None:
    layout = plan(room(120, 40))
    assert layout.tmp_groups == 2
    assert layout.tmp_height >= 7 + 1  # every row of the longer group and the header


def test_a_small_farm_leaves_the_blank_lines_to_the_jobs_table() -> None:
    small = TableNeeds(rows=3, natural_width=48, min_width=41)
    # Too narrow for the dirs side by side: the log is in the side column.
    layout = plan(room(110, 60, jobs=5, actions=7, tmp=small))
    assert not layout.log_under
    # The log shows its 7 entries (and its borders) under the archive summary; not a line more.
    assert layout.side_height == ARCHIVE.lines(1, 2) + 7 + 2
    assert layout.lower == layout.tmp_height + layout.side_height  # the tmp table over them
    many = plan(room(110, 60, jobs=5, actions=100, tmp=small))
    assert many.lower > layout.lower  # a long log takes the lines the jobs do not need


def test_a_terminal_too_narrow_for_a_group_still_gets_a_plan() -> None:
    layout = plan(room(60, 16))
    assert layout.tmp_groups == 1 and layout.lower >= 0


def test_a_wide_terminal_puts_the_log_the_whole_width_under_the_dirs() -> None:
    # 50 + 1 + 70 columns: the tmp table beside the archive summary, every cell whole.
    assert [plan(room(width, 60)).log_under for width in (120, 121, 200)] == [False, True, True]
    wide = plan(room(200, 60))
    assert wide.side_height >= 3 + 2  # the log's lines under the dirs, borders included
    assert not plan(room(120, 40)).log_under


def test_the_log_under_the_dirs_takes_the_lines_left_as_far_as_it_has_entries() -> None:
    few = plan(room(200, 60, jobs=5, actions=4))
    top = max(TMP.lines(1, 2), DST.lines(1, 2) + ARCHIVE.lines(1, 2))
    assert few.log_under and few.side_height == 4 + 2 and few.lower == top + 4 + 2
