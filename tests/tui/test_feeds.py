"""The dashboard's data sources, called directly (they run in worker threads in the app)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.engine import PassResult, PlottingEngine
from plotman_tui.farm.model import Job, Snapshot
from plotman_tui.farm.scheduler import Wait
from plotman_tui.plotters.base import LineSplitter
from plotman_tui.plotters.phase import Phase
from plotman_tui.tui.feeds import ActionLogFeed, DirFeed, LogTail, PlottingFeed
from tests.tui.farmdata import farm_config, make_job


class StubScanner:
    """Moves the jobs whose log is named on to the next phase; records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Job, ...], set[str]]] = []

    def update_logs(self, jobs: Sequence[Job], paths: Iterable[str]) -> tuple[Job, ...] | None:
        named = set(paths)
        self.calls.append((tuple(jobs), named))
        if not any(job.log_file in named for job in jobs):
            return None
        return tuple(
            replace(job, phase=Phase(1, job.phase.minor + 1))
            if job.log_file in named and job.phase
            else job
            for job in jobs
        )


class StubEngine:
    """Records the passes asked for; the feed's cadence is what is under test."""

    def __init__(self) -> None:
        self.config = farm_config(polling_time_s=20)
        self.plotting_enabled = True
        self.passes: list[tuple[bool, bool]] = []
        self.closed = 0
        self.jobs: tuple[Any, ...] = ()
        self.scanner = StubScanner()

    def step(self, *, schedule: bool) -> PassResult:
        self.passes.append((schedule, self.plotting_enabled))
        decision = Wait("plotting is paused") if schedule and not self.plotting_enabled else None
        return PassResult(0.0, Snapshot(self.jobs, 0.0), decision, None, (), True)

    def close(self) -> None:
        self.closed += 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plotting_feed_looks_every_time_and_schedules_every_polling_time() -> None:
    engine, clock = StubEngine(), Clock()
    feed = PlottingFeed(
        cast(PlottingEngine, engine), plotting_enabled=True, configured_dirs=[], clock=clock
    )
    for step in range(45):
        clock.now = 100.0 + step  # a look a second
        message = feed.read()
        assert message is not None and message.scheduled == engine.passes[-1][0]
    scheduled = [i for i, (schedule, _) in enumerate(engine.passes) if schedule]
    assert scheduled == [0, 20, 40]


def test_plotting_feed_applies_the_pause_switch_on_the_next_pass_and_schedules_it() -> None:
    engine, clock = StubEngine(), Clock()
    feed = PlottingFeed(
        cast(PlottingEngine, engine), plotting_enabled=False, configured_dirs=[], clock=clock
    )
    feed.read()
    assert engine.passes == [(True, False)]
    clock.now += 1
    feed.read()
    feed.set_plotting(True)
    clock.now += 1
    feed.read()
    assert engine.passes[1:] == [(False, False), (True, True)]


def test_plotting_feed_closes_once_and_then_runs_no_pass() -> None:
    engine = StubEngine()
    feed = PlottingFeed(cast(PlottingEngine, engine), plotting_enabled=True, configured_dirs=[])
    feed.close()
    feed.close()
    assert engine.closed == 1
    assert feed.read() is None and engine.passes == []


def test_plotting_feed_maps_job_dirs_reached_through_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "tmp0"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    engine = StubEngine()
    engine.jobs = (replace(make_job(1, age_s=5, phase=None), tmp_dir=str(link)),)
    feed = PlottingFeed(
        cast(PlottingEngine, engine), plotting_enabled=True, configured_dirs=[str(real)]
    )
    message = feed.read()
    assert message is not None
    assert message.dir_of == {str(link): str(real)}


def test_plotting_feed_reads_logs_into_the_latest_jobs_and_numbers_its_news() -> None:
    engine = StubEngine()
    job = replace(make_job(1, age_s=5, phase=Phase(1, 1)), log_file="/logs/a.log")
    engine.jobs = (job, make_job(2, age_s=9, phase=Phase(2, 1)))
    feed = PlottingFeed(cast(PlottingEngine, engine), plotting_enabled=True, configured_dirs=[])
    assert feed.read_logs(["/logs/a.log"]) is None  # no pass yet: no jobs to bring up to date
    assert engine.scanner.calls == []
    passed = feed.read()
    assert passed is not None

    first = feed.read_logs(["/logs/a.log"])
    second = feed.read_logs(["/logs/a.log", "/logs/other.log"])

    assert first is not None and second is not None
    assert [j.phase for j in first.jobs] == [Phase(1, 2), Phase(2, 1)]
    assert [j.phase for j in second.jobs] == [Phase(1, 3), Phase(2, 1)]  # on the first's jobs
    assert passed.sequence < first.sequence < second.sequence
    assert feed.read_logs(["/logs/other.log"]) is None  # no job's log: nothing changed
    later = feed.read()
    assert later is not None and later.sequence > second.sequence
    feed.close()
    calls = len(engine.scanner.calls)
    assert feed.read_logs(["/logs/a.log"]) is None and len(engine.scanner.calls) == calls


