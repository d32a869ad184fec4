"""Blocking work, again and again, in a thread worker: never two runs at once.

dolphie's pattern: a run is a thread worker of its own group; when it finishes (the owner hands
its ``Worker.StateChanged`` on), a one-shot timer arms the next run ``interval_s`` after this one
started. A slow run (a hung disk) delays the next one instead of piling runs up, and ``wake``
asks for a run now, or right after the one under way.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

from textual.dom import DOMNode
from textual.message import Message
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from plotman_tui.tui.messages import WorkFailed

#: The least time between two runs, so a run that takes longer than its interval still leaves
#: the event loop (and the other pollers) room.
MIN_GAP_S = 0.05


class Poller:
    """Runs ``work`` (in a thread) every ``interval_s``; it returns a message to post, or None.

    ``owner`` posts the messages and must pass every ``Worker.StateChanged`` to :meth:`handle`.
    """

    def __init__(
        self,
        owner: DOMNode,
        group: str,
        work: Callable[[], Message | None],
        interval_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.owner = owner
        self.group = group
        self.work = work
        self.interval_s = interval_s
        self._clock = clock
        self._worker: Worker[None] | None = None
        self._timer: Timer | None = None
        self._started_at = 0.0
        self._woken = False
        self._stopped = True
        #: Runs finished (tests wait on it instead of sleeping).
        self.runs = 0

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def start(self) -> None:
        self._stopped = False
        self._run()

    def stop(self) -> None:
        """No more runs (one under way finishes in its thread; its message is still posted)."""
        self._stopped = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def wake(self) -> None:
        """Run now, or as soon as the run under way is over."""
        if self._stopped:
            return
        if self._worker is not None:
            self._woken = True
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._run()

    def set_interval(self, interval_s: float) -> None:
        """Run every ``interval_s`` from now on; a next run already armed is armed again for
        ``interval_s`` after the last one started (at once, if that is past)."""
        self.interval_s = interval_s
        if self._timer is not None:
            self._timer.stop()
            self._arm(self._started_at + interval_s - self._clock())

    def handle(self, event: Worker.StateChanged) -> bool:
        """Arm the next run when this poller's worker is over; False: not this poller's."""
        if event.worker is not self._worker:
            return False
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return True
        self._worker = None
        self.runs += 1
        if self._stopped:
            return True
        if self._woken:
            self._arm(MIN_GAP_S)
        else:
            self._arm(self._started_at + self.interval_s - self._clock())
        self._woken = False
        return True

    def _arm(self, delay: float) -> None:
        self._timer = self.owner.set_timer(
            max(delay, MIN_GAP_S), self._run, name=f"{self.group} poll"
        )

    def _run(self) -> None:
        self._timer = None
        if self._stopped or self._worker is not None:
            return
        self._started_at = self._clock()
        self._worker = self.owner.run_worker(
            self._run_in_thread, name=self.group, group=self.group, thread=True, exit_on_error=False
        )

    def _run_in_thread(self) -> None:
        try:
            message = self.work()
        except Exception as error:  # a bug or an unforeseen OS error: report it, run again later
            message = WorkFailed(self.group, describe_error(error))
        if message is not None:
            self.owner.post_message(message)


def describe_error(error: Exception) -> str:
    """``ValueError: what (engine.py:123)``: enough to find a bug from a screenshot."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" ({frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"
