"""Replotting's pure rules: plot names, the replot rules, which old plots make room, progress."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plotman_tui.config.schema import ReplotRules
from plotman_tui.farm.archive.replot import (
    QUIET_S,
    FarmerListing,
    FarmerPlot,
    ReplotStep,
    matches_rules,
    plan_room,
    plan_summary,
    plot_name_date,
    removable_plots,
    removal_rate,
    replot_progress,
)

NOW = 1_700_000_000.0
OLD = NOW - 30 * 86400.0  # an mtime long past QUIET_S
ID = "ab" * 32
GIB = 1024**3
DAY = 86400.0


def name(date: str = "2021-06-01-12-30", *, k: int = 32, level: str | None = None) -> str:
    middle = f"c{level}-" if level is not None else ""
    return f"plot-k{k}-{middle}{date}-{ID}.plot"


def plot(
    plot_name: str, size: int = 100 * GIB, *, archive_dir: str = "/a", mtime: float = OLD
) -> FarmerPlot:
    return FarmerPlot(archive_dir=archive_dir, name=plot_name, size_bytes=size, mtime=mtime)


def listing(
    dirs: Mapping[str, Sequence[FarmerPlot]], *, problem: str | None = None
) -> FarmerListing:
    return FarmerListing(
        target="farm",
        listed_at=NOW,
        dirs={d: tuple(plots) for d, plots in dirs.items()},
        problem=problem,
    )


UNCOMPRESSED = ReplotRules(uncompressed=True)


# -- plot_name_date -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plot_name", "expected"),
    [
        (name("2021-06-01-12-30"), datetime.date(2021, 6, 1)),
        (name("2023-07-15-01-02", level="07"), datetime.date(2023, 7, 15)),  # BladeBit
        (name("2023-07-15-01-02", level="7"), datetime.date(2023, 7, 15)),  # Gigahorse
        (name("2024-02-29-23-59", level="18"), datetime.date(2024, 2, 29)),
        (name("2021-02-30-12-30"), None),  # no such day
        (name("2021-13-01-12-30"), None),
        (name("2021-06-01-24-00"), None),  # no such hour
        (name("2021-06-01-12-60"), None),
        (name(k=99), None),  # no plotter makes k99
        (name(level="123"), None),
        (name()[:-5] + ".plot.tmp", None),
        (name().replace(ID, ID[:-1]), None),  # an id one digit short
        ("plot-k32-2021-06-01-12-30.plot", None),
        (f"xplot-k32-2021-06-01-12-30-{ID}.plot", None),
        ("", None),
        ("not a plot", None),
    ],
)
def test_plot_name_date(plot_name: str, expected: datetime.date | None) -> None:
    assert plot_name_date(plot_name) == expected


# -- matches_rules ------------------------------------------------------------------------------


def test_older_than_is_strictly_before_the_day() -> None:
    rules = ReplotRules(older_than=datetime.date(2023, 1, 1))
    assert matches_rules(name("2022-12-31-23-59"), rules) == "older than 2023-01-01"
    assert matches_rules(name("2023-01-01-00-00"), rules) is None
    assert matches_rules(name("2023-06-01-00-00"), rules) is None


def test_older_than_never_matches_an_unreadable_date() -> None:
    rules = ReplotRules(older_than=datetime.date(2030, 1, 1))
    assert matches_rules(name("2021-02-30-12-30"), rules) is None
    # Another rule needs no date: the same name is a plot's for it.
    assert matches_rules(name("2021-02-30-12-30"), ReplotRules(k=(32,))) == "k32"


def test_uncompressed_means_the_name_states_no_level() -> None:
    assert matches_rules(name(), UNCOMPRESSED) == "uncompressed"
    assert matches_rules(name(level="07"), UNCOMPRESSED) is None
    assert matches_rules(name(level="0"), UNCOMPRESSED) is None  # a stated level, even C0


def test_uncompressed_false_is_no_rule() -> None:
    assert matches_rules(name(), ReplotRules(uncompressed=False)) is None
    assert matches_rules(name(level="07"), ReplotRules(uncompressed=False)) is None
    rules = ReplotRules(uncompressed=False, k=(32,))
    assert matches_rules(name(level="07"), rules) == "k32"


def test_rules_that_narrow_nothing_match_nothing() -> None:
    assert matches_rules(name(), ReplotRules()) is None


@pytest.mark.parametrize(
    ("level", "below", "matched"),
    [(None, 1, True), ("01", 1, False), ("05", 7, True), ("07", 7, False), ("9", 20, True)],
)
def test_compression_below(level: str | None, below: int, matched: bool) -> None:
    reason = matches_rules(name(level=level), ReplotRules(compression_below=below))
    assert (reason is not None) is matched
    if matched:
        assert reason is not None and reason.endswith(f"below C{below}")


def test_k_rule() -> None:
    rules = ReplotRules(k=(32, 33))
    assert matches_rules(name(k=32), rules) == "k32"
    assert matches_rules(name(k=33), rules) == "k33"
    assert matches_rules(name(k=34), rules) is None


def test_names_globs_any_case_sensitive() -> None:
    rules = ReplotRules(names=("plot-k32-2021-*", "plot-k32-2022-01-*"))
    assert matches_rules(name("2021-06-01-12-30"), rules) == "name matches plot-k32-2021-*"
    assert matches_rules(name("2022-01-09-12-30"), rules) == "name matches plot-k32-2022-01-*"
    assert matches_rules(name("2022-02-09-12-30"), rules) is None
    assert matches_rules(name(), ReplotRules(names=("PLOT-K32-*",))) is None


def test_every_rule_given_must_hold() -> None:
    rules = ReplotRules(
        older_than=datetime.date(2023, 1, 1), uncompressed=True, k=(32,), names=("*-2021-*",)
    )
    assert matches_rules(name("2021-06-01-12-30"), rules) == (
        "older than 2023-01-01, uncompressed, k32, name matches *-2021-*"
    )
    assert matches_rules(name("2021-06-01-12-30", level="05"), rules) is None
    assert matches_rules(name("2021-06-01-12-30", k=33), rules) is None
    assert matches_rules(name("2022-06-01-12-30"), rules) is None  # the glob fails


def test_a_name_that_is_no_plots_never_matches() -> None:
    rules = ReplotRules(names=("*",))
    for text in ("notes.txt", "plot-k32-whatever.plot", name()[:-5] + ".tmp", name() + "/x"):
        assert matches_rules(text, rules) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_any_text_never_raises(text: str) -> None:
    plot_name_date(text)
    matches_rules(text, ReplotRules(older_than=datetime.date(2099, 1, 1), compression_below=9))


# -- plan_room ----------------------------------------------------------------------------------


def room(
    dirs: Mapping[str, Sequence[FarmerPlot]],
    free: Mapping[str, int | None],
    need: int,
    *,
    rules: ReplotRules = UNCOMPRESSED,
    for_plot: str = "n",
    protected: frozenset[str] = frozenset(),
    in_flight: Mapping[str, int] | None = None,
    problem: str | None = None,
) -> ReplotStep | str:
    return plan_room(
        listing(dirs, problem=problem),
        free,
        need,
        rules,
        for_plot=for_plot,
        protected=protected,
        now=NOW,
        in_flight_bytes=in_flight,
    )


def step_of(result: ReplotStep | str) -> ReplotStep:
    assert isinstance(result, ReplotStep), result
    return result


def removed(result: ReplotStep | str) -> list[str]:
    return [removal.plot.name for removal in step_of(result).removals]


def test_removes_oldest_first_and_never_more_than_needed() -> None:
    plots = [plot(name(f"2021-0{m}-01-12-30")) for m in (5, 2, 9, 1, 3)]
    # 30 GiB free, 240 GiB needed: two 100 GiB plots are not enough, three are.
    result = room({"/a": plots}, {"/a": 30 * GIB}, 240 * GIB, for_plot="new.plot")
    assert removed(result) == [
        name("2021-01-01-12-30"),
        name("2021-02-01-12-30"),
        name("2021-03-01-12-30"),
    ]
    step = step_of(result)
    assert step.archive_dir == "/a"
    assert step.for_plot == "new.plot" and step.for_bytes == 240 * GIB
    assert step.freed_bytes == 300 * GIB
    assert step.removals[0].reason == "uncompressed"


def test_exactly_enough_counts_as_room() -> None:
    plots = [plot(name("2021-01-01-12-30")), plot(name("2021-02-01-12-30"))]
    result = room({"/a": plots}, {"/a": 0}, 100 * GIB)
    assert removed(result) == [name("2021-01-01-12-30")]


def test_ties_on_the_date_go_by_mtime_then_name() -> None:
    same_day = name("2021-01-01-12-30")
    other = name("2021-01-01-08-00").replace(ID, "cd" * 32)
    plots = [plot(same_day, mtime=OLD), plot(other, mtime=OLD - 5)]
    result = room({"/a": plots}, {"/a": 0}, GIB)
    assert removed(result) == [other]  # same day: the older mtime first


def test_chooses_the_dir_needing_fewest_removals() -> None:
    small = [plot(name(f"2020-01-0{d}-00-00"), 40 * GIB, archive_dir="/a") for d in range(1, 6)]
    big = [plot(name("2021-01-01-00-00"), 100 * GIB, archive_dir="/b")]
    result = room({"/a": small, "/b": big}, {"/a": 0, "/b": 0}, 90 * GIB)
    # /a has the oldest plots but needs three removals; /b needs one.
    assert step_of(result).archive_dir == "/b"
    assert removed(result) == [name("2021-01-01-00-00")]


def test_ties_go_to_the_dir_with_most_free_space() -> None:
    a = [plot(name("2020-01-01-00-00"), archive_dir="/a")]
    b = [plot(name("2020-01-01-00-00"), archive_dir="/b")]
    result = room({"/a": a, "/b": b}, {"/a": 5 * GIB, "/b": 9 * GIB}, 50 * GIB)
    assert step_of(result).archive_dir == "/b"


def test_a_dir_with_room_already_needs_no_removal() -> None:
    a = [plot(name("2020-01-01-00-00"), archive_dir="/a")]
    result = room({"/a": a, "/b": []}, {"/a": 0, "/b": 200 * GIB}, 50 * GIB)
    assert step_of(result).archive_dir == "/b"
    assert step_of(result).removals == ()


def test_transfers_under_way_count_against_the_dir() -> None:
    plots = [plot(name(f"2020-01-0{d}-00-00"), 50 * GIB) for d in range(1, 5)]
    result = room({"/a": plots}, {"/a": 0}, 50 * GIB, in_flight={"/a": 100 * GIB})
    assert len(removed(result)) == 3


def test_protected_recent_and_unmatched_plots_never_go() -> None:
    sent_here = name("2019-01-01-00-00")
    being_written = name("2019-02-01-00-00")
    compressed = name("2019-03-01-00-00", level="07")
    future = name("2019-04-01-00-00")
    old = name("2021-01-01-00-00")
    plots = [
        plot(sent_here),
        plot(being_written, mtime=NOW - QUIET_S + 1),
        plot(compressed),
        plot(future, mtime=NOW + 3600),  # clock skew: not quiet either
        plot("notes.plot"),
        plot(old),
    ]
    result = room({"/a": plots}, {"/a": 0}, GIB, protected=frozenset({sent_here}))
    assert removed(result) == [old]


def test_a_plot_quiet_for_exactly_quiet_s_may_go() -> None:
    plots = [plot(name(), mtime=NOW - QUIET_S)]
    result = room({"/a": plots}, {"/a": 0}, GIB)
    assert len(removed(result)) == 1


def test_dirs_with_unknown_free_space_or_not_listed_are_skipped() -> None:
    a = [plot(name("2019-01-01-00-00"), archive_dir="/a")]
    c = [plot(name("2020-01-01-00-00"), archive_dir="/c")]
    result = room({"/a": a, "/c": c}, {"/a": None, "/b": 500 * GIB, "/c": 0}, GIB)
    assert step_of(result).archive_dir == "/c"


def test_no_match_says_so() -> None:
    plots = [plot(name(level="07")), plot("plot-k32-junk.plot")]
    result = room({"/a": plots}, {"/a": 0}, GIB)
    assert result == "full, and no plot matches the replot rules"


def test_matches_that_cannot_make_room_say_the_largest_room() -> None:
    plots = [plot(name(), 10 * GIB)]
    result = room({"/a": plots}, {"/a": 5 * GIB}, 100 * GIB, for_plot="new.plot")
    assert result == (
        "full, and the plots the replot rules match cannot make room for new.plot "
        "(largest room: 15.0 GiB in /a, 100 GiB needed)"
    )


def test_an_unlisted_farmer_says_why() -> None:
    result = room({}, {"/a": 0}, GIB, problem="farmer unreachable")
    assert isinstance(result, str) and result.endswith("farmer unreachable")


def test_dry_run_is_carried_by_the_step() -> None:
    result = room(
        {"/a": [plot(name())]}, {"/a": 0}, GIB, rules=ReplotRules(uncompressed=True, dry_run=True)
    )
    assert step_of(result).dry_run


_plots = st.lists(
    st.builds(
        lambda day, level, size, age, d: plot(
            name(f"2021-01-{day:02d}-00-00", level=level),
            size * GIB,
            archive_dir=d,
            mtime=NOW - age,
        ),
        st.integers(1, 28),
        st.sampled_from([None, "03", "7"]),
        # GiB: sizes a k32 plot may have at these levels (others are never listed).
        st.integers(73, 105),
        st.sampled_from([0.0, QUIET_S / 2, QUIET_S, 10 * QUIET_S]),
        st.sampled_from(["/a", "/b"]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(_plots, st.integers(0, 50), st.integers(0, 50), st.integers(1, 300), st.booleans())
def test_a_step_removes_only_what_the_rules_allow_and_no_more_than_needed(
    plots: list[FarmerPlot], free_a: int, free_b: int, need_gib: int, protect_first: bool
) -> None:
    by_dir = {d: [p for p in plots if p.archive_dir == d] for d in ("/a", "/b")}
    free = {"/a": free_a * GIB, "/b": free_b * GIB}
    need = need_gib * GIB
    protected = frozenset({plots[0].name}) if plots and protect_first else frozenset()
    rules = ReplotRules(compression_below=5)
    result = room(by_dir, free, need, rules=rules, protected=protected)
    if isinstance(result, str):
        # Nothing was possible: no dir can make room with all it may remove.
        for d, dir_plots in by_dir.items():
            allowed = removable_plots(dir_plots, rules, protected, NOW)
            assert free[d] + sum(r.plot.size_bytes for r in allowed) < need
        return
    gone = [r.plot for r in result.removals]
    assert all(p.archive_dir == result.archive_dir for p in gone)
    assert all(p.name not in protected and p.mtime <= NOW - QUIET_S for p in gone)
    assert all(matches_rules(p.name, rules) is not None for p in gone)
    made = free[result.archive_dir] + result.freed_bytes
    assert made >= need
    if gone:
        assert made - gone[-1].size_bytes < need  # the last one was needed
    # Fewest removals: no dir could do it with fewer.
    for d, dir_plots in by_dir.items():
        allowed = removable_plots(dir_plots, rules, protected, NOW)
        prefix_room, count = free[d], 0
        for removal in allowed:
            if prefix_room >= need:
                break
            prefix_room += removal.plot.size_bytes
            count += 1
        if prefix_room >= need:
            assert len(gone) <= count


# -- plan_summary -------------------------------------------------------------------------------


def test_plan_summary_counts_all_and_matching_per_dir() -> None:
    a = [plot(name(), 100, archive_dir="/a"), plot(name(level="07"), 70, archive_dir="/a")]
    b = [plot(name("2020-01-01-00-00"), 90, archive_dir="/b", mtime=NOW)]  # being written
    listed = FarmerListing(
        target="farm",
        listed_at=NOW,
        dirs={"/a": tuple(a), "/b": tuple(b)},
        problems={"/c": "missing"},
    )
    summary = plan_summary(listed, UNCOMPRESSED, frozenset(), NOW)
    assert [
        (d.archive_dir, d.plots, d.plot_bytes, d.matching_plots, d.matching_bytes, d.problem)
        for d in summary.dirs
    ] == [
        ("/a", 2, 170, 1, 100, None),
        ("/b", 1, 90, 0, 0, None),
        ("/c", 0, 0, 0, 0, "missing"),
    ]
    assert summary.matching_plots == 1 and summary.matching_bytes == 100
    assert summary.rules == UNCOMPRESSED
    without = plan_summary(listed, None, frozenset(), NOW)
    assert without.matching_plots == 0 and without.dirs[0].plots == 2


def test_plan_summary_leaves_out_protected_plots() -> None:
    a = [plot(name(), 100)]
    summary = plan_summary(listing({"/a": a}), UNCOMPRESSED, frozenset({name()}), NOW)
    assert summary.matching_plots == 0


# -- progress -----------------------------------------------------------------------------------


def test_rate_needs_two_removals_an_hour_apart() -> None:
    assert removal_rate([]) is None
    assert removal_rate([(NOW, 100)]) is None
    assert removal_rate([(NOW, 100), (NOW + 3599, 100)]) is None
    # n removals span n - 1 gaps: two 100-byte removals a day apart are 100 bytes a day.
    assert removal_rate([(NOW, 100), (NOW + DAY, 100)]) == pytest.approx(100.0)


def test_rate_counts_only_the_last_seven_days_of_removals() -> None:
    removals = [(NOW - 30 * DAY, 10_000), (NOW - 2 * DAY, 100), (NOW - DAY, 100), (NOW, 100)]
    assert removal_rate(removals) == pytest.approx(100.0)


def test_rate_ignores_bad_records() -> None:
    assert removal_rate(
        [(float("nan"), 5), (NOW, -1), (NOW, 100), (NOW + DAY, 100)]
    ) == pytest.approx(100.0)


def test_progress_from_listing_and_removals() -> None:
    plots = [plot(name(), 300), plot(name(level="07"), 200)]
    progress = replot_progress(
        "farm",
        listing({"/a": plots}),
        UNCOMPRESSED,
        frozenset(),
        [(NOW - 2 * DAY, 100), (NOW - DAY, 100), (NOW, 100)],
        4,
        NOW,
        stopped="removal refused",
    )
    assert (progress.matching_plots, progress.matching_bytes) == (1, 300)
    assert (progress.removed_plots, progress.removed_bytes, progress.new_plots_moved) == (3, 300, 4)
    assert progress.bytes_per_day == pytest.approx(100.0)
    assert progress.days_left == pytest.approx(3.0)
    assert progress.stopped == "removal refused" and progress.listed_at == NOW


def test_progress_before_a_listing_or_a_rate_is_unknown() -> None:
    unlisted = replot_progress("farm", None, UNCOMPRESSED, frozenset(), [(NOW, 1)], 0, NOW)
    assert (
        unlisted.days_left is None and unlisted.matching_plots == 0 and unlisted.listed_at is None
    )
    early = replot_progress(
        "farm", listing({"/a": [plot(name())]}), UNCOMPRESSED, frozenset(), [], 0, NOW
    )
    assert early.bytes_per_day is None and early.days_left is None
    done = replot_progress("farm", listing({"/a": []}), UNCOMPRESSED, frozenset(), [], 0, NOW)
    assert done.days_left == 0.0
