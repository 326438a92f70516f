"""Every snippet of the README runs, as a reader would paste it.

The ``python`` blocks run in order in one namespace (the README reads as one session), in
a temporary working directory (their ``sqlite:///hpo.db`` lands there). Long runs are
made short without editing the snippets: ``Study.optimize`` runs at most
``MAX_TRIALS`` trials and ``hpo.compare`` at most 2 seeds of ``MAX_TRIALS`` trials; a
snippet that uses the reader's own model (``build``, ``train_one_epoch``, ``space``) gets
small stand-ins for it. The ``hpo`` lines of the ``sh`` blocks then run as commands in the
same directory (so a study name shared by a Python snippet and the shell would collide).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hpo

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_TRIALS = 6
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of the README's fenced blocks in ``language``."""
    text = README.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(2))
        for m in BLOCK.finditer(text)
        if m.group(1) == language
    ]


class _Model:
    """A stand-in for the reader's model in the multi-fidelity snippet."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.epochs = 0

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs}


def _train_one_epoch(model: _Model, config: dict[str, Any]) -> float:
    model.epochs += 1
    return 1.0 - 1.0 / (1 + model.epochs * config["lr"])


STAND_INS: dict[str, Any] = {
    "space": {"lr": hpo.Float(1e-3, 1.0, log=True)},
    "build": _Model,
    "train_one_epoch": _train_one_epoch,
}


@pytest.fixture
def short_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    optimize = hpo.Study.optimize

    def capped(self: hpo.Study, *args: Any, **kwargs: Any) -> hpo.Study:
        if len(args) >= 2 and args[1] is not None:  # optimize(objective, n_trials, ...)
            args = (args[0], min(args[1], MAX_TRIALS), *args[2:])
        elif kwargs.get("n_trials") is not None:
            kwargs["n_trials"] = min(kwargs["n_trials"], MAX_TRIALS)
        kwargs.setdefault("progress", False)
        return optimize(self, *args, **kwargs)

    compare = hpo.compare

    def small_compare(problem: str, searchers: Any, *, seeds: Any = 5, **kwargs: Any) -> Any:
        seeds = min(seeds, 2) if isinstance(seeds, int) else list(seeds)[:2]
        kwargs["n_trials"] = min(kwargs.get("n_trials", MAX_TRIALS), MAX_TRIALS)
        return compare(problem, searchers, seeds=seeds, **kwargs)

    monkeypatch.setattr(hpo.Study, "optimize", capped)
    monkeypatch.setattr(hpo, "compare", small_compare)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # paths the shell lines use
    return tmp_path


def test_the_readme_has_the_snippets_this_test_runs() -> None:
    assert len(blocks("python")) >= 8
    assert any("hpo run" in code for _, code in blocks("sh"))


def test_every_python_snippet_runs_in_order(short_runs: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "readme"}
    for line, code in blocks("python"):
        for name, value in STAND_INS.items():
            if re.search(rf"\b{name}\b", code) and name not in namespace:
                namespace[name] = value
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"the README snippet at line {line} raised {exc!r}:\n{code}")
    assert namespace["quickstart"].best_value > 0.5  # the quickstart study, reloaded


def _shell_lines() -> list[str]:
    lines = []
    for _, code in blocks("sh"):
        for raw in code.splitlines():
            command = raw.split("  #", 1)[0].strip()
            if command.startswith("hpo "):
                lines.append(command)
    return lines


def test_every_hpo_command_runs_after_the_python_snippets(short_runs: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "readme"}
    first = blocks("python")[0]
    exec(compile(first[1], f"README.md:{first[0]}", "exec"), namespace)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HPO_STORAGE", None)
    hpo_command = f"{shlex.quote(sys.executable)} -m hpo.cli"
    for command in _shell_lines():
        shell = command.replace("hpo ", f"{hpo_command} ", 1)
        shell = re.sub(r"--n-trials \d+", f"--n-trials {MAX_TRIALS}", shell)
        result = subprocess.run(
            shell, shell=True, cwd=short_runs, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{command}\n{result.stderr}"
    assert (short_runs / "trials.csv").read_text().startswith("number,state,value")
    assert (short_runs / "trials.json").exists()
