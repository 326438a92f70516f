"""Tree-structured Parzen Estimator (TPE): a multivariate, conditional-aware searcher.

Each ask after ``n_startup`` complete trials ranks the complete trials by loss, takes the
best ``n_good = clip(ceil(gamma * n_complete), 1, 25)`` as *good* and every other told
trial as *bad*, fits a Parzen mixture ``l(x)`` to the good ones and ``g(x)`` to the bad
ones (see :mod:`hpo.searchers._parzen`), draws ``n_candidates`` points from ``l`` and
proposes the one maximizing ``log l(x) - log g(x)``.

Choices, documented here once:

* **Multivariate** (default): one mixture component per observation over all
  parameters, so candidates keep the good trials' correlations. ``multivariate=False``
  models each parameter independently (classic TPE) and picks each one's best candidate.
* **Conditional spaces**: a component covers the parameters active in its trial and uses
  the uniform prior for the others; a candidate's inactive parameters are blanked out
  (never proposed) and left out of both densities.
* **Pruned trials** (stopped early by a stopper) are ranked after every complete trial:
  those that got further first, then by their loss at the last step they reported
  (Optuna's TPE ranks them the same way), so with a stopper such as ASHA, where most
  trials are pruned, the model learns from how far and how well they ran. They count
  towards ``n_startup`` and the good fraction like complete trials. **Failed trials**,
  and pruned ones without a report, never enter ``l``; they join ``g``.
* **Outstanding asks**: each ask draws from its own generator, ``_rng_for(index)`` with
  an index from the study's shared counter, so parallel workers never repeat each other;
  within one searcher the configurations asked but not yet told (the last 64) join ``g``
  as a *constant liar*, which pushes the next asks away from them. They are kept by
  suggestion id: a told trial clears the ask whose id it carries
  (``trial.suggestion_id``); a trial with no id or another searcher's (enqueued, from
  another process) is an observation only. The saved state keeps them with their ids.
* **Cost**: trials are encoded once when told and kept in growing arrays; an ask sorts
  the losses (``O(n log n)``) and evaluates ``n_candidates`` points against at most
  ``25 + 300 + 64`` kernels, vectorized: beyond 300 bad trials, ``g`` uses 300 of them
  evenly spaced in loss rank (a stratified subsample that keeps its shape), so an ask
  costs about the same at 1,000 trials as at 300.
* **Define-by-run**: ``suggest_param`` runs univariate TPE for the named parameter over
  the told trials that have it.

>>> study = hpo.create_study(objective, searcher="tpe", seed=0)   # doctest: +SKIP
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from hpo.searchers._parzen import Dim, ParzenMixture
from hpo.searchers.base import Searcher, Suggestion
from hpo.space import Categorical, Param, Space
from hpo.trial import FrozenTrial, TrialState

MAX_GOOD = 25
MAX_PENDING = 64
MAX_BAD = 300


def _encode_value(param: Param, value: Any) -> float:
    """One column of the model's representation: ``u`` in [0, 1], or a choice index."""
    if isinstance(param, Categorical):
        return float(param.index(value))
    return float(param.encode(value)[0])


def _decode_value(param: Param, x: float) -> Any:
    if isinstance(param, Categorical):
        return param.choices[int(x)]
    return param.decode(np.array([x]))


