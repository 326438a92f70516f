"""The conformance suite every stopper must pass.

A stopper proves itself by adding **one** parameter to the ``stopper_spec`` fixture of
``tests/stoppers/test_conformance.py``; the suite then checks it through the public
interface only (``make_stopper`` and ``on_report``)::

    import pytest
    from hpo.testing.stopper_conformance import StopperConformance

    @pytest.fixture(params=[("median", {}), ("asha", {"reduction_factor": 2})], ids=str)
    def stopper_spec(request):
        return request.param          # (registry name, options)

    class TestStopperConformance(StopperConformance):
        pass

What is checked: it is built by name; an unknown option and invalid option values raise
``ValueError`` (the message for an unknown option names the valid ones); decisions are
:class:`~hpo.searchers.base.Decision` members; the first report of the first trial goes
on; decisions are a function of the ``trials`` mapping alone (asked twice, or of a fresh
instance, the answer is the same); ``maximize`` on negated values decides like
``minimize``; a trial clearly better than all others is never stopped; among clearly bad
and good trials some bad ones are stopped by ``budget.max``; FAILED and WAITING trials in
the mapping and reports past the last rung or past ``budget.max`` do not break it.

Invalid values are probed on every option whose default is a number or ``None``: the
string ``"three"``, ``-1`` and NaN must all be refused. A stopper whose options accept one
of those overrides :attr:`StopperConformance.invalid_values`.
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from hpo.budget import Budget
from hpo.stoppers import Stopper, make_stopper, stopper_class
from hpo.stoppers.base import Decision
from hpo.trial import FrozenTrial, TrialState

__all__ = ["History", "StopperConformance", "simulate", "snapshot"]

#: ``{trial number: snapshot}``, what ``on_report`` receives as ``trials``
History = dict[int, FrozenTrial]


def snapshot(
    number: int, values: Mapping[int, float], state: TrialState = TrialState.RUNNING
) -> FrozenTrial:
    """A stored trial with these intermediate values (``value`` set when finished)."""
    last = values[max(values)] if values else None
    return FrozenTrial(
        number=number,
        state=state,
        params={},
        value=last if state in (TrialState.COMPLETE, TrialState.PRUNED) else None,
        intermediate_values=dict(values),
    )


def simulate(
    stopper: Stopper,
    curves: list[Callable[[int], float]],
    steps: range,
    history: History | None = None,
) -> tuple[History, list[list[Decision]]]:
    """Run one trial per curve, one after another, reporting ``curve(step)`` at every step
    until the stopper says STOP (the trial is then PRUNED) or the steps run out (COMPLETE).

    Returns the final history and each new trial's decisions, in order."""
    history = dict(history or {})
    all_decisions: list[list[Decision]] = []
    for curve in curves:
        number = max(history, default=-1) + 1
        values: dict[int, float] = {}
        decisions: list[Decision] = []
        state = TrialState.COMPLETE
        for step in steps:
            values[step] = curve(step)
            history[number] = snapshot(number, values)
            decision = stopper.on_report(history[number], step, values[step], history)
            decisions.append(decision)
            if decision is Decision.STOP:
                state = TrialState.PRUNED
                break
        history[number] = snapshot(number, values, state)
        all_decisions.append(decisions)
    return history, all_decisions


def _noisy_curve(rng: random.Random, level: float) -> Callable[[int], float]:
    noise = [rng.random() for _ in range(200)]
    return lambda step: level + noise[step % 200] + 1.0 / step


