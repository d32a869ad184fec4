"""History statistics: groups, spreads, output per day, on real logs and on untrusted records."""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from plotman_tui.farm.history import PlotRecord, read_log
from plotman_tui.farm.history_stats import (
    GROUP_KEYS,
    MEASURES,
    TIB,
    DayTotal,
    per_day,
    spread,
    summarize,
)
from tests.plotlogs import COMPLETE_RUNS, PLOTTER_LOGS


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Days are local: pin the zone so the day a plot ends on is the same on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _record(**changes: object) -> PlotRecord:
    base = PlotRecord(
        log_path="/logs/a.log",
        plotter="chia",
        plot_id="a" * 64,
        k=32,
        compression=None,
        started_at=_at("2026-11-24T10:00:00"),
        ended_at=_at("2026-11-24T18:00:00"),
        tmp_dir="/mnt/tmp/00",
        tmp2_dir=None,
        dst_dir="/mnt/dst/00",
        threads=4,
        buckets=128,
        buffer_mib=3389,
        bitfield=True,
        phase1_seconds=10000.0,
        phase2_seconds=5000.0,
        phase3_seconds=9000.0,
        phase4_seconds=600.0,
        total_seconds=24600.0,
        copy_seconds=None,
        final_file="/mnt/dst/00/plot-k32.plot",
        final_bytes=108_000_000_000,
        completed=True,
        unfinished_reason="",
    )
    return base._replace(**changes)  # type: ignore[arg-type]


def _real_records() -> list[PlotRecord]:
    records: list[PlotRecord] = []
    for name in COMPLETE_RUNS:
        found, skipped = read_log(str(PLOTTER_LOGS / name))
        assert skipped is None
        records.extend(found)
    return records


def test_one_group_of_the_real_logs_of_every_plotter_has_their_own_phase_times() -> None:
    records = _real_records()
    completed = [r for r in records if r.completed]
    assert len(completed) == 6  # the madMAx multi-plot log's second plot is unfinished
    (group,) = summarize(records, [])
    assert group.key == ()
    assert group.plots_finished == 6
    assert group.bytes_written == sum(r.final_bytes or 0 for r in completed)
    phase1 = group.spreads["phase1"]
    assert phase1 is not None
    values = [r.phase1_seconds for r in completed if r.phase1_seconds is not None]
    assert phase1.n == len(values) == 6
    assert phase1.mean == pytest.approx(statistics.mean(values))
    assert phase1.stdev == pytest.approx(statistics.stdev(values))
    assert phase1.median == pytest.approx(statistics.median(values))
    assert (phase1.min, phase1.max) == (min(values), max(values))
    # The disk plotter prints three phases: phase 4's spread counts the other five.
    phase4 = group.spreads["phase4"]
    assert phase4 is not None and phase4.n == 5


def test_real_logs_grouped_by_plotter_in_order_with_the_logs_figures() -> None:
    groups = summarize(_real_records(), ["plotter"])
    assert [g.key for g in groups] == [("bladebit",), ("bladebit2disk",), ("chia",), ("madmax",)]
    chia = groups[2]
    assert chia.plots_finished == 2
    total = chia.spreads["total"]
    assert total is not None and total.n == 2
    # chianetwork.plot.log: "Total time = 39945.080 seconds"; chia-1.0: its own line.
    chia_totals = sorted(
        r.total_seconds for r in _real_records() if r.plotter == "chia" and r.total_seconds
    )
    assert 39945.08 in chia_totals
    assert (total.min, total.max) == (chia_totals[0], chia_totals[1])
    madmax = groups[3]
    assert madmax.plots_finished == 2  # madmax-k32 and the first plot of the two-plot run


def test_numbers_sort_by_value_and_unknown_last() -> None:
    records = [
        _record(threads=16),
        _record(threads=4),
        _record(threads=None),
        _record(threads=8),
    ]
    assert [g.key for g in summarize(records, ["threads"])] == [("4",), ("8",), ("16",), ("-",)]
    ks = [_record(k=33), _record(k=32), _record(k=25)]
    assert [g.key for g in summarize(ks, ["k"])] == [("25",), ("32",), ("33",)]


def test_group_values_read_as_a_farmer_reads_them() -> None:
    record = _record(
        tmp_dir="/mnt/tmp/00",
        tmp2_dir=None,
        compression=None,
        bitfield=False,
        buffer_mib=3389,
        ended_at=_at("2026-11-24T18:00:00"),
    )
    (group,) = summarize([record], GROUP_KEYS)
    assert group.key == (
        "chia",
        "32",
        "-",
        "/mnt/tmp/00",
        "-",
        "/mnt/dst/00",
        "4",
        "128",
        "3389",
        "off",
        "2026-11-24",
        "2026-W48",
    )
    (on,) = summarize([_record(bitfield=True)], ["bitfield"])
    assert on.key == ("on",)


