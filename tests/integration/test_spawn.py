"""Starting jobs with real processes: the log, the session, niceness, reaping, survival."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psutil
import pytest

from plotman_tui.farm.spawn import StartedJob, log_name_for, start_job
from tests.conftest import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_NAME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d_\d\d_\d\d\.\d{6}[+-]\d{4}\.log$")
PY = sys.executable


def gone(pid: int, create_time: float) -> bool:
    """Whether that process is no longer in the process table (not even as a zombie)."""
    try:
        return psutil.Process(pid).create_time() != create_time  # a reused pid
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def jobs() -> Iterator[list[int]]:
    """Pids of jobs a test started; any still running at the end are killed with their group."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def start(jobs: list[int], argv: list[str], log_dir: Path, **kwargs: object) -> StartedJob:
    job = start_job(argv, log_dir, **kwargs)  # type: ignore[arg-type]
    jobs.append(job.pid)
    return job


def python_job(code: str, *args: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code), *args]


@contextlib.contextmanager
def stdin_is_a_pipe() -> Iterator[None]:
    """This process's fd 0 is a pipe for a moment, so a job that inherits it would notice."""
    saved = os.dup(0)
    read_end, write_end = os.pipe()
    os.write(write_end, b"what the caller's stdin holds\n")
    try:
        os.dup2(read_end, 0)
        yield
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read_end, write_end):
            os.close(fd)


# -- the log file --------------------------------------------------------------------------------


def test_log_named_by_start_time_gets_stdout_and_stderr(tmp_path: Path, jobs: list[int]) -> None:
    log_dir = tmp_path / "logs"  # made by start_job
    now = 1_795_000_000.123456
    with stdin_is_a_pipe():
        job = start(
            jobs,
            python_job(
                """
                import os, sys
                print("to stdout", flush=True)
                print("to stderr", file=sys.stderr, flush=True)
                print("stdin:", os.readlink("/proc/self/fd/0"), repr(sys.stdin.read()), flush=True)
                print("cwd:", os.getcwd(), "env:", os.environ.get("PLOT_TEST_VAR"), flush=True)
                """
            ),
            log_dir,
            now=now,
            cwd=tmp_path,
            env={**os.environ, "PLOT_TEST_VAR": "from the caller"},
        )

    assert job.popen.wait(timeout=60) == 0
    assert job.started_at == now
    assert job.log_path.parent == log_dir
    assert LOG_NAME.match(job.log_path.name), job.log_path.name
    # The name is the start time, to the microsecond, with its zone.
    named = datetime.strptime(job.log_path.name, "%Y-%m-%dT%H_%M_%S.%f%z.log")
    assert abs(named.timestamp() - now) < 1e-6
    assert job.log_path.name == log_name_for(now)
    assert job.log_path.read_text().splitlines() == [
        "to stdout",
        "to stderr",
        "stdin: /dev/null ''",
        f"cwd: {tmp_path} env: from the caller",
    ]
    assert list(log_dir.iterdir()) == [job.log_path]


def test_a_taken_log_name_gets_a_suffix(tmp_path: Path, jobs: list[int]) -> None:
    now = 1_795_000_000.5
    first_name = log_name_for(now)
    (tmp_path / first_name).write_text("an older job's log\n")
    second_name = first_name.replace(".log", "-1.log")
    (tmp_path / second_name).write_text("another one\n")

    job = start(jobs, python_job("print('mine')"), tmp_path, now=now)

    assert job.popen.wait(timeout=60) == 0
    assert job.log_path.name == first_name.replace(".log", "-2.log")
    assert job.log_path.read_text() == "mine\n"
    assert (tmp_path / first_name).read_text() == "an older job's log\n"
    assert (tmp_path / second_name).read_text() == "another one\n"


def test_two_jobs_started_at_the_same_time_get_two_logs(tmp_path: Path, jobs: list[int]) -> None:
    first = start(jobs, python_job("print('one')"), tmp_path, now=1_795_000_000.0)
    second = start(jobs, python_job("print('two')"), tmp_path, now=1_795_000_000.0)
    assert first.popen.wait(timeout=60) == 0 and second.popen.wait(timeout=60) == 0
    assert first.log_path != second.log_path
    assert first.log_path.read_text() == "one\n"
    assert second.log_path.read_text() == "two\n"


