"""HPOSearchCV: a drop-in for GridSearchCV / RandomizedSearchCV driven by hpo searchers."""

from __future__ import annotations

import ast
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

import hpo
from hpo.adapters.sklearn import DEFAULT_SEARCHER, HPOSearchCV
from hpo.exceptions import UnknownSearcherError

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)  # fast, well-conditioned fits
LOG_C = {"C": hpo.Float(1e-3, 1e2, log=True)}


def logistic() -> LogisticRegression:
    return LogisticRegression(max_iter=2000)


@parametrize_with_checks(
    [
        HPOSearchCV(logistic(), {"C": hpo.Float(0.1, 10.0, log=True)}, n_trials=2, cv=3, seed=0),
        HPOSearchCV(Ridge(), {"alpha": hpo.Float(0.1, 10.0, log=True)}, n_trials=2, cv=3, seed=0),
    ]
)
def test_scikit_learn_estimator_checks(estimator: HPOSearchCV, check: Any) -> None:
    # every check applies (array-API checks skip themselves where no array library is set up)
    check(estimator)


def test_grid_searcher_matches_grid_search_cv_on_the_same_grid() -> None:
    grid: dict[str, list[Any]] = {"C": [0.01, 0.1, 1.0, 10.0], "fit_intercept": [True, False]}
    ours = HPOSearchCV(
        logistic(),
        {"C": hpo.Categorical(grid["C"]), "fit_intercept": hpo.Categorical(grid["fit_intercept"])},
        searcher="grid",
        n_trials=100,  # more than the grid: the search ends with the grid
    ).fit(X_IRIS, Y_IRIS)
    theirs = GridSearchCV(logistic(), grid).fit(X_IRIS, Y_IRIS)
    assert len(ours.cv_results_["params"]) == len(ours.study_.trials) == 8
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_)

    def by_params(results: dict) -> dict:
        return {
            tuple(sorted(p.items())): s
            for p, s in zip(results["params"], results["mean_test_score"], strict=True)
        }

    mine, reference = by_params(ours.cv_results_), by_params(theirs.cv_results_)
    assert mine.keys() == reference.keys()
    for key, score in reference.items():
        assert mine[key] == pytest.approx(score)


def test_cv_results_keys_shapes_and_what_the_study_was_told() -> None:
    search = HPOSearchCV(logistic(), LOG_C, n_trials=6, cv=3, return_train_score=True, seed=1)
    search.fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    expected = {
        "mean_fit_time",
        "std_fit_time",
        "mean_score_time",
        "std_score_time",
        "param_C",
        "params",
        "split0_test_score",
        "split1_test_score",
        "split2_test_score",
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        "split0_train_score",
        "split1_train_score",
        "split2_train_score",
        "mean_train_score",
        "std_train_score",
    }
    assert set(results) == expected
    assert all(len(results[k]) == 6 for k in expected)
    assert search.n_splits_ == 3
    trials = search.study_.trials
    assert [t.state for t in trials] == [hpo.TrialState.COMPLETE] * 6
    assert [t.user_attrs["candidate_index"] for t in trials] == list(range(6))
    assert [t.params for t in trials] == results["params"]
    np.testing.assert_allclose([t.value for t in trials], results["mean_test_score"])
    np.testing.assert_allclose(
        [t.metrics["mean_train_score"] for t in trials], results["mean_train_score"]
    )
    assert search.best_index_ == int(np.argmax(results["mean_test_score"]))
    assert search.best_score_ == pytest.approx(search.study_.best_value)
    assert search.best_params_ == results["params"][search.best_index_]


@pytest.mark.parametrize(("n_trials", "n_jobs"), [(7, None), (5, 2)])
def test_exactly_n_trials_candidates(n_trials: int, n_jobs: int | None) -> None:
    search = HPOSearchCV(logistic(), LOG_C, n_trials=n_trials, n_jobs=n_jobs, cv=3, seed=0)
    search.fit(X_IRIS, Y_IRIS)
    assert len(search.cv_results_["params"]) == n_trials
    assert len(search.study_.trials) == n_trials
    assert len({p["C"] for p in search.cv_results_["params"]}) == n_trials


def test_refit_gives_a_best_estimator_with_the_best_params() -> None:
    search = HPOSearchCV(logistic(), LOG_C, n_trials=4, seed=0).fit(X_IRIS, Y_IRIS)
    assert search.best_params_["C"] == search.best_estimator_.C
    np.testing.assert_array_equal(search.predict(X_IRIS), search.best_estimator_.predict(X_IRIS))
    assert search.score(X_IRIS, Y_IRIS) > 0.9
    no_refit = HPOSearchCV(logistic(), LOG_C, n_trials=3, refit=False, seed=0).fit(X_IRIS, Y_IRIS)
    assert not hasattr(no_refit, "best_estimator_")
    assert no_refit.best_params_ == no_refit.study_.best_params


