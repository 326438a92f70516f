"""JSON codecs: every value round-trips (equal after encode, ``json.dumps`` without NaN,
decode), awkward values included, and a comparison's summary decodes to the numbers the
server computed."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hpo.budget import Budget
from hpo.codecs import (
    ComparisonSummary,
    comparison_record_from_json,
    comparison_record_to_json,
    comparison_summary_from_json,
    comparison_summary_to_json,
    datetime_from_json,
    datetime_to_json,
    error_from_json,
    error_to_json,
    param_from_json,
    param_to_json,
    space_from_json,
    space_to_json,
    study_record_from_json,
    study_record_to_json,
    study_summary_from_json,
    study_summary_to_json,
    to_json_value,
    trial_from_json,
    trial_outcome_from_json,
    trial_outcome_to_json,
    trial_spec_from_json,
    trial_spec_to_json,
    trial_to_json,
)
from hpo.comparison_result import ComparisonResult
from hpo.exceptions import StudyNotFoundError, TrialPruned
from hpo.objective import TrialOutcome
from hpo.space import Categorical, Float, Int, Space
from hpo.storage import ComparisonMember, ComparisonRecord, InMemoryStorage
from hpo.storage.base import StudyRecord, StudySummary
from hpo.trial import FrozenTrial, TrialSpec, TrialState

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _wire(data: Any) -> Any:
    """What the other side receives: strict JSON text, parsed again."""
    return json.loads(json.dumps(data, allow_nan=False))


# --- trials --------------------------------------------------------------------------------
TRIALS = [
    FrozenTrial(0, TrialState.RUNNING, {}),
    FrozenTrial(
        1,
        TrialState.COMPLETE,
        {"x": 0.25, "n": 3, "kernel": "rbf", "flag": True, "none": None},
        value=1.5,
        metrics={"acc": 0.9, "missing": None},
        intermediate_values={0: 3.0, 5: 2.0, 10: 1.5},
        user_attrs={"note": "ünïcode ✓", "nested": {"a": [1, 2, {"b": None}]}},
        datetime_start=T0,
        datetime_complete=T0 + timedelta(seconds=2.5),
        budget=10,
        parent=0,
        searcher_time=0.012,
        heartbeat=T0 + timedelta(seconds=1),
        suggestion_id="0f9c3e",
        searcher_info={"action": "explore", "donor": 0, "scale": [0.8, 1.2]},
    ),
    FrozenTrial(
        2,
        TrialState.FAILED,
        {"学习率": 1e-3, "λ": -0.0},
        error='Traceback (most recent call last):\n  ValueError: "bad" ∞',
        datetime_start=datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
    ),
    FrozenTrial(3, TrialState.PRUNED, {"x": 1}, value=0.5, intermediate_values={1: 0.5}),
    FrozenTrial(4, TrialState.WAITING, {"x": 0.1}),
]


@pytest.mark.parametrize("trial", TRIALS, ids=lambda t: t.state.value)
def test_trials_round_trip(trial: FrozenTrial) -> None:
    data = _wire(trial_to_json(trial))
    assert trial_from_json(data) == trial
    assert set(data) == {f.name for f in dataclasses.fields(FrozenTrial)}  # no field left out


def test_trial_steps_come_back_as_ints_and_types_are_kept() -> None:
    back = trial_from_json(_wire(trial_to_json(TRIALS[1])))
    assert list(back.intermediate_values) == [0, 5, 10]
    assert back.state is TrialState.COMPLETE
    assert type(back.params["n"]) is int and type(back.params["x"]) is float
    assert back.params["flag"] is True and back.budget == 10


def test_non_finite_numbers_become_none() -> None:
    nan, inf = float("nan"), float("inf")
    trial = FrozenTrial(
        5,
        TrialState.COMPLETE,
        {"x": 0.1},
        value=inf,
        metrics={"a": nan, "b": -inf, "c": 1.0},
        intermediate_values={2: nan},
        searcher_time=nan,
        user_attrs={"arr": np.array([1.0, np.nan]), "np": np.float32(0.5)},
    )
    data = trial_to_json(trial)
    json.dumps(data, allow_nan=False)
    assert data["value"] is None and data["metrics"] == {"a": None, "b": None, "c": 1.0}
    assert data["user_attrs"] == {"arr": [1.0, None], "np": 0.5}
    back = trial_from_json(_wire(data))
    assert back.value is None and back.metrics == {"a": None, "b": None, "c": 1.0}
    assert math.isnan(back.intermediate_values[2])  # always a number: NaN again
    assert back.searcher_time is None


def test_datetimes_are_iso_with_offset_and_naive_ones_are_utc() -> None:
    assert datetime_to_json(T0) == "2024-05-01T12:00:00.123456+00:00"
    assert datetime_to_json(None) is None and datetime_from_json(None) is None
    naive = datetime(2024, 1, 2, 3, 4, 5)
    assert datetime_to_json(naive) == "2024-01-02T03:04:05+00:00"
    assert datetime_from_json("2024-01-02T03:04:05") == naive.replace(tzinfo=UTC)
    assert datetime_from_json("2024-01-02T03:04:05Z") == naive.replace(tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO-8601"):
        datetime_from_json(12)  # type: ignore[arg-type]


def test_decoders_name_missing_keys_and_ignore_unknown_ones() -> None:
    with pytest.raises(ValueError, match="a trial needs 'state'"):
        trial_from_json({"number": 1})
    with pytest.raises(ValueError, match="must be a JSON object"):
        trial_from_json([1, 2])  # type: ignore[arg-type]
    data = {**trial_to_json(TRIALS[1]), "added_in_a_later_version": 1}
    assert trial_from_json(data) == TRIALS[1]
    assert trial_from_json({"number": 7, "state": "RUNNING"}) == FrozenTrial(
        7, TrialState.RUNNING, {}
    )


def test_trial_specs_and_outcomes_round_trip() -> None:
    specs = [
        TrialSpec("s", 0, {}),
        TrialSpec("étude/λ", 3, {"x": 0.5, "k": "a"}, budget=27, parent=1, checkpoint_root="/c"),
    ]
    for spec in specs:
        data = _wire(trial_spec_to_json(spec))
        assert trial_spec_from_json(data) == spec
        assert set(data) == {f.name for f in dataclasses.fields(TrialSpec)}
    outcomes = [
        TrialOutcome(TrialState.COMPLETE, value=0.5, metrics={"acc": 0.9, "gone": None}),
        TrialOutcome(TrialState.PRUNED, value=None),
        TrialOutcome(TrialState.FAILED, error="ValueError: x"),
    ]
    for outcome in outcomes:
        data = _wire(trial_outcome_to_json(outcome))
        assert trial_outcome_from_json(data) == outcome
    raised = TrialOutcome(TrialState.FAILED, error="boom", raised=RuntimeError("boom"))
    data = _wire(trial_outcome_to_json(raised))
    assert "raised" not in data
    assert trial_outcome_from_json(data) == dataclasses.replace(raised, raised=None)
    fields = {f.name for f in dataclasses.fields(TrialOutcome)} - {"raised"}
    assert set(data) == fields


# --- spaces and studies --------------------------------------------------------------------
SPACE = Space(
    {
        "kernel": Categorical(["rbf", "linear", 2, 1.5, True, None]),
        "C": Float(1e-3, 1e3, log=True),
        "gamma": Float(1e-4, 1.0, log=True, when={"kernel": ["rbf"]}),
        "step": Float(0.0, 1.0, step=0.25),
        "depth": Int(1, 64, log=True),
        "units": Int(8, 128, step=8, when={"kernel": ["linear", 2]}),
    }
)


@pytest.mark.parametrize("name", list(SPACE))
def test_params_round_trip_through_the_space_codec(name: str) -> None:
    param = SPACE[name]
    assert param_from_json(_wire(param_to_json(param))) == param
    assert param_to_json(param) == param.to_json()  # the space's own codec, reused


def test_spaces_round_trip() -> None:
    assert space_from_json(_wire(space_to_json(SPACE))) == SPACE
    assert space_from_json(_wire(space_to_json(Space()))) == Space()


RECORDS = [
    StudyRecord(
        study_id=7,
        name="svm/ünï",
        direction="maximize",
        space=SPACE,
        searcher="tpe",
        searcher_kwargs={"n_startup": 5, "weights": [1, 2]},
        searcher_state={"version": 1, "rng": {"state": [1, 2, 3]}, "x": None},
        seed=3,
        metric="acc",
        created_at=T0,
        user_attrs={"owner": "me"},
        budget=Budget("epoch", 1, 27),
        stopper="asha",
        stopper_kwargs={"eta": 3},
        owner="server-1",
    ),
    StudyRecord(  # define-by-run, nothing optional
        study_id=1,
        name="dbr",
        direction="minimize",
        space=Space(),
        searcher="random",
        define_by_run=True,
    ),
    StudyRecord(
        study_id=2,
        name="dbr-grown",
        direction="minimize",
        space=Space({"x": Float(-1.0, 1.0)}),
        searcher="random",
        define_by_run=True,
        budget=Budget("samples", 0.1, 1.0),
    ),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_study_records_round_trip(record: StudyRecord) -> None:
    data = _wire(study_record_to_json(record))
    back = study_record_from_json(data)
    assert back == record
    assert set(data) == {f.name for f in dataclasses.fields(StudyRecord)}
    if record.budget is not None:
        assert type(back.budget.min) is type(record.budget.min)  # type: ignore[union-attr]


def test_study_summaries_round_trip() -> None:
    summaries = [
        StudySummary(
            study_id=1,
            name="a",
            direction="minimize",
            searcher="gp",
            counts={s.value: i for i, s in enumerate(TrialState)},
            best_value=-0.5,
            best_number=3,
            last_activity=T0,
            created_at=T0 - timedelta(days=1),
            owner="srv",
        ),
        StudySummary(1, "empty ∅", "maximize", "random", counts={s.value: 0 for s in TrialState}),
    ]
    for summary in summaries:
        data = _wire(study_summary_to_json(summary))
        assert study_summary_from_json(data) == summary
        assert data["n_trials"] == summary.n_trials
        assert set(data) - {"n_trials"} == {f.name for f in dataclasses.fields(StudySummary)}


# --- comparisons ---------------------------------------------------------------------------
def test_comparison_records_round_trip() -> None:
    records = [
        ComparisonRecord(
            comparison_id=3,
            name="cmp-ü",
            problem="branin",
            direction="minimize",
            n_trials=15,
            spec={
                "searchers": [{"label": "tpe", "searcher": "tpe", "kwargs": {"a": 1}}],
                "seeds": [0, 1],
            },
            optimum=0.397887,
            reference=50.0,
            created_at=T0,
            members=(
                ComparisonMember(10, "cmp-ü/tpe/seed0", "tpe", 0),
                ComparisonMember(11, "cmp-ü/tpe/seed1", "tpe", 1),
            ),
        ),
        ComparisonRecord(1, "bare", "bump", "maximize", 1),
    ]
    for record in records:
        data = _wire(comparison_record_to_json(record))
        assert comparison_record_from_json(data) == record
        assert set(data) == {f.name for f in dataclasses.fields(ComparisonRecord)}


def _comparison(storage: InMemoryStorage, *, failing_label: str | None = None) -> ComparisonResult:
    """A small comparison stored by hand: 2 searchers x 2 seeds x 5 trials, with failed
    trials (NaN in the curves) and one searcher that never completes a trial if asked."""
    labels = ["uniform", "sobol"]
    space = Space({"x": Float(0.0, 1.0)})
    record = storage.create_comparison(
        "cmp",
        problem="bump",
        direction="maximize",
        n_trials=5,
        spec={
            "searchers": [{"label": lab, "searcher": "random", "kwargs": {}} for lab in labels],
            "seeds": [0, 1],
        },
    )
    rng = np.random.default_rng(0)
    for lab in labels:
        for seed in (0, 1):
            study = storage.create_study(
                f"cmp/{lab}/seed{seed}",
                direction="maximize",
                space=space,
                searcher="random",
                seed=seed,
            )
            storage.add_comparison_study(record.comparison_id, study.study_id, label=lab, seed=seed)
            for i in range(5):
                x = float(rng.random())
                t = storage.create_trial(study.study_id, params={"x": x}, searcher_time=1e-3)
                if lab == failing_label or i == 0:
                    storage.finish_trial(study.study_id, t.number, TrialState.FAILED, error="x")
                else:
                    value = -((x - 0.3) ** 2)
                    storage.finish_trial(study.study_id, t.number, TrialState.COMPLETE, value=value)
    return ComparisonResult(storage, storage.get_comparison("cmp"))


def _assert_same_summary(summary: ComparisonSummary, result: ComparisonResult) -> None:
    assert summary.record == result.record
    assert list(summary.labels) == result.labels and list(summary.seeds) == result.seeds
    assert summary.best_searcher == result.best_searcher
    assert summary.regret_basis == result.regret_basis
    pd.testing.assert_frame_equal(summary.table(), result.table())
    np.testing.assert_equal(summary.average_ranks(), result.average_ranks())
    got, want = summary.normalized_regrets(), result.normalized_regrets()
    assert list(got) == list(want)
    for lab in want:
        np.testing.assert_array_equal(got[lab], want[lab])
    a, b = summary.curves(), result.curves()
    assert a.direction == b.direction and list(a.searchers) == list(b.searchers)
    np.testing.assert_array_equal(a.trials, b.trials)
    assert a.trials.dtype == b.trials.dtype
    np.testing.assert_array_equal(a.time_grid, b.time_grid)
    for lab, curves in b.searchers.items():
        for f in dataclasses.fields(curves):
            left, right = getattr(a.searchers[lab], f.name), getattr(curves, f.name)
            if isinstance(right, np.ndarray):
                assert left.shape == right.shape, f.name
                np.testing.assert_array_equal(left, right)  # NaN where NaN
            else:
                assert left == right


@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning")
@pytest.mark.parametrize("failing_label", [None, "sobol"])
def test_comparison_summary_gives_the_numbers_the_server_computed(
    failing_label: str | None,
) -> None:
    result = _comparison(InMemoryStorage(), failing_label=failing_label)
    data = _wire(comparison_summary_to_json(result))
    assert [row["searcher"] for row in data["table"]] == list(result.table()["searcher"])
    assert any(row["wilcoxon_p"] is None for row in data["table"])  # the best's own row: NaN
    summary = comparison_summary_from_json(data)
    _assert_same_summary(summary, result)
    assert comparison_summary_to_json(summary) == data  # the summary encodes to the same JSON
    if failing_label is not None:
        curves = summary.curves().searchers[failing_label]
        assert np.isnan(curves.runs_by_trial).all()
        assert np.isnan(summary.normalized_regrets()[failing_label]).all()


def test_comparison_summary_of_an_empty_comparison() -> None:
    storage = InMemoryStorage()
    storage.create_comparison(
        "empty", problem="bump", direction="minimize", n_trials=3, spec={"seeds": [0]}
    )
    result = ComparisonResult(storage, storage.get_comparison("empty"))
    data = _wire(comparison_summary_to_json(result))
    summary = comparison_summary_from_json(data)
    assert summary.best_searcher is None and summary.labels == ()
    assert summary.table().empty and list(summary.table().columns) == list(result.table().columns)
    assert comparison_summary_to_json(summary) == data


# --- errors and plain values ---------------------------------------------------------------
def test_errors_round_trip_with_code_kind_and_message() -> None:
    data = _wire(error_to_json(StudyNotFoundError("no study named 'ä'")))
    assert data == {"code": "study_not_found", "kind": "not_found", "message": "no study named 'ä'"}
    back = error_from_json(data)
    assert type(back) is StudyNotFoundError and str(back) == "no study named 'ä'"
    assert type(error_from_json(_wire(error_to_json(TrialPruned())))) is TrialPruned
    assert error_to_json(ValueError("v"))["kind"] == "invalid"


def test_to_json_value_refuses_what_json_cannot_hold() -> None:
    assert to_json_value({1: (np.int64(2), T0)}) == {"1": [2, "2024-05-01T12:00:00.123456+00:00"]}
    plain = to_json_value([np.float64(1.5), np.bool_(True), TrialState.COMPLETE, np.float32("nan")])
    assert plain == [1.5, True, "COMPLETE", None]
    assert [type(v) for v in plain[:3]] == [float, bool, str]
    with pytest.raises(TypeError, match="cannot be encoded as JSON"):
        to_json_value({"a": object()})
    with pytest.raises(TypeError, match="keys must be strings"):
        to_json_value({(1, 2): 3})
