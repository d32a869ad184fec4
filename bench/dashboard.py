"""Benchmark: the dashboard on a farm of a real farm's shape: its CPU use, peak RSS, how stale a
job's phase gets on screen, and the worst delay from a key press to the screen changing.

The farm is bench/status.py's (N long-lived fake jobs with real k32 chia logs cut at varied
lines, temp files in place, 5,000 finished logs, 12 tmp dirs), in one of two shapes (``--farm``):

- ``real`` (the default): 30 jobs over 12 tmp dirs and 6 dst dirs, archiving set up to two
  local targets of 40 archive dirs each (their free space read by statvfs; no plot is finished,
  so nothing moves): the farm of issue 11, whose tables are the dashboard's largest.
- ``jobs50``: 50 jobs over 12 tmp dirs and one dst dir, no archiving: the most rows.

The real ``plotman-tui`` runs in a private tmux server (a real pty) at 120x40 with
TERM=xterm-256color, plotting paused so nothing starts. After a warm-up, for ``--seconds``:

- Throughout, every job's log grows as a k32 chia job's does: 2,633 lines in 5.1 hours (the
  faster of the two real k32 logs in the fixtures) is 0.15 lines a second per job
  (``--chatter``; 1.0 is a harsher test), bucket lines that change no phase.
- CPU and RSS come from ``/proc/<pid>`` of the app: utime + stime over the window (all its
  threads), and VmHWM (peak resident set) at the end.
- Staleness: every 4.7 s a phase line is appended to the log of the job on the table's first
  row, and ``tmux capture-pane`` is polled until the row shows the new phase. The CPU figure
  is taken over this window: a dashboard nobody touches, on a farm whose logs grow.
- Key latency, in a window of its own after that one: ``/`` (the filter opens), Enter (it
  closes), ``?`` (help opens), ``?`` (it closes), ``d`` (the dirs screen opens), ``d`` (it
  closes), ``h`` (the plot history of the 5,000 finished logs opens), ``h`` (it closes) ...,
  ``--presses`` keys at moments that
  drift across the 5 s look cycle; capture-pane is polled until the screen changes, and the
  worst delay is the figure. Each key's first press is printed too: the first ``?`` builds
  the help screen, a cost paid once a session (the history screen is built before its first
  ``h``, once the history is read). The harness alone (``cat`` in the same tmux) answers in
  ~3 ms. ``--size`` (120x40 by default): the terminal's.

- ``--archiving``: the farm archives to two ssh farmers on 127.0.0.1: one whose port is
  closed (unreachable) and one that accepts the connection and never says a word, so a read of
  its free space is under way (up to its 10 s timeout) while keys are pressed; archiving
  passes run every 5 s. Quitting must not wait for the silent farmer either (``quit``).

Goals on 2 cores: CPU at most 2 % of one core, phases never more than 2 s stale, RSS under
120 MB, key to screen under 100 ms, q to exit under 3 s. Wall-clock figures (staleness, keys,
quit) suffer from other load on the machine: the load average is printed with them.

Run: .venv/bin/python bench/dashboard.py [--farm real|jobs50] [--jobs N] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from status import build_farm  # noqa: E402 (bench/status.py, beside this file)

sys.path.insert(0, str(HERE.parent))
from tests.realservices import SilentFarmer, free_port  # noqa: E402

WIDTH, HEIGHT = 120, 40
TERM = "xterm-256color"
# Seconds between two staleness probes, on a fixed grid: not a multiple of the look interval,
# so the lines land all over its cycle and the worst case shows.
PROBE_EVERY_S = 4.7
# The key presses' spacing: not a divisor of the 5 s look, so they land all over its cycle.
KEY_EVERY_S = 0.37
# The keys pressed in turn, each changing the screen, and what they do: the filter, help, the
# dirs screen (every dir and archive disk) and the plot history open and close.
# Not Escape: a lone ESC is told from the start of an escape sequence by waiting for more
# (ESCDELAY, 100 ms in Textual as in curses), so it is always that much slower.
KEYS = (
    ("/", "/ (open)"),
    ("Enter", "Enter (close)"),
    ("?", "? (open)"),
    ("?", "? (close)"),
    ("d", "d (open)"),
    ("d", "d (close)"),
    ("h", "h (open)"),
    ("h", "h (close)"),
)
# capture-pane polling interval (each poll is a tmux client run, a few ms).
POLL_S = 0.005
# Lines that set a chia job's phase (plotters/chia.py), one per phase in a cycle.
PHASE_LINES = [
    *((f"Compressing tables {n} and {n + 1}\n", f"3:{n}") for n in range(1, 7)),
    *((f"Computing table {n}\n", f"1:{n}") for n in range(2, 8)),
]
# What a chia job writes most of phase 1: a line per bucket sorted, which changes no phase.
CHATTER_LINE = "\tBucket 7 uniform sort. Ram: 3.250GiB, u_sort min: 0.563GiB, qs min: 0.281GiB.\n"
CLK_TCK = os.sysconf("SC_CLK_TCK")
GOALS = {"cpu": 2.0, "stale": 2.0, "rss": 120.0, "key": 100.0, "quit": 3.0}


@dataclass(frozen=True)
class Farm:
    """A farm's shape (the tmp dirs are always bench/status.py's 12)."""

    jobs: int
    dst_dirs: int
    #: Archive dirs of each local archiving target (none: no archiving).
    archive_dirs: tuple[int, ...] = ()


FARMS = {"real": Farm(30, 6, (40, 40)), "jobs50": Farm(50, 1)}


class Tmux:
    """A private tmux server with one window running one command."""

    def __init__(self, root: Path) -> None:
        self.socket = root / "tmux.sock"
        self.config = root / "tmux.conf"
        self.config.write_text(
            f'set -g default-terminal "{TERM}"\nset -s escape-time 0\nset -g status off\n'
        )
        # COLUMNS and LINES would override the pane's size (curses sets them in some parents).
        self.env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}

    def run(self, *args: str) -> str:
        argv = ["tmux", "-S", str(self.socket), "-f", str(self.config), *args]
        return subprocess.run(argv, check=True, capture_output=True, text=True, env=self.env).stdout

    def start(self, argv: list[str], env: dict[str, str]) -> int:
        settings = [f"{key}={value}" for key, value in env.items()]
        command = f"exec env -u COLUMNS -u LINES {shlex.join(settings)} {shlex.join(argv)}"
        self.run("new-session", "-d", "-s", "bench", "-x", str(WIDTH), "-y", str(HEIGHT), command)
        return int(self.run("display", "-p", "-t", "bench", "#{pane_pid}"))

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "bench")

    def send(self, key: str) -> None:
        self.run("send-keys", "-t", "bench", key)

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, env=self.env
        )


def wait_screen(tmux: Tmux, predicate: Callable[[str], bool], timeout_s: float) -> float | None:
    """Seconds until ``predicate(screen)`` holds (None: it never did)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if predicate(tmux.screen()):
            return time.monotonic() - start
        time.sleep(POLL_S)
    return None


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """CPU seconds of the process (every thread), or of one of its threads."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def process_state(pid: int) -> str:
    """The state letter in /proc/<pid>/stat ("" when there is no such process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def jobs_shown(screen: str) -> int:
    """N of the prefixes line's ``jobs N,`` (0 before the first pass)."""
    match = re.search(r"\bjobs (\d+),", screen)
    return int(match.group(1)) if match else 0


def table_rows(screen: str) -> list[list[str]]:
    """The cells of the jobs table's rows on screen (under the bordered header)."""
    lines = screen.splitlines()
    header = next(i for i, line in enumerate(lines) if "plot id" in line and "phase" in line)
    rows = []
    for line in lines[header + 1 :]:
        cells = line.strip("│ ").split()
        if not cells or not re.fullmatch(r"[0-9a-f]{8}", cells[0]):
            break
        rows.append(cells)
    return rows


def logs_by_id(log_dir: Path) -> dict[str, Path]:
    """Our jobs' logs by the first 8 characters of their plot ids."""
    found = {}
    for log in sorted(log_dir.glob("2021-07-14T22_33_*.log")):
        with open(log) as handle:
            for line in handle:
                if line.startswith("ID: "):
                    found[line[4:12]] = log
                    break
    return found


def add_archiving(
    config: Path, root: Path, archive_dirs: tuple[int, ...], silent_port: int | None
) -> None:
    """Archiving to local targets of ``archive_dirs`` dirs each, and (with ``silent_port``) to a
    farmer that refuses and one that never answers."""
    if not archive_dirs and silent_port is None:
        return
    with config.open("a") as handle:
        handle.write("\n[archiving]\nenabled = true\n")
        for index, count in enumerate(archive_dirs):
            dirs = [root / "archive" / f"farmer{index}" / f"hdd{n:02d}" for n in range(count)]
            for directory in dirs:
                directory.mkdir(parents=True)
            handle.write(
                f'\n[[archiving.targets]]\nname = "farmer{index}"\ntype = "local"\n'
                f"archive_dirs = {json.dumps([str(d) for d in dirs])}\n"
            )
        if silent_port is None:
            return
        handle.write(
            '\n[[archiving.targets]]\nname = "closed"\ntype = "ssh"\nhost = "127.0.0.1"\n'
            f'ssh_port = {free_port()}\nverify_host_key = false\narchive_dirs = ["/srv/a"]\n\n'
            '[[archiving.targets]]\nname = "silent"\ntype = "ssh"\nhost = "127.0.0.1"\n'
            f'ssh_port = {silent_port}\nverify_host_key = false\narchive_dirs = ["/srv/b"]\n'
        )


class Chatter:
    """A thread that appends a bucket line to each log in turn, ``per_job_s`` lines a second
    per log, until stopped."""

    def __init__(self, logs: list[Path], per_job_s: float) -> None:
        self.logs = logs
        self.per_job_s = per_job_s
        self.lines = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chatter", daemon=True)

    def __enter__(self) -> Chatter:
        if self.per_job_s > 0 and self.logs:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        gap = 1.0 / (self.per_job_s * len(self.logs))
        due = time.monotonic()
        while not self._stop.is_set():
            with open(self.logs[self.lines % len(self.logs)], "a") as handle:
                handle.write(CHATTER_LINE)
            self.lines += 1
            due += gap
            self._stop.wait(max(due - time.monotonic(), 0))


class Probes:
    """Phase lines written to one job's log, and key presses, with their delays."""

    #: The keys pressed in turn (bench/fleet.py's are the fleet screen's).
    KEYS: tuple[tuple[str, str], ...] = KEYS

    def __init__(self, tmux: Tmux, log: Path, short_id: str, phase: str) -> None:
        self.tmux = tmux
        self.log = log
        self.short_id = short_id
        self.phase = phase
        self.next_line = 0
        self.stale: list[float] = []
        self.keys: dict[str, list[float]] = {}
        self.presses = 0

    def row(self, screen: str) -> list[str]:
        for line in screen.splitlines():
            cells = line.strip("│ ").split()
            if cells and cells[0] == self.short_id:
                return cells
        return []

    def phase_probe(self) -> None:
        line, phase = PHASE_LINES[self.next_line % len(PHASE_LINES)]
        self.next_line += 1
        if phase == self.phase:
            line, phase = PHASE_LINES[self.next_line % len(PHASE_LINES)]
            self.next_line += 1
        with open(self.log, "a") as handle:
            handle.write(line)
        delay = wait_screen(self.tmux, lambda s: phase in self.row(s), 15.0)
        if delay is None:
            raise SystemExit(f"phase {phase} never showed for {self.short_id}")
        self.stale.append(delay)
        self.phase = phase

    def key_probe(self) -> None:
        key, what = self.KEYS[self.presses % len(self.KEYS)]
        self.presses += 1
        before = self.tmux.screen()
        self.tmux.send(key)
        # Any change counts: the field or the help is the change expected (a clock tick could
        # come first, so the figures are if anything too good by up to a second, rarely).
        delay = wait_screen(self.tmux, lambda s: s != before, 5.0)
        if delay is None:
            raise SystemExit(f"the screen did not change after {key}")
        self.keys.setdefault(what, []).append(delay)


def probe_window(probes: Probes, seconds: float) -> float:
    """Phase probes on a fixed grid (PROBE_EVERY_S) for ``seconds``; the window's length."""
    start = time.monotonic()
    end = start + seconds
    probe_at = start
    while probe_at < end:
        time.sleep(max(probe_at - time.monotonic(), 0))
        probes.phase_probe()
        probe_at += PROBE_EVERY_S
    time.sleep(max(end - time.monotonic(), 0))
    return time.monotonic() - start


def run(args: argparse.Namespace) -> dict[str, float]:
    program = (
        shlex.split(args.program)
        if args.program
        else [str(Path(sys.executable).parent / "plotman-tui")]
    )
    with tempfile.TemporaryDirectory(prefix="plotman-bench-dash-") as tmp:
        root = Path(tmp)
        farm = FARMS[args.farm]
        print(
            f"building the {args.farm} farm: {args.jobs} jobs, 12 tmp dirs, {farm.dst_dirs} dst "
            f"dirs, archive dirs {list(farm.archive_dirs) or 'none'} in {root} …",
            flush=True,
        )
        config, jobs = build_farm(root, args.jobs, farm.dst_dirs)
        silent = SilentFarmer() if args.archiving else None
        add_archiving(config, root, farm.archive_dirs, silent.port if silent else None)
        tmux = Tmux(root)
        try:
            time.sleep(0.5)  # let every fake job reach its sleep
            env = {
                "PLOTMAN_TUI_DATA_DIR": str(root / "data"),
                "PLOTMAN_TUI_CACHE_DIR": str(root / "cache"),
            }
            # Archiving paused or not, its passes and the farmers' reads run all the same.
            argv = [*program, "--config", str(config), "--no-autostart-plotting"]
            launched = time.monotonic()
            pid = tmux.start(argv, env)
            shown = wait_screen(tmux, lambda s: jobs_shown(s) >= args.jobs, 60.0)
            if shown is None:
                raise SystemExit("the dashboard never showed the jobs:\n" + tmux.screen())
            time.sleep(args.warmup)
            screen = tmux.screen()
            total = jobs_shown(screen)
            print(f"pid {pid}: {total} jobs on screen {shown:.2f} s after launch")
            if total > args.jobs:
                print(f"  ({total - args.jobs} of them are other plot jobs on this machine)")
            ours = logs_by_id(root / "logs")
            cells = next((row for row in table_rows(screen) if row[0] in ours), None)
            if cells is None:
                raise SystemExit("no job of this farm in the table's first rows:\n" + screen)
            short_id = cells[0]
            phase = next((c for c in cells if ":" in c and c[0].isdigit() and len(c) <= 4), "?")
            probes = Probes(tmux, ours[short_id], short_id, phase)
            chatter = Chatter(sorted(ours.values()), args.chatter)
            with chatter:
                time.sleep(2.0)  # the watch's first batches, before measuring

                # The event loop's thread is the main one (tid = pid); passes run in the others.
                cpu_before, ui_before = cpu_seconds(pid), cpu_seconds(pid, pid)
                lines_before = chatter.lines
                wall = probe_window(probes, args.seconds)
                chatter_rate = (chatter.lines - lines_before) / wall
                cpu = (cpu_seconds(pid) - cpu_before) / wall * 100
                ui_cpu = (cpu_seconds(pid, pid) - ui_before) / wall * 100
                print(
                    f"measured {wall:.0f} s: CPU {cpu:.2f} % ({ui_cpu:.2f} % the event loop's "
                    f"thread, {cpu - ui_cpu:.2f} % the workers'); now {args.presses} key presses …"
                )
                for _ in range(args.presses):
                    time.sleep(KEY_EVERY_S)
                    probes.key_probe()
                rss_peak = status_kib(pid, "VmHWM") / 1024
                rss_now = status_kib(pid, "VmRSS") / 1024
            tmux.send("q")
            quit_at = time.monotonic()
            # Gone: no such process, or a zombie (exited; tmux reaps its panes when it will).
            while process_state(pid) not in ("", "Z") and time.monotonic() - quit_at < 10:
                time.sleep(0.01)
            quit_s = time.monotonic() - quit_at
            print(f"quit: the app exited {quit_s:.2f} s after q")
            if silent is not None:
                print(f"  the silent farmer was connected to {len(silent.accepted)} times")
        finally:
            tmux.close()
            if silent is not None:
                silent.close()
            for job in jobs:
                job.terminate()
            for job in jobs:
                job.wait()
    del launched
    presses = [delay for delays in probes.keys.values() for delay in delays]
    for what, delays in probes.keys.items():
        print(
            f"  {what:<13} {statistics.median(delays) * 1000:5.0f} ms median, "
            f"{max(delays) * 1000:5.0f} ms max, the first {delays[0] * 1000:3.0f} ms "
            f"({len(delays)})"
        )
    figures = {
        "jobs": total,
        "cpu": cpu,
        "ui_cpu": ui_cpu,
        "stale": max(probes.stale),
        "stale_median": statistics.median(probes.stale),
        "rss": rss_peak,
        "rss_now": rss_now,
        "key": max(presses) * 1000,
        "key_median": statistics.median(presses) * 1000,
        "probes": len(probes.stale),
        "chatter": chatter_rate,
        "presses": len(presses),
        "wall": wall,
        "quit": quit_s,
    }
    return figures


def main() -> int:
    global WIDTH, HEIGHT  # Tmux.start's: the bench's one terminal (--size)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--farm", choices=sorted(FARMS), default="real", help="the farm's shape (see above)"
    )
    parser.add_argument("--jobs", type=int, help="jobs (default: the farm's)")
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--presses", type=int, default=48, help="key presses after the window")
    parser.add_argument(
        "--size", default=f"{WIDTH}x{HEIGHT}", help="the terminal's WIDTHxHEIGHT (120x40)"
    )
    parser.add_argument(
        "--chatter", type=float, default=0.15, help="lines a second each job's log grows by"
    )
    parser.add_argument(
        "--archiving",
        action="store_true",
        help="archive to a farmer that refuses and one that never answers (keys and quit)",
    )
    parser.add_argument(
        "--program",
        help="the command to measure instead of the installed plotman-tui (another version)",
    )
    args = parser.parse_args()
    WIDTH, HEIGHT = (int(n) for n in args.size.lower().split("x"))
    if args.jobs is None:
        args.jobs = FARMS[args.farm].jobs
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed (apt-get install tmux)")
    figures = run(args)
    ok = {
        "cpu": figures["cpu"] <= GOALS["cpu"],
        "stale": figures["stale"] <= GOALS["stale"],
        "rss": figures["rss"] < GOALS["rss"],
        "key": figures["key"] < GOALS["key"],
        "quit": figures["quit"] < GOALS["quit"],
    }

    def mark(name: str) -> str:
        return "ok" if ok[name] else "OVER"

    load = os.getloadavg()[0]
    print(
        f"\ndashboard, {args.farm} farm, {figures['jobs']:.0f} jobs, {figures['wall']:.0f} s "
        f"at {WIDTH}x{HEIGHT}, "
        f"{os.cpu_count()} cores, load {load:.1f}, logs growing by "
        f"{figures['chatter']:.0f} lines/s"
        + (", archiving to a refusing and a silent farmer" if args.archiving else "")
    )
    print(
        f"  CPU          {figures['cpu']:6.2f} % of one core   "
        f"(goal <= {GOALS['cpu']:g} %)  {mark('cpu')}"
    )
    print(
        f"    of which   {figures['ui_cpu']:6.2f} % the event loop (screen, keys), "
        f"{figures['cpu'] - figures['ui_cpu']:.2f} % the workers (passes)"
    )
    print(
        f"  phase stale  {figures['stale']:6.2f} s max, {figures['stale_median']:.2f} s median "
        f"over {figures['probes']:.0f} log lines   (goal <= {GOALS['stale']:g} s)  {mark('stale')}"
    )
    print(
        f"  peak RSS     {figures['rss']:6.1f} MB ({figures['rss_now']:.1f} MB at the end)   "
        f"(goal < {GOALS['rss']:g} MB)  {mark('rss')}"
    )
    print(
        f"  key->screen  {figures['key']:6.0f} ms max, {figures['key_median']:.0f} ms median "
        f"over {figures['presses']:.0f} presses   (goal < {GOALS['key']:g} ms)  {mark('key')}"
    )
    print(f"  q->exit      {figures['quit']:6.2f} s   (goal < {GOALS['quit']:g} s)  {mark('quit')}")
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
