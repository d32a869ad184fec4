"""Discovery against real processes: fake jobs with a venv chia's command line and real logs."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from plotman_tui.farm import control
from plotman_tui.farm.discovery import Scanner, select_jobs
from plotman_tui.farm.history import read_log
from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.plotters.chia import ChiaLogParser
from plotman_tui.plotters.phase import Phase
from plotman_tui.report import render_details, render_files, render_status
from tests.conftest import FIXTURES
from tests.fakejobs import chia_argv, install_fake_chia, k32_log, running, wait_until_running
from tests.integration.test_control import fail_listing_for


@pytest.fixture
def farm(tmp_path: Path) -> dict[str, Path]:
    dirs = {name: tmp_path / name for name in ("logs", "tmp", "tmp2", "dst", "bin")}
    for path in dirs.values():
        path.mkdir()
    dirs["chia"] = install_fake_chia(dirs["bin"])
    return dirs


def argv_for(farm: dict[str, Path]) -> list[str]:
    return chia_argv(farm["chia"], str(farm["tmp"]), str(farm["dst"]), tmp2=str(farm["tmp2"]))


def only_job(scanner: Scanner, pid: int):  # type: ignore[no-untyped-def]
    jobs = [job for job in scanner.scan().jobs if job.pid == pid]
    assert len(jobs) == 1, f"expected one job with pid {pid}, saw {jobs}"
    return jobs[0]


def test_job_seen_with_python3_interpreter_log_and_temp_files(farm: dict[str, Path]) -> None:
    plot_id = secrets.token_hex(32)
    log = farm["logs"] / "2021-07-14T22_33_24.log"
    log.write_text(
        k32_log(300, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    )
    name = f"plot-k32-2021-07-14-22-33-{plot_id}.plot"
    (farm["tmp"] / f"{name}.table1.tmp").write_bytes(b"x" * 1000)
    (farm["tmp"] / f"{name}.p1.t1.sort_bucket_000.tmp").write_bytes(b"x" * 500)
    (farm["tmp2"] / f"{name}.2.tmp").write_bytes(b"x" * 24)
    other = f"plot-k32-2021-07-14-22-33-{secrets.token_hex(32)}.plot"
    (farm["tmp"] / f"{other}.table1.tmp").write_bytes(b"y" * 7777)  # another job's
    (farm["dst"] / name).write_bytes(b"z" * 99)  # a finished plot is never a temp file

    with running(argv_for(farm), log) as proc:
        job = only_job(Scanner(farm["logs"]), proc.pid)

    assert job.plotter == "chia"
    assert job.argv[0].rsplit("/", 1)[-1].startswith("python")
    assert job.plot_id == plot_id
    assert job.k == 32
    assert job.phase == Phase(1, 4)
    assert (job.tmp_dir, job.tmp2_dir, job.dst_dir) == (
        str(farm["tmp"]),
        str(farm["tmp2"]),
        str(farm["dst"]),
    )
    assert job.log_file == str(log)
    # The plot's start as its log states it (progress of a multi-plot run's later plots).
    (record,), _skipped = read_log(str(log))
    assert record.started_at is not None and job.plot_started_at == record.started_at
    assert job.tmp_usage_bytes == 1524
    assert sorted(Path(f.path).name for f in job.tmp_files) == sorted(
        [f"{name}.table1.tmp", f"{name}.p1.t1.sort_bucket_000.tmp", f"{name}.2.tmp"]
    )
    assert job.status in (JobStatus.SLP, JobStatus.RUN)
    # Memory is sampled (the job may be caught a moment after its exec, with well under 1 MB
    # resident: CI once saw 572 KiB).
    assert job.mem_rss_bytes is not None and job.mem_rss_bytes > 0
    assert job.mem_vms_bytes is not None and job.mem_vms_bytes >= job.mem_rss_bytes
    assert job.user_seconds is not None and job.wall_seconds >= 0


def test_rescan_reads_only_appended_bytes(farm: dict[str, Path]) -> None:
    plot_id = secrets.token_hex(32)
    log = farm["logs"] / "job.log"
    full = k32_log(900, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    head, tail = full[: len(full) // 2], full[len(full) // 2 :]
    log.write_text(head)
    with running(argv_for(farm), log) as proc:
        scanner = Scanner(farm["logs"])
        first = only_job(scanner, proc.pid)
        assert scanner.bytes_read == len(head.encode())
        only_job(scanner, proc.pid)
        assert scanner.bytes_read == len(head.encode()), "an unchanged log was read again"
        with open(log, "a") as handle:
            handle.write(tail)
        second = only_job(scanner, proc.pid)
        assert scanner.bytes_read == len(full.encode())
    assert first.phase is not None and second.phase is not None
    assert first.phase < second.phase == Phase(3, 1)


def test_truncated_log_is_read_again_from_the_start(farm: dict[str, Path]) -> None:
    log = farm["logs"] / "job.log"
    ids = secrets.token_hex(32), secrets.token_hex(32)
    log.write_text(
        k32_log(500, plot_id=ids[0], tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    )
    with running(argv_for(farm), log) as proc:
        scanner = Scanner(farm["logs"])
        assert only_job(scanner, proc.pid).phase == Phase(1, 5)
        log.write_text(
            k32_log(17, plot_id=ids[1], tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
        )
        job = only_job(scanner, proc.pid)
    assert (job.plot_id, job.phase) == (ids[1], Phase(1, 1))


def test_symlinked_log_dir_is_matched_by_real_path(farm: dict[str, Path], tmp_path: Path) -> None:
    link = tmp_path / "logs-link"
    link.symlink_to(farm["logs"])
    plot_id = secrets.token_hex(32)
    log = link / "job.log"  # the job writes through the link; the kernel reports the real path
    log.write_text(
        k32_log(20, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    )
    with running(argv_for(farm), log) as proc:
        via_link = only_job(Scanner(link), proc.pid)
        via_real = only_job(Scanner(farm["logs"]), proc.pid)
    assert via_link.plot_id == via_real.plot_id == plot_id
    assert via_link.phase == Phase(1, 2)


def test_log_outside_log_dir_still_shows_the_job_with_unknown_phase(
    farm: dict[str, Path], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.log"
    elsewhere.write_text(
        k32_log(
            20, plot_id=secrets.token_hex(32), tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"]
        )
    )
    with running(argv_for(farm), elsewhere) as proc:
        job = only_job(Scanner(farm["logs"]), proc.pid)
    assert job.log_file is None and job.phase is None and job.plot_id is None
    # What the command line says is still known.
    assert (job.k, job.tmp_dir, job.dst_dir) == (32, str(farm["tmp"]), str(farm["dst"]))


def test_relative_dirs_are_resolved_against_the_process_cwd(
    farm: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "rel" / "t").mkdir(parents=True)
    argv = chia_argv(farm["chia"], "rel/t", "../dst")
    log = farm["logs"] / "job.log"
    log.write_text("")
    with running(argv, log, cwd=tmp_path / "rel") as proc:
        job = only_job(Scanner(farm["logs"]), proc.pid)
    assert job.tmp_dir == str(tmp_path / "rel" / "rel" / "t")
    assert job.dst_dir == str(tmp_path / "dst")
    assert job.phase == Phase(0, 0)


def test_gui_parent_and_child_with_one_command_line_are_one_job(farm: dict[str, Path]) -> None:
    log = farm["logs"] / "job.log"
    log.write_text(
        k32_log(
            20, plot_id=secrets.token_hex(32), tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"]
        )
    )
    env = dict(os.environ, FAKE_CHIA_GUI_PARENT="1")
    with running(argv_for(farm), log, env=env) as proc:
        import psutil

        deadline = time.monotonic() + 10
        children: list[psutil.Process] = []
        while not children and time.monotonic() < deadline:
            children = [c for c in psutil.Process(proc.pid).children() if "plots" in c.cmdline()]
            time.sleep(0.02)
        assert children, "the fake GUI parent did not start its child"
        jobs = [job for job in Scanner(farm["logs"]).scan().jobs if job.log_file == str(log)]
    assert [job.pid for job in jobs] == [children[0].pid]


def wait_for_status(scanner: Scanner, pid: int, wanted: set[JobStatus]) -> JobStatus:
    """The job's status once it is one of ``wanted`` (or the last seen, after 5 s)."""
    deadline = time.monotonic() + 5
    status = only_job(scanner, pid).status
    while status not in wanted and time.monotonic() < deadline:
        time.sleep(0.02)
        status = only_job(scanner, pid).status
    return status


