"""``analyze`` and ``export``: plot history as a table, JSON or CSV."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plotman_tui.config.schema import Config


class HistoryReportError(Exception):
    """A one-line error for the user, with the exit status to leave with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run_analyze(config: Config, args: argparse.Namespace, width: int | None) -> int:
    raise HistoryReportError("analyze is not built yet")


def run_export(config: Config, args: argparse.Namespace) -> int:
    raise HistoryReportError("export is not built yet")
