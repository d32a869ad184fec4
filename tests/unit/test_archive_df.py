"""Free space parsing of the archive dirs: df output over SSH, script output, problem messages."""

from __future__ import annotations

import errno
import shlex
import socket
from pathlib import Path

import asyncssh
import pytest

from plotman_tui.config.schema import ArchiveTarget, TargetType
from plotman_tui.farm.archive.space import (
    DF_MARK,
    DirFree,
    TargetSpace,
    df_command,
    has_df_sections,
    last_whole_number,
    parse_df,
    parse_df_report,
    parse_df_section,
)
from plotman_tui.farm.ssh import host_has_known_key, host_key_problem, login_problem, ssh_problem

HEADER = "Filesystem     1024-blocks     Used Available Capacity Mounted on"


def farmer(tmp_path: Path, **overrides: object) -> ArchiveTarget:
    options: dict[str, object] = {
        "name": "farmer",
        "type": TargetType.SSH,
        "archive_dirs": ("/farm/d1", "/farm/d2"),
        "host": "farmer.lan",
        "ssh_port": 2222,
        "known_hosts": tmp_path / "known_hosts",
        **overrides,
    }
    return ArchiveTarget(**options)  # type: ignore[arg-type]


def section(index: int, status: str, *lines: str) -> str:
    return "\n".join([f"{DF_MARK} {index} {status}", *lines])


# -- one dir's df -P -k output ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            f"{HEADER}\n/dev/sdb1 1000 400 600 40% /mnt/d1\n", DirFree(600 * 1024), id="gnu"
        ),
        pytest.param(
            f"{HEADER}\n/dev/sdb1 1000 400 600 40% /mnt/my plots/disk 01\n",
            DirFree(600 * 1024),
            id="mount-point-with-spaces",
        ),
        pytest.param(
            f"{HEADER}\nmap auto_home 0 0 0 100% /System/Volumes/Data/home\n",
            DirFree(0),
            id="filesystem-name-with-spaces",
        ),
        pytest.param(
            f"{HEADER}\nnas.lan:/export/plots 5000 1000 4000 20% /mnt/nas\n",
            DirFree(4000 * 1024),
            id="nfs",
        ),
        pytest.param(
            "Filesystem 512-blocks Used Available Capacity Mounted on\n"
            "/dev/ada0p2 2000 1000 1000 50% /\n",
            DirFree(1000 * 512),
            id="512-blocks",
        ),
        pytest.param(
            "Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/sda1 10 5 5 50% /\n",
            DirFree(5 * 1024),
            id="gnu-without-P",
        ),
        pytest.param(
            f"{HEADER}\n/dev/ada0p2 100 110 -10 110% /\n", DirFree(0), id="bsd-negative-room"
        ),
        pytest.param(f"{HEADER}\nproc 0 0 0 - /proc\n", DirFree(0), id="capacity-dash"),
        pytest.param(
            f"{HEADER}\nnone - - - - /sys/fs/bpf\n",
            DirFree(None, "df gives no free space figure for this filesystem"),
            id="no-figures",
        ),
        pytest.param(
            "df: /mnt/d1: Permission denied\n",
            DirFree(None, "df failed: /mnt/d1: Permission denied"),
            id="error-only",
        ),
        pytest.param(
            f"df: /mnt/d1: Stale file handle\n{HEADER}\n",
            DirFree(None, "df failed: /mnt/d1: Stale file handle"),
            id="error-and-header",
        ),
        pytest.param("", DirFree(None, "df printed no figures"), id="empty"),
        pytest.param(f"{HEADER}\n", DirFree(None, "df printed no figures"), id="header-only"),
    ],
)
def test_parse_df_section(text: str, expected: DirFree) -> None:
    assert parse_df_section(text) == expected


# -- the sections of df_command's output --------------------------------------------------------

