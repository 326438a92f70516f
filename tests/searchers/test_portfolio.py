"""Portfolio: conformance, the bandit's mechanics, attribution, drops and quality."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

import hpo
from hpo.benchmarks import get_problem
from hpo.exceptions import SearcherError, SearchSpaceExhausted, UnknownSearcherError
from hpo.searchers import make_searcher
from hpo.searchers._bandit import DiscountedThompson
from hpo.searchers.portfolio import PortfolioSearcher
from hpo.space import Categorical, Int, Space
from hpo.testing.searcher_conformance import (
    SearcherConformance,
    SearcherSpec,
    continuous_space,
    finished_trial,
    finished_trial_for,
)
from hpo.trial import TrialState

SPECS = [
    SearcherSpec("portfolio"),
    SearcherSpec("portfolio", {"members": ["random", "tpe"]}),
]


@pytest.fixture(params=SPECS, ids=str)
def searcher_spec(request: pytest.FixtureRequest) -> SearcherSpec:
    return request.param


class TestPortfolioConformance(SearcherConformance):
    """The shipped suite, for the default portfolio and a quick two-member one."""


def _portfolio(members: list[Any], space: Space | None = None, **kw: Any) -> PortfolioSearcher:
    searcher = make_searcher(
        "portfolio", space or continuous_space(), seed=kw.pop("seed", 0), members=members, **kw
    )
    assert isinstance(searcher, PortfolioSearcher)
    return searcher


def _loss(config: dict[str, Any]) -> float:
    return float((config["x"] - 1.0) ** 2 + (math.log10(config["y"]) - 0.5) ** 2 + config["z"])


def _tiny_space() -> Space:
    return Space({"a": Categorical(["x", "y", "z"]), "b": Int(0, 1)})


# --- the bandit ------------------------------------------------------------------------
def test_bandit_favours_the_rewarded_arm_and_forgets() -> None:
    bandit = DiscountedThompson(3, discount=0.9)
    rng = np.random.default_rng(0)
    for _ in range(30):
        bandit.update(0, 0.1)
        bandit.update(1, 0.9)
        bandit.update(2, 0.5)
    picks = [bandit.pick([0, 1, 2], rng) for _ in range(300)]
    assert picks.count(1) > 0.85 * len(picks)
    assert bandit.pick([0, 2], rng) in (0, 2)  # only the arms offered
    for _ in range(60):  # arm 1 stops paying: the discount lets arm 0 take over
        bandit.update(0, 0.9)
        bandit.update(1, 0.0)
    picks = [bandit.pick([0, 1, 2], rng) for _ in range(300)]
    assert picks.count(0) > 0.75 * len(picks) and picks.count(1) < 0.05 * len(picks)
    assert picks.count(2) > 0, "arm 2's evidence has faded: it is explored again"


def test_improving_member_gets_most_asks() -> None:
    """Trials from one member always set a new best, the other's are bad: after the
    startup the bandit gives nearly every ask to the improving one."""
    searcher = _portfolio(["random", ["random", {"sobol": True}]], n_startup=1)
    label_good = "random#1"
    best = 0.0
    members = []
    for number in range(60):
        suggestion = searcher.ask(1)[0]
        member = suggestion.info["member"]
        members.append(member)
        if member == label_good:
            best -= 1.0
            value = best
        else:
            value = 100.0 + number
        searcher.tell(finished_trial_for(number, suggestion, value))
    assert set(members[:2]) == {"random#0", "random#1"}, "startup tries every member"
    later = members[20:]
    assert later.count(label_good) >= 0.85 * len(later), searcher.asks_per_member_
    assert searcher.asks_per_member_[label_good] == members.count(label_good)


@pytest.mark.parametrize("n_startup", [1, 2])
def test_every_member_is_tried_during_startup(n_startup: int) -> None:
    members = ["tpe", "genetic", "random", ["random", {"sobol": True}]]
    searcher = _portfolio(members, n_startup=n_startup)
    labels = [s.info["member"] for s in searcher.ask(4 * n_startup)]
    assert sorted(labels) == sorted(["tpe", "genetic", "random#2", "random#3"] * n_startup)
    assert sorted(labels[:4]) == ["genetic", "random#2", "random#3", "tpe"]  # round robin
    suggestion = searcher.ask(1)[0]
    assert suggestion.info["member"] in searcher.labels
    assert "draw" in suggestion.info or "child" in suggestion.info  # the member's own info


def test_rewards_credited_to_the_proposer_only_in_any_order() -> None:
    searcher = _portfolio(["random", "tpe"], n_startup=2)
    asked = searcher.ask(4)
    by_member = [s.info["member"] for s in asked]
    assert sorted(by_member) == ["random", "random", "tpe", "tpe"]
    # the first complete trial earns nothing (nothing to compare with)
    searcher.tell(finished_trial_for(3, asked[3], 10.0))
    assert searcher.credited_ == [0, 0]
    # out of order: trial 1 then 0, then 2 fails
    before = searcher.bandit_.sums.copy()
    searcher.tell(finished_trial_for(1, asked[1], 1.0))  # a new best: reward 1
    proposer = searcher.labels.index(by_member[1])
    expected = [0, 0]
    expected[proposer] += 1
    assert searcher.credited_ == expected
    assert searcher.bandit_.sums[proposer] == pytest.approx(before[proposer] * 0.95 + 1.0)
    assert searcher.bandit_.sums[1 - proposer] == pytest.approx(before[1 - proposer] * 0.95)
    searcher.tell(finished_trial_for(0, asked[0], 5.0))  # beats one of two: reward 0.5
    expected[searcher.labels.index(by_member[0])] += 1
    searcher.tell(finished_trial_for(2, asked[2], None, TrialState.FAILED))  # reward 0
    expected[searcher.labels.index(by_member[2])] += 1
    assert searcher.credited_ == expected
    # a foreign trial is told to every member and credited to nobody
    told = [m.n_told for m in searcher._members]
    sums = searcher.bandit_.sums.copy()
    searcher.tell(finished_trial(9, {"x": 0.0, "y": 1.0, "z": 0.5}, 0.0))
    assert [m.n_told for m in searcher._members] == [n + 1 for n in told]
    assert searcher.credited_ == expected
    np.testing.assert_allclose(searcher.bandit_.sums, sums)


def test_reward_power_sharpens_the_rank_reward() -> None:
    """The reward is the fraction of earlier losses beaten, raised to ``reward_power``."""
    searcher = _portfolio(["random", "tpe"], n_startup=2, reward_power=2)
    asked = searcher.ask(4)
    for number, value in enumerate([10.0, 20.0, 30.0]):
        searcher.tell(finished_trial_for(number, asked[number], value))
    proposer = searcher.labels.index(asked[3].info["member"])
    before = searcher.bandit_.sums[proposer]
    searcher.tell(finished_trial_for(3, asked[3], 25.0))  # beats 1 of 3 earlier losses
    expected = before * searcher.discount + (1 / 3) ** 2
    assert searcher.bandit_.sums[proposer] == pytest.approx(expected)


def test_rebuilt_portfolio_credits_like_the_original() -> None:
    space = continuous_space()
    original = _portfolio(["random", "tpe"], space, seed=3)
    trials = []
    for number in range(12):
        suggestion = original.ask(1)[0]
        trials.append(finished_trial_for(number, suggestion, _loss(suggestion.config)))
    for trial in reversed(trials):
        original.tell(trial)
    state = json.loads(json.dumps(original.state_dict()))
    rebuilt = _portfolio(["random", "tpe"], space, seed=3)
    rebuilt.load_state_dict(state)
    for trial in reversed(trials):
        rebuilt.tell(trial)
    assert rebuilt.credited_ == original.credited_
    np.testing.assert_allclose(rebuilt.bandit_.sums, original.bandit_.sums)
    assert [s.config for s in rebuilt.ask(3)] == [s.config for s in original.ask(3)]


def test_no_duplicates_across_members() -> None:
    """Two members with the same seed-independent design propose the same points; the
    portfolio hands out each point once."""
    space = Space({"k": Int(0, 9), "c": Categorical(["a", "b"])})
    searcher = _portfolio(["grid", "grid"], space, n_startup=1)
    configs = [s.config for s in searcher.ask(20)]
    keys = [json.dumps(c, sort_keys=True) for c in configs]
    assert len(set(keys)) == 20
    with pytest.raises(SearchSpaceExhausted, match="every member"):
        for _ in range(20):  # the lagging grid repeats points until it is exhausted too
            searcher.ask(1)
    assert searcher.dropped_ == {"grid#0": "exhausted", "grid#1": "exhausted"}


def test_exhausted_member_is_dropped() -> None:
    searcher = _portfolio(["grid", "random"], _tiny_space(), n_startup=1)
    labels = [s.info["member"] for s in searcher.ask(40)]
    assert searcher.dropped_ == {"grid": "exhausted"}
    assert 1 <= labels.count("grid") <= 6
    last_grid = max(i for i, label in enumerate(labels) if label == "grid")
    assert all(label == "random" for label in labels[last_grid + 1 :])
    state = json.loads(json.dumps(searcher.state_dict()))
    rebuilt = _portfolio(["grid", "random"], _tiny_space(), n_startup=1)
    rebuilt.load_state_dict(state)
    assert rebuilt.dropped_ == {"grid": "exhausted"}
    assert {s.info["member"] for s in rebuilt.ask(10)} == {"random"}


def test_member_error_drops_it_with_a_warning() -> None:
    searcher = _portfolio(["random", "tpe"], n_startup=1)

    def boom(n: int = 1) -> list[Any]:
        raise RuntimeError("model blew up")

    searcher._members[1].ask = boom  # type: ignore[method-assign]
    with pytest.warns(RuntimeWarning, match=r"'tpe' dropped.*model blew up"):
        labels = [s.info["member"] for s in searcher.ask(5)]
    assert labels == ["random"] * 5
    assert searcher.dropped_["tpe"].startswith("error in ask: RuntimeError")
    searcher._members[0].ask = boom  # type: ignore[method-assign]
    with pytest.warns(RuntimeWarning), pytest.raises(SearcherError, match="every member"):
        searcher.ask(1)


def test_members_share_the_study_counter_without_collisions() -> None:
    keys: dict[str, int] = {}

    def counter(key: str) -> int:
        keys[key] = keys.get(key, -1) + 1
        return keys[key]

    searcher = _portfolio(["random", "random"], n_startup=1)
    searcher.bind_counter(counter)
    configs = [s.config for s in searcher.ask(6)]
    assert {"portfolio.0/random:draw", "portfolio.1/random:draw", "portfolio:pick"} <= set(keys)
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == 6


def test_through_a_study_info_and_threads() -> None:
    study = hpo.create_study(
        space=continuous_space(),
        searcher="portfolio",
        searcher_kwargs={"members": ["random", ["tpe", {"n_startup": 4}]]},
        seed=1,
    )
    study.optimize(_loss, n_trials=20, n_workers=2, progress=False)
    assert len(study.trials) == 20
    shares = study.searcher.asks_per_member_  # type: ignore[attr-defined]
    assert sum(shares.values()) == 20 and min(shares.values()) >= 2


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"members": []}, ValueError, "non-empty list"),
        ({"members": "tpe"}, ValueError, "non-empty list"),
        ({"members": ["tpe", 3]}, ValueError, "member 1 must be a searcher name"),
        ({"members": [["tpe"]]}, ValueError, "member 0 must be"),
        ({"members": ["portfolio"]}, ValueError, "cannot be a member"),
        ({"members": ["tpee"]}, UnknownSearcherError, r"member 0 \('tpee'\).*'tpe'"),
        ({"members": [["tpe", {"gamma": 2}]]}, ValueError, r"member 0 \('tpe'\).*gamma"),
        ({"members": [["tpe", {"bogus": 1}]]}, SearcherError, "bogus"),
        ({"members": [["tpe", {"seed": 1}]]}, ValueError, "'seed'"),
        ({"members": [["tpe", {"gamma": math.nan}]]}, ValueError, "JSON"),
        ({"discount": 0}, ValueError, "discount"),
        ({"discount": 1.5}, ValueError, "discount"),
        ({"discount": True}, ValueError, "discount"),
        ({"n_startup": -1}, ValueError, "n_startup"),
        ({"n_startup": 1.5}, ValueError, "n_startup"),
        ({"reward_power": 0.5}, ValueError, "reward_power"),
        ({"reward_power": math.inf}, ValueError, "reward_power"),
        ({"reward_power": "2"}, ValueError, "reward_power"),
    ],
)
def test_options_are_validated(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make_searcher("portfolio", continuous_space(), seed=0, **kwargs)


def test_state_for_other_members_is_refused() -> None:
    state = _portfolio(["random", "tpe"]).state_dict()
    with pytest.raises(SearcherError, match="2 members"):
        _portfolio(["random", "tpe", "genetic"]).load_state_dict(state)


# --- quality ---------------------------------------------------------------------------
def _median_regret(name: str, kwargs: dict[str, Any], problem: str, n_trials: int) -> float:
    prob = get_problem(problem)
    regrets = []
    for seed in range(5):
        study = hpo.create_study(prob.objective, searcher=name, searcher_kwargs=kwargs, seed=seed)
        study.optimize(n_trials=n_trials, progress=False)
        regrets.append(prob.regret(study.best_value))
    return float(np.median(regrets))


def test_portfolio_beats_random_and_the_median_member_on_branin() -> None:
    members = ["tpe", "genetic", "random"]
    portfolio = _median_regret("portfolio", {"members": members}, "branin", 40)
    singles = {m: _median_regret(m, {}, "branin", 40) for m in members}
    assert portfolio < singles["random"], (portfolio, singles)
    assert portfolio <= float(np.median(list(singles.values()))), (portfolio, singles)


def test_define_by_run_members_answer_their_own_trials() -> None:
    def objective(trial: hpo.Trial) -> float:
        return (trial.suggest_float("x", -2.0, 2.0) - 0.5) ** 2 + trial.suggest_int("n", 1, 3)

    study = hpo.create_study(searcher="portfolio", seed=0)
    study.optimize(objective, n_trials=16, progress=False)
    assert all(t.state is hpo.TrialState.COMPLETE for t in study.trials)
    members = {t.searcher_info["member"] for t in study.trials}
    assert members == {"tpe", "gp", "random"}
    gp_trials = [t for t in study.trials if t.searcher_info["member"] == "gp"]
    assert any("relative" in t.searcher_info for t in gp_trials)  # gp's space seen so far
    with pytest.raises(hpo.SearcherError, match="'grid' searcher needs the whole space"):
        hpo.create_study(searcher="portfolio", searcher_kwargs={"members": ["tpe", "grid"]})
