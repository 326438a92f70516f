"""The median stopping rule (Golovin et al. 2017, Google Vizier), as a stopper.

At a report at step ``s`` past the warm-up (``s > warmup_steps``) the trial stops if its
best value over its reported steps ``<= s`` is strictly worse than the median of the other
trials' values at step ``s``. The others are the RUNNING, COMPLETE and PRUNED trials that
reported exactly step ``s``; with fewer than ``min_trials`` of them the trial goes on.
Comparing the best so far (not the latest value) keeps a noisy but once-good trial alive.

>>> from hpo.budget import Budget
>>> MedianStopper(Budget("epoch", 1, 10), direction="minimize", seed=0).min_trials
5
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from hpo.budget import Budget
from hpo.stoppers._halving import COUNTED_STATES
from hpo.stoppers.base import Decision, Stopper
from hpo.trial import FrozenTrial

__all__ = ["MedianStopper"]


def _count(name: str, value: int, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    return value


class MedianStopper(Stopper):
    """Stops a trial whose best value so far is worse than the others' median at its step."""

    name = "median"

    def __init__(
        self,
        budget: Budget,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        warmup_steps: int = 0,
        min_trials: int = 5,
    ) -> None:
        super().__init__(budget, direction=direction, seed=seed)
        self.warmup_steps = _count("warmup_steps (steps never stopped)", warmup_steps, 0)
        self.min_trials = _count("min_trials (others needed at a step)", min_trials, 1)

    def on_report(
        self, trial: FrozenTrial, step: int, value: float, trials: Mapping[int, FrozenTrial]
    ) -> Decision:
        if step <= self.warmup_steps:
            return Decision.CONTINUE
        others = [
            self.loss(t.intermediate_values[step])
            for t in trials.values()
            if t.number != trial.number
            and t.state in COUNTED_STATES
            and step in t.intermediate_values
        ]
        if len(others) < self.min_trials:
            return Decision.CONTINUE
        own = {s: v for s, v in trial.intermediate_values.items() if s <= step}
        own[step] = value
        best = min(self.loss(v) for v in own.values())
        return Decision.STOP if best > statistics.median(others) else Decision.CONTINUE
