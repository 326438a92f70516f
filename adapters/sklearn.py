"""scikit-learn adapter: :class:`HPOSearchCV`, a drop-in for ``GridSearchCV`` and
``RandomizedSearchCV`` driven by any hpo searcher.

>>> from sklearn.linear_model import LogisticRegression
>>> search = HPOSearchCV(LogisticRegression(max_iter=500),
...                      {"C": hpo.Float(1e-3, 1e3, log=True)}, n_trials=20, seed=0)
>>> search.fit(X, y).best_params_                                # doctest: +SKIP

Each candidate is a trial of an hpo study (``study_``): the study's searcher proposes it,
scikit-learn's own machinery (``evaluate_candidates``: the same cross-validation, scoring,
parallelism and error handling as ``GridSearchCV``) scores it, and the study is told the
candidate's mean test score, so model-based searchers learn from it. ``cv_results_``,
``best_params_``, ``best_score_``, ``best_index_``, ``best_estimator_`` and ``refit``
behave as in ``GridSearchCV``.

* ``space``: an :class:`hpo.Space` or a dict of hpo parameters; names are the estimator's
  ``get_params`` names, nested ones included (``"svc__C"`` in a pipeline).
* ``searcher``: any registered name (``hpo.available_searchers()``); ``None`` means
  :data:`DEFAULT_SEARCHER`. A finite grid may end before ``n_trials``: the search stops
  there, as ``GridSearchCV`` does.
* The study maximizes the score (scikit-learn scores are higher-is-better). With several
  metrics (``scoring`` a list or dict) it is told the ``refit`` metric, or the first one
  when ``refit`` is not a metric name; the other means are stored as trial metrics.
* Candidates are proposed in batches of ``n_jobs`` (one when ``n_jobs`` is ``None``):
  with several jobs, that many candidates are cross-validated in parallel, and
  model-based searchers see results batch by batch.
* A candidate whose fits all failed (score NaN with ``error_score=np.nan``) is a FAILED
  trial and a NaN row of ``cv_results_``; with a numeric ``error_score`` the trial is
  COMPLETE with that score, as scikit-learn ranks it. (scikit-learn refuses a batch in
  which every fit failed, so such a candidate is cross-validated again with the next
  batch; one still waiting when the search ends is FAILED and has no row.)
* ``storage`` (a URL such as ``"sqlite:///hpo.db"``; not a ``Storage`` object, which
  ``sklearn.base.clone`` could not copy) persists the study; each ``fit`` creates a new
  study (a fit searches afresh, as ``GridSearchCV`` does, and the folds of a nested
  cross-validation see different data): named ``study_name`` when that name is free, else
  ``study_name-2``, ``study_name-3``, ... (the first free one), or a generated name.
  Pickling a fitted search keeps the study's name, and ``study_`` reloads it from
  ``storage``.
* ``pre_dispatch`` is scikit-learn's, as in ``GridSearchCV``.
"""

from __future__ import annotations

import math
import numbers
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from joblib import effective_n_jobs
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import get_tags
from sklearn.utils._param_validation import Interval

import hpo
from hpo.exceptions import DuplicateStudyError, SearchSpaceExhausted
from hpo.searchers import DEFAULT_SEARCHER
from hpo.space import Space, as_space
from hpo.trial import Trial, TrialState

__all__ = ["DEFAULT_SEARCHER", "HPOSearchCV"]

#: fits of one estimator (refits, nested cross-validation folds) that get their own study
#: named after ``study_name``: ``name``, ``name-2``, ..., ``name-1000``
_MAX_FITS_PER_NAME = 1000

EvaluateCandidates = Callable[[list[dict[str, Any]]], dict[str, Any]]


