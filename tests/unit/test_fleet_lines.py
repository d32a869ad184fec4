"""How the fleet client cuts a watch's output into lines: a line must end in time, however its
bytes come (a review found a host that trickled a byte every 5 s stayed "up" for ever)."""

from __future__ import annotations

import asyncio

import pytest

from plotman_tui.fleet.client import LINE_PACE_BYTES, _Lines, _Silent


class Paced:
    """A stream that gives ``chunk`` bytes each ``every_s`` seconds (the pace of a link or a
    broken watch), then a newline once ``total`` bytes have come."""

    def __init__(self, chunk: int, every_s: float, total: int) -> None:
        self.chunk, self.every_s, self.total = chunk, every_s, total
        self.sent = 0

    async def read(self, n: int = -1) -> bytes:
        await asyncio.sleep(self.every_s)  # the source's pace, not a wait for the test
        if self.sent >= self.total:
            return b"\n"
        self.sent += self.chunk
        return b"x" * self.chunk


async def test_a_watch_that_trickles_a_byte_at_a_time_is_silent_though_each_read_is_in_time() -> (
    None
):
    lines = _Lines(Paced(1, 0.02, 1000), 1 << 20, silent_s=0.2)
    with pytest.raises(_Silent):
        await lines.next()


async def test_a_long_line_that_keeps_coming_at_a_links_pace_is_not_silent() -> None:
    # 8 chunks a pace's worth each, every 0.05 s: 0.4 s in all against 0.2 s of silence
    # allowed, as a big snapshot over a slow link takes longer than a beat.
    chunk = LINE_PACE_BYTES // 10  # 2 paces a second
    total = 8 * chunk
    lines = _Lines(Paced(chunk, 0.05, total), 1 << 20, silent_s=0.2)
    line = await lines.next()
    assert line == b"x" * total


def test_fleet_status_json_stays_ascii_json_with_a_hosts_path_that_is_not_utf8() -> None:
    # A review found a raw byte in `fleet status --json` (and a traceback on a strict UTF-8
    # stdout) for a host's dir named in Latin-1.
    import json
    from dataclasses import replace

    from plotman_tui.farm.model import Phase
    from plotman_tui.fleet.model import HostStatus, HostView
    from plotman_tui.fleet.status import fleet_json_text
    from tests.tui.farmdata import NOW, make_job

    job = replace(make_job(3, age_s=60, phase=Phase(1, 2)), tmp_dir="/mnt/t\udce9mp")
    view = HostView(name="rig1", address="p@h:22", status=HostStatus.UP, jobs=(job,))
    text = fleet_json_text([view], NOW)
    assert text.isascii()
    (row,) = json.loads(text)["jobs"]
    assert row["tmp_dir"] == "/mnt/t\udce9mp"
