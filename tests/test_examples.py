"""Every example script runs as a user would run it and prints its best configuration."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import hpo
from hpo.cli import main
from hpo.storage import get_storage

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# adapter examples (adapter_*.py) need optional dependencies and are run by their
# adapter's tests in tests/adapters/; the multi-fidelity ones (torch_*.py, lcbench_*.py)
# by tests/test_multifidelity_examples.py; the Ray ones (ray_*.py) by tests/executors/
OTHERS = ("adapter_", "torch_", "lcbench_", "ray_")
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith(OTHERS))


def run_example(script: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def printed(out: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}: (.+)$", out, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{out}"
    return match.group(1)


def load_example(script: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{Path(script).stem}", EXAMPLES / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_covered() -> None:
    assert SCRIPTS == ["define_by_run.py", "quickstart.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_and_prints_its_best_configuration(script: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'examples.db'}"
    result = run_example(script, tmp_path, "--n-trials", "4", "--storage", url)
    assert result.returncode == 0, result.stderr
    accuracy = float(printed(result.stdout, "Best 3-fold CV accuracy"))
    config = ast.literal_eval(printed(result.stdout, "Best configuration"))
    assert isinstance(config, dict) and config
    assert 0.5 < accuracy <= 1.0
    storage = get_storage(url)
    try:
        (record,) = storage.list_studies()
        study = hpo.load_study(record.name, storage)
        assert [t.state.value for t in study.trials] == ["COMPLETE"] * 4
        assert study.direction == "maximize"
        assert study.best_params == config
        assert round(study.best_value, 4) == accuracy
    finally:
        storage.close()


def test_quickstart_searcher_option_conditional_space_and_default_storage(tmp_path: Path) -> None:
    result = run_example("quickstart.py", tmp_path, "--n-trials", "12", "--searcher", "grid")
    assert result.returncode == 0, result.stderr
    assert "12 trials with searcher 'grid'" in result.stdout
    db = tmp_path / "hpo-quickstart.db"  # the default storage, in the working directory
    assert db.is_file()
    storage = get_storage(f"sqlite:///{db}")
    try:
        (record,) = storage.list_studies()
        trials = storage.get_trials(record.study_id).trials
    finally:
        storage.close()
    assert record.searcher == "grid" and len(trials) == 12
    for t in trials:
        assert ("gamma" in t.params) == (t.params["kernel"] != "linear")
        assert ("degree" in t.params) == (t.params["kernel"] == "poly")
    assert len({t.params["kernel"] for t in trials}) >= 2


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_imports_without_running(script: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = load_example(script)
    assert module.__doc__ and len(module.__doc__.strip().splitlines()) >= 3
    assert callable(module.main)
    assert capsys.readouterr() == ("", "")


def test_the_cli_runs_the_quickstart_objective(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    target = f"{EXAMPLES / 'quickstart.py'}:svm_accuracy"
    code = main(["run", target, "--n-trials", "2", "--name", "svm", "--storage", url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "maximize" in err and "Best configuration: {" in out
    storage = get_storage(url)
    try:
        assert len(hpo.load_study("svm", storage).trials) == 2
    finally:
        storage.close()
