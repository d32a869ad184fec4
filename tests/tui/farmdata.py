"""A fixed farm for the dashboard's snapshot tests: the messages the workers would post.

Everything is built from ``farm.model`` objects at a fixed time, so a screenshot is the same on
every machine (the tests pin the time zone to UTC too).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from plotman_tui.config.schema import (
    ArchiveTarget,
    ArchivingConfig,
    Config,
    DirectoriesConfig,
    LoggingConfig,
    SchedulingConfig,
    TargetType,
)
from plotman_tui.farm.actionlog import ActionEntry
from plotman_tui.farm.archive.engine import ArchivePassResult
from plotman_tui.farm.archive.policy import ArchiveWait
from plotman_tui.farm.archive.replot import ReplotProgress
from plotman_tui.farm.archive.space import TargetSpace
from plotman_tui.farm.archive.transfer import RunningTransfer
from plotman_tui.farm.dirs import DirInfo
from plotman_tui.farm.engine import PassResult
from plotman_tui.farm.events import Event, EventKind
from plotman_tui.farm.model import Job, JobStatus, Snapshot, TempFile
from plotman_tui.farm.scheduler import Decision, Wait
from plotman_tui.plotters.phase import Phase
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.messages import ActionsRead, ArchivePassed, DirsSampled, PassCompleted

#: 2023-11-14 22:13:20 UTC.
NOW = 1_700_000_000.0
GIB = 1024**3

STAGGER = Wait("stagger (1623s/1800s)")

TMP = ("/mnt/nvme/tmp/0", "/mnt/nvme/tmp/1")
TMP2 = "/mnt/nvme/tmp2"
DST = ("/mnt/farm/dst/0", "/mnt/farm/dst/1")
#: The farmer's disks (an ssh target), and a second farmer that does not answer.
ARCHIVE = ("/srv/chia/plots/hdd00", "/srv/chia/plots/hdd01", "/srv/chia/plots/hdd02")
ARCHIVE_SILENT = ("/srv/chia/plots/hdd10",)
SILENT_PROBLEM = "farmer unreachable: no SSH answer from backup.lan:22 within 10 s"


def farm_config(**scheduling: int) -> Config:
    return Config(
        logging=LoggingConfig(plots=Path("/var/log/plots")),
        directories=DirectoriesConfig(
            tmp=tuple(Path(p) for p in TMP), tmp2=Path(TMP2), dst=tuple(Path(p) for p in DST)
        ),
        scheduling=replace(SchedulingConfig(), **scheduling),
    )


def archive_targets() -> tuple[ArchiveTarget, ...]:
    return (
        ArchiveTarget(
            name="farmer", type=TargetType.SSH, archive_dirs=ARCHIVE, host="farmer.lan", user="chia"
        ),
        ArchiveTarget(
            name="backup", type=TargetType.SSH, archive_dirs=ARCHIVE_SILENT, host="backup.lan"
        ),
    )


def archive_config(**scheduling: int) -> Config:
    """The farm with archiving to two ssh targets."""
    return replace(
        farm_config(**scheduling),
        archiving=ArchivingConfig(enabled=True, targets=archive_targets()),
    )


def plot_id(seed: int) -> str:
    return hashlib.sha256(f"plot {seed}".encode()).hexdigest()


#: A k32 chia job's phases on these farms (seconds) and their minor phases (first, count).
_CHIA_PHASES = {1: (9_900.0, 1, 7), 2: (4_100.0, 0, 8), 3: (8_100.0, 0, 7), 4: (520.0, 0, 1)}


def _timeline(phase: Phase, index: int) -> tuple[float, tuple[tuple[int, float], ...]]:
    """A job's age at ``phase`` and the times of the phases it finished, as a k32 chia job
    runs: the youngest 10 minutes into 1:1, each a little slower than the one before it."""
    pace = 1.0 + 0.04 * (index % 3)
    done = tuple((major, _CHIA_PHASES[major][0] * pace) for major in range(1, phase.major))
    seconds, first, count = _CHIA_PHASES[phase.major]
    into = seconds * pace * (phase.minor - first) / count
    return 600.0 + index * 60.0 + sum(time for _major, time in done) + into, done


def make_job(
    seed: int,
    *,
    age_s: float,
    phase: Phase | None,
    tmp: int = 0,
    dst: int = 0,
    status: JobStatus = JobStatus.RUN,
    phase_seconds: Sequence[tuple[int, float]] = (),
    tmp_usage: int | None = None,
) -> Job:
    pid = 4100 + seed
    the_id = plot_id(seed)
    tmp_dir, dst_dir = TMP[tmp], DST[dst]
    files = (
        (TempFile(f"{tmp_dir}/plot-k32-{the_id}.plot.sort.tmp", tmp_usage),) if tmp_usage else ()
    )
    return Job(
        pid=pid,
        plotter="chia",
        argv=("chia", "plots", "create", "-k", "32", "-t", tmp_dir, "-2", TMP2, "-d", dst_dir),
        cwd="/home/farmer",
        started_at=NOW - age_s,
        wall_seconds=age_s,
        status=status,
        plot_id=the_id,
        k=32,
        tmp_dir=tmp_dir,
        tmp2_dir=TMP2,
        dst_dir=dst_dir,
        threads=4,
        buckets=128,
        buffer_mib=3389,
        compression=0,
        phase=phase,
        phase_seconds=tuple(phase_seconds),
        log_file=f"/var/log/plots/{the_id[:8]}.log",
        tmp_files=files,
        tmp_usage_bytes=tmp_usage,
        mem_rss_bytes=3 * GIB + seed * 100 * 1024**2,
        user_seconds=age_s * 1.6,
        sys_seconds=age_s * 0.2,
        iowait_seconds=age_s * 0.05,
    )


def farm_jobs() -> tuple[Job, ...]:
    """Five jobs, youngest first (as a scan lists them), in every state the table colours."""
    return (
        make_job(1, age_s=600, phase=Phase(1, 2), tmp=1, dst=1, tmp_usage=40 * GIB),
        make_job(2, age_s=4_000, phase=Phase(1, 6), tmp=0, dst=0, tmp_usage=120 * GIB),
        make_job(
            3,
            age_s=11_000,
            phase=Phase(2, 3),
            tmp=1,
            dst=0,
            status=JobStatus.STP,
            phase_seconds=((1, 9_000.0),),
            tmp_usage=180 * GIB,
        ),
        make_job(
            4,
            age_s=19_000,
            phase=Phase(3, 5),
            tmp=0,
            dst=1,
            status=JobStatus.DSK,
            phase_seconds=((1, 9_100.0), (2, 4_000.0)),
            tmp_usage=150 * GIB,
        ),
        make_job(5, age_s=30, phase=None, tmp=0, dst=0, status=JobStatus.SLP),
    )


def pass_completed(
    jobs: Sequence[Job] | None = None,
    *,
    decision: Decision | None = STAGGER,
    holds_lock: bool = True,
    at: float = NOW,
) -> PassCompleted:
    snapshot = Snapshot(jobs=tuple(farm_jobs() if jobs is None else jobs), updated=at)
    result = PassResult(
        time=at,
        snapshot=snapshot,
        decision=decision,
        started=None,
        events=(),
        holds_lock=holds_lock,
    )
    return PassCompleted(result=result, scheduled=decision is not None, dir_of={})


def dirs_sampled() -> DirsSampled:
    infos = (
        DirInfo(TMP[0], total_bytes=2000 * GIB, free_bytes=1400 * GIB),
        DirInfo(TMP[1], total_bytes=2000 * GIB, free_bytes=210 * GIB),
        DirInfo(TMP2, total_bytes=1000 * GIB, free_bytes=600 * GIB),
        DirInfo(
            DST[0],
            total_bytes=18_000 * GIB,
            free_bytes=5_200 * GIB,
            plots=3,
            plot_bytes=3 * 101 * GIB,
        ),
        DirInfo(DST[1], error="missing"),
    )
    return DirsSampled(dirs=infos, taken_at=NOW)


def actions_read() -> ActionsRead:
    jobs = farm_jobs()
    entries = [
        ActionEntry(
            time=NOW - job.wall_seconds,
            action="start",
            plot_id=None,
            pid=job.pid,
            argv=job.argv,
            reason="tmp 0: ready (empty); dst 0: most space, 5.1 TiB free",
        )
        for job in reversed(jobs)
    ]
    entries.append(
        ActionEntry(
            time=NOW - 3_000,
            action="suspend",
            plot_id=jobs[2].plot_id,
            pid=jobs[2].pid,
            reason="dashboard: suspended job 035eedc0 (pid 4103)",
        )
    )
    entries.append(
        ActionEntry(
            time=NOW - 60,
            action="kill",
            plot_id=plot_id(9),
            pid=4109,
            reason="dashboard",
            result="failed: permission denied [as root?]",
        )
    )
    entries.sort(key=lambda entry: entry.time)
    return ActionsRead(entries=tuple(entries))


def still_app(*, plotting_enabled: bool = True, **scheduling: int) -> DashboardApp:
    """The dashboard with no worker: it shows only what a test posts."""
    return DashboardApp(
        farm_config(**scheduling),
        Path("/etc/plotman-tui/config.toml"),
        plotting_enabled=plotting_enabled,
        live=False,
        clock=lambda: NOW + 0.5,
    )


def feed(app: DashboardApp) -> None:
    """Post what the workers would: a pass, the dirs and the action log."""
    app.post_message(pass_completed())
    app.post_message(dirs_sampled())
    app.post_message(actions_read())


# -- archiving -----------------------------------------------------------------------------------

#: The plot on its way to the farmer, and the pid of its rsync.
TRANSFER_PID = 5201


def plot_name(seed: int) -> str:
    return f"plot-k32-2023-11-14-18-02-{plot_id(seed)}.plot"


def archive_dirs_sampled() -> DirsSampled:
    """As :func:`dirs_sampled`, with plots waiting in both dst dirs (so both have a priority)."""
    infos = list(dirs_sampled().dirs)
    infos[-1] = DirInfo(
        DST[1], total_bytes=18_000 * GIB, free_bytes=800 * GIB, plots=9, plot_bytes=9 * 101 * GIB
    )
    return DirsSampled(dirs=tuple(infos), taken_at=NOW)


def archive_passed(
    *,
    transfers: bool = True,
    holds_lock: bool = True,
    events: tuple[Event, ...] = (),
) -> ArchivePassed:
    """A pass: one plot on its way to ``farmer`` (or none), ``backup`` silent."""
    targets = archive_targets()
    running = (
        (
            RunningTransfer(
                pid=TRANSFER_PID,
                create_time=NOW - 40,
                target="farmer",
                source=f"{DST[1]}/{plot_name(7)}",
                archive_dir=ARCHIVE[1],
                argv=("rsync", "--remove-source-files", f"{DST[1]}/{plot_name(7)}"),
            ),
        )
        if transfers
        else ()
    )
    farmer_wait = (
        "1 of 1 transfer running (max_concurrent)"
        if transfers
        else "every finished plot is already on its way"
    )
    spaces = {
        "farmer": TargetSpace(
            target="farmer",
            free_bytes={ARCHIVE[0]: 120 * GIB, ARCHIVE[1]: 3_300 * GIB, ARCHIVE[2]: None},
            dir_problems={ARCHIVE[2]: "missing"},
            checked_at=NOW - 20,
        ),
        "backup": TargetSpace.failed(targets[1], SILENT_PROBLEM, NOW - 5, reachable=False),
    }
    result = ArchivePassResult(
        time=NOW,
        transfers=running,
        started=(),
        waits=(ArchiveWait(farmer_wait, "farmer"), ArchiveWait(SILENT_PROBLEM, "backup")),
        spaces=spaces,
        events=events,
        holds_lock=holds_lock,
        replot={"farmer": replot_progress()},
    )
    return ArchivePassed(result=result)


def replot_progress() -> ReplotProgress:
    """``farmer`` halfway through replotting its uncompressed k32 plots."""
    old_plot = int(101.4 * GIB)
    return ReplotProgress(
        target="farmer",
        matching_plots=412,
        matching_bytes=412 * old_plot,
        removed_plots=88,
        removed_bytes=88 * old_plot,
        new_plots_moved=97,
        bytes_per_day=14 * old_plot,
        days_left=412 / 14,
        listed_at=NOW - 300,
    )


def archive_actions_read() -> ActionsRead:
    """The action log of :func:`actions_read`, with a plot sent and one on its way."""
    sent = ActionEntry(
        time=NOW - 400,
        action="transfer",
        plot_id=plot_id(6),
        pid=5200,
        reason=f"{plot_name(6)} moved",
        result="ok",
    )
    sending = ActionEntry(
        time=NOW - 40,
        action="transfer",
        plot_id=plot_id(7),
        pid=TRANSFER_PID,
        reason="to farmer",
        result="started",
    )
    entries = sorted([*actions_read().entries, sent, sending], key=lambda entry: entry.time)
    return ActionsRead(entries=tuple(entries))


def archive_wait_event() -> Event:
    return Event(
        NOW - 300, EventKind.WAIT, f"backup: {SILENT_PROBLEM}", details={"target": "backup"}
    )


def archive_app(*, archiving_enabled: bool = True, **scheduling: int) -> DashboardApp:
    """The dashboard with archiving set up and no worker."""
    return DashboardApp(
        archive_config(**scheduling),
        Path("/etc/plotman-tui/config.toml"),
        plotting_enabled=True,
        archiving_enabled=archiving_enabled,
        live=False,
        clock=lambda: NOW + 0.5,
    )


def archive_feed(app: DashboardApp) -> None:
    """What the workers would post on a farm that archives."""
    app.post_message(pass_completed())
    app.post_message(archive_dirs_sampled())
    app.post_message(archive_actions_read())
    app.post_message(archive_passed(events=(archive_wait_event(),)))


# -- farms of a real size ------------------------------------------------------------------------
# A realistic farm (12 tmp dirs, 6 dst dirs, 2 archive targets of 40 disks, 30 jobs) and a huge
# one (24 tmp, 12 dst, 100 disks, 60 jobs): every number below is worked out from the seed, so
# the screenshots are the same everywhere.


class BigFarm:
    """A farm of ``tmp_count`` tmp dirs (and a tmp2), ``dst_count`` dst dirs, two ssh targets
    with ``disks`` archive disks each and ``job_count`` jobs, archiving on."""

    def __init__(
        self, *, tmp_count: int, dst_count: int, disks: tuple[int, int], job_count: int
    ) -> None:
        self.tmp = tuple(f"/mnt/tmp/{n:02d}" for n in range(tmp_count))
        self.tmp2 = "/mnt/ram"
        self.dst = tuple(f"/mnt/dst/{n:02d}" for n in range(dst_count))
        self.farmer_dirs = tuple(f"/srv/chia/hdd{n:03d}" for n in range(disks[0]))
        self.nas_dirs = tuple(f"/srv/chia/nas{n:03d}" for n in range(disks[1]))
        self.job_count = job_count

    def config(self) -> Config:
        return Config(
            logging=LoggingConfig(plots=Path("/var/log/plots")),
            directories=DirectoriesConfig(
                tmp=tuple(Path(p) for p in self.tmp),
                tmp2=Path(self.tmp2),
                dst=tuple(Path(p) for p in self.dst),
            ),
            scheduling=replace(SchedulingConfig(), global_max_jobs=len(self.tmp) * 3),
            archiving=ArchivingConfig(
                enabled=True,
                targets=(
                    ArchiveTarget(
                        name="farmer",
                        type=TargetType.SSH,
                        archive_dirs=self.farmer_dirs,
                        host="farmer.lan",
                        user="chia",
                        max_concurrent=2,
                    ),
                    ArchiveTarget(
                        name="nas",
                        type=TargetType.SSH,
                        archive_dirs=self.nas_dirs,
                        host="nas.lan",
                    ),
                ),
            ),
        )

    def jobs(self) -> tuple[Job, ...]:
        """Youngest first, one every 40 minutes, placed round the robin over the tmp dirs: most
        dirs end with three jobs (max jobs), one with a job before 2:1, one with a job past it
        (and short of space), the last with none (ready)."""
        phases = [Phase(1, m) for m in range(1, 8)] + [Phase(2, m) for m in range(8)]
        phases += [Phase(3, m) for m in range(7)] + [Phase(4, 0)]
        count = len(self.tmp)
        room = [3] * (count - 3) + [2, 1, 0]
        slots = [d for turn in range(3) for d in range(count) if room[d] > turn]
        jobs = []
        for index in range(self.job_count):
            seed = 100 + index
            phase = phases[min(index * len(phases) // self.job_count, len(phases) - 1)]
            tmp_dir = self.tmp[slots[index % len(slots)]]
            if tmp_dir == self.tmp[-2]:
                phase = Phase(3, 1)  # past 2:1: what keeps its dir waiting is its free space
            age, phase_seconds = _timeline(phase, index)
            status = (
                JobStatus.STP
                if index == 7
                else JobStatus.DSK
                if index % 5 == 3
                else JobStatus.SLP
                if index % 9 == 4
                else JobStatus.RUN
            )
            job = make_job(
                seed,
                age_s=age,
                phase=phase,
                status=status,
                phase_seconds=phase_seconds,
                tmp_usage=(40 + index * 7) * GIB,
            )
            dst_dir = self.dst[index % len(self.dst)]
            jobs.append(
                replace(
                    job,
                    argv=(
                        "chia",
                        "plots",
                        "create",
                        "-k",
                        "32",
                        "-t",
                        tmp_dir,
                        "-2",
                        self.tmp2,
                        "-d",
                        dst_dir,
                    ),
                    phase=phase,
                    tmp_dir=tmp_dir,
                    tmp2_dir=self.tmp2,
                    dst_dir=dst_dir,
                    tmp_files=tuple(
                        replace(f, path=f.path.replace(TMP[0], tmp_dir)) for f in job.tmp_files
                    ),
                )
            )
        return tuple(sorted(jobs, key=lambda job: -job.started_at))  # youngest first

    def dirs_sampled(self) -> DirsSampled:
        infos = [
            # The dir with one job past 2:1 is short of space: its ready cell says by how much.
            DirInfo(
                path,
                total_bytes=2000 * GIB,
                free_bytes=(78 if n == len(self.tmp) - 2 else 900 + n * 13) * GIB,
            )
            for n, path in enumerate(self.tmp)
        ]
        infos.append(DirInfo(self.tmp2, total_bytes=256 * GIB, free_bytes=180 * GIB))
        for n, path in enumerate(self.dst):
            plots = (n * 7) % 11
            if n == len(self.dst) - 1:
                infos.append(DirInfo(path, error="missing"))
                continue
            infos.append(
                DirInfo(
                    path,
                    total_bytes=18_000 * GIB,
                    free_bytes=(16_000 - (n % 6) * 2_900) * GIB,
                    plots=plots,
                    plot_bytes=plots * 101 * GIB,
                )
            )
        return DirsSampled(dirs=tuple(infos), taken_at=NOW)

    def archive_passed(self) -> ArchivePassed:
        """Two plots on their way to ``farmer``; ``nas`` has a missing disk and full ones."""
        running = tuple(
            RunningTransfer(
                pid=TRANSFER_PID + n,
                create_time=NOW - 40 - n * 300,
                target="farmer",
                source=f"{self.dst[n]}/{plot_name(70 + n)}",
                archive_dir=self.farmer_dirs[3 + n * 5],
                argv=("rsync", "--remove-source-files", f"{self.dst[n]}/{plot_name(70 + n)}"),
            )
            for n in range(2)
        )
        farmer_free = {
            path: ((n * 37) % 19) * 100 * GIB + (n % 3) * 17 * GIB
            for n, path in enumerate(self.farmer_dirs)
        }
        nas_free: dict[str, int | None] = {
            path: (50 + (n * 53) % 900) * GIB for n, path in enumerate(self.nas_dirs)
        }
        nas_free[self.nas_dirs[7]] = None
        spaces = {
            "farmer": TargetSpace(target="farmer", free_bytes=farmer_free, checked_at=NOW - 20),
            "nas": TargetSpace(
                target="nas",
                free_bytes=nas_free,
                dir_problems={self.nas_dirs[7]: "missing"},
                checked_at=NOW - 30,
            ),
        }
        result = ArchivePassResult(
            time=NOW,
            transfers=running,
            started=(),
            waits=(
                ArchiveWait("2 of 2 transfers running (max_concurrent)", "farmer"),
                ArchiveWait("every finished plot is already on its way", "nas"),
            ),
            spaces=spaces,
            events=(),
            holds_lock=True,
        )
        return ArchivePassed(result=result)

    def actions_read(self) -> ActionsRead:
        """A start for every job, and a plot moved to the farmer every 20 minutes for a day."""
        entries = [
            ActionEntry(
                time=job.started_at,
                action="start",
                plot_id=None,
                pid=job.pid,
                argv=job.argv,
                reason=(
                    f"tmp {os.path.basename(job.tmp_dir or '')}: ready (empty); "
                    f"dst {os.path.basename(job.dst_dir or '')}: most space, 5.1 TiB free"
                ),
            )
            for job in self.jobs()
        ]
        entries += [
            ActionEntry(
                time=NOW - 90 - n * 1_200,
                action="transfer",
                plot_id=plot_id(300 + n),
                pid=6000 + n,
                reason=f"{plot_name(300 + n)} moved to farmer:{self.farmer_dirs[n % 40]}",
                result="ok",
            )
            for n in range(72)
        ]
        entries.sort(key=lambda entry: entry.time)
        return ActionsRead(entries=tuple(entries))

    def app(self) -> DashboardApp:
        return DashboardApp(
            self.config(),
            Path("/etc/plotman-tui/config.toml"),
            plotting_enabled=True,
            archiving_enabled=True,
            live=False,
            clock=lambda: NOW + 0.5,
        )

    def feed(self, app: DashboardApp) -> None:
        app.post_message(pass_completed(self.jobs(), decision=STAGGER))
        app.post_message(self.dirs_sampled())
        app.post_message(self.actions_read())
        app.post_message(self.archive_passed())


#: 12 tmp dirs, 6 dst dirs, 2 targets of 40 disks, 30 jobs.
REAL_FARM = BigFarm(tmp_count=12, dst_count=6, disks=(40, 40), job_count=30)
#: 24 tmp dirs, 12 dst dirs, 100 disks, 60 jobs.
HUGE_FARM = BigFarm(tmp_count=24, dst_count=12, disks=(60, 40), job_count=60)
