"""Free space with a time limit (a hung mount costs its dir, never the whole pass), and finished
plots counted as the archiver sees them."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plotman_tui.farm import dirs
from plotman_tui.farm.dirs import DirInfo, inspect_dir, inspect_dir_within


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


def test_only_regular_plot_files_count_as_finished_plots(tmp_path: Path) -> None:
    """A symlink to a plot elsewhere is not a plot the archiver will move from here; nor is a
    dir, a FIFO or a dangling link named like one."""
    dst, elsewhere = tmp_path / "dst", tmp_path / "elsewhere"
    dst.mkdir()
    elsewhere.mkdir()
    (dst / "plot-k32-a.plot").write_bytes(b"p" * 100)
    (elsewhere / "plot-k32-b.plot").write_bytes(b"q" * 5000)
    (dst / "plot-k32-b.plot").symlink_to(elsewhere / "plot-k32-b.plot")
    (dst / "plot-k32-c.plot").symlink_to(elsewhere / "gone.plot")
    (dst / "plot-k32-d.plot").mkdir()
    os.mkfifo(dst / "plot-k32-e.plot")
    info = inspect_dir(dst, count_plots=True)
    assert (info.plots, info.plot_bytes, info.error) == (1, 100, None)


def test_a_plot_moved_away_while_the_dir_is_listed_costs_only_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The archiver moves plots out of dst dirs while they are counted: a plot gone between the
    listing and its stat is not counted, and the dir's other plots and free space still are."""
    for name in ("plot-k32-a.plot", "plot-k32-b.plot"):
        (tmp_path / name).write_bytes(b"p" * 100)
    real_scandir = os.scandir

    @contextlib.contextmanager
    def scandir_racing_the_archiver(path: str) -> Iterator[Iterator[os.DirEntry[str]]]:
        with real_scandir(path) as entries:
            listed = list(entries)
        (tmp_path / "plot-k32-a.plot").unlink()  # moved away after the listing
        yield iter(listed)

    monkeypatch.setattr(dirs.os, "scandir", scandir_racing_the_archiver)
    info = inspect_dir(tmp_path, count_plots=True)
    assert (info.plots, info.plot_bytes, info.error) == (1, 100, None)
    assert info.free_bytes is not None
