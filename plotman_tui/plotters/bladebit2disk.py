"""BladeBit's disk plotter: ``bladebit [global options] diskplot [options] <out_dir>``.

Unlike the RAM plotter it has temp dirs (``-t1``, ``-t2``), buckets and an I/O cache; the cache
size is reported as the job's buffer, as it is the memory the job holds. Its log marks phase 2's
progress only by the ``Table N I/O wait time`` lines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from plotman_tui.plotters.argscan import size_to_mib
from plotman_tui.plotters.base import PlotArgs, sane_args, sane_file_name
from plotman_tui.plotters.bladebit import (
    BladebitLogParserBase,
    bladebit_plot_args,
    global_argv,
    read_command,
)
from plotman_tui.plotters.logscan import first_int

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlottingConfig


class Bladebit2DiskPlotter:
    """``bladebit ... diskplot``."""

    name = "bladebit2disk"

    def matches(self, argv: Sequence[str]) -> bool:
        command = read_command(argv)
        return command is not None and command.mode == "diskplot"

    def parse_args(self, argv: Sequence[str], cwd: str | None = None) -> PlotArgs:
        command = read_command(argv)
        if command is None or command.mode != "diskplot":
            return PlotArgs()
        return sane_args(
            replace(
                bladebit_plot_args(command, cwd),
                buckets=command.mode_options.get_int("buckets"),
                buffer_mib=size_to_mib(command.mode_options.get("cache")),
            )
        )

    def build_argv(
        self, plotting: PlottingConfig, tmp_dir: str, tmp2_dir: str | None, dst_dir: str
    ) -> list[str]:
        options = plotting.bladebit2disk
        argv = global_argv(options.executable, options.threads, options.no_numa, plotting)
        argv += ["diskplot", "-b", str(options.buckets), "-t1", tmp_dir]
        if tmp2_dir is not None:
            argv += ["-t2", tmp2_dir]
        if options.cache_size is not None:
            argv += ["--cache", options.cache_size]
        for option, threads in (
            ("--f1-threads", options.f1_threads),
            ("--fp-threads", options.fp_threads),
            ("--c-threads", options.c_threads),
            ("--p2-threads", options.p2_threads),
            ("--p3-threads", options.p3_threads),
        ):
            if threads is not None:
                argv += [option, str(threads)]
        if options.alternate:
            argv.append("--alternate")
        if options.no_t1_direct:
            argv.append("--no-t1-direct")
        if options.no_t2_direct:
            argv.append("--no-t2-direct")
        return [*argv, dst_dir]

    def new_log_parser(self) -> Bladebit2DiskLogParser:
        return Bladebit2DiskLogParser()


PLOTTER = Bladebit2DiskPlotter()


_TABLE_RE = re.compile(r"^Table (\d{1,2})$")
_CACHE_MIB_RE = re.compile(r"\(\s*(\d{1,12})(?:\.\d+)?\s*MiB\s*\)")
_WRITTEN_RE = re.compile(r"^Finished writing plot (\S+\.plot)(?:\.tmp)?\.?$")


class Bladebit2DiskLogParser(BladebitLogParserBase):
    """Follows a ``bladebit diskplot`` log (BladeBit 2.x/3.x)."""

    generating_phase = (0, 4)
    _LINE_STARTS = (
        *BladebitLogParserBase.COMMON_LINE_STARTS,
        # _indented_line's
        "Phase 1 Total I/O wait time",
        "Phase 2 Total I/O wait time",
        "Allocating memory",
        "Temp1 path",
        "Temp2 path",
        "Bucket count",
        "Cache size",
        "Table ",
        "Compressing tables ",
        "Finished compressing tables ",
        "Running Phase ",
        "Finished f1 generation",
        "Writing P7 parks",
        "P7 I/O wait time",
        "Waiting for plot file to complete pending writes",
        "Completed pending writes",
        "Finished writing plot ",
        "WARNING: Forcing warm start",
        "Warm start:",
        "Memory initialized",
        "Started plot",
    )

    def _line(self, line: str) -> None:
        if not line:
            return
        if line.startswith(" "):
            self._indented_line(line.lstrip())
        elif line.startswith("Table "):
            if " I/O wait time" in line:
                # Phase 2 works back from table 6 and reports each table only by this line.
                table = first_int(line)
                if table is not None and self.phase.major == 2:
                    self._set_phase(2, 7 - table)
            else:
                match = _TABLE_RE.match(line)
                if match:
                    self._set_phase(1, int(match.group(1)))
        elif line.startswith("Compressing tables "):
            table = first_int(line)
            if table is not None:
                self._set_phase(3, table)
        elif line.startswith("Finished compressing tables "):
            table = first_int(line)
            if table is not None:
                self._set_phase(3, table + 1)
        elif line.startswith("Running Phase "):
            major = first_int(line)
            if major is not None:
                self._set_phase(major)
        elif line.startswith("Finished f1 generation"):
            self._set_phase(1, 1)
        elif line.startswith("Writing P7 parks"):
            self._set_phase(3, 7)
        elif line.startswith("P7 I/O wait time"):
            self._set_phase(3, 8)
        elif line.startswith("Waiting for plot file to complete pending writes"):
            self._set_phase(4, 1)
        elif line.startswith("Completed pending writes"):
            self._set_phase(4, 2)
        elif line.startswith("Finished writing plot "):
            match = _WRITTEN_RE.match(line)
            if match:
                self._take_plot_name(match.group(1))
                # A name, joined onto the dst dir: one with a "/" could point anywhere.
                name = sane_file_name(match.group(1))
                if self.dst_dir is not None and name is not None:
                    self.final_file = os.path.join(self.dst_dir, name)
        elif line.startswith(("WARNING: Forcing warm start", "Warm start:")):
            self._set_phase(0, 2)
        elif line.startswith("Memory initialized"):
            self._set_phase(0, 3)
        elif line.startswith("Started plot"):
            self._set_phase(0, 5)
        else:
            self._common_line(line)

    def _indented_line(self, stripped: str) -> None:
        if stripped.startswith("Phase 1 Total I/O wait time"):
            self._set_phase(1, 8)
        elif stripped.startswith("Phase 2 Total I/O wait time"):
            self._set_phase(2, 5)
        elif stripped.startswith("Allocating memory"):
            self._set_phase(0, 1)
        elif stripped.startswith("Temp1 path"):
            self.tmp_dir = self._dir(stripped.partition(":")[2])
        elif stripped.startswith("Temp2 path"):
            self.tmp2_dir = self._dir(stripped.partition(":")[2])
        elif stripped.startswith("Bucket count"):
            self.buckets = first_int(stripped)
        elif stripped.startswith("Cache size"):
            match = _CACHE_MIB_RE.search(stripped)
            if match:
                self.buffer_mib = int(match.group(1))
        else:
            self._common_line(" " + stripped)
