"""Where plotman-tui keeps its own files (the config's dir is the config module's business).

- the data dir: the action log and the scheduler lock (``$PLOTMAN_TUI_DATA_DIR`` overrides);
- the cache dir: derived state that can be deleted at any time (``$PLOTMAN_TUI_CACHE_DIR``).
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The action log and the scheduler lock live here."""
    override = os.environ.get("PLOTMAN_TUI_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("plotman-tui"))


def cache_dir() -> Path:
    """Derived, deletable state: ``$PLOTMAN_TUI_CACHE_DIR`` or the user cache dir."""
    override = os.environ.get("PLOTMAN_TUI_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("plotman-tui"))
