"""The action log's tail, newest first: what was started, ended, suspended, resumed, killed,
moved to the farmer; and the archiving engine's news that the log does not hold (why it waits,
who holds its lock, errors)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from plotman_tui.farm.actionlog import ActionEntry, format_entry
from plotman_tui.farm.events import Event, EventKind
from plotman_tui.farm.units import printable, short_time

_ACTION_STYLE = {
    "start": "green",
    "kill": "red",
    "suspend": "yellow",
    "resume": "cyan",
    "transfer": "blue",
    "pause": "yellow",
    "unpause": "cyan",
}
# Results that are neither "ok" nor a failure.
_NEUTRAL_RESULTS = ("stopped", "started")
_EVENT_STYLE = {EventKind.WAIT: "dim", EventKind.LOCK: "cyan", EventKind.MONITOR: "cyan"}

PanelItem = ActionEntry | Event


def entry_text(entry: ActionEntry, today: float) -> Text:
    """One entry as ``history`` prints it, but for its time: only the clock on the day of
    ``today`` (the date took 11 of a narrow log's columns); failures in red."""
    failed = entry.result != "ok" and not entry.result.startswith(_NEUTRAL_RESULTS)
    style = "red" if failed else _ACTION_STYLE.get(entry.action, "")
    # Text, not markup: reasons hold paths and brackets.
    line = format_entry(entry, when=partial(short_time, today=today))
    return Text(line, style=style, no_wrap=True, overflow="ellipsis")


def event_text(event: Event, today: float) -> Text:
    """An engine event: its time, kind and message (as ``--no-ui`` prints it)."""
    style = "red" if event.failed or event.kind is EventKind.ERROR else ""
    style = style or _EVENT_STYLE.get(event.kind, "")
    message = printable(" ".join(event.message.split()))
    line = f"{short_time(event.time, today)}  {event.kind!s:<8}  {message}"
    return Text(line, style=style, no_wrap=True, overflow="ellipsis")


def item_text(item: PanelItem, today: float | None = None) -> Text:
    """An entry or event as the panel shows it (``today``: now when None)."""
    today = time.time() if today is None else today
    return entry_text(item, today) if isinstance(item, ActionEntry) else event_text(item, today)


class ActionLogPanel(VerticalScroll):
    """The entries and events it is shown, newest on top."""

    class CountChanged(Message):
        """Entries came or went: the screen may give the log more lines (or fewer)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_focus = False
        self._items: list[PanelItem] = []

    @property
    def count(self) -> int:
        """How many entries and events it shows."""
        return len(self._items)

    @property
    def entries(self) -> list[ActionEntry]:
        """The action log entries shown, newest first."""
        return [item for item in self._items if isinstance(item, ActionEntry)]

    @property
    def events(self) -> list[Event]:
        """The engine events shown, newest first."""
        return [item for item in self._items if isinstance(item, Event)]

    def compose(self) -> ComposeResult:
        yield Static(Text("No actions recorded yet.", style="dim"), id="action-log-text")

    def show(self, items: Iterable[PanelItem], *, today: float) -> None:
        """Show ``items``, newest first; an entry of the day of ``today`` shows its clock only."""
        ordered = sorted(items, key=lambda item: item.time, reverse=True)
        if ordered == self._items:
            return
        counted = len(ordered) != len(self._items)
        self._items = ordered
        if counted:
            self.post_message(self.CountChanged())
        text = Text("\n", no_wrap=True).join(item_text(item, today) for item in ordered)
        self.query_one("#action-log-text", Static).update(
            text if ordered else Text("No actions recorded yet.", style="dim")
        )
