"""A real Prometheus server scrapes ``plotman-tui metrics --serve`` and gives the values back.

Prometheus (the Debian package's /usr/bin/prometheus) runs on a random loopback port with a
generated config that scrapes our endpoint every second; the values are read back through its
HTTP query API, polled with a deadline. The job is a real process with a real chia k32 log; the
history is the fixtures' real logs of chia, madMAx and BladeBit.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from plotman_tui.farm.history import read_history
from tests.conftest import FIXTURES, require_real, wait_for
from tests.fakejobs import chia_argv, install_fake_chia, k32_log, running
from tests.realservices import LOOPBACK, PrometheusServer, free_port, prometheus_path

pytestmark = pytest.mark.real_service

PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"
LOGS = FIXTURES / "plotter-logs"
#: Generous for a loaded 2-core machine; the polls return as soon as the value is there.
DEADLINE_S = 20.0


def serve(config: Path, port: int) -> subprocess.Popen[str]:
    argv = [str(PLOTMAN_TUI), "--config", str(config), "metrics", "--serve", f"{LOOPBACK}:{port}"]
    return subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def test_prometheus_scrapes_plotmans_and_our_metrics(tmp_path: Path) -> None:
    require_real(
        prometheus_path() is not None, "prometheus is not installed (apt-get install prometheus)"
    )
    logs, tmp, tmp2, dst = (tmp_path / name for name in ("logs", "tmp", "tmp2", "dst"))
    for path in (logs, tmp, tmp2, dst):
        path.mkdir()
    for name in (
        "chianetwork.plot.log",
        "madmax-multi/madmax-2plots.plot.log",
        "bladebit.plot.log",
    ):
        shutil.copy(LOGS / name, logs / Path(name).name)
    finished = sum(record.completed for record in read_history(logs).records)
    assert finished >= 3
    config = tmp_path / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{logs}"\n[directories]\ntmp = ["{tmp}"]\ndst = ["{dst}"]\n'
        '[plotting]\ntype = "chia"\n'
    )
    plot_id = secrets.token_hex(32)
    job_log = logs / "job.log"
    job_log.write_text(k32_log(900, plot_id=plot_id, tmp=tmp, tmp2=tmp2, dst=dst))
    chia = install_fake_chia(tmp_path / "bin")
    with running(chia_argv(chia, str(tmp), str(dst), tmp2=str(tmp2)), job_log):
        port = free_port()
        server = serve(config, port)
        try:
            url = f"http://{LOOPBACK}:{port}/metrics"
            wait_for(lambda: answers(url) or server.poll() is not None, DEADLINE_S, url)
            assert server.poll() is None, server.communicate()
            with PrometheusServer(tmp_path / "prometheus", [f"{LOOPBACK}:{port}"]) as prometheus:
                phase = wait_for(
                    lambda: prometheus.query(
                        f'plotman_plot_phase_major{{plot_id="{plot_id[:8]}"}}'
                    ),
                    DEADLINE_S,
                    "Prometheus to scrape the job's phase",
                )
                total = wait_for(
                    lambda: prometheus.query("plotman_tui_plots_finished_total"),
                    DEADLINE_S,
                    "Prometheus to scrape the plots finished",
                )
                states = wait_for(
                    lambda: prometheus.query("plotman_tui_plotting_state == 1"),
                    DEADLINE_S,
                    "the plotting state",
                )
        finally:
            server.send_signal(signal.SIGTERM)
            _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "stopped (SIGTERM)" in err
    (series,) = phase
    assert series["value"][1] == "3"  # the real log's line 900 is in phase 3
    labels = series["metric"]
    assert labels["phase"] == "3:1" and labels["run_status"] in ("SLP", "RUN")
    assert labels["tmp_dir"] == str(tmp) and labels["dst_dir"] == str(dst)
    assert labels["job"] == "plotman-tui"
    (count,) = total
    assert float(count["value"][1]) == finished
    assert [s["metric"]["state"] for s in states] == ["stopped"]  # nobody holds the lock
