"""The fixtures' real plotter logs, as tests and benchmarks use them (no pytest needed)."""

from __future__ import annotations

from pathlib import Path

#: Real plotter logs of every plotter, with PROVENANCE.md.
PLOTTER_LOGS = Path(__file__).resolve().parent / "fixtures" / "plotter-logs"

#: One complete real run of each kind: k32 chia 2.x and 1.0, madMAx one-plot and two-plot runs,
#: BladeBit RAM and diskplot (relative to PLOTTER_LOGS).
COMPLETE_RUNS = (
    "chianetwork.plot.log",
    "chia-1.0/2021-04-04T19_00_47.681088-0400.log",
    "madmax-k32/madmax.plot.log",
    "madmax-multi/madmax-2plots.plot.log",
    "bladebit.plot.log",
    "bladebit2disk.plot.log",
)
