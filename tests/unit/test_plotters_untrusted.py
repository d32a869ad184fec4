"""What logs and command lines say is untrusted: the parsers pass on only values that can be true.

A corrupt log once named a temp dir ending in a NUL byte, and every os call on it raised. Paths
must be absolute (logs), free of NUL and of a length the kernel accepts; numbers must be in the
ranges plotters use; a plot id is exactly 64 hex digits; a file name has no ``/``.
"""

from __future__ import annotations

import pytest

from plotman_tui.plotters import get_plotter
from plotman_tui.plotters.base import LogInfo, PlotArgs, resolve_dir, sane_file_name
from plotman_tui.plotters.limits import sane_dir
from plotman_tui.plotters.phase import Phase

ID = "77a011fc20f0003c3adcc739b615041ae56351a22b690fd854ccb6726e5f43b7"
LONG = "/" + "d" * 5000


def read(plotter: str, text: str | bytes) -> LogInfo:
    parser = get_plotter(plotter).new_log_parser()
    parser.feed(text.encode() if isinstance(text, str) else text)
    return parser.info


def test_a_chia_temp_dir_with_a_nul_byte_is_not_a_dir_but_the_rest_of_the_log_counts() -> None:
    info = read(
        "chia",
        b"Starting plotting progress into temporary dirs: /a and /b\0\nID: " + ID.encode() + b"\n",
    )
    assert info.tmp_dir == "/a"
    assert info.tmp2_dir is None
    assert info.plot_id == ID


BAD_DIR_LINES = [
    ("chia", "Starting plotting progress into temporary dirs: rel/t and /t2", "tmp_dir"),
    ("chia", f"Starting plotting progress into temporary dirs: {LONG} and /t2", "tmp_dir"),
    ("chia", "Final Directory is: /dst\0/x", "dst_dir"),
    ("chia", "Final Directory is: dst", "dst_dir"),
    ("madmax", "Working Directory:   ./tmp/", "tmp_dir"),
    ("madmax", "Working Directory 2: /t\0mp2/", "tmp2_dir"),
    ("madmax", f"Final Directory:     {LONG}/", "dst_dir"),
    ("bladebit", " Output path           : relative/out", "dst_dir"),
    ("bladebit2disk", " Temp1 path     : /t1\0", "tmp_dir"),
    ("bladebit2disk", " Temp2 path     : t2", "tmp2_dir"),
]


@pytest.mark.parametrize(
    ("plotter", "line", "field"),
    BAD_DIR_LINES,
    ids=[f"{plotter}-{field}-{i}" for i, (plotter, _, field) in enumerate(BAD_DIR_LINES)],
)
def test_log_dirs_that_cannot_be_real_absolute_dirs_are_dropped(
    plotter: str, line: str, field: str
) -> None:
    assert getattr(read(plotter, line + "\n"), field) is None


@pytest.mark.parametrize(
    ("plotter", "text", "field"),
    [
        ("chia", "Plot size is: 99\n", "k"),
        ("chia", "Plot size is: 0\n", "k"),
        ("chia", "Buffer size is: 0MiB\n", "buffer_mib"),
        ("chia", "Buffer size is: 999999999999MiB\n", "buffer_mib"),
        ("chia", "Using 0 threads of stripe size 65536\n", "threads"),
        ("chia", "Using 999999999 buckets\n", "buckets"),
        ("madmax", "Number of Threads: 0\n", "threads"),
        ("madmax", "Number of Buckets P1:    2^30 (999999999)\n", "buckets"),
        ("madmax", f"Plot Name: plot-k99-2021-06-30-17-48-{ID}\n", "k"),
        ("bladebit", " Thread count          : 0\n", "threads"),
        ("bladebit2disk", " Bucket count       : 0\n", "buckets"),
    ],
)
def test_numbers_no_plotter_can_mean_are_dropped(plotter: str, text: str, field: str) -> None:
    assert getattr(read(plotter, text), field) is None


def test_a_plot_id_inside_a_longer_hex_run_is_not_a_plot_id() -> None:
    info = read("madmax", f"Plot Name: plot-k32-2021-06-30-17-48-{ID}0\n")
    assert info.plot_id is None
    assert read("madmax", f"Plot Name: plot-k32-2021-06-30-17-48-{ID}\n").plot_id == ID


def test_a_table_number_no_plotter_has_does_not_move_the_phase() -> None:
    info = read("chia", "Starting phase 1/4: Forward Propagation\nComputing table 99\n")
    assert info.phase == Phase(1, 0)
    assert read("chia", "Starting phase 9/4\n").phase == Phase(0, 0)


