"""The fleet's wire format: round trips, a hostile host's lines, and the reducer."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plotman_tui.dirview import ArchiveRow
from plotman_tui.farm.actionlog import ActionEntry
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.eta import Estimate
from plotman_tui.farm.model import Job, JobStatus, TempFile
from plotman_tui.fleet.model import ACTIONS_KEPT, PROTOCOL, HostStatus, HostView, LoopState
from plotman_tui.fleet.wire import (
    MAX_LINE_BYTES,
    ActionsMessage,
    Beat,
    DirsMessage,
    Hello,
    JobsMessage,
    SnapshotMessage,
    StateMessage,
    WireConfig,
    WireError,
    apply,
    decode_line,
    encode_actions,
    encode_beat,
    encode_dirs,
    encode_error,
    encode_hello,
    encode_jobs,
    encode_snapshot,
    encode_state,
    estimate_to_wire,
    job_delta,
    job_key,
    job_to_wire,
)
from plotman_tui.plotters.phase import Phase

CONFIG_TEXT = """\
[logging]
plots = "~/plots/logs"
[directories]
tmp = ["~/tmp0"]
[plotting]
type = "chia"
"""

texts = st.text(max_size=20)
optional_texts = st.none() | texts
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
optional_times = st.none() | times
counts = st.integers(min_value=0, max_value=2**62)
optional_counts = st.none() | counts

jobs = st.builds(
    Job,
    pid=st.integers(min_value=1, max_value=4_194_304),
    plotter=st.sampled_from(["chia", "madmax", "bladebit"]),
    argv=st.lists(texts, max_size=4).map(tuple),
    cwd=optional_texts,
    started_at=times,
    wall_seconds=times,
    status=st.sampled_from(list(JobStatus)),
    plot_id=optional_texts,
    k=st.none() | st.integers(min_value=18, max_value=34),
    tmp_dir=optional_texts,
    tmp2_dir=optional_texts,
    dst_dir=optional_texts,
    threads=optional_counts,
    buckets=optional_counts,
    buffer_mib=optional_counts,
    compression=st.none() | st.integers(min_value=0, max_value=33),
    phase=st.none()
    | st.builds(
        Phase, st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=9)
    ),
    phase_seconds=st.lists(st.tuples(st.integers(min_value=1, max_value=4), times), max_size=4).map(
        tuple
    ),
    total_seconds=optional_times,
    copy_seconds=optional_times,
    final_file=optional_texts,
    completed=st.booleans(),
    log_file=optional_texts,
    tmp_files=st.lists(st.builds(TempFile, texts, counts), max_size=3).map(tuple),
    tmp_usage_bytes=optional_counts,
    mem_rss_bytes=optional_counts,
    mem_vms_bytes=optional_counts,
    user_seconds=optional_times,
    sys_seconds=optional_times,
    iowait_seconds=optional_times,
    problems=st.lists(texts, max_size=2).map(tuple),
    plot_started_at=optional_times,
)

estimates = st.builds(
    Estimate,
    progress=st.none() | st.floats(min_value=0.0, max_value=1.0),
    eta_seconds=st.none() | st.floats(min_value=0.0, max_value=4e7),
    basis=st.integers(min_value=0, max_value=10_000),
    same_tmp=st.booleans(),
    late=st.booleans(),
)

PHASE_1_2 = Phase(1, 2)
AN_ESTIMATE = Estimate(progress=0.4217, eta_seconds=5400.5, basis=3, same_tmp=True)


def a_job(pid: int = 100, started_at: float = 1000.0, phase: Phase | None = PHASE_1_2) -> Job:
    return Job(
        pid=pid,
        plotter="chia",
        argv=("chia", "plots", "create", "-k", "32"),
        cwd="/home/farmer",
        started_at=started_at,
        wall_seconds=60.25,
        status=JobStatus.RUN,
        plot_id="ab" * 32,
        k=32,
        tmp_dir="/t0",
        phase=phase,
        phase_seconds=((1, 3600.5),),
        tmp_files=(TempFile("/t0/plot-ab.tmp", 1234),),
        problems=("one problem",),
    )


def snapshot_line(
    *,
    jobs_sent: tuple[Job, ...] = (),
    text: str = CONFIG_TEXT,
    home: str = "/home/far",
    estimated: dict[str, Estimate] | None = None,
) -> str:
    return encode_snapshot(
        10.0,
        jobs=jobs_sent,
        problems=("log dir missing",),
        dirs=(DirInfo("/t0", 100, 50, plot_levels=((0, 1),)),),
        dir_of={"/t0": "/t0"},
        dirs_taken_at=9.5,
        plotting=LoopState(holder="pid 4242", reason="waiting"),
        archiving=LoopState(configured=False),
        archive_rows=(ArchiveRow("k", "nas", "/a", 10, "", "ok"),),
        actions=tuple(ActionEntry(float(n), "start", pid=n) for n in range(ACTIONS_KEPT + 5)),
        plots_today=3,
        config=WireConfig("/home/far/.config/plotman-tui/config.toml", text, home),
        estimates=estimated,
    )


@functools.cache
def up_view(*jobs_sent: Job) -> HostView:
    """A host view after its snapshot (made once: views are frozen)."""
    view = HostView(name="far", address="far@example:22")
    return apply(view, decode_line(snapshot_line(jobs_sent=jobs_sent)), 100.0)


# -- round trips ----------------------------------------------------------------------------------


@given(jobs)
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_a_job_round_trips_exactly(job: Job) -> None:
    line = encode_jobs(1.0, changed=[job_to_wire(job)], gone=[job_key(job)], problems=[])
    message = decode_line(line)
    assert isinstance(message, JobsMessage)
    assert message.changed == (job,)
    assert message.gone == (job_key(job),)


@given(jobs, estimates)
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_a_job_with_its_estimate_round_trips_exactly(job: Job, estimate: Estimate) -> None:
    line = encode_jobs(1.0, changed=[job_to_wire(job, estimate)], gone=[], problems=[])
    message = decode_line(line)
    assert isinstance(message, JobsMessage)
    assert message.changed == (job,)
    assert dict(message.estimates) == {job_key(job): estimate}


def test_an_estimate_out_of_range_is_refused_and_one_the_watch_cannot_hold_goes_unknown() -> None:
    assert "'progress'" in refused(
        job_line(estimate={**estimate_to_wire(AN_ESTIMATE), "progress": 1.5})
    )
    assert "'eta_seconds'" in refused(
        job_line(estimate={**estimate_to_wire(AN_ESTIMATE), "eta_seconds": -1})
    )
    assert "'basis'" in refused(job_line(estimate={**estimate_to_wire(AN_ESTIMATE), "basis": "3"}))
    assert "estimate: not a JSON object" in refused(job_line(estimate=[0.5]))
    broken = Estimate(progress=float("nan"), eta_seconds=float("inf"), basis=2)
    message = decode_line(
        encode_jobs(1.0, changed=[job_to_wire(a_job(), broken)], gone=[], problems=[])
    )
    assert isinstance(message, JobsMessage)
    assert message.estimates[job_key(a_job())] == Estimate(None, None, 2)


def test_an_older_watchs_jobs_without_estimates_and_a_newer_ones_fields_both_decode() -> None:
    """A watch may send no estimate (no estimate: "-"), and an
    older client reads only the fields it knows, so a later addition is ignored the same way."""
    message = decode_line(job_line())
    assert isinstance(message, JobsMessage) and message.changed == (a_job(),)
    assert dict(message.estimates) == {}
    snapshot = decode_line(snapshot_line(jobs_sent=(a_job(),)))
    assert isinstance(snapshot, SnapshotMessage) and dict(snapshot.estimates) == {}
    later = json.loads(job_line(estimate=None, cpu_model="EPYC"))
    later["hint"] = {"anything": [1, 2]}
    message = decode_line(json.dumps(later))
    assert isinstance(message, JobsMessage) and message.changed == (a_job(),)
    assert dict(message.estimates) == {}


def test_a_non_utf8_file_name_round_trips_on_a_utf8_line() -> None:
    job = a_job()
    odd = Job(**{**job.__dict__, "log_file": "/logs/\udcffplot.log"})
    line = encode_jobs(1.0, changed=[job_to_wire(odd)], gone=[], problems=[])
    line.encode("utf-8")  # would raise for a raw lone surrogate
    message = decode_line(line.encode("utf-8"))
    assert isinstance(message, JobsMessage)
    assert message.changed == (odd,)


def test_every_message_round_trips() -> None:
    assert decode_line(encode_hello(1.0, "far", 42)) == Hello(
        1.0,
        PROTOCOL,
        decode_line(encode_hello(1.0, "x", 1)).version,
        "far",
        42,  # type: ignore[union-attr]
    )
    snapshot = decode_line(snapshot_line(jobs_sent=(a_job(),)))
    assert isinstance(snapshot, SnapshotMessage)
    assert snapshot.jobs == (a_job(),)
    assert len(snapshot.actions) == ACTIONS_KEPT
    assert snapshot.actions[-1].pid == ACTIONS_KEPT + 4
    assert snapshot.dirs == (DirInfo("/t0", 100, 50, plot_levels=((0, 1),)),)
    assert dict(snapshot.dir_of) == {"/t0": "/t0"}
    assert snapshot.plotting == LoopState(holder="pid 4242", reason="waiting")
    assert snapshot.archive_rows == (ArchiveRow("k", "nas", "/a", 10, "", "ok"),)
    assert snapshot.config.home == "/home/far"
    dirs = decode_line(
        encode_dirs(2.0, dirs=(DirInfo("/d", error="missing"),), dir_of={}, dirs_taken_at=None)
    )
    assert dirs == DirsMessage(2.0, (DirInfo("/d", error="missing"),), {}, None)
    state = decode_line(
        encode_state(
            3.0,
            plotting=LoopState(paused=True, paused_by="farmer at 10:00"),
            archiving=LoopState(),
            archive_rows=(),
            plots_today=None,
        )
    )
    assert state == StateMessage(
        3.0, LoopState(paused=True, paused_by="farmer at 10:00"), LoopState(), (), None
    )
    entry = ActionEntry(5.0, "kill", pid=3, argv=("a",), reason="asked", extra={"freed_bytes": 9})
    assert decode_line(encode_actions(4.0, [entry])) == ActionsMessage(4.0, (entry,))
    assert decode_line(encode_beat(5.0)) == Beat(5.0)
    assert decode_line(encode_error(6.0, "no log dir")).message == "no log dir"  # type: ignore[union-attr]


# -- a hostile host -------------------------------------------------------------------------------


def refused(line: str | bytes) -> str:
    with pytest.raises(WireError) as caught:
        decode_line(line)
    text = str(caught.value)
    assert "\n" not in text
    return text


def job_line(**changes: Any) -> str:
    data = job_to_wire(a_job())
    data.update(changes)
    return json.dumps({"type": "jobs", "time": 1, "changed": [data], "gone": [], "problems": []})


def test_wrong_lines_are_refused_with_what_is_wrong() -> None:
    assert "not a JSON line" in refused("{")
    assert "not a JSON object" in refused("[1]")
    assert "unknown type 'bogus'" in refused('{"type":"bogus","time":1}')
    assert "'time'" in refused('{"type":"beat","time":-1}')
    assert "not a number" in refused('{"type":"beat","time":NaN}')
    assert "out of range" in refused('{"type":"beat","time":1e999}')
    assert "'pid'" in refused(job_line(pid=-5))
    assert "'pid'" in refused(job_line(pid=True))
    assert "'status'" in refused(job_line(status=3))
    assert "no job status" in refused(job_line(status="EATING"))
    assert "'argv' must be a list" in refused(job_line(argv=None))
    no_argv = json.loads(job_line())
    del no_argv["changed"][0]["argv"]
    assert "no 'argv'" in refused(json.dumps(no_argv))
    assert "over 64 KiB" in refused(job_line(plotter="x" * (64 * 1024 + 1)))
    assert "phase" in refused(job_line(phase=[1]))
    assert "16 MiB" in refused(b" " * (MAX_LINE_BYTES + 1))
    assert "16 MiB" in refused(" " * (MAX_LINE_BYTES + 1))
    assert "16 MiB" in refused("é" * (MAX_LINE_BYTES // 2 + 1))  # bytes count, not characters
    assert "not a JSON line" in refused(b"\xff\xfe{")


def test_a_protocol_mismatch_says_what_to_do() -> None:
    hello = decode_line('{"type":"hello","time":1,"protocol":7}')
    with pytest.raises(
        WireError,
        match="speaks fleet protocol 7; this plotman-tui speaks 2: run the same version on both",
    ):
        apply(HostView("far", "far@x:22"), hello, 1.0)


valid_lines = [
    encode_hello(1.0, "far", 42),
    snapshot_line(jobs_sent=(a_job(),)),
    encode_jobs(2.0, changed=[job_to_wire(a_job())], gone=["1@2.000"], problems=["p"]),
    encode_jobs(2.0, changed=[job_to_wire(a_job(), AN_ESTIMATE)], gone=[], problems=[]),
    snapshot_line(jobs_sent=(a_job(),), estimated={job_key(a_job()): AN_ESTIMATE}),
    encode_state(3.0, plotting=LoopState(), archiving=LoopState(), archive_rows=(), plots_today=1),
    encode_actions(4.0, [ActionEntry(5.0, "kill", pid=3)]),
    encode_jobs(
        5.0,
        changed=[],
        updated=[{"key": job_key(a_job()), "phase": [2, 1], "estimate": None, "wall_seconds": 9}],
        gone=[],
        problems=[],
    ),
]


@given(st.binary(max_size=300))
@settings(deadline=None)
def test_random_bytes_raise_only_wire_error(data: bytes) -> None:
    with contextlib.suppress(WireError):
        decode_line(data)


@given(st.sampled_from(valid_lines), st.data())
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300, deadline=None)
def test_mutated_lines_raise_only_wire_error(line: str, data: st.DataObject) -> None:
    raw = bytearray(line.encode("utf-8"))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        if how == "flip":
            raw[at] = data.draw(st.sampled_from(b'0123456789"{}[],:-.etrufnalxE \\'))
        elif how == "cut":
            del raw[at : at + data.draw(st.integers(min_value=1, max_value=8))]
        else:
            raw[at:at] = data.draw(
                st.sampled_from([b"null", b"-1", b"1e308", b"[]", b"{}", b'"x"', b"true"])
            )
        if not raw:
            raw = bytearray(b"{")
    try:
        message = decode_line(bytes(raw))
    except WireError:
        return
    # What decodes must fold into a view without anything but WireError either.
    for view in (up_view(), up_view(a_job())):
        with contextlib.suppress(WireError):
            apply(view, message, 1.0)


@given(st.sampled_from(valid_lines), st.data())
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300, deadline=None)
def test_fields_of_the_wrong_type_raise_only_wire_error(line: str, data: st.DataObject) -> None:
    """Every field in turn replaced by a value of another JSON type, at every depth."""
    document = json.loads(line)
    paths: list[list[Any]] = []

    def walk(node: Any, path: list[Any]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append([*path, key])
                walk(value, [*path, key])
        elif isinstance(node, list):
            for index, value in enumerate(node):
                paths.append([*path, index])
                walk(value, [*path, index])

    walk(document, [])
    path = data.draw(st.sampled_from(paths))
    value = data.draw(
        st.sampled_from([None, True, -1, 2**70, 1.5, "", "x" * 70_000, [], {}, [None], {"a": 1}])
    )
    node = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    try:
        message = decode_line(json.dumps(document))
    except WireError:
        return
    for view in (up_view(), up_view(a_job())):
        with contextlib.suppress(WireError):
            apply(view, message, 1.0)


# -- the reducer ---------------------------------------------------------------------------------


def test_a_snapshot_then_deltas() -> None:
    first, second = a_job(pid=100, started_at=1000.0), a_job(pid=200, started_at=2000.0)
    view = HostView(name="far", address="far@example:22", status=HostStatus.CONNECTING)
    view = apply(view, decode_line(encode_hello(9.0, "farbox", 7)), 50.0)
    assert (view.hostname, view.status, view.news_at) == ("farbox", HostStatus.CONNECTING, 50.0)
    view = apply(view, decode_line(snapshot_line(jobs_sent=(first,))), 60.0)
    assert view.status is HostStatus.UP and view.problem is None
    assert view.jobs == (first,) and view.plots_today == 3
    assert view.problems == ("log dir missing",)
    assert len(view.actions) == ACTIONS_KEPT

    moved = a_job(pid=100, started_at=1000.0, phase=Phase(2, 1))
    jobs_line = encode_jobs(
        11.0, changed=[job_to_wire(moved), job_to_wire(second)], gone=[], problems=[]
    )
    view = apply(view, decode_line(jobs_line), 61.0)
    assert view.jobs == (second, moved)  # youngest first, as a scan lists them
    assert view.problems == () and view.news_at == 61.0

    view = apply(
        view, decode_line(encode_jobs(12.0, changed=[], gone=[job_key(moved)], problems=[])), 62.0
    )
    assert view.jobs == (second,)

    view = apply(view, decode_line(encode_dirs(13.0, dirs=(), dir_of={}, dirs_taken_at=13.0)), 63.0)
    assert view.dirs == () and view.dirs_taken_at == 13.0
    paused = LoopState(paused=True, paused_by="farmer")
    state = encode_state(
        14.0, plotting=paused, archiving=LoopState(), archive_rows=(), plots_today=4
    )
    view = apply(view, decode_line(state), 64.0)
    assert view.plotting == paused and view.plots_today == 4
    entry = ActionEntry(14.5, "suspend", pid=200)
    view = apply(view, decode_line(encode_actions(15.0, [entry])), 65.0)
    assert view.actions[-1] == entry and len(view.actions) == ACTIONS_KEPT
    view = apply(view, decode_line(encode_beat(16.0)), 66.0)
    assert view.news_at == 66.0 and view.status is HostStatus.UP
    view = apply(view, decode_line(encode_error(17.0, "log dir gone")), 67.0)
    assert view.status is HostStatus.FAILED and "log dir gone" in (view.problem or "")


def test_estimates_come_with_their_jobs_and_go_with_them() -> None:
    first, second = a_job(pid=100, started_at=1000.0), a_job(pid=200, started_at=2000.0)
    later = Estimate(progress=0.5, eta_seconds=4000.0, basis=3, same_tmp=True)
    line = snapshot_line(jobs_sent=(first, second), estimated={job_key(first): AN_ESTIMATE})
    view = apply(HostView(name="far", address="far@x:22"), decode_line(line), 60.0)
    assert dict(view.estimates) == {job_key(first): AN_ESTIMATE}

    # A changed job brings its estimate; one that comes without has none any more.
    changed = [job_to_wire(first), job_to_wire(second, later)]
    view = apply(view, decode_line(encode_jobs(11.0, changed=changed, gone=[], problems=[])), 61.0)
    assert dict(view.estimates) == {job_key(second): later}
    # A job that did not change keeps its estimate; a job gone takes its own away.
    view = apply(
        view,
        decode_line(
            encode_jobs(12.0, changed=[job_to_wire(first, AN_ESTIMATE)], gone=[], problems=[])
        ),
        62.0,
    )
    assert dict(view.estimates) == {job_key(first): AN_ESTIMATE, job_key(second): later}
    gone = encode_jobs(13.0, changed=[], gone=[job_key(second)], problems=[])
    view = apply(view, decode_line(gone), 63.0)
    assert dict(view.estimates) == {job_key(first): AN_ESTIMATE}
    # A new watch's snapshot says them all anew.
    view = apply(view, decode_line(snapshot_line(jobs_sent=(first,))), 64.0)
    assert dict(view.estimates) == {}


def test_a_delta_before_the_snapshot_is_refused() -> None:
    view = HostView(name="far", address="far@example:22")
    line = encode_jobs(1.0, changed=[], gone=[], problems=[])
    with pytest.raises(WireError, match="'jobs' line before the snapshot"):
        apply(view, decode_line(line), 1.0)


def test_the_host_config_is_read_with_the_hosts_home() -> None:
    view = up_view()
    assert view.config is not None and view.config.config is not None
    assert view.config.home == "/home/far"
    assert str(view.config.config.logging.plots) == "/home/far/plots/logs"
    assert [str(tmp) for tmp in view.config.config.directories.tmp] == ["/home/far/tmp0"]


def test_a_host_config_that_does_not_parse_is_a_problem_not_a_failure() -> None:
    line = snapshot_line(text="[logging\nplots = 1")
    view = apply(HostView("far", "far@x:22"), decode_line(line), 5.0)
    assert view.status is HostStatus.UP
    assert view.config is not None and view.config.config is None
    assert view.config.problem and "\n" not in view.config.problem


# -- deltas ---------------------------------------------------------------------------------------


@given(jobs, jobs, st.none() | estimates, st.none() | estimates)
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_a_jobs_delta_brings_the_job_and_its_estimate_as_they_are_now(
    before: Job, after: Job, estimate_before: Estimate | None, estimate_after: Estimate | None
) -> None:
    after = dataclasses.replace(after, pid=before.pid, started_at=before.started_at)
    key = job_key(before)
    sent, now = job_to_wire(before, estimate_before), job_to_wire(after, estimate_after)
    view = apply(up_view(), decode_line(encode_jobs(1.0, changed=[sent], gone=[], problems=[])), 2)
    delta = job_delta(key, sent, now)
    line = encode_jobs(3.0, changed=[], updated=[delta] if delta else [], gone=[], problems=[])
    view = apply(view, decode_line(line), 4.0)
    assert view.jobs == (after,)
    assert view.estimates.get(key) == estimate_after
    if delta is not None:  # only what changed went, under the job's key
        assert set(delta) - {"key"} == {name for name in now if sent.get(name) != now[name]} | (
            {"estimate"} if estimate_before is not None and estimate_after is None else set()
        )


def test_a_busy_jobs_delta_is_a_few_dozen_bytes_not_the_whole_job() -> None:
    job = dataclasses.replace(
        a_job(), tmp_files=tuple(TempFile(f"/t0/plot-{'ab' * 32}.t{n}.tmp", n) for n in range(99))
    )
    later = dataclasses.replace(job, wall_seconds=65.25, user_seconds=12.5, mem_rss_bytes=3 << 30)
    whole = encode_jobs(1.0, changed=[job_to_wire(later)], gone=[], problems=[])
    delta = job_delta(job_key(job), job_to_wire(job), job_to_wire(later))
    assert delta == {
        "key": job_key(job),
        "wall_seconds": 65.25,
        "user_seconds": 12.5,
        "mem_rss_bytes": 3 << 30,
    }
    assert len(encode_jobs(1.0, changed=[], updated=[delta], gone=[], problems=[])) < 200
    assert len(whole) > 9000


def test_an_update_of_a_job_never_sent_or_one_that_makes_it_another_is_refused() -> None:
    stray = encode_jobs(
        1.0, changed=[], updated=[{"key": "100@1000.000", "phase": [2, 1]}], gone=[], problems=[]
    )
    with pytest.raises(WireError, match="never sent whole"):
        apply(up_view(), decode_line(stray), 2.0)
    other = encode_jobs(
        1.0, changed=[], updated=[{"key": job_key(a_job()), "pid": 101}], gone=[], problems=[]
    )
    with pytest.raises(WireError, match="another job"):
        apply(up_view(a_job()), decode_line(other), 2.0)


def test_durations_below_zero_are_refused_and_a_watch_sends_them_as_zero() -> None:
    # A host's phase time of -1e12 s ended the dashboard's details screen (a review's find).
    assert "phase_seconds" in refused(job_line(phase_seconds=[[1, -5.0]]))
    assert "'user_seconds'" in refused(job_line(user_seconds=-1.0))
    assert "'wall_seconds'" in refused(job_line(wall_seconds=-1.0))
    stepped = dataclasses.replace(
        a_job(), phase_seconds=((1, -30.0),), user_seconds=-2.0, wall_seconds=-1.0
    )
    message = decode_line(encode_jobs(1.0, changed=[job_to_wire(stepped)], gone=[], problems=[]))
    assert isinstance(message, JobsMessage)
    (job,) = message.changed
    assert (job.phase_seconds, job.user_seconds, job.wall_seconds) == (((1, 0.0),), 0.0, 0.0)


def test_an_action_at_no_real_time_is_refused_and_a_watch_leaves_it_out() -> None:
    # A damaged entry at 1e300 ended the host's dashboard (a review's find).
    entry = json.loads(ActionEntry(1e300, "start", pid=3).to_json())
    assert "not a time" in refused(json.dumps({"type": "actions", "time": 1, "entries": [entry]}))
    entries = [ActionEntry(1e300, "kill", pid=3), ActionEntry(5.0, "kill", pid=4)]
    message = decode_line(encode_actions(4.0, entries))
    assert isinstance(message, ActionsMessage)
    assert [entry.pid for entry in message.entries] == [4]