def test_suspended_job_shows_stp_and_resumed_job_runs_again(farm: dict[str, Path]) -> None:
    log = farm["logs"] / "job.log"
    log.write_text("")
    with running(argv_for(farm), log) as proc:
        scanner = Scanner(farm["logs"])
        os.kill(proc.pid, signal.SIGSTOP)
        # A signal is delivered asynchronously: give the kernel a moment to stop the process.
        assert wait_for_status(scanner, proc.pid, {JobStatus.STP}) is JobStatus.STP
        os.kill(proc.pid, signal.SIGCONT)
        running_states = {JobStatus.SLP, JobStatus.RUN}
        assert wait_for_status(scanner, proc.pid, running_states) in running_states


def test_missing_tmp_dir_is_a_problem_not_a_crash(farm: dict[str, Path], tmp_path: Path) -> None:
    gone = tmp_path / "unplugged"
    plot_id = secrets.token_hex(32)
    log = farm["logs"] / "job.log"
    log.write_text(k32_log(20, plot_id=plot_id, tmp=gone, tmp2=farm["tmp2"], dst=farm["dst"]))
    with running(chia_argv(farm["chia"], str(gone), str(farm["dst"])), log) as proc:
        snapshot = Scanner(farm["logs"]).scan()
    (job,) = [job for job in snapshot.jobs if job.pid == proc.pid]
    assert job.tmp_usage_bytes is None
    assert any(str(gone) in problem for problem in snapshot.problems)


