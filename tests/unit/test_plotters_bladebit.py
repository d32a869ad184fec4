"""BladeBit's RAM plotter: recognising, reading and building its command line; following its log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from plotman_tui.config.schema import BladebitOptions, PlotterType, PlottingConfig
from plotman_tui.plotters.base import LogInfo, PlotArgs
from plotman_tui.plotters.bladebit import PLOTTER, BladebitLogParser
from plotman_tui.plotters.phase import Phase

LOGS = Path(__file__).parents[1] / "fixtures" / "plotter-logs"
FARMER = (
    "b0a374845f4f4d6eab62fc4c5e17965d82ad7eee105818e5"
    "bd0cfcb46275a16acc4cd30955779bec841a716473416b21"
)
CONTRACT = "xch1u8ll2ztwhseej45d6u2zp9j4mlnzhwseccr0axqws9fl2tyj5u0svdy04y"
PLOT_ID = "1fc7b57baae24da78e3bea44d58ab51f162a3ed4d242bab2fbcc24f6577d88b3"


@pytest.mark.parametrize(
    "argv",
    [
        # BladeBit 1.x: no subcommand, the output dir is the only positional.
        ["bladebit", "-t", "88", "-f", FARMER, "-c", CONTRACT, "/mnt/out"],
        ["/opt/bladebit/bladebit", "-v", "-n", "1", "-f", FARMER, "-c", CONTRACT, "/mnt/out"],
        # BladeBit 2.x/3.x name the RAM plotter.
        ["bladebit", "-f", FARMER, "-c", CONTRACT, "ramplot", "/mnt/out"],
        ["bladebit", "-f", FARMER, "--compress", "7", "-c", CONTRACT, "ramplot", "/mnt/out"],
        ["bladebit_cuda", "-f", FARMER, "-c", CONTRACT, "ramplot", "/mnt/out"],
        ["bladebit.exe", "-f", FARMER, "-c", CONTRACT, "ramplot", "D:\\plots"],
    ],
)
def test_matches_ram_plot_jobs(argv: list[str]) -> None:
    assert PLOTTER.matches(argv)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bladebit"],
        ["bladebit", "--version"],
        ["bladebit", "-f", FARMER, "--memory", "/mnt/out"],
        ["bladebit", "-f", FARMER, "-c", CONTRACT, "ramplot", "--help"],
        ["bladebit", "validate", "/mnt/out/plot-k32-x.plot"],
        ["bladebit", "-t", "8", "check", "-n", "100", "/mnt/out/plot-k32-x.plot"],
        ["bladebit", "-f", FARMER, "-c", CONTRACT, "diskplot", "-t1", "/t", "/mnt/out"],
        ["bladebit", "-f", FARMER, "-c", CONTRACT, "cudaplot", "/mnt/out"],
        ["bladebit_cuda", "-f", FARMER, "-c", CONTRACT, "cudaplot", "/mnt/out"],
        ["grep", "bladebit"],
        ["chia", "plotters", "bladebit", "ramplot", "-d", "/mnt/out"],
    ],
)
def test_does_not_match_other_processes(argv: list[str]) -> None:
    assert not PLOTTER.matches(argv)


@pytest.mark.parametrize(
    ("argv", "compression"),
    [
        (["bladebit", "-t", "88", "-n", "2", "-f", FARMER, "-c", CONTRACT, "/mnt/out/"], 0),
        (["bladebit", "-t88", "-n2", "ramplot", "/mnt/out"], 0),
        # BladeBit's -z without a level makes level 1 plots.
        (["bladebit", "--threads=88", "--count=2", "-z", "ramplot", "/mnt/out"], 1),
        (
            [
                "bladebit",
                "--threads",
                "88",
                "--count",
                "2",
                "--compress",
                "3",
                "ramplot",
                "/mnt/out",
            ],
            3,
        ),
        (["bladebit", "-t", "88", "-n", "2", "-z", "9", "ramplot", "/mnt/out"], 9),
        (["bladebit", "-t", "88", "-n", "2", "--compress=7", "ramplot", "/mnt/out"], 7),
        (["bladebit", "-t", "88", "-n", "2", "-w", "--no-numa", "ramplot", "out"], 0),
    ],
)
def test_parse_args(argv: list[str], compression: int) -> None:
    # The compression level after --compress is not the output dir; "out" is relative to cwd.
    assert PLOTTER.parse_args(argv, "/mnt") == PlotArgs(
        k=32, dst_dir="/mnt/out", threads=88, count=2, compression=compression
    )


@pytest.mark.parametrize("level", ["99", "-1", "12345678901234567890"])
def test_parse_args_a_level_no_plotter_makes_is_unknown(level: str) -> None:
    argv = ["bladebit", "-n", "1", "--compress=" + level, "ramplot", "/mnt/out"]
    assert PLOTTER.parse_args(argv).compression is None


def test_parse_args_junk() -> None:
    assert PLOTTER.parse_args(["bladebit", "-t", "all", "ramplot"]) == PlotArgs(k=32, compression=0)
    assert PLOTTER.parse_args(["chia_plot", "-r", "4"]) == PlotArgs()


def plotting(**bladebit: object) -> PlottingConfig:
    return PlottingConfig(
        type=PlotterType.BLADEBIT,
        farmer_pk=FARMER,
        pool_contract_address=CONTRACT,
        bladebit=BladebitOptions(**bladebit),  # type: ignore[arg-type]
    )


def test_build_argv() -> None:
    argv = PLOTTER.build_argv(plotting(threads=88, no_numa=True), "/mnt/t", None, "/mnt/d")
    assert argv == [
        "bladebit",
        "-t",
        "88",
        "-n",
        "1",
        "-f",
        FARMER,
        "-c",
        CONTRACT,
        "--no-numa",
        "ramplot",
        "/mnt/d",
    ]


def test_build_argv_uses_every_thread_unless_told() -> None:
    argv = PLOTTER.build_argv(plotting(executable="/opt/bladebit"), "/mnt/t", "/mnt/t2", "/mnt/d")
    assert argv[:3] == ["/opt/bladebit", "-n", "1"]
    assert "-t" not in argv and "--no-numa" not in argv


def test_build_argv_round_trip() -> None:
    argv = PLOTTER.build_argv(plotting(threads=30), "/mnt/t", None, "/mnt/d")
    assert PLOTTER.matches(argv)
    # The RAM plotter has no temp dir: the plot is made in memory.
    assert PLOTTER.parse_args(argv) == PlotArgs(
        k=32, dst_dir="/mnt/d", threads=30, count=1, compression=0
    )


def test_build_argv_compressed_round_trip() -> None:
    # BladeBit 3's RAM plotter compresses too: [plotting.bladebit] compress.
    argv = PLOTTER.build_argv(plotting(compress=5), "/mnt/t", None, "/mnt/d")
    assert argv[-4:] == ["--compress", "5", "ramplot", "/mnt/d"]
    assert PLOTTER.parse_args(argv).compression == 5


def test_log() -> None:
    parser = PLOTTER.new_log_parser()
    parser.feed((LOGS / "bladebit.plot.log").read_bytes())
    assert parser.info == LogInfo(
        phase=Phase(5, 1),
        plot_id=PLOT_ID,
        k=32,
        dst_dir="/mnt/tmp/01/manual-transfer",
        threads=88,
        started_at=datetime(2021, 8, 29, 22, 22).timestamp(),  # from the plot name
        phase_seconds={1: 313.98, 2: 44.60, 3: 203.26, 4: 1.11},
        total_seconds=582.91,
        final_file=f"/mnt/tmp/01/manual-transfer/plot-k32-2021-08-29-22-22-{PLOT_ID}.plot",
        completed=True,
    )


def test_running_log_has_no_final_file_yet() -> None:
    data = (LOGS / "bladebit.plot.log").read_bytes()
    parser = BladebitLogParser()
    parser.feed(data[: data.index(b"Running Phase 3")])
    info = parser.info
    assert info.phase == Phase(3, 0)
    assert info.plot_id == PLOT_ID
    assert (info.started_at, info.final_file, info.completed) == (None, None, False)


def test_bladebit_3_names_the_file_when_the_plot_starts() -> None:
    # BladeBit 3.x prints the temporary file (and no output path); the lines follow its main.cpp.
    name = f"plot-k32-c03-2023-06-01-10-20-{PLOT_ID}.plot"
    parser = BladebitLogParser()
    parser.feed(
        b"[Global Plotting Config]\n Will create 1 plots.\n Thread count          : 16\n"
        + f"Generating plot 1 / 1: {PLOT_ID}\n".encode()
        + f"Plot temporary file: /mnt/out/{name}.tmp\n".encode()
        + b"\nRunning Phase 1\n"
    )
    info = parser.info
    assert (info.phase, info.threads, info.dst_dir) == (Phase(1, 0), 16, "/mnt/out")
    assert info.started_at == datetime(2023, 6, 1, 10, 20).timestamp()
    assert not info.completed
    parser.feed(b"Finished plotting in 400.10 seconds (6.67 minutes).\n")
    info = parser.info
    assert (info.final_file, info.total_seconds, info.completed) == (
        f"/mnt/out/{name}",
        400.10,
        True,
    )
