"""Successive halving, shared by the ``asha`` and ``hyperband`` stoppers.

**Value at a rung.** A trial's value at rung ``r`` is its intermediate value at the first
step it reported that is ``>= r``; a trial that has reported no such step has no value
there. A trial that reports every step thus has its value at step ``r`` itself, and one
that reports sparsely is still compared at every rung it passed.

**Which rungs a report decides.** A report at step ``s`` passes the rungs ``r`` with
``p < r <= s``, ``p`` being the trial's largest reported step before ``s`` (none: every
rung ``<= s``). Usually that is one rung or none; the trial goes on only if it survives
every rung it passes.

**Survival.** Among the ``n`` values at a rung (the trial's own included) the trial
survives if fewer than ``max(1, n // eta)`` of them are strictly better than its own: the
top ``1/eta`` go on, and while a rung holds fewer than ``eta`` values only trials tied with
the best so far go on. Ties go on, so the rule never depends on trial numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from hpo.budget import Budget
from hpo.searchers.base import Decision
from hpo.trial import FrozenTrial, TrialState

__all__ = [
    "check_halving_options",
    "halving_decision",
    "rung_ladder",
    "survives",
    "value_at",
]

#: states whose intermediate values count at a rung (FAILED and WAITING trials do not)
COUNTED_STATES = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)

_REL_TOL = 1e-9


def check_halving_options(
    budget: Budget, reduction_factor: float, min_budget: float | None
) -> tuple[float, float]:
    """``(eta, min_budget)`` validated, or a ``ValueError`` saying what to pass."""
    eta = reduction_factor
    if isinstance(eta, bool) or not isinstance(eta, int | float) or not math.isfinite(eta):
        raise ValueError(f"reduction_factor must be a number > 1 such as 3, got {eta!r}")
    if eta <= 1:
        raise ValueError(f"reduction_factor must be > 1 (e.g. 2, 3 or 4), got {eta!r}")
    if min_budget is None:
        return eta, budget.min
    ok_type = not isinstance(min_budget, bool) and isinstance(min_budget, int | float)
    if not ok_type or not math.isfinite(min_budget):
        raise ValueError(f"min_budget must be a number or None, got {min_budget!r}")
    if not budget.min <= min_budget < budget.max:
        raise ValueError(
            f"min_budget must lie in [budget.min, budget.max) = [{budget.min}, {budget.max}) "
            f"of the {budget.name!r} budget, got {min_budget!r}; leave it None to use "
            f"budget.min"
        )
    return eta, min_budget


def rung_ladder(first: float, eta: float, budget: Budget) -> list[float]:
    """The rungs ``first * eta**k`` strictly below ``budget.max``: whole numbers
    (deduplicated) for an integral budget."""
    rungs: list[float] = []
    k = 0
    while True:
        raw = first * eta**k
        rung: float = round(raw) if budget.integral else raw
        if rung >= budget.max * (1 - _REL_TOL):
            return rungs
        if not rungs or rung > rungs[-1]:
            rungs.append(rung)
        k += 1


def value_at(values: Mapping[int, float], rung: float) -> float | None:
    """The value at the first reported step ``>= rung``, or ``None``."""
    steps = [s for s in values if s >= rung]
    return values[min(steps)] if steps else None


def survives(loss: float, rung_losses: Iterable[float], eta: float) -> bool:
    """Whether ``loss`` is in the top ``1/eta`` of ``rung_losses`` (which include it):
    fewer than ``max(1, n // eta)`` values are strictly better."""
    losses = list(rung_losses)
    keep = max(1, int(len(losses) // eta))
    return sum(other < loss for other in losses) < keep


def halving_decision(
    trial: FrozenTrial,
    step: int,
    value: float,
    peers: Iterable[FrozenTrial],
    rungs: list[float],
    eta: float,
    loss: Callable[[float], float],
) -> Decision:
    """Successive halving's answer to ``trial`` reporting ``value`` at ``step``, compared
    with ``peers`` (the other trials it competes with) at each rung the report passes."""
    own = dict(trial.intermediate_values)
    own[step] = value
    before = [s for s in own if s < step]
    previous = max(before) if before else -math.inf
    passed = [r for r in rungs if previous < r <= step]
    if not passed:
        return Decision.CONTINUE
    others = [
        p.intermediate_values
        for p in peers
        if p.number != trial.number and p.state in COUNTED_STATES
    ]
    for rung in passed:
        mine = loss(value)
        rung_losses = [mine]
        for values in others:
            v = value_at(values, rung)
            if v is not None:
                rung_losses.append(loss(v))
        if not survives(mine, rung_losses, eta):
            return Decision.STOP
    return Decision.CONTINUE
