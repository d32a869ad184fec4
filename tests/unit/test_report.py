"""Text views: sizes and durations, common prefixes, and tables that fit the terminal."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest

from plotman_tui.config.schema import ReplotRules
from plotman_tui.farm.archive.replot import ReplotDirPlan, ReplotPlan, ReplotProgress
from plotman_tui.farm.eta import Estimate, EtaModel
from plotman_tui.farm.history import read_log
from plotman_tui.farm.model import Job, JobStatus, Snapshot
from plotman_tui.farm.units import common_prefix, human_bytes, human_duration
from plotman_tui.plotters.phase import Phase
from plotman_tui.report import (
    Column,
    eta_text,
    progress_text,
    render_details,
    render_replot_plan,
    render_status,
    render_table,
    replot_plan_to_json,
    replot_progress_text,
    replot_progress_to_json,
    rules_text,
    snapshot_to_json,
    status_columns,
    summary_line,
)
from tests.conftest import FIXTURES


def make_job(pid: int, plot_id: str, phase: Phase | None, started: float, **extra: object) -> Job:
    values: dict[str, object] = {
        "pid": pid,
        "plotter": "chia",
        "argv": ("chia", "plots", "create"),
        "cwd": "/",
        "started_at": started,
        "wall_seconds": 3725.0,
        "status": JobStatus.RUN,
        "plot_id": plot_id,
        "k": 32,
        "tmp_dir": "/mnt/tmp/00",
        "dst_dir": "/mnt/dst/00",
        "phase": phase,
        "tmp_usage_bytes": 123 * 1024**3,
        "mem_rss_bytes": 3 * 1024**3,
        "user_seconds": 4000.0,
        "sys_seconds": 61.0,
        "iowait_seconds": 5.0,
    }
    values.update(extra)
    return Job(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "short", "text"),
    [
        (None, False, "-"),
        (0, False, "0 B"),
        (1023, True, "1023"),
        (1536, False, "1.5 KiB"),
        (101 * 1024**3 + 1, True, "101G"),
        (5 * 1024**4, False, "5.0 TiB"),
    ],
)
def test_human_bytes(size: int | None, short: bool, text: str) -> None:
    assert human_bytes(size, short=short) == text


def test_durations_read_like_plotman_above_an_hour_and_spell_units_below() -> None:
    assert human_duration(3725) == "1:02"
    assert human_duration(2 * 86400 + 3 * 3600 + 4 * 60) == "2d03:04"
    assert human_duration(None) == "-"
    assert human_duration(25.9) == "25s"
    assert human_duration(61) == "1m"
    assert human_duration(3599) == "59m"
    assert human_duration(-5) == "0s"


def test_common_prefix_keeps_a_distinguishing_suffix() -> None:
    assert common_prefix(["/mnt/tmp/00", "/mnt/tmp/01"]) == "/mnt/tmp/"
    assert common_prefix(["/mnt/tmp/00", "/mnt/tmp/00"]) == "/mnt/tmp/"
    assert common_prefix(["/mnt/tmp", "/mnt/tmp/sub"]) == "/mnt/"
    assert common_prefix([None, "/a"]) == ""
    assert common_prefix([]) == ""


def test_status_table_shrinks_to_width_but_keeps_id_and_phase() -> None:
    jobs = (
        make_job(11, "ab" * 32, Phase(3, 4), 200.0, tmp_dir="/very/long/path/to/tmp/aaaaaaaa"),
        make_job(12, "cd" * 32, None, 100.0, tmp_dir="/other/long/path/to/tmp/bbbbbbbb"),
    )
    snapshot = Snapshot(jobs=jobs, updated=0.0)
    for width in (200, 100, 60, 40):
        text = render_status(snapshot, width)
        table = [line for line in text.splitlines() if not line.startswith(("Prefixes", "Total"))]
        assert all(len(line) <= width for line in table), (width, text)
        assert "abababab" in text and "3:4" in text and "cdcdcdcd" in text
        assert "?" in table[2]  # unknown phase is shown, not hidden
    wide = render_status(snapshot, 200)
    assert "plotter" in wide and "1:02" in wide and "123G" in wide
    narrow = render_status(snapshot, 40)
    assert "plotter" not in narrow


def test_summary_counts_states_and_phases() -> None:
    jobs = (
        make_job(1, "a" * 64, Phase(1, 2), 3.0),
        make_job(2, "b" * 64, Phase(1, 2), 2.0, status=JobStatus.STP),
        make_job(3, "c" * 64, Phase(4, 0), 1.0),
    )
    line = summary_line(Snapshot(jobs=jobs, updated=0.0))
    assert line.startswith("Total jobs: 3 (RUN 2, STP 1)")
    assert "1:2x2 4:0" in line and "369 GiB" in line
    assert summary_line(Snapshot(jobs=(), updated=0.0)) == "No plot jobs running."


def test_json_phase_is_text_or_null() -> None:
    jobs = (make_job(1, "a" * 64, Phase(2, 7), 2.0), make_job(2, "b" * 64, None, 1.0))
    data = snapshot_to_json(Snapshot(jobs=jobs, updated=12.5))
    assert [job["phase"] for job in data["jobs"]] == ["2:7", None]
    assert data["total_jobs"] == 2 and data["updated"] == 12.5


def test_columns_go_one_at_a_time_and_only_when_needed() -> None:
    # Short dir names: nothing to shrink, so each step narrower must cost exactly one column.
    jobs = (make_job(11, "ab" * 32, Phase(3, 4), 200.0, tmp_dir="/t/0", dst_dir="/d/0"),)
    snapshot = Snapshot(jobs=jobs, updated=0.0)

    def header(width: int | None) -> list[str]:
        table = [line for line in render_status(snapshot, width).splitlines()]
        line = next(line for line in table if line.startswith("plot id"))
        return line.split()

    full = header(None)
    full_width = max(len(line) for line in render_status(snapshot, None).splitlines()[1:3])
    assert header(full_width) == full  # exactly wide enough: nothing dropped
    narrower = header(full_width - 1)
    assert "io" in full and "io" not in narrower
    assert len(narrower) == len(full) - 1  # one column, the least useful, and no more


def test_long_dirs_shrink_before_any_column_is_dropped() -> None:
    # Dirs with no common prefix to strip, so their full names must be shown (or shortened).
    jobs = (
        make_job(11, "ab" * 32, Phase(1, 2), 2.0, tmp_dir="/a" + "x" * 40 + "/tmp0"),
        make_job(12, "cd" * 32, Phase(1, 2), 1.0, tmp_dir="/b" + "y" * 40 + "/tmp1"),
    )
    snapshot = Snapshot(jobs=jobs, updated=0.0)
    text = render_status(snapshot, 100)
    header = next(line for line in text.splitlines() if line.startswith("plot id"))
    assert "io" in header.split() and "plotter" in header.split()  # all columns kept
    row = next(line for line in text.splitlines() if line.startswith("abababab"))
    assert len(row) <= 100 and "…" in row and "tmp0" in row  # cut from the left, end kept


# --- progress and ETA -----------------------------------------------------------------------------

NOW = 1_700_000_000.0


def eta_model(runs: int = 4) -> EtaModel:
    """The real k32 chia run, ``runs`` times, on /mnt/tmp/00."""
    (record,), _ = read_log(str(FIXTURES / "plotter-logs" / "chianetwork.plot.log"))
    return EtaModel.from_records([record._replace(tmp_dir="/mnt/tmp/00")] * runs)


def eta_jobs() -> tuple[Job, ...]:
    """Jobs at known places against the real run: phases 1 and 2 took 8134.66 s and
    3304.86 s, phase 3 6515.266 s, phase 4 425.637 s, the rest and the copy 178.441 s."""
    phase3 = ((1, 8134.66), (2, 3304.86))
    return (
        make_job(1, "a" * 64, Phase(3, 4), NOW - 11439.52 - 1000, phase_seconds=phase3),
        make_job(2, "b" * 64, Phase(1, 1), NOW - 600, tmp_dir="/mnt/tmp/01"),
        make_job(3, "c" * 64, None, NOW - 60),
        make_job(4, "d" * 64, Phase(1, 1), NOW - 9000),  # longer in phase 1 than the runs
        make_job(5, "e" * 64, Phase(2, 1), NOW - 100, k=33),  # no k33 runs
    )


def test_status_shows_done_and_eta_after_the_phase() -> None:
    text = render_status(Snapshot(jobs=eta_jobs(), updated=NOW), 200, eta_model())
    lines = text.splitlines()
    header = lines[1].replace("plot id", "plot_id").split()
    assert header[header.index("phase") + 1 : header.index("phase") + 3] == ["done", "eta"]
    cells = {line[:8]: line.split() for line in lines[2:7]}
    done, eta = header.index("done"), header.index("eta")
    # 1000 s into phase 3: 12439.52 s of the run's 18558.864 done, 6119.344 s left.
    assert (cells["aaaaaaaa"][done], cells["aaaaaaaa"][eta]) == ("67%", "1:41")
    # Another tmp dir with no runs of its own: the chia k32 runs all the same.
    assert (cells["bbbbbbbb"][done], cells["bbbbbbbb"][eta]) == ("3%", "4:59")
    assert (cells["cccccccc"][done], cells["cccccccc"][eta]) == ("-", "-")
    assert (cells["dddddddd"][done], cells["dddddddd"][eta]) == ("43%", "late")
    assert (cells["eeeeeeee"][done], cells["eeeeeeee"][eta]) == ("-", "-")
    # Without a model the table is as it was.
    assert "done" not in render_status(Snapshot(jobs=eta_jobs(), updated=NOW), 200)


def test_at_narrow_widths_done_and_eta_go_after_the_less_useful_columns() -> None:
    snapshot = Snapshot(jobs=eta_jobs()[:1], updated=NOW)
    model = eta_model()
    order: list[str] = []
    shown = Counter(render_status(snapshot, None, model).splitlines()[1].split())
    for width in range(200, 20, -1):
        now_shown = Counter(render_status(snapshot, width, model).splitlines()[1].split())
        order += sorted((shown - now_shown).elements())
        shown = now_shown
    # The compression level (C) outlasts the dst dir: during a replot it tells new from old.
    assert order == [
        "io", "plotter", "sys", "user", "k", "mem", "dst", "C", "stat", "tmp", "done", "pid",
        "eta", "wall",
    ]  # fmt: skip
    assert render_status(snapshot, 80, model).splitlines()[1].split() == [
        "plot", "id", "k", "C", "tmp", "dst", "wall", "phase", "done", "eta", "tmp", "pid",
        "stat", "mem", "user",
    ]  # fmt: skip


def test_status_columns_without_estimates_keep_their_drop_orders() -> None:
    plain = status_columns("", "")
    with_eta = status_columns("", "", lambda job: Estimate(0.5, 60.0, 3))
    assert [c.title for c in with_eta if c.title not in ("done", "eta")] == [c.title for c in plain]
    assert sorted(c.drop_order for c in plain if c.drop_order) == list(range(1, 14))
    assert sorted(c.drop_order for c in with_eta if c.drop_order) == list(range(1, 16))


def test_json_has_progress_eta_seconds_and_basis_per_job() -> None:
    data = snapshot_to_json(Snapshot(jobs=eta_jobs(), updated=NOW), eta_model())
    found = {job["pid"]: job for job in data["jobs"]}
    keys = ("progress", "eta_seconds", "eta_basis", "eta_late")
    assert [found[1][key] for key in keys] == [0.6703, 6119.3, 4, False]
    assert [found[2][key] for key in keys] == [0.0323, 17958.9, 4, False]
    assert [found[3][key] for key in keys] == [None, None, 0, False]
    assert [found[4][key] for key in keys] == [0.4383, None, 4, True]
    assert [found[5][key] for key in keys] == [None, None, 0, False]
    json.dumps(data, allow_nan=False)
    assert "progress" not in snapshot_to_json(Snapshot(jobs=eta_jobs(), updated=NOW))["jobs"][0]


def test_details_say_progress_eta_and_what_they_rest_on_in_words() -> None:
    model = eta_model()
    on_tmp, other_tmp, no_log, late, no_runs = eta_jobs()

    def lines(job: Job) -> list[str]:
        text = render_details(job, model.estimate(job, NOW), NOW)
        return [line.strip() for line in text.splitlines() if "progress:" in line or "eta:" in line]

    assert lines(on_tmp)[0] == "progress: 67% (from 4 finished runs on this tmp dir)"
    assert lines(on_tmp)[1].startswith("eta: 1:41 left (about ")
    assert lines(on_tmp)[1].endswith("), from 4 finished runs on this tmp dir")
    assert lines(other_tmp)[0] == (
        "progress: 3% (from 4 finished chia k32 runs, fewer than 3 on this tmp dir)"
    )
    unknown = "unknown: no log found, so no phase"
    assert lines(no_log) == [f"progress: {unknown}", f"eta: {unknown}"]
    assert lines(late)[1] == (
        "eta: unknown: in phase 1 longer than any of the 4 finished runs on this tmp dir"
    )
    assert lines(no_runs)[1] == "eta: unknown: no finished chia k33 runs in the log dir"
    stopped = replace(on_tmp, status=JobStatus.STP)
    assert lines(stopped)[1] == "eta: none while suspended"
    assert lines(replace(no_runs, k=None))[1] == "eta: unknown: its k is not known"
    no_tmp = replace(other_tmp, tmp_dir=None)  # BladeBit's RAM plotter has none
    assert lines(no_tmp)[0] == "progress: 3% (from 4 finished chia k32 runs)"
    assert lines(replace(on_tmp, completed=True)) == [
        "progress: 100% (its plot is finished)",
        "eta: none: done",
    ]
    unborn = replace(on_tmp, started_at=0.0)
    assert lines(unborn)[1] == (
        "eta: unknown: how long it has been in this phase is not known (4 finished runs on this "
        "tmp dir)"
    )
    assert "progress" not in render_details(on_tmp)


@pytest.mark.parametrize(
    ("estimate", "done", "left"),
    [
        (None, "-", "-"),
        (Estimate(None, None, 0), "-", "-"),
        (Estimate(0.999, 5.0, 3), "99%", "5s"),
        (Estimate(0.0, 3725.0, 3), "0%", "1:02"),
        (Estimate(0.4, None, 3, late=True), "40%", "late"),
        (Estimate(1.0, 0.0, 3), "100%", "0s"),
    ],
)
def test_progress_and_eta_texts(estimate: Estimate | None, done: str, left: str) -> None:
    assert (progress_text(estimate), eta_text(estimate)) == (done, left)


def test_a_table_cell_shows_control_characters_and_leaves_the_rest_as_it_is() -> None:
    # Plain cells skip printable()'s translation (a C check says there is nothing to show);
    # every cell with a C0 or C1 control, DEL or a lone surrogate still gets its stand-ins.
    cells = ["\x1b[31mred", "tab\there", "del\x7f", "csi\x9b", "bad\udcff", "naïve", "1:02:03"]
    lines = render_table([Column("cell", 0)], [[cell] for cell in cells], None)
    assert [line.rstrip() for line in lines[1:]] == [
        "\u241b[31mred",
        "tab\u2409here",
        "del\u2421",
        "csi\ufffd",
        "bad\ufffd",
        "naïve",
        "1:02:03",
    ]


# --- compression --------------------------------------------------------------------------------


def test_the_c_column_shows_a_jobs_compression_level() -> None:
    jobs = (
        make_job(1, "c7" * 32, Phase(1, 2), NOW - 60, plotter="bladebit_cuda", compression=7),
        make_job(2, "c0" * 32, Phase(1, 2), NOW - 120, compression=0),
        make_job(3, "cu" * 32, Phase(1, 2), NOW - 180),
    )
    lines = render_status(Snapshot(jobs=jobs, updated=NOW), 80).splitlines()
    header = lines[1].split()
    column = header.index("C") - 1  # "plot id" is two words in the header, one in a row
    cells = {line.split()[0]: line.split()[column] for line in lines[2:5]}
    assert cells == {"c7c7c7c7": "7", "c0c0c0c0": "0", "cucucucu": "-"}


def test_status_json_and_details_give_the_compression_level() -> None:
    job = make_job(1, "c7" * 32, Phase(1, 2), NOW - 60, plotter="bladebit_cuda", compression=7)
    data = snapshot_to_json(
        Snapshot(jobs=(job, replace(job, pid=2, compression=None)), updated=NOW)
    )
    assert [found["compression"] for found in data["jobs"]] == [7, None]
    assert json.loads(json.dumps(data))["jobs"][0]["compression"] == 7
    rows = dict(line.strip().split(": ", 1) for line in render_details(job).splitlines())
    assert rows["compression"] == "C7"
    rows = dict(
        line.strip().split(": ", 1)
        for line in render_details(replace(job, compression=0)).splitlines()
    )
    assert rows["compression"] == "none (C0)"


def test_a_dst_dir_of_several_levels_counts_its_plots_per_level() -> None:
    from plotman_tui.dirview import DstRow
    from plotman_tui.report import render_dirs

    def row(path: str, levels: tuple[tuple[int, int], ...]) -> DstRow:
        plots = sum(count for _, count in levels)
        return DstRow(path, plots, plots * 2**30, 10 * 2**40, None, 0, "-", plot_levels=levels)

    dst = [row("/mnt/dst/mixed", ((0, 2), (7, 10))), row("/mnt/dst/same", ((7, 3),))]
    text = render_dirs([], dst, 200, with_priority=False)
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("/mnt")}
    assert lines["/mnt/dst/mixed"].endswith("12 (12.0G; C7 10, C0 2)")
    assert lines["/mnt/dst/same"].endswith("3 (3.0G)")


# --- replotting ---------------------------------------------------------------------------------


def _progress(**changes: object) -> ReplotProgress:
    values: dict[str, object] = {
        "target": "farmer",
        "matching_plots": 120,
        "matching_bytes": 120 * 2**30,
        "removed_plots": 30,
        "removed_bytes": 30 * 2**30,
        "new_plots_moved": 28,
        "bytes_per_day": 10 * 2**30,
        "days_left": 12.0,
        "listed_at": NOW,
    }
    values.update(changes)
    return ReplotProgress(**values)  # type: ignore[arg-type]


def test_a_replotting_targets_progress_in_a_line() -> None:
    assert replot_progress_text(_progress()) == (
        "replot farmer: 120 old plots left (120 GiB); removed 30 (30.0 GiB replaced); "
        "28 new plots moved; about 12 days to finish at the current rate"
    )
    early = replot_progress_text(_progress(days_left=None, bytes_per_day=None, dry_run=True))
    assert early.startswith("replot farmer (dry run: nothing is removed): 120 old plots left")
    assert early.endswith("days to finish unknown (too few removals yet to tell a rate)")
    one = replot_progress_text(_progress(matching_plots=1, new_plots_moved=1))
    assert "1 old plot left" in one and "1 new plot moved" in one
    done = replot_progress_text(_progress(matching_plots=0, matching_bytes=0, days_left=0.0))
    assert "0 old plots left (0 B)" in done and done.endswith("nothing left to replace")
    # The farmer not listed: what is left is unknown, never "0 left" or "done".
    gone = replot_progress_text(_progress(matching_plots=0, days_left=0.0), "unreachable")
    assert "old plots left unknown (unreachable)" in gone and "nothing left" not in gone
    assert "days to finish unknown" in gone
    stopped = replot_progress_text(_progress(stopped="could not remove x.plot: refused"))
    assert stopped.startswith("replot farmer: STOPPED: could not remove x.plot: refused; 120 old")
    data = replot_progress_to_json(_progress(days_left=1 / 3))
    assert data["days_left"] == 0.33 and data["matching_plots"] == 120 and data["stopped"] is None
    assert json.loads(json.dumps(data)) == data
    assert replot_progress_to_json(_progress(days_left=None))["days_left"] is None


def test_replot_rules_in_a_farmers_words() -> None:
    import datetime

    rules = ReplotRules(
        older_than=datetime.date(2023, 1, 1), uncompressed=True, k=(32, 33), keep_free_gib=100
    )
    assert rules_text(rules) == (
        "plots named with a date before 2023-01-01, uncompressed, k32 or k33 (all of these); "
        "keeps 100 GiB free"
    )
    assert rules_text(ReplotRules(compression_below=5, dry_run=True)) == (
        "plots below C5 (uncompressed is C0); dry run: removes nothing"
    )
    assert rules_text(ReplotRules(names=("plot-k32-2021-*",), enabled=False)) == (
        "plots named like 'plot-k32-2021-*'; off (enabled = false)"
    )


def test_replot_plan_shows_each_dir_the_totals_and_targets_without_rules() -> None:
    rules = ReplotRules(uncompressed=True)
    plans = [
        ReplotPlan(
            "farmer",
            rules,
            (
                ReplotDirPlan("/farm/a", 40, 40 * 2**30, 38, 38 * 2**30),
                ReplotDirPlan("/farm/b", 10, 10 * 2**30, 0, 0),
                ReplotDirPlan("/farm/c\x1b[31m", 0, 0, 0, 0, problem="missing"),
            ),
        ),
        ReplotPlan("usb", None, ()),
        ReplotPlan("far", rules, (), problem="unreachable: connection refused"),
    ]
    lines = render_replot_plan(plans, 100).splitlines()
    assert lines[0] == "farmer: plots uncompressed"
    assert lines[1].split() == ["archive", "dir", "plots", "size", "matching", "matching", "size"]
    assert lines[2].split() == ["/farm/a", "40", "40.0G", "38", "38.0G"]
    assert lines[3].split() == ["/farm/b", "10", "10.0G", "0", "0"]
    assert lines[4].split() == ["/farm/c␛[31m", "-", "-", "-", "-"]
    assert lines[5].split() == ["total", "50", "50.0G", "38", "38.0G"]
    assert lines[6] == "! /farm/c␛[31m: missing"
    assert "usb: no replot rules ([archiving.targets.replot] not set)" in lines
    assert lines[-2:] == ["far: plots uncompressed", "! far: unreachable: connection refused"]
    data = replot_plan_to_json(plans)
    assert data["matching_plots"] == 38 and data["matching_bytes"] == 38 * 2**30
    farmer, usb, far = data["targets"]
    assert farmer["rules"]["uncompressed"] is True and farmer["plots"] == 50
    assert [d["problem"] for d in farmer["dirs"]] == [None, None, "missing"]
    assert usb["rules"] is None and far["problem"] == "unreachable: connection refused"
    assert json.loads(json.dumps(data)) == data
