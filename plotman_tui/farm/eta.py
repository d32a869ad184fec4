"""Progress and ETA of running jobs, learned from finished runs like them.

An :class:`EtaModel` is built from history records; :meth:`EtaModel.estimate` places a running
job against the finished runs of the same plotter and k (the same tmp dir too when it has at
least three). With no such runs the ETA is unknown, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from plotman_tui.farm.history import PlotRecord
from plotman_tui.farm.model import Job


@dataclass(frozen=True)
class Estimate:
    """``progress`` 0.0–1.0 and ``eta_seconds`` left (None: unknown); ``basis``: how many
    finished runs it rests on (0 with no history)."""

    progress: float | None
    eta_seconds: float | None
    basis: int


UNKNOWN = Estimate(None, None, 0)


class EtaModel:
    """What finished runs say about how long each phase takes."""

    @classmethod
    def from_records(cls, records: Iterable[PlotRecord]) -> EtaModel:
        raise NotImplementedError

    def estimate(self, job: Job, now: float) -> Estimate:
        raise NotImplementedError
