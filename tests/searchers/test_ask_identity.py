"""Ask identity: searchers keep their pending asks by suggestion id and match each told
trial to its ask by ``trial.suggestion_id``, never by its configuration.

The checks drive searchers directly (ask, then tell the ``FrozenTrial`` a study would
create: ``suggestion_id=s.id``, ``searcher_info=s.info``), so they do not depend on the
study. Several would pass with configuration matching only by accident; the ones that
cannot are those where two pending asks share a configuration, where a trial carries one
ask's configuration and another ask's id, and where a trial carries no id (or an unknown
one) with a pending ask's configuration.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from hpo.budget import Budget
from hpo.exceptions import SearcherError
from hpo.searchers import Searcher, Suggestion, make_searcher
from hpo.searchers.base import new_suggestion_id
from hpo.searchers.pbt import PBTSearcher
from hpo.searchers.portfolio import PortfolioSearcher, _digest
from hpo.space import Categorical, Space
from hpo.testing.searcher_conformance import (
    continuous_space,
    finished_trial,
    finished_trial_for,
)
from hpo.trial import FrozenTrial, TrialState

# tests/ is on sys.path (pytest's rootdir insertion), under `pytest` and `python -m pytest`
from _seeded_runs import RUNS, SPACE, value_of  # isort: skip

PINNED: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "seeded_runs.json").read_text()
)
BUDGET = Budget("epoch", 1, 9)
#: searchers that keep pending asks and save them as ``[{"id", "config"}, ...]``
PENDING = ["tpe", "gp", "genetic", "bohb"]


def _make(name: str, space: Space, seed: int | None = 0, **kwargs: Any) -> Searcher:
    budget = BUDGET if name in ("bohb", "pbt") else None
    return make_searcher(name, space, direction="minimize", seed=seed, budget=budget, **kwargs)


def _pending(searcher: Searcher) -> list[tuple[str, dict[str, Any]]]:
    """The pending asks as the saved state holds them: ``(id, config)``, oldest first."""
    return [(e["id"], e["config"]) for e in searcher.state_dict()["pending"]]


def _loss(config: dict[str, Any]) -> float:
    return float((config["x"] - 1.0) ** 2 + config["z"])


# --- seeded runs, at the searcher level ---------------------------------------------------
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _searcher_run(label: str) -> list[dict[str, Any]]:
    """``tests._seeded_runs.seeded_run`` without the study: the searcher as the study makes
    it, ``batch`` asks one at a time, then their trials (numbered in ask order) told."""
    n_trials, batch = RUNS[label]
    searcher = make_searcher(label.split("-")[0], Space(SPACE), direction="minimize", seed=7)
    out: list[dict[str, Any]] = []
    while len(out) < n_trials:
        asked = [searcher.ask(1)[0] for _ in range(min(batch, n_trials - len(out)))]
        trials = []
        for s in asked:
            trials.append(finished_trial_for(len(out), s, value_of(s.config)))
            out.append({"params": s.config, "value": trials[-1].value})
        for trial in trials:
            searcher.tell(trial)
    return out


@pytest.mark.parametrize("label", [k for k in RUNS if k.split("-")[0] in ("tpe", "gp", "genetic")])
def test_seeded_searcher_runs_match_the_pinned_trials(label: str) -> None:
    """The configurations of ``tests/data/seeded_runs.json``, serial and with 3 asks in
    flight (the pending asks are constant liars there), come out unchanged."""
    got, want = _searcher_run(label), PINNED[label]
    assert len(got) == len(want)
    for number, (g, w) in enumerate(zip(got, want, strict=True)):
        assert _same(g, w), f"{label}: trial {number} is {g}, pinned {w}"


# --- pending asks of tpe, gp, genetic, bohb -----------------------------------------------
@pytest.mark.parametrize("name", PENDING)
def test_pending_asks_with_the_same_config_resolve_by_id(name: str) -> None:
    """A one-point space: every ask proposes the same configuration, yet each told trial
    resolves exactly the ask whose id it carries."""
    searcher = _make(name, Space({"k": Categorical(["only"])}))
    asked = searcher.ask(3)
    assert {json.dumps(s.config) for s in asked} == {'{"k": "only"}'}
    searcher.tell(finished_trial_for(0, asked[1], 1.0))
    assert [i for i, _ in _pending(searcher)] == [asked[0].id, asked[2].id]
    searcher.tell(finished_trial_for(1, asked[2], None, TrialState.FAILED))
    assert [i for i, _ in _pending(searcher)] == [asked[0].id]


@pytest.mark.parametrize("name", PENDING)
def test_a_trial_resolves_the_ask_of_its_id_whatever_its_config(name: str) -> None:
    searcher = _make(name, continuous_space())
    asked = searcher.ask(3)
    # asked[2]'s id, asked[0]'s configuration: asked[2] is answered, asked[0] still pending
    searcher.tell(finished_trial(0, asked[0].config, 1.0, suggestion_id=asked[2].id))
    assert _pending(searcher) == [(s.id, s.config) for s in asked[:2]]


@pytest.mark.parametrize("name", PENDING)
def test_a_trial_without_a_known_id_leaves_the_pending_asks(name: str) -> None:
    """Enqueued trials, other processes' and pre-id trials are observations only, even
    with the very configuration of a pending ask."""
    searcher = _make(name, continuous_space())
    asked = searcher.ask(2)
    before = _pending(searcher)
    searcher.tell(finished_trial(0, asked[0].config, 1.0))
    searcher.tell(finished_trial(1, asked[1].config, 2.0, suggestion_id=new_suggestion_id()))
    searcher.tell(finished_trial(2, asked[0].config, None, TrialState.FAILED, suggestion_id=""))
    assert searcher.n_told == 3
    assert _pending(searcher) == before == [(s.id, s.config) for s in asked]


@pytest.mark.parametrize("name", PENDING)
def test_state_round_trip_keeps_the_pending_ids(name: str) -> None:
    space = continuous_space()
    original = _make(name, space, seed=3)
    told = []
    for number in range(4):
        s = original.ask(1)[0]
        told.append(finished_trial_for(number, s, _loss(s.config)))
        original.tell(told[-1])
    asked = original.ask(3)
    state = json.loads(json.dumps(original.state_dict()))
    assert state["version"] == 2
    rebuilt = _make(name, space, seed=3)
    rebuilt.load_state_dict(state)
    for trial in told:
        rebuilt.tell(trial)
    assert _pending(rebuilt) == _pending(original) == [(s.id, s.config) for s in asked]
    answer = finished_trial_for(4, asked[1], _loss(asked[1].config))
    for searcher in (original, rebuilt):
        searcher.tell(answer)
        assert [i for i, _ in _pending(searcher)] == [asked[0].id, asked[2].id]
    assert [s.config for s in rebuilt.ask(2)] == [s.config for s in original.ask(2)]


_V1_EXTRA: dict[str, dict[str, Any]] = {
    "tpe": {"salt": 11},
    "gp": {"sobol_seed": 11, "theta": None},
    "genetic": {"design_seed": 11},
    "bohb": {},
}


@pytest.mark.parametrize("name", PENDING)
def test_version_1_state_loads_without_its_pending_configs(name: str) -> None:
    """States saved before asks had ids held bare configurations (genetic: their JSON);
    they still load, the pending ones dropped (no trial can answer them by id)."""
    config = {"x": 0.5, "y": 1.0, "z": 0.25}
    old = json.dumps(config, sort_keys=True) if name == "genetic" else config
    state = {"version": 1, "searcher": name, "pending": [old], **_V1_EXTRA[name]}
    searcher = _make(name, continuous_space())
    searcher.load_state_dict(state)
    saved = searcher.state_dict()
    assert saved["version"] == 2 and saved["pending"] == []
    for key, value in _V1_EXTRA[name].items():
        assert saved[key] == value
    with pytest.raises(SearcherError, match="version"):
        searcher.load_state_dict({**state, "version": 3})


# --- PBT -----------------------------------------------------------------------------------
def _pbt(seed: int = 0) -> PBTSearcher:
    searcher = _make("pbt", continuous_space(), seed=seed, population_size=4, interval=3)
    assert isinstance(searcher, PBTSearcher)
    return searcher


def _segment_trial(
    number: int, s: Suggestion, value: float | None, suggestion_id: str | None
) -> FrozenTrial:
    state = TrialState.COMPLETE if value is not None else TrialState.FAILED
    return FrozenTrial(
        number=number,
        state=state,
        params=s.config,
        value=value,
        budget=s.budget,
        parent=s.parent,
        suggestion_id=suggestion_id,
    )


def test_pbt_tell_reaches_the_segment_of_its_id() -> None:
    searcher = _pbt()
    first = searcher.ask(4)
    # member 1's id on a trial that looks exactly like member 0's segment
    searcher.tell(_segment_trial(0, first[0], 1.0, first[1].id))
    status = [m.status for m in searcher.members]
    assert status == ["running", "ready", "running", "running"]
    assert searcher.members[1].trial == 0 and searcher.members[1].config == first[1].config
    assert searcher.members[0].trial is None
    assert [p["id"] for p in searcher.state_dict()["pending"]] == [first[i].id for i in (0, 2, 3)]


def test_pbt_trials_without_a_known_id_are_not_segments() -> None:
    searcher = _pbt()
    first = searcher.ask(4)
    searcher.tell(_segment_trial(0, first[0], 1.0, None))
    searcher.tell(_segment_trial(1, first[1], 1.0, new_suggestion_id()))
    assert all(m.status == "running" for m in searcher.members)
    state = searcher.state_dict()
    assert state["applied"] == [] and len(state["pending"]) == 4


def test_pbt_state_round_trip_keeps_segment_ids_and_info_is_json() -> None:
    original = _pbt(seed=1)
    first = original.ask(4)
    for number, s in enumerate(first):
        original.tell(_segment_trial(number, s, float(number + 1), s.id))
    nxt = original.ask(4)  # member 3, the bottom one, exploits; the others continue
    for s in first + nxt:
        json.dumps(s.info, allow_nan=False)
    assert [s.info["action"] for s in nxt] == ["continue"] * 3 + ["exploit"]
    assert set(nxt[3].info) == {"member", "action", "start", "donor"}
    state = json.loads(json.dumps(original.state_dict()))
    assert state["version"] == 2
    assert [p["id"] for p in state["pending"]] == [s.id for s in nxt]
    rebuilt = _pbt(seed=1)
    rebuilt.load_state_dict(state)
    answer = _segment_trial(4, nxt[3], 0.5, nxt[3].id)
    for searcher in (original, rebuilt):
        searcher.tell(answer)
        assert searcher.members[3].status == "ready" and searcher.members[3].trial == 4
        assert searcher.members[3].config == nxt[3].config
    assert [(s.config, s.budget, s.parent, s.info) for s in rebuilt.ask(2)] == [
        (s.config, s.budget, s.parent, s.info) for s in original.ask(2)
    ]


def test_pbt_version_1_state_frees_the_members_of_its_pending_segments() -> None:
    original = _pbt(seed=2)
    first = original.ask(4)
    for number, s in enumerate(first[:2]):
        original.tell(_segment_trial(number, s, float(number + 1), s.id))
    state = json.loads(json.dumps(original.state_dict()))
    old = {
        **state,
        "version": 1,
        "pending": [{k: v for k, v in p.items() if k != "id"} for p in state["pending"]],
    }
    rebuilt = _pbt(seed=2)
    rebuilt.load_state_dict(old)
    assert rebuilt.state_dict()["pending"] == []
    assert [m.status for m in rebuilt.members] == ["ready"] * 4
    assert {s.info["member"] for s in rebuilt.ask(4)} == {0, 1, 2, 3}


# --- portfolio ------------------------------------------------------------------------------
def _portfolio(seed: int = 0) -> PortfolioSearcher:
    searcher = _make("portfolio", continuous_space(), seed=seed, members=["random", "tpe"])
    assert isinstance(searcher, PortfolioSearcher)
    searcher.n_startup = 1
    return searcher


def test_portfolio_suggestion_is_its_members_own_id() -> None:
    searcher = _portfolio()
    asked = searcher.ask(2)
    by_label = {s.info["member"]: s for s in asked}
    assert set(by_label) == {"random", "tpe"}
    tpe = searcher._members[searcher.labels.index("tpe")]
    assert [i for i, _ in _pending(tpe)] == [by_label["tpe"].id]
    searcher.tell(finished_trial_for(0, by_label["tpe"], 1.0))
    assert _pending(tpe) == []  # the member got the trial with the id it issued


def test_portfolio_credits_the_member_of_the_id_not_of_the_config() -> None:
    searcher = _portfolio()
    a, b = searcher.ask(2)
    pos_a, pos_b = (searcher.labels.index(s.info["member"]) for s in (a, b))
    # a's configuration, b's id (FAILED: reward 0, but credited)
    searcher.tell(finished_trial(0, a.config, None, TrialState.FAILED, suggestion_id=b.id))
    assert searcher.credited_[pos_b] == 1 and searcher.credited_[pos_a] == 0


def test_portfolio_trials_without_a_known_id_credit_nobody() -> None:
    searcher = _portfolio()
    a, b = searcher.ask(2)
    searcher.tell(finished_trial(0, a.config, None, TrialState.FAILED))
    searcher.tell(
        finished_trial(1, b.config, None, TrialState.FAILED, suggestion_id=new_suggestion_id())
    )
    assert searcher.credited_ == [0, 0]
    assert [m.n_told for m in searcher._members] == [2, 2]


def test_portfolio_state_round_trip_credits_by_id() -> None:
    original = _portfolio(seed=4)
    a, b = original.ask(2)
    state = json.loads(json.dumps(original.state_dict()))
    assert state["version"] == 2 and set(state["origin"]) == {a.id, b.id}
    rebuilt = _portfolio(seed=4)
    rebuilt.load_state_dict(state)
    trial = finished_trial_for(0, b, None, TrialState.FAILED)
    for searcher in (original, rebuilt):
        searcher.tell(trial)
    assert rebuilt.credited_ == original.credited_
    assert sum(original.credited_) == 1


def test_portfolio_version_1_state_keeps_its_asked_configs_for_the_duplicate_check() -> None:
    searcher = _portfolio()
    members = [m.state_dict() for m in searcher._members]
    members[1] = {**members[1], "version": 1, "pending": [{"x": 0.5, "y": 1.0, "z": 0.25}]}
    digest = _digest({"x": 0.5, "y": 1.0, "z": 0.25})
    old = {
        "version": 1,
        "searcher": "portfolio",
        "members": members,
        "origin": {digest: 1},
        "n_asks": [0, 1],
        "dropped": {},
    }
    searcher.load_state_dict(old)
    state = searcher.state_dict()
    assert state["version"] == 2 and state["origin"] == {} and state["asked"] == [digest]
    assert state["members"][1]["pending"] == []
    searcher.tell(finished_trial(0, {"x": 0.5, "y": 1.0, "z": 0.25}, None, TrialState.FAILED))
    assert searcher.credited_ == [0, 0]
