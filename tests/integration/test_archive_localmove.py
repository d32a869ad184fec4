"""The local mover's faults: a full target, a target removed mid-copy, a mover killed mid-copy.

Each leaves the source whole and nothing named like a plot at the far side; a killed mover's
hidden temp file is removed once no mover of that plot is alive.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plotman_tui.config.schema import ArchiveTarget, TargetType
from plotman_tui.farm.archive.localmove import EXIT_DIFFERS, stale_temp_files
from plotman_tui.farm.archive.transfer import (
    LOCAL_MOVER,
    TransferOutcome,
    TransferReport,
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


# -- adversarial cases (issue 10) ----------------------------------------------------------------


def run_mover(source: Path, destination: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """The mover as the archiver runs it, to its end."""
    argv = [sys.executable, "-m", LOCAL_MOVER, *options, "--", str(source), str(destination)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def start_mover(source: Path, destination: Path, *options: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", LOCAL_MOVER, *options, "--", str(source), str(destination)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_an_archive_dir_that_is_a_symlink_to_the_plots_own_dir_moves_nothing(
    tmp_path: Path,
) -> None:
    # The far "file" of the plot's name is the plot itself: taken for a copy with the same
    # bytes, the only copy would be removed.
    source = make_plot(tmp_path / "dst", MIB)
    data = source.read_bytes()
    (tmp_path / "usb").symlink_to(tmp_path / "dst")
    done = run_mover(source, tmp_path / "usb" / source.name)
    assert done.returncode == 1, done.stdout
    assert "is the dir the plot is in: nothing moved" in done.stdout, done.stdout
    assert source.read_bytes() == data


def test_a_far_symlink_of_the_plots_name_is_never_taken_for_a_copy(tmp_path: Path) -> None:
    # A symlink back to the plot (or anywhere): its bytes read as the plot's, yet it is no copy.
    source = make_plot(tmp_path / "dst", MIB)
    data = source.read_bytes()
    far = tmp_path / "usb"
    far.mkdir()
    (far / source.name).symlink_to(source)
    done = run_mover(source, far / source.name)
    assert done.returncode == EXIT_DIFFERS, done.stdout
    assert f"{source.name} exists (not a regular file)" in done.stdout
    assert source.read_bytes() == data
    assert (far / source.name).is_symlink()
    report = TransferReport(exists="not a regular file")
    verdict = judge_transfer(
        str(source), exit_code=EXIT_DIFFERS, program="localmove", report=report
    )
    assert verdict.outcome is TransferOutcome.DIFFERS


@pytest.mark.parametrize("where", ["same-filesystem", "other-filesystem"])
def test_an_archive_dir_that_is_a_symlink_to_a_disk_gets_the_plot(
    tmp_path: Path, where: str, request: pytest.FixtureRequest
) -> None:
    # /mnt/farm/usb3 -> /media/disk-1234/plots, as farmers link their disks.
    disk = tmp_path / "media" / "plots"
    if where == "other-filesystem":
        disk = request.getfixturevalue("other_filesystem") / "plots"
    disk.mkdir(parents=True)
    (tmp_path / "usb").symlink_to(disk)
    source = make_plot(tmp_path / "dst", 2 * MIB)
    data = source.read_bytes()
    done = run_mover(source, tmp_path / "usb" / source.name)
    assert done.returncode == 0, done.stdout
    assert not source.exists()
    assert [p.name for p in disk.iterdir()] == [source.name]  # no temp file left
    assert (disk / source.name).read_bytes() == data
    assert (tmp_path / "usb").is_symlink()


def test_a_source_removed_mid_copy_leaves_nothing_at_the_far_side(
    tmp_path: Path, other_filesystem: Path
) -> None:
    source = make_plot(tmp_path / "dst", 4 * MIB)
    mover = start_mover(source, other_filesystem / source.name, "--bwlimit-kbps=1024")
    wait_for(lambda: temp_files(other_filesystem), TIMEOUT_S, "the copy to start")
    source.unlink()  # the farmer deletes it, or another tool moves it away
    output, _ = mover.communicate(timeout=TIMEOUT_S)
    assert mover.returncode == 1, output
    assert f"{source.name} was removed while it was copied" in output, output
    assert "the source is left in place" not in output
    assert list(other_filesystem.iterdir()) == []
    verdict = judge_transfer(
        str(source),
        exit_code=1,
        program="localmove",
        local_destination=str(other_filesystem / source.name),
    )
    assert verdict.outcome is TransferOutcome.VANISHED


def test_a_source_replaced_mid_copy_is_never_deleted(
    tmp_path: Path, other_filesystem: Path
) -> None:
    # Another file put in its place, of the same size and mtime (cp -p, rsync -t): the bytes
    # copied are the old file's, so the new one must stay.
    source = make_plot(tmp_path / "dst", 4 * MIB)
    stat = source.stat()
    mover = start_mover(source, other_filesystem / source.name, "--bwlimit-kbps=1024")
    wait_for(lambda: temp_files(other_filesystem), TIMEOUT_S, "the copy to start")
    replacement = tmp_path / "dst" / "incoming"
    new_data = os.urandom(stat.st_size)
    replacement.write_bytes(new_data)
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, source)
    output, _ = mover.communicate(timeout=TIMEOUT_S)
    assert mover.returncode == 1, output
    assert f"{source.name} changed while it was copied" in output, output
    assert source.read_bytes() == new_data
    assert list(other_filesystem.iterdir()) == []


def test_a_missing_source_is_said_so(tmp_path: Path) -> None:
    (tmp_path / "usb").mkdir()
    source = tmp_path / "dst" / "plot-k18-gone.plot"
    done = run_mover(source, tmp_path / "usb" / source.name)
    assert done.returncode == 1
    assert done.stdout.strip() == f"localmove: {source}: no such plot file; nothing moved"


def test_a_mover_killed_between_rename_and_unlink_leaves_both_then_the_next_run_removes_the_source(
    tmp_path: Path, other_filesystem: Path
) -> None:
    # SIGKILL exactly when the mover removes the source (the plot renamed into place a moment
    # before): the plot is then whole in both places.
    source = make_plot(tmp_path / "dst", 2 * MIB)
    data = source.read_bytes()
    far = other_filesystem / source.name
    run_mover_killed_at_unlink(source, far)
    assert source.read_bytes() == data and far.read_bytes() == data
    assert list(other_filesystem.iterdir()) == [far]  # renamed: no temp file left
    # The next run finds the plot's bytes there: the source goes, the far copy stays.
    done = run_mover(source, far)
    assert done.returncode == 0, done.stdout
    assert f"{source.name} exists (uptodate)" in done.stdout
    assert not source.exists() and far.read_bytes() == data
    report = TransferReport(files_sent=0, literal_bytes=0, exists="uptodate")
    verdict = judge_transfer(
        str(source), exit_code=0, program="localmove", local_destination=str(far), report=report
    )
    assert verdict.outcome is TransferOutcome.DONE


def run_mover_killed_at_unlink(source: Path, destination: Path) -> None:
    """The mover, killed -9 by an audit hook the moment it unlinks its source."""
    killed = subprocess.run(
        [sys.executable, "-c", _KILL_AT_UNLINK, "--", str(source), str(destination)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr


_KILL_AT_UNLINK = f"""
import os, signal, sys
from {LOCAL_MOVER} import main
source = sys.argv[-2]
def hook(event, args):
    if event == "os.remove" and os.fsdecode(args[0]) == source:
        os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
sys.exit(main(sys.argv[1:]))
"""
