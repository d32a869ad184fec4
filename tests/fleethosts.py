"""A fleet on one box: N plotting "hosts", each a real OpenSSH sshd on 127.0.0.1 with its own port
and keys, its own sandbox farm, data dir and cache dir, and (with PID namespaces, see
:mod:`tests.nshosts`) its own process table, so each sees only its own plot jobs.

A host's environment is given through its fleet ``command``, as a farmer's ``command`` would
name a venv and a config: ``env PLOTMAN_TUI_DATA_DIR=... python -m plotman_tui --config ...``.
:func:`fleet_config` writes the dashboard machine's config: a sandbox of its own and one
``[[fleet.hosts]]`` table per host.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from plotman_tui.config import load_config
from plotman_tui.config.schema import Config
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.sandbox import Sandbox, make_sandbox
from plotman_tui.sandbox.farm import plot_argv
from tests.conftest import require_chiapos, require_real
from tests.realservices import SshServer, sshd_available

LOOPBACK = "127.0.0.1"


def require_fleet(*, namespaces: bool = True) -> None:
    """Skip (laptop) or fail (CI) without sshd, chiapos or (when asked) PID namespaces."""
    from tests import nshosts

    require_real(sshd_available(), "OpenSSH sshd is not installed")
    require_chiapos()
    if namespaces:
        require_real(nshosts.available(), "PID namespaces (unshare --pid) are not available")


def plotman_tui_command(root: Path, *, executable: str = sys.executable) -> str:
    """The fleet ``command`` that runs plotman-tui with a host's own config, data and cache."""
    return shlex.join(
        [
            "env",
            f"PLOTMAN_TUI_DATA_DIR={root / 'data'}",
            f"PLOTMAN_TUI_CACHE_DIR={root / 'cache'}",
            executable,
            "-m",
            "plotman_tui",
            "--config",
            str(root / "farm" / "plotman.toml"),
        ]
    )


@dataclass
class BedHost:
    """One plotting machine of the bed."""

    name: str
    root: Path
    server: SshServer
    sandbox: Sandbox
    command: str
    known_hosts: Path | None = None  # None: the server's own (the right key)
    identity_file: Path | None = None  # None: the server's client key (accepted)
    jobs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def action_log(self) -> ActionLog:
        return ActionLog(self.data_dir / "actions.jsonl")

    def env(self) -> dict[str, str]:
        return {
            "PLOTMAN_TUI_DATA_DIR": str(self.data_dir),
            "PLOTMAN_TUI_CACHE_DIR": str(self.root / "cache"),
        }

    def table(self) -> str:
        """Its ``[[fleet.hosts]]`` table."""
        values = {
            "name": self.name,
            "host": LOOPBACK,
            "port": self.server.port,
            "user": self.server.user,
            "identity_file": str(self.identity_file or self.server.identity_file),
            "known_hosts": str(self.known_hosts or self.server.known_hosts),
            "command": self.command,
        }
        lines = ["[[fleet.hosts]]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        return "\n".join(lines) + "\n"

    def popen(self, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        """``argv`` started on this host: in its namespaces when it has them, else here."""
        from tests.nshosts import HostSshServer

        if isinstance(self.server, HostSshServer):
            return self.server.popen_inside(argv, env=self.env(), **kwargs)
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            list(argv), env={**os.environ, **self.env()}, start_new_session=True, **kwargs
        )

    def start_plot(self, *, k: int = 22, tmp_index: int = 0) -> subprocess.Popen[bytes]:
        """A real sandbox plot job on this host, its output into a new log in its log dir."""
        log_dir = self.sandbox.log_dir
        log = log_dir / f"bed-{len(self.jobs)}-{os.getpid()}.log"
        argv = plot_argv(self.sandbox, k=k, tmp_index=tmp_index)
        with log.open("wb") as out:
            job = self.popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.jobs.append(job)
        return job

    def job_process(self, job: subprocess.Popen[bytes]) -> psutil.Process:
        """The plot job itself (``job`` may be the nsenter that started it), as this box's
        process table numbers it."""
        process = psutil.Process(job.pid)
        if process.name() == "nsenter":
            children = process.children()
            if children:
                return children[0]
        return process

    def temp_files(self, plot_id: str) -> list[Path]:
        dirs = [*self.sandbox.tmp_dirs, *self.sandbox.dst_dirs]
        if self.sandbox.tmp2_dir is not None:
            dirs.append(self.sandbox.tmp2_dir)
        return [p for d in dirs for p in d.iterdir() if plot_id in p.name]

    def stop_jobs(self) -> None:
        for job in self.jobs:
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                for member in [self.job_process(job), psutil.Process(job.pid)]:
                    member.send_signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                job.wait(timeout=30)


def make_host(
    base: Path,
    name: str,
    *,
    namespaces: bool = True,
    command: str | None = None,
    k: int = 22,
    **sandbox_options: int,
) -> BedHost:
    """A started host named ``name`` under ``base / name`` (sshd, sandbox, data dir)."""
    from tests.nshosts import HostSshServer

    root = base / name
    sandbox = make_sandbox(root / "farm", k=k, **sandbox_options)
    server: SshServer = (HostSshServer if namespaces else SshServer)(root / "sshd")
    server.start()
    return BedHost(
        name=name,
        root=root,
        server=server,
        sandbox=sandbox,
        command=command if command is not None else plotman_tui_command(root),
    )


def fleet_config(base: Path, hosts: Sequence[BedHost], *, include_local: bool = False) -> Path:
    """The dashboard machine's config: a sandbox farm of its own and a table per host."""
    sandbox = make_sandbox(base / "dashboard")
    text = sandbox.config_path.read_text(encoding="utf-8")
    text += f"\n[fleet]\ninclude_local = {'true' if include_local else 'false'}\n\n"
    text += "\n".join(host.table() for host in hosts)
    path = base / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_fleet(path: Path) -> Config:
    return load_config(path, check_dirs=False)


@contextlib.contextmanager
def bed(base: Path, names: Sequence[str], **options: object) -> Iterator[list[BedHost]]:
    """Hosts started for a test and stopped (jobs, sshd and all) after it."""
    hosts: list[BedHost] = []
    try:
        for name in names:
            hosts.append(make_host(base, name, **options))  # type: ignore[arg-type]
        yield hosts
    finally:
        for host in hosts:
            host.stop_jobs()
            host.server.stop()
