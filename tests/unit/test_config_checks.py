"""``config check``'s rules beyond one key: every problem, warnings about the machine, and archive
dirs kept apart from the plotting dirs."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from plotman_tui.config import ConfigError, parse_config, resolve_config_path
from plotman_tui.config.checks import check_config_file, config_warnings

SOURCE = Path("plotman.toml")


def farm(root: Path, extra: str = "", *, executable: Path | None = None) -> str:
    for name in ("logs", "t0", "d0", "bin"):
        (root / name).mkdir(exist_ok=True)
    if executable is None:
        executable = root / "bin" / "chia"
        executable.write_text("#!/bin/sh\n")
        executable.chmod(0o755)
    return (
        f'[logging]\nplots = "{root}/logs"\n'
        f'[directories]\ntmp = ["{root}/t0"]\ndst = ["{root}/d0"]\n'
        f'[plotting]\ntype = "chia"\n[plotting.chia]\nexecutable = "{executable}"\n' + extra
    )


def write(root: Path, text: str) -> Path:
    path = root / "plotman.toml"
    path.write_text(text, encoding="utf-8")
    return path


def local_target(*dirs: str) -> str:
    listed = ", ".join(f'"{d}"' for d in dirs)
    return (
        '[archiving]\nenabled = true\n[[archiving.targets]]\nname = "usb"\ntype = "local"\n'
        f"archive_dirs = [{listed}]\n"
    )


# -- every problem ---------------------------------------------------------------------------------


def test_check_reports_every_problem_in_file_order(tmp_path: Path) -> None:
    text = farm(tmp_path).replace('type = "chia"', 'type = "chai"') + "[scheduling]\nnope = 1\n"
    text = text.replace(f'"{tmp_path}/d0"', f'"{tmp_path}/gone"')
    report = check_config_file(write(tmp_path, text))
    assert report.config is None
    assert [p.key_path for p in report.problems] == ["plotting.type", "scheduling.nope"]
    lines = [p.line for p in report.problems]
    assert lines == sorted(lines)


def test_check_reports_missing_dirs_all_together(tmp_path: Path) -> None:
    text = farm(tmp_path)
    (tmp_path / "t0").rmdir()
    (tmp_path / "d0").rmdir()
    report = check_config_file(write(tmp_path, text))
    assert report.config is not None  # the file itself is fine
    assert [p.key_path for p in report.problems] == ["directories.tmp[0]", "directories.dst[0]"]
    assert all("mkdir -p " in p.message for p in report.problems)


# -- warnings -------------------------------------------------------------------------------------


def test_a_good_farm_has_no_warnings(tmp_path: Path) -> None:
    report = check_config_file(write(tmp_path, farm(tmp_path)))
    assert report.problems == () and report.warnings == ()


def test_warns_about_a_missing_log_dir_with_the_mkdir_to_run(tmp_path: Path) -> None:
    text = farm(tmp_path)
    (tmp_path / "logs").rmdir()
    report = check_config_file(write(tmp_path, text))
    assert report.problems == ()  # the first job makes it: not a problem of the file
    (warning,) = report.warnings
    assert warning.key_path == "logging.plots" and warning.line == 2
    assert f"mkdir -p {tmp_path / 'logs'}" in warning.message


@pytest.mark.parametrize("kind", ["missing", "not executable", "a dir", "not on PATH"])
def test_warns_about_a_plotter_that_cannot_run(tmp_path: Path, kind: str) -> None:
    program = tmp_path / "bin" / "chia"
    (tmp_path / "bin").mkdir()
    if kind == "not executable":
        program.write_text("#!/bin/sh\n")
        program.chmod(0o644)
    elif kind == "a dir":
        program.mkdir()
    text = farm(tmp_path, executable=program)
    if kind == "not on PATH":
        text = text.replace(f'"{program}"', '"chia-not-installed-here"')
    report = check_config_file(write(tmp_path, text))
    assert report.problems == ()
    (warning,) = report.warnings
    assert warning.key_path == "plotting.chia.executable"
    expected = {
        "missing": "does not exist",
        "not executable": "not an executable program",
        "a dir": "not an executable program",
        "not on PATH": "is not on PATH",
    }[kind]
    assert expected in warning.message


def test_warns_about_an_archive_host_that_does_not_resolve(tmp_path: Path) -> None:
    # "a..b" fails in the resolver's own checks: no name server is asked.
    targets = "".join(
        f'[[archiving.targets]]\nname = "{name}"\ntype = "ssh"\nhost = "{host}"\n'
        'archive_dirs = ["/farm/disk00"]\n'
        for name, host in (("good", "localhost"), ("bad", "a..b"))
    )
    text = farm(tmp_path, "[archiving]\nenabled = true\n" + targets)
    report = check_config_file(write(tmp_path, text))
    assert report.problems == ()
    (warning,) = report.warnings
    assert warning.key_path == "archiving.targets[1].host"
    assert "'a..b' does not resolve" in warning.message
    # Archiving off: its hosts are not looked up (nor is a target switched off).
    off = text.replace("[archiving]\nenabled = true", "[archiving]\nenabled = false")
    assert check_config_file(write(tmp_path, off)).warnings == ()


def test_a_host_that_does_not_answer_in_time_is_reported_without_waiting_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A name server that never answers, held on an event that the test releases at its end.
    release = threading.Event()
    real = socket.getaddrinfo

    def silent(host: str, *args: object, **kwargs: object) -> object:
        if host == "farmer.slow":
            release.wait()
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", silent)
    text = farm(
        tmp_path,
        '[archiving]\nenabled = true\n[[archiving.targets]]\nname = "f"\ntype = "ssh"\n'
        'host = "farmer.slow"\narchive_dirs = ["/farm/disk00"]\n',
    )
    config = parse_config(text, write(tmp_path, text), check_dirs=False)
    try:
        (warning,) = config_warnings(config, None, resolve_timeout_s=0.2)
    finally:
        release.set()
    assert "did not resolve within 0.2 s" in warning.message


def test_a_fresh_template_is_told_what_to_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plotman_tui.config import write_template

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the template's log dir is under ~
    path = tmp_path / "plotman.toml"
    write_template(path, force=False)
    report = check_config_file(path)
    assert report.config is not None
    messages = [str(p) for p in report.problems + report.warnings]
    assert any("logging.plots" in m and "mkdir -p " in m for m in messages), messages
    assert all("mkdir -p " in str(p) for p in report.problems)


# -- archive dirs apart from the plotting dirs ----------------------------------------------------


@pytest.mark.parametrize(
    ("archive", "relation", "other"),
    [
        ("d0", "is", "directories.dst[0]"),
        ("d0/archive", "is inside", "directories.dst[0]"),
        ("t0/../t0/sub", "is inside", "directories.tmp[0]"),
        (".", "contains", "directories.tmp[0]"),
    ],
)
def test_an_archive_dir_may_not_be_a_plotting_dir(
    tmp_path: Path, archive: str, relation: str, other: str
) -> None:
    text = farm(tmp_path, local_target(os.path.normpath(tmp_path / archive)))
    with pytest.raises(ConfigError) as caught:
        parse_config(text, SOURCE, check_dirs=False)
    (problem,) = caught.value.problems
    assert problem.key_path == "archiving.targets[0].archive_dirs[0]"
    assert f" {relation} {other} (" in problem.message
    assert (
        problem.line
        == text.splitlines().index(
            next(line for line in text.splitlines() if line.startswith("archive_dirs"))
        )
        + 1
    )


def test_an_archive_dir_reached_through_a_symlink_is_caught_by_check(tmp_path: Path) -> None:
    (tmp_path / "usb").symlink_to(tmp_path / "d0", target_is_directory=False)
    text = farm(tmp_path, local_target(str(tmp_path / "usb")))
    assert parse_config(text, SOURCE, check_dirs=False)  # spelled apart: no disk access here
    report = check_config_file(write(tmp_path, text))
    (problem,) = report.problems
    assert "is directories.dst[0]" in problem.message


def test_archive_dirs_apart_are_fine(tmp_path: Path) -> None:
    (tmp_path / "usb").mkdir()
    text = farm(tmp_path, local_target(str(tmp_path / "usb"), str(tmp_path / "d0x")))
    assert parse_config(text, SOURCE, check_dirs=False).archiving.targets


# -- which file ------------------------------------------------------------------------------------


def test_an_empty_config_option_is_an_error_and_an_empty_variable_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError, match="empty"):
        resolve_config_path("")
    with pytest.raises(ConfigError, match="empty"):
        resolve_config_path("  ")
    monkeypatch.delenv("PLOTMAN_TUI_CONFIG", raising=False)
    default = resolve_config_path(None)
    monkeypatch.setenv("PLOTMAN_TUI_CONFIG", "")
    assert resolve_config_path(None) == default
