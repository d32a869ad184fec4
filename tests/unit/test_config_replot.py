"""The ``[archiving.targets.replot]`` table, the replotting commands of script targets, and the
``[plotting.gigahorse]`` table: what loads, and the one-line errors for what does not."""

from __future__ import annotations

import datetime
import textwrap

import pytest

from plotman_tui.config.errors import ConfigError
from plotman_tui.config.loader import parse_config
from plotman_tui.config.schema import GigahorseOptions, PlotterType, ReplotRules
from tests.unit.test_config_archiving import BASE, SOURCE, archiving_of, problems_of

SSH_TARGET = """\
[[archiving.targets]]
name = "farmer"
type = "ssh"
host = "farmer.lan"
archive_dirs = ["/farm/disk00"]
"""

SCRIPT_TARGET = """\
[[archiving.targets]]
name = "mine"
type = "script"
archive_dirs = ["/farm/disk00"]
transfer_command = ["send", "{source}", "{archive_dir}"]
free_space_command = ["free", "{archive_dir}"]
"""


def test_every_rule_loads_as_written() -> None:
    (target,) = archiving_of(
        SSH_TARGET
        + """
        [archiving.targets.replot]
        older_than = 2023-06-01
        uncompressed = true
        compression_below = 7
        k = [32, 33]
        names = ["plot-k32-2021-*"]
        keep_free_gib = 10
        dry_run = true
        """
    ).targets

    assert target.replot == ReplotRules(
        older_than=datetime.date(2023, 6, 1),
        uncompressed=True,
        compression_below=7,
        k=(32, 33),
        names=("plot-k32-2021-*",),
        keep_free_gib=10,
        dry_run=True,
    )
    assert target.replot.keep_free_bytes == 10 * 1024**3


def test_a_target_without_a_replot_table_removes_nothing() -> None:
    (target,) = archiving_of(SSH_TARGET).targets
    assert target.replot is None


def test_a_quoted_date_and_a_single_k_are_forgiven() -> None:
    (target,) = archiving_of(
        SSH_TARGET + '[archiving.targets.replot]\nolder_than = "2022-01-31"\nk = 32\n'
    ).targets
    assert target.replot is not None
    assert target.replot.older_than == datetime.date(2022, 1, 31)
    assert target.replot.k == (32,)


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ("dry_run = true", "archiving.targets[0].replot", "names no rule"),
        ("uncompressed = false", "archiving.targets[0].replot", "names no rule"),
        ('older_than = "last year"', "archiving.targets[0].replot.older_than", "a date like"),
        ("older_than = 2023-01-01T10:00:00", "archiving.targets[0].replot.older_than", "a date"),
        ("compression_below = 0", "archiving.targets[0].replot.compression_below", "between"),
        ("k = [32, 99]", "archiving.targets[0].replot.k[1]", "between 18 and 50"),
        ('k = ["32"]', "archiving.targets[0].replot.k[0]", "expected an integer"),
        ('names = ["../plot-*"]', "archiving.targets[0].replot.names[0]", 'without "/"'),
        ("k = [32]\nkeep_free_gib = -1", "archiving.targets[0].replot.keep_free_gib", "least 0"),
        ("k = [32]\nsurprise = 1", "archiving.targets[0].replot.surprise", "unknown key"),
    ],
)
def test_a_bad_replot_table_gets_one_line_naming_its_key(
    table: str, key: str, message: str
) -> None:
    problems = problems_of(SSH_TARGET + "[archiving.targets.replot]\n" + table + "\n")
    assert [(k, m) for k, _line, m in problems if k == key and message in m], problems
    assert all("\n" not in m for _k, _line, m in problems)


def test_a_script_target_that_replots_needs_its_list_and_remove_commands() -> None:
    problems = problems_of(SCRIPT_TARGET + "[archiving.targets.replot]\nolder_than = 2023-01-01\n")
    keys = {key for key, _line, _message in problems}
    assert keys == {"archiving.targets[0].list_command", "archiving.targets[0].remove_command"}


def test_a_script_targets_replot_commands_load_and_must_name_their_variables() -> None:
    good = (
        SCRIPT_TARGET
        + 'list_command = ["ls-plots", "{archive_dir}"]\n'
        + 'remove_command = ["rm-plot", "{archive_dir}", "{plot_name}"]\n'
        + "[archiving.targets.replot]\nolder_than = 2023-01-01\n"
    )
    (target,) = archiving_of(good).targets
    assert target.remove_command == ("rm-plot", "{archive_dir}", "{plot_name}")

    problems = problems_of(
        SCRIPT_TARGET
        + 'list_command = ["ls-plots", "{archive_dir}"]\n'
        + 'remove_command = ["rm-plot", "{archive_dir}", "{source}"]\n'
    )
    assert [key for key, _line, message in problems if "unknown variable {source}" in message] == [
        "archiving.targets[0].remove_command[2]"
    ]


