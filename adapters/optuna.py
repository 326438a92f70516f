"""Optuna's samplers as hpo searchers, Optuna studies in and out, and hpo inside Optuna.

>>> study = hpo.create_study(objective, searcher="optuna:tpe", seed=0)      # doctest: +SKIP
>>> study.optimize(n_trials=50)                                             # doctest: +SKIP
>>> export_optuna_study(study, "sqlite:///optuna.db")                        # doctest: +SKIP

**Searchers** (``optuna:tpe``, ``optuna:gp``, ``optuna:cmaes``, ``optuna:qmc``,
``optuna:random``) drive a private in-memory Optuna study through its ask/tell interface.
Each ask suggests the active parameters in space order (define-by-run), so conditional
spaces work with every sampler: where a sampler models only part of the space (CMA-ES and
GP over the parameters every trial has, QMC over the first trial's), Optuna samples the rest
with its independent sampler, as it would in Optuna itself. Trials the searcher did not
propose (enqueued, from other processes, replayed after a restart) are added to the Optuna
study, so the sampler learns from every result; FAILED and PRUNED map to Optuna's states.

Options pass through to the sampler (``searcher_kwargs={"n_startup_trials": 5}``), JSON
values only; callables such as ``gamma`` or ``constraints_func`` cannot be stored with a
study and are refused. Defaults that differ from Optuna's: TPE groups conditional parameters
(``group=True`` for conditional and define-by-run spaces); QMC scrambles its sequence
(``scramble=True``), so the seed matters; GP, CMA-ES and QMC do not log a warning for each
parameter they leave to the independent sampler (``warn_independent_sampling=False``; the
fallback is the documented behaviour above).

**Reproducibility.** Each trial gets a fresh sampler seeded from ``(seed, trial index)``
and the index comes from the study's shared counter, so a rebuilt searcher (state plus
replayed trials) continues the same sequence. The saved state holds only what told trials
cannot bring back: the counter; the asks still outstanding, with Optuna's notes on them
(TPE's and GP's constant liar count running trials); and QMC's scramble seed and position.
CMA-ES keeps its evolution state inside Optuna's trial records (pickled), which a replay
cannot rebuild and hpo does not store, so a restarted ``optuna:cmaes`` begins a new
evolution (seeded, but blind to the old one's distribution): it declares
``resumable=False``.

Import/export (:func:`import_optuna_study`, :func:`export_optuna_study`) and the sampler that
runs any hpo searcher inside Optuna (:class:`HPOSampler`) live in private helper modules and
are re-exported here.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import TYPE_CHECKING, Any

from hpo.exceptions import SearcherError
from hpo.space import Space

from ._optuna_io import export_optuna_study, import_optuna_study
from ._optuna_sampler import HPOSampler
from ._optuna_searcher import OptunaSearcher

if TYPE_CHECKING:
    import optuna

__all__ = [
    "HPOSampler",
    "OptunaCMAES",
    "OptunaGP",
    "OptunaQMC",
    "OptunaRandom",
    "OptunaSearcher",
    "OptunaTPE",
    "export_optuna_study",
    "import_optuna_study",
]


class OptunaTPE(OptunaSearcher):
    """Optuna's TPESampler (multivariate; ``group=True`` for conditional spaces)."""

    name = "optuna:tpe"
    sampler_class = "TPESampler"

    def _defaults(self) -> dict[str, Any]:
        return {"group": self._define_by_run or self.space.is_conditional}


class OptunaGP(OptunaSearcher):
    """Optuna's GPSampler (Gaussian-process Bayesian optimization; needs torch)."""

    name = "optuna:gp"
    sampler_class = "GPSampler"

    def _defaults(self) -> dict[str, Any]:
        return {"warn_independent_sampling": False}

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        **options: Any,
    ) -> None:
        _require(self.name, "torch")
        super().__init__(space, direction=direction, seed=seed, **options)


class OptunaCMAES(OptunaSearcher):
    """Optuna's CmaEsSampler (needs the ``cmaes`` package); categorical and conditional
    parameters go to its independent (random) sampler, as in Optuna. Not resumable: the
    evolution state lives in Optuna's trial records, which replayed trials do not carry."""

    name = "optuna:cmaes"
    sampler_class = "CmaEsSampler"

    def _defaults(self) -> dict[str, Any]:
        return {"warn_independent_sampling": False}

    resumable = False

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        **options: Any,
    ) -> None:
        _require(self.name, "cmaes")
        super().__init__(space, direction=direction, seed=seed, **options)


class OptunaQMC(OptunaSearcher):
    """Optuna's QMCSampler (scrambled Sobol by default). One scramble seed for the whole
    sequence; the position in it is kept by Optuna and saved in the searcher state."""

    name = "optuna:qmc"
    sampler_class = "QMCSampler"

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        **options: Any,
    ) -> None:
        self._qmc_seed = seed
        super().__init__(space, direction=direction, seed=seed, **options)
        if self._qmc_seed is None:
            self._qmc_seed = int(self.rng.integers(2**31 - 1))

    def _sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        import optuna

        options = {"scramble": True, "warn_independent_sampling": False, **self.options}
        independent = optuna.samplers.RandomSampler(seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.samplers.QMCSampler(
                seed=self._qmc_seed if self._qmc_seed is not None else 0,
                independent_sampler=independent,
                **options,
            )

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "qmc_seed": self._qmc_seed}

    def _load_state(self, state: dict[str, Any]) -> None:
        super()._load_state(state)
        if state.get("qmc_seed") is not None:
            self._qmc_seed = int(state["qmc_seed"])


class OptunaRandom(OptunaSearcher):
    """Optuna's RandomSampler (independent uniform sampling in Optuna's own way)."""

    name = "optuna:random"
    sampler_class = "RandomSampler"


def _require(name: str, module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise SearcherError(
            f"searcher {name!r} needs the {module!r} package, which is not installed; "
            f"install it with: pip install {module}"
        )
