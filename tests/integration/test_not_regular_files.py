"""Files of its own that plotman-tui reads, replaced by a FIFO or a device (by a farmer's
mistake or another program): the command still finishes, with a one-line problem where one is
due, never a hang on a read that waits for a writer, nor endless bytes read into memory.

Each command runs as the installed CLI in a subprocess with a generous timeout (a hang is a
failure that names the file) and a cap on its memory (``/dev/zero`` read whole fails fast
instead of filling the machine).
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plotman_tui.sandbox import Sandbox, make_sandbox
from tests.fakejobs import chia_argv, install_fake_chia, running
from tests.integration.test_cli_readonly import PLOTMAN_TUI

#: Far more than any of these commands takes; only a hang reaches it.
HANG_S = 60
#: Address space for the command: plenty for it, far too little to hold /dev/zero.
MEMORY_CAP = 2 << 30
#: Past the largest pid_max Linux allows: no process has it.
NO_PID = (1 << 22) + 1


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run(env: dict[str, str], *args: str, hung: str) -> subprocess.CompletedProcess[str]:
    """``plotman-tui args``, failing the test when it hangs (on ``hung``)."""
    try:
        return subprocess.run(
            [str(PLOTMAN_TUI), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=HANG_S,
            preexec_fn=_cap_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"plotman-tui {' '.join(args)} hung on {hung}")


def replace_with(path: Path, kind: str) -> None:
    """Put a FIFO, or a link to a character device, where a file of ours belongs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Its own data and cache dirs, as a machine has them."""
    return dict(
        os.environ,
        PLOTMAN_TUI_DATA_DIR=str(tmp_path / "data"),
        PLOTMAN_TUI_CACHE_DIR=str(tmp_path / "cache"),
    )


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    """A farm with a local archive target; nothing here starts a plot job."""
    return make_sandbox(tmp_path / "farm", n_archive=1)


def events(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_scan_cache_that_is_not_a_file_is_ignored(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    replace_with(tmp_path / "cache" / "logstate.json", kind)
    result = run(env, "--config", str(sandbox.config_path), "status", hung="the scan cache")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_an_archiving_state_file_that_is_not_a_file_is_one_line(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    state = tmp_path / "data" / "archiving-state.json"
    replace_with(state, kind)
    args = ("--config", str(sandbox.config_path), "archive", "--once", "--json")
    result = run(env, *args, hung="the archiving state file")
    assert "Traceback" not in result.stderr, result.stderr
    (problem,) = [e for e in events(result) if str(state) in str(e.get("message", ""))]
    assert "not a regular file" in str(problem["message"])
    assert "\n" not in str(problem["message"])


def test_an_ended_transfers_log_that_is_a_fifo_is_not_read(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    # The last run saw a transfer (now ended) whose output went to a FIFO, as a transfer
    # started by hand may have (`rsync ... > pipe`): its end is still reported.
    log = tmp_path / "transfer-log"
    os.mkfifo(log)
    source = sandbox.dst_dirs[0] / "plot-k18-2026-01-01-00-00-gone.plot"
    entry = {
        "pid": NO_PID,
        "create_time": 1.0,
        "target": "sandbox-farmer",
        "source": str(source),
        "archive_dir": str(sandbox.archive_dirs[0]),
        "argv": ["rsync", "--remove-source-files", str(source), str(sandbox.archive_dirs[0])],
        "bytes": 100,
        "log": str(log),
    }
    state = tmp_path / "data" / "archiving-state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"version": 1, "transfers": [entry]}))
    args = ("--config", str(sandbox.config_path), "archive", "--once", "--json")
    result = run(env, *args, hung="the transfer's log")
    assert "Traceback" not in result.stderr, result.stderr
    ends = [e for e in events(result) if e.get("source") == str(source)]
    assert ends and all(e["event"] == "transferred" for e in ends), result.stdout


@pytest.fixture
def held_fifo(tmp_path: Path) -> Iterator[Path]:
    """The archiver lock is a FIFO that another process holds (locked, opened for reading
    only: a reader that opens it waits for a writer that never comes)."""
    lock = tmp_path / "data" / "archiver.lock"
    lock.parent.mkdir(parents=True)
    os.mkfifo(lock)
    fd = os.open(lock, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        yield lock
    finally:
        os.close(fd)


def test_a_lock_file_that_is_a_fifo_is_one_line(
    sandbox: Sandbox, env: dict[str, str], held_fifo: Path
) -> None:
    args = ("--config", str(sandbox.config_path), "archive", "--once", "--json")
    result = run(env, *args, hung="the archiver lock")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    (problem,) = [e for e in events(result) if str(held_fifo) in str(e.get("message", ""))]
    assert "a FIFO, not a regular file" in str(problem["message"])


def test_a_sandbox_file_that_is_a_fifo_is_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    farm = tmp_path / "demo"
    make_sandbox(farm)
    (farm / "plotman.toml").unlink()
    os.mkfifo(farm / "plotman.toml")
    result = run(env, "demo", "--dir", str(farm), hung="the sandbox's config")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "cannot build the farm" in line and "a FIFO, not a regular file" in line


@pytest.fixture
def job_logging_to_a_fifo(tmp_path: Path) -> Iterator[tuple[Path, Path, int]]:
    """A plot job whose output goes to a FIFO in the log dir (a farmer's ``tee`` set-up, say):
    the config, the FIFO and the job's pid. This test keeps the FIFO open for reading, so the
    job's writes never block and a reader that opens it waits for data that never comes."""
    dirs = {name: tmp_path / name for name in ("logs", "tmp", "dst", "bin")}
    for path in dirs.values():
        path.mkdir()
    chia = install_fake_chia(dirs["bin"])
    config = tmp_path / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{dirs["logs"]}"\n\n'
        f'[directories]\ntmp = ["{dirs["tmp"]}"]\ndst = ["{dirs["dst"]}"]\n\n'
        '[plotting]\ntype = "chia"\n'
    )
    fifo = dirs["logs"] / "job.log"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with running(chia_argv(chia, str(dirs["tmp"]), str(dirs["dst"])), fifo) as proc:
            yield config, fifo, proc.pid
    finally:
        os.close(reader)


