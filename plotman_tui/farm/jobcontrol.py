"""The one job-control path: suspend, resume and kill, each written to the action log.

The CLI (``suspend``, ``resume``, ``kill``) and the dashboard's keys both go through
:class:`JobControl`; only its ``source`` ("cli", "cli --force", "dashboard") differs, and it is
where every record's reason starts. The signals and the temp-file work are
:mod:`plotman_tui.farm.control`'s; this module adds the records and returns data
(:class:`Outcome`) for the caller to print or show.

A kill is asked about: :meth:`JobControl.prepare_kill` stops the job (SIGSTOP) and the job is
*held* until :meth:`JobControl.execute_kill` or :meth:`JobControl.cancel_kill`. Every held job
is in one registry of this process, so that no way out of the program leaves one frozen:
:func:`release_held` lets them all run on (and records why), and the programs call it on every
exit path: the dashboard when it closes for any reason, the CLI when its question is interrupted,
and an ``atexit`` hook as a last resort. :class:`StopSignals` turns SIGHUP, SIGTERM and SIGINT
into something a program can handle (a hangup of an SSH session would otherwise end it at once,
with the job still stopped). Only SIGKILL escapes all of this.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Literal

from plotman_tui.farm import control
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.control import KillPlan
from plotman_tui.farm.model import Job

#: The signals that end a program politely: a hangup (the terminal or SSH session went away),
#: a termination request (a service manager, ``kill``) and an interrupt (Ctrl-C).
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)

_SIGNAL_WORDS = {
    signal.SIGHUP: "hangup (SIGHUP)",
    signal.SIGTERM: "terminated (SIGTERM)",
    signal.SIGINT: "interrupted (SIGINT)",
}

#: What a pause or resume of each switch means, for the action log.
_SWITCH_WORDS = {
    "plotting": ("plotting resumed", "plotting paused (running jobs go on)"),
    "archiving": ("archiving resumed", "archiving paused (transfers under way go on)"),
}


def signal_words(signum: signal.Signals) -> str:
    """How a stop signal reads in the action log and on screen."""
    return _SIGNAL_WORDS.get(signum, signum.name)


@dataclass(frozen=True)
class Outcome:
    """What an action did, for whoever asked: ``message`` in one line, ``errors`` one per line
    (a kill's files that could not be deleted), and ``log_problem`` when the action log could
    not be written (the action happened all the same)."""

    action: str
    ok: bool
    message: str
    errors: tuple[str, ...] = ()
    log_problem: str | None = None


@dataclass(frozen=True)
class JobControl:
    """Job control as one program does it: ``source`` starts every record's reason; no
    ``log``, no records (a dashboard in a test)."""

    log: ActionLog | None
    source: str

    def record(
        self, action: str, job: Job | None, result: str, message: str = "", **extra: object
    ) -> str | None:
        """One action log entry, its reason ``"<source>: <message>"``; returns why it could not
        be written (never raises)."""
        if self.log is None:
            return None
        try:
            self.log.record(
                action,
                plot_id=job.plot_id if job else None,
                pid=job.pid if job else None,
                argv=job.argv if job else (),
                reason=f"{self.source}: {message}" if message else self.source,
                result=result,
                **extra,
            )
        except (OSError, ValueError, TypeError) as error:
            return f"action log not written: {error}"
        return None

    def suspend(self, job: Job) -> Outcome:
        """Stop the job (SIGSTOP); it keeps its memory and files."""
        return self._recorded("suspend", control.suspend(job), job)

    def resume(self, job: Job) -> Outcome:
        """Let a suspended job run on (SIGCONT)."""
        return self._recorded("resume", control.resume(job), job)

    def _recorded(self, action: str, result: control.ControlResult, job: Job) -> Outcome:
        problem = self.record(action, job, "ok" if result.ok else "failed", result.message)
        return Outcome(action, result.ok, result.message, log_problem=problem)

    def prepare_kill(self, job: Job) -> KillPlan | Outcome:
        """Stop the job and list its temp files: the plan, with the job held until the kill is
        executed or cancelled; or the failed kill (recorded) when the job cannot be stopped."""
        plan = control.prepare_kill(job)
        if not plan.stopped:
            problem = self.record("kill", job, "failed", plan.message)
            return Outcome("kill", False, plan.message, log_problem=problem)
        _HELD.hold(plan, self)
        return plan

    def execute_kill(self, plan: KillPlan) -> Outcome:
        """Kill the held job and delete its temp files. A job no longer held (let go because
        the program is closing) is left alone."""
        if not _HELD.take(plan):
            return Outcome(
                "kill",
                False,
                f"the kill of pid {plan.job.pid} was called off meanwhile: nothing done",
            )
        result = control.execute_kill(plan)
        problem = self.record(
            "kill",
            plan.job,
            "ok" if result.ok else "failed",
            deleted=list(result.deleted),
            freed_bytes=result.freed_bytes,
        )
        return Outcome("kill", result.ok, result.message, result.errors, problem)

    def cancel_kill(self, plan: KillPlan, why: str) -> Outcome:
        """Let the held job run on (unless it was suspended before the plan); nothing deleted.
        Recorded as a ``resume``: "kill cancelled: <why> — resumed"."""
        if not _HELD.take(plan):
            return Outcome("cancel-kill", True, f"the kill of pid {plan.job.pid} is over already")
        result = control.cancel_kill(plan)
        if not result.ok:
            outcome, tail = "failed", result.message
        elif plan.resume_on_cancel:
            outcome, tail = "ok", "resumed"
        else:
            outcome, tail = "stopped", "stays suspended, as before"
        problem = self.record("resume", plan.job, outcome, f"kill cancelled: {why} — {tail}")
        return Outcome("cancel-kill", result.ok, result.message, log_problem=problem)

    def switch(self, switch: Literal["plotting", "archiving"], enabled: bool) -> Outcome:
        """Record a pause (or its end) of starting plots or transfers."""
        action = "unpause" if enabled else "pause"
        resumed, paused = _SWITCH_WORDS[switch]
        what = resumed if enabled else paused
        problem = self.record(action, None, "ok", what, switch=switch)
        return Outcome(action, True, what, log_problem=problem)


class _HeldJobs:
    """The jobs of this process stopped for a kill question, each with who holds it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # By identity: a plan is held once, and taken (executed or cancelled) once.
        self._plans: dict[int, tuple[KillPlan, JobControl]] = {}

    def hold(self, plan: KillPlan, holder: JobControl) -> None:
        with self._lock:
            self._plans[id(plan)] = (plan, holder)

    def take(self, plan: KillPlan) -> bool:
        """Whether ``plan`` was held; it is not any more (whoever takes it acts on it)."""
        with self._lock:
            held = self._plans.get(id(plan))
            if held is None or held[0] is not plan:
                return False
            del self._plans[id(plan)]
            return True

    def plans(self) -> list[tuple[KillPlan, JobControl]]:
        with self._lock:
            return list(self._plans.values())


_HELD = _HeldJobs()


def held_plans() -> list[KillPlan]:
    """The jobs this process holds stopped for a kill question now."""
    return [plan for plan, _ in _HELD.plans()]


def release_held(why: str) -> list[Outcome]:
    """Let every job this process holds for a kill run on, each recorded with ``why``."""
    return [holder.cancel_kill(plan, why) for plan, holder in _HELD.plans()]


# The last resort: an exit no caller saw coming (an uncaught exception, sys.exit somewhere).
atexit.register(release_held, "plotman-tui exited")


class StopSignal(Exception):
    """A stop signal arrived where the program may be interrupted (see :class:`StopSignals`)."""

    def __init__(self, signum: signal.Signals) -> None:
        super().__init__(signal_words(signum))
        self.signum = signum


class StopSignals:
    """While inside (in the main thread): SIGHUP, SIGTERM and SIGINT no longer end the program
    where it stands; the first one is kept in ``received`` and handed to ``on_signal``.

    ``on_signal`` runs in the signal handler, between two bytecodes of the main thread: it
    may only note the signal or schedule work (``loop.call_soon_threadsafe``), never take a lock.
    Inside :meth:`interruptible` (a question waiting for its answer) a signal raises
    :class:`StopSignal` there and then; elsewhere the step under way finishes, and
    :meth:`check` raises it after. The old handlers come back on the way out; with
    ``ignore_after_stop``, once a signal has stopped the program, further stop signals are
    ignored instead through its exit (the interpreter puts the default action back for its own
    handlers before its final garbage collection, and a second SIGTERM then ended it with 143).
    """

    def __init__(
        self,
        on_signal: Callable[[signal.Signals], None] | None = None,
        *,
        ignore_after_stop: bool = False,
    ) -> None:
        self.on_signal = on_signal
        self.ignore_after_stop = ignore_after_stop
        self.received: signal.Signals | None = None
        self._interruptible = False
        self._previous: dict[signal.Signals, object] = {}

    def __enter__(self) -> StopSignals:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stopped = self.ignore_after_stop and self.received is not None
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_IGN if stopped else previous)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, number: int, _frame: FrameType | None) -> None:
        signum = signal.Signals(number)
        if self.received is None:
            self.received = signum
            if self.on_signal is not None:
                self.on_signal(signum)
        if self._interruptible:
            self._interruptible = False
            raise StopSignal(self.received)

    def check(self) -> None:
        """Raise :class:`StopSignal` if a stop signal came meanwhile."""
        if self.received is not None:
            raise StopSignal(self.received)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A stretch (waiting for an answer) that a stop signal may cut short."""
        self.check()
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False
