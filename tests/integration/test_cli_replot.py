"""``replot plan``, and the replot lines of ``dirs`` and ``status --json``, as a farmer runs
them: real k18 plots (chiapos) renamed to old dates and ``-c05-`` names fill archive dirs; the
commands count what the rules match, say why a farmer cannot be listed, and change nothing
(every archive dir is listed before and after)."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plotman_tui.farm.actionlog import ActionLog
from tests.integration.test_archiving import env
from tests.realservices import (  # noqa: F401 (the fixtures register by import)
    LOOPBACK,
    SshServer,
    farmer_plot_name,
    fill_archive_dir,
    free_port,
    listing_of,
    real_plot_fixture,
    ssh_server_fixture,
)

__all__ = ["env"]  # the fixture (a data dir and a cache dir of the test's own), used by name

pytestmark = pytest.mark.real_service

PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"
OLD = datetime.datetime(2021, 6, 1, 12, 30)
NEW = datetime.datetime(2024, 3, 1, 10, 0)
RULES = "uncompressed = true\nolder_than = 2023-01-01\n"
DAY_S = 86400.0


def run(env: dict[str, str], config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(PLOTMAN_TUI), "--config", str(config), *args]
    wide = dict(env, COLUMNS="200")  # whole lines, whatever the terminal running the tests
    return subprocess.run(argv, capture_output=True, text=True, env=wide, timeout=60)


def action_log(env: dict[str, str], at: float | None = None) -> ActionLog:
    """The action log the commands read; ``at``: its entries are stamped then."""
    path = Path(env["PLOTMAN_TUI_DATA_DIR"]) / "actions.jsonl"
    return ActionLog(path) if at is None else ActionLog(path, clock=lambda: at)


def write_config(tmp_path: Path, *targets: str) -> Path:
    """A farm's config whose archiving has ``targets`` (``[[archiving.targets]]`` tables)."""
    dirs = {name: tmp_path / name for name in ("logs", "tmp", "dst")}
    for path in dirs.values():
        path.mkdir(exist_ok=True)
    config = tmp_path / "plotman.toml"
    config.write_text(
        f"[logging]\nplots = {json.dumps(str(dirs['logs']))}\n\n"
        f"[directories]\ntmp = [{json.dumps(str(dirs['tmp']))}]\n"
        f"dst = [{json.dumps(str(dirs['dst']))}]\n\n"
        '[plotting]\ntype = "chia"\n\n[archiving]\nenabled = true\n' + "".join(targets)
    )
    return config


def target_toml(name: str, dirs: list[Path], rules: str | None = None, **keys: object) -> str:
    text = f'\n[[archiving.targets]]\nname = "{name}"\n'
    text += "".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())
    text += f"archive_dirs = {json.dumps([str(d) for d in dirs])}\n"
    if "type" not in keys:
        text += 'type = "local"\n'
    return text + (f"\n[archiving.targets.replot]\n{rules}" if rules else "")


def names(when: datetime.datetime, first: int, count: int, **kind: int) -> list[str]:
    return [farmer_plot_name(when, index=i, **kind) for i in range(first, first + count)]


