"""The configuration as typed, frozen data.

Section and key names follow plotman's YAML so that farmers can move their settings over; the TOML
file is read by :mod:`plotman_tui.config.loader`, which fills these dataclasses and reports every
problem with its key path and line number.
"""

from __future__ import annotations

import datetime
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Final


class PlotterType(StrEnum):
    """The value of ``[plotting] type``: which plotter new jobs use."""

    CHIA = "chia"
    MADMAX = "madmax"
    BLADEBIT = "bladebit"
    BLADEBIT2DISK = "bladebit2disk"
    BLADEBIT_CUDA = "bladebit_cuda"
    GIGAHORSE = "gigahorse"


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
    # BladeBit 3's --compress (0: an uncompressed plot); added after the fields above.
    compress: int = 0


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
class GigahorseOptions:
    """``[plotting.gigahorse]``: madMAx's Gigahorse GPU plotter (``cuda_plot_k32`` ...).

    The executable for k is ``executable`` with ``{k}`` replaced (``cuda_plot_k{k}``).
    ``dst`` dirs come from ``[directories] dst``; ``extra_dst`` adds more ``-d`` dirs (Gigahorse
    copies each finished plot to the first with room, a ``@HOST`` one to a remote sink).
    """

    executable: str = "cuda_plot_k{k}"
    k: int = 32
    compression: int = 1  # -C; Gigahorse's own default
    count: int = 1  # -n; -1 plots until stopped
    device: int | None = None  # -g (None: Gigahorse's default, device 0)
    devices: int | None = None  # -r: how many devices (None: one)
    streams: int | None = None  # -S: parallel streams (None: Gigahorse's default)
    max_tmp_gib: int | None = None  # -M: the most RAM/tmp memory to use, GiB
    tmp3: Path | None = None  # -3
    extra_dst: tuple[str, ...] = ()
    wait_for_copy: bool = False  # -w
    unique: bool = False  # -Z


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
    gigahorse: GigahorseOptions = field(default_factory=GigahorseOptions)


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


class TargetType(StrEnum):
    """The value of ``type`` in an ``[[archiving.targets]]`` table: how plots get there."""

    LOCAL = "local"  # rsync to dirs of this machine (local disks, NFS or SMB mounts)
    RSYNCD = "rsyncd"  # rsync to an rsync daemon module on the farmer; free space by df over SSH
    SSH = "ssh"  # rsync over SSH; free space by df over SSH
    SCRIPT = "script"  # the farmer's own transfer and free-space commands


#: The types that copy with rsync (and so take ``bwlimit_kbps`` and ``rsync_options``).
RSYNC_TARGET_TYPES: Final = frozenset({TargetType.LOCAL, TargetType.RSYNCD, TargetType.SSH})
#: The types that reach the farmer over SSH (and so take the SSH keys).
SSH_TARGET_TYPES: Final = frozenset({TargetType.RSYNCD, TargetType.SSH})

#: Variables a script target's ``transfer_command`` may use, and what each stands for.
TRANSFER_VARIABLES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "source": "the plot file to send, its full path on this machine",
        "plot_name": "the plot's file name",
        "archive_dir": "the archive dir chosen for it, as listed in archive_dirs",
    }
)
#: Variables a script target's ``free_space_command`` may use.
FREE_SPACE_VARIABLES: Final[Mapping[str, str]] = MappingProxyType(
    {"archive_dir": TRANSFER_VARIABLES["archive_dir"]}
)
#: Variables a script target's ``list_command`` may use (it prints ``SIZE NAME`` per plot).
LIST_VARIABLES: Final[Mapping[str, str]] = FREE_SPACE_VARIABLES
#: Variables a script target's ``remove_command`` may use (it removes one old plot).
REMOVE_VARIABLES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "plot_name": "the file name of the old plot to remove",
        "archive_dir": "the archive dir it is in, as listed in archive_dirs",
    }
)
# ``{name}`` of a known variable; ``${name}`` is left to the shell a command may run.
_VARIABLE = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")


def command_variables(argv: Sequence[str]) -> list[str]:
    """The ``{variable}`` names ``argv`` uses, in order (``${shell}`` and ``{a b}`` are not)."""
    return [match.group(1) for arg in argv for match in _VARIABLE.finditer(arg)]


