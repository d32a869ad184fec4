"""The one error type of the config package, and how key paths are written in its messages."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

#: A key path into the TOML document: table and key names, and list indexes.
KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_key_path(path: KeyPath) -> str:
    """Write a key path the way a farmer would type it: ``directories.tmp_overrides."/mnt/t0"``.

    Keys that are not bare TOML keys are quoted, list indexes are written ``[1]``.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        # json.dumps writes a valid TOML basic string for everything a path or key name holds.
        name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        text += f".{name}" if text else name
    return text


class ConfigError(Exception):
    """A configuration problem, said in one line: ``file:line: key.path: what is wrong``.

    ``key_path`` and ``line`` are None when the problem has no place in the file (a missing file,
    a key that is required but absent from an absent table). When a file has several problems,
    ``problems`` holds one ConfigError for each, in file order, and this error is the first of them.
    """

    #: The documented exit status of every command that stops on a bad configuration.
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: Path | None = None,
        line: int | None = None,
        key_path: str | None = None,
        problems: Sequence[ConfigError] = (),
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.key_path = key_path
        self.problems: tuple[ConfigError, ...] = tuple(problems) or (self,)
        super().__init__(self._one_line())

    def _one_line(self) -> str:
        place = str(self.source) if self.source is not None else "<config>"
        if self.line is not None:
            place += f":{self.line}"
        text = f"{place}: "
        if self.key_path:
            text += f"{self.key_path}: "
        # Values quoted into the message could carry a newline; the message stays one line.
        return (text + self.message).replace("\r", " ").replace("\n", " ")

    def __str__(self) -> str:
        return self._one_line()

    @classmethod
    def from_problems(cls, problems: Sequence[ConfigError]) -> ConfigError:
        """One error standing for all ``problems`` (at least one), reported first by line."""
        ordered = sorted(
            problems, key=lambda p: (p.line is None, p.line if p.line is not None else 0)
        )
        first = ordered[0]
        return cls(
            first.message,
            source=first.source,
            line=first.line,
            key_path=first.key_path,
            problems=ordered,
        )
