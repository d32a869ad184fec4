"""BladeBit, the RAM plotter, and what all BladeBit plotters share.

One ``bladebit`` program (``bladebit_cuda`` when built with CUDA) holds three plotters, told apart
by a subcommand after the global options: ``ramplot`` (this module), ``diskplot``
(:mod:`.bladebit2disk`) and ``cudaplot`` (:mod:`.bladebit_cuda`). BladeBit 1.x had no subcommand
and only plotted in RAM. Current BladeBit (3.x) refuses to plot without a subcommand, so new jobs
name ``ramplot``. Every BladeBit plot is k32.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plotman_tui.plotters.argscan import (
    OptionSpec,
    Scan,
    compression_level,
    key_argv,
    program_name,
    scan,
    spellings,
)
from plotman_tui.plotters.base import PlotArgs, resolve_dir, sane_args, strip_interpreter
from plotman_tui.plotters.logscan import NUMBER, PlotLogParser, first_int

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlottingConfig

BLADEBIT_K = 32
PLOT_MODES = frozenset({"ramplot", "diskplot", "cudaplot"})
_TOOL_COMMANDS = frozenset(
    {"iotest", "memtest", "validate", "plotcmp", "simulate", "check", "cudacheck", "help"}
)
_PROGRAMS = frozenset({"bladebit", "bladebit_cuda"})


_GLOBAL_SPEC = OptionSpec(
    values={
        **spellings("threads", "-t", "--threads"),
        **spellings("count", "-n", "--count"),
        **spellings("farmer", "-f", "--farmer-key"),
        **spellings("pool", "-p", "--pool-key"),
        **spellings("contract", "-c", "--pool-contract"),
        **spellings("plot_id", "-i", "--plot-id"),
        **spellings("memo", "--memo"),
    },
    flags={
        **spellings("warm_start", "-w", "--warm-start"),
        **spellings("no_direct_io", "--no-direct-io"),
        **spellings("show_memo", "--show-memo"),
        **spellings("no_numa", "-m", "--no-numa"),
        **spellings("no_cpu_affinity", "--no-cpu-affinity"),
        **spellings("verbose", "-v", "--verbose"),
        **spellings("benchmark", "--benchmark", "--dry-run"),
        # These print something and exit: such a process is not a plot job.
        **spellings("no_plot", "-h", "--help", "--version", "--about", "--memory", "--memory-json"),
    },
    optional_numbers=spellings("compress", "-z", "--compress"),
    commands=PLOT_MODES | _TOOL_COMMANDS,
)

# Options after each plot subcommand; what is left are the output directories.
MODE_SPECS = {
    "ramplot": OptionSpec(flags=spellings("no_plot", "-h", "--help")),
    "diskplot": OptionSpec(
        values={
            **spellings("buckets", "-b", "--buckets"),
            **spellings("tmp", "-t1", "--temp1"),
            **spellings("tmp2", "-t2", "--temp2"),
            **spellings("cache", "--cache"),
            **spellings("f1_threads", "--f1-threads"),
            **spellings("fp_threads", "--fp-threads"),
            **spellings("c_threads", "--c-threads"),
            **spellings("p2_threads", "--p2-threads"),
            **spellings("p3_threads", "--p3-threads"),
        },
        flags={
            **spellings("no_t1_direct", "--no-t1-direct"),
            **spellings("no_t2_direct", "--no-t2-direct"),
            **spellings("alternate", "-a", "--alternate"),
            **spellings("no_plot", "-h", "--help", "-s", "--sizes"),
        },
    ),
    "cudaplot": OptionSpec(
        values={
            **spellings("device", "-d", "--device"),
            **spellings("tmp", "-t1", "--temp1"),
            **spellings("tmp2", "-t2", "--temp2"),
            **spellings("check", "--check"),
            **spellings("check_threshold", "--check-threshold"),
        },
        flags={
            **spellings("disk_128", "--disk-128"),
            **spellings("disk_16", "--disk-16"),
            **spellings("no_t1_direct", "--no-t1-direct"),
            **spellings("no_t2_direct", "--no-t2-direct"),
            **spellings("no_direct_downloads", "--no-direct-downloads"),
            **spellings("no_plot", "-h", "--help"),
        },
    ),
}


@dataclass(frozen=True)
class BladebitCommand:
    """A BladeBit command line, read: its global options, plot mode and mode options."""

    global_options: Scan
    mode: str
    mode_options: Scan


def read_command(argv: Sequence[str]) -> BladebitCommand | None:
    """The BladeBit plot job in ``argv``, or None (another program, a tool command, ``--help``)."""
    args = strip_interpreter(argv)
    if not args or (program := program_name(args[0])) not in _PROGRAMS:
        return None
    found = scan(args[1:], _GLOBAL_SPEC)
    if found.has("no_plot"):
        return None
    if found.command is None:
        # BladeBit 1.x: no subcommand, the positional argument is the output directory.
        if not found.positionals:
            return None
        mode, mode_args = ("ramplot" if program == "bladebit" else "cudaplot"), found.positionals
    elif found.command in PLOT_MODES:
        mode, mode_args = found.command, found.rest
    else:
        return None
    mode_options = scan(mode_args, MODE_SPECS[mode])
    if mode_options.has("no_plot"):
        return None
    return BladebitCommand(found, mode, mode_options)


def bladebit_plot_args(command: BladebitCommand, cwd: str | None) -> PlotArgs:
    """What every BladeBit mode's command line says; the mode adds its own parts."""
    outputs = command.mode_options.positionals
    return sane_args(
        PlotArgs(
            k=BLADEBIT_K,
            tmp_dir=resolve_dir(command.mode_options.get("tmp"), cwd),
            tmp2_dir=resolve_dir(command.mode_options.get("tmp2"), cwd),
            dst_dir=resolve_dir(outputs[0], cwd) if outputs else None,
            threads=command.global_options.get_int("threads"),
            count=command.global_options.get_int("count"),
            compression=_compression(command.global_options),
        )
    )


