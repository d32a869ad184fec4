"""`status --json` while real chiapos plots run through the sandbox's chia front."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plotman_tui.plotters.phase import Phase
from plotman_tui.sandbox import make_sandbox, start_plot
from tests.conftest import require_real

PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"

pytestmark = pytest.mark.real_service


def status_json(config: Path) -> dict[str, object]:
    result = subprocess.run(
        [str(PLOTMAN_TUI), "--config", str(config), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_status_sees_real_plots_advance_and_finish(tmp_path: Path) -> None:
    require_real(importlib.util.find_spec("chiapos") is not None, "chiapos is not installed")
    sandbox = make_sandbox(tmp_path / "farm")
    big = start_plot(sandbox, k=20, tmp_index=0, dst_index=0)
    small = start_plot(sandbox, k=18, tmp_index=1, dst_index=1, use_tmp2=False)
    plots = {big.popen.pid: big, small.popen.pid: small}
    seen: dict[int, list[dict[str, object]]] = {pid: [] for pid in plots}
    deadline = time.monotonic() + 180
    while any(p.popen.poll() is None for p in plots.values()) and time.monotonic() < deadline:
        data = status_json(sandbox.config_path)
        jobs = data["jobs"]
        assert isinstance(jobs, list)
        for job in jobs:
            if job["pid"] in seen and job["plot_id"]:
                seen[job["pid"]].append(job)
        time.sleep(0.1)
    assert all(p.popen.wait(timeout=5) == 0 for p in plots.values())

    for pid, plot in plots.items():
        records = seen[pid]
        assert records, f"status never showed the k{plot.argv} job"
        log_text = plot.log_path.read_text()
        log_id = re.search(r"^ID: ([0-9a-f]{64})$", log_text, re.M)
        assert log_id is not None
        index = 0 if plot is big else 1
        for record in records:
            assert record["plot_id"] == log_id.group(1)
            assert record["plotter"] == "chia"
            assert record["k"] == (20 if plot is big else 18)
            assert record["tmp_dir"] == str(sandbox.tmp_dirs[index])
            assert record["dst_dir"] == str(sandbox.dst_dirs[index])
            assert record["log_file"] == str(plot.log_path)
            # ZMB: the plot is done and the process has exited, but the test (its parent)
            # has not reaped it yet; status keeps showing it, as it should.
            assert record["status"] in ("RUN", "SLP", "DSK", "ZMB")
        phases = [Phase.parse(str(record["phase"])) for record in records]
        assert phases == sorted(phases), f"phase went backwards: {phases}"
        finished = list(sandbox.dst_dirs[index].glob(f"*{log_id.group(1)}.plot"))
        assert len(finished) == 1
        size = finished[0].stat().st_size
        assert (10e6 < size < 30e6) if plot is big else (2e6 < size < 8e6), size
    big_phases = {str(record["phase"]) for record in seen[big.popen.pid]}
    assert len(big_phases) >= 2, f"k20 phase never advanced: {big_phases}"
    assert seen[big.popen.pid][0]["tmp2_dir"] == str(sandbox.tmp2_dir)
    assert any(record["tmp_usage_bytes"] for record in seen[big.popen.pid])
