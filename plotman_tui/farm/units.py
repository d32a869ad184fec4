"""The one place numbers and paths become short human-readable text (sizes, durations,
timestamps, shared dir prefixes)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(size: int | float | None, *, short: bool = False) -> str:
    """``1536`` -> ``1.5 KiB`` (``1.5K`` when short); None -> ``-``."""
    if size is None:
        return "-"
    value = float(size)
    for unit in _SIZE_UNITS:
        if abs(value) < 1024 or unit == _SIZE_UNITS[-1]:
            break
        value /= 1024
    if unit == "B":
        text = f"{int(value)}"
        return text if short else f"{text} B"
    number = f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"
    return f"{number}{unit[0]}" if short else f"{number} {unit}"


def human_duration(seconds: float | None) -> str:
    """A duration, short and unambiguous: ``25s``, ``42m``, ``1:02`` (h:mm), ``2d03:04``.

    Hours and more read as plotman's h:mm; below an hour the unit is spelled, so a
    sandbox plot's 25 seconds is not mistaken for 25 minutes. ``-`` for None.
    """
    if seconds is None:
        return "-"
    whole = int(max(seconds, 0))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    hours, minutes = divmod(whole // 60, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}:{minutes:02d}"
    return f"{hours}:{minutes:02d}"


#: What a time that no calendar holds (read from a damaged file or another machine: ``1e300``)
#: shows as.
NO_TIME = "?"


def _local(timestamp: float) -> time.struct_time | None:
    """The local time of a POSIX timestamp; None when the platform's calendar cannot hold it
    (a year past 9999, a negative or non-finite time)."""
    try:
        return time.localtime(timestamp)
    except (OverflowError, OSError, ValueError):
        return None


def local_time(timestamp: float | None) -> str:
    """A POSIX timestamp as local ``YYYY-MM-DD HH:MM:SS``."""
    if timestamp is None:
        return "-"
    when = _local(timestamp)
    return NO_TIME if when is None else time.strftime("%Y-%m-%d %H:%M:%S", when)


def short_time(timestamp: float, today: float) -> str:
    """A POSIX timestamp in few columns: ``HH:MM:SS`` on the local day of ``today``, else
    ``MM-DD HH:MM`` (``YYYY-MM-DD HH:MM`` in another year)."""
    when, now = _local(timestamp), _local(today)
    if when is None or now is None:
        return NO_TIME
    if when[:3] == now[:3]:
        return time.strftime("%H:%M:%S", when)
    return time.strftime("%m-%d %H:%M" if when[0] == now[0] else "%Y-%m-%d %H:%M", when)


def clock_time(timestamp: float, today: float) -> str:
    """``14:02`` on the local day of ``today``, ``2026-11-23 14:02`` on another (a lock's or
    a pause flag's "since")."""
    when, now = _local(timestamp), _local(today)
    if when is None or now is None:
        return NO_TIME
    return time.strftime("%H:%M" if when[:3] == now[:3] else "%Y-%m-%d %H:%M", when)


def common_prefix(paths: Sequence[str | None]) -> str:
    """The dir prefix shared by all paths ('' when none), ending in a separator."""
    real = [p for p in paths if p]
    if not real:
        return ""
    if len(set(real)) == 1:
        parent = os.path.dirname(real[0].rstrip(os.sep))
    else:
        try:
            parent = os.path.commonpath(real)
        except ValueError:
            return ""
        if parent in real:
            parent = os.path.dirname(parent)
    if parent in ("", os.sep):
        return ""
    return parent.rstrip(os.sep) + os.sep


# C0 controls as the Unicode control pictures (NUL ␀, BEL ␇, CR ␍, ESC ␛), DEL as ␡, and the
# C1 controls (CSI among them) as the replacement character; so are lone surrogates (a file
# name that is not UTF-8, as os.listdir gives it), which a UTF-8 terminal cannot be sent.
_VISIBLE_CONTROLS = {
    **{code: 0x2400 + code for code in range(0x20)},
    0x7F: 0x2421,
    **{code: 0xFFFD for code in range(0x80, 0xA0)},
    **{code: 0xFFFD for code in range(0xD800, 0xE000)},
}


def printable(text: str) -> str:
    """``text`` with every control character shown as a visible stand-in (ESC as ``␛``).

    Text from logs, paths and the action log goes through this on its way to a terminal, so a
    colour code in a dir name or a NUL in a log line cannot move the cursor, ring the bell or
    break a table's line: it is seen, not obeyed. Newlines too: each value stays on its line.
    """
    return text.translate(_VISIBLE_CONTROLS)
