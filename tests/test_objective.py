"""The objective decorator, call styles, and how return values become trial outcomes."""

from __future__ import annotations

import math
import pickle

import pytest

import hpo
from hpo.objective import call_style, outcome_from_result
from hpo.trial import TrialState

SPACE = {"x": hpo.Float(-1.0, 1.0)}


@hpo.objective(space=SPACE, direction="maximize", metric="acc")
def metrics_objective(config: dict[str, float]) -> dict[str, float]:
    return {"acc": 1 - config["x"] ** 2, "loss": config["x"] ** 2, "seconds": 0.5}


def test_call_styles_follow_arity_space_and_name() -> None:
    def by_config(config): ...  # type: ignore[no-untyped-def]
    def by_config_trial(config, trial): ...  # type: ignore[no-untyped-def]
    def by_trial(trial): ...  # type: ignore[no-untyped-def]

    assert call_style(by_config, has_space=True) == "config"
    assert call_style(by_config_trial, has_space=True) == "config_trial"
    assert call_style(by_trial, has_space=True) == "trial"  # named `trial`

    def by_t(t): ...  # type: ignore[no-untyped-def]

    assert call_style(by_t, has_space=False) == "trial"  # no space: define-by-run
    assert call_style(by_t, has_space=True) == "config"
    # named like a config: never define-by-run (refused without a space, not failed later)
    assert call_style(by_config, has_space=False) == "config"
    with pytest.raises(TypeError, match="takes no arguments"):
        call_style(lambda: 0, has_space=True)


def test_decorated_objective_is_still_a_function_and_pickles() -> None:
    assert metrics_objective({"x": 0.0}) == {"acc": 1.0, "loss": 0.0, "seconds": 0.5}
    assert metrics_objective.__name__ == "metrics_objective"
    clone = pickle.loads(pickle.dumps(metrics_objective))
    assert clone is metrics_objective  # by reference to the module attribute


def test_decorator_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="direction must be 'minimize' or 'maximize'"):
        hpo.objective(space=SPACE, direction="up")(lambda c: 0)
    with pytest.raises(ValueError, match="metric must be a non-empty string"):
        hpo.objective(space=SPACE, metric="")(lambda c: 0)


def test_dict_result_stores_value_and_other_metrics() -> None:
    study = hpo.create_study(metrics_objective, seed=0)
    study.optimize(n_trials=5, progress=False)
    assert study.direction == "maximize"
    for t in study.trials:
        assert t.state is TrialState.COMPLETE
        assert t.value == pytest.approx(1 - t.params["x"] ** 2)
        assert set(t.metrics) == {"loss", "seconds"}
        assert t.metrics["seconds"] == 0.5
    assert study.best_value == max(t.value for t in study.trials if t.value is not None)


def test_dict_without_the_metric_fails_the_trial_naming_the_key() -> None:
    @hpo.objective(space=SPACE, metric="acc")
    def wrong_key(config):  # type: ignore[no-untyped-def]
        return {"accuracy": 0.5}

    study = hpo.create_study(wrong_key, seed=0)
    study.optimize(n_trials=3, progress=False)
    assert [t.state for t in study.trials] == [TrialState.FAILED] * 3
    assert all("'acc'" in (t.error or "") for t in study.trials)
    assert study.trials[0].metrics == {"accuracy": 0.5}


def test_dict_without_metric_declared_fails_with_advice() -> None:
    out = outcome_from_result({"a": 1.0}, metric=None)
    assert out.state is TrialState.FAILED
    assert "pass metric=" in (out.error or "")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None, "0.5", True])
def test_invalid_values_fail_the_trial_and_the_study_goes_on(bad: object) -> None:
    calls = []

    @hpo.objective(space=SPACE)
    def objective(config):  # type: ignore[no-untyped-def]
        calls.append(config)
        return bad if len(calls) % 2 else config["x"]

    study = hpo.create_study(objective, seed=0)
    study.optimize(n_trials=6, progress=False)
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAILED, TrialState.COMPLETE] * 3
    failed = study.trials[0]
    assert failed.value is None and failed.error
    assert study.best_value == min(t.params["x"] for t in study.trials[1::2])


def test_exception_is_stored_with_traceback_and_study_continues() -> None:
    @hpo.objective(space=SPACE)
    def flaky(config):  # type: ignore[no-untyped-def]
        if config["x"] > 0:
            raise RuntimeError("diverged at lr=big")
        return config["x"]

    study = hpo.create_study(flaky, seed=1)
    study.optimize(n_trials=20, progress=False)
    assert len(study.trials) == 20
    failed = [t for t in study.trials if t.state is TrialState.FAILED]
    assert failed and all(t.params["x"] > 0 for t in failed)
    assert "Traceback" in (failed[0].error or "")
    assert "RuntimeError: diverged at lr=big" in (failed[0].error or "")
    assert "flaky" in (failed[0].error or "")


def test_exception_outside_catch_is_reraised_and_nothing_stays_running() -> None:
    @hpo.objective(space=SPACE)
    def boom(config):  # type: ignore[no-untyped-def]
        raise KeyError("not caught")

    study = hpo.create_study(boom, seed=0)
    with pytest.raises(KeyError, match="not caught"):
        study.optimize(n_trials=5, catch=(ValueError,), progress=False)
    assert [t.state for t in study.trials] == [TrialState.FAILED]


def test_trial_pruned_exception_marks_pruned_and_keeps_reports() -> None:
    @hpo.objective(space=SPACE)
    def pruned(config, trial):  # type: ignore[no-untyped-def]
        trial.report(1, 0.5)
        trial.report(2, 0.25)
        if config["x"] > 0:
            raise hpo.TrialPruned()
        return config["x"]

    study = hpo.create_study(pruned, seed=2)
    study.optimize(n_trials=12, progress=False)
    pruned_trials = study.get_trials([TrialState.PRUNED])
    assert pruned_trials
    assert all(t.intermediate_values == {1: 0.5, 2: 0.25} for t in pruned_trials)
    assert study.best_trial.state is TrialState.COMPLETE
    assert study.best_value <= 0


def test_bare_decorator_makes_a_define_by_run_objective() -> None:
    @hpo.objective
    def dbr(trial):  # type: ignore[no-untyped-def]
        return trial.suggest_float("x", 0, 1)

    assert dbr.style == "trial" and dbr.space is None
    study = hpo.create_study(dbr, seed=0)
    study.optimize(n_trials=4, progress=False)
    assert study.define_by_run and list(study.space) == ["x"]
    assert all(0 <= t.value <= 1 for t in study.trials)  # type: ignore[operator]


def test_a_stopped_trial_stays_pruned_whatever_it_returns() -> None:
    """A run asked to stop that then diverges (NaN) or returns nothing is PRUNED with its
    last reported value, not FAILED (nor a COMPLETE trial with a bogus value)."""
    from hpo.objective import evaluate
    from hpo.trial import TrialState

    class Stopped:
        params: dict[str, float] = {"x": 0.5}
        last_reported_value = 0.25

        def should_stop(self) -> bool:
            return True

    for result in (float("nan"), None, float("inf")):
        obj = hpo.objective(space={"x": hpo.Float(0, 1)})(lambda config, r=result: r)
        outcome = evaluate(obj, Stopped())  # type: ignore[arg-type]
        assert (outcome.state, outcome.value) == (TrialState.PRUNED, 0.25), result
    fine = hpo.objective(space={"x": hpo.Float(0, 1)})(lambda config: 0.75)
    assert evaluate(fine, Stopped()).value == 0.75  # type: ignore[arg-type]
