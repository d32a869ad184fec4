"""Naming jobs on the command line: plot-id prefixes, ``pid:N`` and ``all``.

A plotter hung before it printed its plot id has no id to name it by, and two jobs with the same
plot id (a copied log) cannot be told apart by one: both are named by ``pid:N``, and every error
lists the candidates the way they can be named.
"""

from __future__ import annotations

import pytest

from plotman_tui.farm.discovery import job_id_errors, select_jobs
from plotman_tui.farm.model import Job, JobStatus

A = "aa" + "1" * 62
B = "ab" + "2" * 62


def job(pid: int, plot_id: str | None) -> Job:
    return Job(
        pid=pid,
        plotter="chia",
        argv=(),
        cwd=None,
        started_at=1000.0 + pid,
        wall_seconds=1.0,
        status=JobStatus.RUN,
        plot_id=plot_id,
    )


JOBS = [job(101, A), job(102, B), job(2021, None)]


def test_prefixes_and_all_select_as_before() -> None:
    assert select_jobs(JOBS, ["aa", "AB2"]) == ([JOBS[0], JOBS[1]], [])
    assert select_jobs(JOBS, ["all"]) == (JOBS, [])
    assert select_jobs(JOBS, ["all", "aa"]) == (JOBS, [])


def test_a_job_without_a_plot_id_is_named_by_pid() -> None:
    assert select_jobs(JOBS, ["pid:2021"]) == ([JOBS[2]], [])
    assert select_jobs(JOBS, ["pid:101", "aa"]) == ([JOBS[0]], [])  # once, however named


def test_a_pid_no_job_has_is_an_error_that_names_it_and_lists_the_jobs() -> None:
    chosen, errors = select_jobs(JOBS, ["pid:999"])
    assert chosen == []
    assert errors == [
        "no job with pid 999 (running: pid:101 (aa111111), pid:102 (ab222222), "
        "pid:2021 (no plot id in its log yet))"
    ]


def test_an_ambiguous_prefix_lists_each_candidate_as_pid_with_its_id() -> None:
    chosen, errors = select_jobs(JOBS, ["a"])
    assert chosen == []
    assert errors == [
        "id prefix 'a' is ambiguous: pid:101 (aa111111), pid:102 (ab222222); "
        "give a longer prefix, or pid:N"
    ]


def test_two_jobs_with_the_same_plot_id_are_told_apart_by_pid() -> None:
    twins = [job(301, A), job(302, A)]
    chosen, errors = select_jobs(twins, [A])
    assert chosen == []
    assert len(errors) == 1
    assert "same plot id" in errors[0] and "pid:301" in errors[0] and "pid:302" in errors[0]
    assert select_jobs(twins, ["pid:302"]) == ([twins[1]], [])


def test_no_match_lists_the_running_jobs_as_they_can_be_named() -> None:
    _, errors = select_jobs(JOBS, ["ff"])
    assert errors == [
        "no job with an id starting 'ff' (running: pid:101 (aa111111), pid:102 (ab222222), "
        "pid:2021 (no plot id in its log yet))"
    ]
    assert select_jobs([], ["ff"])[1] == [
        "no job with an id starting 'ff' (no plot jobs are running)"
    ]


@pytest.mark.parametrize(
    "bad", ["", "xyz", "pid:", "pid:-1", "pid:12a", "12 34", "a" * 65, "pid 2021", "al", "--all"]
)
def test_anything_but_a_hex_prefix_pid_or_all_is_a_usage_error(bad: str) -> None:
    errors = job_id_errors([bad])
    assert errors == [f"{bad!r} is not a job id: give a plot id prefix (hex digits), pid:N, or all"]
    assert select_jobs(JOBS, [bad]) == ([], errors)


@pytest.mark.parametrize("good", ["a", "AA11", A, "pid:7", "PID:7", "all", "ALL"])
def test_well_formed_ids_are_no_usage_error(good: str) -> None:
    assert job_id_errors([good]) == []
