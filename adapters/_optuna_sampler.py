"""hpo searchers inside Optuna: :class:`HPOSampler`.

>>> sampler = HPOSampler("random", seed=0)                                  # doctest: +SKIP
>>> optuna.create_study(sampler=sampler).optimize(objective, n_trials=20)   # doctest: +SKIP

As Optuna's own model-based samplers do, the searcher works on the *relative* search space
(the parameters every finished trial shares, with the same distribution; single-valued ones
left out), rebuilt when that space changes and told every finished trial of the study
before each proposal. Parameters outside it are sampled *independently*: by the searcher's
define-by-run sampling where it has one (``random``), else by Optuna's RandomSampler.
A finite searcher (``grid``) that runs out stops the study after the current trial, as
Optuna's GridSampler does; that trial's parameters are then sampled independently.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial as OptunaFrozenTrial
from optuna.trial import TrialState as OptunaState

from hpo.exceptions import SearchSpaceExhausted
from hpo.searchers import Searcher, make_searcher, searcher_class
from hpo.space import Float, Space
from hpo.trial import FrozenTrial, TrialState

from ._optuna_space import finite_or_none, from_distribution

if TYPE_CHECKING:
    from optuna.study import Study as OptunaStudy

_STATES = {
    OptunaState.COMPLETE: TrialState.COMPLETE,
    OptunaState.PRUNED: TrialState.PRUNED,
    OptunaState.FAIL: TrialState.FAILED,
}


class _Relative:
    """One searcher over one relative search space, and the trials it was told."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.told: set[int] = set()
        self.asks: dict[int, tuple[str, dict[str, Any]]] = {}  # Optuna trial -> id, info


class HPOSampler(BaseSampler):
    """Any registered hpo searcher as an Optuna sampler (single objective).

    ``searcher_kwargs`` are the searcher's own options, as in
    ``hpo.create_study(searcher_kwargs=...)``.
    """

    def __init__(self, searcher_name: str, seed: int | None = None, **searcher_kwargs: Any) -> None:
        self._cls = searcher_class(searcher_name)
        try:
            json.dumps(searcher_kwargs)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"searcher options must be JSON values: {exc}") from None
        self._name = searcher_name
        self._seed = seed
        self._kwargs = dict(searcher_kwargs)
        # build once so a bad name or option fails here, not in the middle of a study
        self._make(Space({"x": Float(0.0, 1.0)}))
        self._intersection = IntersectionSearchSpace()
        self._relative: dict[str, _Relative] = {}
        self._by_run: Searcher | None = None
        self._fallback = RandomSampler(seed=seed)
        self._exhausted = False
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"HPOSampler({self._name!r}, seed={self._seed!r})"

    def _make(self, space: Space | None, direction: str = "minimize") -> Searcher:
        return make_searcher(
            self._name, space, direction=direction, seed=self._seed, **self._kwargs
        )

    # --- relative sampling -----------------------------------------------------------------
    def infer_relative_search_space(
        self, study: OptunaStudy, trial: OptunaFrozenTrial
    ) -> dict[str, BaseDistribution]:
        _single_objective(study)
        with self._lock:
            space = self._intersection.calculate(study)
        return {name: dist for name, dist in space.items() if not dist.single()}

    def sample_relative(
        self,
        study: OptunaStudy,
        trial: OptunaFrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        _single_objective(study)
        if not search_space:
            return {}
        space = Space({n: from_distribution(n, d) for n, d in search_space.items()})
        with self._lock:
            relative = self._searcher_for(study, space)
            self._tell_finished(study, space, relative)
            try:
                suggestion = relative.searcher.ask(1)[0]
            except SearchSpaceExhausted as exc:
                self._exhausted = True
                warnings.warn(
                    f"HPOSampler({self._name!r}): {exc}; the study stops after this trial",
                    stacklevel=2,
                )
                return {}
            relative.asks[trial.number] = (suggestion.id, dict(suggestion.info))
        return dict(suggestion.config)

    def _searcher_for(self, study: OptunaStudy, space: Space) -> _Relative:
        key = json.dumps(space.to_json(), sort_keys=True)
        if key not in self._relative:
            direction = "maximize" if study.direction.name == "MAXIMIZE" else "minimize"
            self._relative[key] = _Relative(self._make(space, direction))
        return self._relative[key]

    def _tell_finished(self, study: OptunaStudy, space: Space, relative: _Relative) -> None:
        for t in study.get_trials(deepcopy=False, states=tuple(_STATES)):
            if t.number in relative.told:
                continue
            relative.told.add(t.number)
            params = {n: t.params[n] for n in space if n in t.params}
            if space.violations(params):
                continue  # a trial outside this relative space teaches it nothing
            value = finite_or_none(t.value) if t.state is OptunaState.COMPLETE else None
            state = _STATES[t.state]
            if state is TrialState.COMPLETE and value is None:
                state = TrialState.FAILED
            ask_id, info = relative.asks.pop(t.number, (None, {}))
            relative.searcher.tell(
                FrozenTrial(
                    number=t.number,
                    state=state,
                    params=space.canonical(params),
                    value=value,
                    intermediate_values=dict(t.intermediate_values),
                    suggestion_id=ask_id,
                    searcher_info=info,
                )
            )

    # --- independent sampling --------------------------------------------------------------
    def sample_independent(
        self,
        study: OptunaStudy,
        trial: OptunaFrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        _single_objective(study)
        fixed = _single_value(param_distribution)
        if fixed is not None:
            return fixed[0]
        if not self._cls.supports_define_by_run:
            return self._fallback.sample_independent(study, trial, param_name, param_distribution)
        param = from_distribution(param_name, param_distribution)
        with self._lock:
            if self._by_run is None:
                self._by_run = self._make(None)
            return self._by_run.suggest_param(trial.number, dict(trial.params), param_name, param)

    # --- lifecycle -------------------------------------------------------------------------
    def before_trial(self, study: OptunaStudy, trial: OptunaFrozenTrial) -> None:
        self._fallback.before_trial(study, trial)

    def after_trial(
        self,
        study: OptunaStudy,
        trial: OptunaFrozenTrial,
        state: OptunaState,
        values: Sequence[float] | None,
    ) -> None:
        self._fallback.after_trial(study, trial, state, values)
        if self._exhausted:
            study.stop()

    def reseed_rng(self) -> None:
        """Optuna calls this for parallel workers; seeded searchers keep their sequence
        (draws are keyed by trial), so only the random fallback is reseeded."""
        self._fallback.reseed_rng()


def _single_objective(study: OptunaStudy) -> None:
    if len(study.directions) > 1:
        raise ValueError(
            "HPOSampler supports single-objective studies only; hpo searchers optimize one value"
        )


def _single_value(dist: BaseDistribution) -> tuple[Any] | None:
    """``(value,)`` for a distribution with one possible value, else ``None``."""
    if not dist.single():
        return None
    if isinstance(dist, CategoricalDistribution):
        return (dist.choices[0],)
    return (dist.low,)  # type: ignore[attr-defined]
