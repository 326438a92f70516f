"""Multi-fidelity benchmark problems: LCBench epochs curves and the PyTorch digits task."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from hpo.benchmarks import available_problems, get_problem
from hpo.benchmarks.base import Problem, steps_used, total_steps
from hpo.benchmarks.lcbench import (
    LCBENCH_DEFAULT_CONFIG,
    LCBENCH_DEV_TASKS,
    LCBENCH_TASKS,
    MAX_EPOCH,
    lcbench_curve,
    surrogate_calls,
)
from hpo.budget import Budget
from hpo.space import Float, Param, Space
from hpo.trial import Decision, FrozenTrial, Trial, TrialChannel, TrialSpec, TrialState

needs_onnxruntime = pytest.mark.skipif(
    find_spec("onnxruntime") is None, reason="onnxruntime is not installed"
)
needs_torch = pytest.mark.skipif(find_spec("torch") is None, reason="torch is not installed")


class FakeChannel(TrialChannel):
    """Records reports, asks to stop after ``stop_at``, keeps checkpoints in a dict."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at = stop_at
        self.reports: dict[int, list[tuple[int, float]]] = {}
        self.checkpoints: dict[int, Any] = {}
        self.saves = 0

    def suggest(self, number: int, name: str, param: Param) -> Any:
        raise AssertionError("no define-by-run here")

    def report(self, number: int, step: int, value: float) -> Decision:
        self.reports.setdefault(number, []).append((step, value))
        stop = self.stop_at is not None and step >= self.stop_at
        return Decision.STOP if stop else Decision.CONTINUE

    def set_user_attr(self, number: int, key: str, value: Any) -> None:
        pass

    def checkpoint_dir(self, spec: TrialSpec) -> Path:
        raise AssertionError("not used")

    def save_checkpoint(self, spec: TrialSpec, obj: Any) -> None:
        self.saves += 1
        self.checkpoints[spec.number] = obj

    def load_checkpoint(self, spec: TrialSpec) -> Any:
        for number in (spec.number, spec.parent):
            if number is not None and number in self.checkpoints:
                return self.checkpoints[number]
        return None


def run_trial(
    problem: Problem,
    config: dict[str, Any],
    channel: FakeChannel,
    *,
    number: int = 0,
    budget: float | None = None,
    parent: int | None = None,
) -> float:
    """Call the problem's budget-aware objective as a study would."""
    trial = Trial(TrialSpec("s", number, dict(config), budget, parent), channel)
    run = problem.trainer if problem.trainer is not None else problem._curve_objective()
    return float(run(config, trial))


# --- the Problem fields ----------------------------------------------------------------
TOY_BUDGET = Budget("step", 1, 5)


def _toy(budget: Budget | None = TOY_BUDGET) -> Problem:
    return Problem(
        "toy",
        Space({"x": Float(0, 1)}),
        "maximize",
        lambda c: 5 * c["x"],
        budget=budget,
        curve=lambda c, n: [s * c["x"] for s in range(1, n + 1)],
    )


def test_a_curve_without_budget_or_a_budget_without_curve_is_rejected() -> None:
    with pytest.raises(ValueError, match="no budget"):
        _toy(budget=None)
    with pytest.raises(ValueError, match="no curve"):
        Problem("p", Space({"x": Float(0, 1)}), "minimize", lambda c: 0.0, budget=Budget("e", 1, 3))
    plain = Problem("p", Space({"x": Float(0, 1)}), "minimize", lambda c: c["x"])
    assert plain.budget is None and plain.objective.style == "config"


def test_curve_objective_reports_each_step_and_stops_when_asked() -> None:
    problem = _toy()
    channel = FakeChannel()
    assert run_trial(problem, {"x": 0.5}, channel) == 2.5
    assert channel.reports[0] == [(s, 0.5 * s) for s in range(1, 6)]
    assert channel.saves == 0  # a whole-budget trial without parent writes nothing
    stopped = FakeChannel(stop_at=2)
    assert run_trial(problem, {"x": 0.5}, stopped) == 1.0
    assert [s for s, _ in stopped.reports[0]] == [1, 2]


def test_curve_objective_checkpoints_segments_and_resumes_from_the_parent() -> None:
    problem = _toy()
    channel = FakeChannel()
    assert run_trial(problem, {"x": 0.2}, channel, number=0, budget=2) == pytest.approx(0.4)
    assert channel.checkpoints[0] == {"step": 2}
    # a child (other config) continues at step 3 up to its own budget
    assert run_trial(problem, {"x": 0.4}, channel, number=1, budget=4, parent=0) == 1.6
    assert [s for s, _ in channel.reports[1]] == [3, 4]
    assert channel.checkpoints[1] == {"step": 4}
    trials = [
        FrozenTrial(n, TrialState.COMPLETE, {}, intermediate_values=dict(r))
        for n, r in channel.reports.items()
    ]
    assert [steps_used(t) for t in trials] == [2, 2] and total_steps(trials) == 4


# --- LCBench epochs ---------------------------------------------------------------------
def test_lcbench_epochs_problems_are_registered_with_tags_and_budget() -> None:
    names = {n for n in available_problems() if n.startswith("lcbench-epochs-")}
    assert names == {f"lcbench-epochs-{t}" for t in LCBENCH_TASKS}
    for task in LCBENCH_DEV_TASKS:
        problem = get_problem(f"lcbench-epochs-{task}")
        base = get_problem(f"lcbench-{task}")
        assert problem.tags == ("lcbench", "epochs", "dev")
        assert problem.budget == Budget("epoch", 1, MAX_EPOCH)
        assert (problem.optimum, problem.reference) == (base.optimum, base.reference)
        assert list(problem.space) == list(base.space)
    assert get_problem("lcbench-epochs-167185").tags[-1] == "heldout"


