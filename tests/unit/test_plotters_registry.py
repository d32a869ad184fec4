"""The plotter registry: every plotter, found by name or by a process command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plotman_tui.config.schema import (
    Bladebit2DiskOptions,
    BladebitCudaOptions,
    BladebitOptions,
    ChiaOptions,
    GigahorseOptions,
    MadmaxOptions,
    PlotterType,
    PlottingConfig,
)
from plotman_tui.plotters import PLOTTERS, get_plotter, identify
from plotman_tui.plotters.limits import PLOTTER_NAMES

FARMER = "ab" * 48
CONTRACT = "xch1u8ll2ztwhseej45d6u2zp9j4mlnzhwseccr0axqws9fl2tyj5u0svdy04y"


def test_one_plotter_per_config_type() -> None:
    assert [plotter.name for plotter in PLOTTERS] == [kind.value for kind in PlotterType]
    assert list(PLOTTER_NAMES) == [kind.value for kind in PlotterType]
    for kind in PlotterType:
        assert get_plotter(kind).name == kind.value
        assert get_plotter(kind.value) is get_plotter(kind)


def test_unknown_plotter_name() -> None:
    with pytest.raises(ValueError, match=r"unknown plotter 'plotz'.*chia, madmax"):
        get_plotter("plotz")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/python3.10", "/venv/bin/chia", "plots", "create", "-k", "32"], "chia"),
        (["/usr/bin/chia_plot", "-r", "8"], "madmax"),
        (["chia_plot_k34", "-k", "34"], "madmax"),
        (["bladebit", "-f", FARMER, "/out"], "bladebit"),
        (["bladebit", "-f", FARMER, "ramplot", "/out"], "bladebit"),
        (["bladebit", "-f", FARMER, "diskplot", "-t1", "/t", "/out"], "bladebit2disk"),
        (["bladebit_cuda", "-f", FARMER, "diskplot", "-t1", "/t", "/out"], "bladebit2disk"),
        (["bladebit_cuda", "-f", FARMER, "cudaplot", "/out"], "bladebit_cuda"),
        (["bladebit", "-f", FARMER, "cudaplot", "/out"], "bladebit_cuda"),
        (["/opt/gh/cuda_plot_k32", "-C", "7", "-n", "-1", "-t", "/t/"], "gigahorse"),
        (["cuda_plot_k32_v3.exe", "-C", "30"], "gigahorse"),
        (["cuda_plot_k32", "--help"], None),
        (["chia_plot_sink", "--", "/out"], None),
        (["chia", "start", "farmer"], None),
        (["chia", "plots", "check"], None),
        (["grep", "chia_plot"], None),
        (["bladebit", "validate", "/out/plot-k32.plot"], None),
        (["/usr/bin/python3", "-m", "http.server"], None),
        ([], None),
    ],
)
def test_identify(argv: list[str], expected: str | None) -> None:
    plotter = identify(argv)
    assert (plotter.name if plotter else None) == expected
    # Plot jobs belong to exactly one plotter, whichever order they are asked in.
    assert sum(p.matches(argv) for p in PLOTTERS) == (0 if expected is None else 1)


def plotting_for(kind: PlotterType, k: int, threads: int, buckets: int) -> PlottingConfig:
    return PlottingConfig(
        type=kind,
        farmer_pk=FARMER,
        pool_contract_address=CONTRACT,
        chia=ChiaOptions(k=k, n_threads=threads, n_buckets=buckets),
        madmax=MadmaxOptions(k=k, n_threads=threads, n_buckets=buckets),
        bladebit=BladebitOptions(threads=threads),
        bladebit2disk=Bladebit2DiskOptions(threads=threads, buckets=buckets),
        bladebit_cuda=BladebitCudaOptions(threads=threads),
        # Gigahorse is built for k26 to k34 only.
        gigahorse=GigahorseOptions(k=k if k >= 26 else 32),
    )


DIR_NAMES = st.text(
    alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=12,
).filter(lambda name: name not in (".", ".."))
ABSOLUTE_DIRS = st.lists(DIR_NAMES, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))


@given(
    kind=st.sampled_from(list(PlotterType)),
    k=st.sampled_from([18, 25, 32, 33, 34]),
    threads=st.integers(1, 512),
    buckets=st.sampled_from([16, 64, 128, 256, 512, 1024]),
    tmp=ABSOLUTE_DIRS,
    tmp2=st.none() | ABSOLUTE_DIRS,
    dst=ABSOLUTE_DIRS,
)
def test_build_argv_round_trip(
    kind: PlotterType, k: int, threads: int, buckets: int, tmp: str, tmp2: str | None, dst: str
) -> None:
    plotter = get_plotter(kind)
    argv = plotter.build_argv(plotting_for(kind, k, threads, buckets), tmp, tmp2, dst)
    assert all(isinstance(arg, str) for arg in argv)
    assert identify(argv) is plotter
    args = plotter.parse_args(argv, cwd="/elsewhere")
    assert args.dst_dir == os.path.normpath(dst)
    # Gigahorse runs on GPUs: it has no thread count.
    assert args.threads == (None if kind is PlotterType.GIGAHORSE else threads)
    if kind is PlotterType.GIGAHORSE:
        assert args.k == (k if k >= 26 else 32)
    else:
        assert args.k == (k if kind in (PlotterType.CHIA, PlotterType.MADMAX) else 32)
    if kind is PlotterType.BLADEBIT:
        assert (args.tmp_dir, args.tmp2_dir, args.buckets) == (None, None, None)  # all in RAM
        return
    assert args.tmp_dir == os.path.normpath(tmp)
    assert args.tmp2_dir == (os.path.normpath(tmp2) if tmp2 is not None else None)
    has_buckets = kind in (PlotterType.CHIA, PlotterType.MADMAX, PlotterType.BLADEBIT2DISK)
    assert args.buckets == (buckets if has_buckets else None)


def test_plotters_import_neither_textual_nor_rich() -> None:
    code = (
        "import sys, plotman_tui.plotters.registry\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_limits_and_the_phase_import_no_plotter() -> None:
    # The history cache's checks need the bounds and the names, the job model the phase: a warm
    # analyze must not pay for importing every plotter's module (~15 ms). The registry comes
    # when one of its names is first asked for.
    code = (
        "import sys, plotman_tui.plotters.limits, plotman_tui.plotters.phase\n"
        "print(sorted(m for m in sys.modules if m.startswith('plotman_tui.plotters.')))\n"
        "from plotman_tui.plotters import PLOTTERS\n"
        "print(len(PLOTTERS), 'plotman_tui.plotters.chia' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    light, registry = result.stdout.splitlines()
    assert light == "['plotman_tui.plotters.limits', 'plotman_tui.plotters.phase']"
    assert registry == "6 True"