def test_pipeline_with_nested_and_conditional_params() -> None:
    X, y = load_wine(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("svc", SVC())])
    space = {
        "svc__kernel": hpo.Categorical(["linear", "rbf"]),
        "svc__C": hpo.Float(1e-2, 1e2, log=True),
        "svc__gamma": hpo.Float(1e-4, 1.0, log=True, when={"svc__kernel": "rbf"}),
    }
    search = HPOSearchCV(pipe, space, n_trials=8, cv=3, seed=3).fit(X, y)
    for params in search.cv_results_["params"]:
        assert ("svc__gamma" in params) == (params["svc__kernel"] == "rbf")
    svc = search.best_estimator_.named_steps["svc"]
    assert search.best_params_["svc__C"] == svc.C
    assert svc.kernel == search.best_params_["svc__kernel"]
    assert search.best_score_ > 0.9


def test_multimetric_tells_the_refit_metric() -> None:
    search = HPOSearchCV(
        logistic(), LOG_C, n_trials=4, scoring=["accuracy", "f1_macro"], refit="f1_macro", seed=0
    ).fit(X_IRIS, Y_IRIS)
    trials = search.study_.trials
    np.testing.assert_allclose([t.value for t in trials], search.cv_results_["mean_test_f1_macro"])
    np.testing.assert_allclose(
        [t.metrics["mean_test_accuracy"] for t in trials], search.cv_results_["mean_test_accuracy"]
    )


def ridge_solver_search(solvers: list[str], error_score: object) -> HPOSearchCV:
    # Ridge's 'lbfgs' solver needs positive=True: that candidate fails on every fold
    return HPOSearchCV(
        Ridge(),
        {"solver": hpo.Categorical(solvers)},
        searcher="grid",
        n_trials=len(solvers),
        cv=3,
        error_score=error_score,
    )


def by_solver(search: HPOSearchCV) -> dict[str, hpo.FrozenTrial]:
    return {t.params["solver"]: t for t in search.study_.trials}


def test_error_score_nan_fails_that_trial_gives_a_nan_row_and_the_search_goes_on() -> None:
    X, y = load_diabetes(return_X_y=True)
    with pytest.warns(FitFailedWarning):
        search = ridge_solver_search(["lbfgs", "auto", "svd"], np.nan).fit(X, y)
    trials = by_solver(search)
    assert trials["lbfgs"].state is hpo.TrialState.FAILED
    assert trials["auto"].state is trials["svd"].state is hpo.TrialState.COMPLETE
    assert "error_score" in (trials["lbfgs"].error or "")
    results = search.cv_results_
    assert sorted(p["solver"] for p in results["params"]) == ["auto", "lbfgs", "svd"]
    for solver, trial in trials.items():
        row = trial.user_attrs["candidate_index"]
        assert results["params"][row] == {"solver": solver}
        assert np.isnan(results["mean_test_score"][row]) == (solver == "lbfgs")
    assert search.best_params_["solver"] in ("auto", "svd")


def test_a_failing_last_candidate_is_failed_without_a_row() -> None:
    X, y = load_diabetes(return_X_y=True)
    search = ridge_solver_search(["auto", "lbfgs"], np.nan).fit(X, y)
    trials = by_solver(search)
    assert trials["lbfgs"].state is hpo.TrialState.FAILED
    assert "fits failed" in (trials["lbfgs"].error or "")
    assert search.cv_results_["params"] == [{"solver": "auto"}]


def test_all_candidates_failing_raises_scikit_learns_error() -> None:
    X, y = load_diabetes(return_X_y=True)
    search = HPOSearchCV(
        Ridge(), {"solver": hpo.Categorical(["lbfgs"])}, searcher="grid", n_trials=1, cv=3
    )
    with pytest.raises(ValueError, match="fits failed"):
        search.fit(X, y)
    assert [t.state for t in search.study_.trials] == [hpo.TrialState.FAILED]


