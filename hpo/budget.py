"""The resource a multi-fidelity study spends per trial (epochs, iterations, samples).

>>> budget = Budget("epoch", 1, 50)
>>> budget.max
50
>>> Budget.from_json(budget.to_json()) == budget
True

A trial's ``trial.budget`` is the most it may use: :attr:`Budget.max` unless its searcher
assigns less (population-based training assigns segment ends), and :attr:`Budget.max`
for searchers that know nothing of budgets. The objective reports progress with
``trial.report(step, value)`` at steps ``min..budget`` and stops when
``trial.should_stop()`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Budget:
    """A named resource with the least useful amount (``min``) and the most (``max``) a
    trial may use; integers when both bounds are integers (e.g. epochs)."""

    name: str
    min: float
    max: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a budget needs a name such as 'epoch', got {self.name!r}")
        for label, v in (("min", self.min), ("max", self.max)):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"Budget {label} must be a finite number, got {v!r}")
        if not 0 < self.min < self.max:
            raise ValueError(
                f"`0 < min < max` must hold for a budget, got min={self.min}, max={self.max}"
            )

    @property
    def integral(self) -> bool:
        """Whether the budget counts whole units (both bounds are ints)."""
        return isinstance(self.min, int) and isinstance(self.max, int)

    def clip(self, amount: float) -> float:
        """``amount`` within ``[min, max]`` (rounded to a whole unit for integral budgets)."""
        out = min(max(float(amount), float(self.min)), float(self.max))
        return round(out) if self.integral else out

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "min": self.min, "max": self.max}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Budget:
        return cls(str(data["name"]), data["min"], data["max"])


def as_budget(value: Budget | tuple[str, float, float] | None) -> Budget | None:
    """A :class:`Budget` from itself, a ``(name, min, max)`` tuple, or ``None``."""
    if value is None or isinstance(value, Budget):
        return value
    if isinstance(value, tuple) and len(value) == 3:
        return Budget(*value)
    raise TypeError(f"budget must be hpo.Budget(name, min, max), got {value!r}")
