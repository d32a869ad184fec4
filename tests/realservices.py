"""Real services for archiving tests: an ``rsync --daemon`` and an OpenSSH ``sshd`` on 127.0.0.1.

Both listen on loopback only, on a random free port, with every file (config, keys, pid file, log)
in a temp dir, and run as the current user. They are the real programs, so tests see real protocol
behaviour: refused host keys, killed transfers, daemons that come back on the same port.

Use them as context managers or through the ``rsync_daemon`` / ``ssh_server`` fixtures. A module
that wants the fixtures imports them (``from tests.realservices import rsync_daemon_fixture``);
they register under the names ``rsync_daemon`` and ``ssh_server``. They call ``require_real``, so
a laptop without rsync or sshd skips and CI fails.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psutil
import pytest

from tests.conftest import require_chiapos, require_real

LOOPBACK = "127.0.0.1"
# Attempts at a fresh port when another process grabs the one we picked before the daemon binds it.
PORT_ATTEMPTS = 5
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
# Where sshd lives on Debian/Ubuntu/Fedora; other layouts are found through PATH.
SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/usr/bin/sshd")
# Privilege separation dir Debian's sshd insists on when it starts as root.
PRIVSEP_DIR = Path("/run/sshd")


class ServiceError(RuntimeError):
    """A service did not start or stop; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller must tolerate a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class SilentFarmer:
    """A TCP server on 127.0.0.1 that accepts connections and never sends a byte: a farmer
    whose SSH read hangs (until the reader's timeout)."""

    def __init__(self) -> None:
        self.server = socket.create_server((LOOPBACK, 0))
        self.port: int = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-farmer", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return  # closed
            self.accepted.append(connection)

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()


def current_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def rsync_available() -> bool:
    return shutil.which("rsync") is not None


@functools.cache
def sshd_path() -> str | None:
    """Absolute path of sshd: it re-executes itself and refuses to start from a relative path."""
    for candidate in SSHD_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("sshd")
    return str(Path(found).resolve()) if found else None


def sshd_available() -> bool:
    return None not in (sshd_path(), shutil.which("ssh"), shutil.which("ssh-keygen"))


