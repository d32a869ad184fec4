"""The Footer, without rebuilding itself for a change it can show in place.

Textual's Footer recomposes (unmounts and mounts every key, then lays the screen out again) on
every change of the screen's bindings: each focus change, so each open and close of the filter.
That cost a key press tens of milliseconds. When the keys shown are the same ones, only their
enabled state can have changed: this footer dims or undims them in place.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeysFooter(Footer):
    """A Footer that recomposes only when the keys it shows change."""

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
            key.display = found is not None and found[:2] == (key.key, key.description)
            if found is not None:
                key.set_class(not found[2], "-disabled")
                key._disabled = not found[2]  # what a click on it checks (Textual 8's FooterKey)


def _in_order(wanted: list[tuple[str, str, str]], had: list[tuple[str, str, str]]) -> bool:
    """Whether ``wanted`` is ``had`` with some left out."""
    remaining = iter(had)
    return all(item in remaining for item in wanted)
