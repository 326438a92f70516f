"""Study creation, ask/tell, enqueue, optimize budgets, results and persistence."""

from __future__ import annotations

import time

import pytest

import hpo
from hpo.exceptions import TrialFinishedError
from hpo.executors import OptimizeRun, SerialExecutor
from hpo.trial import TrialState

SPACE = {
    "x": hpo.Float(-5.0, 5.0),
    "n": hpo.Int(1, 8),
    "kind": hpo.Categorical(["a", "b"]),
}


@hpo.objective(space=SPACE, direction="minimize")
def quadratic(config):  # type: ignore[no-untyped-def]
    return config["x"] ** 2 + config["n"] + (0 if config["kind"] == "a" else 1)


# --- creation ---------------------------------------------------------------------------
def test_space_and_direction_come_from_the_objective_or_keywords() -> None:
    s1 = hpo.create_study(quadratic)
    assert s1.space == hpo.Space(SPACE) and s1.direction == "minimize"
    s2 = hpo.create_study(space=SPACE, direction="maximize")
    assert s2.space == hpo.Space(SPACE) and s2.direction == "maximize"
    assert hpo.create_study(space=SPACE).direction == "minimize"


def test_conflicting_space_or_direction_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="give the space in one place"):
        hpo.create_study(quadratic, space={"y": hpo.Float(0, 1)})
    with pytest.raises(ValueError, match="give the direction in one place"):
        hpo.create_study(quadratic, direction="maximize")
    with pytest.raises(ValueError, match="direction must be"):
        hpo.create_study(space=SPACE, direction="down")


def test_unknown_searcher_names_the_close_match_and_the_available_ones() -> None:
    with pytest.raises(hpo.UnknownSearcherError) as info:
        hpo.create_study(quadratic, searcher="randm")
    assert "Did you mean 'random'" in str(info.value)
    assert "grid" in str(info.value)


def test_unknown_searcher_option_is_rejected_before_anything_is_stored() -> None:
    storage = hpo.storage.InMemoryStorage()
    with pytest.raises(hpo.SearcherError, match="does not take 'resolutoin'"):
        hpo.create_study(
            quadratic, searcher="grid", searcher_kwargs={"resolutoin": 3}, storage=storage
        )
    assert storage.list_studies() == []


def test_grid_refuses_define_by_run_with_advice() -> None:
    with pytest.raises(hpo.SearcherError, match="needs the whole space up front"):
        hpo.create_study(searcher="grid")


def test_duplicate_name_and_load_if_exists() -> None:
    storage = hpo.storage.InMemoryStorage()
    s1 = hpo.create_study(quadratic, name="exp", storage=storage, seed=0)
    s1.optimize(n_trials=3, progress=False)
    with pytest.raises(hpo.DuplicateStudyError, match="load_if_exists=True"):
        hpo.create_study(quadratic, name="exp", storage=storage)
    s2 = hpo.create_study(quadratic, name="exp", storage=storage, load_if_exists=True)
    s2.optimize(n_trials=4, progress=False)
    assert len(s2.trials) == 7
    with pytest.raises(ValueError, match="with searcher 'tpe', not 'grid'"):
        hpo.create_study(
            quadratic, name="exp", storage=storage, searcher="grid", load_if_exists=True
        )


def test_load_missing_study_is_a_not_found_error() -> None:
    with pytest.raises(hpo.StudyNotFoundError, match="no study named 'nope'"):
        hpo.load_study("nope", hpo.storage.InMemoryStorage())


# --- ask / tell ---------------------------------------------------------------------------
def test_ask_tell_by_hand() -> None:
    study = hpo.create_study(space=SPACE, seed=0)
    trial = study.ask()
    assert trial.number == 0 and hpo.Space(SPACE).contains(trial.params)
    done = study.tell(trial, 1.5, metrics={"loss": 2.0})
    assert done.state is TrialState.COMPLETE and done.value == 1.5 and done.metrics == {"loss": 2.0}
    t2 = study.ask()
    nan = study.tell(t2.number, float("nan"))
    assert nan.state is TrialState.FAILED and "finite" in (nan.error or "")
    with pytest.raises(TrialFinishedError):
        study.tell(t2, 1.0)
    t3 = study.ask()
    with pytest.raises(ValueError, match="needs a value"):
        study.tell(t3)
    assert study.tell(t3, state="PRUNED").state is TrialState.PRUNED
    assert study.best_value == 1.5


def test_tell_with_a_dict_uses_the_study_metric() -> None:
    study = hpo.create_study(space=SPACE, direction="maximize", metric="acc")
    t = study.ask()
    done = study.tell(t, {"acc": 0.9, "f1": 0.8})
    assert done.value == 0.9 and done.metrics == {"f1": 0.8}


