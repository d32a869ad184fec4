"""A table with a row cursor (the jobs tables' and the fleet's hosts table's): the keys that
move it, enter, and the mouse. What enter selects, and what a click on the titles does, is each
table's own."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message

from plotman_tui.tui.widgets.line_table import LineTable


class CursorTable(LineTable):
    """A :class:`LineTable` whose cursor the keys and the mouse move; enter, or a click on the
    cursor's row, selects that row (:meth:`_select`). With ``REPORTS_MOVES``, a
    :class:`CursorMoved` comes whenever the cursor is on another row."""

    # Each table adds its enter (its own words) and any other keys.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    REPORTS_MOVES: ClassVar[bool] = False

    class CursorMoved(Message):
        """The cursor is on another row (the fleet screen's p and a follow it)."""

    def _select(self, key: str) -> None:
        """Enter, or a click on the cursor's row ``key``."""
        raise NotImplementedError

    def _header_clicked(self, x: int) -> None:
        """A click on the titles' line at column ``x`` of the content (nothing by default)."""

    def select_key(self, key: str) -> bool:
        index = self._index.get(key)
        if index is None:
            return False
        self._move_cursor(index)
        return True

    def _move_cursor(self, row: int) -> None:
        before = self.selected_key if self.REPORTS_MOVES else None
        super()._move_cursor(row)
        if self.REPORTS_MOVES and self.selected_key != before:
            self.post_message(self.CursorMoved())

    # -- keys and the mouse ----------------------------------------------------------------------

    def action_select_cursor(self) -> None:
        key = self.selected_key
        if key is not None:
            self._select(key)

    def action_cursor_up(self) -> None:
        self._move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self.cursor_row + 1)

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_last(self) -> None:
        self._move_cursor(len(self._order) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            self._header_clicked(offset.x)
            return
        row = self.scroll_offset.y + offset.y - 1
        if 0 <= row < len(self._order):
            if row == self.cursor_row:
                self.action_select_cursor()
            else:
                self._move_cursor(row)
