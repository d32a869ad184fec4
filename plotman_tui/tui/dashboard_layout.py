"""How the dashboard shares its lines: the jobs table first, then the dir tables, then the rest.

Pure (no Textual): the screen hands in the room and what each table needs, and sets the sizes
this returns, on a resize or when a table's row count changes (never on a pass where nothing
changed size: a layout of the whole screen costs more than a pass).

The lower part of the dashboard is the tmp table, and a row of the dst table beside a column
of the archive summary over the action log (``side``). The tmp table stands beside that row
when the width allows (``beside``), else it spans the width over it. A terminal wide enough
for the tmp table beside the dst table over the archive summary, every cell whole, puts the
action log under them, the whole width (``log_under``): its entries (140 columns and more)
show whole or nearly, where a side column cut them to their first 60. In order:

1. the jobs table shows at least :func:`jobs_guarantee` rows (5 at 24 lines, 12 at 40);
2. the dir tables show every row if they can: with borders, else without; flowing into
   groups side by side (fewest first) as far as the width allows;
3. the jobs table shows every job if it can;
4. the action log takes the rest, as far as it has entries; the jobs table takes what is
   left after that (its blank lines on a small farm in a tall terminal).

When even flowed and without borders the dir tables cannot show every row, they share what is
left and scroll (every dir is on the dirs screen).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import NamedTuple

#: Borders (and their titles) around a panel: two lines, two columns.
BORDER = 2
#: Between a group of a flowed table and the next.
GROUP_GAP = 1
#: Between two panels side by side (a margin).
PANEL_GAP = 1
#: The side column (archive summary, action log) is never narrower than this, nor than
#: SIDE_BESIDE_WIDTH when the tmp table stands beside the dst row (else it goes over it).
SIDE_MIN_WIDTH = 36
SIDE_BESIDE_WIDTH = 60
#: The action log under the dirs (``log_under``) shows at least this many entries.
LOG_MIN_LINES = 3
#: The scrollbar a panel shows when its rows do not fit.
SCROLLBAR = 2


def jobs_guarantee(height: int) -> int:
    """The job rows always shown at this terminal height: 5 at 24 lines, 12 at 40, 20 at 60."""
    return max(5, 5 + (height - 24) * 7 // 16)


@dataclass(frozen=True)
class TableNeeds:
    """A dir table's rows and the width of one group of them: with every cell whole, and
    with its reasons cut as far as they go (0 rows: the table is not shown)."""

    rows: int
    natural_width: int
    min_width: int

    def lines(self, groups: int, chrome: int) -> int:
        """Lines to show every row in ``groups``: the rows of the longest group, the header
        and the borders."""
        return -(-self.rows // groups) + 1 + chrome if self.rows else 0

    def width(self, groups: int, chrome: int) -> int:
        """The width of ``groups`` groups whose cells are whole."""
        return groups * self.natural_width + (groups - 1) * GROUP_GAP + chrome

    def fits(self, groups: int, width: int, chrome: int) -> bool:
        """Whether ``groups`` groups, reasons cut as far as they go, fit ``width``."""
        return groups * self.min_width + (groups - 1) * GROUP_GAP + chrome <= width


@dataclass(frozen=True)
class Room:
    """What there is to share: ``width`` columns, ``height`` lines of the terminal of which
    ``lines`` are for the jobs table and the lower part; ``jobs``: job rows, and the lines
    the jobs table takes besides them (header, borders)."""

    width: int
    height: int
    lines: int
    jobs: int
    jobs_chrome: int
    tmp: TableNeeds
    dst: TableNeeds
    archive: TableNeeds  # 0 rows: archiving is not set up
    bordered: bool  # panels may have borders (a tall terminal)
    actions: int = 0  # the action log's entries


@dataclass(frozen=True)
class Plan:
    """The lower part's height and how its panels are laid out (heights and widths include
    borders; ``beside``: the tmp table stands beside the dst row, else over it)."""

    lower: int
    beside: bool
    bordered: bool
    tmp_groups: int
    tmp_height: int
    tmp_width: int | None  # None: the whole width (over the dst row)
    dst_groups: int
    dst_height: int
    dst_width: int
    archive_height: int
    side_height: int  # the archive summary and the action log under it; log_under: the log
    log_under: bool = False  # the tmp table beside the dst table over the archive summary


def plan(room: Room) -> Plan:
    """Share ``room`` (see the module's doc)."""
    # Never less than two rows' room: the table stays a table with one job or none.
    guaranteed = max(min(room.jobs, jobs_guarantee(room.height)), 2) + room.jobs_chrome
    budget = max(room.lines - guaranteed, 0)
    choices: list[_Choice] = []
    for bordered, beside in product((True, False) if room.bordered else (False,), (True, False)):
        chrome = BORDER if bordered else 0
        for tmp_groups, dst_groups in product(range(1, 5), range(1, 4)):
            shape = _shape(room, beside, chrome, tmp_groups, dst_groups)
            if shape is not None:
                choices.append(_Choice(bordered, beside, False, tmp_groups, dst_groups, *shape))
            under = _under_shape(room, chrome, tmp_groups, dst_groups) if beside else None
            if under is not None:
                choices.append(_Choice(bordered, True, True, tmp_groups, dst_groups, *under))
    # A terminal too narrow for even one group of each: one of each, cut at its right end.
    last_resort = _shape(room, False, 0, 1, 1, strict=False)
    assert last_resort is not None
    choices.append(_Choice(False, False, False, 1, 1, *last_resort))
    # Of the shapes that show every dir in the budget: borders first, then the log under the
    # dirs (every entry whole), then the fewest groups, then the fewest lines.
    fitting = sorted(
        (choice for choice in choices if choice.needed <= budget),
        key=lambda choice: (
            not choice.bordered,
            not choice.log_under,
            choice.tmp_groups + choice.dst_groups,
            choice.needed,
        ),
    )
    if fitting:
        best = fitting[0]
        jobs_all = max(room.jobs, 2) + room.jobs_chrome
        lower = max(best.needed, min(room.lines - jobs_all, budget, _with_whole_log(room, best)))
        return _placed(room, best, lower)
    # Nothing shows every dir: the least lines, the panels share the budget and scroll.
    least = min(
        (choice for choice in choices if not choice.bordered and not choice.log_under),
        key=lambda choice: choice.needed,
    )
    return _placed(room, least, budget)


class _Choice(NamedTuple):
    """A way to lay the lower part out, and the lines it needs to show every dir."""

    bordered: bool
    beside: bool
    log_under: bool
    tmp_groups: int
    dst_groups: int
    needed: int
    tmp_width: int | None
    dst_width: int


def _shape(
    room: Room, beside: bool, chrome: int, tmp_groups: int, dst_groups: int, *, strict: bool = True
) -> tuple[int, int | None, int] | None:
    """The lines the lower part needs to show every dir with these groups, the tmp table's
    and the dst table's widths; None when the groups do not fit the width (or are more than
    the rows; ``strict`` False: whether they fit or not)."""
    tmp, dst, archive = room.tmp, room.dst, room.archive
    if tmp_groups > max(tmp.rows, 1) or dst_groups > max(dst.rows, 1):
        return None
    # The side column holds the action log, and the archive summary when archiving is set up;
    # the tmp table stands beside the dst row only if that leaves the log a readable width.
    side_min = SIDE_BESIDE_WIDTH if beside else SIDE_MIN_WIDTH
    if beside:
        tmp_width = min(tmp.width(tmp_groups, chrome), room.width // 2)
        if strict and not tmp.fits(tmp_groups, tmp_width, chrome):
            return None
        row_width = room.width - tmp_width - PANEL_GAP
    else:
        if strict and not tmp.fits(tmp_groups, room.width, chrome):
            return None
        tmp_width, row_width = None, room.width
    dst_room = row_width - side_min - PANEL_GAP
    dst_width = max(min(dst.width(dst_groups, chrome), dst_room), 1)
    if strict and not dst.fits(dst_groups, dst_width, chrome):
        return None
    archive_lines = archive.lines(1, chrome)
    row = max(dst.lines(dst_groups, chrome), archive_lines)
    tmp_lines = tmp.lines(tmp_groups, chrome)
    needed = max(tmp_lines, row) if beside else tmp_lines + row
    return needed, tmp_width, dst_width


def _under_shape(
    room: Room, chrome: int, tmp_groups: int, dst_groups: int
) -> tuple[int, int, int] | None:
    """``log_under``: the lines the lower part needs to show every dir and a few of the log's
    entries, the tmp table's and the dst table's widths; None unless every cell of the dir
    tables is whole in the width."""
    tmp, dst, archive = room.tmp, room.dst, room.archive
    if tmp_groups > max(tmp.rows, 1) or dst_groups > max(dst.rows, 1):
        return None
    tmp_width = tmp.width(tmp_groups, chrome)
    dst_width = dst.width(dst_groups, chrome)
    column = max(dst_width, archive.width(1, chrome) if archive.rows else 0)
    if tmp_width + PANEL_GAP + column > room.width:
        return None
    return (
        _top_lines(room, chrome, tmp_groups, dst_groups) + LOG_MIN_LINES + chrome,
        tmp_width,
        dst_width,
    )


def _top_lines(room: Room, chrome: int, tmp_groups: int, dst_groups: int) -> int:
    """``log_under``: the lines of the tmp table beside the dst table over the archive's."""
    column = room.dst.lines(dst_groups, chrome) + room.archive.lines(1, chrome)
    return max(room.tmp.lines(tmp_groups, chrome), column)


def _with_whole_log(room: Room, choice: _Choice) -> int:
    """The lines of the lower part with every entry of the action log in sight: more would
    be blank lines the jobs table may as well have."""
    chrome = BORDER if choice.bordered else 0
    tmp_groups, dst_groups = choice.tmp_groups, choice.dst_groups
    if choice.log_under:
        return _top_lines(room, chrome, tmp_groups, dst_groups) + max(room.actions, 1) + chrome
    side = room.archive.lines(1, chrome) + max(room.actions, 1) + chrome
    row = max(room.dst.lines(dst_groups, chrome), side)
    tmp_lines = room.tmp.lines(tmp_groups, chrome)
    return max(tmp_lines, row) if choice.beside else tmp_lines + row


def _placed(room: Room, choice: _Choice, lower: int) -> Plan:
    """The panels' heights in a lower part of ``lower`` lines."""
    bordered, beside, log_under = choice.bordered, choice.beside, choice.log_under
    tmp_groups, dst_groups = choice.tmp_groups, choice.dst_groups
    tmp_width, dst_width = choice.tmp_width, choice.dst_width
    chrome = BORDER if bordered else 0
    tmp_lines = room.tmp.lines(tmp_groups, chrome)
    dst_lines = room.dst.lines(dst_groups, chrome)
    archive_lines = room.archive.lines(1, chrome)
    if log_under:
        # Chosen only when every dir shows: the log has the lines under them.
        tmp_height, dst_height, archive_height = tmp_lines, dst_lines, archive_lines
        side_height = lower - _top_lines(room, chrome, tmp_groups, dst_groups)
    else:
        if beside:
            tmp_height = min(tmp_lines, lower)
            row = lower
        else:
            row_lines = max(dst_lines, archive_lines)
            # Short of lines: the tmp table and the dst row share them, each at least a
            # header and a row (and its borders).
            tmp_height = min(
                tmp_lines, max(lower - row_lines, min(tmp_lines, 2 + chrome), lower // 2)
            )
            row = max(lower - tmp_height, 0)
        dst_height, archive_height, side_height = min(dst_lines, row), min(archive_lines, row), row
        if dst_lines > row and dst_width < room.dst.width(dst_groups, chrome) + SCROLLBAR:
            # It scrolls: its scrollbar's columns come from the side column, not its cells.
            dst_width += SCROLLBAR
    return Plan(
        lower=lower,
        beside=beside or log_under,
        bordered=bordered,
        tmp_groups=tmp_groups,
        tmp_height=tmp_height,
        tmp_width=tmp_width,
        dst_groups=dst_groups,
        dst_height=dst_height,
        dst_width=dst_width,
        archive_height=archive_height,
        side_height=side_height,
        log_under=log_under,
    )
