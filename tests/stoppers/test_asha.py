"""ASHA: rung placement, the exact promotion rule, the registry, and a study end to end."""

from __future__ import annotations

from typing import Any

import pytest

import hpo
from hpo.budget import Budget
from hpo.stoppers import UnknownStopperError, available_stoppers, make_stopper
from hpo.stoppers.asha import ASHAStopper
from hpo.stoppers.base import Decision
from hpo.testing.stopper_conformance import History, snapshot
from hpo.trial import TrialState

C, S = Decision.CONTINUE, Decision.STOP
BUDGET = Budget("epoch", 1, 27)


def asha(**kwargs: Any) -> ASHAStopper:
    stopper = make_stopper("asha", kwargs.pop("budget", BUDGET), seed=0, **kwargs)
    assert isinstance(stopper, ASHAStopper)
    return stopper


# -- rungs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "kwargs", "rungs"),
    [
        (BUDGET, {}, [1, 3, 9]),
        (Budget("epoch", 1, 30), {}, [1, 3, 9, 27]),
        (Budget("epoch", 1, 28), {"reduction_factor": 2, "min_budget": 2}, [2, 4, 8, 16]),
        (Budget("epoch", 1, 27), {"reduction_factor": 1.5}, [1, 2, 3, 5, 8, 11, 17, 26]),
        (Budget("epoch", 2, 100), {"reduction_factor": 4}, [2, 8, 32]),
        (Budget("epoch", 1, 2), {}, [1]),
    ],
)
def test_rungs(budget: Budget, kwargs: dict[str, Any], rungs: list[int]) -> None:
    got = asha(budget=budget, **kwargs).rungs()
    assert got == rungs
    assert all(isinstance(r, int) for r in got)


def test_rungs_of_a_real_valued_budget() -> None:
    assert asha(budget=Budget("fraction", 0.1, 1.0)).rungs() == pytest.approx([0.1, 0.3, 0.9])


# -- the promotion rule -----------------------------------------------------------------


def report(
    stopper: ASHAStopper, history: History, number: int, step: int, value: float
) -> Decision:
    """``number`` reports ``value`` at ``step``: stored in ``history``, then decided."""
    old = history.get(number)
    values = {**(old.intermediate_values if old else {}), step: value}
    history[number] = snapshot(number, values)
    return stopper.on_report(history[number], step, value, history)


def test_synchronous_successive_halving_keeps_a_third_per_rung() -> None:
    """27 trials all reach rung 1, then the survivors rung 3, then rung 9: 27 -> 9 -> 3 -> 1."""
    stopper = asha()
    history: History = {}
    loss = {  # a different ranking at each rung
        1: lambda i: (7 * i) % 27,
        3: lambda i: (5 * i + 3) % 27,
        9: lambda i: (11 * i + 20) % 27,
    }
    alive = list(range(27))
    survivors = {}
    for rung in (1, 3, 9):
        for i in alive:
            old = history.get(i)
            values = {**(old.intermediate_values if old else {}), rung: float(loss[rung](i))}
            history[i] = snapshot(i, values)
        decisions = {i: stopper.on_report(history[i], rung, loss[rung](i), history) for i in alive}
        alive = [i for i in alive if decisions[i] is C]
        for i, d in decisions.items():
            if d is S:
                history[i] = snapshot(i, history[i].intermediate_values, TrialState.PRUNED)
        survivors[rung] = alive
    assert survivors[1] == [0, 1, 4, 5, 8, 12, 16, 20, 24]  # (7 i) % 27 < 9
    assert survivors[3] == [0, 5, 16]  # losses 3, 1, 2: the best three of those nine
    assert survivors[9] == [16]  # losses 20, 21, 7
    assert [len(survivors[r]) for r in (1, 3, 9)] == [9, 3, 1]


def test_asynchronous_reports_are_judged_against_the_rung_so_far() -> None:
    """Top ``max(1, n // 3)`` of the ``n`` values at the rung (its own included) go on."""
    stopper = asha()
    history: History = {}
    values = [5, 3, 8, 1, 9, 2, 7, 4, 6]
    decisions = [report(stopper, history, i, 1, v) for i, v in enumerate(values)]
    # n:         1  2  3  4  5  6  7  8  9 ; keep: 1 1 1 1 1 2 2 2 3
    assert decisions == [C, C, S, C, S, C, S, S, S]


def test_only_trials_that_reached_the_rung_count_there() -> None:
    stopper = asha()
    history: History = {}
    for i, v in enumerate([1.0, 2.0, 3.0]):  # all reach rung 1, only trial 0 rung 3
        report(stopper, history, i, 1, v)
    report(stopper, history, 0, 2, 1.0)
    assert report(stopper, history, 0, 3, 1.0) is C
    assert report(stopper, history, 1, 2, 2.0) is C  # step 2 is no rung
    assert report(stopper, history, 1, 3, 0.5) is C  # better than trial 0 at rung 3
    assert report(stopper, history, 2, 3, 0.9) is S  # n = 3 at rung 3: only the best goes on


