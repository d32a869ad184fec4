"""Text from logs, paths and the action log never drives the terminal: a control character in
a job's dirs, its log or an action's reason (ESC, NUL, CR, BEL) reaches the screen as a visible
stand-in, in ``status``, ``details`` and ``history`` as in the dashboard (tests/tui)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.sandbox import make_sandbox
from tests.fakejobs import chia_argv, install_fake_chia, k32_log, running
from tests.integration.test_cli_readonly import PLOTMAN_TUI

#: What a terminal acts on: C0 controls but the newline, DEL, and the C1 controls.
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
#: A dir name as a careless script makes it: colour codes, a bell and a carriage return.
NASTY = "t\x1b[31mred\x07\rcr"
#: A log line that would clear the screen and ring the bell, with a NUL in it.
NASTY_LINE = "\x1b[2J\x1b[Hcleared\x07 and \x00 NUL\n"


@dataclass
class NastyJob:
    config: Path
    logs: Path
    tmp: Path
    pid: int
    env: dict[str, str]
    action_log: ActionLog


@pytest.fixture
def nasty_job(tmp_path: Path) -> Iterator[NastyJob]:
    with nasty_job_running(tmp_path) as job:
        yield job


@contextmanager
def nasty_job_running(tmp_path: Path) -> Iterator[NastyJob]:
    """A running plot job whose tmp dir and log hold control characters, and an action log
    (in the data dir of ``env``) whose entry's reason does."""
    logs, tmp, dst = tmp_path / "logs", tmp_path / NASTY, tmp_path / "dst"
    for path in (logs, tmp, dst):
        path.mkdir()
    config = tmp_path / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{logs}"\n\n'
        f'[directories]\ntmp = ["{tmp_path}"]\ndst = ["{dst}"]\n\n'
        '[plotting]\ntype = "chia"\n'
    )
    env = dict(
        os.environ,
        PLOTMAN_TUI_DATA_DIR=str(tmp_path / "data"),
        PLOTMAN_TUI_CACHE_DIR=str(tmp_path / "cache"),
        COLUMNS="300",
    )
    action_log = ActionLog(tmp_path / "data" / "actions.jsonl")
    action_log.record("kill", pid=1, reason=f"temp files in {tmp} removed", result="ok")
    log = logs / "job.log"
    plot_id = secrets.token_hex(32)
    temp_name = f"plot-k32-2026-01-01-00-00-{plot_id}.plot.p1.t1.sort_bucket_000.tmp"
    (tmp / temp_name).write_bytes(b"temp")
    text = k32_log(17, plot_id=plot_id, tmp=tmp, tmp2=tmp, dst=dst)
    log.write_text(text + NASTY_LINE)
    argv = chia_argv(install_fake_chia(tmp_path / "bin"), str(tmp), str(dst), tmp2=str(tmp))
    with running(argv, log) as proc:
        yield NastyJob(config, logs, tmp, proc.pid, env, action_log)


def cli(job: NastyJob, *args: str) -> str:
    result = subprocess.run(
        [str(PLOTMAN_TUI), "--config", str(job.config), *args],
        capture_output=True,
        env=job.env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.decode("utf-8")


@pytest.mark.parametrize(
    "args", [("status",), ("details", "pid"), ("files", "pid"), ("history",), ("dirs",)]
)
def test_no_raw_control_character_reaches_the_terminal(
    nasty_job: NastyJob, args: tuple[str, ...]
) -> None:
    args = tuple(f"pid:{nasty_job.pid}" if arg == "pid" else arg for arg in args)
    out = cli(nasty_job, *args)
    assert RAW_CONTROL.search(out) is None, repr(out)
    if args[0] != "dirs":
        # The value is shown all the same, its controls as pictures: ESC as ␛, BEL as ␇ (and
        # CR as ␍, but where a reason's whitespace is made one line).
        assert "t␛[31mred␇" in out, out


def test_logs_stay_raw(nasty_job: NastyJob) -> None:
    # `logs` is the log as it is, by design (for a pager or a file): nothing is replaced.
    assert NASTY_LINE in cli(nasty_job, "logs", f"pid:{nasty_job.pid}")


def test_the_loops_lines_show_no_raw_control_character(tmp_path: Path) -> None:
    # A data dir named with a colour code, named in the line saying its state file is bad.
    data = tmp_path / NASTY
    data.mkdir()
    (data / "archiving-state.json").write_text("not json")
    sandbox = make_sandbox(tmp_path / "farm", n_archive=1)
    env = dict(os.environ, PLOTMAN_TUI_DATA_DIR=str(data))
    result = subprocess.run(
        [str(PLOTMAN_TUI), "--config", str(sandbox.config_path), "archive", "--once"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    out = result.stdout.decode("utf-8")
    assert "t␛[31mred␇␍cr/archiving-state.json: not read" in out, out
    assert RAW_CONTROL.search(out) is None, repr(out)
