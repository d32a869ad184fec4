"""plotman-tui: a plotting manager for Chia farmers."""

__version__ = "0.1.0.dev0"
