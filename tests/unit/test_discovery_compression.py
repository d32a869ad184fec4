"""A job's compression level: its log first, then its command line, then its plot's name."""

from __future__ import annotations

import pytest

from plotman_tui.farm.discovery import _compression
from plotman_tui.plotters.base import LogInfo, PlotArgs
from plotman_tui.plotters.limits import COMPRESSION_MAX

PLOT_ID = "552902f432b15e12882744c0a931367c804b2fa172e7958434a7a3392f4f6f67"
C07 = f"/mnt/dst/plot-k32-c07-2023-09-10-11-26-{PLOT_ID}.plot"
GIGAHORSE_C8 = f"/mnt/plot1_31/plot-k32-c8-2023-05-07-02-23-{PLOT_ID}.plot"
UNCOMPRESSED = f"/mnt/dst/plot-k32-2023-09-10-11-26-{PLOT_ID}.plot"

CASES = {
    "log-over-argv": (PlotArgs(compression=7), LogInfo(compression=1), 1),
    "argv-without-a-log": (PlotArgs(compression=7), None, 7),
    "argv-when-the-log-says-nothing": (PlotArgs(compression=0), LogInfo(), 0),
    "name-when-neither-says": (PlotArgs(), LogInfo(final_file=C07), 7),
    "gigahorse-name": (PlotArgs(), LogInfo(final_file=GIGAHORSE_C8), 8),
    "a-name-without-a-level-is-uncompressed": (PlotArgs(), LogInfo(final_file=UNCOMPRESSED), 0),
    "a-temp-name-tells-too": (PlotArgs(), LogInfo(final_file=f"{C07}.tmp"), 7),
    "argv-over-the-name": (PlotArgs(compression=5), LogInfo(final_file=C07), 5),
    "nothing-tells": (PlotArgs(), LogInfo(), None),
    "a-file-that-is-no-plot": (PlotArgs(), LogInfo(final_file="/mnt/dst/notes.txt"), None),
    # Untrusted values no plotter makes are passed over, for the next source.
    "a-made-up-log-level": (PlotArgs(compression=3), LogInfo(compression=COMPRESSION_MAX + 1), 3),
    "a-negative-level": (PlotArgs(compression=-1), LogInfo(final_file=C07), 7),
    "a-level-past-any-plotter": (
        PlotArgs(),
        LogInfo(final_file=f"/d/plot-k32-c99-2023-09-10-11-26-{PLOT_ID}.plot"),
        None,
    ),
}


@pytest.mark.parametrize(("args", "info", "level"), CASES.values(), ids=CASES.keys())
def test_the_level_of_a_jobs_plot(args: PlotArgs, info: LogInfo | None, level: int | None) -> None:
    assert _compression(args, info) == level


def test_a_level_restored_from_a_damaged_cache_is_no_level() -> None:
    # A parser's state comes back from a JSON cache with any JSON value in its fields.
    damaged = LogInfo(compression="7")  # type: ignore[arg-type]
    assert _compression(PlotArgs(), damaged) is None
    assert _compression(PlotArgs(compression=2), LogInfo(compression=True)) == 2  # type: ignore[arg-type]
