"""scikit-optimize's Bayesian optimization (``skopt.Optimizer``) as hpo searchers.

Four surrogate models, one searcher each: ``skopt:gp`` (Gaussian process), ``skopt:rf``
(random forest), ``skopt:et`` (extra trees) and ``skopt:gbrt`` (gradient-boosted quantile
trees). skopt's own options pass through, validated::

    study = hpo.create_study(objective, searcher="skopt:gp",
                             searcher_kwargs={"n_initial_points": 8, "acq_func": "EI"})

Space translation: ``Float`` -> ``Real`` (``prior="log-uniform"`` when ``log=True``);
``Int`` -> ``Integer`` (log-uniform when ``log=True``); stepped ``Float`` and ``Int`` ->
``Integer(0, n - 1)`` over the grid index; ``Categorical`` -> ``Categorical`` over the
choice *indices*, so ``True``, ``1``, ``1.0`` and ``None`` come back exactly as declared.
Values are clipped into the parameter, so every suggestion lies in our space.

**Conditional spaces.** skopt has no conditional parameters, so the optimizer works on the
full space and the searcher drops inactive parameters from the configuration it returns.
When a trial is told, an inactive parameter is shown to the model at a fixed dummy value
(its midpoint in the unit-cube codec; the first choice of a categorical), so the model
sees one consistent point per configuration; it does not know the parameter was absent.

**How an ask works.** Each ask ``i`` builds a fresh ``Optimizer`` seeded from
``(seed, i)``. While fewer than ``n_initial_points`` observations exist it returns one of
skopt's random points; after that it tells the optimizer every observation plus each
pending point (asked, not yet told) with a constant-liar value (``liar``: the min, mean or
max of the observed losses, skopt's ``cl_min`` by default) and returns the optimizer's
next point, so asks before any tell are distinct. The result depends only on the told
trials, the pending points, ``i`` and (for ``acq_func="gp_hedge"``) the portfolio's gains
and last candidates, which skopt would keep inside its optimizer: the saved state holds
the pending points and the hedge, so a seeded study is reproducible and a reloaded one
continues exactly. Pending points are kept by suggestion id: a told trial releases the
one whose id it carries (``trial.suggestion_id``); a trial without one (enqueued,
another process) is only an observation. The state (version 2) saves them with their
ids; a version 1 state still loads, without its pending points.

**Told trials.** Trials the searcher did not propose are told with their point too.
COMPLETE trials are told their loss (negated when maximizing). FAILED and PRUNED trials
are told the worst loss observed so far (they mark a bad region without distorting the
model's scale); while no trial has completed they are left out.

While the model is fitted, BLAS is limited to one thread (``threadpoolctl``): skopt's
matrices are small, and BLAS threads made GP asks several times slower on a 2-core
machine; this limit applies process-wide for the duration of the fit.

skopt 0.10.2 runs on numpy 2 except for its gradient-boosting model, which needs two
fixes (estimator tags of scikit-learn >= 1.6, ``np.in1d``): see :class:`_QuantileGBRT`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.utils import RegressorTags
from skopt import Optimizer
from skopt.learning import GradientBoostingQuantileRegressor
from skopt.space import Categorical as SkCategorical
from skopt.space import Dimension, Integer, Real
from skopt.space import Space as SkSpace
from threadpoolctl import threadpool_limits

from hpo.searchers.base import Searcher, Suggestion
from hpo.space import Categorical, Float, Int, Param, Space
from hpo.trial import FrozenTrial, TrialState

__all__ = ["SkoptET", "SkoptGBRT", "SkoptGP", "SkoptRF", "SkoptSearcher", "to_skopt"]

ACQ_FUNCS = ("gp_hedge", "EI", "LCB", "PI")
ACQ_OPTIMIZERS = ("auto", "sampling", "lbfgs")
LIARS: dict[str, Callable[[list[float]], Any]] = {
    "cl_min": np.min,
    "cl_mean": np.mean,
    "cl_max": np.max,
}
MAX_PENDING = 256  # asked configurations remembered until told (the oldest are dropped)


# --- space translation --------------------------------------------------------------------
def _is_indexed(param: Param) -> bool:
    """Stepped parameters are optimized over their grid index ``0 .. n-1``."""
    if isinstance(param, Float):
        return param.step is not None
    return isinstance(param, Int) and param.step != 1


def _fixed(param: Param) -> bool:
    """A numeric parameter with one value (``low == high``): a one-category dimension."""
    return isinstance(param, Float | Int) and param.low == param.high


def _dimension(name: str, param: Param) -> Dimension:
    if isinstance(param, Categorical) or _fixed(param):
        n = len(param.choices) if isinstance(param, Categorical) else 1
        return SkCategorical(list(range(n)), name=name)
    if _is_indexed(param):
        n = param.n_values  # type: ignore[attr-defined]
        return Integer(0, n - 1, name=name)
    prior = "log-uniform" if param.log else "uniform"  # type: ignore[attr-defined]
    if isinstance(param, Int):
        return Integer(param.low, param.high, prior=prior, name=name)
    assert isinstance(param, Float)
    return Real(param.low, param.high, prior=prior, name=name)


def to_skopt(space: Space) -> list[Dimension]:
    """One skopt dimension per parameter, in space order (conditions are not expressed).

    >>> to_skopt(Space({"C": Float(1e-3, 1e3, log=True)}))        # doctest: +SKIP
    [Real(low=0.001, high=1000.0, prior='log-uniform', transform='identity')]
    """
    return [_dimension(name, param) for name, param in space.items()]


def from_raw(param: Param, raw: Any) -> Any:
    """Our value for skopt's raw value of ``param`` (clipped into the parameter)."""
    if isinstance(param, Categorical):
        return param.choices[min(max(int(raw), 0), len(param.choices) - 1)]
    if _fixed(param):
        return param.low  # type: ignore[attr-defined]
    if _is_indexed(param):
        n = param.n_values  # type: ignore[attr-defined]
        idx = min(max(round(float(raw)), 0), n - 1)
        return min(param.low + idx * param.step, param.high)  # type: ignore[attr-defined]
    if isinstance(param, Int):
        return min(max(round(float(raw)), param.low), param.high)
    assert isinstance(param, Float)
    return min(max(float(raw), param.low), param.high)


