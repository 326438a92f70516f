"""The development suite of ``make bench-quality`` and ``make bench-multifidelity``,
split into a *tuning* half and a *checking* half.

Searchers are tuned on the tuning half only; a change is adopted only if it also helps
on the checking half, which no one tuned on. The split is **by family**: a family is one
function (in every dimension it comes in, noisy or not) or one scikit-learn model, and a
family lies wholly in one half, so the checking half holds functions and models the
tuning never saw. Every *shape* the suite covers (smooth low-dimensional, ill-conditioned,
multimodal, high-dimensional, noisy, mixed and conditional, scikit-learn, LCBench) has
problems in both halves.

LCBench: the eight development tasks (:data:`~hpo.benchmarks.lcbench.LCBENCH_DEV_TASKS`)
are split four and four, alternating by difficulty (random search's regret); the other
26 tasks are held out and run by neither half.

>>> [p.name for p in SUITE if p.half == "checking"][:3]
['six_hump_camel', 'shekel4', 'ellipsoid8']
"""

from __future__ import annotations

from dataclasses import dataclass

HALVES = ("tuning", "checking")


@dataclass(frozen=True)
class SuiteProblem:
    """A problem of the suite: its half, shape, family and how many seeds it runs."""

    name: str
    half: str
    shape: str
    family: str
    seeds: int = 10


def _p(name: str, half: str, shape: str, family: str, seeds: int = 10) -> SuiteProblem:
    return SuiteProblem(name, half, shape, family, seeds)


SUITE: tuple[SuiteProblem, ...] = (
    # tuning half
    _p("branin", "tuning", "smooth", "branin"),
    _p("hartmann6", "tuning", "smooth", "hartmann"),
    _p("rosenbrock5", "tuning", "ill-conditioned", "rosenbrock"),
    _p("ackley5", "tuning", "multimodal", "ackley"),
    _p("rastrigin6", "tuning", "multimodal", "rastrigin"),
    _p("ackley10", "tuning", "high-dimensional", "ackley"),
    _p("hartmann6in20", "tuning", "high-dimensional", "hartmann"),
    _p("hartmann6_noisy", "tuning", "noisy", "hartmann"),
    _p("mixed", "tuning", "mixed", "mixed"),
    _p("svm_wine", "tuning", "sklearn", "svm", 5),
    _p("mlp_digits", "tuning", "sklearn", "mlp", 5),
    _p("lcbench-7593", "tuning", "lcbench", "lcbench"),
    _p("lcbench-126029", "tuning", "lcbench", "lcbench"),
    _p("lcbench-126026", "tuning", "lcbench", "lcbench"),
    _p("lcbench-146212", "tuning", "lcbench", "lcbench"),
    # checking half
    _p("six_hump_camel", "checking", "smooth", "six_hump_camel"),
    _p("shekel4", "checking", "smooth", "shekel"),
    _p("ellipsoid8", "checking", "ill-conditioned", "ellipsoid"),
    _p("levy6", "checking", "multimodal", "levy"),
    _p("styblinski_tang8", "checking", "multimodal", "styblinski_tang"),
    _p("levy20", "checking", "high-dimensional", "levy"),
    _p("levy6_noisy", "checking", "noisy", "levy"),
    _p("conditional", "checking", "mixed", "conditional"),
    _p("gbm_breast_cancer", "checking", "sklearn", "gbm", 5),
    _p("cash_breast_cancer", "checking", "sklearn", "cash", 5),
    _p("lcbench-126025", "checking", "lcbench", "lcbench"),
    _p("lcbench-167104", "checking", "lcbench", "lcbench"),
    _p("lcbench-34539", "checking", "lcbench", "lcbench"),
    _p("lcbench-3945", "checking", "lcbench", "lcbench"),
)

#: LCBench development tasks by half (multi-fidelity defaults are chosen on the first,
#: judged on the second)
LCBENCH_TUNING: tuple[int, ...] = (7593, 126029, 126026, 146212)
LCBENCH_CHECKING: tuple[int, ...] = (126025, 167104, 34539, 3945)


def suite_problems(half: str | None = None) -> list[SuiteProblem]:
    """The suite's problems, or one half's (``"tuning"`` or ``"checking"``)."""
    if half is not None and half not in HALVES:
        raise ValueError(f"half must be one of {list(HALVES)} or None, got {half!r}")
    return [p for p in SUITE if half is None or p.half == half]
