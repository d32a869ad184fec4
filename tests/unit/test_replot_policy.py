"""Replotting in the archive policy: when a full target gets a step that makes room, and why
it waits instead (no match, a step under way, a dry run, stopped, not listed yet); and what the
action log tells the replotter (the plots this machine sent, the removals it made)."""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from plotman_tui.config.schema import ArchiveTarget, ReplotRules, TargetType
from plotman_tui.farm.actionlog import ActionEntry, ActionLog, format_entry
from plotman_tui.farm.archive.policy import (
    ArchivePlan,
    DstState,
    PlotCandidate,
    TargetState,
    Transfer,
    pick_transfers,
)
from plotman_tui.farm.archive.replot import (
    QUIET_S,
    FarmerListing,
    FarmerPlot,
    Removal,
    ReplotState,
    ReplotStep,
)
from plotman_tui.farm.archive.replotter import ACTION, Replotter, replot_history
from plotman_tui.farm.archive.space import SpaceMonitor
from plotman_tui.farm.events import EventKind
from plotman_tui.farm.plotsize import GIB

NOW = 1_700_000_000.0
K32 = 108_836_238_815  # a real k32 plot
OLD = 101 * GIB  # an old uncompressed plot on the farmer
NEW_NAME = "plot-k32-c07-2026-11-30-10-00-" + "ab" * 32 + ".plot"
RULES = ReplotRules(older_than=datetime.date(2023, 1, 1), uncompressed=True)


def old_name(day: int, tag: str = "cd") -> str:
    return f"plot-k32-2021-06-{day:02d}-12-30-" + tag * 32 + ".plot"


def farmer_plot(name: str, directory: str = "/farm/a", size: int = OLD) -> FarmerPlot:
    return FarmerPlot(directory, name, size, NOW - 30 * 86400)


def listing(*plots: FarmerPlot, target: str = "farmer") -> FarmerListing:
    dirs: dict[str, list[FarmerPlot]] = {}
    for plot in plots:
        dirs.setdefault(plot.archive_dir, []).append(plot)
    return FarmerListing(target, NOW - 60, MappingProxyType({d: tuple(p) for d, p in dirs.items()}))


def new_plot() -> PlotCandidate:
    return PlotCandidate(f"/dst/{NEW_NAME}", "/dst", K32, NOW - 3600, 32)


def state(
    replot: ReplotState | None,
    free: dict[str, int | None] | None = None,
    margin: int = 0,
) -> TargetState:
    return TargetState(
        name="farmer",
        margin_bytes=margin,
        archive_dirs_free=MappingProxyType(free if free is not None else {"/farm/a": 1 * GIB}),
        replot=replot,
    )


def plan(target: TargetState, in_flight: tuple[Transfer, ...] = ()) -> ArchivePlan:
    return pick_transfers([DstState("/dst", 0, (new_plot(),))], [], [target], in_flight, now=NOW)


def reason(result: ArchivePlan) -> str:
    (wait,) = result.waits
    return wait.reason


def test_a_full_target_with_a_matching_old_plot_gets_a_step_that_removes_just_enough() -> None:
    oldest, older, newer = old_name(1), old_name(2), old_name(3)
    plots = listing(farmer_plot(newer), farmer_plot(oldest), farmer_plot(older))
    result = plan(state(ReplotState(RULES, plots)))
    assert result.starts == ()
    (step,) = result.replots
    # 1 GiB free + one 101 GiB old plot holds the 101.4 GiB new one: one removal, the oldest.
    assert [r.plot.name for r in step.removals] == [oldest]
    assert (step.target, step.archive_dir, step.for_plot) == ("farmer", "/farm/a", NEW_NAME)
    assert not step.dry_run
    assert "older than 2023-01-01" in step.removals[0].reason
    assert reason(result) == (
        f"full; making room in /farm/a for {NEW_NAME}: removing 1 old plot (101 GiB)"
    )


