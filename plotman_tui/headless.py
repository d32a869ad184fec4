"""The ``--no-ui`` runner (and ``plot``): the engine without a screen, for services and cron.

One line per event, stamped with the local time (or one JSON object per line with ``--json``),
flushed at once so a service's journal shows it as it happens. SIGTERM, SIGINT and SIGHUP end the
loop after the pass under way; plot jobs run on (they are in their own sessions). ``--once``
makes one pass for cron and exits 0 when nothing failed, 1 otherwise.

The stop signals are caught from the start of the run to its last line: a second SIGTERM while
the loop winds down (``timeout`` and process-group kills send two; a farmer presses Ctrl-C
twice) must not kill it half way, before it releases its locks and says it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from plotman_tui.appdirs import cache_dir
from plotman_tui.config.schema import Config
from plotman_tui.farm.archive.engine import ArchivePassResult
from plotman_tui.farm.discovery import Scanner
from plotman_tui.farm.engine import Engine, Event, EventKind, PassResult
from plotman_tui.farm.jobcontrol import STOP_SIGNALS, StopSignals
from plotman_tui.farm.units import local_time, printable
from plotman_tui.farm.wiring import archiving_engine, plotting_engine
from plotman_tui.metrics import MetricsError, MetricsServer, server_for

EXIT_OK = 0
EXIT_FAILED = 1

# The scheduler reads phases, not temp sizes: temp files are measured at most this often.
_TEMP_REFRESH_S = 60.0


class EventPrinter:
    """Writes events as timestamped lines or JSON lines.

    Output that can no longer be written (a closed pipe, a journal that went away) is given up
    and plotting goes on: the action log still records every action.
    """

    def __init__(self, out: TextIO, *, json_lines: bool) -> None:
        self.out = out
        self.json_lines = json_lines
        self.broken = False

    def emit(self, event: Event) -> None:
        if self.broken:
            return
        if self.json_lines:
            line = json.dumps(event.to_json(), ensure_ascii=False, default=str)
        else:
            # A path or a log's text in the message is shown, never obeyed by a terminal.
            line = f"{local_time(event.time)} {event.kind:<12} {printable(event.message)}"
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (OSError, ValueError):  # ValueError: the stream was closed
            self.broken = True
            _silence(self.out)


def run_headless(
    config: Config,
    config_path: Path,
    *,
    once: bool = False,
    json_lines: bool = False,
    out: TextIO | None = None,
    plotting: bool = True,
    archiving: bool = True,
) -> int:
    """Run the engines until a stop signal (or one pass with ``once``); returns the exit status.

    ``archiving`` runs only when the config enables it with at least one target.
    """
    signals = _StopSignals()
    with signals:
        return _run_headless(
            config, config_path, signals, once, json_lines, out, plotting, archiving
        )


def _run_headless(
    config: Config,
    config_path: Path,
    signals: _StopSignals,
    once: bool,
    json_lines: bool,
    out: TextIO | None,
    plotting: bool,
    archiving: bool,
) -> int:
    printer = EventPrinter(out or sys.stdout, json_lines=json_lines)
    # The metrics' port first: one in use is a usage error before any lock or job is touched.
    # Not for --once: nobody could scrape one pass, and a port held by the service beside it
    # must not fail a cron run.
    metrics = server_for(config) if not once else None
    if metrics is not None:
        try:
            metrics.start()
        except MetricsError as error:
            raise HeadlessError(str(error)) from None
    try:
        return _run_engines(
            config, config_path, signals, once, printer, plotting, archiving, metrics
        )
    finally:
        if metrics is not None:
            metrics.close()


def _run_engines(
    config: Config,
    config_path: Path,
    signals: _StopSignals,
    once: bool,
    printer: EventPrinter,
    plotting: bool,
    archiving: bool,
    metrics: MetricsServer | None,
) -> int:
    scanner = Scanner(config.logging.plots, temp_refresh_s=_TEMP_REFRESH_S)
    cache = cache_dir() / "logstate.json"
    scanner.load_cache(cache)
    plotter = plotting_engine(config, scanner) if plotting else None
    archiver = archiving_engine(config, None if plotting else scanner) if archiving else None
    what = " and ".join(
        name for name, engine in (("plotting", plotter), ("archiving", archiver)) if engine
    )
    if not what:
        raise HeadlessError(
            "archiving is off: set [archiving] enabled = true and add an enabled "
            "[[archiving.targets]] table"
        )
    failed = False

    def on_pass(result: PassResult | ArchivePassResult) -> None:
        nonlocal failed
        failed = failed or result.failed
        for event in result.events:
            printer.emit(event)
        if metrics is not None:
            if isinstance(result, PassResult):
                metrics.reader.plotting_pass(result)
            else:
                metrics.reader.archiving_pass(result)

    def on_error(error: BaseException) -> None:
        nonlocal failed
        failed = True
        if metrics is not None and (plotter is None) != (archiver is None):
            # Which engine's pass raised is known only when one runs.
            metrics.reader.pass_failed("plotting" if plotter is not None else "archiving")
        message = f"pass failed: {type(error).__name__}: {error}"
        printer.emit(Event(time.time(), EventKind.ERROR, message, failed=True))

    engine = Engine(plotter, on_pass, archiving=archiver, on_error=on_error)
    if metrics is not None:
        printer.emit(_info(f"metrics: serving {metrics.url}"))
    if once:
        printer.emit(_info(f"{what}: one pass (config {config_path})"))
    else:
        printer.emit(
            _info(
                f"{what} loop started (config {config_path}; a pass every "
                f"{engine.interval_s:g}s); SIGTERM or Ctrl-C stops it, plot jobs and "
                "transfers keep running"
            )
        )
    try:
        stopped_by = asyncio.run(_run(engine, signals, once=once))
    finally:
        if plotter is not None:
            plotter.close()
        if archiver is not None:
            archiver.close()
        scanner.save_cache(cache)
    if once:
        return EXIT_FAILED if failed else EXIT_OK
    running = len(plotter.launched) if plotter is not None else 0
    printer.emit(
        _info(
            f"{what} loop stopped ({stopped_by}); its locks are released"
            + (f", {running} job(s) it started keep running" if running else "")
        )
    )
    return EXIT_OK


class HeadlessError(Exception):
    """Nothing to run; the message is one line for the user (exit status 2)."""


def _silence(out: TextIO) -> None:
    """Point a broken stream at /dev/null, so that Python's flush at exit does not fail too."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


