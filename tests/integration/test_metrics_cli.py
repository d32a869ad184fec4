"""``plotman-tui metrics`` and ``[metrics] listen`` as a farmer runs them: the installed command.

Each test has its own data dir (action log, locks) and cache dir. The serving loop here is
``archive`` with a local target (a real rsync moves a real file): it starts no plot job, so it
runs beside the other tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from plotman_tui.farm.history import read_history
from tests.conftest import FIXTURES, require_real, wait_for
from tests.integration.test_cli_readonly import PLOTMAN_TUI
from tests.realservices import LOOPBACK, free_port

DEADLINE_S = 20.0


def farm(tmp_path: Path, extra: str = "") -> tuple[Path, dict[str, str]]:
    """A config over the fixtures' real logs, and the environment to run it in."""
    logs = tmp_path / "logs"
    for name in ("tmp", "dst", "farm", "logs"):
        (tmp_path / name).mkdir()
    for name in (
        "chianetwork.plot.log",
        "madmax-multi/madmax-2plots.plot.log",
        "bladebit.plot.log",
    ):
        shutil.copy(FIXTURES / "plotter-logs" / name, logs / Path(name).name)
    config = tmp_path / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{logs}"\n[directories]\ntmp = ["{tmp_path / "tmp"}"]\n'
        f'dst = ["{tmp_path / "dst"}"]\n[plotting]\ntype = "chia"\n' + extra
    )
    env = dict(
        os.environ,
        PLOTMAN_TUI_DATA_DIR=str(tmp_path / "data"),
        PLOTMAN_TUI_CACHE_DIR=str(tmp_path / "cache"),
    )
    return config, env


