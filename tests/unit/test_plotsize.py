"""Plot and temp sizes: never below what real plots take, and not wastefully above."""

from __future__ import annotations

import pytest

from plotman_tui.config.schema import (
    Bladebit2DiskOptions,
    ChiaOptions,
    MadmaxOptions,
    PlotterType,
    PlottingConfig,
)
from plotman_tui.farm.plotsize import (
    GIB,
    MIB,
    final_plot_bytes,
    plot_k,
    tmp_space_bytes,
)

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
    with pytest.raises(ValueError):
        tmp_space_bytes("gigahorse", 32, separate_tmp2=False)


@pytest.mark.parametrize(
    ("plotting", "k"),
    [
        (PlottingConfig(type=PlotterType.CHIA, chia=ChiaOptions(k=22)), 22),
        (PlottingConfig(type=PlotterType.MADMAX, madmax=MadmaxOptions(k=33)), 33),
        (PlottingConfig(type=PlotterType.BLADEBIT, chia=ChiaOptions(k=22)), 32),
        (PlottingConfig(type=PlotterType.BLADEBIT2DISK, bladebit2disk=Bladebit2DiskOptions()), 32),
    ],
    ids=["chia", "madmax", "bladebit", "bladebit2disk"],
)
def test_plot_k_is_the_configured_plotters_k(plotting: PlottingConfig, k: int) -> None:
    assert plot_k(plotting) == k
