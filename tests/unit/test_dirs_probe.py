"""Free space with a time limit: a hung mount costs its dir, never the whole pass."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from plotman_tui.farm import dirs
from plotman_tui.farm.dirs import DirInfo, inspect_dir_within


def test_a_dir_that_answers_gives_its_free_space(tmp_path: Path) -> None:
    info = inspect_dir_within(tmp_path, 5)
    assert info.error is None and info.free_bytes is not None and info.free_bytes > 0
    assert inspect_dir_within(tmp_path / "unplugged", 5).error == "missing"


def test_a_dir_that_does_not_answer_is_unknown_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hung NFS mount cannot be made in a test: stand in for its statvfs with one that blocks.
    release = threading.Event()
    calls = []

    def hung(path: str, *, count_plots: bool = False) -> DirInfo:
        calls.append(path)
        release.wait(10)
        return DirInfo(path=path, free_bytes=1)

    monkeypatch.setattr(dirs, "inspect_dir", hung)
    started = time.monotonic()
    info = inspect_dir_within(tmp_path, 0.2)
    assert 0.15 < time.monotonic() - started < 2
    assert info.free_bytes is None and info.error == "no answer within 0.2 s (a hung mount?)"
    # While the first probe hangs, no second thread is stuck on the same dir.
    assert inspect_dir_within(tmp_path, 0.1).error is not None
    assert calls == [str(tmp_path)]
    release.set()
