"""Scanner.update_logs: between scans, the logs a watch saw written are read through the scan's
own followers (fake jobs with a venv chia's command line, and a real chia log)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.model import Job
from plotman_tui.plotters.phase import Phase
from tests.fakejobs import chia_argv, install_fake_chia, k32_log, running

# The real log's first 17 lines end in table 1 of phase 1; its 18th starts table 2.
TABLE_1_LINES = 17


@dataclass
class FakeJob:
    pid: int
    log: Path
    plot_id: str


@dataclass
class Farm:
    root: Path
    logs: Path
    jobs: list[FakeJob]

    def log_text(self, lines: int, job: FakeJob) -> str:
        root = self.root
        return k32_log(lines, plot_id=job.plot_id, tmp=root, tmp2=root, dst=root)

    def append_next_line(self, job: FakeJob) -> None:
        """Table 2 starts in ``job``'s log."""
        text = self.log_text(TABLE_1_LINES + 1, job)
        with open(job.log, "a") as handle:
            handle.write(text[len(self.log_text(TABLE_1_LINES, job)) :])


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    """Two fake chia jobs, each in table 1 of phase 1 by its log."""
    logs = tmp_path / "logs"
    logs.mkdir()
    chia = install_fake_chia(tmp_path / "bin")
    argv = chia_argv(chia, str(tmp_path), str(tmp_path))
    farm = Farm(tmp_path, logs, [])
    with ExitStack() as stack:
        for name in ("a", "b"):
            job = FakeJob(0, logs / f"{name}.log", secrets.token_hex(32))
            job.log.write_text(farm.log_text(TABLE_1_LINES, job))
            job.pid = stack.enter_context(running(argv, job.log)).pid
            farm.jobs.append(job)
        yield farm


def by_pid(jobs: tuple[Job, ...] | None, pid: int) -> Job:
    assert jobs is not None
    return next(job for job in jobs if job.pid == pid)


def log_bytes(farm: Farm) -> int:
    return sum(job.log.stat().st_size for job in farm.jobs)


def test_an_appended_line_changes_that_jobs_phase_and_the_next_scan_reads_it_not_again(
    farm: Farm,
) -> None:
    a, b = farm.jobs
    scanner = Scanner(farm.logs)
    jobs = scanner.scan().jobs
    assert {by_pid(jobs, job.pid).phase for job in farm.jobs} == {Phase(1, 1)}
    farm.append_next_line(a)

    updated = scanner.update_logs(jobs, [str(a.log)])

    new_a = by_pid(updated, a.pid)
    assert (new_a.phase, new_a.plot_id) == (Phase(1, 2), a.plot_id)
    # What the process table says stays as the scan saw it; only the log was read.
    old_a = by_pid(jobs, a.pid)
    assert (new_a.status, new_a.mem_rss_bytes, new_a.user_seconds, new_a.wall_seconds) == (
        old_a.status,
        old_a.mem_rss_bytes,
        old_a.user_seconds,
        old_a.wall_seconds,
    )
    assert by_pid(updated, b.pid) is by_pid(jobs, b.pid)
    assert [job.pid for job in updated or ()] == [job.pid for job in jobs]
    assert scanner.bytes_read == log_bytes(farm)

    rescanned = scanner.scan().jobs
    assert scanner.bytes_read == log_bytes(farm), "the scan read a byte update_logs had read"
    assert by_pid(rescanned, a.pid).phase == Phase(1, 2)
    assert by_pid(rescanned, b.pid).phase == Phase(1, 1)
    assert scanner.update_logs(rescanned, [str(a.log), str(b.log)]) is None


def test_bytes_a_scan_read_first_are_not_read_again(farm: Farm) -> None:
    a, _ = farm.jobs
    scanner = Scanner(farm.logs)
    jobs = scanner.scan().jobs
    farm.append_next_line(a)
    assert by_pid(scanner.scan().jobs, a.pid).phase == Phase(1, 2)
    read = scanner.bytes_read
    assert scanner.update_logs(jobs, [str(a.log)]) is not None  # the old jobs, brought up to date
    assert scanner.bytes_read == read == log_bytes(farm)


def test_paths_through_a_symlinked_log_dir_are_matched(farm: Farm, tmp_path: Path) -> None:
    a, _ = farm.jobs
    link = tmp_path / "logs-link"
    link.symlink_to(farm.logs)
    scanner = Scanner(link)
    jobs = scanner.scan().jobs
    farm.append_next_line(a)
    updated = scanner.update_logs(jobs, [str(link / a.log.name)])
    assert by_pid(updated, a.pid).phase == Phase(1, 2)


def test_other_files_and_unknown_jobs_change_nothing(farm: Farm) -> None:
    a, _ = farm.jobs
    scanner = Scanner(farm.logs)
    jobs = scanner.scan().jobs
    other = farm.logs / "notes.txt"
    other.write_text("not a job's log\n")
    farm.append_next_line(a)
    read = scanner.bytes_read
    assert scanner.update_logs(jobs, [str(other), str(farm.root / a.log.name)]) is None
    # A job this scanner does not track (another scanner's, or one gone since) is passed over.
    assert Scanner(farm.logs).update_logs(jobs, [str(a.log)]) is None
    assert scanner.bytes_read == read
