"""The history worker: the plot logs read into history, in a thread of its own.

Not a Textual thread worker (a :class:`~plotman_tui.tui.poller.Poller`): those run in the event
loop's executor, and the app's exit waits for them. A first read of a big log dir (no cache
yet: 10,000 k32 logs take some 20 s) would keep q from quitting until it is over. This thread
is a daemon, left behind at exit: the history cache is written whole and renamed into place,
so a read cut short leaves the old cache (or none), never half of one.

Reads never overlap: one thread reads at start, then every ``interval_s`` or at once when
woken (a wake during a read asks for another right after it).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from textual.dom import DOMNode
from textual.message import Message

from plotman_tui.tui.messages import WorkFailed
from plotman_tui.tui.poller import describe_error

GROUP = "history"


class HistoryWorker:
    """Runs ``read`` in its daemon thread and posts what it returns to ``owner``."""

    def __init__(self, owner: DOMNode, read: Callable[[], Message], interval_s: float) -> None:
        self.owner = owner
        self.read = read
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        #: Reads finished (tests wait on it instead of sleeping).
        self.runs = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=GROUP, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Read now, or as soon as the read under way is over."""
        self._wake.set()

    def stop(self) -> None:
        """No more reads; one under way is left to finish (or to be cut short at exit), and
        what it found is not posted."""
        self._stopped.set()
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            message: Message
            try:
                message = self.read()
            except Exception as error:  # a bug or an unforeseen OS error: said, read again later
                message = WorkFailed(GROUP, describe_error(error))
            if self._stopped.is_set():
                return
            with contextlib.suppress(RuntimeError):  # the event loop has closed meanwhile
                self.owner.post_message(message)
            self.runs += 1
            self._wake.wait(self.interval_s)
