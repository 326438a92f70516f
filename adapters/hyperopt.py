"""hyperopt's algorithms (``tpe``, ``anneal``, ``rand``) as hpo searchers, one ask at a time.

hyperopt normally drives the search through ``fmin``; here the searcher keeps a
``hyperopt.Trials`` object of the finished trials it was told (also those it did not
propose: enqueued configurations, other processes) and calls the algorithm's
``suggest(new_ids, domain, trials, seed)`` itself for each ask::

    study = hpo.create_study(objective, searcher="hyperopt:tpe",
                             searcher_kwargs={"n_startup_jobs": 10, "gamma": 0.25})

Space translation (every suggestion lies inside our space):

* ``Float`` -> ``hp.uniform``; ``log=True`` -> ``hp.loguniform``; values clipped to the
  bounds (``exp(log(high))`` may overshoot by one ulp).
* ``Int`` and stepped ``Float`` -> ``hp.quniform(-0.5, n - 0.5, 1)`` over the grid index
  ``0 .. n-1``, so every grid point (endpoints included) is equally likely and no rounding
  lands outside ``[low, high]`` or off the step (``hp.quniform(low, high, q)`` rounds to
  multiples of ``q`` from zero, not from ``low``, and halves the endpoints' mass);
  ``Int(log=True)`` -> ``hp.qloguniform(log(low - 0.5), log(high + 0.5), 1)``, clipped.
* A fixed value (``Float(2, 2)``, ``Int(3, 3)``) -> a one-option ``hp.choice``.
* ``Categorical`` -> ``hp.choice`` over the choice *indices*, so ``True``, ``1``, ``1.0``
  and ``None`` come back exactly as declared.
* Conditions become nested ``hp.choice`` branches: a parameter with
  ``when={"model": ["a", "b"]}`` lives (as one shared node) in the ``a`` and ``b`` branches
  of ``model``. hyperopt cannot branch on a numeric parameter, nor on two parents that are
  not nested in each other; those spaces raise :class:`~hpo.UnsupportedSpaceError`.

Told trials: COMPLETE -> ``status: ok`` with the loss (negated when maximizing); FAILED and
PRUNED -> ``status: fail`` (hyperopt's algorithms treat them as infinitely bad and use no
partial value). The ``Trials`` object is rebuilt from the told trials, so the searcher's
saved state is just its ask counter. Each ask ``i`` uses a seed derived from
``(seed, i)``: asks before any tell (parallel workers) get distinct points, and a seeded
study is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import hyperopt
import numpy as np
from hyperopt import anneal, hp, rand, tpe
from hyperopt.base import Domain

from hpo.exceptions import UnsupportedSpaceError
from hpo.searchers.base import Searcher, Suggestion
from hpo.space import Categorical, Float, Int, Param, Space
from hpo.trial import FrozenTrial, TrialState

__all__ = ["HyperoptAnneal", "HyperoptRandom", "HyperoptSearcher", "HyperoptTPE", "to_hyperopt"]

Placement = tuple[str, frozenset[int]]  # (categorical parent, indices of its choices)


# --- space translation ------------------------------------------------------------------
def _unsupported(name: str, why: str) -> UnsupportedSpaceError:
    return UnsupportedSpaceError(f"hyperopt cannot express parameter {name!r}: {why}")


def _ancestors(placements: Mapping[str, Placement | None], name: str) -> dict[str, frozenset[int]]:
    """The (parent, accepted indices) constraints implied by ``name`` being active."""
    out: dict[str, frozenset[int]] = {}
    placement = placements.get(name)
    while placement is not None:
        parent, idxs = placement
        out[parent] = idxs
        placement = placements.get(parent)
    return out


def _placement(
    space: Space, name: str, placements: Mapping[str, Placement | None]
) -> Placement | None:
    """Where ``name`` hangs in the nested-choice tree: ``None`` at the top level, else the
    categorical parent and the branches (choice indices) that contain it."""
    conditions = space[name].conditions
    if not conditions:
        return None
    accepted: dict[str, frozenset[int]] = {}
    for parent, values in conditions.items():
        param = space[parent]
        if not isinstance(param, Categorical):
            raise _unsupported(
                name,
                f"it is conditional on the {param.kind} parameter {parent!r}; hyperopt "
                "branches only on hp.choice, so make the parent an hpo.Categorical",
            )
        accepted[parent] = frozenset(param.index(v) for v in values)
    for parent, idxs in accepted.items():  # the parent whose activity implies the others
        implied = {parent: idxs, **_ancestors(placements, parent)}
        if all(p in implied and implied[p] <= accepted[p] for p in accepted):
            return parent, idxs
    raise _unsupported(
        name,
        f"its conditions {dict(conditions)!r} involve parents that are not nested in one "
        "another; nested hp.choice branches express a condition on one categorical parent "
        "(or on a chain of nested ones)",
    )


def _fixed(param: Param) -> bool:
    """A numeric parameter with one value (``low == high``)."""
    return isinstance(param, Float | Int) and param.low == param.high


def _leaf(name: str, param: Param) -> Any:
    """The hyperopt node of a parameter without conditional children."""
    if isinstance(param, Categorical):
        return hp.choice(name, list(range(len(param.choices))))
    if _fixed(param):  # low == high: one value, a one-option choice (ranges must be wide)
        return hp.choice(name, [0])
    if isinstance(param, Int) and param.log:
        return hp.qloguniform(name, math.log(param.low - 0.5), math.log(param.high + 0.5), 1)
    if isinstance(param, Int) or (isinstance(param, Float) and param.step is not None):
        n = param.n_values
        assert n is not None
        return hp.quniform(name, -0.5, n - 0.5, 1)
    assert isinstance(param, Float)
    if param.log:
        return hp.loguniform(name, math.log(param.low), math.log(param.high))
    return hp.uniform(name, param.low, param.high)


def to_hyperopt(space: Space) -> dict[str, Any]:
    """The hyperopt search space (nested ``hp.choice`` for conditions) of ``space``.

    Labels are our parameter names; a value drawn for label ``name`` is the raw value
    :func:`from_raw` turns back into ours (a choice or grid index, or the number itself).
    Raises :class:`~hpo.UnsupportedSpaceError` for conditions hyperopt cannot express.

    >>> to_hyperopt(Space({"x": Float(0, 1)}))                     # doctest: +SKIP
    {'x': <hyperopt.pyll.base.Apply ...>}
    """
    placements: dict[str, Placement | None] = {}
    for name in space:
        placements[name] = _placement(space, name, placements)
    children: dict[str, list[tuple[str, frozenset[int]]]] = {}
    for name, placement in placements.items():
        if placement is not None:
            children.setdefault(placement[0], []).append((name, placement[1]))
    nodes: dict[str, Any] = {}

    def node(name: str) -> Any:  # memoized: a node shared by several branches is one node
        if name not in nodes:
            param = space[name]
            if name in children:
                assert isinstance(param, Categorical)
                branches = [
                    {child: node(child) for child, idxs in children[name] if i in idxs}
                    for i in range(len(param.choices))
                ]
                nodes[name] = hp.choice(name, branches)
            else:
                nodes[name] = _leaf(name, param)
        return nodes[name]

    return {name: node(name) for name, placement in placements.items() if placement is None}


def from_raw(param: Param, raw: Any) -> Any:
    """Our value for hyperopt's raw value of ``param`` (always inside the parameter)."""
    x = float(raw)
    if isinstance(param, Categorical):
        return param.choices[min(max(round(x), 0), len(param.choices) - 1)]
    if _fixed(param):
        return param.low  # type: ignore[attr-defined]
    if isinstance(param, Int) and param.log:
        return min(max(round(x), param.low), param.high)
    if isinstance(param, Int):
        return param.low + min(max(round(x), 0), param.n_values - 1) * param.step
    assert isinstance(param, Float)
    if param.step is not None:
        n = param.n_values
        assert n is not None
        return min(param.low + min(max(round(x), 0), n - 1) * param.step, param.high)
    return min(max(x, param.low), param.high)


