"""The dashboard's link to the fleet: the :class:`~plotman_tui.fleet.client.FleetClient` run in
an async worker of the app (group ``fleet``), and the keys that act on a host's jobs and loops,
each through :mod:`plotman_tui.fleet.control` in an async worker (group ``fleet-control``): the
event loop never waits on a host, and a host that does not answer costs only its own key.

A kill asks as a local one does: the job is stopped on its host and its temp files listed
there, then the same question (:class:`~plotman_tui.tui.screens.kill_screen.KillScreen`) shows
them; only a yes kills (``kill --force`` there), any other way out resumes the job there, and
so does quitting with the question open. A resume that fails there is never quiet: the job
would stay frozen for hours. The farmer is told it is STILL SUSPENDED (at quit, on the terminal
once the screen has gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from textual.app import App
from textual.worker import Worker

from plotman_tui.config.schema import ArchivingConfig, Config
from plotman_tui.dirview import ArchiveRow
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.control import KillPlan
from plotman_tui.farm.model import Job, JobStatus, Snapshot, TempFile
from plotman_tui.farm.units import human_bytes, printable
from plotman_tui.fleet.model import HostView, LoopState
from plotman_tui.tui.messages import FleetChanged, FleetKillPrepared, JobControlDone
from plotman_tui.tui.view import (
    DashboardState,
    HostJob,
    JobColumn,
    SortOrder,
    dir_prefixes,
    host_job,
    job_columns,
)


def _job_ref(job: HostJob) -> str:
    from plotman_tui.fleet.control import job_ref

    return job_ref(job)


if TYPE_CHECKING:
    from plotman_tui.farm.archive.replot import ReplotProgress

    # Imported when a fleet is configured (see FleetLink.start): a dashboard without one
    # loads no fleet client.
    from plotman_tui.fleet.client import FleetClient
    from plotman_tui.fleet.control import ControlOutcome as Outcome

#: On quit, how long closing the fleet's connections may take.
FLEET_STOP_S = 5.0
#: On quit, how long resuming a job held for a kill question on its host may take: the
#: command's own time limit (30 s) and a little. Quitting waits that long for a host that
#: does not answer; a job left stopped there would stay so for hours.
FLEET_RESUME_S = 35.0
#: How long the notice that a job is still suspended on its host stays up.
STILL_SUSPENDED_NOTICE_S = 120.0
#: The words a fleet command's failure has when it ran on the host but did not answer in time
#: (farm.ssh.ssh_problem's and the fleet client's): what it was to do may have been done.
_UNANSWERED = "did not finish within"

LoopName = Literal["plotting", "archiving"]


def job_words(job: HostJob) -> str:
    """``job 1a2b3c4d (pid 4242) on plotter2``."""
    return f"job {(job.plot_id or '?')[:8]} (pid {job.pid}) on {job.host}"


def still_suspended(
    job: HostJob, why: str, *, may: bool = False, then: str = "press r on it on the fleet screen"
) -> str:
    """The loud line for a job a kill left stopped on its host (``may``: whether it was
    stopped at all is not known); ``then``: what the farmer can do."""
    state = "MAY BE STILL SUSPENDED" if may else "is STILL SUSPENDED"
    return f"{job_words(job)} {state} ({why}): {then}"


def kill_plan(job: HostJob, files: Sequence[TempFile], total_bytes: int) -> KillPlan:
    """The kill question's plan for a job stopped on its host, from the host's listing."""
    count = len(files)
    who = job_words(job)
    if count:
        what = f"{count} temp file{'' if count == 1 else 's'} ({human_bytes(total_bytes)})"
        message = f"{who} is stopped; killing it deletes {what} there"
    else:
        message = f"{who} is stopped; killing it deletes no temp file (none found there)"
    return KillPlan(
        job=job,
        files=tuple(files),
        total_bytes=total_bytes,
        stopped=True,
        message=message,
        # A job its farmer had suspended stays so when the kill is called off.
        resume_on_cancel=job.status is not JobStatus.STP,
    )


class FleetLink:
    """The fleet as the app sees it: the client, its worker, and the keys' remote actions.

    ``views``: every host's latest view, as the last :class:`FleetChanged` brought them.
    """

    def __init__(
        self,
        app: App[int],
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        action_log: Callable[[], ActionLog | None] = lambda: None,
    ) -> None:
        self.app = app
        self._action_log = action_log
        self.config = config
        self.clock = clock
        self.views: tuple[HostView, ...] = ()
        self.client: FleetClient | None = None
        self._stop: asyncio.Event | None = None
        self._worker: Worker[None] | None = None
        # The job stopped on its host for the kill question (None: no question open).
        self.pending_kill: HostJob | None = None
        # That kill's suspend while it is on its way (close() waits for it before resuming).
        self._suspending: asyncio.Future[tuple[bool, str]] | None = None
        self._closing = False
        #: Jobs quitting left stopped on their hosts (a resume that failed): one line each,
        #: printed to the terminal once the app has gone (run_dashboard).
        self.left_suspended: list[str] = []

    # -- the client --------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to every host (in the app's event loop; never waits on one)."""
        from plotman_tui.fleet.client import FleetClient

        self.client = FleetClient(self.config, clock=self.clock, on_change=self._changed)
        self._stop = asyncio.Event()
        self._worker = self.app.run_worker(
            self.client.run(self._stop), name="fleet", group="fleet", exit_on_error=False
        )

    def _changed(self, _name: str) -> None:
        client = self.client
        if client is not None and not self._closing:
            self.app.post_message(FleetChanged(tuple(client.views())))

    @property
    def log(self) -> ActionLog | None:
        """This machine's action log, where each remote action is recorded (None: the
        default one)."""
        return self._action_log()

    def view(self, host: str) -> HostView | None:
        return next((view for view in self.views if view.name == host), None)

    async def close(self) -> None:
        """Let a job held for the kill question run on there, then close every connection."""
        self._closing = True
        held, self.pending_kill = self.pending_kill, None
        client = self.client
        suspending = self._suspending
        if held is not None and suspending is not None and not suspending.done():
            # A kill's suspend on its way: a resume sent now could land first, and the job
            # stay stopped there with nothing said. It is waited for (its own time limit).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(suspending), FLEET_RESUME_S)
        if held is not None and client is not None:
            try:
                resume = self._answer(self._on_job(client, "resume", held))
                ok, message = await asyncio.wait_for(resume, FLEET_RESUME_S)
            except TimeoutError:
                ok, message = False, f"{_UNANSWERED} {FLEET_RESUME_S:g} s"
            if not ok:
                then = f"run `plotman-tui resume {_job_ref(held)}` on {held.host}"
                self.left_suspended.append(
                    still_suspended(
                        held, f"resume failed: {message}", then=then, may=_UNANSWERED in message
                    )
                )
        if self._stop is not None:
            self._stop.set()
        if self._worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._worker.wait(), FLEET_STOP_S)

    # -- keys --------------------------------------------------------------------------------

    def _connected(self) -> FleetClient | None:
        if self.client is None:
            self.app.notify("not connected to the fleet", title="fleet", severity="warning")
        return self.client

    def _run(self, work: Callable[[FleetClient], Awaitable[None]]) -> None:
        client = self._connected()
        if client is not None:
            self.app.run_worker(work(client), group="fleet-control", exit_on_error=False)

    @staticmethod
    async def _answer(call: Awaitable[Outcome]) -> tuple[bool, str]:
        """A control command's outcome; one that raised is a failure with its words (the
        host's answer is untrusted: it costs this key, never the app)."""
        try:
            outcome = await call
        except Exception as error:
            return False, str(error) or type(error).__name__
        return outcome.ok, outcome.message

    def _done(self, action: str, host: str, ok: bool, message: str) -> None:
        self.app.post_message(JobControlDone(action=action, ok=ok, message=f"{host}: {message}"))

    def _loud(self, line: str) -> None:
        """A job left stopped on its host: an error notice that stays up a while."""
        self.app.notify(line, title="kill", severity="error", timeout=STILL_SUSPENDED_NOTICE_S)

    def _on_job(
        self, client: FleetClient, action: Literal["suspend", "resume", "kill"], job: HostJob
    ) -> Awaitable[Outcome]:
        """The host's own command for ``action`` on ``job``, recorded in this action log."""
        from plotman_tui.fleet import control

        act = {"suspend": control.suspend, "resume": control.resume, "kill": control.kill}[action]
        return act(client, job.host, job, action_log=self.log)

    def signal(self, action: Literal["suspend", "resume"], job: HostJob) -> None:
        """``s`` or ``r`` on a host's job: the host's own ``suspend``/``resume`` there."""

        async def work(client: FleetClient) -> None:
            answer = await self._answer(self._on_job(client, action, job))
            self._done(action, job.host, *answer)

        self._run(work)

    def switch(self, host: str, loop: LoopName, paused: bool) -> None:
        """``p`` or ``a`` on a host: its pause flag set (or removed) there."""
        from plotman_tui.fleet import control

        async def work(client: FleetClient) -> None:
            switched = control.switch_loop(client, host, loop, paused, action_log=self.log)
            self._done("pause" if paused else "unpause", host, *await self._answer(switched))

        self._run(work)

    def kill(self, job: HostJob) -> None:
        """``k`` on a host's job: stop it there, list its files there, then ask."""
        if self.pending_kill is not None:
            self.app.notify("a kill is waiting for an answer already", severity="warning")
            return
        client = self._connected()
        if client is None:
            return
        self.pending_kill = job
        self.app.run_worker(
            self._prepare_kill(client, job), group="fleet-control", exit_on_error=False
        )

    async def _prepare_kill(self, client: FleetClient, job: HostJob) -> None:
        from plotman_tui.fleet import control

        suspend = asyncio.ensure_future(self._answer(self._on_job(client, "suspend", job)))
        self._suspending = suspend
        try:
            ok, message = await suspend
        finally:
            self._suspending = None
        if self._closing:
            return  # quitting meanwhile: close() waited for this, and lets it run on
        if not ok:
            self.pending_kill = None
            if _UNANSWERED in message and job.status is not JobStatus.STP:
                # It ran there but did not answer: the job may be stopped. Let it run on.
                resumed, words = await self._answer(self._on_job(client, "resume", job))
                if not resumed:
                    why = f"its suspend did not answer ({message}); resume failed: {words}"
                    self._loud(still_suspended(job, why, may=True))
                    return
                message += "; resumed there to be sure"
            self._done("kill", job.host, False, message)
            return
        try:
            listed = await control.list_files(client, job.host, job)
            problem = listed.problem
        except Exception as error:
            problem = str(error) or type(error).__name__
        if problem is not None:
            # Stopped, but its files are not known: no question, and the job runs on.
            if self.pending_kill is job:
                self.pending_kill = None
                resumed, words = await self._answer(self._on_job(client, "resume", job))
                if not resumed:
                    why = f"cannot list its temp files: {problem}; resume failed: {words}"
                    self._loud(still_suspended(job, why, may=_UNANSWERED in words))
                    return
            self._done("kill", job.host, False, f"cannot list its temp files: {problem}")
            return
        if self.pending_kill is not job:  # quitting meanwhile: close() let it run on
            return
        plan = kill_plan(job, listed.files, listed.total_bytes)
        self.app.post_message(FleetKillPrepared(host=job.host, plan=plan))

    def kill_answered(self, plan: KillPlan, kill: bool, why: str) -> None:
        """The question closed: a yes kills there, anything else lets the job run on there."""
        job = self.pending_kill
        self.pending_kill = None
        if job is None:
            return  # closing: close() resumed it
        if kill:
            self.app.notify(f"killing pid {job.pid} on {job.host}…", title="kill", timeout=4)

            async def work(client: FleetClient) -> None:
                ok, message = await self._answer(self._on_job(client, "kill", job))
                if ok or not plan.resume_on_cancel:
                    self._done("kill", job.host, ok, message)
                    return
                # Not killed (or not known to be): the job this question stopped must not
                # stay frozen there. A job that is gone makes the resume fail too: "may".
                resumed, words = await self._answer(self._on_job(client, "resume", job))
                if not resumed:
                    failed = f"kill failed: {message}; resume failed: {words}"
                    self._loud(still_suspended(job, failed, may=True))
                    return
                self._done("kill", job.host, False, f"{message}; the job runs on there")

        else:

            async def work(client: FleetClient) -> None:
                if not plan.resume_on_cancel:  # it was suspended before: it stays so
                    self._done("cancel-kill", job.host, True, f"kill cancelled ({why})")
                    return
                ok, message = await self._answer(self._on_job(client, "resume", job))
                if not ok:
                    failed = f"kill cancelled; resume failed: {message}"
                    self._loud(still_suspended(job, failed, may=_UNANSWERED in message))
                    return
                self._done("cancel-kill", job.host, ok, f"kill cancelled ({why}); {message}")

        self._run(work)


