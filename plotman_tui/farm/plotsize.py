"""How much disk a plot of size k takes: the finished plot, and the temp space while plotting.

The scheduler uses these to decide whether a tmp or dst dir has room for one more job, the
archiver to decide whether a file is a finished plot and which archive dir has room for it.
Planning errs on the high side (a plot that runs out of space fails after hours of work, an idle
slot does not); recognising a finished plot errs on the low side (a real plot left in its dst
dir fills it, while a file still being written is caught by its size not settling).

Where the numbers come from:

- Final plot: chia's own estimate ``(2k + 1) * 2^(k-1) * 0.78005`` bytes (chia-docs, "K Sizes";
  0.78005 replaced the older 0.762, which is ~2% low). It is an average: real k32 plots are
  108.84 GB (a madMAx log in the fixtures: 108 836 238 815 bytes; chia-docs: 101.4 GiB), k33
  224.2 GB, k34 461.5 GB. Tiny plots vary far more from plot to plot: chiapos 2.0.12 k18 plots
  measured 3.65-4.20 MB, k20 16.6-17.3 MB, k21 34.5-36.4 MB, k22 72.9-75.3 MB. So we add 3%
  (k32 and up: 2-3% above the real size) and 1 MiB (covers the spread of the sandbox's k18-22).
- Compressed plots, k32 in GiB (:data:`BLADEBIT_K32_GIB`, :data:`GIGAHORSE_K32_GIB`):

  ======  ========  =========  ===============================================================
  level   BladeBit  Gigahorse
  ======  ========  =========  ===============================================================
  C0      101.4     101.4      uncompressed (chia-docs "K Sizes")
  C1-C7   87.5 ...  84.2 ...   BladeBit: chia-docs' compression table; Gigahorse: xch.farm's
          78.0      74.6       table (third party: madMAx publishes none)
  C8      76.6 *    71.3       * not published: halfway between C7 and C9. Gigahorse's 71.3
                               matches a real copy line in the fixtures (chia-gigahorse#109:
                               299.365 s at 243.915 MB/s, its MB being MiB, is 71.31 GiB)
  C9      75.2      68.1       BladeBit makes no deeper level
  C18     -         59.65      as farmers state them (madMAx43v3r/chia-gigahorse#306)
  C30     -         43.31      as farmers state them (same thread)
  ======  ========  =========  ===============================================================

  Gigahorse's other levels up to :data:`~plotman_tui.plotters.limits.COMPRESSION_MAX` (C10-C17,
  C19-C29, C31-C33) are not published. A deeper level never makes a larger plot, so planning
  takes the nearest published level above the size (C10-C17 plan as C9's 68.1, C19-C29 as
  C18's 59.65, C31-C33 as C30's 43.31) and recognising takes the nearest one below it (C10-C17
  as C18's, C19-C29 as C30's; C31-C33 extrapolate C18-C30's 1.36 GiB a level at twice that
  slope, so C33 counts down to 35.1 GiB). The typical size a history record shows when the log
  names no file interpolates linearly. Other k scale k32's ratio to the uncompressed size by the
  formula above for that k (compression removes a share of each table, whatever its size).
  Planning adds the same 3% and 1 MiB as for an uncompressed plot; recognising takes the
  smallest any plotter makes at that level, less 10% (a third-party table may be a little off).
- Temp space for k32: chiapos 239 GiB with the bitfield (chia-docs "Storage requirements"),
  332 GiB with ``-e`` (no bitfield; chia's reference-hardware wiki); madMAx ``chia_plot``
  ~220 GiB in ``-t`` when ``-2`` is elsewhere, and a combined peak under 256 GiB when both are
  one dir (its README); BladeBit ``diskplot`` ~480 GiB, ~390 GiB with ``--alternate`` (its README).
  The BladeBit RAM plotter and ``cudaplot`` (without its disk modes) use no temp dir at all.
  Gigahorse plots in RAM (256 GB or more; its partial-RAM ``-2`` mode is the farmer's choice
  and not counted here), but writes each finished plot to its ``-t`` dir and copies it to a
  ``-d`` dir from there while it makes the next one: its tmp dir needs one compressed plot.
- Other k: temp space doubles per k step below 32, so the sandbox's k22 needs 239 GiB / 2^10
  = 0.23 GiB for chiapos (measured peak 0.16 GiB). Above 32 it grows a little faster than
  double: chia-docs give 239, 512, 1041, 2175 GiB for k32-35; beyond that 2.1x per step.

Light on purpose: the history cache imports this (a warm ``analyze`` reads no log), so the
config's loader is not imported here; the plotter types are their names (``PlotterType`` is a
``StrEnum``, so either works).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from plotman_tui.plotters.limits import COMPRESSION_MAX, PLOTTER_NAMES

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlotterType, PlottingConfig

GIB = 1024**3
MIB = 1024**2

_CHIA_SPACE_FACTOR = 0.78005  # chia-docs "New constant space factor"
_SPREAD_MARGIN = 1.03  # plots vary from one to the next; never plan below the real size
_SMALL_PLOT_SLACK = MIB  # tiny plots vary by several percent (k18: 3.65-4.20 MB measured)

#: An uncompressed k32 plot, GiB (chia-docs "K Sizes"): the compressed sizes are shares of it.
UNCOMPRESSED_K32_GIB: Final = 101.4
#: BladeBit's compressed k32 plots by level, GiB (chia-docs; C8 is not published: halfway).
BLADEBIT_K32_GIB: Final[Mapping[int, float]] = MappingProxyType(
    {1: 87.5, 2: 86.0, 3: 84.5, 4: 82.9, 5: 81.3, 6: 79.6, 7: 78.0, 8: 76.6, 9: 75.2}
)
#: Gigahorse's compressed k32 plots by the levels whose sizes are known, GiB (C1-C9: xch.farm;
#: C18, C30: farmers in madMAx43v3r/chia-gigahorse#306).
GIGAHORSE_K32_GIB: Final[Mapping[int, float]] = MappingProxyType(
    {1: 84.2, 2: 82.6, 3: 81.0, 4: 79.4, 5: 77.8, 6: 76.2, 7: 74.6, 8: 71.3, 9: 68.1}
    | {18: 59.65, 30: 43.31}
)
_GIGAHORSE = "gigahorse"
_BLADEBIT_FAMILY = frozenset({"bladebit", "bladebit2disk", "bladebit_cuda"})
# Each table with the deepest level its plotters make: BladeBit's C9, Gigahorse's C33 and up.
_TABLE_DEPTHS: Final = ((BLADEBIT_K32_GIB, 9), (GIGAHORSE_K32_GIB, COMPRESSION_MAX))
# Levels past a table's deepest published one, when recognising: twice the slope of its last two
# published levels, so an unpublished level is never thought larger than it may be.
_EXTRAPOLATE_SLOPE_FACTOR = 2.0
# Recognising: the smallest published size at a level, less this share.
_RECOGNISE_MARGIN = 0.9
# A name that states no level: a plot may still be anything from BladeBit's C9 (75.2 GiB: 0.72
# of the planned 104.5 GiB; the smallest sandbox k18 plot measured is 0.74) to a little above the
# planned size.
_MIN_PLOT_SHARE = 0.65
_MAX_PLOT_SHARE = 1.05

# Temp space of a k32 job in its tmp dir: (with a separate tmp2 dir, with tmp2 == tmp). Gigahorse
# is missing: its tmp dir holds one finished plot, whose size depends on its level.
_K32_TMP_GIB: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        # chiapos writes the final file to tmp2 in phase 3, after the phase 1 peak in tmp: a
        # separate tmp2 barely lowers the peak (k22 measured: 160-175 MB either way).
        "chia": (239, 239),
        "madmax": (220, 256),
        "bladebit": (0, 0),
        "bladebit2disk": (480, 480),
        "bladebit_cuda": (0, 0),
    }
)
_BLADEBIT2DISK_ALTERNATE_GIB = 390
_CHIA_NOBITFIELD_GIB = 332

# chia-docs temp sizes for k32-35 relative to k32 (239, 512, 1041, 2175 GiB).
_TMP_GROWTH_ABOVE_32 = (1.0, 512 / 239, 1041 / 239, 2175 / 239)
_TMP_GROWTH_PER_K_BEYOND = 2.1


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"not a plot size: k={k}")


def _average_uncompressed_bytes(k: int) -> float:
    """chia's estimate of an uncompressed plot of size ``k``."""
    return (2 * k + 1) * (1 << (k - 1)) * _CHIA_SPACE_FACTOR


