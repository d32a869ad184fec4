"""Benchmark: the fleet screen over 10 plotting machines of 50 jobs each, over real SSH.

Each "host" is a real OpenSSH sshd on 127.0.0.1 in a PID and mount namespace of its own
(tests/nshosts.py, so it sees only its own processes), with bench/status.py's farm in it: 50
long-lived fake chia jobs whose logs are the real k32 chia log cut at varied lines, temp files in
place, 12 tmp dirs, 100 finished logs; each job's memory changes every 3-6 s, so that every scan
finds every job changed, as real plotting jobs' CPU times do. Its fleet ``command`` runs this
checkout's plotman-tui with the host's own config, data and cache dir. The dashboard runs in a PID
namespace of its own too (an empty plotting machine: it sees none of the hosts' jobs but through
SSH), in a private tmux server (a real pty) at 120x40, ``[fleet] include_local = false``, plotting
paused. Needs root (or user namespaces), sshd and tmux.

After every host shows all its jobs on the fleet screen (``F``), for ``--seconds``:

- Throughout, every job's log grows by a bucket line (``--chatter`` lines a second per job,
  0.15 as a real k32 job: bench/dashboard.py's), 75 lines a second over the fleet.
- Log to screen: every 4.7 s a phase line is appended to the log of a job on the fleet jobs
  table's first rows (each probe a job of the next host shown there), and ``tmux capture-pane``
  is polled until its row shows the new phase: a host's watch sees the line, sends the job, the
  dashboard decodes it and redraws the row.
- CPU: the dashboard's (every thread, from /proc) and each host's ``watch --json``'s over the
  window: a fleet screen nobody touches, on a fleet whose logs grow.
- Keys, after the window: ``/`` and Enter (the filter opens and closes), ``?`` twice (help),
  ``o`` (sort by the next column), ``F`` twice (back to the dashboard and to the fleet again);
  capture-pane is polled until the screen changes.

Goals (issue 14), on 2 cores: log line to screen under 2 s, median under 0.5 s; the dashboard's
CPU under 3 % of one core; each watch's under 1 %; key to screen under 100 ms. The load average
is printed with the figures: every host's sshd, watch and jobs run on this one box.

Run: .venv/bin/python bench/fleet.py [--hosts 10] [--jobs 50] [--seconds 60] [--look]
(``--look``: build the fleet, open the fleet screen, print it and keep it up until Enter, for a
look in ``tmux -S <socket> attach``.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# bench/status.py's farm and bench/dashboard.py's harness, beside this file.
import dashboard  # noqa: E402
from dashboard import (  # noqa: E402
    KEY_EVERY_S,
    PHASE_LINES,
    Chatter,
    Probes,
    Tmux,
    add_archiving,
    cpu_seconds,
    logs_by_id,
    probe_window,
    process_state,
    wait_screen,
)
from status import build_farm  # noqa: E402

sys.path.insert(0, str(HERE.parent))
from tests.nshosts import HostSshServer, available  # noqa: E402
from tests.realservices import sshd_available  # noqa: E402

GOALS = {"stale": 2.0, "stale_median": 0.5, "cpu": 3.0, "watch": 1.0, "key": 100.0}
FINISHED_LOGS = 100
#: A job whose memory moves every few seconds, at no cost in CPU: each scan finds every job
#: changed, as a real plotting job's CPU time, memory and I/O change between two scans.
BUSY_CHIA = """\
import random, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
held = b""
while True:
    time.sleep(random.uniform(3.0, 6.0))
    held = b"x" * random.randrange(1 << 20, 4 << 20)
