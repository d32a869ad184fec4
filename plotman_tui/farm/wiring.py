"""The engines as the front ends use them: the user's data dir, locks and action log.

``plot``, ``archive``, ``--no-ui`` and the dashboard build their engines here, so they share
one scheduler lock, one archiver lock, one action log, one state file and one pause flag per loop
and machine user (``plotman-tui plotting pause`` reaches every one of them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from plotman_tui.appdirs import data_dir
from plotman_tui.config.schema import Config
from plotman_tui.farm.actionlog import default_action_log
from plotman_tui.farm.archive.engine import ArchivingEngine
from plotman_tui.farm.archive.space import SpaceMonitor
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.engine import PlottingEngine
from plotman_tui.farm.lock import default_archive_lock, default_lock
from plotman_tui.farm.loopstate import state_path
from plotman_tui.farm.model import Job, distinct_dirs
from plotman_tui.farm.pauseflags import Loop

#: Seconds between two reads of an archive target's free space (sooner after a transfer).
SPACE_TTL_S = 60.0
#: Seconds a farmer has to answer a free-space read before it counts as unreachable.
SPACE_TIMEOUT_S = 10.0


def jobs_of_this_farm(config: Config) -> Callable[[Job], bool]:
    """The plot jobs of this config's farm: a tmp dir of its, or a log in its log dir.

    For a sandbox beside a real farm (the demo, with :func:`~plotman_tui.farm.engine.
    counting_only`): the machine's other plot jobs are not its business. A farm's own engines
    count every plot job of the machine, since a job started by hand uses the same disks.
    """
    tmp_dirs = set(distinct_dirs(*(os.fspath(path) for path in config.directories.tmp)))
    log_dir = os.path.normpath(os.fspath(config.logging.plots))

    def ours(job: Job) -> bool:
        if job.tmp_dir and os.path.normpath(job.tmp_dir) in tmp_dirs:
            return True
        log = job.log_file
        return log is not None and os.path.dirname(os.path.normpath(log)) == log_dir

    return ours


def plotting_engine(config: Config, scanner: Scanner) -> PlottingEngine:
    return PlottingEngine(
        config,
        lock=default_lock(),
        action_log=default_action_log(),
        scanner=scanner,
        state_path=state_path(Loop.PLOTTING),
        pause_dir=data_dir(),
    )


def transfer_log_dir(config: Config) -> Path:
    """``[logging] transfers``, else ``transfers`` in the data dir."""
    return config.logging.transfers or data_dir() / "transfers"


def archiving_engine(config: Config, scanner: Scanner | None) -> ArchivingEngine | None:
    """The archiving engine, or None when archiving is off or has no enabled target.

    ``scanner``: for the jobs' phases when no plotting engine runs beside it (None: it gets
    them from the plotting engine's passes).
    """
    targets = config.archiving.active_targets
    if not targets:
        return None
    return ArchivingEngine(
        config,
        lock=default_archive_lock(),
        action_log=default_action_log(),
        space=SpaceMonitor(targets, ttl_s=SPACE_TTL_S, timeout_s=SPACE_TIMEOUT_S),
        log_dir=transfer_log_dir(config),
        scanner=scanner,
        settle_s=float(config.archiving.min_plot_age_s),
        state_path=state_path(Loop.ARCHIVING),
        pause_dir=data_dir(),
    )
