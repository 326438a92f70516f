"""Gaussian-process Bayesian optimization in the unit cube (numpy/scipy only).

The model (:mod:`hpo.searchers._gp_model`) is a Matérn-5/2 GP with one length scale per
encoded dimension, fitted by maximizing the log marginal likelihood; this module holds the
control flow:

* **Initial design.** The first ``n_initial`` points (default ``min(10, 2 * d + 2)`` for
  ``d`` encoded dimensions) come from a Sobol sequence scrambled by the seed; the design
  also goes on while fewer than two trials have completed with a finite value.
* **Data.** COMPLETE trials give their loss (the value, negated when maximizing). FAILED
  and PRUNED trials (and COMPLETE ones with a non-finite value) are *imputed* with the
  worst observed loss, so the model steers away from them without their intermediate
  values skewing it. Outputs are standardized. Inactive conditional dimensions are filled
  with 0.5, the value :meth:`Space.decode` reads for them.
* **Pending points.** Asked but not yet told configurations (``ask(n > 1)``, parallel
  workers) enter the posterior as a *constant liar* at the mean observed loss
  (hyperparameters are fitted on real data only), so several outstanding asks are
  distinct and spread. They are kept by suggestion id, and in the state with their ids,
  so a rebuilt searcher continues identically; a told trial clears the pending ask whose
  id it carries (``trial.suggestion_id``), while a trial without one (enqueued, from
  another process) is only an observation.
* **Acquisition** (``"ei"`` default, in log space; ``"pi"``; ``"ucb"`` with ``beta``)
  is maximized by scoring 768 random and local candidates (384 unless every parameter
  is a plain unconditional ``Float``) projected through the codec (``encode(decode(u))``,
  so one-hot, integer and step dimensions are exact and inactive ones at 0.5), then
  refining the best 5 by L-BFGS-B over their numeric dimensions (categorical one-hot
  blocks fixed, i.e. per categorical combination; integers relaxed), and re-scoring the
  decoded and re-encoded results. A configuration already evaluated or pending is skipped.
* **Cost.** ``O(n^3)`` per fit; the fit warm-starts from the previous hyperparameters
  (plus a restart from the prior's centre every 4th fit, three starts the first time).
  BLAS is held to one thread during an ask (through ``threadpoolctl`` when installed).
* **State.** The Sobol seed, the pending asks (id and configuration) and the last
  hyperparameters (the next fit warm-starts from them); everything else is rebuilt from
  the told trials. Version 2 added the ids; a version 1 state still loads, its pending
  configurations dropped.

>>> searcher = GPSearcher(Space({"x": Float(-5, 10)}), seed=0)        # doctest: +SKIP
>>> searcher.ask(1)[0].config                                         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy import optimize
from scipy.stats import qmc

from hpo.searchers import _gp_model as gpm
from hpo.searchers.base import Searcher, Suggestion
from hpo.space import Categorical, Float, Space
from hpo.trial import FrozenTrial

_ACQUISITIONS = ("ei", "pi", "ucb")
_N_RANDOM, _N_LOCAL, _N_REFINE, _MAX_PENDING = 512, 256, 5, 256


def _key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread while fitting: the matrices are small, and threaded
    OpenBLAS spinning on a busy machine made each ask 10-20x slower. ``threadpoolctl`` is
    used when installed (it comes with scikit-learn); otherwise this does nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def _check_number(name: str, value: Any, *, positive: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"gp: `{name}` must be a finite number {bound}, got {value!r}")
    return float(value)


class GPSearcher(Searcher):
    """Bayesian optimization with a Gaussian process (see the module docstring).

    Options: ``acquisition`` (``"ei"``, ``"pi"`` or ``"ucb"``), ``n_initial`` (size of
    the Sobol initial design, ``None`` for ``min(10, 2 * d + 2)``), ``beta`` (UCB
    exploration weight, default 2.0) and ``xi`` (EI/PI margin in standardized units,
    default 0.01).
    """

    name = "gp"
    #: 2: pending asks saved with their suggestion ids (version 1 states still load)
    state_version = 2

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        acquisition: str = "ei",
        n_initial: int | None = None,
        beta: float = 2.0,
        xi: float = 0.01,
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        if acquisition not in _ACQUISITIONS:
            raise ValueError(
                f"gp: `acquisition` must be one of {list(_ACQUISITIONS)}, got {acquisition!r}"
            )
        if n_initial is not None and (
            isinstance(n_initial, bool) or not isinstance(n_initial, int) or n_initial < 1
        ):
            raise ValueError(f"gp: `n_initial` must be an int >= 1 or None, got {n_initial!r}")
        self.acquisition = acquisition
        self.beta = _check_number("beta", beta, positive=True)
        self.xi = _check_number("xi", xi, positive=False)
        d = self.space.n_dims
        self.n_initial = n_initial if n_initial is not None else min(10, 2 * d + 2)
        self._sobol_seed = seed if seed is not None else int(self.rng.integers(2**31))
        self._sobol: qmc.Sobol | None = None
        self._sobol_pos = 0
        self._x: list[np.ndarray] = []  # encoded told points (inactive dims at 0.5)
        self._loss_values: list[float | None] = []  # None: failed / pruned / non-finite
        self._seen: set[str] = set()  # keys of the told configurations
        self._pending: dict[str, dict[str, Any]] = {}  # suggestion id -> config, oldest first
        self._theta: np.ndarray | None = None
        self._numeric = np.zeros(d, dtype=bool)
        for name, param in self.space.items():
            self._numeric[self.space.dims_of(name)] = not isinstance(param, Categorical)
        self._plain = not self.space.is_conditional and all(
            isinstance(p, Float) and p.step is None for p in self.space.values()
        )

    # --- hooks ------------------------------------------------------------------------
    def _tell(self, trial: FrozenTrial) -> None:
        if trial.suggestion_id is not None:
            self._pending.pop(trial.suggestion_id, None)
        try:
            u = self.space.encode(trial.params, fill=0.5)
        except (ValueError, TypeError, KeyError):
            return  # a foreign configuration the codec cannot place: nothing to learn
        self._seen.add(_key(dict(trial.params)))
        self._x.append(u)
        self._loss_values.append(self._loss(trial))

    def _state(self) -> dict[str, Any]:
        theta = None if self._theta is None else [float(t) for t in self._theta]
        pending = [{"id": i, "config": dict(c)} for i, c in self._pending.items()]
        return {"sobol_seed": self._sobol_seed, "pending": pending, "theta": theta}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version = state.get("version")
        if type(version) is int and version == 1:  # pending configurations without ids
            state = {**state, "version": self.state_version, "pending": []}
        super().load_state_dict(state)

    def _load_state(self, state: dict[str, Any]) -> None:
        self._sobol_seed = int(state.get("sobol_seed", self._sobol_seed))
        self._sobol = None
        self._pending = {str(e["id"]): dict(e["config"]) for e in state.get("pending", [])}
        theta = state.get("theta")
        self._theta = None if theta is None else np.array(theta, dtype=float)

    def _ask(self, n: int) -> list[Suggestion]:
        out = []
        info: dict[str, Any]
        model: tuple[np.ndarray, np.ndarray, np.ndarray, float] | None = None
        for _ in range(n):
            n_complete = sum(v is not None for v in self._loss_values)
            initial = len(self._x) + len(self._pending) < self.n_initial or n_complete < 2
            if self.space.n_dims == 0:
                config, info = self.space.decode(np.zeros(0)), {}
            elif initial:
                index = self._next_index("sobol")
                config, info = self.space.decode(self._sobol_point(index)), {"sobol": index}
            else:
                with _one_blas_thread():
                    model = model or self._fit()
                    config = self._propose(*model)
                info = {"acquisition": self.acquisition}
            suggestion = Suggestion(self.space.canonical(config), info=info)
            self._pending[suggestion.id] = suggestion.config
            while len(self._pending) > _MAX_PENDING:
                del self._pending[next(iter(self._pending))]
            out.append(suggestion)
        return out

    # --- initial design ----------------------------------------------------------------
    def _sobol_point(self, index: int) -> np.ndarray:
        if self._sobol is None or index < self._sobol_pos:
            self._sobol = qmc.Sobol(self.space.n_dims, scramble=True, seed=self._sobol_seed)
            self._sobol_pos = 0
        if index > self._sobol_pos:
            self._sobol.fast_forward(index - self._sobol_pos)
        self._sobol_pos = index + 1
        return self._sobol.random(1)[0]

    # --- model ---------------------------------------------------------------------------
    def _fit(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Fit the hyperparameters on the told trials: ``(theta, x, y, best)`` with ``y``
        standardized (failed trials imputed with the worst loss)."""
        x = np.array(self._x)
        raw = np.array([np.nan if v is None else v for v in self._loss_values])
        done = ~np.isnan(raw)
        mean, sd = float(np.mean(raw[done])), float(np.std(raw[done]))
        sd = sd if sd > 1e-12 * max(1.0, abs(mean)) else 1.0
        y = (np.where(done, raw, np.max(raw[done])) - mean) / sd
        d = x.shape[1]
        rng = self._rng_for(self._next_index("fit"))
        if self._theta is None or len(self._theta) != d + 2:
            starts = [gpm.default_theta(d), gpm.sample_theta(d, rng), gpm.sample_theta(d, rng)]
        else:
            # warm start; a restart from the prior's centre every 4th fit escapes a stale optimum
            starts = [self._theta] + ([gpm.default_theta(d)] if len(x) % 4 == 0 else [])
        self._theta = gpm.fit_hyperparameters(x, y, starts)
        return self._theta, x, y, float(np.min(y[done]))

    def _project(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points as evaluated (``encode(decode(u))``, inactive dims at 0.5) and a mask of
        their active dimensions."""
        if self._plain:
            return np.clip(u, 0.0, 1.0), np.ones(u.shape, dtype=bool)
        out = np.array([self.space.encode(self.space.decode(row)) for row in u])
        active = ~np.isnan(out)
        return np.where(active, out, 0.5), active

    def _score(self, post: gpm.Posterior, u: np.ndarray, best: float) -> np.ndarray:
        mean, std = post.predict(u)
        kw = {"xi": self.xi, "beta": self.beta}
        return gpm.acquisition(self.acquisition, mean, std, best, **kw)[0]

    def _propose(
        self, theta: np.ndarray, x: np.ndarray, y: np.ndarray, best: float
    ) -> dict[str, Any]:
        rng = self._rng_for(self._next_index("propose"))
        pending = [self.space.encode(c, fill=0.5) for c in self._pending.values()]
        xs = np.vstack([x, *pending]) if pending else x
        post = gpm.Posterior(theta, xs, np.concatenate([y, np.zeros(len(pending))]))
        d = x.shape[1]
        # candidates: uniform points plus perturbations of the best observed points
        n_random, n_local = (
            (_N_RANDOM, _N_LOCAL) if self._plain else (_N_RANDOM // 2, _N_LOCAL // 2)
        )
        top = x[np.argsort(y)[: min(8, len(y))]]
        local = top[rng.integers(len(top), size=n_local)]
        scale = rng.choice([0.01, 0.05, 0.2], size=(n_local, 1))
        local = local + scale * rng.standard_normal((n_local, d))
        cand, active = self._project(np.vstack([rng.random((n_random, d)), local]))
        score = self._score(post, cand, best)
        order = np.argsort(-score)
        starts = order[:_N_REFINE]
        refined = self._refine(post, cand[starts], active[starts] & self._numeric, best)
        pool = np.vstack([self._project(refined)[0], cand[order[:20]]])
        ranked = pool[np.argsort(-self._score(post, pool, best))]
        taken = self._seen | {_key(c) for c in self._pending.values()}
        for u in [*ranked, *cand[order[20:]]]:  # the best point not evaluated or pending
            config = self.space.decode(u)
            if _key(self.space.canonical(config)) not in taken:
                return config
        return self.space.sample(rng)  # everything promising is taken: explore

    def _refine(
        self, post: gpm.Posterior, starts: np.ndarray, free: np.ndarray, best: float
    ) -> np.ndarray:
        """L-BFGS-B on the free (active numeric) dimensions of every start at once: their
        acquisitions are independent, so the gradient of the sum separates."""
        if not free.any():
            return starts
        kind, kw = self.acquisition, {"xi": self.xi, "beta": self.beta}

        def negative(v: np.ndarray) -> tuple[float, np.ndarray]:
            u = starts.copy()
            u[free] = v
            mean, std, dmean, dstd = post.predict_with_grad(u)
            a, da_dmean, da_dstd = gpm.acquisition(kind, mean, std, best, **kw)
            grad = da_dmean[:, None] * dmean + da_dstd[:, None] * dstd
            return -float(np.sum(a)), -grad[free]

        res = optimize.minimize(
            negative,
            starts[free],
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * int(free.sum()),
            options={"maxiter": 50},
        )
        out = starts.copy()
        out[free] = np.clip(res.x, 0.0, 1.0)
        return out
