"""``bladebit_cuda ... cudaplot``: recognising, reading and building its command line; its log.

No real cudaplot log is stored with the project (it needs an NVIDIA GPU); the log below is made
from the format strings of BladeBit 3.1 (``src/main.cpp``, ``cuda/CudaPlotter.cu``,
``cuda/CudaPlotPhase2.cu``, ``cuda/CudaPlotPhase3.cu``), with made-up numbers. Phases 2 and 3 print
BladeBit's zero-based table ids (``Marked Table 6`` is table 7), phase 1 one-based ones.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from plotman_tui.config.schema import BladebitCudaOptions, PlotterType, PlottingConfig
from plotman_tui.plotters.base import LogInfo, PlotArgs
from plotman_tui.plotters.bladebit_cuda import PLOTTER, BladebitCudaLogParser
from plotman_tui.plotters.phase import Phase

FARMER = (
    "ade0cc43610ce7540ab96a524d0ab17f5df7866ef13d1221"
    "a7203e5d10ad2a4ae37f7b73f6cdfd6ddf4122e8a1c2f8ef"
)
CONTRACT = "xch1u8ll2ztwhseej45d6u2zp9j4mlnzhwseccr0axqws9fl2tyj5u0svdy04y"
PLOT_ID = "4c0e7d5d2bd6c4f8a9be2f07a0e3c4b6d1f5e8a7c3b2d1e0f9a8b7c6d5e4f3a2"
NAME = f"plot-k32-c07-2023-08-02-14-05-{PLOT_ID}.plot"


@pytest.mark.parametrize(
    "argv",
    [
        ["bladebit_cuda", "-f", FARMER, "-c", CONTRACT, "--compress", "7", "cudaplot", "/out"],
        ["/opt/bb/bladebit_cuda", "-z", "7", "-f", FARMER, "cudaplot", "-d", "1", "/out"],
        ["bladebit", "-f", FARMER, "-c", CONTRACT, "cudaplot", "--disk-128", "-t1", "/t", "/o"],
        ["bladebit_cuda", "-f", FARMER, "-c", CONTRACT, "/out"],
    ],
)
def test_matches_cudaplot_jobs(argv: list[str]) -> None:
    assert PLOTTER.matches(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["bladebit_cuda"],
        ["bladebit_cuda", "cudacheck"],
        ["bladebit_cuda", "-f", FARMER, "-c", CONTRACT, "diskplot", "-t1", "/t", "/out"],
        ["bladebit_cuda", "-f", FARMER, "-c", CONTRACT, "ramplot", "/out"],
        ["bladebit_cuda", "-f", FARMER, "cudaplot", "--help"],
        ["bladebit", "-f", FARMER, "-c", CONTRACT, "/out"],
        ["bladebit_cuda", "simulate", "/out/plot.plot"],
        ["chia", "plotters", "bladebit", "cudaplot", "-d", "/out"],
    ],
)
def test_does_not_match_other_processes(argv: list[str]) -> None:
    assert not PLOTTER.matches(argv)


@pytest.mark.parametrize(
    ("argv", "compression"),
    [
        (["bladebit_cuda", "-t", "16", "-n", "1", "-z", "7", "cudaplot", "-d", "1", "out"], 7),
        (["bladebit_cuda", "-t16", "-n1", "--compress=7", "cudaplot", "--device=1", "out"], 7),
        (
            [
                "bladebit_cuda",
                "--threads",
                "16",
                "--count",
                "1",
                "cudaplot",
                "--device",
                "1",
                "out",
            ],
            0,
        ),
    ],
)
def test_parse_args_device_index_is_not_the_output_dir(argv: list[str], compression: int) -> None:
    assert PLOTTER.parse_args(argv, "/farm") == PlotArgs(
        k=32, dst_dir="/farm/out", threads=16, count=1, compression=compression
    )


def test_parse_args_hybrid_temp_dirs() -> None:
    argv = ["bladebit_cuda", "cudaplot", "--disk-128", "--temp1", "/t1", "-t2", "t2", "/out"]
    args = PLOTTER.parse_args(argv, "/farm")
    assert (args.tmp_dir, args.tmp2_dir, args.dst_dir) == ("/t1", "/farm/t2", "/out")


def plotting(**options: object) -> PlottingConfig:
    return PlottingConfig(
        type=PlotterType.BLADEBIT_CUDA,
        farmer_pk=FARMER,
        pool_contract_address=CONTRACT,
        bladebit_cuda=BladebitCudaOptions(**options),  # type: ignore[arg-type]
    )


def test_build_argv() -> None:
    config = plotting(threads=16, no_numa=True, device=1, compress=7)
    assert PLOTTER.build_argv(config, "/t", "/t2", "/out") == [
        "bladebit_cuda",
        "-t",
        "16",
        "-n",
        "1",
        "-f",
        FARMER,
        "-c",
        CONTRACT,
        "--no-numa",
        "--compress",
        "7",
        "cudaplot",
        "-d",
        "1",
        "-t1",
        "/t",
        "-t2",
        "/t2",
        "/out",
    ]


def test_build_argv_uncompressed() -> None:
    argv = PLOTTER.build_argv(plotting(executable="/opt/bladebit_cuda"), "/t", None, "/out")
    assert argv == [
        "/opt/bladebit_cuda",
        "-n",
        "1",
        "-f",
        FARMER,
        "-c",
        CONTRACT,
        "cudaplot",
        "-d",
        "0",
        "-t1",
        "/t",
        "/out",
    ]


def test_build_argv_round_trip() -> None:
    argv = PLOTTER.build_argv(plotting(threads=8, compress=5), "/t", "/t2", "/out")
    assert PLOTTER.matches(argv)
    assert PLOTTER.parse_args(argv) == PlotArgs(
        k=32, tmp_dir="/t", tmp2_dir="/t2", dst_dir="/out", threads=8, count=1, compression=5
    )


P3_1 = Phase(3, 1)
LOG = [
    ("", Phase(0, 0)),
    ("Bladebit Chia Plotter", Phase(0, 0)),
    ("Version      : 3.1.0", Phase(0, 0)),
    ("[Global Plotting Config]", Phase(0, 0)),
    (" Will create 1 plots.", Phase(0, 0)),
    (" Thread count          : 16", Phase(0, 0)),
    (" Warm start enabled    : false", Phase(0, 0)),
    (" Farmer public key     : " + FARMER, Phase(0, 0)),
    (" Pool contract address : " + CONTRACT, Phase(0, 0)),
    (" Compression Level     : 7", Phase(0, 0)),
    ("[Bladebit CUDA Plotter]", Phase(0, 0)),
    (" Host RAM            : 251 GiB", Phase(0, 0)),
    ("Selected cuda device 0 : NVIDIA GeForce RTX 3090", Phase(0, 0)),
    ("Allocating buffers (this may take a few seconds)...", Phase(0, 1)),
    ("Done.", Phase(0, 1)),
    (f"Generating plot 1 / 1: {PLOT_ID}", Phase(0, 2)),
    (f"Plot temporary file: /mnt/out/{NAME}.tmp", Phase(0, 2)),
    ("Generating F1", Phase(1, 0)),
    ("Finished F1 in 0.92 seconds.", Phase(1, 1)),
    ("Table 2 completed in 3.10 seconds with 4294967296 entries.", Phase(1, 2)),
    ("Table 3 completed in 3.55 seconds with 4294967296 entries.", Phase(1, 3)),
    ("Table 7 completed in 2.71 seconds with 4294967296 entries.", Phase(1, 7)),
    ("Finalizing Table 7", Phase(1, 8)),
    ("Completed Phase 1 in 25.41 seconds", Phase(2, 0)),
    ("Marked Table 6 in 0.75 seconds.", Phase(2, 1)),
    ("Marked Table 3 in 0.70 seconds.", Phase(2, 4)),
    ("Completed Phase 2 in 3.83 seconds", Phase(3, 0)),
    ("Compressing Table 1 and 2...", Phase(3, 1)),
    (" Step 1 completed step in 1.28 seconds.", Phase(3, 1)),
    (
        "Completed table 1 in 3.04 seconds with 3429423491 / 4294967296 entries ( 79.85% ).",
        Phase(3, 1),
    ),
    ("Compressing tables 2 and 3...", Phase(3, 2)),
    ("Compressing tables 6 and 7...", Phase(3, 6)),
    ("Serializing P7 entries", Phase(3, 7)),
    ("Completed serializing P7 entries in 0.95 seconds.", Phase(3, 7)),
    ("Completed Phase 3 in 21.76 seconds", Phase(4, 0)),
    ("Completed Plot 1 in 51.00 seconds ( 0.85 minutes )", Phase(4, 1)),
    ("", Phase(4, 1)),
    ("Completed writing plot in 12.30 seconds", Phase(4, 2)),
]


def test_log_phases() -> None:
    parser = BladebitCudaLogParser()
    for line, phase in LOG:
        parser.feed(line.encode() + b"\n")
        assert parser.info.phase == phase, line
        assert parser.info.completed == (line.startswith("Completed writing plot")), line


def test_log_info() -> None:
    parser = PLOTTER.new_log_parser()
    parser.feed("".join(line + "\n" for line, _ in LOG).encode())
    assert parser.info == LogInfo(
        phase=Phase(4, 2),
        plot_id=PLOT_ID,
        k=32,
        dst_dir="/mnt/out",
        threads=16,
        compression=7,  # the c07 of the plot's name
        started_at=datetime(2023, 8, 2, 14, 5).timestamp(),
        phase_seconds={1: 25.41, 2: 3.83, 3: 21.76},
        total_seconds=51.00,
        final_file=f"/mnt/out/{NAME}",
        completed=True,
    )


def test_the_compression_level_of_the_global_config_is_read() -> None:
    # BladeBit 3.1.0-rc2's header as a user posted it (Chia-Network/bladebit#421), keys cut.
    header = (
        "[Global Plotting Config]\n"
        " Will create 1 plots.\n"
        " Thread count          : 48\n"
        " Warm start enabled    : false\n"
        " Compression Level     : 7\n"
        " Benchmark mode        : disabled\n"
    )
    parser = PLOTTER.new_log_parser()
    parser.feed(header.encode())
    assert (parser.info.compression, parser.info.threads) == (7, 48)


FRAGMENTS = Path(__file__).parents[1] / "fixtures" / "plotter-logs" / "fragments"


def _read_fragment(name: str) -> BladebitCudaLogParser:
    parser = BladebitCudaLogParser()
    parser.feed((FRAGMENTS / f"bladebit_cuda_{name}.fragment.log").read_bytes())
    parser.finish()
    return parser


def test_the_real_header_names_level_and_threads() -> None:
    # The whole posted header (bladebit#421), its command line included, as it is.
    info = _read_fragment("3.1.0-rc2_c7_check_header_gh421").info
    assert (info.compression, info.threads, info.plot_id, info.phase) == (7, 48, None, Phase())


@pytest.mark.parametrize(
    ("name", "plot_id", "compression", "phase", "phases"),
    [
        # Plot 14 of 90, cut off while compressing tables 3 and 4 (phase 3).
        ("3.1.0_c7_n90_disk128_plot14_gh448", "a87ce088", 7, Phase(3, 3), {1: 2132.26, 2: 77.28}),
        ("alpha4.3_c1_plot48_gh405", "552902f4", 1, Phase(3, 2), {1: 68.0, 2: 8.66}),
        # Tables 2 and 3 of phase 1 done: table 3 is the last one named.
        ("3.1.0-beta1_alloc_to_P1_gh409", "dd6ca6a9", 3, Phase(1, 3), {}),
    ],
)
def test_real_single_plot_pieces(
    name: str, plot_id: str, compression: int, phase: Phase, phases: dict[int, float]
) -> None:
    parser = _read_fragment(name)
    info = parser.info
    assert info.plot_id is not None and info.plot_id.startswith(plot_id)
    assert (info.compression, info.phase, info.phase_seconds) == (compression, phase, phases)
    assert not info.completed and parser.earlier_plots == ()


def test_a_real_stamped_multi_plot_run_follows_each_plot() -> None:
    # A grep of a 30-plot run, every line stamped "[Sep 24 10:50:53] " (bladebit#417): plots
    # 1 and 2 done ("Completed Plot 1 in" after each: not read as a plot number), plot 3
    # under way with phases 1 to 3 done.
    parser = _read_fragment("multiplot_grep_timestamped_gh417")
    plot_1, plot_2 = parser.earlier_plots
    assert plot_1.plot_id is not None and plot_1.plot_id.startswith("e9a0eb59")
    assert plot_2.plot_id is not None and plot_2.plot_id.startswith("ce1e7063")
    assert plot_1.completed and plot_2.completed
    assert (plot_1.phase_seconds, plot_1.total_seconds) == ({1: 42.56, 2: 12.64, 3: 189.95}, 245.15)
    assert (plot_2.phase_seconds, plot_2.total_seconds) == ({1: 42.96, 2: 12.62, 3: 198.31}, 253.89)
    info = parser.info
    assert info.plot_id is not None and info.plot_id.startswith("d621228d")
    assert (info.phase, info.completed) == (Phase(4, 0), False)
    assert info.phase_seconds == {1: 42.24, 2: 12.63, 3: 192.69}


def test_stamped_lines_read_as_the_same_lines_unstamped() -> None:
    text = (FRAGMENTS / "bladebit_cuda_multiplot_grep_timestamped_gh417.fragment.log").read_text()
    unstamped = "".join(line[18:] + "\n" for line in text.splitlines())
    stamped, plain = BladebitCudaLogParser(), BladebitCudaLogParser()
    stamped.feed(text.encode())
    plain.feed(unstamped.encode())
    assert stamped.save_state() == plain.save_state()
    assert stamped.earlier_plots == plain.earlier_plots


@pytest.mark.parametrize(
    "line",
    [
        "[Sep 24 10:50:53]Generating plot 1 / 30: " + "ab" * 32,  # no space after the stamp
        "[Sep 24 10:50] Generating plot 1 / 30: " + "ab" * 32,
        "[Global Plotting Config]",
        "[Sep 24 10:50:53] " * 5000,
        "[Sep 24 10:50:53] [2023/05/12 17:08:33] ",
    ],
)
def test_lines_that_only_look_stamped_are_not_read(line: str) -> None:
    parser = BladebitCudaLogParser()
    parser.feed(line.encode() + b"\n")
    assert (parser.info.plot_id, parser.info.phase) == (None, Phase())


def test_the_tail_of_a_real_plot_finishes_it() -> None:
    # "Completed Plot 1 in" then "Completed writing plot in" (bladebit#372): the plot is written.
    info = _read_fragment("tail_completed_writing_gh372").info
    assert (info.phase, info.completed, info.total_seconds) == (Phase(4, 2), True, 151.47)
