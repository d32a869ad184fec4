"""The fleet's jobs: every host's jobs in one :class:`JobsTable`, a ``host`` column first, each
row keyed by its host and job (two hosts may have a job of the same pid and start)."""

from __future__ import annotations

from plotman_tui.farm.model import Job
from plotman_tui.tui.view import HostJob, fleet_job_key
from plotman_tui.tui.widgets.jobs_table import JobsTable


class FleetJobsTable(JobsTable):
    """Every host's jobs (:class:`HostJob`); the cursor stays on its job as they move."""

    def key_of(self, job: Job) -> str:
        return fleet_job_key(job)

    @property
    def selected_host_job(self) -> HostJob | None:
        job = self.selected_job
        return job if isinstance(job, HostJob) else None

    def select_job(self, job: Job) -> bool:
        return self.select_key(fleet_job_key(job))
