"""Whatever bytes a log holds, discovery sees the job and `status` shows it.

Each plotter's job is a real process (a stand-in with the plotter's command line) whose log is a
real fixture log of that plotter, with its dirs made real, followed by arbitrary bytes: NUL,
invalid UTF-8, lines longer than the line splitter keeps, lone CRs, and the header lines that
carry dirs, ids and numbers with garbage in them. The whole discovery runs on it (the process
table, the log, the temp-file listing) and must give a snapshot with the job in it; then the
views of `status`, `details` and `files` must render it.

The processes live for the whole module; each example rewrites their logs. bladebit_cuda has
no real log stored with the project: its job gets the RAM plotter's log, whose settings and
plot lines it shares.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from plotman_tui.farm.discovery import Scanner
from plotman_tui.plotters import get_plotter, identify
from plotman_tui.report import render_details, render_files, render_status, snapshot_to_json
from tests.conftest import FIXTURES
from tests.fakejobs import install_fake_chia

LOGS = FIXTURES / "plotter-logs"

# Lines whose rest is read as a dir, a plot id, a file name or a number, by some plotter.
CARRIERS = [
    b"Starting plotting progress into temporary dirs: ",
    b"Starting plotting progress into temporary dirs: /a and ",
    b"ID: ",
    b"Final Directory is: ",
    b"Plot size is: ",
    b"Buffer size is: ",
    b"Using ",
    b"Starting phase ",
    b"Computing table ",
    b'Copied final file from "/x" to "',
    b'Renamed final file from "/x" to "',
    b"Time for phase 1 = ",
    b"Total time = ",
    b"Working Directory:   ",
    b"Working Directory 2: ",
    b"Final Directory: ",
    b"Number of Threads: ",
    b"Number of Buckets P1:    2^8 (",
    b"Plot Name: plot-k",
    b"Plot Name: plot-k32-2021-07-14-22-33-",
    b"Phase 1 took ",
    b"Renamed final plot to ",
    b"Copy to ",
    b" Output path           : ",
    b" Thread count          : ",
    b" Temp1 path     : ",
    b" Temp2 path     : ",
    b" Bucket count       : ",
    b" Cache size     : ",
    b"Generating plot 1 / 1: ",
    b"Plot temporary file: ",
    b"Finished Phase 1 in ",
    b"Finished writing plot ",
    b"Plot /x/",
    b"Table ",
    b"Running Phase ",
]
PIECES = [
    b"\0",
    b"/",
    b"..",
    b"\xff\xfe",
    b"\xe2\x82",  # a character cut short
    b"\x1b[31m",
    b"9" * 30,
    b"-1",
    b"0",
    b"a" * 64,
    b"A" * 65,
    b"/" + b"d" * 5000,
    b" seconds",
    b".plot",
    b".tmp",
]
ENDINGS = [b"\n", b"\r\n", b"\r", b"\0\n", b""]

garbage = st.lists(
    st.one_of(
        st.binary(max_size=200),
        # A line of its own that a parser reads a value from, with garbage for the value.
        st.tuples(
            st.sampled_from(CARRIERS),
            st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=20)), max_size=4),
            st.sampled_from(ENDINGS),
        ).map(lambda parts: b"\n" + parts[0] + b"".join(parts[1]) + parts[2]),
        st.just(b"x" * 70_000),  # longer than a line the splitter keeps
        st.just(b"\0" * 1000),
    ),
    max_size=8,
).map(b"".join)


@dataclass
class FuzzJob:
    plotter: str
    pid: int
    log: Path
    head: bytes  # the fixture log, dirs made real


# (plotter, fixture log, command line after the program; {tmp}, {tmp2}, {dst} filled in)
JOBS = [
    ("chia", "chia-2.7.5-cli-k18.plot.log", ["chia", "plots", "create", "-k", "18", "-t", "{tmp}"]),
    ("madmax", "madmax.plot.log", ["chia_plot", "-r", "4", "-t", "{tmp}/", "-d", "{dst}/"]),
    ("bladebit", "bladebit.plot.log", ["bladebit", "-n", "1", "ramplot", "{dst}"]),
    (
        "bladebit2disk",
        "bladebit2disk.plot.log",
        ["bladebit", "diskplot", "-t1", "{tmp}", "-t2", "{tmp2}", "{dst}"],
    ),
    ("bladebit_cuda", "bladebit.plot.log", ["bladebit_cuda", "cudaplot", "-t1", "{tmp}", "{dst}"]),
]


def real_dirs(fixture: bytes, plotter: str, dirs: dict[str, Path]) -> bytes:
    """The fixture log with the dirs it names replaced by real ones."""
    parser = get_plotter(plotter).new_log_parser()
    parser.feed(fixture)
    info = parser.info
    named = {info.tmp_dir: dirs["tmp"], info.tmp2_dir: dirs["tmp2"], info.dst_dir: dirs["dst"]}
    for old in sorted((d for d in named if d), key=len, reverse=True):
        fixture = fixture.replace(old.encode(), str(named[old]).encode())
    return fixture


def wait_identified(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Until the interpreter has replaced the fork's argv with the plotter's command line."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if identify(psutil.Process(proc.pid).cmdline()) is not None:
                return
        except psutil.Error:
            pass
        time.sleep(0.01)
    raise TimeoutError(f"stand-in job {proc.pid} did not start")


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[FuzzJob]]]:
    root = tmp_path_factory.mktemp("fuzzfarm")
    dirs = {name: root / name for name in ("logs", "tmp", "tmp2", "dst", "bin")}
    for path in dirs.values():
        path.mkdir()
    script = install_fake_chia(dirs["bin"])
    jobs = []
    with ExitStack() as stack:
        for plotter, fixture, args in JOBS:
            program = dirs["bin"] / args[0]
            if not program.exists():
                shutil.copy(script, program)
            filled = [arg.format(**{k: str(v) for k, v in dirs.items()}) for arg in args[1:]]
            log = dirs["logs"] / f"{plotter}.log"
            head = real_dirs((LOGS / fixture).read_bytes(), plotter, dirs)
            log.write_bytes(head)
            with open(log, "ab") as handle:
                proc = subprocess.Popen(
                    [sys.executable, str(program), *filled],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            stack.callback(proc.wait)
            stack.callback(proc.kill)
            wait_identified(proc)
            jobs.append(FuzzJob(plotter, proc.pid, log, head))
        yield dirs["logs"], jobs


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(first=garbage, more=garbage)
# The corrupt log of the issue: a temp dir ending in NUL, then the plot id.
@example(
    first=b"\nStarting plotting progress into temporary dirs: /a and /b\0\nID: " + b"e" * 64,
    more=b"\n",
)
def test_any_log_bytes_give_a_snapshot_with_the_job_and_status_renders_it(
    farm: tuple[Path, list[FuzzJob]], first: bytes, more: bytes
) -> None:
    log_dir, jobs = farm
    for job in jobs:
        job.log.write_bytes(job.head + first)
    scanner = Scanner(log_dir)
    snapshots = [scanner.scan()]
    for job in jobs:
        with open(job.log, "ab") as handle:
            handle.write(more)  # and what a rescan reads on from where it stopped
    snapshots.append(scanner.scan())
    for snapshot in snapshots:
        by_pid = {job.pid: job for job in snapshot.jobs}
        for job in jobs:
            seen = by_pid.get(job.pid)
            assert seen is not None, f"{job.plotter} job missing: {snapshot.problems}"
            assert seen.plotter == job.plotter and seen.log_file == str(job.log)
            render_details(seen)
            render_files(seen)
        render_status(snapshot, 120)
        render_status(snapshot, None)
        json.dumps(snapshot_to_json(snapshot))
