"""The configuration: ``plotman.toml`` read into frozen dataclasses, checked, and its template.

Free of textual and rich, like the rest of the core. Every problem with a config file is a
:class:`ConfigError` with a one-line message and ``exit_code`` 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plotman_tui.config.errors import ConfigError, format_key_path
from plotman_tui.config.loader import (
    CONFIG_ENV_VAR,
    load_config,
    parse_config,
    resolve_config_path,
    summarize,
)
from plotman_tui.config.schema import (
    ArchiveTarget,
    ArchivingConfig,
    Bladebit2DiskOptions,
    BladebitCudaOptions,
    BladebitOptions,
    ChiaOptions,
    CommandsConfig,
    Config,
    DirectoriesConfig,
    InteractiveConfig,
    LoggingConfig,
    MadmaxOptions,
    MetricsConfig,
    PlotterType,
    PlottingConfig,
    SchedulingConfig,
    TargetType,
    TmpOverride,
    UserInterfaceConfig,
)

if TYPE_CHECKING:
    from plotman_tui.config.template import render_template, write_template


def __getattr__(name: str) -> Any:
    # The template is only for `config generate`; every other command skips its import cost.
    if name in ("render_template", "write_template"):
        from plotman_tui.config import template

        return getattr(template, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CONFIG_ENV_VAR",
    "ArchiveTarget",
    "ArchivingConfig",
    "Bladebit2DiskOptions",
    "BladebitCudaOptions",
    "BladebitOptions",
    "ChiaOptions",
    "CommandsConfig",
    "Config",
    "ConfigError",
    "DirectoriesConfig",
    "InteractiveConfig",
    "LoggingConfig",
    "MadmaxOptions",
    "MetricsConfig",
    "PlotterType",
    "PlottingConfig",
    "SchedulingConfig",
    "TargetType",
    "TmpOverride",
    "UserInterfaceConfig",
    "format_key_path",
    "load_config",
    "parse_config",
    "render_template",
    "resolve_config_path",
    "summarize",
    "write_template",
]