def test_keep_free_and_the_margin_count_so_a_second_old_plot_goes() -> None:
    rules = replace(RULES, keep_free_gib=50)
    plots = listing(farmer_plot(old_name(1)), farmer_plot(old_name(2)), farmer_plot(old_name(3)))
    (step,) = plan(state(ReplotState(rules, plots), margin=10 * GIB)).replots
    assert [r.plot.name for r in step.removals] == [old_name(1), old_name(2)]


def test_rules_that_match_nothing_wait_with_the_reason_and_remove_nothing() -> None:
    compressed = "plot-k32-c05-2021-06-01-12-30-" + "ef" * 32 + ".plot"
    plots = listing(farmer_plot(compressed), farmer_plot(old_name(1).replace("2021", "2024")))
    result = plan(state(ReplotState(RULES, plots)))
    assert result.replots == () and result.starts == ()
    assert reason(result) == "full, and no plot matches the replot rules"


def test_a_target_busy_with_a_step_gets_no_second_one() -> None:
    plots = listing(farmer_plot(old_name(1)), farmer_plot(old_name(2)))
    result = plan(state(ReplotState(RULES, plots, busy=True)))
    assert result.replots == () and result.starts == ()
    assert reason(result) == "full; making room on the farmer: the plot goes once the room shows"


def test_a_dry_run_returns_its_step_marked_and_says_nothing_is_removed() -> None:
    plots = listing(farmer_plot(old_name(1)))
    result = plan(state(ReplotState(replace(RULES, dry_run=True), plots)))
    (step,) = result.replots
    assert step.dry_run
    assert reason(result) == (
        f"full; dry run: would remove 1 old plot (101 GiB) in /farm/a for {NEW_NAME} "
        "(nothing is removed: dry_run = true)"
    )


def test_stopped_replotting_is_the_wait_reason_and_makes_no_step() -> None:
    stopped = "replotting stopped: could not remove /farm/a/x.plot: Permission denied (fix it)"
    plots = listing(farmer_plot(old_name(1)))
    result = plan(state(ReplotState(RULES, plots, stopped=stopped)))
    assert result.replots == ()
    assert reason(result) == stopped


def test_not_listed_yet_or_not_listable_waits_and_removes_nothing() -> None:
    result = plan(state(ReplotState(RULES, None)))
    assert result.replots == ()
    assert reason(result).startswith("full; listing the plots on the farmer")
    failed = FarmerListing("farmer", NOW, MappingProxyType({}), problem="farmer unreachable: x")
    result = plan(state(ReplotState(RULES, failed)))
    assert result.replots == ()
    assert reason(result) == (
        "full, and the plots on the farmer could not be listed: farmer unreachable: x"
    )


def test_a_dir_whose_free_space_is_unknown_may_have_room_so_nothing_is_removed() -> None:
    plots = listing(farmer_plot(old_name(1)))
    result = plan(state(ReplotState(RULES, plots), {"/farm/a": 1 * GIB, "/farm/b": None}))
    assert result.replots == ()
    assert reason(result).startswith("no archive dir with room")


def test_a_target_with_room_sends_and_removes_nothing() -> None:
    plots = listing(farmer_plot(old_name(1)))
    result = plan(state(ReplotState(RULES, plots), {"/farm/a": 500 * GIB}))
    assert result.replots == ()
    assert [t.archive_dir for t in result.starts] == ["/farm/a"]


def test_keep_free_holds_back_a_plain_transfer_too() -> None:
    # 120 GiB free holds the plot, but not the plot and 50 GiB kept free: room is made.
    plots = listing(farmer_plot(old_name(1)))
    rules = replace(RULES, keep_free_gib=50)
    result = plan(state(ReplotState(rules, plots), {"/farm/a": 120 * GIB}))
    assert result.starts == ()
    assert [len(step.removals) for step in result.replots] == [1]


