"""The Footer: whole keys only, help always in sight, and no rebuild for a change it can show in
place.

* Keys that do not fit the width are left out whole (Textual's Footer cuts the last one in the
  middle of its word), in their order: the first are the most used. The help key is pinned at
  the right end and never left out, so a farmer on 80 columns sees where every key is listed.
* Textual's Footer recomposes (unmounts and mounts every key, then lays the screen out again) on
  every change of the screen's bindings: each focus change, so each open and close of the
  filter. That cost a key press tens of milliseconds. When the keys shown are the same ones,
  only their enabled state can have changed: this footer dims or undims them in place.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Actions whose key is pinned at the footer's right end, never left out.
PINNED_ACTIONS = frozenset({"app.help", "help"})


class KeysFooter(Footer):
    """A Footer of whole keys that recomposes only when the keys it shows change."""

    DEFAULT_CSS = """
    KeysFooter FooterKey.-pinned {
        dock: right;
        margin-right: 0;
    }
    """

    def __init__(self, *, compact: bool = False) -> None:
        super().__init__(compact=compact, show_command_palette=False)
        # The keys the screen's bindings want shown (the others are kept, hidden, see
        # bindings_changed); of those, the ones that fit are displayed.
        self._wanted: dict[FooterKey, bool] = {}

    def compose(self) -> ComposeResult:
        keys = []
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                widget.set_class(widget.action in PINNED_ACTIONS, "-pinned")
                keys.append(widget)
            yield widget
        self._wanted = dict.fromkeys(keys, True)
        self._fit(keys, self.size.width)

    def on_resize(self, event: Resize) -> None:
        self._fit(list(self.query(FooterKey)), event.size.width)

    def _fit(self, keys: Iterable[FooterKey], width: int) -> None:
        """Display the wanted keys that fit in ``width``, in order, after the pinned ones."""
        keys = list(keys)
        if width <= 0:  # not laid out yet: the Resize to come fits them
            return
        pinned = [key for key in keys if key.has_class("-pinned") and self._wanted.get(key, True)]
        room = width - sum(self._width(key) for key in pinned)
        for key in keys:
            wanted = self._wanted.get(key, True)
            if key.has_class("-pinned"):
                fits = True
            elif not wanted:
                fits = False  # not a key of this moment: it takes no room, leaves out no other
            else:
                needed = self._width(key) + 1  # and its margin, a gap before a pinned key
                fits = needed <= room
                if fits:
                    room -= needed
                else:
                    room = -1  # whole keys, in order: none after a key left out
            shown = wanted and fits
            if key.display != shown:
                key.display = shown

    def _width(self, key: FooterKey) -> int:
        """Cells of a key as FooterKey draws it: its key, a space, its description (padded
        by a cell each side but compact)."""
        padding = 0 if self.compact else 3
        return cell_len(key.key_display) + 1 + cell_len(key.description) + padding

    def bindings_changed(self, screen: Screen[object]) -> None:
        if not (self.is_attached and screen is self.screen and screen.app.app_focus):
            super().bindings_changed(screen)
            return
        wanted: dict[str, tuple[str, str, bool]] = {}
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if binding.show and binding.group is None:
                # As Footer.compose: one key per action, the first binding's.
                wanted.setdefault(binding.action, (binding.key, binding.description, enabled))
            elif binding.show:
                super().bindings_changed(screen)  # groups: Footer's own layout
                return
        keys = list(self.query(FooterKey))
        wanted_keys = [(action, key, text) for action, (key, text, _) in wanted.items()]
        had = [(key.action, key.key, key.description) for key in keys]
        if not _in_order(wanted_keys, had):
            super().bindings_changed(screen)
            return
        for key in keys:
            found = wanted.get(key.action)
            self._wanted[key] = found is not None and found[:2] == (key.key, key.description)
            if found is not None:
                key.set_class(not found[2], "-disabled")
                key._disabled = not found[2]  # what a click on it checks (Textual 8's FooterKey)
        self._fit(keys, self.size.width)


def _in_order(wanted: list[tuple[str, str, str]], had: list[tuple[str, str, str]]) -> bool:
    """Whether ``wanted`` is ``had`` with some left out."""
    remaining = iter(had)
    return all(item in remaining for item in wanted)
