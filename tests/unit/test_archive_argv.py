"""Transfer command lines: what transfer_argv builds for each target type, and that the matcher
used by find_transfers recognises exactly those command lines."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plotman_tui.config.rsync_rules import unsafe_rsync_option
from plotman_tui.config.schema import ArchiveTarget, TargetType
from plotman_tui.farm.archive.transfer import (
    RSYNC_OPTIONS,
    TransferMatch,
    match_transfer_argv,
    ssh_argv,
    transfer_argv,
    transfer_destination,
)
from plotman_tui.farm.discovery import _split_cmdline

PLOT = "plot-k32-2026-11-24-10-00-" + "ab" * 32 + ".plot"
SOURCE = f"/mnt/dst0/{PLOT}"
BASE = [
    "rsync",
    "--remove-source-files",
    "--ignore-existing",
    "--times",
    "--whole-file",
    "--timeout=300",
    "--info=progress2,skip1,stats2",
]
MOVER = [sys.executable, "-m", "plotman_tui.farm.archive.localmove"]
SSH_TAIL = "-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=30"


def local(**changes: Any) -> ArchiveTarget:
    target = ArchiveTarget(
        name="disks", type=TargetType.LOCAL, archive_dirs=("/mnt/farm/00", "/mnt/farm/01")
    )
    return dataclasses.replace(target, **changes)


def rsyncd(**changes: Any) -> ArchiveTarget:
    target = ArchiveTarget(
        name="farmer",
        type=TargetType.RSYNCD,
        archive_dirs=("/farm", "/farm/disk00"),
        host="farmer.lan",
        module="plots",
        module_root="/farm",
    )
    return dataclasses.replace(target, **changes)


def ssh(**changes: Any) -> ArchiveTarget:
    target = ArchiveTarget(
        name="farmer-ssh",
        type=TargetType.SSH,
        archive_dirs=("/farm/disk02", "/farm/disk 03"),
        host="farmer.lan",
    )
    return dataclasses.replace(target, **changes)


def script(**changes: Any) -> ArchiveTarget:
    target = ArchiveTarget(
        name="my-script",
        type=TargetType.SCRIPT,
        archive_dirs=("/farm/disk04", "disk five"),
        transfer_command=("/usr/local/bin/send-plot", "{source}", "{archive_dir}"),
        free_space_command=("df", "{archive_dir}"),
    )
    return dataclasses.replace(target, **changes)


# -- what transfer_argv builds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "archive_dir", "expected"),
    [
        pytest.param(
            local(),
            "/mnt/farm/01",
            [*MOVER, "--", SOURCE, f"/mnt/farm/01/{PLOT}"],
            id="local-without-rsync",
        ),
        pytest.param(
            local(bwlimit_kbps=80000),
            "/mnt/farm/00",
            [*MOVER, "--bwlimit-kbps=80000", "--", SOURCE, f"/mnt/farm/00/{PLOT}"],
            id="local-bwlimit",
        ),
        pytest.param(
            rsyncd(bwlimit_kbps=80000, rsync_options=("--preallocate", "--timeout=60")),
            "/farm",
            [
                *BASE,
                "--contimeout=30",
                "--bwlimit=80000",
                "--preallocate",
                "--timeout=60",
                "--",
                SOURCE,
                f"rsync://farmer.lan:873/plots/{PLOT}",
            ],
            id="rsyncd-bwlimit-options-after-defaults",
        ),
        pytest.param(
            rsyncd(),
            "/farm/disk00",
            [*BASE, "--contimeout=30", "--", SOURCE, f"rsync://farmer.lan:873/plots/disk00/{PLOT}"],
            id="rsyncd",
        ),
        pytest.param(
            rsyncd(user="chia", rsync_port=8873, bwlimit_kbps=1000),
            "/farm",
            [
                *BASE,
                "--contimeout=30",
                "--bwlimit=1000",
                "--",
                SOURCE,
                f"rsync://chia@farmer.lan:8873/plots/{PLOT}",
            ],
            id="rsyncd-module-root-user-port",
        ),
        pytest.param(
            rsyncd(host="fd00::2"),
            "/farm/disk00",
            [*BASE, "--contimeout=30", "--", SOURCE, f"rsync://[fd00::2]:873/plots/disk00/{PLOT}"],
            id="rsyncd-ipv6",
        ),
        pytest.param(
            ssh(),
            "/farm/disk02",
            [
                *BASE,
                "--protect-args",
                "-e",
                f"ssh -p 22 {SSH_TAIL}",
                "--",
                SOURCE,
                f"farmer.lan:/farm/disk02/{PLOT}",
            ],
            id="ssh-defaults",
        ),
        pytest.param(
            ssh(
                user="chia",
                ssh_port=2222,
                identity_file=Path("/home/me/.ssh/id_ed25519"),
                known_hosts=Path("/home/me/.ssh/farm_hosts"),
                bwlimit_kbps=5,
                rsync_options=("-v",),
            ),
            "/farm/disk 03",
            [
                *BASE,
                "--protect-args",
                "-e",
                "ssh -p 2222 -i /home/me/.ssh/id_ed25519 -o IdentitiesOnly=yes "
                "-o UserKnownHostsFile=/home/me/.ssh/farm_hosts " + SSH_TAIL,
                "--bwlimit=5",
                "-v",
                "--",
                SOURCE,
                f"chia@farmer.lan:/farm/disk 03/{PLOT}",
            ],
            id="ssh-everything",
        ),
        pytest.param(
            ssh(host="::1", verify_host_key=False, known_hosts=Path("/ignored")),
            "/farm/disk02",
            [
                *BASE,
                "--protect-args",
                "-e",
                "ssh -p 22 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                "-o GlobalKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=30",
                "--",
                SOURCE,
                f"[::1]:/farm/disk02/{PLOT}",
            ],
            id="ssh-ipv6-no-host-key-check",
        ),
        pytest.param(
            script(),
            "disk five",
            ["/usr/local/bin/send-plot", SOURCE, "disk five"],
            id="script",
        ),
        pytest.param(
            script(
                transfer_command=(
                    "sh",
                    "-c",
                    'cp "$1" "$2.tmp" && mv "$2.tmp" "$2" && rm "$1" # {plot_name}',
                    "send",
                    "{source}",
                    "{archive_dir}/{plot_name}",
                    "${HOME}",
                )
            ),
            "/farm/disk04",
            [
                "sh",
                "-c",
                f'cp "$1" "$2.tmp" && mv "$2.tmp" "$2" && rm "$1" # {PLOT}',
                "send",
                SOURCE,
                f"/farm/disk04/{PLOT}",
                "${HOME}",
            ],
            id="script-every-variable-shell-braces-kept",
        ),
    ],
)
def test_transfer_argv(target: ArchiveTarget, archive_dir: str, expected: list[str]) -> None:
    assert transfer_argv(target, SOURCE, archive_dir) == expected
    assert match_transfer_argv(expected, [target]) == TransferMatch(
        target.name, SOURCE, archive_dir
    )


def test_the_common_options_are_the_documented_ones() -> None:
    assert list(RSYNC_OPTIONS) == BASE[1:]


def test_destination_names_the_file_so_a_missing_archive_dir_is_not_created() -> None:
    assert transfer_destination(local(), SOURCE, "/mnt/farm/00") == f"/mnt/farm/00/{PLOT}"
    assert transfer_destination(ssh(user="u"), SOURCE, "/farm/disk02").endswith(f"02/{PLOT}")
    assert transfer_destination(script(), SOURCE, "disk five") == f"disk five/{PLOT}"


def test_ssh_paths_with_spaces_quotes_and_percent_survive_rsyncs_splitting() -> None:
    target = ssh(
        identity_file=Path("/home/me/my keys/it's %h"),
        known_hosts=Path("/home/me/my keys/known hosts"),
    )
    assert ssh_argv(target)[3:8] == [
        "-i",
        "/home/me/my keys/it's %%h",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
    ]
    argv = transfer_argv(target, SOURCE, "/farm/disk02")
    rsh = argv[argv.index("-e") + 1]
    assert rsh == (
        "ssh -p 22 -i '/home/me/my keys/it''s %%h' -o IdentitiesOnly=yes "
        "-o 'UserKnownHostsFile=\"/home/me/my keys/known hosts\"' " + SSH_TAIL
    )
    assert split_like_rsync(rsh) == ssh_argv(target)


def split_like_rsync(command: str) -> list[str]:
    """rsync's own splitting of an ``-e`` value (main.c do_cmd): spaces, quotes, doubled quotes."""
    words: list[str] = []
    index = 0
    while index < len(command):
        if command[index] == " ":
            index += 1
            continue
        word = ""
        quote = ""
        while index < len(command) and (command[index] != " " or quote):
            char = command[index]
            if char in "'\"":
                if not quote:
                    quote = char
                    index += 1
                    continue
                if char == quote:
                    index += 1
                    if index < len(command) and command[index] == quote:
                        word += quote
                        index += 1
                    else:
                        quote = ""
                    continue
            word += char
            index += 1
        words.append(word)
    return words


