"""Benchmark: archiving through a real rsync daemon on 127.0.0.1, and through local targets.

Starts a real ``rsync --daemon`` and a real ``sshd`` (for ``df`` on the "farmer") on loopback
ports, makes 20 plot files (random bytes, named and sized like k22 plots, with an mtime an hour
back so they count as finished) and, for each row below, copies those same files into two dst
dirs and runs the engine's archiving loop with one target (``max_concurrent = 1``) until every
plot has moved:

- rsyncd: the dst dirs and the daemon's module on the disk (the bench's first figures);
- local, one file system: archive dirs on the dst dirs' disk, so each plot moves by a rename;
- local, another file system: dst dirs on a tmpfs (``--other-fs``, default /dev/shm), archive
  dirs on the disk: the mover copies each plot and fsyncs it (a USB disk);
- rsyncd from that tmpfs to the disk: the same files between the same file systems, for
  comparison (rsync does not fsync).

Reports, for the first row as before:

- throughput: plot bytes moved per second of the whole run, and the median of each transfer;
- the idle gap between one transfer ending (its plot renamed into place on the far side) and the
  next rsync starting; goal: under 1 s;
- the cost of one archiving pass with 50 finished plots waiting (the target's dirs are full,
  so the pass plans and starts nothing): goal: small against the 5 s between passes;

and then a table of every row: overall MB/s; per transfer the time from the archiver starting
it to the plot landing (its final name's ctime) and that MB/s; the program's own figure from its
log (the mover's rename time, the mover's or rsync's MB/s); the idle gap between transfers.

Replotting (``--replot-only`` runs just these), over the same sshd on loopback, with sparse
files (truncated to a real k32 plot's 108.8 GB; nothing is read) as the farmer's plots:

- ``replot plan``'s cost: ``list_plot_files`` (SFTP) + ``plan_summary`` over ``--farmer-plots``
  (10,000) plot files in four archive dirs, the first listing (a new SSH connection) and the
  median of the next ones (the connection kept);
- one replot step on a farmer with ``--old-plots`` (1,000) old plots in one full dir:
  ``plan_room`` on the kept listing + ``remove_plot_files`` of the one plot it picks (each
  file checked over SFTP, then removed), median of 21 steps; no listing per step;
- through the engine's archiving loop (ArchivingEngine, its Replotter, rsync over ssh): the
  time from the pass that finds the target full (and asks for room) to the pass that starts
  the next transfer, for 3 new plots in a row, on a farmer disk that is really full (a small
  tmpfs: root only, else the row is left out with the reason) holding ``--old-plots`` old
  plots (the 3 oldest real, the rest sparse), and how many SFTP sessions the farmer saw
  (one listing at the start, then one per removal: no listing per plot). Goal: under 2 s.

Run: .venv/bin/python bench/archive.py [--plots 20] [--k 22] [--other-fs /dev/shm]
     [--farmer-plots 10000] [--old-plots 1000] [--replot-only]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import itertools
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from plotman_tui.config import parse_config  # noqa: E402
from plotman_tui.config.schema import (  # noqa: E402
    ArchiveTarget,
    Config,
    ReplotRules,
    TargetType,
)
from plotman_tui.farm.archive.engine import ArchivePassResult, ArchivingEngine  # noqa: E402
from plotman_tui.farm.archive.farmer_files import (  # noqa: E402
    list_plot_files,
    remove_plot_files,
)
from plotman_tui.farm.archive.replot import (  # noqa: E402
    FarmerListing,
    ReplotStep,
    plan_room,
    plan_summary,
)
from plotman_tui.farm.archive.space import (  # noqa: E402
    SpaceMonitor,
    SshConnections,
    read_target_space,
)
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


def config_for(
    root: Path,
    daemon: RsyncDaemon,
    sshd: SshServer,
    margin_gib: int,
    dsts: Sequence[Path] = (),
    archive_names: Sequence[str] = ("a", "b"),
) -> Config:
    archive_dirs = [daemon.module_root / name for name in archive_names]
    for directory in archive_dirs:
        directory.mkdir(exist_ok=True)
    text = f"""{_head(root, dsts or [root / "dst0", root / "dst1"])}
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


def local_config_for(root: Path, dsts: Sequence[Path], archive_dirs: Sequence[Path]) -> Config:
    for directory in archive_dirs:
        directory.mkdir(parents=True, exist_ok=True)
    text = f"""{_head(root, dsts)}
name = "bench-local"
type = "local"
archive_dirs = {[str(d) for d in archive_dirs]!r}
free_space_margin_gib = 1
""".replace("'", '"')
    return parse_config(text, check_dirs=False)


