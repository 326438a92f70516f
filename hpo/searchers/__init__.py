"""Searcher registry: every searcher is built from a name and keyword arguments.

>>> make_searcher("random", space, direction="minimize", seed=0)   # doctest: +SKIP

Built-in searchers register with :func:`register`; adapters to other libraries register
lazily with :func:`register_lazy` (``"optuna:tpe"`` -> ``"hpo.adapters.optuna:..."``), so
the core imports none of those libraries until a study asks for one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hpo._registry import import_target, unknown_name_message, unknown_options_message
from hpo.budget import Budget
from hpo.exceptions import SearcherError, UnknownSearcherError
from hpo.searchers.base import Decision, Searcher, Suggestion
from hpo.space import Space

__all__ = [
    "DEFAULT_SEARCHER",
    "Decision",
    "Searcher",
    "Suggestion",
    "available_searchers",
    "make_searcher",
    "register",
    "register_lazy",
    "searcher_class",
]

_REGISTRY: dict[str, type[Searcher] | str] = {}

#: the searcher ``create_study``, ``HPOSearchCV`` and ``hpo run`` use when none is named:
#: ``tpe`` (the README's "Default searcher" gives the benchmark evidence)
DEFAULT_SEARCHER = "tpe"
S = TypeVar("S", bound=type[Searcher])


def register(name: str) -> Callable[[S], S]:
    """Class decorator that registers a searcher under ``name``."""

    def deco(cls: S) -> S:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def register_lazy(name: str, target: str) -> None:
    """Register ``name`` to be imported from ``"module:Class"`` on first use."""
    _REGISTRY[name] = target


def available_searchers() -> list[str]:
    """Every registered name, built-in and lazy."""
    return sorted(_REGISTRY)


def searcher_class(name: str) -> type[Searcher]:
    """The class registered as ``name``, importing it if it is lazy."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise UnknownSearcherError(unknown_name_message("searcher", name, _REGISTRY))
    entry = _REGISTRY[name]
    if isinstance(entry, str):
        try:
            cls = import_target(entry)
        except ImportError as exc:
            raise SearcherError(
                f"searcher {name!r} needs an optional dependency that is not installed "
                f"({exc.name or exc}); install it with: pip install 'hpo[adapters]'"
            ) from exc
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return entry


def make_searcher(
    name: str,
    space: Space | None,
    *,
    direction: str = "minimize",
    seed: int | None = None,
    budget: Budget | None = None,
    **kwargs: Any,
) -> Searcher:
    """Build a searcher from its registry name and options, with a clear error for
    options it does not take. ``budget`` (the study's :class:`~hpo.budget.Budget`) is
    passed on to searchers that need one (``needs_budget``) and ignored by the others."""
    cls = searcher_class(name)
    if cls.needs_budget:
        if budget is None:
            raise SearcherError(
                f"searcher {name!r} schedules training budgets and needs one: create the "
                "study with budget=hpo.Budget('epoch', 1, 50) or decorate the objective "
                "with @hpo.objective(..., budget=...)"
            )
        kwargs["budget"] = budget
    problem = unknown_options_message(
        "searcher", name, cls, kwargs, ("space", "direction", "seed", "budget")
    )
    if problem:
        raise SearcherError(problem)
    return cls(space, direction=direction, seed=seed, **kwargs)


#: searchers backed by other libraries, imported on first use (``pip install 'hpo[adapters]'``)
ADAPTER_SEARCHERS: dict[str, str] = {
    "optuna:tpe": "hpo.adapters.optuna:OptunaTPE",
    "optuna:gp": "hpo.adapters.optuna:OptunaGP",
    "optuna:cmaes": "hpo.adapters.optuna:OptunaCMAES",
    "optuna:qmc": "hpo.adapters.optuna:OptunaQMC",
    "optuna:random": "hpo.adapters.optuna:OptunaRandom",
    "hyperopt:tpe": "hpo.adapters.hyperopt:HyperoptTPE",
    "hyperopt:anneal": "hpo.adapters.hyperopt:HyperoptAnneal",
    "hyperopt:rand": "hpo.adapters.hyperopt:HyperoptRandom",
    "skopt:gp": "hpo.adapters.skopt:SkoptGP",
    "skopt:rf": "hpo.adapters.skopt:SkoptRF",
    "skopt:et": "hpo.adapters.skopt:SkoptET",
    "skopt:gbrt": "hpo.adapters.skopt:SkoptGBRT",
}


def _register_builtins() -> None:
    from hpo.searchers.grid import GridSearcher
    from hpo.searchers.random import RandomSearcher

    register("random")(RandomSearcher)
    register("grid")(GridSearcher)
    register_lazy("gp", "hpo.searchers.gp:GPSearcher")
    register_lazy("tpe", "hpo.searchers.tpe:TPESearcher")
    register_lazy("genetic", "hpo.searchers.genetic:GeneticSearcher")
    register_lazy("portfolio", "hpo.searchers.portfolio:PortfolioSearcher")
    register_lazy("bohb", "hpo.searchers.bohb:BOHBSearcher")
    register_lazy("pbt", "hpo.searchers.pbt:PBTSearcher")
    for name, target in ADAPTER_SEARCHERS.items():
        register_lazy(name, target)


_register_builtins()