def test_a_job_whose_log_is_a_fifo_is_shown_with_a_problem(
    env: dict[str, str], job_logging_to_a_fifo: tuple[Path, Path, int]
) -> None:
    config, fifo, pid = job_logging_to_a_fifo
    status = run(env, "--config", str(config), "status", "--json", hung="the job's log")
    assert status.returncode == 0, status.stderr
    (job,) = [job for job in json.loads(status.stdout)["jobs"] if job["pid"] == pid]
    assert any(f"{fifo}: a FIFO, not a regular file" in p for p in job["problems"]), job["problems"]
    logs = run(env, "--config", str(config), "logs", f"pid:{pid}", hung="the job's log")
    assert logs.returncode == 1 and "Traceback" not in logs.stderr
    (line,) = logs.stderr.splitlines()
    assert str(fifo) in line and "a FIFO, not a regular file" in line


def test_the_dashboards_log_tail_of_a_fifo_is_a_problem_line(tmp_path: Path) -> None:
    # The log of a job that has just ended: nobody has the FIFO open for writing any more.
    fifo = tmp_path / "job.log"
    os.mkfifo(fifo)
    code = (
        "import sys; from plotman_tui.tui.feeds import LogTail; "
        "print(LogTail(sys.argv[1]).read().lines)"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code, str(fifo)],
            capture_output=True,
            text=True,
            timeout=HANG_S,
            preexec_fn=_cap_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the dashboard's log tail hung on a FIFO")
    assert result.returncode == 0, result.stderr
    assert "cannot read the log" in result.stdout and "a FIFO" in result.stdout
