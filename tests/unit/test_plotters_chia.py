"""``chia plots create``: recognising, reading and building its command line; following its log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from plotman_tui.config.schema import ChiaOptions, PlotterType, PlottingConfig
from plotman_tui.plotters.base import LogInfo, PlotArgs
from plotman_tui.plotters.chia import PLOTTER, ChiaLogParser
from plotman_tui.plotters.phase import Phase

LOGS = Path(__file__).parents[1] / "fixtures" / "plotter-logs"
FARMER = (
    "a55d8fdada643a43d86a889c2c746ce848c0e2d00f7c012f"
    "c4c6e77d1e2f9f54a99dd38af59f8284f2178b810ecc7a95"
)
CONTRACT = "xch1u8ll2ztwhseej45d6u2zp9j4mlnzhwseccr0axqws9fl2tyj5u0svdy04y"


def local(*fields: int) -> float:
    return datetime(*fields).timestamp()  # type: ignore[arg-type]


# --- recognising ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["chia", "plots", "create", "-k", "32"],
        ["/venv/bin/python3", "/venv/bin/chia", "plots", "create", "-k", "32"],
        ["/usr/bin/python3.11", "/opt/chia/venv/bin/chia", "plots", "create"],
        ["python", "-u", "/home/farmer/chia/bin/chia", "plots", "create", "-t", "/t"],
        ["python3", "-X", "dev", "chia", "plots", "create"],
        ["/home/farmer/chia-blockchain/venv/bin/chia", "plots", "create", "-k32"],
        ["chia", "--root-path", "/srv/chia", "plots", "create", "-k", "32"],
        ["chia", "plotters", "chiapos", "-k", "18", "-t", "/t", "-d", "/d"],
        ["C:\\Program Files\\Chia\\chia.exe", "plots", "create"],
    ],
)
def test_matches_chia_plot_jobs(argv: list[str]) -> None:
    assert PLOTTER.matches(argv)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["chia"],
        ["chia", "start", "farmer"],
        ["chia", "plots", "check"],
        ["chia", "plots", "create", "--help"],
        ["chia", "plots"],
        ["chia", "farm", "plots", "create"],
        ["grep", "chia", "plots", "create"],
        ["grep", "chia_plot"],
        ["python3", "-c", "chia plots create"],
        ["/venv/bin/python3", "/venv/bin/chia_daemon"],
        # `chia plotters bladebit/madmax` only wrap the real plotter, which runs as a child.
        ["chia", "plotters", "bladebit", "cudaplot", "-d", "/d"],
        ["chia", "plotters", "madmax", "-t", "/t"],
        ["chia_plot", "-t", "/t"],
        ["/usr/bin/python3", "/usr/bin/some-tool", "plots", "create"],
    ],
)
def test_does_not_match_other_processes(argv: list[str]) -> None:
    assert not PLOTTER.matches(argv)


# --- reading arguments ---------------------------------------------------------------------

NOTES_ARGV = [
    "/venv/bin/python3.9",
    "/venv/bin/chia",
    "plots",
    "create",
    "--size",
    "32",
    "--num",
    "1",
    "--buffer",
    "5000",
    "--num_threads",
    "4",
    "--buckets",
    "128",
    "--pool_contract_address",
    CONTRACT,
    "--farmer_public_key",
    FARMER,
    "--tmp_dir",
    "/farm/yards/902",
    "--tmp2_dir",
    "/farm/yards/902/fake_tmp2",
    "--final_dir",
    "/farm/yards/902/fake_dst",
    "--exclude_final_dir",
]


def test_parse_args_of_the_recorded_command_line() -> None:
    assert PLOTTER.parse_args(NOTES_ARGV, "/home/farmer") == PlotArgs(
        k=32,
        tmp_dir="/farm/yards/902",
        tmp2_dir="/farm/yards/902/fake_tmp2",
        dst_dir="/farm/yards/902/fake_dst",
        threads=4,
        buckets=128,
        buffer_mib=5000,
        count=1,
        compression=0,  # chiapos makes no compressed plot
    )


@pytest.mark.parametrize(
    "options",
    [
        ["-k", "33", "-r", "6", "-u", "64", "-b", "4000", "-n", "2"],
        ["-k33", "-r6", "-u64", "-b4000", "-n2"],
        ["--size=33", "--num_threads=6", "--buckets=64", "--buffer=4000", "--num=2"],
        ["--size", "33", "--threads", "6", "--buckets", "64", "--buffer", "4000", "--count", "2"],
        ["-ex", "-k", "33", "-r", "6", "-u", "64", "-b", "4000", "-n", "2", "--override-k"],
    ],
)
def test_parse_args_numbers_in_every_form(options: list[str]) -> None:
    args = PLOTTER.parse_args(["chia", "plots", "create", *options])
    assert (args.k, args.threads, args.buckets, args.buffer_mib, args.count) == (33, 6, 64, 4000, 2)


@pytest.mark.parametrize(
    ("options", "cwd", "expected"),
    [
        (["-t", "/mnt/t", "-2", "/mnt/t2", "-d", "/mnt/d"], None, ("/mnt/t", "/mnt/t2", "/mnt/d")),
        (["-t/mnt/t", "-2/mnt/t2", "-d/mnt/d"], None, ("/mnt/t", "/mnt/t2", "/mnt/d")),
        (
            ["--tmp_dir=/mnt/t/", "--tmp2_dir=/mnt//t2", "--final_dir=/mnt/d/."],
            None,
            ("/mnt/t", "/mnt/t2", "/mnt/d"),
        ),
        (
            ["--tmp_dir", "tmp", "--tmp2_dir", "../t2", "-d", "./dst"],
            "/home/farmer/work",
            ("/home/farmer/work/tmp", "/home/farmer/t2", "/home/farmer/work/dst"),
        ),
        (["-t", "tmp"], None, ("tmp", None, None)),
        # chia plotters chiapos spells them differently.
        (["--tmpdir", "/a", "--tmp_dir2", "/b", "--finaldir", "/c"], None, ("/a", "/b", "/c")),
    ],
)
def test_parse_args_dirs(
    options: list[str], cwd: str | None, expected: tuple[str | None, ...]
) -> None:
    args = PLOTTER.parse_args(["chia", "plots", "create", *options], cwd)
    assert (args.tmp_dir, args.tmp2_dir, args.dst_dir) == expected


def test_parse_args_never_raises_on_junk() -> None:
    args = PLOTTER.parse_args(["chia", "plots", "create", "-k", "big", "-r", "", "-u", "1e3", "-b"])
    assert args == PlotArgs(k=None, compression=0)
    assert PLOTTER.parse_args(["chia", "plots", "create"]) == PlotArgs(
        k=32, compression=0
    )  # chia's default
    assert PLOTTER.parse_args(["something", "else"]) == PlotArgs()


# --- building the command line -------------------------------------------------------------


def plotting(**chia: object) -> PlottingConfig:
    return PlottingConfig(
        type=PlotterType.CHIA,
        farmer_pk=FARMER,
        pool_contract_address=CONTRACT,
        chia=ChiaOptions(**chia),  # type: ignore[arg-type]
    )


def test_build_argv() -> None:
    argv = PLOTTER.build_argv(
        plotting(executable="/venv/bin/chia", e=True, x=True), "/mnt/t", "/mnt/t2", "/mnt/d"
    )
    assert argv == [
        "/venv/bin/chia",
        "plots",
        "create",
        "-k",
        "32",
        "-r",
        "2",
        "-u",
        "128",
        "-b",
        "3389",
        "-t",
        "/mnt/t",
        "-2",
        "/mnt/t2",
        "-d",
        "/mnt/d",
        "-e",
        "-x",
        "-f",
        FARMER,
        "-c",
        CONTRACT,
    ]


def test_build_argv_without_tmp2_with_pool_key_and_small_k() -> None:
    config = PlottingConfig(farmer_pk=FARMER, pool_pk="b0" * 48, chia=ChiaOptions(k=18))
    argv = PLOTTER.build_argv(config, "/mnt/t", None, "/mnt/d")
    assert "-2" not in argv
    assert argv[3:6] == ["-k", "18", "--override-k"]
    assert argv[-4:] == ["-f", FARMER, "-p", "b0" * 48]
    assert "-c" not in argv and "-e" not in argv and "-x" not in argv


def test_build_argv_round_trip() -> None:
    config = plotting(k=33, n_threads=6, n_buckets=64, job_buffer=5000)
    argv = PLOTTER.build_argv(config, "/mnt/t", "/mnt/t2", "/mnt/d")
    assert PLOTTER.matches(argv)
    assert PLOTTER.parse_args(argv) == PlotArgs(
        k=33,
        tmp_dir="/mnt/t",
        tmp2_dir="/mnt/t2",
        dst_dir="/mnt/d",
        threads=6,
        buckets=64,
        buffer_mib=5000,
        compression=0,
    )


# --- following the log ---------------------------------------------------------------------


def parse_file(name: str) -> LogInfo:
    parser = PLOTTER.new_log_parser()
    parser.feed((LOGS / name).read_bytes())
    return parser.info


def test_log_of_chia_1_2() -> None:
    plot_id = "d2540dcfcffddbfbd7e60b4aca4d54fb937db71991298fabc253f020a87ff7d4"
    name = f"plot-k32-2021-07-14-22-33-{plot_id}.plot"
    assert parse_file("chianetwork.plot.log") == LogInfo(
        phase=Phase(5, 3),
        plot_id=plot_id,
        k=32,
        tmp_dir="/farm/yards/902",
        tmp2_dir="/farm/yards/902/fake_tmp2",
        dst_dir="/farm/yards/902/fake_dst",
        threads=4,
        buckets=128,
        buffer_mib=5000,
        bitfield=True,  # "Backpropagation into tmp files", not "without bitfield"
        started_at=local(2021, 7, 14, 22, 33, 24),
        phase_seconds={1: 8134.660, 2: 3304.860, 3: 6515.266, 4: 425.637},
        total_seconds=18380.426,
        copy_seconds=178.438,
        final_file="/farm/yards/902/fake_dst/" + name,
        final_bytes=round(101.330 * 2**30),  # "Final File size: 101.330 GiB"
        completed=True,
    )


def test_log_of_chia_1_0_reads_the_destination_from_the_copy() -> None:
    plot_id = "3eb8a37981de1cc76187a36ed947ab4307943cf92967a7e166841186c7899e24"
    name = f"plot-k32-2021-04-04-19-00-{plot_id}.plot"
    assert parse_file("chia-1.0/2021-04-04T19_00_47.681088-0400.log") == LogInfo(
        phase=Phase(5, 3),
        plot_id=plot_id,
        k=32,
        tmp_dir="/farm/yards/901",
        tmp2_dir="/farm/yards/901",
        dst_dir="/farm/wagons/801",
        threads=4,
        buckets=128,
        buffer_mib=4000,
        bitfield=True,  # "Backpropagation into tmp files", not "without bitfield"
        started_at=local(2021, 4, 4, 19, 0, 50),
        phase_seconds={1: 17571.981, 2: 6911.621, 3: 14537.188, 4: 924.288},
        total_seconds=39945.080,
        copy_seconds=501.696,
        final_file="/farm/wagons/801/" + name,
        final_bytes=round(101.336 * 2**30),  # "Final File size: 101.336 GiB"
        completed=True,
    )


def test_log_of_chia_2_7_5_k18() -> None:
    plot_id = "5436818ae93323abbca055c6575494a123bcf943dec01ed195bccec55bde3df7"
    name = f"plot-k18-2026-11-24-13-34-{plot_id}.plot"
    assert parse_file("chia-2.7.5-cli-k18.plot.log") == LogInfo(
        phase=Phase(5, 3),
        plot_id=plot_id,
        k=18,
        tmp_dir="/mnt/farm/cli_pl18/t",
        tmp2_dir="/mnt/farm/cli_pl18/t2",
        dst_dir="/mnt/farm/cli_pl18/d",
        threads=2,
        buckets=16,
        buffer_mib=300,
        bitfield=True,  # "Backpropagation into tmp files", not "without bitfield"
        started_at=local(2026, 11, 24, 13, 34, 14),
        phase_seconds={1: 0.693, 2: 0.059, 3: 0.247, 4: 0.014},
        total_seconds=1.016,
        copy_seconds=None,  # renamed in place, not copied
        final_file="/mnt/farm/cli_pl18/d/" + name,
        final_bytes=round(0.004 * 2**30),  # "Final File size: 0.004 GiB"
        completed=True,
    )


def test_log_of_chiapos_2_0_12_k18() -> None:
    plot_id = "435f75aac38701284c2ca16c64ca3688952ac034ad5fd082dcb3e7be0a31580d"
    name = f"plot-k18-2024-01-01-00-00-{plot_id}.plot"
    assert parse_file("chiapos-2.0.12-k18.plot.log") == LogInfo(
        phase=Phase(5, 3),
        plot_id=plot_id,
        k=18,
        tmp_dir="/mnt/farm/k18/tmp",
        tmp2_dir="/mnt/farm/k18/tmp2",
        dst_dir="/mnt/farm/k18/final",
        threads=2,
        buckets=16,
        buffer_mib=200,
        bitfield=True,  # "Backpropagation into tmp files", not "without bitfield"
        # The log's own clock, not the date in the plot name (chiapos takes that from its caller).
        started_at=local(2026, 11, 24, 13, 31, 44),
        phase_seconds={1: 0.861, 2: 0.099, 3: 0.344, 4: 0.024},
        total_seconds=1.330,
        copy_seconds=None,
        final_file="/mnt/farm/k18/final/" + name,
        final_bytes=round(0.004 * 2**30),  # "Final File size: 0.004 GiB"
        completed=True,
    )


def test_a_running_plot_is_not_completed() -> None:
    lines = (LOGS / "chianetwork.plot.log").read_bytes().splitlines(keepends=True)
    end_of_phase_2 = next(i for i, line in enumerate(lines) if line.startswith(b"Wrote: "))
    parser = PLOTTER.new_log_parser()
    parser.feed(b"".join(lines[: end_of_phase_2 + 1]))
    info = parser.info
    assert info.phase == Phase(2, 7)
    assert info.phase_seconds == {1: 8134.660, 2: 3304.860}
    assert (info.total_seconds, info.final_file, info.completed) == (None, None, False)


def test_a_second_plot_in_the_same_log_starts_afresh() -> None:
    parser = PLOTTER.new_log_parser()
    parser.feed((LOGS / "chia-2.7.5-cli-k18.plot.log").read_bytes())
    second = (LOGS / "chiapos-2.0.12-k18.plot.log").read_bytes()
    parser.feed(second[: second.index(b"Computing table 2")])
    info = parser.info
    assert info.plot_id == "435f75aac38701284c2ca16c64ca3688952ac034ad5fd082dcb3e7be0a31580d"
    assert info.phase == Phase(1, 1)
    assert info.tmp_dir == "/mnt/farm/k18/tmp"
    assert info.started_at == local(2026, 11, 24, 13, 31, 44)
    assert (info.phase_seconds, info.final_file, info.completed) == ({}, None, False)


def test_last_line_without_newline_is_read_on_finish() -> None:
    parser = ChiaLogParser()
    parser.feed(
        b"Starting phase 1/4: Forward Propagation into tmp files... Sun Apr  4 19:00:50 2021"
    )
    assert parser.info.phase == Phase(0, 0)
    parser.finish()
    assert parser.info.phase == Phase(1, 0)
    assert parser.info.started_at == local(2021, 4, 4, 19, 0, 50)


@pytest.mark.parametrize(
    "line",
    [
        b"Computing table 99999999999999999999999999999999",
        b"Plot size is: " + b"9" * 5000,
        b"Starting phase 1/4: Forward Propagation into tmp files... Sun Feb 30 19:00:50 2021",
        b"Starting phase 1/4: Forward Propagation into tmp files... Sun Foo  4 19:00:50 2021",
        b"Time for phase 1 = 1e999 seconds.",
        b'Renamed final file from "/a" to',
        b"ID: not-hex",
        b"Plot size is: many",
        b"Using many buckets",
    ],
)
def test_malformed_lines_are_ignored(line: bytes) -> None:
    parser = ChiaLogParser()
    parser.feed(line + b"\n")
    info = parser.info
    assert info.started_at is None and info.plot_id is None and info.k is None
    assert info.phase_seconds == {} and not info.completed


def test_bitfield_is_read_from_phase_2s_start() -> None:
    for line, bitfield in (
        ("Starting phase 2/4: Backpropagation into tmp files... Thu Jul 15 00:48:59 2021", True),
        (
            "Starting phase 2/4: Backpropagation without bitfield into tmp files... "
            "Thu Jul 15 00:48:59 2021",
            False,
        ),
    ):
        parser = ChiaLogParser()
        assert parser.info.bitfield is None  # not known before phase 2
        parser.feed(line.encode() + b"\n")
        assert parser.info.bitfield is bitfield


def test_the_final_size_the_log_states_and_none_before_it() -> None:
    text = (LOGS / "chianetwork.plot.log").read_bytes()
    parser = PLOTTER.new_log_parser()
    parser.feed(text[: text.index(b"Final File size: ")])
    assert parser.info.final_bytes is None  # not stated yet
    parser.feed(text[text.index(b"Final File size: ") :])
    # 101.330 GiB, within the 0.0005 GiB the log rounds to: 108,802,259,026 bytes, where the
    # planning size (plotsize.final_plot_bytes: 112,151,980,860) is 3% above a real plot.
    assert parser.info.final_bytes == 108_802_259_026
    assert abs(parser.info.final_bytes - 101.330 * 2**30) <= 0.0005 * 2**30


@pytest.mark.parametrize(
    "line",
    [
        b"Final File size: 99999999999 GiB\n",  # more digits than the reader takes
        b"Final File size: -1.000 GiB\n",
        b"Final File size: 0.000 GiB\n",
        b"Final File size: nan GiB\n",
        b"Final File size: 101.330 TiB\n",
        b"Final File size: \n",
    ],
)
def test_a_final_size_no_plot_has_is_none(line: bytes) -> None:
    text = (LOGS / "chianetwork.plot.log").read_bytes()
    parser = PLOTTER.new_log_parser()
    start = text.index(b"Final File size: ")
    parser.feed(text[:start] + line + text[text.index(b"\n", start) + 1 :])
    assert parser.info.completed and parser.info.final_bytes is None
