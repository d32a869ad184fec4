"""The plotter programs plotman-tui knows: build, recognise and follow their plot jobs.

Each module holds one plotter as ``PLOTTER`` (see :class:`~plotman_tui.plotters.base.Plotter`);
``PLOTTERS`` lists them all, ``identify`` finds the plotter of a process command line and
``get_plotter`` the plotter a configuration names.

The plotters' modules are imported when one of those three is first asked for: a module that
needs only :mod:`~plotman_tui.plotters.limits` or :mod:`~plotman_tui.plotters.phase` (the
history cache's checks, the job model) does not import them (a warm ``analyze`` reads no log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plotman_tui.plotters.registry import PLOTTERS, get_plotter, identify


def __getattr__(name: str) -> Any:
    if name in __all__:
        from plotman_tui.plotters import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PLOTTERS", "get_plotter", "identify"]