@needs_onnxruntime
def test_lcbench_epochs_steps_match_the_surrogate_and_the_final_epoch_the_problem() -> None:
    problem = get_problem("lcbench-epochs-3945")
    channel = FakeChannel()
    before = surrogate_calls()
    final = run_trial(problem, LCBENCH_DEFAULT_CONFIG, channel)
    assert surrogate_calls() - before == 1  # one batched call per trial
    curve = lcbench_curve(3945, LCBENCH_DEFAULT_CONFIG)
    assert [s for s, _ in channel.reports[0]] == list(range(1, MAX_EPOCH + 1))
    assert [v for _, v in channel.reports[0]] == pytest.approx(curve, abs=1e-9)
    assert final == pytest.approx(get_problem("lcbench-3945")(LCBENCH_DEFAULT_CONFIG), abs=1e-6)
    assert final == pytest.approx(problem(LCBENCH_DEFAULT_CONFIG), abs=1e-6)
    short = FakeChannel()
    assert run_trial(problem, LCBENCH_DEFAULT_CONFIG, short, budget=9) == pytest.approx(curve[8])
    assert len(short.reports[0]) == 9


# --- torch-digits -----------------------------------------------------------------------
CONFIG = {"lr": 0.05, "weight_decay": 1e-4, "hidden": 32, "dropout": 0.2, "batch_size": 64}


@needs_torch
def test_torch_digits_is_registered_deterministic_and_reports_each_epoch() -> None:
    problem = get_problem("torch-digits")
    assert problem.direction == "maximize" and problem.budget == Budget("epoch", 1, 30)
    assert 0.05 < (problem.reference or 0) < 0.2
    a, b = FakeChannel(), FakeChannel()
    assert run_trial(problem, CONFIG, a, budget=6) == run_trial(problem, CONFIG, b, budget=6)
    assert a.reports == b.reports and [s for s, _ in a.reports[0]] == [1, 2, 3, 4, 5, 6]
    assert a.reports[0][-1][1] > 0.85
    assert a.checkpoints[0]["epoch"] == 6 and set(a.checkpoints[0]) >= {"model", "optimizer"}


@needs_torch
def test_torch_digits_resumes_to_the_result_of_an_uninterrupted_run() -> None:
    problem = get_problem("torch-digits")
    whole = FakeChannel()
    uninterrupted = run_trial(problem, CONFIG, whole, budget=6)
    split = FakeChannel(stop_at=3)
    run_trial(problem, CONFIG, split, number=0, budget=6)  # stopped after epoch 3
    split.stop_at = None
    resumed = run_trial(problem, CONFIG, split, number=1, budget=6, parent=0)
    assert [s for s, _ in split.reports[1]] == [4, 5, 6]
    assert resumed == uninterrupted
    assert split.reports[0] + split.reports[1] == whole.reports[0]


@needs_torch
def test_torch_digits_a_learning_rate_change_on_resume_takes_effect() -> None:
    problem = get_problem("torch-digits")
    channel = FakeChannel()
    run_trial(problem, CONFIG, channel, number=0, budget=3)
    run_trial(problem, CONFIG, channel, number=1, budget=5, parent=0)
    run_trial(problem, {**CONFIG, "lr": 1e-9}, channel, number=2, budget=5, parent=0)
    frozen = channel.checkpoints[2]
    # lr ~ 0: weight decay and momentum aside, the weights barely move after epoch 3
    assert frozen["optimizer"]["param_groups"][0]["lr"] == 1e-9
    start = channel.checkpoints[0]["model"]
    moved_same = sum(
        float((channel.checkpoints[1]["model"][k] - start[k]).abs().sum()) for k in start
    )
    moved_tiny = sum(float((frozen["model"][k] - start[k]).abs().sum()) for k in start)
    assert moved_tiny < 0.2 * moved_same
    assert channel.reports[1] != channel.reports[2]


@needs_torch
def test_torch_digits_a_different_hidden_size_trains_from_scratch() -> None:
    problem = get_problem("torch-digits")
    channel = FakeChannel()
    run_trial(problem, CONFIG, channel, number=0, budget=2)
    run_trial(problem, {**CONFIG, "hidden": 16}, channel, number=1, budget=3, parent=0)
    assert [s for s, _ in channel.reports[1]] == [1, 2, 3]


def test_importing_hpo_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, hpo, hpo.benchmarks; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- in real studies --------------------------------------------------------------------
@needs_onnxruntime
def test_lcbench_epochs_in_a_study_with_asha_prunes_and_saves_epochs() -> None:
    import hpo

    problem = get_problem("lcbench-epochs-3945")
    study = hpo.create_study(problem.objective, searcher="random", stopper="asha", seed=0)
    study.optimize(n_trials=20, progress=False)
    states = [t.state for t in study.trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    assert total_steps(study.trials) < MAX_EPOCH * 20
    best = study.best_trial
    assert best.last_step == MAX_EPOCH
    assert best.value == pytest.approx(problem(best.params), abs=1e-6)


@needs_onnxruntime
def test_lcbench_epochs_under_pbt_continues_the_parent(tmp_path: Path) -> None:
    import hpo

    problem = get_problem("lcbench-epochs-3945")
    study = hpo.create_study(
        problem.objective,
        searcher="pbt",
        searcher_kwargs={"population_size": 4},
        seed=0,
        artifacts=str(tmp_path),
    )
    study.optimize(n_trials=16, progress=False)
    by_number = {t.number: t for t in study.trials}
    children = [t for t in study.trials if t.parent is not None]
    assert children
    for child in children:
        parent = by_number[child.parent]
        assert min(child.intermediate_values) == parent.last_step + 1
        assert child.last_step == child.budget