def _level(compression: int | None) -> int:
    """A compression level to size by: 0 for none, and for anything no plotter makes (a size
    must never come from a value a log or a name made up; uncompressed is the largest)."""
    if type(compression) is not int or not 0 < compression <= COMPRESSION_MAX:
        return 0
    return compression


def _tables(plotter: str | None, level: int) -> list[Mapping[int, float]]:
    """The size tables that may describe ``plotter``'s plots at ``level``: its own when it knows
    the level, else every table that does (an unknown plotter may be any of them)."""
    if plotter == _GIGAHORSE:
        return [GIGAHORSE_K32_GIB]
    known = [table for table, deepest in _TABLE_DEPTHS if level <= deepest]
    if plotter in _BLADEBIT_FAMILY and BLADEBIT_K32_GIB in known:
        return [BLADEBIT_K32_GIB]
    return known


def _planned_gib(table: Mapping[int, float], level: int) -> float:
    """The size at ``level``, or at the nearest shallower published level (never smaller)."""
    return table[max(known for known in table if known <= level)]


def _smallest_gib(table: Mapping[int, float], level: int) -> float:
    """The size at ``level``, or the nearest deeper published level's, or past the deepest an
    extrapolation at twice its last slope (never larger than a real plot may be)."""
    deeper = [known for known in table if known >= level]
    if deeper:
        return table[min(deeper)]
    return _extrapolated_gib(table, level, _EXTRAPOLATE_SLOPE_FACTOR)


