"""The forecast module of an earlier revision, loaded beside today's for side-by-side runs.

``load("main")`` reads ``exporter/budget_exporter/money/forecast.py`` at that git revision and
imports it as ``budget_exporter.money._forecast_before``, so both versions run in one process
on the same inputs and the same machine load.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
PATH = "exporter/budget_exporter/money/forecast.py"
NAME = "budget_exporter.money._forecast_before"


def load(revision: str) -> ModuleType:
    """The forecast module as it was at ``revision`` (a branch, tag or commit)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:{PATH}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader(NAME, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "budget_exporter.money"
    sys.modules[NAME] = module
    exec(compile(source, f"{revision}:{PATH}", "exec"), module.__dict__)
    return module