def _head(root: Path, dsts: Sequence[Path]) -> str:
    """The config up to a target's first keys."""
    return f"""
[logging]
plots = "{root / "logs"}"
[directories]
tmp = ["{root / "tmp"}"]
dst = {[str(d) for d in dsts]!r}
[plotting]
type = "chia"
[archiving]
enabled = true
[[archiving.targets]]"""


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
    parser.add_argument(
        "--other-fs", type=Path, default=Path("/dev/shm"), help="a dir on another file system"
    )
    parser.add_argument("--farmer-plots", type=int, default=10_000)
    parser.add_argument("--old-plots", type=int, default=1_000)
    parser.add_argument("--replot-only", action="store_true", help="only the replot figures")
    args = parser.parse_args()
    if args.replot_only:
        return replot_only(args.farmer_plots, args.old_plots)
    with (
        tempfile.TemporaryDirectory(prefix="plotman-bench-archive-") as tmp,
        tempfile.TemporaryDirectory(prefix="plotman-bench-archive-", dir=args.other_fs) as other,
    ):
        root = Path(tmp)
        if os.stat(other).st_dev == root.stat().st_dev:
            parser.error(
                f"--other-fs {args.other_fs} is on the file system of {tempfile.gettempdir()}"
            )
        for name in ("logs", "tmp", "dst0", "dst1", "pool"):
            (root / name).mkdir()
        daemon = RsyncDaemon(root / "rsyncd")
        sshd = SshServer(root / "sshd")
        daemon.start()
        sshd.start()
        try:
            # The same files for every row: made once, copied into each row's dst dirs.
            pool = make_plots([root / "pool"], args.plots, args.k)
            disk_dsts = [root / "dst0", root / "dst1"]
            other_dsts = [Path(other) / "dst0", Path(other) / "dst1"]
            config = config_for(root, daemon, sshd, margin_gib=1)
            first = run_row("rsyncd, disk -> disk", config, root, pool)
            report(first)
            pass_cost(root, daemon, sshd, args.waiting)
            usb = [root / "usb" / name for name in ("a", "b", "c", "d")]
            config = local_config_for(root, disk_dsts, usb[:2])
            renamed = run_row("local, one file system (rename)", config, root, pool)
            config = local_config_for(root, other_dsts, usb[2:])
            copied = run_row("local, tmpfs -> disk (copy, fsync)", config, root, pool)
            config = config_for(root, daemon, sshd, 1, dsts=other_dsts, archive_names=("c", "d"))
            rsynced = run_row("rsyncd, tmpfs -> disk", config, root, pool)
            table([first, renamed, copied, rsynced])
            replot_figures(root, sshd, args.farmer_plots, args.old_plots)
        finally:
            daemon.stop()
            sshd.stop()
    return 0


@dataclass(frozen=True)
class Row:
    """One target's run over the same plot files, as measured."""

    label: str
    count: int
    total_bytes: int
    wall_s: float
    #: The archiver's MB/s of each transfer (its end as a pass notices it).
    rates: list[float]
    #: Each transfer from the archiver starting it to the plot landing under its final name.
    landed_s: list[float]
    landed_mb_s: list[float]
    #: The program's own figure of each transfer, from its log: ms (a rename) or MB/s.
    own: list[float]
    own_unit: str
    #: From one plot landing to the archiver starting the next transfer.
    gaps_s: list[float]


def run_row(label: str, config: Config, root: Path, pool: Sequence[Path]) -> Row:
    """Copy ``pool`` into ``config``'s dst dirs and archive it with its one target."""
    dsts = config.directories.dst
    for directory in dsts:
        directory.mkdir(exist_ok=True)
    for index, plot in enumerate(pool):
        shutil.copy2(plot, dsts[index % len(dsts)] / plot.name)  # mtime kept: finished
    os.sync()  # the last row's dirty pages are not this row's to write
    started = time.perf_counter()
    passes = run_transfers(config, root, len(pool))
    wall = time.perf_counter() - started
    (target,) = config.archiving.targets
    archive_dirs = [Path(d) for d in target.archive_dirs]
    row = measure(label, passes, archive_dirs, sum(p.stat().st_size for p in pool), wall)
    for directory in archive_dirs:  # room for the next row
        for landed in directory.glob("plot-*.plot"):
            landed.unlink()
    return row


# The mover's own figures in its log: its rename time, or its copy's rate (fsync included).
# rsync's bytes/sec is left out: it counts whole seconds, so a sub-second transfer reads 1 s.
_RENAMED = re.compile(r": renamed into .* in ([0-9.]+) ms ")
_COPIED = re.compile(r": copied to .* \(([0-9.]+) MB/s\)$", re.MULTILINE)


