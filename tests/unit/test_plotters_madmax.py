"""madMAx ``chia_plot``: recognising, reading and building its command line; following its log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from plotman_tui.config.schema import MadmaxOptions, PlotterType, PlottingConfig
from plotman_tui.plotters.base import LogInfo, PlotArgs
from plotman_tui.plotters.madmax import PLOTTER, MadmaxLogParser
from plotman_tui.plotters.phase import Phase

LOGS = Path(__file__).parents[1] / "fixtures" / "plotter-logs"
FARMER = (
    "b0a374845f4f4d6eab62fc4c5e17965d82ad7eee105818e5"
    "bd0cfcb46275a16acc4cd30955779bec841a716473416b21"
)
CONTRACT = "xch1u8ll2ztwhseej45d6u2zp9j4mlnzhwseccr0axqws9fl2tyj5u0svdy04y"
PLOT_ID = "522acbd6308af7e229281352f746449134126482cfabd51d38e0f89745d21698"


@pytest.mark.parametrize(
    "argv",
    [
        ["chia_plot", "-n", "1"],
        ["./chia_plot", "--count", "1"],
        ["/usr/local/bin/chia_plot_k34", "-k", "34", "-t", "/t/"],
        ["C:\\madmax\\chia_plot.exe", "-t", "D:\\t\\"],
    ],
)
def test_matches_madmax_jobs(argv: list[str]) -> None:
    assert PLOTTER.matches(argv)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["grep", "chia_plot"],
        ["chia_plot", "--help"],
        ["chia_plot", "--version"],
        ["chia_plot_gui"],
        ["chia", "plotters", "madmax", "-t", "/t"],
        ["chia", "plots", "create"],
        ["bladebit", "-f", FARMER, "/out"],
    ],
)
def test_does_not_match_other_processes(argv: list[str]) -> None:
    assert not PLOTTER.matches(argv)


def test_parse_args_of_the_recorded_command_line() -> None:
    notes = (LOGS / "madmax.notes").read_text().split()
    argv = notes[: notes.index("&>")]
    assert argv[0] == "./chia_plot"
    assert PLOTTER.parse_args(argv, "/home/farmer") == PlotArgs(
        k=32,
        tmp_dir="/farm/yards/902",
        tmp2_dir="/farm/yards/902/fake_tmp2",
        dst_dir="/farm/yards/902/fake_dst",
        threads=8,
        buckets=256,
        count=1,
        compression=0,  # chia_plot makes no compressed plot
    )


@pytest.mark.parametrize(
    "options",
    [
        ["-k", "33", "-r", "12", "-u", "128", "-n", "3"],
        ["-k33", "-r12", "-u128", "-n3"],
        ["--size=33", "--threads=12", "--buckets=128", "--count=3"],
        ["-w", "-G", "--size", "33", "--threads", "12", "--buckets", "128", "--count", "3"],
    ],
)
def test_parse_args_numbers_in_every_form(options: list[str]) -> None:
    args = PLOTTER.parse_args(["/opt/chia_plot", *options])
    assert (args.k, args.threads, args.buckets, args.count) == (33, 12, 128, 3)


def test_parse_args_relative_dirs_and_junk() -> None:
    args = PLOTTER.parse_args(
        ["chia_plot", "-t", "tmp/", "-2", "../ram/", "--finaldir=dst", "-r", "eight"], "/w/plots"
    )
    assert (args.tmp_dir, args.tmp2_dir, args.dst_dir) == ("/w/plots/tmp", "/w/ram", "/w/plots/dst")
    assert args.threads is None
    assert PLOTTER.parse_args(["chia_plot", "-k", "x"]).k is None


def plotting(**madmax: object) -> PlottingConfig:
    return PlottingConfig(
        type=PlotterType.MADMAX,
        farmer_pk=FARMER,
        pool_contract_address=CONTRACT,
        madmax=MadmaxOptions(**madmax),  # type: ignore[arg-type]
    )


def test_build_argv() -> None:
    argv = PLOTTER.build_argv(
        plotting(executable="/opt/madmax/chia_plot", n_rmulti2=2), "/mnt/t", "/mnt/ram/", "/mnt/d"
    )
    assert argv == [
        "/opt/madmax/chia_plot",
        "-n",
        "1",
        "-r",
        "4",
        "-u",
        "256",
        "-v",
        "256",
        "-t",
        "/mnt/t/",
        "-2",
        "/mnt/ram/",
        "-d",
        "/mnt/d/",
        "-K",
        "2",
        "-f",
        FARMER,
        "-c",
        CONTRACT,
    ]


@pytest.mark.parametrize("k", [33, 34])
def test_build_argv_above_k32_uses_the_k34_build_and_names_the_port(k: int) -> None:
    argv = PLOTTER.build_argv(plotting(k=k, port=8444), "/mnt/t", None, "/mnt/d")
    assert argv[0] == "chia_plot_k34"
    assert argv[-4:] == ["-k", str(k), "-x", "8444"]
    assert "-2" not in argv


def test_build_argv_round_trip() -> None:
    config = plotting(k=33, n_threads=12, n_buckets=128)
    argv = PLOTTER.build_argv(config, "/mnt/t", "/mnt/t2", "/mnt/d")
    assert PLOTTER.matches(argv)
    assert PLOTTER.parse_args(argv) == PlotArgs(
        k=33,
        tmp_dir="/mnt/t",
        tmp2_dir="/mnt/t2",
        dst_dir="/mnt/d",
        threads=12,
        buckets=128,
        count=1,
        compression=0,
    )


@pytest.mark.parametrize(
    ("log", "k"), [("madmax.plot.log", 33), ("madmax-k32/madmax.plot.log", 32)]
)
def test_log(log: str, k: int) -> None:
    parser = PLOTTER.new_log_parser()
    parser.feed((LOGS / log).read_bytes())
    name = f"plot-k{k}-2021-07-14-21-56-{PLOT_ID}.plot"
    assert parser.info == LogInfo(
        phase=Phase(5, 2),
        plot_id=PLOT_ID,
        k=k,
        tmp_dir="/farm/yards/902",
        tmp2_dir="/farm/yards/902/fake_tmp2",
        dst_dir="/farm/yards/902/fake_dst",
        threads=8,
        buckets=256,
        buffer_mib=None,
        started_at=datetime(2021, 7, 14, 21, 56).timestamp(),  # from the plot name
        phase_seconds={1: 2197.52, 2: 1363.42, 3: 1320.47, 4: 86.9555},
        total_seconds=4968.41,
        copy_seconds=None,
        final_file="/farm/yards/902/fake_dst/" + name,
        final_bytes=108_836_238_815,  # "final plot size is 108836238815 bytes"
        completed=True,
    )


def log_until_copy() -> bytes:
    data = (LOGS / "madmax-k32" / "madmax.plot.log").read_bytes()
    return data[: data.index(b"Renamed final plot")]


def test_copy_to_another_disk_finishes_the_plot() -> None:
    parser = MadmaxLogParser()
    parser.feed(log_until_copy())
    assert parser.info.phase == Phase(5, 1)
    assert not parser.info.completed
    parser.feed(b"Copy to /mnt/far/plot-k32-x.plot finished, took 312.5 sec, 330.1 MB/s avg.\n")
    info = parser.info
    assert (info.phase, info.completed) == (Phase(5, 2), True)
    assert (info.final_file, info.copy_seconds) == ("/mnt/far/plot-k32-x.plot", 312.5)


def test_a_failed_copy_leaves_the_plot_unfinished() -> None:
    parser = MadmaxLogParser()
    parser.feed(log_until_copy())
    parser.feed(b"Copy to /mnt/far/plot-k32-x.plot failed with: No space left on device\n")
    assert parser.info.phase == Phase(5, 1)
    assert (parser.info.final_file, parser.info.completed) == (None, False)


def test_a_second_plot_starts_afresh_but_keeps_the_settings() -> None:
    data = (LOGS / "madmax-k32" / "madmax.plot.log").read_bytes()
    parser = MadmaxLogParser()
    parser.feed(data)
    parser.feed(b"Crafting plot 2 out of 2\n")
    info = parser.info
    assert info.phase == Phase(0, 0)
    assert (info.plot_id, info.final_file, info.completed, info.phase_seconds) == (
        None,
        None,
        False,
        {},
    )
    assert (info.threads, info.dst_dir) == (8, "/farm/yards/902/fake_dst")


def test_a_multi_plot_run_follows_its_current_plot_and_keeps_the_earlier_one() -> None:
    # Plot 1's "Copy to ... finished" comes while plot 2 is in phase 1: a job's view of plot 2
    # must stay in phase 1, not jump to 5:2 (complete) with plot 1's file.
    parser = MadmaxLogParser()
    text = (LOGS / "madmax-multi" / "madmax-2plots.plot.log").read_bytes()
    copy_done = text.index(b"Copy to ")
    parser.feed(text[: text.index(b"\n", copy_done) + 1])
    assert parser.info.plot_id is not None and parser.info.plot_id.startswith("bee14159")
    assert parser.info.phase.major == 1 and not parser.info.completed
    (first,) = parser.earlier_plots
    assert first.plot_id is not None and first.plot_id.startswith("e6a1f143")
    assert first.completed and first.copy_seconds == 964.486
    assert first.final_bytes == 108_832_382_686  # its own "final plot size is ... bytes"
    parser.feed(text[text.index(b"\n", copy_done) + 1 :])
    assert parser.info.final_bytes == 108_835_451_858  # the second plot's, not the first's


MULTI = LOGS / "madmax-multi" / "madmax-2plots.plot.log"


def test_a_multi_plot_run_read_from_a_saved_state_still_keeps_plot_1s_copy_apart() -> None:
    # A job followed across a restart resumes from its saved state, which holds no earlier
    # plots: plot 1's copy line, read then, must still not finish plot 2 with plot 1's file.
    text = MULTI.read_bytes()
    copy_done = text.index(b"Copy to ")
    first = MadmaxLogParser()
    first.feed(text[:copy_done])
    resumed = MadmaxLogParser()
    assert resumed.restore_state(first.save_state())
    resumed.feed(text[copy_done : text.index(b"\n", copy_done) + 1])
    info = resumed.info
    assert info.plot_id is not None and info.plot_id.startswith("bee14159")
    assert (info.phase, info.completed, info.final_file) == (Phase(1, 7), False, None)
    (plot_1,) = resumed.earlier_plots  # counted as a plot this run finished
    assert plot_1.plot_id is not None and plot_1.plot_id.startswith("e6a1f143")
    assert (plot_1.completed, plot_1.copy_seconds, plot_1.k) == (True, 964.486, 32)
    assert plot_1.final_file == f"/data/final/plot-k32-2021-06-18-14-29-{plot_1.plot_id}.plot"


def test_every_line_of_a_multi_plot_run_moves_the_job_forward_only_within_a_plot() -> None:
    # The job's phase, line by line: it goes back only where the log starts plot 2, and
    # plot 1's copy finishing inside plot 2 neither completes nor moves plot 2.
    parser = MadmaxLogParser()
    seen: list[tuple[str | None, Phase, bool]] = []
    for line in MULTI.read_bytes().splitlines(keepends=True):
        parser.feed(line)
        info = parser.info
        seen.append((info.plot_id, info.phase, info.completed))
    plots = list(dict.fromkeys(plot_id for plot_id, _phase, _done in seen if plot_id))
    assert len(plots) == 2
    for plot_id in plots:
        phases = [phase for seen_id, phase, _done in seen if seen_id == plot_id]
        assert phases == sorted(phases)
    assert not any(done for _id, _phase, done in seen)  # each ends at "Started copy to"
    assert seen[-1][1] == Phase(5, 1)
    (plot_1,) = parser.earlier_plots
    assert plot_1.completed and plot_1.phase == Phase(5, 2)