def test_replot_commands_belong_to_script_targets_only() -> None:
    problems = problems_of(SSH_TARGET + 'remove_command = ["rm", "{plot_name}"]\n')
    assert problems[0][0] == "archiving.targets[0].remove_command"
    assert "only by script targets" in problems[0][2]


GIGAHORSE = """\
[logging]
plots = "/x/logs"
[directories]
tmp = ["/x/t0"]
dst = ["/x/d0"]
[plotting]
type = "gigahorse"
farmer_pk = "ab"
pool_contract_address = "xch1"
[plotting.gigahorse]
"""


def test_the_gigahorse_table_loads() -> None:
    text = GIGAHORSE + "k = 33\ncompression = 18\ncount = -1\nstreams = 4\n"
    text += "extra_dst = ['@farmer']\n"
    plotting = parse_config(text, SOURCE, check_dirs=False).plotting
    assert plotting.type is PlotterType.GIGAHORSE
    assert plotting.gigahorse == GigahorseOptions(
        k=33, compression=18, count=-1, streams=4, extra_dst=("@farmer",)
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("count = 0", r"must be -1 \(plot until stopped\) or at least 1"),
        ("k = 25", "between 26 and 34"),
        ("compression = 34", "between 0 and 33"),
        ("count = -2", "at least -1"),
    ],
)
def test_bad_gigahorse_numbers_are_refused(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(GIGAHORSE + line + "\n", SOURCE, check_dirs=False)


def test_bladebit_takes_a_compression_level() -> None:
    text = BASE.replace('type = "chia"', 'type = "bladebit"\nfarmer_pk = "a"\npool_pk = "b"')
    text += textwrap.dedent("""\
        [plotting.bladebit]
        compress = 7
        """)
    assert parse_config(text, SOURCE, check_dirs=False).plotting.bladebit.compress == 7
    with pytest.raises(ConfigError, match="between 0 and 9"):
        parse_config(text.replace("compress = 7", "compress = 10"), SOURCE, check_dirs=False)


def replot_config(plotter: str, options: str, rules: str) -> str:
    """A config whose ``plotter`` (with ``options`` in its table) replots one SSH target."""
    keys = "" if plotter == "chia" else 'farmer_pk = "a"\npool_pk = "b"\n'
    text = BASE.replace('type = "chia"\n', f'type = "{plotter}"\n{keys}')
    text += f"[plotting.{plotter}]\n{options}\n" if options else ""
    return text + "[archiving]\n" + SSH_TARGET + f"[archiving.targets.replot]\n{rules}\n"


@pytest.mark.parametrize(
    ("plotter", "options", "rules"),
    [
        ("chia", "", "uncompressed = true"),
        ("chia", "", "k = [32]"),
        ("chia", "", 'names = ["plot-k32-*"]'),
        ("bladebit_cuda", "compress = 5", "compression_below = 7"),
        ("gigahorse", "compression = 7", 'names = ["*-c7-*"]'),
    ],
)
def test_rules_that_match_the_plots_this_machine_makes_are_refused(
    plotter: str, options: str, rules: str
) -> None:
    # The action log protects the plots this machine sent; a lost log must not turn a replot
    # into removing them, so the rules themselves must spare them.
    with pytest.raises(ConfigError) as caught:
        parse_config(replot_config(plotter, options, rules), SOURCE, check_dirs=False)
    (problem,) = caught.value.problems
    assert problem.key_path == "archiving.targets[0].replot"
    assert "match the plots this machine makes" in problem.message


@pytest.mark.parametrize(
    ("plotter", "options", "rules"),
    [
        ("chia", "", "older_than = 2023-01-01"),
        ("bladebit_cuda", "compress = 7", "uncompressed = true"),
        ("bladebit_cuda", "compress = 7", "compression_below = 7"),
        ("gigahorse", "compression = 18", 'names = ["*-c7-*"]'),
    ],
)
def test_rules_the_new_plots_fail_load(plotter: str, options: str, rules: str) -> None:
    text = replot_config(plotter, options, rules)
    (target,) = parse_config(text, SOURCE, check_dirs=False).archiving.targets
    assert target.replot is not None


def test_an_older_than_day_after_today_is_refused() -> None:
    later = datetime.date.today() + datetime.timedelta(days=1)
    problems = problems_of(SSH_TARGET + f"[archiving.targets.replot]\nolder_than = {later}\n")
    assert [(key, "after today" in message) for key, _line, message in problems] == [
        ("archiving.targets[0].replot.older_than", True)
    ]
