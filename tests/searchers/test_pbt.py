"""PBT: segments, exploit / explore mechanics, lineage, exhaustion, state and studies."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

import hpo
from hpo.budget import Budget
from hpo.exceptions import SearchSpaceExhausted
from hpo.searchers import Decision, Suggestion, make_searcher
from hpo.searchers.pbt import PBTSearcher
from hpo.space import Categorical, Float, Int, Space
from hpo.trial import FrozenTrial, TrialState

BUDGET = Budget("epoch", 1, 9)


def space() -> Space:
    return Space(
        {
            "lr": Float(1e-4, 1e-1, log=True),
            "momentum": Float(0.0, 1.0),
            "units": Int(8, 64, step=8),
            "opt": Categorical(["adam", "sgd"]),
        }
    )


def pbt(**kwargs: Any) -> PBTSearcher:
    options: dict[str, Any] = {"population_size": 4, "interval": 3, "seed": 0}
    options.update(kwargs)
    return PBTSearcher(space(), budget=options.pop("budget", BUDGET), **options)


def finish(
    number: int, s: Suggestion, value: float | None, state: TrialState = TrialState.COMPLETE
) -> FrozenTrial:
    """The trial a study would create for ``s`` (its id and info) and finish."""
    return FrozenTrial(
        number=number,
        state=state,
        params=s.config,
        value=value,
        budget=s.budget,
        parent=s.parent,
        suggestion_id=s.id,
        searcher_info=dict(s.info),
    )


def _asked(suggestions: list[Suggestion]) -> list[tuple[Any, ...]]:
    """What suggestions propose (their ids aside: every ask has a fresh one)."""
    return [(s.config, s.budget, s.parent, s.info) for s in suggestions]


def run(
    searcher: PBTSearcher, loss: Callable[[dict[str, Any], float], float], limit: int = 200
) -> list[FrozenTrial]:
    """Ask one, tell one, until the searcher is exhausted."""
    trials: list[FrozenTrial] = []
    for number in range(limit):
        try:
            s = searcher.ask(1)[0]
        except SearchSpaceExhausted:
            return trials
        assert s.budget is not None
        trials.append(finish(number, s, loss(s.config, s.budget)))
        searcher.tell(trials[-1])
    raise AssertionError("never exhausted")


def test_registered_flags_and_default_interval() -> None:
    searcher = make_searcher("pbt", space(), seed=0, budget=Budget("epoch", 1, 27))
    assert isinstance(searcher, PBTSearcher)
    assert PBTSearcher.owns_stopping and PBTSearcher.needs_budget
    assert searcher.interval == 3 and searcher.population_size == 8
    assert PBTSearcher(space(), budget=BUDGET).interval == 1
    assert PBTSearcher(space(), budget=Budget("t", 0.5, 2.0)).interval == 0.5
    assert PBTSearcher(space(), budget=Budget("t", 0.01, 2.0)).interval == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("population_size", 1, "population_size"),
        ("interval", 0, "interval"),
        ("interval", 1.5, "whole"),
        ("quantile", 0.75, "quantile"),
        ("resample_probability", 2, "resample_probability"),
        ("perturbation_factors", [], "perturbation_factors"),
        ("perturbation_factors", [0.8, -1], "perturbation_factors"),
        ("hyperparams", ["nope"], "nope"),
        ("hyperparams", "lr", "hyperparams"),
    ],
)
def test_invalid_options(option: str, value: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PBTSearcher(space(), budget=BUDGET, **{option: value})


def test_first_segments_fill_the_population() -> None:
    searcher = pbt()
    first = searcher.ask(4)
    assert [s.budget for s in first] == [3, 3, 3, 3]
    assert all(s.parent is None for s in first)
    assert [s.info["member"] for s in first] == [0, 1, 2, 3]
    assert len({json.dumps(s.config, sort_keys=True) for s in first}) == 4


def test_exploit_bottom_member_and_explore_listed_hyperparams() -> None:
    searcher = pbt(hyperparams=["lr", "units"], resample_probability=0.0)
    first = searcher.ask(4)
    for number, s in enumerate(first):  # losses 1, 2, 3, 4: member 3 is the bottom one
        searcher.tell(finish(number, s, float(number + 1)))
    nxt = searcher.ask(4)
    for member in range(3):  # the others continue their own lineage, unchanged
        assert nxt[member].parent == member
        assert nxt[member].config == first[member].config
        assert nxt[member].budget == 6
        assert nxt[member].info["action"] == "continue"
    exploit = nxt[3]
    assert exploit.info == {"member": 3, "action": "exploit", "start": 3.0, "donor": 0}
    assert exploit.parent == 0  # the top member's latest trial: its checkpoint goes on
    assert exploit.budget == 6
    donor = first[0].config
    assert exploit.config["momentum"] == donor["momentum"]  # not listed: copied
    assert exploit.config["opt"] == donor["opt"]
    lr = space()["lr"]
    assert any(
        math.isclose(exploit.config["lr"], min(max(donor["lr"] * f, lr.low), lr.high))  # type: ignore[attr-defined]
        for f in (0.8, 1.2)
    )
    candidates = {min(max(round(donor["units"] * f / 8) * 8, 8), 64) for f in (0.8, 1.2)}
    assert exploit.config["units"] in candidates


@pytest.mark.parametrize(
    ("late_loss", "action", "parent"), [(0.5, "continue", 6), (4.0, "exploit", 0)]
)
def test_a_lagging_member_is_ranked_at_equal_progress(
    late_loss: float, action: str, parent: int
) -> None:
    """Members 0-2 run ahead to budget 6 (losses 0.1-0.3) before member 3 finishes its
    first segment: member 3 is ranked against the results at budget 3 (losses 1-3), not
    against the others' newer results, and an exploit copies a donor's state at 3."""
    searcher = pbt()
    first = searcher.ask(4)
    for number, s in enumerate(first[:3]):
        searcher.tell(finish(number, s, float(number + 1)))
    ahead = searcher.ask(3)
    assert [s.info["action"] for s in ahead] == ["continue"] * 3  # 3 results at 3: k = 0
    for number, s in enumerate(ahead, start=3):
        searcher.tell(finish(number, s, (number - 2) / 10))
    searcher.tell(finish(6, first[3], late_loss))
    nxt = searcher.ask(4)
    assert [s.info["member"] for s in nxt] == [0, 1, 2, 3]
    assert [s.info["action"] for s in nxt[:3]] == ["continue"] * 3  # 3 results at 6: k = 0
    assert nxt[3].info["action"] == action
    assert nxt[3].parent == parent and nxt[3].budget == 6 and nxt[3].info["start"] == 3.0


def test_maximize_ranks_the_other_way() -> None:
    searcher = pbt(direction="maximize")
    first = searcher.ask(4)
    for number, s in enumerate(first):
        searcher.tell(finish(number, s, float(number + 1)))
    nxt = searcher.ask(4)
    assert nxt[0].info["action"] == "exploit" and nxt[0].parent == 3
    assert all(s.info["action"] == "continue" for s in nxt[1:])


def test_resampling_and_bounds() -> None:
    searcher = pbt(resample_probability=1.0)
    config = {"lr": 0.1, "momentum": 1.0, "units": 64, "opt": "adam"}
    seen = set()
    for i in range(40):
        out = searcher._explore(config, searcher._rng_for(i))
        assert space().contains(out)
        seen.add(out["opt"])
    assert seen == {"adam", "sgd"}
    searcher = pbt(resample_probability=0.0, perturbation_factors=[1.2])
    out = searcher._explore(config, searcher._rng_for(0))
    assert out == {"lr": 0.1, "momentum": 1.0, "units": 64, "opt": "adam"}  # clipped


def test_segments_lineage_and_exhaustion() -> None:
    searcher = pbt(population_size=6)

    def loss(config: dict[str, Any], budget: float) -> float:
        return abs(math.log10(config["lr"]) + 2) + config["momentum"] / budget

    trials = run(searcher, loss)
    by_number = {t.number: t for t in trials}
    for t in trials:
        assert t.budget in (3, 6, 9)
        if t.parent is None:
            assert t.budget == 3
        else:
            assert t.budget == by_number[t.parent].budget + 3  # type: ignore[operator]
    # every member ends at budget.max; its lineage walks back to a first segment
    finals = [m.trial for m in searcher.members]
    assert len(finals) == 6 and all(m.status == "done" for m in searcher.members)
    for number in finals:
        assert number is not None
        chain = [number]
        while by_number[chain[-1]].parent is not None:
            chain.append(by_number[chain[-1]].parent)  # type: ignore[arg-type]
        assert [by_number[n].budget for n in chain] == [9, 6, 3]
    assert any(t.parent is not None and by_number[t.parent].params != t.params for t in trials)
    with pytest.raises(SearchSpaceExhausted, match="pbt"):
        searcher.ask(1)


def test_parallel_asks_grow_the_population_and_never_block() -> None:
    searcher = pbt()
    batch = searcher.ask(6)  # 4 members + 2 extra (all busy), never an error
    assert [s.info["member"] for s in batch] == list(range(6))
    assert all(s.parent is None and s.budget == 3 for s in batch)
    more = searcher.ask(10)
    assert len(more) == 10 and len(searcher.members) == 16
    for number, s in enumerate(batch + more):
        searcher.tell(finish(number, s, float(number)))
    assert all(m.status == "ready" for m in searcher.members)
    nxt = searcher.ask(16)
    assert all(s.budget == 6 for s in nxt)


def test_failed_segment_restarts_or_exploits() -> None:
    searcher = pbt()
    first = searcher.ask(4)
    searcher.tell(finish(0, first[0], None, TrialState.FAILED))
    nxt = searcher.ask(1)[0]
    assert nxt.info == {"member": 0, "action": "restart", "start": 0.0}
    assert nxt.parent is None and nxt.budget == 3 and nxt.config != first[0].config
    for number, s in enumerate(first[1:], start=1):
        searcher.tell(finish(number, s, float(number)))
    searcher.tell(finish(4, nxt, None, TrialState.PRUNED))
    batch = searcher.ask(4)  # first in, first out: members 1, 2, 3, then 0
    assert [s.info["member"] for s in batch] == [1, 2, 3, 0]
    again = batch[3]  # no score, so it copies the best member (1, trial 1)
    assert again.info["action"] == "exploit"
    assert again.parent == 1 and again.budget == 6


def test_on_report_always_continues() -> None:
    searcher = pbt()
    s = searcher.ask(1)[0]
    t = FrozenTrial(0, TrialState.RUNNING, s.config, intermediate_values={1: 9.0})
    assert searcher.on_report(t, 1, 9.0, {0: t}) is Decision.CONTINUE


def test_reproducible_and_state_round_trip() -> None:
    def loss(config: dict[str, Any], budget: float) -> float:
        return config["momentum"] + 1 / budget

    a, b = run(pbt(seed=3), loss), run(pbt(seed=3), loss)
    assert [(t.params, t.parent, t.budget) for t in a] == [
        (t.params, t.parent, t.budget) for t in b
    ]
    original = pbt(seed=4)
    told = []
    for number in range(7):
        s = original.ask(1)[0]
        told.append(finish(number, s, loss(s.config, s.budget or 0)))
        original.tell(told[-1])
    original.ask(2)
    rebuilt = pbt(seed=4)
    rebuilt.load_state_dict(json.loads(json.dumps(original.state_dict())))
    for t in told:  # replayed trials are not applied twice
        rebuilt.tell(t)
    assert _asked(rebuilt.ask(3)) == _asked(original.ask(3))


def test_study_end_to_end_with_segments() -> None:
    space2 = Space({"lr": Float(1e-3, 1.0, log=True)})

    def objective(trial: hpo.Trial) -> float:
        start = 0 if trial.parent is None else 3 * (int(trial.budget or 0) // 3 - 1)
        value = 0.0
        for step in range(start + 1, int(trial.budget or 0) + 1):
            value = abs(math.log10(trial.params["lr"]) + 1) + 1 / step
            trial.report(step, value)
        return value

    study = hpo.create_study(
        objective,
        space=space2,
        searcher="pbt",
        searcher_kwargs={"population_size": 4, "interval": 3},
        budget=BUDGET,
        seed=0,
    )
    study.optimize(objective, n_trials=100, progress=False)
    trials = study.trials
    assert 4 * 1 < len(trials) <= 4 * 3  # exhausted before n_trials: one trial per segment
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert [t.budget for t in trials[:4]] == [3, 3, 3, 3]
    numbers = {t.number for t in trials}
    assert all(t.parent is None or t.parent in numbers for t in trials)
