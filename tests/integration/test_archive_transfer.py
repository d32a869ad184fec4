"""Moving plots with real rsync: to a local dir, to an rsync daemon, over SSH, and by a script.

Each test moves a plot-named file of random bytes through the real programs: the bytes arrive,
the source goes, transfers are found in the process table while they run, and a transfer cut
short (the daemon killed, the client stopped, a wrong host key) leaves the source in place and
nothing named like a plot at the far side.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from plotman_tui.config.schema import ArchiveTarget, TargetType
from plotman_tui.farm.archive.transfer import (
    RunningTransfer,
    StartedTransfer,
    TransferError,
    TransferOutcome,
    find_transfers,
    judge_transfer,
    read_transfer_report,
    start_transfer,
    transfer_destination,
)
from tests.conftest import require_real, wait_for
from tests.realservices import (  # noqa: F401
    LOOPBACK,
    RsyncDaemon,
    SshServer,
    other_filesystem_fixture,
    rsync_available,
    rsync_daemon_fixture,
    ssh_server_fixture,
)

pytestmark = pytest.mark.real_service

MIB = 1024 * 1024
# Slow enough that a transfer is still running when looked at, for a file of SLOW_BYTES.
SLOW_KBPS = 256
SLOW_BYTES = 4 * MIB
DONE_TIMEOUT_S = 10.0


@pytest.fixture(autouse=True)
def _need_rsync() -> None:
    require_real(rsync_available(), "rsync is not installed (apt-get install rsync)")


@pytest.fixture
def transfers() -> Iterator[list[StartedTransfer]]:
    """Transfers a test started; any still running at the end are killed with their group."""
    started: list[StartedTransfer] = []
    yield started
    for transfer in started:
        # Only while unreaped: a reaped transfer's pid may already be another process's.
        if transfer.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(transfer.pid, signal.SIGKILL)


def make_plot(directory: Path, size: int, hour: int = 10) -> Path:
    """A file named like a k18 plot holding ``size`` random bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"plot-k18-2026-11-24-{hour:02d}-00-{os.urandom(32).hex()}.plot"
    path.write_bytes(os.urandom(size))
    return path


def start(
    transfers: list[StartedTransfer],
    target: ArchiveTarget,
    source: Path,
    archive_dir: str,
    log_dir: Path,
) -> StartedTransfer:
    started = start_transfer(target, str(source), archive_dir, log_dir)
    transfers.append(started)
    return started


def finish(started: StartedTransfer) -> int:
    return started.popen.wait(DONE_TIMEOUT_S)


def plots_under(root: Path) -> list[Path]:
    """Every file named like a plot below ``root`` (a harvester scanning recursively)."""
    return sorted(root.rglob("*.plot"))


def temp_files_under(root: Path) -> list[Path]:
    """rsync's temp files (``.NAME.XXXXXX``) below ``root``."""
    return sorted(root.rglob(".plot-*"))


def found_under(root: Path, targets: list[ArchiveTarget]) -> list[RunningTransfer]:
    """find_transfers, less the transfers of tests running beside this one (pytest -n)."""
    return [t for t in find_transfers(targets) if Path(t.source).is_relative_to(root)]


def log_text(started: StartedTransfer) -> str:
    return started.log_path.read_text(errors="replace")


def assert_moved(started: StartedTransfer, source: Path, data: bytes, landed: Path) -> None:
    assert finish(started) == 0, log_text(started)
    assert not source.exists()
    assert landed.read_bytes() == data
    assert temp_files_under(landed.parent) == []
    assert judge_transfer(str(source), exit_code=0).outcome is TransferOutcome.DONE


def local_target(archive_dir: Path, **changes: object) -> ArchiveTarget:
    archive_dir.mkdir(parents=True, exist_ok=True)
    return ArchiveTarget(
        name="usb-disks",
        type=TargetType.LOCAL,
        archive_dirs=(str(archive_dir),),
        **changes,  # type: ignore[arg-type]
    )


