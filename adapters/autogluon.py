"""AutoGluon adapter: tune one AutoGluon tabular model family with hpo's searchers, and
record a full AutoGluon run as trials, so both can be compared on the same data.

Two entry points:

* :func:`autogluon_objective` builds an :class:`hpo.Objective` that fits ONE model family
  (``"GBM"`` = LightGBM, ``"RF"``, ``"XT"``, ``"NN_TORCH"``, ...) per trial with
  ``TabularPredictor(...).fit(train_data, hyperparameters={model: config})`` in a
  temporary directory (removed after the trial) and returns AutoGluon's validation score.
* :func:`record_autogluon` runs one ordinary ``TabularPredictor.fit`` (presets, time
  limit) and stores every model of its leaderboard as a COMPLETE trial of a study.

Scores are AutoGluon's ``score_val``, which is always higher-is-better (error metrics such
as RMSE are negated, e.g. ``-3.2``), so studies over them maximize. With the same
``holdout_frac`` (or the same ``tuning_data``) both entry points score on the same
validation rows; a bagged run (``presets="best_quality"``) reports out-of-fold scores
instead, which are comparable in scale but not row for row.

Example::

    import hpo
    from hpo.adapters.autogluon import autogluon_objective, record_autogluon

    objective = autogluon_objective(df, "target", model="GBM", time_limit=20)
    study = hpo.create_study(objective, searcher="random", storage="sqlite:///hpo.db")
    study.optimize(n_trials=20)

    automl = hpo.create_study(direction="maximize", storage="sqlite:///hpo.db",
                              name="autogluon-medium")
    record_autogluon(automl, df, "target", time_limit=60, presets="medium_quality")

**How a leaderboard fits a study.** The models of one AutoGluon run are heterogeneous
(LightGBM, random forests, neural networks, a weighted ensemble ...), with hyperparameters
that share no space, so :func:`record_autogluon` records into a *define-by-run* study
(created without a space). Each trial's params are ``model`` (the leaderboard name, e.g.
``"LightGBM"``), ``model_type`` (AutoGluon's class, e.g. ``"LGBModel"``) and the model's
hyperparameters, flattened (nested dicts become ``outer.inner`` keys; values that are not
JSON become their ``repr``). The study's space stays empty: those params were not
proposed by a searcher. The trials' value is ``score_val``; their metrics hold the fit
and prediction times and the stack level.

AutoGluon is imported on first use only; ``pip install 'hpo[automl]'`` provides it.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hpo
from hpo.space import Param, Space, as_space
from hpo.trial import FrozenTrial, Trial, TrialState

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_SPACES",
    "AutoGluonTrial",
    "autogluon_objective",
    "default_space",
    "flatten_hyperparameters",
    "known_model_families",
    "record_autogluon",
]

#: The objective's metric: AutoGluon's validation score (higher is better).
SCORE = "score_val"

#: Search spaces per AutoGluon model family (``hyperparameters`` keys of ``fit``), over
#: the options that matter most; everything else keeps AutoGluon's default.
DEFAULT_SPACES: dict[str, dict[str, Param]] = {
    "GBM": {  # LightGBM
        "learning_rate": hpo.Float(5e-3, 0.3, log=True),
        "num_leaves": hpo.Int(8, 256, log=True),
        "feature_fraction": hpo.Float(0.4, 1.0),
        "min_data_in_leaf": hpo.Int(2, 64, log=True),
        "lambda_l2": hpo.Float(1e-3, 10.0, log=True),
    },
    "CAT": {  # CatBoost
        "learning_rate": hpo.Float(5e-3, 0.3, log=True),
        "depth": hpo.Int(4, 10),
        "l2_leaf_reg": hpo.Float(0.1, 10.0, log=True),
    },
    "XGB": {  # XGBoost
        "learning_rate": hpo.Float(5e-3, 0.3, log=True),
        "max_depth": hpo.Int(3, 10),
        "min_child_weight": hpo.Float(0.5, 10.0, log=True),
        "colsample_bytree": hpo.Float(0.4, 1.0),
    },
    "RF": {  # random forest
        "n_estimators": hpo.Int(50, 500, log=True),
        "max_features": hpo.Categorical(["sqrt", "log2", 0.5, 1.0]),
        "min_samples_leaf": hpo.Int(1, 20, log=True),
    },
    "XT": {  # extremely randomized trees
        "n_estimators": hpo.Int(50, 500, log=True),
        "max_features": hpo.Categorical(["sqrt", "log2", 0.5, 1.0]),
        "min_samples_leaf": hpo.Int(1, 20, log=True),
    },
    "KNN": {
        "n_neighbors": hpo.Int(1, 50, log=True),
        "weights": hpo.Categorical(["uniform", "distance"]),
    },
    "NN_TORCH": {  # AutoGluon's tabular MLP (PyTorch)
        "learning_rate": hpo.Float(1e-4, 3e-2, log=True),
        "dropout_prob": hpo.Float(0.0, 0.5),
        "num_layers": hpo.Int(1, 5),
        "hidden_size": hpo.Int(16, 512, log=True),
        "weight_decay": hpo.Float(1e-12, 1e-1, log=True),
    },
}


def known_model_families() -> list[str]:
    """Model family keys AutoGluon's tabular registry accepts (``"GBM"``, ``"RF"``, ...)."""
    from autogluon.tabular.registry import ag_model_registry

    return sorted(str(k) for k in ag_model_registry.keys)


