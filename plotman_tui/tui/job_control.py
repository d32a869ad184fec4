"""Suspend, resume and kill from the dashboard: ``farm.control``, recorded in the action log.

Each function blocks (signals, waiting for a job to stop or end, deleting files) and runs in a
thread worker; it returns the message for the app, as the CLI's ``_record`` and prints would.
"""

from __future__ import annotations

from plotman_tui.farm import control
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.control import KillPlan
from plotman_tui.farm.model import Job
from plotman_tui.tui.messages import JobControlDone, KillPrepared

REASON = "dashboard"


def record(
    log: ActionLog | None,
    action: str,
    job: Job | None,
    result: str,
    reason: str,
    **extra: object,
) -> str | None:
    """One action log entry; returns why it could not be written (never raises)."""
    if log is None:
        return None
    try:
        log.record(
            action,
            plot_id=job.plot_id if job else None,
            pid=job.pid if job else None,
            argv=job.argv if job else (),
            reason=reason,
            result=result,
            **extra,
        )
    except (OSError, ValueError, TypeError) as error:
        return f"action log not written: {error}"
    return None


def _done(action: str, ok: bool, message: str, log_problem: str | None) -> JobControlDone:
    if log_problem is not None:
        message = f"{message} ({log_problem})"
    return JobControlDone(action=action, ok=ok, message=message)


def signal_job(log: ActionLog | None, action: str, job: Job) -> JobControlDone:
    """``action`` is "suspend" or "resume"."""
    act = control.suspend if action == "suspend" else control.resume
    outcome = act(job)
    problem = record(
        log, action, job, "ok" if outcome.ok else "failed", f"{REASON}: {outcome.message}"
    )
    return _done(action, outcome.ok, outcome.message, problem)


def plan_kill(log: ActionLog | None, job: Job) -> KillPrepared | JobControlDone:
    """Stop the job and list its temp files; a job that cannot be stopped is a failed kill."""
    plan = control.prepare_kill(job)
    if plan.stopped:
        return KillPrepared(plan=plan)
    problem = record(log, "kill", job, "failed", f"{REASON}: {plan.message}")
    return _done("kill", False, plan.message, problem)


def finish_kill(log: ActionLog | None, plan: KillPlan) -> JobControlDone:
    outcome = control.execute_kill(plan)
    message = outcome.message
    if outcome.errors:
        message += "; " + "; ".join(outcome.errors)
    problem = record(
        log,
        "kill",
        plan.job,
        "ok" if outcome.ok else "failed",
        REASON,
        deleted=list(outcome.deleted),
        freed_bytes=outcome.freed_bytes,
    )
    return _done("kill", outcome.ok, message, problem)


def call_off_kill(plan: KillPlan) -> JobControlDone:
    """The kill was cancelled: the job runs on (nothing recorded, as the CLI does)."""
    outcome = control.cancel_kill(plan)
    return JobControlDone(action="cancel-kill", ok=outcome.ok, message=outcome.message)


#: What a pause or resume of each switch means, for the action log.
_SWITCH_WORDS = {
    "plotting": ("plotting resumed", "plotting paused (running jobs go on)"),
    "archiving": ("archiving resumed", "archiving paused (transfers under way go on)"),
}


def switch(log: ActionLog | None, switch: str, enabled: bool) -> JobControlDone | None:
    """Record a pause or resume of ``switch`` ("plotting" or "archiving"); a message only when
    the log cannot be written."""
    action = "unpause" if enabled else "pause"
    resumed, paused = _SWITCH_WORDS[switch]
    what = resumed if enabled else paused
    problem = record(log, action, None, "ok", f"{REASON}: {what}", switch=switch)
    if problem is None:
        return None
    return JobControlDone(action=action, ok=False, message=problem)
