"""scikit-learn benchmark tasks: registry, spaces, determinism, sensible values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from hpo.benchmarks import available_problems, get_problem
from hpo.benchmarks.sklearn_tasks import BEST_KNOWN, SKLEARN_TASKS
from hpo.space import Space

GOOD: dict[str, dict[str, Any]] = {
    "svm_wine": {"C": 10.0, "kernel": "rbf", "gamma": 0.01},
    "gbm_breast_cancer": {
        "learning_rate": 0.1,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 20,
        "l2_regularization": 1e-3,
    },
    "mlp_digits": {"width": 64, "depth": 1, "alpha": 1e-4, "learning_rate_init": 1e-2},
    "cash_breast_cancer": {
        "scaler": "standard",
        "classifier": "svm",
        "svm_C": 10.0,
        "svm_gamma": 0.01,
    },
}


@pytest.mark.parametrize("name", sorted(SKLEARN_TASKS))
def test_task_is_registered_with_a_valid_space(name: str) -> None:
    assert name in available_problems()
    problem = get_problem(name)
    assert problem.name == name
    assert problem.direction == "maximize"
    assert problem.tags == ("sklearn",)
    assert isinstance(problem.space, Space) and problem.space.n_dims > 0
    assert Space.from_json(problem.space.to_json()) == problem.space
    assert problem.space.contains(GOOD[name])
    sample = problem.space.sample(np.random.default_rng(0))
    assert problem.space.contains(sample)
    # reference: majority-class accuracy; optimum: best known, above it
    assert problem.reference is not None and 0 < problem.reference < 0.7
    assert problem.optimum == BEST_KNOWN[name]
    assert problem.reference < problem.optimum <= 1


@pytest.mark.parametrize("name", sorted(SKLEARN_TASKS))
def test_evaluation_is_deterministic_and_beats_the_reference(name: str) -> None:
    config = GOOD[name]
    first = get_problem(name)(config)
    again = get_problem(name)(dict(config))
    assert first == again
    assert 0 < first <= 1
    problem = get_problem(name)
    assert problem.reference is not None and first > problem.reference + 0.2
    assert 0 <= problem.normalized_regret(first) < 0.2


def test_conditional_gamma_is_optional_for_the_linear_kernel() -> None:
    problem = get_problem("svm_wine")
    config = {"C": 1.0, "kernel": "linear"}
    assert problem.space.contains(config)
    assert 0.8 < problem(config) <= 1


def test_another_seed_changes_the_folds_and_drops_the_optimum() -> None:
    problem = SKLEARN_TASKS["svm_wine"](seed=1)
    assert problem.optimum is None
    assert problem.reference is not None and 0 < problem.reference < 0.5
    assert 0 < problem(GOOD["svm_wine"]) <= 1


def test_cash_task_chooses_a_classifier_with_its_own_parameters() -> None:
    problem = get_problem("cash_breast_cancer")
    knn = {"scaler": "minmax", "classifier": "knn", "knn_neighbors": 7}
    knn |= {"knn_weights": "distance", "knn_p": 2}
    logreg = {"scaler": "none", "classifier": "logreg", "logreg_C": 1.0}
    for config in (knn, logreg):
        assert problem.space.contains(config)
        assert problem.reference is not None and problem(config) > problem.reference + 0.2
    assert problem.space.violations({**logreg, "svm_C": 1.0})  # inactive parameter set
