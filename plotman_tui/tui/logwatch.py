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
from collections.abc import Callable, Iterable

from textual.message import Message
from watchfiles import Change, awatch

from plotman_tui.tui.messages import WorkFailed
from plotman_tui.tui.poller import describe_error

#: A lone append is read after this much quiet (ms) ...
LOG_WATCH_STEP_MS = 100
#: ... and writes that go on are read this often at the least (ms): phases show well within 1 s.
LOG_WATCH_DEBOUNCE_MS = 500


class LogWatch:
    """Watches ``log_dir``; ``read`` gets each batch of files written there (in a thread) and
    returns a message to post, or None.

    ``on_new_file`` is called (in the event loop) when a file is created there: most likely a
    new job's log, which only a scan of the process table can tie to its job.
    """

    def __init__(
        self,
        log_dir: str,
        read: Callable[[Iterable[str]], Message | None],
        post: Callable[[Message], object],
        *,
        on_new_file: Callable[[], None] | None = None,
    ) -> None:
        self.log_dir = log_dir
        self._read = read
        self._post = post
        self._on_new_file = on_new_file
        #: Batches read (tests wait on it instead of sleeping).
        self.reads = 0

    async def run(self, stop: asyncio.Event) -> str | None:
        """Watch until ``stop`` is set (returns None), or until the watch cannot go on: returns
        why (the log dir is missing, the inotify watch limit is reached, ...)."""
        try:
            watch = awatch(
                self.log_dir,
                watch_filter=_written,
                debounce=LOG_WATCH_DEBOUNCE_MS,
                step=LOG_WATCH_STEP_MS,
                stop_event=stop,
                recursive=False,
            )
            # Closed on the way out, even when cancelled: the inotify watch goes with it.
            async with contextlib.aclosing(watch) as batches:
                async for changes in batches:
                    if self._on_new_file is not None and any(
                        change is Change.added for change, _path in changes
                    ):
                        self._on_new_file()
                    await asyncio.to_thread(self._read_batch, {path for _change, path in changes})
        except FileNotFoundError:
            return "missing"
        except (OSError, RuntimeError) as error:  # how watchfiles reports inotify trouble
            return str(error) or type(error).__name__
        except Exception as error:  # a bug: the looks can still bring the phases
            return describe_error(error)
        return None

    def _read_batch(self, paths: set[str]) -> None:
        try:
            message = self._read(paths)
        except Exception as error:  # a bug or an unforeseen OS error: report it, watch on
            message = WorkFailed("log-watch", describe_error(error))
        self.reads += 1
        if message is not None:
            with contextlib.suppress(RuntimeError):  # the app has gone: nobody to tell
                self._post(message)


def _written(change: Change, _path: str) -> bool:
    """A file created or written to; a deleted one has nothing left to read."""
    return change is not Change.deleted
