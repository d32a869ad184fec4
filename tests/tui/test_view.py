"""The dashboard's rules, without a screen: columns, order, filter, bins, dir rows, words."""

from __future__ import annotations

from dataclasses import replace

from plotman_tui.dirview import tmp_readiness
from plotman_tui.farm.archive.policy import ArchiveWait
from plotman_tui.farm.archive.space import TargetSpace
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.eta import UNKNOWN
from plotman_tui.farm.launches import StartFailures
from plotman_tui.farm.scheduler import Start, Wait
from plotman_tui.plotters.phase import Phase
from plotman_tui.report import fit_cell, fit_columns, status_columns
from plotman_tui.tui.view import (
    PLOTMAN_PHASES,
    ArchivingState,
    PlottingState,
    SortOrder,
    archive_prefix,
    archive_rows,
    archiving_words,
    dir_prefixes,
    dst_rows,
    job_columns,
    job_key,
    job_matches,
    ordered_jobs,
    phase_bins,
    plotting_words,
    short_dir,
    tmp_rows,
)
from tests.tui.farmdata import (
    ARCHIVE,
    ARCHIVE_SILENT,
    DST,
    GIB,
    NOW,
    SILENT_PROBLEM,
    STAGGER,
    TMP,
    TMP2,
    TRANSFER_PID,
    archive_config,
    archive_dirs_sampled,
    archive_passed,
    archive_targets,
    farm_config,
    farm_jobs,
    make_job,
)


def test_every_status_column_has_its_own_id_and_a_sort_key_by_value() -> None:
    columns = job_columns("", "")
    # status's columns with its progress and ETA (done, eta: "-" until the history is read).
    assert [c.title for c in columns] == [
        c.title for c in status_columns("", "", lambda j: UNKNOWN)
    ]
    assert {"done", "eta"} <= {c.id for c in columns}
    ids = [c.id for c in columns]
    assert len(set(ids)) == len(ids)
    assert "tmp#2" in ids  # the second "tmp" column: temp space, not the dir
    # A sort key by value for each (a new report column would sort by its text: give it one).
    assert all(column.column.sort_key is not None for column in columns)


def test_sorting_by_wall_uses_seconds_not_text() -> None:
    jobs = farm_jobs()
    columns = job_columns("", "")
    ordered = ordered_jobs(jobs, columns, SortOrder("wall"))
    assert [job.wall_seconds for job in ordered] == sorted(job.wall_seconds for job in jobs)
    backwards = ordered_jobs(jobs, columns, SortOrder("wall", descending=True))
    assert backwards == list(reversed(ordered))


def test_unknown_values_sort_first_and_ties_keep_the_scan_order() -> None:
    jobs = farm_jobs()
    columns = job_columns("", "")
    by_phase = ordered_jobs(jobs, columns, SortOrder("phase"))
    assert by_phase[0].phase is None
    by_k = ordered_jobs(jobs, columns, SortOrder("k"))  # all k32: the scan's order stays
    assert [job_key(j) for j in by_k] == [job_key(j) for j in jobs]
    assert ordered_jobs(jobs, columns, SortOrder()) == list(jobs)


def test_sort_order_cycles_and_flips() -> None:
    columns = job_columns("", "")
    order = SortOrder()
    seen = []
    for _ in range(len(columns) + 1):
        order = order.next_column(columns)
        seen.append(order.column)
    assert seen[:2] == ["plot id", "plotter"] and seen[-1] is None
    assert SortOrder("wall").by("wall") == SortOrder("wall", descending=True)
    assert SortOrder("wall", True).by("pid") == SortOrder("pid")
    assert "temp space" in SortOrder("tmp#2").describe(columns)


