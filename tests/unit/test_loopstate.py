"""``loop_report``: a loop of this machine seen from outside, from its lock, its pause flag and
its state file. The lock is a real ``flock`` held by this test process; the state files are
what the engines write, or what a bad byte, a FIFO or an old holder left."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from plotman_tui.farm.archive.engine import space_from_json, space_to_json
from plotman_tui.farm.archive.space import TargetSpace
from plotman_tui.farm.launches import BackOff, LoopNote, NoteKeeper, state_text
from plotman_tui.farm.lock import SchedulerLock
from plotman_tui.farm.loopstate import loop_lock, loop_report, state_path
from plotman_tui.farm.pauseflags import Loop, set_pause


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Path]:
    """The data dir, with both loops' locks held by this process (as a loop holds them)."""
    locks = [loop_lock(loop, tmp_path) for loop in Loop]
    for lock in locks:
        assert lock.acquire()
    yield tmp_path
    for lock in locks:
        lock.release()


def write_state(data: Path, loop: Loop, content: object) -> None:
    state_path(loop, data).write_text(json.dumps(content))


def test_no_loop_no_flag_says_nothing(tmp_path: Path) -> None:
    report = loop_report(Loop.PLOTTING, data=tmp_path)
    assert report.holder is None and report.holder_pid is None
    assert not report.pause.paused
    assert report.reason is None and report.reason_at is None and report.problem is None


def test_the_holders_note_is_its_reason(held: Path) -> None:
    note = LoopNote(reason="stagger (20s/1800s)", since=1_800_000_000.0, pid=os.getpid())
    state_path(Loop.PLOTTING, held).write_text(state_text([], BackOff(), note))
    set_pause(Loop.PLOTTING, True, action_log=None, directory=held, by="alice@box")

    report = loop_report(Loop.PLOTTING, data=held)

    assert report.holder_pid == os.getpid()
    assert report.holder is not None and report.holder.startswith("scheduler lock held by pid ")
    assert (report.reason, report.reason_at) == ("stagger (20s/1800s)", 1_800_000_000.0)
    assert report.pause.paused and report.pause.by == "alice@box"
    assert report.spaces == {}


def test_a_note_of_another_process_is_not_the_holders(held: Path) -> None:
    old = {"reason": "archiving is paused", "since": 1.0, "pid": os.getpid() + 1}
    space = {"free_bytes": {"/a": 5}, "dir_problems": {}, "problem": None, "checked_at": 1.0}
    write_state(held, Loop.ARCHIVING, {"version": 1, "note": old, "spaces": {"f": space}})

    report = loop_report(Loop.ARCHIVING, data=held)

    assert report.holder_pid == os.getpid()
    assert report.reason is None and report.spaces == {}


def test_a_note_left_by_a_holder_that_is_gone_is_not_reported(tmp_path: Path) -> None:
    note = LoopNote(reason="started pid 42", since=1.0, pid=os.getpid())
    state_path(Loop.PLOTTING, tmp_path).write_text(state_text([], BackOff(), note))
    lock = SchedulerLock(loop_lock(Loop.PLOTTING, tmp_path).path)
    assert lock.acquire()
    lock.release()  # the loop ended: its lock is free, its state file stays

    report = loop_report(Loop.PLOTTING, data=tmp_path)

    assert report.holder is None and report.reason is None


def test_the_archiving_loops_free_space_samples_round_trip(held: Path) -> None:
    sample = TargetSpace(
        target="farmer",
        free_bytes={"/a": 123, "/b": None},
        dir_problems={"/b": "no such dir"},
        problem=None,
        checked_at=1_800_000_000.5,
        reachable=True,
    )
    note = {"reason": "farmer: archive dirs full", "since": 2.0, "pid": os.getpid()}
    spaces = {"farmer": space_to_json(sample), "bad": {"free_bytes": {"/x": -1}}, "x": 3}
    write_state(held, Loop.ARCHIVING, {"version": 1, "note": note, "spaces": spaces})

    report = loop_report(Loop.ARCHIVING, data=held)

    assert report.reason == "farmer: archive dirs full"
    assert list(report.spaces) == ["farmer"]  # the bad samples cost themselves only
    found = report.spaces["farmer"]
    assert dict(found.free_bytes) == {"/a": 123, "/b": None}
    assert dict(found.dir_problems) == {"/b": "no such dir"}
    assert found.checked_at == sample.checked_at and found.reachable


@pytest.mark.parametrize(
    "sample",
    [
        None,
        [],
        {"free_bytes": {"/a": 1}},  # no checked_at
        {"free_bytes": {"/a": True}, "checked_at": 1.0},
        {"free_bytes": {"/a": "1"}, "checked_at": 1.0},
        {"free_bytes": {}, "dir_problems": {"/a": 5}, "checked_at": 1.0},
        {"free_bytes": {}, "problem": 5, "checked_at": 1.0},
        {"free_bytes": {}, "checked_at": float("inf")},
        {"free_bytes": {}, "checked_at": 1.0, "reachable": "yes"},
    ],
)
def test_a_bad_space_sample_is_none(sample: object) -> None:
    assert space_from_json("farmer", sample) is None


@pytest.mark.parametrize(
    "content",
    ["{not json", "[1]", json.dumps({"note": {"reason": 5, "since": 1, "pid": 1}})],
)
def test_a_bad_state_file_is_a_problem_or_no_reason_never_a_raise(held: Path, content: str) -> None:
    state_path(Loop.PLOTTING, held).write_text(content)
    report = loop_report(Loop.PLOTTING, data=held)
    assert report.holder_pid == os.getpid() and report.reason is None


def test_a_fifo_state_file_is_a_problem_not_a_hang(held: Path) -> None:
    os.mkfifo(state_path(Loop.ARCHIVING, held))
    report = loop_report(Loop.ARCHIVING, data=held)
    assert report.problem is not None and "not a regular file" in report.problem


def test_a_lock_that_cannot_be_read_is_a_problem(tmp_path: Path) -> None:
    loop_lock(Loop.PLOTTING, tmp_path).path.mkdir()
    report = loop_report(Loop.PLOTTING, data=tmp_path)
    assert report.holder is None and report.problem is not None
    assert "scheduler.lock" in report.problem


def test_the_note_changes_only_when_its_reason_does() -> None:
    notes = NoteKeeper()
    notes.say("stagger (20s/1800s)", 10.0)
    notes.say("stagger (21s/1800s)", 11.0)  # a countdown is the same reason
    same = notes.note
    notes.say("max jobs (4)", 12.0)

    assert same is not None and (same.reason, same.since) == ("stagger (20s/1800s)", 10.0)
    changed = notes.note
    assert changed is not None and (changed.reason, changed.since) == ("max jobs (4)", 12.0)
    assert LoopNote.from_json(changed.to_json()) == changed
    assert LoopNote.from_json({"reason": "x", "since": True, "pid": 1}) is None
