"""House rule: the domain core (farm/, plotters/, config/) never imports textual (nor rich)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import plotman_tui


def core_modules() -> list[str]:
    names = []
    for package in ("farm", "plotters", "config"):
        prefix = f"plotman_tui.{package}"
        names.append(prefix)
        module = __import__(prefix, fromlist=["__path__"])
        names += [info.name for info in pkgutil.walk_packages(module.__path__, prefix + ".")]
    return names


def test_core_modules_do_not_import_textual_or_rich() -> None:
    modules = core_modules()
    assert "plotman_tui.farm.discovery" in modules and "plotman_tui.plotters.chia" in modules
    code = "import sys\n" + "".join(f"import {name}\n" for name in modules)
    code += "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
    code += "assert not bad, bad\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert plotman_tui.__version__