def rsyncd_target(daemon: RsyncDaemon, **changes: object) -> ArchiveTarget:
    disk = daemon.module_root / "disk00"
    disk.mkdir(exist_ok=True)
    return ArchiveTarget(
        name="farmer",
        type=TargetType.RSYNCD,
        archive_dirs=(str(daemon.module_root), str(disk)),
        host=LOOPBACK,
        rsync_port=daemon.port,
        module=daemon.module,
        module_root=str(daemon.module_root),
        **changes,  # type: ignore[arg-type]
    )


def ssh_target(server: SshServer, archive_dir: Path, **changes: object) -> ArchiveTarget:
    archive_dir.mkdir(parents=True, exist_ok=True)
    options: dict[str, object] = {
        "known_hosts": server.known_hosts,
        "identity_file": server.identity_file,
        **changes,
    }
    return ArchiveTarget(
        name="farmer-ssh",
        type=TargetType.SSH,
        archive_dirs=(str(archive_dir),),
        host=LOOPBACK,
        user=server.user,
        ssh_port=server.port,
        **options,  # type: ignore[arg-type]
    )


# -- each target type moves a plot --------------------------------------------------------------


def test_local_target_moves_the_plot(tmp_path: Path, transfers: list[StartedTransfer]) -> None:
    source = make_plot(tmp_path / "dst", 2 * MIB)
    data = source.read_bytes()
    target = local_target(tmp_path / "farm" / "00")
    started = start(transfers, target, source, target.archive_dirs[0], tmp_path / "logs")
    landed = Path(transfer_destination(target, str(source), target.archive_dirs[0]))
    assert_moved(started, source, data, landed)
    assert started.log_path.parent == tmp_path / "logs"
    assert f"-usb-disks-{source.stem}.log" in started.log_path.name
    assert judge_transfer(str(source), local_destination=str(landed)).done


def test_rsyncd_target_moves_the_plot_into_a_dir_of_the_module(
    tmp_path: Path, rsync_daemon: RsyncDaemon, transfers: list[StartedTransfer]
) -> None:
    target = rsyncd_target(rsync_daemon)
    for archive_dir in target.archive_dirs:  # the module's root, and a dir in it
        source = make_plot(tmp_path / "dst", MIB)
        data = source.read_bytes()
        started = start(transfers, target, source, archive_dir, tmp_path / "logs")
        assert_moved(started, source, data, Path(archive_dir) / source.name)


def test_ssh_target_moves_the_plot_with_spaces_in_every_path(
    tmp_path: Path, ssh_server: SshServer, transfers: list[StartedTransfer]
) -> None:
    # The key, known_hosts and archive dir all have spaces: ssh's -o and rsync's -e split on them.
    keys = tmp_path / "my keys"
    keys.mkdir()
    identity = keys / "id ed25519"
    shutil.copy(ssh_server.identity_file, identity)
    identity.chmod(0o600)
    known_hosts = keys / "known hosts"
    shutil.copy(ssh_server.known_hosts, known_hosts)
    target = ssh_target(
        ssh_server, tmp_path / "farm disk 02", identity_file=identity, known_hosts=known_hosts
    )
    source = make_plot(tmp_path / "dst 0", 2 * MIB)
    data = source.read_bytes()
    started = start(transfers, target, source, target.archive_dirs[0], tmp_path / "logs")
    assert_moved(started, source, data, tmp_path / "farm disk 02" / source.name)


