"""Where each key of a TOML text is: a map from key path to line number.

tomlkit keeps comments but not positions, so the text is scanned again here. The scanner only runs
on text tomlkit has already accepted, so it knows just enough TOML to find where keys, table
headers and array elements start; if it ever meets something it does not follow, it stops and
returns what it found so far (messages then fall back to the line of an enclosing table).
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Mapping

from plotman_tui.config.errors import KeyPath

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}#\r\n]")
_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    '"': '"',
    "\\": "\\",
}


class _StopScan(Exception):
    """The text holds something this scanner does not follow."""


class KeyLines:
    """Line numbers (1-based) of the keys, table headers and array elements of one TOML text."""

    def __init__(
        self, lines: Mapping[KeyPath, int], duplicate: tuple[KeyPath, int] | None = None
    ) -> None:
        self._lines = dict(lines)
        #: The first key or table written twice, and the line of its second definition. tomlkit
        #: reports some of these without a position; this gives them one.
        self.duplicate = duplicate

    def exact(self, path: KeyPath) -> int | None:
        """The line where ``path`` itself is written, or None."""
        return self._lines.get(path)

    def nearest(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of its closest enclosing table or key that is written."""
        for length in range(len(path), 0, -1):
            line = self._lines.get(path[:length])
            if line is not None:
                return line
        return None


def scan_key_lines(text: str) -> KeyLines:
    """Map every key path written in ``text`` (valid TOML) to the line it starts on."""
    scanner = _Scanner(text)
    with contextlib.suppress(_StopScan, IndexError, ValueError):
        scanner.scan()
    return KeyLines(scanner.lines, scanner.duplicate)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]
        # Arrays of tables seen so far: path without index -> index of the last element.
        self._aot_last: dict[KeyPath, int] = {}
        # Keys and tables defined so far (a table made by a header implicitly is not defined).
        self._defined: set[KeyPath] = set()
        self.duplicate: tuple[KeyPath, int] | None = None

    # -- positions ---------------------------------------------------------------------------
    def _line_at(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def _define(self, path: KeyPath, pos: int) -> None:
        if path in self._defined and self.duplicate is None:
            self.duplicate = (path, self._line_at(pos))
        self._defined.add(path)

    def _record(self, path: KeyPath, pos: int) -> None:
        line = self._line_at(pos)
        # Tables a header or dotted key creates implicitly get the line where they first appear.
        for length in range(1, len(path) + 1):
            self.lines.setdefault(path[:length], line)

    # -- top level ---------------------------------------------------------------------------
    def scan(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            start = self.pos
            if self.text[self.pos] == "[":
                is_array = self.text.startswith("[[", self.pos)
                self.pos += 2 if is_array else 1
                parts = self._read_key()
                self._skip_blank(newlines=False)
                closing = "]]" if is_array else "]"
                if not self.text.startswith(closing, self.pos):
                    raise _StopScan
                self.pos += len(closing)
                table = self._table_path(parts, is_array)
                self._define(table, start)
                self._record(table, start)
            else:
                parts = self._read_key()
                path = table + parts
                self._skip_blank(newlines=False)
                if self.text[self.pos] != "=":
                    raise _StopScan
                self.pos += 1
                # A dotted key defines its intermediate tables: a later header for one is a clash.
                for length in range(len(table) + 1, len(path)):
                    self._defined.add(path[:length])
                self._define(path, start)
                self._record(path, start)
                self._skip_value(path)

    def _table_path(self, parts: tuple[str, ...], is_array: bool) -> KeyPath:
        # A header below an array of tables refers to that array's last element.
        path: list[str | int] = []
        for index, part in enumerate(parts):
            path.append(part)
            is_new_element = is_array and index == len(parts) - 1
            last = self._aot_last.get(tuple(path))
            if last is not None and not is_new_element:
                path.append(last)
        if is_array:
            key = tuple(path)
            element = self._aot_last.get(key, -1) + 1
            self._aot_last[key] = element
            path.append(element)
        return tuple(path)

    # -- lexical pieces ----------------------------------------------------------------------
    def _skip_blank(self, *, newlines: bool) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t" or (newlines and char in "\r\n"):
                self.pos += 1
            elif newlines and char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def _read_key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            char = self.text[self.pos]
            if char == '"':
                parts.append(self._read_basic_string())
            elif char == "'":
                end = self.text.index("'", self.pos + 1)
                parts.append(self.text[self.pos + 1 : end])
                self.pos = end + 1
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if match is None:
                    raise _StopScan
                parts.append(match.group())
                self.pos = match.end()
            self._skip_blank(newlines=False)
            if self.pos < len(self.text) and self.text[self.pos] == ".":
                self.pos += 1
                continue
            return tuple(parts)

    def _read_basic_string(self) -> str:
        """Read a one-line ``"..."`` string at ``pos`` and decode its escapes."""
        text = self.text
        self.pos += 1
        out: list[str] = []
        while True:
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\":
                code = text[self.pos + 1]
                if code in "uU":
                    width = 4 if code == "u" else 8
                    digits = text[self.pos + 2 : self.pos + 2 + width]
                    out.append(chr(int(digits, 16)))
                    self.pos += 2 + width
                    continue
                if code == "x":  # TOML 1.1
                    out.append(chr(int(text[self.pos + 2 : self.pos + 4], 16)))
                    self.pos += 4
                    continue
                out.append(_ESCAPES.get(code, code))
                self.pos += 2
                continue
            out.append(char)
            self.pos += 1

    def _skip_value(self, path: KeyPath) -> None:
        self._skip_blank(newlines=False)
        text = self.text
        if text.startswith('"""', self.pos) or text.startswith("'''", self.pos):
            self._skip_multiline_string(text[self.pos])
        elif text[self.pos] == '"':
            self._read_basic_string()
        elif text[self.pos] == "'":
            self.pos = text.index("'", self.pos + 1) + 1
        elif text[self.pos] == "[":
            self._skip_array(path)
        elif text[self.pos] == "{":
            self._skip_inline_table(path)
        else:
            match = _SCALAR_END.search(text, self.pos)
            end = len(text) if match is None else match.start()
            if end == self.pos:
                raise _StopScan  # no value here: stop rather than loop on the same spot
            self.pos = end

    def _skip_multiline_string(self, quote: str) -> None:
        text = self.text
        delimiter = quote * 3
        self.pos += 3
        while True:
            if quote == '"' and text[self.pos] == "\\":
                self.pos += 2
                continue
            if text.startswith(delimiter, self.pos):
                self.pos += 3
                # Up to two quotes right before the closing delimiter belong to the string.
                for _ in range(2):
                    if self.pos < len(text) and text[self.pos] == quote:
                        self.pos += 1
                return
            self.pos += 1

    def _skip_array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self.text[self.pos] == "]":
                self.pos += 1
                return
            if self.text[self.pos] == ",":
                self.pos += 1
                continue
            element = (*path, index)
            self._record(element, self.pos)
            self._skip_value(element)
            index += 1

    def _skip_inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while True:
            # Newlines are allowed inside inline tables from TOML 1.1 on.
            self._skip_blank(newlines=True)
            if self.text[self.pos] == "}":
                self.pos += 1
                return
            if self.text[self.pos] == ",":
                self.pos += 1
                continue
            start = self.pos
            key_path = path + self._read_key()
            self._skip_blank(newlines=False)
            if self.text[self.pos] != "=":
                raise _StopScan
            self.pos += 1
            self._record(key_path, start)
            self._skip_value(key_path)