def _compression(global_options: Scan) -> int | None:
    """``-z/--compress [level]``: the level; 1 without one (BladeBit's default level); 0 (an
    uncompressed plot) without the option; None for a level that is not one."""
    if "compress" in global_options.values:
        return compression_level(global_options.get("compress"))
    return 1 if global_options.has("compress") else 0


def global_argv(
    executable: str,
    threads: int | None,
    no_numa: bool,
    plotting: PlottingConfig,
    compress: int = 0,
) -> list[str]:
    """The options before the subcommand, shared by every BladeBit mode."""
    argv = [executable]
    if threads is not None:
        argv += ["-t", str(threads)]
    argv += ["-n", "1"]
    argv += key_argv(plotting)
    if no_numa:
        argv.append("--no-numa")
    if compress > 0:
        argv += ["--compress", str(compress)]
    return argv


class BladebitPlotter:
    """BladeBit's RAM plotter (``bladebit ... [ramplot] <out_dir>``)."""

    name = "bladebit"

    def matches(self, argv: Sequence[str]) -> bool:
        command = read_command(argv)
        return command is not None and command.mode == "ramplot"

    def parse_args(self, argv: Sequence[str], cwd: str | None = None) -> PlotArgs:
        command = read_command(argv)
        if command is None or command.mode != "ramplot":
            return PlotArgs()
        return bladebit_plot_args(command, cwd)

    def build_argv(
        self, plotting: PlottingConfig, tmp_dir: str, tmp2_dir: str | None, dst_dir: str
    ) -> list[str]:
        # The RAM plotter has no temp dirs: the whole plot is built in memory.
        options = plotting.bladebit
        argv = global_argv(
            options.executable, options.threads, options.no_numa, plotting, options.compress
        )
        return [*argv, "ramplot", dst_dir]

    def new_log_parser(self) -> BladebitLogParser:
        return BladebitLogParser()


PLOTTER = BladebitPlotter()


# --- logs ---------------------------------------------------------------------------------------

_GENERATING_RE = re.compile(r"^Generating plot \d{1,9}(?: / \d{1,9})?: ([0-9a-fA-F]{64})\b")
_SECONDS_RE = re.compile(r" in " + NUMBER + " seconds")
_PHASE_RE = re.compile(r"(?:Finished|Completed) Phase (\d) in " + NUMBER + " seconds")
_PLOT_WRITTEN_RE = re.compile(r"^Plot (.+\.plot) finished writing to disk")


def seconds_in(line: str) -> float | None:
    """The ``in X seconds`` of a BladeBit timing line."""
    match = _SECONDS_RE.search(line)
    return float(match.group(1)) if match else None