def test_plots_this_machine_sent_or_is_sending_and_young_ones_are_never_removed() -> None:
    sent, sending, young, old = old_name(1, "11"), old_name(2, "22"), old_name(3), old_name(4)
    plots = listing(
        farmer_plot(sent),
        farmer_plot(sending),
        FarmerPlot("/farm/a", young, OLD, NOW - QUIET_S / 2),  # being written
        farmer_plot(old),
    )
    on_its_way = Transfer(
        PlotCandidate(f"/dst/{sending}", "/dst", OLD, NOW - 3600, 32), "other", "/farm/b"
    )
    target = state(ReplotState(RULES, plots, protected=frozenset({sent})))
    (step,) = plan(target, (on_its_way,)).replots
    assert [r.plot.name for r in step.removals] == [old]


def test_no_step_without_replot_rules() -> None:
    result = plan(state(None))
    assert result.replots == ()
    assert reason(result).startswith("archive dirs full")


# -- what the action log tells -----------------------------------------------------------------


def entry(time: float, action: str, result: str, **extra: object) -> ActionEntry:
    return ActionEntry(time=time, action=action, result=result, extra=extra)


def test_the_history_protects_every_sent_plot_and_counts_removals_per_target() -> None:
    history = replot_history(
        [
            entry(1.0, "transfer", "ok", target="farmer", source="/dst/plot-k32-a.plot"),
            entry(
                2.0, "transfer", "ok: already there", target="other", source="/d/plot-k32-b.plot"
            ),
            entry(3.0, "transfer", "failed: x", target="farmer", source="/dst/plot-k32-c.plot"),
            entry(4.0, "transfer", "started", target="farmer", source="/dst/plot-k32-d.plot"),
            entry(5.0, ACTION, "removed", target="farmer", bytes=100, file="plot-k32-o.plot"),
            entry(6.0, ACTION, "dry run", target="farmer", bytes=100),
            entry(7.0, ACTION, "failed: denied", target="farmer", bytes=100),
            # Odd fields (a hand edit, another version) cost only their own line.
            entry(8.0, ACTION, "removed", target="farmer", bytes="100"),
            entry(9.0, ACTION, "removed", target=None, bytes=100),
            entry(10.0, "transfer", "ok", target=3, source=["x"]),
        ]
    )
    assert history.sent_names == {"plot-k32-a.plot", "plot-k32-b.plot"}
    assert history.sent_at == {"farmer": (1.0,), "other": (2.0,)}
    assert history.removals == {"farmer": ((5.0, 100),)}


def test_history_details_say_which_old_plot_went_from_where_and_for_which_plot() -> None:
    removal = ActionEntry(
        time=NOW,
        action=ACTION,
        reason="older than 2023-01-01, uncompressed",
        result="removed",
        extra={
            "target": "farmer",
            "archive_dir": "/farm/a",
            "file": old_name(1),
            "bytes": OLD,
            "for_plot": NEW_NAME,
        },
    )
    line = format_entry(removal, details=True)
    assert line.endswith(f"[101 GiB, {old_name(1)} in farmer:/farm/a, for {NEW_NAME}]")
    assert "removed  older than 2023-01-01, uncompressed" in line


# -- the replotter's bookkeeping (no farmer needed) ------------------------------------------------


def replotter(tmp_path: Path, rules: ReplotRules = RULES) -> tuple[Replotter, ArchiveTarget]:
    farmer = ArchiveTarget(
        name="farmer", type=TargetType.LOCAL, archive_dirs=("/farm/a",), replot=rules
    )
    plain = ArchiveTarget(name="plain", type=TargetType.LOCAL, archive_dirs=("/farm/b",))
    log = ActionLog(tmp_path / "actions.jsonl")
    log.record("transfer", result="ok", target="plain", source=f"/dst/{old_name(7, '77')}")
    made = Replotter([farmer, plain], SpaceMonitor([farmer, plain]), action_log=log)
    made.read_history()
    return made, farmer


