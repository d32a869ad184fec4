"""When and where to start the next plot: a pure function of the jobs, the config and free space.

``decide`` reads no clock, no disk and no process table: the engine passes the time, the jobs of
the last scan, the free space it sampled and the starts it made that the scan does not show yet.
The rules are plotman's (global and per-dir limits, stagger, the phase milestone), with its
over-starting fixed: a job whose phase is unknown (no log yet, or a log not read) counts as a
job that has not reached the milestone and is in phase 1, instead of being left out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from plotman_tui.config.schema import Config, PlotterType, TmpOverride
from plotman_tui.farm.model import Job, distinct_dirs
from plotman_tui.farm.plotsize import (
    GIB,
    final_plot_bytes,
    plot_compression,
    plot_k,
    tmp_space_bytes,
)
from plotman_tui.farm.units import common_prefix, human_bytes
from plotman_tui.plotters import get_plotter
from plotman_tui.plotters.phase import Phase


@dataclass(frozen=True)
class PendingStart:
    """A job this process started that the process scan does not show yet."""

    tmp_dir: str
    dst_dir: str
    k: int
    started_at: float
    #: Its plot's compression level; None: the configured plotter's (which started it).
    compression: int | None = None


@dataclass(frozen=True)
class Start:
    """Start one plot job now, with this command line."""

    tmp_dir: str
    tmp2_dir: str | None
    dst_dir: str
    argv: tuple[str, ...]
    k: int
    reason: str


@dataclass(frozen=True)
class Wait:
    """Start nothing now; ``reason`` says why, in a farmer's words."""

    reason: str


Decision = Start | Wait


@dataclass(frozen=True)
class TmpLimits:
    """The scheduling limits of one tmp dir (the global ones, or its override)."""

    milestone: Phase
    phase_limit: int
    max_jobs: int


@dataclass(frozen=True)
class _Occupant:
    """A running job or a pending start, reduced to what the rules look at."""

    tmp_dir: str | None
    dst_dir: str | None
    phase: Phase | None  # None: unknown
    started_at: float
    k: int | None
    completed: bool
    #: The plot's compression level (None: unknown, planned as uncompressed) and plotter,
    #: which together say how large the plot it brings to its dst dir is.
    compression: int | None = None
    plotter: str | None = None


def _norm(path: str | os.PathLike[str] | None) -> str | None:
    return os.path.normpath(os.fspath(path)) if path else None


def _occupants(
    jobs: Sequence[Job], pending: Sequence[PendingStart], config: Config
) -> list[_Occupant]:
    found = [
        _Occupant(
            tmp_dir=_norm(job.tmp_dir),
            dst_dir=_norm(job.dst_dir),
            phase=job.phase,
            started_at=job.started_at,
            k=job.k,
            completed=job.completed,
            compression=job.compression,
            plotter=job.plotter,
        )
        for job in jobs
    ]
    plotting = config.plotting
    # A pending start counts exactly like a job whose log has not said anything yet.
    found += [
        _Occupant(
            tmp_dir=_norm(start.tmp_dir),
            dst_dir=_norm(start.dst_dir),
            phase=None,
            started_at=start.started_at,
            k=start.k,
            completed=False,
            compression=(
                plot_compression(plotting) if start.compression is None else start.compression
            ),
            plotter=plotting.type,
        )
        for start in pending
    ]
    return found


