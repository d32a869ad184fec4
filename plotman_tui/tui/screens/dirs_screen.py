"""Every dir, each reason whole: the tmp, dst and archive dirs (every disk of every target) and
what plotting and archiving are doing, in full words.

The dashboard sums the archive disks up per target and cuts long reasons between clauses to
keep its room for the jobs; ``d`` opens this screen for the rest. Lines are never cut here: a
line wider than the terminal scrolls sideways.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer
from textual.screen import Screen
from textual.widgets import Static

from plotman_tui.dirview import ArchiveRow, DstRow, TmpRow
from plotman_tui.farm.units import printable
from plotman_tui.tui.widgets.archive_table import ArchiveDirsTable
from plotman_tui.tui.widgets.dst_table import DstTable
from plotman_tui.tui.widgets.keys_footer import KeysFooter
from plotman_tui.tui.widgets.tmp_table import TmpTable


@dataclass(frozen=True)
class DirsView:
    """What the screen shows: the rows (``dirview``'s), the prefixes the dashboard leaves out
    of the dir names, and plotting's and archiving's ``(word, detail)``."""

    tmp: Sequence[TmpRow]
    dst: Sequence[DstRow]
    archive: Sequence[ArchiveRow]  # empty: archiving is not set up
    tmp_prefix: str
    dst_prefix: str
    archive_prefix: str
    plotting: tuple[str, str]
    archiving: tuple[str, str]
    #: Each replotting target's progress in full words (report.replot_progress_text).
    replot: tuple[str, ...] = ()


def _status(name: str, words: tuple[str, str]) -> Text:
    word, detail = words
    text = Text.assemble(f"{name}: ", (word, "bold"))
    if detail:
        text.append(" ")
        text.append(printable(detail))  # a reason may hold paths: never markup, nor controls
    return text


class DirsScreen(Screen[None]):
    """A screen of its own (as help): ``show`` puts the app's latest rows on it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,d,q", "close", "Close")]

    def __init__(self, view: DirsView, *, archiving: bool) -> None:
        super().__init__(classes="-archiving" if archiving else None)
        self._view = view
        self.archiving = archiving
        self._ready = False

    def compose(self) -> ComposeResult:
        with ScrollableContainer(id="dirs-body") as body:
            body.border_title = "every dir, whole reasons (escape closes)"
            yield Static(id="dirs-plotting")
            yield Static(id="dirs-archiving")
            yield TmpTable(id="dirs-tmp")
            yield DstTable(id="dirs-dst", with_priority=self.archiving)
            yield ArchiveDirsTable(id="dirs-archive")
            yield Static(id="dirs-replot")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#dirs-tmp").border_title = "tmp dirs"
        self.query_one("#dirs-dst").border_title = "dst dirs"
        self.query_one("#dirs-archive").border_title = "archive dirs"
        self._ready = True
        self._fill()

    def show(self, view: DirsView) -> None:
        """Show ``view``; the app calls this every second while the screen is open (the
        status line's clock), so a view like the one shown costs nothing."""
        if self._ready and view == self._view:
            return
        self._view = view
        if not self._ready:
            return  # on_mount shows it
        self._fill()

    def _fill(self) -> None:
        view = self._view
        self.query_one("#dirs-plotting", Static).update(_status("Plotting", view.plotting))
        self.query_one("#dirs-archiving", Static).update(_status("Archiving", view.archiving))
        self.query_one(TmpTable).show(view.tmp, view.tmp_prefix)
        self.query_one(DstTable).show(view.dst, view.dst_prefix)
        self.query_one(ArchiveDirsTable).show(view.archive, view.archive_prefix)
        replot = self.query_one("#dirs-replot", Static)
        replot.display = bool(view.replot)
        replot.update(Text("\n".join(printable(line) for line in view.replot)))

    def action_close(self) -> None:
        self.dismiss(None)
