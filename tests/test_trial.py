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
    trial.report(1, 0.25)  # same step again replaces it
    assert trial.should_stop() is False
    with pytest.raises(TypeError, match="`step` must be an int"):
        trial.report(1.5, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`step` must be >= 0"):
        trial.report(-1, 0.1)
    with pytest.raises(ValueError, match="must be finite"):
        trial.report(2, math.nan)
    study.tell(trial, 0.25)
    assert study.trials[0].intermediate_values == {0: 1.0, 1: 0.25}


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
