"""Benchmark: plot history on a log dir of 10,000 real-sized logs (issue 12, section 7).

Builds (fixed seed) a log dir of copies of the fixtures' real logs: k32 chia (chia 2.x and 1.0),
madMAx (one plot, and a two-plot run) and BladeBit (RAM and diskplot), one in six each, every
copy with its own plot ids and its times moved so the logs span ~60 days (file mtimes too).
Then it measures:

- ``read_history`` in this process: cold (no cache file) and warm (every log cached);
- the real ``plotman-tui analyze`` (a subprocess with a config whose ``[logging] plots`` is that
  dir, and ``XDG_CACHE_HOME`` in the temp dir): cold and warm, and ``analyze --by tmp,day``
  warm; ``plotman-tui export`` cold and warm; ``plotman-tui version`` as the floor (the
  interpreter starting, no log read).

"Cold" is a run with no history cache; the logs are in the OS page cache either way (they were
just written), as they are on a farmer's machine that has been plotting. Wall-clock figures
suffer from other load on the machine: the load average is printed with them.

Goals on 2 cores: analyze and export cold under 10 s and warm under 0.5 s. For scale: plotman
0.5.3's ``analyze`` needs about 18 ms per k32 log (8.9 s for 500) and reads every log each run.

Run: .venv/bin/python bench/analyze.py [--logs 10000] [--runs 3] [--seed 12]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from plotman_tui.farm.history import read_history  # noqa: E402
from tests.plotlogs import COMPLETE_RUNS, PLOTTER_LOGS  # noqa: E402

PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"
#: The logs start within this many days (the first on this day).
SPAN_DAYS = 60
FIRST_DAY = datetime(2026, 9, 1)
PLOTMAN_053_SECONDS_PER_LOG = 8.9 / 500

_ID_RE = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
# The times a log states: chiapos's asctime stamps, the date in a plot's name, chia's ISO stamps.
_ASCTIME_RE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}")
_PLOT_DATE_RE = re.compile(r"(?<=plot-k\d\d-)(?:c\d{1,2}-)?\d{4}-\d{2}-\d{2}-\d{2}-\d{2}")
_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_ANY_RE = re.compile(
    "|".join(
        f"(?P<{name}>{pattern.pattern})"
        for name, pattern in (
            ("id", _ID_RE),
            ("asctime", _ASCTIME_RE),
            ("plot", _PLOT_DATE_RE),
            ("iso", _ISO_RE),
        )
    )
)


@dataclass(frozen=True)
class Template:
    """A real log cut into its fixed text and the ids and times a copy varies."""

    pieces: tuple[str, ...]  # text, then a variable, then text ... (odd indices: variables)
    ids: tuple[str, ...]  # the distinct plot ids (and other 64-hex words) in it
    first: datetime  # its first stated time


def _parse_time(kind: str, text: str) -> tuple[str, datetime]:
    if kind == "asctime":
        return kind, datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")
    if kind == "iso":
        return kind, datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    # "c07-" before the date in a compressed plot's name stays as it is.
    return "plot:" + text[:-16], datetime.strptime(text[-16:], "%Y-%m-%d-%H-%M")


def _format_time(kind: str, when: datetime) -> str:
    if kind == "asctime":
        return f"{when:%a %b} {when.day:2d} {when:%H:%M:%S %Y}"
    if kind == "iso":
        return f"{when:%Y-%m-%dT%H:%M:%S}"
    return kind[5:] + f"{when:%Y-%m-%d-%H-%M}"


def load_template(name: str) -> Template:
    text = (PLOTTER_LOGS / name).read_text()
    pieces: list[str] = []
    variables: list[object] = []
    ids: list[str] = []
    first: datetime | None = None
    last = 0
    for match in _ANY_RE.finditer(text):
        word = match.group()
        if match.lastgroup == "id":
            if word not in ids:
                ids.append(word)
            variable: object = ("id", ids.index(word))
        else:
            parsed = _parse_time(str(match.lastgroup), word)
            variable = parsed
            first = first or parsed[1]
        pieces.append(text[last : match.start()])
        variables.append(variable)
        last = match.end()
    pieces.append(text[last:])
    assert first is not None, name
    joined: list[object] = []
    for piece, variable in zip(pieces, variables, strict=False):
        joined += [piece, variable]
    joined.append(pieces[-1])
    return Template(tuple(joined), tuple(ids), first)  # type: ignore[arg-type]


def render(template: Template, ids: list[str], shift: timedelta) -> str:
    out = []
    for index, piece in enumerate(template.pieces):
        if index % 2 == 0:
            out.append(piece)
        elif piece[0] == "id":  # type: ignore[index]
            out.append(ids[piece[1]])  # type: ignore[index]
        else:
            kind, when = piece  # type: ignore[misc]
            out.append(_format_time(kind, when + shift))
    return "".join(out)


def build(logs: Path, count: int, seed: int) -> dict[str, int]:
    """``count`` varied copies of the COMPLETE_RUNS in ``logs``; how many of each."""
    rng = random.Random(seed)
    templates = [(name, load_template(name)) for name in COMPLETE_RUNS]
    made = dict.fromkeys(COMPLETE_RUNS, 0)
    for index in range(count):
        name, template = templates[index % len(templates)]
        start = FIRST_DAY + timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
        shift = start - template.first
        ids = [f"{rng.getrandbits(256):064x}" for _ in template.ids]
        path = logs / f"{start:%Y-%m-%dT%H_%M_%S}.{index:05d}.log"
        path.write_text(render(template, ids, shift))
        end = (start + timedelta(hours=6)).timestamp()
        os.utime(path, (end, end))
        made[name] += 1
    return made


# --- measuring ----------------------------------------------------------------------------------


def _cpu_seconds() -> float:
    """CPU time of this process and of its children and theirs that have ended."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def timed(
    run: Callable[[], object], runs: int, before: Callable[[], object] | None = None
) -> tuple[float, float]:
    """The median wall time and CPU time (all processes) of ``run`` (``before`` each, untimed).
    CPU time moves less than wall time with other load on the machine."""
    walls, cpus = [], []
    for _ in range(runs):
        if before is not None:
            before()
        cpu = _cpu_seconds()
        start = time.perf_counter()
        run()
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu_seconds() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def command(argv: list[str], env: dict[str, str]) -> Callable[[], object]:
    def run() -> None:
        result = subprocess.run(argv, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)}: exit {result.returncode}: {result.stderr[-400:]}")

    return run


