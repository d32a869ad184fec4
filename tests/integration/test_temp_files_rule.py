"""One rule decides what a job's temp files are: `files`, the temp space and kill agree.

The job is a real process (a stand-in chia with a real log); its dirs hold its own temp files
next to things that only look like them: a dir, a symlink and a FIFO named like its temp files,
a ``.tmp.bak`` named after its plot, its finished plot; its dst dir holds the final copy
(``.2.tmp``), which is a temp file.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from plotman_tui.farm import control
from plotman_tui.farm.discovery import Scanner
from tests.fakejobs import chia_argv, install_fake_chia, k32_log, running

PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"


def test_files_temp_space_and_kill_take_the_same_files(tmp_path: Path) -> None:
    dirs = {name: tmp_path / name for name in ("logs", "tmp", "tmp2", "dst", "bin", "outside")}
    for path in dirs.values():
        path.mkdir()
    tmp, tmp2, dst, outside = dirs["tmp"], dirs["tmp2"], dirs["dst"], dirs["outside"]
    plot_id = secrets.token_hex(32)
    name = f"plot-k32-2021-07-14-22-33-{plot_id}.plot"
    own = {
        tmp / f"{name}.table1.tmp": 1000,
        tmp / f"{name}.p1.t1.sort_bucket_000.tmp": 300,
        tmp2 / f"{name}.2.tmp": 5000,
        dst / f"{name}.2.tmp": 70,  # the final copy, under way
    }
    for path, size in own.items():
        path.write_bytes(b"x" * size)
    (tmp / f"{name}.sort.tmp").mkdir()  # a dir
    victim = outside / "precious"
    victim.write_bytes(b"v" * 4096)
    (tmp / f"{name}.table2.tmp").symlink_to(victim)  # a symlink, to a big file elsewhere
    os.mkfifo(tmp / f"{name}.table3.tmp")  # a FIFO
    (tmp / f"{name}.tmp.bak").write_bytes(b"b" * 600)  # named after the plot, not a temp file
    (dst / name).write_bytes(b"p" * 900)  # a finished plot
    not_own = [
        tmp / f"{name}.sort.tmp",
        tmp / f"{name}.table2.tmp",
        tmp / f"{name}.table3.tmp",
        tmp / f"{name}.tmp.bak",
        dst / name,
        victim,
    ]

    log = dirs["logs"] / "job.log"
    log.write_text(k32_log(300, plot_id=plot_id, tmp=tmp, tmp2=tmp2, dst=dst))
    config = tmp_path / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{dirs["logs"]}"\n\n'
        f'[directories]\ntmp = ["{tmp}"]\ntmp2 = "{tmp2}"\ndst = ["{dst}"]\n\n'
        '[plotting]\ntype = "chia"\n'
    )
    chia = install_fake_chia(dirs["bin"])
    with running(chia_argv(chia, str(tmp), str(dst), tmp2=str(tmp2)), log) as proc:
        (job,) = [job for job in Scanner(dirs["logs"]).scan().jobs if job.pid == proc.pid]
        files = subprocess.run(
            [str(PLOTMAN_TUI), "--config", str(config), "files", plot_id[:8]],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ, COLUMNS="400"),
        )
        plan = control.prepare_kill(job)
        result = control.execute_kill(plan)

    expected = {str(path): size for path, size in own.items()}
    # The temp space a scan measures (status, dirs, the dashboard).
    assert {temp.path: temp.size_bytes for temp in job.tmp_files} == expected
    assert job.tmp_usage_bytes == sum(expected.values())
    # What `files` prints: each of these, and none of the look-alikes.
    assert files.returncode == 0, files.stderr
    listed = {line.split()[-1] for line in files.stdout.splitlines() if str(tmp_path) in line}
    assert listed == set(expected)
    # What a kill plans and deletes.
    assert {temp.path: temp.size_bytes for temp in plan.files} == expected
    assert plan.total_bytes == job.tmp_usage_bytes
    assert result.ok, result.message
    assert sorted(result.deleted) == sorted(expected)
    assert result.freed_bytes == job.tmp_usage_bytes
    assert not any(path.exists() for path in own)
    assert all(os.path.lexists(path) for path in not_own)
