"""The archive policy: which files are plots, which dst first, which archive dir, what starts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plotman_tui.config.schema import ArchiveTarget, TargetType
from plotman_tui.farm.archive import (
    ArchivePlan,
    ArchiveWait,
    DstState,
    PlotCandidate,
    TargetState,
    Transfer,
    choose_archive_dir,
    dst_priority,
    dst_score,
    is_finished_plot,
    pick_transfers,
    plausible_plot_bytes,
    plot_name_k,
)
from plotman_tui.farm.archive.policy import READ_PENALTY, SETTLE_SECONDS
from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.farm.plotsize import GIB, MIB, final_plot_bytes
from plotman_tui.plotters.phase import Phase

NOW = 1_700_000_000.0
K32 = 108_836_238_815  # a real k32 plot (madMAx log in the fixtures)
GB = 1_000_000_000


def job(dst: str | None, phase: str | None, *, completed: bool = False, pid: int = 1) -> Job:
    return Job(
        pid=pid,
        plotter="chia",
        argv=("chia", "plots", "create"),
        cwd=None,
        started_at=NOW - 3600,
        wall_seconds=3600,
        status=JobStatus.RUN,
        k=32,
        tmp_dir="/tmp0",
        dst_dir=dst,
        phase=Phase.parse(phase) if phase else None,
        completed=completed,
    )


def plot(dst: str, name: str, *, age: float = 3600, size: int = K32, k: int = 32) -> PlotCandidate:
    return PlotCandidate(
        path=f"{dst}/plot-k{k}-{name}.plot",
        dst_dir=dst,
        size_bytes=size,
        mtime=NOW - age,
        k=k,
    )


def dst(path: str, free: int | None, *plots: PlotCandidate) -> DstState:
    return DstState(path=path, free_bytes=free, plots=plots)


def target(
    name: str = "farmer", max_concurrent: int = 1, margin: int = 0, **dirs_free: int | None
) -> TargetState:
    return TargetState(
        name=name,
        max_concurrent=max_concurrent,
        margin_bytes=margin,
        archive_dirs_free={
            f"/farm/{d}": free for d, free in (dirs_free or {"a": 10_000 * GIB}).items()
        },
    )


# -- which files are plots ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "k"),
    [
        ("plot-k32-2021-06-01-10-00-0123456789abcdef.plot", 32),
        ("plot-k18-2024-01-01-00-00-ab.plot", 18),
        ("plot-k34-c05-2024-01-01-00-00-ab.plot", 34),  # BladeBit writes the level into the name
        ("plot-k32-2021-06-01-10-00-0123456789abcdef.plot.tmp", None),  # madMAx, BladeBit
        ("plot-k32-2021-06-01-10-00-0123456789abcdef.plot.2.tmp", None),  # chia
        ("plot-k32-x.plot.partial", None),
        ("plot-k0-x.plot", None),
        ("plot-kxx-x.plot", None),
        ("plot-k32-.plot", None),
        (".plot-k32-x.plot.AbCdEf", None),  # rsync's temp file
        ("notes.txt", None),
    ],
)
def test_plot_name_k(name: str, k: int | None) -> None:
    assert plot_name_k(name) == k


FINISHED: dict[str, tuple[str, int, float, bool]] = {
    "k32-uncompressed": ("plot-k32-a.plot", K32, 3600, True),
    "k32-bladebit-c9-compressed": ("plot-k32-a.plot", int(75.2 * GIB), 3600, True),
    # Gigahorse's levels past C9, their sizes as farmers state them (chia-gigahorse#306).
    "k32-gigahorse-c18": ("plot-k32-c18-2023-05-12-17-08-a.plot", int(59.65 * GIB), 3600, True),
    "k32-gigahorse-c30": ("plot-k32-c30-2023-05-12-17-08-a.plot", int(43.31 * GIB), 3600, True),
    "k32-gigahorse-c30-cut-short": ("plot-k32-c30-a.plot", 20 * GIB, 3600, False),
    # A level BladeBit makes does not lower the floor: 50 GiB is a C7 plot still copying.
    "k32-bladebit-c07-too-small": ("plot-k32-c07-a.plot", 50 * GIB, 3600, False),
    "k32-gigahorse-c7-real-size": ("plot-k32-c7-a.plot", int(74.6 * GIB), 3600, True),
    "k32-too-small-still-copying": ("plot-k32-a.plot", 50 * GIB, 3600, False),
    "k32-too-big-for-k32": ("plot-k32-a.plot", 120 * GIB, 3600, False),
    "k33-real-size": ("plot-k33-a.plot", 224_200_000_000, 3600, True),
    "k18-smallest-measured": ("plot-k18-a.plot", 3_650_000, 3600, True),
    "k18-largest-measured": ("plot-k18-a.plot", 4_200_000, 3600, True),
    "k22-measured": ("plot-k22-a.plot", 72_900_000, 3600, True),
    "changed-just-now": ("plot-k32-a.plot", K32, 5, False),
    "settled-exactly": ("plot-k32-a.plot", K32, SETTLE_SECONDS, True),
    "temp-name": ("plot-k32-a.plot.tmp", K32, 3600, False),
    "not-a-plot": ("readme.plot.txt", K32, 3600, False),
}


@pytest.mark.parametrize(
    ("name", "size", "age", "finished"), FINISHED.values(), ids=FINISHED.keys()
)
def test_is_finished_plot(name: str, size: int, age: float, finished: bool) -> None:
    assert is_finished_plot(name, size, NOW - age, NOW) is finished


def test_settle_time_is_a_parameter() -> None:
    assert is_finished_plot("plot-k18-a.plot", 4_000_000, NOW - 1, NOW, settle_seconds=0.5)
    assert not is_finished_plot("plot-k18-a.plot", 4_000_000, NOW - 1, NOW, settle_seconds=2)


def test_plausible_size_brackets_the_planned_size() -> None:
    for k in range(18, 36):
        low, high = plausible_plot_bytes(k)
        assert low < final_plot_bytes(k) <= high


# -- which dst dir first ------------------------------------------------------------------------

P = 100 * GB  # a plot as plotman counted a k32 plot: 100 GB per point


def plotman_compute_priority(phase: Phase | None, gb_free: float, n_plots: int) -> int:
    """plotman's archive.compute_priority, as documented there, for comparison."""
    priority = 50
    if phase is not None:
        if phase == Phase(3, 4):
            priority -= 4
        elif phase == Phase(3, 5):
            priority -= 8
        elif phase == Phase(3, 6):
            priority -= 16
        elif phase >= Phase(3, 7):
            priority -= 32
    if gb_free < 1000:
        priority += 1 + int((1000 - gb_free) / 100)
    if gb_free < 500:
        priority += 1 + int((500 - gb_free) / 100)
    return priority + n_plots