def test_an_explicit_taken_log_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken.log").write_text("someone else's\n")
    with pytest.raises(FileExistsError):
        start_job([PY, "-c", "print('never')"], tmp_path, log_name="taken.log")
    assert (tmp_path / "taken.log").read_text() == "someone else's\n"
    assert [p.name for p in tmp_path.iterdir()] == ["taken.log"]


def test_a_job_that_cannot_start_leaves_no_log(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        start_job([str(tmp_path / "no-such-plotter"), "plots", "create"], tmp_path)
    with pytest.raises(ValueError, match="command line"):
        start_job([], tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- the command line, the session, niceness -----------------------------------------------------


def test_argv_reaches_the_job_exactly_without_a_shell(tmp_path: Path, jobs: list[int]) -> None:
    args = ["plain", "two words", "", "$HOME", "`id`", "a;b|c&&d", "'q'\"", "ünï\tcode", "*"]
    argv = python_job("import json, sys; print(json.dumps(sys.argv[1:]))", *args)

    job = start(jobs, argv, tmp_path)

    assert job.argv == tuple(argv)
    assert job.popen.wait(timeout=60) == 0
    assert json.loads(job.log_path.read_text()) == args


def test_job_runs_in_its_own_session_at_the_asked_niceness(tmp_path: Path, jobs: list[int]) -> None:
    ready = tmp_path / "ready"
    job = start(
        jobs,
        python_job(
            """
            import sys, threading, time
            from pathlib import Path
            for _ in range(3):
                threading.Thread(target=time.sleep, args=(120,), daemon=True).start()
            Path(sys.argv[1]).touch()
            time.sleep(120)
            """,
            str(ready),
        ),
        tmp_path / "logs",
        nice=17,
    )
    wait_for(ready.exists, 60, "the job's threads")

    assert os.getsid(job.pid) == job.pid != os.getsid(0)
    assert os.getpgid(job.pid) == job.pid
    assert job.nice == 17 and job.warning is None
    assert os.getpriority(os.PRIO_PROCESS, job.pid) == 17
    # Every thread of the job runs at that niceness (field 19 of /proc/<pid>/task/<tid>/stat).
    tasks = os.listdir(f"/proc/{job.pid}/task")
    assert len(tasks) == 4
    for tid in tasks:
        stat = Path(f"/proc/{job.pid}/task/{tid}/stat").read_text()
        assert int(stat.rsplit(")", 1)[1].split()[16]) == 17, tid
    # ... while this process keeps its own.
    assert os.getpriority(os.PRIO_PROCESS, 0) != 17


def test_out_of_range_niceness_is_clamped_with_a_warning(tmp_path: Path, jobs: list[int]) -> None:
    job = start(jobs, python_job("import time; time.sleep(120)"), tmp_path, nice=40)
    assert job.nice == 19
    assert job.warning is not None and "40" in job.warning and "19" in job.warning
    assert os.getpriority(os.PRIO_PROCESS, job.pid) == 19


# A starter that cannot lower niceness: it raises its own to 10, then asks for 5.
LOWER_NICE = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from plotman_tui.farm.spawn import start_job

    os.nice(10)
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    job = start_job(sleeper, Path(sys.argv[1]), nice=5)
    print(json.dumps({"pid": job.pid, "nice": job.nice, "warning": job.warning,
                      "actual": os.getpriority(os.PRIO_PROCESS, job.pid)}))
    """
)


def test_lowering_niceness_without_privileges_warns_and_still_starts(
    tmp_path: Path, jobs: list[int]
) -> None:
    argv = [PY, "-c", LOWER_NICE, str(tmp_path)]
    if os.geteuid() == 0:
        # Root may lower niceness: run the starter without CAP_SYS_NICE.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop CAP_SYS_NICE")
        argv = [setpriv, "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", *argv]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    jobs.append(report["pid"])

    assert report["nice"] == 10 == report["actual"]  # where it started, as the starter was
    assert "cannot set niceness 5" in report["warning"]
    assert "stays at 10" in report["warning"]
    assert psutil.Process(report["pid"]).status() != psutil.STATUS_ZOMBIE


# -- outliving the starter, and reaping ----------------------------------------------------------

# Starts a job and tells its pid; then with "exit" ends once the job has written to its log,
# with "stay" lives on until stdin closes.
STARTER = textwrap.dedent(
    """
    import gc, json, sys, time
    from pathlib import Path
    from plotman_tui.farm.spawn import start_job

    log_dir, mode, *job_argv = sys.argv[1:]
    job = start_job(job_argv, Path(log_dir), nice=0)
    print(json.dumps({"pid": job.pid, "log": str(job.log_path)}), flush=True)
    if mode == "exit":
        while not job.log_path.stat().st_size:
            time.sleep(0.01)
    if mode == "stay":
        del job  # nobody here keeps the job or its Popen, nor ever polls it
        gc.collect()
        sys.stdin.read()
    """
)


def run_starter(
    tmp_path: Path, mode: str, job_argv: list[str]
) -> tuple[subprocess.Popen[str], dict[str, object]]:
    starter = subprocess.Popen(
        [PY, "-c", STARTER, str(tmp_path / "logs"), mode, *job_argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert starter.stdout is not None
    report: dict[str, object] = json.loads(starter.stdout.readline())
    return starter, report


def test_job_outlives_the_process_that_started_it(tmp_path: Path, jobs: list[int]) -> None:
    go = tmp_path / "go"
    job_argv = python_job(
        """
        import os, sys, time
        from pathlib import Path
        print("started by", os.getppid(), flush=True)
        while not Path(sys.argv[1]).exists():
            time.sleep(0.02)
        print("still here, parent now", os.getppid(), flush=True)
        """,
        str(go),
    )
    starter, report = run_starter(tmp_path, "exit", job_argv)
    pid = report["pid"]
    assert isinstance(pid, int)
    jobs.append(pid)
    log = Path(str(report["log"]))
    assert starter.wait(timeout=60) == 0

    job = psutil.Process(pid)
    assert job.is_running() and job.status() != psutil.STATUS_ZOMBIE
    assert job.ppid() != starter.pid  # reparented to init or a subreaper
    go.touch()
    wait_for(lambda: "still here" in log.read_text(), 60, "the job to go on writing its log")
    lines = log.read_text().splitlines()
    assert lines[0] == f"started by {starter.pid}"
    assert lines[1] == f"still here, parent now {job.ppid()}"


def test_a_long_lived_starter_is_left_no_zombie(tmp_path: Path, jobs: list[int]) -> None:
    go = tmp_path / "go"
    job_argv = python_job(
        """
        import sys, time
        from pathlib import Path
        while not Path(sys.argv[1]).exists():
            time.sleep(0.02)
        """,
        str(go),
    )
    starter, report = run_starter(tmp_path, "stay", job_argv)
    try:
        pid = report["pid"]
        assert isinstance(pid, int)
        jobs.append(pid)
        job = psutil.Process(pid)
        create_time = job.create_time()
        assert job.ppid() == starter.pid

        go.touch()  # the job ends while its starter lives on

        wait_for(lambda: gone(pid, create_time), 60, "the ended job to be reaped")
        assert starter.poll() is None  # reaped by its still-running parent, not by init
        assert psutil.Process(starter.pid).children() == []
    finally:
        assert starter.stdin is not None
        starter.stdin.close()
        assert starter.wait(timeout=60) == 0


def test_an_ended_job_is_reaped_here_without_polling(tmp_path: Path) -> None:
    job = start_job([PY, "-c", "import sys; sys.exit(3)"], tmp_path)
    create_time = psutil.Process(job.pid).create_time()

    # Nobody calls poll() or wait(): the reaper thread does, and keeps the status for us.
    wait_for(lambda: gone(job.pid, create_time), 60, "the ended job to be reaped")
    assert job.popen.returncode == 3
    assert job.popen.poll() == 3
    assert job.popen.wait(timeout=1) == 3


def test_the_caller_can_still_wait_and_signal(tmp_path: Path, jobs: list[int]) -> None:
    job = start(jobs, python_job("import time; time.sleep(120)"), tmp_path)
    assert job.popen.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        job.popen.wait(timeout=0.1)
    os.killpg(job.pid, signal.SIGTERM)
    assert job.popen.wait(timeout=60) == -signal.SIGTERM
    assert job.popen.poll() == -signal.SIGTERM