def test_filter_words_must_all_match_somewhere_in_the_job() -> None:
    jobs = farm_jobs()
    columns = job_columns(*dir_prefixes(farm_config(), jobs))
    stopped = [job for job in jobs if job_matches(job, "STP", columns)]
    assert [job.pid for job in stopped] == [4103]
    assert all(job_matches(job, "", columns) for job in jobs)
    on_tmp1 = [job.pid for job in jobs if job_matches(job, "tmp/1", columns)]
    assert on_tmp1 == [4101, 4103]
    assert [job.pid for job in jobs if job_matches(job, "tmp/1 run", columns)] == [4101]
    # The full plot id, not only the 8 shown characters.
    tail = jobs[1].plot_id[-12:]  # type: ignore[index]
    assert [job.pid for job in jobs if job_matches(job, tail.upper(), columns)] == [4102]


def test_fit_columns_shrinks_dirs_then_drops_the_least_useful_first() -> None:
    columns = [column.column for column in job_columns("", "")]
    widths = [len(c.title) + 3 for c in columns]
    tmp = [column.title for column in columns].index("tmp")
    widths[tmp] = 30  # a long tmp dir
    everything = sum(widths) + 2 * (len(widths) - 1)
    assert fit_columns(columns, widths, everything) == (list(range(len(columns))), widths)
    # A little narrower: the tmp dir gives way first, no column goes.
    keep, shrunk = fit_columns(columns, widths, everything - 10)
    assert keep == list(range(len(columns))) and shrunk[tmp] == 20
    assert fit_cell("/mnt/nvme/tmp/0", 8, right=False) == "…e/tmp/0"
    # Narrower than the shrunk dirs allow: columns go, highest drop order ("io") first.
    keep, _ = fit_columns(columns, widths, everything - 25)
    assert {columns[i].title for i in range(len(columns))} - {columns[i].title for i in keep} == {
        "io"
    }
    tiny = [columns[i].title for i in fit_columns(columns, widths, 10)[0]]
    assert tiny == ["plot id", "phase"]  # drop order 0: never dropped


def test_prefixes_cover_configured_dirs_and_tmp2() -> None:
    config = farm_config()
    tmp, dst = dir_prefixes(config, farm_jobs())
    assert (tmp, dst) == ("/mnt/nvme/", "/mnt/farm/dst/")
    assert short_dir(TMP[0], tmp) == "tmp/0" and short_dir(TMP2, tmp) == "tmp2"
    assert short_dir("/elsewhere", tmp) == "/elsewhere"


def test_phase_bins_are_plotmans_strip_plus_others_and_unknown() -> None:
    jobs = [
        *farm_jobs(),
        make_job(7, age_s=5, phase=Phase(0, 0)),
        make_job(8, age_s=5, phase=Phase(5, 1)),
    ]
    bins = phase_bins(jobs)
    phases = [b.phase for b in bins]
    assert phases[0] == Phase(0, 0) and phases[-2] == Phase(5, 1) and phases[-1] is None
    assert set(PLOTMAN_PHASES) <= set(phases)
    counts = {b.phase: b.count for b in bins}
    assert counts[Phase(1, 2)] == 1 and counts[Phase(2, 0)] == 0 and counts[None] == 1
    assert sum(b.count for b in bins) == len(jobs)
    assert all(b.phase is not None for b in phase_bins(jobs[:4]))


def test_tmp_readiness_follows_the_schedulers_per_dir_rules() -> None:
    config = farm_config(tmpdir_max_jobs=3, tmpdir_stagger_phase_limit=1)
    early = make_job(1, age_s=60, phase=Phase(1, 2))
    late = make_job(2, age_s=60, phase=Phase(3, 1))
    unknown = make_job(3, age_s=60, phase=None)
    assert tmp_readiness(config, TMP[0], [], 2000 * GIB) == (True, "ready")
    assert tmp_readiness(config, TMP[0], [late], 2000 * GIB) == (True, "ready")
    assert tmp_readiness(config, TMP[0], [early], 2000 * GIB) == (False, "1 before 2:1")
    assert tmp_readiness(config, TMP[0], [unknown], 2000 * GIB)[0] is False
    assert tmp_readiness(config, TMP[0], [late] * 3, 2000 * GIB) == (False, "max jobs 3")
    assert tmp_readiness(config, TMP[0], [], None) == (None, "free space unknown")
    ready, why = tmp_readiness(config, TMP[0], [], 10 * GIB)
    assert ready is False and why.startswith("low space (10.0 GiB free, needs")


