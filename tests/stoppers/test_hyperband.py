"""Hyperband: brackets and their rungs, bracket assignment, comparison within a bracket."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from hpo.budget import Budget
from hpo.stoppers import make_stopper
from hpo.stoppers.asha import ASHAStopper
from hpo.stoppers.base import Decision
from hpo.stoppers.hyperband import HyperbandStopper
from hpo.testing.stopper_conformance import History, snapshot

C, S = Decision.CONTINUE, Decision.STOP
BUDGET = Budget("epoch", 1, 27)


def hyperband(budget: Budget = BUDGET, seed: int | None = 0, **kwargs: Any) -> HyperbandStopper:
    stopper = make_stopper("hyperband", budget, seed=seed, **kwargs)
    assert isinstance(stopper, HyperbandStopper)
    return stopper


@pytest.mark.parametrize(
    ("budget", "kwargs", "rungs"),
    [
        (BUDGET, {}, [[1, 3, 9], [3, 9], [9], []]),
        (Budget("epoch", 1, 30), {}, [[1, 3, 9, 27], [3, 9, 27], [9, 27], [27]]),
        (Budget("epoch", 1, 8), {"reduction_factor": 2}, [[1, 2, 4], [2, 4], [4], []]),
        (Budget("epoch", 1, 27), {"min_budget": 3}, [[3, 9], [9], []]),
        (Budget("epoch", 1, 2), {}, [[1]]),
    ],
)
def test_brackets_and_rungs(budget: Budget, kwargs: dict[str, Any], rungs: list[Any]) -> None:
    stopper = hyperband(budget, **kwargs)
    assert stopper.n_brackets == len(rungs)
    assert [stopper.rungs(s) for s in range(stopper.n_brackets)] == rungs
    for bad in (-1, stopper.n_brackets):
        with pytest.raises(ValueError, match="bracket must be in"):
            stopper.rungs(bad)


def test_bracket_proportions_follow_hyperband() -> None:
    """n_s proportional to eta**(s_max - s) / (s_max - s + 1): 27/4, 9/3, 3/2, 1/1."""
    stopper = hyperband()
    raw = [27 / 4, 9 / 3, 3 / 2, 1 / 1]
    expected = [w / sum(raw) for w in raw]
    assert stopper.bracket_weights() == pytest.approx(expected)
    n = 20_000
    counts = Counter(stopper.bracket_of(i) for i in range(n))
    assert set(counts) == {0, 1, 2, 3}
    for s, share in enumerate(expected):
        assert counts[s] / n == pytest.approx(share, abs=0.015), (s, counts)


def test_bracket_assignment_is_deterministic_and_seeded() -> None:
    numbers = range(200)
    first = [hyperband(seed=7).bracket_of(i) for i in numbers]
    assert first == [hyperband(seed=7).bracket_of(i) for i in numbers]
    assert first != [hyperband(seed=8).bracket_of(i) for i in numbers]
    assert [hyperband(seed=None).bracket_of(i) for i in numbers] == [
        hyperband(seed=0).bracket_of(i) for i in numbers
    ]


def numbers_in(stopper: HyperbandStopper, bracket: int, count: int) -> list[int]:
    found = [i for i in range(10_000) if stopper.bracket_of(i) == bracket]
    return found[:count]


def test_a_trial_is_compared_only_within_its_bracket() -> None:
    stopper = hyperband()
    b0, b1 = numbers_in(stopper, 0, 4), numbers_in(stopper, 1, 4)
    history: History = {}
    for n in b1:  # much better, but in bracket 1 (rungs 3 and 9)
        history[n] = snapshot(n, {1: 0.0, 2: 0.0, 3: 0.0})
    for n, v in zip(b0[:3], [5.0, 6.0, 7.0], strict=True):
        history[n] = snapshot(n, {1: v})
        decision = stopper.on_report(history[n], 1, v, history)
        assert decision is (C if v == 5.0 else S)  # only bracket 0 counts at rung 1
    # bracket 1 has no rung at step 1: a terrible value there goes on ...
    late = numbers_in(stopper, 1, 5)[4]
    history[late] = snapshot(late, {1: 100.0})
    assert stopper.on_report(history[late], 1, 100.0, history) is C
    # ... and at rung 3 it meets bracket 1's four 0.0 values
    history[late] = snapshot(late, {1: 100.0, 2: 100.0, 3: 4.0})
    assert stopper.on_report(history[late], 3, 4.0, history) is S
    # bracket 0 at rung 1 sees 5, 6, 7 and its own 4.0, not bracket 1's 0.0 values
    history[b0[3]] = snapshot(b0[3], {1: 4.0, 2: 4.0, 3: 4.0})
    assert stopper.on_report(history[b0[3]], 1, 4.0, history) is C


def test_the_last_bracket_never_stops() -> None:
    stopper = hyperband()
    history: History = {n: snapshot(n, {s: 0.0 for s in range(1, 28)}) for n in range(30)}
    n = next(i for i in range(1000, 20_000) if stopper.bracket_of(i) == 3)
    values: dict[int, float] = {}
    for step in range(1, 28):
        values[step] = 50.0
        history[n] = snapshot(n, values)
        assert stopper.on_report(history[n], step, 50.0, history) is C


def test_bracket_zero_decides_like_asha() -> None:
    """Within bracket 0 Hyperband is ASHA with the same eta and min_budget (one shared rule)."""
    hb = hyperband()
    ashas = ASHAStopper(BUDGET, seed=0)
    members = numbers_in(hb, 0, 30)
    history: History = {}
    for k, n in enumerate(members):
        values = {s: ((k * 7) % 11) + 1.0 / s for s in range(1, 1 + (k % 12) + 1)}
        history[n] = snapshot(n, values)
        for step, v in values.items():
            assert hb.on_report(history[n], step, v, history) is ashas.on_report(
                history[n], step, v, history
            )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reduction_factor": 0.5}, "reduction_factor must be > 1"),
        ({"reduction_factor": None}, "reduction_factor must be a number"),
        ({"min_budget": -1}, "min_budget must lie in"),
        ({"min_budget": "1"}, "min_budget must be a number"),
    ],
)
def test_invalid_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hyperband(**kwargs)
