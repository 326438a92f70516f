"""The development suite's split: by family, every shape in both halves, no held-out task."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpo.benchmarks import available_problems, get_problem
from hpo.benchmarks.lcbench import LCBENCH_DEV_TASKS
from hpo.benchmarks.suite import (
    HALVES,
    LCBENCH_CHECKING,
    LCBENCH_TUNING,
    SUITE,
    suite_problems,
)


def test_every_problem_is_registered_once() -> None:
    names = [p.name for p in SUITE]
    assert len(names) == len(set(names))
    assert set(names) <= set(available_problems())


def test_a_family_lies_in_one_half_and_every_shape_in_both() -> None:
    halves_of: dict[str, set[str]] = {}
    for p in SUITE:
        if p.family != "lcbench":
            halves_of.setdefault(p.family, set()).add(p.half)
    assert all(len(h) == 1 for h in halves_of.values()), halves_of
    for shape in {p.shape for p in SUITE}:
        assert {p.half for p in SUITE if p.shape == shape} == set(HALVES), shape


def test_lcbench_dev_tasks_split_four_and_four_and_nothing_held_out_runs() -> None:
    assert sorted(LCBENCH_TUNING + LCBENCH_CHECKING) == sorted(LCBENCH_DEV_TASKS)
    assert not set(LCBENCH_TUNING) & set(LCBENCH_CHECKING)
    for half, tasks in (("tuning", LCBENCH_TUNING), ("checking", LCBENCH_CHECKING)):
        lcbench = [p.name for p in suite_problems(half) if p.family == "lcbench"]
        assert sorted(lcbench) == sorted(f"lcbench-{t}" for t in tasks)


def test_halves_are_balanced_and_unknown_half_refused() -> None:
    tuning, checking = suite_problems("tuning"), suite_problems("checking")
    assert len(tuning) + len(checking) == len(SUITE)
    assert abs(len(tuning) - len(checking)) <= 2
    with pytest.raises(ValueError, match="half must be one of"):
        suite_problems("dev")


@pytest.mark.parametrize(
    "name",
    [p.name for p in SUITE if not p.name.startswith(("lcbench", "svm", "gbm", "mlp", "cash"))],
)
def test_synthetic_problems_have_an_optimum_below_every_sampled_value(name: str) -> None:
    problem = get_problem(name)
    assert problem.optimum is not None and problem.reference is not None
    assert problem.reference > problem.optimum
    rng = np.random.default_rng(1)
    function = problem.noise_free or problem.function
    for _ in range(100):
        value = function(problem.space.sample(rng))
        assert math.isfinite(value) and value >= problem.optimum - 1e-9