def test_dir_rows_match_jobs_to_configured_dirs_also_under_another_name() -> None:
    config = farm_config()
    jobs = [
        replace(make_job(1, age_s=60, phase=Phase(1, 2)), tmp_dir="/link/to/tmp0"),
        make_job(2, age_s=60, phase=Phase(3, 1), dst=1),
    ]
    infos = {TMP[0]: DirInfo(TMP[0], free_bytes=5 * GIB), DST[1]: DirInfo(DST[1], error="missing")}
    rows = {row.path: row for row in tmp_rows(config, jobs, {"/link/to/tmp0": TMP[0]}, infos)}
    assert rows[TMP[0]].jobs == 2 and rows[TMP[0]].phases == "1:2 3:1"
    assert rows[TMP[1]].ready is None  # not sampled yet
    assert rows[TMP2].role == "tmp2" and rows[TMP2].jobs == 2
    dst = {row.path: row for row in dst_rows(config, jobs, {}, infos)}
    assert dst[DST[0]].inbound == 1 and dst[DST[1]].inbound == 1
    assert dst[DST[1]].error == "missing" and dst[DST[0]].plots is None


def test_plotting_words() -> None:
    state = PlottingState(enabled=True)
    assert plotting_words(state, NOW) == ("active", "(no start yet)")
    state.holds_lock = True
    state.decision = Wait("stagger (60s/1800s)")
    state.last_start = NOW - 120
    assert plotting_words(state, NOW) == (
        "active",
        "waiting: stagger (60s/1800s); last start 2m ago",
    )
    state.decision = Start("t", None, "d", ("chia",), 32, "tmp 0: ready (empty)")
    assert plotting_words(state, NOW) == ("active", "starting a job: tmp 0: ready (empty)")
    state.enabled = False
    assert plotting_words(state, NOW) == ("paused", "(last start 2m ago)")
    state.holds_lock = False
    state.lock_note = "plot jobs are started by pid 7"
    assert plotting_words(state, NOW) == (
        "paused",
        "monitoring only: plot jobs are started by pid 7",
    )
    state.error = "OSError: boom"
    assert plotting_words(state, NOW) == (
        "failing",
        "pass failed: OSError: boom (plotting is paused)",
    )
    state.enabled = True
    assert plotting_words(state, NOW) == ("failing", "pass failed: OSError: boom")


def test_plotting_words_say_failing_while_starts_fail() -> None:
    failures = StartFailures(3, "/usr/bin/chia: program not found", NOW - 10, NOW + 230)
    state = PlottingState(enabled=True, holds_lock=True, start_failures=failures)
    state.decision = Wait(failures.describe(NOW))
    assert plotting_words(state, NOW) == (
        "failing",
        "backing off 3m: /usr/bin/chia: program not found (3 failed starts)",
    )
    # The back-off is over and the next start is tried: still failing until one works.
    state.decision = STAGGER
    assert plotting_words(state, NOW + 300) == (
        "failing",
        "retrying after 3 failed starts: /usr/bin/chia: program not found",
    )
    # Paused: the switch is the word, the failures stay in sight.
    state.enabled = False
    assert plotting_words(state, NOW) == (
        "paused",
        "(no start yet; 3 failed starts: /usr/bin/chia: program not found)",
    )
    # Another process holds the lock and its starts fail: failing, whatever this switch says.
    state.holds_lock, state.lock_note = False, "plot jobs are started by pid 812"
    assert plotting_words(state, NOW) == (
        "failing",
        "backing off 3m: /usr/bin/chia: program not found (3 failed starts); "
        "monitoring only: plot jobs are started by pid 812",
    )
    state.holds_lock = True
    # Starts that work again: active.
    state.enabled, state.start_failures = True, None
    assert plotting_words(state, NOW)[0] == "active"


