"""The commented example config of ``plotman-tui config generate``."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest

from plotman_tui.config import (
    Bladebit2DiskOptions,
    BladebitCudaOptions,
    BladebitOptions,
    ChiaOptions,
    CommandsConfig,
    Config,
    ConfigError,
    MadmaxOptions,
    PlotterType,
    SchedulingConfig,
    TmpOverride,
    UserInterfaceConfig,
    load_config,
    parse_config,
    render_template,
    write_template,
)
from plotman_tui.config.schema import ArchivingConfig, TargetType


def schema_tables() -> list[tuple[str, type]]:
    """Every table of the file as (header as written in the template, dataclass)."""
    tables: list[tuple[str, type]] = []

    def walk(cls: type, path: str) -> None:
        for name, hint in typing.get_type_hints(cls).items():
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                sub_path = f"{path}.{name}" if path else name
                tables.append((f"[{sub_path}]", hint))
                walk(hint, sub_path)

    walk(Config, "")
    tables.append(('# [directories.tmp_overrides."/mnt/tmp/00"]', TmpOverride))
    return tables


def table_body(lines: list[str], header: str) -> list[str]:
    """The lines of one table: from its header to the next header, commented out or not."""
    start = lines.index(header)
    body: list[str] = []
    for line in lines[start + 1 :]:
        if re.fullmatch(r"(# )?\[[^\]]+\]\]?", line):
            break
        body.append(line)
    return body


KEY_LINE = re.compile(r"^(# )?(\w+) = ")


def toml_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if value == ():
        return "[]"
    assert isinstance(value, int), value
    return str(value)


def test_template_loads() -> None:
    config = parse_config(render_template(), check_dirs=False)

    assert config.directories.tmp == (Path("/mnt/tmp/00"), Path("/mnt/tmp/01"))
    assert config.directories.dst == (Path("/mnt/dst/00"), Path("/mnt/dst/01"))
    assert config.directories.tmp2 is None
    assert config.logging.plots == Path("~/plotman-tui/logs/plots").expanduser()
    assert config.plotting.type is PlotterType.CHIA
    # The values written are the schema's defaults.
    assert config.scheduling == SchedulingConfig()
    assert config.plotting.chia == ChiaOptions()
    assert config.plotting.madmax == MadmaxOptions()
    assert config.plotting.bladebit == BladebitOptions()
    assert config.plotting.bladebit2disk == Bladebit2DiskOptions()
    assert config.plotting.bladebit_cuda == BladebitCudaOptions()
    assert config.user_interface == UserInterfaceConfig()
    assert config.commands == CommandsConfig()
    assert config.archiving == ArchivingConfig()


@pytest.mark.parametrize(("header", "cls"), schema_tables(), ids=lambda v: str(v))
def test_every_key_is_in_the_template_under_its_explanation(header: str, cls: type) -> None:
    lines = render_template().splitlines()
    assert header in lines
    above_header = lines[lines.index(header) - 1]
    assert above_header.startswith("# ") and not KEY_LINE.match(above_header)
    body = table_body(lines, header)
    keys = {match.group(2): n for n, line in enumerate(body) if (match := KEY_LINE.match(line))}

    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(typing.get_type_hints(cls)[field.name]):
            continue  # a sub-table, checked by its own case
        if field.name in ("tmp_overrides", "targets", "hosts"):
            continue  # written as tables: TmpOverride's case here, the others' in their tests
        assert field.name in keys, f"{field.name} missing under {header}"
        above = body[keys[field.name] - 1]
        assert above.startswith("# ") and not KEY_LINE.match(above), (field.name, above)


@pytest.mark.parametrize(("header", "cls"), schema_tables(), ids=lambda v: str(v))
def test_the_comments_state_the_schema_defaults(header: str, cls: type) -> None:
    lines = render_template().splitlines()
    body = table_body(lines, header)
    for field in dataclasses.fields(cls):
        if field.default in (dataclasses.MISSING, None) or isinstance(field.default, PlotterType):
            continue
        if field.name in ("targets", "hosts"):
            continue  # commented example tables, checked by their own tests
        index = next(n for n, line in enumerate(body) if line.startswith(f"{field.name} = "))
        comment: list[str] = []
        for line in reversed(body[:index]):
            if not line.startswith("# ") or KEY_LINE.match(line):
                break
            comment.insert(0, line[2:])
        assert f"Default: {toml_literal(field.default)}." in " ".join(comment), (
            field.name,
            comment,
        )


def test_required_keys_say_so() -> None:
    text = render_template()

    for key in ("plots", "tmp", "type"):
        line = next(n for n, line in enumerate(text.splitlines()) if line.startswith(f"{key} ="))
        assert "Required" in text.splitlines()[line - 1] + text.splitlines()[line - 2]


def test_every_optional_key_can_be_switched_on() -> None:
    # Uncomment every example line but pool_pk (it excludes pool_contract_address).
    text = re.sub(
        r"^# ((?!pool_pk)\w+ = .*|\[directories\.tmp_overrides\..*\]|\[\[archiving\.targets\]\]"
        r"|\[archiving\.targets\.replot\]|\[\[fleet\.hosts\]\])$",
        r"\1",
        render_template(),
        flags=re.MULTILINE,
    )

    config = parse_config(text, check_dirs=False)

    assert config.directories.tmp2 == Path("/mnt/tmp2")
    assert config.logging.transfers == Path("~/plotman-tui/logs/transfers").expanduser()
    assert config.logging.application is not None
    assert dict(config.directories.tmp_overrides) == {
        Path("/mnt/tmp/00"): TmpOverride(
            tmpdir_stagger_phase_major=1,
            tmpdir_stagger_phase_minor=5,
            tmpdir_stagger_phase_limit=2,
            tmpdir_max_jobs=5,
        )
    }
    assert config.plotting.farmer_pk is not None
    assert config.plotting.pool_contract_address is not None
    assert config.plotting.madmax.port == 8444
    assert config.plotting.bladebit.threads == 8
    assert config.plotting.bladebit2disk.cache_size == "32G"
    assert config.plotting.bladebit2disk.p3_threads == 8
    assert config.plotting.bladebit_cuda.threads == 8
    assert {target.type for target in config.archiving.targets} == set(TargetType)
    (host,) = config.fleet.hosts
    assert (host.name, host.host, host.port, host.user) == ("plotter2", "192.168.1.21", 22, "chia")
    assert host.identity_file == Path("~/.ssh/id_ed25519").expanduser()
    assert host.command.endswith("plotman-tui --config /etc/plotman-tui.toml")
    assert config.plotting.gigahorse.streams == 4
    replotting = [target for target in config.archiving.targets if target.replot is not None]
    assert [target.name for target in replotting] == ["farmer-ssh"]
    assert replotting[0].replot is not None and replotting[0].replot.dry_run is True


def test_overrides_are_written_in(tmp_path: Path) -> None:
    for name in ("logs", "t0", "t1", "t2"):
        (tmp_path / name).mkdir()

    text = render_template(
        {
            "logging.plots": tmp_path / "logs",
            "directories.tmp": [tmp_path / "t0", tmp_path / "t1"],
            "directories.dst": [],
            "directories.tmp2": tmp_path / "t2",
            "plotting.chia.k": 25,
            "plotting.type": PlotterType.CHIA,
        }
    )
    config = parse_config(text, check_dirs=True)

    assert config.logging.plots == tmp_path / "logs"
    assert config.directories.tmp == (tmp_path / "t0", tmp_path / "t1")
    assert config.directories.dst == ()
    assert config.directories.tmp2 == tmp_path / "t2"
    assert config.plotting.chia.k == 25
    # The commented tmp override example names the first tmp dir, so uncommenting it works.
    assert f'# [directories.tmp_overrides."{tmp_path / "t0"}"]' in text.splitlines()


def test_none_override_comments_a_key_out() -> None:
    text = render_template({"directories.dst": None})

    assert '# dst = ["/mnt/dst/00", "/mnt/dst/01"]' in text.splitlines()
    assert parse_config(text, check_dirs=False).directories.dst == ()


def test_bad_overrides_are_refused() -> None:
    with pytest.raises(ValueError, match=r"plotting\.chia\.kk"):
        render_template({"plotting.chia.kk": 25})
    with pytest.raises(ConfigError, match=r"plotting\.chia\.k: must be between 18 and 50"):
        render_template({"plotting.chia.k": 5})


def test_write_template_creates_dirs_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "plotman.toml"

    write_template(path, force=False)

    assert path.read_text(encoding="utf-8") == render_template()
    config = load_config(path, check_dirs=False)
    assert config.source == path
    assert config == dataclasses.replace(
        parse_config(render_template(), check_dirs=False), source=path
    )
    assert [p.name for p in path.parent.iterdir()] == ["plotman.toml"]  # no temp file left


def test_write_template_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "plotman.toml"
    path.write_text("# mine\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        write_template(path, force=False)

    assert path.read_text(encoding="utf-8") == "# mine\n"
    assert caught.value.exit_code == 2
    assert str(caught.value) == f"{path}: already exists; use --force to replace it"

    write_template(path, force=True)

    assert path.read_text(encoding="utf-8") == render_template()


def test_write_template_failure_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")

    with pytest.raises(ConfigError, match="cannot write"):
        write_template(blocker / "plotman.toml", force=False)