class StopperConformance:
    """The suite; subclass it in a test module that provides a ``stopper_spec`` fixture
    returning ``(name, kwargs)``."""

    budget: Budget = Budget("epoch", 1, 27)
    invalid_values: tuple[Any, ...] = ("three", -1, math.nan)

    # -- helpers -------------------------------------------------------------------------

    def make(self, spec: tuple[str, Mapping[str, Any]], direction: str = "minimize") -> Stopper:
        name, kwargs = spec
        return make_stopper(name, self.budget, direction=direction, seed=0, **kwargs)

    def steps(self) -> range:
        return range(int(self.budget.min), int(self.budget.max) + 1)

    def random_history(self, seed: int = 0, n: int = 30) -> History:
        """Finished and running trials with random curves over random numbers of steps,
        plus a FAILED and a WAITING trial."""
        rng = random.Random(seed)
        history: History = {}
        for number in range(n):
            last = rng.choice(list(self.steps()))
            state = rng.choice([TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING])
            level = rng.uniform(0, 5)
            values = {s: level + rng.random() for s in range(int(self.budget.min), last + 1)}
            history[number] = snapshot(number, values, state)
        history[n] = snapshot(n, {1: -100.0}, TrialState.FAILED)
        history[n + 1] = snapshot(n + 1, {}, TrialState.WAITING)
        return history

    def all_decisions(self, stopper: Stopper, history: History) -> list[Decision]:
        """The decision at every step of every trial, each as if it had just reported."""
        out = []
        for _, trial in sorted(history.items()):
            for step, value in sorted(trial.intermediate_values.items()):
                out.append(stopper.on_report(trial, step, value, history))
        return out

    # -- construction --------------------------------------------------------------------

    def test_built_by_name(self, stopper_spec: tuple[str, Mapping[str, Any]]) -> None:
        stopper = self.make(stopper_spec)
        assert isinstance(stopper, Stopper)
        assert stopper.name == stopper_spec[0]
        assert stopper.budget == self.budget and stopper.direction == "minimize"

    def test_unknown_option_names_valid_ones(
        self, stopper_spec: tuple[str, Mapping[str, Any]]
    ) -> None:
        name, kwargs = stopper_spec
        with pytest.raises(ValueError, match="no_such_option") as info:
            make_stopper(name, self.budget, **kwargs, no_such_option=1)
        for option in self._options(name):
            assert option in str(info.value)

    def test_invalid_option_values(self, stopper_spec: tuple[str, Mapping[str, Any]]) -> None:
        name, kwargs = stopper_spec
        options = self._options(name)
        numeric = [k for k, default in options.items() if _is_number_or_none(default)]
        for option in numeric:
            for bad in self.invalid_values:
                with pytest.raises(ValueError, match=option):
                    make_stopper(name, self.budget, **{**kwargs, option: bad})

    def test_invalid_direction(self, stopper_spec: tuple[str, Mapping[str, Any]]) -> None:
        with pytest.raises(ValueError, match="direction"):
            self.make(stopper_spec, direction="up")

    # -- decisions -----------------------------------------------------------------------

    def test_decisions_are_decision_members(
        self, stopper_spec: tuple[str, Mapping[str, Any]]
    ) -> None:
        decisions = self.all_decisions(self.make(stopper_spec), self.random_history())
        assert decisions and all(isinstance(d, Decision) for d in decisions)
        assert {Decision(d.value) for d in decisions} <= set(Decision)

    def test_first_report_of_first_trial_continues(
        self, stopper_spec: tuple[str, Mapping[str, Any]]
    ) -> None:
        stopper = self.make(stopper_spec)
        for step in self.steps():
            trial = snapshot(0, {step: 123.0})
            assert stopper.on_report(trial, step, 123.0, {0: trial}) is Decision.CONTINUE

    def test_decisions_depend_only_on_trials(
        self, stopper_spec: tuple[str, Mapping[str, Any]]
    ) -> None:
        history = self.random_history(seed=1)
        first = self.make(stopper_spec)
        reference = self.all_decisions(first, history)
        assert self.all_decisions(first, history) == reference  # asked again
        assert self.all_decisions(self.make(stopper_spec), dict(history)) == reference
        other = self.random_history(seed=2)
        self.all_decisions(first, other)  # whatever it saw in between does not matter
        assert self.all_decisions(first, history) == reference

    def test_maximize_mirrors_minimize(self, stopper_spec: tuple[str, Mapping[str, Any]]) -> None:
        history = self.random_history(seed=3)
        negated = {
            n: t.evolve(
                intermediate_values={s: -v for s, v in t.intermediate_values.items()},
                value=None if t.value is None else -t.value,
            )
            for n, t in history.items()
        }
        minimize = self.all_decisions(self.make(stopper_spec), history)
        maximize = self.all_decisions(self.make(stopper_spec, "maximize"), negated)
        assert maximize == minimize
        assert Decision.STOP in minimize, "the random history should stop some trial"

    def test_clearly_best_trial_is_never_stopped(
        self, stopper_spec: tuple[str, Mapping[str, Any]]
    ) -> None:
        stopper = self.make(stopper_spec)
        rng = random.Random(4)
        others = [_noisy_curve(rng, level=1.0 + rng.random()) for _ in range(40)]
        history, _ = simulate(stopper, others, self.steps())
        for position in (0, 17, len(history)):  # first, among the others, last
            renumbered = {
                m: t.evolve(number=m)
                for m, t in ((n + (n >= position), t) for n, t in history.items())
            }
            values: dict[int, float] = {}
            for step in self.steps():
                values[step] = -1.0 / step
                renumbered[position] = star = snapshot(position, values)
                decision = stopper.on_report(star, step, values[step], renumbered)
                assert decision is Decision.CONTINUE, f"trial {position} stopped at {step}"

    def test_bad_trials_get_stopped(self, stopper_spec: tuple[str, Mapping[str, Any]]) -> None:
        stopper = self.make(stopper_spec)
        rng = random.Random(5)
        good = [_noisy_curve(rng, level=0.0) for _ in range(30)]
        bad = [_noisy_curve(rng, level=10.0) for _ in range(30)]
        curves = [c for pair in zip(good, bad, strict=True) for c in pair]
        history, decisions = simulate(stopper, curves, self.steps())
        stopped_bad = sum(d[-1] is Decision.STOP for d in decisions[1::2])
        assert stopped_bad >= 5, f"only {stopped_bad} of 30 clearly bad trials were stopped"
        assert sum(t.state is TrialState.PRUNED for t in history.values()) >= stopped_bad

    def test_reports_past_the_rungs_do_not_break(
        self, stopper_spec: tuple[str, Mapping[str, Any]]
    ) -> None:
        stopper = self.make(stopper_spec)
        history = self.random_history(seed=6)
        top = int(self.budget.max)
        for step in (top, top + 1, 10 * top):
            number = len(history)
            trial = snapshot(number, {step: 2.0})
            history[number] = trial
            assert isinstance(stopper.on_report(trial, step, 2.0, history), Decision)

    def test_foreign_states_are_ignored(self, stopper_spec: tuple[str, Mapping[str, Any]]) -> None:
        """FAILED and WAITING trials neither count nor break anything."""
        stopper = self.make(stopper_spec)
        history = self.random_history(seed=7)
        plain = {n: t for n, t in history.items() if t.state.value not in ("FAILED", "WAITING")}
        decisions = []
        for trials in (history, plain):
            number = len(history)
            trial = snapshot(number, {1: 2.5})
            decisions.append(stopper.on_report(trial, 1, 2.5, {**trials, number: trial}))
        assert decisions[0] is decisions[1]

    # -- internals -----------------------------------------------------------------------

    @staticmethod
    def _options(name: str) -> dict[str, Any]:
        params = inspect.signature(stopper_class(name).__init__).parameters
        skip = ("self", "budget", "direction", "seed")
        return {k: p.default for k, p in params.items() if k not in skip}


def _is_number_or_none(default: Any) -> bool:
    return default is None or (not isinstance(default, bool) and isinstance(default, int | float))
