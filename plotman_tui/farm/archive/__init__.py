"""Archiving: moving finished plots to the farmer.

``policy`` holds the pure rules (which plot, from which dst dir, to which archive dir); the
runners that copy and sample free space sit beside it.
"""

from __future__ import annotations

from plotman_tui.farm.archive.policy import (
    ArchivePlan,
    ArchiveWait,
    DstRank,
    DstState,
    HeldPlot,
    PlotCandidate,
    TargetState,
    Transfer,
    choose_archive_dir,
    dst_priority,
    dst_score,
    is_finished_plot,
    pick_transfers,
    plausible_plot_bytes,
    plot_name_k,
)

__all__ = [
    "ArchivePlan",
    "ArchiveWait",
    "DstRank",
    "DstState",
    "HeldPlot",
    "PlotCandidate",
    "TargetState",
    "Transfer",
    "choose_archive_dir",
    "dst_priority",
    "dst_score",
    "is_finished_plot",
    "pick_transfers",
    "plausible_plot_bytes",
    "plot_name_k",
]
