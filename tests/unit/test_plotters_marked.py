"""Acceptance: after each line of a real log, the parser reports the phase marked for that line.

Each ``*.marked`` fixture line is ``M:m,`` followed by the log line (see PROVENANCE.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plotman_tui.plotters import get_plotter
from plotman_tui.plotters.phase import Phase

LOGS = Path(__file__).parents[1] / "fixtures" / "plotter-logs"

MARKED = [
    ("chia", "chianetwork.marked"),
    ("madmax", "madmax.marked"),
    ("madmax", "madmax-k32/madmax.marked"),
    ("bladebit", "bladebit.marked"),
    ("bladebit2disk", "bladebit2disk.marked"),
]


def read_marked(path: Path) -> list[tuple[Phase, bytes]]:
    marked = []
    for raw in path.read_bytes().split(b"\n")[:-1]:
        mark, comma, line = raw.partition(b",")
        assert comma, f"{path.name}: line without a phase mark: {raw!r}"
        marked.append((Phase.parse(mark.decode()), line))
    return marked


@pytest.mark.parametrize(("plotter_name", "fixture"), MARKED)
def test_phase_after_every_line_is_the_marked_phase(plotter_name: str, fixture: str) -> None:
    parser = get_plotter(plotter_name).new_log_parser()
    marked = read_marked(LOGS / fixture)
    assert len(marked) > 50
    wrong = []
    for number, (expected, line) in enumerate(marked, 1):
        parser.feed(line + b"\n")
        if parser.info.phase != expected:
            wrong.append(f"line {number}: {parser.info.phase} != {expected}: {line[:70]!r}")
    assert wrong == []
    assert parser.info.completed


@pytest.mark.parametrize(("plotter_name", "fixture"), MARKED)
def test_marked_fixture_is_the_plot_log_beside_it(plotter_name: str, fixture: str) -> None:
    # The marks are only worth something if they annotate the real log unchanged.
    log = (LOGS / fixture).with_name(Path(fixture).name.replace(".marked", ".plot.log"))
    lines = [line for _, line in read_marked(LOGS / fixture)]
    assert b"\n".join(lines) + b"\n" == log.read_bytes()
