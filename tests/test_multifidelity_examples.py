"""The multi-fidelity examples (ASHA, PBT, BOHB) run as scripts with a small budget."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
needs_torch = pytest.mark.skipif(find_spec("torch") is None, reason="torch is not installed")
needs_onnxruntime = pytest.mark.skipif(
    find_spec("onnxruntime") is None, reason="onnxruntime is not installed"
)


def run(script: str, cwd: Path, *args: str) -> dict[str, str]:
    """Run ``script``; its ``Label: value`` lines."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    lines = [line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line]
    return {k: v for k, v in lines}


@needs_torch
def test_torch_asha_stops_some_trials_early(tmp_path: Path) -> None:
    out = run("torch_asha.py", tmp_path, "--n-trials", "12")
    assert 0.5 < float(out["Best validation accuracy"]) <= 1.0
    pruned, epochs = int(out["Pruned trials"]), int(out["Total epochs"].split()[0])
    assert pruned >= 1
    assert epochs < 30 * 12


@needs_torch
def test_torch_pbt_continues_parents(tmp_path: Path) -> None:
    out = run("torch_pbt.py", tmp_path, "--smoke")
    assert 0.5 < float(out["Best validation accuracy"]) <= 1.0
    assert int(out["Trials continuing a parent"]) >= 1
    assert int(out["Total epochs"]) > 0
    assert not (tmp_path / "hpo-artifacts").exists()  # checkpoints went to a temporary folder


@needs_onnxruntime
def test_lcbench_bohb_spends_fewer_epochs_than_full_budgets(tmp_path: Path) -> None:
    out = run("lcbench_bohb.py", tmp_path, "--smoke")
    assert 0.0 <= float(out["Normalized regret"]) < 1.0
    assert int(out["Pruned trials"]) >= 1
    assert int(out["Total epochs"].split()[0]) < 52 * 30


@pytest.mark.parametrize("script", ["torch_asha.py", "torch_pbt.py", "lcbench_bohb.py"])
def test_example_help_and_docstring(script: str, tmp_path: Path) -> None:
    if script.startswith("torch") and find_spec("torch") is None:
        pytest.skip("torch is not installed")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "--n-trials" in result.stdout and "--smoke" in result.stdout
