"""The median stopping rule on hand-made tables."""

from __future__ import annotations

from typing import Any

import pytest

from hpo.budget import Budget
from hpo.stoppers import make_stopper
from hpo.stoppers.base import Decision
from hpo.stoppers.median import MedianStopper
from hpo.testing.stopper_conformance import History, snapshot
from hpo.trial import TrialState

C, S = Decision.CONTINUE, Decision.STOP
BUDGET = Budget("epoch", 1, 10)


def median(direction: str = "minimize", **kwargs: Any) -> MedianStopper:
    stopper = make_stopper("median", BUDGET, direction=direction, seed=0, **kwargs)
    assert isinstance(stopper, MedianStopper)
    return stopper


def table(sign: float = 1.0) -> History:
    """Four others at step 2: 1, 2, 3, 10 (median 2.5); plus trials that must not count."""
    rows = {
        0: ({1: 4.0, 2: 1.0, 3: 0.5}, TrialState.COMPLETE),
        1: ({1: 4.0, 2: 2.0}, TrialState.PRUNED),
        2: ({1: 4.0, 2: 3.0}, TrialState.RUNNING),
        3: ({1: 4.0, 2: 10.0, 3: 9.0}, TrialState.COMPLETE),
        4: ({1: 0.0, 2: 0.0}, TrialState.FAILED),  # ignored: failed
        5: ({}, TrialState.WAITING),  # ignored: nothing reported
        6: ({1: 0.0, 3: 0.0}, TrialState.COMPLETE),  # ignored at step 2: did not report it
    }
    return {
        n: snapshot(n, {s: sign * v for s, v in values.items()}, state)
        for n, (values, state) in rows.items()
    }


@pytest.mark.parametrize(
    ("values", "decision"),
    [
        ({1: 3.0, 2: 2.6}, S),  # best so far 2.6 > median 2.5
        ({1: 3.0, 2: 2.5}, C),  # equal to the median goes on
        ({1: 2.4, 2: 9.0}, C),  # best so far (step 1) 2.4 < 2.5, though step 2 is bad
        ({1: 9.0, 2: 1.5}, C),
        ({2: 2.6, 3: 0.0}, S),  # steps after the one reported do not count
    ],
)
def test_exact_decisions(values: dict[int, float], decision: Decision) -> None:
    for direction, sign in (("minimize", 1.0), ("maximize", -1.0)):
        stopper = median(direction, min_trials=4)
        history = table(sign)
        trial = snapshot(7, {s: sign * v for s, v in values.items()})
        history[7] = trial
        assert stopper.on_report(trial, 2, sign * values[2], history) is decision, direction


def test_min_trials_counts_only_others_with_a_value_at_the_step() -> None:
    trial = snapshot(7, {1: 3.0, 2: 99.0})
    history = {**table(), 7: trial}
    assert median(min_trials=4).on_report(trial, 2, 99.0, history) is S
    assert median(min_trials=5).on_report(trial, 2, 99.0, history) is C  # only four count


def test_warmup_steps_never_stop() -> None:
    history = {**table(), 7: snapshot(7, {1: 99.0, 2: 99.0})}
    trial = history[7]
    assert median(min_trials=4, warmup_steps=2).on_report(trial, 2, 99.0, history) is C
    assert median(min_trials=4, warmup_steps=1).on_report(trial, 2, 99.0, history) is S


def test_step_one_with_others() -> None:
    """Step 1: others 4, 4, 4, 4 and 0 (trial 6); median 4."""
    history = table()
    for value, decision in ((4.0, C), (4.1, S), (3.0, C)):
        trial = snapshot(7, {1: value})
        assert median(min_trials=5).on_report(trial, 1, value, {**history, 7: trial}) is decision


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup_steps": -1}, "warmup_steps .* must be an integer >= 0"),
        ({"warmup_steps": 1.5}, "warmup_steps"),
        ({"min_trials": 0}, "min_trials .* must be an integer >= 1"),
        ({"min_trials": True}, "min_trials"),
    ],
)
def test_invalid_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        median(**kwargs)