def test_day_and_week_come_from_the_end_then_the_start() -> None:
    late = _record(started_at=_at("2026-12-27T20:00:00"), ended_at=_at("2027-01-01T02:00:00"))
    # 2027-01-01 is a Friday of ISO week 53 of 2026.
    assert summarize([late], ["day", "week"])[0].key == ("2027-01-01", "2026-W53")
    no_end = _record(started_at=_at("2026-11-30T23:00:00"), ended_at=None)
    assert summarize([no_end], ["day", "week"])[0].key == ("2026-11-30", "2026-W49")
    neither = _record(started_at=None, ended_at=None)
    assert summarize([neither], ["day", "week"])[0].key == ("-", "-")


def _key_of(record: PlotRecord, name: str) -> str:
    """A plot's ``--by name`` text, worked out for it alone."""
    if name in ("day", "week"):
        moment = None
        for timestamp in (record.ended_at, record.started_at):
            try:
                moment = datetime.fromtimestamp(timestamp)  # type: ignore[arg-type]
                break
            except (TypeError, ValueError, OverflowError, OSError):
                continue
        if moment is None:
            return "-"
        year, week, _day = moment.date().isocalendar()
        return moment.date().isoformat() if name == "day" else f"{year}-W{week:02d}"
    if name == "bitfield":
        return "-" if record.bitfield is None else ("on" if record.bitfield else "off")
    field = {"tmp": "tmp_dir", "tmp2": "tmp2_dir", "dst": "dst_dir", "buffer": "buffer_mib"}
    value = getattr(record, field.get(name, name))
    return "-" if value is None or value == "" else str(value)


def test_each_plot_is_in_the_group_of_its_own_key_whatever_its_times() -> None:
    # summarize makes the key texts a column at a time (each distinct value once, the days in
    # C loops when every plot's end is a time): the same groups as a plot at a time.
    rng = random.Random(12)
    times = [None, math.nan, math.inf, 1e300, -1e300, 0.0]
    records = [
        _record(
            plot_id=f"{number:064x}",
            plotter=rng.choice(["chia", "madmax", "bladebit"]),
            k=rng.choice([None, 32, 33]),
            tmp_dir=rng.choice([None, "", "/t/0", "/t/1"]),
            tmp2_dir=rng.choice([None, "/t2"]),
            threads=rng.choice([None, 4, 16]),
            bitfield=rng.choice([None, True, False]),
            started_at=rng.uniform(1.7e9, 1.8e9),
            ended_at=rng.uniform(1.7e9, 1.8e9),
            completed=rng.random() < 0.9,
        )
        for number in range(400)
    ]
    odd = [r._replace(ended_at=rng.choice(times)) if rng.random() < 0.1 else r for r in records]
    odd += [_record(plot_id="f" * 64, started_at=value, ended_at=None) for value in times]
    for plots in (records, odd):
        for by in (["day"], ["week", "tmp"], ["plotter", "k", "tmp2", "threads", "bitfield"]):
            expected: dict[tuple[str, ...], list[str]] = {}
            for r in plots:
                if r.completed:
                    expected.setdefault(tuple(_key_of(r, n) for n in by), []).append(r.plot_id)
            found = {g.key: g.plots_finished for g in summarize(plots, by)}
            assert found == {key: len(ids) for key, ids in expected.items()}


def test_grouping_by_two_keys_nests_them_in_order() -> None:
    records = [
        _record(tmp_dir="/t/b", ended_at=_at("2026-11-25T01:00:00")),
        _record(tmp_dir="/t/a", ended_at=_at("2026-11-25T01:00:00")),
        _record(tmp_dir="/t/a", ended_at=_at("2026-11-24T23:00:00")),
        _record(tmp_dir="/t/a", ended_at=_at("2026-11-24T22:00:00")),
    ]
    groups = summarize(records, ["tmp", "day"])
    assert [(g.key, g.plots_finished) for g in groups] == [
        (("/t/a", "2026-11-24"), 2),
        (("/t/a", "2026-11-25"), 1),
        (("/t/b", "2026-11-25"), 1),
    ]


