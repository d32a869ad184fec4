"""A Gigahorse job as the scanner sees it, from a process that REPLAYS REAL GIGAHORSE OUTPUT.

Gigahorse (``cuda_plot_k32``) is a closed binary for NVIDIA GPUs and cannot run here. The job is
a small script named ``cuda_plot_k32``, started the way plotman-tui starts plot jobs
(:func:`~plotman_tui.farm.spawn.start_job`: stdout and stderr into a new log in the log dir),
with the command line of chia-gigahorse#109. It prints, unchanged, the lines a user posted from
such a run (``fixtures/plotter-logs/fragments/gigahorse_cuda_plot_k32_C8_n2_plot2_gh109``: plot 2
of 2, with plot 1's copy lines inside it), one piece at a time: it prints the next piece when
the test writes a line to its gate FIFO, and says so on its ack FIFO once the piece is flushed,
so each scan sees exactly the pieces printed so far (no sleeps, no polling of the log).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.model import Job
from plotman_tui.farm.spawn import StartedJob, start_job
from plotman_tui.plotters.phase import Phase
from tests.conftest import FIXTURES

FRAGMENT = (
    FIXTURES
    / "plotter-logs"
    / "fragments"
    / "gigahorse_cuda_plot_k32_C8_n2_plot2_gh109.fragment.log"
)
PLOT_2 = "b499fb004552a86954112c2d9972bde6a75bbadd8caa0ddd1c2cebd0a6fb40cc"
#: The longest a piece may take to be printed before the test gives up (a guard, not a wait).
ACK_TIMEOUT_S = 60.0

REPLAY = """\
#!{python}
# Replays real Gigahorse output (see the test module's docstring): piece N of the fragment is
# printed when a line arrives on the gate FIFO, then acknowledged on the ack FIFO.
import os, sys

lines = open(os.environ["REPLAY_FRAGMENT"], "rb").read().splitlines(keepends=True)
cuts = [int(cut) for cut in os.environ["REPLAY_CUTS"].split(",")]
with open(os.environ["REPLAY_GATE"], "rb") as gate, open(os.environ["REPLAY_ACK"], "wb", 0) as ack:
    start = 0
    for piece, end in enumerate(cuts):
        if not gate.readline():
            sys.exit(1)
        sys.stdout.buffer.write(b"".join(lines[start:end]))
        sys.stdout.buffer.flush()
        ack.write(b"%d\\n" % piece)
        start = end
    gate.readline()  # runs on, as a job does, until the test lets it end
"""


@dataclass
class Replay:
    """A running replaying job, and the FIFO ends the test drives it with."""

    job: StartedJob
    gate_fd: int
    ack_fd: int
    pieces_printed: int = 0

    def print_next_piece(self) -> None:
        os.write(self.gate_fd, b"go\n")
        ready, _, _ = select.select([self.ack_fd], [], [], ACK_TIMEOUT_S)
        assert ready, f"the replaying job printed no piece {self.pieces_printed}; log: " + (
            self.job.log_path.read_text(errors="replace")
        )
        assert os.read(self.ack_fd, 64) == b"%d\n" % self.pieces_printed
        self.pieces_printed += 1


def _cuts(lines: list[bytes]) -> list[int]:
    """Where the pieces end: after the plot's name, after the previous plot's copy started,
    after that copy finished, and at the end."""

    def after(start: bytes) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(start)) + 1

    return [after(b"Plot Name: "), after(b"Started copy to "), after(b"Copy to "), len(lines)]


@pytest.fixture
def farm(tmp_path: Path) -> dict[str, Path]:
    dirs = {name: tmp_path / name for name in ("logs", "tmp", "dst", "bin", "fifo")}
    for path in dirs.values():
        path.mkdir()
    return dirs


@pytest.fixture
def replay(farm: dict[str, Path]) -> Iterator[Replay]:
    script = farm["bin"] / "cuda_plot_k32"
    script.write_text(REPLAY.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    gate, ack = farm["fifo"] / "gate", farm["fifo"] / "ack"
    os.mkfifo(gate)
    os.mkfifo(ack)
    # Opened read-write here, before the job starts: neither side's open() waits for the other.
    gate_fd = os.open(gate, os.O_RDWR)
    ack_fd = os.open(ack, os.O_RDWR)
    lines = FRAGMENT.read_bytes().splitlines(keepends=True)
    env = dict(
        os.environ,
        REPLAY_FRAGMENT=str(FRAGMENT),
        REPLAY_CUTS=",".join(map(str, _cuts(lines))),
        REPLAY_GATE=str(gate),
        REPLAY_ACK=str(ack),
    )
    # chia-gigahorse#109's command, with this test's dirs.
    argv = [str(script), "-n", "2", "-C", "8", "-M", "60"]
    argv += ["-d", f"{farm['dst']}/", "-t", f"{farm['tmp']}/", "-3", f"{farm['tmp']}/"]
    job = start_job(argv, farm["logs"], env=env)
    try:
        yield Replay(job, gate_fd, ack_fd)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job.pid, signal.SIGKILL)
        job.popen.wait()
        os.close(gate_fd)
        os.close(ack_fd)


def only_job(scanner: Scanner, pid: int) -> Job:
    jobs = [job for job in scanner.scan().jobs if job.pid == pid]
    assert len(jobs) == 1, f"expected one job with pid {pid}, saw {jobs}"
    return jobs[0]


def test_a_gigahorse_job_is_seen_and_followed_through_its_log(
    farm: dict[str, Path], replay: Replay
) -> None:
    scanner = Scanner(farm["logs"])
    pid = replay.job.pid

    # Nothing printed yet: what the command line says.
    job = only_job(scanner, pid)
    assert (job.plotter, job.k, job.compression) == ("gigahorse", 32, 8)
    assert (job.tmp_dir, job.dst_dir) == (str(farm["tmp"]), str(farm["dst"]))
    assert job.buffer_mib == 60 * 1024  # -M 60: GiB of memory for its temp data
    assert job.log_file == str(replay.job.log_path)
    assert job.plot_id is None and job.phase in (None, Phase(0, 0))

    # Plot 2's header: its name, level and dirs (the real run's /mnt/tmp, as the log says).
    replay.print_next_piece()
    job = only_job(scanner, pid)
    assert (job.plot_id, job.phase, job.compression) == (PLOT_2, Phase(1, 1), 8)
    assert (job.tmp_dir, job.tmp2_dir, job.dst_dir) == ("/mnt/tmp", "/mnt/tmp", str(farm["dst"]))
    assert job.plot_started_at is not None

    # Plot 1's copy starts inside plot 2: plot 2 stays in phase 1.
    replay.print_next_piece()
    job = only_job(scanner, pid)
    assert (job.plot_id, job.phase, job.completed) == (PLOT_2, Phase(1, 1), False)

    # Plot 1's copy finishes during plot 2's table 1: plot 2 is neither done nor moved back.
    replay.print_next_piece()
    job = only_job(scanner, pid)
    assert (job.plot_id, job.phase, job.completed, job.final_file) == (
        PLOT_2,
        Phase(1, 2),
        False,
        None,
    )

    replay.print_next_piece()
    job = only_job(scanner, pid)
    assert (job.plot_id, job.phase, job.completed) == (PLOT_2, Phase(1, 3), False)

    # A fresh scanner (another `status`) reads the whole log at once and sees the same.
    again = only_job(Scanner(farm["logs"]), pid)
    assert (again.plot_id, again.phase, again.compression, again.completed) == (
        PLOT_2,
        Phase(1, 3),
        8,
        False,
    )