def test_archiving_words() -> None:
    assert archiving_words(ArchivingState(configured=False, enabled=True)) == ("not set up", "")
    state = ArchivingState(configured=True, enabled=True)
    assert archiving_words(state) == ("idle", "starting…")
    # farmer: one archive dir missing; backup: its farmer does not answer.
    trouble = f"farmer: archive dir hdd02: missing; backup: {SILENT_PROBLEM}"
    state.result = archive_passed().result
    # A transfer under way while the others are in trouble: an error all the same, the trouble
    # said first (a narrow status line cuts the detail from its end), then the transfer.
    assert archiving_words(state) == ("error", f"{trouble}; (pid {TRANSFER_PID})")
    state.enabled = False
    assert archiving_words(state) == ("paused", f"{trouble}; (pid {TRANSFER_PID} finishing)")
    state.result = archive_passed(transfers=False).result
    assert archiving_words(state) == ("paused", trouble)
    state.enabled = True
    # Nothing moves and a target is in trouble: an error, not idle. The farmer, whose other
    # dirs take plots, says why it waits too; the unreachable backup only once.
    assert archiving_words(state) == (
        "error",
        f"{trouble}; farmer: every finished plot is already on its way",
    )
    # Only a healthy target waiting is idle; one target: its reason alone.
    healthy = {"farmer": TargetSpace(target="farmer", free_bytes={ARCHIVE[0]: 120 * GIB})}
    state.result = replace(
        state.result, waits=(ArchiveWait("no finished plots", "farmer"),), spaces=healthy
    )
    assert archiving_words(state) == ("idle", "no finished plots")
    state.result = archive_passed(holds_lock=False).result
    state.lock_note = "plots are moved by pid 812 (plotman-tui archive)"
    assert archiving_words(state) == (
        "error",
        f"{trouble}; (pid {TRANSFER_PID}); "
        "monitoring only: plots are moved by pid 812 (plotman-tui archive)",
    )
    state.error = "OSError: boom"
    assert archiving_words(state) == ("error", "pass failed: OSError: boom")


def test_archiving_names_each_dir_in_trouble_apart_from_the_targets_others() -> None:
    space = TargetSpace(
        target="farmer",
        free_bytes={ARCHIVE[0]: 120 * GIB, ARCHIVE[1]: None, ARCHIVE[2]: None},
        dir_problems={ARCHIVE[1]: "not a dir", ARCHIVE[2]: "missing"},
    )
    result = replace(archive_passed(transfers=False).result, spaces={"farmer": space})
    state = ArchivingState(configured=True, enabled=True, result=result)
    word, detail = archiving_words(state)
    assert word == "error"
    assert detail.startswith("farmer: 2 archive dirs (hdd01: not a dir; hdd02: missing)")


def test_archive_rows_mark_transfers_missing_dirs_and_unreachable_farmers() -> None:
    config = archive_config()
    assert archive_prefix(config) == "/srv/chia/plots/"
    rows = archive_rows(config, archive_passed().result)
    shown = [(row.target, row.first, row.path, row.free_bytes, row.note, row.level) for row in rows]
    assert shown == [
        ("farmer", True, ARCHIVE[0], 120 * GIB, "", "ok"),
        ("farmer", False, ARCHIVE[1], 3_300 * GIB, f"← pid {TRANSFER_PID}", "busy"),
        ("farmer", False, ARCHIVE[2], None, "missing", "problem"),
        ("backup", True, ARCHIVE_SILENT[0], None, "unreachable", "problem"),
    ]
    assert len({row.key for row in rows}) == len(rows)
    # Before the first sample: every dir unknown.
    assert {row.note for row in archive_rows(config, None)} == {"not read yet"}
    # A farmer that answers but refuses the key is no unreachable farmer.
    refused = TargetSpace.failed(
        archive_targets()[0], "SSH host key of farmer.lan:22 is not in …", NOW, reachable=True
    )
    result = archive_passed(transfers=False).result
    result = replace(result, spaces={**result.spaces, "farmer": refused})
    notes = {row.path: row.note for row in archive_rows(config, result)}
    assert notes[ARCHIVE[0]] == "host key refused"


