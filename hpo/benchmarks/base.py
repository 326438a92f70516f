"""Benchmark problems: an objective with its space, direction and, where known, optimum.

>>> from hpo.benchmarks import get_problem
>>> problem = get_problem("branin")
>>> study = hpo.create_study(problem.objective, searcher="random", seed=0)  # doctest: +SKIP
>>> problem.regret(study.best_value)                                           # doctest: +SKIP

**Multi-fidelity problems** have a :class:`~hpo.budget.Budget` (e.g. epochs) and a
``curve``: the value after each step ``1..budget`` of one configuration. Their
``objective`` is then budget-aware, written like a training loop: it reports the value
of each step with ``trial.report(step, value)`` up to ``trial.budget``, stops as soon as
``trial.should_stop()`` says so and returns the last value reported. A problem may
instead bring its own budget-aware ``trainer`` ``(config, trial) -> value`` (a real
training loop with real checkpoints, e.g. ``torch-digits``).

Checkpoints of curve problems: a curve is a pure function of the configuration and the
step, so nothing needs restoring but the step reached. A trial resumes (checkpoint
``{"step": s}``, its own or its parent's: population-based training continues a parent)
only when it has a parent, and saves a checkpoint only when it may be continued later:
when it has a parent or its searcher gave it less than the whole budget. It saves once,
at the last step it reached, not every step, so plain random search, ASHA and Hyperband
(whose trials run from scratch up to ``Budget.max`` until stopped) write no files.

>>> problem = get_problem("lcbench-epochs-3945")                # doctest: +SKIP
>>> study = hpo.create_study(problem.objective, searcher="random", stopper="asha")  # doctest: +SKIP
>>> total_steps(study.trials)                                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hpo.budget import Budget
from hpo.objective import Objective
from hpo.space import Space
from hpo.trial import FrozenTrial, Trial

#: ``(config, budget) -> values``: the value after each step ``1..budget``.
Curve = Callable[[dict[str, Any], int], Sequence[float]]
#: ``(config, trial) -> value``: a budget-aware objective (see the module docstring).
Trainer = Callable[[dict[str, Any], Trial], float]


@dataclass(frozen=True)
class Problem:
    """A named optimization problem.

    ``optimum`` is the best achievable value when known; ``reference`` is a value to
    normalize regret against when there is no known optimum (e.g. the worst plausible
    value), so ``normalized_regret`` maps ``optimum`` to 0 and ``reference`` to 1.

    ``budget``, with ``curve`` or ``trainer``, makes the problem multi-fidelity: its
    ``objective`` then takes ``(config, trial)`` and spends up to ``trial.budget`` steps;
    ``function`` (and calling the problem) still gives the value at ``budget.max``.

    ``noise_free``, on a noisy problem (whose ``function`` adds noise), is the same
    function without the noise: a benchmark scores the configuration a searcher ends with
    (its best observed value) by it, so a searcher gains nothing from a lucky draw.
    """

    name: str
    space: Space
    direction: str
    function: Callable[[dict[str, Any]], float]
    optimum: float | None = None
    reference: float | None = None
    tags: tuple[str, ...] = field(default=())
    budget: Budget | None = None
    curve: Curve | None = None
    trainer: Trainer | None = None
    noise_free: Callable[[dict[str, Any]], float] | None = None

    def __post_init__(self) -> None:
        if self.budget is None and (self.curve is not None or self.trainer is not None):
            raise ValueError(f"problem {self.name!r} has a curve or trainer but no budget")
        if self.budget is not None and self.curve is None and self.trainer is None:
            raise ValueError(f"problem {self.name!r} has a budget but no curve or trainer")
        if self.budget is not None and not self.budget.integral:
            raise ValueError(f"problem {self.name!r} needs a budget of whole steps")

    @property
    def objective(self) -> Objective:
        """The problem as an ``@hpo.objective`` (space, direction and budget bound);
        budget-aware ``(config, trial)`` when the problem has a budget."""
        if self.budget is None:
            return Objective(self.function, space=self.space, direction=self.direction)
        func = self.trainer if self.trainer is not None else self._curve_objective()
        return Objective(func, space=self.space, direction=self.direction, budget=self.budget)

    def _curve_objective(self) -> Trainer:
        """A budget-aware objective that replays ``curve`` one step at a time."""
        curve = self.curve
        budget = self.budget
        assert curve is not None and budget is not None

        def run(config: dict[str, Any], trial: Trial) -> float:
            steps = trial_steps(trial, budget)
            state = trial.load_checkpoint() if trial.parent is not None else None
            start = int(state["step"]) if isinstance(state, dict) and "step" in state else 0
            values = curve(config, steps)  # one call for the whole curve
            if start >= steps:  # nothing left to run: the value where the budget ends
                return float(values[steps - 1])
            step = start
            for step in range(start + 1, steps + 1):
                trial.report(step, float(values[step - 1]))
                if trial.should_stop():
                    break
            if trial.parent is not None or steps < budget.max:
                trial.save_checkpoint({"step": step})
            return float(values[step - 1])

        return run

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


def trial_steps(trial: Trial, budget: Budget) -> int:
    """How many steps ``trial`` may run: ``trial.budget`` as a whole number within the
    budget's range (``budget.max`` when the study assigns none)."""
    return int(budget.clip(budget.max if trial.budget is None else trial.budget))


def steps_used(trial: FrozenTrial) -> int:
    """The steps a finished trial ran itself: the steps it reported (a trial resumed
    from its parent's checkpoint at step ``s`` reports, and runs, only steps after ``s``)."""
    return len(trial.intermediate_values)


def total_steps(trials: Iterable[FrozenTrial]) -> int:
    """The steps (e.g. epochs) a study's trials ran altogether: its cost in budget units."""
    return sum(steps_used(t) for t in trials)


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