def _info(message: str) -> Event:
    return Event(time.time(), EventKind.INFO, message)


class _StopSignals(StopSignals):
    """SIGTERM, SIGINT and SIGHUP caught while a run lasts; the first one stops the loop.

    Not asyncio's ``add_signal_handler``: its ``remove_signal_handler`` (and the loop's close)
    put the default action back while the run still has its locks to release and its last line
    to print, and a second signal then killed the process (exit status 143). Here the handlers
    stay from the first line of the run to its last, and after a run that a signal stopped,
    further stop signals are ignored through the exit. The signal wakes the event loop through
    the wakeup fd, whichever thread the kernel gave it to.
    """

    def __init__(self) -> None:
        super().__init__(ignore_after_stop=True)

    def _woken(self, reader: socket.socket, stop: asyncio.Event) -> None:
        numbers = b""
        with contextlib.suppress(OSError):  # BlockingIOError: all read
            while chunk := reader.recv(4096):
                numbers += chunk
        if self.received is not None or any(number in STOP_SIGNALS for number in numbers):
            stop.set()

    @contextlib.contextmanager
    def stopping(self, stop: asyncio.Event) -> Iterator[None]:
        """Set ``stop`` on a stop signal while the running event loop waits (and at once for
        one that came before)."""
        loop = asyncio.get_running_loop()
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        # The C handler writes the signal's number here, waking the loop's select; the Python
        # handler above then runs in the main thread.
        loop.add_reader(reader.fileno(), self._woken, reader, stop)
        previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        if self.received is not None:
            stop.set()
        try:
            yield
        finally:
            signal.set_wakeup_fd(previous_fd)
            loop.remove_reader(reader.fileno())
            reader.close()
            writer.close()


async def _run(engine: Engine, signals: _StopSignals, *, once: bool) -> str:
    """Run passes until a stop signal; returns the signal's name ('' after one pass)."""
    stop = asyncio.Event()
    with signals.stopping(stop):
        await engine.run(stop, once=once)
    return signals.received.name if signals.received is not None else ""
