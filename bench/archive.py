"""Benchmark: archiving through a real rsync daemon on 127.0.0.1.

Starts a real ``rsync --daemon`` and a real ``sshd`` (for ``df`` on the "farmer") on loopback
ports, puts 20 plot files in two dst dirs (random bytes, named and sized like k22 plots, with an
mtime an hour back so they count as finished) and runs the engine's archiving loop with one
``rsyncd`` target (``max_concurrent = 1``) until every plot has moved. Reports:

- throughput: plot bytes moved per second of the whole run, and the median of each transfer;
- the idle gap between one transfer ending (its plot renamed into place on the far side) and the
  next rsync starting; goal: under 1 s;
- the cost of one archiving pass with 50 finished plots waiting (the target's dirs are full,
  so the pass plans and starts nothing): goal: small against the 5 s between passes.

Run: .venv/bin/python bench/archive.py [--plots 20] [--k 22]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from plotman_tui.config import parse_config  # noqa: E402
from plotman_tui.config.schema import Config  # noqa: E402
from plotman_tui.farm.archive.engine import ArchivingEngine  # noqa: E402
from plotman_tui.farm.archive.space import SpaceMonitor  # noqa: E402
from plotman_tui.farm.engine import AnyPass, Engine  # noqa: E402
from plotman_tui.farm.events import EventKind  # noqa: E402
from plotman_tui.farm.lock import SchedulerLock  # noqa: E402
from plotman_tui.farm.plotsize import final_plot_bytes  # noqa: E402
from tests.realservices import RsyncDaemon, SshServer  # noqa: E402


def make_plots(directories: list[Path], count: int, k: int) -> list[Path]:
    size = int(final_plot_bytes(k) * 0.97)
    block = os.urandom(size)
    back = time.time() - 3600
    plots = []
    for index in range(count):
        path = directories[index % len(directories)] / (
            f"plot-k{k}-2026-11-24-10-{index:02d}-{secrets.token_hex(32)}.plot"
        )
        path.write_bytes(block)
        os.utime(path, (back, back))
        plots.append(path)
    return plots


def config_for(root: Path, daemon: RsyncDaemon, sshd: SshServer, margin_gib: int) -> Config:
    archive_dirs = [daemon.module_root / "a", daemon.module_root / "b"]
    for directory in archive_dirs:
        directory.mkdir(exist_ok=True)
    text = f"""
[logging]
plots = "{root / "logs"}"
[directories]
tmp = ["{root / "tmp"}"]
dst = ["{root / "dst0"}", "{root / "dst1"}"]
[plotting]
type = "chia"
[archiving]
enabled = true
[[archiving.targets]]
name = "bench"
type = "rsyncd"
host = "127.0.0.1"
user = "{sshd.user}"
ssh_port = {sshd.port}
known_hosts = "{sshd.known_hosts}"
identity_file = "{sshd.identity_file}"
rsync_port = {daemon.port}
module = "{daemon.module}"
module_root = "{daemon.module_root}"
archive_dirs = {[str(d) for d in archive_dirs]!r}
free_space_margin_gib = {margin_gib}
""".replace("'", '"')
    return parse_config(text, check_dirs=False)


def archiver(config: Config, root: Path, name: str) -> ArchivingEngine:
    return ArchivingEngine(
        config,
        lock=SchedulerLock(root / f"{name}.lock"),
        action_log=None,
        space=SpaceMonitor(config.archiving.active_targets, ttl_s=60, timeout_s=10),
        log_dir=root / "transfer-logs",
    )


def run_transfers(config: Config, root: Path, count: int) -> list[AnyPass]:
    passes: list[AnyPass] = []
    engine = archiver(config, root, "run")

    async def main() -> None:
        stop = asyncio.Event()

        def on_pass(result: AnyPass) -> None:
            passes.append(result)
            done = sum(
                1
                for one in passes
                for event in one.events
                if event.kind is EventKind.TRANSFERRED and not event.failed
            )
            if done >= count:
                stop.set()

        runner = Engine(None, on_pass, archiving=engine)
        await asyncio.wait_for(runner.run(stop), timeout=600)

    try:
        asyncio.run(main())
    finally:
        engine.close()
    return passes


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--plots", type=int, default=20)
    parser.add_argument("--k", type=int, default=22)
    parser.add_argument("--waiting", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plotman-bench-archive-") as tmp:
        root = Path(tmp)
        for name in ("logs", "tmp", "dst0", "dst1"):
            (root / name).mkdir()
        daemon = RsyncDaemon(root / "rsyncd")
        sshd = SshServer(root / "sshd")
        daemon.start()
        sshd.start()
        try:
            dsts = [root / "dst0", root / "dst1"]
            plots = make_plots(dsts, args.plots, args.k)
            total = sum(p.stat().st_size for p in plots)
            config = config_for(root, daemon, sshd, margin_gib=1)
            started = time.perf_counter()
            passes = run_transfers(config, root, args.plots)
            wall = time.perf_counter() - started
            report(passes, daemon, total, wall, args.plots)
            pass_cost(root, daemon, sshd, args.waiting)
        finally:
            daemon.stop()
            sshd.stop()
    return 0


def report(passes: list[AnyPass], daemon: RsyncDaemon, total: int, wall: float, count: int) -> None:
    # When each rsync was started: the engine's event, stamped just after the start (process
    # create times are off by up to a second: the kernel's boot time is in whole seconds).
    starts = sorted(
        (event.time, str(event.details["source"]))
        for one in passes
        for event in one.events
        if event.kind is EventKind.TRANSFER
    )
    rates = [
        float(event.details["mb_per_s"])
        for one in passes
        for event in one.events
        if event.kind is EventKind.TRANSFERRED and not event.failed
    ]
    # A transfer ends when rsync renames the plot into place: the far file's ctime.
    ends = {path.name: path.stat().st_ctime for path in daemon.module_root.rglob("plot-*.plot")}
    gaps = []
    for (_, source), (next_start, _) in itertools.pairwise(starts):
        end = ends.get(os.path.basename(source))
        if end is not None:
            gaps.append(next_start - end)
    print(
        f"{count} plots, {total / 2**20:.0f} MiB through rsyncd on 127.0.0.1 in {wall:.1f} s: "
        f"{total / wall / 1e6:.0f} MB/s overall, "
        f"median transfer {statistics.median(rates):.0f} MB/s"
    )
    if gaps:
        print(
            f"idle gap between transfers: median {statistics.median(gaps) * 1000:.0f} ms, "
            f"max {max(gaps) * 1000:.0f} ms ({len(gaps)} gaps; goal < 1000 ms)"
        )


def pass_cost(root: Path, daemon: RsyncDaemon, sshd: SshServer, waiting: int) -> None:
    dsts = [root / "dst0", root / "dst1"]
    make_plots(dsts, waiting, 18)
    config = config_for(root, daemon, sshd, margin_gib=10**6)  # every archive dir "full"
    engine = archiver(config, root, "cost")
    asyncio.run(engine.space.refresh_due())
    engine.step(())
    samples = []
    result = None
    for _ in range(21):
        start = time.perf_counter()
        result = engine.step(())
        samples.append((time.perf_counter() - start) * 1000)
    engine.close()
    waits = [wait.reason for wait in result.waits] if result else []
    print(
        f"archiving pass with {waiting} plots waiting: median {statistics.median(samples):.1f} ms, "
        f"min {min(samples):.1f} ms (21 passes; {os.cpu_count()} cores); waits: {waits}"
    )


if __name__ == "__main__":
    sys.exit(main())
