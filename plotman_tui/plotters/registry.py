"""The registry of plotters: ``PLOTTERS`` lists them all, ``identify`` finds the plotter of a
process command line and ``get_plotter`` the plotter a configuration names. Import them from
:mod:`plotman_tui.plotters`."""

from __future__ import annotations

from collections.abc import Sequence

from plotman_tui.plotters import bladebit, bladebit2disk, bladebit_cuda, chia, gigahorse, madmax
from plotman_tui.plotters.base import Plotter
from plotman_tui.plotters.limits import PLOTTER_NAMES

PLOTTERS: tuple[Plotter, ...] = (
    chia.PLOTTER,
    madmax.PLOTTER,
    bladebit.PLOTTER,
    bladebit2disk.PLOTTER,
    bladebit_cuda.PLOTTER,
    gigahorse.PLOTTER,
)

assert tuple(plotter.name for plotter in PLOTTERS) == PLOTTER_NAMES

_BY_NAME: dict[str, Plotter] = {plotter.name: plotter for plotter in PLOTTERS}


def identify(argv: Sequence[str]) -> Plotter | None:
    """The plotter whose plot job ``argv`` is, or None for any other process."""
    for plotter in PLOTTERS:
        if plotter.matches(argv):
            return plotter
    return None


def get_plotter(name: str) -> Plotter:
    """The plotter called ``name`` (a ``[plotting] type`` value); ValueError if there is none."""
    try:
        return _BY_NAME[str(name)]
    except KeyError:
        known = ", ".join(_BY_NAME)
        raise ValueError(f"unknown plotter {name!r} (known plotters: {known})") from None


__all__ = ["PLOTTERS", "get_plotter", "identify"]