def step_for(dry_run: bool = False) -> ReplotStep:
    plot = farmer_plot(old_name(1))
    return ReplotStep("farmer", "/farm/a", (Removal(plot, "old"),), NEW_NAME, K32, dry_run)


def test_the_replotter_protects_every_plot_this_machine_sent_and_replots_only_its_targets(
    tmp_path: Path,
) -> None:
    made, _ = replotter(tmp_path)
    assert made.names == ("farmer",)
    assert made.state("plain", None) is None
    made.sent("plain", NEW_NAME, NOW)
    state = made.state("farmer", None)
    assert state is not None and state.protected == {old_name(7, "77"), NEW_NAME}
    assert not state.busy and state.stopped is None and state.listing is None


def test_one_step_per_target_at_a_time_and_a_dry_run_is_never_run(tmp_path: Path) -> None:
    made, _ = replotter(tmp_path)
    assert not made.submit(step_for(dry_run=True))
    assert made.submit(step_for())  # busy from here on, though no loop runs it yet
    state = made.state("farmer", None)
    assert state is not None and state.busy
    assert not made.submit(step_for())


def test_a_dry_run_step_is_logged_once_however_many_passes_ask(tmp_path: Path) -> None:
    made, _ = replotter(tmp_path, replace(RULES, dry_run=True))
    first = made.tell_dry_run(step_for(dry_run=True), NOW)
    again = made.tell_dry_run(step_for(dry_run=True), NOW + 5)
    assert [e.kind for e in first] == [EventKind.REPLOT] and again == []
    assert first[0].message.startswith("dry run: would remove farmer:/farm/a/plot-k32-2021-06-01")
    assert made.action_log is not None
    logged = [e for e in made.action_log.entries() if e.action == ACTION]
    assert [(e.result, e.extra["file"], e.extra["for_plot"]) for e in logged] == [
        ("dry run", old_name(1), NEW_NAME)
    ]


# -- never more than needed, across steps and runs -------------------------------------------------

C7 = 83 * GIB  # a new compressed plot: one old plot makes room for it


def log_with(tmp_path: Path, *records: tuple[str, str, int]) -> ActionLog:
    """An action log of (action, result, bytes) records for target "farmer", in order."""
    log = ActionLog(tmp_path / "actions.jsonl")
    for action, result, size in records:
        if action == ACTION:
            log.record(ACTION, result=result, target="farmer", bytes=size, file=old_name(9))
        else:
            log.record(action, result=result, target="farmer", source=f"/dst/{NEW_NAME}")
    return log


def farmer_target() -> ArchiveTarget:
    return ArchiveTarget(
        name="farmer", type=TargetType.LOCAL, archive_dirs=("/farm/a",), replot=RULES
    )


def fresh_replotter(log: ActionLog) -> Replotter:
    """A replotter as a new run (cron's ``archive --once``) makes it: the log read first."""
    farmer = farmer_target()
    made = Replotter([farmer], SpaceMonitor([farmer]), action_log=log)
    made.read_history()
    return made


def step_of(*days: int, for_bytes: int = C7) -> ReplotStep:
    removals = tuple(Removal(farmer_plot(old_name(day)), "old") for day in days)
    return ReplotStep("farmer", "/farm/a", removals, NEW_NAME, for_bytes)


