"""``l``: the job's log in $PAGER, as a cleaned copy: a real chia log's colour codes gone, a
hostile log's escape sequences shown harmlessly, the copy private and gone once the pager exits.

The pager is a real program ($PAGER, a script that copies what it was given); the headless test
driver cannot hand the terminal over, so ``suspend`` is a no-op here (the tmux tests run the
real one)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets._toast import Toast

from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.pager import copy_readable
from plotman_tui.tui.view import job_key
from tests.conftest import FIXTURES
from tests.tui.farmdata import farm_jobs, pass_completed, still_app
from tests.tui.pilots import jobs_table, until

#: chia 1.2's k32 log: every INFO line coloured.
CHIA_LOG = FIXTURES / "plotter-logs" / "chianetwork.plot.log"
SGR = re.compile(r"\x1b\[[0-9;]*m")
# Control characters a terminal acts on (all but tab and newline), and the C1 range.
OBEYED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def cleaned(path: Path) -> str:
    out = io.StringIO()
    copy_readable(os.fspath(path), out)
    return out.getvalue()


def test_a_real_chia_log_loses_its_colour_codes_and_keeps_its_lines_and_tabs() -> None:
    log = CHIA_LOG
    raw = log.read_text()
    assert "\x1b[32mINFO" in raw and "\t" in raw  # the fixture is what this test is about
    text = cleaned(log)
    assert "\x1b" not in text and not OBEYED.search(text)
    assert text.splitlines() == SGR.sub("", raw).splitlines()
    assert "\tBucket" in text


def test_a_hostile_log_is_shown_not_obeyed(tmp_path: Path) -> None:
    log = tmp_path / "hostile.log"
    log.write_bytes(
        b"Starting phase 1/4\n"
        b"\x1b]0;owned terminal title\x07title\n"  # OSC: set the window title, BEL
        b"\x1b[2J\x1b[Hcleared\n"  # clear the screen, cursor home
        b"nul\x00here\tand a tab\n"
        b"progress 10%\rprogress 20%\r\n"  # a lone CR is a line's end
        b"\xc2\x9b31mC1 CSI\n"  # CSI as one (C1) character
        b"bad utf-8 \xff\n"
        b"last line, no newline"
    )
    text = cleaned(log)
    assert not OBEYED.search(text) and "\x1b" not in text
    assert text.splitlines() == [
        "Starting phase 1/4",
        "0;owned terminal title␇title",
        "cleared",
        "nul␀here\tand a tab",
        "progress 10%",
        "progress 20%",
        "\ufffd31mC1 CSI",
        "bad utf-8 \ufffd",
        "last line, no newline",
    ]


def pager_script(tmp_path: Path) -> tuple[str, Path]:
    """A $PAGER that records what it was given: the file's path, mode, dir mode and text."""
    record = tmp_path / "pager-saw.json"
    script = tmp_path / "pager.py"
    script.write_text(
        "import json, os, stat, sys\n"
        "path = sys.argv[-1]\n"
        # Never left waiting on a FIFO (as less would be), whatever the app hands over.
        "if not stat.S_ISREG(os.stat(path).st_mode):\n"
        f"    open({str(record)!r}, 'w').write('not a regular file')\n"
        "    sys.exit(1)\n"
        "json.dump({'path': path, 'mode': os.stat(path).st_mode & 0o777,\n"
        "           'dir_mode': os.stat(os.path.dirname(path)).st_mode & 0o777,\n"
        "           'text': open(path, encoding='utf-8').read()},\n"
        f"          open({str(record)!r}, 'w'))\n"
    )
    return f"{sys.executable} {script}", record


def pager_app(monkeypatch: pytest.MonkeyPatch) -> DashboardApp:
    app = still_app()
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    return app


async def test_l_gives_the_pager_a_private_cleaned_copy_removed_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "logs" / "2021-07-14T22_33_24.log"
    log.parent.mkdir()
    log.write_bytes(CHIA_LOG.read_bytes())
    pager, record = pager_script(tmp_path)
    monkeypatch.setenv("PAGER", pager)
    app = pager_app(monkeypatch)
    jobs = [replace(farm_jobs()[0], log_file=os.fspath(log)), *farm_jobs()[1:]]
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(pass_completed(jobs))
        key = job_key(jobs[0])
        await until(pilot, lambda: key in jobs_table(app).row_keys, 5, "the job in the table")
        assert jobs_table(app).select_key(key)
        await pilot.press("l")
        saw = json.loads(record.read_text())
    assert saw["text"] == SGR.sub("", log.read_text())
    assert "\x1b" not in saw["text"]
    copy = Path(saw["path"])
    assert copy.name == log.name  # the pager's prompt names the log
    assert saw["dir_mode"] == 0o700
    assert not copy.exists() and not copy.parent.exists()  # gone once the pager exited
    assert log.read_bytes() == CHIA_LOG.read_bytes()


async def _notice_after_l(pilot: Pilot[int], log: Path) -> tuple[str, str]:
    """Every job's log at ``log``; ``l`` on the job under the cursor; the notice's title and
    text."""
    app = pilot.app
    jobs = [replace(job, log_file=os.fspath(log)) for job in farm_jobs()]
    app.post_message(pass_completed(jobs))
    await until(pilot, lambda: jobs_table(app).selected_job, 5, "the job under the cursor")
    await pilot.press("l")
    toast = await until(pilot, lambda: app.screen.query(Toast), 5, "a notice")
    title, message = toast.first().render().plain.split("\n", 1)
    return title, message


async def test_a_log_that_cannot_be_read_is_a_notice_not_a_pager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "tee.log"
    os.mkfifo(fifo)  # a farmer's tee: opening it to read would wait for a writer forever
    pager, record = pager_script(tmp_path)
    monkeypatch.setenv("PAGER", pager)
    app = pager_app(monkeypatch)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        title, message = await _notice_after_l(pilot, fifo)
    assert not record.exists()
    assert title == "log" and message.startswith(f"cannot show the log {fifo}")
    assert "not a regular file" in message


@pytest.mark.parametrize(
    ("value", "notice"),
    [
        ("less '", ("pager", "$PAGER cannot be read: No closing quotation")),
        ("/nowhere/pager", ("pager", "/nowhere/pager: No such file or directory")),
    ],
)
async def test_a_pager_that_cannot_run_is_a_notice_and_the_dashboard_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, notice: tuple[str, str]
) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(CHIA_LOG.read_bytes())
    monkeypatch.setenv("PAGER", value)
    app = pager_app(monkeypatch)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        assert await _notice_after_l(pilot, log) == notice
        await pilot.press("q")
    assert app.return_code == 0
