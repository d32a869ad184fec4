"""Loading and validating plotman.toml: values, and one clear line for every kind of mistake."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plotman_tui.config import (
    Config,
    ConfigError,
    PlotterType,
    TmpOverride,
    load_config,
    parse_config,
    resolve_config_path,
    summarize,
)
from plotman_tui.config.schema import ArchiveTarget, TargetType

SOURCE = Path("plotman.toml")

EXAMPLE = """\
[logging]
plots = "/x/logs"

[directories]
tmp = ["/x/t0", "/x/t1"]
tmp2 = "/x/t2"
dst = ["/x/d0"]

[scheduling]
tmpdir_stagger_phase_major = 2
tmpdir_stagger_phase_minor = 1
tmpdir_stagger_phase_limit = 1
tmpdir_max_jobs = 3
global_max_jobs = 12
global_stagger_m = 30
polling_time_s = 20

[plotting]
type = "chia"
farmer_pk = "..."
pool_pk = "..."

[plotting.chia]
executable = "/x/bin/chia"
k = 32
n_threads = 4
n_buckets = 128
job_buffer = 4000
"""

MINIMAL = """\
[logging]
plots = "/x/logs"
[directories]
tmp = ["/x/t0", "/x/t1"]
[plotting]
type = "chia"
"""


def error_of(text: str, *, check_dirs: bool = False, source: Path | None = SOURCE) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source, check_dirs=check_dirs)
    return caught.value


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the only line of ``text`` containing ``fragment``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(hits) == 1, (fragment, hits)
    return hits[0]


# -- values --------------------------------------------------------------------------------------


def test_example_loads_to_its_values() -> None:
    config = parse_config(EXAMPLE, SOURCE, check_dirs=False)

    assert config.source == SOURCE
    assert config.logging.plots == Path("/x/logs")
    assert config.logging.transfers is None
    assert config.directories.tmp == (Path("/x/t0"), Path("/x/t1"))
    assert config.directories.tmp2 == Path("/x/t2")
    assert config.directories.dst == (Path("/x/d0"),)
    assert dict(config.directories.tmp_overrides) == {}
    scheduling = config.scheduling
    assert (scheduling.tmpdir_stagger_phase_major, scheduling.tmpdir_stagger_phase_minor) == (2, 1)
    assert scheduling.tmpdir_stagger_phase_limit == 1
    assert scheduling.tmpdir_max_jobs == 3
    assert scheduling.global_max_jobs == 12
    assert scheduling.global_stagger_m == 30
    assert scheduling.polling_time_s == 20
    plotting = config.plotting
    assert plotting.type is PlotterType.CHIA
    assert (plotting.farmer_pk, plotting.pool_pk, plotting.pool_contract_address) == (
        "...",
        "...",
        None,
    )
    chia = plotting.chia
    assert (chia.executable, chia.k, chia.n_threads, chia.n_buckets, chia.job_buffer) == (
        "/x/bin/chia",
        32,
        4,
        128,
        4000,
    )
    assert chia.e is False and chia.x is False


def test_left_out_tables_and_keys_take_the_schema_defaults() -> None:
    config = parse_config(MINIMAL, None, check_dirs=False)

    defaults = Config(logging=config.logging, directories=config.directories)
    assert config == defaults
    assert config.directories.dst == ()
    assert config.directories.tmp2 is None
    assert config.source is None


def test_every_optional_section_is_read() -> None:
    keys = 'type = "madmax"\nfarmer_pk = "f"\npool_contract_address = "xch1c"'
    text = MINIMAL.replace('type = "chia"', keys)
    text += textwrap.dedent(
        """\
        [plotting.madmax]
        executable = "~/bin/chia_plot"
        k = 34
        n_buckets3 = 128
        port = 11337
        [plotting.bladebit2disk]
        cache_size = "32G"
        f1_threads = 4
        no_cpu_affinity = true
        [plotting.bladebit_cuda]
        device = 1
        compress = 7
        [user_interface]
        use_stty_size = false
        [commands.interactive]
        autostart_plotting = false
        [archiving]
        enabled = true
        [[archiving.targets]]
        name = "farmer"
        type = "local"
        archive_dirs = ["/farm/a"]
        """
    )
    config = parse_config(text, SOURCE, check_dirs=False)

    assert config.plotting.type is PlotterType.MADMAX
    assert config.plotting.pool_contract_address == "xch1c"
    assert config.plotting.madmax.executable == os.path.expanduser("~/bin/chia_plot")
    assert (config.plotting.madmax.k, config.plotting.madmax.n_buckets3) == (34, 128)
    assert config.plotting.madmax.port == 11337
    assert config.plotting.bladebit2disk.cache_size == "32G"
    assert config.plotting.bladebit2disk.f1_threads == 4
    assert config.plotting.bladebit2disk.no_cpu_affinity is True
    assert (config.plotting.bladebit_cuda.device, config.plotting.bladebit_cuda.compress) == (1, 7)
    assert config.user_interface.use_stty_size is False
    assert config.commands.interactive.autostart_plotting is False
    assert config.commands.interactive.autostart_archiving is True
    assert config.archiving.enabled is True
    assert config.archiving.targets == (
        ArchiveTarget(name="farmer", type=TargetType.LOCAL, archive_dirs=("/farm/a",)),
    )


def test_tmp_overrides_are_keyed_by_the_normalised_tmp_dir() -> None:
    text = MINIMAL + textwrap.dedent(
        """\
        [directories.tmp_overrides."/x/t0/"]
        tmpdir_max_jobs = 5
        [directories.tmp_overrides."/x/./t1"]
        tmpdir_stagger_phase_major = 3
        tmpdir_stagger_phase_minor = 0
        """
    )
    config = parse_config(text, SOURCE, check_dirs=False)

    assert dict(config.directories.tmp_overrides) == {
        Path("/x/t0"): TmpOverride(tmpdir_max_jobs=5),
        Path("/x/t1"): TmpOverride(tmpdir_stagger_phase_major=3, tmpdir_stagger_phase_minor=0),
    }


def test_paths_expand_home_and_are_relative_to_the_config_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", "/home/farmer")
    text = MINIMAL.replace('"/x/logs"', '"~/logs"').replace(
        '["/x/t0", "/x/t1"]', '["t0", "../t1/"]'
    )

    config = parse_config(text, Path("/etc/plotman-tui/plotman.toml"), check_dirs=False)

    assert config.logging.plots == Path("/home/farmer/logs")
    assert config.directories.tmp == (Path("/etc/plotman-tui/t0"), Path("/etc/t1"))


def test_summary_names_plotter_dirs_and_limits() -> None:
    summary = summarize(parse_config(EXAMPLE, SOURCE, check_dirs=False))

    assert "chia, k32" in summary
    assert "tmp dirs:  2 (/x/t0, /x/t1)" in summary
    assert "tmp2 dir:  /x/t2" in summary
    assert "dst dirs:  1 (/x/d0)" in summary
    assert "/x/logs" in summary
    assert "12 jobs in all" in summary and "3 per tmp dir" in summary
    assert "every 30 min" in summary and "phase 2:1" in summary


def test_summary_of_bladebit_says_k32_and_no_dst() -> None:
    text = MINIMAL.replace('"chia"', '"bladebit"\nfarmer_pk = "f"\npool_pk = "p"')
    summary = summarize(parse_config(text, SOURCE, check_dirs=False))

    assert "bladebit, k32" in summary
    assert "dst dirs:  none" in summary
    assert "tmp2 dir:  none" in summary


# -- one line per mistake ------------------------------------------------------------------------


def test_error_line_names_file_line_and_key_path() -> None:
    text = EXAMPLE.replace("global_max_jobs = 12", 'global_max_jobs = "ten"')

    error = error_of(text)

    assert str(error) == (
        f"plotman.toml:{line_of(text, 'global_max_jobs')}: "
        'scheduling.global_max_jobs: expected an integer, got "ten"'
    )
    assert error.key_path == "scheduling.global_max_jobs"
    assert error.line == 14
    assert error.exit_code == 2
    assert error.source == SOURCE
    assert ConfigError.exit_code == 2


# (replace this, with that) in EXAMPLE -> key path, fragment of the line it is on, message part.
MISTAKES: list[tuple[str, str, str, str, str]] = [
    ("k = 32", "k = true", "plotting.chia.k", "k = true", "expected an integer, got true"),
    ("k = 32", "k = 32.0", "plotting.chia.k", "k = 32", "expected an integer, got 32.0"),
    ("k = 32", 'k = "32"', "plotting.chia.k", 'k = "32"', 'expected an integer, got "32"'),
    ("k = 32", "k = 32\ne = 0", "plotting.chia.e", "e = 0", "expected true or false, got 0"),
    ("k = 32", "k = 17", "plotting.chia.k", "k = 17", "must be between 18 and 50, got 17"),
    ("k = 32", "k = 51", "plotting.chia.k", "k = 51", "must be between 18 and 50, got 51"),
    ("n_threads = 4", "n_threads = 0", "plotting.chia.n_threads", "n_threads", "at least 1, got 0"),
    (
        "job_buffer = 4000",
        "job_buffer = -1",
        "plotting.chia.job_buffer",
        "job_buffer",
        "at least 1",
    ),
    (
        "global_max_jobs = 12",
        "global_max_jobs = 0",
        "scheduling.global_max_jobs",
        "global_max",
        "at least 1",
    ),
    (
        "polling_time_s = 20",
        "polling_time_s = 0",
        "scheduling.polling_time_s",
        "polling",
        "at least 1",
    ),
    (
        "global_stagger_m = 30",
        "global_stagger_m = -5",
        "scheduling.global_stagger_m",
        "stagger_m",
        "at least 0",
    ),
    (
        'executable = "/x/bin/chia"',
        'executable = ""',
        "plotting.chia.executable",
        "executable",
        "must not be empty",
    ),
    (
        'executable = "/x/bin/chia"',
        "executable = ['/a', '/b']",
        "plotting.chia.executable",
        "executable",
        "expected a string, got an array",
    ),
    ('tmp2 = "/x/t2"', "tmp2 = 2", "directories.tmp2", "tmp2", "expected a path string, got 2"),
    (
        'tmp2 = "/x/t2"',
        'tmp2 = ["/x/t2"]',
        "directories.tmp2",
        "tmp2",
        "only one tmp2 dir is supported",
    ),
    (
        'dst = ["/x/d0"]',
        'dst = "/x/d0"',
        "directories.dst",
        "dst",
        'expected an array of paths, got "/x/d0" (write ["/x/d0"])',
    ),
    ('dst = ["/x/d0"]', "dst = { a = 1 }", "directories.dst", "dst", "got a table"),
    ('tmp = ["/x/t0", "/x/t1"]', "tmp = []", "directories.tmp", "tmp = []", "at least one tmp"),
    (
        'tmp = ["/x/t0", "/x/t1"]',
        'tmp = ["/x/t0", 7]',
        "directories.tmp[1]",
        "tmp = ",
        "expected a path string, got 7",
    ),
    (
        'tmp = ["/x/t0", "/x/t1"]',
        'tmp = ["/x/t0", "/x/t0/"]',
        "directories.tmp[1]",
        "tmp = ",
        "/x/t0 is listed twice (also at directories.tmp[0])",
    ),
    (
        'type = "chia"',
        'type = "madmx"',
        "plotting.type",
        "type =",
        'unknown plotter "madmx" (did you mean "madmax"?)',
    ),
    ('type = "chia"', "type = 1", "plotting.type", "type =", "expected a string, got 1"),
    (
        'pool_pk = "..."',
        'pool_pk = "..."\npool_contract_address = "xch1"',
        "plotting.pool_contract_address",
        "pool_contract_address",
        "cannot be used together with pool_pk",
    ),
    (
        'farmer_pk = "..."',
        "date = 2024-05-01",
        "plotting.date",
        "date =",
        "unknown key (expected one of: type, farmer_pk",
    ),
    (
        'dst = ["/x/d0"]',
        'dst = ["/x/d0"]\ntmpp = ["/y"]',
        "directories.tmpp",
        "tmpp",
        'unknown key (did you mean "tmp"?)',
    ),
    (
        "[plotting.chia]",
        "[plotting.chai]",
        "plotting.chai",
        "[plotting.chai]",
        'unknown key (did you mean "chia"?)',
    ),
    ("[scheduling]", "[schedulling]", "schedulling", "[schedulling]", 'did you mean "scheduling"?'),
    ("[logging]", "version = [2]\n[logging]", "version", "version", "plotman's version marker"),
    (
        "polling_time_s = 20",
        'polling_time_s = 20\n[scheduling.tmp_overrides."/x/t0"]',
        "scheduling.tmp_overrides",
        "[scheduling.tmp_overrides",
        "[directories.tmp_overrides",
    ),
    (
        'pool_pk = "..."',
        'pool_pk = "..."\nk = 30',
        "plotting.k",
        "k = 30",
        "[plotting.chia] table as k",
    ),
    (
        'plots = "/x/logs"',
        'plots = "/x/logs"\nplot = "/y"',
        "logging.plot",
        "plot =",
        'did you mean "plots"?',
    ),
]


@pytest.mark.parametrize(("old", "new", "key_path", "fragment", "message"), MISTAKES)
def test_each_mistake_is_one_line_with_key_path_and_line(
    old: str, new: str, key_path: str, fragment: str, message: str
) -> None:
    assert EXAMPLE.count(old) == 1
    text = EXAMPLE.replace(old, new)

    error = error_of(text)

    assert error.key_path == key_path
    assert error.line == line_of(text, fragment)
    assert message in error.message
    assert str(error).startswith(f"plotman.toml:{error.line}: {key_path}: ")
    assert "\n" not in str(error)
    assert len(error.problems) == 1


def test_toml_syntax_error_has_line_and_no_key_path() -> None:
    text = EXAMPLE.replace("k = 32", "k = = 32")

    error = error_of(text)

    assert error.line == line_of(text, "k = = 32")
    assert error.key_path is None
    assert str(error).startswith(f"plotman.toml:{error.line}: invalid TOML: ")
    assert "column 5" in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("old", "new", "key_path"),
    [
        ("k = 32", "k = 32\nk = 33  # again", "plotting.chia.k"),
        ('plots = "/x/logs"', 'plots = "/x/logs"\nplots = "/y"  # again', "logging.plots"),
        ("polling_time_s = 20", "polling_time_s = 20\n[logging]  # again", "logging"),
        ("[plotting.chia]", "chia.k = 1\n[plotting.chia]  # again", "plotting.chia"),
    ],
)
def test_a_key_or_table_defined_twice_is_an_error_on_its_second_line(
    old: str, new: str, key_path: str
) -> None:
    text = EXAMPLE.replace(old, new)

    error = error_of(text)

    assert error.line == line_of(text, "# again")
    assert error.key_path == key_path
    assert error.message.startswith("invalid TOML: ")


def test_missing_required_key_points_at_its_table() -> None:
    text = EXAMPLE.replace('plots = "/x/logs"', 'transfers = "/x/tr"')

    error = error_of(text)

    assert error.key_path == "logging.plots"
    assert error.line == line_of(text, "[logging]")
    assert "required key is missing (add it to the [logging] table)" in str(error)


@pytest.mark.parametrize(
    ("table", "key_path"),
    [
        ("[logging]", "logging.plots"),
        ("[directories]", "directories.tmp"),
        ("[plotting]", "plotting.type"),
    ],
)
def test_missing_table_names_the_key_without_a_line(table: str, key_path: str) -> None:
    # Drop the table header and its keys (everything up to the next blank line).
    start = EXAMPLE.index(table)
    end = EXAMPLE.find("\n\n", start)
    text = EXAMPLE[:start] + EXAMPLE[end + 2 :]

    error = error_of(text)

    assert error.key_path == key_path
    assert "required key is missing" in error.message
    if table != "[plotting]":
        assert error.line is None
        assert str(error).startswith(f"plotman.toml: {key_path}: ")
    else:
        # [plotting.chia] still opens the plotting table; the message points there.
        assert error.line == line_of(text, "[plotting.chia]")


def test_a_table_that_is_not_a_table() -> None:
    text = 'logging = "/x/logs"\n' + EXAMPLE.split("\n", 2)[2]

    error = error_of(text)

    assert error.key_path == "logging"
    assert error.line == 1
    assert 'expected a table, got "/x/logs"' in error.message


@pytest.mark.parametrize("plotter", ["madmax", "bladebit", "bladebit2disk", "bladebit_cuda"])
def test_plotters_without_keychain_need_the_keys(plotter: str) -> None:
    no_farmer = EXAMPLE.replace('"chia"', f'"{plotter}"').replace('farmer_pk = "..."\n', "")
    no_pool = EXAMPLE.replace('"chia"', f'"{plotter}"').replace('pool_pk = "..."\n', "")

    farmer_error = error_of(no_farmer)
    pool_error = error_of(no_pool)

    assert farmer_error.key_path == "plotting.farmer_pk"
    assert farmer_error.line == line_of(no_farmer, "[plotting]")
    assert f'plotter "{plotter}" needs the farmer key' in farmer_error.message
    assert pool_error.key_path == "plotting.pool_contract_address"
    assert "pool_contract_address or pool_pk" in pool_error.message


def test_madmax_k_range() -> None:
    text = EXAMPLE + "[plotting.madmax]\nk = 35\n"

    error = error_of(text)

    assert error.key_path == "plotting.madmax.k"
    assert error.line == line_of(text, "k = 35")
    assert "must be between 29 and 34, got 35" in error.message


def test_tmp_override_for_a_dir_not_in_tmp_gets_a_hint() -> None:
    text = EXAMPLE + '[directories.tmp_overrides."/x/t00"]\ntmpdir_max_jobs = 5\n'

    error = error_of(text)

    assert error.key_path == 'directories.tmp_overrides."/x/t00"'
    assert error.line == line_of(text, "/x/t00")
    assert 'not one of the directories.tmp dirs (did you mean "/x/t0"?)' in error.message


def test_tmp_override_checks_its_keys() -> None:
    text = EXAMPLE + textwrap.dedent(
        """\
        [directories.tmp_overrides."/x/t0"]
        tmpdir_max_job = 5
        [directories.tmp_overrides."/x/t1"]
        tmpdir_stagger_phase_major = 3
        """
    )

    error = error_of(text)

    assert [(p.key_path, p.line) for p in error.problems] == [
        ('directories.tmp_overrides."/x/t0".tmpdir_max_job', line_of(text, "tmpdir_max_job =")),
        (
            'directories.tmp_overrides."/x/t1".tmpdir_stagger_phase_major',
            line_of(text, "tmpdir_stagger_phase_major = 3"),
        ),
    ]
    assert 'did you mean "tmpdir_max_jobs"?' in error.problems[0].message
    assert "needs tmpdir_stagger_phase_minor" in error.problems[1].message


def test_archiving_keys_are_checked_and_plotmans_are_pointed_to_targets() -> None:
    text = EXAMPLE + '[archiving]\nenabled = 1\ntarget = "local_rsync"\n'

    error = error_of(text)

    assert [(p.key_path, p.line) for p in error.problems] == [
        ("archiving.enabled", line_of(text, "enabled = 1")),
        ("archiving.target", line_of(text, "target =")),
    ]
    assert "[[archiving.targets]]" in error.problems[1].message


def test_archiving_targets_must_be_tables() -> None:
    text = EXAMPLE + '[archiving]\ntargets = ["a"]\n'

    error = error_of(text)

    assert error.key_path == "archiving.targets[0]"
    assert error.message == 'expected a table ([[archiving.targets]]), got "a"'


def test_all_problems_are_collected_in_file_order() -> None:
    text = textwrap.dedent(
        """\
        [logging]
        plots = 1
        [directories]
        tmpp = []
        [scheduling]
        global_max_jobs = "ten"
        [plotting]
        type = "madmx"
        [plotting.chia]
        k = true
        """
    )

    error = error_of(text)

    assert [(p.line, p.key_path) for p in error.problems] == [
        (2, "logging.plots"),
        (3, "directories.tmp"),
        (4, "directories.tmpp"),
        (6, "scheduling.global_max_jobs"),
        (8, "plotting.type"),
        (10, "plotting.chia.k"),
    ]
    # The error itself is the first problem.
    assert (error.line, error.key_path) == (2, "logging.plots")
    assert all("\n" not in str(p) for p in error.problems)


def test_lines_inside_multiline_arrays_inline_tables_and_dotted_keys() -> None:
    text = textwrap.dedent(
        """\
        logging = { plots = "/x/logs", transfers = 3 }
        [directories]
        tmp = [
            "/x/t0",  # first disk
            "/x/t1",
            false,
        ]
        [plotting]
        type = "chia"
        chia.n_buckets = "many"
        """
    )

    error = error_of(text)

    assert [(p.line, p.key_path) for p in error.problems] == [
        (1, "logging.transfers"),
        (6, "directories.tmp[2]"),
        (10, "plotting.chia.n_buckets"),
    ]


def test_message_stays_on_one_line_whatever_the_value() -> None:
    text = EXAMPLE.replace('type = "chia"', 'type = """chia\nmadmax"""')

    error = error_of(text)

    assert error.key_path == "plotting.type"
    assert "\n" not in str(error)
    assert '"chia\\nmadmax"' in str(error)


def test_parse_without_source_names_the_config_generically() -> None:
    error = error_of(EXAMPLE.replace("k = 32", "k = 1"), source=None)

    assert str(error).startswith(f"<config>:{error.line}: plotting.chia.k: ")


# -- files and directories -----------------------------------------------------------------------


def make_farm(root: Path) -> str:
    for name in ("logs", "t0", "t1", "t2", "d0"):
        (root / name).mkdir()
    return EXAMPLE.replace('"/x/', f'"{root}/')


def test_check_dirs_accepts_existing_dirs(tmp_path: Path) -> None:
    text = make_farm(tmp_path)
    config_file = tmp_path / "plotman.toml"
    config_file.write_text(text, encoding="utf-8")

    config = load_config(config_file)

    assert config.directories.tmp == (tmp_path / "t0", tmp_path / "t1")
    assert config.source == config_file


@pytest.mark.parametrize(
    ("missing", "key_path", "fragment"),
    [
        ("t1", "directories.tmp[1]", "tmp ="),
        ("t2", "directories.tmp2", "tmp2 ="),
        ("d0", "directories.dst[0]", "dst ="),
    ],
)
def test_check_dirs_names_the_missing_dir(
    tmp_path: Path, missing: str, key_path: str, fragment: str
) -> None:
    text = make_farm(tmp_path)
    (tmp_path / missing).rmdir()

    error = error_of(text, check_dirs=True)

    assert error.key_path == key_path
    assert error.line == line_of(text, fragment)
    assert f"directory does not exist: {tmp_path / missing}" in error.message
    assert f"mkdir -p {tmp_path / missing}" in error.message
    assert len(error.problems) == 1
    # The same text without the check loads.
    assert parse_config(text, SOURCE, check_dirs=False).directories.tmp


def test_check_dirs_rejects_a_file(tmp_path: Path) -> None:
    text = make_farm(tmp_path)
    (tmp_path / "d0").rmdir()
    (tmp_path / "d0").write_text("not a dir")

    error = error_of(text, check_dirs=True)

    assert error.key_path == "directories.dst[0]"
    assert f"not a directory: {tmp_path / 'd0'}" in error.message


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "plotman.toml"

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert caught.value.source == path
    assert caught.value.exit_code == 2
    assert "plotman-tui config generate" in str(caught.value)
    assert str(caught.value).startswith(f"{path}: ")


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")

    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_load_config_reports_the_file_it_read(tmp_path: Path) -> None:
    path = tmp_path / "plotman.toml"
    path.write_text(EXAMPLE.replace("k = 32", "k = 99"), encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_config(path, check_dirs=False)

    assert str(caught.value).startswith(f"{path}:{line_of(EXAMPLE, 'k = 32')}: plotting.chia.k: ")


# -- where the file is ---------------------------------------------------------------------------


def test_resolve_config_path_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PLOTMAN_TUI_CONFIG", str(tmp_path / "env.toml"))

    assert resolve_config_path(str(tmp_path / "cli.toml")) == tmp_path / "cli.toml"
    assert resolve_config_path(None) == tmp_path / "env.toml"

    monkeypatch.delenv("PLOTMAN_TUI_CONFIG")
    default = resolve_config_path(None)
    assert default.name == "plotman.toml"
    assert default.parent.name == "plotman-tui"
    if sys.platform.startswith("linux"):
        assert default == tmp_path / "xdg" / "plotman-tui" / "plotman.toml"


def test_resolve_config_path_expands_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/farmer")
    monkeypatch.setenv("PLOTMAN_TUI_CONFIG", "~/env.toml")

    assert resolve_config_path("~/cli.toml") == Path("/home/farmer/cli.toml")
    assert resolve_config_path(None) == Path("/home/farmer/env.toml")


def test_empty_env_var_falls_back_to_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLOTMAN_TUI_CONFIG", "")

    assert resolve_config_path(None).name == "plotman.toml"
    assert resolve_config_path(None) != Path()


# -- never a traceback ---------------------------------------------------------------------------

_SCHEMA_WORDS = [
    "logging",
    "plots",
    "directories",
    "tmp",
    "tmp2",
    "dst",
    "tmp_overrides",
    "scheduling",
    "global_max_jobs",
    "tmpdir_stagger_phase_major",
    "plotting",
    "type",
    "chia",
    "madmax",
    "k",
    "pool_pk",
    "pool_contract_address",
    "farmer_pk",
    "archiving",
    "targets",
    "enabled",
    "/x/t0",
]
_leaf = st.one_of(
    st.integers(-5, 100),
    st.booleans(),
    st.sampled_from(["chia", "madmax", "/x/t0", "", "ten"]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.sampled_from(["/x/t0", "/x/t1", "/x/t0/"]), max_size=3),
    st.lists(st.integers(), max_size=2),
)
_values = st.recursive(
    _leaf,
    lambda children: st.dictionaries(st.sampled_from(_SCHEMA_WORDS), children, max_size=5),
    max_leaves=25,
)
_documents = st.dictionaries(st.sampled_from(_SCHEMA_WORDS), _values, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_any_document_loads_or_gives_one_line_errors(document: dict[str, object]) -> None:
    import tomlkit

    text = tomlkit.dumps(document)
    try:
        parse_config(text, SOURCE, check_dirs=False)
    except ConfigError as error:
        for problem in error.problems:
            assert "\n" not in str(problem)
            assert problem.line is None or 1 <= problem.line <= text.count("\n") + 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_gives_a_config_error(text: str) -> None:
    try:
        parse_config(text, SOURCE, check_dirs=False)
    except ConfigError as error:
        assert "\n" not in str(error)


def test_config_package_imports_neither_textual_nor_rich() -> None:
    code = (
        "import sys, plotman_tui.config\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