def expand_command(argv: Sequence[str], values: Mapping[str, str]) -> tuple[str, ...]:
    """``argv`` with each ``{variable}`` of ``values`` replaced; any other text is kept as is.

    Not ``str.format``: a command such as ``sh -c "df ... | awk '{print $4}'"`` must not need
    its braces doubled. Each value stays one argument, whatever spaces it holds.
    """

    def replace(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    return tuple(_VARIABLE.sub(replace, arg) for arg in argv)


@dataclass(frozen=True)
class ReplotRules:
    """``[archiving.targets.replot]``: which plots on the farmer may be removed to make room.

    A plot may be removed only when it matches *every* rule given (each rule narrows; a list
    matches when any of its values does) and this machine never sent it. At least one rule is
    given (the loader refuses an empty table: it would match every plot).
    """

    #: A plot whose name's date (``plot-k32-2021-06-01-...``) is before this day (local).
    older_than: datetime.date | None = None
    #: True: only plots whose name states no compression level (``-cNN-``).
    uncompressed: bool | None = None
    #: Only plots of a level below this (an uncompressed plot is level 0).
    compression_below: int | None = None
    #: Only plots of these k.
    k: tuple[int, ...] = ()
    #: Only plots whose file name matches one of these globs (fnmatch, case-sensitive).
    names: tuple[str, ...] = ()
    #: Free space each archive dir keeps beyond the new plot (added to the target's margin).
    keep_free_gib: int = 0
    #: Log what would be removed, remove nothing.
    dry_run: bool = False
    enabled: bool = True

    @property
    def keep_free_bytes(self) -> int:
        return self.keep_free_gib * 1024**3


@dataclass(frozen=True)
class ArchiveTarget:
    """``[[archiving.targets]]``: one place finished plots are moved to.

    Which keys apply depends on ``type`` (the loader refuses the others): ``host`` and the SSH
    keys for rsyncd and ssh, ``rsync_port``/``module``/``module_root`` for rsyncd, the two
    commands for script, ``bwlimit_kbps``/``rsync_options`` for the rsync types.
    ``archive_dirs`` are dirs as seen on the farmer (local dirs for a local target, free text
    for a script target), normalised, ``/``-separated.
    """

    name: str
    type: TargetType
    archive_dirs: tuple[str, ...]
    enabled: bool = True
    max_concurrent: int = 1
    # A dir is chosen only if it keeps this much free beyond the plot and the transfers under way.
    free_space_margin_gib: int = 1
    bwlimit_kbps: int | None = None  # rsync's --bwlimit, KiB/s; None: no limit
    rsync_options: tuple[str, ...] = ()
    host: str | None = None
    user: str | None = None  # None: the SSH default (~/.ssh/config, else the local user)
    ssh_port: int = 22
    known_hosts: Path | None = None  # None: ~/.ssh/known_hosts
    identity_file: Path | None = None  # None: the SSH agent and the default keys
    verify_host_key: bool = True
    rsync_port: int = 873
    module: str | None = None
    module_root: str | None = None  # the farmer dir the rsync module serves
    transfer_command: tuple[str, ...] | None = None
    free_space_command: tuple[str, ...] | None = None
    #: Script targets that replot: list the plots of ``{archive_dir}``, remove ``{plot_name}``.
    list_command: tuple[str, ...] | None = None
    remove_command: tuple[str, ...] | None = None
    replot: ReplotRules | None = None

    @property
    def free_space_margin_bytes(self) -> int:
        """``free_space_margin_gib`` in bytes."""
        return self.free_space_margin_gib * 1024**3

    def rsync_url(self, archive_dir: str) -> str:
        """The rsync daemon URL of ``archive_dir`` (an rsyncd target; the dir under module_root).

        ``rsync://user@host:port/module/<archive_dir relative to module_root>/``
        """
        if self.type is not TargetType.RSYNCD or self.module_root is None or self.host is None:
            raise ValueError(f"target {self.name} is not an rsyncd target")
        relative = posixpath.relpath(archive_dir, self.module_root)
        if relative == ".":
            relative = ""
        elif relative == ".." or relative.startswith("../"):
            raise ValueError(f"{archive_dir} is not under module_root {self.module_root}")
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        user = f"{self.user}@" if self.user else ""
        path = posixpath.join(self.module or "", relative)
        return f"rsync://{user}{host}:{self.rsync_port}/{path.rstrip('/')}/"


@dataclass(frozen=True)
class ArchivingConfig:
    """``[archiving]``: moving finished plots to the farmer; off unless ``enabled``."""

    enabled: bool = False
    # Seconds a plot file must be unchanged before it is moved (a copy may still write it).
    min_plot_age_s: int = 60
    targets: tuple[ArchiveTarget, ...] = ()

    @property
    def active_targets(self) -> tuple[ArchiveTarget, ...]:
        """The targets plots go to: none when archiving is off, else the enabled ones."""
        if not self.enabled:
            return ()
        return tuple(target for target in self.targets if target.enabled)


#: The host ``[metrics] listen`` and ``metrics --serve`` use when only a port is given.
DEFAULT_METRICS_HOST: Final = "127.0.0.1"


@dataclass(frozen=True)
class ListenAddress:
    """Where the metrics are served: a host (name or address) and a TCP port."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"{host}:{self.port}"


def _resolvable(host: str) -> bool:
    """Whether a resolver can be asked for ``host``: an empty label (``a..b``, ``.``) or one
    over 63 characters is no name, and Python's socket raised UnicodeError for it."""
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def parse_listen(text: str) -> ListenAddress:
    """``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT`` (host default 127.0.0.1); raises ValueError
    with a one-line reason. Port 0 (any free port) is refused: Prometheus could not find it."""
    value = text.strip()
    host, port_text = DEFAULT_METRICS_HOST, value
    bracketed = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", value)
    if bracketed is not None:
        host, port_text = bracketed.group(1), bracketed.group(2) or ""
    elif ":" in value:
        host, _, port_text = value.rpartition(":")
        if ":" in host:
            raise ValueError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:9750")
    if (
        not host
        or any(char.isspace() or char in "/@[]" or not char.isprintable() for char in host)
        or not _resolvable(host)
    ):
        raise ValueError(f"{text!r}: not a host name or address before the port")
    if not re.fullmatch(r"[0-9]{1,5}", port_text) or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535 ([HOST:]PORT)")
    return ListenAddress(host, int(port_text))


@dataclass(frozen=True)
class MetricsConfig:
    """``[metrics]``: Prometheus metrics served by ``--no-ui``, ``plot``, ``archive`` and the
    dashboard while they run (off unless ``listen`` is set)."""

    listen: str | None = None

    @property
    def address(self) -> ListenAddress | None:
        """``listen`` read (the loader has checked it); None: off."""
        return parse_listen(self.listen) if self.listen is not None else None


#: The fleet's name for this machine (no ``[[fleet.hosts]]`` table may take it).
LOCAL_HOST_NAME: Final = "local"
#: The command a fleet host runs plotman-tui with when its table gives none.
DEFAULT_FLEET_COMMAND: Final = "plotman-tui"


@dataclass(frozen=True)
class FleetHost:
    """One ``[[fleet.hosts]]`` table: a plotting machine the dashboard watches and steers over
    SSH. ``command`` is a shell command line run there (words split as the remote shell splits
    them); ``watch --json`` and the control commands are appended to it."""

    name: str
    host: str
    port: int = 22
    user: str | None = None  # None: the SSH default (~/.ssh/config, else the local user)
    identity_file: Path | None = None  # None: the SSH agent and the default keys
    known_hosts: Path | None = None  # None: ~/.ssh/known_hosts
    command: str = DEFAULT_FLEET_COMMAND
    enabled: bool = True


@dataclass(frozen=True)
class FleetConfig:
    """``[fleet]``: other plotting machines shown and steered by this one's dashboard, over
    SSH (each runs ``plotman-tui watch --json``); this machine is one of them unless
    ``include_local`` is false."""

    include_local: bool = True
    hosts: tuple[FleetHost, ...] = ()

    @property
    def active_hosts(self) -> tuple[FleetHost, ...]:
        return tuple(host for host in self.hosts if host.enabled)


@dataclass(frozen=True)
class Config:
    """A whole, validated configuration."""

    logging: LoggingConfig
    directories: DirectoriesConfig
    scheduling: SchedulingConfig = field(default_factory=SchedulingConfig)
    plotting: PlottingConfig = field(default_factory=PlottingConfig)
    user_interface: UserInterfaceConfig = field(default_factory=UserInterfaceConfig)
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    archiving: ArchivingConfig = field(default_factory=ArchivingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    source: Path | None = None
