"""``dirs`` and ``dsched`` as a user runs them, on the dashboard's view model: a tmp dir says
whether it takes a new job or why not, and a job named through a symlink counts for its dir."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.fakejobs import chia_argv, k32_log, running
from tests.integration.test_cli_readonly import cli, farm, start_job

__all__ = ["farm"]  # the fixture, used by name


def test_dirs_says_why_a_tmp_dir_takes_no_job_and_counts_a_job_through_a_symlink(
    farm: dict[str, Path],
) -> None:
    link = farm["tmp"].parent / "tmp-link"
    link.symlink_to(farm["tmp"])
    log = farm["logs"] / "linked.log"
    plot_id = secrets.token_hex(32)
    # 100 lines of a real k32 log: phase 1, before the milestone 2:1.
    log.write_text(k32_log(100, plot_id=plot_id, tmp=link, tmp2=farm["tmp2"], dst=farm["dst"]))
    argv = chia_argv(farm["chia"], str(link), str(farm["dst"]), tmp2=str(farm["tmp2"]))
    with running(argv, log), start_job(farm, 900, secrets.token_hex(32)):
        dirs = cli("dirs", config=farm["config"])
        dsched = cli("dsched", config=farm["config"])
    assert dirs.returncode == 0, dirs.stderr
    lines = dirs.stdout.splitlines()
    assert lines[0].split() == ["tmp", "dir", "jobs", "phases", "free", "size", "ready"]
    tmp_row = next(line for line in lines if line.startswith(f"{farm['tmp']} "))
    # Both jobs count for the tmp dir, the one named through the link too.
    assert tmp_row.split()[1:4] == ["2", "1:2", "3:1"]
    assert tmp_row.endswith("1 before 2:1")
    dst_row = next(line for line in lines if line.startswith(f"{farm['dst']} "))
    assert dst_row.split()[1:4] == ["2", "1:2", "3:1"]
    unplugged = next(line for line in lines if "unplugged" in line)
    assert unplugged.split()[1:4] == ["0", "-", "missing"]
    assert dsched.returncode == 0, dsched.stderr
    assert any(
        line.startswith(f"{farm['dst']} ") and line.endswith("1:2 3:1")
        for line in dsched.stdout.splitlines()
    )


def test_dirs_counts_a_dst_dirs_plots_per_compression_level(farm: dict[str, Path]) -> None:
    stamp = "2024-03-01-10-20"
    for level in ("c07", "c07", "c07", "c5"):  # BladeBit pads the level, Gigahorse does not
        name = f"plot-k32-{level}-{stamp}-{secrets.token_hex(32)}.plot"
        (farm["dst"] / name).write_bytes(b"p" * 1024)
    (farm["dst"] / f"plot-k32-{stamp}-{secrets.token_hex(32)}.plot").write_bytes(b"p" * 1024)
    dirs = cli("dirs", config=farm["config"])
    assert dirs.returncode == 0, dirs.stderr
    dst_row = next(line for line in dirs.stdout.splitlines() if line.startswith(f"{farm['dst']} "))
    assert dst_row.endswith("5 (5.0K; C7 3, C5 1, C0 1)")
