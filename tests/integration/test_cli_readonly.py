"""The read-only commands, run as a user runs them: the installed `plotman-tui` in a subprocess."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.fakejobs import chia_argv, install_fake_chia, k32_log, running

PLOTMAN_TUI = Path(sys.executable).parent / "plotman-tui"


@pytest.fixture
def farm(tmp_path: Path) -> dict[str, Path]:
    dirs = {name: tmp_path / name for name in ("logs", "tmp", "tmp2", "dst", "bin")}
    for path in dirs.values():
        path.mkdir()
    dirs["chia"] = install_fake_chia(dirs["bin"])
    config = tmp_path / "plotman.toml"
    config.write_text(
        f'[logging]\nplots = "{dirs["logs"]}"\n\n'
        f'[directories]\ntmp = ["{dirs["tmp"]}"]\ntmp2 = "{dirs["tmp2"]}"\n'
        f'dst = ["{dirs["dst"]}", "{tmp_path / "unplugged"}"]\n\n'
        '[plotting]\ntype = "chia"\n'
    )
    dirs["config"] = config
    return dirs


def cli(
    *args: str, config: Path | None = None, columns: int = 200
) -> subprocess.CompletedProcess[str]:
    argv = [str(PLOTMAN_TUI)] + (["--config", str(config)] if config else []) + list(args)
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def start_ticks(pid: int) -> int:
    """When process ``pid`` started, in clock ticks since boot (its /proc stat, field 22)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def ticks_now() -> int:
    """Clock ticks since boot, as start times count them."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))


def start_job(farm: dict[str, Path], lines: int, plot_id: str, name: str = "job.log"):  # type: ignore[no-untyped-def]
    log = farm["logs"] / name
    log.write_text(
        k32_log(lines, plot_id=plot_id, tmp=farm["tmp"], tmp2=farm["tmp2"], dst=farm["dst"])
    )
    plot = f"plot-k32-2021-07-14-22-33-{plot_id}.plot"
    (farm["tmp"] / f"{plot}.table1.tmp").write_bytes(b"x" * 2048)
    argv = chia_argv(farm["chia"], str(farm["tmp"]), str(farm["dst"]), tmp2=str(farm["tmp2"]))
    return running(argv, log)


def test_status_json_has_the_documented_fields(farm: dict[str, Path]) -> None:
    plot_id = secrets.token_hex(32)
    with start_job(farm, 900, plot_id) as proc:
        result = cli("status", "--json", config=farm["config"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"jobs", "total_jobs", "updated"}
    mine = [job for job in data["jobs"] if job["pid"] == proc.pid]
    assert len(mine) == 1 and data["total_jobs"] == len(data["jobs"])
    job = mine[0]
    required = {
        "plot_id", "pid", "plotter", "k", "tmp_dir", "tmp2_dir", "dst_dir", "phase",
        "tmp_usage_bytes", "status", "mem_rss_bytes", "wall_seconds", "user_seconds",
        "sys_seconds", "iowait_seconds", "log_file", "compression",
    }  # fmt: skip
    assert required <= set(job)
    # chia plots create cannot make a compressed plot: level 0 from its command line.
    assert job["compression"] == 0
    assert "replot" not in data  # no target replots: nothing listed, nothing said
    assert job["plot_id"] == plot_id and job["phase"] == "3:1" and job["k"] == 32
    assert job["tmp_usage_bytes"] == 2048 and job["plotter"] == "chia"
    assert abs(data["updated"] - time.time()) < 60


def test_status_table_youngest_first_and_fits_the_width(farm: dict[str, Path]) -> None:
    ids = [secrets.token_hex(32), secrets.token_hex(32)]
    with start_job(farm, 20, ids[0], "a.log") as older:
        # Start times count clock ticks: the younger job must start on a later tick.
        wait_for(lambda: ticks_now() > start_ticks(older.pid), 10, "the next clock tick")
        with start_job(farm, 900, ids[1], "b.log"):
            wide = cli("status", config=farm["config"])
            narrow = cli("status", config=farm["config"], columns=60)
    assert wide.returncode == 0, wide.stderr
    rows = [line for line in wide.stdout.splitlines() if line[:8] in (ids[0][:8], ids[1][:8])]
    assert [row[:8] for row in rows] == [ids[1][:8], ids[0][:8]]
    header = wide.stdout.splitlines()[1]
    for title in ("plot id", "plotter", "k", "tmp", "dst", "wall", "phase", "pid", "stat", "mem"):
        assert title in header
    assert "Total jobs: " in wide.stdout  # other tests may run jobs at the same time
    table = [
        line
        for line in narrow.stdout.splitlines()
        if not line.startswith(("Prefixes", "Total", "!"))
    ]
    assert all(len(line) <= 60 for line in table), narrow.stdout
    assert "phase" in narrow.stdout and ids[1][:8] in narrow.stdout


def test_details_files_and_logs_by_prefix(farm: dict[str, Path]) -> None:
    plot_id = secrets.token_hex(32)
    with start_job(farm, 300, plot_id) as proc:
        details = cli("details", plot_id[:6], config=farm["config"])
        files = cli("files", plot_id[:6], config=farm["config"])
        logs = cli("logs", plot_id[:6], config=farm["config"])
    assert details.returncode == 0, details.stderr
    assert plot_id in details.stdout and str(proc.pid) in details.stdout
    assert "plots create" in details.stdout and "1:4" in details.stdout
    assert files.returncode == 0 and ".table1.tmp" in files.stdout and "2.0 KiB" in files.stdout
    assert logs.returncode == 0 and logs.stdout == (farm["logs"] / "job.log").read_text()


def test_unknown_and_ambiguous_ids_exit_3_listing_candidates(farm: dict[str, Path]) -> None:
    ids = ["c0" + secrets.token_hex(31), "c1" + secrets.token_hex(31)]
    with start_job(farm, 20, ids[0], "a.log"), start_job(farm, 20, ids[1], "b.log"):
        ambiguous = cli("details", "c", config=farm["config"])
        unknown = cli("files", "eeee", config=farm["config"])
    assert ambiguous.returncode == 3 and ids[0][:5] in ambiguous.stderr
    assert "Traceback" not in ambiguous.stderr and len(ambiguous.stderr.splitlines()) == 1
    assert unknown.returncode == 3 and ids[0][:8] in unknown.stderr and ids[1][:8] in unknown.stderr


def test_logs_follow_prints_new_lines_and_stops_when_the_job_ends(farm: dict[str, Path]) -> None:
    plot_id = secrets.token_hex(32)
    log = farm["logs"] / "job.log"
    seen: list[str] = []
    with start_job(farm, 20, plot_id):
        follower = subprocess.Popen(
            [str(PLOTMAN_TUI), "--config", str(farm["config"]), "logs", "-f", plot_id[:8]],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            reader = threading.Thread(target=lambda: seen.extend(follower.stdout or []))
            reader.start()

            def wait_for(text: str) -> bool:
                deadline = time.monotonic() + 15
                while not any(text in line for line in seen) and time.monotonic() < deadline:
                    time.sleep(0.05)
                return any(text in line for line in seen)

            assert wait_for("Creating 1 plots")  # what the log held already
            with open(log, "a") as handle:
                handle.write("Computing table 2\n")
            assert wait_for("Computing table 2")  # what it gained while followed
            assert follower.poll() is None, "follow ended while the job still runs"
        except BaseException:
            follower.kill()
            raise
    # The job has ended: following stops by itself.
    assert follower.wait(timeout=10) == 0
    reader.join(timeout=5)


def test_logs_takes_one_job_and_cannot_name_a_job_without_a_log(
    farm: dict[str, Path], tmp_path: Path
) -> None:
    with start_job(farm, 20, secrets.token_hex(32)):
        every = cli("logs", "all", config=farm["config"])
    assert every.returncode == 2 and "one job" in every.stderr
    # A job writing its log outside the log dir has no plot id as far as plotman-tui knows
    # (the id comes from the log), so no prefix names it: the error lists it by pid.
    elsewhere = tmp_path / "elsewhere.log"
    other_id = secrets.token_hex(32)
    elsewhere.write_text(f"ID: {other_id}\n")
    argv = chia_argv(farm["chia"], str(farm["tmp"]), str(farm["dst"]))
    with running(argv, elsewhere) as proc:
        missing = cli("logs", other_id[:8], config=farm["config"])
    assert missing.returncode == 3 and "Traceback" not in missing.stderr
    assert f"pid:{proc.pid}" in missing.stderr and "no plot id" in missing.stderr


def test_dirs_and_dsched_show_each_dir_and_an_unplugged_one(farm: dict[str, Path]) -> None:
    plot_id = secrets.token_hex(32)
    (farm["dst"] / f"plot-k32-2021-01-01-00-00-{secrets.token_hex(32)}.plot").write_bytes(
        b"p" * 4096
    )
    with start_job(farm, 900, plot_id):
        dirs = cli("dirs", config=farm["config"])
        dsched = cli("dsched", config=farm["config"])
    assert dirs.returncode == 0, dirs.stderr
    dst_row = next(line for line in dirs.stdout.splitlines() if line.startswith(str(farm["dst"])))
    assert "1 (4.0K)" in dst_row and "3:1" in dst_row
    assert any("unplugged" in line and "missing" in line for line in dirs.stdout.splitlines())
    assert dsched.returncode == 0
    assert any(
        line.startswith(str(farm["dst"])) and "3:1" in line for line in dsched.stdout.splitlines()
    )


def test_dirs_shows_archive_dirs_per_target_and_an_unreachable_farmer(
    farm: dict[str, Path], tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    with socket.socket() as probe:  # a port nobody listens on: the farmer refuses
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with farm["config"].open("a") as config:
        config.write(
            "\n[archiving]\nenabled = true\n\n"
            f'[[archiving.targets]]\nname = "usb"\ntype = "local"\narchive_dirs = ["{archive}"]\n\n'
            '[[archiving.targets]]\nname = "farmer"\ntype = "ssh"\nhost = "127.0.0.1"\n'
            f"ssh_port = {closed_port}\nverify_host_key = false\n"
            'archive_dirs = ["/farm/disk00"]\n'
        )
    # The refusing farmer is a note, not a wait: a hang fails through cli's timeout.
    dirs = cli("dirs", config=farm["config"])
    assert dirs.returncode == 0, dirs.stderr
    lines = dirs.stdout.splitlines()
    local = next(line for line in lines if line.startswith(str(archive)))
    assert " usb " in local and "G" in local  # free space read
    remote = next(line for line in lines if line.startswith("/farm/disk00"))
    assert " farmer " in remote and "unreachable" in remote
    assert any(line.startswith("farmer (ssh: ") for line in lines)


def test_missing_config_is_one_line_exit_2(tmp_path: Path) -> None:
    result = cli("status", config=tmp_path / "nope.toml")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "config generate" in result.stderr


def test_bad_arguments_exit_2_without_traceback() -> None:
    result = cli("status", "--nope")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_status_does_not_import_textual(farm: dict[str, Path]) -> None:
    code = (
        "import sys\nfrom plotman_tui.cli import main\n"
        f"code = main(['--config', {str(farm['config'])!r}, 'status', '--json'])\n"
        "assert code == 0, code\n"
        "assert 'textual' not in sys.modules, 'status imported textual'\n"
        "assert 'rich' not in sys.modules, 'status imported rich'\n"
        # On Linux the scan reads /proc itself; importing psutil would cost ~20 ms per run.
        "if sys.platform.startswith('linux'):\n"
        "    assert 'psutil' not in sys.modules, 'status imported psutil'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert '"total_jobs"' in result.stdout


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "plotter-logs"
ENDED = {
    # log, plot id, plotter as the log reads, k, phase times shown
    "chia-2.7.5-cli-k18.plot.log": ("5436818ae93323ab", "chia", 18, "phase 4: "),
    "madmax.plot.log": ("522acbd6308af7e2", "madmax", 33, "phase 1: 36m, phase 2: 22m"),
    "bladebit2disk.plot.log": ("8f781fecff9d78b8", "bladebit2disk", 32, "phase 1: 8m"),
}


def test_details_and_logs_of_jobs_that_have_ended(farm: dict[str, Path]) -> None:
    for name in ENDED:
        (farm["logs"] / f"2026-11-24T10_00_00.{name}").write_bytes((FIXTURES / name).read_bytes())
    for name, (prefix, plotter, k, phases) in ENDED.items():
        details = cli("details", prefix[:6], config=farm["config"])
        assert details.returncode == 0, details.stderr
        fields = dict(
            (label.strip(), value)
            for label, _, value in (line.partition(": ") for line in details.stdout.splitlines())
        )
        assert fields["plot id"].startswith(prefix)
        assert fields["plotter"] == f"{plotter}, k{k} (as its log reads)"
        assert fields["state"] == "finished its plot"
        assert phases in fields["phase times"]
        assert fields["final file"].endswith(".plot") and prefix in fields["final file"]
        assert fields["log"] == str(farm["logs"] / f"2026-11-24T10_00_00.{name}")
        logs = cli("logs", prefix.upper()[:8], config=farm["config"])
        assert logs.returncode == 0, logs.stderr
        assert logs.stdout == (FIXTURES / name).read_text()
    both = cli("details", "5436", "522a", config=farm["config"])
    assert both.returncode == 0 and both.stdout.count("plot id: ") == 2


def test_a_job_that_died_half_way_says_where_its_log_ends(farm: dict[str, Path]) -> None:
    lines = (FIXTURES / "chia-2.7.5-cli-k18.plot.log").read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if line.startswith("Starting phase 2/4"))
    (farm["logs"] / "died.log").write_text("".join(lines[: cut + 3]))
    details = cli("details", "5436818a", config=farm["config"])
    assert details.returncode == 0, details.stderr
    assert "state: not running, and its log ends at phase 2:" in details.stdout
    assert "final file: -" in details.stdout


def test_ended_jobs_ambiguous_or_unknown_exit_3(farm: dict[str, Path]) -> None:
    log = (FIXTURES / "chia-2.7.5-cli-k18.plot.log").read_bytes()
    (farm["logs"] / "a.log").write_bytes(log)
    (farm["logs"] / "copy.log").write_bytes(log)
    (farm["logs"] / "notes.txt").write_bytes(log)  # not a log: not looked at
    ambiguous = cli("logs", "5436", config=farm["config"])
    assert ambiguous.returncode == 3
    (line,) = ambiguous.stderr.splitlines()
    assert str(farm["logs"] / "a.log") in line and str(farm["logs"] / "copy.log") in line
    assert "notes.txt" not in line
    unknown = cli("details", "abcdef", config=farm["config"])
    assert unknown.returncode == 3
    assert f"nor has any log in {farm['logs']}" in unknown.stderr
    assert "Traceback" not in ambiguous.stderr + unknown.stderr


def test_only_the_head_of_each_log_is_searched(farm: dict[str, Path]) -> None:
    # A plot id first named after 64 KiB of other output is past the head that is read.
    plot_id = secrets.token_hex(32)
    (farm["logs"] / "late.log").write_text("x" * 70_000 + f"\nID: {plot_id}\n")
    result = cli("details", plot_id[:8], config=farm["config"])
    assert result.returncode == 3


@pytest.mark.parametrize("command", [("version",), ("status",), ("dirs",), ("status", "--json")])
def test_output_onto_a_full_disk_is_one_line_exit_1(
    farm: dict[str, Path], command: tuple[str, ...]
) -> None:
    # As `plotman-tui status > FILE` on a full disk (or quota): /dev/full refuses every write.
    if not Path("/dev/full").is_char_device():
        pytest.skip("/dev/full is not a character device here")
    argv = [str(PLOTMAN_TUI), "--config", str(farm["config"]), *command]
    with open("/dev/full", "w") as full:
        result = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == "plotman-tui: cannot write the output: No space left on device\n"


def test_a_c7_jobs_level_shows_in_status_its_json_and_details(
    farm: dict[str, Path], tmp_path: Path
) -> None:
    script = farm["bin"] / "bladebit_cuda"
    shutil.copy(farm["chia"], script)  # the same sleeper, under BladeBit CUDA's name
    # The dst is ``plots``, relative to the job's cwd: fakejobs' start check waits for that
    # word in the command line. Nothing is logged yet: the level is the command line's.
    argv = [sys.executable, str(script), "--compress", "7", "cudaplot", "-t1", str(farm["tmp"])]
    log = farm["logs"] / "cuda.log"
    log.write_bytes(b"")
    with running([*argv, "plots"], log, cwd=tmp_path) as proc:
        table = cli("status", config=farm["config"], columns=80)
        as_json = cli("status", "--json", config=farm["config"])
        details = cli("details", f"pid:{proc.pid}", config=farm["config"])
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()[1:]
    row = next(line.split() for line in rows if str(proc.pid) in line.split())
    # "plot id" is two words in the header, one cell ("?") in the row.
    assert row[header.split().index("C") - 1] == "7"
    job = next(j for j in json.loads(as_json.stdout)["jobs"] if j["pid"] == proc.pid)
    assert (job["plotter"], job["compression"]) == ("bladebit_cuda", 7)
    assert "compression: C7" in [line.strip() for line in details.stdout.splitlines()]
