"""Read ``plotman.toml`` into :class:`~plotman_tui.config.schema.Config`, or say what is wrong.

Every problem becomes a one-line :class:`ConfigError` naming the file, the line and the key path.
All problems of a file are collected (``ConfigError.problems``) so a farmer can fix them in one go;
the error raised is the first of them in file order.

Reading is driven by the schema's dataclasses and their type hints, so a field added to the schema
is read, type-checked and reported as known without touching this module; what the types cannot
say (ranges, required keys, keys that name directories) is listed in the tables below.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import functools
import json
import os
import posixpath
import re
import shlex
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from plotman_tui.appdirs import FileTooLargeError, NotRegularFileError, read_regular_file
from plotman_tui.config.errors import ConfigError, KeyPath, format_key_path
from plotman_tui.config.positions import KeyLines, scan_key_lines
from plotman_tui.config.rsync_rules import unsafe_rsync_option
from plotman_tui.config.schema import (
    FREE_SPACE_VARIABLES,
    LIST_VARIABLES,
    LOCAL_HOST_NAME,
    REMOVE_VARIABLES,
    RSYNC_TARGET_TYPES,
    SSH_TARGET_TYPES,
    TRANSFER_VARIABLES,
    ArchiveTarget,
    ArchivingConfig,
    BladebitCudaOptions,
    BladebitOptions,
    ChiaOptions,
    Config,
    DirectoriesConfig,
    FleetConfig,
    FleetHost,
    GigahorseOptions,
    LoggingConfig,
    MadmaxOptions,
    MetricsConfig,
    PlotterType,
    PlottingConfig,
    ReplotRules,
    SchedulingConfig,
    TargetType,
    TmpOverride,
    command_variables,
    parse_listen,
)

#: The environment variable naming the config file when ``--config`` is not given.
CONFIG_ENV_VAR: Final = "PLOTMAN_TUI_CONFIG"
CONFIG_FILE_NAME: Final = "plotman.toml"
GENERATE_HINT: Final = "run `plotman-tui config generate` to write a commented example"

# Inclusive bounds (None: unbounded) of integer keys. Integer keys not listed count something
# (threads, buckets, MiB of buffer) and must be at least 1.; k is what the plotter takes.
_LIMITS: Final[Mapping[tuple[type, str], tuple[int | None, int | None]]] = {
    (SchedulingConfig, "tmpdir_stagger_phase_major"): (1, None),
    (FleetHost, "port"): (1, 65535),
    (SchedulingConfig, "tmpdir_stagger_phase_minor"): (0, None),
    (SchedulingConfig, "tmpdir_stagger_phase_limit"): (1, None),
    (SchedulingConfig, "tmpdir_max_jobs"): (1, None),
    (SchedulingConfig, "global_max_jobs"): (1, None),
    (SchedulingConfig, "global_stagger_m"): (0, None),
    (SchedulingConfig, "polling_time_s"): (1, None),
    (SchedulingConfig, "global_max_phase1"): (1, None),
    (SchedulingConfig, "tmp_min_free_gib"): (0, None),
    (SchedulingConfig, "dst_min_free_gib"): (0, None),
    (ArchivingConfig, "min_plot_age_s"): (0, None),
    (PlottingConfig, "nice"): (-20, 19),
    (TmpOverride, "tmpdir_stagger_phase_major"): (1, None),
    (TmpOverride, "tmpdir_stagger_phase_minor"): (0, None),
    (TmpOverride, "tmpdir_stagger_phase_limit"): (1, None),
    (TmpOverride, "tmpdir_max_jobs"): (1, None),
    # chia itself wants k >= 32 for a farmable plot; smaller k is for tests (the sandbox uses 18+).
    (ChiaOptions, "k"): (18, 50),
    (MadmaxOptions, "k"): (29, 34),
    (MadmaxOptions, "port"): (1, 65535),
    (BladebitCudaOptions, "device"): (0, None),
    (BladebitCudaOptions, "compress"): (0, 9),
    (BladebitOptions, "compress"): (0, 9),
    # Gigahorse's binaries: cuda_plot_k26 to cuda_plot_k34.
    (GigahorseOptions, "k"): (26, 34),
    # C0 (none) to C33, the deepest level Gigahorse has had (plotters.limits.COMPRESSION_MAX).
    (GigahorseOptions, "compression"): (0, 33),
    (GigahorseOptions, "count"): (-1, None),  # -1: until stopped; 0 is refused below
    (GigahorseOptions, "device"): (0, None),
    (ReplotRules, "compression_below"): (1, 34),
    (ReplotRules, "k"): (18, 50),
    (ReplotRules, "keep_free_gib"): (0, None),
    (ArchiveTarget, "free_space_margin_gib"): (0, None),
    (ArchiveTarget, "ssh_port"): (1, 65535),
    (ArchiveTarget, "rsync_port"): (1, 65535),
}
# Keys the schema gives a default but a usable file must still say.
_REQUIRED: Final = frozenset({(PlottingConfig, "type")})

# Directories that must exist when ``check_dirs`` is on.
_EXISTING_DIRS: Final = frozenset(
    {
        (LoggingConfig, "plots"),
        (DirectoriesConfig, "tmp"),
        (DirectoriesConfig, "tmp2"),
        (DirectoriesConfig, "dst"),
        (GigahorseOptions, "tmp3"),
    }
)

_LOG_DIR: Final = (LoggingConfig, "plots")

# Fields of the schema that are not keys of the file.
_NOT_IN_FILE: Final = frozenset({(Config, "source")})

# plotman keys a farmer may bring over that live elsewhere (or nowhere) here.
_MOVED: Final[Mapping[KeyPath, str]] = {
    ("version",): "plotman's version marker is not used by plotman-tui; delete it",
    ("directories", "log"): "plotman's old name; write it as plots in the [logging] table",
    ("directories", "archive"): "archiving is configured in the [archiving] table",
    ("scheduling", "tmp_overrides"): (
        'tmp overrides are read from [directories.tmp_overrides."<tmp dir>"] tables'
    ),
    **{
        ("plotting", key): f"plotman 0.4's flat key; put it in the [plotting.chia] table as {key}"
        for key in ("k", "e", "n_threads", "n_buckets", "job_buffer", "x")
    },
    **{
        ("archiving", key): (
            "plotman's archiving setting; describe each place plots go in an "
            "[[archiving.targets]] table"
        )
        for key in ("target", "env", "index")
    },
}

# Keys of an archive target that only some target types use.
_TARGET_KEY_TYPES: Final[Mapping[str, frozenset[TargetType]]] = {
    "bwlimit_kbps": RSYNC_TARGET_TYPES,
    "rsync_options": RSYNC_TARGET_TYPES,
    **{
        key: SSH_TARGET_TYPES
        for key in ("host", "user", "ssh_port", "known_hosts", "identity_file", "verify_host_key")
    },
    **{key: frozenset({TargetType.RSYNCD}) for key in ("rsync_port", "module", "module_root")},
    **{
        key: frozenset({TargetType.SCRIPT})
        for key in ("transfer_command", "free_space_command", "list_command", "remove_command")
    },
}
# Keys each target type needs beyond name, type and archive_dirs.
_TARGET_REQUIRED: Final[Mapping[TargetType, tuple[str, ...]]] = {
    TargetType.LOCAL: (),
    TargetType.RSYNCD: ("host", "module", "module_root"),
    TargetType.SSH: ("host",),
    TargetType.SCRIPT: ("transfer_command", "free_space_command"),
}
# Target names appear in logs, transfer log file names and the dashboard.
_TARGET_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class _Invalid:
    """Marks a value that was reported as a problem and must not be used further."""


_INVALID: Final = _Invalid()


#: A config file is a few KiB; anything much larger is not one (and is not read whole).
MAX_CONFIG_BYTES: Final = 1024 * 1024


def resolve_config_path(cli_value: str | None) -> Path:
    """The config file to use: ``--config``, else ``$PLOTMAN_TUI_CONFIG``, else the user default.

    An empty ``--config`` is a mistake (ConfigError), not a request for the default; an empty
    variable counts as unset, as the XDG variables do.
    """
    if cli_value is not None:
        if not cli_value.strip():
            raise ConfigError("--config needs a path to a config file (it was given an empty one)")
        return Path(cli_value).expanduser()
    from_env = os.environ.get(CONFIG_ENV_VAR, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs  # only when neither --config nor the variable says where

    return Path(platformdirs.user_config_dir("plotman-tui")) / CONFIG_FILE_NAME


def load_config(path: Path, *, check_dirs: bool = True) -> Config:
    """Read and validate the config file at ``path``; raises :class:`ConfigError`."""
    path = Path(path).expanduser()
    try:
        # utf-8-sig: tolerate the byte-order mark some Windows editors write.
        text = read_regular_file(path, MAX_CONFIG_BYTES).decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"no config file here; {GENERATE_HINT}", source=path) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", source=path) from None
    except NotRegularFileError as error:
        message = f"is {error.strerror}: name the config file itself"
        raise ConfigError(message, source=path) from None
    except FileTooLargeError:
        size = f"{MAX_CONFIG_BYTES // 1024} KiB"
        message = f"larger than {size}, so not a config file (is it the right path?)"
        raise ConfigError(message, source=path) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"not UTF-8 text (bad byte at offset {error.start})", source=path
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror or error}", source=path) from None
    return parse_config(text, path, check_dirs=check_dirs)


def parse_config(
    text: str, source: Path | None = None, *, check_dirs: bool = True, home: str | None = None
) -> Config:
    """Validate TOML ``text`` (read from ``source``, if given) into a Config.

    Relative paths in the file are taken relative to the directory of ``source`` (the current
    directory when there is none), so a config means the same thing wherever it is run from.
    ``home``: the home dir ``~`` stands for (another machine's config, read here); None: this
    user's.
    """
    try:
        # The stdlib parser: every command reads the config, and tomlkit costs more to import
        # than the whole status scan. tomlkit is only asked to word a syntax error.
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as first:
        raise _syntax_error(first, text, source) from None
    base_dir = Path(source).absolute().parent if source is not None else None
    reader = _Reader(scan_key_lines(text), source, base_dir, check_dirs)
    reader.home = home
    config = reader.read_dataclass(Config, data, ())
    if isinstance(config, Config):
        reader.check_archive_dirs_apart(config)
        reader.check_replot_spares_new_plots(config, date.today())
    if reader.problems:
        raise ConfigError.from_problems(reader.problems)
    assert isinstance(config, Config)  # no problems means every value was read
    return dataclasses.replace(config, source=source)


def _syntax_error(first: tomllib.TOMLDecodeError, text: str, source: Path | None) -> ConfigError:
    """The clearest one-line account of invalid TOML: tomlkit's wording where it has one."""
    import tomlkit
    from tomlkit.exceptions import ParseError, TOMLKitError

    try:
        tomlkit.parse(text)
    except (TOMLKitError, ValueError) as error:
        return _tomlkit_syntax_error(error, text, source, ParseError)
    match = re.search(r"\(at line (\d+), column (\d+)\)$", str(first))
    detail = re.sub(r" \(at line \d+, column \d+\)$", "", str(first))
    if match is None:
        return ConfigError(f"invalid TOML: {detail}", source=source)
    return ConfigError(
        f"invalid TOML: {detail} (column {match.group(2)})",
        source=source,
        line=int(match.group(1)),
    )


def _tomlkit_syntax_error(
    error: Exception, text: str, source: Path | None, parse_error: type[Exception]
) -> ConfigError:
    detail = re.sub(r" at line \d+ col \d+$", "", str(error))
    is_clash = not isinstance(error, parse_error) or "already exists" in detail
    duplicate = scan_key_lines(text).duplicate if is_clash else None
    if duplicate is not None:
        # tomlkit reports a key or table defined twice without a position, or on a later line.
        path, line = duplicate
        return ConfigError(
            f"invalid TOML: {detail}", source=source, line=line, key_path=format_key_path(path)
        )
    if isinstance(error, parse_error):
        at_line: int | None = getattr(error, "line", None)
        col: int = getattr(error, "col", 0)
        return ConfigError(
            f"invalid TOML: {detail} (column {col + 1})", source=source, line=at_line
        )
    return ConfigError(f"invalid TOML: {detail}", source=source)


def summarize(config: Config) -> str:
    """A few lines for ``config check``: what will be plotted, where, and within which limits."""
    plotting = config.plotting
    options = getattr(plotting, plotting.type.value)
    k = getattr(options, "k", 32)  # the BladeBit plotters only make k32
    dirs = config.directories
    scheduling = config.scheduling
    lines = [
        f"plotter:   {plotting.type.value}, k{k}, executable {options.executable}",
        f"tmp dirs:  {len(dirs.tmp)} ({', '.join(str(p) for p in dirs.tmp)})",
        f"tmp2 dir:  {dirs.tmp2 if dirs.tmp2 is not None else 'none'}",
    ]
    if dirs.dst:
        lines.append(f"dst dirs:  {len(dirs.dst)} ({', '.join(str(p) for p in dirs.dst)})")
    else:
        lines.append("dst dirs:  none (plots stay in their tmp dir)")
    if dirs.tmp_overrides:
        lines.append(f"overrides: {len(dirs.tmp_overrides)} tmp dir(s) with their own limits")
    lines += [
        f"plot logs: {config.logging.plots}",
        f"limits:    {scheduling.global_max_jobs} jobs in all, "
        f"{scheduling.tmpdir_max_jobs} per tmp dir, "
        f"a new job at most every {scheduling.global_stagger_m} min, "
        f"{scheduling.tmpdir_stagger_phase_limit} job(s) per tmp dir before phase "
        f"{scheduling.tmpdir_stagger_phase_major}:{scheduling.tmpdir_stagger_phase_minor}",
        f"metrics:   {_summarize_metrics(config)}",
        _summarize_archiving(config.archiving),
    ]
    return "\n".join(lines)


def _summarize_metrics(config: Config) -> str:
    address = config.metrics.address
    if address is None:
        return "not served (set [metrics] listen; `plotman-tui metrics` prints them)"
    return f"served on http://{address}/metrics while --no-ui, plot, archive or the dashboard run"


def _summarize_archiving(archiving: ArchivingConfig) -> str:
    """Archiving on or off, then a line per target: ``name: type to where, N archive dirs``."""
    state = "on" if archiving.enabled else "off"
    count = len(archiving.targets)
    if not count:
        return f"archiving: {state}, no targets"
    lines = [f"archiving: {state}, {count} target{'' if count == 1 else 's'}"]
    for target in archiving.targets:
        if target.type is TargetType.RSYNCD:
            where = f" to {target.rsync_url(target.module_root or '/')}"
        elif target.type is TargetType.SSH:
            where = f" to {target.user + '@' if target.user else ''}{target.host}"
        else:
            where = ""
        dirs = len(target.archive_dirs)
        off = " (disabled)" if not target.enabled else ""
        plural = "" if dirs == 1 else "s"
        lines.append(f"  {target.name}: {target.type}{where}, {dirs} archive dir{plural}{off}")
    return "\n".join(lines)


# -- the reader ----------------------------------------------------------------------------------


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _file_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if (cls, f.name) not in _NOT_IN_FILE]


