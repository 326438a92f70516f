"""AutoGluon adapter: real (short) AutoGluon fits on scikit-learn's bundled datasets."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

import hpo
import hpo.storage
from hpo.adapters.autogluon import (
    DEFAULT_SPACES,
    autogluon_objective,
    default_space,
    flatten_hyperparameters,
    known_model_families,
    record_autogluon,
)

pytest.importorskip("autogluon.tabular")

TIME_LIMIT = 15


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame


@pytest.mark.parametrize(("model", "fitted_name"), [("GBM", "LightGBM"), ("RF", "RandomForest")])
def test_objective_tunes_one_model_family_for_real(
    cancer: pd.DataFrame, tmp_path: Path, model: str, fitted_name: str
) -> None:
    workdir = tmp_path / "ag"
    objective = autogluon_objective(
        cancer, "target", model=model, time_limit=TIME_LIMIT, holdout_frac=0.25, path=workdir
    )
    assert objective.direction == "maximize" and objective.space == default_space(model)
    study = hpo.create_study(objective, searcher="random", seed=0)
    study.optimize(n_trials=3, progress=False)
    trials = study.trials
    assert len(trials) == 3
    assert all(t.state is hpo.TrialState.COMPLETE for t in trials), [t.error for t in trials]
    for t in trials:
        assert t.value is not None and 0.85 < t.value <= 1.0  # validation accuracy
        assert (t.metrics["fit_time"] or 0) > 0 and (t.metrics["pred_time_val"] or 0) >= 0
        assert t.user_attrs == {"autogluon_model": fitted_name, "eval_metric": "accuracy"}
        assert study.space.contains(t.params)
    assert len({tuple(t.params.items()) for t in trials}) == 3
    assert list(workdir.iterdir()) == []  # every trial's directory was removed


def test_error_metrics_are_negated_so_the_study_still_maximizes() -> None:
    diabetes = load_diabetes(as_frame=True).frame
    objective = autogluon_objective(
        diabetes,
        "target",
        model="GBM",
        eval_metric="root_mean_squared_error",
        time_limit=TIME_LIMIT,
        holdout_frac=0.25,
        fixed={"num_boost_round": 50},
    )
    study = hpo.create_study(objective, seed=1)
    study.optimize(n_trials=1, progress=False)
    (trial,) = study.trials
    assert trial.state is hpo.TrialState.COMPLETE, trial.error
    assert trial.value is not None and -100.0 < trial.value < -30.0  # minus the RMSE
    assert trial.user_attrs["eval_metric"] == "root_mean_squared_error"


def test_record_autogluon_stores_one_trial_per_leaderboard_model(
    cancer: pd.DataFrame, tmp_path: Path
) -> None:
    from autogluon.tabular import TabularPredictor

    url = f"sqlite:///{tmp_path / 'hpo.db'}"
    study = hpo.create_study(direction="maximize", storage=url, name="autogluon")
    predictor_dir = tmp_path / "predictor"
    recorded = record_autogluon(
        study,
        cancer,
        "target",
        time_limit=20,
        holdout_frac=0.25,
        hyperparameters={"GBM": {}, "RF": {"n_estimators": 50}},
        path=predictor_dir,
    )
    board = TabularPredictor.load(str(predictor_dir)).leaderboard(silent=True)
    stored = hpo.load_study("autogluon", url).trials
    assert len(recorded) == len(stored) == len(board) >= 3
    scores = dict(zip(board["model"], board["score_val"], strict=True))
    for t in stored:
        name = t.user_attrs["autogluon_model"]
        assert t.state is hpo.TrialState.COMPLETE
        assert t.params["model"] == name and t.user_attrs["source"] == "autogluon"
        assert t.value == pytest.approx(scores[name])
        assert (t.metrics["fit_time"] or 0) >= 0 and (t.metrics["stack_level"] or 0) >= 1
    rf = next(t for t in stored if t.params["model"] == "RandomForest")
    assert rf.params["model_type"] == "RFModel" and rf.params["n_estimators"] == 50
    assert {"LightGBM", "RandomForest"} <= set(scores)
    assert any(name.startswith("WeightedEnsemble") for name in scores)


def test_record_needs_a_maximizing_define_by_run_study(cancer: pd.DataFrame) -> None:
    with_space = hpo.create_study(space={"x": hpo.Float(0, 1)}, direction="maximize")
    with pytest.raises(ValueError, match="without a space"):
        record_autogluon(with_space, cancer, "target", time_limit=10)
    minimizing = hpo.create_study(direction="minimize")
    with pytest.raises(ValueError, match="higher-is-better"):
        record_autogluon(minimizing, cancer, "target", time_limit=10)


@pytest.mark.parametrize("model", sorted(DEFAULT_SPACES))
def test_default_spaces_are_valid_spaces_of_known_families(model: str) -> None:
    space = default_space(model)
    assert isinstance(space, hpo.Space) and len(space) >= 2
    assert hpo.Space.from_json(space.to_json()) == space
    assert model in known_model_families()
    import numpy as np

    assert space.contains(space.sample(np.random.default_rng(0)))


def test_lightgbm_and_nn_spaces_cover_the_usual_knobs() -> None:
    assert {"learning_rate", "num_leaves", "feature_fraction", "min_data_in_leaf"} <= set(
        default_space("GBM")
    )
    learning_rate = default_space("GBM")["learning_rate"]
    assert isinstance(learning_rate, hpo.Float) and learning_rate.log
    assert {"learning_rate", "dropout_prob", "num_layers", "hidden_size", "weight_decay"} <= set(
        default_space("NN_TORCH")
    )
    assert {"n_estimators", "max_features", "min_samples_leaf"} <= set(default_space("XT"))


def test_unknown_model_family_is_a_clear_error(cancer: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"unknown AutoGluon model family 'GMB'.*GBM"):
        autogluon_objective(cancer, "target", model="GMB")
    with pytest.raises(ValueError, match=r"no default search space.*space="):
        autogluon_objective(cancer, "target", model="FASTAI")
    custom = autogluon_objective(
        cancer, "target", model="FASTAI", space={"lr": hpo.Float(1e-3, 1e-1, log=True)}
    )
    assert list(custom.space or {}) == ["lr"]


def test_bad_data_is_refused(cancer: pd.DataFrame) -> None:
    with pytest.raises(TypeError, match="DataFrame"):
        autogluon_objective(cancer.to_numpy(), "target")
    with pytest.raises(ValueError, match="label 'y' is not a column"):
        autogluon_objective(cancer, "y")
    with pytest.raises(ValueError, match="not both"):
        autogluon_objective(cancer, "target", holdout_frac=0.2, tuning_data=cancer)


def test_objective_pickles_for_process_workers(cancer: pd.DataFrame) -> None:
    objective = autogluon_objective(cancer, "target", model="RF", time_limit=5)
    clone = pickle.loads(pickle.dumps(objective))
    assert clone.space == objective.space and clone.metric == "score_val"
    assert "model='RF'" in repr(clone.func)


def test_flatten_hyperparameters_makes_json_safe_params() -> None:
    flat = flatten_hyperparameters(
        {"lr": 0.1, "ag": {"max_rows": 5, "fn": len}, "nan": float("nan"), "ok": [1, "a"]}
    )
    assert flat == {
        "lr": 0.1,
        "ag.max_rows": 5,
        "ag.fn": "<built-in function len>",
        "nan": "nan",
        "ok": [1, "a"],
    }


def test_the_autogluon_example_tunes_and_records_into_one_storage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'example.db'}"
    script = Path(__file__).resolve().parents[2] / "examples" / "adapter_autogluon.py"
    args = ["--n-trials", "2", "--time-limit", "10", "--automl-time-limit", "20"]
    result = subprocess.run(
        [sys.executable, str(script), *args, "--automl-models", "GBM,RF", "--storage", url],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    tuned = float(re.search(r"^Best LightGBM validation accuracy: (.+)$", result.stdout, re.M)[1])  # type: ignore[index]
    automl = float(re.search(r"^Best AutoGluon validation accuracy: (.+)$", result.stdout, re.M)[1])  # type: ignore[index]
    assert 0.85 < tuned <= 1.0 and 0.85 < automl <= 1.0
    storage = hpo.storage.get_storage(url)
    try:
        studies = {r.name.rsplit("-", 1)[0]: r for r in storage.list_studies()}
        assert set(studies) == {"autogluon-lightgbm", "autogluon-automl"}
        lightgbm = hpo.load_study(studies["autogluon-lightgbm"].name, storage)
        recorded = hpo.load_study(studies["autogluon-automl"].name, storage)
        assert len(lightgbm.trials) == 2 and round(lightgbm.best_value, 4) == tuned
        assert len(recorded.trials) >= 3 and round(recorded.best_value, 4) == automl
    finally:
        storage.close()
