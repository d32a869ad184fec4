"""The fleet's jobs: every host's jobs in one :class:`JobsTable`, a ``host`` column first, each
row keyed by its host and job (two hosts may have a job of the same pid and start).

Ten hosts of fifty jobs make 500 rows, and each host's scan brings every one of its jobs anew
(a running job's CPU times move between two scans): a row whose job is the very object it was
drawn from (the fleet screen keeps a host's jobs while they do not change) keeps its cells
without working out their text again, and one whose job changed only in the slow columns keeps
them too, until the slow columns are due (:data:`FLEET_SLOW_REFRESH_S`) or the columns change.

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
#: The fleet's slow columns (wall time, memory, CPU times, I/O) are shown afresh this often,
#: not every 5 s as on a host's own dashboard: at 500 rows each refresh draws every row
#: again, and on an overview of the whole fleet a wall time or a memory figure 15 s old
#: misleads nobody (a phase, a state, progress and ETA still show at once).
FLEET_SLOW_REFRESH_S = 15.0


class FleetJobsTable(JobsTable):
    """Every host's jobs (:class:`HostJob`); the cursor stays on its job as they move."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._drawn_from: dict[str, Job] = {}
        self._last_columns: Sequence[JobColumn] | None = None
        self._same_columns = False
        self._estimate_columns: list[int] = []
        # By id(job): the job (so the id is not another's meanwhile) and its row's key.
        self._keys: dict[int, tuple[Job, str]] = {}

    REPORTS_MOVES = True  # the fleet screen's p and a say the host of the job under it
    slow_refresh_s = FLEET_SLOW_REFRESH_S

    def key_of(self, job: Job) -> str:
        # Each job's key is kept with it while the job is shown: 500 keys made on each
        # host's news were a tenth of the fleet screen's time.
        kept = self._keys.get(id(job))
        if kept is not None and kept[0] is job:
            return kept[1]
        key = fleet_job_key(job)
        self._keys[id(job)] = (job, key)
        return key

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
        if len(self._keys) > 2 * len(self._jobs):  # the keys of jobs no longer shown go
            self._keys = {id(job): (job, key) for key, job in self._jobs.items()}

    def _row_cells(self, key: str, job: Job, slow_due: bool, quick: list[int]) -> tuple[Cell, ...]:
        old = self._cells.get(key)
        fresh = not slow_due and self._same_columns
        if fresh and old is not None and self._drawn_from.get(key) is job:
            return old
        return super()._row_cells(key, job, slow_due, [*quick, *self._estimate_columns])