def _extrapolated_gib(table: Mapping[int, float], level: int, slope_factor: float) -> float:
    last, before = sorted(table)[-1], sorted(table)[-2]
    slope = (table[before] - table[last]) / (last - before)
    return table[last] - slope * slope_factor * (level - last)


def _typical_gib(table: Mapping[int, float], level: int) -> float:
    """The size at ``level``: published, else interpolated between its neighbours (or
    extrapolated along the last slope)."""
    if level in table:
        return table[level]
    deeper = [known for known in table if known > level]
    if not deeper:
        return _extrapolated_gib(table, level, 1.0)
    above = min(deeper)
    below = max(known for known in table if known < level)
    share = (level - below) / (above - below)
    return table[below] + (table[above] - table[below]) * share


def final_plot_bytes(k: int, compression: int | None = None, plotter: str | None = None) -> int:
    """The size to plan for one finished plot of size ``k`` (a little high).

    ``compression``: its level (None or 0: uncompressed; a level no plotter makes plans as
    uncompressed, the largest). ``plotter`` (a ``[plotting] type`` name) picks the table:
    ``gigahorse``, or the BladeBit plotters'; any other (or None) with a level takes the larger
    of the two, so a plan never falls short.
    """
    _check_k(k)
    level = _level(compression)
    share = 1.0
    if level:
        share = max(_planned_gib(t, level) for t in _tables(plotter, level)) / UNCOMPRESSED_K32_GIB
    average = _average_uncompressed_bytes(k) * share
    return math.ceil(average * _SPREAD_MARGIN) + _SMALL_PLOT_SLACK