def test_script_target_runs_the_farmers_command_and_is_found_while_it_runs(
    tmp_path: Path, transfers: list[StartedTransfer], monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "send-plot"
    # A move as the contract asks: a temp name, a rename, then the source removed. It waits
    # for a go file, so it can be seen running.
    script.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            set -e
            while [ ! -e "$3" ]; do sleep 0.02; done
            cp "$1" "$2/.$(basename "$1").part"
            mv "$2/.$(basename "$1").part" "$2/$(basename "$1")"
            rm "$1"
            """
        )
    )
    script.chmod(0o755)
    go = tmp_path / "go"
    # Found on PATH: the process table then shows "/bin/sh <full path> ARGS".
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    archive_dir = tmp_path / "farm"
    archive_dir.mkdir()
    target = ArchiveTarget(
        name="my-script",
        type=TargetType.SCRIPT,
        archive_dirs=(str(archive_dir),),
        transfer_command=("send-plot", "{source}", "{archive_dir}", str(go)),
        free_space_command=("df", "{archive_dir}"),
    )
    source = make_plot(tmp_path / "dst", MIB)
    data = source.read_bytes()
    started = start(transfers, target, source, str(archive_dir), tmp_path / "logs")
    found = wait_for(
        lambda: found_under(tmp_path, [target]), 3.0, "the script in the process table"
    )
    assert [(t.pid, t.target, t.source, t.archive_dir) for t in found] == [
        (started.pid, "my-script", str(source), str(archive_dir))
    ]
    assert found[0].argv[-4:] == (str(script), str(source), str(archive_dir), str(go))
    go.touch()
    assert_moved(started, source, data, archive_dir / source.name)


# -- finding transfers --------------------------------------------------------------------------


def test_find_transfers_sees_each_running_transfer_once(
    tmp_path: Path,
    rsync_daemon: RsyncDaemon,
    ssh_server: SshServer,
    transfers: list[StartedTransfer],
    other_filesystem: Path,
) -> None:
    slow: dict[str, object] = {"bwlimit_kbps": SLOW_KBPS}
    usb = other_filesystem / "usb"  # another file system: the local mover copies
    targets = [
        local_target(usb, **slow),
        rsyncd_target(rsync_daemon, **slow),
        # This machine is the farmer here: rsync's server side runs beside its client.
        ssh_target(ssh_server, tmp_path / "farm-ssh", **slow),
    ]
    far_sides = [usb, rsync_daemon.module_root, tmp_path / "farm-ssh"]
    sources = [make_plot(tmp_path / "dst", SLOW_BYTES, hour) for hour in range(3)]
    started = [
        start(transfers, target, source, target.archive_dirs[-1], tmp_path / "logs")
        for target, source in zip(targets, sources, strict=True)
    ]
    for far_side in far_sides:  # bytes are flowing: every helper process has started
        wait_for(lambda side=far_side: temp_files_under(side), 3.0, f"a temp file in {far_side}")

    def summary(found: list[RunningTransfer]) -> list[tuple[int, str | None, str, str | None]]:
        return sorted((t.pid, t.target, t.source, t.archive_dir) for t in found)

    expected = sorted((s.pid, s.target, s.source, s.archive_dir) for s in started)
    found = found_under(tmp_path, targets)
    assert summary(found) == expected
    assert {t.pid: t.create_time for t in found} == {s.pid: s.create_time for s in started}
    # A manager restarted with other options (a new bwlimit) still knows its transfers; one
    # restarted without the targets still sees the plots on their way.
    assert summary(found_under(tmp_path, [local_target(usb), *targets[1:]])) == expected
    assert summary(found_under(tmp_path, [])) == sorted(
        (s.pid, None, s.source, None) for s in started
    )

    # Stopped half-way: the source stays and the far side holds nothing named like a plot.
    for transfer in started:
        os.killpg(transfer.pid, signal.SIGTERM)
    codes = [finish(transfer) for transfer in started]
    # A local rsync's receiver outlives its client for a moment, cleaning up: the transfer is
    # over once no process of it is left.
    wait_for(
        lambda: not found_under(tmp_path, targets), 3.0, "every process of the transfers to end"
    )
    for code, source, far_side in zip(codes, sources, far_sides, strict=True):
        assert code != 0
        assert source.stat().st_size == SLOW_BYTES
        assert plots_under(far_side) == []
        verdict = judge_transfer(str(source), exit_code=code)
        assert verdict.outcome is TransferOutcome.FAILED
        assert "sent again later" in verdict.reason


def test_a_transfer_outlives_the_manager_that_started_it(tmp_path: Path) -> None:
    target = local_target(tmp_path / "usb", bwlimit_kbps=SLOW_KBPS)
    source = make_plot(tmp_path / "dst", SLOW_BYTES)
    # A manager in its own process, gone once it has started the transfer.
    manager = textwrap.dedent(
        """\
        import sys
        from pathlib import Path
        from plotman_tui.config.schema import ArchiveTarget, TargetType
        from plotman_tui.farm.archive.transfer import start_transfer
        source, archive_dir, log_dir, kbps = sys.argv[1:]
        target = ArchiveTarget(
            name="usb-disks",
            type=TargetType.LOCAL,
            archive_dirs=(archive_dir,),
            bwlimit_kbps=int(kbps),
        )
        print(start_transfer(target, source, archive_dir, Path(log_dir)).pid)
        """
    )
    argv = [str(source), target.archive_dirs[0], str(tmp_path / "logs"), str(SLOW_KBPS)]
    done = subprocess.run(
        [sys.executable, "-c", manager, *argv],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    pid = int(done.stdout)
    try:
        found = found_under(tmp_path, [target])
        assert [(t.pid, t.target, t.source) for t in found] == [(pid, "usb-disks", str(source))]
    finally:
        os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not found_under(tmp_path, [target]), 3.0, "the killed transfer to go")
    assert judge_transfer(str(source)).outcome is TransferOutcome.FAILED
    assert plots_under(tmp_path / "usb") == []


# -- transfers cut short ------------------------------------------------------------------------


def test_rsync_daemon_killed_mid_transfer_leaves_the_source_and_no_plot(
    tmp_path: Path, rsync_daemon: RsyncDaemon, transfers: list[StartedTransfer]
) -> None:
    target = rsyncd_target(rsync_daemon, bwlimit_kbps=SLOW_KBPS)
    source = make_plot(tmp_path / "dst", SLOW_BYTES)
    started = start(transfers, target, source, target.archive_dirs[1], tmp_path / "logs")
    far_side = rsync_daemon.module_root
    wait_for(lambda: temp_files_under(far_side), 3.0, "the transfer to start writing")
    rsync_daemon.kill()
    code = finish(started)
    assert code not in (0, None), log_text(started)
    assert source.stat().st_size == SLOW_BYTES
    assert plots_under(far_side) == []
    verdict = judge_transfer(str(source), exit_code=code)
    assert verdict.outcome is TransferOutcome.FAILED
    assert f"rsync exited with status {code} (" in verdict.reason


def test_wrong_host_key_sends_nothing(
    tmp_path: Path, ssh_server: SshServer, transfers: list[StartedTransfer]
) -> None:
    wrong = ssh_server.write_wrong_known_hosts(tmp_path / "known_hosts")
    target = ssh_target(ssh_server, tmp_path / "farm", known_hosts=wrong)
    source = make_plot(tmp_path / "dst", MIB)
    started = start(transfers, target, source, target.archive_dirs[0], tmp_path / "logs")
    code = finish(started)
    # 255 from ssh, or 12 when rsync notices the broken pipe first (seen under load).
    assert code in (255, 12)
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in log_text(started)
    assert source.stat().st_size == MIB
    assert list((tmp_path / "farm").iterdir()) == []
    report = read_transfer_report(started.log_path, source.name)
    assert report.ssh_error == "Host key verification failed."
    verdict = judge_transfer(str(source), exit_code=code, report=report)
    assert verdict.outcome is TransferOutcome.FAILED
    assert "the SSH connection failed: Host key verification failed." in verdict.reason


@pytest.mark.parametrize("code", [255, 12])
def test_a_failed_ssh_connection_is_named_whatever_status_rsync_gives(
    tmp_path: Path, code: int
) -> None:
    source = make_plot(tmp_path / "dst", MIB)
    log = tmp_path / "transfer.log"
    log.write_text(
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
        "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
        "Host key verification failed.\n"
        "rsync: connection unexpectedly closed (0 bytes received so far) [sender]\n"
        f"rsync error: error in rsync protocol data stream (code {code}) at io.c(232)\n"
    )
    report = read_transfer_report(log, source.name)
    verdict = judge_transfer(str(source), exit_code=code, report=report)
    assert verdict.outcome is TransferOutcome.FAILED
    assert "the SSH connection failed: Host key verification failed." in verdict.reason
    assert source.stat().st_size == MIB


def test_host_key_check_off_connects_despite_a_wrong_key(
    tmp_path: Path, ssh_server: SshServer, transfers: list[StartedTransfer]
) -> None:
    wrong = ssh_server.write_wrong_known_hosts(tmp_path / "known_hosts")
    target = ssh_target(ssh_server, tmp_path / "farm", known_hosts=wrong, verify_host_key=False)
    source = make_plot(tmp_path / "dst", MIB)
    data = source.read_bytes()
    started = start(transfers, target, source, target.archive_dirs[0], tmp_path / "logs")
    assert_moved(started, source, data, tmp_path / "farm" / source.name)
    assert wrong.read_text().count("\n") == 1  # nothing was added to it


def test_missing_archive_dir_is_not_created(
    tmp_path: Path, transfers: list[StartedTransfer]
) -> None:
    # An archive disk that is not mounted: the mover must not make its dir on the root disk.
    target = local_target(tmp_path / "usb")
    (tmp_path / "usb").rmdir()
    source = make_plot(tmp_path / "dst", MIB)
    started = start(transfers, target, source, target.archive_dirs[0], tmp_path / "logs")
    code = finish(started)
    assert code == 1, log_text(started)
    assert "No such file or directory" in log_text(started)
    assert not (tmp_path / "usb").exists()
    assert source.stat().st_size == MIB


# -- starting errors ----------------------------------------------------------------------------


def test_start_errors_are_one_line(tmp_path: Path) -> None:
    target = local_target(tmp_path / "usb")
    with pytest.raises(TransferError, match=r"no such plot file") as missing:
        start_transfer(target, str(tmp_path / "nope.plot"), target.archive_dirs[0], tmp_path)
    source = make_plot(tmp_path / "dst", 1024)
    with pytest.raises(TransferError, match=r"not an archive dir of target usb-disks"):
        start_transfer(target, str(source), str(tmp_path), tmp_path)
    script = ArchiveTarget(
        name="my-script",
        type=TargetType.SCRIPT,
        archive_dirs=("/farm",),
        transfer_command=(str(tmp_path / "no-such-program"), "{source}"),
        free_space_command=("df", "{archive_dir}"),
    )
    with pytest.raises(TransferError, match=r"cannot run .*no-such-program: not found") as absent:
        start_transfer(script, str(source), "/farm", tmp_path / "logs")
    for error in (missing.value, absent.value):
        assert "\n" not in str(error)
    assert list((tmp_path / "logs").iterdir()) == []  # no log left for a transfer that never ran
    assert source.exists()


def test_psutil_finds_the_same_transfer_as_proc(
    tmp_path: Path,
    transfers: list[StartedTransfer],
    monkeypatch: pytest.MonkeyPatch,
    other_filesystem: Path,
) -> None:
    # Off Linux, the process table is read with psutil: same transfer, same create time.
    target = local_target(other_filesystem / "usb", bwlimit_kbps=SLOW_KBPS)
    source = make_plot(tmp_path / "dst", SLOW_BYTES)
    started = start(transfers, target, source, target.archive_dirs[0], tmp_path / "logs")
    wait_for(lambda: temp_files_under(other_filesystem), 3.0, "the transfer to start writing")
    from_proc = found_under(tmp_path, [target])
    monkeypatch.setattr("plotman_tui.farm.discovery.LINUX_PROC", False)
    monkeypatch.setattr("plotman_tui.farm.procfs.LINUX_PROC", False)
    from_psutil = found_under(tmp_path, [target])
    assert from_psutil == from_proc
    assert [(t.pid, t.create_time) for t in from_psutil] == [(started.pid, started.create_time)]
