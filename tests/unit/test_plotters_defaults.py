"""Where a plot goes when the command line names no final dir: each plotter's own default."""

from __future__ import annotations

from plotman_tui.plotters import get_plotter


def test_chia_without_final_dir_writes_to_its_working_dir() -> None:
    argv = ["python3", "/venv/bin/chia", "plots", "create", "-k", "32", "-t", "/mnt/t0"]
    args = get_plotter("chia").parse_args(argv, "/home/farmer")
    assert args.dst_dir == "/home/farmer"
    # Unknown working dir: unknown destination, never a misleading relative ".".
    assert get_plotter("chia").parse_args(argv, None).dst_dir is None


def test_madmax_without_final_dir_writes_to_its_tmp_dir() -> None:
    argv = ["/usr/bin/chia_plot", "-n", "1", "-t", "/mnt/t0/", "-f", "ab" * 48]
    assert get_plotter("madmax").parse_args(argv, "/home/farmer").dst_dir == "/mnt/t0"