def test_numeric_error_score_is_the_failed_candidates_value() -> None:
    X, y = load_diabetes(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        search = ridge_solver_search(["lbfgs", "auto"], -1.0).fit(X, y)
    trials = by_solver(search)
    assert trials["lbfgs"].value == -1.0
    assert all(t.state is hpo.TrialState.COMPLETE for t in trials.values())
    assert len(search.cv_results_["params"]) == 2


def test_error_score_raise_raises_and_leaves_no_running_trial() -> None:
    X, y = load_diabetes(return_X_y=True)
    search = ridge_solver_search(["lbfgs"], "raise")
    with pytest.raises(ValueError, match="lbfgs"):
        search.fit(X, y)
    assert [t.state for t in search.study_.trials] == [hpo.TrialState.FAILED]


def test_study_is_persisted_in_sqlite_and_survives_pickling(sqlite_url: str) -> None:
    search = HPOSearchCV(logistic(), LOG_C, n_trials=3, storage=sqlite_url, study_name="lr", seed=0)
    search.fit(X_IRIS, Y_IRIS)
    loaded = hpo.load_study("lr", sqlite_url)
    assert len(loaded.trials) == 3
    assert loaded.direction == "maximize" and loaded.searcher_name == DEFAULT_SEARCHER
    np.testing.assert_allclose(
        [t.value or np.nan for t in loaded.trials], search.cv_results_["mean_test_score"]
    )
    assert loaded.best_params == search.best_params_
    restored = pickle.loads(pickle.dumps(search))
    assert restored.study_.name == "lr" and len(restored.study_.trials) == 3
    np.testing.assert_array_equal(restored.predict(X_IRIS), search.predict(X_IRIS))
    search.fit(X_IRIS, Y_IRIS)  # refitting used to raise DuplicateStudyError
    assert search.study_.name == "lr-2" and len(search.study_.trials) == 3
    assert len(hpo.load_study("lr", sqlite_url).trials) == 3  # the first fit's, untouched


def test_nested_cross_validation_with_a_stored_study(sqlite_url: str) -> None:
    from sklearn.model_selection import cross_val_score

    search = HPOSearchCV(logistic(), LOG_C, n_trials=2, storage=sqlite_url, study_name="cv")
    scores = cross_val_score(search, X_IRIS, Y_IRIS, cv=3)  # one fit per outer fold
    assert len(scores) == 3
    names = sorted(r.name for r in hpo.storage.get_storage(sqlite_url).list_studies())
    assert names == ["cv", "cv-2", "cv-3"]


def test_in_memory_study_is_not_pickled() -> None:
    search = HPOSearchCV(logistic(), LOG_C, n_trials=2, seed=0).fit(X_IRIS, Y_IRIS)
    restored = pickle.loads(pickle.dumps(search))
    with pytest.raises(AttributeError, match="storage="):
        _ = restored.study_
    assert restored.best_params_ == search.best_params_


def test_default_and_named_searchers() -> None:
    assert DEFAULT_SEARCHER == "tpe"
    search = HPOSearchCV(logistic(), LOG_C, n_trials=2, seed=0).fit(X_IRIS, Y_IRIS)
    assert search.study_.searcher_name == DEFAULT_SEARCHER
    sobol = HPOSearchCV(
        logistic(), LOG_C, searcher="random", searcher_kwargs={"sobol": True}, n_trials=2, seed=0
    ).fit(X_IRIS, Y_IRIS)
    assert sobol.study_.searcher_kwargs == {"sobol": True}
    with pytest.raises(UnknownSearcherError, match="grdi"):
        HPOSearchCV(logistic(), LOG_C, searcher="grdi").fit(X_IRIS, Y_IRIS)


def test_seeded_searches_repeat_and_init_only_stores() -> None:
    space = dict(LOG_C)
    search = HPOSearchCV(logistic(), space, n_trials=3, seed=5)
    assert search.space is space and not hasattr(search, "study_")
    first = search.fit(X_IRIS, Y_IRIS).cv_results_["params"]
    second = HPOSearchCV(logistic(), space, n_trials=3, seed=5).fit(X_IRIS, Y_IRIS)
    assert second.cv_results_["params"] == first


@pytest.mark.parametrize(
    ("space", "error", "match"),
    [
        ({"not_a_param": hpo.Float(0.1, 1.0)}, ValueError, "does not have"),
        ({}, ValueError, "empty"),
        ({"C": [0.1, 1.0]}, hpo.SpaceError, "hpo.Float"),
    ],
)
def test_bad_spaces_are_refused_clearly(space: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        HPOSearchCV(logistic(), space, n_trials=2).fit(X_IRIS, Y_IRIS)


def test_the_sklearn_example_runs_and_stores_its_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'example.db'}"
    script = Path(__file__).resolve().parents[2] / "examples" / "adapter_sklearn.py"
    result = subprocess.run(
        [sys.executable, str(script), "--n-trials", "4", "--storage", url],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    accuracy = float(re.search(r"^Best 3-fold CV accuracy: (.+)$", result.stdout, re.M)[1])  # type: ignore[index]
    config = ast.literal_eval(re.search(r"^Best configuration: (.+)$", result.stdout, re.M)[1])  # type: ignore[index]
    assert 0.9 < accuracy <= 1.0
    storage = hpo.storage.get_storage(url)
    try:
        (record,) = storage.list_studies()
        study = hpo.load_study(record.name, storage)
        assert len(study.trials) == 4 and study.best_params == config
        assert round(study.best_value, 4) == accuracy
    finally:
        storage.close()