# -- a host's own dashboard ----------------------------------------------------------------------

#: A host's watch says something at least this often (its beat): the status line's "look".
HOST_BEAT_S = 2.0


def loop_words(loop: LoopState, name: str) -> tuple[str, str]:
    """A host's plotting or archiving loop for the status line: ``(word, detail)``."""
    if not loop.configured:
        return "not set up", ""
    reason = printable(loop.reason or "")
    if loop.paused:
        by = f"(by {printable(loop.paused_by)})" if loop.paused_by else ""
        return "paused", "; ".join(part for part in (by, reason) if part)
    if loop.running:
        return "active", "; ".join(part for part in (reason, printable(loop.holder or "")) if part)
    return "no loop", f"no {name} loop runs there" + (f"; {reason}" if reason else "")


class HostSource:
    """A fleet host's dashboard data, from its view (a :class:`DashboardSource`); its order
    and filter are kept while the view changes (:meth:`update`)."""

    def __init__(self, view: HostView, fallback: Config) -> None:
        self.jobs_order = SortOrder()
        self.filter_text = ""
        self._fallback = fallback
        self.state = DashboardState()
        self.view = view
        self.update(view)

    @property
    def host(self) -> str | None:
        return self.view.name

    @property
    def config(self) -> Config:
        """The host's own config, as its watch sent it; without one (it could not be read
        here) this machine's, less its dirs (which are not the host's)."""
        sent = self.view.config.config if self.view.config is not None else None
        if sent is not None:
            return sent
        return replace(
            self._fallback,
            directories=replace(self._fallback.directories, tmp=(), dst=(), tmp2=None),
            archiving=ArchivingConfig(),
        )

    @property
    def archiving_configured(self) -> bool:
        return self.view.archiving.configured

    def update(self, view: HostView) -> None:
        """The host's latest view: its jobs (as :class:`HostJob`), dirs and action log."""
        self.view = view
        state = self.state
        if view.jobs is not self._jobs_from:
            jobs = tuple(host_job(view.name, job) for job in view.jobs)
            state.snapshot = Snapshot(jobs=jobs, updated=view.updated_at, problems=view.problems)
        elif view.problems != state.snapshot.problems:
            state.snapshot = replace(state.snapshot, problems=view.problems)
        self._jobs_from = view.jobs
        state.dir_of = view.dir_of
        state.dirs = {info.path: info for info in view.dirs}
        state.dirs_taken_at = view.dirs_taken_at
        state.last_pass_at = view.news_at
        if not state.actions or tuple(state.actions) != view.actions:
            state.actions.clear()
            state.actions.extend(view.actions)

    _jobs_from: tuple[Job, ...] | None = None

    def columns(self) -> list[JobColumn]:
        # Progress and ETA as the host worked them out from its own history (an older
        # watch sends none: "-").
        return job_columns(
            *dir_prefixes(self.config, self.state.snapshot.jobs), self.view.estimates
        )

    def archive_view(self) -> tuple[list[ArchiveRow], Mapping[str, ReplotProgress] | None]:
        return list(self.view.archive_rows), None

    def replot_lines(self) -> tuple[str, ...]:
        return ()

    def plotting_words(self, now: float) -> tuple[str, str]:
        return loop_words(self.view.plotting, "plotting")

    def archiving_words(self) -> tuple[str, str]:
        return loop_words(self.view.archiving, "archiving")

    def cadence(self, now: float) -> tuple[float, float, float | None]:
        news = self.view.news_at
        schedule = float(self.config.scheduling.polling_time_s)
        return HOST_BEAT_S, schedule, None if news is None else max(now - news, 0.0)