@dataclass(frozen=True)
class Figure:
    what: str
    seconds: float
    goal: float | None  # seconds; None: no goal (a floor or a figure for scale)
    cpu: float | None = None  # CPU seconds of every process it took


def write_config(root: Path, logs: Path) -> Path:
    """``root/plotman.toml``: a config whose ``[logging] plots`` is ``logs``, its tmp and dst
    dirs (made) in ``root``."""
    config = root / "plotman.toml"
    for name in ("tmp", "dst"):
        (root / name).mkdir(exist_ok=True)
    config.write_text(
        f'[logging]\nplots = "{logs}"\n[directories]\ntmp = ["{root / "tmp"}"]\n'
        f'dst = ["{root / "dst"}"]\n[plotting]\ntype = "chia"\n'
    )
    return config


def measure(root: Path, logs: Path, runs: int) -> list[Figure]:
    figures = []
    cache = root / "history.json"

    def drop_cache() -> None:
        cache.unlink(missing_ok=True)

    cold = timed(lambda: read_history(logs, str(cache)), runs, drop_cache)
    figures.append(Figure("read_history, cold (no cache)", cold[0], None, cold[1]))
    read_history(logs, str(cache))
    warm = timed(lambda: read_history(logs, str(cache)), runs)
    figures.append(Figure("read_history, warm (all cached)", warm[0], None, warm[1]))

    config = write_config(root, logs)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PLOTMAN_TUI_", "XDG_"))
    }
    env |= {
        "XDG_CACHE_HOME": str(root / "xdg-cache"),
        "XDG_DATA_HOME": str(root / "xdg-data"),
        "XDG_STATE_HOME": str(root / "xdg-state"),
        "XDG_CONFIG_HOME": str(root / "xdg-config"),
        # The commands run with their bytecode cached, as an installed package has it (pip
        # compiles it). Kept in the temp dir, not beside the sources; a development VM that
        # sets PYTHONDONTWRITEBYTECODE would compile some 90 modules on every run (~60 ms).
        "PYTHONPYCACHEPREFIX": str(root / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "plotman_tui")], env=env, check=True
    )
    cli_cache = root / "xdg-cache" / "plotman-tui" / "history.json"

    def drop_cli_cache() -> None:
        cli_cache.unlink(missing_ok=True)

    def add(
        what: str,
        goal: float | None,
        run: Callable[[], object],
        before: Callable[[], object] | None = None,
    ) -> None:
        wall, cpu = timed(run, runs, before)
        figures.append(Figure(what, wall, goal, cpu))

    base = [str(PLOTMAN_TUI), "--config", str(config)]
    command([*base, "version"], env)()  # the standard library's bytecode cached too
    add("plotman-tui version (the floor)", None, command([*base, "version"], env))
    analyze = command([*base, "analyze"], env)
    add("plotman-tui analyze, cold", 10.0, analyze, drop_cli_cache)
    assert cli_cache.exists(), "analyze wrote no history cache"
    add("plotman-tui analyze, warm", 0.5, analyze)
    add(
        "plotman-tui analyze --by tmp,day, warm",
        0.5,
        command([*base, "analyze", "--by", "tmp,day"], env),
    )
    export = command([*base, "export", "-o", str(root / "export.csv")], env)
    add("plotman-tui export, cold", 10.0, export, drop_cli_cache)
    add("plotman-tui export, warm", 0.5, export)
    return figures


