"""One option scanner for every plotter's command line.

Plotter command lines come from the process table, so they are read leniently: short and long
spellings, ``-k 32``, ``-k32``, ``--size 32``, ``--size=32``, clustered short flags (``-ex``) and a
missing value at the end are all accepted, and nothing here raises. Each plotter describes its
options with an :class:`OptionSpec`; :func:`scan` reports what the command line says.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from plotman_tui.plotters.base import PlotArgs, resolve_dir, sane_args, sane_int
from plotman_tui.plotters.limits import COMPRESSION_MAX

if TYPE_CHECKING:
    from plotman_tui.config.schema import PlottingConfig

_EMPTY: Mapping[str, str] = MappingProxyType({})


def _empty() -> Mapping[str, str]:
    return _EMPTY


_INT_RE = re.compile(r"^[+-]?\d{1,18}$")
_SIZE_RE = re.compile(r"^(\d{1,15}(?:\.\d{1,9})?)\s*([KMGTP]?)(?:I?B)?$", re.IGNORECASE)
_SIZE_SHIFT = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40, "P": 50}


@dataclass(frozen=True)
class OptionSpec:
    """The options of one program (or one section of it), each spelling mapped to a key.

    ``values`` take a value, ``flags`` take none, ``optional_numbers`` take the next argument only
    when it is a number (BladeBit's ``--compress [level]``). A positional argument found in
    ``commands`` ends the section: the scan stops there and reports the rest.
    """

    values: Mapping[str, str] = field(default_factory=_empty)
    flags: Mapping[str, str] = field(default_factory=_empty)
    optional_numbers: Mapping[str, str] = field(default_factory=_empty)
    commands: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Scan:
    """What a command line says: option values by key (last one wins), flags, positionals;
    ``given`` every value in order (an option given more than once: Gigahorse's ``-d``)."""

    values: Mapping[str, str] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    positionals: tuple[str, ...] = ()
    command: str | None = None
    rest: tuple[str, ...] = ()
    given: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def get_all(self, key: str) -> tuple[str, ...]:
        """Every value given for ``key``, first to last."""
        return tuple(value for name, value in self.given if name == key)

    def get_int(self, key: str) -> int | None:
        return to_int(self.values.get(key))

    def has(self, key: str) -> bool:
        return key in self.flags


def spellings(key: str, *names: str) -> dict[str, str]:
    """``{"-k": "k", "--size": "k"}`` from ``spellings("k", "-k", "--size")``, for an OptionSpec."""
    return dict.fromkeys(names, key)


def scan(args: Sequence[str], spec: OptionSpec) -> Scan:
    """Read ``args`` (without the program name) against ``spec``; never raises."""
    values = _Values()
    flags: set[str] = set()
    positionals: list[str] = []
    index = 0
    options_ended = False
    while index < len(args):
        arg = args[index]
        index += 1
        if options_ended or arg == "-" or not arg.startswith("-"):
            if arg in spec.commands and not options_ended:
                return Scan(
                    dict(values),
                    frozenset(flags),
                    tuple(positionals),
                    arg,
                    tuple(args[index:]),
                    tuple(values.given),
                )
            positionals.append(arg)
            continue
        if arg == "--":
            options_ended = True
            continue
        if arg in spec.values:
            if index < len(args):
                values[spec.values[arg]] = args[index]
                index += 1
            continue
        if arg in spec.flags:
            flags.add(spec.flags[arg])
            continue
        if arg in spec.optional_numbers:
            key = spec.optional_numbers[arg]
            if index < len(args) and to_int(args[index]) is not None:
                values[key] = args[index]
                index += 1
            else:
                flags.add(key)
            continue
        if arg.startswith("--"):
            name, equals, value = arg.partition("=")
            if equals:
                if name in spec.values:
                    values[spec.values[name]] = value
                elif name in spec.optional_numbers:
                    values[spec.optional_numbers[name]] = value
                elif name in spec.flags:
                    flags.add(spec.flags[name])
            # An unknown long option is taken as a flag: guessing it takes a value could
            # swallow a positional argument such as an output directory.
            continue
        index = _scan_cluster(arg, args, index, spec, values, flags)
    return Scan(dict(values), frozenset(flags), tuple(positionals), given=tuple(values.given))


class _Values(dict[str, str]):
    """Option values by key, the last one winning, that also keep every one in order."""

    def __init__(self) -> None:
        super().__init__()
        self.given: list[tuple[str, str]] = []

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self.given.append((key, value))


def _scan_cluster(
    arg: str,
    args: Sequence[str],
    index: int,
    spec: OptionSpec,
    values: dict[str, str],
    flags: set[str],
) -> int:
    """``-ex``, ``-k32``, ``-tX``: short options run together; all or nothing."""
    found_flags: list[str] = []
    for position in range(1, len(arg)):
        name = "-" + arg[position]
        if name in spec.values:
            attached = arg[position + 1 :]
            if attached.startswith("="):
                attached = attached[1:]
            if attached:
                values[spec.values[name]] = attached
            elif index < len(args):
                values[spec.values[name]] = args[index]
                index += 1
            flags.update(found_flags)
            return index
        if name in spec.flags:
            found_flags.append(spec.flags[name])
            continue
        return index  # Not a cluster of known options: ignore the whole argument.
    flags.update(found_flags)
    return index


def to_int(text: str | None) -> int | None:
    """A decimal integer, or None for anything else (never raises)."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if _INT_RE.match(text) else None


def size_to_mib(text: str | None) -> int | None:
    """``192G``, ``200GiB``, ``512MB``, ``1073741824`` (bytes) as whole MiB; None if unreadable."""
    if text is None:
        return None
    match = _SIZE_RE.match(text.strip())
    if match is None:
        return None
    number = float(match.group(1))
    size_bytes = number * (1 << _SIZE_SHIFT[match.group(2).upper()])
    return int(size_bytes // (1 << 20))


def program_name(arg: str) -> str:
    """The program's base name, lower case, without a Windows ``.exe``: ``/opt/chia_plot`` ->
    ``chia_plot``."""
    name = os.path.basename(arg.replace("\\", "/")).lower()
    return name[:-4] if name.endswith(".exe") else name


def with_trailing_slash(path: str) -> str:
    """madMAx joins file names onto its directories without a separator, so they need one."""
    return path if path.endswith(("/", "\\")) else path + "/"


def key_argv(plotting: PlottingConfig) -> list[str]:
    """``-f FARMER`` and ``-p POOL`` or ``-c CONTRACT``: every plotter spells its keys so."""
    argv = []
    if plotting.farmer_pk is not None:
        argv += ["-f", plotting.farmer_pk]
    if plotting.pool_pk is not None:
        argv += ["-p", plotting.pool_pk]
    elif plotting.pool_contract_address is not None:
        argv += ["-c", plotting.pool_contract_address]
    return argv


def compression_level(text: str | None) -> int | None:
    """A compression level option's value (0: none); None when it is not one."""
    return sane_int(to_int(text), 0, COMPRESSION_MAX)


def plot_args(
    found: Scan,
    cwd: str | None,
    *,
    default_k: int,
    default_dst: str | None,
    default_compression: int | None = None,
) -> PlotArgs:
    """The plot parameters of a scan that uses the common keys (k, tmp, tmp2, dst, threads,
    buckets, buffer, count, compression); dirs resolved against ``cwd``.

    The plotter's own defaults apply when an option is absent: ``default_k`` (disk space
    depends on it), ``default_dst``, where the finished plot goes without ``-d``, and
    ``default_compression``.
    """
    dst = resolve_dir(found.get("dst"), cwd)
    if "dst" not in found.values:  # given but unreadable is unknown, not the default
        dst = resolve_dir(default_dst, cwd)
        if dst is not None and not os.path.isabs(dst):
            dst = None  # "the working dir", but the job's working dir could not be read
    return sane_args(
        PlotArgs(
            k=found.get_int("k") if "k" in found.values else default_k,
            tmp_dir=resolve_dir(found.get("tmp"), cwd),
            tmp2_dir=resolve_dir(found.get("tmp2"), cwd),
            dst_dir=dst,
            threads=found.get_int("threads"),
            buckets=found.get_int("buckets"),
            buffer_mib=found.get_int("buffer"),
            count=found.get_int("count"),
            compression=(
                compression_level(found.get("compression"))
                if "compression" in found.values
                else default_compression
            ),
        )
    )
