"""Cutting a reason to a width without changing what it says.

A reason cut at any character can say the opposite of the whole: ``77.6 GiB free, needs 239 GiB``
cut to ``77.6 GiB`` reads as healthy, ``1 before 2:1`` cut to ``1 before 2`` names the wrong
phase. So a reason is cut between its clauses (at ``"; "`` and ``", "``), a parenthesised group
stays whole (or is cut between its own clauses), and the cut is marked with an ellipsis; when not
even the first clause fits, between words. Never inside a word, so never inside a number or a
phase. Pure and free of rich: the dashboard's cells and status line, and any text report, use it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

ELLIPSIS = "…"
_SEPARATORS = ("; ", ", ")
_OPEN, _CLOSE = "([", ")]"


def text_width(text: str) -> int:
    """How many terminal cells ``text`` takes (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def cut_clauses(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells: whole, or its first clauses and ``…``, or (when the
    first clause is too long) its first words and ``…``; ``…`` alone when not even a word fits.

    >>> cut_clauses("77.6 GiB free, needs 239 GiB", 20)
    '77.6 GiB free, …'
    >>> cut_clauses("tmp/0: max jobs 3; tmp/1: 1 before 2:1", 30)
    'tmp/0: max jobs 3; …'
    """
    if text_width(text) <= width:
        return text
    if width < 1:
        return ""
    clauses = _split(text, _is_separator)
    return _whole_clauses(clauses, width) or _cut_words(clauses[0][0], width, more=len(clauses) > 1)


def _whole_clauses(clauses: list[tuple[str, str]], width: int) -> str | None:
    """The first clauses that fit with ``…`` after them (None: not even one)."""
    kept = ""
    for clause, separator in clauses[:-1]:
        candidate = kept + clause + separator
        if text_width(candidate + ELLIPSIS) > width:
            break
        kept = candidate
    return kept + ELLIPSIS if kept else None


def _cut_words(clause: str, width: int, *, more: bool) -> str:
    """The first words of ``clause`` and ``…``; a parenthesised group that does not fit is cut
    between its own clauses (``(tmp/0: max jobs 3; …)``) when its first one fits."""
    words = [word for word, _ in _split(clause, _is_space)]
    kept = ""
    for index, word in enumerate(words):
        joiner = " " if kept else ""
        candidate = kept + joiner + word
        if text_width(candidate + ELLIPSIS) <= width:
            kept = candidate
            continue
        if word[:1] in _OPEN and word[-1:] in _CLOSE and len(word) > 2:
            after = more or index < len(words) - 1
            room = width - text_width(kept + joiner + word[0] + word[-1]) - (1 if after else 0)
            cut = _whole_clauses(_split(word[1:-1], _is_separator), room)
            if cut is not None:
                return kept + joiner + word[0] + cut + word[-1] + (ELLIPSIS if after else "")
        break
    return kept + ELLIPSIS


def _is_separator(text: str, index: int) -> int:
    for separator in _SEPARATORS:
        if text.startswith(separator, index):
            return len(separator)
    return 0


def _is_space(text: str, index: int) -> int:
    return 1 if text[index] == " " else 0


def _split(text: str, boundary: Callable[[str, int], int]) -> list[tuple[str, str]]:
    """``text`` as (part, the separator after it) at the boundaries outside any brackets
    (``boundary``: the length of the separator at an index, 0 for none)."""
    parts: list[tuple[str, str]] = []
    depth = 0
    start = index = 0
    while index < len(text):
        char = text[index]
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE and depth:
            depth -= 1
        elif depth == 0:
            length = boundary(text, index)
            if length:
                parts.append((text[start:index], text[index : index + length]))
                index += length
                start = index
                continue
        index += 1
    parts.append((text[start:], ""))
    return parts
