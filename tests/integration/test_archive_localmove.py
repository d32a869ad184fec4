"""The local mover's faults: a full target, a target removed mid-copy, a mover killed mid-copy.

Each leaves the source whole and nothing named like a plot at the far side; a killed mover's
hidden temp file is removed once no mover of that plot is alive.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from plotman_tui.config.schema import ArchiveTarget, TargetType
from plotman_tui.farm.archive.localmove import stale_temp_files
from plotman_tui.farm.archive.transfer import (
    TransferOutcome,
    find_transfers,
    judge_transfer,
    start_transfer,
)
from tests.conftest import wait_for
from tests.realservices import other_filesystem_fixture, small_filesystem  # noqa: F401

MIB = 1024 * 1024
TIMEOUT_S = 10.0


def make_plot(directory: Path, size: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"plot-k18-2026-11-24-10-00-{os.urandom(32).hex()}.plot"
    path.write_bytes(os.urandom(size))
    return path


def target_for(archive_dir: Path, **changes: object) -> ArchiveTarget:
    archive_dir.mkdir(parents=True, exist_ok=True)
    return ArchiveTarget(
        name="usb",
        type=TargetType.LOCAL,
        archive_dirs=(str(archive_dir),),
        **changes,  # type: ignore[arg-type]
    )


def temp_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(".plot-*.partial-*")) if directory.exists() else []


def test_a_full_target_leaves_the_source_and_no_partial_file(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small", 1 * MIB) as small:
        target = target_for(small / "disk")
        source = make_plot(tmp_path / "dst", 3 * MIB)
        data = source.read_bytes()
        started = start_transfer(target, str(source), target.archive_dirs[0], tmp_path / "logs")
        assert started.popen.wait(TIMEOUT_S) == 1
        log = started.log_path.read_text()
        assert "No space left on device" in log, log
        assert source.read_bytes() == data
        assert list((small / "disk").iterdir()) == []
        verdict = judge_transfer(str(source), exit_code=1, program="localmove")
        assert verdict.outcome is TransferOutcome.FAILED


def test_a_target_removed_mid_copy_leaves_the_source(
    tmp_path: Path, other_filesystem: Path
) -> None:
    disk = other_filesystem / "disk"
    target = target_for(disk, bwlimit_kbps=1024)
    source = make_plot(tmp_path / "dst", 4 * MIB)
    data = source.read_bytes()
    started = start_transfer(target, str(source), target.archive_dirs[0], tmp_path / "logs")
    wait_for(lambda: temp_files(disk), TIMEOUT_S, "the copy to start")
    shutil.rmtree(disk)  # unplugged
    assert started.popen.wait(TIMEOUT_S) == 1, started.log_path.read_text()
    assert source.read_bytes() == data
    assert not disk.exists()


def test_a_mover_killed_mid_copy_leaves_a_hidden_temp_file_removed_later(
    tmp_path: Path, other_filesystem: Path
) -> None:
    disk = other_filesystem / "disk"
    target = target_for(disk, bwlimit_kbps=1024)
    source = make_plot(tmp_path / "dst", 4 * MIB)
    data = source.read_bytes()
    started = start_transfer(target, str(source), target.archive_dirs[0], tmp_path / "logs")
    (temp,) = wait_for(lambda: temp_files(disk), TIMEOUT_S, "the copy to start")
    # While the mover is alive its temp file is not stale.
    (running,) = [t for t in find_transfers([target]) if t.source == str(source)]
    assert running.pid == started.pid and running.leftover_of is None
    assert list(stale_temp_files(str(disk), {running.plot_name}, time.time(), 0)) == []
    os.kill(started.pid, signal.SIGKILL)
    started.popen.wait(TIMEOUT_S)
    assert source.read_bytes() == data
    assert sorted(p.name for p in disk.rglob("*.plot")) == []  # the temp name is no plot's
    assert temp.exists()
    assert list(stale_temp_files(str(disk), set(), time.time(), 0)) == [str(temp)]
