"""Several plotting machines in one view, over SSH alone.

Each host runs ``plotman-tui watch --json`` (:mod:`plotman_tui.fleet.watch`), which prints its
machine's state as JSON lines (:mod:`plotman_tui.fleet.wire`); the fleet client
(:mod:`plotman_tui.fleet.client`) keeps one SSH connection and one watch per host and decodes
the lines into :class:`~plotman_tui.fleet.model.HostView` objects. Control (suspend, resume,
kill, pausing a loop) runs the host's own commands over the same connection
(:mod:`plotman_tui.fleet.control`).

Nothing here imports textual: the dashboard (:mod:`plotman_tui.tui`) and ``fleet status``
both use it.
"""
