"""Plot and temp sizes: never below what real plots take, and not wastefully above."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
from plotman_tui.farm.history import read_log
from plotman_tui.farm.plotsize import (
    GIB,
    MIB,
    final_plot_bytes,
    nominal_plot_bytes,
    plot_bytes_range,
    plot_compression,
    plot_k,
    tmp_space_bytes,
)
from plotman_tui.plotters.limits import COMPRESSION_MAX
from tests.conftest import FIXTURES

# Real finished plots. k32: a madMAx log ("final plot size is 108836238815 bytes"); k33, k34:
# chia-docs "Storage requirements" (224.2 GB, 461.5 GB).
REAL_LARGE_PLOTS = {32: 108_836_238_815, 33: 224_200_000_000, 34: 461_500_000_000}

# The largest of several chiapos 2.0.12 plots per k, measured for this module (the sandbox's sizes;
# small plots vary a lot from one to the next: k18 ran from 3.65 to 4.20 MB).
LARGEST_MEASURED_SMALL_PLOTS = {
    18: 4_196_800,
    19: 8_399_273,
    20: 17_291_075,
    21: 36_422_103,
    22: 75_259_217,
}


@pytest.mark.parametrize("k", sorted(REAL_LARGE_PLOTS), ids=lambda k: f"k{k}")
def test_large_plot_size_is_at_most_a_few_percent_above_the_real_size(k: int) -> None:
    real = REAL_LARGE_PLOTS[k]
    assert real <= final_plot_bytes(k) <= real * 1.04


@pytest.mark.parametrize("k", sorted(LARGEST_MEASURED_SMALL_PLOTS), ids=lambda k: f"k{k}")
def test_small_plot_size_covers_every_measured_plot_with_little_waste(k: int) -> None:
    largest = LARGEST_MEASURED_SMALL_PLOTS[k]
    assert largest <= final_plot_bytes(k) <= largest * 1.05 + MIB


def test_k32_plot_size_in_gib_matches_chia_docs_within_a_few_percent() -> None:
    # chia-docs: 101.4 GiB.
    assert 101.4 <= final_plot_bytes(32) / GIB <= 101.4 * 1.04


@pytest.mark.parametrize(
    ("plotter", "separate_tmp2"),
    [
        (PlotterType.CHIA, False),
        (PlotterType.CHIA, True),
        (PlotterType.MADMAX, False),
        (PlotterType.MADMAX, True),
        (PlotterType.BLADEBIT2DISK, False),
    ],
    ids=["chia", "chia-tmp2", "madmax", "madmax-tmp2", "bladebit2disk"],
)
def test_sizes_grow_with_k(plotter: PlotterType, separate_tmp2: bool) -> None:
    ks = range(18, 40)
    finals = [final_plot_bytes(k) for k in ks]
    temps = [tmp_space_bytes(plotter, k, separate_tmp2=separate_tmp2) for k in ks]
    assert finals == sorted(set(finals))
    assert temps == sorted(set(temps))


@pytest.mark.parametrize(
    ("plotter", "k", "separate_tmp2", "options", "gib"),
    [
        (PlotterType.CHIA, 32, False, {}, 239),
        (PlotterType.CHIA, 32, True, {}, 239),
        (PlotterType.CHIA, 32, False, {"nobitfield": True}, 332),
        (PlotterType.CHIA, 33, False, {}, 512),
        (PlotterType.CHIA, 34, False, {}, 1041),
        (PlotterType.CHIA, 35, False, {}, 2175),
        (PlotterType.MADMAX, 32, True, {}, 220),
        (PlotterType.MADMAX, 32, False, {}, 256),
        (PlotterType.BLADEBIT2DISK, 32, False, {}, 480),
        (PlotterType.BLADEBIT2DISK, 32, False, {"alternate": True}, 390),
        (PlotterType.BLADEBIT, 32, False, {}, 0),
        (PlotterType.BLADEBIT_CUDA, 32, True, {}, 0),
    ],
    ids=[
        "chia-k32",
        "chia-k32-tmp2",
        "chia-k32-nobitfield",
        "chia-k33",
        "chia-k34",
        "chia-k35",
        "madmax-k32-tmp2",
        "madmax-k32-one-dir",
        "bladebit2disk",
        "bladebit2disk-alternate",
        "bladebit-ram",
        "bladebit-cuda",
    ],
)
def test_documented_temp_space(
    plotter: PlotterType, k: int, separate_tmp2: bool, options: dict[str, bool], gib: int
) -> None:
    assert tmp_space_bytes(plotter, k, separate_tmp2=separate_tmp2, **options) == gib * GIB


def test_temp_space_of_tiny_plots_is_tiny_but_covers_the_measured_peak() -> None:
    # chiapos k22 measured: peak temp use 175.5 MB with tmp2 in the same dir.
    k22 = tmp_space_bytes(PlotterType.CHIA, 22, separate_tmp2=False)
    assert 175_505_408 <= k22 <= 0.3 * GIB
    # k18 measured: 9.3 MB.
    assert 9_256_960 <= tmp_space_bytes(PlotterType.CHIA, 18, separate_tmp2=False) <= 20 * MIB


def test_plotter_names_are_accepted_as_text() -> None:
    assert tmp_space_bytes("madmax", 32, separate_tmp2=True) == 220 * GIB


@pytest.mark.parametrize("k", [0, -3], ids=["zero", "negative"])
def test_a_k_below_one_is_refused(k: int) -> None:
    with pytest.raises(ValueError, match="not a plot size"):
        final_plot_bytes(k)
    with pytest.raises(ValueError, match="not a plot size"):
        tmp_space_bytes(PlotterType.CHIA, k, separate_tmp2=False)


def test_an_unknown_plotter_is_refused() -> None:
    with pytest.raises(ValueError, match="not a plotter: 'cuda_plot'"):
        tmp_space_bytes("cuda_plot", 32, separate_tmp2=False)


@pytest.mark.parametrize(
    ("plotting", "k"),
    [
        (PlottingConfig(type=PlotterType.CHIA, chia=ChiaOptions(k=22)), 22),
        (PlottingConfig(type=PlotterType.MADMAX, madmax=MadmaxOptions(k=33)), 33),
        (PlottingConfig(type=PlotterType.BLADEBIT, chia=ChiaOptions(k=22)), 32),
        (PlottingConfig(type=PlotterType.BLADEBIT2DISK, bladebit2disk=Bladebit2DiskOptions()), 32),
        (PlottingConfig(type=PlotterType.GIGAHORSE, gigahorse=GigahorseOptions(k=33)), 33),
    ],
    ids=["chia", "madmax", "bladebit", "bladebit2disk", "gigahorse"],
)
def test_plot_k_is_the_configured_plotters_k(plotting: PlottingConfig, k: int) -> None:
    assert plot_k(plotting) == k


# --- compressed plots ----------------------------------------------------------------------------

# The published k32 sizes in GiB, as their sources state them (see plotsize's docstring): BladeBit
# from chia-docs (C8 unpublished), Gigahorse C1-C9 from xch.farm, C18 and C30 as farmers state
# them (madMAx43v3r/chia-gigahorse#306).
PUBLISHED_K32_GIB = {
    "bladebit_cuda": {1: 87.5, 2: 86.0, 3: 84.5, 4: 82.9, 5: 81.3, 6: 79.6, 7: 78.0, 9: 75.2},
    "gigahorse": {1: 84.2, 2: 82.6, 3: 81.0, 4: 79.4, 5: 77.8, 6: 76.2, 7: 74.6, 8: 71.3, 9: 68.1}
    | {18: 59.65, 30: 43.31},
}
PUBLISHED = [
    (plotter, level, gib)
    for plotter, table in PUBLISHED_K32_GIB.items()
    for level, gib in table.items()
]


@pytest.mark.parametrize(
    ("plotter", "level", "gib"), PUBLISHED, ids=[f"{p}-c{lv}" for p, lv, _ in PUBLISHED]
)
def test_a_published_compressed_size_is_planned_a_little_high_and_recognised(
    plotter: str, level: int, gib: float
) -> None:
    published = gib * GIB
    # Planned: never below the published size, at most the uncompressed plot's 3% (and 1 MiB) more.
    assert published <= final_plot_bytes(32, level, plotter) <= published * 1.035
    # A history record's size: the published one (tables give 0.1 GiB; 0.01 GiB of rounding).
    assert nominal_plot_bytes(32, level, plotter) == pytest.approx(published, abs=0.01 * GIB)
    # Such a plot, its name stating its level, is a finished plot; down to C9 so is the same
    # size named without a level (past C9 a name always states it: Gigahorse's do).
    for named in (level, None) if level <= 9 else (level,):
        low, high = plot_bytes_range(32, named)
        assert low <= published <= high
    if level > 9:
        assert published < plot_bytes_range(32)[0]


def test_bladebits_unpublished_c8_lies_between_its_c7_and_c9() -> None:
    c7, c8, c9 = (final_plot_bytes(32, level, "bladebit") for level in (7, 8, 9))
    assert c7 > c8 > c9


@pytest.mark.parametrize("level", [1, 5, 7, 9])
def test_a_level_without_a_known_plotter_plans_the_larger_of_the_two_tables(level: int) -> None:
    # chia's plotter names no level; a level from a name alone may be either plotter's plot.
    bladebit = final_plot_bytes(32, level, "bladebit_cuda")
    gigahorse = final_plot_bytes(32, level, "gigahorse")
    assert bladebit > gigahorse
    assert final_plot_bytes(32, level) == final_plot_bytes(32, level, "chia") == bladebit
    # Recognising takes the smaller: a Gigahorse plot is not taken for a plot still copying.
    assert plot_bytes_range(32, level)[0] < gigahorse / 1.03


@pytest.mark.parametrize("plotter", ["gigahorse", "bladebit_cuda", None])
def test_sizes_shrink_level_by_level_and_planning_stays_above_recognising(
    plotter: str | None,
) -> None:
    # The unpublished Gigahorse levels (C10-C17, C19-C29, C31-C33) lie between published ones:
    # planned never below the next shallower level's real size would allow for, recognised
    # never above the next deeper one's.
    for k in (18, 22, 32, 33, 34):
        planned = [final_plot_bytes(k, level, plotter) for level in range(COMPRESSION_MAX + 1)]
        nominal = [nominal_plot_bytes(k, level, plotter) for level in range(COMPRESSION_MAX + 1)]
        lows = [plot_bytes_range(k, level)[0] for level in range(1, COMPRESSION_MAX + 1)]
        assert planned == sorted(planned, reverse=True)
        assert nominal == sorted(nominal, reverse=True)
        assert lows == sorted(lows, reverse=True)
        assert all(
            low < size < plan
            for low, size, plan in zip(lows, nominal[1:], planned[1:], strict=True)
        )


def test_gigahorse_levels_between_published_ones_plan_as_the_shallower_one() -> None:
    assert final_plot_bytes(32, 17, "gigahorse") == final_plot_bytes(32, 9, "gigahorse")
    assert final_plot_bytes(32, 29, "gigahorse") == final_plot_bytes(32, 18, "gigahorse")
    # ... and are recognised down to the deeper one's size.
    assert plot_bytes_range(32, 10)[0] < 59.65 * GIB
    assert plot_bytes_range(32, 19)[0] < 43.31 * GIB
    # Past C30, below its size: C33 down to under 36 GiB.
    assert plot_bytes_range(32, 33)[0] < 36 * GIB


@pytest.mark.parametrize("k", [18, 22, 33, 34])
def test_other_k_keep_k32s_share_of_the_uncompressed_size(k: int) -> None:
    for plotter, level, gib in PUBLISHED:
        share = nominal_plot_bytes(k, level, plotter) / nominal_plot_bytes(k)
        assert share == pytest.approx(gib / 101.4, rel=1e-6)


def test_a_name_without_a_level_keeps_the_bounds_it_always_had() -> None:
    # 0.65 to 1.05 of the planned uncompressed size: archiving took these before levels counted.
    for k in (18, 22, 32, 33):
        planned = final_plot_bytes(k)
        expected = (int(planned * 0.65), int(planned * 1.05))
        assert plot_bytes_range(k) == plot_bytes_range(k, 0) == expected
        # A level only lowers the floor's reach or raises it; the ceiling stays.
        assert plot_bytes_range(k, 7)[1] == expected[1]


def test_a_levels_floor_keeps_out_a_plot_still_being_copied() -> None:
    # 50 GiB is no finished C7 plot of any plotter (Gigahorse's is 74.6 GiB), nor 20 GiB a C30.
    assert plot_bytes_range(32, 7)[0] > 50 * GIB
    assert plot_bytes_range(32, 30)[0] > 20 * GIB


@pytest.mark.parametrize("level", [-1, COMPRESSION_MAX + 1, 99, 10**12])
def test_a_level_no_plotter_makes_plans_the_largest_plot_and_never_raises(level: int) -> None:
    # Logs and names are untrusted: a made-up level must neither raise nor shrink a plan.
    assert final_plot_bytes(32, level, "gigahorse") == final_plot_bytes(32)
    assert nominal_plot_bytes(32, level) == nominal_plot_bytes(32)
    low, high = plot_bytes_range(32, level)
    assert 0 < low < high == plot_bytes_range(32)[1]


@pytest.mark.parametrize("level", [1, 7, 18, 30])
def test_gigahorse_needs_one_finished_plot_in_its_tmp_dir(level: int) -> None:
    # It plots in RAM and copies each finished plot from -t to -d while it makes the next one.
    need = tmp_space_bytes("gigahorse", 32, separate_tmp2=False, compression=level)
    assert need == final_plot_bytes(32, level, "gigahorse")
    assert need == tmp_space_bytes(PlotterType.GIGAHORSE, 32, separate_tmp2=True, compression=level)
    assert tmp_space_bytes("gigahorse", 32, separate_tmp2=False) == final_plot_bytes(32)


@pytest.mark.parametrize(
    ("plotting", "level"),
    [
        (PlottingConfig(type=PlotterType.CHIA), 0),
        (PlottingConfig(type=PlotterType.MADMAX), 0),
        (PlottingConfig(type=PlotterType.BLADEBIT, bladebit=BladebitOptions(compress=5)), 5),
        (PlottingConfig(type=PlotterType.BLADEBIT2DISK, bladebit=BladebitOptions(compress=5)), 0),
        (
            PlottingConfig(
                type=PlotterType.BLADEBIT_CUDA, bladebit_cuda=BladebitCudaOptions(compress=7)
            ),
            7,
        ),
        (PlottingConfig(type=PlotterType.GIGAHORSE), 1),  # Gigahorse's own default, C1
        (
            PlottingConfig(type=PlotterType.GIGAHORSE, gigahorse=GigahorseOptions(compression=18)),
            18,
        ),
    ],
    ids=["chia", "madmax", "bladebit", "bladebit2disk", "bladebit-cuda", "gigahorse", "gh-c18"],
)
def test_plot_compression_is_the_configured_plotters_level(
    plotting: PlottingConfig, level: int
) -> None:
    assert plot_compression(plotting) == level


def test_the_history_reads_its_sizes_without_importing_the_configs_loader() -> None:
    # The history cache (and a warm analyze) import plotsize: it must stay light.
    code = (
        "import sys, plotman_tui.farm.history\n"
        "print('plotman_tui.farm.plotsize' in sys.modules,"
        " sorted(m for m in sys.modules if m.startswith('plotman_tui.config')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True []"


def test_a_gigahorse_plots_history_size_agrees_with_its_real_copy_line() -> None:
    # Gigahorse states no plot size; its history record takes the C8 size of plotsize's table
    # (xch.farm's 71.3 GiB), and the fragment's own copy line (chia-gigahorse#109: "took
    # 299.365 sec, 243.915 MB/s", Gigahorse's MB being MiB) moved that much.
    log = FIXTURES / "plotter-logs" / "fragments" / "gigahorse_cuda_plot_k32_C8_n2_plot2_gh109"
    records, _skipped = read_log(f"{log}.fragment.log")
    copied = [record for record in records if record.copy_seconds is not None]
    assert [(record.plotter, record.compression) for record in copied] == [("gigahorse", 8)]
    (record,) = copied
    assert record.final_bytes == nominal_plot_bytes(32, 8, "gigahorse")
    assert record.copy_seconds == 299.365
    assert record.final_bytes == pytest.approx(299.365 * 243.915 * MIB, rel=0.001)
