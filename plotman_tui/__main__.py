"""``python -m plotman_tui``: the same as the ``plotman-tui`` command (the fleet runs this
machine's ``watch --json`` so, with the interpreter it runs under)."""

from plotman_tui.cli import main

raise SystemExit(main())
