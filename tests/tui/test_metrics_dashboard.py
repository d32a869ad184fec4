"""The dashboard serves ``[metrics] listen`` while it runs (a real pty in tmux, real scrapes).

Opened paused, it says so on /metrics; ``p`` switches plotting on and the next scrape says
active. A port already taken is a one-line error before the screen opens.
"""

from __future__ import annotations

import shlex
import socket
from pathlib import Path

import pytest

from plotman_tui.sandbox import make_sandbox
from tests.conftest import require_real
from tests.integration.test_metrics_cli import samples, scrape
from tests.realservices import LOOPBACK, free_port
from tests.tui.test_e2e_tmux import PLOTMAN_TUI, SHOWN_S
from tests.tui.tmux import TmuxSession, tmux_available

pytestmark = pytest.mark.real_service


def serving_farm(tmp_path: Path, port: int) -> tuple[Path, dict[str, str]]:
    farm = make_sandbox(tmp_path / "farm", k=18)
    config = tmp_path / "plotman.toml"
    # No tmp dir has the space a job asks for: plotting switched on starts nothing.
    text = farm.config_path.read_text().replace(
        "[scheduling]\n", "[scheduling]\ntmp_min_free_gib = 1000000\n"
    )
    assert "tmp_min_free_gib = 1000000" in text
    config.write_text(text + f'\n[metrics]\nlisten = "{LOOPBACK}:{port}"\n')
    env = {
        "PLOTMAN_TUI_DATA_DIR": str(tmp_path / "data"),
        "PLOTMAN_TUI_CACHE_DIR": str(tmp_path / "cache"),
    }
    return config, env


def plotting_state(url: str) -> str | None:
    """The state set's one true state, once a scrape answers."""
    text = scrape(url)
    if text is None:
        return None
    on = [
        name
        for name, value in samples(text).items()
        if name.startswith("plotman_tui_plotting_state{") and value == 1
    ]
    return on[0] if len(on) == 1 else None


def test_the_dashboard_serves_its_plotting_state_while_it_runs(tmp_path: Path) -> None:
    require_real(tmux_available(), "tmux is not installed (apt-get install tmux)")
    assert PLOTMAN_TUI.exists(), f"{PLOTMAN_TUI}: install the package (make venv)"
    port = free_port()
    config, env = serving_farm(tmp_path, port)
    url = f"http://{LOOPBACK}:{port}/metrics"
    argv = [str(PLOTMAN_TUI), "--config", str(config), "--no-autostart-plotting"]
    with TmuxSession(tmp_path, width=120, height=40) as tmux:
        tmux.start(argv, env)
        tmux.wait_for(lambda s: "Plotting: paused" in s, SHOWN_S, "the dashboard, paused")
        tmux.wait_for(
            lambda _s: plotting_state(url) == 'plotman_tui_plotting_state{state="paused"}',
            SHOWN_S,
            "/metrics saying plotting is paused",
        )
        tmux.send("p")
        tmux.wait_for(lambda s: "Plotting: active" in s, SHOWN_S, "plotting on")
        tmux.wait_for(
            lambda _s: plotting_state(url) == 'plotman_tui_plotting_state{state="active"}',
            SHOWN_S,
            "/metrics saying plotting is active",
        )
        tmux.send("p")  # paused again before quitting: nothing is left to start jobs
        tmux.wait_for(lambda s: "Plotting: paused" in s, SHOWN_S, "plotting paused")
        tmux.send("q")
        assert tmux.exit_status(SHOWN_S) == 0
    assert scrape(url) is None  # the server went with the dashboard


def test_a_taken_port_is_a_one_line_error_before_the_screen_opens(tmp_path: Path) -> None:
    require_real(tmux_available(), "tmux is not installed (apt-get install tmux)")
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        config, env = serving_farm(tmp_path, taken.getsockname()[1])
        err = tmp_path / "stderr"
        # In a terminal (stdin and stdout), its error line kept in a file: the pane closes.
        argv = [str(PLOTMAN_TUI), "--config", str(config), "--no-autostart-plotting"]
        command = f"{shlex.join(argv)} 2> {shlex.quote(str(err))}"
        with TmuxSession(tmp_path, width=120, height=40) as tmux:
            tmux.start(["sh", "-c", command], env)
            assert tmux.exit_status(SHOWN_S) == 2
    lines = err.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plotman-tui: cannot serve metrics on")
    assert "Address already in use" in lines[0]
