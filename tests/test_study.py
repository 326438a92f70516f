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


def test_define_by_run_parameter_cannot_change_its_kind() -> None:
    def changing(trial):  # type: ignore[no-untyped-def]
        if trial.number == 0:
            return trial.suggest_float("x", 0.0, 1.0)
        return float(trial.suggest_int("x", 0, 1))

    study = hpo.create_study(seed=0)
    study.optimize(changing, n_trials=2, progress=False)
    assert study.trials[0].state is TrialState.COMPLETE
    assert study.trials[1].state is TrialState.FAILED
    assert "parameter 'x': cannot change a parameter's kind" in (study.trials[1].error or "")


def test_define_by_run_ranges_may_change_choices_and_log_scale_may_not() -> None:
    def changing(trial):  # type: ignore[no-untyped-def]
        high = 1.0 if trial.number == 0 else 2.0  # a range that changes: allowed
        x = trial.suggest_float("x", 0.0, high)
        if trial.number == 2:
            trial.suggest_float("lr", 1e-3, 1.0, log=False)
        else:
            trial.suggest_float("lr", 1e-3, 1.0, log=True)
        choices = ["a", "b"] if trial.number < 3 else ["a", "c"]
        trial.suggest_categorical("k", choices)
        return x

    study = hpo.create_study(seed=0)
    study.optimize(changing, n_trials=4, progress=False)
    states = [t.state for t in study.trials]
    assert states == [
        TrialState.COMPLETE,
        TrialState.COMPLETE,
        TrialState.FAILED,
        TrialState.FAILED,
    ]
    assert "cannot change a parameter's log scale" in (study.trials[2].error or "")
    assert "categorical choices cannot change" in (study.trials[3].error or "")
    assert study.space["x"] == hpo.Float(0.0, 2.0)  # the smallest range holding both


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


# --- issue 14: a new user's first hour ------------------------------------------------------
@hpo.objective(space={"x": hpo.Float(0.0, 1.0)}, metric="acc", direction="maximize")
def diverging(config):  # type: ignore[no-untyped-def]
    return {"acc": config["x"], "loss": float("nan"), "grad": float("inf"), "epochs": 3}


