"""The host-wide pause flags: a round trip, the action log, and flags that are not what they
should be (garbled, a FIFO, a link, a huge file), which count as paused and never hang."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.pauseflags import (
    FLAG_MAX_BYTES,
    Loop,
    PauseFlag,
    PauseFlagError,
    flag_path,
    parse_flag,
    read_pause,
    set_pause,
)


@pytest.fixture
def log(tmp_path: Path) -> ActionLog:
    return ActionLog(tmp_path / "actions.jsonl")


@pytest.mark.parametrize("loop", list(Loop))
def test_pause_then_resume_round_trip_and_both_are_logged(
    tmp_path: Path, log: ActionLog, loop: Loop
) -> None:
    assert read_pause(loop, tmp_path) == PauseFlag(paused=False)

    said = set_pause(loop, True, action_log=log, directory=tmp_path, by="alice@box from 10.0.0.5")
    flag = read_pause(loop, tmp_path)
    text = flag.describe(loop)
    resumed = set_pause(loop, False, action_log=log, directory=tmp_path, by="bob@farm")

    assert said.startswith(f"{loop} paused on this machine by alice@box from 10.0.0.5")
    assert flag.paused and flag.problem is None and flag.by == "alice@box from 10.0.0.5"
    assert flag.at is not None and abs(flag.at - time.time()) < 3600
    assert text.startswith(f"{loop} is paused on this machine since ")
    assert "(by alice@box from 10.0.0.5 via `" in text
    assert resumed == f"{loop} resumed on this machine by bob@farm"
    assert not flag_path(loop, tmp_path).exists()
    assert read_pause(loop, tmp_path).describe(loop) == f"{loop} is not paused on this machine"
    entries = log.entries()
    assert [(e.action, e.extra["switch"], e.extra["by"]) for e in entries] == [
        ("pause", str(loop), "alice@box from 10.0.0.5"),
        ("unpause", str(loop), "bob@farm"),
    ]
    assert entries[0].reason.startswith(f"cli: {loop} paused on this machine")
    assert entries[1].extra["paused_by"] == "alice@box from 10.0.0.5"


def test_the_two_loops_have_their_own_flags(tmp_path: Path) -> None:
    set_pause(Loop.PLOTTING, True, action_log=None, directory=tmp_path)
    assert read_pause(Loop.PLOTTING, tmp_path).paused
    assert not read_pause(Loop.ARCHIVING, tmp_path).paused


def test_pausing_a_paused_loop_says_so_and_records_nothing(tmp_path: Path, log: ActionLog) -> None:
    set_pause(Loop.PLOTTING, True, action_log=log, directory=tmp_path, by="alice@box")
    before = flag_path(Loop.PLOTTING, tmp_path).read_bytes()

    again = set_pause(Loop.PLOTTING, True, action_log=log, directory=tmp_path, by="bob@farm")
    idle = set_pause(Loop.ARCHIVING, False, action_log=log, directory=tmp_path)

    assert again.startswith("plotting is paused already on this machine since ")
    assert "by alice@box" in again  # who paused it first, not who asked again
    assert flag_path(Loop.PLOTTING, tmp_path).read_bytes() == before
    assert idle == "archiving is not paused on this machine: nothing to resume"
    assert len(log.entries()) == 1


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2]", b'"a string"', b"[" * 60_000],
    ids=["truncated", "binary", "a list", "a string", "deeply nested"],
)
def test_a_garbled_flag_counts_as_paused_with_its_problem(tmp_path: Path, content: bytes) -> None:
    flag_path(Loop.PLOTTING, tmp_path).write_bytes(content)

    flag = read_pause(Loop.PLOTTING, tmp_path)

    assert flag.paused
    assert flag.problem is not None and "not understood" in flag.problem
    assert "its flag is damaged" in flag.describe(Loop.PLOTTING)
    assert "\n" not in flag.describe(Loop.PLOTTING)


def test_an_empty_flag_is_a_pause_made_by_hand(tmp_path: Path) -> None:
    flag_path(Loop.ARCHIVING, tmp_path).touch()
    assert read_pause(Loop.ARCHIVING, tmp_path) == PauseFlag(paused=True)
    assert read_pause(Loop.ARCHIVING, tmp_path).describe(Loop.ARCHIVING) == (
        "archiving is paused on this machine"
    )


def test_fields_of_the_wrong_type_or_with_controls_are_dropped_or_shown_harmless(
    tmp_path: Path,
) -> None:
    content = {"by": "evil\x1b[2J\nname", "at": float("nan"), "from": [1, 2]}
    flag_path(Loop.PLOTTING, tmp_path).write_text(json.dumps(content))

    flag = read_pause(Loop.PLOTTING, tmp_path)

    assert flag.paused and flag.problem is None
    assert flag.at is None and flag.via is None
    assert flag.by is not None and "\x1b" not in flag.by and "\n" not in flag.by
    assert parse_flag(json.dumps({"by": "x" * 10_000}).encode()).by is not None
    assert len(parse_flag(json.dumps({"by": "x" * 10_000}).encode()).by or "") <= 200


def test_a_fifo_at_the_flag_path_is_a_problem_not_a_hang(tmp_path: Path, log: ActionLog) -> None:
    os.mkfifo(flag_path(Loop.PLOTTING, tmp_path))

    flag = read_pause(Loop.PLOTTING, tmp_path)
    resumed = set_pause(Loop.PLOTTING, False, action_log=log, directory=tmp_path)

    assert flag.paused and flag.problem is not None and "a FIFO" in flag.problem
    assert resumed.startswith("plotting resumed")
    assert not os.path.lexists(flag_path(Loop.PLOTTING, tmp_path))


def test_a_symlink_at_the_flag_path_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text(json.dumps({"by": "someone"}))
    flag_path(Loop.PLOTTING, tmp_path).symlink_to(target)

    flag = read_pause(Loop.PLOTTING, tmp_path)
    set_pause(Loop.PLOTTING, False, action_log=None, directory=tmp_path)

    assert flag.paused and flag.by is None
    assert flag.problem is not None and "symbolic link" in flag.problem
    assert target.exists()  # the link went, not what it pointed to


def test_a_huge_flag_is_a_problem_and_pausing_again_replaces_it(tmp_path: Path) -> None:
    path = flag_path(Loop.PLOTTING, tmp_path)
    with path.open("wb") as out:
        out.truncate(FLAG_MAX_BYTES * 100)  # sparse: big to read, free to make

    flag = read_pause(Loop.PLOTTING, tmp_path)
    said = set_pause(Loop.PLOTTING, True, action_log=None, directory=tmp_path, by="alice@box")

    assert flag.paused and flag.problem is not None and "more than" in flag.problem
    assert "its damaged flag was replaced" in said
    assert read_pause(Loop.PLOTTING, tmp_path).by == "alice@box"
    assert path.stat().st_size < 1024


def test_a_flag_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data dir should be")

    with pytest.raises(PauseFlagError) as raised:
        set_pause(Loop.PLOTTING, True, action_log=None, directory=blocker / "data")

    message = str(raised.value)
    assert message.startswith("cannot write the plotting pause flag ")
    assert "\n" not in message
    # And a flag under a file cannot be there: not paused.
    assert not read_pause(Loop.PLOTTING, blocker / "data").paused


def test_a_dir_at_the_flag_path_is_paused_and_cannot_be_removed_quietly(tmp_path: Path) -> None:
    flag_path(Loop.ARCHIVING, tmp_path).mkdir()

    flag = read_pause(Loop.ARCHIVING, tmp_path)
    with pytest.raises(PauseFlagError) as raised:
        set_pause(Loop.ARCHIVING, False, action_log=None, directory=tmp_path)

    assert flag.paused and flag.problem is not None and "a directory" in flag.problem
    assert "remove it by hand" in str(raised.value)


def test_an_action_log_that_cannot_be_written_is_said_and_the_flag_is_set(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "not-a-dir"
    log_dir.write_text("")
    said = set_pause(
        Loop.PLOTTING,
        True,
        action_log=ActionLog(log_dir / "actions.jsonl"),
        directory=tmp_path,
        by="alice@box",
    )
    assert "action log not written" in said
    assert read_pause(Loop.PLOTTING, tmp_path).paused


def test_the_switch_commands_need_no_config_only_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from plotman_tui.cli import main

    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))
    missing = str(tmp_path / "no-such-config.toml")

    assert main(["--config", missing, "plotting", "pause"]) == 0
    assert main(["--config", missing, "plotting", "status"]) == 0

    assert "paused" in capsys.readouterr().out
    assert (tmp_path / "data" / "plotting.paused").exists()


@pytest.mark.parametrize("at", [1e300, 1e18, -5.0])
def test_a_flag_set_at_no_real_time_pauses_and_reads_without_a_time(
    tmp_path: Path, at: float
) -> None:
    # Found by a review: "at": 1e300 made `plotting status` print a traceback, ended the
    # host's watch, and failed every plotting pass with OverflowError.
    flag_path(Loop.PLOTTING, tmp_path).write_text(json.dumps({"by": "alice", "at": at}))

    flag = read_pause(Loop.PLOTTING, tmp_path)

    assert flag.paused and flag.at is None
    assert flag.describe(Loop.PLOTTING) == "plotting is paused on this machine (by alice)"


def test_a_directory_at_the_flag_path_says_to_remove_it_not_to_resume(tmp_path: Path) -> None:
    flag_path(Loop.PLOTTING, tmp_path).mkdir()

    flag = read_pause(Loop.PLOTTING, tmp_path)

    assert flag.paused and flag.problem is not None and "a directory" in flag.problem
    assert flag.describe(Loop.PLOTTING).endswith("not a regular file): remove it")
    with pytest.raises(PauseFlagError, match="remove it by hand"):
        set_pause(Loop.PLOTTING, False, action_log=None, directory=tmp_path)