def test_a_bladebit_plot_name_with_a_slash_is_not_joined_onto_the_dst_dir() -> None:
    head = " Output path           : /dst\n"
    escaping = read("bladebit2disk", head + "Finished writing plot ../../etc/x.plot.\n")
    assert escaping.final_file is None
    plain = read("bladebit2disk", head + f"Finished writing plot plot-k32-{ID}.plot.\n")
    assert plain.final_file == f"/dst/plot-k32-{ID}.plot"


def test_a_final_file_with_a_nul_byte_is_dropped() -> None:
    info = read("madmax", "Renamed final plot to /dst/x\0.plot\n")
    assert info.completed and info.final_file is None


def test_a_restored_state_gets_the_same_checks_as_a_log() -> None:
    parser = get_plotter("chia").new_log_parser()
    state = parser.save_state()
    assert parser.restore_state({**state, "tmp_dir": "/t\0", "k": 500, "plot_id": "zz"})
    assert (parser.info.tmp_dir, parser.info.k, parser.info.plot_id) == (None, None, None)
    fresh = get_plotter("chia").new_log_parser()
    assert not fresh.restore_state({**state, "phase": [99, 0]})


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["chia", "plots", "create", "-k", "99", "-r", "0", "-u", "-4", "-b", "0"],
            PlotArgs(dst_dir="/cwd", compression=0),
        ),
        (
            ["chia", "plots", "create", "-k", "25", "-t", "/t\0", "-d", LONG, "-n", "-7"],
            PlotArgs(k=25, compression=0),
        ),
        (
            ["chia_plot", "-r", "99999999", "-u", "99999999", "-t", "/t/", "-n", "-1"],
            PlotArgs(k=32, tmp_dir="/t", dst_dir="/t", count=-1, compression=0),
        ),
        (
            ["bladebit", "-t", "0", "diskplot", "-b", "0", "--cache", "0", "-t1", "/t\0", "/d"],
            PlotArgs(k=32, dst_dir="/d", compression=0),
        ),
        (
            ["bladebit_cuda", "-t", "-3", "cudaplot", "-t1", "/t1", "/d\0"],
            PlotArgs(k=32, tmp_dir="/t1", compression=0),
        ),
        (
            ["bladebit", "-z", "77", "-n", "2000000", "ramplot", "/d"],
            PlotArgs(k=32, dst_dir="/d"),
        ),
        (
            ["cuda_plot_k32", "-C", "99", "-n", "-5", "-M", "-1", "-t", "/t\0", "-d", "/d\0"],
            PlotArgs(k=32),
        ),
        (
            ["cuda_plot_k30", "-C", "x", "-M", str(1 << 40), "-t", "/t/", "-d", "@host"],
            PlotArgs(k=30, tmp_dir="/t"),
        ),
    ],
)
def test_command_line_values_no_plotter_can_mean_are_dropped(
    argv: list[str], expected: PlotArgs
) -> None:
    from plotman_tui.plotters import identify

    plotter = identify(argv)
    assert plotter is not None
    assert plotter.parse_args(argv, "/cwd") == expected


def test_the_path_checks() -> None:
    assert resolve_dir("/a\0b", None) is None
    assert resolve_dir("rel", "/cwd") == "/cwd/rel"
    assert resolve_dir("rel", None) == "rel"  # relative to a working dir we could not read
    assert resolve_dir("x" * 5000, "/cwd") is None
    assert sane_dir("/a//b/") == "/a/b"
    assert sane_dir("a/b") is None
    assert sane_file_name("x.plot") == "x.plot"
    assert [sane_file_name(bad) for bad in ("a/b", "..", "", "a\0", "n" * 256)] == [None] * 5


@pytest.mark.parametrize("huge", [1e300, 1e9 + 1, 4e10])
def test_a_duration_no_plot_can_take_is_dropped_from_a_restored_state(huge: float) -> None:
    """A tampered logstate.json (the scanner's cache) once made ``details`` print a 300-digit
    number of days: durations beyond 1e9 s (~31 years) are garbage, not a plot's."""
    parser = get_plotter("chia").new_log_parser()
    state = parser.save_state()
    assert parser.restore_state(
        {**state, "phase_seconds": [[1, huge], [2, 6364.5]], "total_seconds": huge}
    )
    info = parser.info
    assert info.phase_seconds == {2: 6364.5}
    assert info.total_seconds is None


def test_a_log_line_with_a_duration_no_plot_can_take_is_dropped() -> None:
    info = read("chia", "Time for phase 1 = 99999999999.000 seconds. CPU (1%)\n")
    assert info.phase_seconds == {}
    real = read("chia", "Time for phase 1 = 6364.582 seconds. CPU (165.840%)\n")
    assert real.phase_seconds == {1: 6364.582}
