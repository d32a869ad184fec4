"""madMAx's Gigahorse GPU plotter: ``cuda_plot_k32 [options]`` (``cuda_plot_k26`` .. ``_k34``,
``cuda_plot_k32_v3``; ``.exe`` on Windows). SKELETON: filled in by the plotters' work of issue 13.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from plotman_tui.plotters.base import LogParser, PlotArgs
from plotman_tui.plotters.madmax import MadmaxLogParser

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlottingConfig


class GigahorsePlotter:
    """``cuda_plot_k32``: one process plots ``-n`` plots in a row."""

    name = "gigahorse"

    def matches(self, argv: Sequence[str]) -> bool:
        return False

    def parse_args(self, argv: Sequence[str], cwd: str | None = None) -> PlotArgs:
        return PlotArgs()

    def build_argv(
        self, plotting: PlottingConfig, tmp_dir: str, tmp2_dir: str | None, dst_dir: str
    ) -> list[str]:
        raise NotImplementedError

    def new_log_parser(self) -> LogParser:
        return MadmaxLogParser()


PLOTTER = GigahorsePlotter()
