"""The fleet's words for a host (fleet/summary.py): pure, views in, text out."""

from __future__ import annotations

from pathlib import Path

import pytest

from plotman_tui.config.schema import Config, DirectoriesConfig, LoggingConfig
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.fleet.model import HostConfig, HostStatus, HostView, LoopState
from plotman_tui.fleet.summary import (
    fleet_jobs,
    host_line,
    loop_text,
    phase_counts_text,
    problems_text,
    state_text,
)
from plotman_tui.plotters.phase import Phase

NOW = 1_700_000_000.0
GIB = 1024**3


def job(pid: int, phase: Phase | None, *, problems: tuple[str, ...] = ()) -> Job:
    return Job(
        pid=pid,
        plotter="chia",
        argv=("chia",),
        cwd="/",
        started_at=NOW - 60,
        wall_seconds=60.0,
        status=JobStatus.RUN,
        plot_id=f"{pid:08d}" + "a" * 56,
        phase=phase,
        problems=problems,
    )


def config() -> HostConfig:
    parsed = Config(
        logging=LoggingConfig(plots=Path("/logs")),
        directories=DirectoriesConfig(
            tmp=(Path("/t/0"), Path("/t/1")), tmp2=Path("/t2"), dst=(Path("/d/0"),)
        ),
    )
    return HostConfig(path="/etc/plotman.toml", text="", home="/root", config=parsed)


def test_an_up_host_reads_as_its_jobs_by_phase_its_free_space_and_its_loops() -> None:
    view = HostView(
        name="rig1",
        address="plotter@10.0.0.2:22",
        status=HostStatus.UP,
        jobs=(job(1, Phase(1, 3)), job(2, Phase(1, 5)), job(3, Phase(3, 2)), job(4, None)),
        # /t/0 and /t/1 on one disk (same size, same free): counted once; /t2 another disk.
        dirs=(
            DirInfo("/t/0", total_bytes=100 * GIB, free_bytes=40 * GIB),
            DirInfo("/t/1", total_bytes=100 * GIB, free_bytes=40 * GIB),
            DirInfo("/t2", total_bytes=50 * GIB, free_bytes=10 * GIB),
            DirInfo("/d/0", total_bytes=1000 * GIB, free_bytes=500 * GIB),
            DirInfo("/elsewhere", total_bytes=1, free_bytes=1),
        ),
        plotting=LoopState(holder="pid 42", reason="waiting for stagger"),
        archiving=LoopState(configured=False),
        plots_today=7,
        config=config(),
    )
    line = host_line(view, NOW)
    assert (line.name, line.state, line.jobs) == ("rig1", "up", 4)
    assert line.phases == "1:2 2:0 3:1 4:0 ?:1"
    assert (line.tmp_free, line.dst_free) == ("50.0 GiB", "500 GiB")
    assert line.plots_today == "7"
    assert line.plotting == "active: waiting for stagger"
    assert line.archiving == "not set up"
    assert line.problems == "-"


def test_a_host_without_its_config_shows_no_free_space_rather_than_a_wrong_sum() -> None:
    view = HostView(name="rig", address="a", dirs=(DirInfo("/t/0", 10, 5),))
    line = host_line(view, NOW)
    assert (line.tmp_free, line.dst_free, line.plots_today) == ("-", "-", "-")
    assert line.state == "connecting"


def test_down_and_failed_hosts_say_why_and_how_long_down_hosts_have_been_silent() -> None:
    down = HostView(
        name="rig",
        address="a",
        status=HostStatus.DOWN,
        problem="plotter unreachable: 10.0.0.2:22 refused the connection",
        news_at=NOW - 150,
    )
    assert state_text(down, NOW) == (
        "down 2m: plotter unreachable: 10.0.0.2:22 refused the connection"
    )
    never = HostView(name="rig", address="a", status=HostStatus.DOWN, problem="no answer")
    assert state_text(never, NOW) == "down: no answer"
    failed = HostView(
        name="rig", address="a", status=HostStatus.FAILED, problem="line one\nline\x1b[2J two"
    )
    assert state_text(failed, NOW) == "failed: line one line␛[2J two"


