"""The action log's tail, newest first: what was started, ended, suspended, resumed, killed."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from plotman_tui.farm.actionlog import ActionEntry, format_entry

_ACTION_STYLE = {"start": "green", "kill": "red", "suspend": "yellow", "resume": "cyan"}


def entry_text(entry: ActionEntry) -> Text:
    """One entry as ``history`` prints it; failures in red."""
    failed = entry.result != "ok" and not entry.result.startswith("stopped")
    style = "red" if failed else _ACTION_STYLE.get(entry.action, "")
    # Text, not markup: reasons hold paths and brackets.
    return Text(format_entry(entry), style=style, no_wrap=True, overflow="ellipsis")


class ActionLogPanel(VerticalScroll):
    """The entries it is shown, newest on top."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_focus = False
        self._entries: list[ActionEntry] = []

    @property
    def entries(self) -> list[ActionEntry]:
        return list(self._entries)

    def compose(self) -> ComposeResult:
        yield Static(Text("No actions recorded yet.", style="dim"), id="action-log-text")

    def show(self, entries: Iterable[ActionEntry]) -> None:
        ordered = sorted(entries, key=lambda entry: entry.time, reverse=True)
        if ordered == self._entries:
            return
        self._entries = ordered
        text = Text("\n", no_wrap=True).join(entry_text(entry) for entry in ordered)
        self.query_one("#action-log-text", Static).update(
            text if ordered else Text("No actions recorded yet.", style="dim")
        )