@functools.cache
def _openssh_version() -> tuple[int, int]:
    """(major, minor) of the installed sshd, to write only options it understands."""
    path = sshd_path()
    if path is None:
        return (0, 0)
    # Older sshd has no -V; it prints the version in its usage message, so read both streams.
    done = subprocess.run([path, "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", done.stdout + done.stderr)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _signal_tree(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout_s: float) -> None:
    """Send ``sig`` to a daemon and every process it forked, then wait for them to go.

    Both daemons fork a child per connection (sshd's even start their own session), so
    signalling the listener or its process group alone would leave transfers running.
    """
    if proc.poll() is not None:
        return
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout_s)
    # Children orphaned by the listener's death may stay zombies when pid 1 does not reap
    # (containers): a zombie holds no socket or file, so it counts as gone.
    deadline = time.monotonic() + min(timeout_s, 1.0)
    while (alive := [m for m in family if _alive(m)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _answers(port: int, banner_prefix: bytes) -> bool:
    """Whether something on 127.0.0.1:port greets us with the expected protocol banner."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1.0) as sock:
            return sock.recv(64).startswith(banner_prefix)
    except OSError:
        return False


def _listens(pid: int, port: int) -> bool:
    try:
        sockets = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return False
    return any(sock.status == psutil.CONN_LISTEN and sock.laddr.port == port for sock in sockets)


class _PortTaken(ServiceError):
    """The port was grabbed by someone else before the daemon could bind it."""


class _Daemon:
    """Start / stop / kill of one foreground daemon bound to 127.0.0.1 on a random port."""

    name = "daemon"
    banner_prefix = b""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = base_dir / f"{self.name}.log"
        self.pid_path = base_dir / f"{self.name}.pid"
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # The parts a subclass fills in.
    def _write_config(self, port: int) -> None:
        raise NotImplementedError

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _after_start(self) -> None:
        """Hook run once the port answers."""

    def _listening(self, port: int) -> bool:
        """Whether the daemon itself holds the listening socket on ``port``."""
        return self._proc is not None and _listens(self._proc.pid, port)

    def _answers(self, port: int) -> bool:
        """Whether the daemon answers on ``port`` as it should (its protocol banner)."""
        return _answers(port, self.banner_prefix)

    @property
    def port(self) -> int:
        if self._port is None:
            raise ServiceError(f"{self.name} has not been started")
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> None:
        """Start the daemon: on a new random port the first time, on the same port after that."""
        if self.running:
            return
        last_error: ServiceError | None = None
        for _ in range(PORT_ATTEMPTS):
            # A restart keeps its port (clients hold URLs to it); right after a kill the old
            # socket may not be released yet, so the same port is simply tried again.
            port = self._port if self._port is not None else free_port()
            try:
                self._launch(port)
                return
            except _PortTaken as error:
                last_error = error
                time.sleep(0.1)
        raise ServiceError(f"{self.name}: could not bind a port in {PORT_ATTEMPTS} tries") from (
            last_error
        )

    def restart(self) -> None:
        """Stop (if running) and start again on the same port."""
        self.stop()
        self.start()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM the daemon and its children; SIGKILL whatever is left after ``timeout_s``."""
        if self._proc is None:
            return
        _signal_tree(self._proc, signal.SIGTERM, timeout_s)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the daemon and its children at once, as a crash would (mid-transfer too)."""
        if self._proc is None:
            return
        _signal_tree(self._proc, signal.SIGKILL, STOP_TIMEOUT_S)
        self._proc.wait()

    def _launch(self, port: int) -> None:
        self._write_config(port)
        # A pid file left by a killed daemon would make the next one refuse to start.
        self.pid_path.unlink(missing_ok=True)
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Own session: a Ctrl-C aimed at pytest does not reach the daemon half-way.
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                new_log = self.log_path.read_bytes()[log_offset:].decode(errors="replace")
                if "in use" in new_log:
                    raise _PortTaken(new_log)
                raise ServiceError(
                    f"{self.name} exited with status {self._proc.returncode}:\n"
                    f"{_tail(self.log_path)}"
                )
            # The listening socket must be ours: with a port race, another test's daemon could
            # answer with the same banner while ours is still failing to bind.
            if self._listening(port) and self._answers(port):
                self._port = port
                self._after_start()
                return
            time.sleep(0.02)
        self.kill()
        raise ServiceError(
            f"{self.name} did not answer on {LOOPBACK}:{port} within {READY_TIMEOUT_S} s:\n"
            f"{_tail(self.log_path)}"
        )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class RsyncDaemon(_Daemon):
    """``rsync --daemon`` serving one writable module on 127.0.0.1."""

    name = "rsyncd"
    banner_prefix = b"@RSYNCD:"

    def __init__(self, base_dir: Path, module: str = "plots") -> None:
        super().__init__(base_dir)
        self.module = module
        self.module_root = base_dir / module
        self.module_root.mkdir(exist_ok=True)
        self.config_path = base_dir / "rsyncd.conf"

    def url(self, path: str = "") -> str:
        """``rsync://127.0.0.1:PORT/MODULE/path`` for a path inside the module."""
        return f"rsync://{LOOPBACK}:{self.port}/{self.module}/{path.lstrip('/')}"

    def _write_config(self, port: int) -> None:
        lines = [
            f"pid file = {self.pid_path}",
            f"log file = {self.log_path}",
            f"address = {LOOPBACK}",
            f"port = {port}",
            # chroot needs root, and paths in logs stay the real ones without it.
            "use chroot = false",
            f"[{self.module}]",
            f"path = {self.module_root}",
            "read only = false",
        ]
        if os.geteuid() == 0:
            # As root, rsyncd drops to nobody by default and could not write the module;
            # as anyone else, naming a uid would make it call setgroups and fail.
            lines += [f"uid = {os.geteuid()}", f"gid = {os.getegid()}"]
        self.config_path.write_text("\n".join(lines) + "\n")

    def _argv(self) -> list[str]:
        return ["rsync", "--daemon", "--no-detach", f"--config={self.config_path}"]


class SshServer(_Daemon):
    """OpenSSH ``sshd`` on 127.0.0.1 accepting one generated key for the current user."""

    name = "sshd"
    banner_prefix = b"SSH-2.0-"

    def __init__(self, base_dir: Path) -> None:
        super().__init__(base_dir)
        self.user = current_user()
        self.config_path = base_dir / "sshd_config"
        self.host_key = base_dir / "ssh_host_ed25519_key"
        self.identity_file = base_dir / "id_ed25519"
        self.authorized_keys = base_dir / "authorized_keys"
        self.known_hosts = base_dir / "known_hosts"
        _keygen(self.host_key, "plotman-tui test host")
        _keygen(self.identity_file, "plotman-tui test client")
        self.authorized_keys.write_text(_public_key(self.identity_file) + "\n")
        self.authorized_keys.chmod(0o600)
        self.host_public_key = _public_key(self.host_key)

    @property
    def host_pattern(self) -> str:
        """The known_hosts name of this server: ``[127.0.0.1]:PORT``."""
        return f"[{LOOPBACK}]:{self.port}"

    def write_wrong_known_hosts(self, path: Path) -> Path:
        """A known_hosts file naming this server with a different (fresh) host key."""
        other_key = self.base_dir / "other_host_key"
        if not other_key.exists():
            _keygen(other_key, "not the server's key")
        path.write_text(f"{self.host_pattern} {_public_key(other_key)}\n")
        return path

    def ssh_argv(self, known_hosts: Path | None = None) -> list[str]:
        """``ssh`` with this server's key, port and known_hosts, never reading ~/.ssh or prompting.

        Append ``user@127.0.0.1`` (``self.destination``) and the remote command. ssh keeps the
        first value of an option, so another known_hosts file is passed here, not appended.
        """
        return [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            str(self.identity_file),
            "-p",
            str(self.port),
            "-o",
            f"UserKnownHostsFile={known_hosts or self.known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
        ]

    @property
    def destination(self) -> str:
        return f"{self.user}@{LOOPBACK}"

    def rsync_rsh(self, known_hosts: Path | None = None) -> str:
        """The ``rsync -e`` value that reaches this server (quoted for rsync's own splitting)."""
        return shlex.join(self.ssh_argv(known_hosts))

    def asyncssh_options(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncssh.connect`` that reach this server and nothing else."""
        return {
            "host": LOOPBACK,
            "port": self.port,
            "username": self.user,
            "client_keys": [str(self.identity_file)],
            "known_hosts": str(self.known_hosts),
            # Neither the user's ~/.ssh/config nor an agent's keys may change what is tested.
            "config": None,
            "agent_path": None,
        }

    def _write_config(self, port: int) -> None:
        root = os.geteuid() == 0
        if root:
            PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        lines = [
            f"ListenAddress {LOOPBACK}",
            f"Port {port}",
            f"HostKey {self.host_key}",
            f"PidFile {self.pid_path}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            f"AllowUsers {self.user}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            # Key auth is all we test, and PAM cannot work when sshd is not root.
            "UsePAM no",
            # The temp dir's owner and modes are pytest's, not what StrictModes demands.
            "StrictModes no",
            f"PermitRootLogin {'prohibit-password' if root else 'no'}",
            "Subsystem sftp internal-sftp",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "LogLevel VERBOSE",
        ]
        if _openssh_version() >= (9, 8):
            # Readiness probes and refused host keys must not get 127.0.0.1 penalised (9.8+).
            lines.append("PerSourcePenalties no")
        self.config_path.write_text("\n".join(lines) + "\n")

    def _argv(self) -> list[str]:
        path = sshd_path()
        if path is None:
            raise ServiceError("sshd not found")
        return [path, "-D", "-e", "-f", str(self.config_path)]

    def _after_start(self) -> None:
        # Written once the port is final: a port retry would otherwise leave a stale entry.
        self.known_hosts.write_text(f"{self.host_pattern} {self.host_public_key}\n")


#: Where Debian's prometheus package puts the server.
PROMETHEUS_CANDIDATES = ("/usr/bin/prometheus",)


@functools.cache
def prometheus_path() -> str | None:
    for candidate in PROMETHEUS_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("prometheus")


class PrometheusServer(_Daemon):
    """A real Prometheus server on 127.0.0.1 scraping ``targets`` (``host:port``) every
    ``scrape_interval_s``; its TSDB in the temp dir. Read values back with :meth:`query`."""

    name = "prometheus"

    def __init__(self, base_dir: Path, targets: list[str], *, scrape_interval_s: int = 1) -> None:
        super().__init__(base_dir)
        self.targets = targets
        self.scrape_interval_s = scrape_interval_s
        self.config_path = base_dir / "prometheus.yml"
        self._listen_port = 0

    def _write_config(self, port: int) -> None:
        self._listen_port = port  # a flag, not a line of its config file
        # JSON is YAML: no YAML writer needed.
        config = {
            "global": {
                "scrape_interval": f"{self.scrape_interval_s}s",
                "scrape_timeout": f"{self.scrape_interval_s}s",
            },
            "scrape_configs": [
                {"job_name": "plotman-tui", "static_configs": [{"targets": self.targets}]}
            ],
        }
        self.config_path.write_text(json.dumps(config, indent=1) + "\n")

    def _argv(self) -> list[str]:
        path = prometheus_path()
        if path is None:
            raise ServiceError("prometheus is not installed")
        return [
            path,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.base_dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self._listen_port}",
        ]

    def _answers(self, port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/-/ready", timeout=1.0) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def query(self, expression: str) -> list[dict[str, Any]]:
        """The instant vector ``expression`` gives now, through the HTTP query API."""
        url = f"http://{LOOPBACK}:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expression}
        )
        with urllib.request.urlopen(url, timeout=5.0) as reply:
            data = json.load(reply)
        if data.get("status") != "success":
            raise ServiceError(f"query {expression!r} failed: {data}")
        result: list[dict[str, Any]] = data["data"]["result"]
        return result


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )


def _public_key(private_key: Path) -> str:
    """``type base64`` of a key pair's public half, without the comment."""
    key_type, blob, *_ = Path(f"{private_key}.pub").read_text().split()
    return f"{key_type} {blob}"


@pytest.fixture(name="rsync_daemon")
def rsync_daemon_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RsyncDaemon]:
    """A running rsync daemon with an empty writable module ``plots``; stopped after the test."""
    require_real(rsync_available(), "rsync is not installed (apt-get install rsync)")
    with RsyncDaemon(tmp_path_factory.mktemp("rsyncd")) as daemon:
        yield daemon


@pytest.fixture(name="ssh_server")
def ssh_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A running sshd accepting ``identity_file`` for the current user; stopped after the test."""
    require_real(
        sshd_available(), "OpenSSH sshd/ssh/ssh-keygen missing (apt-get install openssh-server)"
    )
    with SshServer(tmp_path_factory.mktemp("sshd")) as server:
        yield server


# -- a second file system -----------------------------------------------------------------------

#: Where a dir on another file system than the tests' temp dirs is made (tmpfs on Linux).
OTHER_FILESYSTEM_ROOT = Path("/dev/shm")


@pytest.fixture(name="other_filesystem")
def other_filesystem_fixture(tmp_path: Path) -> Iterator[Path]:
    """A fresh empty dir on another file system than ``tmp_path`` (a local target's copy path:
    a USB disk); removed after the test. Skips when there is none."""
    try:
        other = OTHER_FILESYSTEM_ROOT.stat().st_dev != tmp_path.stat().st_dev
    except OSError:
        other = False
    if not other or not os.access(OTHER_FILESYSTEM_ROOT, os.W_OK):
        pytest.skip(f"no second file system: {OTHER_FILESYSTEM_ROOT} is missing or is tmp_path's")
    directory = OTHER_FILESYSTEM_ROOT / f"plotman-tui-test-{os.getpid()}-{os.urandom(4).hex()}"
    directory.mkdir()
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def small_filesystem(path: Path, size_bytes: int) -> Iterator[Path]:
    """A tmpfs of ``size_bytes`` mounted on ``path`` (made), unmounted after: a disk that
    fills up. Skips when it cannot be mounted (not root, or no mount namespace rights)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {done.stderr.strip() or 'mount failed'}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@pytest.fixture(name="small_disks")
def small_disks_fixture(tmp_path: Path) -> Iterator[Callable[[str, int], Path]]:
    """Make small real file systems for archive dirs: ``small_disks("disk1", 8 * MIB)`` mounts
    a tmpfs of that size on ``tmp_path / "disk1"`` (all unmounted after the test), so a farmer
    disk really fills up. Skips when tmpfs cannot be mounted (not root)."""
    with contextlib.ExitStack() as mounts:

        def make(name: str, size_bytes: int) -> Path:
            return mounts.enter_context(small_filesystem(tmp_path / name, size_bytes))

        yield make


# -- old plots on the farmer --------------------------------------------------------------------

#: A plot's date as its name states it: ``YYYY-MM-DD-HH-MM``.
PLOT_NAME_DATE = "%Y-%m-%d-%H-%M"


def farmer_plot_name(
    when: datetime.datetime,
    *,
    k: int = 18,
    level: int | None = None,
    index: int = 0,
    width: int = 2,
) -> str:
    """A plot file name as a plotter writes it: ``plot-k18-2021-06-01-12-30-<id>.plot``, with
    ``-c05-`` (BladeBit: ``width`` 2) or ``-c5-`` (Gigahorse: ``width`` 1) for a ``level``.
    ``index`` makes the 64-hex id, so names of one date differ."""
    middle = f"c{level:0{width}d}-" if level is not None else ""
    plot_id = f"{index:064x}"
    return f"plot-k{k}-{middle}{when.strftime(PLOT_NAME_DATE)}-{plot_id}.plot"


def fill_archive_dir(
    archive_dir: Path, source: Path, names: Iterable[str], *, age_s: float = 86400.0
) -> list[Path]:
    """Copies of the real plot ``source`` under ``names`` in ``archive_dir`` (real copies: a
    removal frees their space), last changed ``age_s`` ago (past replot's QUIET_S)."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    when = time.time() - age_s
    made = []
    for name in names:
        path = archive_dir / name
        shutil.copyfile(source, path)
        os.utime(path, (when, when))
        made.append(path)
    return made


def listing_of(archive_dir: Path) -> dict[str, tuple[int, float, int]]:
    """Every entry of ``archive_dir`` (not followed): name -> (size, mtime, mode), to check
    that nothing else changed."""
    entries = {}
    for entry in os.scandir(archive_dir):
        info = entry.stat(follow_symlinks=False)
        entries[entry.name] = (info.st_size, info.st_mtime, info.st_mode)
    return entries


@pytest.fixture(name="real_plot", scope="session")
def real_plot_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real k18 plot from the sandbox plotter (chiapos), made once per worker: farmer
    plots of any name are copies of it (:func:`fill_archive_dir`)."""
    from plotman_tui.sandbox import make_sandbox, start_plot

    require_chiapos()
    sandbox = make_sandbox(tmp_path_factory.mktemp("real-plot") / "farm", k=18)
    job = start_plot(sandbox, tmp_index=0, dst_index=0)
    assert job.popen.wait(120) == 0, job.log_path.read_text(errors="replace")
    (plot,) = sandbox.dst_dirs[0].glob("plot-k18-*.plot")
    return plot


@contextlib.contextmanager
def removal_refused(directory: Path) -> Iterator[Path]:
    """Nothing can be removed from ``directory`` for the block: its write bit taken away, or,
    for root (whom permissions do not stop), the dir made immutable with ``chattr +i``. Skips
    where chattr cannot."""
    if os.geteuid() != 0:
        mode = directory.stat().st_mode
        directory.chmod(0o555)
        try:
            yield directory
        finally:
            directory.chmod(mode)
        return
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed (e2fsprogs), and root ignores permissions")
    done = subprocess.run(
        ["chattr", "+i", str(directory)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot make {directory} immutable: {done.stderr.strip() or 'chattr failed'}")
    try:
        yield directory
    finally:
        subprocess.run(["chattr", "-i", str(directory)], capture_output=True, check=False)
