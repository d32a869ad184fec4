"""Free space of archive dirs read for real: df over SSH on a real sshd, local dirs, scripts.

127.0.0.1 is this machine, so what df says over SSH can be checked against os.statvfs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import psutil
import pytest

from plotman_tui.config.schema import ArchiveTarget, TargetType
from plotman_tui.farm.archive.space import (
    SpaceMonitor,
    SshConnections,
    TargetSpace,
    df_command,
    parse_df_report,
    read_target_space,
)
from tests.conftest import wait_for
from tests.realservices import (  # noqa: F401 (the fixture registers by import)
    LOOPBACK,
    SshServer,
    ssh_server_fixture,
)

pytestmark = pytest.mark.real_service

TIMEOUT_S = 1.0
# How far past its timeout a read may end before it counts as hung: room for a loaded machine,
# not a speed goal (those live in bench/).
HANG_S = 10.0
# Other tests (and pytest's own files) write to the same filesystem between the two readings.
DRIFT_BYTES = 256 * 1024**2


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def statvfs_free(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def make_dirs(base: Path, *names: str) -> tuple[str, ...]:
    for name in names:
        (base / name).mkdir()
    return tuple(str(base / name) for name in names)


def ssh_target(
    server: SshServer, dirs: tuple[str, ...], *, name: str = "farmer", **overrides: object
) -> ArchiveTarget:
    options: dict[str, object] = {
        "name": name,
        "type": TargetType.SSH,
        "archive_dirs": dirs,
        "host": LOOPBACK,
        "user": server.user,
        "ssh_port": server.port,
        "known_hosts": server.known_hosts,
        "identity_file": server.identity_file,
        **overrides,
    }
    return ArchiveTarget(**options)  # type: ignore[arg-type]


def local_target(dirs: tuple[str, ...], name: str = "local") -> ArchiveTarget:
    return ArchiveTarget(name=name, type=TargetType.LOCAL, archive_dirs=dirs)


def logins(server: SshServer) -> int:
    return server.log_text().count("Accepted publickey")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections and never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(16)  # the kernel completes handshakes; nobody ever reads or writes
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.fixture
async def connections() -> AsyncIterator[SshConnections]:
    cache = SshConnections()
    try:
        yield cache
    finally:
        await cache.close()


# -- df over SSH --------------------------------------------------------------------------------


async def test_df_over_ssh_matches_statvfs(ssh_server: SshServer, tmp_path: Path) -> None:
    dirs = make_dirs(tmp_path, "disk 01")
    space = await read_target_space(ssh_target(ssh_server, dirs), timeout_s=5.0)

    local_free = statvfs_free(tmp_path)
    assert space.problem is None and space.reachable, space
    assert space.target == "farmer"
    free = space.free_bytes[dirs[0]]
    assert free is not None
    assert abs(free - local_free) <= DRIFT_BYTES
    assert time.time() - 10 < space.checked_at <= time.time()


async def test_missing_dir_is_unknown_with_reason_and_the_others_read(
    ssh_server: SshServer, tmp_path: Path
) -> None:
    dirs = make_dirs(tmp_path, "d1", "it's a $(dir)")
    (tmp_path / "file").write_text("not a dir")
    asked = (dirs[0], str(tmp_path / "gone"), str(tmp_path / "file"), dirs[1])
    space = await read_target_space(ssh_target(ssh_server, asked), timeout_s=5.0)

    assert space.problem is None, space
    assert list(space.free_bytes) == list(asked)
    for present in dirs:
        free = space.free_bytes[present]
        assert free is not None and abs(free - statvfs_free(tmp_path)) <= DRIFT_BYTES
    assert space.free_bytes[asked[1]] is None
    assert space.free_bytes[asked[2]] is None
    assert dict(space.dir_problems) == {asked[1]: "missing", asked[2]: "not a dir"}


async def test_rsyncd_target_reads_free_space_over_ssh(
    ssh_server: SshServer, tmp_path: Path
) -> None:
    dirs = make_dirs(tmp_path, "plots")
    target = ssh_target(
        ssh_server, dirs, type=TargetType.RSYNCD, module="plots", module_root=dirs[0]
    )
    space = await read_target_space(target, timeout_s=5.0)
    assert space.problem is None and space.free_bytes[dirs[0]] is not None


async def test_a_changed_host_key_is_refused(ssh_server: SshServer, tmp_path: Path) -> None:
    dirs = make_dirs(tmp_path, "d1")
    wrong = ssh_server.write_wrong_known_hosts(tmp_path / "known_hosts")
    space = await read_target_space(ssh_target(ssh_server, dirs, known_hosts=wrong), timeout_s=5.0)

    assert space.problem is not None and "\n" not in space.problem
    assert space.problem.startswith(f"SSH host key of {LOOPBACK}:{ssh_server.port} has changed")
    assert "ssh-keygen -R" in space.problem and "ssh-keyscan" in space.problem
    assert dict(space.free_bytes) == {dirs[0]: None}
    assert space.reachable  # it answered; the user must act


async def test_an_unknown_host_key_is_refused(ssh_server: SshServer, tmp_path: Path) -> None:
    dirs = make_dirs(tmp_path, "d1")
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    space = await read_target_space(ssh_target(ssh_server, dirs, known_hosts=empty), timeout_s=5.0)

    assert space.problem == (
        f"SSH host key of {LOOPBACK}:{ssh_server.port} is not in {empty}, so it is refused: "
        "check the farmer's key (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the "
        f"farmer) and add it with: ssh-keyscan -p {ssh_server.port} {LOOPBACK} >> {empty}"
    )
    assert dict(space.free_bytes) == {dirs[0]: None}

    absent = tmp_path / "no_such_known_hosts"
    space = await read_target_space(ssh_target(ssh_server, dirs, known_hosts=absent), timeout_s=5.0)
    assert space.problem is not None and f"({absent} does not exist)" in space.problem


async def test_added_with_ssh_keyscan_the_key_is_accepted(
    ssh_server: SshServer, tmp_path: Path
) -> None:
    """The fix the refusal suggests works as written."""
    dirs = make_dirs(tmp_path, "d1")
    known_hosts = tmp_path / "known_hosts"
    target = ssh_target(ssh_server, dirs, known_hosts=known_hosts)
    refused = await read_target_space(target, timeout_s=5.0)
    assert refused.problem is not None
    fix = refused.problem.split("add it with: ", 1)[1]
    subprocess.run(["sh", "-c", fix], check=True, capture_output=True, timeout=10)

    space = await read_target_space(target, timeout_s=5.0)
    assert space.problem is None and space.free_bytes[dirs[0]] is not None


async def test_verify_host_key_false_accepts_any_key(ssh_server: SshServer, tmp_path: Path) -> None:
    dirs = make_dirs(tmp_path, "d1")
    wrong = ssh_server.write_wrong_known_hosts(tmp_path / "known_hosts")
    target = ssh_target(ssh_server, dirs, known_hosts=wrong, verify_host_key=False)
    space = await read_target_space(target, timeout_s=5.0)
    assert space.problem is None and space.free_bytes[dirs[0]] is not None


async def test_a_key_the_farmer_does_not_know_is_a_login_problem(
    ssh_server: SshServer, tmp_path: Path
) -> None:
    dirs = make_dirs(tmp_path, "d1")
    stranger = tmp_path / "id_stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    space = await read_target_space(
        ssh_target(ssh_server, dirs, identity_file=stranger), timeout_s=5.0
    )
    assert space.problem == (
        f"SSH login as {ssh_server.user} on {LOOPBACK}:{ssh_server.port} refused (no key "
        f"accepted): add the public key of {stranger} to the farmer's authorized_keys"
    )

    locked = tmp_path / "id_locked"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(locked)],
        check=True,
        capture_output=True,
        timeout=10,
    )
    space = await read_target_space(
        ssh_target(ssh_server, dirs, identity_file=locked), timeout_s=5.0
    )
    assert space.problem is not None
    assert space.problem == (
        f"identity_file {locked} is protected by a passphrase, which cannot be asked for here: "
        f"load it into ssh-agent (ssh-add {locked}) and leave identity_file out"
    )

    missing = tmp_path / "id_missing"
    space = await read_target_space(
        ssh_target(ssh_server, dirs, identity_file=missing), timeout_s=5.0
    )
    assert space.problem is not None
    assert space.problem.startswith(f"identity_file {missing} does not exist")


async def test_one_connection_is_kept_and_reused(
    ssh_server: SshServer, tmp_path: Path, connections: SshConnections
) -> None:
    target = ssh_target(ssh_server, make_dirs(tmp_path, "d1"))
    for _ in range(3):
        space = await read_target_space(target, timeout_s=5.0, connection_cache=connections)
        assert space.problem is None
    assert logins(ssh_server) == 1


async def test_killed_sshd_is_unreachable_then_backs_off_then_comes_back(
    ssh_server: SshServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    target = ssh_target(ssh_server, make_dirs(tmp_path, "d1"))
    # A refused connection is told at once; the reads that must succeed (a fresh login to the
    # restarted sshd included) get more than TIMEOUT_S, which a loaded CI machine exceeded.
    monitor = SpaceMonitor([target], ttl_s=60, timeout_s=5 * TIMEOUT_S, backoff_s=10, clock=clock)
    try:
        await monitor.refresh_due()
        first = monitor.current("farmer")
        assert first is not None and first.problem is None
        assert monitor.due_at("farmer") == clock.now + 60

        ssh_server.kill()
        clock.now += 60
        started = time.monotonic()
        await monitor.refresh_due()
        assert time.monotonic() - started < 5 * TIMEOUT_S + HANG_S  # no hang: it says refused
        down = monitor.current("farmer")
        assert down is not None and not down.reachable
        assert down.problem == (
            f"farmer unreachable: {LOOPBACK}:{ssh_server.port} refused the connection "
            "(sshd not running, or the wrong ssh_port?)"
        )
        assert monitor.due_at("farmer") == clock.now + 10

        clock.now += 5  # still backing off: no read
        await monitor.refresh_due()
        assert monitor.current("farmer") is down

        clock.now += 5
        await monitor.refresh_due()
        again = monitor.current("farmer")
        assert again is not down and again is not None and not again.reachable
        assert monitor.due_at("farmer") == clock.now + 20  # doubled

        ssh_server.start()
        clock.now += 19.9
        await monitor.refresh_due()
        assert monitor.current("farmer") is again
        clock.now += 0.1
        await monitor.refresh_due()
        back = monitor.current("farmer")
        assert back is not None and back.problem is None and back.reachable
        assert back.free_bytes[target.archive_dirs[0]] is not None
        assert monitor.due_at("farmer") == clock.now + 60
    finally:
        await monitor.close()


async def test_backoff_is_capped(ssh_server: SshServer, tmp_path: Path) -> None:
    clock = FakeClock()
    target = ssh_target(ssh_server, make_dirs(tmp_path, "d1"))
    ssh_server.kill()
    monitor = SpaceMonitor([target], timeout_s=TIMEOUT_S, backoff_s=1, max_backoff_s=3, clock=clock)
    delays = []
    for _ in range(4):
        await monitor.refresh_due()
        due = monitor.due_at("farmer")
        assert due is not None
        delays.append(due - clock.now)
        clock.now = due
    assert delays == [1, 2, 3, 3]
    await monitor.close()


async def test_a_silent_farmer_times_out_and_delays_no_other_target(
    silent_port: int, tmp_path: Path
) -> None:
    silent = ArchiveTarget(
        name="silent",
        type=TargetType.SSH,
        archive_dirs=("/farm/d1",),
        host=LOOPBACK,
        ssh_port=silent_port,
        verify_host_key=False,
    )
    local = local_target(make_dirs(tmp_path, "d1"))

    started = time.monotonic()
    space = await read_target_space(silent, timeout_s=TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + HANG_S
    assert space.problem == (
        f"farmer unreachable: no SSH answer from {LOOPBACK}:{silent_port} within 1 s"
    )
    assert not space.reachable and dict(space.free_bytes) == {"/farm/d1": None}

    monitor = SpaceMonitor([silent, local], timeout_s=TIMEOUT_S)
    started = time.monotonic()
    refreshing = asyncio.create_task(monitor.refresh_due())
    while monitor.current("local") is None and not refreshing.done():
        await asyncio.sleep(0.01)
    # The local target's space came while the silent farmer's read was still under way.
    assert monitor.current("local") is not None
    assert monitor.current("silent") is None  # still waiting for its answer
    await refreshing
    elapsed = time.monotonic() - started
    assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + HANG_S
    late = monitor.current("silent")
    assert late is not None and not late.reachable
    await monitor.close()


async def test_a_farmer_that_stops_answering_on_a_kept_connection(
    ssh_server: SshServer, tmp_path: Path, connections: SshConnections
) -> None:
    """A frozen farmer (or a NAT that forgot us): the kept connection is dropped, not trusted."""
    target = ssh_target(ssh_server, make_dirs(tmp_path, "d1"))
    first = await read_target_space(target, timeout_s=5.0, connection_cache=connections)
    assert first.problem is None
    assert ssh_server.pid is not None
    sshd = psutil.Process(ssh_server.pid)
    frozen = [sshd, *sshd.children(recursive=True)]
    for process in frozen:
        process.suspend()
    try:
        started = time.monotonic()
        space = await read_target_space(target, timeout_s=TIMEOUT_S, connection_cache=connections)
        assert time.monotonic() - started < TIMEOUT_S + HANG_S
        assert space.problem == (
            f"farmer unreachable: no SSH answer from {LOOPBACK}:{ssh_server.port} within 1 s"
        )
    finally:
        for process in frozen:
            process.resume()
    space = await read_target_space(target, timeout_s=5.0, connection_cache=connections)
    assert space.problem is None
    assert logins(ssh_server) == 2  # a new connection after the frozen one


async def test_stopping_run_does_not_wait_for_a_silent_farmer(silent_port: int) -> None:
    silent = ArchiveTarget(
        name="silent",
        type=TargetType.SSH,
        archive_dirs=("/farm/d1",),
        host=LOOPBACK,
        ssh_port=silent_port,
        verify_host_key=False,
    )
    monitor = SpaceMonitor([silent], timeout_s=30)
    stop = asyncio.Event()
    running = asyncio.create_task(monitor.run(stop))
    # Its read under way: connected, waiting for an SSH banner that never comes.
    while not connected_to(silent_port):
        await asyncio.sleep(0.01)
    stop.set()
    # Stopped long before the read's own 30 s timeout: it did not wait for the farmer.
    await asyncio.wait_for(running, 5.0)
    await monitor.close()


async def test_run_keeps_samples_fresh_and_invalidate_reads_again(tmp_path: Path) -> None:
    first = local_target(make_dirs(tmp_path, "a"), name="first")
    second = local_target(make_dirs(tmp_path, "b"), name="second")
    monitor = SpaceMonitor([first, second], ttl_s=60, timeout_s=TIMEOUT_S)
    stop = asyncio.Event()
    running = asyncio.create_task(monitor.run(stop))
    try:
        deadline = time.monotonic() + 3
        while monitor.current("first") is None or monitor.current("second") is None:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        before = monitor.current("first")
        untouched = monitor.current("second")
        # The TTL has not run out: the next read is not due for most of its 60 s (on the
        # monitor's clock, the monotonic one).
        due = monitor.due_at("first")
        assert due is not None and due > time.monotonic() + 30
        assert monitor.current("first") is before

        monitor.invalidate("first")
        monitor.invalidate("no such target")  # a target removed from the config: ignored
        while monitor.current("first") is before:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        fresh = monitor.current("first")
        assert fresh is not None and before is not None and fresh.checked_at >= before.checked_at
        assert monitor.current("second") is untouched
    finally:
        stop.set()
        await asyncio.wait_for(running, 2)
        await monitor.close()


# -- local targets ------------------------------------------------------------------------------


async def test_local_target(tmp_path: Path) -> None:
    dirs = make_dirs(tmp_path, "d1", "d 2")
    (tmp_path / "file").write_text("")
    asked = (*dirs, str(tmp_path / "gone"), str(tmp_path / "file"))
    space = await read_target_space(local_target(asked), timeout_s=TIMEOUT_S)

    assert space.problem is None and space.reachable
    for directory in dirs:
        free = space.free_bytes[directory]
        assert free is not None
        assert abs(free - shutil.disk_usage(directory).free) <= DRIFT_BYTES
    assert dict(space.dir_problems) == {asked[2]: "missing", asked[3]: "not a dir"}


async def test_df_command_runs_under_a_local_sh(tmp_path: Path) -> None:
    """The remote command as sshd would run it, with dirs a shell would otherwise mangle."""
    dirs = make_dirs(tmp_path, "a b", "it's", "$(touch pwned)", "-n")
    asked = (*dirs, str(tmp_path / "gone"))
    done = subprocess.run(
        df_command(asked), shell=True, capture_output=True, text=True, cwd=tmp_path, timeout=10
    )
    report = parse_df_report(done.stdout, asked)
    assert all(report[d].free_bytes is not None for d in dirs), report
    assert report[asked[-1]].reason == "missing"
    assert not (tmp_path / "pwned").exists()


# -- script targets -----------------------------------------------------------------------------

FREE_SPACE_SCRIPT = r"""#!/bin/sh
# Prints df-like output for the dir it is given; some dirs fail or hang on purpose.
case "$1" in
  */disk1)
    echo 'Filesystem 1B-blocks Used Avail Use% Mounted on'
    echo '/dev/sdb1 9000 1000 8000 12% /farm/disk1' ;;
  */disk2) printf 'Avail\n  123456789\n' ;;
  */offline) echo "ssh: connect to host farmer port 22: No route to host" >&2; exit 255 ;;
  */chatty) echo "nothing useful" ;;
  */crash) kill -9 $$ ;;
  */nap) touch "$2"; while [ ! -e "$2.go" ]; do sleep 0.01; done; echo 5 ;;
  */slow) sleep 30 & echo $! > "$2"; wait ;;
  '/farm/$(literal)') echo 77 ;;
  *) exit 3 ;;
