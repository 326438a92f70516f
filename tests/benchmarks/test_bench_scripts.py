"""The `make bench` scripts run end to end on a tiny subset, print their section, and leave
benchmarks/RESULTS.md alone (only full runs write it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def run(script: str, *args: str) -> str:
    before = (BENCH / "RESULTS.md").read_text()
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCH.parent,
    )
    assert result.returncode == 0, result.stderr
    assert (BENCH / "RESULTS.md").read_text() == before
    assert "not written to RESULTS.md" in result.stderr
    return result.stdout


def test_quality_subset_prints_regret_ranks_and_targets(tmp_path: Path) -> None:
    out = run(
        "quality.py",
        *("--half", "tuning", "--problems", "branin", "mixed", "--seeds", "2"),
        *("--n-trials", "6", "--searchers", "random", "tpe", "optuna:tpe"),
        *("--jobs", "2", "--cache", str(tmp_path)),
    )
    assert out.startswith("## Searcher quality")
    assert "### Tuning half" in out and "### Checking half" not in out
    assert "| searcher | regret@6 | rank@6 | ms per ask (median) |" in out
    rows = [line for line in out.splitlines() if line.startswith(("| **", "| optuna"))]
    assert len(rows) == 3  # one summary row per searcher
    for row in rows:
        rank = float(row.split("|")[3])
        assert 1.0 <= rank <= 3.0
    assert "| branin |" in out and "| mixed |" in out
    assert "our best searcher has the lowest regret and the best rank" in out
    assert (tmp_path / "quality.db").exists()
    # a second run reuses every stored comparison: nothing runs again
    again = run(
        "quality.py",
        *("--half", "tuning", "--problems", "branin", "mixed", "--seeds", "2"),
        *("--n-trials", "6", "--searchers", "random", "tpe", "optuna:tpe"),
        *("--jobs", "2", "--cache", str(tmp_path)),
    )
    assert "0 (problem, searcher) jobs run and 6 reused" in again


@pytest.mark.parametrize("methods", [("random", "asha", "bohb")])
def test_multifidelity_subset_prints_epochs_and_targets(methods: tuple[str, ...]) -> None:
    out = run(
        "multifidelity.py",
        *("--tasks", "3945", "--seeds", "2", "--n-configs", "12", "--torch-seeds", "0"),
        *("--methods", *methods, "--jobs", "2"),
    )
    assert out.startswith("## Multi-fidelity")
    assert "(a) bohb reaches full-budget random search's final regret" in out
    for m in methods:
        assert f"| {m} |" in out
    assert "| random | 624 (1.000) |" in out  # 12 configurations x 52 epochs