SCORES: dict[str, tuple[Phase | None, int | None, int, int]] = {
    "empty-roomy-dst": (None, 20 * P, 0, 50),
    "phase-unknown-or-no-job": (None, 20 * P, 0, 50),
    "job-before-3-4": (Phase(3, 3), 20 * P, 0, 50),
    "job-at-3-4": (Phase(3, 4), 20 * P, 0, 46),
    "job-at-3-5": (Phase(3, 5), 20 * P, 0, 42),
    "job-at-3-6": (Phase(3, 6), 20 * P, 0, 34),
    "job-at-3-7": (Phase(3, 7), 20 * P, 0, 18),
    "job-in-phase-4": (Phase(4, 0), 20 * P, 0, 18),
    "room-for-exactly-10": (None, 10 * P, 0, 50),
    "room-for-9-and-a-half": (None, 95 * P // 10, 0, 51),
    "room-for-5": (None, 5 * P, 0, 56),
    "room-for-4-and-a-half": (None, 45 * P // 10, 0, 57),
    "full": (None, 0, 0, 67),
    "over-full-counts-as-full": (None, -5, 0, 67),
    "free-space-unknown-no-bonus": (None, None, 0, 50),
    "plots-count-one-each": (None, 20 * P, 7, 57),
    "all-together": (Phase(3, 5), 3 * P, 12, 50 - 8 + 8 + 3 + 12),
}


@pytest.mark.parametrize(("phase", "free", "plots", "score"), SCORES.values(), ids=SCORES.keys())
def test_dst_score(phase: Phase | None, free: int | None, plots: int, score: int) -> None:
    assert dst_score(phase, free, plots, P) == score


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.none(), st.builds(Phase, st.integers(0, 5), st.integers(0, 7))),
    st.integers(0, 3000),
    st.integers(0, 40),
)
def test_dst_score_is_plotmans_for_k32_plots_of_100_gb(
    phase: Phase | None, gb_free: int, n_plots: int
) -> None:
    assert dst_score(phase, gb_free * GB, n_plots, P) == plotman_compute_priority(
        phase, gb_free, n_plots
    )


