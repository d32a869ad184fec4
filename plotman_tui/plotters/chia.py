"""The chia reference plotter (chiapos): ``chia plots create`` and ``chia plotters chiapos``.

Its log is chiapos's own output: ``Starting phase N/4`` lines with an asctime stamp, a table
counter per phase, then copy and rename of the final file. Logs from chia 1.0 lack the
``Final Directory is`` line, so the destination is also read from the copy/rename lines.
"""

from __future__ import annotations

import os
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
    to_int,
)
from plotman_tui.plotters.base import PlotArgs, strip_interpreter
from plotman_tui.plotters.logscan import NUMBER, PlotLogParser, asctime_timestamp, first_int

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlottingConfig


DEFAULT_K = 32


# `chia plots create` (click) and `chia plotters chiapos` (argparse) spell a few options
# differently; both are accepted since both run chiapos and write the same log.
_CREATE_SPEC = OptionSpec(
    values={
        **spellings("k", "-k", "--size"),
        **spellings("count", "-n", "--num", "--count"),
        **spellings("buffer", "-b", "--buffer"),
        **spellings("threads", "-r", "--num_threads", "--threads"),
        **spellings("buckets", "-u", "--buckets"),
        **spellings("alt_fingerprint", "-a", "--alt_fingerprint"),
        **spellings("contract", "-c", "--pool_contract_address", "--contract"),
        **spellings("farmer", "-f", "--farmer_public_key", "--farmerkey"),
        **spellings("pool", "-p", "--pool_public_key", "--pool-key"),
        **spellings("tmp", "-t", "--tmp_dir", "--tmpdir"),
        **spellings("tmp2", "-2", "--tmp2_dir", "--tmp_dir2", "--tmpdir2"),
        **spellings("dst", "-d", "--final_dir", "--finaldir"),
        **spellings("plot_id", "-i", "--plotid", "--id"),
        **spellings("memo", "-m", "--memo"),
        **spellings("stripes", "-s", "--stripes", "--stripe_size"),
        **spellings("compress", "--compress"),
    },
    flags={
        **spellings("nobitfield", "-e", "--nobitfield"),
        **spellings("exclude_final_dir", "-x", "--exclude_final_dir"),
        **spellings("override_k", "--override-k"),
        **spellings("daemon", "-D", "--connect_to_daemon", "--connect-to-daemon"),
        **spellings("help", "-h", "--help"),
    },
)

# chia's own options before the subcommand; they take values that must not be read as commands.
_TOP_SPEC = OptionSpec(
    values=spellings("root", "--root-path", "--keys-root-path", "--passphrase-file"),
    flags=spellings("help", "-h", "--help", "--version"),
    commands=frozenset({"plots", "plotters"}),
)


def _create_args(argv: Sequence[str]) -> Sequence[str] | None:
    """The arguments after ``plots create`` / ``plotters chiapos``; None for other commands."""
    args = strip_interpreter(argv)
    if not args or program_name(args[0]) != "chia":
        return None
    top = scan(args[1:], _TOP_SPEC)
    if top.positionals or top.has("help"):
        return None
    if (top.command, top.rest[:1]) in (("plots", ("create",)), ("plotters", ("chiapos",))):
        return top.rest[1:]
    return None


class ChiaPlotter:
    """``chia plots create``."""

    name = "chia"

    def matches(self, argv: Sequence[str]) -> bool:
        args = _create_args(argv)
        return args is not None and not scan(args, _CREATE_SPEC).has("help")

    def parse_args(self, argv: Sequence[str], cwd: str | None = None) -> PlotArgs:
        args = _create_args(argv)
        if args is None:
            return PlotArgs()
        # chia writes the plot to its working dir without -d; chiapos makes no compressed plot.
        return plot_args(
            scan(args, _CREATE_SPEC),
            cwd,
            default_k=DEFAULT_K,
            default_dst=".",
            default_compression=0,
        )

    def build_argv(
        self, plotting: PlottingConfig, tmp_dir: str, tmp2_dir: str | None, dst_dir: str
    ) -> list[str]:
        options = plotting.chia
        argv = [options.executable, "plots", "create", "-k", str(options.k)]
        if options.k < 32:
            argv.append("--override-k")  # chia refuses k < 32 without it (test and demo plots)
        argv += ["-r", str(options.n_threads), "-u", str(options.n_buckets)]
        argv += ["-b", str(options.job_buffer), "-t", tmp_dir]
        if tmp2_dir is not None:
            argv += ["-2", tmp2_dir]
        argv += ["-d", dst_dir]
        if options.e:
            argv.append("-e")
        if options.x:
            argv.append("-x")
        argv += key_argv(plotting)
        return argv

    def new_log_parser(self) -> ChiaLogParser:
        return ChiaLogParser()


PLOTTER = ChiaPlotter()


