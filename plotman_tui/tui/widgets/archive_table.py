"""The archive dirs: on the dashboard one line per target (:class:`ArchiveTable`), on the dirs
screen one line per dir (:class:`ArchiveDirsTable`).

A farm archives to dozens of disks: a line each took the dashboard's room from the jobs, and
plotman's grid (``000: 94GB | 005: 94GB | ...``) fits six disks to a line at 80 columns, seven
lines for 40 disks. What a farmer acts on is the target's room and its extremes: how much is
free in all, which disk is fullest and which has the most room, and what is on its way or
wrong. That fits one line per target at any width; every disk is on the dirs screen (``d``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

from plotman_tui.dirview import ArchiveRow, pids_text
from plotman_tui.farm.archive.replot import ReplotProgress
from plotman_tui.farm.units import human_bytes
from plotman_tui.report import replot_progress_text
from plotman_tui.tui.view import short_dir
from plotman_tui.tui.widgets.keyed_table import KeyedTable, cell
from plotman_tui.tui.widgets.line_table import Cell, TableColumn

_NOTE_STYLE = {"ok": "", "busy": "blue", "unknown": "dim", "problem": "bold red"}
# The worst level of a target's dirs is its summary's.
_LEVEL_ORDER = ("ok", "unknown", "busy", "problem")


def _free(row: ArchiveRow) -> Cell:
    if row.free_bytes is None:
        return cell("?", "dim")
    return cell(human_bytes(row.free_bytes, short=True))


@dataclass(frozen=True)
class TargetSummary:
    """One target's archive dirs in a line: ``fullest`` and ``emptiest`` are the dirs with the
    least and the most free space (None: no dir's space is known)."""

    target: str
    disks: int
    free_bytes: int | None  # over the dirs whose space is known
    fullest: ArchiveRow | None
    emptiest: ArchiveRow | None
    note: str  # what is on its way (pids) and what is wrong, as clauses
    level: str


def target_summaries(rows: Sequence[ArchiveRow]) -> list[TargetSummary]:
    """The archive rows of each target (in order) summed up."""
    summaries = []
    for target, members in groupby(rows, key=lambda row: row.target):
        dirs = list(members)
        known = [row for row in dirs if row.free_bytes is not None]
        by_free = sorted(known, key=lambda row: row.free_bytes or 0)
        # A busy dir's note is "← pid N" (or "← pids N, M"): the transfers on their way there.
        pids = [int(pid) for row in dirs if row.level == "busy" for pid in _PIDS.findall(row.note)]
        notes = [f"← {pids_text(pids)}"] if pids else []
        problems = [row.note for row in dirs if row.level in ("problem", "unknown")]
        if problems and len(problems) == len(dirs) and len(set(problems)) == 1:
            notes.append(problems[0])  # target-wide: unreachable, not read yet ...
        else:
            notes += [f"{problems.count(note)} {note}" for note in dict.fromkeys(problems)]
        summaries.append(
            TargetSummary(
                target=target,
                disks=len(dirs),
                free_bytes=sum(row.free_bytes or 0 for row in known) if known else None,
                fullest=by_free[0] if by_free else None,
                emptiest=by_free[-1] if by_free else None,
                note="; ".join(notes),
                level=max((row.level for row in dirs), key=_LEVEL_ORDER.index, default="ok"),
            )
        )
    return summaries


_PIDS = re.compile(r"\d+")


def _extreme(row: ArchiveRow | None, prefix: str) -> Cell:
    if row is None:
        return cell("-", "dim")
    return cell(f"{short_dir(row.path, prefix)} {human_bytes(row.free_bytes, short=True)}")


class ArchiveTable(KeyedTable):
    """The dashboard's: one line per target."""

    COLUMNS: Sequence[TableColumn] = (
        TableColumn("target", "target"),
        TableColumn("disks", "disks", right=True),
        TableColumn("free", "free", right=True),
        # Before the extremes: on a narrow screen what is wrong or on its way shows first.
        TableColumn("note", "note", cut=True),
        # Left out whole on a narrow screen, emptiest first (the dirs screen has every disk).
        TableColumn("fullest", "fullest", drop=2),
        TableColumn("emptiest", "emptiest", drop=1),
    )

    # Only while a target replots: how far it has come (the dirs command says it in full).
    # Left out after the extremes on a narrow screen, and cut between its clauses first.
    _REPLOT = TableColumn("replot", "replot", cut=True, drop=3)

    def show(
        self,
        rows: Sequence[ArchiveRow],
        prefix: str,
        replot: Mapping[str, ReplotProgress] | None = None,
    ) -> None:
        progress = replot or {}
        columns = list(type(self).COLUMNS)
        if progress:
            columns.insert(4, self._REPLOT)
        self.COLUMNS = tuple(columns)
        shown = []
        for summary in target_summaries(rows):
            cells = [
                cell(summary.target, "bold"),
                cell(str(summary.disks)),
                cell(human_bytes(summary.free_bytes, short=True))
                if summary.free_bytes is not None
                else cell("?", "dim"),
                cell(summary.note, _NOTE_STYLE.get(summary.level, "")),
                _extreme(summary.fullest, prefix),
                _extreme(summary.emptiest, prefix),
            ]
            if progress:
                cells.insert(4, _replot_cell(progress.get(summary.target)))
            shown.append((summary.target, cells))
        self.show_rows(shown)


def _replot_cell(progress: ReplotProgress | None) -> Cell:
    if progress is None:
        return cell("-", "dim")
    style = "bold red" if progress.stopped is not None else "yellow" if progress.dry_run else ""
    return cell(replot_progress_text(progress, short=True), style)


class ArchiveDirsTable(KeyedTable):
    """The dirs screen's: every archive dir of every target."""

    COLUMNS = (
        TableColumn("target", "target"),
        TableColumn("dir", "archive", shrinks=True),
        TableColumn("free", "free", right=True),
        TableColumn("note", "note", cut=True),
    )

    def show(self, rows: Sequence[ArchiveRow], prefix: str) -> None:
        self.show_rows(
            [
                (
                    row.key,
                    [
                        cell(row.target if row.first else "", "bold"),
                        cell(short_dir(row.path, prefix)),
                        _free(row),
                        cell(row.note, _NOTE_STYLE.get(row.level, "")),
                    ],
                )
                for row in rows
            ]
        )
