"""Replotting must never remove more than one plot's room: a running transfer's bytes are not
counted twice, two targets do not both make room for one plot, and a listing whose sizes lie
(a ``list_command`` printing KiB) cannot turn one step into a thousand removals."""

from __future__ import annotations

from types import MappingProxyType

from plotman_tui.farm.archive.policy import DstState, PlotCandidate, TargetState, Transfer
from plotman_tui.farm.archive.policy import pick_transfers as pick
from plotman_tui.farm.archive.replot import (
    FarmerListing,
    ReplotState,
    ReplotStep,
    plan_room,
    plan_summary,
)
from plotman_tui.farm.plotsize import GIB
from tests.unit.test_replot_policy import K32, NOW, RULES, farmer_plot, listing, old_name


def new_plot(index: int) -> PlotCandidate:
    name = f"plot-k32-c07-2026-11-30-10-0{index}-" + f"{index:02d}" * 32 + ".plot"
    return PlotCandidate(f"/dst/{name}", "/dst", K32, NOW - 3600 - index, 32)


def farmer(name: str = "farmer", free_gib: int = 1, max_concurrent: int = 1) -> TargetState:
    plots = listing(*(farmer_plot(old_name(day)) for day in range(1, 6)), target=name)
    return TargetState(
        name=name,
        max_concurrent=max_concurrent,
        archive_dirs_free=MappingProxyType({"/farm/a": free_gib * GIB}),
        replot=ReplotState(RULES, plots),
    )


def test_no_room_is_made_on_a_target_while_a_transfer_to_it_runs() -> None:
    # P1 runs into /farm/a, 60 GiB of its 101.4 written: the sample shows 42 GiB free where
    # 0.6 GiB will be. Counting P1 whole on top of that would remove a plot for room that
    # is there; so nothing is planned until P1 ends and the sample tells the truth.
    first, second = new_plot(1), new_plot(2)
    target = farmer(free_gib=42, max_concurrent=2)
    running = (Transfer(first, "farmer", "/farm/a"),)

    result = pick([DstState("/dst", 0, (first, second))], [], [target], running, now=NOW)

    assert result.replots == () and result.starts == ()
    assert [w.reason for w in result.waits] == [
        "full; waiting for the transfers under way to farmer before making room"
    ]
    ended = pick([DstState("/dst", 0, (second,))], [], [farmer(max_concurrent=2)], (), now=NOW)
    assert [len(step.removals) for step in ended.replots] == [1]


def test_a_transfer_to_another_target_does_not_hold_a_step() -> None:
    first, second = new_plot(1), new_plot(2)
    elsewhere = (Transfer(first, "other", "/farm/b"),)
    result = pick([DstState("/dst", 0, (first, second))], [], [farmer()], elsewhere, now=NOW)
    assert [step.for_plot for step in result.replots] == [second.name]


def test_two_full_targets_do_not_both_make_room_for_one_plot() -> None:
    only = new_plot(1)
    result = pick(
        [DstState("/dst", 0, (only,))], [], [farmer("farmer"), farmer("farmer2")], (), now=NOW
    )
    assert [(step.target, step.for_plot) for step in result.replots] == [("farmer", only.name)]
    assert [w.reason for w in result.waits][1] == "every finished plot is already on its way"


def test_two_full_targets_make_room_for_two_plots_one_each() -> None:
    first, second = new_plot(1), new_plot(2)
    result = pick(
        [DstState("/dst", 0, (first, second))],
        [],
        [farmer("farmer"), farmer("farmer2")],
        (),
        now=NOW,
    )
    assert sorted(step.target for step in result.replots) == ["farmer", "farmer2"]
    assert {step.for_plot for step in result.replots} == {first.name, second.name}


def kib_listing(count: int) -> FarmerListing:
    """Real k32 plots listed in KiB (``du -k``): each looks like 104 MiB."""
    names = (f"plot-k32-2021-06-{1 + i % 28:02d}-12-30-{i:064x}.plot" for i in range(count))
    return listing(*(farmer_plot(name, size=K32 // 1024) for name in names))


def test_a_step_removing_more_plots_than_their_k_can_need_is_refused() -> None:
    result = plan_room(
        kib_listing(1100),
        {"/farm/a": 1 * GIB},
        K32,
        RULES,
        for_plot="new.plot",
        protected=frozenset(),
        now=NOW,
    )
    assert isinstance(result, str), result
    assert result.startswith("full, and making room for new.plot in /farm/a would remove ")
    assert "their listed sizes cannot be right; nothing is removed" in result


def test_the_guard_allows_every_step_plots_of_plausible_sizes_need() -> None:
    # Three plots at the smallest a k32 plot may be: three are needed, and allowed.
    small = 69 * GIB
    plots = listing(*(farmer_plot(old_name(day), size=small) for day in range(1, 6)))
    result = plan_room(
        plots,
        {"/farm/a": 0},
        3 * small,
        RULES,
        for_plot="new.plot",
        protected=frozenset(),
        now=NOW,
    )
    assert isinstance(result, ReplotStep) and len(result.removals) == 3


def test_replot_plan_shows_a_listed_dirs_problem_with_its_counts() -> None:
    problem = "3 files named like plots have sizes no plot of their k has: left alone"
    plots = listing(farmer_plot(old_name(1)))
    with_problem = FarmerListing(
        plots.target, plots.listed_at, plots.dirs, MappingProxyType({"/farm/a": problem})
    )
    (row,) = plan_summary(with_problem, RULES, frozenset(), NOW).dirs
    assert (row.plots, row.matching_plots, row.problem) == (1, 1, problem)
