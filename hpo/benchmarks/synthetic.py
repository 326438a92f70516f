"""Synthetic test functions with known optima (all minimized).

Branin (2-D), Hartmann-6, Rosenbrock and Ackley in several dimensions, and a mixed
integer/categorical function. References for normalized regret are the median value of
uniform random configurations (so 1.0 means "no better than a typical random point").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hpo.benchmarks.base import Problem, register_problem
from hpo.space import Categorical, Float, Int, Space

_HARTMANN_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_HARTMANN_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN6_MINIMUM = -3.32237
HARTMANN6_ARGMIN = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
BRANIN_MINIMUM = 0.397887
BRANIN_ARGMINS = ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))


def branin(x1: float, x2: float) -> float:
    """Branin-Hoo on ``[-5, 10] x [0, 15]``; minimum 0.397887 at three points."""
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6(x: np.ndarray) -> float:
    """Hartmann 6-D on ``[0, 1]^6``; minimum -3.32237."""
    inner = np.sum(_HARTMANN_A * (np.asarray(x) - _HARTMANN_P) ** 2, axis=1)
    return float(-np.sum(_HARTMANN_ALPHA * np.exp(-inner)))


def rosenbrock(x: np.ndarray) -> float:
    """Rosenbrock on ``[-2, 2]^d``; minimum 0 at ``(1, ..., 1)``."""
    x = np.asarray(x, dtype=float)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def ackley(x: np.ndarray) -> float:
    """Ackley on ``[-5, 10]^d`` (asymmetric box, so the optimum is not the centre);
    minimum 0 at the origin."""
    x = np.asarray(x, dtype=float)
    d = x.size
    return float(
        -20 * math.exp(-0.2 * math.sqrt(np.sum(x**2) / d))
        - math.exp(np.sum(np.cos(2 * math.pi * x)) / d)
        + 20
        + math.e
    )


def _vector(config: dict[str, Any], d: int) -> np.ndarray:
    return np.array([config[f"x{i}"] for i in range(d)], dtype=float)


def _box(d: int, low: float, high: float) -> Space:
    return Space({f"x{i}": Float(low, high) for i in range(d)})


def _reference(space: Space, fn: Any, n: int = 2000) -> float:
    """Median value of ``n`` uniform random configurations (seeded, deterministic)."""
    rng = np.random.default_rng(12345)
    return float(np.median([fn(space.sample(rng)) for _ in range(n)]))


@register_problem("branin")
def branin_problem() -> Problem:
    space = Space({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)})

    def f(c: dict[str, Any]) -> float:
        return branin(c["x1"], c["x2"])

    return Problem(
        "branin", space, "minimize", f, BRANIN_MINIMUM, _reference(space, f), ("synthetic",)
    )


@register_problem("hartmann6")
def hartmann6_problem() -> Problem:
    space = _box(6, 0.0, 1.0)

    def f(c: dict[str, Any]) -> float:
        return hartmann6(_vector(c, 6))

    return Problem(
        "hartmann6", space, "minimize", f, HARTMANN6_MINIMUM, _reference(space, f), ("synthetic",)
    )


def _nd_problem(name: str, fn: Any, d: int, low: float, high: float) -> Problem:
    space = _box(d, low, high)

    def f(c: dict[str, Any]) -> float:
        return float(fn(_vector(c, d)))

    return Problem(f"{name}{d}", space, "minimize", f, 0.0, _reference(space, f), ("synthetic",))


def _register_nd(name: str, fn: Any, d: int, low: float, high: float) -> None:
    def factory() -> Problem:
        return _nd_problem(name, fn, d, low, high)

    register_problem(f"{name}{d}")(factory)


for _d in (2, 5, 10):
    _register_nd("rosenbrock", rosenbrock, _d, -2.0, 2.0)
    _register_nd("ackley", ackley, _d, -5.0, 10.0)


@register_problem("mixed")
def mixed_problem() -> Problem:
    """A mixed space: two floats, an integer, a categorical and a conditional float.

    ``f = (x - 0.3)^2 + (log10(lr) + 2)^2 + (n - 7)^2 / 25 + kind penalty (+ its own term)``;
    minimum 0 at ``x=0.3, lr=0.01, n=7, kind="b", scale=0.5``.
    """
    space = Space(
        {
            "x": Float(-1.0, 1.0),
            "lr": Float(1e-5, 1.0, log=True),
            "n": Int(1, 16),
            "kind": Categorical(["a", "b", "c"]),
            "scale": Float(0.0, 1.0, when={"kind": "b"}),
        }
    )
    penalty = {"a": 0.5, "b": 0.0, "c": 1.0}

    def f(c: dict[str, Any]) -> float:
        value = (c["x"] - 0.3) ** 2 + (math.log10(c["lr"]) + 2) ** 2 + (c["n"] - 7) ** 2 / 25
        value += penalty[c["kind"]]
        if c["kind"] == "b":
            value += (c["scale"] - 0.5) ** 2
        return float(value)

    return Problem("mixed", space, "minimize", f, 0.0, _reference(space, f), ("synthetic", "mixed"))
