"""Read ``plotman.toml`` into :class:`~plotman_tui.config.schema.Config`, or say what is wrong.

Every problem becomes a one-line :class:`ConfigError` naming the file, the line and the key path.
All problems of a file are collected (``ConfigError.problems``) so a farmer can fix them in one go;
the error raised is the first of them in file order.

Reading is driven by the schema's dataclasses and their type hints, so a field added to the schema
is read, type-checked and reported as known without touching this module; what the types cannot
say (ranges, required keys, keys that name directories) is listed in the tables below.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Final

from plotman_tui.config.errors import ConfigError, KeyPath, format_key_path
from plotman_tui.config.positions import KeyLines, scan_key_lines
from plotman_tui.config.schema import (
    BladebitCudaOptions,
    ChiaOptions,
    Config,
    DirectoriesConfig,
    LoggingConfig,
    MadmaxOptions,
    PlotterType,
    PlottingConfig,
    SchedulingConfig,
    TmpOverride,
)

#: The environment variable naming the config file when ``--config`` is not given.
CONFIG_ENV_VAR: Final = "PLOTMAN_TUI_CONFIG"
CONFIG_FILE_NAME: Final = "plotman.toml"
GENERATE_HINT: Final = "run `plotman-tui config generate` to write a commented example"

# Inclusive bounds (None: unbounded) of integer keys. Integer keys not listed count something
# (threads, buckets, MiB of buffer) and must be at least 1.; k is what the plotter takes.
_LIMITS: Final[Mapping[tuple[type, str], tuple[int | None, int | None]]] = {
    (SchedulingConfig, "tmpdir_stagger_phase_major"): (1, None),
    (SchedulingConfig, "tmpdir_stagger_phase_minor"): (0, None),
    (SchedulingConfig, "tmpdir_stagger_phase_limit"): (1, None),
    (SchedulingConfig, "tmpdir_max_jobs"): (1, None),
    (SchedulingConfig, "global_max_jobs"): (1, None),
    (SchedulingConfig, "global_stagger_m"): (0, None),
    (SchedulingConfig, "polling_time_s"): (1, None),
    (SchedulingConfig, "global_max_phase1"): (1, None),
    (SchedulingConfig, "tmp_min_free_gib"): (0, None),
    (SchedulingConfig, "dst_min_free_gib"): (0, None),
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
    }
)

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
}

# [archiving] is read as a plain table until the archiving issue gives it a schema.
_ARCHIVING_KEYS: Final = ("enabled", "targets")


class _Invalid:
    """Marks a value that was reported as a problem and must not be used further."""


_INVALID: Final = _Invalid()


def resolve_config_path(cli_value: str | None) -> Path:
    """The config file to use: ``--config``, else ``$PLOTMAN_TUI_CONFIG``, else the user default."""
    if cli_value:
        return Path(cli_value).expanduser()
    from_env = os.environ.get(CONFIG_ENV_VAR)
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs  # only when neither --config nor the variable says where

    return Path(platformdirs.user_config_dir("plotman-tui")) / CONFIG_FILE_NAME


def load_config(path: Path, *, check_dirs: bool = True) -> Config:
    """Read and validate the config file at ``path``; raises :class:`ConfigError`."""
    path = Path(path).expanduser()
    try:
        # utf-8-sig: tolerate the byte-order mark some Windows editors write.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"no config file here; {GENERATE_HINT}", source=path) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", source=path) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"not UTF-8 text (bad byte at offset {error.start})", source=path
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror or error}", source=path) from None
    return parse_config(text, path, check_dirs=check_dirs)


def parse_config(text: str, source: Path | None = None, *, check_dirs: bool = True) -> Config:
    """Validate TOML ``text`` (read from ``source``, if given) into a Config.

    Relative paths in the file are taken relative to the directory of ``source`` (the current
    directory when there is none), so a config means the same thing wherever it is run from.
    """
    try:
        # The stdlib parser: every command reads the config, and tomlkit costs more to import
        # than the whole status scan. tomlkit is only asked to word a syntax error.
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as first:
        raise _syntax_error(first, text, source) from None
    base_dir = Path(source).absolute().parent if source is not None else None
    reader = _Reader(scan_key_lines(text), source, base_dir, check_dirs)
    config = reader.read_dataclass(Config, data, ())
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
    ]
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
        self._tmp_dirs: tuple[Path, ...] | None = None
        self._special: dict[tuple[type, str], Callable[[object, KeyPath], object]] = {
            (DirectoriesConfig, "tmp"): self._read_tmp,
            (DirectoriesConfig, "tmp2"): self._read_tmp2,
            (DirectoriesConfig, "tmp_overrides"): self._read_tmp_overrides,
            (PlottingConfig, "type"): self._read_plotter_type,
            (Config, "archiving"): self._read_archiving,
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
        # Only reached if the schema grows a type this reader does not know yet.
        return self.problem(path, f"plotman-tui cannot read this key (type {hint})")

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
            return self._check_dir(result, path)
        return result

    def _check_dir(self, directory: Path, path: KeyPath) -> Path | _Invalid:
        if directory.is_dir():
            return directory
        if directory.exists():
            return self.problem(path, f"not a directory: {directory}")
        return self.problem(
            path, f"directory does not exist: {directory} (create it or fix the path)"
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

    def _read_plotter_type(self, value: object, path: KeyPath) -> object:
        text = self._string(value, path, "a string")
        if isinstance(text, _Invalid):
            return text
        names = [member.value for member in PlotterType]
        if text not in names:
            return self.problem(
                path, f"unknown plotter {_describe(text)} ({_did_you_mean(text, names)})"
            )
        return PlotterType(text)

    def _read_archiving(self, value: object, path: KeyPath) -> object:
        table = self.table(value, path)
        if table is None:
            return _INVALID
        self.unknown_keys(table, path, list(_ARCHIVING_KEYS))
        ok = not any(key not in _ARCHIVING_KEYS for key in table)
        enabled = table.get("enabled", False)
        if not isinstance(enabled, bool):
            ok = False
            self.problem((*path, "enabled"), f"expected true or false, got {_describe(enabled)}")
        targets = table.get("targets", [])
        if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
            ok = False
            self.problem(
                (*path, "targets"),
                f"expected an array of tables ([[archiving.targets]]), got {_describe(targets)}",
            )
        return types.MappingProxyType(table) if ok else _INVALID

    # -- rules across keys -----------------------------------------------------------------------
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
