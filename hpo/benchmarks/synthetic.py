"""Synthetic test functions with known optima (all minimized).

Branin (2-D), Hartmann-6, Rosenbrock and Ackley in several dimensions, and a mixed
integer/categorical function. References for normalized regret are the median value of
uniform random configurations (so 1.0 means "no better than a typical random point").
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from typing import Any

import numpy as np

from hpo.benchmarks.base import Problem, get_problem, register_problem
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


# --- shapes the first suite lacked (issue 13): see hpo/benchmarks/suite.py for the split -----
SIX_HUMP_CAMEL_MINIMUM = -1.0316284534898774
STYBLINSKI_TANG_ARGMIN = -2.903534027771178
STYBLINSKI_TANG_MINIMUM_PER_DIM = -39.16616570377142
_SHEKEL_BETA = 0.1 * np.array([1, 2, 2, 4, 4, 6, 3, 7, 5, 5], dtype=float)
_SHEKEL_C = np.array(
    [
        [4, 1, 8, 6, 3, 2, 5, 8, 6, 7],
        [4, 1, 8, 6, 7, 9, 3, 1, 2, 3.6],
        [4, 1, 8, 6, 3, 2, 5, 8, 6, 7],
        [4, 1, 8, 6, 7, 9, 3, 1, 2, 3.6],
    ]
).T
#: Shekel-10's minimum, at about (4.00075, 3.99951, 4.00075, 3.99951)
SHEKEL_MINIMUM = -10.536443153483
#: the coordinates of the embedded Hartmann-6 among the 20 of ``hartmann6in20``
HARTMANN6IN20_DIMS = (2, 5, 8, 11, 14, 17)


def rastrigin(x: np.ndarray) -> float:
    """Rastrigin: ``10 d + sum(x^2 - 10 cos(2 pi x))``; minimum 0 at the origin (a grid of
    about ``10^d`` local minima; separable)."""
    x = np.asarray(x, dtype=float)
    return float(10 * x.size + np.sum(x * x - 10 * np.cos(2 * math.pi * x)))


def levy(x: np.ndarray) -> float:
    """Levy on ``[-10, 10]^d``; minimum 0 at ``(1, ..., 1)`` (many local minima)."""
    w = 1 + (np.asarray(x, dtype=float) - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    body = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + body + tail)


def styblinski_tang(x: np.ndarray) -> float:
    """Styblinski-Tang on ``[-5, 5]^d``: ``sum(x^4 - 16 x^2 + 5 x) / 2``; minimum
    ``-39.166 d`` at ``x_i = -2.9035`` (separable, ``2^d`` local minima)."""
    x = np.asarray(x, dtype=float)
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


def six_hump_camel(x1: float, x2: float) -> float:
    """Six-hump camel on ``[-3, 3] x [-2, 2]``; minimum -1.0316 at ``(+-0.0898, -+0.7126)``."""
    return (4 - 2.1 * x1**2 + x1**4 / 3) * x1**2 + x1 * x2 + (-4 + 4 * x2**2) * x2**2


def shekel(x: np.ndarray) -> float:
    """Shekel-10 on ``[0, 10]^4``: ten narrow basins; minimum -10.5364 near ``(4, 4, 4, 4)``."""
    diff = np.asarray(x, dtype=float)[None, :] - _SHEKEL_C
    return float(-np.sum(1.0 / (np.sum(diff * diff, axis=1) + _SHEKEL_BETA)))


@functools.cache
def _rotation(d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random rotation and optimum for the rotated ellipsoid."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r)), rng.uniform(-3.0, 3.0, d)


def ellipsoid(x: np.ndarray, *, condition: float = 1e3, seed: int = 7) -> float:
    """A rotated ellipsoid on ``[-5, 5]^d``, on a log scale:
    ``log(1 + sum_i condition^(i / (d - 1)) z_i^2)`` with ``z = Q (x - x*)`` for a fixed
    rotation ``Q`` and optimum ``x*`` in ``[-3, 3]^d`` (ill-conditioned and not separable;
    the log keeps the last orders of magnitude visible in normalized regret, as a loss on
    a log scale does); minimum 0 at ``x*``."""
    x = np.asarray(x, dtype=float)
    q, center = _rotation(x.size, seed)
    z = q @ (x - center)
    weights = condition ** (np.arange(x.size) / max(x.size - 1, 1))
    return float(np.log1p(np.sum(weights * z * z)))


def _noise(name: str, config: dict[str, Any], sd: float) -> float:
    """Gaussian noise of standard deviation ``sd``, a pure function of the problem and the
    configuration (the same configuration always gets the same draw, so runs replay)."""
    key = json.dumps({k: config[k] for k in sorted(config)}, default=repr).encode()
    digest = hashlib.blake2b(name.encode() + b"\0" + key, digest_size=8).digest()
    return sd * float(np.random.default_rng(int.from_bytes(digest, "little")).standard_normal())


def _vector_problem(
    name: str,
    fn: Any,
    d: int,
    low: float,
    high: float,
    optimum: float,
    tags: tuple[str, ...] = ("synthetic",),
) -> Problem:
    space = _box(d, low, high)

    def f(c: dict[str, Any]) -> float:
        return float(fn(_vector(c, d)))

    return Problem(name, space, "minimize", f, optimum, _reference(space, f), tags)


def _noisy(problem: Problem, name: str, relative_sd: float) -> Problem:
    """``problem`` with Gaussian noise of ``relative_sd`` times its span (reference minus
    optimum) added to every value; ``noise_free`` keeps the clean function, which a
    benchmark uses to score the configuration a searcher ends with."""
    assert problem.optimum is not None and problem.reference is not None
    sd = relative_sd * abs(problem.reference - problem.optimum)
    clean = problem.function

    def f(c: dict[str, Any]) -> float:
        return clean(c) + _noise(name, c, sd)

    return Problem(
        name,
        problem.space,
        problem.direction,
        f,
        problem.optimum,
        problem.reference,
        (*problem.tags, "noisy"),
        noise_free=clean,
    )


#: noise of the noisy problems: 3% of the span between optimum and reference
NOISE_SD = 0.03

_VECTOR_PROBLEMS: dict[str, tuple[Any, int, float, float, float]] = {
    "rastrigin6": (rastrigin, 6, -4.0, 6.0, 0.0),
    "levy6": (levy, 6, -10.0, 10.0, 0.0),
    "levy20": (levy, 20, -10.0, 10.0, 0.0),
    "styblinski_tang8": (
        styblinski_tang,
        8,
        -5.0,
        5.0,
        8 * STYBLINSKI_TANG_MINIMUM_PER_DIM,
    ),
    "shekel4": (shekel, 4, 0.0, 10.0, SHEKEL_MINIMUM),
    "ellipsoid8": (ellipsoid, 8, -5.0, 5.0, 0.0),
}


def _register_vector(name: str) -> None:
    def factory() -> Problem:
        return _vector_problem(name, *_VECTOR_PROBLEMS[name])

    register_problem(name)(factory)


for _name in _VECTOR_PROBLEMS:
    _register_vector(_name)


@register_problem("six_hump_camel")
def six_hump_camel_problem() -> Problem:
    space = Space({"x1": Float(-3.0, 3.0), "x2": Float(-2.0, 2.0)})

    def f(c: dict[str, Any]) -> float:
        return six_hump_camel(c["x1"], c["x2"])

    return Problem(
        "six_hump_camel",
        space,
        "minimize",
        f,
        SIX_HUMP_CAMEL_MINIMUM,
        _reference(space, f),
        ("synthetic",),
    )


@register_problem("hartmann6in20")
def hartmann6in20_problem() -> Problem:
    """Hartmann-6 on 6 of 20 dimensions (:data:`HARTMANN6IN20_DIMS`); the other 14 do
    nothing, as most hyperparameters of a large space matter little."""
    space = _box(20, 0.0, 1.0)

    def f(c: dict[str, Any]) -> float:
        return hartmann6(_vector(c, 20)[list(HARTMANN6IN20_DIMS)])

    return Problem(
        "hartmann6in20",
        space,
        "minimize",
        f,
        HARTMANN6_MINIMUM,
        _reference(space, f),
        ("synthetic",),
    )


@register_problem("hartmann6_noisy")
def hartmann6_noisy_problem() -> Problem:
    return _noisy(hartmann6_problem(), "hartmann6_noisy", NOISE_SD)


@register_problem("levy6_noisy")
def levy6_noisy_problem() -> Problem:
    return _noisy(get_problem("levy6"), "levy6_noisy", NOISE_SD)


@register_problem("conditional")
def conditional_problem() -> Problem:
    """A model-selection-like space: a categorical ``model`` with its own parameters per
    branch (floats on log scales, integers, a shared categorical and float), interactions
    inside the best branch. Branch optima: ``linear`` 0.35, ``tree`` 0.12, ``net`` 0
    (the global minimum, e.g. ``layers=2, lr=1e-3, width=128, dropout=0.2``), with
    ``batch=64`` and ``momentum=0.9``.
    """
    space = Space(
        {
            "model": Categorical(["linear", "tree", "net"]),
            "lr": Float(1e-5, 1.0, log=True, when={"model": ["linear", "net"]}),
            "reg": Float(1e-7, 1e-1, log=True, when={"model": "linear"}),
            "depth": Int(1, 16, when={"model": "tree"}),
            "leaf": Float(0.0, 1.0, when={"model": "tree"}),
            "layers": Int(1, 4, when={"model": "net"}),
            "width": Int(8, 1024, log=True, when={"model": "net"}),
            "dropout": Float(0.0, 0.8, when={"model": "net"}),
            "batch": Categorical([16, 32, 64, 128, 256]),
            "momentum": Float(0.0, 0.99),
        }
    )

    def f(c: dict[str, Any]) -> float:
        shared = 0.02 * (math.log2(c["batch"]) - 6) ** 2 + 0.5 * (c["momentum"] - 0.9) ** 2
        if c["model"] == "linear":
            lr, reg = math.log10(c["lr"]), math.log10(c["reg"])
            value = 0.35 + 0.05 * (lr + 1.5) ** 2 + 0.03 * (reg + 3 + 0.5 * (lr + 1.5)) ** 2
        elif c["model"] == "tree":
            value = 0.12 + 0.4 * ((c["depth"] - 7) / 8) ** 2 + 0.6 * (c["leaf"] - 0.2) ** 2
            value += 0.4 * ((c["depth"] - 7) / 8) * (c["leaf"] - 0.2)
        else:
            layers = c["layers"]
            lr = math.log10(c["lr"]) + 3 + 0.4 * (layers - 2)  # deeper nets want smaller steps
            value = 0.1 * lr**2 + 0.03 * (math.log2(c["width"]) - 7) ** 2
            value += 0.8 * (c["dropout"] - 0.1 * layers) ** 2
        return float(value + shared)

    return Problem(
        "conditional",
        space,
        "minimize",
        f,
        0.0,
        _reference(space, f),
        ("synthetic", "mixed", "conditional"),
    )