def test_dst_score_counts_room_in_the_dirs_own_plot_size() -> None:
    # The sandbox's k18 dst with room for 2 plots is as full as a k32 dst with room for 2.
    k18 = 4_000_000
    assert dst_score(None, 2 * k18, 0, k18) == dst_score(None, 2 * P, 0, P)


A, B, C = "/dst/a", "/dst/b", "/dst/c"
ROOMY, FULLER = 2000 * GB, 300 * GB

PRIORITY: dict[str, tuple[list[DstState], list[Job], list[str]]] = {
    "fuller-first": (
        [dst(A, ROOMY, plot(A, "1")), dst(B, FULLER, plot(B, "1"))],
        [],
        [B, A],
    ),
    "job-about-to-copy-to-the-fuller-dst": (
        [dst(A, ROOMY, plot(A, "1")), dst(B, FULLER, plot(B, "1"))],
        [job(B, "3:7")],
        [A, B],
    ),
    "job-early-in-phase-3-does-not-count": (
        [dst(A, ROOMY, plot(A, "1")), dst(B, FULLER, plot(B, "1"))],
        [job(B, "3:3")],
        [B, A],
    ),
    "furthest-job-counts": (
        [dst(A, ROOMY, plot(A, "1")), dst(B, FULLER, plot(B, "1"))],
        [job(B, "1:2", pid=1), job(B, "4:0", pid=2)],
        [A, B],
    ),
    "completed-job-does-not-count": (
        [dst(A, ROOMY, plot(A, "1")), dst(B, FULLER, plot(B, "1"))],
        [job(B, "5:1", completed=True)],
        [B, A],
    ),
    "unknown-phase-does-not-count": (
        [dst(A, ROOMY, plot(A, "1")), dst(B, FULLER, plot(B, "1"))],
        [job(B, None)],
        [B, A],
    ),
    "job-dst-is-normalised": (
        [dst(A, ROOMY, plot(A, "1")), dst(B, FULLER, plot(B, "1"))],
        [job(B + "/./", "3:7")],
        [A, B],
    ),
    "more-plots-first": (
        [dst(A, ROOMY, plot(A, "1")), dst(B, ROOMY, plot(B, "1"), plot(B, "2"))],
        [],
        [B, A],
    ),
    "tie-goes-to-the-fuller": (
        [dst(A, 1500 * GB), dst(B, 1400 * GB)],
        [],
        [B, A],
    ),
    "tie-with-equal-free-keeps-the-configured-order": (
        [dst(B, ROOMY), dst(A, ROOMY), dst(C, ROOMY)],
        [],
        [B, A, C],
    ),
    "unknown-free-space-after-equal-priority": (
        [dst(A, None), dst(B, ROOMY)],
        [],
        [B, A],
    ),
}


@pytest.mark.parametrize(("dsts", "jobs", "order"), PRIORITY.values(), ids=PRIORITY.keys())
def test_dst_priority(dsts: list[DstState], jobs: list[Job], order: list[str]) -> None:
    assert [rank.path for rank in dst_priority(dsts, jobs)] == order


