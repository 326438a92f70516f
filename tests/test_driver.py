"""The driver: the engine of one study, used directly (as executors, Ray and the server do)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

import hpo
from hpo.driver import LocalDriver
from hpo.exceptions import SearchSpaceExhausted, StudyOwnedError, TrialFinishedError
from hpo.objective import TrialOutcome
from hpo.storage import InMemoryStorage, Storage, StudyRecord
from hpo.trial import Decision, TrialState

SPACE = {"x": hpo.Float(0.0, 1.0), "k": hpo.Categorical(["a", "b"])}


def _study(
    storage: Storage, *, name: str = "s", searcher: str = "random", **kwargs: object
) -> StudyRecord:
    return hpo.create_study(
        space=kwargs.pop("space", SPACE),  # type: ignore[arg-type]
        name=name,
        storage=storage,
        searcher=searcher,
        seed=0,
        **kwargs,  # type: ignore[arg-type]
    ).driver.record


def test_a_trial_runs_start_to_finish_through_the_driver() -> None:
    storage = InMemoryStorage()
    driver = LocalDriver(storage, _study(storage))
    spec = driver.start_trial()
    assert spec.number == 0 and spec.study_name == "s" and set(spec.params) == {"x", "k"}
    assert spec.checkpoint_root == driver.checkpoint_root
    running = storage.get_trial(driver.study_id, 0)
    assert running.state is TrialState.RUNNING and running.heartbeat is not None
    done = driver.finish_trial(0, TrialOutcome(TrialState.COMPLETE, 0.25, {"acc": None}))
    assert done.state is TrialState.COMPLETE and done.value == 0.25
    assert done.metrics == {"acc": None}
    with pytest.raises(TrialFinishedError):
        driver.finish_trial(0, TrialOutcome(TrialState.COMPLETE, 0.5))
    with pytest.raises(ValueError, match="COMPLETE, PRUNED or FAILED"):
        driver.finish_trial(1, TrialOutcome(TrialState.RUNNING))


def test_failed_outcomes_never_store_a_value() -> None:
    storage = InMemoryStorage()
    driver = LocalDriver(storage, _study(storage))
    driver.start_trial()
    failed = driver.finish_trial(0, TrialOutcome(TrialState.FAILED, 1.0, error="boom"))
    assert failed.value is None and failed.error == "boom"


def test_every_trial_carries_its_suggestion_id_and_the_searchers_info() -> None:
    storage = InMemoryStorage()
    driver = LocalDriver(storage, _study(storage, searcher="tpe"))
    numbers = [driver.start_trial().number for _ in range(3)]
    trials = [storage.get_trial(driver.study_id, n) for n in numbers]
    ids = [t.suggestion_id for t in trials]
    assert all(isinstance(i, str) and len(i) == 32 for i in ids) and len(set(ids)) == 3
    assert [t.searcher_info for t in trials] == [{"draw": 0}, {"draw": 1}, {"draw": 2}]
    driver.enqueue({"x": 0.5, "k": "a"})
    queued = storage.get_trial(driver.study_id, driver.start_trial().number)
    assert queued.params == {"x": 0.5, "k": "a"} and queued.suggestion_id is None


def test_suggest_is_idempotent_for_retried_calls() -> None:
    storage = InMemoryStorage()
    record = hpo.create_study(name="dbr", storage=storage, searcher="random", seed=1).driver.record
    driver = LocalDriver(storage, record)
    number = driver.start_trial().number
    lr = hpo.Float(1e-4, 1e-1, log=True)
    first = driver.suggest(number, "lr", lr)
    assert driver.suggest(number, "lr", lr) == first  # a retried Ray task or HTTP request
    n = driver.suggest(number, "n", hpo.Int(1, 9))
    assert driver.suggest(number, "lr", lr) == first
    assert driver.suggest(number, "n", hpo.Int(1, 9)) == n
    assert storage.get_trial(driver.study_id, number).params == {"lr": first, "n": n}
    assert set(driver.record.space) == {"lr", "n"}
    with pytest.raises(hpo.SpaceError, match="'lr': cannot change a parameter's log scale"):
        driver.suggest(number, "lr", hpo.Float(0.0, 1.0))


def test_report_answers_with_a_decision() -> None:
    storage = InMemoryStorage()
    plain = LocalDriver(storage, _study(storage))
    number = plain.start_trial().number
    assert plain.report(number, 1, 0.5) is Decision.CONTINUE
    assert storage.get_trial(plain.study_id, number).intermediate_values == {1: 0.5}

    record = _study(
        storage, name="asha", budget=hpo.Budget("epoch", 1, 9), stopper="asha",
        stopper_kwargs={"reduction_factor": 3},
    )  # fmt: skip
    driver = LocalDriver(storage, record)
    decisions = []
    for value in (0.1, 0.2, 0.3, 0.9):  # the worst of four at the first rung is stopped
        n = driver.start_trial().number
        decisions.append(driver.report(n, 1, value))
    assert decisions[-1] is Decision.STOP and decisions[0] is Decision.CONTINUE


def test_heartbeats_go_in_one_batch_and_skip_finished_trials() -> None:
    storage = InMemoryStorage()
    driver = LocalDriver(storage, _study(storage))
    a, b, c = (driver.start_trial().number for _ in range(3))
    driver.finish_trial(b, TrialOutcome(TrialState.COMPLETE, 0.1))
    before = storage.get_trial(driver.study_id, a).heartbeat
    assert driver.heartbeat([a, b, c, a]) == [a, c]
    after = storage.get_trial(driver.study_id, a).heartbeat
    assert before is not None and after is not None and after >= before
    assert driver.heartbeat([]) == []


def test_stale_trials_are_failed_by_the_drivers_clock() -> None:
    storage = InMemoryStorage()
    record = _study(storage)
    LocalDriver(storage, record).start_trial()  # a process that then died
    by_hand = LocalDriver(storage, record).start_trial(heartbeat=False)  # ask/tell by hand
    later = datetime.now(UTC) + timedelta(hours=1)
    driver = LocalDriver(storage, record, heartbeat_interval=1.0, clock=lambda: later)
    assert driver.fail_stale_trials() == [0]
    trials = storage.get_trials(record.study_id).trials
    assert trials[0].state is TrialState.FAILED and "presumed dead" in (trials[0].error or "")
    assert trials[by_hand.number].state is TrialState.RUNNING
    assert driver.fail_stale_trials() == []  # at most once per interval...
    assert driver.fail_stale_trials(force=True) == []  # ...and nothing left to fail


def test_a_study_driven_by_a_server_is_refused_in_process() -> None:
    storage = InMemoryStorage()
    record = _study(storage)
    served = LocalDriver(storage, record, owner="server http://hpo:8000")
    assert served.record.owner == "server http://hpo:8000"
    with pytest.raises(StudyOwnedError, match="driven by server http://hpo:8000"):
        LocalDriver(storage, storage.get_study("s"))
    with pytest.raises(StudyOwnedError):
        hpo.load_study("s", storage)
    # the server itself reopens it (after a restart)
    assert LocalDriver(storage, storage.get_study("s"), owner="server http://hpo:8000")


def test_checkpoints_through_the_driver() -> None:
    storage = InMemoryStorage()
    driver = LocalDriver(storage, _study(storage))
    parent = driver.start_trial().number
    child = driver.start_trial().number
    assert driver.load_checkpoint(child, parent) is None
    driver.save_checkpoint(parent, pickle.dumps({"w": [1, 2]}))
    data = driver.load_checkpoint(child, parent)
    assert data is not None and pickle.loads(data) == {"w": [1, 2]}


def test_an_exhausted_grid_is_a_typed_signal() -> None:
    storage = InMemoryStorage()
    record = _study(storage, searcher="grid", space={"k": hpo.Categorical(["a", "b"])})
    driver = LocalDriver(storage, record)
    assert [driver.start_trial().params["k"] for _ in range(2)] == ["a", "b"]
    with pytest.raises(SearchSpaceExhausted):
        driver.start_trial()


def test_the_searcher_learns_trials_finished_by_another_driver() -> None:
    storage = InMemoryStorage()
    record = _study(storage, searcher="tpe")
    first, second = LocalDriver(storage, record), LocalDriver(storage, record)
    for _ in range(4):
        spec = second.start_trial()
        second.finish_trial(spec.number, TrialOutcome(TrialState.COMPLETE, spec.params["x"]))
    first.sync()
    assert first.searcher.n_told == 4