def test_phase_counts_show_the_four_phases_always_and_odd_ones_only_when_a_job_is_there() -> None:
    assert phase_counts_text([]) == "1:0 2:0 3:0 4:0"
    assert phase_counts_text([job(1, Phase(0, 0)), job(2, Phase(5, 1))]) == (
        "0:1 1:0 2:0 3:0 4:0 5:1"
    )


def test_loop_words() -> None:
    assert loop_text(LoopState()) == "no loop"
    assert loop_text(LoopState(holder="pid 1", paused=True, paused_by="cli at 10:02")) == (
        "paused (cli at 10:02)"
    )
    assert loop_text(LoopState(paused=True)) == "paused"
    assert loop_text(LoopState(holder="pid 1")) == "active"


def test_problems_count_the_scan_and_the_jobs_and_show_the_first() -> None:
    view = HostView(
        name="rig",
        address="a",
        problems=("log dir /logs: missing, so no job's phase is known",),
        jobs=(job(9, None, problems=("cannot read log",)),),
    )
    assert problems_text(view) == (
        "2 problems, first: log dir /logs: missing, so no job's phase is known"
    )
    one = HostView(name="rig", address="a", jobs=(job(9, None, problems=("cannot read",)),))
    assert problems_text(one) == "00000009 (pid 9): cannot read"


def test_fleet_jobs_name_their_host_and_leave_out_hosts_that_are_not_up() -> None:
    up = HostView(name="a", address="x", status=HostStatus.UP, jobs=(job(1, None), job(2, None)))
    down = HostView(name="b", address="y", status=HostStatus.DOWN, jobs=(job(3, None),))
    assert [(host, j.pid) for host, j in fleet_jobs([up, down])] == [("a", 1), ("a", 2)]
    assert [(host, j.pid) for host, j in fleet_jobs([up, down], stale=True)][-1] == ("b", 3)


# -- the client's and control's readings of what a host sent (pure parts) ------------------------


def test_how_a_watch_ended_is_told_in_one_line_with_what_to_do() -> None:
    from plotman_tui.fleet.client import ended_problem

    old = "usage: plotman-tui\nplotman-tui: error: argument command: invalid choice: 'watch'"
    assert ended_problem("rig", "plotman-tui", 2, old).problem == (
        "the plotman-tui on rig has no `watch` (it is older than the fleet): upgrade it"
    )
    missing = ended_problem("rig", "/opt/pt", 127, "bash: line 1: /opt/pt: No such file")
    assert missing.status is HostStatus.FAILED
    assert missing.problem.startswith("`/opt/pt` not found on rig: set command in its")
    config = ended_problem("rig", "pt", 2, "plotman-tui: config file /x.toml does not exist\n")
    assert config.problem == (
        "plotman-tui on rig cannot watch: plotman-tui: config file /x.toml does not exist"
    )
    assert ended_problem("rig", "pt", None, "").status is HostStatus.DOWN
    assert ended_problem("rig", "pt", 0, "").status is HostStatus.DOWN
    crashed = ended_problem("rig", "pt", 1, "Traceback\nKeyError: 'x'\n")
    assert (crashed.status, crashed.problem) == (
        HostStatus.FAILED,
        "its watch ended (exit status 1): KeyError: 'x'",
    )


async def test_lines_are_capped_and_a_silent_stream_is_told() -> None:
    import asyncio

    from plotman_tui.fleet.client import _Lines, _LineTooLong, _Silent

    class Chunks:
        def __init__(self, *chunks: bytes, then_hang: bool = False) -> None:
            self.chunks = list(chunks)
            self.then_hang = then_hang

        async def read(self, n: int = -1) -> bytes:
            if self.chunks:
                return self.chunks.pop(0)
            if self.then_hang:
                await asyncio.Event().wait()
            return b""

    lines = _Lines(Chunks(b'{"a"', b":1}\nsecond\nlast"), 100, 5.0)
    assert [await lines.next() for _ in range(4)] == [b'{"a":1}', b"second", b"last", None]
    with pytest.raises(_LineTooLong):
        await _Lines(Chunks(b"x" * 60, b"y" * 60), 100, 5.0).next()
    with pytest.raises(_Silent):
        await _Lines(Chunks(b"half a li", then_hang=True), 100, 0.05).next()


