"""The plot files on the farmer: list an archive dir's plots, remove old ones (replotting).

SKELETON of issue 13: signatures final, bodies filled in by the replot work.

Local targets: ``os.scandir``/``os.unlink`` relative to an open dir fd, never following a symlink.
rsyncd and ssh targets: SFTP over the target's kept SSH connection (the one free space is read
over, :class:`~plotman_tui.farm.archive.space.SshConnections`). Script targets: the target's
``list_command`` and ``remove_command``.

A removal checks each file just before it goes: a regular file (``lstat``, not a symlink), a
plot's name, the size it was listed with, unchanged for :data:`replot.QUIET_S`; anything else
is refused and stops the removals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from plotman_tui.config.schema import ArchiveTarget
from plotman_tui.farm.archive.replot import FarmerListing, FarmerPlot
from plotman_tui.farm.archive.space import SshConnections


@dataclass(frozen=True)
class RemovalResult:
    """What a removal did: the plots removed (in order), and the first failure, if any (the
    plots after it were not tried)."""

    removed: tuple[FarmerPlot, ...]
    failed: FarmerPlot | None = None
    error: str | None = None  # one line, a farmer's words


async def list_plot_files(
    target: ArchiveTarget,
    *,
    connections: SshConnections,
    timeout_s: float = 30.0,
) -> FarmerListing:
    """The plot files of every archive dir of ``target``; never raises (problems say why)."""
    raise NotImplementedError


async def remove_plot_files(
    target: ArchiveTarget,
    archive_dir: str,
    plots: Sequence[FarmerPlot],
    *,
    connections: SshConnections,
    timeout_s: float = 30.0,
) -> RemovalResult:
    """Remove ``plots`` (all in ``archive_dir``) one by one, each checked first; stops at the
    first failure. Never raises."""
    raise NotImplementedError