DIRS = ("/farm/d1", "/farm/my disk", "/farm/d3")


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param(
            "\n".join(
                [
                    section(0, "df 0", HEADER, "/dev/sdb1 100 40 60 40% /farm/d1"),
                    section(1, "df 0", HEADER, "/dev/sdc1 100 10 90 10% /farm/my disk"),
                    section(2, "df 0", HEADER, "/dev/sdd1 100 70 30 70% /farm/d3"),
                ]
            ),
            {"/farm/d1": 60 * 1024, "/farm/my disk": 90 * 1024, "/farm/d3": 30 * 1024},
            id="all",
        ),
        pytest.param(
            "\n".join(
                [
                    "Welcome to the farmer!",  # a login script's chatter comes first
                    section(0, "df 0", HEADER, "/dev/sdb1 100 40 60 40% /farm/d1"),
                    section(1, "missing"),
                    section(2, "df 0", HEADER, "/dev/sdd1 100 70 30 70% /farm/d3"),
                ]
            ),
            {"/farm/d1": 60 * 1024, "/farm/my disk": None, "/farm/d3": 30 * 1024},
            id="missing-dir-keeps-the-others",
        ),
        pytest.param(
            "\n".join(
                [
                    section(2, "df 0", HEADER, "/dev/sdd1 100 70 30 70% /farm/d3"),
                    section(0, "not-a-dir"),
                    section(1, "df 1", "df: /farm/my disk: Input/output error"),
                ]
            ),
            {"/farm/d1": None, "/farm/my disk": None, "/farm/d3": 30 * 1024},
            id="any-order-and-failures",
        ),
        pytest.param(
            section(0, "df 0", HEADER, "/dev/sdb1 100 40 60 40% /farm/d1"),
            {"/farm/d1": 60 * 1024, "/farm/my disk": None, "/farm/d3": None},
            id="cut-short",
        ),
        pytest.param("", dict.fromkeys(DIRS), id="nothing"),
        pytest.param(
            section(7, "df 0", HEADER, "/dev/sdb1 100 40 60 40% /x"),
            dict.fromkeys(DIRS),
            id="unknown-index-ignored",
        ),
    ],
)
def test_parse_df(output: str, expected: dict[str, int | None]) -> None:
    assert parse_df(output, DIRS) == expected
    assert list(parse_df(output, DIRS)) == list(DIRS)  # the configured order


def test_parse_df_report_reasons() -> None:
    output = "\n".join(
        [
            section(0, "missing"),
            section(1, "not-a-dir"),
            section(2, "df 1", "df: /farm/d3: Input/output error"),
        ]
    )
    assert parse_df_report(output, DIRS) == {
        "/farm/d1": DirFree(None, "missing"),
        "/farm/my disk": DirFree(None, "not a dir"),
        "/farm/d3": DirFree(None, "df failed: /farm/d3: Input/output error"),
    }
    assert parse_df_report("", DIRS[:1]) == {
        "/farm/d1": DirFree(None, "no answer from df for this dir")
    }


def test_has_df_sections() -> None:
    assert has_df_sections(f"motd\n{DF_MARK} 0 missing\n")
    assert not has_df_sections("sh: 1: df: not found\n")
    assert not has_df_sections(f"x {DF_MARK} 0 missing")  # only at a line's start


def test_df_command_quotes_every_dir() -> None:
    dirs = ["/farm/a b", "/farm/it's", "/farm/$(reboot)", "/farm/-x", "/farm/`id`;rm"]
    command = df_command(dirs)
    argv = shlex.split(command)
    # One `sh -c SCRIPT` whatever the login shell; in SCRIPT each dir is one quoted word.
    assert argv[:2] == ["sh", "-c"] and len(argv) == 3
    script = argv[2]
    assert script.startswith("LC_ALL=C; export LC_ALL; ")
    calls = [shlex.split(call) for call in script.split("}; ", 1)[1].split("; ")]
    assert calls == [["p", str(index), d] for index, d in enumerate(dirs)]
    assert "df -P -k --" in script


# -- script output ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Avail\n123456789\n", 123456789),
        ("  Avail\n   42\n", 42),
        (f"{HEADER}\n/dev/sdb1 1000 400 600 40% /mnt/disk04\n", 600),
        ("free=1000\n", 1000),
        ("12345.\n", 12345),
        ("10\n20\n", 20),
        ("1.5T\n", None),
        ("50%\n", None),
        ("1,234,567\n", None),
        ("-5\n", None),
        ("/mnt/disk04\n", None),
        ("disk_04\n", None),
        ("", None),
        ("no numbers here\n", None),
    ],
)
def test_last_whole_number(text: str, expected: int | None) -> None:
    assert last_whole_number(text) == expected


# -- problem messages ---------------------------------------------------------------------------


def one_line(text: str) -> str:
    assert "\n" not in text and text.strip() == text
    return text


def known_hosts_line(pattern: str) -> str:
    key = asyncssh.generate_private_key("ssh-ed25519")
    return f"{pattern} {key.export_public_key().decode().strip()}\n"


def test_unknown_host_key_says_how_to_add_it(tmp_path: Path) -> None:
    target = farmer(tmp_path)
    (tmp_path / "known_hosts").write_text(known_hosts_line("other.lan"))
    assert not host_has_known_key(target)
    message = one_line(host_key_problem(target, known=False))
    assert message.startswith("SSH host key of farmer.lan:2222 is not in ")
    assert "refused" in message
    assert f"ssh-keyscan -p 2222 farmer.lan >> {tmp_path / 'known_hosts'}" in message


def test_missing_known_hosts_file_is_named(tmp_path: Path) -> None:
    target = farmer(tmp_path, known_hosts=tmp_path / "absent", ssh_port=22)
    assert not host_has_known_key(target)
    message = one_line(host_key_problem(target, known=False))
    assert f"({tmp_path / 'absent'} does not exist)" in message
    assert f"ssh-keyscan farmer.lan >> {tmp_path / 'absent'}" in message  # no -p for 22


