"""A watch of the log dir, so that what a job writes to its log shows within a fraction of a
second, without a scan of the process table.

posting's pattern: ``watchfiles.awatch`` in an async worker of its own group, stopped by an
event. Each batch of files written is read in a thread (a read blocks on the disk, and waits
for a pass under way: the engine is not shared), one batch at a time: what is written meanwhile
waits in the watcher and makes the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterable
from stat import S_ISDIR

from textual.message import Message
from watchfiles import Change, awatch

from plotman_tui.tui.messages import WorkFailed
from plotman_tui.tui.poller import describe_error

#: A lone append is read after this much quiet (ms) ...
LOG_WATCH_STEP_MS = 100
#: ... and writes that go on are read this often at the least (ms): phases show well within 1 s.
LOG_WATCH_DEBOUNCE_MS = 500


#: How often the watch checks that the log dir is still the one it watches (removed and made
#: again, or mounted over, it must be watched anew), and retries a dir it could not watch (s).
CHECK_S = 5.0


class LogWatch:
    """Watches ``log_dir``; ``read`` gets each batch of files written there (in a thread) and
    returns a message to post, or None.

    ``on_new_file`` is called (in the event loop) when a file is created there: most likely a
    new job's log, which only a scan of the process table can tie to its job. ``on_state`` is
    told whether the dir is watched (None) or why not, each time that changes.
    """

    def __init__(
        self,
        log_dir: str,
        read: Callable[[Iterable[str]], Message | None],
        post: Callable[[Message], object],
        *,
        on_new_file: Callable[[], None] | None = None,
        on_state: Callable[[str | None], None] | None = None,
    ) -> None:
        self.log_dir = log_dir
        self._read = read
        self._post = post
        self._on_new_file = on_new_file
        self._on_state = on_state
        self._state: str | bool | None = False  # False: nothing said yet
        #: Batches read (tests wait on it instead of sleeping).
        self.reads = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until ``stop`` is set. A dir that is missing or cannot be watched (the inotify
        watch limit) is tried again every ``CHECK_S``; a dir replaced under the same name is
        watched anew."""
        while not stop.is_set():
            # In a thread: a stat of a hung mount must not hold the screen up.
            identity = await asyncio.to_thread(_identity, self.log_dir)
            problem = "missing" if identity is None else await self._watch(stop, identity)
            if problem is not None:
                self._say(problem)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), CHECK_S)

    async def _watch(self, stop: asyncio.Event, identity: tuple[int, int]) -> str | None:
        """Watch the dir while it is the one ``identity`` names; None when it stopped being
        that one (or ``stop`` was set), else why it could not be watched."""
        root = os.path.normpath(self.log_dir)
        checked_at = time.monotonic()
        try:
            watch = awatch(
                self.log_dir,
                # A deleted file has nothing left to read; the dir's own deletion matters.
                watch_filter=lambda change, path: change is not Change.deleted or path == root,
                debounce=LOG_WATCH_DEBOUNCE_MS,
                step=LOG_WATCH_STEP_MS,
                stop_event=stop,
                recursive=False,
                rust_timeout=int(CHECK_S * 1000),
                yield_on_timeout=True,
            )
            self._say(None)
            # Closed on the way out, even when cancelled: the inotify watch goes with it.
            async with contextlib.aclosing(watch) as batches:
                async for changes in batches:
                    # The dir itself deleted (it may come back under the same inode number),
                    # or another one there now (mounted over): watch what is there anew.
                    if any(path == root for _change, path in changes):
                        return None
                    if changes:
                        await self._handle(changes)
                    if time.monotonic() >= checked_at + CHECK_S:
                        checked_at = time.monotonic()
                        if await asyncio.to_thread(_identity, self.log_dir) != identity:
                            return None
        except FileNotFoundError:
            return "missing"
        except (OSError, RuntimeError) as error:  # how watchfiles reports inotify trouble
            return str(error) or type(error).__name__
        except Exception as error:  # a bug: the looks can still bring the phases
            return describe_error(error)
        return None

    async def _handle(self, changes: set[tuple[Change, str]]) -> None:
        if self._on_new_file is not None and any(
            change is Change.added for change, _path in changes
        ):
            self._on_new_file()
        await asyncio.to_thread(self._read_batch, {path for _change, path in changes})

    def _say(self, problem: str | None) -> None:
        if problem != self._state:
            self._state = problem
            if self._on_state is not None:
                self._on_state(problem)

    def _read_batch(self, paths: set[str]) -> None:
        try:
            message = self._read(paths)
        except Exception as error:  # a bug or an unforeseen OS error: report it, watch on
            message = WorkFailed("log-watch", describe_error(error))
        self.reads += 1
        if message is not None:
            with contextlib.suppress(RuntimeError):  # the app has gone: nobody to tell
                self._post(message)


def _identity(path: str) -> tuple[int, int] | None:
    """The dir's device and inode (None when it is missing or not a dir)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino) if S_ISDIR(stat.st_mode) else None