class HPOSearchCV(BaseSearchCV):
    """Cross-validated search over ``space`` with an hpo searcher (see the module docs).

    Fitted attributes, besides those of ``GridSearchCV``: ``study_`` (the
    :class:`hpo.Study` holding one trial per candidate, in candidate order; each trial's
    user attribute ``candidate_index`` is its row in ``cv_results_``).
    """

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "space": [Mapping],
        "searcher": [str, None],
        "n_trials": [Interval(numbers.Integral, 1, None, closed="left")],
        "storage": [str, None],
        "study_name": [str, None],
        "seed": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "searcher_kwargs": [dict, None],
    }

    def __init__(
        self,
        estimator: Any,
        space: Space | Mapping[str, Any],
        *,
        searcher: str | None = None,
        n_trials: int = 10,
        cv: Any = None,
        scoring: Any = None,
        n_jobs: int | None = None,
        refit: bool | str | Callable[..., Any] = True,
        storage: str | None = None,
        study_name: str | None = None,
        seed: int | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        verbose: int = 0,
        pre_dispatch: int | str = "2*n_jobs",
    ) -> None:
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.space = space
        self.searcher = searcher
        self.n_trials = n_trials
        self.storage = storage
        self.study_name = study_name
        self.seed = seed
        self.searcher_kwargs = searcher_kwargs

    def __sklearn_tags__(self) -> Any:
        """BaseSearchCV's tags, plus the estimator's target tags (a multi-output
        regressor searched stays multi-output)."""
        tags = super().__sklearn_tags__()
        target = get_tags(self.estimator).target_tags
        tags.target_tags.multi_output = target.multi_output
        tags.target_tags.single_output = target.single_output
        return tags

    # --- the study, which pickles by reference -----------------------------------------
    @property
    def study_(self) -> hpo.Study:
        """The hpo study of the last ``fit`` (reloaded from ``storage`` after unpickling)."""
        study = self.__dict__.get("_study")
        if study is None:
            name = self.__dict__.get("_study_name")
            if name is None or not isinstance(self.storage, str):
                raise AttributeError(
                    "study_ is not available: the search is not fitted, or it was unpickled "
                    "and its study was kept in memory; pass storage='sqlite:///...' to keep it"
                )
            study = hpo.load_study(name, self.storage)
            self._study = study
        return study

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the live study (locks, connections); a stored study is reloaded
        by name on first access to ``study_``."""
        state = dict(super().__getstate__())
        study = state.pop("_study", None)
        if study is not None:
            state["_study_name"] = study.name
        return state

    # --- the search ------------------------------------------------------------------
    def _create_study(self) -> hpo.Study:
        """A new maximizing study over ``space`` for this fit."""
        space = as_space(self.space)
        assert space is not None
        self._check_space(space)
        base = self.study_name or f"hpo-search-cv-{uuid.uuid4().hex[:8]}"
        for attempt in range(1, _MAX_FITS_PER_NAME + 1):
            try:
                return hpo.create_study(
                    space=space,
                    direction="maximize",
                    searcher=self.searcher or DEFAULT_SEARCHER,
                    searcher_kwargs=self.searcher_kwargs,
                    name=base if attempt == 1 else f"{base}-{attempt}",
                    storage=self.storage,
                    seed=self.seed,
                )
            except DuplicateStudyError:
                if self.study_name is None:
                    raise
        raise DuplicateStudyError(
            f"studies {base!r} to {base}-{_MAX_FITS_PER_NAME} all exist in {self.storage}; "
            "choose another study_name"
        )

    def _check_space(self, space: Space) -> None:
        if not len(space):
            raise ValueError("`space` is empty; give at least one parameter to search")
        known = self.estimator.get_params(deep=True)
        unknown = [name for name in space if name not in known]
        if unknown:
            raise ValueError(
                f"`space` names parameters {unknown} that {type(self.estimator).__name__} "
                f"does not have; valid names include {sorted(known)[:20]} "
                "(nested ones as step__param)"
            )

    def _batch_size(self) -> int:
        return 1 if self.n_jobs is None else max(1, int(effective_n_jobs(self.n_jobs)))

    def _ask_batch(self, study: hpo.Study, n: int) -> list[Trial]:
        trials: list[Trial] = []
        for _ in range(n):
            try:
                trials.append(study.ask())
            except SearchSpaceExhausted:
                break
        return trials

    def _run_search(self, evaluate_candidates: EvaluateCandidates) -> None:
        """Ask the study for candidates, score them with scikit-learn, tell the scores.

        scikit-learn refuses a batch in which every fit failed (``ValueError: All the ...
        fits failed``), even with ``error_score=nan``; such candidates are carried into
        the next batch, so they get their ``error_score`` row in ``cv_results_`` as in
        ``GridSearchCV``. Carried candidates left when the search ends are told FAILED
        and have no row; when no candidate ever scored, scikit-learn's error is raised.
        """
        study = self._create_study()
        self._study = study
        carried: list[Trial] = []
        last_error: ValueError | None = None
        scored = False
        done = 0
        while done < self.n_trials:
            trials = self._ask_batch(study, min(self._batch_size(), self.n_trials - done))
            if not trials:
                break
            done += len(trials)
            batch = carried + trials
            try:
                results = evaluate_candidates([t.params for t in batch])
            except ValueError as exc:
                if self.error_score == "raise" or "fits failed" not in str(exc):
                    _fail(study, batch, exc)
                    raise
                carried, last_error = batch, exc
                continue
            except BaseException as exc:
                _fail(study, batch, exc)
                raise
            carried, scored = [], True
            first = len(results["params"]) - len(batch)
            for offset, trial in enumerate(batch):
                self._tell(study, trial, results, first + offset)
        if carried:
            assert last_error is not None
            _fail(study, carried, last_error)
            if not scored:
                raise last_error

    def _tell(self, study: hpo.Study, trial: Trial, results: dict[str, Any], index: int) -> None:
        """Tell ``study`` candidate ``index``'s mean test score (and other means)."""
        keys = [k for k in results if k.startswith("mean_test_")]
        metrics: dict[str, float] = {
            k: float(results[k][index])
            for k in ("std_test_score", "mean_fit_time", "mean_score_time", "mean_train_score")
            if k in results
        }
        target = _target_key(keys, self.refit)
        metrics.update({k: float(results[k][index]) for k in keys if k != target})
        trial.set_user_attr("candidate_index", index)
        value = float(results[target][index])
        if math.isnan(value):
            study.tell(
                trial,
                state=TrialState.FAILED,
                metrics=metrics,
                error="every cross-validation fit failed or scored NaN (error_score=nan)",
            )
        else:
            study.tell(trial, value, metrics=metrics)


def _fail(study: hpo.Study, trials: list[Trial], exc: BaseException) -> None:
    for trial in trials:
        study.tell(trial, state=TrialState.FAILED, error=f"{type(exc).__name__}: {exc}")


def _target_key(keys: list[str], refit: Any) -> str:
    """The ``mean_test_*`` column the study optimizes: the single score, else the
    ``refit`` metric, else the first metric."""
    if "mean_test_score" in keys:
        return "mean_test_score"
    if isinstance(refit, str) and f"mean_test_{refit}" in keys:
        return f"mean_test_{refit}"
    return keys[0]
