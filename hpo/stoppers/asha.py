"""Asynchronous successive halving (ASHA, Li et al. 2020), as a stopper.

Rungs lie at ``min_budget * reduction_factor**k`` below ``budget.max`` (whole numbers,
deduplicated, for an integral budget). A trial that reaches a rung goes on only if its
value there is in the top ``1/reduction_factor`` of every value recorded at that rung so
far, its own included; see :mod:`hpo.stoppers._halving` for the exact rule (value at a
rung, fewer than ``reduction_factor`` values, ties). Reports between rungs go on.

>>> from hpo.budget import Budget
>>> ASHAStopper(Budget("epoch", 1, 27), direction="minimize", seed=0).rungs()
[1, 3, 9]
"""

from __future__ import annotations

from collections.abc import Mapping

from hpo.budget import Budget
from hpo.stoppers._halving import check_halving_options, halving_decision, rung_ladder
from hpo.stoppers.base import Decision, Stopper
from hpo.trial import FrozenTrial

__all__ = ["ASHAStopper"]


class ASHAStopper(Stopper):
    """Stops a trial at a rung unless it is in the top ``1/reduction_factor`` there."""

    name = "asha"

    def __init__(
        self,
        budget: Budget,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        reduction_factor: float = 3,
        min_budget: float | None = None,
    ) -> None:
        super().__init__(budget, direction=direction, seed=seed)
        self.reduction_factor, self.min_budget = check_halving_options(
            budget, reduction_factor, min_budget
        )
        self._rungs = rung_ladder(self.min_budget, self.reduction_factor, budget)

    def rungs(self) -> list[float]:
        """The rung steps, ascending, each below ``budget.max``."""
        return list(self._rungs)

    def on_report(
        self, trial: FrozenTrial, step: int, value: float, trials: Mapping[int, FrozenTrial]
    ) -> Decision:
        return halving_decision(
            trial, step, value, trials.values(), self._rungs, self.reduction_factor, self.loss
        )