def test_dst_rank_says_why() -> None:
    ranks = dst_priority([dst(A, FULLER, plot(A, "1"))], [job(A, "3:5")])

    assert len(ranks) == 1
    rank = ranks[0]
    assert (rank.furthest_phase, rank.free_bytes, rank.plot_count) == (Phase(3, 5), FULLER, 1)
    assert rank.priority == dst_score(Phase(3, 5), FULLER, 1, K32)


# -- which archive dir --------------------------------------------------------------------------

PLOT = 101 * GIB

CHOICES: dict[str, tuple[dict[str, int | None], int, dict[str, int], str | ArchiveWait]] = {
    "most-free-first": (
        {"/farm/a": 500 * GIB, "/farm/b": 900 * GIB, "/farm/c": 700 * GIB},
        0,
        {},
        "/farm/b",
    ),
    "plots-on-their-way-count": (
        {"/farm/a": 500 * GIB, "/farm/b": 700 * GIB},
        0,
        {"/farm/b": 2 * PLOT},
        "/farm/a",
    ),
    "tie-goes-to-the-first-listed": (
        {"/farm/b": 500 * GIB, "/farm/a": 500 * GIB},
        0,
        {},
        "/farm/b",
    ),
    "exactly-enough": ({"/farm/a": PLOT + GIB}, GIB, {}, "/farm/a"),
    "margin-counts": (
        {"/farm/a": PLOT + GIB - 1},
        GIB,
        {},
        ArchiveWait("archive dirs full (/farm/a: 102 GiB free, needs 102 GiB)"),
    ),
    "full": (
        {"/farm/a": 80 * GIB},
        0,
        {},
        ArchiveWait("archive dirs full (/farm/a: 80.0 GiB free, needs 101 GiB)"),
    ),
    "full-because-of-plots-on-their-way": (
        {"/farm/a": 150 * GIB, "/farm/b": 10 * GIB},
        0,
        {"/farm/a": PLOT},
        ArchiveWait(
            "archive dirs full (/farm/a: 150 GiB free, needs 202 GiB (101 GiB of it for plots "
            "on their way); /farm/b: 10.0 GiB free, needs 101 GiB)"
        ),
    ),
    "unknown-free-space-is-skipped": (
        {"/farm/a": None, "/farm/b": 200 * GIB},
        0,
        {},
        "/farm/b",
    ),
    "unknown-and-full": (
        {"/farm/a": None, "/farm/b": 80 * GIB},
        0,
        {},
        ArchiveWait(
            "no archive dir with room (/farm/a: free space unknown; "
            "/farm/b: 80.0 GiB free, needs 101 GiB)"
        ),
    ),
    "no-dirs": ({}, 0, {}, ArchiveWait("no archive dirs")),
}


@pytest.mark.parametrize(
    ("free", "margin", "inbound", "expected"), CHOICES.values(), ids=CHOICES.keys()
)
def test_choose_archive_dir(
    free: dict[str, int | None], margin: int, inbound: dict[str, int], expected: object
) -> None:
    assert choose_archive_dir(free, PLOT, margin, inbound) == expected


# -- what to start ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    dsts: list[DstState]
    targets: list[TargetState]
    starts: list[tuple[str, str, str]]  # (plot path, target, archive dir)
    waits: list[tuple[str | None, str]] = field(default_factory=list)  # (target, reason)
    jobs: list[Job] = field(default_factory=list)
    in_flight: list[Transfer] = field(default_factory=list)


OLD, NEW = plot(A, "old", age=7200), plot(A, "new", age=3600)
B1 = plot(B, "b1", age=9000)