def run(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(PLOTMAN_TUI), "--config", str(config), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def start(config: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    argv = [str(PLOTMAN_TUI), "--config", str(config), *args]
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5.0) as reply:
            return str(reply.read().decode())
    except OSError:
        return None


def samples(text: str) -> dict[str, float]:
    """``name{labels}`` (labels sorted) -> value, for every sample of the exposition."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


def test_metrics_prints_the_text_format_once(tmp_path: Path) -> None:
    config, env = farm(tmp_path)
    result = run(config, env, "metrics")
    assert result.returncode == 0 and result.stderr == ""
    found = samples(result.stdout)
    finished = sum(record.completed for record in read_history(tmp_path / "logs").records)
    assert found["plotman_tui_plots_finished_total{}"] == finished == 3
    assert found['plotman_tui_plotting_state{state="stopped"}'] == 1
    assert found[f'plotman_tui_dir_free_bytes{{dir="{tmp_path / "dst"}",role="dst",target=""}}'] > 0
    assert "# TYPE plotman_plot_phase_major gauge" in result.stdout


def test_metrics_onto_a_full_disk_is_a_one_line_error(tmp_path: Path) -> None:
    # `plotman-tui metrics > textfile/plotman.prom` for node_exporter, from cron: a full disk
    # was a traceback; a reader that left (| head) stays quiet.
    config, env = farm(tmp_path)
    argv = [str(PLOTMAN_TUI), "--config", str(config), "metrics"]
    with open("/dev/full", "w") as full:
        result = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, env=env)
    assert result.returncode == 1
    assert result.stderr == "plotman-tui: cannot write the metrics: No space left on device\n"
    piped = subprocess.run(
        f"'{PLOTMAN_TUI}' --config '{config}' metrics | head -c 1",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
    )
    assert piped.stdout == "#" and piped.stderr == ""


@pytest.mark.parametrize(
    ("serve", "said"),
    [
        ("0", "the port must be a number from 1 to 65535"),
        ("127.0.0.1:", "the port must be a number from 1 to 65535"),
        ("a b:9750", "not a host name or address"),
        ("::1:9750", "write an IPv6 address in brackets"),
        # No resolver can be asked for these: Python's idna codec raised, a traceback.
        (".:9750", "not a host name or address"),
        ("farm..lan:9750", "not a host name or address"),
        ("a" * 64 + ".lan:9750", "not a host name or address"),
    ],
)
def test_a_bad_serve_address_is_a_one_line_usage_error(
    tmp_path: Path, serve: str, said: str
) -> None:
    config, env = farm(tmp_path)
    result = run(config, env, "metrics", "--serve", serve)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("plotman-tui: --serve ") and said in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_port_in_use_is_a_one_line_usage_error(tmp_path: Path) -> None:
    config, env = farm(tmp_path)
    with socket.create_server((LOOPBACK, 0)) as taken:
        port = taken.getsockname()[1]
        served = run(config, env, "metrics", "--serve", str(port))
        config.write_text(config.read_text() + f'[metrics]\nlisten = "{port}"\n')
        loop = run(config, env, "--no-ui")
    expected = (
        f"plotman-tui: cannot serve metrics on 127.0.0.1:{port}: Address already in use "
        "(another program serves on that port: choose another)\n"
    )
    for result in (served, loop):
        assert result.returncode == 2, result.stderr
        assert result.stderr == expected
    # The loop stopped before anything started: no line of its, no scheduler lock taken.
    assert loop.stdout == "" and not (tmp_path / "data" / "scheduler.lock").exists()


def test_an_address_not_of_this_machine_is_a_one_line_usage_error(tmp_path: Path) -> None:
    config, env = farm(tmp_path)
    # A documentation address (TEST-NET-1), never this machine's; numeric: no name lookup.
    result = run(config, env, "metrics", "--serve", "192.0.2.1:9750")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "plotman-tui: cannot serve metrics on 192.0.2.1:9750: Cannot assign requested address "
        "(not an address of this machine)\n"
    )


def test_serve_answers_a_scrape_storm_until_sigint(tmp_path: Path) -> None:
    config, env = farm(tmp_path)
    port = free_port()
    server = start(config, env, "metrics", "--serve", f"{LOOPBACK}:{port}")
    url = f"http://{LOOPBACK}:{port}/metrics"
    try:
        first = wait_for(lambda: scrape(url) or server.poll() is not None, DEADLINE_S, url)
        assert isinstance(first, str), server.communicate()
        replies: list[str | None] = []
        threads = [threading.Thread(target=lambda: replies.append(scrape(url))) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert err.splitlines() == [f"serving {url} (SIGTERM or Ctrl-C stops)", "stopped (SIGINT)"]
    assert len(replies) == 20 and all(reply is not None for reply in replies)
    for reply in replies:
        assert samples(reply or "")["plotman_tui_plots_finished_total{}"] == 3


@pytest.mark.real_service
def test_the_archive_loop_serves_its_transfers(tmp_path: Path) -> None:
    require_real(
        shutil.which("rsync") is not None, "rsync is not installed (apt-get install rsync)"
    )
    port = free_port()
    archive_dir = tmp_path / "farm"
    config, env = farm(
        tmp_path,
        f'[metrics]\nlisten = "{LOOPBACK}:{port}"\n'
        "[archiving]\nenabled = true\nmin_plot_age_s = 0\n"
        f'[[archiving.targets]]\nname = "usb"\ntype = "local"\narchive_dirs = ["{archive_dir}"]\n',
    )
    plot = tmp_path / "dst" / f"plot-k18-2026-11-24-10-00-{os.urandom(32).hex()}.plot"
    plot.write_bytes(os.urandom(4_000_000))
    loop = start(config, env, "archive")
    url = f"http://{LOOPBACK}:{port}/metrics"
    target = 'target="usb"'
    try:

        def moved() -> dict[str, float] | None:
            text = scrape(url)
            found = samples(text) if text else {}
            return found if found.get(f"plotman_tui_archive_transfers_total{{{target}}}") else None

        found = wait_for(lambda: moved() or loop.poll() is not None, DEADLINE_S, "the transfer")
        assert isinstance(found, dict), loop.communicate()
    finally:
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=30)
    assert loop.returncode == 0, err
    assert f"metrics: serving {url}" in out
    assert (archive_dir / plot.name).stat().st_size == 4_000_000
    assert found[f"plotman_tui_archive_transfers_total{{{target}}}"] == 1
    assert found[f"plotman_tui_archive_transfer_failures_total{{{target}}}"] == 0
    # A rename on one file system sends nothing; the plot's bytes arrived all the same.
    assert found[f"plotman_tui_archive_plot_bytes_total{{{target}}}"] == 4_000_000
    assert found['plotman_tui_archiving_state{state="active"}'] == 1
    assert found[f'plotman_tui_dir_free_bytes{{dir="{archive_dir}",role="archive",{target}}}'] > 0
    # Plotting runs nowhere: the archive loop holds no scheduler lock.
    assert found['plotman_tui_plotting_state{state="stopped"}'] == 1


def test_the_no_ui_loop_serves_its_plotting_state_and_wait_reason(tmp_path: Path) -> None:
    """A --no-ui loop whose plotter is missing: every start fails, so it backs off and says
    why. It starts no process and its limits leave the machine's other jobs no say (no job
    cap, no stagger, its own tmp dir), so unlike the plotting tests it needs no machine alone."""
    port = free_port()
    config, env = farm(
        tmp_path,
        f'[metrics]\nlisten = "{LOOPBACK}:{port}"\n'
        "[scheduling]\nglobal_max_jobs = 100000\nglobal_stagger_m = 0\npolling_time_s = 1\n"
        "tmp_min_free_gib = 0\n"
        f'[plotting.chia]\nexecutable = "{tmp_path / "missing" / "chia"}"\nk = 18\n',
    )
    loop = start(config, env, "--no-ui")
    url = f"http://{LOOPBACK}:{port}/metrics"
    waiting = 'plotman_tui_scheduler_waiting{reason="backing off"}'
    try:

        def backing_off() -> dict[str, float] | None:
            text = scrape(url)
            found = samples(text) if text else {}
            return found if found.get(waiting) else None

        found = wait_for(lambda: backing_off() or loop.poll() is not None, DEADLINE_S, waiting)
        assert isinstance(found, dict), loop.communicate()
    finally:
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=30)
    assert loop.returncode == 0, err
    assert f"metrics: serving {url}" in out and "program not found" in out
    assert found['plotman_tui_plotting_state{state="backing_off"}'] == 1
    assert found['plotman_tui_archiving_state{state="off"}'] == 1
    # The history beside the loop's state: the fixtures' real logs in its log dir.
    assert found["plotman_tui_plots_finished_total{}"] == 3


def test_a_once_run_does_not_serve_so_a_port_in_use_is_no_error(tmp_path: Path) -> None:
    """cron's --once beside a service that serves the metrics: one pass, no port taken."""
    config, env = farm(tmp_path)
    with socket.create_server((LOOPBACK, 0)) as taken:
        port = taken.getsockname()[1]
        config.write_text(
            config.read_text()
            + f'[metrics]\nlisten = "{port}"\n'
            + f'[plotting.chia]\nexecutable = "{tmp_path / "missing" / "chia"}"\nk = 18\n'
        )
        result = run(config, env, "--no-ui", "--once")
    assert "metrics" not in result.stderr and "metrics" not in result.stdout
    assert "one pass" in result.stdout and result.returncode in (0, 1), result.stderr
