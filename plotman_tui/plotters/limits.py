"""The bounds of what a log or a command line may say, and the checks of a path it names.

Logs and command lines are untrusted: a corrupt log once named a dir with a NUL byte in it, and
every os call on that dir raised. What they say is checked where it enters (the parsers' output,
the argument readers, the history cache), so the rest of the program only sees values that can
be true. Light on purpose: the history cache's checks import this, not the plotters' modules
(a warm ``analyze`` reads no log).
"""

from __future__ import annotations

import os

#: The plotters' names (``[plotting] type``, a history record's ``plotter``), in the registry's
#: order (:data:`plotman_tui.plotters.PLOTTERS`).
PLOTTER_NAMES = ("chia", "madmax", "bladebit", "bladebit2disk", "bladebit_cuda", "gigahorse")

#: Longest path Linux accepts (PATH_MAX, with its NUL) and longest name in a dir (NAME_MAX).
PATH_MAX = 4095
NAME_MAX = 255
#: Plot sizes any plotter makes: k18 test plots (chiapos' smallest) to k50.
K_MIN, K_MAX = 18, 50
#: Generous bounds: a machine with more threads or buckets than this does not exist.
THREADS_MAX = 65536
BUCKETS_MAX = 65536
#: 64 TiB of buffer, in MiB.
BUFFER_MIB_MAX = 64 << 20
#: Compression levels: 0 (none) to Gigahorse's deepest published (C33).
COMPRESSION_MAX = 33
#: Plots one command line asks for.
COUNT_MAX = 1_000_000
#: The largest plot file size a log may state (a k50 plot is some 26 PiB).
PLOT_BYTES_MAX = 1 << 62
#: The longest duration a log (or the scanner's cache) may say a phase, plot or copy took:
#: ~31 years is no plot's, and a bigger number (a tampered cache's 1e300) printed as days
#: runs to hundreds of digits. history_stats leaves out the same bound.
MAX_SECONDS = 1e9


def sane_path(text: str | None) -> str | None:
    """``text`` if it can name a file: non-empty, no NUL, at most PATH_MAX characters."""
    if not text or len(text) > PATH_MAX or "\0" in text:
        return None
    return text


def sane_dir(text: str | None) -> str | None:
    """A dir as a log names it: absolute, normalised, and a :func:`sane_path`; else None."""
    path = sane_path(text)
    if path is None or not os.path.isabs(path):
        return None
    return os.path.normpath(path)
