"""BOHB: per-budget density model, Hyperband stopping, reproducibility, and a small race."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
import pytest

import hpo
from hpo.budget import Budget
from hpo.searchers import Decision, Suggestion, make_searcher
from hpo.searchers.bohb import BOHBSearcher, default_min_budget
from hpo.space import Categorical, Float, Space
from hpo.stoppers.hyperband import HyperbandStopper
from hpo.trial import FrozenTrial, TrialState

BUDGET = Budget("epoch", 1, 27)


def space2() -> Space:
    return Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})


def trial(
    number: int,
    config: dict[str, Any],
    curve: dict[int, float],
    state: TrialState = TrialState.PRUNED,
    value: float | None = None,
    suggestion: Suggestion | None = None,
) -> FrozenTrial:
    """A finished trial; with ``suggestion``, the one a study creates for it (its id)."""
    return FrozenTrial(
        number=number,
        state=state,
        params=config,
        value=value,
        intermediate_values=curve,
        suggestion_id=None if suggestion is None else suggestion.id,
        searcher_info={} if suggestion is None else dict(suggestion.info),
    )


def test_registered_and_flags() -> None:
    searcher = make_searcher("bohb", space2(), seed=0, budget=BUDGET)
    assert isinstance(searcher, BOHBSearcher)
    assert BOHBSearcher.owns_stopping and BOHBSearcher.needs_budget
    assert searcher.min_points_in_model == 4  # 2 parameters + 2
    # by default the lowest rung is a ninth of the full budget (eta = 3: two halvings)
    assert searcher.levels == [3.0, 9.0, 27.0]
    explicit = make_searcher("bohb", space2(), seed=0, budget=BUDGET, min_budget=1)
    assert explicit.levels == [1.0, 3.0, 9.0, 27.0]


@pytest.mark.parametrize(
    ("budget", "eta", "low"),
    [
        (Budget("epoch", 1, 27), 3, 3.0),
        (Budget("epoch", 1, 52), 3, 6.0),  # rounded up to a whole epoch
        (Budget("epoch", 1, 100), 4, 7.0),
        (Budget("epoch", 1, 8), 3, None),  # 8 / 9 is below the smallest budget
        (Budget("fraction", 0.01, 1.0), 2, 0.25),
        (Budget("epoch", 1, 27), 0.5, None),  # invalid: the stopper reports it
    ],
)
def test_default_min_budget_is_two_halvings_below_the_full_budget(
    budget: Budget, eta: float, low: float | None
) -> None:
    assert default_min_budget(budget, eta) == low


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("top_fraction", 0.0, "top_fraction"),
        ("random_fraction", 1.5, "random_fraction"),
        ("n_candidates", 0, "n_candidates"),
        ("min_points_in_model", 0, "min_points_in_model"),
        ("reduction_factor", 1, "reduction_factor"),
        ("min_budget", 30, "min_budget"),
        ("prior_weight", -1.0, "prior_weight"),
    ],
)
def test_invalid_options(option: str, value: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BOHBSearcher(space2(), budget=BUDGET, **{option: value})


def test_model_of_the_largest_budget_with_enough_points() -> None:
    """At budget 1 the good region is x ~ 0.1; at budget 9 it is x ~ 0.9. Once budget 9
    has enough observations its model (not budget 1's) drives the proposals."""
    searcher = BOHBSearcher(space2(), seed=0, budget=BUDGET, random_fraction=0.0)
    rng = np.random.default_rng(0)
    number = 0
    for _ in range(12):  # stopped at budget 3: only levels 1 and 3
        x = float(rng.random())
        config = {"x": x, "y": float(rng.random())}
        searcher.tell(trial(number, config, {1: abs(x - 0.1), 2: 1.0, 3: abs(x - 0.1)}))
        number += 1
    assert searcher.model_level() == 3.0
    low = [s.config["x"] for s in searcher.ask(8)]
    assert all(s is not None for s in low)
    assert statistics.mean(low) < 0.4
    for _ in range(6):  # reached budget 9 (and were stopped there)
        x = float(rng.random())
        config = {"x": x, "y": float(rng.random())}
        curve = {1: abs(x - 0.1), 3: abs(x - 0.1), 9: abs(x - 0.9)}
        searcher.tell(trial(number, config, curve))
        number += 1
    assert searcher.model_level() == 9.0
    suggestions = searcher.ask(8)
    assert {s.info["model_budget"] for s in suggestions} <= {9.0, None}
    high = [s.config["x"] for s in suggestions]
    assert statistics.mean(high) > 0.6


def test_complete_trials_without_reports_count_at_max_budget() -> None:
    searcher = BOHBSearcher(space2(), seed=0, budget=BUDGET)
    for n in range(4):
        config = {"x": n / 4, "y": 0.5}
        searcher.tell(trial(n, config, {}, TrialState.COMPLETE, value=float(n)))
    assert searcher.model_level() == 27.0


def test_failed_trials_are_ignored() -> None:
    searcher = BOHBSearcher(space2(), seed=0, budget=BUDGET, min_budget=1)
    config = {"x": 0.5, "y": 0.5}
    running = FrozenTrial(0, TrialState.RUNNING, config, intermediate_values={1: 0.3})
    searcher.on_report(running, 1, 0.3, {0: running})
    assert 0 in searcher._obs[1.0]
    searcher.tell(trial(0, config, {1: 0.3}, TrialState.FAILED))
    assert all(0 not in data for data in searcher._obs.values())
    searcher.tell(trial(1, {"x": 0.1, "y": 0.1}, {1: 0.2, 3: 0.1}, TrialState.FAILED))
    assert all(not data for data in searcher._obs.values())


def test_stops_follow_hyperband_brackets() -> None:
    """Every decision equals the Hyperband stopper's on the same study snapshot."""
    searcher = BOHBSearcher(space2(), seed=3, budget=BUDGET)
    reference = HyperbandStopper(
        BUDGET, direction="minimize", seed=3, reduction_factor=3, min_budget=3
    )
    rng = np.random.default_rng(1)
    trials: dict[int, FrozenTrial] = {}
    stops = 0
    for number in range(40):
        suggestion = searcher.ask(1)[0]
        quality = float(rng.random())
        current = FrozenTrial(
            number, TrialState.RUNNING, suggestion.config, suggestion_id=suggestion.id
        )
        for step in range(1, 28):
            curve = {**current.intermediate_values, step: quality + 1.0 / step}
            current = current.evolve(intermediate_values=curve)
            trials[number] = current
            decision = searcher.on_report(current, step, curve[step], trials)
            assert decision == reference.on_report(current, step, curve[step], trials)
            if decision is Decision.STOP:
                rungs = reference.rungs(reference.bracket_of(number))
                assert float(step) in rungs
                stops += 1
                current = current.evolve(state=TrialState.PRUNED, value=curve[step])
                break
        else:
            current = current.evolve(state=TrialState.COMPLETE, value=curve[27])
        trials[number] = current
        searcher.tell(current)
    assert stops > 5


def test_on_report_learns_from_other_processes_trials() -> None:
    searcher = BOHBSearcher(space2(), seed=0, budget=BUDGET, min_budget=1)
    others = {
        n: FrozenTrial(n, TrialState.RUNNING, {"x": n / 10, "y": 0.5}, intermediate_values={1: n})
        for n in range(5)
    }
    searcher.on_report(others[4], 1, 4.0, others)
    assert sorted(searcher._obs[1.0]) == [0, 1, 2, 3, 4]
    assert searcher.model_level() == 1.0


def _drive(seed: int, n: int) -> list[dict[str, Any]]:
    space = Space({"x": Float(0.0, 1.0), "c": Categorical(["a", "b", "c"])})
    searcher = BOHBSearcher(space, seed=seed, budget=BUDGET, random_fraction=0.2)
    configs = []
    for number in range(n):
        suggestion = searcher.ask(1)[0]
        config = suggestion.config
        configs.append(config)
        loss = (config["x"] - 0.7) ** 2 + (config["c"] != "b")
        searcher.tell(trial(number, config, {1: loss + 1, 3: loss + 0.3}, suggestion=suggestion))
    return configs


def test_seeded_reproducibility_and_distinct_asks() -> None:
    assert _drive(5, 25) == _drive(5, 25)
    assert _drive(5, 25) != _drive(6, 25)
    searcher = BOHBSearcher(space2(), seed=1, budget=BUDGET, random_fraction=0.0)
    for n in range(8):
        searcher.tell(trial(n, {"x": n / 8, "y": 0.5}, {1: n / 8}))
    batch = [s.config for s in searcher.ask(10)]
    assert len({(c["x"], c["y"]) for c in batch}) == 10


def test_conditional_space_proposals_are_valid() -> None:
    space = Space(
        {
            "model": Categorical(["a", "b"]),
            "alpha": Float(0.0, 1.0, when={"model": "a"}),
            "beta": Float(0.0, 1.0, when={"model": "b"}),
        }
    )
    searcher = BOHBSearcher(space, seed=0, budget=BUDGET, random_fraction=0.0)
    for number in range(30):
        suggestion = searcher.ask(1)[0]
        config = suggestion.config
        assert space.contains(config)
        loss = config.get("alpha", 2.0)
        searcher.tell(trial(number, config, {1: loss, 3: loss}, suggestion=suggestion))


# --- a small race ------------------------------------------------------------------------
def _toy(trial: hpo.Trial) -> float:
    """A multi-fidelity toy: the optimum at (0.2, 0.8, 0.5), noise shrinking with budget."""
    p = trial.params
    base = (p["a"] - 0.2) ** 2 + (p["b"] - 0.8) ** 2 + (p["c"] - 0.5) ** 2
    value = base
    for step in range(1, int(trial.budget or 27) + 1):
        value = base + 0.5 / step
        trial.report(step, value)
        if trial.should_stop():
            break
    return value


def _best(searcher: str, seed: int, stopper: str | None) -> float:
    space = Space({k: Float(0.0, 1.0) for k in "abc"})
    study = hpo.create_study(
        space=space, searcher=searcher, seed=seed, budget=BUDGET, stopper=stopper
    )
    study.optimize(_toy, n_trials=80, progress=False)
    best = study.best_value
    assert best is not None
    return best


def test_beats_hyperband_with_random_sampling() -> None:
    """Same stopping (Hyperband), 80 trials each, 5 seeds: the model's proposals win on
    average and in most seeds."""
    bohb = [_best("bohb", seed, None) for seed in range(5)]
    rand = [_best("random", seed, "hyperband") for seed in range(5)]
    assert statistics.mean(bohb) < statistics.mean(rand)
    assert sum(b < r for b, r in zip(bohb, rand, strict=True)) >= 3
