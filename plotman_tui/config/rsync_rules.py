"""Which rsync options a target may not add: the rule the config check and the transfer share.

It sits in the config layer, the lowest one, so both the loader (which refuses the option with
the line it is on) and the transfer (which refuses it again before it runs rsync) import it
downwards.

Two kinds are refused. Options that write the file under its final name, where a harvester
would load it half sent. And options that let rsync skip sending the plot or take other bytes
for it: with ``--remove-source-files`` rsync deletes the source of every file it counts as
done, so a skip that counts as done (``--size-only``, a ``--compare-dest`` match) deletes the
only copy, and a skip that does not (``--existing``, ``--max-size``, ``--dry-run``, a filter)
ends with status 0 and nothing sent, which the archiver would misreport. Transfers run with
``--ignore-existing`` themselves, so an existing far file is never compared, replaced or
counted as the plot: that option, ``--update`` and ``--checksum`` are harmless and allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

_SENDS_NOTHING: Final = "skips sending the plot, and the transfer would be misreported"
_OTHER_BYTES: Final = (
    "takes a file already on the farmer for the plot: the source would be deleted unsent"
)
_UNSAFE_LONG_OPTIONS: Final[Mapping[str, str]] = {
    # Writing under the final name.
    "--inplace": "writes the plot under its final name while it is sent",
    "--partial": "keeps a partly sent plot under its final name",
    "--partial-dir": "renames a partly sent plot to its final name when a retry resumes it",
    "--append": "writes the plot under its final name while it is sent",
    "--append-verify": "writes the plot under its final name while it is sent",
    "--temp-dir": "copies the plot into place under its final name across file systems",
    # Skipping the plot, or taking other bytes for it.
    "--size-only": "counts a far file of the same size as the plot: the source would be "
    "deleted unsent",
    "--compare-dest": _OTHER_BYTES,
    "--copy-dest": _OTHER_BYTES,
    "--link-dest": _OTHER_BYTES,
    "--existing": _SENDS_NOTHING,
    "--ignore-non-existing": _SENDS_NOTHING,
    "--max-size": _SENDS_NOTHING,
    "--min-size": _SENDS_NOTHING,
    "--dry-run": _SENDS_NOTHING,
    "--list-only": _SENDS_NOTHING,
    "--only-write-batch": _SENDS_NOTHING,
    "--read-batch": "sends a batch file's bytes instead of the plot",
    "--exclude": _SENDS_NOTHING,
    "--exclude-from": _SENDS_NOTHING,
    "--filter": _SENDS_NOTHING,
}
# Short options that take a value (the rest of the word): the letters after them are no options.
_SHORT_WITH_VALUE: Final = frozenset("eBTfM@")
_UNSAFE_SHORT_OPTIONS: Final[Mapping[str, str]] = {
    "P": "is --partial --progress: keeps a partly sent plot under its final name",
    "T": _UNSAFE_LONG_OPTIONS["--temp-dir"],
    "n": f"is --dry-run: {_SENDS_NOTHING}",
    "f": f"is --filter: {_SENDS_NOTHING}",
    "F": f"is a --filter rule: {_SENDS_NOTHING}",
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
