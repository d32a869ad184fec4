"""Which rsync options a target may not add: the rule the config check and the transfer share.

It sits in the config layer, the lowest one, so both the loader (which refuses the option with
the line it is on) and the transfer (which refuses it again before it runs rsync) import it
downwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# Options that write the file under its final name, where a harvester would load it half sent.
_UNSAFE_LONG_OPTIONS: Final[Mapping[str, str]] = {
    "--inplace": "writes the plot under its final name while it is sent",
    "--partial": "keeps a partly sent plot under its final name",
    "--partial-dir": "renames a partly sent plot to its final name when a retry resumes it",
    "--append": "writes the plot under its final name while it is sent",
    "--append-verify": "writes the plot under its final name while it is sent",
    "--temp-dir": "copies the plot into place under its final name across file systems",
}
# Short options that take a value (the rest of the word): the letters after them are no options.
_SHORT_WITH_VALUE: Final = frozenset("eBTfM@")
_UNSAFE_SHORT_OPTIONS: Final[Mapping[str, str]] = {
    "P": "is --partial --progress: keeps a partly sent plot under its final name",
    "T": _UNSAFE_LONG_OPTIONS["--temp-dir"],
}


def unsafe_rsync_option(option: str) -> str | None:
    """Why ``option`` must not be among a target's ``rsync_options``; None when it may be."""
    if option.startswith("--"):
        reason = _UNSAFE_LONG_OPTIONS.get(option.split("=", 1)[0])
        return None if reason is None else f"{option.split('=', 1)[0]} {reason}"
    if option.startswith("-"):
        for letter in option[1:]:
            reason = _UNSAFE_SHORT_OPTIONS.get(letter)
            if reason is not None:
                return f"-{letter} {reason}"
            if letter in _SHORT_WITH_VALUE:
                break  # the rest of the word is that option's value
    return None