def _unique(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    return distinct_dirs(*(os.fspath(path) for path in paths))


def tmp_limits(config: Config, tmp_dir: str) -> TmpLimits:
    """The limits for ``tmp_dir``: its ``tmp_overrides`` entry, falling back to [scheduling]."""
    scheduling = config.scheduling
    wanted = os.path.normpath(tmp_dir)
    override = TmpOverride()
    for path, entry in config.directories.tmp_overrides.items():
        if os.path.normpath(os.fspath(path)) == wanted:
            override = entry
            break

    def pick(value: int | None, default: int) -> int:
        return default if value is None else value

    major = pick(override.tmpdir_stagger_phase_major, scheduling.tmpdir_stagger_phase_major)
    minor = pick(override.tmpdir_stagger_phase_minor, scheduling.tmpdir_stagger_phase_minor)
    return TmpLimits(
        milestone=Phase(major, minor),
        phase_limit=pick(
            override.tmpdir_stagger_phase_limit, scheduling.tmpdir_stagger_phase_limit
        ),
        max_jobs=pick(override.tmpdir_max_jobs, scheduling.tmpdir_max_jobs),
    )


def tmp_need_bytes(config: Config) -> int:
    """Free space a tmp dir must have for a new job: ``tmp_min_free_gib``, else a default."""
    if config.scheduling.tmp_min_free_gib is not None:
        return config.scheduling.tmp_min_free_gib * GIB
    plotting = config.plotting
    return tmp_space_bytes(
        plotting.type,
        plot_k(plotting),
        separate_tmp2=config.directories.tmp2 is not None,
        nobitfield=plotting.type == PlotterType.CHIA and plotting.chia.e,
        alternate=plotting.bladebit2disk.alternate,
        compression=plot_compression(plotting),
    )


def tmp_dir_problem(
    config: Config, tmp_dir: str, phases: Sequence[Phase | None], free_bytes: int | None
) -> str | None:
    """Why ``tmp_dir`` takes no new job now, going by the dir alone (None: it would).

    ``phases``: of the jobs (and just-started ones, as None) in it. The per-dir rules of
    :func:`decide`, for views that show each dir's state: max jobs, the phase limit before
    the milestone, free space. The global limits (max jobs, stagger) are not looked at.
    """
    return _tmp_problem(
        config, os.path.normpath(tmp_dir), phases, free_bytes, tmp_need_bytes(config)
    )


def _tmp_problem(
    config: Config,
    tmp_dir: str,
    phases: Sequence[Phase | None],
    free_bytes: int | None,
    needed: int,
) -> str | None:
    limits = tmp_limits(config, tmp_dir)
    # Unknown phase counts as not there yet: plotman leaving such jobs out is how it over-starts.
    before = sum(1 for phase in phases if phase is None or phase < limits.milestone)
    if len(phases) >= limits.max_jobs:
        return f"max jobs {limits.max_jobs}"
    if before >= limits.phase_limit:
        return f"{before} before {limits.milestone}"
    if free_bytes is None:
        return "free space unknown"
    if free_bytes < needed:
        # The problem first: a reason cut to its first words must still say what is wrong
        # ("78.4 GiB…" read as a healthy amount of free space).
        return f"low space ({human_bytes(free_bytes)} free, needs {human_bytes(needed)})"
    return None


def _dir_namer(role: str, paths: Sequence[str]) -> dict[str, str]:
    """Each dir as a reason names it: its role and what sets it apart (``tmp 01``, ``dst 03``).

    The role says which dir it is: ``1 ready (empty); 1: no plot headed there`` read as a count.
    """
    prefix = common_prefix(list(paths))
    return {path: f"{role} {(path[len(prefix) :] or path) if prefix else path}" for path in paths}


def _in_phase1(occupant: _Occupant) -> bool:
    return occupant.phase is None or occupant.phase.major <= 1


@dataclass(frozen=True)
class _DstCheck:
    path: str
    free: int | None
    needed: int
    inbound: int

    @property
    def fits(self) -> bool:
        return self.free is not None and self.free >= self.needed

    def problem(self) -> str:
        if self.free is None:
            return "free space unknown"
        return f"{human_bytes(self.free)} free, needs {human_bytes(self.needed)}"


def _check_dst(
    path: str,
    occupants: Sequence[_Occupant],
    free: Mapping[str, int | None],
    new_plot_bytes: int,
    k: int,
    reserve: int = 0,
) -> _DstCheck:
    # Every plot headed there will land there, each at its own size (a C7 k32 plot is 78 GiB,
    # an uncompressed one 101 GiB); a finished job's plot is already in the free space.
    inbound = [o for o in occupants if o.dst_dir == path and not o.completed]
    needed = (
        reserve
        + new_plot_bytes
        + sum(
            final_plot_bytes(o.k if o.k is not None and o.k > 0 else k, o.compression, o.plotter)
            for o in inbound
        )
    )
    return _DstCheck(path=path, free=free.get(path), needed=needed, inbound=len(inbound))


def _dst_wait(checks: Sequence[_DstCheck], names: Mapping[str, str]) -> Wait:
    details = "; ".join(f"{names[check.path]}: {check.problem()}" for check in checks)
    if all(check.free is not None for check in checks):
        return Wait(f"dst full ({details})")
    return Wait(f"no eligible dst dirs ({details})")


def decide(
    jobs: Sequence[Job],
    config: Config,
    now: float,
    free_bytes: Mapping[str, int | None],
    pending: Sequence[PendingStart] = (),
) -> Start | Wait:
    """Start one job now, or wait and say why.

    ``free_bytes`` maps each configured dir (``os.path.normpath`` of its path) to its free
    space, None when it could not be read; a dir missing from it counts as unknown. Checks run
    in this order and the first that fails is the reason: global max jobs, global stagger,
    global max phase 1 jobs, the tmp dirs (every dir's reason listed), the dst dirs.
    """
    scheduling = config.scheduling
    directories = config.directories
    occupants = _occupants(jobs, pending, config)
    free = {os.path.normpath(path): size for path, size in free_bytes.items()}

    if len(occupants) >= scheduling.global_max_jobs:
        return Wait(f"max jobs ({scheduling.global_max_jobs})")

    stagger_seconds = scheduling.global_stagger_m * 60
    if occupants and stagger_seconds > 0:
        since_youngest = now - max(o.started_at for o in occupants)
        if since_youngest < stagger_seconds:
            return Wait(f"stagger ({int(max(since_youngest, 0))}s/{stagger_seconds}s)")

    max_phase1 = scheduling.global_max_phase1
    if max_phase1 is not None and sum(map(_in_phase1, occupants)) >= max_phase1:
        return Wait(f"max phase 1 jobs ({max_phase1})")

    tmp_dirs = _unique(directories.tmp)
    if not tmp_dirs:
        return Wait("no tmp dirs configured")
    tmp_names = _dir_namer("tmp", tmp_dirs)
    tmp_needed = tmp_need_bytes(config)
    eligible: list[tuple[str, list[_Occupant]]] = []
    problems: list[str] = []
    for tmp in tmp_dirs:
        here = [o for o in occupants if o.tmp_dir == tmp]
        problem = _tmp_problem(config, tmp, [o.phase for o in here], free.get(tmp), tmp_needed)
        if problem is None:
            eligible.append((tmp, here))
        else:
            problems.append(f"{tmp_names[tmp]}: {problem}")
    if not eligible:
        return Wait(f"no eligible tmp dirs ({'; '.join(problems)})")

    # plotman's choice: the dir whose least advanced job is furthest along (an empty dir first),
    # so a new job goes where the last one has moved on the most. The sort is stable: ties stay
    # in config order.
    tmp_order = [tmp for tmp, _ in sorted(eligible, key=lambda e: _slowest(e[1]), reverse=True)]
    occupants_of = dict(eligible)

    k = plot_k(config.plotting)
    new_plot_bytes = final_plot_bytes(k, plot_compression(config.plotting), config.plotting.type)
    tmp2 = _norm(directories.tmp2)

    reserve = scheduling.dst_min_free_gib * GIB
    if directories.dst:
        dst_dirs = _unique(directories.dst)
        dst_names = _dir_namer("dst", dst_dirs)
        checks = [_check_dst(dst, occupants, free, new_plot_bytes, k, reserve) for dst in dst_dirs]
        fitting = [(index, check) for index, check in enumerate(checks) if check.fits]
        if not fitting:
            return _dst_wait(checks, dst_names)
        _, dst_check = min(
            fitting,
            key=lambda item: (item[1].inbound > 0, -(item[1].free or 0), item[0]),
        )
        tmp = tmp_order[0]
        dst = dst_check.path
        dst_reason = _dst_reason(dst_names[dst], dst_check, fitting_count=len(fitting))
    else:
        # No dst dirs: the plot stays in its tmp dir, which must then hold it too.
        tmp_checks = [
            _check_dst(tmp, occupants, free, new_plot_bytes, k, reserve) for tmp in tmp_order
        ]
        chosen = next((check for check in tmp_checks if check.fits), None)
        if chosen is None:
            return _dst_wait(tmp_checks, tmp_names)
        tmp = dst = chosen.path
        dst_reason = "plot stays in the tmp dir (no dst dirs)"

    argv = get_plotter(config.plotting.type).build_argv(config.plotting, tmp, tmp2, dst)
    tmp_reason = _tmp_reason(tmp_names[tmp], occupants_of[tmp])
    return Start(
        tmp_dir=tmp,
        tmp2_dir=tmp2,
        dst_dir=dst,
        argv=tuple(argv),
        k=k,
        reason=f"{tmp_reason}; {dst_reason}",
    )


def _slowest(here: Sequence[_Occupant]) -> tuple[int, int]:
    """The least advanced job's phase as a sort key: unknown lowest, an empty dir highest."""
    if not here:
        return (1 << 30, 0)
    return min((-1, -1) if o.phase is None else (o.phase.major, o.phase.minor) for o in here)


def _tmp_reason(name: str, here: Sequence[_Occupant]) -> str:
    if not here:
        return f"{name}: ready (empty)"
    phases = [o.phase for o in here]
    slowest = "?" if None in phases else str(min(p for p in phases if p is not None))
    return f"{name}: ready (slowest job at {slowest})"


def _dst_reason(name: str, check: _DstCheck, *, fitting_count: int) -> str:
    free_text = human_bytes(check.free)
    if check.inbound == 0:
        return f"{name}: no plot headed there, {free_text} free"
    if fitting_count == 1:
        return f"{name}: only dst with room, {free_text} free"
    return f"{name}: most space, {free_text} free"
