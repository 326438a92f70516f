"""Searcher registry: every searcher is built from a name and keyword arguments.

>>> make_searcher("random", space, direction="minimize", seed=0)   # doctest: +SKIP

Built-in searchers register with :func:`register`; adapters to other libraries register
lazily with :func:`register_lazy` (``"optuna:tpe"`` -> ``"hpo.adapters.optuna:..."``), so
the core imports none of those libraries until a study asks for one.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

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

#: the searcher ``create_study`` and ``HPOSearchCV`` use when none is named
DEFAULT_SEARCHER = "random"
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
        close = difflib.get_close_matches(str(name), _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownSearcherError(
            f"unknown searcher {name!r}.{hint} Available: {', '.join(available_searchers())}"
        )
    entry = _REGISTRY[name]
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
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
    **kwargs: Any,
) -> Searcher:
    """Build a searcher from its registry name and options, with a clear error for
    options it does not take."""
    cls = searcher_class(name)
    accepted = inspect.signature(cls.__init__).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        unknown = [k for k in kwargs if k not in accepted or k in ("self", "space")]
        if unknown:
            options = [k for k in accepted if k not in ("self", "space", "direction", "seed")]
            raise SearcherError(
                f"searcher {name!r} does not take {', '.join(map(repr, unknown))}; "
                f"its options are: {', '.join(options) or 'none'}"
            )
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
    for name, target in ADAPTER_SEARCHERS.items():
        register_lazy(name, target)


_register_builtins()