def to_raw(param: Param, value: Any) -> Any:
    """skopt's raw value for our ``value`` of ``param`` (inverse of :func:`from_raw`)."""
    if isinstance(param, Categorical):
        return param.index(value)
    if _fixed(param):
        return 0
    if _is_indexed(param):
        return round((float(value) - param.low) / param.step)  # type: ignore[attr-defined]
    if isinstance(param, Int):
        return int(value)
    return float(value)


def _dummy_raw(param: Param) -> Any:
    """The value an inactive parameter shows the model: its codec midpoint, first choice."""
    if isinstance(param, Categorical) or _fixed(param):
        return 0
    return to_raw(param, param.decode(np.array([0.5])))


# --- gradient boosting on scikit-learn >= 1.6 and numpy 2 ------------------------------------
class _QuantileGBRT(GradientBoostingQuantileRegressor):
    """skopt's quantile GBRT, fixed for today's scikit-learn and numpy.

    skopt 0.10.2 lists ``BaseEstimator`` before ``RegressorMixin``, so with scikit-learn
    >= 1.6 ``is_regressor`` is ``False`` and ``Optimizer(base_estimator="GBRT")`` refuses
    it; and its ``predict(return_std=True)`` calls ``np.in1d``, removed in numpy 2.4.
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        return tags

    def predict(self, X: Any, return_std: bool = False, return_quantiles: bool = False) -> Any:
        if not return_std or return_quantiles:
            return super().predict(X, return_std=return_std, return_quantiles=return_quantiles)
        quantiles = list(self.quantiles)
        if not all(q in quantiles for q in (0.16, 0.5, 0.84)):
            raise ValueError("return_std needs the quantiles 0.16, 0.5 and 0.84")
        low, mean, high = (
            self.regressors_[quantiles.index(q)].predict(X) for q in (0.16, 0.5, 0.84)
        )
        return mean, (high - low) / 2.0


# --- the searchers ------------------------------------------------------------------------
def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"`{name}` must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def _check_kwargs(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"`{name}` must be a dict of skopt options, got {value!r}")
    return dict(value)


class SkoptSearcher(Searcher):
    """Base of the skopt adapters; subclasses set ``estimator`` (skopt's name for it).

    Options: ``n_initial_points=10`` random points before the model is used (>= 1),
    ``acq_func="gp_hedge"`` (``"EI"``, ``"LCB"``, ``"PI"`` or the hedge over them),
    ``acq_optimizer="auto"`` (``"sampling"``; ``"lbfgs"`` for ``skopt:gp`` only),
    ``acq_func_kwargs`` / ``acq_optimizer_kwargs`` (passed to skopt, e.g.
    ``{"xi": 0.01}`` and ``{"n_points": 2000}``), ``liar="cl_min"`` (``"cl_mean"``,
    ``"cl_max"``: the value pending points are told).
    """

    estimator: ClassVar[str] = ""
    #: 2: pending points saved with their suggestion ids (version 1 states still load)
    state_version = 2

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        n_initial_points: int = 10,
        acq_func: str = "gp_hedge",
        acq_optimizer: str = "auto",
        acq_func_kwargs: Mapping[str, Any] | None = None,
        acq_optimizer_kwargs: Mapping[str, Any] | None = None,
        liar: str = "cl_min",
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        if (
            isinstance(n_initial_points, bool)
            or not isinstance(n_initial_points, int | np.integer)
            or n_initial_points < 1
        ):
            raise ValueError(f"`n_initial_points` must be an int >= 1, got {n_initial_points!r}")
        _check_choice("acq_func", acq_func, ACQ_FUNCS)
        _check_choice("acq_optimizer", acq_optimizer, ACQ_OPTIMIZERS)
        if acq_optimizer == "lbfgs" and self.estimator != "GP":
            raise ValueError(
                f"acq_optimizer='lbfgs' needs gradients, which only 'skopt:gp' has; use "
                f"'sampling' or 'auto' with {self.name!r}"
            )
        _check_choice("liar", liar, tuple(LIARS))
        self.n_initial_points = int(n_initial_points)
        self.acq_func = acq_func
        self.acq_optimizer = acq_optimizer
        self.acq_func_kwargs = _check_kwargs("acq_func_kwargs", acq_func_kwargs)
        self.acq_optimizer_kwargs = _check_kwargs("acq_optimizer_kwargs", acq_optimizer_kwargs)
        self.liar = liar
        self._dims = to_skopt(self.space)
        self._observed: list[tuple[int, list[Any], float | None]] = []  # number, point, loss
        self._numbers: set[int] = set()
        self._pending: dict[str, dict[str, Any]] = {}  # suggestion id -> config, oldest first
        self._hedge: dict[str, list[Any]] | None = None  # gp_hedge gains and candidates

    # --- points <-> configurations --------------------------------------------------------
    def _point(self, config: Mapping[str, Any]) -> list[Any]:
        return [
            to_raw(p, config[n]) if n in config else _dummy_raw(p) for n, p in self.space.items()
        ]

    def _config(self, point: list[Any]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for (name, param), raw in zip(self.space.items(), point, strict=True):
            if self.space.is_active(name, config):
                config[name] = from_raw(param, raw)
        return config

    # --- ask ----------------------------------------------------------------------------------
    def _observations(self) -> tuple[list[list[Any]], list[float]]:
        """Told points with their losses; FAILED/PRUNED get the worst loss, if any."""
        losses = [loss for _, _, loss in self._observed if loss is not None]
        worst = max(losses) if losses else None
        xs, ys = [], []
        for _, point, loss in self._observed:
            y = loss if loss is not None else worst
            if y is not None:
                xs.append(point)
                ys.append(float(y))
        return xs, ys

    def _base_estimator(self, rng: np.random.RandomState) -> Any:
        if self.estimator == "GBRT":
            gbrt = GradientBoostingRegressor(n_estimators=30, loss="quantile")
            return _QuantileGBRT(base_estimator=gbrt, random_state=rng.randint(2**31 - 1))
        return self.estimator

    def _one_point(self, index: int) -> list[Any]:
        rng = np.random.RandomState(int(self._rng_for(index).integers(2**31 - 1)))
        xs, ys = self._observations()
        if len(xs) < self.n_initial_points:
            return list(SkSpace(self._dims).rvs(n_samples=1, random_state=rng)[0])
        optimizer = Optimizer(
            self._dims,
            base_estimator=self._base_estimator(rng),
            n_initial_points=self.n_initial_points,
            acq_func=self.acq_func,
            acq_optimizer=self.acq_optimizer,
            acq_func_kwargs=self.acq_func_kwargs or None,
            acq_optimizer_kwargs=self.acq_optimizer_kwargs or None,
            random_state=rng,
        )
        lie = float(LIARS[self.liar](ys))
        pending = [self._point(c) for c in self._pending.values()]
        self._restore_hedge(optimizer)
        with threadpool_limits(1):  # small matrices: BLAS threads only add overhead
            optimizer.tell(xs + pending, ys + [lie] * len(pending))
            point = list(optimizer.ask())
        if self.acq_func == "gp_hedge":
            self._hedge = {
                "gains": [float(g) for g in optimizer.gains_],
                "candidates": [np.asarray(x, dtype=float).tolist() for x in optimizer.next_xs_],
            }
        return point

    def _restore_hedge(self, optimizer: Optimizer) -> None:
        """Carry gp_hedge's gains over: skopt lowers them, at each fit, by the new model's
        prediction at the previous fit's candidates."""
        if self.acq_func != "gp_hedge" or self._hedge is None:
            return
        candidates = [np.asarray(x, dtype=float) for x in self._hedge["candidates"]]
        if any(x.shape != (optimizer.space.transformed_n_dims,) for x in candidates):
            return  # saved for another space: start the portfolio afresh
        optimizer.gains_ = np.asarray(self._hedge["gains"], dtype=float)
        optimizer.next_xs_ = candidates

    def _ask(self, n: int) -> list[Suggestion]:
        out = []
        for _ in range(n):
            index = self._next_index("ask")
            suggestion = Suggestion(self._config(self._one_point(index)), info={"ask": index})
            self._pending[suggestion.id] = suggestion.config
            while len(self._pending) > MAX_PENDING:
                del self._pending[next(iter(self._pending))]
            out.append(suggestion)
        return out

    # --- tell ---------------------------------------------------------------------------------
    def _tell(self, trial: FrozenTrial) -> None:
        if trial.suggestion_id is not None:
            self._pending.pop(trial.suggestion_id, None)
        if trial.number in self._numbers or self.space.violations(trial.params):
            return  # told twice, or not a point of this space: nothing to learn
        loss = self._loss(trial) if trial.state is TrialState.COMPLETE else None
        if trial.state is TrialState.COMPLETE and loss is None:
            return  # a COMPLETE trial without a finite value carries no information
        self._numbers.add(trial.number)
        self._observed.append((trial.number, self._point(trial.params), loss))

    # --- state --------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        pending = [{"id": i, "config": dict(c)} for i, c in self._pending.items()]
        state: dict[str, Any] = {"pending": pending}
        if self._hedge is not None:
            state["hedge"] = {k: list(v) for k, v in self._hedge.items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version = state.get("version")
        if type(version) is int and version == 1:  # pending configurations without ids
            state = {**state, "version": self.state_version, "pending": []}
        super().load_state_dict(state)

    def _load_state(self, state: dict[str, Any]) -> None:
        pending = state.get("pending", [])
        if not isinstance(pending, list) or not all(
            isinstance(e, dict)
            and isinstance(e.get("id"), str)
            and isinstance(e.get("config"), dict)
            for e in pending
        ):
            raise ValueError(
                "a skopt searcher's 'pending' must be a list of {'id': str, 'config': dict}, "
                f"got {pending!r}"
            )
        self._pending = {
            e["id"]: self.space.canonical(e["config"])
            for e in pending
            if not self.space.violations(e["config"])
        }
        hedge = state.get("hedge")
        self._hedge = None
        if isinstance(hedge, dict) and len(hedge.get("gains", ())) == 3 and "candidates" in hedge:
            self._hedge = {"gains": list(hedge["gains"]), "candidates": list(hedge["candidates"])}


class SkoptGP(SkoptSearcher):
    """``skopt.Optimizer(base_estimator="GP")``: Gaussian-process Bayesian optimization.

    >>> make_searcher("skopt:gp", space, seed=0, acq_func="EI")      # doctest: +SKIP
    """

    name = "skopt:gp"
    estimator = "GP"


class SkoptRF(SkoptSearcher):
    """``skopt.Optimizer(base_estimator="RF")``: random-forest surrogate (SMAC-like)."""

    name = "skopt:rf"
    estimator = "RF"


class SkoptET(SkoptSearcher):
    """``skopt.Optimizer(base_estimator="ET")``: extra-trees surrogate."""

    name = "skopt:et"
    estimator = "ET"


class SkoptGBRT(SkoptSearcher):
    """``skopt.Optimizer(base_estimator="GBRT")``: gradient-boosted quantile regression."""

    name = "skopt:gbrt"
    estimator = "GBRT"
