"""Benchmark problems: an objective with its space, direction and, where known, optimum.

>>> from hpo.benchmarks import get_problem
>>> problem = get_problem("branin")
>>> study = hpo.create_study(problem.objective, searcher="random", seed=0)  # doctest: +SKIP
>>> problem.regret(study.best_value)                                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hpo.objective import Objective
from hpo.space import Space


@dataclass(frozen=True)
class Problem:
    """A named optimization problem.

    ``optimum`` is the best achievable value when known; ``reference`` is a value to
    normalize regret against when there is no known optimum (e.g. the worst plausible
    value), so ``normalized_regret`` maps ``optimum`` to 0 and ``reference`` to 1.
    """

    name: str
    space: Space
    direction: str
    function: Callable[[dict[str, Any]], float]
    optimum: float | None = None
    reference: float | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def objective(self) -> Objective:
        """The problem as an ``@hpo.objective`` (space and direction bound)."""
        return Objective(self.function, space=self.space, direction=self.direction)

    def __call__(self, config: dict[str, Any]) -> float:
        return self.function(config)

    def regret(self, value: float) -> float:
        """How far ``value`` is from the optimum (>= 0), in the problem's own units."""
        if self.optimum is None:
            raise ValueError(f"problem {self.name!r} has no known optimum")
        gap = value - self.optimum if self.direction == "minimize" else self.optimum - value
        return max(gap, 0.0)

    def normalized_regret(self, value: float) -> float:
        """Regret scaled so the optimum is 0 and ``reference`` is 1 (clipped at 0)."""
        if self.optimum is None or self.reference is None:
            raise ValueError(f"problem {self.name!r} needs an optimum and a reference")
        span = abs(self.reference - self.optimum)
        return self.regret(value) / span if span > 0 else 0.0


_PROBLEMS: dict[str, Callable[[], Problem]] = {}


def register_problem(name: str) -> Callable[[Callable[[], Problem]], Callable[[], Problem]]:
    """Register a factory building the problem called ``name``."""

    def deco(factory: Callable[[], Problem]) -> Callable[[], Problem]:
        _PROBLEMS[name] = factory
        return factory

    return deco


def available_problems() -> list[str]:
    return sorted(_PROBLEMS)


def get_problem(name: str) -> Problem:
    """Build the registered problem ``name``."""
    if name not in _PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; available: {', '.join(available_problems())}")
    return _PROBLEMS[name]()
