"""``config check``: every problem of a config file, and warnings about what will fail later.

A problem makes the file unusable (exit status 2). A warning is about the machine, not the file:
a plotter program that is not there, an archive host whose name does not resolve, a log dir not
made yet. The file is still valid (exit status 0), and each warning says what to do.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from plotman_tui.appdirs import read_regular_file
from plotman_tui.config.errors import ConfigError, KeyPath, format_key_path
from plotman_tui.config.loader import MAX_CONFIG_BYTES, load_config
from plotman_tui.config.positions import KeyLines, scan_key_lines
from plotman_tui.config.schema import SSH_TARGET_TYPES, Config

#: How long all archive host names together may take to resolve.
RESOLVE_TIMEOUT_S: Final = 2.0


@dataclass(frozen=True)
class ConfigReport:
    """What ``config check`` found: the config (None when the file cannot be read as one),
    its problems (each a one-line ConfigError, in file order) and its warnings."""

    config: Config | None
    problems: tuple[ConfigError, ...]
    warnings: tuple[ConfigError, ...]


def check_config_file(path: Path, *, resolve_timeout_s: float = RESOLVE_TIMEOUT_S) -> ConfigReport:
    """Read the config at ``path`` as ``config check`` does: all its problems, and warnings."""
    try:
        config = load_config(path, check_dirs=False)
    except ConfigError as error:
        return ConfigReport(None, error.problems, ())
    problems: tuple[ConfigError, ...] = ()
    try:
        # Dirs that are missing are problems of the file here (every other command checks
        # them per dir, so an unplugged disk does not stop the others).
        load_config(path, check_dirs=True)
    except ConfigError as error:
        problems = error.problems
    try:
        text = read_regular_file(Path(path).expanduser(), MAX_CONFIG_BYTES)
        lines = scan_key_lines(text.decode("utf-8-sig"))
    except (OSError, ValueError):
        lines = None  # changed since: the warnings go without line numbers
    return ConfigReport(config, problems, tuple(config_warnings(config, lines, resolve_timeout_s)))


def config_warnings(
    config: Config, lines: KeyLines | None, resolve_timeout_s: float = RESOLVE_TIMEOUT_S
) -> list[ConfigError]:
    """What a valid ``config`` will trip over on this machine, one line each, in file order."""

    def warn(path: KeyPath, message: str) -> ConfigError:
        line = lines.nearest(path) if lines is not None else None
        return ConfigError(message, source=config.source, line=line, key_path=format_key_path(path))

    found = []
    plotter = config.plotting.type.value
    executable = getattr(config.plotting, plotter).executable
    problem = _program_problem(executable)
    if problem is not None:
        found.append(warn(("plotting", plotter, "executable"), problem))
    log_dir = config.logging.plots
    if not os.path.lexists(log_dir):
        found.append(
            warn(
                ("logging", "plots"),
                f"{log_dir} does not exist yet: create it with "
                f"mkdir -p {shlex.quote(str(log_dir))} (the first job started makes it too)",
            )
        )
    hosts = [
        (index, target.host)
        for index, target in enumerate(config.archiving.targets)
        if config.archiving.enabled
        and target.enabled
        and target.type in SSH_TARGET_TYPES
        and target.host
    ]
    answers = _resolve_all([host for _, host in hosts], resolve_timeout_s)
    for (index, _host), problem in zip(hosts, answers, strict=True):
        if problem is not None:
            found.append(warn(("archiving", "targets", index, "host"), problem))
    return sorted(found, key=lambda w: (w.line is None, w.line or 0))


def _program_problem(executable: str) -> str | None:
    """Why ``executable`` cannot be started as a plotter, or None when it can."""
    if os.sep not in executable:
        if shutil.which(executable) is None:
            return (
                f"{executable!r} is not on PATH: install it, or give its full path "
                "(e.g. the chia in the chia-blockchain venv's bin dir)"
            )
        return None
    program = Path(executable).expanduser()
    if not program.exists():
        return f"{program} does not exist: fix the path, or install the plotter there"
    if program.is_dir() or not os.access(program, os.X_OK):
        return f"{program} is not an executable program (chmod +x, or fix the path)"
    return None


def _resolve_all(names: Sequence[str], timeout_s: float) -> list[str | None]:
    """For each host name, why it does not resolve (None: it does), all within ``timeout_s``.

    getaddrinfo has no timeout of its own: each name is looked up in a daemon thread, and a
    lookup that has not answered in time is reported as such and left behind.
    """
    answers: dict[int, str | None] = {}

    def lookup(index: int, host: str) -> None:
        try:
            socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            answers[index] = f"the archive host {host!r} does not resolve ({_reason(error)})"
        else:
            answers[index] = None

    threads = [
        threading.Thread(target=lookup, args=(i, host), name=f"resolve-{host}", daemon=True)
        for i, host in enumerate(names)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    # A copy: a lookup that answers after the deadline changes nothing that was reported.
    answered = dict(answers)
    late = f"did not resolve within {timeout_s:g} s (check the name and the DNS)"
    return [answered.get(i, f"the archive host {host!r} {late}") for i, host in enumerate(names)]


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