def dashboard_keys(root: Path, seconds: float) -> list[Figure]:
    """The dashboard on the log dir, cold (no history cache: it reads every log in its history
    thread, through worker processes) and warm: ``h`` pressed every 0.37 s, the history screen
    opening and closing, and the delay until it showed or was gone (its border's title). Split
    into the first press (the screen's first showing), the presses while the history was being
    read (until its screen first showed the plots) and after."""
    if shutil.which("tmux") is None:
        print("tmux is not installed (apt-get install tmux): no dashboard figures")
        return []
    from dashboard import Tmux, process_state, wait_screen  # bench/dashboard.py, beside this

    figures = []
    config = root / "plotman.toml"
    cache = root / "dashboard-cache"
    history_title = "plot history (escape closes"  # the history screen's border
    for state in ("cold", "warm"):
        if state == "cold":
            shutil.rmtree(cache, ignore_errors=True)
        env = {
            "PLOTMAN_TUI_DATA_DIR": str(root / "dashboard-data"),
            "PLOTMAN_TUI_CACHE_DIR": str(cache),
        }
        tmux = Tmux(root)
        try:
            launched = time.monotonic()
            argv = [str(PLOTMAN_TUI), "--config", str(config), "--no-autostart-plotting"]
            pid = tmux.start(argv, env)
            if wait_screen(tmux, lambda screen: "tmp" in screen, 30.0) is None:
                raise SystemExit("the dashboard never showed:\n" + tmux.screen())
            first: float | None = None
            reading: list[float] = []
            after: list[float] = []
            shown: float | None = None
            end = time.monotonic() + seconds
            while time.monotonic() < end or shown is None or len(after) < 10:
                if time.monotonic() - launched > 120:
                    raise SystemExit("the history screen never showed the plots")
                time.sleep(0.37)
                # The change h makes, not any change: the dashboard's own (a pass, the clock)
                # would stop the clock early, and did for the first h as the dashboard started.
                opens = history_title not in tmux.screen()
                tmux.send("h")
                delay = wait_screen(
                    tmux,
                    lambda screen: (history_title in screen) is opens,  # noqa: B023
                    5.0,
                )
                if delay is None:
                    raise SystemExit("the history screen did not open or close after h")
                if first is None:
                    first = delay  # the screen's first showing (built at idle before)
                else:
                    (reading if shown is None else after).append(delay)
                if shown is None and "plots finished" in tmux.screen():
                    shown = time.monotonic() - launched
            if "plots finished" in tmux.screen():
                tmux.send("h")  # the history screen closes
            tmux.send("q")
            quit_at = time.monotonic()
            while process_state(pid) not in ("", "Z") and time.monotonic() - quit_at < 10:
                time.sleep(0.01)
        finally:
            tmux.close()
        figures.append(Figure(f"dashboard {state}: history shown after launch", shown, None))
        figures.append(Figure(f"dashboard {state}: the first h", first, 0.1))
        if reading:
            figures.append(
                Figure(
                    f"dashboard {state}: worst key while reading ({len(reading)})",
                    max(reading),
                    0.1,
                )
            )
        figures.append(
            Figure(f"dashboard {state}: worst key after ({len(after)})", max(after), 0.1)
        )
    return figures


def report(figures: list[Figure], count: int | None) -> None:
    width = max(len(figure.what) for figure in figures)
    print(f"{'':{width}}  {'wall s':>7}  {'CPU s':>6}  {'goal':>6}")
    for figure in figures:
        goal = f"< {figure.goal:g}" if figure.goal is not None else ""
        cpu = f"{figure.cpu:6.2f}" if figure.cpu is not None else ""
        flag = " MISSED" if figure.goal is not None and figure.seconds >= figure.goal else ""
        print(f"{figure.what:{width}}  {figure.seconds:7.3f}  {cpu:>6}  {goal:>6}{flag}")
    if count is None:
        return
    scale = PLOTMAN_053_SECONDS_PER_LOG * count
    print(
        f"for scale: plotman 0.5.3's analyze needs ~18 ms a k32 log: {scale:.0f} s for {count}"
        " logs, on every run (it has no cache)"
    )
    print("CPU s: all the processes' CPU time (the workers' too): wall time with the cores free")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--dashboard-seconds",
        type=float,
        default=20.0,
        help="how long keys are pressed in the dashboard, cold and warm (0: not measured)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as tmp:
        root = Path(tmp)
        logs = root / "logs"
        logs.mkdir()
        began = time.perf_counter()
        made = build(logs, args.logs, args.seed)
        built = time.perf_counter() - began
        size = sum(entry.stat().st_size for entry in os.scandir(logs))
        print(
            f"{args.logs} logs, {size / 2**20:.0f} MiB, built in {built:.1f} s: "
            + ", ".join(f"{count} {Path(name).name}" for name, count in made.items())
        )
        print(f"{os.cpu_count()} cores, load average before: {os.getloadavg()[0]:.2f}")
        figures = measure(root, logs, args.runs)
        history = read_history(logs, str(root / "history.json"))
        print(f"{len(history.records)} plots, {len(history.skipped)} logs skipped")
        print(f"load average: {os.getloadavg()[0]:.2f}; median of {args.runs} runs each")
        report(figures, args.logs)
        if args.dashboard_seconds > 0:
            keys = dashboard_keys(root, args.dashboard_seconds)
            print(f"load average: {os.getloadavg()[0]:.2f}")
            if keys:
                report(keys, None)


if __name__ == "__main__":
    main()
