"""BladeBit's GPU plotter: ``bladebit_cuda [global options] cudaplot [options] <out_dir>``.

``bladebit ... cudaplot`` (a CUDA build named plain ``bladebit``) is the same plotter. It plots in
three phases on the GPU; writing out the plot file is reported here as phase 4. Temp dirs are only
used in the hybrid ``--disk-128``/``--disk-16`` modes, but ``-t1``/``-t2`` are passed anyway (the
plotter ignores them otherwise) so that a job's command line names the temp dir it was given.

No complete real log of this plotter is known. The lines below are the format strings of BladeBit
3.1's ``cuda/CudaPlotter.cu`` and ``cuda/CudaPlotPhase{2,3}.cu``, checked against the real pieces
of runs users posted (``tests/fixtures/plotter-logs/fragments/bladebit_cuda_*``): with ``-n`` one
log holds every plot, ``Generating plot N / M: <id>`` starts plot N, ``Completed Plot 1 in`` ends
each one whatever its number (bladebit#417), ``Completed writing plot in`` puts it in place; a
wrapper may stamp every line (``[Sep 24 10:50:53] ``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from plotman_tui.plotters.base import PlotArgs
from plotman_tui.plotters.bladebit import (
    BladebitLogParserBase,
    bladebit_plot_args,
    global_argv,
    read_command,
    seconds_in,
)
from plotman_tui.plotters.logscan import first_int

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlottingConfig


class BladebitCudaPlotter:
    """``bladebit_cuda ... cudaplot``."""

    name = "bladebit_cuda"

    def matches(self, argv: Sequence[str]) -> bool:
        command = read_command(argv)
        return command is not None and command.mode == "cudaplot"

    def parse_args(self, argv: Sequence[str], cwd: str | None = None) -> PlotArgs:
        command = read_command(argv)
        if command is None or command.mode != "cudaplot":
            return PlotArgs()
        return bladebit_plot_args(command, cwd)

    def build_argv(
        self, plotting: PlottingConfig, tmp_dir: str, tmp2_dir: str | None, dst_dir: str
    ) -> list[str]:
        options = plotting.bladebit_cuda
        argv = global_argv(
            options.executable, options.threads, options.no_numa, plotting, options.compress
        )
        argv += ["cudaplot", "-d", str(options.device), "-t1", tmp_dir]
        if tmp2_dir is not None:
            argv += ["-t2", tmp2_dir]
        return [*argv, dst_dir]

    def new_log_parser(self) -> BladebitCudaLogParser:
        return BladebitCudaLogParser()


PLOTTER = BladebitCudaPlotter()


class BladebitCudaLogParser(BladebitLogParserBase):
    """Follows a ``cudaplot`` log (BladeBit 3.x)."""

    generating_phase = (0, 2)
    _LINE_STARTS = (
        *BladebitLogParserBase.COMMON_LINE_STARTS,
        "Table ",
        "Marked Table ",
        "Compressing Table ",
        "Compressing tables ",
        "Generating F1",
        "Finished F1 in",
        "Finalizing Table 7",
        "Serializing P7 entries",
        "Completed Plot ",
        "Completed writing plot in ",
        "Allocating buffers",
        "[",  # a time stamp: "[Sep 24 10:50:53] Generating plot 1 / 30: ..."
    )

    def _line(self, line: str) -> None:
        if not line:
            return
        if line[0] == "[":
            # A wrapper's time stamp before the text (bladebit#417) is not part of it.
            unstamped = self._unstamped(line)
            if unstamped is None:
                return
            line = unstamped
        if line.startswith("Table "):
            # "Table 3 completed in 1.23 seconds with 4294967296 entries."
            table = first_int(line)
            if table is not None and " completed in " in line:
                self._set_phase(1, table)
        elif line.startswith("Marked Table "):
            # Phases 2 and 3 print BladeBit's zero-based table ids: "Marked Table 6" is table 7.
            table = first_int(line)
            if table is not None:
                self._set_phase(2, 7 - table)
        elif line.startswith(("Compressing Table ", "Compressing tables ")):
            table = first_int(line)
            if table is not None:
                self._set_phase(3, table)
        elif line.startswith("Generating F1"):
            self._set_phase(1, 0)
        elif line.startswith("Finished F1 in"):
            self._set_phase(1, 1)
        elif line.startswith("Finalizing Table 7"):
            self._set_phase(1, 8)
        elif line.startswith("Serializing P7 entries"):
            self._set_phase(3, 7)
        elif line.startswith("Completed Plot "):
            # "Completed Plot 1 in ..." after every plot of a run (bladebit#417): its number
            # is not the plot's, so it is not read.
            self._set_phase(4, 1)
            self.total_seconds = seconds_in(line)
        elif line.startswith("Completed writing plot in "):
            self._set_phase(4, 2)
            self._complete()
        elif line.startswith("Allocating buffers"):
            self._set_phase(0, 1)
        else:
            self._common_line(line)
