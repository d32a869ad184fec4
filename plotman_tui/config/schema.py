"""The configuration as typed, frozen data.

Section and key names follow plotman's YAML so that farmers can move their settings over; the TOML
file is read by :mod:`plotman_tui.config.loader`, which fills these dataclasses and reports every
problem with its key path and line number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any


class PlotterType(StrEnum):
    """The value of ``[plotting] type``: which plotter new jobs use."""

    CHIA = "chia"
    MADMAX = "madmax"
    BLADEBIT = "bladebit"
    BLADEBIT2DISK = "bladebit2disk"
    BLADEBIT_CUDA = "bladebit_cuda"


@dataclass(frozen=True)
class LoggingConfig:
    """``[logging]``: where plot logs, transfer logs and the application log go."""

    plots: Path
    transfers: Path | None = None
    application: Path | None = None


@dataclass(frozen=True)
class TmpOverride:
    """``[directories.tmp_overrides."<path>"]``: per-tmp-dir scheduling limits (None: global)."""

    tmpdir_stagger_phase_major: int | None = None
    tmpdir_stagger_phase_minor: int | None = None
    tmpdir_stagger_phase_limit: int | None = None
    tmpdir_max_jobs: int | None = None


def _empty_overrides() -> Mapping[Path, TmpOverride]:
    return MappingProxyType({})


@dataclass(frozen=True)
class DirectoriesConfig:
    """``[directories]``: temp dirs, the optional shared tmp2 dir and the destination dirs.

    When ``dst`` is empty plots are left in their tmp dir (plotman's rule).
    """

    tmp: tuple[Path, ...]
    dst: tuple[Path, ...] = ()
    tmp2: Path | None = None
    tmp_overrides: Mapping[Path, TmpOverride] = field(default_factory=_empty_overrides)

    @property
    def dst_or_tmp(self) -> tuple[Path, ...]:
        """Where finished plots go: the dst dirs, or the tmp dirs when none are configured."""
        return self.dst or self.tmp


@dataclass(frozen=True)
class SchedulingConfig:
    """``[scheduling]``: plotman's staggering rules."""

    tmpdir_stagger_phase_major: int = 2
    tmpdir_stagger_phase_minor: int = 1
    tmpdir_stagger_phase_limit: int = 1
    tmpdir_max_jobs: int = 3
    global_max_jobs: int = 12
    global_stagger_m: int = 30
    polling_time_s: int = 20
    # Not in plotman: the most jobs in phase 1 at once over all tmp dirs (None: no limit), and
    # the free space a tmp dir must keep for a new job (None: a default for the plot's k), and
    # the free space a dst dir keeps beyond the plots headed there.
    global_max_phase1: int | None = None
    tmp_min_free_gib: int | None = None
    dst_min_free_gib: int = 0


@dataclass(frozen=True)
class ChiaOptions:
    """``[plotting.chia]``: ``chia plots create``."""

    executable: str = "chia"
    k: int = 32
    e: bool = False
    n_threads: int = 2
    n_buckets: int = 128
    job_buffer: int = 3389
    x: bool = False


@dataclass(frozen=True)
class MadmaxOptions:
    """``[plotting.madmax]``: madMAx ``chia_plot`` (``chia_plot_k34`` for k34)."""

    executable: str = "chia_plot"
    executable_k34: str = "chia_plot_k34"
    k: int = 32
    n_threads: int = 4
    n_buckets: int = 256
    n_buckets3: int = 256
    n_rmulti2: int = 1
    port: int | None = None


@dataclass(frozen=True)
class BladebitOptions:
    """``[plotting.bladebit]``: the BladeBit RAM plotter."""

    executable: str = "bladebit"
    threads: int | None = None
    no_numa: bool = False


@dataclass(frozen=True)
class Bladebit2DiskOptions:
    """``[plotting.bladebit2disk]``: ``bladebit ... diskplot``."""

    executable: str = "bladebit"
    threads: int | None = None
    no_numa: bool = False
    buckets: int = 256
    cache_size: str | None = None
    f1_threads: int | None = None
    fp_threads: int | None = None
    c_threads: int | None = None
    p2_threads: int | None = None
    p3_threads: int | None = None
    alternate: bool = False
    no_t1_direct: bool = False
    no_t2_direct: bool = False
    # plotman's bladebit2disk key (BladeBit's --no-cpu-affinity); added after the fields above.
    no_cpu_affinity: bool = False


@dataclass(frozen=True)
class BladebitCudaOptions:
    """``[plotting.bladebit_cuda]``: ``bladebit_cuda ... cudaplot``."""

    executable: str = "bladebit_cuda"
    threads: int | None = None
    no_numa: bool = False
    device: int = 0
    compress: int = 0


@dataclass(frozen=True)
class PlottingConfig:
    """``[plotting]``: which plotter to run and the keys it signs plots for."""

    type: PlotterType = PlotterType.CHIA
    farmer_pk: str | None = None
    pool_pk: str | None = None
    pool_contract_address: str | None = None
    nice: int = 15
    chia: ChiaOptions = field(default_factory=ChiaOptions)
    madmax: MadmaxOptions = field(default_factory=MadmaxOptions)
    bladebit: BladebitOptions = field(default_factory=BladebitOptions)
    bladebit2disk: Bladebit2DiskOptions = field(default_factory=Bladebit2DiskOptions)
    bladebit_cuda: BladebitCudaOptions = field(default_factory=BladebitCudaOptions)


@dataclass(frozen=True)
class UserInterfaceConfig:
    """``[user_interface]``."""

    use_stty_size: bool = True


@dataclass(frozen=True)
class InteractiveConfig:
    """``[commands.interactive]``: the dashboard's state at start."""

    autostart_plotting: bool = True
    autostart_archiving: bool = True


@dataclass(frozen=True)
class CommandsConfig:
    """``[commands]``."""

    interactive: InteractiveConfig = field(default_factory=InteractiveConfig)


def _empty_table() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Config:
    """A whole, validated configuration."""

    logging: LoggingConfig
    directories: DirectoriesConfig
    scheduling: SchedulingConfig = field(default_factory=SchedulingConfig)
    plotting: PlottingConfig = field(default_factory=PlottingConfig)
    user_interface: UserInterfaceConfig = field(default_factory=UserInterfaceConfig)
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    # Filled in by the archiving issue; until then kept as the plain table that was read.
    archiving: Mapping[str, Any] = field(default_factory=_empty_table)
    source: Path | None = None
