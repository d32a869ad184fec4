"""Prometheus metrics: plotman's names first, then plotman-tui's own."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plotman_tui.config.schema import Config


class MetricsError(Exception):
    """A one-line error for the user, with the exit status to leave with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run_metrics(config: Config, *, serve: str | None) -> int:
    raise MetricsError("metrics is not built yet")
