"""Variation operators of the genetic searcher, on the unit-cube codec of :mod:`hpo.space`.

Every function here is pure: it reads its arguments and draws from the generator it is
given, so a child is a function of ``(parents, rng)`` alone. Individuals are kept encoded
(``Space.encode``: ``[0, 1]`` per numeric parameter, one-hot per categorical, ``NaN`` for
inactive parameters), and children are built parameter by parameter in space order, so
a parameter is only given a value when the child's own parents in the space make it
active::

    rng = np.random.default_rng(0)
    child = vary(space, a, b, rng, mutation_rate=0.2, sigma=0.1)   # a valid config
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpo.space import Categorical, Param, Space

#: the crossover operators ``vary`` knows
CROSSOVERS = ("blend", "uniform")


@dataclass(frozen=True, eq=False)
class Individual:
    """A finished trial in the population: its number, loss (lower is better), config
    and encoded point (``NaN`` where a parameter is inactive)."""

    number: int
    loss: float
    config: dict[str, Any]
    u: np.ndarray

    @classmethod
    def of(cls, space: Space, number: int, loss: float, config: dict[str, Any]) -> Individual:
        return cls(number, float(loss), dict(config), space.encode(config))


def tournament(losses: Sequence[float], size: int, rng: np.random.Generator) -> int:
    """Index of the best of ``size`` entrants drawn without replacement (ties go to the
    lower index); ``size=1`` is uniform selection."""
    entrants = rng.choice(len(losses), size=min(size, len(losses)), replace=False)
    return int(min(entrants.tolist(), key=lambda i: (losses[i], i)))


def latin_hypercube(
    seed: int, block: int, row: int, rows: int, dims: int, rng: np.random.Generator
) -> np.ndarray:
    """Row ``row`` of the ``block``-th Latin hypercube of ``rows`` points: each dimension's
    ``rows`` strata are a permutation fixed by ``(seed, block)``, the position within the
    stratum comes from ``rng`` (so every row can be drawn on its own, in any order)."""
    layout = np.random.default_rng([seed, block])
    strata = np.array([layout.permutation(rows)[row] for _ in range(dims)], dtype=float)
    return (strata + rng.random(dims)) / rows


def mutate(param: Param, u: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A mutated copy of one parameter's encoded slice.

    Categorical: another choice, uniformly (so the value always changes). Numeric: a
    Gaussian step of ``sigma`` (at least one bin for integers and stepped floats),
    clipped to ``[0, 1]``; the codec snaps it onto the parameter's grid when decoded."""
    if isinstance(param, Categorical):
        k = len(param.choices)
        if k < 2:
            return u.copy()
        current = int(np.argmax(u))
        new = int(rng.integers(k - 1))
        out = np.zeros(k)
        out[new + (new >= current)] = 1.0
        return out
    n_values = getattr(param, "n_values", None)
    scale = max(sigma, 1.0 / n_values) if n_values else sigma
    return np.clip(u + rng.normal(0.0, scale, size=u.shape), 0.0, 1.0)


def blend(a: np.ndarray, b: np.ndarray, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """BLX-alpha: uniform on the segment between ``a`` and ``b`` widened by ``alpha`` of
    its length on both sides, clipped to the unit cube."""
    gamma = rng.uniform(-alpha, 1.0 + alpha, size=a.shape)
    return np.clip(a + gamma * (b - a), 0.0, 1.0)


def vary(
    space: Space,
    a: Individual,
    b: Individual | None,
    rng: np.random.Generator,
    *,
    mutation_rate: float,
    sigma: float,
    crossover: str = "blend",
    alpha: float = 0.5,
) -> dict[str, Any]:
    """A child of ``a`` and ``b`` (``b=None``: a mutant of ``a``), always a valid config.

    Parameters are visited in space order, so conditions are settled before the
    parameters that depend on them. An active parameter is inherited from a parent
    chosen at random (categoricals, and numerics with ``crossover="uniform"``) or
    blended between both (numerics with ``crossover="blend"``); when only one parent
    has it active it comes from that one, when neither has it, at random. Each
    parameter is then mutated with probability ``mutation_rate``.
    """
    config: dict[str, Any] = {}
    for name, param in space.items():
        if not space.is_active(name, config):
            continue
        dims = space.dims_of(name)
        sources = [p.u[dims] for p in (a, b) if p is not None and not np.isnan(p.u[dims]).any()]
        if len(sources) == 2 and crossover == "blend" and not isinstance(param, Categorical):
            u = blend(sources[0], sources[1], alpha, rng)
        elif sources:
            u = sources[int(rng.integers(len(sources)))].copy()
        else:
            u = rng.random(param.n_dims)
        if rng.random() < mutation_rate:
            u = mutate(param, u, sigma, rng)
        config[name] = param.decode(u)
    return config