def test_dst_rows_carry_the_archive_priority_when_archiving_is_set_up() -> None:
    config = archive_config()
    infos = {info.path: info for info in archive_dirs_sampled().dirs}
    jobs = farm_jobs()
    plain = {row.path: row for row in dst_rows(config, jobs, {}, infos)}
    assert plain[DST[0]].priority is None and not plain[DST[0]].archive_next
    rows = {row.path: row for row in dst_rows(config, jobs, {}, infos, with_priority=True)}
    # dst/0: 3 plots, plenty of room, its jobs before 3:4: 50 + 3.
    assert rows[DST[0]].priority == 53
    # dst/1: 9 plots, room for under 8 more (+3), a job at 3:5 copies there soon (-8).
    assert rows[DST[1]].priority == 54
    assert rows[DST[1]].archive_next and not rows[DST[0]].archive_next
    # The job at 3:5 moves on to 3:7: dst/1 must wait (32 lost), dst/0 goes first.
    later = [replace(job, phase=Phase(3, 7)) if job.dst_dir == DST[1] else job for job in jobs]
    rows = {row.path: row for row in dst_rows(config, later, {}, infos, with_priority=True)}
    assert rows[DST[0]].archive_next and rows[DST[1]].priority == 30
    # An unreadable dst dir has no priority.
    infos[DST[1]] = DirInfo(DST[1], error="missing")
    rows = {row.path: row for row in dst_rows(config, jobs, {}, infos, with_priority=True)}
    assert rows[DST[1]].priority is None and rows[DST[0]].archive_next


def test_reversing_the_default_order_lists_the_oldest_job_first() -> None:
    jobs = farm_jobs()  # youngest first, as the scan lists them
    columns = job_columns("", "")
    reversed_order = SortOrder().reversed()
    assert ordered_jobs(jobs, columns, reversed_order) == list(reversed(jobs))
    assert reversed_order.describe(columns) == "oldest first"
    assert SortOrder().describe(columns) == "youngest first"
    assert reversed_order.reversed() == SortOrder()


def test_phase_bins_keep_each_minor_in_its_place_past_plotmans_strip() -> None:
    jobs = [make_job(8, age_s=5, phase=Phase(5, 2))]
    bins = [(b.phase, b.count) for b in phase_bins(jobs) if b.phase and b.phase.major == 5]
    assert bins == [(Phase(5, 0), 0), (Phase(5, 1), 0), (Phase(5, 2), 1)]


def test_a_target_whose_transfers_fail_is_an_error_until_one_goes_through() -> None:
    result = archive_passed(transfers=False).result
    healthy = {"farmer": TargetSpace(target="farmer", free_bytes={ARCHIVE[0]: 120 * GIB})}
    failing = StartFailures(2, "rsync exit 10 (socket I/O)", NOW - 30, NOW + 90)
    result = replace(
        result,
        time=NOW,
        spaces=healthy,
        retrying={"farmer": failing},
        waits=(ArchiveWait("last transfer failed, next try in 1m (rsync exit 10)", "farmer"),),
    )
    state = ArchivingState(configured=True, enabled=True, result=result)
    assert archiving_words(state) == (
        "error",
        "farmer: backing off 1m: rsync exit 10 (socket I/O) (2 failed transfers)",
    )
    state.result = replace(result, retrying={})
    assert archiving_words(state)[0] == "idle"


def test_a_refused_host_key_is_an_error_though_the_farmer_answered() -> None:
    refused = TargetSpace.failed(
        archive_targets()[0],
        "SSH host key of farmer.lan:22 is not in known_hosts",
        NOW,
        reachable=True,
    )
    result = replace(
        archive_passed(transfers=False).result,
        spaces={"farmer": refused},
        waits=(ArchiveWait(refused.problem or "", "farmer"),),
    )
    state = ArchivingState(configured=True, enabled=True, result=result)
    assert archiving_words(state) == (
        "error",
        "farmer: SSH host key of farmer.lan:22 is not in known_hosts",
    )
