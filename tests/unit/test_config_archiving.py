"""[archiving] and its [[archiving.targets]]: the shapes each target type takes, one clear line for
every mistake, the commented examples of the template and the summary of `config check`."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plotman_tui.config import ConfigError, parse_config, render_template, summarize
from plotman_tui.config.schema import (
    ArchiveTarget,
    ArchivingConfig,
    ReplotRules,
    TargetType,
    command_variables,
    expand_command,
)

SOURCE = Path("/etc/plotman/plotman.toml")

BASE = """\
[logging]
plots = "/x/logs"
[directories]
tmp = ["/x/t0"]
dst = ["/x/d0"]
[plotting]
type = "chia"
"""


def with_archiving(body: str) -> str:
    return BASE + "[archiving]\n" + textwrap.dedent(body)


def archiving_of(body: str) -> ArchivingConfig:
    return parse_config(with_archiving(body), SOURCE, check_dirs=False).archiving


def problems_of(body: str) -> list[tuple[str | None, int | None, str]]:
    text = with_archiving(body)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, SOURCE, check_dirs=False)
    return [(p.key_path, p.line, p.message) for p in caught.value.problems]


def line_of(text: str, fragment: str) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(hits) == 1, (fragment, hits)
    return hits[0]


# -- valid shapes --------------------------------------------------------------------------------

RSYNCD = """\
[[archiving.targets]]
name = "farmer"
type = "rsyncd"
host = "farmer.lan"
module = "plots"
module_root = "/farm/"
archive_dirs = ["/farm/disk00", "/farm/./disk01/"]
"""

VALID: dict[str, tuple[str, ArchiveTarget]] = {
    "rsyncd-minimal-normalises-farmer-paths": (
        RSYNCD,
        ArchiveTarget(
            name="farmer",
            type=TargetType.RSYNCD,
            archive_dirs=("/farm/disk00", "/farm/disk01"),
            host="farmer.lan",
            module="plots",
            module_root="/farm",
        ),
    ),
    "rsyncd-every-key": (
        """\
        [[archiving.targets]]
        name = "farmer.rsync_1"
        type = "rsyncd"
        enabled = false
        host = "192.168.1.20"
        user = "chia"
        ssh_port = 2222
        known_hosts = "keys/known_hosts"
        identity_file = "/home/p/.ssh/id_ed25519"
        verify_host_key = false
        rsync_port = 12000
        module = "plots"
        module_root = "/"
        archive_dirs = ["/mnt/a"]
        max_concurrent = 3
        bwlimit_kbps = 80000
        rsync_options = ["--timeout=300", "-v"]
        free_space_margin_gib = 0
        """,
        ArchiveTarget(
            name="farmer.rsync_1",
            type=TargetType.RSYNCD,
            archive_dirs=("/mnt/a",),
            enabled=False,
            max_concurrent=3,
            free_space_margin_gib=0,
            bwlimit_kbps=80000,
            rsync_options=("--timeout=300", "-v"),
            host="192.168.1.20",
            user="chia",
            ssh_port=2222,
            # Local files: relative to the config file, like every other local path.
            known_hosts=Path("/etc/plotman/keys/known_hosts"),
            identity_file=Path("/home/p/.ssh/id_ed25519"),
            verify_host_key=False,
            rsync_port=12000,
            module="plots",
            module_root="/",
        ),
    ),
    "ssh": (
        """\
        [[archiving.targets]]
        name = "farmer-ssh"
        type = "ssh"
        host = "fe80::1"
        user = "chia"
        archive_dirs = ["/farm/disk02//"]
        """,
        ArchiveTarget(
            name="farmer-ssh",
            type=TargetType.SSH,
            archive_dirs=("/farm/disk02",),
            host="fe80::1",
            user="chia",
        ),
    ),
    "local": (
        """\
        [[archiving.targets]]
        name = "usb"
        type = "local"
        archive_dirs = ["/mnt/usb/00/", "/mnt/usb/01"]
        bwlimit_kbps = 1
        """,
        ArchiveTarget(
            name="usb",
            type=TargetType.LOCAL,
            archive_dirs=("/mnt/usb/00", "/mnt/usb/01"),
            bwlimit_kbps=1,
        ),
    ),
    "script-keeps-dirs-and-other-braces-as-written": (
        """\
        [[archiving.targets]]
        name = "s3"
        type = "script"
        archive_dirs = ["s3://bucket/plots/"]
        transfer_command = ["aws", "s3", "cp", "{source}", "{archive_dir}{plot_name}"]
        free_space_command = ["sh", "-c", "echo ${HOME} {archive_dir} | awk '{print $4}'"]
        """,
        ArchiveTarget(
            name="s3",
            type=TargetType.SCRIPT,
            archive_dirs=("s3://bucket/plots/",),
            transfer_command=("aws", "s3", "cp", "{source}", "{archive_dir}{plot_name}"),
            free_space_command=("sh", "-c", "echo ${HOME} {archive_dir} | awk '{print $4}'"),
        ),
    ),
    "inline-table-form": (
        'targets = [{name = "u", type = "local", archive_dirs = ["/mnt/u"]}]\n',
        ArchiveTarget(name="u", type=TargetType.LOCAL, archive_dirs=("/mnt/u",)),
    ),
}


@pytest.mark.parametrize(("body", "expected"), VALID.values(), ids=VALID.keys())
def test_valid_target(body: str, expected: ArchiveTarget) -> None:
    archiving = archiving_of(textwrap.dedent(body))

    assert archiving.targets == (expected,)
    assert archiving.enabled is False


def test_left_out_archiving_is_off_without_targets() -> None:
    config = parse_config(BASE, SOURCE, check_dirs=False)

    assert config.archiving == ArchivingConfig()
    assert config.archiving.active_targets == ()


def test_target_defaults() -> None:
    target = ArchiveTarget(name="t", type=TargetType.SSH, archive_dirs=("/a",))

    assert target.enabled is True
    assert target.max_concurrent == 1
    assert (target.ssh_port, target.rsync_port) == (22, 873)
    assert target.bwlimit_kbps is None and target.rsync_options == ()
    assert target.known_hosts is None and target.identity_file is None
    assert target.verify_host_key is True
    assert target.free_space_margin_bytes == 1024**3


def test_local_dirs_expand_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/farmer")

    archiving = archiving_of(
        '[[archiving.targets]]\nname = "l"\ntype = "local"\narchive_dirs = ["~/farm"]\n'
    )

    assert archiving.targets[0].archive_dirs == ("/home/farmer/farm",)


def test_local_dirs_need_not_exist_when_dirs_are_checked(tmp_path: Path) -> None:
    # Archive disks come and go; a missing one is reported while running, not at load.
    for name in ("logs", "t0"):
        (tmp_path / name).mkdir()
    text = textwrap.dedent(
        f"""\
        [logging]
        plots = "{tmp_path / "logs"}"
        [directories]
        tmp = ["{tmp_path / "t0"}"]
        [plotting]
        type = "chia"
        [archiving]
        enabled = true
        [[archiving.targets]]
        name = "l"
        type = "local"
        archive_dirs = ["{tmp_path / "unplugged"}"]
        """
    )

    config = parse_config(text, SOURCE, check_dirs=True)

    assert config.archiving.targets[0].archive_dirs == (str(tmp_path / "unplugged"),)


def test_active_targets_are_the_enabled_ones_when_archiving_is_on() -> None:
    body = """\
        enabled = true
        [[archiving.targets]]
        name = "a"
        type = "local"
        archive_dirs = ["/a"]
        [[archiving.targets]]
        name = "b"
        type = "local"
        archive_dirs = ["/b"]
        enabled = false
        """
    archiving = archiving_of(body)

    assert [t.name for t in archiving.targets] == ["a", "b"]
    assert [t.name for t in archiving.active_targets] == ["a"]
    assert dataclasses.replace(archiving, enabled=False).active_targets == ()


# -- one line per mistake ------------------------------------------------------------------------

LOCAL_HEAD = '[[archiving.targets]]\nname = "l"\ntype = "local"\n'
SSH_HEAD = '[[archiving.targets]]\nname = "s"\ntype = "ssh"\narchive_dirs = ["/a"]\n'
SCRIPT_HEAD = '[[archiving.targets]]\nname = "x"\ntype = "script"\narchive_dirs = ["/a"]\n'
GOOD_COMMANDS = (
    'transfer_command = ["cp", "{source}", "{archive_dir}"]\n'
    'free_space_command = ["df", "{archive_dir}"]\n'
)

# body -> (key path, fragment of the line it is reported on, message)
ERRORS: dict[str, tuple[str, str, str, str]] = {
    "enabled-not-bool": (
        "enabled = 1\n",
        "archiving.enabled",
        "enabled = 1",
        "expected true or false, got 1",
    ),
    "enabled-without-targets": (
        "enabled = true\n",
        "archiving.enabled",
        "enabled = true",
        "archiving is on but no [[archiving.targets]] table says where plots go",
    ),
    "plotmans-target-key": (
        'target = "rsyncd_rsync"\n',
        "archiving.target",
        "target =",
        "unknown key (plotman's archiving setting; describe each place plots go in an "
        "[[archiving.targets]] table)",
    ),
    "unknown-archiving-key": (
        "enable = true\n",
        "archiving.enable",
        "enable =",
        'unknown key (did you mean "enabled"?)',
    ),
    "targets-not-an-array": (
        'targets = "farmer"\n',
        "archiving.targets",
        "targets =",
        'expected an array of tables ([[archiving.targets]]), got "farmer"',
    ),
    "target-not-a-table": (
        "targets = [1]\n",
        "archiving.targets[0]",
        "targets =",
        "expected a table ([[archiving.targets]]), got 1",
    ),
    "unknown-target-key": (
        LOCAL_HEAD + 'archive_dirs = ["/a"]\nmax_concurent = 2\n',
        "archiving.targets[0].max_concurent",
        "max_concurent",
        'unknown key (did you mean "max_concurrent"?)',
    ),
    "name-missing": (
        '[[archiving.targets]]\ntype = "local"\narchive_dirs = ["/a"]\n',
        "archiving.targets[0].name",
        "[[archiving.targets]]",
        "required key is missing (add it to this [[archiving.targets]] table)",
    ),
    "type-missing": (
        '[[archiving.targets]]\nname = "l"\narchive_dirs = ["/a"]\n',
        "archiving.targets[0].type",
        "[[archiving.targets]]",
        "required key is missing (add it to this [[archiving.targets]] table)",
    ),
    "archive-dirs-missing": (
        LOCAL_HEAD,
        "archiving.targets[0].archive_dirs",
        "[[archiving.targets]]",
        "required key is missing (add it to this [[archiving.targets]] table)",
    ),
    "unknown-type": (
        '[[archiving.targets]]\nname = "l"\ntype = "rsync"\narchive_dirs = ["/a"]\n',
        "archiving.targets[0].type",
        "type =",
        'unknown target type "rsync" (did you mean "rsyncd"?)',
    ),
    "name-with-a-space": (
        '[[archiving.targets]]\nname = "my farmer"\ntype = "local"\narchive_dirs = ["/a"]\n',
        "archiving.targets[0].name",
        "name =",
        'must be letters, digits, ".", "_" and "-", starting with a letter or digit '
        '(it names the target in logs), got "my farmer"',
    ),
    "empty-archive-dirs": (
        LOCAL_HEAD + "archive_dirs = []\n",
        "archiving.targets[0].archive_dirs",
        "archive_dirs =",
        "needs at least one archive dir",
    ),
    "archive-dirs-a-string": (
        LOCAL_HEAD + 'archive_dirs = "/a"\n',
        "archiving.targets[0].archive_dirs",
        "archive_dirs =",
        'expected an array of strings, got "/a" (write each word as its own string: ["a", "b"])',
    ),
    "archive-dir-empty-string": (
        LOCAL_HEAD + 'archive_dirs = [" "]\n',
        "archiving.targets[0].archive_dirs[0]",
        "archive_dirs =",
        "must not be empty",
    ),
    "local-dir-relative": (
        LOCAL_HEAD + 'archive_dirs = ["farm"]\n',
        "archiving.targets[0].archive_dirs[0]",
        "archive_dirs =",
        'must be an absolute path, got "farm"',
    ),
    "local-dir-twice": (
        LOCAL_HEAD + 'archive_dirs = ["/a", "/a/"]\n',
        "archiving.targets[0].archive_dirs[1]",
        "archive_dirs =",
        "/a is listed twice (also at archiving.targets[0].archive_dirs[0])",
    ),
    "remote-dir-relative": (
        '[[archiving.targets]]\nname = "s"\ntype = "ssh"\nhost = "h"\narchive_dirs = ["~/a"]\n',
        "archiving.targets[0].archive_dirs[0]",
        "archive_dirs =",
        'must be an absolute path on the farmer (starting with "/"), got "~/a"',
    ),
    "local-target-with-host": (
        LOCAL_HEAD + 'archive_dirs = ["/a"]\nhost = "farmer"\n',
        "archiving.targets[0].host",
        "host =",
        "not used by local targets (only by rsyncd and ssh targets)",
    ),
    "ssh-target-with-module": (
        SSH_HEAD + 'host = "h"\nmodule = "plots"\n',
        "archiving.targets[0].module",
        "module =",
        "not used by ssh targets (only by rsyncd targets)",
    ),
    "script-target-with-bwlimit": (
        SCRIPT_HEAD + GOOD_COMMANDS + "bwlimit_kbps = 100\n",
        "archiving.targets[0].bwlimit_kbps",
        "bwlimit_kbps =",
        "not used by script targets (only by local, rsyncd and ssh targets)",
    ),
    "ssh-target-with-a-command": (
        SSH_HEAD + 'host = "h"\ntransfer_command = ["x"]\n',
        "archiving.targets[0].transfer_command",
        "transfer_command =",
        "not used by ssh targets (only by script targets)",
    ),
    "ssh-without-host": (
        SSH_HEAD,
        "archiving.targets[0].host",
        "[[archiving.targets]]",
        "required key is missing (ssh targets need host)",
    ),
    "rsyncd-without-module": (
        RSYNCD.replace('module = "plots"\n', ""),
        "archiving.targets[0].module",
        "[[archiving.targets]]",
        "required key is missing (rsyncd targets need host, module and module_root)",
    ),
    "rsyncd-module-with-slash": (
        RSYNCD.replace('module = "plots"', 'module = "plots/sub"'),
        "archiving.targets[0].module",
        "module =",
        'must be a module name as in rsyncd.conf, without "/", got "plots/sub"',
    ),
    "rsyncd-module-root-relative": (
        RSYNCD.replace('module_root = "/farm/"', 'module_root = "farm"'),
        "archiving.targets[0].module_root",
        "module_root =",
        'must be an absolute path on the farmer (starting with "/"), got "farm"',
    ),
    "rsyncd-dir-outside-the-module": (
        RSYNCD.replace('"/farm/./disk01/"', '"/farmer/disk01"'),
        "archiving.targets[0].archive_dirs[1]",
        "archive_dirs =",
        "/farmer/disk01 is not under module_root /farm (the rsync module serves only that dir)",
    ),
    "host-with-user": (
        SSH_HEAD + 'host = "chia@farmer"\n',
        "archiving.targets[0].host",
        "host =",
        'must be a host name or address, got "chia@farmer" (put the user name in user)',
    ),
    "host-looks-like-an-option": (
        SSH_HEAD + 'host = "-oProxyCommand=evil"\n',
        "archiving.targets[0].host",
        "host =",
        'must be a host name or address, not start with "-", got "-oProxyCommand=evil"',
    ),
    "user-with-colon": (
        SSH_HEAD + 'host = "h"\nuser = "a:b"\n',
        "archiving.targets[0].user",
        "user =",
        'must be a user name, got "a:b"',
    ),
    "ssh-port-range": (
        SSH_HEAD + 'host = "h"\nssh_port = 70000\n',
        "archiving.targets[0].ssh_port",
        "ssh_port =",
        "must be between 1 and 65535, got 70000",
    ),
    "rsync-port-range": (
        RSYNCD + "rsync_port = 0\n",
        "archiving.targets[0].rsync_port",
        "rsync_port =",
        "must be between 1 and 65535, got 0",
    ),
    "max-concurrent-zero": (
        LOCAL_HEAD + 'archive_dirs = ["/a"]\nmax_concurrent = 0\n',
        "archiving.targets[0].max_concurrent",
        "max_concurrent =",
        "must be at least 1, got 0",
    ),
    "bwlimit-zero": (
        LOCAL_HEAD + 'archive_dirs = ["/a"]\nbwlimit_kbps = 0\n',
        "archiving.targets[0].bwlimit_kbps",
        "bwlimit_kbps =",
        "must be at least 1, got 0",
    ),
    "margin-negative": (
        LOCAL_HEAD + 'archive_dirs = ["/a"]\nfree_space_margin_gib = -1\n',
        "archiving.targets[0].free_space_margin_gib",
        "free_space_margin_gib =",
        "must be at least 0, got -1",
    ),
    "rsync-option-bare-word": (
        LOCAL_HEAD + 'archive_dirs = ["/a"]\nrsync_options = ["--timeout=9", "/etc"]\n',
        "archiving.targets[0].rsync_options[1]",
        "rsync_options =",
        'must be an rsync option starting with "-", got "/etc" (a bare word would be sent as '
        "a file)",
    ),
    "script-without-a-command": (
        SCRIPT_HEAD + 'transfer_command = ["cp", "{source}", "{archive_dir}"]\n',
        "archiving.targets[0].free_space_command",
        "[[archiving.targets]]",
        "required key is missing (script targets need transfer_command and free_space_command)",
    ),
    "command-a-string": (
        SCRIPT_HEAD
        + GOOD_COMMANDS.replace('["cp", "{source}", "{archive_dir}"]', '"cp {source} x"'),
        "archiving.targets[0].transfer_command",
        "transfer_command =",
        'expected an array of strings, got "cp {source} x" (write each word as its own '
        'string: ["a", "b"])',
    ),
    "command-empty": (
        SCRIPT_HEAD + GOOD_COMMANDS.replace('["df", "{archive_dir}"]', "[]"),
        "archiving.targets[0].free_space_command",
        "free_space_command =",
        "must not be empty (an array: the program, then its arguments)",
    ),
    "command-misspelt-variable": (
        SCRIPT_HEAD + GOOD_COMMANDS.replace('"{source}"', '"{sorce}"'),
        "archiving.targets[0].transfer_command[1]",
        "transfer_command =",
        "unknown variable {sorce} (did you mean {source}?)",
    ),
    "free-space-command-with-a-transfer-variable": (
        SCRIPT_HEAD + GOOD_COMMANDS.replace('["df", "{archive_dir}"]', '["df", "{source}"]'),
        "archiving.targets[0].free_space_command[1]",
        "free_space_command =",
        "unknown variable {source} (known here: {archive_dir})",
    ),
    "transfer-command-without-source": (
        SCRIPT_HEAD + GOOD_COMMANDS.replace('"{source}"', '"/x/{plot_name}"'),
        "archiving.targets[0].transfer_command",
        "transfer_command =",
        "must use {source} (the plot file to send, its full path on this machine)",
    ),
    "free-space-command-without-archive-dir": (
        SCRIPT_HEAD + GOOD_COMMANDS.replace('["df", "{archive_dir}"]', '["df", "/farm"]'),
        "archiving.targets[0].free_space_command",
        "free_space_command =",
        "must use {archive_dir} (the archive dir chosen for it, as listed in archive_dirs)",
    ),
    "names-unique": (
        LOCAL_HEAD + 'archive_dirs = ["/a"]\n' + LOCAL_HEAD + 'archive_dirs = ["/b"]\n',
        "archiving.targets[1].name",
        'name = "l"',
        '"l" is already the name of a target (at archiving.targets[0].name); names must be unique',
    ),
}


@pytest.mark.parametrize(("body", "key_path", "at", "message"), ERRORS.values(), ids=ERRORS.keys())
def test_one_line_error(body: str, key_path: str, at: str, message: str) -> None:
    text = with_archiving(body)
    # The line is where the key is written, else its table's header (the last such line).
    line = [n for n, line in enumerate(text.splitlines(), 1) if at in line][-1]

    assert problems_of(body) == [(key_path, line, message)]


def test_every_problem_of_a_target_is_reported() -> None:
    body = textwrap.dedent(
        """\
        [[archiving.targets]]
        name = "bad name"
        type = "rsyncd"
        host = "a b"
        module_root = "/farm"
        archive_dirs = ["/elsewhere"]
        transfer_command = ["x"]
        """
    )

    problems = problems_of(body)

    assert [line for _, line, _ in problems] == sorted(line or 0 for _, line, _ in problems)
    assert {key_path for key_path, _, _ in problems} == {
        "archiving.targets[0].name",
        "archiving.targets[0].host",
        "archiving.targets[0].module",
        "archiving.targets[0].archive_dirs[0]",
        "archiving.targets[0].transfer_command",
    }
    assert all("\n" not in message for _, _, message in problems)


_TARGET_WORDS = [field.name for field in dataclasses.fields(ArchiveTarget)]
_target_values = st.one_of(
    st.sampled_from([t.value for t in TargetType]),
    st.sampled_from(["/farm/a", "farm", "", "-x", "a@b", "{source}", "{sorce}", "h"]),
    st.integers(-2, 70000),
    st.booleans(),
    st.lists(st.sampled_from(["/farm/a", "{archive_dir}", "{source}", "-v", "x", ""]), max_size=3),
    st.dictionaries(st.sampled_from(_TARGET_WORDS), st.integers(), max_size=2),
)
_targets = st.lists(
    st.dictionaries(st.sampled_from(_TARGET_WORDS), _target_values, max_size=8), max_size=3
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_targets, st.booleans())
def test_any_targets_load_or_give_one_line_errors(
    targets: list[dict[str, object]], enabled: bool
) -> None:
    import tomlkit

    text = BASE + tomlkit.dumps({"archiving": {"enabled": enabled, "targets": targets}})
    try:
        config = parse_config(text, SOURCE, check_dirs=False)
    except ConfigError as error:
        for problem in error.problems:
            assert "\n" not in str(problem)
            assert problem.key_path is not None and problem.key_path.startswith("archiving")
            assert problem.line is None or 1 <= problem.line <= text.count("\n") + 1
    else:
        assert len(config.archiving.targets) == len(targets)


# -- script commands and rsync URLs ---------------------------------------------------------------


def test_command_variables_skip_shell_variables_and_other_braces() -> None:
    argv = ["sh", "-c", "x ${HOME} {archive_dir} | awk '{print $4}' {a b} {plot_name}"]

    assert command_variables(argv) == ["archive_dir", "plot_name"]


def test_expand_command_replaces_only_the_given_variables() -> None:
    argv = ["cp", "{source}", "{archive_dir}/{plot_name}", "{other}", "${HOME}", "{print $4}"]
    values = {"source": "/d/my plot.plot", "archive_dir": "/farm/a", "plot_name": "p.plot"}

    assert expand_command(argv, values) == (
        "cp",
        "/d/my plot.plot",  # one argument, spaces and all
        "/farm/a/p.plot",
        "{other}",
        "${HOME}",
        "{print $4}",
    )


@pytest.mark.parametrize(
    ("module_root", "archive_dir", "user", "host", "url"),
    [
        ("/farm", "/farm/disk00", "chia", "farmer", "rsync://chia@farmer:873/plots/disk00/"),
        ("/farm", "/farm", None, "farmer", "rsync://farmer:873/plots/"),
        ("/", "/mnt/a/b", None, "10.0.0.2", "rsync://10.0.0.2:873/plots/mnt/a/b/"),
        ("/farm", "/farm/d", None, "fe80::1", "rsync://[fe80::1]:873/plots/d/"),
        ("/farm", "/farm/..d", None, "h", "rsync://h:873/plots/..d/"),
    ],
)
def test_rsync_url(
    module_root: str, archive_dir: str, user: str | None, host: str, url: str
) -> None:
    target = ArchiveTarget(
        name="f",
        type=TargetType.RSYNCD,
        archive_dirs=(archive_dir,),
        host=host,
        user=user,
        module="plots",
        module_root=module_root,
    )

    assert target.rsync_url(archive_dir) == url


def test_rsync_url_refuses_a_dir_outside_the_module() -> None:
    target = ArchiveTarget(
        name="f",
        type=TargetType.RSYNCD,
        archive_dirs=("/farm/a",),
        host="h",
        module="plots",
        module_root="/farm",
    )

    with pytest.raises(ValueError, match="not under module_root"):
        target.rsync_url("/other")


# -- config check --------------------------------------------------------------------------------


def test_summary_names_each_target() -> None:
    body = "enabled = true\n" + textwrap.dedent(RSYNCD).replace(
        'host = "farmer.lan"', 'host = "farmer.lan"\nuser = "chia"'
    )
    body += SSH_HEAD + 'host = "h"\nenabled = false\n'
    config = parse_config(with_archiving(body), SOURCE, check_dirs=False)

    summary = summarize(config)

    assert summary.splitlines()[-3:] == [
        "archiving: on, 2 targets",
        "  farmer: rsyncd to rsync://chia@farmer.lan:873/plots/, 2 archive dirs",
        "  s: ssh to h, 1 archive dir (disabled)",
    ]


def test_summary_says_when_archiving_is_off() -> None:
    summary = summarize(parse_config(BASE, SOURCE, check_dirs=False))

    assert "archiving: off, no targets" in summary.splitlines()


# -- the template --------------------------------------------------------------------------------

_EXAMPLE_KEY = re.compile(r"^# (\w+) = ")


def test_template_explains_every_target_key_once_above_its_first_use() -> None:
    lines = render_template().splitlines()
    start = lines.index("[archiving]")
    seen: set[str] = set()
    replot_keys: set[str] = set()
    in_replot = False
    for index in range(start, len(lines)):
        if lines[index].startswith("# [["):
            in_replot = False
        if lines[index] == "# [archiving.targets.replot]":
            in_replot = True
            seen.add("replot")
            assert not _EXAMPLE_KEY.match(lines[index - 1])
            continue
        match = _EXAMPLE_KEY.match(lines[index])
        if match is None:
            continue
        key = match.group(1)
        above = lines[index - 1]
        if key not in seen | replot_keys:
            assert above.startswith("# ") and not _EXAMPLE_KEY.match(above), (key, above)
        (replot_keys if in_replot else seen).add(key)

    assert seen == {field.name for field in dataclasses.fields(ArchiveTarget)}
    assert replot_keys == {field.name for field in dataclasses.fields(ReplotRules)}


def test_template_has_one_example_of_each_type_and_each_loads() -> None:
    text = render_template()
    before, archiving_part = text.split("[archiving]\n")
    archiving_part = re.sub(
        r"^# (\w+ = .*|\[\[archiving\.targets\]\]|\[archiving\.targets\.replot\])$",
        r"\1",
        archiving_part,
        flags=re.MULTILINE,
    )
    switched_on = (
        before + "[archiving]\n" + archiving_part.replace("enabled = false", "enabled = true", 1)
    )

    archiving = parse_config(switched_on, check_dirs=False).archiving

    assert archiving.enabled is True
    assert [target.type for target in archiving.targets] == [
        TargetType.RSYNCD,
        TargetType.SSH,
        TargetType.LOCAL,
        TargetType.SCRIPT,
    ]
    assert text.count("# [[archiving.targets]]") == len(TargetType)


def test_template_archiving_is_off_and_overridable() -> None:
    assert parse_config(render_template(), check_dirs=False).archiving == ArchivingConfig()
    # The examples are commented out: switching archiving on alone says what is missing.
    with pytest.raises(ConfigError, match=r"no \[\[archiving.targets\]\] table says where"):
        render_template({"archiving.enabled": True})


@pytest.mark.parametrize("option", ["--inplace", "--partial", "--partial-dir=.p", "-avP"])
def test_rsync_options_that_would_show_a_half_sent_plot_are_refused(option: str) -> None:
    body = f"""
        [[archiving.targets]]
        name = "usb"
        type = "local"
        archive_dirs = ["/mnt/usb"]
        rsync_options = ["--timeout=60", "{option}"]
    """
    ((key, _line, message),) = problems_of(body)
    assert key == "archiving.targets[0].rsync_options[1]"
    assert message.startswith(f"{option} is refused: ")
