"""A job's temp files as a grid: by dir, each with its size (the kill question and details)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from plotman_tui.farm.model import TempFile
from plotman_tui.farm.units import human_bytes, printable


def count_files(files: int) -> str:
    return f"{files} file{'' if files == 1 else 's'}"


def temp_files_grid(files: Sequence[TempFile], plot_id: str | None) -> Table:
    """Sizes in a column of their own, names under their dir; a long name folds in its column.

    Every name holds the job's plot id (that is how the files were chosen): it shows as its
    first 8 characters, so that what tells the files apart (a table, a bucket) stands out.
    """
    grid = Table.grid(padding=(0, 2))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(overflow="fold")
    by_dir: dict[str, list[TempFile]] = {}
    for temp in files:
        by_dir.setdefault(os.path.dirname(temp.path), []).append(temp)
    for directory, here in by_dir.items():
        grid.add_row(
            Text(human_bytes(sum(temp.size_bytes for temp in here)), "bold"),
            Text.assemble((printable(directory), "bold"), (f"  {count_files(len(here))}", "dim")),
        )
        for temp in here:
            name = os.path.basename(temp.path)
            if plot_id:
                name = name.replace(plot_id, f"{plot_id[:8]}…")
            # Text, not markup: file names are never read as styles.
            grid.add_row(human_bytes(temp.size_bytes), Text(f"  {printable(name)}"))
    total = sum(temp.size_bytes for temp in files)
    grid.add_row(
        Text(human_bytes(total), "bold"), Text(f"total, {count_files(len(files))}", "bold")
    )
    return grid
