"""A fixed fleet for the fleet screen's tests: the views the fleet's client would report.

Four hosts at farmdata's fixed time: this machine (farmdata's five jobs), ``plotter2`` (up,
three jobs, plotting paused there), ``plotter3`` (down for two minutes: no SSH answer) and
``plotter4`` (failed: its host key changed). The views are built by hand from the same model
the watch's lines are decoded into (``fleet.model``), so a screenshot is the same everywhere.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from plotman_tui.config.schema import FleetConfig, FleetHost
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.eta import Estimate
from plotman_tui.farm.model import Job, JobStatus
from plotman_tui.fleet.model import LOCAL_ADDRESS, HostConfig, HostStatus, HostView, LoopState
from plotman_tui.plotters.phase import Phase
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.messages import FleetChanged
from plotman_tui.tui.view import job_key
from tests.tui.farmdata import DST, GIB, NOW, TMP, farm_config, farm_jobs, make_job

DOWN_PROBLEM = "no SSH answer from 10.0.0.13:22 within 10 s"
FAILED_PROBLEM = (
    "the host key of plotter4 (10.0.0.14:22) changed: if the machine was reinstalled, remove "
    "its old key from known_hosts"
)
HOSTS = ("plotter2", "plotter3", "plotter4")


def fleet_config() -> FleetConfig:
    return FleetConfig(
        hosts=tuple(
            FleetHost(name=name, host=f"10.0.0.{12 + index}", user="chia")
            for index, name in enumerate(HOSTS)
        )
    )


def plotter2_jobs() -> tuple[Job, ...]:
    """Three jobs of plotter2: their pids and starts are not the local jobs'."""
    jobs = (
        make_job(11, age_s=1_200, phase=Phase(1, 3), tmp=0, dst=0, tmp_usage=60 * GIB),
        make_job(12, age_s=9_000, phase=Phase(2, 1), tmp=1, dst=1, tmp_usage=160 * GIB),
        make_job(
            13,
            age_s=21_000,
            phase=Phase(4, 0),
            tmp=1,
            dst=0,
            status=JobStatus.DSK,
            tmp_usage=100 * GIB,
        ),
    )
    return tuple(replace(job, pid=job.pid + 10_000) for job in jobs)


def plotter2_estimates() -> dict[str, Estimate]:
    """What plotter2's watch says of its jobs' progress and ETA, from its own history: its
    third job has no finished run like it there (it shows "-")."""
    first, second, _third = plotter2_jobs()
    return {
        job_key(first): Estimate(progress=0.123, eta_seconds=24_000.0, basis=5, same_tmp=True),
        job_key(second): Estimate(progress=0.551, eta_seconds=12_600.0, basis=5, same_tmp=True),
    }


def _dirs() -> tuple[DirInfo, ...]:
    return (
        DirInfo(TMP[0], total_bytes=2000 * GIB, free_bytes=1400 * GIB),
        DirInfo(TMP[1], total_bytes=2000 * GIB, free_bytes=900 * GIB),
        DirInfo(DST[0], total_bytes=16000 * GIB, free_bytes=7000 * GIB),
        DirInfo(DST[1], total_bytes=16000 * GIB, free_bytes=3000 * GIB),
    )


def host_config() -> HostConfig:
    return HostConfig(
        path="/etc/plotman-tui/config.toml", text="", home="/home/chia", config=farm_config()
    )


def fleet_views() -> tuple[HostView, ...]:
    active = LoopState(holder="pid 812, plotman-tui --no-ui, since 20:02", reason="stagger")
    return (
        HostView(
            name="local",
            address=LOCAL_ADDRESS,
            status=HostStatus.UP,
            updated_at=NOW,
            news_at=NOW - 1,
            version="1.4.0",
            jobs=farm_jobs(),
            dirs=_dirs(),
            dirs_taken_at=NOW - 5,
            plotting=active,
            plots_today=7,
            config=host_config(),
        ),
        HostView(
            name="plotter2",
            address="chia@10.0.0.12:22",
            status=HostStatus.UP,
            updated_at=NOW,
            news_at=NOW - 1,
            version="1.4.0",
            jobs=plotter2_jobs(),
            estimates=plotter2_estimates(),
            dirs=_dirs(),
            dirs_taken_at=NOW - 5,
            plotting=replace(active, paused=True, paused_by="alice at 21:40"),
            plots_today=4,
            config=host_config(),
        ),
        HostView(
            name="plotter3",
            address="chia@10.0.0.13:22",
            status=HostStatus.DOWN,
            problem=DOWN_PROBLEM,
            updated_at=NOW,
            news_at=NOW - 125,
            retry_at=NOW + 30,
        ),
        HostView(
            name="plotter4",
            address="chia@10.0.0.14:22",
            status=HostStatus.FAILED,
            problem=FAILED_PROBLEM,
            updated_at=NOW,
            retry_at=NOW + 60,
        ),
    )


def fleet_app() -> DashboardApp:
    """The dashboard with no worker and a fleet of three other hosts."""
    return DashboardApp(
        replace(farm_config(), fleet=fleet_config()),
        Path("/etc/plotman-tui/config.toml"),
        plotting_enabled=True,
        live=False,
        clock=lambda: NOW + 0.5,
    )


def fleet_changed() -> FleetChanged:
    return FleetChanged(fleet_views())