@pytest.fixture
def farmer(tmp_path: Path, real_plot: Path, env: dict[str, str]) -> dict[str, Path]:
    """Two archive dirs of real plots. disk1: 3 old uncompressed plots (the rules match them),
    an old C5 one and a new uncompressed one (they do not). disk2: 2 old uncompressed plots
    that match, and three that look alike but must never match: one written a moment ago, one
    this machine sent (the action log says so), one a symlink to a plot elsewhere; and a file
    that is no plot."""
    disk1, disk2 = tmp_path / "farmer" / "disk1", tmp_path / "farmer" / "disk2"
    fill_archive_dir(disk1, real_plot, names(OLD, 0, 3))
    fill_archive_dir(disk1, real_plot, names(OLD, 3, 1, level=5))
    fill_archive_dir(disk1, real_plot, names(NEW, 4, 1))
    fill_archive_dir(disk2, real_plot, names(OLD, 5, 2))
    fill_archive_dir(disk2, real_plot, names(OLD, 7, 1), age_s=0.0)
    (sent,) = fill_archive_dir(disk2, real_plot, names(OLD, 8, 1))
    elsewhere = fill_archive_dir(tmp_path / "elsewhere", real_plot, names(OLD, 9, 1))[0]
    (disk2 / elsewhere.name).symlink_to(elsewhere)
    (disk2 / "notes.txt").write_text("farmer's notes\n")
    action_log(env).record(
        "transfer",
        reason="to farm",
        result="ok",
        target="farm",
        source=str(tmp_path / "dst" / sent.name),
        bytes=sent.stat().st_size,
    )
    return {"disk1": disk1, "disk2": disk2, "plot": real_plot}


def test_replot_plan_counts_what_the_rules_match_per_dir_and_changes_nothing(
    tmp_path: Path, farmer: dict[str, Path], env: dict[str, str]
) -> None:
    size = farmer["plot"].stat().st_size
    usb = tmp_path / "usb"
    usb.mkdir()
    config = write_config(
        tmp_path,
        target_toml("farm", [farmer["disk1"], farmer["disk2"]], RULES),
        target_toml("usb", [usb]),
    )
    before = {name: listing_of(farmer[name]) for name in ("disk1", "disk2")}

    text = run(env, config, "replot", "plan")
    as_json = run(env, config, "replot", "plan", "--json")
    only_usb = run(env, config, "replot", "plan", "--target", "usb", "--json")

    assert {name: listing_of(farmer[name]) for name in ("disk1", "disk2")} == before
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == (
        "farm: plots named with a date before 2023-01-01, uncompressed (all of these)"
    )
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert rows[str(farmer["disk1"])][0::2] == ["5", "3"]  # plots, matching
    assert rows[str(farmer["disk2"])][0::2] == ["4", "2"]  # the symlink is no plot of disk2
    assert rows["total"][0::2] == ["9", "5"]
    assert "usb: no replot rules ([archiving.targets.replot] not set)" in lines

    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert (data["matching_plots"], data["matching_bytes"]) == (5, 5 * size)
    farm, no_rules = data["targets"]
    assert farm["rules"]["older_than"] == "2023-01-01" and farm["problem"] is None
    assert [(d["plots"], d["matching_plots"]) for d in farm["dirs"]] == [(5, 3), (4, 2)]
    assert [d["matching_bytes"] for d in farm["dirs"]] == [3 * size, 2 * size]
    assert no_rules == {
        "target": "usb",
        "rules": None,
        "rules_text": None,
        "problem": None,
        "plots": 0,
        "plot_bytes": 0,
        "matching_plots": 0,
        "matching_bytes": 0,
        "dirs": [],
    }
    assert only_usb.returncode == 0, only_usb.stderr
    assert [t["target"] for t in json.loads(only_usb.stdout)["targets"]] == ["usb"]


def test_replot_plan_names_a_farmer_it_cannot_reach_and_an_unknown_target(
    tmp_path: Path, farmer: dict[str, Path], env: dict[str, str]
) -> None:
    config = write_config(
        tmp_path,
        target_toml("farm", [farmer["disk1"]], RULES),
        # sshd is not listening there: the farmer is unreachable.
        target_toml("far", ["/srv/plots"], RULES, type="ssh", host=LOOPBACK, ssh_port=free_port()),
    )
    plan = run(env, config, "replot", "plan")
    assert plan.returncode == 1, plan.stderr
    problems = [line for line in plan.stdout.splitlines() if line.startswith("! ")]
    assert len(problems) == 1 and problems[0].startswith("! far: ")
    assert "total" in plan.stdout  # the other target is listed all the same

    unknown = run(env, config, "replot", "plan", "--target", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "plotman-tui: no archive target named 'nope' (targets: farm, far)"
    )
    dirs = run(env, config, "dirs")
    assert dirs.returncode == 0, dirs.stderr
    far = next(line for line in dirs.stdout.splitlines() if line.startswith("replot far: "))
    assert far.startswith("replot far: old plots left unknown (")
    assert "days to finish unknown" in far