PICKS: dict[str, Pick] = {
    "nothing-to-move": Pick(
        dsts=[dst(A, ROOMY)],
        targets=[target()],
        starts=[],
        waits=[("farmer", "no finished plots in the dst dirs")],
    ),
    "oldest-plot-of-the-best-dst": Pick(
        dsts=[dst(A, FULLER, NEW, OLD), dst(B, ROOMY, B1)],
        targets=[target()],
        starts=[(OLD.path, "farmer", "/farm/a")],
        waits=[("farmer", "1 of 1 transfer running (max_concurrent)")],
    ),
    "dst-a-job-copies-to-waits": Pick(
        dsts=[dst(A, FULLER, NEW, OLD), dst(B, ROOMY, B1)],
        targets=[target()],
        jobs=[job(A, "3:7")],
        starts=[(B1.path, "farmer", "/farm/a")],
        waits=[("farmer", "1 of 1 transfer running (max_concurrent)")],
    ),
    "at-max-concurrent": Pick(
        dsts=[dst(A, FULLER, NEW, OLD)],
        targets=[target()],
        in_flight=[Transfer(OLD, "farmer", "/farm/a")],
        starts=[],
        waits=[("farmer", "1 of 1 transfer running (max_concurrent)")],
    ),
    "more-running-than-allowed-after-a-config-change": Pick(
        dsts=[dst(A, FULLER, NEW, OLD, plot(A, "x"))],
        targets=[target(max_concurrent=2)],
        in_flight=[Transfer(OLD, "farmer", "/farm/a"), Transfer(NEW, "farmer", "/farm/a")],
        starts=[],
        waits=[("farmer", "2 of 2 transfers running (max_concurrent)")],
    ),
    "a-plot-on-its-way-is-not-picked-again": Pick(
        dsts=[dst(A, FULLER, NEW, OLD)],
        targets=[target(max_concurrent=2)],
        in_flight=[Transfer(OLD, "farmer", "/farm/a")],
        starts=[(NEW.path, "farmer", "/farm/a")],
        waits=[("farmer", "2 of 2 transfers running (max_concurrent)")],
    ),
    "a-plot-on-its-way-to-another-target-is-not-picked-again": Pick(
        dsts=[dst(A, FULLER, OLD)],
        targets=[target("farmer"), target("nas")],
        in_flight=[Transfer(OLD, "nas", "/farm/a")],
        starts=[],
        waits=[
            ("farmer", "every finished plot is already on its way"),
            ("nas", "1 of 1 transfer running (max_concurrent)"),
        ],
    ),
    "reads-spread-over-dst-disks": Pick(
        dsts=[dst(A, FULLER, NEW, OLD, plot(A, "3", age=5000)), dst(B, ROOMY, B1)],
        targets=[target(max_concurrent=2)],
        starts=[(OLD.path, "farmer", "/farm/a"), (B1.path, "farmer", "/farm/a")],
        waits=[("farmer", "2 of 2 transfers running (max_concurrent)")],
    ),
    "a-running-read-counts-too": Pick(
        dsts=[dst(A, FULLER, NEW, OLD), dst(B, ROOMY, B1)],
        targets=[target(max_concurrent=2)],
        in_flight=[Transfer(OLD, "farmer", "/farm/a")],
        starts=[(B1.path, "farmer", "/farm/a")],
        waits=[("farmer", "2 of 2 transfers running (max_concurrent)")],
    ),
    "transfers-spread-over-archive-dirs": Pick(
        dsts=[dst(A, FULLER, NEW, OLD)],
        targets=[target(max_concurrent=2, a=300 * GIB, b=250 * GIB)],
        starts=[(OLD.path, "farmer", "/farm/a"), (NEW.path, "farmer", "/farm/b")],
        waits=[("farmer", "2 of 2 transfers running (max_concurrent)")],
    ),
    "targets-take-turns": Pick(
        dsts=[dst(A, FULLER, NEW, OLD, plot(A, "3", age=5000))],
        targets=[target("farmer", max_concurrent=2), target("nas", max_concurrent=2)],
        starts=[
            (OLD.path, "farmer", "/farm/a"),
            (plot(A, "3", age=5000).path, "nas", "/farm/a"),
            (NEW.path, "farmer", "/farm/a"),
        ],
        waits=[
            ("farmer", "2 of 2 transfers running (max_concurrent)"),
            ("nas", "every finished plot is already on its way"),
        ],
    ),
    "a-full-target-leaves-the-plot-to-the-next": Pick(
        dsts=[dst(A, FULLER, OLD)],
        targets=[target("farmer", a=80 * GIB), target("nas")],
        starts=[(OLD.path, "nas", "/farm/a")],
        waits=[
            ("farmer", "archive dirs full (/farm/a: 80.0 GiB free, needs 101 GiB)"),
            ("nas", "1 of 1 transfer running (max_concurrent)"),
        ],
    ),
    "the-plot-on-its-way-fills-the-dir": Pick(
        dsts=[dst(A, FULLER, NEW, OLD)],
        targets=[target(max_concurrent=3, a=150 * GIB)],
        in_flight=[Transfer(OLD, "farmer", "/farm/a")],
        starts=[],
        waits=[
            (
                "farmer",
                "archive dirs full (/farm/a: 150 GiB free, needs 203 GiB "
                "(101 GiB of it for plots on their way))",
            )
        ],
    ),
    "a-target-with-a-problem-waits-with-it": Pick(
        dsts=[dst(A, FULLER, OLD)],
        targets=[
            TargetState(name="farmer", problem="farmer.lan: connection refused"),
            target("nas"),
        ],
        starts=[(OLD.path, "nas", "/farm/a")],
        waits=[
            ("farmer", "farmer.lan: connection refused"),
            ("nas", "1 of 1 transfer running (max_concurrent)"),
        ],
    ),
    "no-targets": Pick(dsts=[dst(A, FULLER, OLD)], targets=[], starts=[]),
}