@pytest.mark.parametrize(
    ("source", "archive_dir", "message"),
    [
        ("relative/plot.plot", "/mnt/farm/00", "absolute path"),
        ("/mnt/dst0/", "/mnt/farm/00", "absolute path"),
        (SOURCE, "/mnt/farm/02", "not an archive dir of target disks"),
    ],
)
def test_transfer_argv_refuses(source: str, archive_dir: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        transfer_argv(local(), source, archive_dir)


@pytest.mark.parametrize(
    ("option", "refused"),
    [
        ("--inplace", "--inplace"),
        ("--partial", "--partial"),
        ("--partial-dir=.rsync-partial", "--partial-dir"),
        ("--append", "--append"),
        ("--append-verify", "--append-verify"),
        ("--temp-dir=/tmp", "--temp-dir"),
        ("-P", "-P"),
        ("-avP", "-P"),
        ("-T/tmp", "-T"),
        ("--preallocate", None),
        ("--timeout=60", None),
        ("-avz", None),
        ("-B131072", None),  # the P-free value of a short option with a value
        ("-e/usr/bin/Pssh", None),  # the P is part of -e's value
        ("--progress", None),
        ("--partially-unknown", None),
        # Skipping the plot while --remove-source-files deletes it, or misreporting the skip.
        ("--size-only", "--size-only"),
        ("--compare-dest=/farm/old", "--compare-dest"),
        ("--copy-dest=/farm/old", "--copy-dest"),
        ("--link-dest=/farm/old", "--link-dest"),
        ("--existing", "--existing"),
        ("--ignore-non-existing", "--ignore-non-existing"),
        ("--max-size=100G", "--max-size"),
        ("--min-size", "--min-size"),
        ("--dry-run", "--dry-run"),
        ("-n", "-n"),
        ("-avn", "-n"),
        ("--list-only", "--list-only"),
        ("--only-write-batch=/tmp/b", "--only-write-batch"),
        ("--read-batch=/tmp/b", "--read-batch"),
        ("--exclude=*.plot", "--exclude"),
        ("--filter=- *.plot", "--filter"),
        ("-f- *.plot", "-f"),
        ("-avF", "-F"),
        # Harmless: transfers skip an existing far file before any comparison.
        ("--ignore-existing", None),
        ("--update", None),
        ("-u", None),
        ("--checksum", None),
    ],
)
def test_unsafe_rsync_options(option: str, refused: str | None) -> None:
    reason = unsafe_rsync_option(option)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(refused + " ")
        with pytest.raises(ValueError, match="remove it"):
            transfer_argv(rsyncd(rsync_options=(option,)), SOURCE, "/farm")


# -- what the matcher recognises -----------------------------------------------------------------


def test_rsync_of_a_target_whose_options_changed_still_matches_by_destination() -> None:
    started = transfer_argv(local(bwlimit_kbps=100), SOURCE, "/mnt/farm/01")
    assert match_transfer_argv(started, [local(), rsyncd()]) == TransferMatch(
        "disks", SOURCE, "/mnt/farm/01"
    )


def test_exact_command_line_wins_over_a_target_with_the_same_destination() -> None:
    slow = local(name="slow", bwlimit_kbps=100)
    started = transfer_argv(slow, SOURCE, "/mnt/farm/00")
    assert match_transfer_argv(started, [local(), slow]).target == "slow"  # type: ignore[union-attr]


def test_rsync_move_to_no_configured_target_is_still_a_transfer() -> None:
    started = transfer_argv(local(), SOURCE, "/mnt/farm/00")
    assert match_transfer_argv(started, [local(archive_dirs=("/elsewhere",))]) == TransferMatch(
        None, SOURCE, None
    )
    assert match_transfer_argv(started, []) == TransferMatch(None, SOURCE, None)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["rsync", "--times", "--", SOURCE, f"/mnt/farm/00/{PLOT}"], id="a-copy"),
        pytest.param(
            ["rsync", "--remove-source-files", SOURCE, "/mnt/farm/00/"], id="to-a-dir-by-hand"
        ),
        pytest.param(
            ["rsync", "--remove-source-files", "plot.plot", "/mnt/farm/00/plot.plot"],
            id="relative-source",
        ),
        pytest.param(
            ["rsync", "--server", "-tWe.LsfxCIvu", "--remove-source-files", ".", f"/d/{PLOT}"],
            id="rsync-server-side",
        ),
        pytest.param(
            ["rsync", "--daemon", "--no-detach", "--remove-source-files", "/a", "/b/a"],
            id="daemon",
        ),
        pytest.param(
            ["ssh", "-p", "22", "farmer.lan", "rsync", "--server", "--remove-source-files"],
            id="rsyncs-ssh",
        ),
        pytest.param(["/usr/local/bin/send-plot", SOURCE], id="script-missing-an-argument"),
        pytest.param(["/usr/local/bin/send-plot", SOURCE, "/farm/disk99"], id="script-unknown-dir"),
        pytest.param(["/usr/local/bin/other", SOURCE, "/farm/disk04"], id="script-other-program"),
        pytest.param(
            ["a", "b", "c", "d", "/usr/local/bin/send-plot", SOURCE, "/farm/disk04"],
            id="script-too-many-words-before",
        ),
        pytest.param([], id="empty"),
    ],
)
def test_not_a_transfer(argv: list[str]) -> None:
    assert match_transfer_argv(argv, [local(), rsyncd(), ssh(), script()]) is None


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param([], id="as-started"),
        pytest.param(["/bin/sh"], id="shebang"),
        pytest.param(["/usr/bin/python3", "-u"], id="shebang-with-argument"),
    ],
)
def test_script_found_when_its_interpreter_shows_first(prefix: list[str]) -> None:
    argv = [*prefix, "/usr/local/bin/send-plot", SOURCE, "/farm/disk04"]
    assert match_transfer_argv(argv, [local(), script()]) == TransferMatch(
        "my-script", SOURCE, "/farm/disk04"
    )


