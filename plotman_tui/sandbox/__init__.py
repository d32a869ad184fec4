"""A tiny real plotting machine: chiapos behind a ``chia plots create`` front, a sandbox farm
laid out around it, and a way to start plot jobs in it (for the demo and the tests)."""

from plotman_tui.sandbox.farm import (
    Sandbox,
    StartedPlot,
    make_sandbox,
    plot_argv,
    start_plot,
)

__all__ = ["Sandbox", "StartedPlot", "make_sandbox", "plot_argv", "start_plot"]
