"""Gigahorse ``cuda_plot_k32``: recognising, reading and building its command line; its log.

No complete Gigahorse log is known (a closed GPU binary): the log tests read the real pieces of
output users posted (``fixtures/plotter-logs/fragments/gigahorse_*``, see PROVENANCE.md there),
as they are.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from plotman_tui.config.schema import GigahorseOptions, PlotterType, PlottingConfig
from plotman_tui.farm.finished import best_parser
from plotman_tui.plotters import identify
from plotman_tui.plotters.base import PlotArgs
from plotman_tui.plotters.gigahorse import PLOTTER, GigahorseLogParser
from plotman_tui.plotters.madmax import MadmaxLogParser
from plotman_tui.plotters.phase import Phase

LOGS = Path(__file__).parents[1] / "fixtures" / "plotter-logs"
FRAGMENTS = LOGS / "fragments"
FARMER = (
    "ade0cc43610ce7540ab96a524d0ab17f5df7866ef13d1221"
    "a7203e5d10ad2a4ae37f7b73f6cdfd6ddf4122e8a1c2f8ef"
)
CONTRACT = "xch1u8ll2ztwhseej45d6u2zp9j4mlnzhwseccr0axqws9fl2tyj5u0svdy04y"


def fragment(name: str) -> bytes:
    return (FRAGMENTS / f"gigahorse_cuda_plot_k32_{name}.fragment.log").read_bytes()


# --- command lines --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["cuda_plot_k32", "-C", "7", "-n", "2", "-t", "/t/", "-d", "/d/"],
        ["/opt/gigahorse/cuda_plot_k26", "-t", "/t/"],
        ["cuda_plot_k34", "-C", "30"],
        ["cuda_plot_k32_v3", "-C", "31", "-d", "@farmer"],
        [r"C:\gigahorse\cuda_plot_k32.exe", "-C", "7"],
        ["./CUDA_PLOT_K33.EXE"],
    ],
)
def test_matches_gigahorse_jobs(argv: list[str]) -> None:
    assert PLOTTER.matches(argv)
    assert identify(argv) is PLOTTER


@pytest.mark.parametrize(
    "argv",
    [
        ["chia_plot", "-n", "2", "-t", "/t/"],  # madMAx's CPU plotter
        ["cuda_plot_k25"],
        ["cuda_plot_k35"],
        ["cuda_plot_k32_v2"],
        ["cuda_plot"],
        ["chia_plot_sink", "--", "/d/"],
        ["cuda_plot_k32", "--help"],
        ["cuda_plot_k32", "--version"],
        ["grep", "cuda_plot_k32"],
        [],
    ],
)
def test_does_not_match_other_processes(argv: list[str]) -> None:
    assert not PLOTTER.matches(argv)


def test_parse_args_of_a_real_command_line() -> None:
    # The command in chia-gigahorse#109 (Ubuntu): -3 has no field of its own; -M is the
    # most memory the job takes for its temp data.
    argv = [
        "./cuda_plot_k32",
        "-n",
        "2",
        "-C",
        "8",
        "-M",
        "60",
        "-d",
        "/mnt/plot1_31/",
        "-t",
        "/mnt/tmp/",
        "-3",
        "/mnt/tmp/",
    ]
    assert PLOTTER.parse_args(argv, "/home/u") == PlotArgs(
        k=32,
        tmp_dir="/mnt/tmp",
        dst_dir="/mnt/plot1_31",
        buffer_mib=60 * 1024,
        count=2,
        compression=8,
    )


def test_parse_args_of_the_first_line_of_a_real_log() -> None:
    # chia-gigahorse#111 posted its Windows command as the log's first line.
    argv = fragment("C7_n2_header_gh111").decode().splitlines()[0].split()
    args = PLOTTER.parse_args(argv, None)
    assert (args.k, args.compression, args.count) == (32, 7, 2)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # No -d: the plot stays in the tmp dir. No -C: Gigahorse's default level 1.
        (["-t", "/t/"], PlotArgs(k=33, tmp_dir="/t", dst_dir="/t", compression=1)),
        # The first local -d stands for them all; a remote sink (@HOST) has no dir here.
        (
            ["-t", "/t/", "-d", "@farmer", "-d", "/d1/", "-d", "/d2/"],
            PlotArgs(k=33, tmp_dir="/t", dst_dir="/d1", compression=1),
        ),
        (["-t", "/t/", "-d", "@farmer"], PlotArgs(k=33, tmp_dir="/t", compression=1)),
        # Long spellings, --opt=value, values run on to short options, relative dirs.
        (
            ["--level=9", "--count", "-1", "--tmpdir=tmp/", "-2", "/t2/", "--finaldir", "/d/"],
            PlotArgs(k=33, tmp_dir="/w/tmp", tmp2_dir="/t2", dst_dir="/d", count=-1, compression=9),
        ),
        (
            ["-C20", "-n5", "-t/t/", "-M", "128"],
            PlotArgs(
                k=33, tmp_dir="/t", dst_dir="/t", buffer_mib=128 << 10, count=5, compression=20
            ),
        ),
        # Keys, devices, streams, ports and flags take their values, not the dirs'.
        (
            [
                "-g",
                "1",
                "-r",
                "2",
                "-S",
                "4",
                "-x",
                "8444",
                "-z",
                "1337",
                "-w",
                "-Z",
                "-f",
                FARMER,
                "-c",
                CONTRACT,
                "-t",
                "/t/",
                "-d",
                "/d/",
            ],
            PlotArgs(k=33, tmp_dir="/t", dst_dir="/d", compression=1),
        ),
        # Levels and sizes no plotter means are unknown; a value missing at the end is not given.
        (["-C", "34", "-M", "0", "-t", "/t/", "-d"], PlotArgs(k=33, tmp_dir="/t", dst_dir="/t")),
        (["-C", "x", "-M", "lots", "-n", "1e9"], PlotArgs(k=33)),
    ],
)
def test_parse_args(options: list[str], expected: PlotArgs) -> None:
    assert PLOTTER.parse_args(["cuda_plot_k33", *options], "/w") == expected


def plotting(**options: object) -> PlottingConfig:
    return PlottingConfig(
        type=PlotterType.GIGAHORSE,
        farmer_pk=FARMER,
        pool_contract_address=CONTRACT,
        gigahorse=GigahorseOptions(**options),  # type: ignore[arg-type]
    )


def test_build_argv_with_every_option() -> None:
    config = plotting(
        executable="/opt/gh/cuda_plot_k{k}",
        k=33,
        compression=18,
        count=-1,
        device=1,
        devices=2,
        streams=4,
        max_tmp_gib=128,
        tmp3=Path("/ssd3"),
        extra_dst=("/d2", "@farmer"),
        wait_for_copy=True,
        unique=True,
    )
    assert PLOTTER.build_argv(config, "/t", "/t2", "/d") == [
        "/opt/gh/cuda_plot_k33",
        "-C",
        "18",
        "-n",
        "-1",
        "-t",
        "/t/",
        "-2",
        "/t2/",
        "-3",
        "/ssd3/",
        "-d",
        "/d/",
        "-d",
        "/d2/",
        "-d",
        "@farmer",
        "-f",
        FARMER,
        "-c",
        CONTRACT,
        "-g",
        "1",
        "-r",
        "2",
        "-S",
        "4",
        "-M",
        "128",
        "-w",
        "-Z",
    ]


def test_build_argv_defaults_and_round_trip() -> None:
    argv = PLOTTER.build_argv(plotting(), "/t", None, "/d")
    assert argv == [
        "cuda_plot_k32",
        "-C",
        "1",
        "-n",
        "1",
        "-t",
        "/t/",
        "-d",
        "/d/",
        "-f",
        FARMER,
        "-c",
        CONTRACT,
    ]
    assert identify(argv) is PLOTTER
    assert PLOTTER.parse_args(argv) == PlotArgs(
        k=32, tmp_dir="/t", dst_dir="/d", count=1, compression=1
    )


# --- logs -----------------------------------------------------------------------------------


def read(data: bytes) -> GigahorseLogParser:
    parser = GigahorseLogParser()
    parser.feed(data)
    parser.finish()
    return parser


def test_a_real_run_header_and_plot_1() -> None:
    # chia-gigahorse#111: the run's header, plot 1 of 2 up to P1 table 2 (then it crashed).
    parser = read(fragment("C7_n2_header_gh111"))
    info = parser.info
    assert info.plot_id == "383ca6fab5e39cc9f3a30f97aa1c0c5037ba9f5ce1d1cfeb0835692ba2750f92"
    assert (info.k, info.compression, info.phase, info.completed) == (32, 7, Phase(1, 3), False)
    # "Crafting plot 1 out of 2 (2023/05/07 16:58:26)": to the second, not the name's minute.
    assert info.started_at == datetime(2023, 5, 7, 16, 58, 26).timestamp()
    # Its dirs are Windows ones (D:\): not dirs here, so the command line's stand.
    assert (info.tmp_dir, info.tmp2_dir, info.dst_dir) == (None, None, None)
    assert parser.earlier_plots == ()


def test_plot_2_of_a_real_run_with_plot_1s_copy_inside() -> None:
    # chia-gigahorse#109: plot 2 of 2; plot 1's "Started copy to" and "Copy to ... finished"
    # come between plot 2's P1 lines. The job shows plot 2 in phase 1 all along, and plot 1
    # counts as finished.
    data = fragment("C8_n2_plot2_gh109")
    lines = data.splitlines(keepends=True)
    parser = GigahorseLogParser()
    phases = []
    for line in lines:
        parser.feed(line)
        phases.append(parser.info.phase)
        if b"Plot Name" in line or parser.info.plot_id:
            assert parser.info.plot_id is not None and parser.info.plot_id.startswith("b499fb00")
        assert not parser.info.completed and parser.info.final_file is None
    assert phases == sorted(phases) and phases[-1] == Phase(1, 3)
    info = parser.info
    assert (info.k, info.compression, info.tmp_dir, info.tmp2_dir) == (
        32,
        8,
        "/mnt/tmp",
        "/mnt/tmp",
    )
    (plot_1,) = parser.earlier_plots
    assert plot_1.plot_id is not None and plot_1.plot_id.startswith("071fc7f7")
    assert (plot_1.completed, plot_1.phase, plot_1.copy_seconds) == (True, Phase(5, 2), 299.365)
    assert (plot_1.k, plot_1.compression) == (32, 8)
    assert plot_1.final_file == (
        "/mnt/plot1_31/plot-k32-c8-2023-05-07-02-23-"
        "071fc7f794f95efe354cb33abfc5d9ee65c94931c9e464d2c0cbc783d6d4379b.plot"
    )


def test_plot_18_of_a_real_endless_run() -> None:
    # chia-gigahorse#237: "Crafting plot 18 out of -1", C18 (no xbits), the previous plot's
    # copy started between P1 tables 2 and 3; the "**" the poster put before "[P1] Table 4"
    # leaves that line unread, so table 5 is the last one read.
    parser = read(fragment("C18_infinite_plot18_gh237"))
    info = parser.info
    assert info.plot_id is not None and info.plot_id.startswith("8129d42d")
    assert (info.compression, info.phase, info.completed) == (18, Phase(1, 6), False)
    assert info.started_at == datetime(2023, 11, 15, 22, 33, 10).timestamp()
    assert parser.earlier_plots == ()  # its copy had not finished


def test_real_stamped_phase_3_lines() -> None:
    # chia-gigahorse#120: "[2023/05/12 17:08:33] [P3] Table 4 LPSK took ...": the stamp is
    # not part of the line; table 6 is the last one named.
    parser = read(fragment("P3_timestamped_gh120"))
    assert parser.info.phase == Phase(3, 6)


@pytest.mark.parametrize(
    "name",
    ["C7_n2_header_gh111", "C8_n2_plot2_gh109", "C18_infinite_plot18_gh237"],
)
def test_a_finished_gigahorse_log_is_read_by_gigahorses_parser(name: str) -> None:
    best = best_parser(fragment(name), finish=True)
    assert best is not None and best[0] == "gigahorse"
    assert best[1].info.compression is not None


@pytest.mark.parametrize(
    "name", ["madmax.plot.log", "madmax-k32/madmax.plot.log", "madmax-multi/madmax-2plots.plot.log"]
)
def test_a_finished_madmax_log_is_still_madmaxs(name: str) -> None:
    best = best_parser((LOGS / name).read_bytes(), finish=True)
    assert best is not None and best[0] == "madmax"


@pytest.mark.parametrize(
    "name", ["madmax-k32/madmax.plot.log", "madmax-multi/madmax-2plots.plot.log"]
)
def test_gigahorses_parser_reads_madmax_lines_as_madmax_does(name: str) -> None:
    # Same author, same lines: what Gigahorse prints like madMAx is read the same way.
    data = (LOGS / name).read_bytes()
    madmax, gigahorse = MadmaxLogParser(), GigahorseLogParser()
    for parser in (madmax, gigahorse):
        parser.feed(data)
        parser.finish()
    assert gigahorse.info == madmax.info
    assert gigahorse.earlier_plots == madmax.earlier_plots


def test_a_copy_line_of_no_plot_finishes_the_current_one() -> None:
    # Only a name with another plot's id is an earlier plot's copy.
    parser = GigahorseLogParser()
    parser.feed(fragment("C7_n2_header_gh111"))
    parser.feed(b"Copy to D:\\odd.plot finished, took 1.5 sec, 2 MB/s\n")
    assert parser.info.completed and parser.info.copy_seconds == 1.5
    assert parser.earlier_plots == ()


@pytest.mark.parametrize(
    "line",
    [
        b"Compression Level: C99 (xbits = 9, final table = 4)",
        b"Compression Level: Cx",
        b"[P3] Table 99 NSK took 1 sec",
        b"[P3] Table 4 XYZ took 1 sec",
        b"Final Destination: relative/dir",
        b"Copy to /d/plot-k32-c7-2023-05-07-16-58-" + b"f" * 64 + b".plot finished, took nan sec",
    ],
)
def test_garbled_lines_are_read_as_nothing(line: bytes) -> None:
    parser = read(fragment("C7_n2_header_gh111") + line + b"\n")
    info = parser.info
    assert (info.compression, info.phase, info.dst_dir, info.completed) == (
        7,
        Phase(1, 3),
        None,
        False,
    )
    assert parser.earlier_plots == ()


def test_a_plot_start_with_an_impossible_time_starts_the_plot_without_one() -> None:
    parser = read(
        fragment("C7_n2_header_gh111") + b"Crafting plot 2 out of 2 (2023/13/45 99:99:99)\n"
    )
    assert (parser.info.phase, parser.info.plot_id, parser.info.started_at) == (Phase(), None, None)
    (plot_1,) = parser.earlier_plots
    assert plot_1.plot_id is not None and plot_1.plot_id.startswith("383ca6fa")
    assert not plot_1.completed
