"""The key-path -> line map that error messages take their line numbers from."""

from __future__ import annotations

import textwrap

import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from plotman_tui.config.positions import scan_key_lines

TEXT = textwrap.dedent(
    """\
    # a comment with a fake key = 1 and a [fake] header
    title = "x"   # trailing comment
    [a]
    b = \"\"\"
    [not_a_table]
    c = 2
    \"\"\"
    d.e = 'it"s'
    "quoted key" = [
        1,  # one
        [2, 3],
        { f = 4 },
    ]
    'literal.key' = { g = { h = 5 } }

    [[aot]]
    i = 1
    [[aot]]
    i = 2
    [aot.sub]
    j = 3
    ["tab\\tkey".x]
    k = '''
    multi = 1
    '''
    l = 6
    """
)


def test_lines_of_keys_tables_and_array_elements() -> None:
    tomlkit.parse(TEXT)  # the scanner only ever sees text tomlkit accepted
    lines = scan_key_lines(TEXT)

    expected = {
        ("title",): 2,
        ("a",): 3,
        ("a", "b"): 4,
        ("a", "d"): 8,
        ("a", "d", "e"): 8,
        ("a", "quoted key"): 9,
        ("a", "quoted key", 0): 10,
        ("a", "quoted key", 1): 11,
        ("a", "quoted key", 1, 1): 11,
        ("a", "quoted key", 2, "f"): 12,
        ("a", "literal.key", "g", "h"): 14,
        ("aot", 0): 16,
        ("aot", 0, "i"): 17,
        ("aot", 1, "i"): 19,
        ("aot", 1, "sub", "j"): 21,
        ("tab\tkey", "x", "k"): 23,
        ("tab\tkey", "x", "l"): 26,
    }
    assert {path: lines.exact(path) for path in expected} == expected
    # Text inside strings and comments is not mistaken for keys.
    assert lines.exact(("not_a_table",)) is None
    assert lines.exact(("a", "c")) is None
    assert lines.exact(("fake",)) is None
    assert lines.exact(("tab\tkey", "x", "multi")) is None


def test_nearest_falls_back_to_the_enclosing_table() -> None:
    lines = scan_key_lines(TEXT)

    assert lines.nearest(("a", "missing")) == 3
    assert lines.nearest(("aot", 1, "sub", "missing")) == 20
    assert lines.nearest(("nowhere", "at_all")) is None
    assert lines.nearest(()) is None


def test_duplicates_are_found_with_the_second_line() -> None:
    assert scan_key_lines("a = 1\nb = 2\na = 3\n").duplicate == (("a",), 3)
    assert scan_key_lines("[t]\nx = 1\n[u]\n[t]\n").duplicate == (("t",), 4)
    assert scan_key_lines("[t]\nx.y = 1\n[t.x]\n").duplicate == (("t", "x"), 3)
    # A table opened implicitly by a deeper header may be defined later, once.
    assert scan_key_lines("[t.x]\ny = 1\n[t]\nz = 1\n").duplicate is None
    assert scan_key_lines("[[t]]\n[[t]]\n").duplicate is None


def test_crlf_line_endings() -> None:
    lines = scan_key_lines("[a]\r\nb = 1\r\n\r\nc = 2\r\n")

    assert (lines.exact(("a", "b")), lines.exact(("a", "c"))) == (2, 4)


_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8
)
_scalars = st.one_of(
    st.integers(),
    st.booleans(),
    st.text(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False),
)
_values = st.recursive(
    st.one_of(_scalars, st.lists(_scalars, max_size=3)),
    lambda children: st.dictionaries(_names, children, max_size=4),
    max_leaves=20,
)


def _leaf_paths(table: dict[str, object], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            paths += _leaf_paths(value, (*prefix, key))
        else:
            paths.append((*prefix, key))
    return paths


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_names, _values, max_size=5))
def test_every_key_tomlkit_writes_is_found_on_its_line(document: dict[str, object]) -> None:
    text = tomlkit.dumps(document)
    lines = scan_key_lines(text)
    source_lines = text.split("\n")

    for path in _leaf_paths(document):
        line = lines.exact(path)
        assert line is not None, (path, text)
        # tomlkit writes each leaf as one `key = value` line: that line alone names the same key.
        assert list(tomlkit.parse(source_lines[line - 1]).keys()) == [path[-1]], (path, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="[]{}\"'=,.#\n abc1", max_size=80))
def test_scanner_always_ends_on_any_text(text: str) -> None:
    line = scan_key_lines(text).nearest(("a",))

    assert line is None or 1 <= line <= text.count("\n") + 1
