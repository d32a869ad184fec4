"""The sandbox: a real chiapos plotter behind a `chia plots create` front, and its farm layout.

The plotting tests run real plotter processes (k18 about a second, a k20 killed early); the
front's argument checks and the farm layout need no plotter.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from plotman_tui.config import load_config
from plotman_tui.sandbox import Sandbox, StartedPlot, make_sandbox, start_plot
from plotman_tui.sandbox.bech32m import decode_puzzle_hash, encode_puzzle_hash
from plotman_tui.sandbox.chia_front import (
    fitting_stripe_size,
    max_stripe_size,
    max_working_buckets,
)
from plotman_tui.sandbox.demo import build_demo_farm
from tests.conftest import require_chiapos, wait_for
from tests.fakejobs import chia_argv, install_fake_chia, running
from tests.integration.test_cli_plot import Loop
from tests.integration.test_cli_readonly import PLOTMAN_TUI

HAVE_CHIAPOS = importlib.util.find_spec("chiapos") is not None
ID_LINE = re.compile(r"^ID: ([0-9a-f]{64})$", re.MULTILINE)
PLOT_NAME = re.compile(r"^plot-k(\d+)-\d{4}-\d\d-\d\d-\d\d-\d\d-([0-9a-f]{64})\.plot$")
LOG_NAME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d_\d\d_\d\d\.\d{6}[+-]\d{4}\.log$")


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path / "farm")


@pytest.fixture
def jobs() -> Iterator[list[StartedPlot]]:
    """Plot jobs a test starts; any still running at the end are killed with their group."""
    started: list[StartedPlot] = []
    yield started
    for job in started:
        if job.popen.poll() is None:
            os.killpg(job.popen.pid, signal.SIGKILL)
            job.popen.wait(timeout=10)


# -- pure pieces ---------------------------------------------------------------------------------


def test_bech32m_reads_a_real_chia_address() -> None:
    # From chianetwork.plot.log: the memo starts with this address's puzzle hash.
    address = "xch1u8ll2ztwhseej45d6u2zp9j4mlnzhwseccr0axqws9fl2tyj5u0svdy04y"
    puzzle_hash = decode_puzzle_hash(address)
    assert puzzle_hash.hex() == "e1fff5096ebc3399568dd714209655dfe62bba19c606fe980e8153f52c92a71f"
    assert encode_puzzle_hash(puzzle_hash) == address
    with pytest.raises(ValueError, match="checksum"):
        decode_puzzle_hash(address[:-1] + "q")


def test_stripe_size_fits_chiapos_limits() -> None:
    # Measured with chiapos 2.0.12: k18 needs 8192 at 16 buckets; 65536 works from k21.
    assert fitting_stripe_size(18, 16, 64, 2) == 8192
    assert fitting_stripe_size(18, 32, 64, 2) == 4096
    assert fitting_stripe_size(20, 16, 64, 2) == 32768
    assert fitting_stripe_size(21, 16, 64, 2) == 65536
    assert fitting_stripe_size(18, 0, 64, 2) == 8192  # automatic buckets: 16 at k18
    for k in range(18, 33):
        for buckets in (16, 32, 64, 128):
            stripe = fitting_stripe_size(k, buckets, 3389, 2)
            assert stripe <= max_stripe_size(k, buckets) < 2 * stripe or stripe == 65536
    assert [max_working_buckets(k) for k in (18, 19, 20, 32)] == [32, 64, 128, 128]


# -- the front's argument checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"-t": "missing-tmp"}, "temp directory"),
        ({"-2": "missing-tmp2"}, "temp2 directory"),
        ({"-d": "missing-dst"}, "final directory"),
        ({"-k": "17"}, "k=17"),
        ({"-u": "64"}, "too many for k=18"),
        ({"-c": "xch1notanaddress"}, "pool contract address"),
        ({"--bogus": ""}, "unrecognized arguments"),
    ],
)
def test_front_refuses_bad_arguments_in_one_line(
    sandbox: Sandbox, change: dict[str, str], message: str
) -> None:
    argv = [
        str(sandbox.chia),
        *("plots", "create", "-k", "18", "-u", "16", "-b", "32"),
        *("-t", str(sandbox.tmp_dirs[0]), "-2", str(sandbox.tmp2_dir)),
        *("-d", str(sandbox.dst_dirs[0])),
    ]
    for option, value in change.items():
        if option in argv:
            path = sandbox.root / value if value.startswith("missing") else None
            argv[argv.index(option) + 1] = str(path) if path else value
        else:
            argv += [option, value] if value else [option]

    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("chia plots create: error: ")
    assert message in done.stderr
    assert sandbox.tmp2_dir is not None
    dirs = (*sandbox.tmp_dirs, sandbox.tmp2_dir, *sandbox.dst_dirs)
    assert [entry for d in dirs for entry in d.iterdir()] == []


# -- the farm layout -----------------------------------------------------------------------------


def test_make_sandbox_is_idempotent_and_writes_a_valid_config(tmp_path: Path) -> None:
    root = tmp_path / "farm"
    first = make_sandbox(root, n_tmp=3, n_dst=2, k=20)
    plot = first.dst_dirs[1] / "plot-k20-2026-01-01-00-00-00.plot"
    plot.write_bytes(b"a finished plot")
    log = first.log_dir / "2026-01-01T00_00_00.000000+0000.log"
    log.write_text("a plot log\n")
    config_mtime = first.config_path.stat().st_mtime_ns

    second = make_sandbox(root, n_tmp=3, n_dst=2, k=20)

    assert second == first
    assert plot.read_bytes() == b"a finished plot"
    assert log.read_text() == "a plot log\n"
    assert first.config_path.stat().st_mtime_ns == config_mtime  # unchanged, not rewritten

    assert [p.relative_to(root).as_posix() for p in first.tmp_dirs] == ["tmp/0", "tmp/1", "tmp/2"]
    assert first.tmp2_dir == root.resolve() / "tmp2"
    assert all(p.is_dir() for p in (*first.tmp_dirs, first.tmp2_dir, *first.dst_dirs))
    assert first.chia == root.resolve() / "bin" / "chia"
    assert os.access(first.chia, os.X_OK)
    assert first.chia.read_text().splitlines()[0] == f"#!{sys.executable}"

    text = first.config_path.read_text()
    assert text.startswith("#")
    config = tomllib.loads(text)
    assert config["logging"]["plots"] == str(first.log_dir)
    assert config["directories"] == {
        "tmp": [str(p) for p in first.tmp_dirs],
        "tmp2": str(first.tmp2_dir),
        "dst": [str(p) for p in first.dst_dirs],
    }
    assert set(config["scheduling"]) == {
        "tmpdir_stagger_phase_major",
        "tmpdir_stagger_phase_minor",
        "tmpdir_stagger_phase_limit",
        "tmpdir_max_jobs",
        "global_max_jobs",
        "global_stagger_m",
        "polling_time_s",
    }
    assert all(isinstance(v, int) for v in config["scheduling"].values())
    plotting = config["plotting"]
    assert plotting["type"] == "chia"
    assert re.fullmatch(r"[0-9a-f]{96}", plotting["farmer_pk"])
    assert len(decode_puzzle_hash(plotting["pool_contract_address"])) == 32
    assert plotting["chia"] == {
        "executable": str(first.chia),
        "k": 20,
        "n_threads": 2,
        "n_buckets": 16,
        "job_buffer": 64,
    }


@pytest.mark.parametrize(("use_tmp2", "n_dst"), [(True, 2), (False, 0)])
def test_sandbox_config_loads(tmp_path: Path, use_tmp2: bool, n_dst: int) -> None:
    from plotman_tui.config import PlotterType, load_config

    sandbox = make_sandbox(tmp_path / "farm", n_tmp=3, n_dst=n_dst, k=20, use_tmp2=use_tmp2)

    config = load_config(sandbox.config_path)

    assert config.logging.plots == sandbox.log_dir
    assert config.directories.tmp == sandbox.tmp_dirs
    assert config.directories.tmp2 == sandbox.tmp2_dir
    assert config.directories.dst == sandbox.dst_dirs
    assert config.plotting.type is PlotterType.CHIA
    assert config.plotting.farmer_pk == sandbox.farmer_pk
    assert config.plotting.pool_contract_address == sandbox.pool_contract_address
    chia = config.plotting.chia
    assert (chia.executable, chia.k, chia.n_threads) == (str(sandbox.chia), 20, 2)
    assert (chia.n_buckets, chia.job_buffer) == (16, 64)
    assert config.scheduling.global_stagger_m == 1


def test_start_plot_refuses_a_taken_log_name(sandbox: Sandbox) -> None:
    (sandbox.log_dir / "taken.log").write_text("someone else's log\n")
    with pytest.raises(FileExistsError):
        start_plot(sandbox, log_name="taken.log")
    assert (sandbox.log_dir / "taken.log").read_text() == "someone else's log\n"


# -- real plots ----------------------------------------------------------------------------------


@pytest.mark.real_service
def test_k18_plot_through_the_front(sandbox: Sandbox, jobs: list[StartedPlot]) -> None:
    require_chiapos()
    job = start_plot(sandbox, tmp_index=1, dst_index=1)
    jobs.append(job)

    assert job.popen.wait(timeout=120) == 0

    assert job.log_path.parent == sandbox.log_dir
    assert LOG_NAME.match(job.log_path.name), job.log_path.name
    plots = list(sandbox.dst_dirs[1].iterdir())
    assert len(plots) == 1
    plot = plots[0]
    name_match = PLOT_NAME.match(plot.name)
    assert name_match and name_match[1] == "18", plot.name
    plot_id = name_match[2]
    assert 3_000_000 < plot.stat().st_size < 6_000_000  # k18 is about 4 MB
    with plot.open("rb") as handle:  # chiapos' header: magic text, then the 32-byte id
        header = handle.read(51)
    assert header[:19] == b"Proof of Space Plot"
    assert header[19:51].hex() == plot_id
    assert sandbox.tmp2_dir is not None
    leftovers = [p for d in (*sandbox.tmp_dirs, sandbox.tmp2_dir) for p in d.iterdir()]
    assert leftovers == []

    log = job.log_path.read_text()
    assert ID_LINE.findall(log) == [plot_id]
    assert f"Final Directory is: {sandbox.dst_dirs[1]}\n" in log
    assert f"Starting plotting progress into temporary dirs: {sandbox.tmp_dirs[1]} and " in log
    for phase in range(1, 5):
        assert f"Starting phase {phase}/4" in log
    assert f'Renamed final file from "{sandbox.tmp2_dir}/{plot.name}.2.tmp" to "{plot}"' in log
    # chia's own lines frame the plotter's, in order, as in a real `chia plots create` log.
    order = [
        "chia.plotting.create_plots       : \x1b[32mINFO    \x1b[0m Creating 1 plots of size 18,",
        "Starting plot 1/1",
        "ID: ",
        "Starting phase 1/4",
        "Renamed final file",
        "Summary:",
        "Created a total of 1 new plots",
        f"INFO    \x1b[0m {plot.name}\x1b[0m",
    ]
    positions = [log.index(marker) for marker in order]
    assert positions == sorted(positions)


@pytest.mark.real_service
def test_running_plot_has_its_temp_files_and_sigterm_leaves_them(
    sandbox: Sandbox, jobs: list[StartedPlot]
) -> None:
    require_chiapos()
    job = start_plot(sandbox, k=20)
    jobs.append(job)
    tmp2_dir = sandbox.tmp2_dir
    assert tmp2_dir is not None

    # The log is written line by line: the ID shows while the plotter runs (k20: seconds).
    plot_id = wait_for(
        lambda: (m := ID_LINE.search(job.log_path.read_text())) and m[1], 60, "the ID line"
    )
    assert job.popen.poll() is None, "k20 finished before the test could look"

    # Seen by a process scan, the job is a venv-installed chia.
    cmdline = psutil.Process(job.popen.pid).cmdline()
    assert cmdline[:4] == [sys.executable, str(sandbox.chia), "plots", "create"]
    assert cmdline[1:] == list(job.argv)

    tmp2_files = wait_for(
        lambda: list(tmp2_dir.glob(f"plot-k20-*-{plot_id}.plot.2.tmp")), 30, "NAME.2.tmp"
    )
    name = tmp2_files[0].name.removesuffix(".2.tmp")
    tmp_dir = sandbox.tmp_dirs[0]
    wait_for(lambda: (tmp_dir / f"{name}.table1.tmp").exists(), 30, "NAME.table1.tmp")
    tmp_files = {p.name for p in tmp_dir.iterdir()}
    assert f"{name}.sort.tmp" in tmp_files
    assert all(f.startswith(f"{name}.") and f.endswith(".tmp") for f in tmp_files)
    assert job.popen.poll() is None

    os.killpg(job.popen.pid, signal.SIGTERM)

    assert job.popen.wait(timeout=30) == -signal.SIGTERM
    # A killed plotter cleans up nothing: that is the cleanup code's job, and it is realistic.
    assert (tmp2_dir / f"{name}.2.tmp").exists()
    assert (tmp_dir / f"{name}.table1.tmp").exists()
    assert list(sandbox.dst_dirs[0].iterdir()) == []
    assert "Renamed final file" not in job.log_path.read_text()


# -- the demo beside other plot jobs -------------------------------------------------------------


def test_the_demo_counts_only_its_own_jobs_while_a_farm_counts_every_one(tmp_path: Path) -> None:
    """Other plot jobs of the machine (more than the sandbox's global max jobs) hold a farm's
    loop up, as a job started by hand must; the demo's engine starts its jobs all the same."""
    farm = tmp_path / "demo"
    sandbox = build_demo_farm(farm)
    config = load_config(sandbox.config_path)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "tmp").mkdir(parents=True)
    chia = install_fake_chia(elsewhere / "bin")
    argv = chia_argv(chia, str(elsewhere / "tmp"), str(elsewhere / "tmp"))
    with contextlib.ExitStack() as others:
        for index in range(config.scheduling.global_max_jobs):
            others.enter_context(running(argv, elsewhere / f"other-{index}.log"))
        env = dict(os.environ, PLOTMAN_TUI_DATA_DIR=str(tmp_path / "farm-data"))
        # A farm's loop on the same config: the machine's other jobs count.
        farm_pass = subprocess.run(
            [str(PLOTMAN_TUI), "--config", str(sandbox.config_path), "plot", "--once", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert farm_pass.returncode == 0, farm_pass.stderr
        waits = [json.loads(line) for line in farm_pass.stdout.splitlines()]
        assert any(event["event"] == "wait" and "max jobs" in event["message"] for event in waits)
        # The demo: they do not.
        demo = Loop(dict(os.environ), "demo", "--dir", str(farm), "--no-ui", "--json")
        try:
            started = demo.wait(lambda e: e["event"] == "start", 60, "the demo's first start")
        finally:
            demo.stop(signal.SIGTERM)
        for pid in [e["pid"] for e in demo.of("start")]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    assert started["tmp"] in {str(path) for path in sandbox.tmp_dirs}