def is_required(cls: type, field: dataclasses.Field[Any]) -> bool:
    """Whether the file must give ``field`` of table ``cls``."""
    no_default = (
        field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    )
    return no_default or (cls, field.name) in _REQUIRED


def _describe(value: object) -> str:
    """A value as the farmer wrote it, short enough for a one-line message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:56] + '..."'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return f"a date/time ({value.isoformat()})"
    return type(value).__name__


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    import difflib  # only on the error path

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    return "expected one of: " + ", ".join(choices)


def _optional_inner(hint: Any) -> Any:
    """``X | None`` -> ``X`` (TOML has no null: an optional key is simply left out)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return hint


class _Reader:
    def __init__(
        self, lines: KeyLines, source: Path | None, base_dir: Path | None, check_dirs: bool
    ) -> None:
        self.lines = lines
        self.source = source
        self.base_dir = base_dir
        self.check_dirs = check_dirs
        self.problems: list[ConfigError] = []
        self.home: str | None = None  # None: os.path.expanduser's
        self._tmp_dirs: tuple[Path, ...] | None = None
        self._special: dict[tuple[type, str], Callable[[object, KeyPath], object]] = {
            (DirectoriesConfig, "tmp"): self._read_tmp,
            (DirectoriesConfig, "tmp2"): self._read_tmp2,
            (DirectoriesConfig, "tmp_overrides"): self._read_tmp_overrides,
            (PlottingConfig, "type"): self._read_plotter_type,
            (ArchivingConfig, "targets"): self._read_targets,
            (ArchiveTarget, "type"): self._read_target_type,
            (MetricsConfig, "listen"): self._read_listen,
            (FleetConfig, "hosts"): self._read_hosts,
        }

    def problem(self, path: KeyPath, message: str) -> _Invalid:
        self.problems.append(
            ConfigError(
                message,
                source=self.source,
                line=self.lines.nearest(path),
                key_path=format_key_path(path),
            )
        )
        return _INVALID

    # -- tables ----------------------------------------------------------------------------------
    def table(self, value: object, path: KeyPath) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.problem(path, f"expected a table, got {_describe(value)}")
        return None

    def unknown_keys(self, table: Mapping[str, object], path: KeyPath, known: list[str]) -> None:
        for key in table:
            if key in known:
                continue
            hint = _MOVED.get((*path, key)) or _did_you_mean(key, known)
            self.problem((*path, key), f"unknown key ({hint})")

    def read_dataclass(self, cls: type, value: object, path: KeyPath) -> object:
        """Read the table ``value`` at ``path`` into dataclass ``cls`` (or report why not)."""
        table = self.table(value, path)
        if table is None:
            return _INVALID
        fields = _file_fields(cls)
        self.unknown_keys(table, path, [f.name for f in fields])
        values: dict[str, Any] = {}
        ok = True
        for field in fields:
            key_path = (*path, field.name)
            hint = _hints(cls)[field.name]
            if field.name in table:
                special = self._special.get((cls, field.name))
                if special is not None:
                    result = special(table[field.name], key_path)
                else:
                    result = self.read_value(cls, field.name, hint, table[field.name], key_path)
            elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
                # A missing table reads as an empty one: its defaults, or its required keys' errors.
                result = self.read_dataclass(hint, {}, key_path)
            elif is_required(cls, field):
                table_name = format_key_path(path)
                where = f" to the [{table_name}] table" if table_name else ""
                if path and isinstance(path[-1], int):  # an element of an array of tables
                    where = f" to this [[{format_key_path(path[:-1])}]] table"
                result = self.problem(key_path, f"required key is missing (add it{where})")
            else:
                continue
            if isinstance(result, _Invalid):
                ok = False
            else:
                values[field.name] = result
        if not ok:
            return _INVALID
        return self._check_dataclass(cls(**values), table, path)

    # -- plain values ----------------------------------------------------------------------------
    def read_value(self, cls: type, name: str, hint: Any, value: object, path: KeyPath) -> object:
        hint = _optional_inner(hint)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.read_dataclass(hint, value, path)
        if hint is bool:
            if isinstance(value, bool):
                return value
            return self.problem(path, f"expected true or false, got {_describe(value)}")
        if hint is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return self._check_range(cls, name, value, path)
            return self.problem(path, f"expected an integer, got {_describe(value)}")
        if hint is str:
            text = self._string(value, path, "a string")
            if isinstance(text, str) and name.startswith("executable"):
                return os.path.expanduser(text)  # plotters are often built under the home dir
            return text
        if hint is Path:
            return self._dir_path(cls, name, value, path)
        if hint == tuple[Path, ...]:
            return self._path_list(cls, name, value, path)
        if hint == tuple[str, ...]:
            return self._string_list(value, path)
        if hint == tuple[int, ...]:
            return self._int_list(cls, name, value, path)
        if hint is date:
            return self._date(value, path)
        # Only reached if the schema grows a type this reader does not know yet.
        return self.problem(path, f"plotman-tui cannot read this key (type {hint})")

    def _string_list(self, value: object, path: KeyPath) -> tuple[str, ...] | _Invalid:
        if isinstance(value, str):
            return self.problem(
                path,
                f"expected an array of strings, got {_describe(value)} "
                '(write each word as its own string: ["a", "b"])',
            )
        if not isinstance(value, list):
            return self.problem(path, f"expected an array of strings, got {_describe(value)}")
        items = [self._string(item, (*path, index), "a string") for index, item in enumerate(value)]
        strings = [item for item in items if isinstance(item, str)]
        return tuple(strings) if len(strings) == len(items) else _INVALID

    def _int_list(
        self, cls: type, name: str, value: object, path: KeyPath
    ) -> tuple[int, ...] | _Invalid:
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]  # k = 32 means k = [32]
        if not isinstance(value, list):
            return self.problem(path, f"expected an array of integers, got {_describe(value)}")
        items: list[int | _Invalid] = []
        for index, item in enumerate(value):
            if isinstance(item, int) and not isinstance(item, bool):
                items.append(self._check_range(cls, name, item, (*path, index)))
            else:
                items.append(
                    self.problem((*path, index), f"expected an integer, got {_describe(item)}")
                )
        numbers = [item for item in items if isinstance(item, int)]
        return tuple(numbers) if len(numbers) == len(items) else _INVALID

    def _date(self, value: object, path: KeyPath) -> date | _Invalid:
        # TOML's local date (older_than = 2023-01-01); a quoted one is forgiven.
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = date.fromisoformat(value.strip())
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        return self.problem(path, f"expected a date like 2023-01-01, got {_describe(value)}")

    def _check_range(self, cls: type, name: str, value: int, path: KeyPath) -> int | _Invalid:
        low, high = _LIMITS.get((cls, name), (1, None))
        if low is not None and high is not None and not low <= value <= high:
            return self.problem(path, f"must be between {low} and {high}, got {value}")
        if low is not None and value < low:
            return self.problem(path, f"must be at least {low}, got {value}")
        if high is not None and value > high:
            return self.problem(path, f"must be at most {high}, got {value}")
        return value

    def _string(self, value: object, path: KeyPath, expected: str) -> str | _Invalid:
        if not isinstance(value, str):
            return self.problem(path, f"expected {expected}, got {_describe(value)}")
        if not value.strip():
            return self.problem(path, "must not be empty")
        return value

    # -- paths -----------------------------------------------------------------------------------
    def to_path(self, text: str) -> Path:
        """The config's one path normaliser: ``~`` expanded, relative to the file, normalised."""
        if self.home is not None and (text == "~" or text.startswith("~/")):
            path = Path(self.home + text[1:])
        else:
            path = Path(os.path.expanduser(text))
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return Path(os.path.normpath(path))

    def _dir_path(self, cls: type, name: str, value: object, path: KeyPath) -> Path | _Invalid:
        text = self._string(value, path, "a path string")
        if isinstance(text, _Invalid):
            return text
        result = self.to_path(text)
        if (cls, name) in _EXISTING_DIRS and self.check_dirs:
            # The log dir is made by the first job started: missing, it is only a warning.
            return self._check_dir(result, path, missing_ok=(cls, name) == _LOG_DIR)
        return result

    def _check_dir(
        self, directory: Path, path: KeyPath, *, missing_ok: bool = False
    ) -> Path | _Invalid:
        if directory.is_dir():
            return directory
        if directory.exists():
            return self.problem(path, f"not a directory: {directory}")
        if missing_ok:
            return directory
        return self.problem(
            path,
            f"directory does not exist: {directory} (create it with "
            f"mkdir -p {shlex.quote(str(directory))}, or fix the path)",
        )

    def _path_list(
        self, cls: type, name: str, value: object, path: KeyPath
    ) -> tuple[Path, ...] | _Invalid:
        if isinstance(value, str):
            return self.problem(
                path,
                f"expected an array of paths, got {_describe(value)} (write [{_describe(value)}])",
            )
        if not isinstance(value, list):
            return self.problem(path, f"expected an array of paths, got {_describe(value)}")
        paths: list[Path] = []
        first_index: dict[Path, int] = {}
        ok = True
        for index, item in enumerate(value):
            result = self._dir_path(cls, name, item, (*path, index))
            if isinstance(result, _Invalid):
                ok = False
                continue
            if result in first_index:
                earlier = format_key_path((*path, first_index[result]))
                self.problem((*path, index), f"{result} is listed twice (also at {earlier})")
                ok = False
                continue
            first_index[result] = index
            paths.append(result)
        return tuple(paths) if ok else _INVALID

    # -- special keys ----------------------------------------------------------------------------
    def _read_tmp(self, value: object, path: KeyPath) -> object:
        result = self._path_list(DirectoriesConfig, "tmp", value, path)
        if isinstance(result, tuple):
            if not result:
                return self.problem(path, "needs at least one tmp directory")
            self._tmp_dirs = result
        return result

    def _read_tmp2(self, value: object, path: KeyPath) -> object:
        if isinstance(value, list):
            return self.problem(
                path, "expected one path string, got an array (only one tmp2 dir is supported)"
            )
        return self._dir_path(DirectoriesConfig, "tmp2", value, path)

    def _read_tmp_overrides(self, value: object, path: KeyPath) -> object:
        table = self.table(value, path)
        if table is None:
            return _INVALID
        overrides: dict[Path, TmpOverride] = {}
        ok = True
        for key, entry in table.items():
            entry_path = (*path, key)
            directory = self.to_path(key) if key.strip() else None
            override = self.read_dataclass(TmpOverride, entry, entry_path)
            if directory is None:
                self.problem(entry_path, "the table name must be a tmp directory")
                ok = False
            elif self._tmp_dirs is not None and directory not in self._tmp_dirs:
                known = [str(p) for p in self._tmp_dirs]
                hint = _did_you_mean(str(directory), known)
                self.problem(entry_path, f"not one of the directories.tmp dirs ({hint})")
                ok = False
            elif directory in overrides:
                self.problem(entry_path, f"a second override for {directory}")
                ok = False
            if isinstance(override, TmpOverride) and directory is not None:
                overrides[directory] = override
            else:
                ok = False
        # The tmp list itself being invalid is already reported; nothing to compare against then.
        if not ok or self._tmp_dirs is None:
            return _INVALID
        return types.MappingProxyType(overrides)

    def _read_enum(self, value: object, path: KeyPath, choices: type[StrEnum], noun: str) -> object:
        text = self._string(value, path, "a string")
        if isinstance(text, _Invalid):
            return text
        names = [member.value for member in choices]
        if text not in names:
            return self.problem(
                path, f"unknown {noun} {_describe(text)} ({_did_you_mean(text, names)})"
            )
        return choices(text)

    def _read_plotter_type(self, value: object, path: KeyPath) -> object:
        return self._read_enum(value, path, PlotterType, "plotter")

    def _read_target_type(self, value: object, path: KeyPath) -> object:
        return self._read_enum(value, path, TargetType, "target type")

    def _read_listen(self, value: object, path: KeyPath) -> object:
        text = self._string(value, path, 'a "[HOST:]PORT" string, e.g. "127.0.0.1:9750"')
        if isinstance(text, _Invalid):
            return text
        try:
            return str(parse_listen(text))
        except ValueError as error:
            return self.problem(path, str(error))

    def _read_targets(self, value: object, path: KeyPath) -> object:
        if not isinstance(value, list):
            return self.problem(
                path,
                f"expected an array of tables ([[archiving.targets]]), got {_describe(value)}",
            )
        targets: list[ArchiveTarget] = []
        first_index: dict[str, int] = {}
        ok = True
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.problem(
                    (*path, index),
                    f"expected a table ([[archiving.targets]]), got {_describe(item)}",
                )
                ok = False
                continue
            target = self.read_dataclass(ArchiveTarget, item, (*path, index))
            if not isinstance(target, ArchiveTarget):
                ok = False
                continue
            if target.name in first_index:
                earlier = format_key_path((*path, first_index[target.name], "name"))
                self.problem(
                    (*path, index, "name"),
                    f"{_describe(target.name)} is already the name of a target (at {earlier}); "
                    "names must be unique",
                )
                ok = False
                continue
            first_index[target.name] = index
            targets.append(target)
        return tuple(targets) if ok else _INVALID

    def _read_hosts(self, value: object, path: KeyPath) -> object:
        if not isinstance(value, list):
            return self.problem(
                path, f"expected an array of tables ([[fleet.hosts]]), got {_describe(value)}"
            )
        hosts: list[FleetHost] = []
        first_index: dict[str, int] = {}
        ok = True
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.problem(
                    (*path, index), f"expected a table ([[fleet.hosts]]), got {_describe(item)}"
                )
                ok = False
                continue
            host = self.read_dataclass(FleetHost, item, (*path, index))
            if not isinstance(host, FleetHost):
                ok = False
                continue
            if host.name in first_index or host.name == LOCAL_HOST_NAME:
                if host.name == LOCAL_HOST_NAME:
                    why = "names this machine (include_local shows it)"
                else:
                    earlier = format_key_path((*path, first_index[host.name], "name"))
                    why = f"is already the name of a host (at {earlier}); names must be unique"
                self.problem((*path, index, "name"), f"{_describe(host.name)} {why}")
                ok = False
                continue
            first_index[host.name] = index
            hosts.append(host)
        return tuple(hosts) if ok else _INVALID

    def _check_host(self, host: FleetHost, path: KeyPath) -> object:
        before = len(self.problems)
        if not _TARGET_NAME.fullmatch(host.name):
            self.problem(
                (*path, "name"),
                'must be letters, digits, ".", "_" and "-", starting with a letter or digit '
                f"(it names the host on the dashboard), got {_describe(host.name)}",
            )
        self._check_remote_word(host.host, (*path, "host"), "a host name or address", "@/")
        self._check_remote_word(host.user, (*path, "user"), "a user name", "@/:")
        if not host.command.strip():
            self.problem(
                (*path, "command"),
                'must be the command that runs plotman-tui there, e.g. "plotman-tui" or '
                '"/opt/plotman-tui/.venv/bin/plotman-tui --config /etc/plotman-tui.toml"',
            )
        elif any(char in host.command for char in "\n\r\0"):
            self.problem((*path, "command"), "must be one line")
        return host if len(self.problems) == before else _INVALID

    # -- rules across keys -----------------------------------------------------------------------
    def check_archive_dirs_apart(self, config: Config) -> None:
        """A local target's archive dir must not be, be inside or contain a tmp or dst dir: the
        archiver would move plots onto themselves or into the plotter's way. Compared as written
        (normalised) always, and through symlinks too when ``check_dirs`` allows disk access."""
        dirs = config.directories
        plotting_dirs: list[tuple[KeyPath, Path]] = [
            *((("directories", "tmp", i), path) for i, path in enumerate(dirs.tmp)),
            *((("directories", "tmp2"), path) for path in [dirs.tmp2] if path is not None),
            *((("directories", "dst", i), path) for i, path in enumerate(dirs.dst)),
        ]
        spell = os.path.realpath if self.check_dirs else os.path.normpath
        plotting = [(key, str(path), spell(path)) for key, path in plotting_dirs]
        for t, target in enumerate(config.archiving.targets):
            if target.type is not TargetType.LOCAL:
                continue
            for a, archive_dir in enumerate(target.archive_dirs):
                archive = spell(archive_dir)
                for key, shown, other in plotting:
                    relation = _nesting(archive, other)
                    if relation is None:
                        continue
                    self.problem(
                        ("archiving", "targets", t, "archive_dirs", a),
                        f"{archive_dir} {relation} {format_key_path(key)} ({shown}): an archive "
                        "dir must be a disk of its own, apart from the tmp and dst dirs",
                    )
                    break

    def check_replot_spares_new_plots(self, config: Config, today: date) -> None:
        """Replot rules must not match the plots this machine makes: the action log protects
        the plots it sent, but a lost or rotated log must not turn a replot into removing
        the new plots. So each rule set needs a rule the new plots fail (older_than up to
        today, or a level they are not below), and older_than may not lie ahead."""
        plotting = config.plotting
        k, level = _new_plot_k_and_level(plotting)
        stated = f"-c{level:02d}" if level else ""
        if plotting.type is PlotterType.GIGAHORSE and level:
            stated = f"-c{level}"
        new_name = f"plot-k{k}{stated}-{today.isoformat()}-12-00-{'0' * 64}.plot"
        for t, target in enumerate(config.archiving.targets):
            rules = target.replot
            if rules is None:
                continue
            path: KeyPath = ("archiving", "targets", t, "replot")
            if rules.older_than is not None and rules.older_than > today:
                self.problem(
                    (*path, "older_than"),
                    f"{rules.older_than.isoformat()} is after today: plots made from today on "
                    "would match it (use a day up to today)",
                )
                continue
            matches_new = (
                rules.older_than is None
                and not (rules.uncompressed is True and level > 0)
                and not (rules.compression_below is not None and level >= rules.compression_below)
                and (not rules.k or k in rules.k)
                and (not rules.names or any(fnmatch.fnmatchcase(new_name, g) for g in rules.names))
            )
            if matches_new:
                made = f"k{k} C{level}" if level else f"k{k} uncompressed"
                self.problem(
                    path,
                    f"these rules match the plots this machine makes ({made}, [plotting] type = "
                    f'"{plotting.type.value}"): add one they fail, such as older_than = '
                    f"{today.isoformat()}"
                    + (f" or compression_below = {level}" if level else "")
                    + ", so that only old plots can go",
                )

    def _check_dataclass(
        self, instance: object, table: Mapping[str, object], path: KeyPath
    ) -> object:
        if isinstance(instance, TmpOverride):
            # An override names a whole phase: half of one would mix with the global half.
            major, minor = "tmpdir_stagger_phase_major", "tmpdir_stagger_phase_minor"
            for given, other in ((major, minor), (minor, major)):
                if given in table and other not in table:
                    return self.problem((*path, given), f"needs {other} in the same table")
        if isinstance(instance, PlottingConfig):
            return self._check_plotting(instance, table, path)
        if isinstance(instance, GigahorseOptions) and instance.count == 0:
            return self.problem(
                (*path, "count"), "must be -1 (plot until stopped) or at least 1, got 0"
            )
        if isinstance(instance, ReplotRules):
            return self._check_replot(instance, path)
        if isinstance(instance, ArchiveTarget):
            return self._check_target(instance, table, path)
        if isinstance(instance, FleetHost):
            return self._check_host(instance, path)
        if isinstance(instance, ArchivingConfig) and instance.enabled and not instance.targets:
            return self.problem(
                (*path, "enabled"),
                "archiving is on but no [[archiving.targets]] table says where plots go",
            )
        return instance

    def _check_plotting(
        self, plotting: PlottingConfig, table: Mapping[str, object], path: KeyPath
    ) -> object:
        if plotting.pool_pk is not None and plotting.pool_contract_address is not None:
            return self.problem(
                (*path, "pool_contract_address"),
                "cannot be used together with pool_pk (a plot is for a pool contract "
                "or for a pool key, not both)",
            )
        # madMAx and BladeBit cannot read keys from the chia keychain: both must be given.
        if plotting.type is not PlotterType.CHIA:
            plotter = plotting.type.value
            if plotting.farmer_pk is None:
                return self.problem(
                    (*path, "farmer_pk"),
                    f'required key is missing (plotter "{plotter}" needs the farmer key)',
                )
            if plotting.pool_pk is None and plotting.pool_contract_address is None:
                return self.problem(
                    (*path, "pool_contract_address"),
                    f'required key is missing (plotter "{plotter}" needs '
                    "pool_contract_address or pool_pk)",
                )
        return plotting

    # -- archive targets -------------------------------------------------------------------------
    def _check_target(
        self, target: ArchiveTarget, table: Mapping[str, object], path: KeyPath
    ) -> object:
        """The rules a target's type sets; every problem is reported, not only the first."""
        kind = target.type
        before = len(self.problems)
        for key in table:
            allowed = _TARGET_KEY_TYPES.get(key)
            if allowed is not None and kind not in allowed:
                users = _and_list(sorted(allowed))
                self.problem((*path, key), f"not used by {kind} targets (only by {users} targets)")
        required = _TARGET_REQUIRED[kind]
        for key in required:
            if key not in table:
                self.problem(
                    (*path, key),
                    f"required key is missing ({kind} targets need {_and_list(required)})",
                )
        if not _TARGET_NAME.fullmatch(target.name):
            self.problem(
                (*path, "name"),
                'must be letters, digits, ".", "_" and "-", starting with a letter or digit '
                f"(it names the target in logs), got {_describe(target.name)}",
            )
        if kind in SSH_TARGET_TYPES:
            self._check_remote_word(target.host, (*path, "host"), "a host name or address", "@/")
            self._check_remote_word(target.user, (*path, "user"), "a user name", "@/:")
        module_root = target.module_root
        if kind is TargetType.RSYNCD:
            if target.module is not None and "/" in target.module:
                self.problem(
                    (*path, "module"),
                    f'must be a module name as in rsyncd.conf, without "/", '
                    f"got {_describe(target.module)}",
                )
            if module_root is not None:
                module_root = self._farmer_path(module_root, (*path, "module_root"))
        archive_dirs = self._archive_dirs(
            target, module_root, (*path, "archive_dirs"), "archive_dirs" in table
        )
        rsync_options = target.rsync_options if kind in RSYNC_TARGET_TYPES else ()
        for index, option in enumerate(rsync_options):
            if not option.startswith("-"):
                self.problem(
                    (*path, "rsync_options", index),
                    f'must be an rsync option starting with "-", got {_describe(option)} '
                    "(a bare word would be sent as a file)",
                )
            elif (unsafe := unsafe_rsync_option(option)) is not None:
                self.problem((*path, "rsync_options", index), f"{option} is refused: {unsafe}")
        if kind is TargetType.SCRIPT:
            self._check_command(
                target.transfer_command, (*path, "transfer_command"), TRANSFER_VARIABLES, "source"
            )
            self._check_command(
                target.free_space_command,
                (*path, "free_space_command"),
                FREE_SPACE_VARIABLES,
                "archive_dir",
            )
            self._check_command(
                target.list_command, (*path, "list_command"), LIST_VARIABLES, "archive_dir"
            )
            self._check_command(
                target.remove_command, (*path, "remove_command"), REMOVE_VARIABLES, "plot_name"
            )
            if target.replot is not None:
                for key in ("list_command", "remove_command"):
                    if key not in table:
                        self.problem(
                            (*path, key),
                            "required key is missing (a script target that replots needs "
                            "list_command and remove_command)",
                        )
        if len(self.problems) > before or archive_dirs is None:
            return _INVALID
        return dataclasses.replace(
            target,
            archive_dirs=archive_dirs,
            module_root=module_root,
        )

    def _check_replot(self, rules: ReplotRules, path: KeyPath) -> object:
        """A replot table must name at least one rule: an empty one would match every plot."""
        narrowing = (
            rules.older_than is not None
            or rules.uncompressed is True
            or rules.compression_below is not None
            or bool(rules.k)
            or bool(rules.names)
        )
        if not narrowing:
            return self.problem(
                path,
                "names no rule, so it would match every plot on the farmer: give at least one of "
                "older_than, uncompressed = true, compression_below, k, names",
            )
        for index, pattern in enumerate(rules.names):
            if "/" in pattern or "\0" in pattern:
                return self.problem(
                    (*path, "names", index),
                    f'must be a file name pattern without "/" (it matches plot file names in '
                    f"each archive dir), got {_describe(pattern)}",
                )
        return rules

    def _check_remote_word(
        self, value: str | None, path: KeyPath, what: str, forbidden: str
    ) -> None:
        # Host and user go onto ssh's and rsync's command lines: no options, no user@host.
        if value is None:
            return
        if value.startswith("-"):
            self.problem(path, f'must be {what}, not start with "-", got {_describe(value)}')
        elif any(char.isspace() or char in forbidden for char in value):
            hint = " (put the user name in user)" if "@" in value else ""
            self.problem(path, f"must be {what}, got {_describe(value)}{hint}")

    def _farmer_path(self, text: str, path: KeyPath) -> str | None:
        """A dir on the farmer: absolute, ``/``-separated, normalised; None if it is not one."""
        if not text.startswith("/"):
            self.problem(
                path,
                'must be an absolute path on the farmer (starting with "/"), '
                f"got {_describe(text)}",
            )
            return None
        return posixpath.normpath(text)

    def _archive_dirs(
        self, target: ArchiveTarget, module_root: str | None, path: KeyPath, given: bool
    ) -> tuple[str, ...] | None:
        if not target.archive_dirs:
            if given:  # a missing key is reported as required already
                self.problem(path, "needs at least one archive dir")
            return None
        dirs: list[str] = []
        first_index: dict[str, int] = {}
        ok = True
        for index, text in enumerate(target.archive_dirs):
            item_path = (*path, index)
            directory: str | None
            if target.type is TargetType.LOCAL:
                # Archive disks come and go; a missing one is reported per dir while running.
                directory = os.path.normpath(os.path.expanduser(text))
                if not os.path.isabs(directory):
                    self.problem(item_path, f"must be an absolute path, got {_describe(text)}")
                    directory = None
            elif target.type is TargetType.SCRIPT:
                directory = text  # the farmer's own commands decide what it means
            else:
                directory = self._farmer_path(text, item_path)
                if directory is not None and module_root is not None:
                    inside = directory == module_root or directory.startswith(
                        module_root.rstrip("/") + "/"
                    )
                    if not inside:
                        self.problem(
                            item_path,
                            f"{directory} is not under module_root {module_root} "
                            "(the rsync module serves only that dir)",
                        )
                        directory = None
            if directory is None:
                ok = False
                continue
            if directory in first_index:
                earlier = format_key_path((*path, first_index[directory]))
                self.problem(item_path, f"{directory} is listed twice (also at {earlier})")
                ok = False
                continue
            first_index[directory] = index
            dirs.append(directory)
        return tuple(dirs) if ok else None

    def _check_command(
        self,
        argv: tuple[str, ...] | None,
        path: KeyPath,
        variables: Mapping[str, str],
        needed: str,
    ) -> None:
        if argv is None:
            return
        if not argv:
            self.problem(path, "must not be empty (an array: the program, then its arguments)")
            return
        unknown = False
        for index, arg in enumerate(argv):
            for name in command_variables([arg]):
                if name not in variables:
                    unknown = True
                    hint = _did_you_mean_variable(name, list(variables))
                    self.problem((*path, index), f"unknown variable {{{name}}} ({hint})")
        # A misspelt variable is the likelier cause of a missing one: report only that.
        if not unknown and needed not in command_variables(argv):
            self.problem(path, f"must use {{{needed}}} ({variables[needed]})")


