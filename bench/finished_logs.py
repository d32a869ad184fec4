"""Benchmark: `details` and `logs` of a job that has ended, in a log dir of many finished logs.

Builds a log dir of N real k32 chia logs (each with its own plot id), a config pointing at it,
and measures the wall time of `plotman-tui details <prefix>` for a prefix one log has and for a
prefix none has (every log's head read, none parsed), median of several runs, next to the floor:
`plotman-tui version`, which starts the same interpreter and reads no log.

Run: .venv/bin/python bench/finished_logs.py [--logs 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
K32_LOG = REPO / "tests" / "fixtures" / "plotter-logs" / "chianetwork.plot.log"
K32_ID = "d2540dcfcffddbfbd7e60b4aca4d54fb937db71991298fabc253f020a87ff7d4"
PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"


def build(root: Path, count: int) -> tuple[Path, str]:
    logs = root / "logs"
    logs.mkdir()
    for name in ("tmp", "dst"):
        (root / name).mkdir()
    template = K32_LOG.read_text()
    plot_id = ""
    for index in range(count):
        plot_id = secrets.token_hex(32)
        (logs / f"2026-11-{1 + index % 28:02d}T00_00_00.{index:06d}.log").write_text(
            template.replace(K32_ID, plot_id)
        )
    config = root / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{logs}"\n[directories]\ntmp = ["{root / "tmp"}"]\n'
        f'dst = ["{root / "dst"}"]\n[plotting]\ntype = "chia"\n'
    )
    return config, plot_id  # the last log's id


def timed(argv: list[str], runs: int, expect: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        assert result.returncode == expect, (argv, result.returncode, result.stderr)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config, plot_id = build(Path(tmp), args.logs)
        base = [str(PLOTMAN_TUI), "--config", str(config)]
        floor = timed([*base, "version"], args.runs, 0)
        found = timed([*base, "details", plot_id[:8]], args.runs, 0)
        missing = timed([*base, "details", "0123456789abcdef"], args.runs, 3)
        print(f"{args.logs} finished logs of {K32_LOG.stat().st_size // 1024} KiB each")
        print(f"  floor (version):          {floor * 1000:7.0f} ms")
        print(f"  details, one log has it:  {found * 1000:7.0f} ms")
        print(f"  details, no log has it:   {missing * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