@pytest.mark.parametrize("case", PICKS.values(), ids=PICKS.keys())
def test_pick_transfers(case: Pick) -> None:
    plan = pick_transfers(case.dsts, case.jobs, case.targets, case.in_flight)

    assert [(t.plot.path, t.target, t.archive_dir) for t in plan.starts] == case.starts
    assert [(w.target, w.reason) for w in plan.waits] == case.waits


def test_read_penalty_is_a_job_copying_there() -> None:
    # A transfer reading a dst disk weighs as much as a job copying its plot to it.
    assert dst_score(Phase(3, 7), None, 0, P) == dst_score(None, None, 0, P) - READ_PENALTY


def test_target_state_of_a_configured_target() -> None:
    configured = ArchiveTarget(
        name="farmer",
        type=TargetType.SSH,
        archive_dirs=("/farm/a", "/farm/b"),
        host="h",
        max_concurrent=2,
        free_space_margin_gib=3,
    )

    state = TargetState.of(configured, {"/farm/a": 5 * GIB, "/elsewhere": 1})

    assert state.name == "farmer"
    assert (state.max_concurrent, state.margin_bytes) == (2, 3 * GIB)
    assert dict(state.archive_dirs_free) == {"/farm/a": 5 * GIB, "/farm/b": None}
    assert state.problem is None


# -- properties ---------------------------------------------------------------------------------

_DSTS = ["/dst/0", "/dst/1", "/dst/2"]
_DIRS = ["/farm/a", "/farm/b", "/farm/c"]
_SIZE = 4 * MIB  # k18-ish plots keep the numbers small
_NAMES = ["t0", "t1", "t2"]