"""
KEYS = (
    ("/", "/ (open)"),
    ("Enter", "Enter (close)"),
    ("?", "? (open)"),
    ("?", "? (close)"),
    ("o", "o (sort)"),
    ("F", "F (dashboard)"),
    ("F", "F (fleet)"),
)
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
SHORT_ID = re.compile(r"\b[0-9a-f]{8}\b")


@dataclass
class Host:
    """One plotting machine: its sshd (its namespace), farm and jobs."""

    name: str
    root: Path
    server: HostSshServer
    config: Path
    jobs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def command(self) -> str:
        return shlex.join(
            [
                "env",
                f"PLOTMAN_TUI_DATA_DIR={self.root / 'data'}",
                f"PLOTMAN_TUI_CACHE_DIR={self.root / 'cache'}",
                sys.executable,
                "-m",
                "plotman_tui",
                "--config",
                str(self.config),
            ]
        )

    def table(self) -> str:
        values = {
            "name": self.name,
            "host": "127.0.0.1",
            "port": self.server.port,
            "user": self.server.user,
            "identity_file": str(self.server.identity_file),
            "known_hosts": str(self.server.known_hosts),
            "command": self.command,
        }
        return "[[fleet.hosts]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())


def capture(tmux: Tmux, out: Path) -> None:
    """The fleet screen and the first host's dashboard (its archive dirs too) as text, at
    80x24, 120x40 and 200x60, into ``out``: for the eye, not a figure."""
    out.mkdir(parents=True, exist_ok=True)
    for size in ("80x24", "120x40", "200x60"):
        width, height = size.split("x")
        tmux.run("resize-window", "-t", "bench", "-x", width, "-y", height)
        time.sleep(2.0)  # a redraw at the new size and a beat or two: this is a picture
        (out / f"fleet-{size}.txt").write_text(tmux.screen())
        tmux.send("Enter")  # the hosts table has the cursor: the first host's dashboard
        if wait_screen(tmux, lambda s: "Plotting:" in s, 10.0) is None:
            raise SystemExit("the host's dashboard did not open:\n" + tmux.screen())
        time.sleep(2.0)
        (out / f"host-{size}.txt").write_text(tmux.screen())
        tmux.send("F")
        if wait_screen(tmux, lambda s: "Fleet:" in s, 10.0) is None:
            raise SystemExit("F did not go back to the fleet:\n" + tmux.screen())
    print(f"captures in {out}")


def make_host(base: Path, index: int, n_jobs: int) -> Host:
    root = base / f"plotter{index:02d}"
    root.mkdir()
    server = HostSshServer(root / "sshd")
    server.start()

    def start_inside(argv: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        return server.popen_inside(argv, **kwargs)

    config, jobs = build_farm(
        root, n_jobs, 6, finished_logs=FINISHED_LOGS, start=start_inside, fake_chia=BUSY_CHIA
    )
    if index == 1:  # a real farm's archive: two farmers of 40 disks each (local targets)
        add_archiving(config, root, (40, 40), None)
    return Host(f"plotter{index:02d}", root, server, config, jobs)


@contextlib.contextmanager
def fleet(base: Path, n_hosts: int, n_jobs: int) -> Iterator[list[Host]]:
    """The hosts, started; stopped after (each namespace's init takes its jobs with it)."""
    hosts: list[Host] = []
    try:
        for index in range(1, n_hosts + 1):
            hosts.append(make_host(base, index, n_jobs))
        yield hosts
    finally:
        for host in hosts:
            for job in host.jobs:
                job.terminate()
            host.server.stop()
        for host in hosts:
            for job in host.jobs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    job.wait(timeout=10)


def dashboard_config(base: Path, hosts: list[Host]) -> Path:
    """An empty plotting machine's config with a ``[[fleet.hosts]]`` per host."""
    for name in ("logs", "tmp", "dst"):
        (base / "dashboard" / name).mkdir(parents=True)
    path = base / "dashboard" / "plotman.toml"
    path.write_text(
        f'[logging]\nplots = "{base / "dashboard" / "logs"}"\n\n[directories]\n'
        f'tmp = ["{base / "dashboard" / "tmp"}"]\ndst = ["{base / "dashboard" / "dst"}"]\n\n'
        '[plotting]\ntype = "chia"\n\n[fleet]\ninclude_local = false\n\n'
        + "\n".join(host.table() for host in hosts)
    )
    return path


def app_pid(pane_pid: int) -> int:
    """The dashboard's pid (the pane runs unshare, whose child runs it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for child in psutil.Process(pane_pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any("plotman-tui" in part for part in child.cmdline()):
                    return child.pid
        time.sleep(0.05)
    raise SystemExit("the dashboard did not start")


def watches(base: Path) -> dict[int, str]:
    """Every host's ``watch --json`` (under ``base``): pid to its config (the host)."""
    found = {}
    for process in psutil.process_iter(["cmdline"]):
        argv = process.info["cmdline"] or []
        if "watch" in argv and "--json" in argv and "--config" in argv:
            config = argv[argv.index("--config") + 1]
            if config.startswith(str(base)):
                found[process.pid] = config
    return found


def fleet_rows(screen: str) -> list[str]:
    """The fleet jobs table's lines (those with a host name and a short plot id)."""
    return [line for line in screen.splitlines() if "plotter" in line and SHORT_ID.search(line)]


def hosts_up(screen: str, n_hosts: int, n_jobs: int) -> bool:
    """Every host's line says up with all its jobs (``up`` then ``50`` in its cells)."""
    up = 0
    for line in screen.splitlines():
        cells = line.strip("│ ").split()
        if len(cells) > 3 and cells[0].startswith("plotter") and cells[1] == "up":
            up += str(n_jobs) in cells[2:4]
    return up >= n_hosts


class FleetProbes(Probes):
    """Phase lines written to jobs' logs on their hosts (each probe a job of the next host on
    screen), and keys, with their delays."""

    KEYS = KEYS

    def __init__(self, tmux: Tmux, logs: dict[str, Path]) -> None:
        super().__init__(tmux, Path(), "", "")
        self.logs = logs
        self.turn = 0

    def phase_probe(self) -> None:
        rows = fleet_rows(self.tmux.screen())
        ids = [m.group(0) for row in rows for m in [SHORT_ID.search(row)] if m]
        ids = [short for short in ids if short in self.logs]
        if not ids:
            raise SystemExit("no job of the fleet on screen:\n" + self.tmux.screen())
        short_id = ids[self.turn % len(ids)]
        self.turn += 1
        row = next(row for row in rows if short_id in row)
        line, phase = PHASE_LINES[self.next_line % len(PHASE_LINES)]
        self.next_line += 1
        if f" {phase} " in f" {row} ":
            line, phase = PHASE_LINES[self.next_line % len(PHASE_LINES)]
            self.next_line += 1
        with open(self.logs[short_id], "a") as handle:
            handle.write(line)

        def shown(screen: str) -> bool:
            return any(short_id in r and phase in r.split() for r in fleet_rows(screen))

        delay = wait_screen(self.tmux, shown, 15.0)
        if delay is None:
            raise SystemExit(f"phase {phase} never showed for {short_id}:\n{self.tmux.screen()}")
        self.stale.append(delay)


def run(args: argparse.Namespace) -> dict[str, float]:
    program = [str(Path(sys.executable).parent / "plotman-tui")]
    with tempfile.TemporaryDirectory(prefix="plotman-bench-fleet-") as tmp:
        base = Path(tmp)
        print(
            f"starting {args.hosts} hosts (sshd in namespaces), {args.jobs} jobs each, "
            f"12 tmp dirs and 6 dst dirs each, in {base} …",
            flush=True,
        )
        with fleet(base, args.hosts, args.jobs) as hosts:
            config = dashboard_config(base, hosts)
            logs: dict[str, Path] = {}
            for host in hosts:
                logs.update(logs_by_id(host.root / "logs"))
            tmux = Tmux(base)
            try:
                env = {
                    "PLOTMAN_TUI_DATA_DIR": str(base / "dashboard" / "data"),
                    "PLOTMAN_TUI_CACHE_DIR": str(base / "dashboard" / "cache"),
                }
                argv = [*UNSHARE, *program, "--config", str(config), "--no-autostart-plotting"]
                launched = time.monotonic()
                pid = app_pid(tmux.start(argv, env))
                if wait_screen(tmux, lambda s: "Fleet" in s, 30.0) is None:
                    raise SystemExit("the dashboard never showed:\n" + tmux.screen())
                tmux.send("F")
                shown = wait_screen(tmux, lambda s: hosts_up(s, args.hosts, args.jobs), 180.0)
                if shown is None:
                    raise SystemExit("not every host came up:\n" + tmux.screen())
                print(
                    f"dashboard pid {pid}: every host up with its jobs "
                    f"{time.monotonic() - launched:.1f} s after launch",
                    flush=True,
                )
                if args.captures:
                    capture(tmux, Path(args.captures))
                    return {}
                if args.look:
                    print(tmux.screen())
                    print(f"look: tmux -S {tmux.socket} attach (Enter here ends)")
                    input()
                    return {}
                time.sleep(args.warmup)
                probes = FleetProbes(tmux, logs)
                with Chatter(sorted(logs.values()), args.chatter) as chatter:
                    time.sleep(2.0)
                    watch_pids = watches(base)
                    if len(watch_pids) < args.hosts:
                        raise SystemExit(f"only {len(watch_pids)} watch processes found")
                    watch_before = {w: cpu_seconds(w) for w in watch_pids}
                    cpu_before, ui_before = cpu_seconds(pid), cpu_seconds(pid, pid)
                    lines_before = chatter.lines
                    wall = probe_window(probes, args.seconds)
                    cpu = (cpu_seconds(pid) - cpu_before) / wall * 100
                    ui_cpu = (cpu_seconds(pid, pid) - ui_before) / wall * 100
                    watch_cpu = [
                        (cpu_seconds(w) - before) / wall * 100
                        for w, before in watch_before.items()
                        if process_state(w) not in ("", "Z")
                    ]
                    chatter_rate = (chatter.lines - lines_before) / wall
                    print(f"measured {wall:.0f} s; now {args.presses} key presses …", flush=True)
                    for _ in range(args.presses):
                        time.sleep(KEY_EVERY_S)
                        probes.key_probe()
                if len(watch_cpu) < args.hosts:
                    raise SystemExit("a host's watch ended during the window")
            finally:
                tmux.close()
    presses = [delay for delays in probes.keys.values() for delay in delays]
    for what, delays in probes.keys.items():
        print(
            f"  {what:<14} {statistics.median(delays) * 1000:5.0f} ms median, "
            f"{max(delays) * 1000:5.0f} ms max ({len(delays)})"
        )
    return {
        "cpu": cpu,
        "ui_cpu": ui_cpu,
        "watch": max(watch_cpu),
        "watch_median": statistics.median(watch_cpu),
        "stale": max(probes.stale),
        "stale_median": statistics.median(probes.stale),
        "probes": len(probes.stale),
        "key": max(presses) * 1000,
        "key_median": statistics.median(presses) * 1000,
        "presses": len(presses),
        "chatter": chatter_rate,
        "wall": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=50, help="jobs on each host")
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--presses", type=int, default=42, help="key presses after the window")
    parser.add_argument(
        "--chatter", type=float, default=0.15, help="lines a second each job's log grows by"
    )
    parser.add_argument("--size", default="120x40", help="the terminal's WIDTHxHEIGHT")
    parser.add_argument("--look", action="store_true", help="show the fleet screen and wait")
    parser.add_argument(
        "--captures", metavar="DIR", help="write the screens at three sizes to DIR and end"
    )
    args = parser.parse_args()
    dashboard.WIDTH, dashboard.HEIGHT = (int(n) for n in args.size.lower().split("x"))
    for tool, there in (
        ("tmux", shutil.which("tmux") is not None),
        ("sshd", sshd_available()),
        ("unshare --pid (root or user namespaces)", available()),
    ):
        if not there:
            raise SystemExit(f"{tool} is not available here")
    figures = run(args)
    if not figures:
        return 0
    ok = {name: figures[name] < goal for name, goal in GOALS.items()}

    def mark(*names: str) -> str:
        return "ok" if all(ok[name] for name in names) else "OVER"

    print(
        f"\nfleet, {args.hosts} hosts x {args.jobs} jobs over SSH, {figures['wall']:.0f} s at "
        f"{args.size}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, logs growing by "
        f"{figures['chatter']:.0f} lines/s"
    )
    print(
        f"  log->screen  {figures['stale']:6.2f} s max, {figures['stale_median']:.2f} s median "
        f"over {figures['probes']:.0f} lines   (goal < {GOALS['stale']:g} s, median < "
        f"{GOALS['stale_median']:g} s)  {mark('stale', 'stale_median')}"
    )
    print(
        f"  dashboard    {figures['cpu']:6.2f} % of one core ({figures['ui_cpu']:.2f} % the event "
        f"loop's thread)   (goal < {GOALS['cpu']:g} %)  {mark('cpu')}"
    )
    print(
        f"  each watch   {figures['watch']:6.2f} % max, {figures['watch_median']:.2f} % median   "
        f"(goal < {GOALS['watch']:g} %)  {mark('watch')}"
    )
    print(
        f"  key->screen  {figures['key']:6.0f} ms max, {figures['key_median']:.0f} ms median "
        f"over {figures['presses']:.0f} presses   (goal < {GOALS['key']:g} ms)  {mark('key')}"
    )
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
