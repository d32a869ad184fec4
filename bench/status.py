"""Benchmark: how fast `plotman-tui status --json` sees a busy plotting machine.

Builds N long-lived fake jobs — processes whose command line is a venv chia's
(`python3 …/bin/chia plots create …`), whose stdout is a log in the log dir holding the real k32
chia log cut at varied lines, with temp files in place — next to a log dir of 5,000 finished
logs. Measures the wall time of `status --json` (median of several runs) at N = 10, 50, 200,
next to the floor: a bare interpreter that imports psutil and reads every process's cmdline once.
Also measures one warm rescan with a reused Scanner, and checks that it reads no log byte twice.

Run: .venv/bin/python bench/status.py [--sizes 10,50,200] [--runs 7]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
K32_LOG = REPO / "tests" / "fixtures" / "plotter-logs" / "chianetwork.plot.log"
K32_ID = "d2540dcfcffddbfbd7e60b4aca4d54fb937db71991298fabc253f020a87ff7d4"
FINISHED_LOGS = 5000
N_TMP = 12

FAKE_CHIA = """\
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(3600)
"""


def build_farm(
    root: Path,
    n_jobs: int,
    n_dst: int = 1,
    *,
    finished_logs: int = FINISHED_LOGS,
    start: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
    fake_chia: str = FAKE_CHIA,
) -> tuple[Path, list[subprocess.Popen[bytes]]]:
    """Lay out dirs, logs and temp files; start the jobs (spread over ``n_dst`` dst dirs) with
    ``start`` (``Popen``'s arguments: bench/fleet.py starts them on a host of its own), each
    running ``fake_chia``. Returns the config path and jobs."""
    log_dir = root / "logs"
    log_dir.mkdir()
    tmp_dirs = [root / "tmp" / f"{i:02d}" for i in range(N_TMP)]
    for directory in tmp_dirs:
        directory.mkdir(parents=True)
    dsts = [root / "dst"] if n_dst == 1 else [root / "dst" / f"{i:02d}" for i in range(n_dst)]
    for directory in dsts:
        directory.mkdir(parents=True)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    chia = bin_dir / "chia"
    chia.write_text(fake_chia)
    lines = K32_LOG.read_text().splitlines(keepends=True)
    # Finished logs: the whole k32 log under distinct names, as a busy farm accumulates them.
    whole = "".join(lines).encode()
    for index in range(finished_logs):
        (log_dir / f"2021-01-01T00_00_{index:05d}.log").write_bytes(whole)
    config = root / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{log_dir}"\n\n[directories]\n'
        f"tmp = {json.dumps([str(d) for d in tmp_dirs])}\n"
        f'dst = {json.dumps([str(d) for d in dsts])}\n\n[plotting]\ntype = "chia"\n'
        # Limits high enough that bench/schedule.py's decide() runs every rule, not the first.
        "\n[scheduling]\nglobal_max_jobs = 1000\ntmpdir_max_jobs = 100\n"
        "tmpdir_stagger_phase_limit = 100\nglobal_stagger_m = 0\ntmp_min_free_gib = 1\n"
    )
    jobs: list[subprocess.Popen[bytes]] = []
    for index in range(n_jobs):
        plot_id = secrets.token_hex(32)
        cut = 20 + (index * 997) % (len(lines) - 20)
        tmp = tmp_dirs[index % N_TMP]
        dst = dsts[index % n_dst]
        text = "".join(lines[:cut]).replace(K32_ID, plot_id)
        # The log names the job's real dirs, so its temp files are found and measured.
        text = text.replace("/farm/yards/902/fake_tmp2", str(tmp))
        text = text.replace("/farm/yards/902/fake_dst", str(dst))
        text = text.replace("/farm/yards/902", str(tmp))
        log = log_dir / f"2021-07-14T22_33_{index:05d}.log"
        log.write_text(text)
        name = f"plot-k32-2021-07-14-22-33-{plot_id}.plot"
        for table in range(1, 8):
            with open(tmp / f"{name}.table{table}.tmp", "wb") as handle:
                handle.truncate(1 << 20)
        for bucket in range(16):
            (tmp / f"{name}.p1.t2.sort_bucket_{bucket:03d}.tmp").write_bytes(b"")
        argv = [
            sys.executable,
            str(chia),
            "plots",
            "create",
            "-k",
            "32",
            "-r",
            "4",
            "-u",
            "128",
            "-b",
            "4000",
            "-t",
            str(tmp),
            "-2",
            str(tmp),
            "-d",
            str(dst),
        ]
        with open(log, "ab") as handle:
            jobs.append(start(argv, stdout=handle, stderr=subprocess.STDOUT, cwd=root))
    return config, jobs


def timed(
    argv: list[str],
    runs: int,
    env: dict[str, str] | None = None,
    before: Callable[[], None] | None = None,
) -> float:
    """Median wall time of a command, in ms (one untimed warm-up run first)."""
    subprocess.run(argv, check=True, capture_output=True, env=env)
    samples = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def warm_rescan(log_dir: Path, runs: int, temp_refresh_s: float) -> tuple[float, int, int]:
    """Median ms of a rescan with a reused Scanner; bytes read by the first and later scans."""
    sys.path.insert(0, str(REPO))
    from plotman_tui.farm.discovery import Scanner

    scanner = Scanner(log_dir, temp_refresh_s=temp_refresh_s)
    scanner.scan()
    first = scanner.bytes_read
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        scanner.scan()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), first, scanner.bytes_read - first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,200")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    floor_argv = [
        sys.executable,
        "-c",
        "import psutil\nfor p in psutil.process_iter():\n"
        "    try: p.cmdline()\n    except psutil.Error: pass",
    ]
    status = [str(Path(sys.executable).parent / "plotman-tui"), "status", "--json"]
    # An installed package has its bytecode compiled; a checkout run with
    # PYTHONDONTWRITEBYTECODE would otherwise compile every module on every run.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "plotman_tui")], check=True
    )
    print(f"status --json vs floor, median of {args.runs} runs, {os.cpu_count()} cores")
    print(
        f"{'jobs':>5} {'floor ms':>9} {'status ms':>10} {'ratio':>6} {'cold ms':>8} "
        f"{'ratio':>6} {'rescan ms':>10} {'sampled':>10}"
    )
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="plotman-bench-") as tmp:
            root = Path(tmp)
            config, jobs = build_farm(root, size)
            try:
                time.sleep(0.5)  # let every fake job reach its sleep
                cache_dir = root / "cache"
                env = dict(
                    os.environ, PLOTMAN_TUI_CONFIG=str(config), PLOTMAN_TUI_CACHE_DIR=str(cache_dir)
                )
                floor = timed(floor_argv, args.runs)
                # Warm: the log-state cache of the previous run is there (`watch status`).
                status_ms = timed(status, args.runs, env)
                # Cold: no cache, every job's whole log is parsed.
                cold_ms = timed(
                    status, args.runs, env, before=functools.partial(shutil.rmtree, cache_dir, True)
                )
                # Every rescan measuring every temp file, and with temp space sampled every
                # 5 s as a long-running view would (phases are read on every rescan).
                full_ms, first_bytes, again = warm_rescan(root / "logs", args.runs, 0.0)
                rescan_ms, _, again_sampled = warm_rescan(root / "logs", args.runs, 5.0)
                print(
                    f"{size:>5} {floor:>9.1f} {status_ms:>10.1f} {status_ms / floor:>6.2f} "
                    f"{cold_ms:>8.1f} {cold_ms / floor:>6.2f} {full_ms:>10.2f} {rescan_ms:>10.2f}"
                    f"   (first scan read {first_bytes / 1e6:.1f} MB, "
                    f"rescans read {again + again_sampled} B)"
                )
            finally:
                for job in jobs:
                    job.terminate()
                for job in jobs:
                    job.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
