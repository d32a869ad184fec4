"""The scheduler: every rule, every wait reason, the choice of dirs and the command line."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plotman_tui.config.schema import (
    ChiaOptions,
    Config,
    DirectoriesConfig,
    LoggingConfig,
    MadmaxOptions,
    PlotterType,
    PlottingConfig,
    SchedulingConfig,
    TmpOverride,
)
from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.farm.plotsize import GIB, final_plot_bytes
from plotman_tui.farm.scheduler import (
    PendingStart,
    Start,
    TmpLimits,
    Wait,
    decide,
    tmp_dir_problem,
    tmp_limits,
    tmp_need_bytes,
)
from plotman_tui.plotters.phase import Phase

TIB = 1024 * GIB
NOW = 1_700_000_000.0
LONG_AGO = NOW - 10 * 3600
T0, T1, T2, T3 = (f"/farm/tmp/t{index}" for index in range(4))
D0, D1, D2 = (f"/farm/dst/d{index}" for index in range(3))
TMP2 = "/farm/ram"
ELSEWHERE = "/mnt/other/t9"  # a tmp dir that is not in the config
FARMER = "a" * 96
CONTRACT = "xch1u8ll2ztwhseej45d6u2zp9j4mlnzhwseccr0axqws9fl2tyj5u0svdy04y"

_pids = itertools.count(1000)


def job(
    tmp: str | None = T0,
    phase: str | None = "3:1",
    *,
    dst: str | None = D0,
    started: float = LONG_AGO,
    k: int | None = 32,
    completed: bool = False,
    status: JobStatus = JobStatus.RUN,
) -> Job:
    """A job with only the fields the scheduler reads; phase None means unknown."""
    return Job(
        pid=next(_pids),
        plotter="chia",
        argv=(),
        cwd=None,
        started_at=started,
        wall_seconds=NOW - started,
        status=status,
        k=k,
        tmp_dir=tmp,
        dst_dir=dst,
        phase=None if phase is None else Phase.parse(phase),
        completed=completed,
    )


def pending(
    tmp: str = T0, dst: str = D0, *, started: float = LONG_AGO, k: int = 32
) -> PendingStart:
    return PendingStart(tmp_dir=tmp, dst_dir=dst, k=k, started_at=started)


def plotting(type: PlotterType = PlotterType.CHIA, k: int = 32, **options: Any) -> PlottingConfig:
    return PlottingConfig(
        type=type,
        farmer_pk=FARMER,
        pool_contract_address=CONTRACT,
        chia=ChiaOptions(k=k),
        madmax=MadmaxOptions(k=k),
        **options,
    )


def config(
    *,
    tmp: Sequence[str] = (T0,),
    dst: Sequence[str] = (D0,),
    tmp2: str | None = None,
    overrides: Mapping[str, TmpOverride] | None = None,
    plot: PlottingConfig | None = None,
    **scheduling: Any,
) -> Config:
    return Config(
        logging=LoggingConfig(plots=Path("/farm/logs")),
        directories=DirectoriesConfig(
            tmp=tuple(Path(path) for path in tmp),
            dst=tuple(Path(path) for path in dst),
            tmp2=Path(tmp2) if tmp2 else None,
            tmp_overrides=MappingProxyType(
                {Path(path): entry for path, entry in (overrides or {}).items()}
            ),
        ),
        scheduling=SchedulingConfig(**scheduling),
        plotting=plot or plotting(),
    )


def plenty(cfg: Config, **free: int | None) -> dict[str, int | None]:
    """10 TiB free in every configured dir, except the short names given (t0=..., d1=...)."""
    dirs = [*cfg.directories.tmp, *cfg.directories.dst]
    if cfg.directories.tmp2 is not None:
        dirs.append(cfg.directories.tmp2)
    sizes: dict[str, int | None] = {os.path.normpath(str(path)): 10 * TIB for path in dirs}
    for name, size in free.items():
        (path,) = [p for p in sizes if os.path.basename(p) == name]
        sizes[path] = size
    return sizes


# --- every wait reason ---------------------------------------------------------------------------


@dataclass
class Case:
    jobs: Sequence[Job]
    cfg: Config
    reason: str
    free: Mapping[str, int | None] = field(default_factory=dict)  # short name -> free bytes
    pending: Sequence[PendingStart] = ()


THREE_TMP = (T0, T1, T2)

WAIT_CASES = {
    "max-jobs": Case(
        jobs=[job(tmp, "3:1") for tmp in THREE_TMP for _ in range(4)],
        cfg=config(tmp=THREE_TMP, tmpdir_max_jobs=9),
        reason="max jobs (12)",
    ),
    "max-jobs-counts-unknown-phase-zombie-and-foreign-tmp": Case(
        jobs=[
            job(T0, None),
            job(T1, "3:1", status=JobStatus.ZMB),
            job(ELSEWHERE, "3:1"),
            job(None, "4:0", dst=None),
        ],
        cfg=config(tmp=THREE_TMP, global_max_jobs=4),
        reason="max jobs (4)",
    ),
    "max-jobs-counts-pending-starts": Case(
        jobs=[job(T0, "4:1")],
        pending=[pending(T1)],
        cfg=config(tmp=THREE_TMP, global_max_jobs=2),
        reason="max jobs (2)",
    ),
    "stagger": Case(
        jobs=[job(T0, "1:1", started=NOW - 177)],
        cfg=config(tmp=THREE_TMP),
        reason="stagger (177s/1800s)",
    ),
    "stagger-from-the-youngest-job": Case(
        jobs=[job(T0, "3:1", started=NOW - 5000), job(T1, "1:1", started=NOW - 1623.7)],
        cfg=config(tmp=THREE_TMP),
        reason="stagger (1623s/1800s)",
    ),
    "stagger-counts-pending-starts": Case(
        jobs=[job(T0, "3:1")],
        pending=[pending(T1, started=NOW - 60)],
        cfg=config(tmp=THREE_TMP, global_stagger_m=5),
        reason="stagger (60s/300s)",
    ),
    "max-phase-1": Case(
        jobs=[job(T0, "1:4"), job(T1, None), job(T2, "3:1")],
        cfg=config(tmp=THREE_TMP, global_max_phase1=2),
        reason="max phase 1 jobs (2)",
    ),
    "max-phase-1-counts-phase-0-and-pending": Case(
        jobs=[job(T0, "0:0")],
        pending=[pending(T1)],
        cfg=config(tmp=THREE_TMP, global_max_phase1=2),
        reason="max phase 1 jobs (2)",
    ),
    "no-eligible-tmp-every-reason": Case(
        jobs=[job(T0, "1:5"), job(T1, "3:1"), job(T1, "4:2"), job(T1, "2:1")],
        cfg=config(tmp=(T0, T1, T2, T3)),
        free={"t2": 80 * GIB, "t3": None},
        reason=(
            "no eligible tmp dirs (tmp t0: 1 before 2:1; tmp t1: max jobs 3; "
            "tmp t2: low space (80.0 GiB free, needs 239 GiB); tmp t3: free space unknown)"
        ),
    ),
    "tmp-unknown-phase-is-before-the-milestone": Case(
        jobs=[job(T0, None)],
        cfg=config(),
        reason="no eligible tmp dirs (tmp t0: 1 before 2:1)",
    ),
    "tmp-phase-0-is-before-the-milestone": Case(
        jobs=[job(T0, "0:0")],
        cfg=config(),
        reason="no eligible tmp dirs (tmp t0: 1 before 2:1)",
    ),
    "tmp-pending-start-is-before-the-milestone": Case(
        jobs=[],
        pending=[pending(T0)],
        cfg=config(),
        reason="no eligible tmp dirs (tmp t0: 1 before 2:1)",
    ),
    "tmp-phase-limit-counts-all-jobs-before": Case(
        jobs=[job(T0, "1:1"), job(T0, None), job(T0, "2:0")],
        cfg=config(tmpdir_stagger_phase_limit=3, tmpdir_max_jobs=5),
        reason="no eligible tmp dirs (tmp t0: 3 before 2:1)",
    ),
    "tmp-max-jobs-counts-unknown-phase": Case(
        jobs=[job(T0, "3:1"), job(T0, None)],
        cfg=config(tmpdir_stagger_phase_limit=5, tmpdir_max_jobs=2),
        reason="no eligible tmp dirs (tmp t0: max jobs 2)",
    ),
    "tmp-free-space-missing-from-the-sample": Case(
        jobs=[],
        cfg=config(),
        free={"t0": None},
        reason="no eligible tmp dirs (tmp t0: free space unknown)",
    ),
    "tmp-min-free-gib": Case(
        jobs=[],
        cfg=config(tmp_min_free_gib=500),
        free={"t0": 400 * GIB},
        reason="no eligible tmp dirs (tmp t0: low space (400 GiB free, needs 500 GiB))",
    ),
    "tmp-madmax-with-tmp2": Case(
        jobs=[],
        cfg=config(tmp2=TMP2, plot=plotting(PlotterType.MADMAX)),
        free={"t0": 200 * GIB},
        reason="no eligible tmp dirs (tmp t0: low space (200 GiB free, needs 220 GiB))",
    ),
    "tmp-madmax-without-tmp2": Case(
        jobs=[],
        cfg=config(plot=plotting(PlotterType.MADMAX)),
        free={"t0": 240 * GIB},
        reason="no eligible tmp dirs (tmp t0: low space (240 GiB free, needs 256 GiB))",
    ),
    "dst-full": Case(
        jobs=[],
        cfg=config(),
        free={"d0": 80 * GIB},
        reason="dst full (dst d0: 80.0 GiB free, needs 104 GiB)",
    ),
    "dst-full-counts-every-plot-headed-there": Case(
        # Inbound jobs on a tmp dir outside the config, so only the dst rule is in play; a
        # finished job's plot is already on the disk and not counted again.
        jobs=[
            job(ELSEWHERE, "3:1", dst=D1),
            job(ELSEWHERE, "4:1", dst=D1, k=None),
            job(ELSEWHERE, "5:3", dst=D0, completed=True),
        ],
        cfg=config(dst=(D0, D1)),
        free={"d0": 80 * GIB, "d1": 300 * GIB},
        reason=(
            "dst full (dst d0: 80.0 GiB free, needs 104 GiB; dst d1: 300 GiB free, needs 313 GiB)"
        ),
    ),
    "dst-full-counts-pending-starts": Case(
        jobs=[],
        pending=[pending(T1, D0)],
        cfg=config(tmp=(T0, T1)),
        free={"d0": 150 * GIB},
        reason="dst full (dst d0: 150 GiB free, needs 209 GiB)",
    ),
    "dst-full-keeps-the-configured-reserve": Case(
        jobs=[],
        cfg=config(dst_min_free_gib=100),
        free={"d0": 150 * GIB},
        reason="dst full (dst d0: 150 GiB free, needs 204 GiB)",
    ),
    "no-dst-dirs-the-reserve-applies-to-the-tmp-dir": Case(
        jobs=[],
        cfg=config(dst=(), tmp_min_free_gib=100, dst_min_free_gib=100),
        free={"t0": 150 * GIB},
        reason="dst full (tmp t0: 150 GiB free, needs 204 GiB)",
    ),
    "dst-full-uses-each-jobs-own-k": Case(
        jobs=[job(ELSEWHERE, "3:1", dst=D0, k=34)],
        cfg=config(),
        free={"d0": 500 * GIB},
        reason="dst full (dst d0: 500 GiB free, needs 548 GiB)",
    ),
    "no-eligible-dst-with-unknown-free-space": Case(
        jobs=[],
        cfg=config(dst=(D0, D1)),
        free={"d0": None, "d1": 80 * GIB},
        reason=(
            "no eligible dst dirs (dst d0: free space unknown; "
            "dst d1: 80.0 GiB free, needs 104 GiB)"
        ),
    ),
    "no-dst-dirs-the-tmp-dir-must-hold-the-plots": Case(
        jobs=[job(T0, "3:1", dst=T0)],
        cfg=config(dst=(), tmp_min_free_gib=100),
        free={"t0": 150 * GIB},
        reason="dst full (tmp t0: 150 GiB free, needs 209 GiB)",
    ),
    "no-tmp-dirs": Case(jobs=[], cfg=config(tmp=()), reason="no tmp dirs configured"),
    # The first failing check is the reason: max jobs, stagger, phase 1, tmp, dst.
    "order-max-jobs-before-stagger": Case(
        jobs=[job(T0, "1:1", started=NOW - 10)],
        cfg=config(global_max_jobs=1),
        reason="max jobs (1)",
    ),
    "order-stagger-before-max-phase-1": Case(
        jobs=[job(T1, "1:1", started=NOW - 10)],
        cfg=config(tmp=(T0, T1), global_max_phase1=1),
        reason="stagger (10s/1800s)",
    ),
    "order-max-phase-1-before-tmp": Case(
        jobs=[job(T0, "1:1")],
        cfg=config(global_max_phase1=1),
        reason="max phase 1 jobs (1)",
    ),
    "order-tmp-before-dst": Case(
        jobs=[],
        cfg=config(),
        free={"t0": 10 * GIB, "d0": 10 * GIB},
        reason="no eligible tmp dirs (tmp t0: low space (10.0 GiB free, needs 239 GiB))",
    ),
}


@pytest.mark.parametrize("case", WAIT_CASES.values(), ids=WAIT_CASES.keys())
def test_wait_reason(case: Case) -> None:
    free = plenty(case.cfg, **case.free)
    assert decide(case.jobs, case.cfg, NOW, free, case.pending) == Wait(case.reason)


@pytest.mark.parametrize(
    ("jobs", "stagger_m"),
    [
        ([job(T0, "1:1", started=NOW - 1800)], 30),
        ([job(T0, "1:1", started=NOW - 10)], 0),
    ],
    ids=["exactly-the-stagger", "no-stagger"],
)
def test_stagger_allows_a_start(jobs: list[Job], stagger_m: int) -> None:
    cfg = config(tmp=(T0, T1), global_stagger_m=stagger_m)
    assert isinstance(decide(jobs, cfg, NOW, plenty(cfg)), Start)


@pytest.mark.parametrize(
    ("jobs", "max_phase1"),
    [
        ([job(T0, "1:7"), job(T1, "2:1")], 2),
        ([job(T0, "1:7"), job(T1, "1:1")], None),
    ],
    ids=["phase-2-does-not-count", "no-limit"],
)
def test_max_phase1_allows_a_start(jobs: list[Job], max_phase1: int | None) -> None:
    cfg = config(tmp=(T0, T1, T2), global_max_phase1=max_phase1)
    start = decide(jobs, cfg, NOW, plenty(cfg))
    assert isinstance(start, Start)
    assert start.tmp_dir == T2


def test_free_space_keys_are_normalised() -> None:
    cfg = config()
    free = {T0 + "/": 10 * TIB, "/farm/dst/./d0": 10 * TIB}
    assert isinstance(decide([], cfg, NOW, free), Start)


# --- per-dir overrides ---------------------------------------------------------------------------

OVERRIDE_CASES: dict[str, tuple[dict[str, TmpOverride], list[Job], str]] = {
    "max-jobs-key-with-trailing-slash": (
        {T0 + "/": TmpOverride(tmpdir_max_jobs=1)},
        [job(T0, "3:1")],
        "no eligible tmp dirs (tmp t0: max jobs 1)",
    ),
    "max-jobs-key-with-dot-dot": (
        {"/farm/tmp/x/../t0": TmpOverride(tmpdir_max_jobs=1)},
        [job(T0, "3:1")],
        "no eligible tmp dirs (tmp t0: max jobs 1)",
    ),
    "job-dir-with-trailing-slash": (
        {T0: TmpOverride(tmpdir_max_jobs=1)},
        [job(T0 + "/", "3:1")],
        "no eligible tmp dirs (tmp t0: max jobs 1)",
    ),
    "milestone": (
        {T0: TmpOverride(tmpdir_stagger_phase_major=3, tmpdir_stagger_phase_minor=0)},
        [job(T0, "2:5")],
        "no eligible tmp dirs (tmp t0: 1 before 3:0)",
    ),
    "milestone-minor-only": (
        {T0: TmpOverride(tmpdir_stagger_phase_minor=6)},
        [job(T0, "2:5")],
        "no eligible tmp dirs (tmp t0: 1 before 2:6)",
    ),
    "none-fields-fall-back-to-global": (
        {T0: TmpOverride()},
        [job(T0, "1:1")],
        "no eligible tmp dirs (tmp t0: 1 before 2:1)",
    ),
    "other-dir-override-does-not-apply": (
        {T1: TmpOverride(tmpdir_stagger_phase_limit=5)},
        [job(T0, "1:1")],
        "no eligible tmp dirs (tmp t0: 1 before 2:1)",
    ),
}


@pytest.mark.parametrize(
    ("overrides", "jobs", "reason"), OVERRIDE_CASES.values(), ids=OVERRIDE_CASES.keys()
)
def test_override_makes_a_dir_wait(
    overrides: dict[str, TmpOverride], jobs: list[Job], reason: str
) -> None:
    cfg = config(overrides=overrides)
    assert decide(jobs, cfg, NOW, plenty(cfg)) == Wait(reason)


@pytest.mark.parametrize(
    ("override", "jobs"),
    [
        (TmpOverride(tmpdir_stagger_phase_limit=2), [job(T0, "1:1")]),
        (TmpOverride(tmpdir_stagger_phase_major=1, tmpdir_stagger_phase_minor=0), [job(T0, "1:1")]),
        (TmpOverride(tmpdir_max_jobs=5), [job(T0, "3:1") for _ in range(4)]),
    ],
    ids=["phase-limit", "earlier-milestone", "max-jobs"],
)
def test_override_lets_a_dir_start_what_the_global_rule_refuses(
    override: TmpOverride, jobs: list[Job]
) -> None:
    without = config()
    assert isinstance(decide(jobs, without, NOW, plenty(without)), Wait)
    cfg = config(overrides={T0 + "/": override})
    start = decide(jobs, cfg, NOW, plenty(cfg))
    assert isinstance(start, Start)
    assert start.tmp_dir == T0


def test_tmp_limits_merge_override_and_global() -> None:
    cfg = config(
        overrides={"/farm/tmp/t0/": TmpOverride(tmpdir_stagger_phase_minor=4, tmpdir_max_jobs=7)},
        tmpdir_stagger_phase_major=3,
        tmpdir_stagger_phase_limit=2,
    )
    assert tmp_limits(cfg, "/farm/tmp/t0") == TmpLimits(Phase(3, 4), phase_limit=2, max_jobs=7)
    assert tmp_limits(cfg, "/farm/tmp/t1") == TmpLimits(Phase(3, 1), phase_limit=2, max_jobs=3)


# --- choosing the tmp dir ------------------------------------------------------------------------

TMP_CHOICE_CASES: dict[str, tuple[list[Job], dict[str, Any], str]] = {
    "furthest-along": ([job(T0, "3:4"), job(T1, "4:1"), job(T2, "2:2")], {}, T1),
    "empty-dir-ranks-highest": ([job(T0, "4:1"), job(T1, "5:1")], {}, T2),
    "least-advanced-job-decides": (
        [job(T0, "4:1"), job(T0, "2:1"), job(T1, "3:1"), job(T2, "2:2")],
        {},
        T1,
    ),
    "unknown-phase-ranks-lowest": (
        [job(T0, None), job(T1, "1:1"), job(T2, "0:0")],
        {"tmpdir_stagger_phase_limit": 2},
        T1,
    ),
    "ties-by-config-order-empty": ([], {}, T0),
    "ties-by-config-order-same-phase": ([job(T0, "3:1"), job(T1, "3:1"), job(T2, "3:1")], {}, T0),
    "ineligible-dirs-are-skipped": (
        [job(T0, "1:1"), job(T1, "3:1"), job(T1, "3:1"), job(T1, "3:1"), job(T2, "2:1")],
        {},
        T2,
    ),
}


@pytest.mark.parametrize(
    ("jobs", "scheduling", "chosen"), TMP_CHOICE_CASES.values(), ids=TMP_CHOICE_CASES.keys()
)
def test_tmp_choice(jobs: list[Job], scheduling: dict[str, Any], chosen: str) -> None:
    cfg = config(tmp=THREE_TMP, **scheduling)
    start = decide(jobs, cfg, NOW, plenty(cfg))
    assert isinstance(start, Start)
    assert start.tmp_dir == chosen


def test_tmp_choice_skips_a_dir_without_space() -> None:
    cfg = config(tmp=THREE_TMP)
    start = decide([job(T1, "3:1")], cfg, NOW, plenty(cfg, t0=100 * GIB, t2=None))
    assert isinstance(start, Start)
    assert start.tmp_dir == T1


# --- choosing the dst dir ------------------------------------------------------------------------

DST_CHOICE_CASES: dict[str, tuple[list[Job], list[PendingStart], dict[str, int | None], str]] = {
    "no-inbound-before-more-space": (
        [job(ELSEWHERE, "3:1", dst=D0)],
        [],
        {"d0": 8 * TIB, "d1": 1 * TIB, "d2": 2 * TIB},
        D2,
    ),
    "most-free-space": ([], [], {"d0": 1 * TIB, "d1": 3 * TIB, "d2": 2 * TIB}, D1),
    "ties-by-config-order": ([], [], {"d0": 1 * TIB, "d1": 2 * TIB, "d2": 2 * TIB}, D1),
    "finished-plots-are-not-inbound": (
        [job(ELSEWHERE, "5:3", dst=D0, completed=True)],
        [],
        {"d0": 3 * TIB, "d1": 2 * TIB, "d2": 2 * TIB},
        D0,
    ),
    "full-and-unknown-dsts-are-skipped": (
        [job(ELSEWHERE, "3:1", dst=D1)],
        [],
        {"d0": 50 * GIB, "d1": 1 * TIB, "d2": None},
        D1,
    ),
    "all-inbound-most-space": (
        [job(ELSEWHERE, "3:1", dst=dst) for dst in (D0, D1, D2)],
        [],
        {"d0": 1 * TIB, "d1": 2 * TIB, "d2": 3 * TIB},
        D2,
    ),
    "pending-start-is-inbound": (
        [],
        [pending(T1, D0)],
        {"d0": 3 * TIB, "d1": 2 * TIB, "d2": 1 * TIB},
        D1,
    ),
    "dst-dir-with-trailing-slash-is-inbound": (
        [job(ELSEWHERE, "3:1", dst=D0 + "/")],
        [],
        {"d0": 3 * TIB, "d1": 2 * TIB, "d2": 1 * TIB},
        D1,
    ),
}


@pytest.mark.parametrize(
    ("jobs", "pendings", "free", "chosen"),
    DST_CHOICE_CASES.values(),
    ids=DST_CHOICE_CASES.keys(),
)
def test_dst_choice(
    jobs: list[Job], pendings: list[PendingStart], free: dict[str, int | None], chosen: str
) -> None:
    cfg = config(tmp=(T0, T1), dst=(D0, D1, D2), global_stagger_m=0)
    start = decide(jobs, cfg, NOW, plenty(cfg, **free), pendings)
    assert isinstance(start, Start)
    assert start.dst_dir == chosen


def test_the_same_input_gives_the_same_decision() -> None:
    cfg = config(tmp=THREE_TMP, dst=(D0, D1, D2))
    jobs = [job(T0, "3:1", dst=D1), job(T1, "4:1", dst=D0), job(ELSEWHERE, None, dst=D2)]
    free = plenty(cfg, d0=2 * TIB, d1=2 * TIB, d2=2 * TIB)
    first = decide(jobs, cfg, NOW, free)
    assert all(decide(list(reversed(jobs)), cfg, NOW, dict(free)) == first for _ in range(5))


@pytest.mark.parametrize(
    ("jobs", "free", "reason"),
    [
        (
            [],
            {"d0": 1 * TIB, "d1": 2 * TIB},
            "tmp t0: ready (empty); dst d1: no plot headed there, 2.0 TiB free",
        ),
        (
            [job(T0, "3:1", dst=D1), job(T1, "4:2", dst=D0)],
            {"d0": 1 * TIB, "d1": 2 * TIB},
            "tmp t1: ready (slowest job at 4:2); dst d1: most space, 2.0 TiB free",
        ),
        (
            [job(T0, "3:1", dst=D1), job(T1, "4:2", dst=D0)],
            {"d0": 50 * GIB, "d1": 2 * TIB},
            "tmp t1: ready (slowest job at 4:2); dst d1: only dst with room, 2.0 TiB free",
        ),
    ],
    ids=["empty", "most-space", "only-room"],
)
def test_start_reason(jobs: list[Job], free: dict[str, int], reason: str) -> None:
    cfg = config(tmp=(T0, T1), dst=(D0, D1))
    start = decide(jobs, cfg, NOW, plenty(cfg, **free))
    assert isinstance(start, Start)
    assert start.reason == reason


# --- no dst dirs: the plot stays in its tmp dir --------------------------------------------------


def test_without_dst_dirs_the_plot_stays_in_the_tmp_dir() -> None:
    cfg = config(tmp=(T0, T1), dst=())
    start = decide([job(T0, "3:1", dst=T0)], cfg, NOW, plenty(cfg))
    assert isinstance(start, Start)
    assert (start.tmp_dir, start.dst_dir) == (T1, T1)
    assert start.argv[start.argv.index("-d") + 1] == T1
    assert start.reason == "tmp t1: ready (empty); plot stays in the tmp dir (no dst dirs)"


def test_without_dst_dirs_a_tmp_dir_without_room_for_the_plots_is_passed_over() -> None:
    # t0 ranks first (its job is further along) but cannot also hold the plots headed there.
    cfg = config(tmp=(T0, T1), dst=(), tmp_min_free_gib=100)
    jobs = [job(T0, "4:1", dst=T0), job(T0, "4:1", dst=T0), job(T1, "3:1", dst=T1)]
    start = decide(jobs, cfg, NOW, plenty(cfg, t0=250 * GIB, t1=250 * GIB))
    assert isinstance(start, Start)
    assert (start.tmp_dir, start.dst_dir) == (T1, T1)
    start = decide(jobs, cfg, NOW, plenty(cfg, t0=350 * GIB, t1=250 * GIB))
    assert isinstance(start, Start)
    assert (start.tmp_dir, start.dst_dir) == (T0, T0)


# --- the command line ----------------------------------------------------------------------------


def test_argv_for_chia() -> None:
    cfg = config(tmp2=TMP2)
    start = decide([], cfg, NOW, plenty(cfg))
    assert start == Start(
        tmp_dir=T0,
        tmp2_dir=TMP2,
        dst_dir=D0,
        argv=(
            *["chia", "plots", "create", "-k", "32", "-r", "2", "-u", "128", "-b", "3389"],
            *("-t", T0, "-2", TMP2, "-d", D0, "-f", FARMER, "-c", CONTRACT),
        ),
        k=32,
        reason="tmp t0: ready (empty); dst d0: no plot headed there, 10.0 TiB free",
    )


def test_argv_for_madmax() -> None:
    cfg = config(tmp2=TMP2, plot=plotting(PlotterType.MADMAX))
    start = decide([], cfg, NOW, plenty(cfg))
    assert isinstance(start, Start)
    assert start.argv == (
        *["chia_plot", "-n", "1", "-r", "4", "-u", "256", "-v", "256"],
        *("-t", T0 + "/", "-2", TMP2 + "/", "-d", D0 + "/", "-K", "1"),
        *("-f", FARMER, "-c", CONTRACT),
    )
    assert (start.tmp_dir, start.tmp2_dir, start.dst_dir, start.k) == (T0, TMP2, D0, 32)


def test_sandbox_k22_needs_little_space() -> None:
    cfg = config(plot=plotting(k=22))
    start = decide([], cfg, NOW, plenty(cfg, t0=1 * GIB, d0=1 * GIB))
    assert isinstance(start, Start)
    assert start.k == 22
    assert start.tmp2_dir is None
    assert start.argv[:6] == ("chia", "plots", "create", "-k", "22", "--override-k")
    assert "-2" not in start.argv


def test_tmp_need_default_and_override() -> None:
    assert tmp_need_bytes(config()) == 239 * GIB
    assert tmp_need_bytes(config(tmp2=TMP2, plot=plotting(PlotterType.MADMAX))) == 220 * GIB
    assert tmp_need_bytes(config(tmp_min_free_gib=7)) == 7 * GIB
    nobitfield = PlottingConfig(chia=ChiaOptions(e=True))
    assert tmp_need_bytes(config(plot=nobitfield)) == 332 * GIB


# --- properties over random farms ----------------------------------------------------------------

TMP_CHOICES = (T0, T1, T2)
DST_CHOICES = (D0, D1)
Farm = tuple[Config, list[Job], list[PendingStart], dict[str, int | None]]


@st.composite
def farms(draw: st.DrawFn) -> Farm:
    use_dst = draw(st.booleans())
    override = draw(
        st.none()
        | st.builds(
            TmpOverride,
            st.none() | st.integers(0, 4),
            st.none() | st.integers(0, 7),
            st.none() | st.integers(1, 4),
            st.none() | st.integers(1, 5),
        )
    )
    cfg = config(
        tmp=TMP_CHOICES,
        dst=DST_CHOICES if use_dst else (),
        overrides={T0 + "/": override} if override else None,
        global_max_jobs=draw(st.integers(1, 15)),
        global_stagger_m=draw(st.integers(0, 60)),
        tmpdir_max_jobs=draw(st.integers(1, 5)),
        tmpdir_stagger_phase_limit=draw(st.integers(1, 4)),
        tmpdir_stagger_phase_major=draw(st.integers(0, 3)),
        tmpdir_stagger_phase_minor=draw(st.integers(0, 7)),
        global_max_phase1=draw(st.none() | st.integers(1, 6)),
        plot=plotting(k=draw(st.sampled_from([22, 32]))),
    )
    jobs = draw(
        st.lists(
            st.builds(
                job,
                st.sampled_from([*TMP_CHOICES, T0 + "/", ELSEWHERE]) | st.none(),
                st.none() | st.sampled_from(["0:0", "1:3", "2:1", "2:7", "3:4", "4:1", "5:2"]),
                dst=st.sampled_from([*DST_CHOICES, *TMP_CHOICES]) | st.none(),
                started=st.floats(NOW - 50_000, NOW),
                k=st.none() | st.sampled_from([22, 32, 33]),
                completed=st.booleans(),
                status=st.sampled_from(list(JobStatus)),
            ),
            max_size=6,
        )
    )
    pendings = draw(
        st.lists(
            st.builds(
                pending,
                st.sampled_from(TMP_CHOICES),
                st.sampled_from([*DST_CHOICES, *TMP_CHOICES]),
                started=st.floats(NOW - 50_000, NOW),
                k=st.sampled_from([22, 32]),
            ),
            max_size=2,
        )
    )
    # Sizes around the k32 needs (239 GiB temp, 104 GiB a plot) and far above them.
    sizes = st.sampled_from(
        [None, 0, 100 * GIB, 238 * GIB, 239 * GIB, 300 * GIB, 1 * TIB, 3 * TIB, 3 * TIB]
    ) | st.integers(0, 3 * TIB)
    free = {path: draw(sizes) for path in [*TMP_CHOICES, *DST_CHOICES]}
    return cfg, jobs, pendings, free


def _limits(cfg: Config, tmp: str) -> tuple[Phase, int, int]:
    """The test's own reading of a dir's limits: milestone, phase limit, max jobs."""
    sched = cfg.scheduling
    entry = next(
        (e for p, e in cfg.directories.tmp_overrides.items() if os.path.normpath(p) == tmp),
        TmpOverride(),
    )

    def pick(value: int | None, default: int) -> int:
        return default if value is None else value

    milestone = Phase(
        pick(entry.tmpdir_stagger_phase_major, sched.tmpdir_stagger_phase_major),
        pick(entry.tmpdir_stagger_phase_minor, sched.tmpdir_stagger_phase_minor),
    )
    limit = pick(entry.tmpdir_stagger_phase_limit, sched.tmpdir_stagger_phase_limit)
    return milestone, limit, pick(entry.tmpdir_max_jobs, sched.tmpdir_max_jobs)


@dataclass(frozen=True)
class Seen:
    """A job or a pending start, as the rules see it (normalised dirs; phase None: unknown)."""

    tmp_dir: str | None
    dst_dir: str | None
    phase: Phase | None
    started_at: float
    k: int | None
    completed: bool


def _seen(jobs: Sequence[Job], pendings: Sequence[PendingStart]) -> list[Seen]:
    def norm(path: str | None) -> str | None:
        return os.path.normpath(path) if path else None

    return [
        Seen(norm(j.tmp_dir), norm(j.dst_dir), j.phase, j.started_at, j.k, j.completed)
        for j in jobs
    ] + [Seen(p.tmp_dir, p.dst_dir, None, p.started_at, p.k, False) for p in pendings]


def _assert_start_keeps_the_rules(
    cfg: Config, seen: Sequence[Seen], free: Mapping[str, int | None], start: Start, now: float
) -> None:
    sched = cfg.scheduling
    assert len(seen) < sched.global_max_jobs
    if seen:
        assert now - max(item.started_at for item in seen) >= sched.global_stagger_m * 60
    if sched.global_max_phase1 is not None:
        in_phase1 = [item for item in seen if item.phase is None or item.phase.major <= 1]
        assert len(in_phase1) < sched.global_max_phase1
    assert start.tmp_dir in TMP_CHOICES
    milestone, phase_limit, max_jobs = _limits(cfg, start.tmp_dir)
    here = [item for item in seen if item.tmp_dir == start.tmp_dir]
    assert len(here) < max_jobs
    before = [item for item in here if item.phase is None or item.phase < milestone]
    assert len(before) < phase_limit
    tmp_free = free[start.tmp_dir]
    assert tmp_free is not None
    assert tmp_free >= tmp_need_bytes(cfg)
    if cfg.directories.dst:
        assert start.dst_dir in DST_CHOICES
    else:
        assert start.dst_dir == start.tmp_dir
    inbound = [item for item in seen if item.dst_dir == start.dst_dir and not item.completed]
    dst_free = free[start.dst_dir]
    assert dst_free is not None
    needed = final_plot_bytes(start.k) + sum(final_plot_bytes(i.k or start.k) for i in inbound)
    assert dst_free >= needed


@settings(max_examples=400, deadline=None)
@given(farms())
def test_a_start_never_breaks_a_limit(farm: Farm) -> None:
    cfg, jobs, pendings, free = farm
    decision = decide(jobs, cfg, NOW, free, pendings)
    if isinstance(decision, Start):
        _assert_start_keeps_the_rules(cfg, _seen(jobs, pendings), free, decision, NOW)
    else:
        assert decision.reason


@settings(max_examples=150, deadline=None)
@given(farms(), st.integers(1, 30))
def test_starting_whatever_it_says_never_breaks_a_limit(farm: Farm, rounds: int) -> None:
    # The engine's loop: start what decide says, remember it as pending, ask again later.
    cfg, jobs, pendings, free = farm
    now = NOW
    started: list[PendingStart] = []
    for _ in range(rounds):
        decision = decide(jobs, cfg, now, free, [*pendings, *started])
        if isinstance(decision, Start):
            seen = _seen(jobs, [*pendings, *started])
            _assert_start_keeps_the_rules(cfg, seen, free, decision, now)
            started.append(pending(decision.tmp_dir, decision.dst_dir, started=now))
        now += 600
    if started:
        assert len(jobs) + len(pendings) + len(started) <= cfg.scheduling.global_max_jobs
    seen = _seen(jobs, [*pendings, *started])
    for tmp in {start.tmp_dir for start in started}:
        _, _, max_jobs = _limits(cfg, tmp)
        assert sum(1 for item in seen if item.tmp_dir == tmp) <= max_jobs


def test_tmp_dir_problem_is_the_per_dir_rule_decide_uses() -> None:
    cfg = config(tmp=(T0, T1), tmpdir_max_jobs=2)
    free = plenty(cfg, t1=10 * GIB)
    jobs = [job(T0, "1:3")]
    result = decide(jobs, cfg, NOW, free)
    assert isinstance(result, Wait)
    problems = [tmp_dir_problem(cfg, tmp, [j.phase for j in jobs if j.tmp_dir == tmp], free[tmp])
                for tmp in (T0, T1)]  # fmt: skip
    assert problems[0] == "1 before 2:1"
    assert problems[1].startswith("low space (10.0 GiB free, needs ")
    assert result.reason == f"no eligible tmp dirs (tmp t0: {problems[0]}; tmp t1: {problems[1]})"
    assert tmp_dir_problem(cfg, T0, [], free[T0]) is None
    assert tmp_dir_problem(cfg, T0, [None, None], free[T0]) == "max jobs 2"
