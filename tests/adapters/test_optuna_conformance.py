"""Every ``optuna:*`` searcher passes the searcher conformance suite."""

from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("optuna")

from hpo.testing.searcher_conformance import (
    SearcherConformance,
    SearcherSpec,
)

_HAS_CMAES = importlib.util.find_spec("cmaes") is not None

SPECS = [
    SearcherSpec("optuna:tpe"),
    SearcherSpec("optuna:tpe", {"n_startup_trials": 3}),
    # GP asks on the 9-dimensional mixed space take seconds each: the suite keeps most of its
    # trials in the start-up phase; test_gp_model_resumes_exactly checks the model itself
    SearcherSpec("optuna:gp", {"n_startup_trials": 15}),
    pytest.param(
        SearcherSpec("optuna:cmaes", capabilities={"resumable": False}),
        marks=pytest.mark.skipif(not _HAS_CMAES, reason="the 'cmaes' package is not installed"),
    ),
    SearcherSpec("optuna:qmc"),
    SearcherSpec("optuna:random"),
]


@pytest.fixture(params=SPECS, ids=str)
def searcher_spec(request: pytest.FixtureRequest) -> SearcherSpec:
    return request.param  # type: ignore[no-any-return]


class TestOptunaConformance(SearcherConformance):
    """The whole suite, once per Optuna sampler."""
