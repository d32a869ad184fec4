"""madMAx's Gigahorse GPU plotter: ``cuda_plot_k32 [options]`` (``cuda_plot_k26`` .. ``_k34``,
``cuda_plot_k32_v3``; ``.exe`` on Windows).

k is in the program's name, not an option. One process makes ``-n`` plots in a row (``-n -1``:
until stopped), so one job's log holds several plots; each plot's copy to its ``-d`` dir runs
while the next plot is made, and its copy lines come inside the next plot's lines.

The log parser is madMAx's (:class:`~plotman_tui.plotters.madmax.MadmaxLogParser`: same author,
same line shapes) with Gigahorse's own lines added. No complete Gigahorse log is known; the
lines below come from real output users posted (``tests/fixtures/plotter-logs/fragments/``,
provenance in its PROVENANCE.md), the rest are inferred from madMAx's ``chia_plot``.

Seen in real output:

- ``Chia k32 next-gen CUDA plotter - 29c814d``, ``Plot Format:``, ``Network Port:``, ``No.
  GPUs:``, ``No. Streams:``, ``Final Destination: D:\\``, ``Shared Memory limit:``, ``Number of
  Plots: 2``, ``Initialization took`` (the run's header: ``..._C7_n2_header_gh111``);
- ``Crafting plot 1 out of 2 (2023/05/07 16:58:26)`` (``-1`` for an endless run: ``..._C18_
  infinite_plot18_gh237``), ``Process ID:``, ``Pool Puzzle Hash:``, ``Farmer Public Key:``,
  ``Working Directory:``, ``Working Directory 2:``, ``Working Directory 3:`` (``..._C8_n2_
  plot2_gh109``);
- ``Compression Level: C7 (xbits = 9, final table = 4)``, ``Compression Level: C18`` (no
  suffix), ``Plot Name: plot-k32-c7-2023-05-07-16-58-<id>`` (Gigahorse writes ``c7``, BladeBit
  ``c07``), ``Created disk buffer ...``;
- ``[P1] Setup took 0.328 sec``, ``[P1] Table N took X sec, E entries, ...``;
- ``Waiting for disk flush to complete ...``, ``Flushing to disk took X sec``, ``Started copy to
  <previous plot>``, ``Copy to <previous plot> finished, took 299.365 sec, 243.915 MB/s`` (no
  ``avg.``, unlike madMAx), all inside the next plot's ``[P1]`` lines (gh109, gh237);
- ``[P3] Table N PDSK|LPSK|NSK took X sec, ...``, and a ``[2023/05/12 17:08:33] `` stamp before
  every line in one (later?) build (``..._P3_timestamped_gh120``).

Inferred, read as madMAx prints them: the ``[P2] ...`` and ``[P4] ...`` lines, ``Phase N took X
sec`` (phase times; the end of phases 2 to 4), ``Total plot creation time was X sec``,
``Renamed final plot to`` and ``Copy to X failed``.

Phases: ``Plot Name`` 1:1, ``[P1] Table N took`` 1:N+1 (as madMAx), ``[P3] Table N ...`` 3:N,
the plot's own ``Started copy to`` 5:1 and ``Copy to ... finished`` 5:2 (the plot is in place).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from plotman_tui.plotters.argscan import (
    OptionSpec,
    compression_level,
    key_argv,
    plot_args,
    program_name,
    scan,
    spellings,
    with_trailing_slash,
)
from plotman_tui.plotters.base import (
    PlotArgs,
    resolve_dir,
    sane_args,
    sane_int,
    strip_interpreter,
)
from plotman_tui.plotters.limits import BUFFER_MIB_MAX
from plotman_tui.plotters.logscan import local_timestamp
from plotman_tui.plotters.madmax import MadmaxLogParser

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlottingConfig

#: ``cuda_plot_k32``, ``cuda_plot_k32_v3`` ...: the k sizes Gigahorse is built for.
_PROGRAM_RE = re.compile(r"^cuda_plot_k(2[6-9]|3[0-4])(?:_v3)?$")
#: Gigahorse's own default level (``-C``), as in :class:`GigahorseOptions`.
DEFAULT_COMPRESSION = 1

_SPEC = OptionSpec(
    values={
        **spellings("compression", "-C", "--level"),
        **spellings("count", "-n", "--count"),
        **spellings("device", "-g", "--device"),
        **spellings("devices", "-r", "--ndevices"),
        **spellings("streams", "-S", "--streams"),
        **spellings("tmp", "-t", "--tmpdir"),
        **spellings("tmp2", "-2", "--tmpdir2"),
        **spellings("tmp3", "-3", "--tmpdir3"),
        **spellings("dst", "-d", "--finaldir"),
        **spellings("dstport", "-z", "--dstport"),
        **spellings("pool", "-p", "--poolkey"),
        **spellings("contract", "-c", "--contract"),
        **spellings("farmer", "-f", "--farmerkey"),
        **spellings("maxtmp", "-M", "--maxtmp"),
        **spellings("port", "-x", "--port"),
    },
    flags={
        **spellings("waitforcopy", "-w", "--waitforcopy"),
        **spellings("unique", "-Z", "--unique"),
        # These print something and exit: such a process is not a plot job.
        **spellings("help", "-h", "--help", "--version"),
    },
)


def _program_k(arg: str) -> int | None:
    """k of a Gigahorse program name (``/opt/gh/cuda_plot_k32.exe`` -> 32), else None."""
    match = _PROGRAM_RE.match(program_name(arg))
    return int(match.group(1)) if match else None


def _command(argv: Sequence[str]) -> tuple[int, Sequence[str]] | None:
    """k and the options of a Gigahorse command line; None for any other program."""
    args = strip_interpreter(argv)
    if not args:
        return None
    k = _program_k(args[0])
    return None if k is None else (k, args[1:])


def _is_remote(dst: str) -> bool:
    """``-d @HOST``: the plot goes to a ``chia_plot_sink`` on another machine."""
    return dst.startswith("@")


class GigahorsePlotter:
    """``cuda_plot_k32``: one process plots ``-n`` plots in a row."""

    name = "gigahorse"

    def matches(self, argv: Sequence[str]) -> bool:
        command = _command(argv)
        return command is not None and not scan(command[1], _SPEC).has("help")

    def parse_args(self, argv: Sequence[str], cwd: str | None = None) -> PlotArgs:
        command = _command(argv)
        if command is None:
            return PlotArgs()
        k, options = command
        found = scan(options, _SPEC)
        # Without -d the plot stays in the tmp dir (as madMAx's).
        args = plot_args(
            found,
            cwd,
            default_k=k,
            default_dst=found.get("tmp"),
            default_compression=DEFAULT_COMPRESSION,
        )
        dsts = found.get_all("dst")
        if len(dsts) > 1 or (dsts and _is_remote(dsts[0])):
            # Several -d: each plot goes to the first with room; the first local one stands
            # for them (a remote sink has no dir here).
            local = [dst for dst in dsts if not _is_remote(dst)]
            args = replace(args, dst_dir=resolve_dir(local[0], cwd) if local else None)
        max_tmp_gib = found.get_int("maxtmp")
        if max_tmp_gib is not None:
            # -M caps the memory the job holds for its temp data: its buffer.
            buffer_mib = sane_int(max_tmp_gib, 1, BUFFER_MIB_MAX >> 10)
            args = replace(args, buffer_mib=None if buffer_mib is None else buffer_mib << 10)
        return sane_args(replace(args, k=k))

    def build_argv(
        self, plotting: PlottingConfig, tmp_dir: str, tmp2_dir: str | None, dst_dir: str
    ) -> list[str]:
        options = plotting.gigahorse
        executable = options.executable.replace("{k}", str(options.k))
        argv = [executable, "-C", str(options.compression), "-n", str(options.count)]
        argv += ["-t", with_trailing_slash(tmp_dir)]
        if tmp2_dir is not None:
            argv += ["-2", with_trailing_slash(tmp2_dir)]
        if options.tmp3 is not None:
            argv += ["-3", with_trailing_slash(str(options.tmp3))]
        for dst in (dst_dir, *options.extra_dst):
            argv += ["-d", dst if _is_remote(dst) else with_trailing_slash(dst)]
        argv += key_argv(plotting)
        for option, value in (
            ("-g", options.device),
            ("-r", options.devices),
            ("-S", options.streams),
            ("-M", options.max_tmp_gib),
        ):
            if value is not None:
                argv += [option, str(value)]
        if options.wait_for_copy:
            argv.append("-w")
        if options.unique:
            argv.append("-Z")
        return argv

    def new_log_parser(self) -> GigahorseLogParser:
        return GigahorseLogParser()


PLOTTER = GigahorsePlotter()


# --- logs ---------------------------------------------------------------------------------------

_CRAFTING_AT_RE = re.compile(r"\((\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})\)")
_LEVEL_RE = re.compile(r"^Compression Level: C(\d{1,3})\b")
_P3_TABLE_RE = re.compile(r"^\[P3\] Table (\d) (?:PDSK|LPSK|NSK) ")


class GigahorseLogParser(MadmaxLogParser):
    """Follows a Gigahorse ``cuda_plot_k32`` log (see the module's notes on its lines)."""

    _MADMAX_ONLY = -1

    _LINE_STARTS: tuple[str, ...] = (
        *MadmaxLogParser._LINE_STARTS,
        "Compression Level: ",
        "Final Destination:",
    )

    def _table_line(self, line: str) -> None:
        if line.startswith("[P3] Table "):
            match = _P3_TABLE_RE.match(line)
            if match:
                self._own_lines += 1
                self._set_phase(3, int(match.group(1)))
        elif line.startswith("[P1] Setup took"):
            self._own_lines += 1
            self._set_phase(1, 1)
        else:
            super()._table_line(line)

    def _header_line(self, line: str) -> None:
        if line.startswith("Crafting plot "):
            self._start_plot()
            # Gigahorse stamps each plot's start to the second (the plot name has minutes).
            stamp = _CRAFTING_AT_RE.search(line)
            if stamp:
                self._own_lines += 1
                self.started_at = local_timestamp(*(int(part) for part in stamp.groups()))
        elif line.startswith("Compression Level: "):
            match = _LEVEL_RE.match(line)
            level = compression_level(match.group(1)) if match else None
            if level is not None:  # a level no plotter makes leaves the plot name's
                self._own_lines += 1
                self.compression = level
        elif line.startswith("Final Destination:"):
            self._own_lines += 1
            self.dst_dir = self._dir(line[18:])
        else:
            super()._header_line(line)
