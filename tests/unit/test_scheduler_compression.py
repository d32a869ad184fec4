"""The scheduler and compressed plots: a dst dir's room is counted in plots of their own size.

Every plot used to count as an uncompressed one (104.5 GiB planned for k32), so a dst with room
for nine C7 plots waited as if it held seven. Now each plot headed to a dst counts at its own
level and k, and the new one at the configured plotter's level.
"""

from __future__ import annotations

import itertools

import pytest

from plotman_tui.config.schema import (
    BladebitCudaOptions,
    GigahorseOptions,
    PlotterType,
    PlottingConfig,
)
from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.farm.plotsize import GIB, final_plot_bytes
from plotman_tui.farm.scheduler import PendingStart, Start, Wait, decide, tmp_need_bytes
from plotman_tui.farm.units import human_bytes
from plotman_tui.plotters.phase import Phase
from tests.unit.test_scheduler import (
    CONTRACT,
    D0,
    FARMER,
    LONG_AGO,
    NOW,
    T0,
    T1,
    config,
    plenty,
)

C7_K32 = final_plot_bytes(32, 7, "bladebit_cuda")
UNCOMPRESSED_K32 = final_plot_bytes(32)

_pids = itertools.count(5000)


def cuda(compress: int) -> PlottingConfig:
    return PlottingConfig(
        type=PlotterType.BLADEBIT_CUDA,
        farmer_pk=FARMER,
        pool_contract_address=CONTRACT,
        bladebit_cuda=BladebitCudaOptions(compress=compress),
    )


def cuda_job(compression: int | None, *, tmp: str = T0, plotter: str = "bladebit_cuda") -> Job:
    """A job headed to D0, in phase 2, whose plot has ``compression`` (None: not known)."""
    return Job(
        pid=next(_pids),
        plotter=plotter,
        argv=(),
        cwd=None,
        started_at=LONG_AGO,
        wall_seconds=NOW - LONG_AGO,
        status=JobStatus.RUN,
        k=32,
        tmp_dir=tmp,
        dst_dir=D0,
        compression=compression,
        phase=Phase(2, 1),
    )


def test_a_dst_with_room_for_one_c7_plot_starts_a_c7_job_and_not_an_uncompressed_one() -> None:
    free = C7_K32 + 5 * GIB  # 85.4 GiB: a C7 plot (80.4 GiB planned) fits, 104.5 GiB does not
    assert C7_K32 < free < UNCOMPRESSED_K32
    c7 = config(plot=cuda(7), global_stagger_m=0)
    start = decide([], c7, NOW, plenty(c7, d0=free))
    assert isinstance(start, Start)
    assert start.dst_dir == D0
    assert start.argv[start.argv.index("--compress") + 1] == "7"
    uncompressed = config(plot=cuda(0), global_stagger_m=0)
    wait = decide([], uncompressed, NOW, plenty(uncompressed, d0=free))
    # The wording a farmer knows, with the size of the plot this config makes.
    assert wait == Wait(
        f"dst full (dst d0: {human_bytes(free)} free, needs {human_bytes(UNCOMPRESSED_K32)})"
    )


def test_plots_headed_to_a_dst_count_at_their_own_level() -> None:
    # Room for three C7 plots: two already on their way, the third starts.
    cfg = config(tmp=(T0, T1), plot=cuda(7), global_stagger_m=0, tmpdir_max_jobs=5)
    free = 3 * C7_K32 + GIB
    assert free < 3 * UNCOMPRESSED_K32
    inbound = [cuda_job(7), cuda_job(7, tmp=T1)]
    assert isinstance(decide(inbound, cfg, NOW, plenty(cfg, d0=free)), Start)
    # The same jobs with a level not known yet plan as uncompressed: the largest they can be.
    unknown = [cuda_job(None), cuda_job(None, tmp=T1)]
    wait = decide(unknown, cfg, NOW, plenty(cfg, d0=free))
    needed = 2 * UNCOMPRESSED_K32 + C7_K32
    assert wait == Wait(f"dst full (dst d0: {human_bytes(free)} free, needs {human_bytes(needed)})")


def test_an_uncompressed_plot_on_its_way_counts_in_full_for_a_compressed_start() -> None:
    cfg = config(tmp=(T0, T1), plot=cuda(7), global_stagger_m=0, tmpdir_max_jobs=5)
    free = UNCOMPRESSED_K32 + C7_K32 - GIB
    jobs = [cuda_job(0)]
    wait = decide(jobs, cfg, NOW, plenty(cfg, d0=free))
    assert isinstance(wait, Wait) and wait.reason.startswith("dst full")
    assert isinstance(decide(jobs, cfg, NOW, plenty(cfg, d0=free + 2 * GIB)), Start)


def test_a_gigahorse_plot_counts_at_gigahorses_size_for_its_level() -> None:
    # Gigahorse's C7 k32 plot is 74.6 GiB, BladeBit's 78.0: two Gigahorse C7 plots and a new
    # BladeBit C7 one fit where two BladeBit ones and a third would not.
    cfg = config(tmp=(T0, T1), plot=cuda(7), global_stagger_m=0, tmpdir_max_jobs=5)
    gigahorse_c7 = final_plot_bytes(32, 7, "gigahorse")
    free = 2 * gigahorse_c7 + C7_K32 + GIB
    assert free < 3 * C7_K32
    jobs = [cuda_job(7, plotter="gigahorse"), cuda_job(7, tmp=T1, plotter="gigahorse")]
    assert isinstance(decide(jobs, cfg, NOW, plenty(cfg, d0=free)), Start)
    same_level_bladebit = [cuda_job(7), cuda_job(7, tmp=T1)]
    assert isinstance(decide(same_level_bladebit, cfg, NOW, plenty(cfg, d0=free)), Wait)


@pytest.mark.parametrize(("level", "fits"), [(None, True), (7, True), (0, False)])
def test_a_start_the_scan_does_not_show_yet_counts_at_its_level(
    level: int | None, fits: bool
) -> None:
    # None: the configured plotter's level (C7 here), as this process started it.
    cfg = config(tmp=(T0, T1), plot=cuda(7), global_stagger_m=0, tmpdir_max_jobs=5)
    free = 2 * C7_K32 + GIB
    started = PendingStart(tmp_dir=T1, dst_dir=D0, k=32, started_at=LONG_AGO, compression=level)
    decision = decide([], cfg, NOW, plenty(cfg, d0=free), [started])
    assert isinstance(decision, Start if fits else Wait)


def test_gigahorse_needs_one_compressed_plot_in_its_tmp_dir() -> None:
    plot = PlottingConfig(
        type=PlotterType.GIGAHORSE,
        farmer_pk=FARMER,
        pool_contract_address=CONTRACT,
        gigahorse=GigahorseOptions(compression=18),
    )
    need = tmp_need_bytes(config(plot=plot))
    assert need == final_plot_bytes(32, 18, "gigahorse")
    assert 59.65 * GIB < need < 62 * GIB
