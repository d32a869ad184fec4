"""A fixed plot history for the dashboard's tests: 30 days of plots finished on the farm of
``farmdata`` (chia k32 on tmp/0 and tmp/1, madMAx on tmp/2), and the message the history worker
would post with it.

The numbers are chosen so a test can check them by hand: see ``DAILY`` and ``PHASES``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from plotman_tui.farm.eta import EtaModel
from plotman_tui.farm.history import History, PlotRecord, SkippedLog
from plotman_tui.tui.messages import HistoryRead
from plotman_tui.tui.view import history_view
from tests.tui.farmdata import DST, NOW, TMP, TMP2

DAY = 86_400.0
#: A k32 plot's final size.
K32_BYTES = 108_837_100_000
#: Plots finished on each day, today first (index 0), back 29 days: none on days 9 and 10 (a
#: farmer's holiday with plotting paused).
DAILY = tuple(0 if back in (9, 10) else 2 + (back * 5) % 4 for back in range(30))
#: Phase 1–4 seconds of each tmp dir's plots (the i-th plot of a dir adds i * 60 s to phase 1).
PHASES = {
    f"{TMP[0]}": ("chia", (9_000.0, 4_000.0, 7_800.0, 500.0)),
    f"{TMP[1]}": ("chia", (10_500.0, 4_400.0, 8_600.0, 560.0)),
    "/mnt/nvme/tmp/2": ("madmax", (1_300.0, 700.0, 950.0, 40.0)),
}
COPY_SECONDS = 420.0


def history_plot_id(seed: int) -> str:
    return hashlib.sha256(f"history {seed}".encode()).hexdigest()


def history_records() -> list[PlotRecord]:
    """Every day's plots, each day's spread over the three tmp dirs in turn; and one plot that
    was killed in phase 2."""
    records: list[PlotRecord] = []
    tmp_dirs = list(PHASES)
    seen = {tmp: 0 for tmp in tmp_dirs}
    seed = 0
    for back, plots in enumerate(DAILY):
        for index in range(plots):
            tmp = tmp_dirs[seed % len(tmp_dirs)]
            plotter, phases = PHASES[tmp]
            phase1 = phases[0] + seen[tmp] * 60.0
            seen[tmp] += 1
            times = (phase1, *phases[1:])
            total = sum(times)
            # Ends spread over the day, all before NOW's 22:13 UTC.
            ended = NOW - back * DAY - 1_800.0 - index * 10_000.0
            records.append(
                _record(seed, plotter, tmp, times, ended - total - COPY_SECONDS, completed=True)
            )
            seed += 1
    killed = _record(seed, "chia", TMP[0], (9_100.0, None, None, None), NOW - 50_000.0)
    return [*records, killed]


def _record(
    seed: int,
    plotter: str,
    tmp: str,
    phases: Sequence[float | None],
    started: float,
    *,
    completed: bool = False,
) -> PlotRecord:
    plot_id = history_plot_id(seed)
    total = sum(p for p in phases if p is not None) if completed else None
    dst = DST[seed % 2]
    return PlotRecord(
        log_path=f"/var/log/plots/{plot_id[:8]}.log",
        plotter=plotter,
        plot_id=plot_id,
        k=32,
        compression=None,
        started_at=started,
        ended_at=started + total + COPY_SECONDS if total is not None else None,
        tmp_dir=tmp,
        tmp2_dir=TMP2,
        dst_dir=dst,
        threads=4,
        buckets=128 if plotter == "chia" else 256,
        buffer_mib=3389 if plotter == "chia" else None,
        bitfield=True if plotter == "chia" else None,
        phase1_seconds=phases[0],
        phase2_seconds=phases[1],
        phase3_seconds=phases[2],
        phase4_seconds=phases[3],
        total_seconds=total,
        copy_seconds=COPY_SECONDS if completed else None,
        final_file=f"{dst}/plot-k32-{plot_id}.plot" if completed else None,
        final_bytes=K32_BYTES if completed else None,
        completed=completed,
        unfinished_reason="" if completed else "the log ends in phase 2",
    )


def farm_history(records: Sequence[PlotRecord] | None = None) -> History:
    found = history_records() if records is None else list(records)
    skipped = (SkippedLog("/var/log/plots/notes.log", "not a plot log (no plot id in it)"),)
    return History(tuple(found), skipped, ())


def history_read(history: History | None = None, now: float = NOW) -> HistoryRead:
    """The message the history worker posts after reading ``history`` (the farm's)."""
    found = farm_history() if history is None else history
    return HistoryRead(found, EtaModel.from_records(found.records), history_view(found, now))