esac
"""


@pytest.fixture
def free_space_script(tmp_path: Path) -> Path:
    script = tmp_path / "free-space"
    script.write_text(FREE_SPACE_SCRIPT)
    script.chmod(0o755)
    return script


def script_target(script: Path, dirs: tuple[str, ...], *extra: str) -> ArchiveTarget:
    return ArchiveTarget(
        name="script",
        type=TargetType.SCRIPT,
        archive_dirs=dirs,
        transfer_command=("true",),
        free_space_command=(str(script), "{archive_dir}", *extra),
    )


async def test_script_target(free_space_script: Path) -> None:
    dirs = (
        "/farm/disk1",
        "/farm/disk2",
        "/farm/offline",
        "/farm/chatty",
        "/farm/crash",
        "/farm/$(literal)",
    )
    space = await read_target_space(script_target(free_space_script, dirs), timeout_s=5.0)

    assert space.problem is None, space
    assert dict(space.free_bytes) == {
        "/farm/disk1": 8000,
        "/farm/disk2": 123456789,
        "/farm/offline": None,
        "/farm/chatty": None,
        "/farm/crash": None,
        "/farm/$(literal)": 77,  # one argument, no shell
    }
    assert dict(space.dir_problems) == {
        "/farm/offline": "free_space_command exited with status 255: ssh: connect to host "
        "farmer port 22: No route to host",
        "/farm/chatty": "free_space_command printed no whole number",
        "/farm/crash": "free_space_command was killed by signal 9",
    }


async def test_script_target_that_fails_everywhere(free_space_script: Path) -> None:
    space = await read_target_space(
        script_target(free_space_script, ("/farm/offline",)), timeout_s=5.0
    )
    assert not space.reachable
    assert space.problem is not None and space.problem.startswith(
        "free_space_command exited with status 255"
    )

    missing = script_target(Path("/nonexistent/free-space"), ("/farm/disk1",))
    space = await read_target_space(missing, timeout_s=5.0)
    assert space.problem == "cannot run /nonexistent/free-space: No such file or directory"


async def test_script_target_that_hangs_is_killed_after_the_timeout(
    free_space_script: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    target = script_target(free_space_script, ("/farm/slow",), str(pid_file))
    started = time.monotonic()
    space = await read_target_space(target, timeout_s=TIMEOUT_S)
    elapsed = time.monotonic() - started

    assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + HANG_S
    assert space.problem == "free_space_command did not finish within 1 s"
    assert not space.reachable
    # What the script started is gone too, not left behind holding the pipes.
    sleep_pid = int(pid_file.read_text())
    wait_for(lambda: not alive(sleep_pid), 2.0, "the script's sleep to be killed")


def connected_to(port: int) -> bool:
    """Whether this process has a TCP connection to ``port`` on the loopback."""
    return any(
        conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
        for conn in psutil.Process().net_connections(kind="tcp")
    )


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_invalidated_during_a_read_reads_again(
    free_space_script: Path, tmp_path: Path
) -> None:
    """A read that started before the transfer ended may not show it: one more read follows."""
    clock = FakeClock()
    started = tmp_path / "nap-started"
    target = script_target(free_space_script, ("/farm/nap",), str(started))
    monitor = SpaceMonitor([target], ttl_s=60, timeout_s=5, clock=clock)
    reading = asyncio.create_task(monitor.refresh_due())
    while not started.exists():  # the read under way: the script has begun its nap
        await asyncio.sleep(0.01)
    monitor.invalidate("script")
    Path(f"{started}.go").touch()  # and only now may it answer
    await reading
    space = monitor.current("script")
    assert space is not None and dict(space.free_bytes) == {"/farm/nap": 5}
    assert monitor.due_at("script") == float("-inf")

    await monitor.refresh_due()
    assert monitor.current("script") is not space
    assert monitor.due_at("script") == clock.now + 60


def test_target_space_is_frozen() -> None:
    space = TargetSpace(target="x")
    with pytest.raises(AttributeError):
        space.problem = "no"  # type: ignore[misc]
