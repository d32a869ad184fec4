"""The shared option scanner: every spelling of an option, and nothing raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plotman_tui.plotters.argscan import (
    OptionSpec,
    program_name,
    scan,
    size_to_mib,
    to_int,
    with_trailing_slash,
)

SPEC = OptionSpec(
    values={"-k": "k", "--size": "k", "-t": "tmp", "--tmp_dir": "tmp", "-2": "tmp2", "-t1": "t1"},
    flags={"-e": "e", "-x": "x", "--nobitfield": "e"},
    optional_numbers={"-z": "z", "--compress": "z"},
    commands=frozenset({"run"}),
)


@pytest.mark.parametrize(
    "args",
    [
        ["-k", "32"],
        ["-k32"],
        ["-k=32"],
        ["--size", "32"],
        ["--size=32"],
        ["-ek32"],
        ["-xe", "-k", "32"],
    ],
)
def test_value_option_forms(args: list[str]) -> None:
    assert scan(args, SPEC).get_int("k") == 32


def test_attached_short_value_and_long_equals_form() -> None:
    found = scan(["-t/a", "--tmp_dir=/b/c=d", "-2", "x"], SPEC)
    assert found.get("tmp") == "/b/c=d"  # the last one wins; '=' inside a value is kept
    assert found.get("tmp2") == "x"


def test_exact_multi_letter_short_option_beats_attached_value() -> None:
    # BladeBit's diskplot has -t1; it must not be read as -t with the value "1".
    found = scan(["-t1", "/tmp1", "-t", "/tmp"], SPEC)
    assert found.get("t1") == "/tmp1"
    assert found.get("tmp") == "/tmp"


def test_clustered_flags_do_not_take_the_next_argument() -> None:
    found = scan(["-ex", "/out"], SPEC)
    assert found.flags == {"e", "x"}
    assert found.positionals == ("/out",)


def test_unknown_options_are_flags_so_positionals_survive() -> None:
    found = scan(["--unknown", "/out", "-q", "-eq"], SPEC)
    assert found.positionals == ("/out",)
    # "-eq" is not a cluster of known options: nothing of it is taken, not even -e.
    assert found.flags == frozenset()


def test_missing_value_at_the_end_is_ignored() -> None:
    found = scan(["-e", "-k"], SPEC)
    assert found.get("k") is None
    assert found.has("e")


def test_double_dash_ends_options() -> None:
    found = scan(["-e", "--", "-k", "run"], SPEC)
    assert found.positionals == ("-k", "run")
    assert found.command is None


def test_optional_number_takes_only_a_number() -> None:
    assert scan(["--compress", "7", "/out"], SPEC).get("z") == "7"
    assert scan(["--compress", "7", "/out"], SPEC).positionals == ("/out",)
    found = scan(["-z", "/out"], SPEC)
    assert found.get("z") is None and found.has("z")
    assert found.positionals == ("/out",)
    assert scan(["--compress=3"], SPEC).get("z") == "3"


def test_command_stops_the_scan() -> None:
    found = scan(["-k", "32", "run", "-k", "33", "/out"], SPEC)
    assert found.command == "run"
    assert found.rest == ("-k", "33", "/out")
    assert found.get("k") == "32"


def test_a_command_word_as_an_option_value_is_not_a_command() -> None:
    found = scan(["-t", "run", "/out"], SPEC)
    assert found.command is None
    assert found.get("tmp") == "run"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("32", 32), (" 7 ", 7), ("-1", -1), ("+3", 3), ("3.0", None), ("", None), ("x", None)],
)
def test_to_int(text: str, expected: int | None) -> None:
    assert to_int(text) == expected


def test_to_int_refuses_huge_numbers_and_none() -> None:
    assert to_int("9" * 5000) is None
    assert to_int(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("200G", 204800),
        ("192GiB", 196608),
        ("512MB", 512),
        ("1.5G", 1536),
        ("1T", 1048576),
        ("1073741824", 1024),
        ("lots", None),
        ("", None),
    ],
)
def test_size_to_mib(text: str, expected: int | None) -> None:
    assert size_to_mib(text) == expected


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("chia_plot", "chia_plot"),
        ("/usr/local/bin/chia_plot_k34", "chia_plot_k34"),
        ("./bladebit", "bladebit"),
        ("C:\\Program Files\\BladeBit\\bladebit_cuda.exe", "bladebit_cuda"),
        ("Chia.EXE", "chia"),
    ],
)
def test_program_name(arg: str, expected: str) -> None:
    assert program_name(arg) == expected


def test_with_trailing_slash() -> None:
    assert with_trailing_slash("/mnt/tmp") == "/mnt/tmp/"
    assert with_trailing_slash("/mnt/tmp/") == "/mnt/tmp/"


@given(st.lists(st.text(max_size=12), max_size=12))
def test_scan_never_raises_and_keeps_every_positional_in_order(args: list[str]) -> None:
    found = scan(args, SPEC)
    remaining = iter(args)
    # Every reported positional is one of the arguments, in the original order.
    assert all(any(p == a for a in remaining) for p in found.positionals)