class TPESearcher(Searcher):
    """Tree-structured Parzen Estimator.

    Options: ``n_startup`` uniform random trials before the model (counted in complete
    trials), ``n_candidates`` draws from ``l`` per ask, ``gamma`` the good fraction,
    ``prior_weight`` the uniform prior's weight relative to one observation, and
    ``multivariate``.
    """

    name = "tpe"
    supports_define_by_run = True
    #: 2: pending asks saved with their suggestion ids (version 1 states still load)
    state_version = 2

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        n_startup: int = 10,
        n_candidates: int = 24,
        gamma: float = 0.1,
        prior_weight: float = 1.0,
        multivariate: bool = True,
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        for option, value, least in (
            ("n_startup", n_startup, 0),
            ("n_candidates", n_candidates, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
                raise ValueError(f"tpe: `{option}` must be an int >= {least}, got {value!r}")
        if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not 0 < gamma <= 1:
            raise ValueError(f"tpe: `gamma` must be a fraction in (0, 1], got {gamma!r}")
        if (
            isinstance(prior_weight, bool)
            or not isinstance(prior_weight, int | float)
            or not (math.isfinite(prior_weight) and prior_weight > 0)
        ):
            raise ValueError(f"tpe: `prior_weight` must be a number > 0, got {prior_weight!r}")
        if not isinstance(multivariate, bool):
            raise ValueError(f"tpe: `multivariate` must be True or False, got {multivariate!r}")
        self.n_startup = int(n_startup)
        self.n_candidates = int(n_candidates)
        self.gamma = float(gamma)
        self.prior_weight = float(prior_weight)
        self.multivariate = multivariate
        self._salt = seed if seed is not None else int(self.rng.integers(2**31))
        self._names = list(self.space)
        self._dims = [Dim.of(self.space[n]) for n in self._names]
        self._x_ = np.empty((64, len(self._names)))  # told trials, one column per parameter
        self._loss_ = np.empty(64)  # sort key: complete loss, pruned last loss, +inf failed
        self._stage_ = np.empty(64)  # 0 complete; 1 / (1 + last step) pruned; 2 unranked
        self._n_rows_ = 0
        self._n_complete_ = 0  # ranked trials: complete, or pruned with a report
        # asked, not yet told (constant liar): suggestion id -> (config, its row or None)
        self._pending: dict[str, tuple[dict[str, Any], np.ndarray | None]] = {}
        self._raw_: list[tuple[dict[str, Any], float]] = []  # every told trial (define-by-run)
        self._dbr_cache_: dict[str, tuple[int, list[float], list[float]]] = {}

    @property
    def startup_trials(self) -> int:
        return max(self.n_startup, 1)

    # --- bookkeeping -------------------------------------------------------------------
    def _row(self, config: dict[str, Any]) -> np.ndarray | None:
        if self.space.violations(config):
            return None  # a foreign trial outside the space: nothing to learn from
        row = np.full(len(self._names), np.nan)
        for p, name in enumerate(self._names):
            if name in config:
                row[p] = _encode_value(self.space[name], config[name])
        return row

    def _rank_key(self, trial: FrozenTrial) -> tuple[float, float]:
        """``(stage, loss)``: trials sort by stage, then loss (see the module docstring)."""
        loss = self._loss(trial)
        if loss is not None:
            return 0.0, loss
        if trial.state is TrialState.PRUNED and trial.intermediate_values:
            step = max(trial.intermediate_values)
            value = trial.intermediate_values[step]
            if math.isfinite(value):
                return 1.0 / (1.0 + max(step, 0)), value if self.direction == "minimize" else -value
        return 2.0, math.inf

    def _tell(self, trial: FrozenTrial) -> None:
        loss = self._loss(trial)
        stage, key = self._rank_key(trial)
        if trial.suggestion_id is not None:
            self._pending.pop(trial.suggestion_id, None)
        self._raw_.append((trial.params, math.inf if loss is None else loss))
        row = self._row(trial.params) if len(self.space) else None
        if row is None:
            return
        if self._n_rows_ == len(self._loss_):  # grow by doubling: O(1) amortized per tell
            self._x_ = np.concatenate([self._x_, np.empty_like(self._x_)])
            self._loss_ = np.concatenate([self._loss_, np.empty_like(self._loss_)])
            self._stage_ = np.concatenate([self._stage_, np.empty_like(self._stage_)])
        self._x_[self._n_rows_] = row
        self._loss_[self._n_rows_] = key
        self._stage_[self._n_rows_] = stage
        self._n_rows_ += 1
        self._n_complete_ += stage < 2

    def _n_good(self, n_complete: int) -> int:
        return min(max(math.ceil(self.gamma * n_complete), 1), MAX_GOOD, n_complete)

    def _split(
        self, x: np.ndarray, loss: np.ndarray, stage: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        # by stage, then loss (both stable: ties keep trial order)
        order = np.argsort(loss, kind="stable") if stage is None else np.lexsort((loss, stage))
        n_good = self._n_good(int(np.isfinite(loss).sum()))
        bad = order[n_good:]
        if bad.size > MAX_BAD:  # a subsample stratified by loss rank keeps g's shape
            bad = bad[np.linspace(0, bad.size - 1, MAX_BAD).round().astype(int)]
        return x[order[:n_good]], x[bad]

    # --- asking ------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Suggestion]:
        out = []
        for _ in range(n):
            index = self._next_index("draw")
            rng = self._rng_for(index)
            if self._n_complete_ < max(self.n_startup, 1) or not self._names:
                config = self.space.sample(rng)
            else:
                config = self._propose(rng)
            suggestion = Suggestion(config, info={"draw": index})
            if self._names:
                self._pending[suggestion.id] = (config, self._row(config))
                while len(self._pending) > MAX_PENDING:
                    self._pending.pop(next(iter(self._pending)))
            out.append(suggestion)
        return out

    def _propose(self, rng: np.random.Generator) -> dict[str, Any]:
        n = self._n_rows_
        good, bad = self._split(self._x_[:n], self._loss_[:n], self._stage_[:n])
        lies = [row for _, row in self._pending.values() if row is not None]
        if lies:
            bad = np.vstack([bad, *lies])
        if self.multivariate:
            l_mix = ParzenMixture(good, self._dims, prior_weight=self.prior_weight)
            g_mix = ParzenMixture(bad, self._dims, prior_weight=self.prior_weight)
            cand = self._blank_inactive(l_mix.sample(rng, self.n_candidates))
            best = cand[int(np.argmax(l_mix.log_pdf(cand) - g_mix.log_pdf(cand)))]
        else:
            best = np.array(
                [
                    self._univariate(good[:, p], bad[:, p], dim, rng)
                    for p, dim in enumerate(self._dims)
                ]
            )
        return self._config(best)

    def _univariate(
        self, good: np.ndarray, bad: np.ndarray, dim: Dim, rng: np.random.Generator
    ) -> float:
        """The best of ``n_candidates`` draws for one parameter (observations where it
        was active); the prior alone when none were."""
        good, bad = good[~np.isnan(good)], bad[~np.isnan(bad)]
        l_mix = ParzenMixture(good[:, None], [dim], prior_weight=self.prior_weight)
        g_mix = ParzenMixture(bad[:, None], [dim], prior_weight=self.prior_weight)
        cand = l_mix.sample(rng, self.n_candidates)
        return float(cand[int(np.argmax(l_mix.log_pdf(cand) - g_mix.log_pdf(cand))), 0])

    def _blank_inactive(self, rows: np.ndarray) -> np.ndarray:
        return blank_inactive(self.space, self._names, rows)

    def _config(self, row: np.ndarray) -> dict[str, Any]:
        return row_config(self.space, self._names, row)

    # --- define-by-run -------------------------------------------------------------------
    def _suggest_param(
        self, trial_number: int, config: dict[str, Any], name: str, param: Param
    ) -> Any:
        entropy = [self._salt, trial_number, zlib.crc32(name.encode())]
        rng = np.random.default_rng(entropy)
        cursor, values, losses = self._dbr_cache_.get(name, (0, [], []))
        for params, loss in self._raw_[cursor:]:  # encode each told trial once per name
            if name in params and param.contains(params[name]):
                values.append(_encode_value(param, params[name]))
                losses.append(loss)
        self._dbr_cache_[name] = (len(self._raw_), values, losses)
        loss_arr = np.array(losses)
        if np.isfinite(loss_arr).sum() < max(self.n_startup, 1):
            return param.sample(rng)
        good, bad = self._split(np.array(values), loss_arr)
        return _decode_value(param, self._univariate(good, bad, Dim.of(param), rng))

    # --- state ---------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {"salt": self._salt, "pending": pending_entries(self._pending)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(upgrade_pending_state(state, self.state_version))

    def _load_state(self, state: dict[str, Any]) -> None:
        self._salt = int(state.get("salt", self._salt))
        self._pending = {i: (c, self._row(c)) for i, c in load_pending(state)}


def pending_entries(pending: dict[str, tuple[dict[str, Any], Any]]) -> list[dict[str, Any]]:
    """Pending asks as saved: ``[{"id": suggestion id, "config": config}, ...]``, oldest
    first."""
    return [{"id": i, "config": dict(c)} for i, (c, _) in pending.items()]


def load_pending(state: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(suggestion id, config)`` of the pending asks saved by :func:`pending_entries`."""
    return [(str(e["id"]), dict(e["config"])) for e in state.get("pending", [])]


def upgrade_pending_state(state: dict[str, Any], version: int) -> dict[str, Any]:
    """A version 1 ``state`` (saved before asks had ids: its pending asks are bare
    configurations) as version ``version``, without those pending asks: no trial can
    answer them by id, so the trials that ran them count as observations only. Any other
    state is returned as it is (and checked by ``load_state_dict``)."""
    old = state.get("version")
    if type(old) is int and old == 1:
        return {**state, "version": version, "pending": []}
    return state


def blank_inactive(space: Space, names: list[str], rows: np.ndarray) -> np.ndarray:
    """Set to NaN (in place) the parameters each row's own values make inactive; rows hold
    one column per name of ``names``, encoded as :func:`_encode_value` does."""
    if not space.is_conditional:
        return rows
    for row in rows:
        config: dict[str, Any] = {}
        for p, name in enumerate(names):
            if space.is_active(name, config):
                config[name] = _decode_value(space[name], row[p])
            else:
                row[p] = np.nan
    return rows


def row_config(space: Space, names: list[str], row: np.ndarray) -> dict[str, Any]:
    """The configuration an encoded row stands for (its active parameters only)."""
    config: dict[str, Any] = {}
    for p, name in enumerate(names):
        if space.is_active(name, config):
            config[name] = _decode_value(space[name], row[p])
    return config