def default_space(model: str) -> Space:
    """The default search space for AutoGluon model family ``model``.

    >>> sorted(default_space("RF"))
    ['max_features', 'min_samples_leaf', 'n_estimators']
    """
    if model not in DEFAULT_SPACES:
        raise ValueError(
            f"no default search space for AutoGluon model family {model!r}; families with "
            f"one: {', '.join(sorted(DEFAULT_SPACES))}. For another family pass space=..."
        )
    return Space(DEFAULT_SPACES[model])


def _check_family(model: str, has_space: bool) -> None:
    if not isinstance(model, str) or not model:
        raise ValueError(
            f"`model` must be an AutoGluon model family key such as 'GBM', got {model!r}"
        )
    known = known_model_families()
    if model not in known:
        raise ValueError(
            f"unknown AutoGluon model family {model!r}; expected one of {', '.join(known)} "
            "(e.g. 'GBM' for LightGBM, 'RF' for random forests, 'NN_TORCH' for the MLP)"
        )
    if not has_space:
        default_space(model)


def _check_data(train_data: Any, label: str) -> None:
    import pandas as pd

    if not isinstance(train_data, pd.DataFrame):
        raise TypeError(
            f"train_data must be a pandas DataFrame, got {type(train_data).__name__}; "
            "AutoGluon takes a table with the label as one of its columns"
        )
    if label not in train_data.columns:
        raise ValueError(
            f"label {label!r} is not a column of train_data (columns: {list(train_data.columns)})"
        )


def _predictor(
    label: str,
    path: str,
    eval_metric: str | None,
    problem_type: str | None,
    verbosity: int,
) -> Any:
    from autogluon.tabular import TabularPredictor

    return TabularPredictor(
        label,
        eval_metric=eval_metric,
        problem_type=problem_type,
        path=path,
        verbosity=verbosity,
    )


def _validation_kwargs(holdout_frac: float | None, tuning_data: Any) -> dict[str, Any]:
    if tuning_data is not None and holdout_frac is not None:
        raise ValueError("give either tuning_data or holdout_frac, not both")
    if tuning_data is not None:
        return {"tuning_data": tuning_data}
    return {} if holdout_frac is None else {"holdout_frac": holdout_frac}


class AutoGluonTrial:
    """One trial: fit one model family with ``config`` and return its validation score.

    A picklable callable (the process executor can ship it), used through
    :func:`autogluon_objective`.
    """

    def __init__(
        self,
        train_data: pd.DataFrame,
        label: str,
        *,
        model: str,
        fixed: Mapping[str, Any],
        eval_metric: str | None,
        problem_type: str | None,
        time_limit: float | None,
        holdout_frac: float | None,
        tuning_data: pd.DataFrame | None,
        path: str | None,
        verbosity: int,
        fit_kwargs: Mapping[str, Any],
    ) -> None:
        self.train_data = train_data
        self.label = label
        self.model = model
        self.fixed = dict(fixed)
        self.eval_metric = eval_metric
        self.problem_type = problem_type
        self.time_limit = time_limit
        self.validation = _validation_kwargs(holdout_frac, tuning_data)
        self.path = path
        self.verbosity = verbosity
        self.fit_kwargs = dict(fit_kwargs)

    def __repr__(self) -> str:
        return f"autogluon_objective(model={self.model!r}, label={self.label!r})"

    def __call__(self, config: dict[str, Any], trial: Trial) -> dict[str, float]:
        """Fit in a fresh temporary directory, removed afterwards, and score."""
        if self.path is not None:
            Path(self.path).mkdir(parents=True, exist_ok=True)
        workdir = tempfile.mkdtemp(prefix=f"hpo-ag-{self.model}-", dir=self.path)
        try:
            predictor = _predictor(
                self.label, workdir, self.eval_metric, self.problem_type, self.verbosity
            )
            options = {
                "fit_weighted_ensemble": False,
                "num_bag_folds": 0,
                "num_stack_levels": 0,
                **self.validation,
                **self.fit_kwargs,  # may override the defaults above, e.g. to bag
            }
            predictor.fit(
                self.train_data,
                hyperparameters={self.model: {**self.fixed, **config}},
                time_limit=self.time_limit,
                **options,
            )
            row = _best_row(predictor)
            trial.set_user_attr("autogluon_model", str(row["model"]))
            trial.set_user_attr("eval_metric", str(predictor.eval_metric.name))
            return {
                SCORE: float(row["score_val"]),
                "fit_time": float(row["fit_time"]),
                "pred_time_val": float(row["pred_time_val"]),
            }
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _best_row(predictor: Any) -> Any:
    board = predictor.leaderboard(silent=True)
    if board.empty:
        raise RuntimeError("AutoGluon trained no model (see its log with verbosity=2)")
    return board.sort_values("score_val", ascending=False).iloc[0]


