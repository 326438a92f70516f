"""Synthetic benchmark problems: values at known optima, regret, registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hpo
from hpo.benchmarks import available_problems, get_problem
from hpo.benchmarks.synthetic import (
    BRANIN_ARGMINS,
    BRANIN_MINIMUM,
    HARTMANN6_ARGMIN,
    HARTMANN6_MINIMUM,
    ackley,
    branin,
    hartmann6,
    rosenbrock,
)

SYNTHETIC = ["branin", "hartmann6", "mixed"] + [
    f"{name}{d}" for name in ("rosenbrock", "ackley") for d in (2, 5, 10)
]


def test_known_minima_are_reached_at_their_arguments() -> None:
    for x1, x2 in BRANIN_ARGMINS:
        assert branin(x1, x2) == pytest.approx(BRANIN_MINIMUM, abs=1e-5)
    assert hartmann6(np.array(HARTMANN6_ARGMIN)) == pytest.approx(HARTMANN6_MINIMUM, abs=1e-4)
    assert rosenbrock(np.ones(5)) == 0.0 and rosenbrock(np.zeros(5)) == 4.0
    assert ackley(np.zeros(3)) == pytest.approx(0.0, abs=1e-12)
    assert ackley(np.ones(3)) > 3.0


@pytest.mark.parametrize("name", SYNTHETIC)
def test_every_problem_is_registered_and_never_beats_its_optimum(name: str) -> None:
    assert name in available_problems()
    problem = get_problem(name)
    assert problem.direction == "minimize" and "synthetic" in problem.tags
    assert problem.optimum is not None and problem.reference is not None
    assert problem.reference > problem.optimum
    rng = np.random.default_rng(0)
    for _ in range(200):
        config = problem.space.sample(rng)
        value = problem(config)
        assert math.isfinite(value) and value >= problem.optimum - 1e-6
        assert problem.normalized_regret(value) >= 0.0


def test_mixed_problem_optimum_and_conditional_parameter() -> None:
    problem = get_problem("mixed")
    best = {"x": 0.3, "lr": 0.01, "n": 7, "kind": "b", "scale": 0.5}
    assert problem.space.contains(best)
    assert problem(best) == pytest.approx(0.0, abs=1e-12)
    assert problem({"x": 0.3, "lr": 0.01, "n": 7, "kind": "a"}) == pytest.approx(0.5)


def test_regret_and_normalized_regret() -> None:
    problem = get_problem("branin")
    assert problem.regret(BRANIN_MINIMUM) == 0.0
    assert problem.regret(BRANIN_MINIMUM + 1.0) == pytest.approx(1.0)
    assert problem.reference is not None
    assert problem.normalized_regret(problem.reference) == pytest.approx(1.0)
    assert problem.regret(BRANIN_MINIMUM - 1.0) == 0.0  # never negative


def test_problem_objective_runs_in_a_study() -> None:
    problem = get_problem("hartmann6")
    study = hpo.create_study(problem.objective, searcher="random", seed=0)
    study.optimize(n_trials=20, progress=False)
    assert len(study.trials) == 20
    assert study.best_value >= HARTMANN6_MINIMUM
    assert problem.normalized_regret(study.best_value) >= 0.0


def test_unknown_problem_lists_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown problem 'brannin'.*branin"):
        get_problem("brannin")
