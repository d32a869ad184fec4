"""Benchmark: how long the dashboard's event loop takes to draw while the history thread reads.

The event loop lets the GIL go on every turn (it polls for I/O); a thread doing pure-Python work
then keeps it for a whole switch interval before the loop gets it back (a "convoy"). This times
a stand-in for a screen being drawn: an asyncio loop doing ``--turns`` turns of ``--work-ms`` of
Python each, alone and while a thread does what the dashboard's history thread does (a warm
``read_history`` of a log dir, the ETA model and the history screen's figures) again and again;
at each switch interval given. Two threads that both want the GIL share it: twice the time
alone is the floor; past that is the convoy.

Run: .venv/bin/python bench/history_convoy.py --logs DIR [--intervals 0.005,0.001,0.0005]
(DIR: a log dir, e.g. one bench/analyze.py builds; its history cache goes to a temp file)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plotman_tui.farm.eta import EtaModel
from plotman_tui.farm.history import read_history
from plotman_tui.tui.view import history_view


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def draw(turns: int, work_s: float) -> float:
    """Milliseconds for ``turns`` loop turns of ``work_s`` of Python each."""
    start = time.perf_counter()
    for _ in range(turns):
        spin(work_s)
        await asyncio.sleep(0)
    return (time.perf_counter() - start) * 1000


async def measure(args: argparse.Namespace, cache: str) -> None:
    stop = threading.Event()

    def reads() -> None:
        while not stop.is_set():
            history = read_history(args.logs, cache)
            EtaModel.from_records(history.records)
            history_view(history, time.time())

    work_s = args.work_ms / 1000
    for interval in args.intervals:
        sys.setswitchinterval(interval)
        alone = [await draw(args.turns, work_s) for _ in range(5)]
        stop.clear()
        thread = threading.Thread(target=reads, daemon=True)
        thread.start()
        await asyncio.sleep(0.2)
        busy = []
        for _ in range(args.draws):
            busy.append(await draw(args.turns, work_s))
            await asyncio.sleep(0.05)
        stop.set()
        thread.join()
        print(
            f"switch interval {interval * 1000:4.1f} ms: alone {statistics.median(alone):4.0f} ms;"
            f" while the history is read: median {statistics.median(busy):4.0f} ms,"
            f" worst {max(busy):4.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", required=True, help="a log dir")
    parser.add_argument("--intervals", default="0.005,0.001,0.0005")
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--work-ms", type=float, default=0.3)
    parser.add_argument("--draws", type=int, default=20)
    args = parser.parse_args()
    args.intervals = [float(value) for value in args.intervals.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-convoy-") as tmp:
        cache = os.path.join(tmp, "history.json")
        began = time.perf_counter()
        history = read_history(args.logs, cache)  # the cache filled: the reads are warm
        print(
            f"{len(history.records)} plots in {args.logs}, read cold in "
            f"{time.perf_counter() - began:.1f} s; {os.cpu_count()} cores, "
            f"load {os.getloadavg()[0]:.2f}"
        )
        asyncio.run(measure(args, cache))
        print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