def own_figure(log_path: Path) -> tuple[float, str] | None:
    text = log_path.read_text(errors="replace")
    if found := _RENAMED.search(text):
        return float(found.group(1)), "ms"
    if found := _COPIED.search(text):
        return float(found.group(1)), "MB/s"
    return None


def measure(
    label: str, passes: list[AnyPass], archive_dirs: list[Path], total: int, wall: float
) -> Row:
    # When each transfer was started: the engine's event, stamped just after the start (process
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
    # A transfer ends when its plot is renamed into place on the far side: that file's ctime.
    landed = {path.name: path for d in archive_dirs for path in d.glob("plot-*.plot")}
    ends = {name: path.stat().st_ctime for name, path in landed.items()}
    gaps = []
    for (_, source), (next_start, _) in itertools.pairwise(starts):
        end = ends.get(os.path.basename(source))
        if end is not None:
            gaps.append(next_start - end)
    landed_s, landed_mb_s, own, units = [], [], [], set()
    for one in passes:
        if not isinstance(one, ArchivePassResult):
            continue
        for started in one.started:
            name = os.path.basename(started.source)
            if name not in ends:
                continue
            seconds = ends[name] - started.started_at
            landed_s.append(seconds)
            landed_mb_s.append(landed[name].stat().st_size / seconds / 1e6)
            figure = own_figure(started.log_path)
            if figure is not None:
                own.append(figure[0])
                units.add(figure[1])
    count = len(landed)
    return Row(label, count, total, wall, rates, landed_s, landed_mb_s, own, "/".join(units), gaps)


def report(row: Row) -> None:
    print(
        f"{row.count} plots, {row.total_bytes / 2**20:.0f} MiB through rsyncd on 127.0.0.1 in "
        f"{row.wall_s:.1f} s: {row.total_bytes / row.wall_s / 1e6:.0f} MB/s overall, "
        f"median transfer {statistics.median(row.rates):.0f} MB/s"
    )
    if row.gaps_s:
        gaps = row.gaps_s
        print(
            f"idle gap between transfers: median {statistics.median(gaps) * 1000:.0f} ms, "
            f"max {max(gaps) * 1000:.0f} ms ({len(gaps)} gaps; goal < 1000 ms)"
        )


