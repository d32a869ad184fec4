"""The live dashboard's watch of the log dir: a phase written to a job's log shows before the next
look at the process table would have shown it; while the log dir is missing, the looks come at
their old pace, and a dir made again is watched anew.

A fake job (a venv chia's command line, a real chia log the test writes on) and the real engine
and scanner; each test has its own data dir (scheduler lock, state) and plotting is paused.
"""

from __future__ import annotations

import itertools
import secrets
import shutil
from pathlib import Path

import pytest

from plotman_tui.config.schema import Config, DirectoriesConfig, LoggingConfig, SchedulingConfig
from plotman_tui.farm.actionlog import ActionLog
from plotman_tui.farm.model import Job
from plotman_tui.plotters.phase import Phase
from plotman_tui.tui import app as app_module
from plotman_tui.tui import logwatch
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.feeds import LOOK_INTERVAL_S, WATCHED_LOOK_INTERVAL_S
from plotman_tui.tui.view import job_key
from tests.fakejobs import chia_argv, install_fake_chia, k32_log, running
from tests.tui.pilots import job_in_app, jobs_table, until

#: Longer than any test here: a look after the first one can only come from a wake.
NEVER_S = 3600.0
# The real log's first 17 lines end in table 1 of phase 1; its 18th starts table 2.
TABLE_1_LINES = 17


def dashboard(tmp_path: Path, log_dir: Path) -> DashboardApp:
    config = Config(
        logging=LoggingConfig(plots=log_dir),
        directories=DirectoriesConfig(tmp=(tmp_path,), dst=(tmp_path,)),
        scheduling=SchedulingConfig(polling_time_s=int(NEVER_S)),
    )
    return DashboardApp(
        config, plotting_enabled=False, action_log=ActionLog(tmp_path / "actions.jsonl")
    )


def table_job_in_phase(app: DashboardApp, phase: Phase) -> Job | None:
    """The job under the jobs table's cursor, if it is in ``phase``."""
    job = jobs_table(app).selected_job
    return job if job is not None and job.phase == phase else None


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLOTMAN_TUI_DATA_DIR", str(tmp_path / "data"))


async def test_a_phase_written_to_a_log_shows_before_the_next_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No look but the first: the new phase can only come from the watch.
    monkeypatch.setattr(app_module, "WATCHED_LOOK_INTERVAL_S", NEVER_S)
    monkeypatch.setattr(app_module, "LOOK_INTERVAL_S", NEVER_S)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "job.log"
    plot_id = secrets.token_hex(32)

    def log_text(lines: int) -> str:
        return k32_log(lines, plot_id=plot_id, tmp=tmp_path, tmp2=tmp_path, dst=tmp_path)

    log.write_text(log_text(TABLE_1_LINES))
    argv = chia_argv(install_fake_chia(tmp_path / "bin"), str(tmp_path), str(tmp_path))
    app = dashboard(tmp_path, logs)
    with running(argv, log) as proc:
        async with app.run_test(size=(120, 40)) as pilot:
            job = await until(pilot, lambda: job_in_app(app, proc.pid), 10, "the job shown")
            assert job is not None and job.phase == Phase(1, 1)
            # The scan is machine-wide (other tests' jobs may show): the cursor on ours.
            assert jobs_table(app).select_key(job_key(job))
            with open(log, "a") as handle:
                handle.write(log_text(TABLE_1_LINES + 1)[len(log_text(TABLE_1_LINES)) :])
            shown = await until(
                pilot, lambda: table_job_in_phase(app, Phase(1, 2)), 10, "1:2 in the jobs table"
            )
            assert shown is not None and shown.pid == proc.pid
            assert app.pollers["engine"].runs == 1, "a look, not the watch, brought the phase"
            assert app.log_watch is not None and app.log_watch.reads >= 1


async def test_the_looks_stand_in_while_the_log_dir_is_missing_and_a_new_dir_is_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logwatch, "CHECK_S", 0.2)
    logs = tmp_path / "logs"
    app = dashboard(tmp_path, logs)
    async with app.run_test(size=(120, 40)) as pilot:
        engine = app.pollers["engine"]
        await until(pilot, lambda: engine.interval_s == LOOK_INTERVAL_S, 5, "the fast looks")
        logs.mkdir()  # as the first job start does on a new farm
        await until(pilot, lambda: engine.interval_s == WATCHED_LOOK_INTERVAL_S, 5, "the watch")
        watch = app.log_watch
        assert watch is not None
        # Removed and made again (or mounted over): the new dir is the one watched. Only a
        # watch of the new dir can see a file written there: one more each poll until one is.
        reads = watch.reads
        shutil.rmtree(logs)
        logs.mkdir()
        written = itertools.count()

        def write_and_look() -> bool:
            (logs / f"new-{next(written)}.log").write_text("a log line\n")
            return watch.reads > reads

        await until(pilot, write_and_look, 10, "a read of a file in the new dir")
        assert engine.interval_s == WATCHED_LOOK_INTERVAL_S
