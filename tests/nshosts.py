"""Plotting machines on one box: an OpenSSH sshd in a PID and mount namespace of its own.

Everything that runs through such a server (a ``watch --json``, a ``plot`` loop, the plot jobs it
starts, a ``suspend`` or ``kill``) sees only the processes of that namespace, with their own pids,
in its own /proc: as on a separate machine. Without this, every "host" of a fleet test would see
every other host's jobs in the one process table. The file system stays shared, so a test gives
each host its own dirs. Needs root (CI's) or unprivileged user namespaces; :func:`available`
says whether this box has them.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence

import psutil

from tests.realservices import SshServer, _listens

#: The namespace's pid 1: it starts sshd and reaps every process that ends there (a plot job
#: whose parent went is adopted by it), so no zombie job lingers in the host's process table.
INIT = """\
import os, signal, subprocess, sys
server = subprocess.Popen(sys.argv[1:])
signal.signal(signal.SIGTERM, lambda *_: server.terminate())
while True:
    try:
        pid, _ = os.wait()
    except ChildProcessError:
        break
    if pid == server.pid:
        break
"""

_UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]


@functools.cache
def available() -> bool:
    """Whether sshd can be started in a PID namespace here (root, or user namespaces)."""
    try:
        done = subprocess.run([*_UNSHARE, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class HostSshServer(SshServer):
    """A real sshd on 127.0.0.1 whose sessions live in a PID namespace of their own."""

    name = "sshd"

    def _argv(self) -> list[str]:
        return [*_UNSHARE, sys.executable, "-c", INIT, *super()._argv()]

    def _listening(self, port: int) -> bool:
        if self._proc is None:
            return False
        try:
            family = psutil.Process(self._proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return False
        return any(_listens(member.pid, port) for member in family)

    @property
    def init_pid(self) -> int:
        """The namespace's pid 1, as this box's process table numbers it."""
        if self._proc is None:
            raise RuntimeError("the host is not running")
        child = psutil.Process(self._proc.pid).children()
        if not child:
            raise RuntimeError("the host's namespace has no init process")
        return child[0].pid

    def popen_inside(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        **kwargs: object,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in the host's namespaces (its processes, its /proc), detached from
        the test's session, as a job started on that machine would be."""
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            ["nsenter", "--target", str(self.init_pid), "--pid", "--mount", "--", *argv],
            env={**os.environ, **(env or {})},
            start_new_session=True,
            **kwargs,
        )