@pytest.mark.parametrize("executor", ["serial", "thread"])
def test_a_nan_or_infinite_extra_metric_is_missing_and_the_trial_complete(
    executor: str, sqlite_url: str
) -> None:
    # before the driver refactor, optimize() raised "metrics must be numbers, got None"
    # after the first trial and stored it FAILED
    study = hpo.create_study(diverging, searcher="random", seed=0, storage=sqlite_url)
    workers = 2 if executor == "thread" else 1
    study.optimize(n_trials=4, n_workers=workers, executor=executor, progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    for t in study.trials:
        assert t.value == t.params["x"]
        assert t.metrics == {"loss": None, "grad": None, "epochs": 3.0}
    assert study.tell(study.ask(), {"acc": 0.5, "loss": float("nan")}).state is TrialState.COMPLETE


def test_a_pruned_trial_stores_its_last_reported_value() -> None:
    @hpo.objective(space={"x": hpo.Float(0.0, 1.0)})
    def stopped(config, trial):  # type: ignore[no-untyped-def]
        trial.report(1, 0.9)
        trial.report(3, 0.4)
        trial.report(2, 0.6)
        raise hpo.TrialPruned()

    study = hpo.create_study(stopped, seed=0)
    study.optimize(n_trials=1, progress=False)
    (trial,) = study.trials
    assert trial.state is TrialState.PRUNED and trial.value == 0.4  # the largest step's


def test_a_config_function_without_a_space_is_refused_before_anything_is_stored(
    sqlite_url: str,
) -> None:
    def plain(config):  # type: ignore[no-untyped-def]
        return config["x"]

    storage = hpo.storage.get_storage(sqlite_url)
    with pytest.raises(ValueError, match=r"takes a config dict, but no space was given"):
        hpo.create_study(plain, storage=storage)
    assert storage.list_studies() == []  # used to store a study whose trials all failed
    study = hpo.create_study(space={"x": hpo.Float(0, 1)}, seed=0)
    study.optimize(plain, n_trials=2, progress=False)  # with a space it is fine
    assert all(t.state is TrialState.COMPLETE for t in study.trials)

    def other(t):  # type: ignore[no-untyped-def]
        return t["x"]  # a config-style body behind another name: a clear error per trial

    dbr = hpo.create_study(seed=0)
    dbr.optimize(other, n_trials=1, progress=False)
    assert "called define-by-run, with a Trial, not a config dict" in (dbr.trials[0].error or "")


def test_load_if_exists_adopts_the_stored_options(sqlite_url: str) -> None:
    kwargs = {"n_startup": 3}
    hpo.create_study(
        quadratic, name="exp", storage=sqlite_url, searcher="tpe", searcher_kwargs=kwargs, seed=4
    ).optimize(n_trials=2, progress=False)
    # a second worker: no searcher, options, direction or seed repeated
    worker = hpo.create_study(name="exp", storage=sqlite_url, load_if_exists=True)
    assert (worker.searcher_name, worker.searcher_kwargs, worker.seed) == ("tpe", kwargs, 4)
    assert worker.space == hpo.Space(SPACE) and worker.direction == "minimize"
    worker.optimize(quadratic, n_trials=2, progress=False)
    assert len(worker.trials) == 4
    same = hpo.create_study(quadratic, name="exp", storage=sqlite_url, load_if_exists=True)
    assert same.study_id == worker.study_id
    with pytest.raises(ValueError, match=r"searcher 'tpe', not 'gp'; seed 4, not 5"):
        hpo.create_study(name="exp", storage=sqlite_url, load_if_exists=True, searcher="gp", seed=5)
    with pytest.raises(ValueError, match=r"direction 'minimize', not 'maximize'"):
        hpo.create_study(name="exp", storage=sqlite_url, load_if_exists=True, direction="maximize")
    with pytest.raises(ValueError, match=r"searcher_kwargs \{'n_startup': 3\}, not \{\}"):
        hpo.create_study(name="exp", storage=sqlite_url, load_if_exists=True, searcher_kwargs={})


def test_study_user_attrs(storage_url: str | None) -> None:
    study = hpo.create_study(quadratic, name="attrs", storage=storage_url)
    study.set_user_attr("dataset", {"name": "wine", "rows": 178})
    study.set_user_attr("owner", "me")
    study.set_user_attr("owner", "you")
    again = hpo.load_study("attrs", study.storage)
    assert again.user_attrs == {"dataset": {"name": "wine", "rows": 178}, "owner": "you"}
    with pytest.raises(TypeError, match="JSON-serializable"):
        study.set_user_attr("bad", object())


def test_add_trial_stores_a_finished_trial_as_given(storage_url: str | None) -> None:
    from datetime import UTC, datetime

    study = hpo.create_study(quadratic, storage=storage_url, searcher="tpe", seed=0)
    start, end = datetime(2024, 5, 1, 12, 0, tzinfo=UTC), datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    added = study.add_trial(
        {"x": 0.5, "n": 2, "kind": "a"},
        2.25,
        metrics={"loss": 0.1, "nan": float("nan")},
        intermediate_values={1: 3.0, 2: 2.5},
        user_attrs={"source": "notebook"},
        datetime_start=start,
        datetime_complete=end,
    )
    assert added.number == 0 and added.state is TrialState.COMPLETE and added.value == 2.25
    stored = study.trials[0]
    assert (stored.datetime_start, stored.datetime_complete, stored.duration) == (start, end, 300)
    assert stored.intermediate_values == {1: 3.0, 2: 2.5}
    assert stored.metrics == {"loss": 0.1, "nan": None}
    assert stored.user_attrs == {"source": "notebook"}
    assert study.best_value == 2.25
    study.add_trial({"x": 1.0, "n": 1, "kind": "b"}, state="FAILED", error="crashed")
    study.add_trial(study.trials[0])  # a FrozenTrial, e.g. from another study
    assert [t.state for t in study.trials] == [
        TrialState.COMPLETE,
        TrialState.FAILED,
        TrialState.COMPLETE,
    ]
    study.optimize(n_trials=1, progress=False)  # the searcher learned from them first
    assert study.searcher.n_told == 3
    with pytest.raises(hpo.SpaceError, match="outside"):
        study.add_trial({"x": 9.0, "n": 1, "kind": "a"}, 1.0)
    with pytest.raises(ValueError, match="needs its value"):
        study.add_trial({"x": 0.0, "n": 1, "kind": "a"})
    with pytest.raises(ValueError, match=r"use study\.enqueue"):
        study.add_trial({"x": 0.0, "n": 1, "kind": "a"}, state="RUNNING")
    with pytest.raises(ValueError, match="must be finite"):
        study.add_trial({"x": 0.0, "n": 1, "kind": "a"}, float("inf"))


def test_add_trial_to_a_define_by_run_study_needs_new_definitions() -> None:
    study = hpo.create_study(searcher="random", seed=0)
    with pytest.raises(hpo.SpaceError, match=r"'lr' is new.*distributions="):
        study.add_trial({"lr": 0.1}, 1.0)
    study.add_trial({"lr": 0.1}, 1.0, distributions={"lr": hpo.Float(1e-3, 1.0, log=True)})
    study.add_trial({"lr": 2.0}, 0.5, distributions={"lr": hpo.Float(1e-3, 4.0, log=True)})
    assert study.space["lr"] == hpo.Float(1e-3, 4.0, log=True)  # a dynamic range: the hull
    with pytest.raises(hpo.SpaceError, match="outside"):
        study.add_trial({"lr": 9.0}, 0.5, distributions={"lr": hpo.Float(1e-3, 4.0, log=True)})


def test_delete_study_and_loading_a_missing_one_creates_nothing(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    url = f"sqlite:///{tmp_path / 'hpo.db'}"
    hpo.create_study(quadratic, name="gone", storage=url).optimize(n_trials=2, progress=False)
    hpo.delete_study("gone", url)
    with pytest.raises(hpo.StudyNotFoundError, match="no study named 'gone'"):
        hpo.load_study("gone", url)
    with pytest.raises(hpo.StudyNotFoundError, match="no study named 'gone'"):
        hpo.delete_study("gone", url)
    missing = tmp_path / "missing.db"
    for call in (hpo.load_study, hpo.delete_study):
        with pytest.raises(hpo.StudyNotFoundError, match="does not exist"):
            call("nope", f"sqlite:///{missing}")
    assert not missing.exists()  # load_study used to create an empty database


def test_storage_errors_name_the_path_and_what_to_do(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    from pathlib import Path

    import hpo.storage._engine as engine

    assert isinstance(tmp_path, Path)
    with pytest.raises(hpo.HPOError, match=r"directory .*nodir does not exist; create it"):
        hpo.create_study(quadratic, storage=f"sqlite:///{tmp_path / 'nodir' / 'x.db'}")
    locked = tmp_path / "locked"
    locked.mkdir()
    url = f"sqlite:///{locked / 'hpo.db'}"
    hpo.create_study(quadratic, name="kept", storage=url).optimize(n_trials=2, progress=False)
    real = os.access

    def read_only(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        if str(path).startswith(str(locked)) and mode & os.W_OK:
            return False  # a read-only disk (root may write anywhere: simulate it)
        return real(path, mode, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.os, "access", read_only)
    study = hpo.load_study("kept", url, quadratic)  # read-only files open for reading
    assert len(study.trials) == 2 and study.best_value is not None
    with pytest.raises(hpo.HPOError, match=r"hpo\.db is read-only .*copy it somewhere writable"):
        study.optimize(n_trials=1, progress=False)
    with pytest.raises(hpo.HPOError, match=r"locked is not writable; choose a writable"):
        hpo.create_study(quadratic, storage=f"sqlite:///{locked / 'new.db'}")
    with pytest.raises(ValueError, match="pass storage=None to keep the study in"):
        hpo.create_study(quadratic, storage="memory")


def test_numpy_integers_are_accepted_as_seeds_and_budgets() -> None:
    import numpy as np

    study = hpo.create_study(quadratic, searcher="random", seed=np.int64(3))
    assert study.seed == 3 and type(study.seed) is int
    study.optimize(n_trials=np.int64(2), progress=False)
    assert len(study.trials) == 2
    again = hpo.create_study(quadratic, searcher="random", seed=3)
    again.optimize(n_trials=2, progress=False)
    assert [t.params for t in again.trials] == [t.params for t in study.trials]
    result = hpo.compare("branin", ["random"], seeds=np.int64(2), n_trials=np.int64(2))
    assert result.seeds == [0, 1] and result.n_trials == 2


def test_trials_dataframe_has_intermediate_values_and_keeps_integers() -> None:
    @hpo.objective(space={"k": hpo.Categorical(["a", "b"]), "n": hpo.Int(1, 9, when={"k": "a"})})
    def reported(config, trial):  # type: ignore[no-untyped-def]
        for step in (1, 10, 2):
            trial.report(step, step / 10)
        return config.get("n", 0)

    study = hpo.create_study(reported, searcher="random", seed=1)
    study.optimize(n_trials=6, progress=False)
    frame = study.trials_dataframe()
    steps = [c for c in frame.columns if c.startswith("intermediate_values_")]
    assert steps == ["intermediate_values_1", "intermediate_values_2", "intermediate_values_10"]
    assert frame["intermediate_values_10"].tolist() == [1.0] * 6
    assert str(frame["params_n"].dtype) == "Int64" and frame["params_n"].isna().any()
    csv = frame.to_csv(index=False)
    assert ".0," not in "".join(line.split(",")[11] + "," for line in csv.splitlines()[1:])


def test_the_progress_bar_shows_the_study_best_not_this_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    import hpo.progress

    streams: list[io.StringIO] = []
    init = hpo.progress.ProgressBar.__init__

    def forced(self: hpo.progress.ProgressBar, total: object, **kwargs: object) -> None:
        streams.append(io.StringIO())
        init(self, total, enabled=True, stream=streams[-1], force=True)  # type: ignore[arg-type]

    monkeypatch.setattr(hpo.progress.ProgressBar, "__init__", forced)
    study = hpo.create_study(space={"x": hpo.Float(0, 1)}, searcher="random", seed=0)
    study.optimize(lambda config: 0.125, n_trials=1)
    study.optimize(lambda config: 5.0, n_trials=2)  # worse: the study's best stays 0.125
    assert "best 0.125" in streams[-1].getvalue() and "best 5" not in streams[-1].getvalue()


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_the_studys_metric_names_the_value_of_an_objective_without_one(executor: str) -> None:
    from cli_objectives import metrics_without_a_metric

    study = hpo.create_study(metrics_without_a_metric, metric="value", seed=0)
    study.optimize(n_trials=3, executor=executor, n_workers=1, progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert all(t.metrics == {"double": 2 * t.value} for t in study.trials)  # type: ignore[operator]

    plain = hpo.create_study(space={"x": hpo.Float(0, 1)}, metric="acc", seed=0)
    plain.optimize(lambda c: {"acc": c["x"], "loss": None}, n_trials=2, progress=False)
    assert [t.state for t in plain.trials] == [TrialState.COMPLETE] * 2
    with pytest.raises(ValueError, match="metric='other'"):
        study.optimize(hpo.objective(space=study.space, metric="other")(lambda c: 1.0))
    from cli_objectives import metrics_without_a_metric as untouched

    assert untouched.metric is None  # the study's metric never changes the user's objective