def table(rows: list[Row]) -> None:
    first = rows[0]
    print(
        f"\nThe same {first.count} plots ({first.total_bytes / 2**20:.0f} MiB) per row, "
        "one transfer at a time; per transfer: medians"
    )
    header = (
        f"{'row':<36} {'overall':>9} {'plots/s':>7}  {'start->landed':>13} {'MB/s':>6}  "
        f"{'by the mover':>13}  {'idle gap':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        renames = row.own_unit == "ms"  # a plot's size over a rename's time says nothing
        own = f"{_median(row.own, 2 if renames else 0)} {row.own_unit}"
        landed_ms = _median([seconds * 1000 for seconds in row.landed_s], 0)
        landed_mb_s = _median([] if renames else row.landed_mb_s, 0)
        gap_ms = _median([seconds * 1000 for seconds in row.gaps_s], 0)
        print(
            f"{row.label:<36} {row.total_bytes / row.wall_s / 1e6:>4.0f} MB/s "
            f"{row.count / row.wall_s:>7.1f}  {landed_ms:>10} ms {landed_mb_s:>6}  {own:>13}  "
            f"{gap_ms:>5} ms"
        )
    print(
        "start->landed: from the archiver starting the transfer to the plot under its final "
        "name (the mover's start includes ~0.2 s of Python starting); by the mover: its rename "
        "time, or its copy's MB/s with the fsync"
    )


def _median(values: Sequence[float], digits: int) -> str:
    return f"{statistics.median(values):.{digits}f}" if values else "-"


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


# -- replotting ---------------------------------------------------------------------------------

#: A real k32 plot's size (a madMAx log in the fixtures): the farmer's plots are sparse files
#: of this size, so a listing carries real numbers and no disk is filled.
K32_BYTES = 108_836_238_815
#: Plots change this long before the bench: old enough for replot's QUIET_S.
FARMER_AGE_S = 86400.0


def make_farmer_plots(directory: Path, count: int, *, start: int = 0) -> None:
    """``count`` sparse k32 plot files: two of three old and uncompressed (2021-2022), the rest
    BladeBit C7 plots of 2024 (not matched by the rules)."""
    directory.mkdir(parents=True, exist_ok=True)
    back = time.time() - FARMER_AGE_S
    for index in range(start, start + count):
        if index % 3 == 2:
            name = f"plot-k32-c07-2024-01-01-00-00-{index:064x}.plot"
        else:
            day = index // 60
            year, day_of_year = 2021 + day // 365 % 2, day % 365
            month, day_of_month = 1 + day_of_year // 31 % 12, 1 + day_of_year % 28
            name = (
                f"plot-k32-{year}-{month:02d}-{day_of_month:02d}-{day % 24:02d}-{index % 60:02d}"
                f"-{index:064x}.plot"
            )
        path = directory / name
        with path.open("wb") as plot_file:
            plot_file.truncate(K32_BYTES)
        os.utime(path, (back, back))


def farmer_target(sshd: SshServer, archive_dirs: Sequence[Path]) -> ArchiveTarget:
    return ArchiveTarget(
        name="bench-replot",
        type=TargetType.SSH,
        archive_dirs=tuple(str(d) for d in archive_dirs),
        host="127.0.0.1",
        user=sshd.user,
        ssh_port=sshd.port,
        known_hosts=sshd.known_hosts,
        identity_file=sshd.identity_file,
        replot=ReplotRules(uncompressed=True),
    )


def replot_only(farmer_plots: int, old_plots: int) -> int:
    with tempfile.TemporaryDirectory(prefix="plotman-bench-replot-") as tmp:
        root = Path(tmp)
        sshd = SshServer(root / "sshd")
        sshd.start()
        try:
            replot_figures(root, sshd, farmer_plots, old_plots)
        finally:
            sshd.stop()
    return 0


def replot_figures(root: Path, sshd: SshServer, farmer_plots: int, old_plots: int) -> None:
    asyncio.run(_replot_plan_cost(root / "farmer-plan", sshd, farmer_plots))
    asyncio.run(_replot_step_cost(root / "farmer-step", sshd, old_plots))
    full_to_transfer(root / "farmer-full", sshd, old_plots)


#: New plots the loop sends to the full farmer, each after one old plot is removed.
REPLOT_NEW_PLOTS = 3


def full_to_transfer(root: Path, sshd: SshServer, old_plots: int) -> None:
    """Time, through the archiving loop, from "target full" to the next transfer starting."""
    dst = root / "dst"
    for name in ("logs", "tmp", "dst"):
        (root / name).mkdir(parents=True)
    new = make_plots([dst], REPLOT_NEW_PLOTS, 18)
    size = new[0].stat().st_size
    disk = root / "disk"
    disk.mkdir()
    # Room for the real old plots and half a plot more: the first new plot does not fit.
    real = REPLOT_NEW_PLOTS
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={real * size + size // 2}", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        print(f"replot full-to-transfer row left out: no small tmpfs ({mounted.stderr.strip()})")
        return
    try:
        _full_to_transfer(root, sshd, disk / "plots", new, old_plots)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


def _full_to_transfer(
    root: Path, sshd: SshServer, archive_dir: Path, new: list[Path], old_plots: int
) -> None:
    size = new[0].stat().st_size
    archive_dir.mkdir()
    back = time.time() - FARMER_AGE_S
    block = new[0].read_bytes()
    for index in range(old_plots):
        # An hour apart, all before the rules' 2023: the real ones are the oldest names.
        when = datetime.datetime(2021, 1, 1) + datetime.timedelta(hours=index)
        path = archive_dir / f"plot-k18-{when:%Y-%m-%d-%H-%M}-{index:064x}.plot"
        with path.open("wb") as plot_file:
            if index < len(new):  # the oldest are real: removing one makes room for a new one
                plot_file.write(block)
            else:
                plot_file.truncate(size)
        os.utime(path, (back, back))
    text = f"""{_head(root, [root / "dst"])}
name = "bench-replot"
type = "ssh"
host = "127.0.0.1"
user = "{sshd.user}"
ssh_port = {sshd.port}
known_hosts = "{sshd.known_hosts}"
identity_file = "{sshd.identity_file}"
archive_dirs = ["{archive_dir}"]
free_space_margin_gib = 0
[archiving.targets.replot]
older_than = 2023-01-01
uncompressed = true
""".replace("'", '"')
    config = parse_config(text, check_dirs=False)
    sessions_before = sshd.log_text().count("subsystem 'sftp'")
    marks: list[tuple[str, float]] = []  # ("full" | "started", when the pass ended)
    engine = archiver(config, root, "replot")

    async def run() -> None:
        stop = asyncio.Event()

        def on_pass(result: AnyPass) -> None:
            now = time.perf_counter()
            if not isinstance(result, ArchivePassResult):
                return
            if result.started:
                marks.append(("started", now))
            elif any(w.reason.startswith("full; making room in") for w in result.waits):
                marks.append(("full", now))
            if sum(1 for kind, _ in marks if kind == "started") >= len(new):
                stop.set()

        runner = Engine(None, on_pass, archiving=engine)
        await asyncio.wait_for(runner.run(stop), timeout=120)

    try:
        asyncio.run(run())
    finally:
        engine.close()
    waits: list[float] = []
    full_at: float | None = None
    for kind, when in marks:
        if kind == "full" and full_at is None:
            full_at = when
        elif kind == "started" and full_at is not None:
            waits.append(when - full_at)
            full_at = None
    sessions = sshd.log_text().count("subsystem 'sftp'") - sessions_before
    print(
        f"replot, target full -> next transfer started (archiving loop, rsync over ssh, "
        f"{old_plots} old plots on a full tmpfs): "
        + ", ".join(f"{wait:.2f} s" for wait in waits)
        + f" ({len(waits)} plots; goal < 2 s); SFTP sessions on the farmer: {sessions} "
        f"(1 listing + 1 per removal)"
    )


async def _replot_plan_cost(root: Path, sshd: SshServer, count: int) -> None:
    dirs = [root / f"disk{index}" for index in range(4)]
    for index, directory in enumerate(dirs):
        share = count // len(dirs) + (1 if index < count % len(dirs) else 0)
        make_farmer_plots(directory, share, start=index * count)
    target = farmer_target(sshd, dirs)
    rules = target.replot
    connections = SshConnections()
    samples: list[float] = []
    summaries: list[float] = []
    listing: FarmerListing | None = None
    try:
        for _ in range(6):
            start = time.perf_counter()
            listing = await list_plot_files(target, connections=connections, timeout_s=60)
            listed_at = time.perf_counter()
            plan = plan_summary(listing, rules, frozenset(), time.time())
            samples.append((time.perf_counter() - start) * 1000)
            summaries.append((time.perf_counter() - listed_at) * 1000)
    finally:
        await connections.close()
    assert listing is not None and listing.problem is None, listing
    listed = sum(len(plots) for plots in listing.dirs.values())
    print(
        f"replot plan over {listed} plot files in {len(dirs)} dirs over SFTP (loopback): "
        f"first {samples[0]:.0f} ms (new SSH connection), then median "
        f"{statistics.median(samples[1:]):.0f} ms, min {min(samples[1:]):.0f} ms "
        f"({len(samples) - 1} runs; plan_summary's part: median "
        f"{statistics.median(summaries):.0f} ms); {plan.matching_plots} match the rules"
    )


async def _replot_step_cost(root: Path, sshd: SshServer, count: int) -> None:
    directory = root / "disk0"
    make_farmer_plots(directory, count)
    target = farmer_target(sshd, [directory])
    rules = target.replot
    assert rules is not None
    connections = SshConnections()
    steps: list[float] = []
    plans: list[float] = []
    try:
        start = time.perf_counter()
        listing = await list_plot_files(target, connections=connections, timeout_s=60)
        listing_ms = (time.perf_counter() - start) * 1000
        space = await read_target_space(target, timeout_s=10, connection_cache=connections)
        free = space.free_bytes[str(directory)]
        assert free is not None, space
        for _ in range(21):
            start = time.perf_counter()
            # The next plot does not fit: one old plot must go (sparse files free nothing,
            # so the need is put just past the free space each time).
            step = plan_room(
                listing,
                space.free_bytes,
                free + 1,
                rules,
                for_plot="new.plot",
                protected=frozenset(),
                now=time.time(),
            )
            planned = time.perf_counter()
            assert isinstance(step, ReplotStep) and len(step.removals) == 1, step
            gone = [removal.plot for removal in step.removals]
            result = await remove_plot_files(
                target, step.archive_dir, gone, connections=connections, timeout_s=10
            )
            steps.append((time.perf_counter() - start) * 1000)
            plans.append((planned - start) * 1000)
            assert result.failed is None, result
            # As the replotter does: the listing is kept, less what was removed.
            kept = tuple(p for p in listing.dirs[step.archive_dir] if p not in gone)
            listing = FarmerListing(
                listing.target, listing.listed_at, {**listing.dirs, step.archive_dir: kept}
            )
    finally:
        await connections.close()
    print(
        f"replot step with {count} old plots on the farmer: plan_room + remove_plot_files "
        f"median {statistics.median(steps):.1f} ms (plan_room {statistics.median(plans):.1f} "
        f"ms), max {max(steps):.1f} ms ({len(steps)} steps, one plot each, checked and "
        f"removed over SFTP); the listing they share: {listing_ms:.0f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
