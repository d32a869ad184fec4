"""The dashboard's keys on :mod:`plotman_tui.farm.jobcontrol` (the CLI's path too): each
function runs in a thread worker (signals, waiting for a job to stop or end, deleting files) and
turns the outcome into the message the app shows."""

from __future__ import annotations

from typing import Literal

from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.control import KillPlan
from plotman_tui.farm.jobcontrol import JobControl, Outcome
from plotman_tui.farm.model import Job
from plotman_tui.tui.messages import JobControlDone, KillPrepared

#: Where the dashboard's records say they come from.
SOURCE = "dashboard"


def controller(log: ActionLog | None) -> JobControl:
    return JobControl(log, SOURCE)


def _done(outcome: Outcome) -> JobControlDone:
    message = "; ".join([outcome.message, *outcome.errors])
    if outcome.log_problem is not None:
        message = f"{message} ({outcome.log_problem})"
    return JobControlDone(action=outcome.action, ok=outcome.ok, message=message)


def signal_job(
    control: JobControl, action: Literal["suspend", "resume"], job: Job
) -> JobControlDone:
    act = control.suspend if action == "suspend" else control.resume
    return _done(act(job))


def plan_kill(control: JobControl, job: Job) -> KillPrepared | JobControlDone:
    """Stop the job and list its temp files; a job that cannot be stopped is a failed kill."""
    held = control.prepare_kill(job)
    if isinstance(held, KillPlan):
        return KillPrepared(plan=held)
    return _done(held)


def finish_kill(control: JobControl, plan: KillPlan) -> JobControlDone:
    return _done(control.execute_kill(plan))


def call_off_kill(control: JobControl, plan: KillPlan, why: str) -> JobControlDone:
    """The kill was cancelled (``why``): the job runs on, and the action log says why."""
    return _done(control.cancel_kill(plan, why))


def switch(
    control: JobControl, switch: Literal["plotting", "archiving"], enabled: bool
) -> JobControlDone | None:
    """Record a pause or resume of ``switch``; a message only when the log cannot be written."""
    outcome = control.switch(switch, enabled)
    if outcome.log_problem is None:
        return None
    return JobControlDone(action=outcome.action, ok=False, message=outcome.log_problem)
