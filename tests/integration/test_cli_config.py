"""``config`` and ``history`` as a farmer runs them: the installed command, bad files, bad input."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from plotman_tui.farm.actionlog import ActionLog
from tests.integration.test_cli_readonly import PLOTMAN_TUI


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PLOTMAN_TUI), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, **(env or {})),
        timeout=30,  # a read that blocks (a FIFO) fails the test here
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plotman-tui: "), result.stderr
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr
    return lines[0]


# -- config files that are not config files --------------------------------------------------------


def test_a_fifo_a_device_and_a_huge_file_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # nobody writes: a plain read would wait forever
    assert "a FIFO, not a regular file" in one_line_error(run("--config", str(fifo), "status"), 2)
    zero = one_line_error(run("--config", "/dev/zero", "status"), 2)
    assert "a character device" in zero
    huge = tmp_path / "huge.toml"
    huge.write_text("# padding\n" * 110_000)  # 1.1 MB of comments
    assert "larger than 1024 KiB" in one_line_error(run("--config", str(huge), "status"), 2)
    assert "(a FIFO, not a config file)" in run("--config", str(fifo), "config", "path").stdout


def test_an_empty_config_option_is_an_error_not_the_default(tmp_path: Path) -> None:
    # Were it the default, this would find a config there.
    home = tmp_path / "home"
    message = one_line_error(run("--config", "", "status", env={"HOME": str(home)}), 2)
    assert "--config needs a path" in message
    assert "--config needs a path" in one_line_error(run("--config=", "config", "check"), 2)


def test_config_path_says_what_is_there(tmp_path: Path) -> None:
    assert run("--config", str(tmp_path), "config", "path").stdout == (
        f"{tmp_path} (a directory, not a config file)\n"
    )
    absent = tmp_path / "plotman.toml"
    assert "does not exist yet" in run("--config", str(absent), "config", "path").stdout
    absent.write_text("")
    assert run("--config", str(absent), "config", "path").stdout == f"{absent} (exists)\n"


# -- config check ---------------------------------------------------------------------------


def test_check_of_a_fresh_template_lists_every_problem_and_what_to_create(tmp_path: Path) -> None:
    config = tmp_path / "plotman.toml"
    env = {"HOME": str(tmp_path / "home")}
    assert run("--config", str(config), "config", "generate", env=env).returncode == 0
    result = run("--config", str(config), "config", "check", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    problems = [line for line in lines if "directory does not exist" in line]
    assert len(problems) == 4  # the template's two tmp and two dst dirs, each on its line
    assert all("mkdir -p /mnt/" in line for line in problems)
    warnings = [line for line in lines if line.startswith("plotman-tui: warning: ")]
    log_dir = tmp_path / "home" / "plotman-tui" / "logs" / "plots"
    assert any(f"logging.plots: {log_dir} does not exist yet" in w for w in warnings), lines
    assert any(f"mkdir -p {log_dir}" in w for w in warnings)
    assert lines[-1] == f"{config}: 4 problems"
    assert "Traceback" not in result.stderr


def test_check_warnings_leave_a_valid_file_at_exit_0(tmp_path: Path) -> None:
    for name in ("t0", "d0"):
        (tmp_path / name).mkdir()
    config = tmp_path / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{tmp_path}/logs"\n'
        f'[directories]\ntmp = ["{tmp_path}/t0"]\ndst = ["{tmp_path}/d0"]\n'
        f'[plotting]\ntype = "chia"\n[plotting.chia]\nexecutable = "{tmp_path}/no/chia"\n'
    )
    result = run("--config", str(config), "config", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{config}: ok (2 warnings)\n")
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("plotman-tui: warning: ") for w in warnings)
    assert any("plotting.chia.executable" in w and "does not exist" in w for w in warnings)


def test_check_refuses_a_dst_dir_as_an_archive_dir(tmp_path: Path) -> None:
    for name in ("logs", "t0", "d0"):
        (tmp_path / name).mkdir()
    config = tmp_path / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{tmp_path}/logs"\n'
        f'[directories]\ntmp = ["{tmp_path}/t0"]\ndst = ["{tmp_path}/d0"]\n'
        '[plotting]\ntype = "chia"\n'
        '[archiving]\nenabled = true\n[[archiving.targets]]\nname = "usb"\ntype = "local"\n'
        f'archive_dirs = ["{tmp_path}/d0/"]\n'
    )
    result = run("--config", str(config), "config", "check")
    assert result.returncode == 2
    problem = result.stderr.splitlines()[0]
    assert "archiving.targets[0].archive_dirs[0]" in problem and "directories.dst[0]" in problem
    # The loops read the file the same way: the archiver never starts on it.
    assert one_line_error(run("--config", str(config), "archive", "--once"), 2) == problem


# -- history --------------------------------------------------------------------------------


def test_history_that_cannot_be_read_says_why_and_exits_1(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file where the data dir should be")
    message = one_line_error(run("history", env={"PLOTMAN_TUI_DATA_DIR": str(not_a_dir)}), 1)
    assert "cannot read the action log" in message and "ot a directory" in message
    data = tmp_path / "d"
    data.mkdir()
    os.mkfifo(data / "actions.jsonl")
    message = one_line_error(run("history", env={"PLOTMAN_TUI_DATA_DIR": str(data)}), 1)
    assert "a FIFO" in message
    empty = tmp_path / "e"
    assert run("history", env={"PLOTMAN_TUI_DATA_DIR": str(empty)}).stdout == (
        "No actions recorded yet.\n"
    )


@pytest.mark.parametrize("since", [["--since", "-5h"], ["--since=-5h"], ["--since", "5h"]])
def test_history_since_a_negative_age_is_that_long_ago(tmp_path: Path, since: list[str]) -> None:
    log = ActionLog(tmp_path / "actions.jsonl")
    log.record("start", pid=1)
    result = run("history", *since, env={"PLOTMAN_TUI_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert " start " in result.stdout and "pid 1 " in result.stdout


def test_history_since_nonsense_is_one_line_with_the_accepted_forms(tmp_path: Path) -> None:
    env = {"PLOTMAN_TUI_DATA_DIR": str(tmp_path)}
    message = one_line_error(run("history", "--since", "-5x", env=env), 2)
    assert "give an age like 90s, 30m, 2h" in message


def test_text_history_shows_dirs_sizes_and_speeds(tmp_path: Path) -> None:
    log = ActionLog(tmp_path / "actions.jsonl")
    log.record("start", pid=10, reason="tmp 0 free", tmp="/mnt/tmp/0", dst="/mnt/dst/1")
    log.record(
        "transfer",
        pid=11,
        result="ok",
        target="farmer",
        archive_dir="/farm/disk00",
        bytes=108 * 1024**3,
        seconds=900.0,
        mb_per_s=128.85,
    )
    lines = run("history", env={"PLOTMAN_TUI_DATA_DIR": str(tmp_path)}).stdout.splitlines()
    assert lines[0].endswith("[/mnt/tmp/0 -> /mnt/dst/1]")
    assert lines[1].endswith("[108 GiB, 128.85 MB/s in 15m, to farmer:/farm/disk00]")
