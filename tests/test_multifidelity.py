"""Multi-fidelity mechanics in the study: budgets, the reporting channel, stoppers and
searchers that own stopping, in the serial, thread and process executors.

A small stopper defined here (``test-threshold``: stop once a reported loss exceeds a
limit) keeps these tests about the study's side; the real stoppers have their own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import hpo
from hpo.artifacts import LocalArtifactStore
from hpo.budget import Budget
from hpo.searchers import Decision, Suggestion, register
from hpo.searchers.random import RandomSearcher
from hpo.stoppers import Stopper, UnknownStopperError, register_stopper
from hpo.trial import FrozenTrial, TrialState

BUDGET = Budget("epoch", 1, 6)
SPACE = {"x": hpo.Float(0.0, 1.0)}


@register_stopper("test-threshold")
class ThresholdStopper(Stopper):
    """Stops a trial once a reported loss exceeds ``limit``; records what it saw."""

    def __init__(
        self,
        budget: Budget,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        limit: float = 0.5,
    ) -> None:
        super().__init__(budget, direction=direction, seed=seed)
        if not isinstance(limit, int | float):
            raise ValueError(f"limit must be a number, got {limit!r}")
        self.limit = limit

    def on_report(
        self, trial: FrozenTrial, step: int, value: float, trials: Mapping[int, FrozenTrial]
    ) -> Decision:
        assert trials[trial.number].intermediate_values[step] == value
        return Decision.STOP if self.loss(value) > self.limit else Decision.CONTINUE


@register("test-owner")
class OwnerSearcher(RandomSearcher):
    """A random searcher that owns stopping: stops every trial at step 2 and remembers
    how many trials each report showed it."""

    owns_stopping = True
    seen: list[int] = []

    def on_report(
        self, trial: FrozenTrial, step: int, value: float, trials: Mapping[int, FrozenTrial]
    ) -> Decision:
        OwnerSearcher.seen.append(len(trials))
        return Decision.STOP if step >= 2 else Decision.CONTINUE


@register("test-half-budget")
class HalfBudgetSearcher(RandomSearcher):
    """Assigns every trial half the study's budget and names trial 0 as parent."""

    needs_budget = True

    def __init__(self, space: Any, *, budget: Budget, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.study_budget = budget

    def _ask(self, n: int) -> list[Suggestion]:
        return [
            Suggestion(
                s.config, budget=self.study_budget.max / 2, parent=0 if self.n_told else None
            )
            for s in super()._ask(n)
        ]


# Module-level objective: the process executor pickles it by reference.
@hpo.objective(space=SPACE, budget=BUDGET)
def train(config: dict[str, Any], trial: hpo.Trial) -> float:
    """Loss ``x * step / 6``: the canonical loop, with a checkpoint per step."""
    state = trial.load_checkpoint()
    start = state["step"] if state and state["trial"] == trial.number else 0
    loss = 0.0
    assert trial.budget is not None
    for step in range(start + 1, int(trial.budget) + 1):
        loss = config["x"] * step / 6
        trial.report(step, loss)
        trial.save_checkpoint({"step": step, "trial": trial.number})
        if trial.should_stop():
            break
    return loss


def _steps(t: FrozenTrial) -> list[int]:
    return sorted(t.intermediate_values)


@pytest.mark.parametrize("executor", ["serial", "thread", "process"])
def test_a_stopper_prunes_trials_and_keeps_their_reports(executor: str, tmp_path: Path) -> None:
    study = hpo.create_study(
        train,
        searcher="random",
        stopper="test-threshold",
        stopper_kwargs={"limit": 0.25},
        seed=1,
        artifacts=tmp_path,
    )
    workers = 1 if executor == "serial" else 2
    study.optimize(n_trials=12, executor=executor, n_workers=workers, progress=False)
    trials = study.trials
    assert len(trials) == 12  # n_trials counts configurations started
    for t in trials:
        assert t.budget == 6  # Budget.max: random search knows nothing of budgets
        x = t.params["x"]
        # the first step whose loss exceeds 0.25 stops the trial
        stop_at = next((s for s in range(1, 7) if x * s / 6 > 0.25), None)
        if stop_at is None:
            assert t.state is TrialState.COMPLETE and _steps(t) == list(range(1, 7))
        else:
            assert t.state is TrialState.PRUNED
            assert _steps(t) == list(range(1, stop_at + 1))  # kept, and nothing after
            assert t.value == pytest.approx(x * stop_at / 6)
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert complete and study.best_value == min(t.value for t in complete)  # type: ignore[type-var]
    assert any(t.state is TrialState.PRUNED for t in trials)


def test_best_value_ignores_pruned_trials_even_when_better() -> None:
    @hpo.objective(space=SPACE, budget=BUDGET, direction="maximize")
    def rising(config: dict[str, Any], trial: hpo.Trial) -> float:
        for step in range(1, 7):
            trial.report(step, step * (1 + config["x"]))
            if trial.should_stop():
                return 100.0  # a great value, but the trial was stopped
        return step * (1 + config["x"])

    study = hpo.create_study(rising, stopper="test-threshold", stopper_kwargs={"limit": -1.5})
    study.optimize(n_trials=10, progress=False)
    pruned = [t for t in study.trials if t.state is TrialState.PRUNED]
    assert pruned and all(t.value == 100.0 for t in pruned)
    assert study.best_value < 100.0 and study.best_trial.state is TrialState.COMPLETE


def test_searchers_that_own_stopping_decide_and_see_every_trial() -> None:
    OwnerSearcher.seen.clear()
    study = hpo.create_study(train, searcher="test-owner", seed=0)
    study.optimize(n_trials=4, progress=False)
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 4
    assert all(_steps(t) == [1, 2] for t in study.trials)
    assert OwnerSearcher.seen == [1, 1, 2, 2, 3, 3, 4, 4]  # the study's trials, as stored
    with pytest.raises(ValueError, match="decides when to stop trials itself"):
        hpo.create_study(train, searcher="test-owner", stopper="test-threshold")


def test_searchers_assign_budgets_and_parents(tmp_path: Path) -> None:
    study = hpo.create_study(train, searcher="test-half-budget", seed=0, artifacts=tmp_path)
    study.optimize(n_trials=3, progress=False)
    trials = study.trials
    assert [t.budget for t in trials] == [3, 3, 3]
    assert [t.parent for t in trials] == [None, 0, 0]
    assert [_steps(t) for t in trials] == [[1, 2, 3]] * 3
    # a child with no checkpoint of its own starts from its parent's
    child = study.ask()
    assert child.parent == 0 and child.load_checkpoint() == {"step": 3, "trial": 0}
    with pytest.raises(hpo.SearcherError, match="needs one: create the study with budget="):
        hpo.create_study(searcher="test-half-budget", space=SPACE)


def test_budget_and_stopper_survive_a_reload(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mf.db'}"
    hpo.create_study(
        train,
        name="mf",
        storage=url,
        stopper="test-threshold",
        stopper_kwargs={"limit": 0.3},
    ).optimize(n_trials=3, progress=False)
    study = hpo.load_study("mf", url, train)
    assert study.budget == BUDGET and study.stopper_name == "test-threshold"
    assert study.stopper_kwargs == {"limit": 0.3}
    stopper = study.stopper
    assert isinstance(stopper, ThresholdStopper) and stopper.limit == 0.3
    study.optimize(n_trials=3, progress=False)
    assert len(study.trials) == 6 and all(t.budget == 6 for t in study.trials)
    again = hpo.create_study(
        train,
        name="mf",
        storage=url,
        load_if_exists=True,
        stopper="test-threshold",
        stopper_kwargs={"limit": 0.3},
    )
    assert again.study_id == study.study_id
    with pytest.raises(ValueError, match="exists with stopper 'test-threshold', not 'median'"):
        hpo.create_study(train, name="mf", storage=url, load_if_exists=True, stopper="median")


def test_bad_multi_fidelity_settings_are_refused_with_what_to_do() -> None:
    plain = hpo.objective(space=SPACE)(lambda config, trial: config["x"])
    with pytest.raises(ValueError, match=r"needs the trials' budget: pass budget=hpo\.Budget"):
        hpo.create_study(plain, stopper="test-threshold")
    with pytest.raises(ValueError, match="stopper_kwargs given without a stopper"):
        hpo.create_study(train, stopper_kwargs={"limit": 1})
    with pytest.raises(UnknownStopperError, match="Did you mean 'asha'"):
        hpo.create_study(train, stopper="ashaa")
    with pytest.raises(ValueError, match="does not take 'nope'; its options are: limit"):
        hpo.create_study(train, stopper="test-threshold", stopper_kwargs={"nope": 1})
    with pytest.raises(ValueError, match="limit must be a number"):
        hpo.create_study(train, stopper="test-threshold", stopper_kwargs={"limit": "x"})
    with pytest.raises(ValueError, match="give the budget in one place"):
        hpo.create_study(train, budget=Budget("epoch", 1, 10))
    with pytest.raises(ValueError, match="takes only `config`"):
        hpo.objective(space=SPACE, budget=BUDGET)(lambda config: 0.0)
    for bad in [("epoch", 5, 1), ("", 1, 2), ("epoch", 0, 3), ("epoch", 1, float("inf"))]:
        with pytest.raises(ValueError):
            Budget(*bad)
    with pytest.raises(TypeError, match=r"budget must be hpo\.Budget"):
        hpo.create_study(plain, budget=50)  # type: ignore[arg-type]


def test_budget_round_trip_and_clip() -> None:
    assert Budget.from_json(BUDGET.to_json()) == BUDGET
    assert BUDGET.integral and BUDGET.clip(2.6) == 3 and BUDGET.clip(99) == 6
    assert Budget("fraction", 0.1, 1.0).clip(0.05) == 0.1
    study = hpo.create_study(space=SPACE, budget=("epoch", 1, 9))
    assert study.budget == Budget("epoch", 1, 9) and study.ask().budget == 9
    assert hpo.create_study(space=SPACE).ask().budget is None  # no budget, no trial budget


PBT_SPACE = {"lr": hpo.Float(0.01, 1.0, log=True), "kind": hpo.Categorical(["a", "b"])}


@hpo.objective(space=PBT_SPACE, direction="maximize", budget=Budget("epoch", 1, 12))
def pbt_train(config: dict[str, Any], trial: hpo.Trial) -> float:
    """Score grows by ``lr`` per epoch; the checkpoint records where each segment began
    and the chain of trials the state went through."""
    state = trial.load_checkpoint()
    start = state["epoch"] if state else 0
    score = state["score"] if state else 0.0
    lineage = state["lineage"] if state else []
    assert trial.budget is not None
    for epoch in range(start + 1, int(trial.budget) + 1):
        score += config["lr"] * (1.0 if config["kind"] == "a" else 0.5)
        trial.report(epoch, score)
    trial.save_checkpoint(
        {
            "epoch": int(trial.budget),
            "start": start,
            "score": score,
            "lineage": [*lineage, trial.number],
        }
    )
    return score


@pytest.mark.parametrize("workers", [1, 3])
def test_pbt_segments_continue_their_parents_checkpoints(workers: int, tmp_path: Path) -> None:
    study = hpo.create_study(
        pbt_train,
        searcher="pbt",
        searcher_kwargs={
            "population_size": 4,
            "interval": 3,
            "hyperparams": ["lr"],
            "resample_probability": 0.0,
        },
        seed=2,
        artifacts=tmp_path,
    )
    study.optimize(n_trials=60, n_workers=workers, progress=False)
    trials = {t.number: t for t in study.trials}
    store = LocalArtifactStore(tmp_path)
    explored = 0
    for t in trials.values():
        assert t.state is TrialState.COMPLETE
        ckpt = store.load(study.name, t.number)
        assert t.budget is not None and t.budget % 3 == 0 and ckpt["epoch"] == t.budget
        if t.parent is None:
            assert ckpt["start"] == 0 and ckpt["lineage"] == [t.number] and t.budget == 3
            continue
        parent = trials[t.parent]
        before = store.load(study.name, parent.number)
        # the segment starts where its parent's checkpoint ended, one interval further on
        assert ckpt["start"] == parent.budget and t.budget == min(parent.budget + 3, 12)
        assert ckpt["lineage"] == [*before["lineage"], t.number]  # lineage from the parents
        assert t.params["kind"] == parent.params["kind"]  # not in hyperparams: copied
        if t.params["lr"] != parent.params["lr"]:  # explored: perturbed by 0.8 or 1.2
            explored += 1
            ratio = t.params["lr"] / parent.params["lr"]
            clipped = t.params["lr"] in (0.01, 1.0)
            assert ratio == pytest.approx(0.8) or ratio == pytest.approx(1.2) or clipped
    # exploits happened: a perturbed lr, or a donor's checkpoint that its own member also
    # continued from (a parent with two children; the lr perturbed but clipped at a bound)
    children = Counter(t.parent for t in trials.values() if t.parent is not None)
    assert explored + sum(n > 1 for n in children.values()) > 0
    assert sum(t.budget == 12 for t in trials.values()) >= 4  # the population finished
