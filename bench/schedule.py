"""Benchmark: one scheduling pass (scan + free space + decide) on a busy plotting machine.

Uses the same farm as bench/status.py (long-lived jobs with a venv chia's command line, real
k32 logs cut at varied lines, temp files in place) with 50 jobs over 12 tmp dirs, and times a
warm pass of the engine the plotting loop runs (``PlottingEngine.step``): a reused Scanner's
rescan, the scheduler lock check, the free space of every tmp and dst dir, matching job dirs
to the configured ones, and ``scheduler.decide``. The farm's dst is too small for 50 more k32
plots, so the decision is a wait and nothing is started. Goal: under 30 ms on 2 cores.

Run: .venv/bin/python bench/schedule.py [--jobs 50] [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from status import build_farm  # noqa: E402  (the farm builder of the status benchmark)

from plotman_tui.config import load_config  # noqa: E402
from plotman_tui.farm.discovery import Scanner  # noqa: E402
from plotman_tui.farm.engine import PlottingEngine  # noqa: E402
from plotman_tui.farm.lock import SchedulerLock  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plotman-bench-") as tmp:
        root = Path(tmp)
        config_path, jobs = build_farm(root, args.jobs)
        try:
            time.sleep(0.5)  # let every fake job reach its sleep
            config = load_config(config_path)
            for refresh, label in ((0.0, "every temp file measured"), (5.0, "temp space sampled")):
                engine = PlottingEngine(
                    config,
                    lock=SchedulerLock(root / f"scheduler-{refresh}.lock"),
                    action_log=None,
                    scanner=Scanner(config.logging.plots, temp_refresh_s=refresh),
                )
                engine.step()
                samples = []
                decision = None
                for _ in range(args.runs):
                    start = time.perf_counter()
                    result = engine.step()
                    samples.append((time.perf_counter() - start) * 1000)
                    decision = result.decision
                    if result.started is not None:
                        raise SystemExit("the benchmark farm must not start jobs")
                engine.close()
                print(
                    f"{args.jobs} jobs, {len(config.directories.tmp)} tmp dirs, {label}: "
                    f"median {statistics.median(samples):.2f} ms, min {min(samples):.2f} ms "
                    f"({args.runs} warm passes; {os.cpu_count()} cores)"
                )
            print(f"last decision: {decision}")
        finally:
            for job in jobs:
                job.terminate()
            for job in jobs:
                job.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