def autogluon_objective(
    train_data: pd.DataFrame,
    label: str,
    *,
    model: str = "GBM",
    space: Space | Mapping[str, Param] | None = None,
    fixed: Mapping[str, Any] | None = None,
    eval_metric: str | None = None,
    problem_type: str | None = None,
    time_limit: float | None = 60.0,
    holdout_frac: float | None = None,
    tuning_data: pd.DataFrame | None = None,
    path: str | Path | None = None,
    verbosity: int = 0,
    fit_kwargs: Mapping[str, Any] | None = None,
) -> hpo.Objective:
    """An objective that tunes AutoGluon model family ``model`` on ``train_data``.

    Each trial runs ``TabularPredictor(label, eval_metric=...).fit(train_data,
    hyperparameters={model: {**fixed, **config}}, time_limit=...)`` (no bagging, stacking
    or ensemble, so the score is the one model's) in a temporary directory under ``path``
    (the system's temporary directory when ``None``), removed when the trial ends. The
    value is AutoGluon's validation score ``score_val`` (higher is better, hence
    ``direction="maximize"``); ``fit_time`` and ``pred_time_val`` are stored as metrics.
    Validation rows come from ``holdout_frac`` (AutoGluon's seeded split) or
    ``tuning_data``. ``space`` defaults to :func:`default_space` of ``model``;
    ``fixed`` holds hyperparameters every trial shares (e.g. ``{"num_boost_round": 200}``);
    ``fit_kwargs`` go to ``fit`` and may override the no-bagging defaults.

    >>> objective = autogluon_objective(df, "target", model="RF", time_limit=20)  # doctest: +SKIP
    >>> hpo.create_study(objective, searcher="random").optimize(n_trials=10)       # doctest: +SKIP
    """
    _check_data(train_data, label)
    space_ = as_space(space) if space is not None else None
    _check_family(model, space_ is not None)
    if space_ is None:
        space_ = default_space(model)
    if tuning_data is not None:
        _check_data(tuning_data, label)
    if time_limit is not None and not (isinstance(time_limit, int | float) and time_limit > 0):
        raise ValueError(
            f"time_limit must be a positive number of seconds or None, got {time_limit!r}"
        )
    runner = AutoGluonTrial(
        train_data,
        label,
        model=model,
        fixed=fixed or {},
        eval_metric=eval_metric,
        problem_type=problem_type,
        time_limit=time_limit,
        holdout_frac=holdout_frac,
        tuning_data=tuning_data,
        path=None if path is None else str(path),
        verbosity=verbosity,
        fit_kwargs=fit_kwargs or {},
    )
    return hpo.Objective(runner, space=space_, direction="maximize", metric=SCORE)


# --- recording a full AutoGluon run ------------------------------------------------------


def _json_safe(value: Any) -> Any:
    """``value`` if JSON can hold it (numpy scalars unwrapped), else its ``repr``."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


def flatten_hyperparameters(hyperparameters: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts become ``outer.inner`` keys; values are made JSON-safe.

    >>> flatten_hyperparameters({"lr": 0.1, "ag": {"max_rows": 5, "fn": len}})
    {'lr': 0.1, 'ag.max_rows': 5, 'ag.fn': '<built-in function len>'}
    """
    out: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_hyperparameters(value, prefix=f"{name}."))
        else:
            out[name] = _json_safe(value)
    return out