def test_best_trial_respects_direction_and_needs_a_complete_trial() -> None:
    for direction, expected in (("minimize", 1.0), ("maximize", 3.0)):
        study = hpo.create_study(space=SPACE, direction=direction)
        with pytest.raises(ValueError, match="no COMPLETE trial"):
            _ = study.best_trial
        for v in (2.0, 1.0, 3.0):
            study.tell(study.ask(), v)
        study.tell(study.ask(), state="FAILED")
        assert study.best_value == expected


def test_enqueued_configurations_run_first_and_are_validated() -> None:
    study = hpo.create_study(quadratic, seed=0)
    study.enqueue({"x": 0.0, "n": 1, "kind": "a"})
    study.enqueue({"x": 1.0, "n": 2, "kind": "b"})
    with pytest.raises(hpo.SpaceError, match="outside"):
        study.enqueue({"x": 10.0, "n": 1, "kind": "a"})
    with pytest.raises(hpo.SpaceError, match="missing active parameter 'kind'"):
        study.enqueue({"x": 1.0, "n": 1})
    study.optimize(n_trials=5, progress=False)
    assert len(study.trials) == 5
    assert study.trials[0].params == {"x": 0.0, "n": 1, "kind": "a"}
    assert study.trials[1].params == {"x": 1.0, "n": 2, "kind": "b"}
    assert study.best_value == 1.0


# --- optimize -----------------------------------------------------------------------------
@pytest.mark.parametrize("n_workers", [1, 4])
def test_n_trials_is_exact(n_workers: int) -> None:
    study = hpo.create_study(quadratic, seed=0)
    study.optimize(n_trials=37, n_workers=n_workers, progress=False)
    study.optimize(n_trials=5, n_workers=n_workers, progress=False)
    numbers = [t.number for t in study.trials]
    assert numbers == list(range(42))
    assert all(t.state is TrialState.COMPLETE for t in study.trials)


def test_timeout_stops_starting_trials() -> None:
    @hpo.objective(space=SPACE)
    def slow(config):  # type: ignore[no-untyped-def]
        time.sleep(0.05)
        return config["x"]

    study = hpo.create_study(slow, seed=0)
    study.optimize(timeout=0.5, n_workers=2, progress=False)
    n = len(study.trials)
    assert 2 <= n <= 2 * (0.5 / 0.05) + 2  # each trial sleeps 0.05 s
    assert all(t.state is TrialState.COMPLETE for t in study.trials)


def test_no_trial_starts_once_the_timeout_has_passed() -> None:
    now = [0.0]  # the run's clock: each trial takes a tenth of a second of it

    @hpo.objective(space=SPACE)
    def tenth(config):  # type: ignore[no-untyped-def]
        now[0] += 0.1
        return config["x"]

    study = hpo.create_study(tenth, seed=0)
    run = OptimizeRun(
        study.driver,
        study.resolve_objective(),
        n_trials=None,
        timeout=0.55,
        catch=(Exception,),
        clock=lambda: now[0],
    )
    try:
        SerialExecutor().run(run)
    finally:
        run.close()
    assert len(study.trials) == 6  # started at 0.0, 0.1, ..., 0.5; none at 0.6
    assert run.stopped


def test_callbacks_see_each_finished_trial_and_can_stop_the_study() -> None:
    seen: list[int] = []

    def stop_after_seven(study: hpo.Study, trial: hpo.FrozenTrial) -> None:
        seen.append(trial.number)
        if len(seen) == 7:
            study.stop()

    study = hpo.create_study(quadratic, seed=0)
    study.optimize(n_trials=50, callbacks=[stop_after_seven], progress=False)
    assert seen == list(range(7)) and len(study.trials) == 7
    study.optimize(n_trials=3, progress=False)  # stop() does not stick to later calls
    assert len(study.trials) == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trials": -1}, "n_trials must be a non-negative int"),
        ({"n_trials": 2.5}, "n_trials must be a non-negative int"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"n_workers": 0}, "n_workers must be a positive int"),
        ({"executor": "gpu"}, "unknown executor 'gpu'"),
        ({"callbacks": [1]}, "callbacks must be callables"),
        ({"catch": [1]}, "catch must be exception classes"),
    ],
)
def test_bad_optimize_arguments_are_clear_errors(kwargs: dict[str, object], message: str) -> None:
    study = hpo.create_study(quadratic)
    with pytest.raises((ValueError, TypeError), match=message):
        study.optimize(progress=False, **{"n_trials": 1, **kwargs})  # type: ignore[arg-type]
    assert study.trials == []