_PHASE_TIME_RE = re.compile(r"^Time for phase (\d) = " + NUMBER + " seconds")
_SECONDS_RE = re.compile(r"= *" + NUMBER + " seconds")
_FROM_TO_RE = re.compile(r'from "(.*)" to "(.*)"')
_TEMP_DIRS_RE = re.compile(r"^Starting plotting progress into temporary dirs: (.+) and (.+)$")
_ID_RE = re.compile(r"^ID: ([0-9a-fA-F]{64})\b")
_USING_RE = re.compile(r"^Using (\d{1,9}) (buckets|threads)")


def _seconds(line: str) -> float | None:
    match = _SECONDS_RE.search(line)
    return float(match.group(1)) if match else None


_FINAL_SIZE_RE = re.compile(r"(\d{1,9}(?:\.\d{1,9})?) GiB")


class ChiaLogParser(PlotLogParser):
    """Follows a chiapos log (chia 1.0 to 2.x)."""

    _NOISE = "\tBucket"
    _LINE_STARTS = (
        "\tStarting to write C1 and C3 tables",
        "\tWriting C2 table",
        "\tFinal table pointers:",
        "Computing table ",
        "Backpropagating on table ",
        "table 1 new size: ",
        "Compressing tables ",
        "Starting phase ",
        "Time for phase ",
        "Total time = ",
        "Copy time = ",
        "Approximate working space used",
        "Final File size: ",
        "Copied final file from ",
        "Removed temp2 file ",
        "Renamed final file from ",
        # _header_line's
        "Starting plotting progress into temporary dirs: ",
        "ID: ",
        "Plot size is: ",
        "Buffer size is: ",
        "Using ",
        "Final Directory is: ",
    )

    def _line(self, line: str) -> None:
        if not line:
            return
        if line[0] == "\t":
            if line.startswith("\tStarting to write C1 and C3 tables"):
                self._set_phase(4, 1)
            elif line.startswith("\tWriting C2 table"):
                self._set_phase(4, 2)
            elif line.startswith("\tFinal table pointers:"):
                self._set_phase(4, 3)
            return
        if line.startswith("Computing table "):
            table = first_int(line[16:])
            if table is not None:
                self._set_phase(1, table)
        elif line.startswith("Backpropagating on table "):
            table = first_int(line[25:])
            if table is not None:
                self._set_phase(2, 8 - table)
        elif line.startswith("table 1 new size: "):
            self._set_phase(2, 7)
        elif line.startswith("Compressing tables "):
            table = first_int(line[19:])
            if table is not None:
                self._set_phase(3, table)
        elif line.startswith("Starting phase "):
            major = to_int(line[15:16])
            if major is not None:
                self._set_phase(major)
                if major == 1:
                    self.started_at = asctime_timestamp(line)
                elif major == 2:
                    # chiapos: "Backpropagation without bitfield into tmp files" with -e.
                    self.bitfield = "without bitfield" not in line
        elif line.startswith("Time for phase "):
            match = _PHASE_TIME_RE.match(line)
            if match:
                self.phase_seconds[int(match.group(1))] = float(match.group(2))
        elif line.startswith("Total time = "):
            self.total_seconds = _seconds(line)
        elif line.startswith("Copy time = "):
            self.copy_seconds = _seconds(line)
        elif line.startswith("Approximate working space used"):
            self._set_phase(5, 0)
        elif line.startswith("Final File size: "):
            # "Final File size: 101.330 GiB": to the byte, within the 0.0005 GiB it is rounded to.
            match = _FINAL_SIZE_RE.match(line, 17)
            if match:
                self.final_bytes = round(float(match.group(1)) * 2**30)
        elif line.startswith("Copied final file from "):
            self._set_phase(5, 1)
            self._take_destination(line)
        elif line.startswith("Removed temp2 file "):
            self._set_phase(5, 2)
        elif line.startswith("Renamed final file from "):
            self._set_phase(5, 3)
            final_file = self._take_destination(line)
            if final_file is not None:
                self.final_file = final_file
                self.completed = True
        else:
            self._header_line(line)

    def _header_line(self, line: str) -> None:
        if line.startswith("Starting plotting progress into temporary dirs: "):
            self._start_plot()
            match = _TEMP_DIRS_RE.match(line)
            if match:
                self.tmp_dir = self._dir(match.group(1))
                self.tmp2_dir = self._dir(match.group(2))
        elif line.startswith("ID: "):
            match = _ID_RE.match(line)
            if match:
                self.plot_id = match.group(1).lower()
        elif line.startswith("Plot size is: "):
            self.k = first_int(line[14:])
        elif line.startswith("Buffer size is: "):
            self.buffer_mib = first_int(line[16:])
        elif line.startswith("Using "):
            match = _USING_RE.match(line)
            if match and match.group(2) == "buckets":
                self.buckets = int(match.group(1))
            elif match:
                self.threads = int(match.group(1))
        elif line.startswith("Final Directory is: "):
            self.dst_dir = self._dir(line[20:])

    def _take_destination(self, line: str) -> str | None:
        """The target of a copy/rename line; it names the destination dir when chia 1.0 did not."""
        match = _FROM_TO_RE.search(line)
        if match is None:
            return None
        target = match.group(2)
        if self.dst_dir is None:
            self.dst_dir = self._dir(os.path.dirname(target))
        return target
