"""The live trial handle: reports, user attributes, define-by-run and checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import hpo
from hpo.artifacts import LocalArtifactStore
from hpo.trial import FrozenTrial, TrialState


def test_report_stores_intermediate_values_and_validates() -> None:
    study = hpo.create_study(space={"x": hpo.Float(0, 1)})
    trial = study.ask()
    trial.report(0, 1.0)
    trial.report(1, 0.5)
    with pytest.warns(UserWarning, match=r"already reported step 1 \(value 0.5\); the new value"):
        trial.report(1, 0.25)  # same step again: the first value stays (as in Optuna)
    assert trial.should_stop() is False
    with pytest.raises(TypeError, match="`step` must be an int"):
        trial.report("1", 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`step` must be >= 0"):
        trial.report(-1, 0.1)
    with pytest.raises(ValueError, match="must be finite"):
        trial.report(2, math.nan)
    study.tell(trial, 0.25)
    assert study.trials[0].intermediate_values == {0: 1.0, 1: 0.5}


def test_user_attrs_must_be_json() -> None:
    study = hpo.create_study(space={"x": hpo.Float(0, 1)})
    trial = study.ask()
    trial.set_user_attr("note", {"layers": [1, 2], "ok": True})
    with pytest.raises(TypeError, match="JSON-serializable"):
        trial.set_user_attr("bad", object())
    with pytest.raises(TypeError, match="without NaN or infinity"):
        trial.set_user_attr("nan", {"loss": math.nan})  # PostgreSQL's JSON refuses NaN
    assert study.tell(trial, 1.0).user_attrs == {"note": {"layers": [1, 2], "ok": True}}


def test_checkpoints_round_trip_and_fall_back_to_the_parent(tmp_path: Path) -> None:
    study = hpo.create_study(space={"x": hpo.Float(0, 1)}, artifacts=tmp_path)
    first = study.ask()
    assert first.load_checkpoint() is None
    first.save_checkpoint({"epoch": 1, "weights": [0.1, 0.2]})
    first.save_checkpoint({"epoch": 2, "weights": [0.3, 0.4]})  # latest wins
    assert first.load_checkpoint() == {"epoch": 2, "weights": [0.3, 0.4]}
    (first.checkpoint_dir / "model.txt").write_text("w")
    assert (tmp_path / study.name / "0" / "model.txt").read_text() == "w"
    # a trial whose parent is trial 0 starts from the parent's checkpoint
    child = hpo.Trial(
        hpo.trial.TrialSpec(study.name, 5, {"x": 0.5}, parent=0, checkpoint_root=str(tmp_path)),
        study._channel,
    )
    assert child.load_checkpoint() == {"epoch": 2, "weights": [0.3, 0.4]}
    child.save_checkpoint({"epoch": 3})
    assert child.load_checkpoint() == {"epoch": 3}
    assert not list((tmp_path / study.name / "0").glob(".ckpt-*"))  # no temporary files left


def test_artifact_store_delete(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    store.save("s", 1, [1, 2, 3])
    assert store.exists("s", 1) and store.load("s", 1) == [1, 2, 3]
    store.delete("s", 1)
    assert not store.exists("s", 1)


def test_frozen_trial_is_immutable() -> None:
    t = FrozenTrial(number=0, state=TrialState.COMPLETE, params={"x": 1}, value=1.0)
    with pytest.raises(AttributeError):
        t.value = 2.0  # type: ignore[misc]
    assert t.evolve(value=2.0).value == 2.0 and t.value == 1.0
    assert TrialState.PRUNED.is_finished and not TrialState.RUNNING.is_finished


# --- Optuna-style code (issue 14) ---------------------------------------------------------
def test_report_in_optunas_order_fails_with_a_message_that_says_so() -> None:
    study = hpo.create_study(space={"x": hpo.Float(0, 1)})
    trial = study.ask()
    with pytest.raises(TypeError, match=r"hpo's order is trial.report\(step, value\).*Optuna"):
        trial.report(0.93, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"did you mean trial.report\(3, 0.5\)"):
        trial.report(0.5, 3)  # type: ignore[arg-type]


def test_numpy_integer_steps_and_choices() -> None:
    import numpy as np

    def objective(trial):  # type: ignore[no-untyped-def]
        width = trial.suggest_categorical("width", list(np.array([16, 32, 64])))
        trial.suggest_categorical("act", [np.str_("relu"), np.str_("tanh")])
        for step in np.arange(3):
            trial.report(step, float(step) / width)
        return float(width)

    study = hpo.create_study(searcher="random", seed=0)
    study.optimize(objective, n_trials=3, progress=False)
    assert all(t.state is TrialState.COMPLETE for t in study.trials), study.trials[0].error
    for t in study.trials:
        assert type(t.params["width"]) is int and type(t.params["act"]) is str
        assert sorted(t.intermediate_values) == [0, 1, 2]
    assert study.space["width"] == hpo.Categorical([16, 32, 64])


def test_degenerate_range_is_a_fixed_value_and_a_step_that_does_not_divide_is_adjusted() -> None:
    seen: list[tuple[int, float, float]] = []

    def objective(trial):  # type: ignore[no-untyped-def]
        n = trial.suggest_int("n", 1, 1)  # Optuna accepts it: the one value
        x = trial.suggest_float("x", 0.0, 1.0, step=0.3)  # high lowered to 0.9
        y = trial.suggest_float("y", 0.5, 0.5, log=True)
        seen.append((n, x, y))
        return x

    study = hpo.create_study(searcher="tpe", seed=0)
    with pytest.warns(UserWarning, match=r"step=0.3 does not divide the range \[0.0, 1.0\]"):
        study.optimize(objective, n_trials=6, progress=False)
    assert all(t.state is TrialState.COMPLETE for t in study.trials), study.trials[0].error
    assert {n for n, _, _ in seen} == {1} and {y for _, _, y in seen} == {0.5}
    assert all(min(abs(x - v) for v in (0.0, 0.3, 0.6, 0.9)) < 1e-9 for _, x, _ in seen)
    assert study.space["n"] == hpo.Int(1, 1)
    assert study.space["x"] == hpo.Float(0.0, 0.9, step=0.3)


def test_a_range_may_depend_on_an_earlier_parameter() -> None:
    def objective(trial):  # type: ignore[no-untyped-def]
        n = trial.suggest_int("n", 1, 5)
        k = trial.suggest_int("k", 1, n)
        trial.set_user_attr("k_high", n)
        return k

    for searcher in ("random", "tpe", "gp", "genetic", "portfolio"):
        study = hpo.create_study(searcher=searcher, seed=1)
        study.optimize(objective, n_trials=14, progress=False)
        assert all(t.state is TrialState.COMPLETE for t in study.trials), searcher
        assert all(1 <= t.params["k"] <= t.user_attrs["k_high"] for t in study.trials), searcher
        assert study.space["k"] == hpo.Int(1, max(t.params["n"] for t in study.trials))