def test_steps_between_rungs_always_continue() -> None:
    stopper = asha()
    history: History = {}
    for i in range(5):
        report(stopper, history, i, 1, float(i))
    rungs = stopper.rungs()
    for step in range(1, 41):  # best at every rung, terrible everywhere else
        value = -1.0 if step in rungs else 1e9
        assert report(stopper, history, 99, step, value) is C, step


def test_ties_continue() -> None:
    stopper = asha()
    history: History = {}
    assert [report(stopper, history, i, 1, 1.0) for i in range(6)] == [C] * 6
    assert report(stopper, history, 6, 1, 1.0 + 1e-9) is S


def test_sparse_reports_are_judged_at_every_rung_they_pass() -> None:
    """The value at a rung is the one at the first reported step at or after it."""
    stopper = asha()
    history: History = {}
    for i in range(3):
        report(stopper, history, i, 1, 10.0 + i)
        report(stopper, history, i, 3, 10.0 + i)
    # trial 3 first reports at step 4: judged at rung 1 and rung 3 with its step-4 value
    assert report(stopper, history, 3, 4, 11.5) is S  # fails rung 1 (n=4, two better)
    assert report(stopper, history, 4, 4, 9.0) is C  # best at both
    # trial 4's step-4 value now counts at rung 1: 10.5 has 9.0 and 10.0 above it (n=6)
    assert report(stopper, history, 5, 1, 10.5) is S
    assert report(stopper, history, 6, 1, 9.5) is C


def test_maximize_keeps_the_largest() -> None:
    stopper = asha(direction="maximize")
    history: History = {}
    values = [5, 3, 8, 1, 9, 2, 7, 4, 6]
    decisions = [report(stopper, history, i, 1, -v) for i, v in enumerate(values)]
    assert decisions == [C, C, S, C, S, C, S, S, S]


def test_failed_and_waiting_trials_do_not_count() -> None:
    stopper = asha()
    history: History = {
        0: snapshot(0, {1: 0.0}, TrialState.FAILED),
        1: snapshot(1, {}, TrialState.WAITING),
        2: snapshot(2, {1: 5.0}, TrialState.PRUNED),
        3: snapshot(3, {1: 1.0, 2: 1.0, 3: 1.0}, TrialState.COMPLETE),
    }
    assert report(stopper, history, 4, 1, 2.0) is S  # n=3 (2, 3 and itself): 3 is better
    assert report(stopper, history, 5, 1, 0.5) is C  # trial 0's 0.0 is ignored


# -- options and registry ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reduction_factor": 1}, "reduction_factor must be > 1"),
        ({"reduction_factor": "3"}, "reduction_factor must be a number"),
        ({"reduction_factor": True}, "reduction_factor must be a number"),
        ({"min_budget": 0}, r"min_budget must lie in \[budget.min, budget.max\)"),
        ({"min_budget": 27}, "min_budget must lie in"),
        ({"min_budget": float("inf")}, "min_budget must be a number"),
    ],
)
def test_invalid_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        asha(**kwargs)


def test_registry() -> None:
    assert {"asha", "hyperband", "median"} <= set(available_stoppers())
    stopper = make_stopper("asha", BUDGET, direction="maximize", seed=3, reduction_factor=2)
    assert isinstance(stopper, ASHAStopper) and stopper.name == "asha"
    assert (stopper.direction, stopper.seed, stopper.reduction_factor) == ("maximize", 3, 2)
    with pytest.raises(UnknownStopperError, match="Did you mean 'asha'") as info:
        make_stopper("ashaa", BUDGET)
    assert isinstance(info.value, ValueError) and "hyperband" in str(info.value)
    with pytest.raises(ValueError, match="its options are: reduction_factor, min_budget"):
        make_stopper("asha", BUDGET, eta=3)


# -- end to end -------------------------------------------------------------------------


@hpo.objective(space={"x": hpo.Float(0.0, 1.0)}, budget=BUDGET)
def _train(config: dict[str, Any], trial: hpo.Trial) -> float:
    loss = 0.0
    for step in range(1, 28):
        loss = config["x"] + 1.0 / step
        trial.report(step, loss)
        if trial.should_stop():
            break
    return loss


def test_a_study_with_asha_prunes_and_keeps_reports() -> None:
    study = hpo.create_study(_train, searcher="random", stopper="asha", seed=0)
    study.optimize(n_trials=20, progress=False)
    trials = study.trials
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert pruned and complete and len(trials) == 20
    rungs = ASHAStopper(BUDGET).rungs()
    for t in pruned:
        last = max(t.intermediate_values)
        assert last in rungs  # stopped at a rung, with everything up to it kept
        assert sorted(t.intermediate_values) == list(range(1, last + 1))
        assert t.intermediate_values[last] == pytest.approx(t.params["x"] + 1.0 / last)
    for t in complete:
        assert sorted(t.intermediate_values) == list(range(1, 28))
    best = min(complete, key=lambda t: t.params["x"])
    assert study.best_trial.number == best.number