def plot_bytes_range(k: int, compression: int | None = None) -> tuple[int, int]:
    """The smallest and largest size a finished plot of size ``k`` whose name states
    ``compression`` may have (None or 0: a name without a level, which any plot may have).

    The largest is a little above the planned uncompressed size, whatever the level (a file
    renamed by hand, or a test's uncompressed plot with a level in its name). The smallest is
    0.65 of the planned size without a level, else the smallest any plotter makes at that level
    less 10%; a level past the deepest counts as the deepest.
    """
    planned = final_plot_bytes(k)
    high = int(planned * _MAX_PLOT_SHARE)
    if type(compression) is not int or compression <= 0:
        return int(planned * _MIN_PLOT_SHARE), high
    level = min(compression, COMPRESSION_MAX)
    smallest_gib = min(_smallest_gib(t, level) for t in _tables(None, level))
    share = smallest_gib / UNCOMPRESSED_K32_GIB * _RECOGNISE_MARGIN
    return int(_average_uncompressed_bytes(k) * share), high


def nominal_plot_bytes(k: int, compression: int | None = None, plotter: str | None = None) -> int:
    """The size of a typical plot of size ``k`` (no margin): chia's ``(2k + 1) * 2^(k-1) *
    0.78005`` (a real k32 plot is 108.84 GB, this says 108.88), scaled by the share of its level
    in ``plotter``'s table (interpolated where unpublished; an unknown plotter's level is read
    in BladeBit's table where it has it, else Gigahorse's). For a history record whose log
    names no file and states no size; never for planning (see :func:`final_plot_bytes`)."""
    _check_k(k)
    level = _level(compression)
    size = _average_uncompressed_bytes(k)
    if level:
        table = _tables(plotter, level)[0]
        size *= _typical_gib(table, level) / UNCOMPRESSED_K32_GIB
    return round(size)


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
    compression: int | None = None,
) -> int:
    """The free space one new job of ``plotter`` at size ``k`` needs in its tmp dir.

    ``separate_tmp2``: the job gets a tmp2 dir of its own (madMAx then keeps less in tmp);
    ``nobitfield``: chia's ``-e``; ``alternate``: BladeBit diskplot's ``--alternate`` mode;
    ``compression``: the level of the plot Gigahorse keeps in its tmp dir until it is copied.
    ValueError for an unknown plotter.
    """
    _check_k(k)
    kind = str(plotter)
    if kind not in PLOTTER_NAMES:
        raise ValueError(f"not a plotter: {kind!r}")
    if kind == _GIGAHORSE:
        return final_plot_bytes(k, compression, _GIGAHORSE)
    if kind == "chia" and nobitfield:
        k32_gib = _CHIA_NOBITFIELD_GIB
    elif kind == "bladebit2disk" and alternate:
        k32_gib = _BLADEBIT2DISK_ALTERNATE_GIB
    else:
        with_tmp2, without_tmp2 = _K32_TMP_GIB[kind]
        k32_gib = with_tmp2 if separate_tmp2 else without_tmp2
    return math.ceil(k32_gib * GIB * _tmp_growth(k))


def plot_k(plotting: PlottingConfig) -> int:
    """The k of the plots the configured plotter makes (the BladeBit plotters make only k32)."""
    if plotting.type == "chia":
        return plotting.chia.k
    if plotting.type == "madmax":
        return plotting.madmax.k
    if plotting.type == _GIGAHORSE:
        return plotting.gigahorse.k
    return 32


def plot_compression(plotting: PlottingConfig) -> int:
    """The compression level of the plots the configured plotter makes (0: uncompressed; chia's
    and madMAx's plotters do not compress)."""
    if plotting.type == "bladebit":
        return plotting.bladebit.compress
    if plotting.type == "bladebit_cuda":
        return plotting.bladebit_cuda.compress
    if plotting.type == _GIGAHORSE:
        return plotting.gigahorse.compression
    return 0