def test_a_new_run_refuses_a_step_while_the_room_removed_before_never_showed(
    tmp_path: Path,
) -> None:
    # A plot went, and no transfer to the farmer started since: its room never showed.
    log = log_with(tmp_path, ("transfer", "started", 0), (ACTION, "removed", OLD))
    made = fresh_replotter(log)
    assert not made.submit(step_of(2))
    held = made.held("farmer")
    assert held == (
        "replotting held: 101 GiB of old plots removed from farmer since a plot last went "
        "there, yet its free space did not grow by as much; a snapshot, a hard link or a "
        "program holding the files open keeps that space (free it; replotting goes on once a "
        "plot goes to farmer)"
    )
    state = made.state("farmer", None)
    assert state is not None and not state.busy  # held, not stopped: no restart needed
    progress = made.progress("farmer", NOW)
    assert progress is not None and progress.stopped == held
    # A transfer to the farmer starts (the room showed after all): the count starts again.
    made.room_used("farmer")
    assert made.held("farmer") is None
    assert made.submit(step_of(2))


def test_a_transfer_start_after_the_removal_allows_the_next_step(tmp_path: Path) -> None:
    log = log_with(
        tmp_path,
        (ACTION, "removed", OLD),
        (ACTION, "removed", OLD),
        ("transfer", "started", 0),
        ("transfer", "verifying", 0),  # a comparison takes no room: it starts nothing
        ("transfer", "ok", 0),
    )
    made = fresh_replotter(log)
    assert made.submit(step_of(3)) and made.held("farmer") is None


def test_a_step_cut_short_may_finish_but_not_remove_more(tmp_path: Path) -> None:
    # Two old plots were needed (for 150 GiB); one went, then the farmer went away.
    log = log_with(tmp_path, (ACTION, "removed", OLD))
    made = fresh_replotter(log)
    assert not made.submit(step_of(2, 3, for_bytes=150 * GIB))  # both again: one too many
    assert made.held("farmer") is not None
    assert made.submit(step_of(2, for_bytes=150 * GIB))  # the rest of it
    assert made.held("farmer") is None


def test_the_history_counts_the_bytes_removed_since_each_targets_last_start() -> None:
    history = replot_history(
        [
            entry(1.0, ACTION, "removed", target="farmer", bytes=100),
            entry(2.0, "transfer", "started", target="farmer", source="/dst/plot-k32-a.plot"),
            entry(3.0, ACTION, "removed", target="farmer", bytes=7),
            entry(4.0, ACTION, "removed", target="other", bytes=5),
            entry(5.0, ACTION, "dry run", target="farmer", bytes=100),
            entry(6.0, ACTION, "failed: denied", target="farmer", bytes=100),
            entry(7.0, "transfer", "verifying", target="farmer", source="/dst/plot-k32-b.plot"),
            entry(8.0, "transfer", "started", target="other", source="/dst/plot-k32-c.plot"),
            entry(9.0, ACTION, "removed", target="farmer", bytes=3),
        ]
    )
    assert history.removed_since_start == {"farmer": 10, "other": 0}


class _BrokenLog(ActionLog):
    """An action log whose reading fails as a bug would (not an OSError)."""

    def entries(self, since: float | None = None) -> list[ActionEntry]:
        raise RuntimeError("unexpected")


def test_an_action_log_read_that_fails_unexpectedly_stops_replotting(tmp_path: Path) -> None:
    farmer = farmer_target()
    made = Replotter(
        [farmer], SpaceMonitor([farmer]), action_log=_BrokenLog(tmp_path / "actions.jsonl")
    )
    made.read_history()  # never raises: the pass goes on for the other targets
    made.read_history()
    state = made.state("farmer", None)
    assert state is not None and state.stopped is not None
    assert state.stopped.startswith(
        f"replotting stopped: the action log {tmp_path / 'actions.jsonl'} could not be read: "
        "unexpected, so the plots this machine sent are unknown"
    )
    assert not made.submit(step_of(1))


def test_no_step_runs_before_the_action_log_was_read(tmp_path: Path) -> None:
    farmer = farmer_target()
    made = Replotter(
        [farmer], SpaceMonitor([farmer]), action_log=ActionLog(tmp_path / "actions.jsonl")
    )
    assert not made.submit(step_of(1))  # the plots this machine sent are not known yet
    made.read_history()
    assert made.submit(step_of(1))
