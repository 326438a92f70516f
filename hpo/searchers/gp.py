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
  another process) is only an observation. Trials seen RUNNING that this searcher did
  not ask for (another process sharing the study, an enqueued configuration:
  :meth:`~hpo.searchers.base.Searcher.observe_running`) are pending too, so processes
  sharing a study do not all propose the same point (the acquisition's maximizer, often
  a corner of the cube).
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
* **Define-by-run** (no space): a GP on the space seen so far (the parameters every
  COMPLETE trial has), with independent uniform sampling for the rest, as Optuna's
  ``GPSampler`` does: see :mod:`hpo.searchers._relative`. A declared space is unaffected.
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
from hpo.searchers._relative import RelativeSampler
from hpo.searchers.base import Searcher, Suggestion
from hpo.space import Categorical, Float, Param, Space
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


def _transform(raw: np.ndarray, done: np.ndarray, kind: str) -> np.ndarray:
    """Losses as the GP's standardized outputs; failed trials (``~done``) get the worst."""
    vals = raw[done]
    mean, sd = float(np.mean(vals)), float(np.std(vals))
    sd = sd if sd > 1e-12 * max(1.0, abs(mean)) else 1.0
    z = (vals - mean) / sd
    if kind == "power" and len(vals) >= 3 and np.ptp(z) > 0:
        from scipy import stats

        z = np.asarray(stats.yeojohnson(z)[0], dtype=float)
        m, v = float(np.mean(z)), float(np.std(z))
        z = (z - m) / (v if v > 1e-12 else 1.0)
    elif kind == "rank" and len(vals) >= 3:
        from scipy import special, stats

        z = special.ndtri((stats.rankdata(vals) - 0.5) / len(vals))
    out = np.empty(len(raw))
    out[done] = z
    out[~done] = np.max(z)
    return out


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
    supports_define_by_run = True
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
        experimental: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        self.experimental = dict(experimental or {})
        ex = self.experimental
        self._output = str(ex.get("output", "standardize"))
        self._prior = gpm.Prior(
            lengthscale=tuple(ex.get("ls_prior", gpm.DEFAULT_PRIOR.lengthscale)),
            lengthscale_per_log_d=float(ex.get("ls_per_log_d", 0.0)),
            noise=tuple(ex.get("noise_prior", gpm.DEFAULT_PRIOR.noise)),
        )
        self._n_random = int(ex.get("n_random", _N_RANDOM))
        self._n_local = int(ex.get("n_local", _N_LOCAL))
        self._n_refine = int(ex.get("n_refine", _N_REFINE))
        self._sobol_candidates = bool(ex.get("sobol_candidates", False))
        self._hedge = bool(ex.get("hedge", False))
        self._hedge_eta = float(ex.get("hedge_eta", 1.0))
        self._gains = np.zeros(len(_ACQUISITIONS))
        self._hedge_last: list[list[float]] | None = None
        tr = ex.get("trust_region", False)
        self._trust_region_option = tr
        self._tr_period = int(ex.get("tr_period", 1))
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
        self._trust_region = self._trust_region_option is True or (
            isinstance(self._trust_region_option, int | float)
            and not isinstance(self._trust_region_option, bool)
            and int(self._numeric.sum()) >= self._trust_region_option
        )
        self._plain = not self.space.is_conditional and all(
            isinstance(p, Float) and p.step is None for p in self.space.values()
        )
        self._relative: RelativeSampler | None = None
        if space is None:  # define-by-run: a GP on the space seen so far (_relative.py)
            options = {
                "acquisition": acquisition,
                "n_initial": n_initial,
                "beta": beta,
                "xi": xi,
                "experimental": experimental,
            }
            self._relative = RelativeSampler(
                self,
                lambda sub, sub_seed: GPSearcher(
                    sub,
                    direction=direction,
                    seed=sub_seed,
                    **options,  # type: ignore[arg-type]
                ),
            )

    @property
    def startup_trials(self) -> int:
        return max(self.n_initial, 2)

    # --- hooks ------------------------------------------------------------------------
    def _suggest_param_for(
        self,
        suggestion_id: str | None,
        trial_number: int,
        config: dict[str, Any],
        name: str,
        param: Param,
    ) -> Any:
        assert self._relative is not None, "suggest_param needs a define-by-run gp"
        return self._relative.suggest(suggestion_id, trial_number, name, param)

    def _observe_running(self, trial: FrozenTrial) -> None:
        """A trial running elsewhere (another process, an enqueued configuration) joins
        the pending asks, so the constant liar and the duplicate check keep this
        process's next proposals away from it."""
        if self._relative is not None:
            self._relative.observe_running(trial)
            return
        if trial.suggestion_id in self._pending:
            return
        if self.space.violations(dict(trial.params)):
            return
        key = trial.suggestion_id or f"running:{trial.number}"
        self._pending[key] = self.space.canonical(dict(trial.params))
        while len(self._pending) > _MAX_PENDING:
            del self._pending[next(iter(self._pending))]

    def _tell(self, trial: FrozenTrial) -> None:
        if self._relative is not None:
            self._relative.tell(trial)
            return
        self._pending.pop(f"running:{trial.number}", None)
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
        state = {"sobol_seed": self._sobol_seed, "pending": pending, "theta": theta}
        if self._relative is not None:
            state["define_by_run"] = self._relative.state()
        return state

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
        if self._relative is not None and "define_by_run" in state:
            self._relative.load_state(state["define_by_run"])

    def _ask(self, n: int) -> list[Suggestion]:
        if self._relative is not None:
            return self._relative.ask(n)
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
        y = _transform(raw, done, self._output)
        d = x.shape[1]
        rng = self._rng_for(self._next_index("fit"))
        prior = self._prior
        if self._theta is None or len(self._theta) != d + 2:
            starts = [
                gpm.default_theta(d, prior),
                gpm.sample_theta(d, rng, prior),
                gpm.sample_theta(d, rng, prior),
            ]
        else:
            # warm start; a restart from the prior's centre every 4th fit escapes a stale optimum
            starts = [self._theta] + ([gpm.default_theta(d, prior)] if len(x) % 4 == 0 else [])
        self._theta = gpm.fit_hyperparameters(x, y, starts, prior=prior)
        return self._theta, x, y, float(np.min(y[done]))

    def _project(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points as evaluated (``encode(decode(u))``, inactive dims at 0.5) and a mask of
        their active dimensions."""
        if self._plain:
            return np.clip(u, 0.0, 1.0), np.ones(u.shape, dtype=bool)
        out = np.array([self.space.encode(self.space.decode(row)) for row in u])
        active = ~np.isnan(out)
        return np.where(active, out, 0.5), active

    def _score(
        self, post: gpm.Posterior, u: np.ndarray, best: float, kind: str | None = None
    ) -> np.ndarray:
        mean, std = post.predict(u)
        kw = {"xi": self.xi, "beta": self.beta}
        return gpm.acquisition(kind or self.acquisition, mean, std, best, **kw)[0]

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
            (self._n_random, self._n_local)
            if self._plain
            else (self._n_random // 2, self._n_local // 2)
        )
        top = x[np.argsort(y)[: min(8, len(y))]]
        local = top[rng.integers(len(top), size=n_local)]
        scale = rng.choice([0.01, 0.05, 0.2], size=(n_local, 1))
        local = local + scale * rng.standard_normal((n_local, d))
        if self._sobol_candidates:
            sobol = qmc.Sobol(d, scramble=True, seed=rng)
            uniform = sobol.random(n_random)
        else:
            uniform = rng.random((n_random, d))
        box = None
        if self._trust_region and (len(self._x) + len(self._pending)) % self._tr_period == 0:
            box = self._box(theta, x, y)
            uniform, local = self._in_box(box, x[np.argmin(y)], uniform, local, rng)
        cand, active = self._project(np.vstack([uniform, local]))
        taken = self._seen | {_key(c) for c in self._pending.values()}
        if not self._hedge:
            config = self._best_for(post, cand, active, best, box, taken, None)
            return config if config is not None else self.space.sample(rng)  # all taken
        # GP-Hedge (Hoffman et al. 2011): each acquisition proposes its maximizer; one is
        # chosen with probability softmax(eta * gain), a gain being the sum of minus the
        # posterior mean at that acquisition's past proposals
        if self._hedge_last is not None:
            fresh = gpm.Posterior(theta, x, y)
            self._gains -= fresh.predict(np.array(self._hedge_last))[0]
        proposals = [
            self._best_for(post, cand, active, best, box, taken, k) or self.space.sample(rng)
            for k in _ACQUISITIONS
        ]
        self._hedge_last = [[float(v) for v in self.space.encode(c, fill=0.5)] for c in proposals]
        logits = self._hedge_eta * (self._gains - np.max(self._gains))
        probs = np.exp(logits) / np.sum(np.exp(logits))
        return proposals[int(rng.choice(len(proposals), p=probs))]

    def _best_for(
        self,
        post: gpm.Posterior,
        cand: np.ndarray,
        active: np.ndarray,
        best: float,
        box: tuple[np.ndarray, np.ndarray] | None,
        taken: set[str],
        kind: str | None,
    ) -> dict[str, Any] | None:
        """The best candidate by ``kind`` (default: the searcher's acquisition) after
        refinement, not evaluated or pending; ``None`` when every candidate is taken."""
        score = self._score(post, cand, best, kind)
        order = np.argsort(-score)
        starts = order[: self._n_refine]
        refined = self._refine(post, cand[starts], active[starts] & self._numeric, best, box, kind)
        pool = np.vstack([self._project(refined)[0], cand[order[:20]]])
        ranked = pool[np.argsort(-self._score(post, pool, best, kind))]
        for u in [*ranked, *cand[order[20:]]]:  # the best point not evaluated or pending
            config = self.space.decode(u)
            if _key(self.space.canonical(config)) not in taken:
                return config
        return None

    def _refine(
        self,
        post: gpm.Posterior,
        starts: np.ndarray,
        free: np.ndarray,
        best: float,
        box: tuple[np.ndarray, np.ndarray] | None = None,
        kind: str | None = None,
    ) -> np.ndarray:
        """L-BFGS-B on the free (active numeric) dimensions of every start at once: their
        acquisitions are independent, so the gradient of the sum separates."""
        if not free.any():
            return starts
        kind, kw = kind or self.acquisition, {"xi": self.xi, "beta": self.beta}

        def negative(v: np.ndarray) -> tuple[float, np.ndarray]:
            u = starts.copy()
            u[free] = v
            mean, std, dmean, dstd = post.predict_with_grad(u)
            a, da_dmean, da_dstd = gpm.acquisition(kind, mean, std, best, **kw)
            grad = da_dmean[:, None] * dmean + da_dstd[:, None] * dstd
            return -float(np.sum(a)), -grad[free]

        if box is None:
            bounds = [(0.0, 1.0)] * int(free.sum())
        else:
            lo = np.broadcast_to(box[0], starts.shape)[free]
            hi = np.broadcast_to(box[1], starts.shape)[free]
            x0 = np.clip(starts[free], lo, hi)
            bounds = list(zip(lo.tolist(), hi.tolist(), strict=True))
        res = optimize.minimize(
            negative,
            starts[free] if box is None else x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 50},
        )
        out = starts.copy()
        out[free] = np.clip(res.x, 0.0, 1.0)
        return out

    # --- trust region (experimental) ------------------------------------------------------
    def _tr_length(self) -> float:
        """TuRBO's side length, replayed from the sequence of complete losses after the
        initial design: doubled after 3 successes in a row, halved after
        ``max(4, d)`` failures in a row, reset when it falls below ``0.5^7``."""
        d = int(self._numeric.sum())
        length, succ, fail = 0.8, 0, 0
        fail_tol = max(4, d)
        best = math.inf
        losses = [v for v in self._loss_values]
        for i, v in enumerate(losses):
            if v is None:
                if i >= self.n_initial:
                    fail += 1
                    succ = 0
            elif i < self.n_initial or best == math.inf:
                best = min(best, v)
                continue
            elif v < best - 1e-3 * abs(best):
                best, succ, fail = v, succ + 1, 0
            else:
                best = min(best, v)
                succ, fail = 0, fail + 1
            if succ >= 3:
                length, succ = min(2.0 * length, 1.6), 0
            elif fail >= fail_tol:
                length, fail = length / 2.0, 0
                if length < 0.5**7:
                    length = 0.8
        return length

    def _box(
        self, theta: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        d = x.shape[1]
        ls = np.exp(theta[:d])
        weights = np.ones(d)
        num = self._numeric
        if num.any():
            w = ls[num] / np.exp(np.mean(np.log(ls[num])))
            weights[num] = w
        half = 0.5 * self._tr_length() * weights
        centre = x[np.argmin(y)]
        lo = np.where(num, np.clip(centre - half, 0.0, 1.0), 0.0)
        hi = np.where(num, np.clip(centre + half, 0.0, 1.0), 1.0)
        return lo, hi

    def _in_box(
        self,
        box: tuple[np.ndarray, np.ndarray],
        centre: np.ndarray,
        uniform: np.ndarray,
        local: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = box
        d = len(centre)
        pert = lo + (hi - lo) * uniform
        # TuRBO's perturbation mask: each candidate moves about min(20, d) dimensions
        mask = rng.random(pert.shape) <= min(1.0, 20.0 / d)
        none = ~mask.any(axis=1)
        mask[none, rng.integers(d, size=int(none.sum()))] = True
        cand = np.where(mask | ~self._numeric, pert, centre)
        return cand, np.clip(local, lo, hi)
