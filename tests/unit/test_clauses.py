"""Cutting a reason to a width keeps what it says: whole clauses, whole words, an ellipsis."""

from __future__ import annotations

import pytest

from plotman_tui.farm.clauses import cut_clauses, text_width


@pytest.mark.parametrize(
    ("text", "width", "cut"),
    [
        # The two cuts the issue saw: each now says there is more, and never a half.
        ("77.6 GiB free, needs 239 GiB", 20, "77.6 GiB free, …"),
        ("77.6 GiB free, needs 239 GiB", 12, "77.6 GiB…"),
        ("tmp/0: max jobs 3; tmp/1: 1 before 2:1", 30, "tmp/0: max jobs 3; …"),
        ("tmp/1: 1 before 2:1", 17, "tmp/1: 1 before…"),
        ("tmp/1: 1 before 2:1", 19, "tmp/1: 1 before 2:1"),
        # A parenthesised group stays whole, or is cut between its own clauses.
        (
            "no eligible tmp dirs (tmp/0: max jobs 3; tmp/1: 1 before 2:1)",
            45,
            "no eligible tmp dirs (tmp/0: max jobs 3; …)",
        ),
        (
            "no eligible tmp dirs (tmp/0: max jobs 3; tmp/1: 1 before 2:1)",
            35,
            "no eligible tmp dirs…",
        ),
        (
            "waiting: stagger (1623s/1800s); last start 5m ago",
            40,
            "waiting: stagger (1623s/1800s); …",
        ),
        ("waiting: stagger (1623s/1800s); last start 5m ago", 25, "waiting: stagger…"),
        # Nothing fits but the ellipsis: no piece of a word.
        ("239GiB needed", 4, "…"),
        ("anything", 0, ""),
        ("", 5, ""),
    ],
)
def test_cuts_between_clauses_and_words_and_marks_the_cut(text: str, width: int, cut: str) -> None:
    assert cut_clauses(text, width) == cut
    assert text_width(cut_clauses(text, width)) <= width


def test_every_cut_is_a_start_of_the_text_with_whole_words_and_fits() -> None:
    text = (
        "no eligible tmp dirs (tmp/0: max jobs 3; tmp/1: 1 before 2:1); "
        "dst/1: 77.6 GiB free, needs 239 GiB"
    )
    words = set(
        text.replace("(", " ").replace(")", " ").replace(";", " ").replace(",", " ").split()
    )
    for width in range(len(text) + 1):
        cut = cut_clauses(text, width)
        assert text_width(cut) <= width
        if cut == text:
            assert width >= len(text)
            continue
        if width >= 1:
            assert cut.endswith("…")
        shown = cut.replace("…", " ").replace("(", " ").replace(")", " ").replace(";", " ")
        assert set(shown.replace(",", " ").split()) <= words, (width, cut)  # no half a word


def test_wide_characters_count_as_two_cells() -> None:
    assert text_width("ディスク") == 8
    assert cut_clauses("ディスク full, needs 239 GiB", 16) == "ディスク full, …"
