"""The prefixes line: the dir prefixes the tables leave out, and problems of the last scan."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from plotman_tui.farm.units import printable
from plotman_tui.tui.widgets.status_line import same_text


class PrefixesLine(Static):
    """``jobs 3, youngest first  Prefixes: tmp=/mnt/tmp/  dst=/mnt/dst/  archive=/srv/``
    then ``! log dir missing`` and the like."""

    _shown: Text | None = None

    def show(
        self,
        tmp_prefix: str,
        dst_prefix: str,
        problems: Sequence[str],
        jobs_summary: str,
        archive_prefix: str | None = None,
    ) -> None:
        """``archive_prefix``: None when archiving is not set up (no ``archive=`` then)."""
        text = Text.assemble(
            (jobs_summary, "bold"),
            ("   Prefixes: ", "dim"),
            "tmp=",
            (printable(tmp_prefix or "-"), "bold"),
            "  dst=",
            (printable(dst_prefix or "-"), "bold"),
        )
        if archive_prefix is not None:
            text.append("  archive=")
            text.append(printable(archive_prefix or "-"), "bold")
        for problem in problems:
            text.append("   ! ", "bold red")
            text.append(printable(problem), "red")
        text.no_wrap = True
        text.overflow = "ellipsis"
        if self._shown is not None and same_text(self._shown, text):
            return  # shown on every pass: no repaint when nothing changed
        self._shown = text
        self.update(text, layout=False)  # one line high, as wide as the screen, whatever it says
