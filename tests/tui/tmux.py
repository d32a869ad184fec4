"""A program in a real terminal: a private tmux server (its own socket, no user config) runs it
in a pane of a fixed size; the test sends keys and reads the screen with ``capture-pane``."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

#: The terminal tmux tells the program it is (what most farmers' terminals say).
TERM = "xterm-256color"
# Variables that override a terminal's size for curses, rich and Textual.
_SIZE_VARIABLES = ("COLUMNS", "LINES")


def tmux_available() -> bool:
    return shutil.which("tmux") is not None


class TmuxSession:
    """One detached session running one command; ``close`` ends the server and the program."""

    def __init__(
        self, workdir: Path, *, width: int = 120, height: int = 40, term: str = TERM
    ) -> None:
        self.workdir = workdir
        self.term = term
        self.width = width
        self.height = height
        # A short socket path: a UNIX socket's path is limited to about 100 bytes.
        self.socket = workdir / "tmux.sock"
        self.config = workdir / "tmux.conf"
        self.status_path = workdir / "exit-status"
        self.target = "main"

    def tmux(self, *args: str) -> str:
        argv = ["tmux", "-S", str(self.socket), "-f", str(self.config), *args]
        # The environment as os.environ has it: a process that has set COLUMNS and LINES at
        # the C level (curses does, in a test run) would hand them to the pane, and Textual
        # takes them over the pty's size.
        env = {k: v for k, v in os.environ.items() if k not in _SIZE_VARIABLES}
        return subprocess.run(argv, check=True, capture_output=True, text=True, env=env).stdout

    def start(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        """Run ``argv`` in the pane; its exit status lands in ``status_path``."""
        self.config.write_text(
            f'set -g default-terminal "{self.term}"\n'
            # Escape reaches the program at once, not after tmux's 500 ms wait for a sequence.
            "set -s escape-time 0\n"
            "set -g status off\n"
        )
        settings = [f"{key}={value}" for key, value in (env or {}).items()]
        unset = " ".join(f"-u {name}" for name in _SIZE_VARIABLES)
        command = (
            f"env {unset} {shlex.join(settings)} {shlex.join(argv)}; "
            f"echo $? > {shlex.quote(str(self.status_path))}"
        )
        self.tmux(
            "new-session",
            "-d",
            "-s",
            self.target,
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            command,
        )

    def resize(self, width: int, height: int) -> None:
        """As a farmer resizing the terminal window."""
        self.tmux("resize-window", "-t", self.target, "-x", str(width), "-y", str(height))

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.target)

    def send(self, *keys: str, literal: bool = False) -> None:
        """tmux key names (``Escape``, ``Enter``, ``?``); ``literal``: type the text as is."""
        self.tmux("send-keys", "-t", self.target, *(["-l"] if literal else []), *keys)

    def wait_for(self, predicate: Callable[[str], object], timeout_s: float, what: str) -> str:
        """The screen once ``predicate(screen)`` holds; the last screen in the error if not."""
        deadline = time.monotonic() + timeout_s
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.05)
        size = self.tmux("display", "-p", "-t", self.target, "#{pane_width}x#{pane_height}")
        raise AssertionError(
            f"timed out after {timeout_s} s waiting for {what}; screen ({size.strip()}):\n{screen}"
        )

    def exit_status(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.status_path.exists() and self.status_path.read_text().strip():
                return int(self.status_path.read_text())
            time.sleep(0.05)
        raise AssertionError(f"the program did not exit within {timeout_s} s:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, check=False
        )

    def __enter__(self) -> TmuxSession:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