def _model_params(name: str, info: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"model": name, "model_type": str(info.get("model_type", ""))}
    for key, value in flatten_hyperparameters(info.get("hyperparameters") or {}).items():
        params[key if key not in params else f"hyperparameter.{key}"] = value
    return params


def _check_record_study(study: hpo.Study) -> None:
    if not isinstance(study, hpo.Study):
        raise TypeError(f"study must be an hpo.Study, got {type(study).__name__}")
    if not study.define_by_run:
        raise ValueError(
            f"study {study.name!r} has a fixed space; a leaderboard's models have "
            "heterogeneous hyperparameters, so record into a study created without a space: "
            "hpo.create_study(direction='maximize', name=..., storage=...)"
        )
    if study.direction != "maximize":
        raise ValueError(
            f"study {study.name!r} minimizes, but AutoGluon's validation scores are "
            "higher-is-better; record into a study with direction='maximize'"
        )


def _record_model(study: hpo.Study, row: Any, info: Mapping[str, Any]) -> FrozenTrial:
    name = str(row["model"])
    storage, sid = study.storage, study.study_id
    trial = storage.create_trial(sid, params=_model_params(name, info))
    storage.set_trial_user_attr(sid, trial.number, "autogluon_model", name)
    storage.set_trial_user_attr(sid, trial.number, "source", "autogluon")
    metrics: dict[str, float | None] = {
        key: float(row[key])
        for key in (
            "fit_time",
            "pred_time_val",
            "fit_time_marginal",
            "pred_time_val_marginal",
            "stack_level",
        )
        if key in row and row[key] is not None and math.isfinite(float(row[key]))
    }
    score = float(row["score_val"])
    if not math.isfinite(score):
        return storage.finish_trial(
            sid, trial.number, TrialState.FAILED, metrics=metrics, error="no validation score"
        )
    return storage.finish_trial(
        sid, trial.number, TrialState.COMPLETE, value=score, metrics=metrics
    )


def record_autogluon(
    study: hpo.Study,
    train_data: pd.DataFrame,
    label: str,
    *,
    time_limit: float,
    presets: str | list[str] | None = None,
    path: str | Path | None = None,
    eval_metric: str | None = None,
    problem_type: str | None = None,
    hyperparameters: Mapping[str, Any] | str | None = None,
    holdout_frac: float | None = None,
    tuning_data: pd.DataFrame | None = None,
    verbosity: int = 0,
    fit_kwargs: Mapping[str, Any] | None = None,
) -> list[FrozenTrial]:
    """Run ``TabularPredictor(label).fit(train_data, presets=..., time_limit=...)`` and store
    every model of its leaderboard as a COMPLETE trial of ``study``; return those trials.

    ``study`` must be define-by-run (created without a space) and maximize (see the module
    docstring for the params recorded). The predictor is kept in ``path`` when given
    (load it with ``TabularPredictor.load(path)``), else built in a temporary directory
    that is removed afterwards. ``hyperparameters`` limits the model families (e.g.
    ``{"GBM": {}, "RF": {}}``), as in AutoGluon; ``fit_kwargs`` go to ``fit`` as they are.

    >>> automl = hpo.create_study(direction="maximize", name="autogluon")  # doctest: +SKIP
    >>> record_autogluon(automl, df, "target", time_limit=60)             # doctest: +SKIP
    """
    _check_record_study(study)
    _check_data(train_data, label)
    if tuning_data is not None:
        _check_data(tuning_data, label)
    if not (isinstance(time_limit, int | float) and time_limit > 0):
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    workdir = str(path) if path is not None else tempfile.mkdtemp(prefix="hpo-ag-record-")
    try:
        predictor = _predictor(label, workdir, eval_metric, problem_type, verbosity)
        extra: dict[str, Any] = dict(fit_kwargs or {})
        if presets is not None:
            extra["presets"] = presets
        if hyperparameters is not None:
            extra["hyperparameters"] = hyperparameters
        predictor.fit(
            train_data,
            time_limit=time_limit,
            **_validation_kwargs(holdout_frac, tuning_data),
            **extra,
        )
        board = predictor.leaderboard(silent=True)
        infos = predictor.info()["model_info"]
        return [
            _record_model(study, row, infos.get(str(row["model"]), {}))
            for _, row in board.iterrows()
        ]
    finally:
        if path is None:
            shutil.rmtree(workdir, ignore_errors=True)