def test_optimize_needs_an_objective() -> None:
    with pytest.raises(ValueError, match="no objective"):
        hpo.create_study(space=SPACE).optimize(n_trials=1)


def test_searcher_time_and_timestamps_are_recorded() -> None:
    study = hpo.create_study(quadratic, seed=0)
    study.optimize(n_trials=3, progress=False)
    for t in study.trials:
        assert t.searcher_time is not None and t.searcher_time >= 0
        assert t.datetime_start is not None and t.datetime_complete is not None
        assert t.datetime_start.tzinfo is not None
        assert t.duration is not None and t.duration >= 0


def test_trials_dataframe_has_one_row_per_trial() -> None:
    study = hpo.create_study(quadratic, seed=0)
    study.optimize(n_trials=6, progress=False)
    frame = study.trials_dataframe()
    assert len(frame) == 6
    assert {
        "number",
        "state",
        "value",
        "params_x",
        "params_n",
        "params_kind",
        "duration",
        "searcher_time",
    } <= set(frame.columns)
    assert frame["value"].min() == study.best_value


# --- define-by-run ---------------------------------------------------------------------
def conditional_dbr(trial):  # type: ignore[no-untyped-def]
    model = trial.suggest_categorical("model", ["linear", "tree"])
    if model == "tree":
        depth = trial.suggest_int("depth", 1, 6)
        return depth / 6
    return trial.suggest_float("alpha", 1e-3, 1.0, log=True)


def test_define_by_run_grows_the_space_and_keeps_conditionals() -> None:
    study = hpo.create_study(seed=0)
    study.optimize(conditional_dbr, n_trials=30, progress=False)
    assert set(study.space) == {"model", "depth", "alpha"}
    for t in study.trials:
        assert t.state is TrialState.COMPLETE
        expected = {"model", "depth"} if t.params["model"] == "tree" else {"model", "alpha"}
        assert set(t.params) == expected


def test_define_by_run_parameter_cannot_change_its_definition() -> None:
    def changing(trial):  # type: ignore[no-untyped-def]
        high = 1.0 if trial.number == 0 else 2.0
        return trial.suggest_float("x", 0.0, high)

    study = hpo.create_study(seed=0)
    study.optimize(changing, n_trials=2, progress=False)
    assert study.trials[0].state is TrialState.COMPLETE
    assert study.trials[1].state is TrialState.FAILED
    assert "keep one definition per name" in (study.trials[1].error or "")


def test_define_by_run_in_a_static_study_returns_the_sampled_values() -> None:
    def uses_trial(trial):  # type: ignore[no-untyped-def]
        x = trial.suggest_float("x", -5.0, 5.0)
        assert x == trial.params["x"]
        return x

    study = hpo.create_study(space={"x": hpo.Float(-5.0, 5.0)}, seed=0)
    study.optimize(uses_trial, n_trials=3, progress=False)
    assert all(t.state is TrialState.COMPLETE for t in study.trials)

    def unknown(trial):  # type: ignore[no-untyped-def]
        return trial.suggest_float("y", 0, 1)

    study.optimize(unknown, n_trials=1, progress=False)
    assert "not in the study's space" in (study.trials[-1].error or "")


# --- persistence ---------------------------------------------------------------------------
def test_reloaded_study_continues_where_it_stopped(storage_url: str | None) -> None:
    if storage_url is None:
        storage: hpo.storage.Storage | str = hpo.storage.InMemoryStorage()
    else:
        storage = storage_url
    study = hpo.create_study(quadratic, name="resume", storage=storage, seed=0)
    study.optimize(n_trials=6, progress=False)
    first = [t.params for t in study.trials]
    if storage_url is not None:
        study.storage.close()
    again = hpo.load_study("resume", storage if storage_url is None else storage_url, quadratic)
    assert again.searcher_name == "tpe" and again.seed == 0
    again.optimize(n_trials=5, progress=False)
    trials = again.trials
    assert [t.number for t in trials] == list(range(11))
    assert [t.params for t in trials[:6]] == first
    assert all(t.params not in first for t in trials[6:])
    assert again.best_value == min(t.value for t in trials if t.value is not None)


def test_define_by_run_study_reloads_with_its_space(storage_url: str | None) -> None:
    storage: hpo.storage.Storage | str = storage_url or hpo.storage.InMemoryStorage()
    study = hpo.create_study(name="dbr", storage=storage, seed=0)
    study.optimize(conditional_dbr, n_trials=10, progress=False)
    again = hpo.load_study("dbr", storage)
    assert again.define_by_run and set(again.space) == set(study.space)
    again.optimize(conditional_dbr, n_trials=2, progress=False)
    assert len(again.trials) == 12