def test_changed_host_key_says_how_to_replace_it(tmp_path: Path) -> None:
    target = farmer(tmp_path)
    (tmp_path / "known_hosts").write_text(known_hosts_line("[farmer.lan]:2222"))
    assert host_has_known_key(target)
    message = one_line(host_key_problem(target, known=True))
    assert "has changed" in message and "refused" in message
    assert f"ssh-keygen -R '[farmer.lan]:2222' -f {tmp_path / 'known_hosts'}" in message
    assert "ssh-keyscan -p 2222 farmer.lan" in message


def test_host_key_refusal_tells_unknown_from_changed(tmp_path: Path) -> None:
    target = farmer(tmp_path)
    error = asyncssh.HostKeyNotVerifiable("Host key is not trusted for host farmer.lan")
    (tmp_path / "known_hosts").write_text("")
    unknown, reachable = ssh_problem(target, error, timeout_s=5, connected=False)
    assert "is not in" in unknown and reachable
    (tmp_path / "known_hosts").write_text(known_hosts_line("[farmer.lan]:2222"))
    changed, _ = ssh_problem(target, error, timeout_s=5, connected=False)
    assert "has changed" in changed


def test_login_refused(tmp_path: Path) -> None:
    default_keys = one_line(login_problem(farmer(tmp_path)))
    assert default_keys.startswith("SSH login on farmer.lan:2222 refused")
    assert "ssh-agent" in default_keys
    with_key = one_line(
        login_problem(farmer(tmp_path, user="chia", identity_file=Path("/keys/farm")))
    )
    assert with_key.startswith("SSH login as chia on farmer.lan:2222 refused")
    assert "/keys/farm" in with_key


@pytest.mark.parametrize(
    ("error", "connected", "start", "reachable"),
    [
        (
            TimeoutError(),
            False,
            "farmer unreachable: no SSH answer from farmer.lan:2222 within 3 s",
            False,
        ),
        (TimeoutError(), True, "df on farmer.lan:2222 did not finish within 3 s", True),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            False,
            "farmer unreachable: farmer.lan:2222 refused the connection",
            False,
        ),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            False,
            "farmer unreachable: cannot resolve host farmer.lan (Name or service not known)",
            False,
        ),
        (
            OSError(errno.EHOSTUNREACH, "No route to host"),
            False,
            "farmer unreachable: farmer.lan:2222: No route to host",
            False,
        ),
        (
            asyncssh.PermissionDenied("Permission denied"),
            False,
            "SSH login on farmer.lan:2222 refused",
            True,
        ),
        (
            asyncssh.ConnectionLost("Connection lost"),
            True,
            "SSH connection to farmer.lan:2222 failed: Connection lost",
            False,
        ),
        (
            asyncssh.KeyImportError(
                "Passphrase must be specified to import encrypted private keys"
            ),
            False,
            "identity_file /keys/farm is protected by a passphrase, which cannot be asked for "
            "here: load it into ssh-agent (ssh-add /keys/farm) and leave identity_file out",
            True,
        ),
    ],
)
def test_ssh_problem(
    tmp_path: Path, error: BaseException, connected: bool, start: str, reachable: bool
) -> None:
    target = farmer(tmp_path, identity_file=Path("/keys/farm"))
    message, answered = ssh_problem(target, error, timeout_s=3, connected=connected)
    assert one_line(message).startswith(start)
    assert answered is reachable


def test_ipv6_host_is_bracketed(tmp_path: Path) -> None:
    message, _ = ssh_problem(
        farmer(tmp_path, host="fd00::7"), TimeoutError(), timeout_s=1, connected=False
    )
    assert "[fd00::7]:2222" in message


# -- samples ------------------------------------------------------------------------------------


def test_target_space_keeps_the_configured_dirs(tmp_path: Path) -> None:
    target = farmer(tmp_path, archive_dirs=("/a", "/b", "/c"))
    space = TargetSpace.of_dirs(target, {"/c": DirFree(5), "/a": DirFree(None, "missing")}, 1.0)
    assert list(space.free_bytes.items()) == [("/a", None), ("/b", None), ("/c", 5)]
    assert dict(space.dir_problems) == {"/a": "missing", "/b": "no answer"}
    assert space.problem is None and space.reachable
    state = space.target_state(target)
    assert dict(state.archive_dirs_free) == {"/a": None, "/b": None, "/c": 5}

    failed = TargetSpace.failed(target, "farmer unreachable: x", 2.0, reachable=False)
    assert dict(failed.free_bytes) == {"/a": None, "/b": None, "/c": None}
    assert failed.target_state(target).problem == "farmer unreachable: x"
