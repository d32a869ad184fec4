"""The prefixes line: the dir prefixes the tables leave out, and problems of the last scan."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static


class PrefixesLine(Static):
    """``jobs 3, youngest first  Prefixes: tmp=/mnt/tmp/  dst=/mnt/dst/   ! log dir missing``."""

    def show(
        self, tmp_prefix: str, dst_prefix: str, problems: Sequence[str], jobs_summary: str
    ) -> None:
        text = Text.assemble(
            (jobs_summary, "bold"),
            ("   Prefixes: ", "dim"),
            "tmp=",
            (tmp_prefix or "-", "bold"),
            "  dst=",
            (dst_prefix or "-", "bold"),
        )
        for problem in problems:
            text.append("   ! ", "bold red")
            text.append(problem, "red")
        text.no_wrap = True
        text.overflow = "ellipsis"
        self.update(text)
