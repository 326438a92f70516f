"""The `make bench` scripts run end to end on a tiny subset, print their section, and leave
benchmarks/RESULTS.md alone (only full runs write it)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _quality_module() -> Any:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("quality_script", BENCH / "quality.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_quality_target_wants_one_searcher_ahead_of_every_peer_at_every_budget() -> None:
    """Per budget: met when some searcher of ours beats every peer on regret and on rank;
    overall: met only when the same searcher does at every budget."""
    quality = _quality_module()
    regret = {
        50: {"gp": 0.10, "tpe": 0.12, "skopt:gp": 0.11},
        100: {"gp": 0.09, "tpe": 0.05, "skopt:gp": 0.06},
    }
    rank = {
        50: {"gp": 1.5, "tpe": 2.5, "skopt:gp": 2.0},
        100: {"gp": 2.5, "tpe": 1.2, "skopt:gp": 2.3},
    }
    scores = [quality.ProblemScores("p", "checking", "smooth", regret, rank, {}, 3, 0)]
    lines = quality._targets(scores, ["gp", "tpe", "skopt:gp"], [50, 100], ["gp", "tpe"])
    assert "At 50 trials" in lines[0] and "**met**" in lines[0] and "ahead: gp" in lines[0]
    assert "At 100 trials" in lines[1] and "**met**" in lines[1] and "ahead: tpe" in lines[1]
    assert "**NOT MET** (50: gp; 100: tpe)" in lines[2]
    rank[100]["gp"] = 1.0  # now gp also beats the peer at 100 trials (tpe loses on rank)
    regret[100]["gp"] = 0.055
    lines = quality._targets(scores, ["gp", "tpe", "skopt:gp"], [50, 100], ["gp", "tpe"])
    assert "**met (gp)**" in lines[2]
    rank[50]["gp"] = 2.0  # a tie with the best peer is not ahead
    lines = quality._targets(scores, ["gp", "tpe", "skopt:gp"], [50, 100], ["gp", "tpe"])
    assert "**NOT MET**" in lines[0] and "our lowest regret: gp" in lines[0]


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
    assert "a searcher of ours has a lower regret and a better rank than every peer" in out
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