class BladebitLogParserBase(PlotLogParser):
    """The lines all BladeBit modes print: global settings, plot start, temp file, finish."""

    #: The phase a mode reports once ``Generating plot ...`` is printed.
    generating_phase = (0, 2)
    #: The starts of the lines ``_common_line`` reads (a mode's ``_LINE_STARTS`` adds its own).
    COMMON_LINE_STARTS: tuple[str, ...] = (
        "Thread count",  # indented, as the next two
        "Output path",
        "Compression Level",
        "Generating plot ",
        "Plot temporary file: ",
        "Finished Phase ",
        "Completed Phase ",
        "Finished plotting in ",
    )
    _LINE_STARTS: tuple[str, ...] = COMMON_LINE_STARTS
    _STARTS_AFTER_INDENT = True

    def __init__(self) -> None:
        super().__init__()
        self.k = BLADEBIT_K
        self.temp_file: str | None = None

    def _reset_plot(self) -> None:
        super()._reset_plot()
        self.temp_file = None

    def _common_line(self, line: str) -> None:
        if line.startswith(" "):
            stripped = line.lstrip()
            if stripped.startswith("Thread count"):
                self.threads = first_int(stripped)
            elif stripped.startswith("Output path"):
                self.dst_dir = self._dir(stripped.partition(":")[2])
            elif stripped.startswith("Compression Level"):
                # BladeBit 3.x's [Global Plotting Config]; 0 is an uncompressed plot.
                self.compression = first_int(stripped)
        elif line.startswith("Generating plot "):
            self._start_plot()
            self._set_phase(*self.generating_phase)
            match = _GENERATING_RE.match(line)
            if match:
                self.plot_id = match.group(1).lower()
        elif line.startswith("Plot temporary file: "):
            # BladeBit 3.x names the file here (its dir is the output dir used for this plot).
            self.temp_file = line[21:].strip()
            self.dst_dir = self._dir(os.path.dirname(self.temp_file))
            self._take_plot_name(self.temp_file)
        elif line.startswith(("Finished Phase ", "Completed Phase ")):
            match = _PHASE_RE.match(line)
            if match:
                major = int(match.group(1))
                self.phase_seconds[major] = float(match.group(2))
                self._set_phase(major + 1)
        elif line.startswith("Finished plotting in "):
            self.total_seconds = seconds_in(line)
            self._complete()

    def _complete(self) -> None:
        if self.final_file is None and self.temp_file is not None:
            self.final_file = self.temp_file.removesuffix(".tmp")
        self.completed = True


class BladebitLogParser(BladebitLogParserBase):
    """Follows the RAM plotter's log (BladeBit 1.x, and ``ramplot`` in 2.x/3.x)."""

    _LINE_STARTS = (
        *BladebitLogParserBase.COMMON_LINE_STARTS,
        "Prunning table ",  # this and the next three indented
        "Pruning table ",
        "Compressing tables ",
        "Writing ",
        "Forward propagating to table ",
        "Running Phase ",
        "Finished F1 generation",
        "Allocating buffers",
        "Writing final plot tables to disk",
        "Plot ",
    )

    def _line(self, line: str) -> None:
        if not line:
            return
        if line.startswith("  "):
            stripped = line.lstrip()
            if stripped.startswith(("Prunning table ", "Pruning table ")):
                table = first_int(stripped)
                if table is not None:
                    self._set_phase(2, 7 - table)
            elif stripped.startswith("Compressing tables "):
                table = first_int(stripped)
                if table is not None:
                    self._set_phase(3, table)
            elif stripped.startswith("Writing "):
                minor = {"P7": 1, "C1": 2, "C2": 3, "C3": 4}.get(stripped[8:10])
                if minor is not None:
                    self._set_phase(4, minor)
            else:
                self._common_line(line)
            return
        if line.startswith("Forward propagating to table "):
            table = first_int(line)
            if table is not None:
                self._set_phase(1, table)
        elif line.startswith("Running Phase "):
            major = first_int(line)
            if major is not None:
                self._set_phase(major)
        elif line.startswith("Finished F1 generation"):
            self._set_phase(1, 1)
        elif line.startswith("Allocating buffers"):
            self._set_phase(0, 1)
        elif line.startswith("Writing final plot tables to disk"):
            self._set_phase(5, 1)
        elif line.startswith("Plot ") and (match := _PLOT_WRITTEN_RE.match(line)):
            self.final_file = match.group(1)
            self._take_plot_name(self.final_file)
        else:
            self._common_line(line)
