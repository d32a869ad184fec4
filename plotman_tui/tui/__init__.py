"""The Textual dashboard: ``plotman_tui.tui.app.run_dashboard``.

The only package that imports textual. This module imports nothing, so that importing
``plotman_tui.tui`` (or a sibling such as ``plotman_tui.tui.view``) costs nothing until the
dashboard really runs.
"""
