"""How much disk a plot of size k takes: the finished plot, and the temp space while plotting.

The scheduler uses these to decide whether a tmp or dst dir has room for one more job. Both err
on the high side: a plot that runs out of space fails after hours of work, an idle slot does not.

Where the numbers come from:

- Final plot: chia's own estimate ``(2k + 1) * 2^(k-1) * 0.78005`` bytes (chia-docs, "K Sizes";
  0.78005 replaced the older 0.762, which is ~2% low). It is an average: real k32 plots are
  108.84 GB (a madMAx log in the fixtures: 108 836 238 815 bytes; chia-docs: 101.4 GiB), k33
  224.2 GB, k34 461.5 GB. Tiny plots vary far more from plot to plot: chiapos 2.0.12 k18 plots
  measured 3.65-4.20 MB, k20 16.6-17.3 MB, k21 34.5-36.4 MB, k22 72.9-75.3 MB. So we add 3%
  (k32 and up: 2-3% above the real size) and 1 MiB (covers the spread of the sandbox's k18-22).
- Temp space for k32: chiapos 239 GiB with the bitfield (chia-docs "Storage requirements"),
  332 GiB with ``-e`` (no bitfield; chia's reference-hardware wiki); madMAx ``chia_plot``
  ~220 GiB in ``-t`` when ``-2`` is elsewhere, and a combined peak under 256 GiB when both are
  one dir (its README); BladeBit ``diskplot`` ~480 GiB, ~390 GiB with ``--alternate`` (its README).
  The BladeBit RAM plotter and ``cudaplot`` (without its disk modes) use no temp dir at all.
- Other k: temp space doubles per k step below 32, so the sandbox's k22 needs 239 GiB / 2^10
  = 0.23 GiB for chiapos (measured peak 0.16 GiB). Above 32 it grows a little faster than
  double: chia-docs give 239, 512, 1041, 2175 GiB for k32-35; beyond that 2.1x per step.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from plotman_tui.config.schema import PlotterType

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlottingConfig

GIB = 1024**3
MIB = 1024**2

_CHIA_SPACE_FACTOR = 0.78005  # chia-docs "New constant space factor"
_SPREAD_MARGIN = 1.03  # plots vary from one to the next; never plan below the real size
_SMALL_PLOT_SLACK = MIB  # tiny plots vary by several percent (k18: 3.65-4.20 MB measured)

# Temp space of a k32 job in its tmp dir: (with a separate tmp2 dir, with tmp2 == tmp).
_K32_TMP_GIB: dict[PlotterType, tuple[int, int]] = {
    # chiapos writes the final file to tmp2 in phase 3, after the phase 1 peak in tmp: a separate
    # tmp2 barely lowers the peak (k22 measured: 160-175 MB either way).
    PlotterType.CHIA: (239, 239),
    PlotterType.MADMAX: (220, 256),
    PlotterType.BLADEBIT: (0, 0),
    PlotterType.BLADEBIT2DISK: (480, 480),
    PlotterType.BLADEBIT_CUDA: (0, 0),
    PlotterType.GIGAHORSE: (0, 0),
}
_BLADEBIT2DISK_ALTERNATE_GIB = 390
_CHIA_NOBITFIELD_GIB = 332

# chia-docs temp sizes for k32-35 relative to k32 (239, 512, 1041, 2175 GiB).
_TMP_GROWTH_ABOVE_32 = (1.0, 512 / 239, 1041 / 239, 2175 / 239)
_TMP_GROWTH_PER_K_BEYOND = 2.1


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"not a plot size: k={k}")


def final_plot_bytes(k: int) -> int:
    """The size to plan for one finished, uncompressed plot of size ``k`` (a little high)."""
    _check_k(k)
    average = (2 * k + 1) * (1 << (k - 1)) * _CHIA_SPACE_FACTOR
    return math.ceil(average * _SPREAD_MARGIN) + _SMALL_PLOT_SLACK


def _tmp_growth(k: int) -> float:
    """Temp space of size k relative to k32."""
    if k <= 32:
        return 2.0 ** (k - 32)
    steps = k - 32
    if steps < len(_TMP_GROWTH_ABOVE_32):
        return _TMP_GROWTH_ABOVE_32[steps]
    beyond = steps - (len(_TMP_GROWTH_ABOVE_32) - 1)
    return _TMP_GROWTH_ABOVE_32[-1] * _TMP_GROWTH_PER_K_BEYOND**beyond


def tmp_space_bytes(
    plotter: PlotterType | str,
    k: int,
    *,
    separate_tmp2: bool,
    nobitfield: bool = False,
    alternate: bool = False,
) -> int:
    """The free space one new job of ``plotter`` at size ``k`` needs in its tmp dir.

    ``separate_tmp2``: the job gets a tmp2 dir of its own (madMAx then keeps less in tmp);
    ``nobitfield``: chia's ``-e``; ``alternate``: BladeBit diskplot's ``--alternate`` mode.
    ValueError for an unknown plotter.
    """
    _check_k(k)
    kind = PlotterType(plotter)
    if kind is PlotterType.CHIA and nobitfield:
        k32_gib = _CHIA_NOBITFIELD_GIB
    elif kind is PlotterType.BLADEBIT2DISK and alternate:
        k32_gib = _BLADEBIT2DISK_ALTERNATE_GIB
    else:
        with_tmp2, without_tmp2 = _K32_TMP_GIB[kind]
        k32_gib = with_tmp2 if separate_tmp2 else without_tmp2
    return math.ceil(k32_gib * GIB * _tmp_growth(k))


def plot_k(plotting: PlottingConfig) -> int:
    """The k of the plots the configured plotter makes (the BladeBit plotters make only k32)."""
    if plotting.type == PlotterType.CHIA:
        return plotting.chia.k
    if plotting.type == PlotterType.MADMAX:
        return plotting.madmax.k
    if plotting.type == PlotterType.GIGAHORSE:
        return plotting.gigahorse.k
    return 32
