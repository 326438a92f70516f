"""Objectives for the CLI tests, imported by ``hpo run`` from this file's path."""

from __future__ import annotations

import os
import time
from pathlib import Path

import hpo

NOT_CALLABLE = 42


@hpo.objective(
    space={"x": hpo.Float(-5.0, 5.0), "kind": hpo.Categorical(["a", "b"])},
    direction="minimize",
)
def quadratic(config: dict) -> float:
    """A bowl with its minimum 0 at x=0, kind='a'."""
    return config["x"] ** 2 + (1.0 if config["kind"] == "b" else 0.0)


@hpo.objective(space={"x": hpo.Float(0.0, 1.0)}, direction="maximize", metric="accuracy")
def odd_trials_fail(config: dict, trial: hpo.Trial) -> dict[str, float]:
    """Trials with an odd number raise; the others report once, set a user attribute and
    return two metrics (``accuracy`` is the objective value)."""
    trial.report(0, config["x"] / 2)
    trial.set_user_attr("parity", trial.number % 2)
    if trial.number % 2:
        raise RuntimeError(f"trial {trial.number} is odd")
    return {"accuracy": config["x"], "loss": 1.0 - config["x"]}


@hpo.objective(space={"x": hpo.Float(0.0, 1.0)})
def always_fails(config: dict) -> float:
    """Every trial raises."""
    raise ZeroDivisionError("no value for you")


def define_by_run(trial: hpo.Trial) -> float:
    """Optuna style: the space comes from ``trial.suggest_*`` calls."""
    model = trial.suggest_categorical("model", ["linear", "tree"])
    if model == "linear":
        return trial.suggest_float("alpha", 1e-3, 1.0, log=True)
    return 1.0 / trial.suggest_int("depth", 1, 8)


@hpo.objective(space={"x": hpo.Float(0.0, 1.0)})
def slow(config: dict) -> float:
    """Touches ``$HPO_TEST_MARKER`` (so a test knows it runs), then sleeps for a minute."""
    Path(os.environ["HPO_TEST_MARKER"]).touch()
    time.sleep(60)
    return config["x"]


@hpo.objective(
    space={"lr": hpo.Float(1e-3, 1.0, log=True)},
    direction="maximize",
    budget=hpo.Budget("epoch", 1, 9),
)
def curve(config: dict, trial: hpo.Trial) -> float:
    """A learning curve: reports each epoch; a stopper may end it early."""
    acc = 0.0
    for epoch in range(1, int(trial.budget or 9) + 1):
        acc = 1.0 - 1.0 / (1.0 + epoch * config["lr"])
        trial.report(epoch, acc)
        if trial.should_stop():
            break
    return acc


@hpo.objective(space={"k": hpo.Categorical(["a", "b"]), "n": hpo.Int(1, 9, when={"k": "a"})})
def conditional_int(config: dict) -> float:
    """An integer parameter that only some trials have."""
    return float(config.get("n", 0))


@hpo.objective(space={"x": hpo.Float(0.0, 1.0)})
def metrics_without_a_metric(config: dict) -> dict[str, float]:
    """A dict of metrics; the study (not the decorator) says which is the value."""
    return {"value": config["x"], "double": 2 * config["x"]}
