"""``import hpo`` stays light: every CLI call and every Ray worker pays for it.

Heavy dependencies are imported where they are used (scipy.stats for Sobol points, pandas
for tables, plotly for figures, sqlalchemy/alembic for SQL storage, the adapters' own
libraries). Behavioural, not timed: a fresh interpreter imports the module and lists
what got loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "scipy.stats",
    "scipy.optimize",
    "pandas",
    "plotly",
    "sqlalchemy",
    "alembic",
    "sklearn",
    "torch",
    "ray",
    "optuna",
)

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
heavy = sys.argv[2:]
print(json.dumps(sorted(
    m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy)
)))
"""


@pytest.mark.parametrize("module", ["hpo", "hpo.cli"])
def test_import_loads_no_heavy_dependency(module: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, module, *HEAVY],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == [], f"`import {module}` loads {loaded}"
