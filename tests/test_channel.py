"""The channel protocol: typed requests from a running trial, answered by its driver."""

from __future__ import annotations

import json
from typing import Any

import pytest

import hpo
from hpo.channel import (
    DriverChannel,
    LoadCheckpoint,
    Reply,
    Report,
    Request,
    RequestChannel,
    SaveCheckpoint,
    SetUserAttr,
    Suggest,
    answer,
    reply,
    request_from_json,
    request_to_json,
)
from hpo.driver import LocalDriver
from hpo.objective import TrialOutcome
from hpo.storage import InMemoryStorage
from hpo.trial import Decision, Trial, TrialSpec, TrialState


def _driver() -> LocalDriver:
    storage = InMemoryStorage()
    study = hpo.create_study(name="c", storage=storage, searcher="random", seed=0)
    return LocalDriver(storage, study.driver.record)


def test_answer_serves_every_request_from_the_driver() -> None:
    driver = _driver()
    n = driver.start_trial().number
    x = answer(driver, Suggest(n, "x", hpo.Float(0, 1)))
    assert 0 <= x <= 1 and answer(driver, Suggest(n, "x", hpo.Float(0, 1))) == x
    assert answer(driver, Report(n, 3, 0.5)) is Decision.CONTINUE
    assert answer(driver, SetUserAttr(n, "note", {"a": 1})) is None
    assert answer(driver, LoadCheckpoint(n)) is None
    assert answer(driver, SaveCheckpoint(n, b"\x80\x04K\x07.")) is None  # pickle of 7
    assert answer(driver, LoadCheckpoint(n)) == b"\x80\x04K\x07."
    trial = driver.storage.get_trial(driver.study_id, n)
    assert trial.params == {"x": x} and trial.intermediate_values == {3: 0.5}
    assert trial.user_attrs == {"note": {"a": 1}}
    with pytest.raises(TypeError, match="not a channel request"):
        answer(driver, "suggest")  # type: ignore[arg-type]


def test_reply_keeps_errors_for_the_worker_to_raise() -> None:
    driver = _driver()
    n = driver.start_trial().number
    driver.finish_trial(n, TrialOutcome(TrialState.COMPLETE, 1.0))
    got = reply(driver, Report(n, 1, 0.5))
    assert isinstance(got.error, hpo.exceptions.TrialFinishedError)
    with pytest.raises(hpo.exceptions.TrialFinishedError):
        got.unwrap()
    assert reply(driver, SetUserAttr(n + 1, "k", 1)).error is not None  # no such trial
    assert Reply(value=3).unwrap() == 3


def test_a_trial_over_a_request_channel_behaves_as_one_in_process(tmp_path: Any) -> None:
    driver = _driver()
    sent: list[Request] = []

    def send(request: Request) -> Reply:
        request = request_from_json(json.loads(json.dumps(request_to_json(request))))
        sent.append(request)
        return reply(driver, request)

    spec = driver.start_trial()
    remote = Trial(TrialSpec(spec.study_name, spec.number, {}, checkpoint_root=None),
                   RequestChannel(send))  # fmt: skip
    lr = remote.suggest_float("lr", 1e-4, 1e-1, log=True)
    assert remote.report(1, lr) is Decision.CONTINUE and not remote.should_stop()
    remote.set_user_attr("device", "cpu")
    remote.save_checkpoint({"step": 1})
    assert remote.load_checkpoint() == {"step": 1}
    assert [type(r).__name__ for r in sent] == [
        "Suggest", "Report", "SetUserAttr", "SaveCheckpoint", "LoadCheckpoint",
    ]  # fmt: skip
    local = Trial(driver.spec_for(driver.storage.get_trial(driver.study_id, spec.number)),
                  DriverChannel(driver))  # fmt: skip
    assert local.params == {"lr": lr} and local.load_checkpoint() == {"step": 1}


def test_a_spec_with_an_artifact_store_keeps_checkpoints_off_the_channel() -> None:
    driver = _driver()
    spec = driver.start_trial()
    sent: list[Request] = []
    trial = Trial(spec, RequestChannel(lambda r: sent.append(r) or reply(driver, r)))
    trial.save_checkpoint([1, 2, 3])
    assert trial.load_checkpoint() == [1, 2, 3] and sent == []


@pytest.mark.parametrize(
    "request_",
    [
        Suggest(1, "k", hpo.Categorical(["a", 2, None])),
        Report(2, 7, -1.5),
        SetUserAttr(3, "tags", ["x", {"y": None}]),
        SaveCheckpoint(4, bytes(range(256))),
        LoadCheckpoint(5, parent=2),
        LoadCheckpoint(6),
    ],
)
def test_requests_round_trip_through_json(request_: Request) -> None:
    text = json.dumps(request_to_json(request_), allow_nan=False)
    assert request_from_json(json.loads(text)) == request_


@pytest.mark.parametrize(
    "data", [{}, {"type": "nope", "number": 1}, {"type": "report", "number": 1}, {"type": "x"}]
)
def test_malformed_requests_are_value_errors(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="channel request"):
        request_from_json(data)
