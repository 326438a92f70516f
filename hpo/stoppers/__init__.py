"""Stopper registry: ``median``, ``asha`` and ``hyperband``, built from a name and options.

>>> make_stopper("asha", Budget("epoch", 1, 27), direction="maximize")   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hpo._registry import import_target, unknown_name_message, unknown_options_message
from hpo.budget import Budget
from hpo.exceptions import HPOError
from hpo.stoppers.base import Decision, Stopper

__all__ = ["Decision", "Stopper", "available_stoppers", "make_stopper", "register_stopper"]

_REGISTRY: dict[str, type[Stopper] | str] = {}
T = TypeVar("T", bound=type[Stopper])


class UnknownStopperError(HPOError, ValueError):
    """No stopper is registered under that name."""

    code = "unknown_stopper"
    kind = "invalid"


def register_stopper(name: str) -> Callable[[T], T]:
    """Class decorator that registers a stopper under ``name``."""

    def deco(cls: T) -> T:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def available_stoppers() -> list[str]:
    return sorted(_REGISTRY)


def stopper_class(name: str) -> type[Stopper]:
    """The class registered as ``name`` (imported on first use)."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise UnknownStopperError(unknown_name_message("stopper", name, _REGISTRY))
    entry = _REGISTRY[name]
    if isinstance(entry, str):
        cls = import_target(entry)
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return entry


def make_stopper(
    name: str,
    budget: Budget,
    *,
    direction: str = "minimize",
    seed: int | None = None,
    **kwargs: Any,
) -> Stopper:
    """Build a stopper from its registry name and options, with a clear error for options
    it does not take."""
    cls = stopper_class(name)
    problem = unknown_options_message("stopper", name, cls, kwargs, ("budget", "direction", "seed"))
    if problem:
        raise ValueError(problem)
    return cls(budget, direction=direction, seed=seed, **kwargs)


_REGISTRY.update(
    {
        "median": "hpo.stoppers.median:MedianStopper",
        "asha": "hpo.stoppers.asha:ASHAStopper",
        "hyperband": "hpo.stoppers.hyperband:HyperbandStopper",
    }
)
