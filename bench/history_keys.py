"""Benchmark: the dashboard's keys with the history screen on a log dir that exists already
(bench/analyze.py's dashboard part alone, without building the logs or timing the CLI).

Runs :func:`analyze.dashboard_keys` (the dashboard in tmux at 120x40, ``h`` pressed every
0.37 s, cold then warm) ``--runs`` times on ``--logs DIR``, e.g. a dir bench/analyze.py built,
with a config, cache and data dirs of its own in a temp dir (the log dir is only read), and
prints each run's figures with the load average.

Run: .venv/bin/python bench/history_keys.py --logs DIR [--runs 3] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analyze import dashboard_keys, report, write_config  # bench/analyze.py, beside this


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", required=True, type=Path, help="the log dir (only read)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="keys pressed, each state")
    args = parser.parse_args()
    logs = args.logs.resolve()
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="bench-history-keys-") as tmp:
            root = Path(tmp)
            write_config(root, logs)
            before = os.getloadavg()[0]
            figures = dashboard_keys(root, args.seconds)
            print(f"run {run}: load average {before:.2f} before, {os.getloadavg()[0]:.2f} after")
            if figures:
                report(figures, None)


if __name__ == "__main__":
    main()