def test_script_found_on_path_shows_its_full_path() -> None:
    target = script(transfer_command=("send-plot", "--to", "{archive_dir}", "{source}"))
    argv = ["/bin/sh", "/opt/bin/send-plot", "--to", "disk five", SOURCE]
    assert match_transfer_argv(argv, [target]) == TransferMatch("my-script", SOURCE, "disk five")


def test_script_with_repeated_variables_must_repeat_the_same_value() -> None:
    target = script(transfer_command=("send", "{source}", "{plot_name}", "{source}"))
    good = ["send", SOURCE, PLOT, SOURCE]
    assert match_transfer_argv(good, [target]) == TransferMatch("my-script", SOURCE, "/farm/disk04")
    assert match_transfer_argv(["send", SOURCE, PLOT, "/other/" + PLOT], [target]) is None
    assert match_transfer_argv(["send", SOURCE, "other.plot", SOURCE], [target]) is None


# -- the property: every command line transfer_argv builds is recognised as itself ---------------

_SEGMENT = st.text(
    alphabet=st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda text: text not in {".", ".."})
_PATHS = st.lists(_SEGMENT, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


@st.composite
def targets_and_transfer(draw: st.DrawFn) -> tuple[list[ArchiveTarget], int, str, str]:
    """Targets of every type (distinct dirs), and one transfer: target index, source, dir."""
    dirs = draw(st.lists(_PATHS, min_size=8, max_size=8, unique=True))
    module_root = "/farm root"
    targets = [
        local(archive_dirs=(dirs[0], dirs[1]), bwlimit_kbps=draw(st.none() | st.integers(1, 9))),
        rsyncd(
            module_root=module_root,
            archive_dirs=(module_root, module_root + dirs[2]),
            user=draw(st.none() | st.just("chia")),
        ),
        ssh(
            archive_dirs=(dirs[3], dirs[4]),
            user=draw(st.none() | st.just("chia")),
            identity_file=draw(st.none() | _PATHS.map(Path)),
            known_hosts=draw(st.none() | _PATHS.map(Path)),
            verify_host_key=draw(st.booleans()),
        ),
        script(
            archive_dirs=(dirs[5], dirs[6]),
            transfer_command=(
                "/usr/local/bin/send-plot",
                "--to={archive_dir}",
                "{source}",
                "{archive_dir}/{plot_name}",
            ),
        ),
        local(name="other-disks", archive_dirs=(dirs[7],)),
    ]
    index = draw(st.integers(0, len(targets) - 1))
    archive_dir = draw(st.sampled_from(targets[index].archive_dirs))
    source = draw(_PATHS)
    return targets, index, source, archive_dir


@settings(max_examples=150, deadline=None)
@given(case=targets_and_transfer(), interpreter=st.booleans())
def test_matcher_recognises_exactly_what_transfer_argv_builds(
    case: tuple[list[ArchiveTarget], int, str, str], interpreter: bool
) -> None:
    targets, index, source, archive_dir = case
    target = targets[index]
    argv = transfer_argv(target, source, archive_dir)
    if interpreter and target.type is TargetType.SCRIPT:
        argv = ["/bin/sh", *argv]
    expected = TransferMatch(target.name, source, archive_dir)
    assert match_transfer_argv(argv, targets) == expected
    # As find_transfers reads it from /proc: NUL-ended bytes.
    raw = b"".join(os.fsencode(word) + b"\0" for word in argv)
    assert match_transfer_argv(_split_cmdline(raw), targets) == expected
    # A command line naming another file at the far side is not this transfer.
    assert match_transfer_argv([*argv[:-1], argv[-1] + "x"], targets) != expected
