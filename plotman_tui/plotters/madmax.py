"""madMAx's pipelined plotter: ``chia_plot``, and its ``chia_plot_k34`` build for k33 and k34.

Its log prints the settings first, then ``Plot Name: plot-k32-YYYY-MM-DD-HH-MM-<id>`` (the only
date it has), one line per table in each phase, and ``Phase N took X sec``. The plot is in place
once ``Renamed final plot to`` or ``Copy to ... finished`` is printed.

With ``-n`` one process makes several plots and one log holds them all: ``Crafting plot N out of
M`` starts each, and plot N's copy runs while plot N+1 is made, so its ``Copy to ... finished``
line comes inside plot N+1's lines (see the real two-plot run in the test fixtures'
``madmax-multi/``). A copy line names its plot file: one of another plot finishes that plot (an
earlier plot of the log), never the plot under way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from plotman_tui.plotters.argscan import (
    OptionSpec,
    key_argv,
    plot_args,
    program_name,
    scan,
    spellings,
    with_trailing_slash,
)
from plotman_tui.plotters.base import PlotArgs, strip_interpreter
from plotman_tui.plotters.logscan import NUMBER, PlotLogParser, first_int

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlottingConfig

_PROGRAMS = frozenset({"chia_plot", "chia_plot_k34"})
DEFAULT_K = 32


_SPEC = OptionSpec(
    values={
        **spellings("k", "-k", "--size"),
        **spellings("port", "-x", "--port"),
        **spellings("count", "-n", "--count"),
        **spellings("threads", "-r", "--threads"),
        **spellings("buckets", "-u", "--buckets"),
        **spellings("buckets3", "-v", "--buckets3"),
        **spellings("tmp", "-t", "--tmpdir"),
        **spellings("tmp2", "-2", "--tmpdir2"),
        **spellings("stage", "-s", "--stagedir"),
        **spellings("dst", "-d", "--finaldir"),
        **spellings("pool", "-p", "--poolkey"),
        **spellings("contract", "-c", "--contract"),
        **spellings("farmer", "-f", "--farmerkey"),
        **spellings("rmulti2", "-K", "--rmulti2"),
    },
    flags={
        **spellings("waitforcopy", "-w", "--waitforcopy"),
        **spellings("tmptoggle", "-G", "--tmptoggle"),
        **spellings("directout", "-D", "--directout"),
        **spellings("unique", "-Z", "--unique"),
        **spellings("help", "-h", "--help", "--version"),
    },
)


def _plot_args(argv: Sequence[str]) -> Sequence[str] | None:
    args = strip_interpreter(argv)
    if not args or program_name(args[0]) not in _PROGRAMS:
        return None
    return args[1:]


class MadmaxPlotter:
    """madMAx ``chia_plot``."""

    name = "madmax"

    def matches(self, argv: Sequence[str]) -> bool:
        args = _plot_args(argv)
        return args is not None and not scan(args, _SPEC).has("help")

    def parse_args(self, argv: Sequence[str], cwd: str | None = None) -> PlotArgs:
        args = _plot_args(argv)
        if args is None:
            return PlotArgs()
        found = scan(args, _SPEC)
        # madMAx writes the plot to its tmp dir without -d; chia_plot makes no compressed plot
        # (its compressing sibling is Gigahorse, a plotter of its own here).
        return plot_args(
            found, cwd, default_k=DEFAULT_K, default_dst=found.get("tmp"), default_compression=0
        )

    def build_argv(
        self, plotting: PlottingConfig, tmp_dir: str, tmp2_dir: str | None, dst_dir: str
    ) -> list[str]:
        options = plotting.madmax
        # Only the k34 build handles sizes above 32.
        executable = options.executable_k34 if options.k > 32 else options.executable
        argv = [executable, "-n", "1", "-r", str(options.n_threads)]
        argv += ["-u", str(options.n_buckets), "-v", str(options.n_buckets3)]
        argv += ["-t", with_trailing_slash(tmp_dir)]
        if tmp2_dir is not None:
            argv += ["-2", with_trailing_slash(tmp2_dir)]
        argv += ["-d", with_trailing_slash(dst_dir), "-K", str(options.n_rmulti2)]
        argv += key_argv(plotting)
        if options.k != 32:
            argv += ["-k", str(options.k)]
        if options.port is not None:
            argv += ["-x", str(options.port)]
        return argv

    def new_log_parser(self) -> MadmaxLogParser:
        return MadmaxLogParser()


PLOTTER = MadmaxPlotter()


_TABLE_RE = re.compile(r"Table (\d{1,2}) ")
_TOTAL_RE = re.compile(r"^Total plot creation time was " + NUMBER + " sec")
_PHASE_TOOK_RE = re.compile(r"^Phase (\d) took " + NUMBER + " sec")
_COPY_DONE_RE = re.compile(r"^Copy to (.+) finished, took " + NUMBER + " sec")
_BUCKETS_RE = re.compile(r"\((\d{1,9})\)")


def _table(line: str) -> int | None:
    match = _TABLE_RE.search(line)
    return int(match.group(1)) if match else None


_FINAL_SIZE_RE = re.compile(r"final plot size is (\d{1,19}) bytes")


class MadmaxLogParser(PlotLogParser):
    """Follows a madMAx ``chia_plot`` log."""

    #: What a line only ``chia_plot`` prints adds to :attr:`own_lines` (Gigahorse's parser,
    #: built on this one, counts such a line against itself).
    _MADMAX_ONLY = 1

    _LINE_STARTS: tuple[str, ...] = (
        "[",  # _table_line's
        "Phase ",
        "Wrote plot header",
        "Total plot creation time was ",
        "Started copy to ",
        "Renamed final plot to ",
        "Copy to ",
        "Plot Name: ",
        # _header_line's
        "Crafting plot ",
        "Final Directory:",
        "Working Directory",
        "Number of Threads:",
        "Number of Buckets",
    )

    def _line(self, line: str) -> None:
        if not line:
            return
        if line[0] == "[":
            # A time stamp before the text (Gigahorse's, a wrapper's) is not part of it.
            unstamped = self._unstamped(line)
            if unstamped is None:
                return
            line = unstamped
        if line[0] == "[":
            self._table_line(line)
        elif line.startswith("Phase "):
            match = _PHASE_TOOK_RE.match(line)
            if match:
                major = int(match.group(1))
                self.phase_seconds[major] = float(match.group(2))
                # Phase 2 starts with its own "[P2] max_table_size" line; phases 3 to 5 have
                # none, so the end of the previous phase starts them.
                if major >= 2:
                    self._set_phase(major + 1)
                if major == 4:
                    # "Phase 4 took 86.9555 sec, final plot size is 108836238815 bytes"
                    size = _FINAL_SIZE_RE.search(line)
                    if size:
                        self.final_bytes = int(size.group(1))
        elif line.startswith("Wrote plot header"):
            self._set_phase(3, 1)
        elif line.startswith("Total plot creation time was "):
            match = _TOTAL_RE.match(line)
            if match:
                self.total_seconds = float(match.group(1))
        elif line.startswith("Started copy to "):
            if not self._earlier_copy_started(line[16:]):
                self._set_phase(5, 1)
        elif line.startswith("Renamed final plot to "):
            self._finish(line[22:].strip(), None)
        elif line.startswith("Copy to "):
            match = _COPY_DONE_RE.match(line)
            if match:  # "Copy to X failed with: ..." leaves the plot unfinished (it retries)
                if line.endswith(" MB/s avg."):
                    self._own_lines += self._MADMAX_ONLY  # Gigahorse prints "MB/s" alone
                self._finish(match.group(1).strip(), float(match.group(2)))
        elif line.startswith("Plot Name: "):
            if self._take_plot_name(line):
                self._set_phase(1, 1)
        else:
            self._header_line(line)

    def _table_line(self, line: str) -> None:
        if line.startswith("[P1] Table "):
            table = _table(line)
            # Table N done means table N+1 is being computed; table 7 is the last.
            if table is not None and table <= 6:
                self._set_phase(1, table + 1)
        elif line.startswith("[P2] max_table_size"):
            self._set_phase(2, 1)
        elif line.startswith("[P2] Table ") and " rewrite " in line:
            table = _table(line)
            if table is not None and 2 <= table <= 7:
                self._set_phase(2, 9 - table)
        elif line.startswith("[P3-2] Table "):
            self._own_lines += self._MADMAX_ONLY  # Gigahorse's prints "[P3] Table N ..."
            table = _table(line)
            if table is not None and 2 <= table <= 6:
                self._set_phase(3, table)
        elif line.startswith("[P4] Starting to write C1 and C3"):
            self._set_phase(4, 1)
        elif line.startswith("[P4] Writing C2 table"):
            self._set_phase(4, 2)

    def _header_line(self, line: str) -> None:
        if line.startswith("Crafting plot "):
            self._start_plot()
        elif line.startswith("Final Directory:"):
            self.dst_dir = self._dir(line[16:])
        elif line.startswith("Working Directory 2:"):
            self.tmp2_dir = self._dir(line[20:])
        elif line.startswith("Working Directory:"):
            self.tmp_dir = self._dir(line[18:])
        elif line.startswith("Number of Threads:"):
            self._own_lines += self._MADMAX_ONLY  # a CPU plotter's; Gigahorse runs on GPUs
            self.threads = first_int(line)
        elif line.startswith(("Number of Buckets P1:", "Number of Buckets:")):
            # "Number of Buckets:" in the June 2021 builds, before P3+P4 had their own.
            match = _BUCKETS_RE.search(line)
            if match:
                self.buckets = int(match.group(1))

    def _finish(self, final_file: str, copy_seconds: float | None) -> None:
        if self._finish_earlier(final_file, copy_seconds):
            return  # an earlier plot's copy, done while this one is made
        self._set_phase(5, 2)
        self.final_file = final_file
        self.copy_seconds = copy_seconds
        self.completed = True
