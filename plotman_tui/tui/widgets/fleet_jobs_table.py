"""The fleet's jobs: every host's jobs in one :class:`JobsTable`, a ``host`` column first, each
row keyed by its host and job (two hosts may have a job of the same pid and start).

Ten hosts of fifty jobs make 500 rows, and each host's news changes a few of them: a row whose
job is the very object it was drawn from (the fleet screen keeps a host's jobs while they do
not change) keeps its cells without working out their text again, until the slow columns are
due (``SLOW_REFRESH_S``) or the columns change.

A host's job's progress and ETA are not slow columns here: they are its host's estimate, which
comes with the job, only when it moved by a percent or a minute, and is shown at once."""

from __future__ import annotations

from collections.abc import Sequence

from plotman_tui.farm.model import Job
from plotman_tui.tui.view import HostJob, JobColumn, fleet_job_key
from plotman_tui.tui.widgets.jobs_table import JobsTable
from plotman_tui.tui.widgets.line_table import Cell

#: The columns of a host's estimate (see the module doc).
ESTIMATE_COLUMNS = frozenset({"done", "eta"})


class FleetJobsTable(JobsTable):
    """Every host's jobs (:class:`HostJob`); the cursor stays on its job as they move."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._drawn_from: dict[str, Job] = {}
        self._last_columns: Sequence[JobColumn] | None = None
        self._same_columns = False
        self._estimate_columns: list[int] = []

    REPORTS_MOVES = True  # the fleet screen's p and a say the host of the job under it

    def key_of(self, job: Job) -> str:
        return fleet_job_key(job)

    @property
    def selected_host_job(self) -> HostJob | None:
        job = self.selected_job
        return job if isinstance(job, HostJob) else None

    def show(
        self, jobs: Sequence[Job], columns: Sequence[JobColumn], *, afresh: bool = False
    ) -> None:
        # The same list of columns (the screen keeps it while the dir prefixes stay) draws
        # the same job the same way.
        self._same_columns = columns is self._last_columns
        self._last_columns = columns
        self._estimate_columns = [i for i, c in enumerate(columns) if c.id in ESTIMATE_COLUMNS]
        super().show(jobs, columns, afresh=afresh)
        self._drawn_from = {key: self._jobs[key] for key in self._cells}

    def _row_cells(self, key: str, job: Job, slow_due: bool, quick: list[int]) -> tuple[Cell, ...]:
        old = self._cells.get(key)
        fresh = not slow_due and self._same_columns
        if fresh and old is not None and self._drawn_from.get(key) is job:
            return old
        return super()._row_cells(key, job, slow_due, [*quick, *self._estimate_columns])