def test_dir_feed_counts_plots_in_dst_dirs_only(tmp_path: Path) -> None:
    tmp, dst = tmp_path / "tmp", tmp_path / "dst"
    tmp.mkdir()
    dst.mkdir()
    (tmp / "a.plot").write_bytes(b"x")
    (dst / "b.plot").write_bytes(b"xy")
    message = DirFeed([str(tmp), str(tmp_path / "gone")], [str(dst)]).read()
    infos = {info.path: info for info in message.dirs}
    assert infos[str(tmp)].plots == 0 and infos[str(tmp)].free_bytes
    assert infos[str(dst)].plots == 1 and infos[str(dst)].plot_bytes == 2
    assert infos[str(tmp_path / "gone")].error == "missing"


def test_action_log_feed_delivers_each_entry_once_and_reads_only_after_a_change(
    tmp_path: Path,
) -> None:
    times = iter([10.0, 20.0, 20.0, 15.0])  # the last stamped before the one written first
    log = ActionLog(tmp_path / "actions.jsonl", clock=lambda: next(times))
    feed = ActionLogFeed(log, keep=5)
    assert feed.read() is None  # no log yet
    log.record("start", pid=1)
    first = feed.read()
    assert first is not None and [e.pid for e in first.entries] == [1]
    assert feed.read() is None  # unchanged: not read again
    log.record("suspend", pid=2)
    log.record("resume", pid=3)
    log.record("kill", pid=4)
    later = feed.read()
    assert later is not None and [e.pid for e in later.entries] == [2, 3, 4]


def test_action_log_feed_starts_with_the_newest_entries(tmp_path: Path) -> None:
    log = ActionLog(tmp_path / "actions.jsonl")
    for pid in range(10):
        log.record("start", pid=pid)
    message = ActionLogFeed(log, keep=3).read()
    assert message is not None and [e.pid for e in message.entries] == [7, 8, 9]


def test_log_tail_reads_the_end_then_each_new_line(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    path.write_text("".join(f"line {n}\n" for n in range(1000)))
    tail = LogTail(str(path), lines=5)
    first = tail.read()
    assert first is not None and first.reset
    assert first.lines == tuple(f"line {n}" for n in range(995, 1000))
    assert tail.read() is None
    with open(path, "a") as handle:
        handle.write("line 1000\nhalf a li")
    more = tail.read()
    assert more is not None and not more.reset and more.lines == ("line 1000",)
    with open(path, "a") as handle:
        handle.write("ne\n")
    rest = tail.read()
    assert rest is not None and rest.lines == ("half a line",)
    os.unlink(path)
    path.write_text("new log\n")
    again = tail.read()
    assert again is not None and again.reset and again.lines == ("new log",)


def test_log_tail_reads_lines_as_the_log_parsers_do(tmp_path: Path, fixtures_dir: Path) -> None:
    """A real chia log, written in chunks that cut a colour code, a CRLF and a UTF-8 character:
    the tail shows the lines the parsers read (colours gone, a lone CR ends a line)."""
    real = (fixtures_dir / "plotter-logs" / "chianetwork.plot.log").read_bytes()
    head = b"".join(real.splitlines(keepends=True)[:3])
    tail_text = "progress 10%\rprogress 20%\r\nphase 1 \u2713 done\r\n".encode()
    path = tmp_path / "job.log"
    path.write_bytes(b"")
    tail = LogTail(str(path))
    assert tail.read() is not None  # the (empty) start
    shown: list[str] = []
    data = head + tail_text
    cuts = [head.index(b"\x1b[32m") + 2, len(head) + 23, len(data) - 9, len(data) - 1]
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        with open(path, "ab") as handle:
            handle.write(data[start:end])
        read = tail.read()
        if read is not None:
            shown += read.lines
    expected = LineSplitter().feed(data)
    assert shown == expected
    assert shown[0].startswith("2021-07-14T22:33:24.969  chia.plotting.create_plots       : INFO")
    assert not any("\x1b" in line or "\r" in line for line in shown)
    assert shown[-3:] == ["progress 10%", "progress 20%", "phase 1 \u2713 done"]


def test_log_tail_says_once_why_it_cannot_read(tmp_path: Path) -> None:
    tail = LogTail(str(tmp_path / "missing.log"))
    first = tail.read()
    assert first is not None and "cannot read the log" in first.lines[0]
    assert tail.read() is None