def test_unfinished_plots_count_nowhere() -> None:
    records = [
        _record(),
        _record(completed=False, unfinished_reason="ends in phase 2", phase1_seconds=99.0),
    ]
    (group,) = summarize(records, [])
    assert group.plots_finished == 1
    phase1 = group.spreads["phase1"]
    assert phase1 is not None and phase1.n == 1 and phase1.mean == 10000.0
    assert summarize([records[1]], ["tmp"]) == []
    assert summarize([], []) == []


def test_durations_that_are_no_durations_are_left_out() -> None:
    records = [
        _record(phase1_seconds=100.0),
        _record(phase1_seconds=300.0),
        _record(phase1_seconds=math.nan),
        _record(phase1_seconds=math.inf),
        _record(phase1_seconds=-math.inf),
        _record(phase1_seconds=-5.0),
        _record(phase1_seconds=None),
        _record(phase1_seconds=1e300),  # squared, it would overflow to inf
    ]
    (group,) = summarize(records, [])
    phase1 = group.spreads["phase1"]
    assert phase1 is not None
    assert (phase1.n, phase1.mean, phase1.min, phase1.median, phase1.max) == (
        2,
        200.0,
        100.0,
        200.0,
        300.0,
    )
    assert phase1.stdev == pytest.approx(math.sqrt(20000.0))
    assert group.spreads["copy"] is None  # no plot of the group has a copy time
    assert group.plots_finished == 8


def test_one_value_has_no_spread_and_the_median_of_an_odd_count_is_the_middle() -> None:
    single = spread([42.0])
    assert single is not None and single.stdev == 0.0 and single.median == 42.0
    odd = spread([5.0, 1.0, 3.0])
    assert odd is not None and odd.median == 3.0
    assert spread([None, math.nan]) is None


def test_output_per_day_over_the_groups_span_at_least_a_day() -> None:
    one = _record(final_bytes=TIB)  # 8 hours of plotting
    (group,) = summarize([one], [])
    assert group.span_seconds == 86400.0
    assert group.plots_per_day == 1.0
    assert group.tib_per_day == 1.0
    # Four plots from day 0 10:00 to day 2 10:00: two days, 2 plots/day, 2 TiB/day.
    four = [
        _record(
            started_at=_at("2026-11-24T10:00:00"),
            ended_at=_at("2026-11-24T20:00:00"),
            final_bytes=TIB,
        ),
        _record(
            started_at=_at("2026-11-25T00:00:00"),
            ended_at=_at("2026-11-25T10:00:00"),
            final_bytes=TIB,
        ),
        _record(
            started_at=_at("2026-11-25T10:00:00"),
            ended_at=_at("2026-11-26T10:00:00"),
            final_bytes=TIB,
        ),
        _record(started_at=math.nan, ended_at=math.inf, final_bytes=TIB),
    ]
    (group,) = summarize(four, [])
    assert group.span_seconds == 2 * 86400.0
    assert group.plots_per_day == 2.0
    assert group.bytes_written == 4 * TIB
    assert group.tib_per_day == 2.0


def _eight_jobs_for_a_week() -> list[PlotRecord]:
    """A farm of 8 parallel jobs, one per tmp dir, started an hour apart on Monday 2026-11-02,
    each making 8-hour plots back to back until Monday 2026-11-09: 24 plots a day, 1 TiB each."""
    monday = _at("2026-11-02T00:00:00")
    records = []
    for job in range(8):
        start = monday + job * 3600
        while start + 8 * 3600 < monday + 7 * 86400:
            records.append(
                _record(
                    plot_id=f"{job}-{start}",
                    tmp_dir=f"/mnt/tmp/{job}",
                    started_at=start,
                    ended_at=start + 8 * 3600,
                    final_bytes=TIB,
                )
            )
            start += 8 * 3600
    return records


def test_a_day_of_a_parallel_farm_reads_as_the_plots_it_finished() -> None:
    # By day, a day's plots/day is the plots that ended on it: 24 on a full day of the farm,
    # not 24 over the 1.3 days from the first of them's start the evening before.
    days = summarize(_eight_jobs_for_a_week(), ["day"])
    tuesday = next(g for g in days if g.key == ("2026-11-03",))
    assert tuesday.plots_finished == 24
    assert tuesday.span_seconds == 86400.0
    assert tuesday.plots_per_day == 24.0
    assert tuesday.tib_per_day == 24.0
    by_tmp_and_day = summarize(_eight_jobs_for_a_week(), ["tmp", "day"])
    assert {g.plots_per_day for g in by_tmp_and_day if g.key[1] == "2026-11-03"} == {3.0}


