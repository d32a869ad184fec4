"""``bladebit ... diskplot``: recognising, reading and building its command line; its log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from plotman_tui.config.schema import Bladebit2DiskOptions, PlotterType, PlottingConfig
from plotman_tui.plotters.base import LogInfo, PlotArgs
from plotman_tui.plotters.bladebit2disk import PLOTTER
from plotman_tui.plotters.phase import Phase

LOGS = Path(__file__).parents[1] / "fixtures" / "plotter-logs"
FARMER = (
    "ade0cc43610ce7540ab96a524d0ab17f5df7866ef13d1221"
    "a7203e5d10ad2a4ae37f7b73f6cdfd6ddf4122e8a1c2f8ef"
)
POOL = (
    "80a836a74b077cabaca7a76d1c3c9f269f7f3a8f2fa196a6"
    "5ee8953eb81274eb8b7328d474982617af5a0fe71b47e9b8"
)
PLOT_ID = "8f781fecff9d78b83b7116580af550b62530a623750738a19dcea498a7a73010"

# The command line the fixture log was made with, as its settings lines tell.
FIXTURE_ARGV = [
    "/usr/local/bin/bladebit",
    "-t",
    "64",
    "-w",
    "-f",
    FARMER,
    "-p",
    POOL,
    "diskplot",
    "-b",
    "256",
    "--cache",
    "200G",
    "--f1-threads",
    "18",
    "-t1",
    "/farm/yards/907/1",
    "-t2",
    "/farm/yards/907/2",
    "/farm/yards/907/d",
]


@pytest.mark.parametrize(
    "argv",
    [
        FIXTURE_ARGV,
        ["bladebit", "-f", FARMER, "-p", POOL, "diskplot", "-t1", "/t", "/d"],
        ["bladebit_cuda", "-f", FARMER, "-p", POOL, "diskplot", "-t1", "/t", "/d"],
        ["bladebit", "-f", FARMER, "-z", "diskplot", "-t1", "/t", "/d"],
    ],
)
def test_matches_diskplot_jobs(argv: list[str]) -> None:
    assert PLOTTER.matches(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["bladebit", "-f", FARMER, "-p", POOL, "/d"],
        ["bladebit", "-f", FARMER, "-p", POOL, "ramplot", "/d"],
        ["bladebit", "-f", FARMER, "-p", POOL, "cudaplot", "/d"],
        ["bladebit", "-f", FARMER, "-p", POOL, "diskplot", "--sizes", "-b", "128"],
        ["bladebit", "help", "diskplot"],
        ["bladebit", "iotest", "/t"],
        ["grep", "diskplot"],
        ["chia", "plotters", "bladebit", "diskplot", "-t", "/t", "-d", "/d"],
    ],
)
def test_does_not_match_other_processes(argv: list[str]) -> None:
    assert not PLOTTER.matches(argv)


def test_parse_args_tells_thread_count_from_temp_dirs() -> None:
    assert PLOTTER.parse_args(FIXTURE_ARGV) == PlotArgs(
        k=32,
        tmp_dir="/farm/yards/907/1",
        tmp2_dir="/farm/yards/907/2",
        dst_dir="/farm/yards/907/d",
        threads=64,
        buckets=256,
        buffer_mib=204800,
        compression=0,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["bladebit", "--threads=8", "diskplot", "--temp1=t1", "--temp2=t2", "-b128", "out"],
        [
            "bladebit",
            "-t8",
            "diskplot",
            "--temp1",
            "t1",
            "--temp2",
            "t2",
            "--buckets",
            "128",
            "out",
        ],
        ["bladebit", "-t", "8", "diskplot", "-t1", "t1", "-t2", "t2", "-b", "128", "--", "out"],
    ],
)
def test_parse_args_forms_and_relative_dirs(argv: list[str]) -> None:
    args = PLOTTER.parse_args(argv, "/farm")
    assert (args.tmp_dir, args.tmp2_dir, args.dst_dir) == ("/farm/t1", "/farm/t2", "/farm/out")
    assert (args.threads, args.buckets, args.buffer_mib) == (8, 128, None)


def test_parse_args_junk() -> None:
    args = PLOTTER.parse_args(["bladebit", "-t", "x", "diskplot", "-b", "y", "--cache", "huge"])
    assert args == PlotArgs(k=32, compression=0)


def plotting(**options: object) -> PlottingConfig:
    return PlottingConfig(
        type=PlotterType.BLADEBIT2DISK,
        farmer_pk=FARMER,
        pool_pk=POOL,
        bladebit2disk=Bladebit2DiskOptions(**options),  # type: ignore[arg-type]
    )


def test_build_argv_with_every_option() -> None:
    config = plotting(
        threads=64,
        no_numa=True,
        buckets=512,
        cache_size="200G",
        f1_threads=18,
        fp_threads=62,
        c_threads=32,
        p2_threads=36,
        p3_threads=56,
        alternate=True,
        no_t1_direct=True,
        no_t2_direct=True,
    )
    assert PLOTTER.build_argv(config, "/t1", "/t2", "/d") == [
        "bladebit",
        "-t",
        "64",
        "-n",
        "1",
        "-f",
        FARMER,
        "-p",
        POOL,
        "--no-numa",
        "diskplot",
        "-b",
        "512",
        "-t1",
        "/t1",
        "-t2",
        "/t2",
        "--cache",
        "200G",
        "--f1-threads",
        "18",
        "--fp-threads",
        "62",
        "--c-threads",
        "32",
        "--p2-threads",
        "36",
        "--p3-threads",
        "56",
        "--alternate",
        "--no-t1-direct",
        "--no-t2-direct",
        "/d",
    ]


def test_build_argv_minimal() -> None:
    assert PLOTTER.build_argv(plotting(), "/t1", None, "/d") == [
        "bladebit",
        "-n",
        "1",
        "-f",
        FARMER,
        "-p",
        POOL,
        "diskplot",
        "-b",
        "256",
        "-t1",
        "/t1",
        "/d",
    ]


def test_build_argv_round_trip() -> None:
    argv = PLOTTER.build_argv(
        plotting(threads=12, buckets=128, cache_size="64G"), "/t", "/t2", "/d"
    )
    assert PLOTTER.matches(argv)
    assert PLOTTER.parse_args(argv) == PlotArgs(
        k=32,
        tmp_dir="/t",
        tmp2_dir="/t2",
        dst_dir="/d",
        threads=12,
        buckets=128,
        buffer_mib=65536,
        count=1,
        compression=0,
    )


def test_log() -> None:
    parser = PLOTTER.new_log_parser()
    parser.feed((LOGS / "bladebit2disk.plot.log").read_bytes())
    assert parser.info == LogInfo(
        phase=Phase(4, 2),
        plot_id=PLOT_ID,
        k=32,
        tmp_dir="/farm/yards/907/1",
        tmp2_dir="/farm/yards/907/2",
        dst_dir="/farm/yards/907/d",
        threads=64,
        buckets=256,
        buffer_mib=204800,
        started_at=datetime(2022, 5, 4, 0, 44).timestamp(),  # from the plot name
        phase_seconds={1: 526.48, 2: 100.36, 3: 562.95},
        total_seconds=1189.79,
        final_file=f"/farm/yards/907/d/plot-k32-2022-05-04-00-44-{PLOT_ID}.plot",
        completed=True,
    )


def test_table_io_lines_move_only_phase_2() -> None:
    data = (LOGS / "bladebit2disk.plot.log").read_bytes()
    parser = PLOTTER.new_log_parser()
    parser.feed(data[: data.index(b"Finished compressing tables 1 and 2")])
    # "Table 1 I/O wait time" in phase 3 must not send the job back to phase 2.
    assert parser.info.phase == Phase(3, 1)
