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


def test_new_shapes_reach_their_minima() -> None:
    from hpo.benchmarks import synthetic as s

    assert s.rastrigin(np.zeros(6)) == pytest.approx(0.0, abs=1e-12)
    assert s.levy(np.ones(6)) == pytest.approx(0.0, abs=1e-12)
    x = np.full(8, s.STYBLINSKI_TANG_ARGMIN)
    assert s.styblinski_tang(x) == pytest.approx(8 * s.STYBLINSKI_TANG_MINIMUM_PER_DIM)
    assert s.six_hump_camel(0.0898, -0.7126) == pytest.approx(s.SIX_HUMP_CAMEL_MINIMUM, abs=1e-6)
    assert s.shekel(np.array([4.00075, 3.99951, 4.00075, 3.99951])) == pytest.approx(
        s.SHEKEL_MINIMUM, abs=1e-6
    )
    _, centre = s._rotation(8, 7)
    assert s.ellipsoid(centre) == 0.0 and s.ellipsoid(centre + 0.1) > 0.0
    embedded = np.full(20, 0.9)
    embedded[list(s.HARTMANN6IN20_DIMS)] = s.HARTMANN6_ARGMIN
    problem = get_problem("hartmann6in20")
    config = {f"x{i}": float(v) for i, v in enumerate(embedded)}
    assert problem(config) == pytest.approx(s.HARTMANN6_MINIMUM, abs=1e-4)


def test_noisy_problems_replay_their_noise_and_keep_the_clean_function() -> None:
    problem = get_problem("hartmann6_noisy")
    clean = get_problem("hartmann6")
    assert problem.noise_free is not None and "noisy" in problem.tags
    rng = np.random.default_rng(3)
    configs = [problem.space.sample(rng) for _ in range(50)]
    noise = np.array([problem(c) - clean(c) for c in configs])
    assert all(problem(c) == problem(c) for c in configs[:5])  # same configuration, same draw
    assert all(problem.noise_free(c) == clean(c) for c in configs)
    assert problem.reference is not None and problem.optimum is not None
    sd = 0.03 * (problem.reference - problem.optimum)
    assert 0.5 * sd < float(np.std(noise)) < 1.5 * sd


def test_conditional_problem_branches_and_optimum() -> None:
    problem = get_problem("conditional")
    best = {
        "model": "net",
        "lr": 1e-3,
        "layers": 2,
        "width": 128,
        "dropout": 0.2,
        "batch": 64,
        "momentum": 0.9,
    }
    assert problem.space.contains(best)
    assert problem(best) == pytest.approx(0.0, abs=1e-12)
    tree = {"model": "tree", "depth": 7, "leaf": 0.2, "batch": 64, "momentum": 0.9}
    assert problem(tree) == pytest.approx(0.12)
    linear = {"model": "linear", "lr": 10**-1.5, "reg": 1e-3, "batch": 64, "momentum": 0.9}
    assert problem(linear) == pytest.approx(0.35)