def test_dirs_and_status_json_show_how_far_replotting_has_come(
    tmp_path: Path, farmer: dict[str, Path], env: dict[str, str]
) -> None:
    size = farmer["plot"].stat().st_size
    config = write_config(tmp_path, target_toml("farm", [farmer["disk1"], farmer["disk2"]], RULES))
    now = time.time()
    removed = names(OLD, 30, 2)
    # A plot sent before replotting began is no new plot moved; one sent after it is (so is
    # the farmer fixture's, recorded just now).
    for when, kind in [(3, "sent"), (2, "removed"), (1.5, "sent"), (1, "removed")]:
        log = action_log(env, now - when * DAY_S)
        if kind == "sent":
            new = farmer_plot_name(NEW, index=int(when * 10), level=7)
            source = str(tmp_path / "dst" / new)
            log.record("transfer", reason="to farm", result="ok", target="farm", source=source)
        else:
            log.record(
                "replot-remove", reason="uncompressed", result="removed", target="farm",
                archive_dir=str(farmer["disk1"]), file=removed.pop(), bytes=size,
            )  # fmt: skip
    before = {name: listing_of(farmer[name]) for name in ("disk1", "disk2")}

    dirs = run(env, config, "dirs")
    status = run(env, config, "status", "--json")

    assert {name: listing_of(farmer[name]) for name in ("disk1", "disk2")} == before
    assert dirs.returncode == 0, dirs.stderr
    line = next(line for line in dirs.stdout.splitlines() if line.startswith("replot farm: "))
    # Two removals a day apart: one plot's bytes a day; five matching plots left: five days.
    assert line.split("; ")[1:] == [
        f"removed 2 ({_human(2 * size)} replaced)",
        "2 new plots moved",
        "about 5.0 days to finish at the current rate",
    ]
    assert line.startswith(f"replot farm: 5 old plots left ({_human(5 * size)})")
    assert status.returncode == 0, status.stderr
    progress = json.loads(status.stdout)["replot"]["farm"]
    assert progress == {
        "matching_plots": 5,
        "matching_bytes": 5 * size,
        "removed_plots": 2,
        "removed_bytes": 2 * size,
        "new_plots_moved": 2,
        "bytes_per_day": pytest.approx(size, rel=1e-3),
        "days_left": pytest.approx(5.0, abs=0.01),
        "dry_run": False,
        "stopped": None,
        "listed_at": progress["listed_at"],
        "problem": None,
    }


def _human(size: int) -> str:
    from plotman_tui.farm.units import human_bytes

    return human_bytes(size)


def test_replot_plan_over_ssh_counts_as_a_local_listing_does(
    tmp_path: Path, farmer: dict[str, Path], env: dict[str, str], ssh_server: SshServer
) -> None:
    ssh = {
        "type": "ssh",
        "host": LOOPBACK,
        "user": ssh_server.user,
        "ssh_port": ssh_server.port,
        "known_hosts": str(ssh_server.known_hosts),
        "identity_file": str(ssh_server.identity_file),
    }
    dirs = [farmer["disk1"], farmer["disk2"]]
    config = write_config(
        tmp_path, target_toml("farm", dirs, RULES), target_toml("far", dirs, RULES, **ssh)
    )
    before = {name: listing_of(farmer[name]) for name in ("disk1", "disk2")}
    plan = run(env, config, "replot", "plan", "--json")
    assert {name: listing_of(farmer[name]) for name in ("disk1", "disk2")} == before
    assert plan.returncode == 0, plan.stderr
    local, far = json.loads(plan.stdout)["targets"]
    assert far["problem"] is None and far["dirs"] == local["dirs"]
    assert far["matching_plots"] == 5
