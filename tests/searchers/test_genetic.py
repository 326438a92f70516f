"""The genetic searcher: conformance, its operators, population mechanics, and that it
beats random search. Every statistical check is seeded, hence deterministic; thresholds
are several standard deviations wide so they would hold for almost any seed."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from scipy import stats

import hpo
from hpo.benchmarks import get_problem
from hpo.searchers import make_searcher
from hpo.searchers._evolution import Individual, mutate, tournament, vary
from hpo.searchers.genetic import GeneticSearcher
from hpo.space import Categorical, Float, Int, Space
from hpo.testing.searcher_conformance import (
    SearcherConformance,
    SearcherSpec,
    assert_config_in_space,
    conditional_space,
    finished_trial_for,
    mixed_space,
)
from hpo.trial import TrialState

SPECS = [
    SearcherSpec("genetic"),
    SearcherSpec("genetic", {"population_size": 4}),
    SearcherSpec("genetic", {"mode": "generational", "population_size": 4}),
]


@pytest.fixture(params=SPECS, ids=str)
def searcher_spec(request: pytest.FixtureRequest) -> SearcherSpec:
    return request.param


class TestGeneticConformance(SearcherConformance):
    """The shipped suite, steady-state and generational (small populations breed early)."""


def _genetic(space: Space, **kwargs: Any) -> GeneticSearcher:
    searcher = make_searcher("genetic", space, seed=kwargs.pop("seed", 0), **kwargs)
    assert isinstance(searcher, GeneticSearcher)
    return searcher


def _sphere(config: dict[str, Any]) -> float:
    return float(sum((v - 0.3) ** 2 for v in config.values()))


# --- options -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"population_size": 1}, "population_size"),
        ({"population_size": 5.0}, "population_size"),
        ({"tournament_size": 0}, "tournament_size"),
        ({"population_size": 4, "tournament_size": 5}, "cannot exceed"),
        ({"crossover_rate": 1.5}, "crossover_rate"),
        ({"mutation_rate": -0.1}, "mutation_rate"),
        ({"mutation_rate": math.nan}, "mutation_rate"),
        ({"mutation_scale": 0.0}, "mutation_scale"),
        ({"elitism": -1}, "elitism"),
        ({"population_size": 4, "elitism": 4}, "smaller than"),
        ({"mode": "batch"}, "'steady_state', 'generational'"),
        ({"crossover": "sbx"}, "crossover"),
        ({"replacement": "random"}, "replacement"),
    ],
)
def test_invalid_options_are_clear_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        _genetic(Space({"x": Float(0.0, 1.0)}), **options)
    assert "genetic" in str(info.value)


def test_default_population_scales_with_dimension() -> None:
    assert _genetic(Space({"x": Float(0.0, 1.0)})).population_size == 10
    assert _genetic(mixed_space()).population_size == 27
    wide = Space({f"x{i}": Float(0.0, 1.0) for i in range(40)})
    assert _genetic(wide).population_size == 50


# --- operators ---------------------------------------------------------------------------------
def test_tournament_favours_better_individuals() -> None:
    rng = np.random.default_rng(0)
    losses = list(np.random.default_rng(1).permutation(20).astype(float))  # rank = loss
    n = 6000
    picks = Counter(int(losses[tournament(losses, 3, rng)]) for _ in range(n))
    # the winner of 3 of 20 has rank r with probability C(19 - r, 2) / C(20, 3)
    probs = np.array([math.comb(19 - r, 2) / math.comb(20, 3) for r in range(20)])
    observed = np.array([picks[r] for r in range(20)])
    keep = probs * n >= 5  # chi-square needs expected counts of 5 or more
    expected = probs[keep] / probs[keep].sum() * observed[keep].sum()
    assert stats.chisquare(observed[keep], expected).pvalue > 1e-3
    assert picks[0] > 2.5 * n / 20  # the best is picked 3x as often as uniformly
    assert sum(picks[r] for r in range(18, 20)) == 0  # the two worst can never win
    uniform = Counter(tournament(losses, 1, rng) for _ in range(n))
    assert stats.chisquare([uniform[i] for i in range(20)]).pvalue > 1e-3


def test_mutation_stays_in_bounds() -> None:
    rng = np.random.default_rng(2)
    space = mixed_space()
    for name, param in space.items():
        if isinstance(param, Categorical):
            continue
        for start in (0.0, 0.02, 0.5, 0.98, 1.0):
            u = mutate(param, np.array([start]), 0.5, rng)
            assert 0.0 <= u[0] <= 1.0
            assert param.contains(param.decode(u)), (name, u)
    searcher = _genetic(space, population_size=5, mutation_rate=1.0, mutation_scale=1.0)
    for number in range(60):
        suggestion = searcher.ask(1)[0]
        assert_config_in_space(space, suggestion.config)
        searcher.tell(finished_trial_for(number, suggestion, float(number % 7)))


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_mutation_changes_categoricals_at_the_stated_rate(rate: float) -> None:
    space = Space({f"c{i}": Categorical(["a", "b", "c", 1, None]) for i in range(10)})
    rng = np.random.default_rng(3)
    parent = Individual.of(space, 0, 0.0, space.sample(rng))
    changed, n = 0, 500
    for _ in range(n):
        child = vary(space, parent, None, rng, mutation_rate=rate, sigma=0.1)
        changed += sum(child[k] is not parent.config[k] for k in child)
    total = n * len(space)
    assert abs(changed / total - rate) < 5 * math.sqrt(rate * (1 - rate) / total)


def test_crossover_takes_each_categorical_from_a_parent() -> None:
    space = Space({f"c{i}": Categorical(list(range(6))) for i in range(8)})
    rng = np.random.default_rng(4)
    from_a = 0
    for _ in range(200):
        a, b = (Individual.of(space, i, 0.0, space.sample(rng)) for i in (0, 1))
        child = vary(space, a, b, rng, mutation_rate=0.0, sigma=0.1)
        for k, v in child.items():
            assert v in (a.config[k], b.config[k])
            from_a += v == a.config[k]
    assert abs(from_a / 1600 - 0.5) < 0.1  # both parents contribute (equal values count twice)


def test_crossover_children_are_valid_in_conditional_spaces() -> None:
    space = conditional_space()
    rng = np.random.default_rng(5)
    for _ in range(300):
        a, b = (Individual.of(space, i, 0.0, space.sample(rng)) for i in (0, 1))
        for rate in (0.0, 0.5):
            child = vary(space, a, b, rng, mutation_rate=rate, sigma=0.2)
            assert_config_in_space(space, child)
            if rate == 0.0 and a.config["model"] == b.config["model"] == "linear":
                lo, hi = sorted((a.config["C"], b.config["C"]))
                assert lo / 1e3 <= child["C"] <= hi * 1e3  # a blend, not a random draw


# --- population mechanics ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["steady_state", "generational"])
def test_population_never_exceeds_its_size(mode: str) -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    searcher = _genetic(space, population_size=6, mode=mode)
    rng = np.random.default_rng(6)
    pending = []
    for number in range(120):
        pending += searcher.ask(int(rng.integers(1, 4)))
        while len(pending) > 5:  # about five workers, finishing out of order
            s = pending.pop(int(rng.integers(len(pending))))
            searcher.tell(finished_trial_for(number, s, _sphere(s.config)))
            assert len(searcher.population_) <= 6
    assert len(searcher.population_) == 6
    if mode == "generational":
        assert searcher.generation_ >= 15


@pytest.mark.parametrize("replacement", ["worst", "oldest"])
def test_steady_state_elitism_keeps_the_best(replacement: str) -> None:
    space = Space({"x": Float(0.0, 1.0)})
    searcher = _genetic(space, population_size=5, elitism=2, replacement=replacement)
    losses = [3.0, 0.5, 4.0, 0.7, 5.0] + [1.0 + 0.01 * i for i in range(40)]
    for number, loss in enumerate(losses):
        searcher.tell(finished_trial_for(number, searcher.ask(1)[0], loss))
        best = sorted(range(number + 1), key=lambda i: losses[i])[:2]
        assert {m.number for m in searcher.population_[:2]} == set(best)
    members = {m.number for m in searcher.population_}
    if replacement == "oldest":  # the rest are the three youngest
        assert members == {1, 3, 42, 43, 44}
    else:
        assert members == {1, 3, 5, 6, 7}


def test_generational_elitism_and_asks_during_a_generation() -> None:
    space = Space({"x": Float(0.0, 1.0)})
    searcher = _genetic(space, population_size=4, elitism=1, mode="generational")
    gen0 = searcher.ask(4)
    assert all(s.info.get("design") for s in gen0)
    for number, (s, loss) in enumerate(zip(gen0, [2.0, 0.1, 3.0, 4.0], strict=True)):
        searcher.tell(finished_trial_for(number, s, loss))
    assert searcher.generation_ == 1
    gen1 = searcher.ask(4)
    assert all(set(s.info["parents"]) <= {0, 1, 2, 3} for s in gen1)
    for number, s in enumerate(gen1[:3], start=4):  # generation 1 not finished yet
        searcher.tell(finished_trial_for(number, s, 10.0 + number))
    more = searcher.ask(3)  # still bred from generation 0, without waiting
    assert all(set(s.info["parents"]) <= {0, 1, 2, 3} for s in more)
    searcher.tell(finished_trial_for(7, gen1[3], 50.0))
    assert searcher.generation_ == 2
    # the elite of generation 0 survives the (worse) children; then the best children
    assert [m.number for m in searcher.population_] == [1, 4, 5, 6]


def test_failed_pruned_and_nan_trials_never_enter_the_population() -> None:
    space = Space({"x": Float(0.0, 1.0)})
    searcher = _genetic(space, population_size=4)
    outcomes = [
        (TrialState.FAILED, None),
        (TrialState.PRUNED, 0.0),
        (TrialState.COMPLETE, math.nan),
        (TrialState.COMPLETE, math.inf),
        (TrialState.COMPLETE, 1.0),
    ]
    for number, (state, value) in enumerate(outcomes):
        searcher.tell(finished_trial_for(number, searcher.ask(1)[0], value, state))
    assert [m.number for m in searcher.population_] == [4]


def test_steady_state_asks_never_block_and_stay_distinct() -> None:
    space = Space({"x": Float(0.0, 1.0), "n": Int(1, 5), "c": Categorical(["a", "b"])})
    searcher = _genetic(space, population_size=5)
    for number, s in enumerate(searcher.ask(5)):
        searcher.tell(finished_trial_for(number, s, float(number)))
    outstanding = searcher.ask(300)  # 300 workers, nothing comes back
    assert all(s.info["parents"] for s in outstanding)
    keys = {repr(sorted(s.config.items())) for s in outstanding}
    assert len(keys) == 300
    for s in outstanding:
        assert_config_in_space(space, s.config)


def test_duplicates_are_bred_again_in_a_discrete_space() -> None:
    space = Space({"a": Categorical(["x", "y", "z"]), "b": Int(0, 3)})  # 12 points
    searcher = _genetic(space, population_size=4)
    seen = []
    for number in range(12):
        suggestion = searcher.ask(1)[0]
        seen.append(suggestion.config)
        searcher.tell(finished_trial_for(number, suggestion, float(number % 5)))
    assert len({repr(sorted(c.items())) for c in seen}) >= 11
    for config in [s.config for s in searcher.ask(10)]:  # exhausted: still valid points
        assert_config_in_space(space, config)


def test_breeding_improves_on_the_design() -> None:
    space = Space({f"x{i}": Float(0.0, 1.0) for i in range(4)})
    searcher = _genetic(space, population_size=10, seed=7)
    values = []
    for number in range(100):
        suggestion = searcher.ask(1)[0]
        values.append(_sphere(suggestion.config))
        searcher.tell(finished_trial_for(number, suggestion, values[-1]))
    assert np.median(values[80:]) < 0.1 * np.median(values[:10])
    assert searcher.sigma_ < searcher.mutation_scale


# --- beats random search -------------------------------------------------------------------------
def _best_regret(name: str, problem_name: str, seed: int, n_trials: int) -> float:
    problem = get_problem(problem_name)
    searcher = make_searcher(name, problem.space, seed=seed)
    best = math.inf
    for number in range(n_trials):
        suggestion = searcher.ask(1)[0]
        value = problem(suggestion.config)
        best = min(best, value)
        searcher.tell(finished_trial_for(number, suggestion, value))
    return problem.regret(best)


@pytest.mark.parametrize(("problem_name", "margin"), [("rosenbrock5", 0.5), ("ackley5", 0.7)])
def test_beats_random_search(problem_name: str, margin: float) -> None:
    """Median final regret over 5 seeds, 150 trials each: the genetic searcher's must be
    below ``margin`` times random search's. Measured on seeds 0-4: 0.16 (rosenbrock5) and
    0.22 (ackley5); over ten groups of five seeds (0-49) at most 0.39 and 0.52."""
    seeds = range(5)
    genetic = np.median([_best_regret("genetic", problem_name, s, 150) for s in seeds])
    random = np.median([_best_regret("random", problem_name, s, 150) for s in seeds])
    assert genetic < margin * random, (genetic, random)


def test_define_by_run_evolves_the_space_seen_so_far() -> None:
    import math as _math

    def objective(trial: hpo.Trial) -> float:
        x = trial.suggest_float("x", -3.0, 3.0)
        k = trial.suggest_categorical("k", ["a", "b"])
        n = trial.suggest_int("n", 1, 3)
        m = trial.suggest_int("m", 1, n)  # a dynamic range: sampled independently
        return (x - 1) ** 2 + (k == "b") + m + _math.log(n)

    study = hpo.create_study(searcher="genetic", seed=0, searcher_kwargs={"population_size": 6})
    study.optimize(objective, n_trials=30, progress=False)
    assert all(t.state is hpo.TrialState.COMPLETE for t in study.trials)
    bred = [t for t in study.trials if "parents" in t.searcher_info]
    assert bred and all(t.searcher_info["relative"] == ["x", "k", "n"] for t in bred)
    assert all(1 <= t.params["m"] <= t.params["n"] for t in study.trials)
    for child in bred:  # bred from earlier, complete trials of this study
        assert all(study.trials[n].number < child.number for n in child.searcher_info["parents"])