def test_a_week_of_a_parallel_farm_reads_as_its_daily_rate() -> None:
    # The week's span is clipped to the week: from Monday 00:00 (no plot's start the week
    # before counts) to the last plot's end, at least a day.
    (week,) = summarize(_eight_jobs_for_a_week(), ["week"])
    assert week.key == ("2026-W45",)
    last_end = max(r.ended_at or 0 for r in _eight_jobs_for_a_week())
    assert week.span_seconds == last_end - _at("2026-11-02T00:00:00")
    assert 22.5 < week.plots_per_day < 23.5
    # A week whose plots began the Sunday before: its span starts on its Monday.
    late = [
        _record(started_at=_at("2026-11-08T20:00:00"), ended_at=_at("2026-11-09T04:00:00")),
        _record(started_at=_at("2026-11-10T20:00:00"), ended_at=_at("2026-11-11T04:00:00")),
    ]
    (week,) = summarize(late, ["week"])
    assert week.key == ("2026-W46",)
    assert week.span_seconds == _at("2026-11-11T04:00:00") - _at("2026-11-09T00:00:00")


def test_sizes_that_are_no_sizes_add_nothing() -> None:
    records = [_record(final_bytes=1000), _record(final_bytes=-1), _record(final_bytes=None)]
    records.append(_record(final_bytes=10**400))
    (group,) = summarize(records, [])
    assert group.bytes_written == 1000
    assert math.isfinite(group.tib_per_day)


def test_times_out_of_range_give_unknown_days_not_errors() -> None:
    records = [_record(started_at=1e300, ended_at=-1e300), _record(ended_at=math.nan)]
    groups = summarize(records, ["day"])
    assert [g.plots_finished for g in groups] == [1, 1]
    assert groups[-1].key == ("-",)
    assert all(math.isfinite(g.plots_per_day) for g in groups)


def test_an_unknown_group_name_is_a_value_error_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="cannot group by disk: use plotter, k, compression"):
        summarize([_record()], ["tmp", "disk"])


def test_the_measures_are_the_six_durations() -> None:
    assert MEASURES == ("phase1", "phase2", "phase3", "phase4", "total", "copy")


def test_per_day_gives_every_day_oldest_first_with_empty_days() -> None:
    now = _at("2026-11-26T09:00:00")
    records = [
        _record(ended_at=_at("2026-11-26T01:00:00"), final_bytes=100),
        _record(ended_at=_at("2026-11-24T23:59:59"), final_bytes=10),
        _record(ended_at=_at("2026-11-24T00:00:00"), final_bytes=1),
        _record(ended_at=_at("2026-11-23T23:59:59")),  # before the window
        _record(ended_at=_at("2026-11-27T00:00:01")),  # after now's day
        _record(ended_at=None, started_at=_at("2026-11-26T02:00:00"), final_bytes=1000),
        _record(ended_at=_at("2026-11-26T03:00:00"), completed=False),
    ]
    assert per_day(records, 3, now) == [
        DayTotal("2026-11-24", 2, 11),
        DayTotal("2026-11-25", 0, 0),
        DayTotal("2026-11-26", 2, 1100),
    ]
    assert per_day(records, 0, now) == []
    assert len(per_day([], 30, now)) == 30
    assert per_day([], 30, now)[-1].day == "2026-11-26"


def test_per_day_follows_the_local_zone() -> None:
    os.environ["TZ"] = "Etc/GMT-10"  # ten hours ahead of UTC (undone by _utc)
    time.tzset()
    end = _at("2026-11-24T20:00:00+00:00")  # already the 25th there
    now = _at("2026-11-25T12:00:00+00:00")
    assert per_day([_record(ended_at=end)], 2, now) == [
        DayTotal("2026-11-24", 0, 0),
        DayTotal("2026-11-25", 1, 108_000_000_000),
    ]


def test_a_25_hour_day_still_reads_as_the_plots_that_ended_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # New York's clocks went back on 2026-11-01: that local day had 25 hours.
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    midnight = _at("2026-11-01T00:00:00")
    # 8-hour plots ending every real hour from 00:30 to 23:30 local: 25 of them.
    ends = [midnight + 1800 + hour * 3600 for hour in range(25)]
    records = [_record(plot_id=str(end), started_at=end - 8 * 3600, ended_at=end) for end in ends]
    by_day = {g.key: g for g in summarize(records, ["day"])}
    day = by_day[("2026-11-01",)]
    assert day.plots_finished == 25
    assert day.plots_per_day == 25.0
