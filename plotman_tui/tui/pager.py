"""A job's log for ``$PAGER``: a cleaned copy, never the log itself.

Plotter logs hold colour codes (chia's and the sandbox's log levels), which ``less`` shows raw
(``ESC[32mINFO``) unless told ``-R``; and a log is written by whatever runs under the plotter's
name, so a terminal must not obey what it holds (``-R`` would pass on any escape sequence, a
title change, a cursor jump). The pager gets a copy read as the parsers and the details screen
read the log (:class:`~plotman_tui.plotters.base.LineSplitter`: colour codes dropped, a progress
line ended by a lone CR is a line, invalid UTF-8 replaced), with every other control character
shown as a visible stand-in (:func:`~plotman_tui.farm.units.printable`), tabs kept. The copy
lives in a private temp dir (mode 700) under the log's own name, so the pager's prompt names
the log, and is removed when the pager exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from plotman_tui.appdirs import open_regular_file
from plotman_tui.farm.units import printable
from plotman_tui.plotters.base import LineSplitter

_CHUNK = 1 << 20


def shown_line(line: str) -> str:
    """A log line as the pager shows it: control characters visible, tabs kept."""
    return "\t".join(printable(part) for part in line.split("\t"))


def copy_readable(log_path: str, out: TextIO) -> None:
    """Write the log at ``log_path`` to ``out``, cleaned (see the module). OSError when the log
    cannot be read (a FIFO is refused rather than waited on)."""
    splitter = LineSplitter()
    with os.fdopen(open_regular_file(log_path), "rb") as handle:
        while data := handle.read(_CHUNK):
            out.writelines(shown_line(line) + "\n" for line in splitter.feed(data))
    out.writelines(shown_line(line) + "\n" for line in splitter.flush())


@contextlib.contextmanager
def readable_copy(log_path: str) -> Iterator[Path]:
    """A cleaned copy of the log at ``log_path``, removed (with its private dir) on exit.
    OSError when the log cannot be read or the copy written."""
    folder = Path(tempfile.mkdtemp(prefix="plotman-tui-log-"))  # mode 700: the farmer's only
    try:
        copy = folder / (os.path.basename(log_path) or "log")
        with open(copy, "x", encoding="utf-8") as out:
            copy_readable(log_path, out)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)
