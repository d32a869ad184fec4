"""Where a plot job is: its phase, as the plotters' log parsers read it and every layer shows it.

It lives here, below the domain model, because the parsers make it and may import only
downwards (the layering contract in pyproject.toml).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_PHASE_RE = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


@total_ordering
@dataclass(frozen=True)
class Phase:
    """Where a plot job is: ``major:minor``, as plotman shows it (``0:0`` before phase 1 starts)."""

    major: int = 0
    minor: int = 0

    def __str__(self) -> str:
        return f"{self.major}:{self.minor}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Phase):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    @classmethod
    def parse(cls, text: str) -> Phase:
        """Read ``"M:m"``; raises ValueError on anything else."""
        match = _PHASE_RE.match(text)
        if match is None:
            raise ValueError(f"not a phase: {text!r} (expected MAJOR:MINOR, e.g. 2:1)")
        return cls(int(match.group(1)), int(match.group(2)))


PHASE_START = Phase(0, 0)
