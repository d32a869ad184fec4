"""The history worker: the plot logs read into history, in a thread of its own.

Not a Textual thread worker (a :class:`~plotman_tui.tui.poller.Poller`): those run in the event
loop's executor, and the app's exit waits for them. A first read of a big log dir (no cache
yet: 10,000 k32 logs take some 20 s) would keep q from quitting until it is over. This thread
is a daemon, left behind at exit: the history cache is written whole and renamed into place,
so a read cut short leaves the old cache (or none), never half of one.

The thread's work is mostly pure Python (a warm read, or the end of a cold one: JSON, records,
the ETA model and the screen's figures, 0.5-1.5 s on 10,000 logs), and it shares the GIL with
the event loop. The event loop lets the GIL go on every turn (it polls for I/O), and the thread
then holds it for a whole switch interval (5 ms by default) before the event loop gets it back:
a screen drawn in a few dozen turns waited that many times (bench/history_convoy.py). A
shorter switch interval (1 ms) cut that by a quarter, and was taken out again: with it, under
load, a modal screen's ``on_mount`` sometimes ran before its buttons were mounted (Textual
8.2; the kill question's in about one run in ten of tests/tui/test_keys_real_jobs.py). The
interval is CPython's default.

Reads never overlap: one thread reads at start, then every ``interval_s`` or at once when
woken (a wake during a read asks for another right after it). Before its first read it runs
``prepare`` (once), whose message is posted at once: what the app can get ready while a first
read of a big log dir takes seconds.
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
    """Runs ``prepare`` once, then ``read`` again and again, in its daemon thread, and posts
    what they return to ``owner``."""

    def __init__(
        self,
        owner: DOMNode,
        read: Callable[[], Message],
        interval_s: float,
        *,
        prepare: Callable[[], Message] | None = None,
    ) -> None:
        self.owner = owner
        self.read = read
        self.prepare = prepare
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
        if self.prepare is not None:
            self._post(self._call(self.prepare))
        while not self._stopped.is_set():
            self._wake.clear()
            message = self._call(self.read)
            if self._stopped.is_set():
                return
            self._post(message)
            self.runs += 1
            self._wake.wait(self.interval_s)

    @staticmethod
    def _call(work: Callable[[], Message]) -> Message:
        try:
            return work()
        except Exception as error:  # a bug or an unforeseen OS error: said, read again later
            return WorkFailed(GROUP, describe_error(error))

    def _post(self, message: Message) -> None:
        if self._stopped.is_set():
            return
        with contextlib.suppress(RuntimeError):  # the event loop has closed meanwhile
            self.owner.post_message(message)