@st.composite
def farms(draw: st.DrawFn) -> tuple[list[DstState], list[TargetState], list[Transfer]]:
    plots_by_dst: dict[str, list[PlotCandidate]] = {d: [] for d in _DSTS}
    for index in range(draw(st.integers(0, 12))):
        dst_dir = draw(st.sampled_from(_DSTS))
        size = draw(st.integers(_SIZE - MIB, _SIZE + MIB))
        age = draw(st.floats(60, 10_000))
        plots_by_dst[dst_dir].append(plot(dst_dir, str(index), age=age, size=size, k=18))
    dsts = [
        DstState(d, draw(st.one_of(st.none(), st.integers(0, 100 * _SIZE))), tuple(p))
        for d, p in plots_by_dst.items()
    ]
    targets = [
        TargetState(
            name=name,
            max_concurrent=draw(st.integers(1, 3)),
            margin_bytes=draw(st.integers(0, _SIZE)),
            # Mostly usable targets, so that most examples start something.
            archive_dirs_free={
                d: draw(st.sampled_from([None, 0, 2 * _SIZE, 5 * _SIZE, 20 * _SIZE, 20 * _SIZE]))
                for d in draw(st.lists(st.sampled_from(_DIRS), unique=True, max_size=3))
            },
            problem=draw(st.sampled_from([None, None, None, "unreachable"])),
        )
        for name in _NAMES[: draw(st.integers(0, 3))]
    ]
    all_plots = [p for d in dsts for p in d.plots]
    in_flight: list[Transfer] = []
    if all_plots and targets:
        busy = draw(st.lists(st.sampled_from(all_plots), unique=True, max_size=3))
        for candidate in busy:
            to = draw(st.sampled_from(targets))
            in_flight.append(Transfer(candidate, to.name, draw(st.sampled_from(_DIRS))))
    return dsts, targets, in_flight


def _check_plan(
    plan: ArchivePlan,
    dsts: Sequence[DstState],
    targets: Sequence[TargetState],
    in_flight: Sequence[Transfer],
) -> None:
    picked = [t.plot.path for t in plan.starts]
    assert len(picked) == len(set(picked)), "a plot picked twice"
    assert not set(picked) & {t.plot.path for t in in_flight}, "a plot on its way picked again"
    known_plots = {p.path for d in dsts for p in d.plots}
    assert set(picked) <= known_plots

    by_name: Mapping[str, TargetState] = {t.name: t for t in targets}
    running = Counter(t.target for t in in_flight)
    started = Counter(t.target for t in plan.starts)
    inbound_bytes: Counter[tuple[str, str]] = Counter()
    for transfer in in_flight:
        inbound_bytes[(transfer.target, transfer.archive_dir)] += transfer.plot.size_bytes
    for transfer in plan.starts:
        state = by_name[transfer.target]
        assert state.problem is None
        assert started[transfer.target] + running[transfer.target] <= state.max_concurrent
        free = state.archive_dirs_free[transfer.archive_dir]
        assert free is not None
        key = (transfer.target, transfer.archive_dir)
        inbound_bytes[key] += transfer.plot.size_bytes
        # Every plot on its way to the dir, this one included, fits with the margin.
        assert inbound_bytes[key] + state.margin_bytes <= free
    # Every target that is not at its limit says why it starts nothing more.
    waiting = {w.target for w in plan.waits}
    assert waiting == {t.name for t in targets}
    assert all(w.reason and "\n" not in w.reason for w in plan.waits)


@settings(max_examples=400, deadline=None)
@given(farms(), st.lists(st.sampled_from(["1:1", "3:4", "3:7", "4:0", None]), max_size=4))
def test_no_plot_twice_and_max_concurrent_holds(
    farm: tuple[list[DstState], list[TargetState], list[Transfer]],
    phases: list[str | None],
) -> None:
    dsts, targets, in_flight = farm
    jobs = [job(_DSTS[i % len(_DSTS)], phase, pid=i) for i, phase in enumerate(phases)]

    plan = pick_transfers(dsts, jobs, targets, in_flight)

    _check_plan(plan, dsts, targets, in_flight)


@settings(max_examples=100, deadline=None)
@given(farms())
def test_running_the_plan_again_starts_nothing_twice(
    farm: tuple[list[DstState], list[TargetState], list[Transfer]],
) -> None:
    # The engine's next pass sees this pass's starts as in flight.
    dsts, targets, in_flight = farm
    first = pick_transfers(dsts, [], targets, in_flight)
    now_in_flight = [*in_flight, *first.starts]

    second = pick_transfers(dsts, [], targets, now_in_flight)

    _check_plan(second, dsts, targets, now_in_flight)
    assert not {t.plot.path for t in second.starts} & {t.plot.path for t in first.starts}
