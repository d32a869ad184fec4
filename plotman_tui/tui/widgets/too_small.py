"""The notice shown instead of the dashboard when the terminal is too small for it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

#: The smallest terminal the dashboard is laid out for (columns, rows).
MIN_WIDTH = 60
MIN_HEIGHT = 16


class TooSmall(Static):
    """``Terminal too small: 50x12 (needs 60x16)``; it goes away when the terminal grows."""

    def show(self, width: int, height: int) -> None:
        self.update(
            Text.assemble(
                ("Terminal too small", "bold"),
                f"\n{width}x{height}, needs at least {MIN_WIDTH}x{MIN_HEIGHT}\n",
                ("enlarge it, or q to quit", "dim"),
                justify="center",
            )
        )
