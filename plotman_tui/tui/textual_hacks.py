"""Where the dashboard works around Textual's own behaviour (Textual 8.2), each with why.

Keep every such workaround here, so that an upgrade of Textual has one place to look at.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from textual import events
from textual.app import App
from textual.screen import Screen
from textual.widget import AwaitMount


def forget_the_terminal() -> None:
    """The terminal hung up (an SSH session dropped): let the app close without it.

    Called from a SIGHUP handler (only async-signal-safe work: no lock is taken).

    * The kernel sends SIGCONT with every hangup, and Textual's ``LinuxDriver`` handles SIGCONT
      by starting application mode again (it takes it for the end of a ctrl+z). On a dead
      terminal that restart, running inside a signal handler, left the app hung for good at
      its exit, its writer thread's queue full (seen with Textual 8.2.8). Default SIGCONT
      handling is what a process without a terminal wants.
    * Writes to a hung-up terminal fail (EIO) and would end Textual's writer thread, and the
      app's exit with it: they go to /dev/null instead.
    """
    signal.signal(signal.SIGCONT, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)


async def mount_unshown(app: App[Any], screen: Screen[Any], name: str) -> None:
    """Install ``screen`` as ``name``, compose and mount it without showing it (then
    :func:`lay_out_unshown`), so that pushing it later costs only a paint.

    Textual composes a screen only when it is first pushed, and lays it out only when it is on
    top: the first push of a big screen (the history's, with its charts) cost 0.2-0.5 s on
    the event loop, all of it while the farmer waits for the key. This does what
    ``App.push_screen`` does for a screen not yet running (``App._register``, its CSS, the
    mount; private API of Textual 8.2) at a moment the app chooses (idle, after the history
    came in). A push later finds the screen running and mounts nothing.
    """
    app.install_screen(screen, name)
    if screen.is_running:
        return
    widgets = app._register(app, screen)
    app._load_screen_css(screen)
    await AwaitMount(screen, widgets)


def lay_out_unshown(app: App[Any], screen: Screen[Any]) -> None:
    """Lay ``screen`` (not shown) out at the app's size, with the breakpoint classes its
    resize would set (-narrow, -wide), as its push will: its widgets get the sizes they will be
    shown at, and can be drawn at them beforehand. (``Screen._get_breakpoint_classes`` and
    ``Screen._refresh_layout``: private API of Textual 8.2; a push whose size is the one laid
    out here lays nothing out again.)"""
    size = app.size
    breakpoints = screen.HORIZONTAL_BREAKPOINTS or app.HORIZONTAL_BREAKPOINTS or []
    classes = dict.fromkeys((name for _, name in breakpoints), False)
    classes.update(dict.fromkeys(screen._get_breakpoint_classes(size.width, breakpoints), True))
    screen.update_classes(classes, animate=False)
    screen._refresh_layout(size)


def restyle_only_when_changed(screen: Screen[Any], event: events.ScreenResume) -> None:
    """Call from ``screen``'s own ``_on_screen_resume`` (Textual runs it before Screen's): a
    screen put back on top works out every node's styles again (``ScreenResume.refresh_styles``
    in ``Screen._on_screen_resume``, Textual 8.2), in case the CSS changed while it was hidden;
    and a restyle drops every line drawn, so the whole screen is drawn anew. For the history
    screen that was some 20-30 ms of each h (its charts and table; 45-80 ms in all). Skipped
    when nothing styles depend on changed since it was last on top: the app's CSS
    (``App._css_update_count``, private: a theme change counts it up) and the terminal's focus
    (``:focus`` and ``:blur`` styles). A screen's own classes (its breakpoints, ``-no-plots``)
    restyle it at once when they change, shown or not."""
    app = screen.app
    styled_for = (app._css_update_count, app.app_focus)
    if getattr(screen, "_plotman_styled_for", None) == styled_for:
        event.refresh_styles = False
    screen._plotman_styled_for = styled_for  # type: ignore[attr-defined]