def test_files_json_is_read_for_exactly_that_job_and_garbage_is_refused() -> None:
    import json

    from plotman_tui.fleet.control import job_ref, parse_files

    mine = job(7, None)
    assert job_ref(mine) == f"pid:7@{NOW - 60:.3f}"
    answer = {
        "jobs": [
            {"pid": 7, "started_at": NOW - 999, "tmp_files": []},  # an older job with the pid
            {
                "pid": 7,
                "started_at": NOW - 60,
                "tmp_files": [
                    {"path": "/t/a.tmp", "size_bytes": 10},
                    {"path": "/t/b", "size_bytes": 5},
                ],
            },
        ]
    }
    files = parse_files(json.dumps(answer), mine)
    assert (len(files.files), files.total_bytes, files.problem) == (2, 15, None)
    for bad in ("", "[]", '{"jobs": [{"pid": 7, "started_at": "x"}]}', "NaN"):
        with pytest.raises(ValueError):
            parse_files(bad, mine)
    evil = {"jobs": [{"pid": 7, "started_at": NOW - 60, "tmp_files": [{"path": 1}]}]}
    with pytest.raises(ValueError, match="not a path and a size"):
        parse_files(json.dumps(evil), mine)


def test_fleet_status_text_and_json_show_each_host_its_why_and_the_jobs_of_hosts_up() -> None:
    from plotman_tui.fleet.status import fleet_to_json, render_fleet

    up = HostView(
        name="rig1",
        address="p@h:22",
        status=HostStatus.UP,
        jobs=(job(11, Phase(2, 1)),),
        config=config(),
        dirs=(DirInfo("/t/0", total_bytes=10 * GIB, free_bytes=4 * GIB),),
    )
    down = HostView(
        name="rig2",
        address="p@g:22",
        status=HostStatus.DOWN,
        problem="plotter unreachable: g:22 refused the connection",
        news_at=NOW - 30,
        jobs=(job(12, Phase(1, 1)),),  # from before it went down: not shown
    )
    lines = render_fleet([up, down], NOW, 200).splitlines()
    assert lines[0].split() == [
        "host", "state", "jobs", "phases", "today", "tmp", "free", "dst", "free", "plotting",
        "archiving",
    ]  # fmt: skip
    assert lines[1].split()[:4] == ["rig1", "up", "1", "1:0"]
    assert lines[2].split()[:4] == ["rig2", "down", "30s", "-"]
    assert "! rig2: plotter unreachable: g:22 refused the connection" in lines
    (row,) = [line for line in lines if line.startswith("rig1 ") and "00000011" in line]
    assert "2:1" in row.split()
    assert not [line for line in lines if "00000012" in line]
    assert lines[-1] == "Total jobs: 1 on 1 of 2 hosts; phases: 1:0 2:1 3:0 4:0"

    data = fleet_to_json([up, down], NOW)
    assert [(h["name"], h["status"], h["jobs"]) for h in data["hosts"]] == [
        ("rig1", "up", 1),
        ("rig2", "down", None),
    ]
    assert data["hosts"][0]["tmp_free_bytes"] == 4 * GIB
    assert data["hosts"][1]["problem"].startswith("plotter unreachable")
    assert [(j["host"], j["pid"], j["phase"]) for j in data["jobs"]] == [("rig1", 11, "2:1")]


def test_ssh_hint_is_the_line_a_farmer_types_to_reach_the_host_as_the_fleet_does() -> None:
    from pathlib import Path

    from plotman_tui.config.schema import FleetHost
    from plotman_tui.fleet.summary import ssh_hint

    plain = FleetHost(name="rig", host="10.0.0.12")
    assert ssh_hint(plain, "history") == "ssh 10.0.0.12 plotman-tui history"
    odd = FleetHost(
        name="rig",
        host="rig.lan",
        port=2222,
        user="chia",
        identity_file=Path("/home/me/my keys/rig"),
        command="~/venv/bin/plotman-tui --config ~/rig.toml",
    )
    assert ssh_hint(odd, "analyze") == (
        "ssh -p 2222 -i '/home/me/my keys/rig' chia@rig.lan "
        "~/venv/bin/plotman-tui --config ~/rig.toml analyze"
    )