def to_raw(param: Param, value: Any) -> float | int:
    """hyperopt's raw value for our ``value`` of ``param`` (inverse of :func:`from_raw`)."""
    if isinstance(param, Categorical):
        return param.index(value)
    if _fixed(param):
        return 0
    if isinstance(param, Int) and param.log:
        return float(value)
    if isinstance(param, Int):
        return float((int(value) - param.low) // param.step)
    assert isinstance(param, Float)
    if param.step is not None:
        return float(round((float(value) - param.low) / param.step))
    return float(value)


# --- the searchers ----------------------------------------------------------------------
def _check_number(name: str, value: Any, *, low: float, strict: bool, integer: bool) -> None:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    ok = (value > low if strict else value >= low) if ok and math.isfinite(value) else False
    if not ok:
        what = "an int" if integer else "a number"
        raise ValueError(
            f"`{name}` must be {what} {'>' if strict else '>='} {low:g}, got {value!r}"
        )


class HyperoptSearcher(Searcher):
    """Base of the hyperopt adapters: subclasses set ``_algorithm`` and ``_options``."""

    state_version = 1

    def __init__(
        self, space: Space | None, *, direction: str = "minimize", seed: int | None = None
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        self._domain: Domain | None = None
        self._trials: hyperopt.Trials | None = None
        self._told: set[int] = set()
        self._translate()  # an unsupported space fails here, before a study is stored

    # hooks for subclasses
    def _algorithm(self) -> Callable[..., list[dict[str, Any]]]:
        raise NotImplementedError

    def _options(self) -> dict[str, Any]:
        return {}

    def _translate(self) -> dict[str, Any]:
        try:
            return to_hyperopt(self.space)
        except UnsupportedSpaceError as exc:
            raise UnsupportedSpaceError(f"searcher {self.name!r}: {exc}") from None

    # the space is checked when the searcher is built; the Domain and Trials on first use
    def _hyperopt(self) -> tuple[Domain, hyperopt.Trials]:
        if self._domain is None or self._trials is None:
            self._domain = Domain(_never_called, self._translate())
            self._trials = hyperopt.Trials()
        return self._domain, self._trials

    def _ask(self, n: int) -> list[Suggestion]:
        domain, trials = self._hyperopt()
        out = []
        for _ in range(n):
            index = self._next_index("ask")
            seed = int(self._rng_for(index).integers(2**31 - 1))
            new_id = max(self._told, default=-1) + 1
            (doc,) = self._algorithm()([new_id], domain, trials, seed, **self._options())
            out.append(Suggestion(self._config(doc["misc"]["vals"]), info={"ask": index}))
        return out

    def _config(self, vals: Mapping[str, list[Any]]) -> dict[str, Any]:
        return {name: from_raw(p, vals[name][0]) for name, p in self.space.items() if vals[name]}

    def _tell(self, trial: FrozenTrial) -> None:
        if trial.number in self._told or self.space.violations(trial.params):
            return  # told twice, or not a point of this space: nothing to learn
        domain, trials = self._hyperopt()
        tid = trial.number
        loss = self._loss(trial)
        result = {"status": hyperopt.STATUS_FAIL}
        if loss is not None and trial.state is TrialState.COMPLETE:
            result = {"status": hyperopt.STATUS_OK, "loss": float(loss)}
        params = trial.params
        misc = {
            "tid": tid,
            "cmd": domain.cmd,
            "workdir": domain.workdir,
            "idxs": {n: [tid] if n in params else [] for n in self.space},
            "vals": {
                n: [to_raw(p, params[n])] if n in params else [] for n, p in self.space.items()
            },
        }
        (doc,) = trials.new_trial_docs([tid], [None], [result], [misc])
        doc["state"] = hyperopt.JOB_STATE_DONE
        trials.insert_trial_docs([doc])
        trials.refresh()
        self._told.add(tid)


def _never_called(config: Any) -> float:
    raise RuntimeError("the hpo study evaluates objectives; hyperopt's fmin is not used")


class HyperoptRandom(HyperoptSearcher):
    """``hyperopt.rand.suggest``: independent draws from hyperopt's prior (no options).

    >>> make_searcher("hyperopt:rand", space, seed=0).ask(2)         # doctest: +SKIP
    """

    name = "hyperopt:rand"

    def _algorithm(self) -> Callable[..., list[dict[str, Any]]]:
        return rand.suggest


class HyperoptTPE(HyperoptSearcher):
    """``hyperopt.tpe.suggest``: the Tree-structured Parzen Estimator.

    Options (hyperopt's defaults): ``n_startup_jobs=20`` random trials before TPE,
    ``gamma=0.25`` fraction of trials counted as good, ``n_EI_candidates=24`` candidates
    scored per ask, ``prior_weight=1.0`` weight of the prior in the Parzen estimators.

    >>> make_searcher("hyperopt:tpe", space, seed=0, n_startup_jobs=10)  # doctest: +SKIP
    """

    name = "hyperopt:tpe"

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        n_startup_jobs: int = 20,
        gamma: float = 0.25,
        n_EI_candidates: int = 24,
        prior_weight: float = 1.0,
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        _check_number("n_startup_jobs", n_startup_jobs, low=1, strict=False, integer=True)
        _check_number("gamma", gamma, low=0, strict=True, integer=False)
        if gamma > 1:
            raise ValueError(f"`gamma` must be in (0, 1], got {gamma!r}")
        _check_number("n_EI_candidates", n_EI_candidates, low=1, strict=False, integer=True)
        _check_number("prior_weight", prior_weight, low=0, strict=True, integer=False)
        self.n_startup_jobs = int(n_startup_jobs)
        self.gamma = float(gamma)
        self.n_EI_candidates = int(n_EI_candidates)
        self.prior_weight = float(prior_weight)

    def _algorithm(self) -> Callable[..., list[dict[str, Any]]]:
        return tpe.suggest

    def _options(self) -> dict[str, Any]:
        return {
            "n_startup_jobs": self.n_startup_jobs,
            "gamma": self.gamma,
            "n_EI_candidates": self.n_EI_candidates,
            "prior_weight": self.prior_weight,
            "verbose": False,
        }


class HyperoptAnneal(HyperoptSearcher):
    """``hyperopt.anneal.suggest``: sample around one of the best trials, ever closer.

    Options (hyperopt's defaults): ``avg_best_idx=2.0`` mean rank of the trial sampled
    around (geometric distribution, >= 1), ``shrink_coef=0.1`` how fast the neighbourhood
    shrinks with the number of observations (>= 0).

    >>> make_searcher("hyperopt:anneal", space, seed=0, shrink_coef=0.2)  # doctest: +SKIP
    """

    name = "hyperopt:anneal"

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        avg_best_idx: float = 2.0,
        shrink_coef: float = 0.1,
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        _check_number("avg_best_idx", avg_best_idx, low=1, strict=False, integer=False)
        _check_number("shrink_coef", shrink_coef, low=0, strict=False, integer=False)
        self.avg_best_idx = float(avg_best_idx)
        self.shrink_coef = float(shrink_coef)

    def _algorithm(self) -> Callable[..., list[dict[str, Any]]]:
        return anneal.suggest

    def _options(self) -> dict[str, Any]:
        return {"avg_best_idx": self.avg_best_idx, "shrink_coef": self.shrink_coef}
