"""Early stopping as its own small interface, so any searcher composes with any stopper.

``create_study(searcher="tpe", stopper="asha")``: the searcher proposes configurations,
the stopper decides on every intermediate report whether the trial goes on. A stopper
decides from the study's trials as stored (``trials``: every trial of the study, the
reporting one included with its intermediate values so far), not from memory of its own:
so decisions are the same whichever process, thread or restart asks, and several
processes sharing a study agree. Options are JSON-serializable keyword arguments, so a
stored study rebuilds its stopper from ``(name, kwargs)``.

A minimal stopper::

    class Threshold(Stopper):
        name = "threshold"

        def __init__(self, budget, *, direction="minimize", seed=None, limit=1.0):
            super().__init__(budget, direction=direction, seed=seed)
            self.limit = limit

        def on_report(self, trial, step, value, trials):
            return Decision.STOP if self.loss(value) > self.limit else Decision.CONTINUE
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

from hpo.budget import Budget
from hpo.searchers.base import Decision
from hpo.trial import FrozenTrial

__all__ = ["Decision", "Stopper"]


class Stopper(ABC):
    """Base class of every stopper: ``on_report`` answers CONTINUE or STOP."""

    name: ClassVar[str] = ""

    def __init__(
        self, budget: Budget, *, direction: str = "minimize", seed: int | None = None
    ) -> None:
        if not isinstance(budget, Budget):
            raise TypeError(
                f"the {self.name or type(self).__name__!r} stopper needs the study's budget "
                f"(hpo.Budget), got {budget!r}"
            )
        if direction not in ("minimize", "maximize"):
            raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
        self.budget = budget
        self.direction = direction
        self.seed = seed

    def loss(self, value: float) -> float:
        """``value`` as a loss (lower is better)."""
        return value if self.direction == "minimize" else -value

    @abstractmethod
    def on_report(
        self, trial: FrozenTrial, step: int, value: float, trials: Mapping[int, FrozenTrial]
    ) -> Decision:
        """Decide whether ``trial``, which just reported ``value`` at ``step``, goes on.

        ``trials`` maps every trial number of the study to its stored snapshot (``trial``
        included, its ``intermediate_values`` holding this report)."""