def test_ended_job_disappears_and_its_log_state_is_dropped(farm: dict[str, Path]) -> None:
    log = farm["logs"] / "job.log"
    log.write_text(
        k32_log(
            20, plot_id=secrets.token_hex(32), tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"]
        )
    )
    scanner = Scanner(farm["logs"])
    with running(argv_for(farm), log) as proc:
        only_job(scanner, proc.pid)
        pid = proc.pid
        assert any(key[0] == pid for key in scanner._tracked)
    assert all(job.pid != pid for job in scanner.scan().jobs)
    # Other jobs may run on the machine; this one's remembered state must be gone.
    assert all(key[0] != pid for key in scanner._tracked)


def test_id_prefixes_select_unique_jobs_and_explain_the_rest(farm: dict[str, Path]) -> None:
    ids = ["aa" + secrets.token_hex(31), "ab" + secrets.token_hex(31)]
    logs = [farm["logs"] / f"job{i}.log" for i in range(2)]
    for plot_id, log in zip(ids, logs, strict=True):
        log.write_text(
            k32_log(20, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
        )
    with running(argv_for(farm), logs[0]), running(argv_for(farm), logs[1]):
        jobs = [job for job in Scanner(farm["logs"]).scan().jobs if job.log_file]
    chosen, errors = select_jobs(jobs, ["aa", ids[1][:6]])
    assert [job.plot_id for job in chosen] == ids and errors == []
    chosen, errors = select_jobs(jobs, ["a"])
    assert chosen == [] and "ambiguous" in errors[0] and ids[0][:5] in errors[0]
    chosen, errors = select_jobs(jobs, ["ff"])
    assert chosen == [] and ids[0][:8] in errors[0] and ids[1][:8] in errors[0]
    assert len(select_jobs(jobs, ["all"])[0]) == 2


def test_saved_parser_state_lets_the_next_run_read_only_new_bytes(
    farm: dict[str, Path], tmp_path: Path
) -> None:
    cache = tmp_path / "cache" / "logstate.json"
    plot_id = secrets.token_hex(32)
    log = farm["logs"] / "job.log"
    full = k32_log(900, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    head = full[: len(full) // 2]
    log.write_text(head)
    with running(argv_for(farm), log) as proc:
        first = Scanner(farm["logs"])
        first.scan()
        first.save_cache(cache)
        with open(log, "a") as handle:
            handle.write(full[len(head) :])
        second = Scanner(farm["logs"])
        second.load_cache(cache)
        job = only_job(second, proc.pid)
        # Only what followed the last complete line of the first read was read again, and the
        # phase is what the whole log says.
        resumed_at = head.encode().rfind(b"\n") + 1
        assert second.bytes_read == len(full.encode()) - resumed_at
        assert (job.plot_id, job.phase) == (plot_id, Phase(3, 1))

        # A log rewritten in place (same inode, new content) is never mistaken for the old one.
        other = secrets.token_hex(32)
        second.save_cache(cache)
        log.write_text(
            k32_log(900, plot_id=other, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
        )
        third = Scanner(farm["logs"])
        third.load_cache(cache)
        assert only_job(third, proc.pid).plot_id == other
        assert third.bytes_read == log.stat().st_size

        # A damaged cache is ignored: the scan reads the whole log.
        cache.write_bytes(b"\x80\x04garbage")
        fourth = Scanner(farm["logs"])
        fourth.load_cache(cache)
        assert only_job(fourth, proc.pid).plot_id == other
        assert fourth.bytes_read == log.stat().st_size


def test_temp_space_is_remeasured_after_the_refresh_interval(farm: dict[str, Path]) -> None:
    plot_id = secrets.token_hex(32)
    log = farm["logs"] / "job.log"
    log.write_text(
        k32_log(20, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    )
    name = f"plot-k32-2021-07-14-22-33-{plot_id}.plot"
    (farm["tmp"] / f"{name}.table1.tmp").write_bytes(b"x" * 100)
    now = [1000.0]
    with running(argv_for(farm), log) as proc:
        scanner = Scanner(farm["logs"], clock=lambda: now[0], temp_refresh_s=10)
        assert only_job(scanner, proc.pid).tmp_usage_bytes == 100
        (farm["tmp"] / f"{name}.table2.tmp").write_bytes(b"x" * 50)
        now[0] += 5
        job = only_job(scanner, proc.pid)
        assert job.tmp_usage_bytes == 100 and len(job.tmp_files) == 1  # still the last sample
        now[0] += 6
        job = only_job(scanner, proc.pid)
        assert job.tmp_usage_bytes == 150 and len(job.tmp_files) == 2


def test_zombie_job_is_shown_as_zmb_by_a_scanner_and_by_the_next_run(
    farm: dict[str, Path], tmp_path: Path
) -> None:
    """A finished job its parent has not reaped yet is a zombie: no command line, still a job."""
    import subprocess

    log = farm["logs"] / "job.log"
    plot_id = secrets.token_hex(32)
    log.write_text(
        k32_log(20, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    )
    cache = tmp_path / "cache.json"
    with open(log, "ab") as handle:
        # This test process is the parent and does not wait(), so the job stays a zombie.
        proc = subprocess.Popen(
            argv_for(farm), stdout=handle, env=dict(os.environ, FAKE_CHIA_LIFETIME="2")
        )
    try:
        wait_until_running(proc)
        scanner = Scanner(farm["logs"])
        assert only_job(scanner, proc.pid).plot_id == plot_id
        first_run = Scanner(farm["logs"])
        first_run.scan()
        first_run.save_cache(cache)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"/proc/{proc.pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.05)
        job = only_job(scanner, proc.pid)
        assert (job.status, job.plot_id) == (JobStatus.ZMB, plot_id)
        next_run = Scanner(farm["logs"])
        next_run.load_cache(cache)
        job = only_job(next_run, proc.pid)
        assert (job.status, job.plot_id, job.phase) == (JobStatus.ZMB, plot_id, Phase(1, 2))
        # A run without the cache cannot know an empty command line was a plot job.
        assert all(job.pid != proc.pid for job in Scanner(farm["logs"]).scan().jobs)
    finally:
        proc.kill()
        proc.wait()


def test_log_deleted_under_a_running_job_is_still_read(farm: dict[str, Path]) -> None:
    plot_id = secrets.token_hex(32)
    log = farm["logs"] / "job.log"
    text = k32_log(900, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    log.write_text(text[:1000])
    with running(argv_for(farm), log) as proc:
        scanner = Scanner(farm["logs"])
        only_job(scanner, proc.pid)
        log.unlink()
        with open(f"/proc/{proc.pid}/fd/1", "a") as job_stdout:  # the job keeps writing
            job_stdout.write(text[1000:])
        job = only_job(scanner, proc.pid)
        fresh = only_job(Scanner(farm["logs"]), proc.pid)
    assert job.phase == fresh.phase == Phase(3, 1)
    assert job.log_file == f"{log} (deleted)" and job.problems == ()


def test_missing_log_dir_is_reported(farm: dict[str, Path], tmp_path: Path) -> None:
    snapshot = Scanner(tmp_path / "no-such-logs").scan()
    assert any("no-such-logs" in problem and "missing" in problem for problem in snapshot.problems)


def test_gui_parent_never_takes_its_childs_saved_state(
    farm: dict[str, Path], tmp_path: Path
) -> None:
    log = farm["logs"] / "job.log"
    log.write_text(
        k32_log(
            900, plot_id=secrets.token_hex(32), tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"]
        )
    )
    cache = tmp_path / "cache.json"
    env = dict(os.environ, FAKE_CHIA_GUI_PARENT="1")
    with running(argv_for(farm), log, env=env) as proc:
        import psutil

        deadline = time.monotonic() + 10
        while len(psutil.Process(proc.pid).children()) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        first = Scanner(farm["logs"])
        assert [job.pid for job in first.scan().jobs if job.log_file == str(log)] != [proc.pid]
        first.save_cache(cache)
        second = Scanner(farm["logs"])
        second.load_cache(cache)
        jobs = [job for job in second.scan().jobs if job.log_file == str(log)]
    assert len(jobs) == 1 and jobs[0].pid != proc.pid and jobs[0].phase == Phase(3, 1)
    assert second.bytes_read == 0, "the child's saved state was not used"


def test_cache_from_another_version_is_ignored(farm: dict[str, Path], tmp_path: Path) -> None:
    import json

    log = farm["logs"] / "job.log"
    log.write_text(
        k32_log(
            900, plot_id=secrets.token_hex(32), tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"]
        )
    )
    cache = tmp_path / "cache.json"
    with running(argv_for(farm), log) as proc:
        first = Scanner(farm["logs"])
        first.scan()
        first.save_cache(cache)
        saved = json.loads(cache.read_text())
        saved["version"] = "0.0.0-other"
        for entry in saved["jobs"]:
            entry["state"] = {"phase": [4, 3]}  # what an old version might have kept
        cache.write_text(json.dumps(saved))
        later = Scanner(farm["logs"])
        later.load_cache(cache)
        job = only_job(later, proc.pid)
    assert job.phase == Phase(3, 1) and later.bytes_read == log.stat().st_size


def test_jobs_coming_and_going_during_scans_never_break_a_scan(farm: dict[str, Path]) -> None:
    import subprocess

    env = dict(os.environ, FAKE_CHIA_LIFETIME="0.05")
    procs = []
    scanner = Scanner(farm["logs"])
    try:
        for index in range(15):
            with open(farm["logs"] / f"short{index}.log", "ab") as handle:
                procs.append(subprocess.Popen(argv_for(farm), stdout=handle, env=env))
            scanner.scan()  # must not raise while processes start, exit and get reaped
            for proc in procs:
                proc.poll()
        for _ in range(5):
            scanner.scan()
            time.sleep(0.05)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert all(job.log_file is None or "short" not in job.log_file for job in scanner.scan().jobs)


def test_a_job_we_may_not_inspect_is_listed_with_the_reason(farm: dict[str, Path]) -> None:
    """Scanning as another user: the job is still seen, with 'permission denied', no crash."""
    import json

    from tests.conftest import require_real

    require_real(os.geteuid() == 0, "needs root to scan as another user (nobody)")
    log = farm["logs"] / "job.log"
    log.write_text(
        k32_log(
            20, plot_id=secrets.token_hex(32), tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"]
        )
    )
    with running(argv_for(farm), log) as proc:
        # A forked child drops to nobody and scans: root's job is not its to inspect.
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            status = 1
            try:
                os.close(read_end)
                os.setgid(65534)
                os.setuid(65534)
                snapshot = Scanner(farm["logs"]).scan()
                found = [
                    [j.pid, str(j.phase) if j.phase else None, list(j.problems)]
                    for j in snapshot.jobs
                ]
                os.write(write_end, json.dumps(found).encode())
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as reader:
            output = reader.read()
        _, wait_status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
    mine = [job for job in json.loads(output) if job[0] == proc.pid]
    assert len(mine) == 1
    _, phase, problems = mine[0]
    assert phase is None
    assert any("permission denied" in problem for problem in problems)


# -- one job's bad data costs only that job ----------------------------------------------------
# A corrupt log once named a temp dir ending in a NUL byte; every scan then raised, so `status`,
# `dirs` and `kill` of any other job ended in a traceback and nothing was plotted anywhere.


def job_of(jobs: tuple[Job, ...], pid: int) -> Job:
    (job,) = [job for job in jobs if job.pid == pid]
    return job


def healthy_job(farm: dict[str, Path], plot_id: str):  # type: ignore[no-untyped-def]
    log = farm["logs"] / "healthy.log"
    log.write_text(
        k32_log(300, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    )
    name = f"plot-k32-2021-07-14-22-33-{plot_id}.plot"
    (farm["tmp"] / f"{name}.table1.tmp").write_bytes(b"x" * 1000)
    argv = chia_argv(farm["chia"], str(farm["tmp"]), str(farm["dst"]), tmp2=str(farm["tmp2"]))
    return running(argv, log)


def test_a_temp_dir_with_a_nul_byte_costs_nothing_not_even_its_own_job(
    farm: dict[str, Path],
) -> None:
    corrupt_id, healthy_id = secrets.token_hex(32), secrets.token_hex(32)
    corrupt_log = farm["logs"] / "corrupt.log"
    corrupt_log.write_bytes(
        f"Starting plotting progress into temporary dirs: {farm['tmp']} and {farm['tmp2']}".encode()
        + b"\0\nID: "
        + corrupt_id.encode()
        + b"\n"
    )
    (farm["tmp"] / f"plot-k32-2021-07-14-22-33-{corrupt_id}.plot.table1.tmp").write_bytes(b"c")
    corrupt_argv = chia_argv(farm["chia"], str(farm["tmp"]), str(farm["dst"]))
    with running(corrupt_argv, corrupt_log) as corrupt, healthy_job(farm, healthy_id) as healthy:
        snapshot = Scanner(farm["logs"]).scan()
        bad, good = job_of(snapshot.jobs, corrupt.pid), job_of(snapshot.jobs, healthy.pid)
        render_status(snapshot, 200)  # `status` shows both
        # The corrupt job: its plot id and tmp dir are known, the impossible tmp2 dir is not.
        assert bad.plot_id == corrupt_id
        assert (bad.tmp_dir, bad.tmp2_dir) == (str(farm["tmp"]), None)
        assert bad.tmp_usage_bytes == 1
        # The other job is untouched, and can be killed by id.
        assert good.tmp_usage_bytes == 1000
        (chosen,), errors = select_jobs(snapshot.jobs, [healthy_id[:8]])
        assert errors == [] and chosen == good
        result = control.execute_kill(control.prepare_kill(chosen))
        assert result.ok and len(result.deleted) == 1, result.message


def test_an_unforeseen_failure_in_one_jobs_log_is_that_jobs_problem(
    farm: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checks cannot foresee everything: whatever one job's log makes the parser do, the scan
    goes on and says which job and why."""
    original = ChiaLogParser._line

    def fragile(self: ChiaLogParser, line: str) -> None:
        if line.endswith("TRIGGER"):  # a line the parser reads ("Using ..."), not one it skips
            raise RuntimeError("a parser bug")
        original(self, line)

    monkeypatch.setattr(ChiaLogParser, "_line", fragile)
    plot_id = secrets.token_hex(32)
    log = farm["logs"] / "fragile.log"
    log.write_text(
        k32_log(20, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
        + "Using TRIGGER\n"
    )
    argv = chia_argv(farm["chia"], str(farm["tmp"]), str(farm["dst"]), tmp2=str(farm["tmp2"]))
    with running(argv, log) as fragile_job, healthy_job(farm, secrets.token_hex(32)) as healthy:
        scanner = Scanner(farm["logs"])
        snapshot = scanner.scan()
        again = scanner.scan()  # the problem stays with the job while it runs
    job = job_of(snapshot.jobs, fragile_job.pid)
    assert job.plot_id == plot_id  # what was read before the failure counts
    assert any(str(log) in p and "RuntimeError: a parser bug" in p for p in job.problems)
    assert job_of(again.jobs, fragile_job.pid).problems == job.problems
    assert job_of(snapshot.jobs, healthy.pid).problems == ()


def test_an_unforeseen_failure_listing_one_jobs_temp_files_is_that_jobs_problem(
    farm: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    own_tmp = tmp_path / "own-tmp"
    own_tmp.mkdir()
    fail_listing_for(monkeypatch, own_tmp)
    plot_id = secrets.token_hex(32)
    log = farm["logs"] / "fragile.log"
    log.write_text(k32_log(20, plot_id=plot_id, tmp=own_tmp, tmp2=farm["tmp2"], dst=farm["dst"]))
    argv = chia_argv(farm["chia"], str(own_tmp), str(farm["dst"]), tmp2=str(farm["tmp2"]))
    with running(argv, log) as fragile_job, healthy_job(farm, secrets.token_hex(32)) as healthy:
        snapshot = Scanner(farm["logs"]).scan()
    job = job_of(snapshot.jobs, fragile_job.pid)
    assert job.tmp_usage_bytes is None and job.plot_id == plot_id
    assert any("temp files" in p and "a path no check foresaw" in p for p in job.problems)
    assert job_of(snapshot.jobs, healthy.pid).tmp_usage_bytes == 1000
    render_details(job)
    render_files(job)


def test_a_cache_naming_an_impossible_log_or_dir_is_ignored(
    farm: dict[str, Path], tmp_path: Path
) -> None:
    """The cache is outside input too: a log path with a NUL, or a saved state with an impossible
    dir, must not reach the disk calls."""
    import json

    log = farm["logs"] / "job.log"
    plot_id = secrets.token_hex(32)
    log.write_text(
        k32_log(900, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    )
    cache = tmp_path / "cache.json"
    with running(argv_for(farm), log) as proc:
        first = Scanner(farm["logs"])
        first.scan()
        first.save_cache(cache)
        saved = json.loads(cache.read_text())
        (mine,) = [entry for entry in saved["jobs"] if entry["pid"] == proc.pid]
        mine["state"]["tmp_dir"] = "/t\0mp"
        cache.write_text(json.dumps(saved))
        state_with_nul = Scanner(farm["logs"])
        state_with_nul.load_cache(cache)
        job = only_job(state_with_nul, proc.pid)
        assert job.tmp_dir == str(farm["tmp"])  # the command line's, not the cache's
        assert job.plot_id == plot_id and job.tmp_usage_bytes == 0

        mine["log_file"] = "/lo\0g"
        cache.write_text(json.dumps(saved))
        log_with_nul = Scanner(farm["logs"])
        log_with_nul.load_cache(cache)
        assert log_with_nul._remembered == {}


# -- compression: the level of the plot a job makes --------------------------------------------

CUDAPLOT_C1 = (
    FIXTURES / "plotter-logs" / "fragments" / "bladebit_cuda_alpha4.3_c1_plot48_gh405.fragment.log"
)


def test_a_cudaplot_jobs_level_comes_from_its_command_line_then_from_its_log(
    farm: dict[str, Path], tmp_path: Path
) -> None:
    script = farm["bin"] / "bladebit_cuda"
    shutil.copy(farm["chia"], script)  # the same sleeper, under BladeBit CUDA's name
    # The dst is ``plots``, relative to the job's cwd: fakejobs' start check waits for that
    # word in the command line.
    argv = [sys.executable, str(script), "--compress", "7", "cudaplot", "-t1", str(farm["tmp"])]
    log = farm["logs"] / "cuda.log"
    log.write_bytes(b"")
    cache = tmp_path / "cache" / "logstate.json"
    with running([*argv, "plots"], log, cwd=tmp_path) as proc:
        scanner = Scanner(farm["logs"])
        job = only_job(scanner, proc.pid)
        # Nothing logged yet: the command line's ``--compress 7``.
        assert (job.plotter, job.compression, job.phase) == ("bladebit_cuda", 7, Phase(0, 0))
        assert job.dst_dir == str(tmp_path / "plots")
        # The log names the plot it makes (``plot-k32-c01-...``): the log tells what is made.
        log.write_bytes(CUDAPLOT_C1.read_bytes())
        job = only_job(scanner, proc.pid)
        assert job.compression == 1
        assert job.phase is not None and job.phase > Phase(2, 0)  # the fragment's phases read
        # The history reads the same level from the same log.
        (record,), _skipped = read_log(str(log))
        assert record.compression == job.compression == 1
        # A one-shot command resumes from the saved log state, and knows the level too.
        scanner.save_cache(cache)
        resumed = Scanner(farm["logs"])
        resumed.load_cache(cache)
        again = only_job(resumed, proc.pid)
        assert resumed.bytes_read < log.stat().st_size
        assert again.compression == 1