def _new_plot_k_and_level(plotting: PlottingConfig) -> tuple[int, int]:
    """The k and compression level of the plots the configured plotter makes (the BladeBit
    plotters make k32 only; chia and madMAx never compress)."""
    kind = plotting.type
    if kind is PlotterType.CHIA:
        return plotting.chia.k, 0
    if kind is PlotterType.MADMAX:
        return plotting.madmax.k, 0
    if kind is PlotterType.BLADEBIT:
        return 32, plotting.bladebit.compress
    if kind is PlotterType.BLADEBIT_CUDA:
        return 32, plotting.bladebit_cuda.compress
    if kind is PlotterType.GIGAHORSE:
        return plotting.gigahorse.k, plotting.gigahorse.compression
    return 32, 0  # bladebit2disk


def _nesting(path: str, other: str) -> str | None:
    """How absolute ``path`` lies to ``other``: "is", "is inside", "contains", or None."""
    if path == other:
        return "is"
    common = os.path.commonpath([path, other])
    if common == other:
        return "is inside"
    if common == path:
        return "contains"
    return None


def _did_you_mean_variable(name: str, known: Sequence[str]) -> str:
    import difflib  # only on the error path

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {{{close[0]}}}?"
    return "known here: " + ", ".join(f"{{{word}}}" for word in known)


def _and_list(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
