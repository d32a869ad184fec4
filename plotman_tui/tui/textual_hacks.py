"""Where the dashboard works around Textual's own behaviour (Textual 8.2), each with why.

Keep every such workaround here, so that an upgrade of Textual has one place to look at.
"""

from __future__ import annotations

import os
import signal


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
