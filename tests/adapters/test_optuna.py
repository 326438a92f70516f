"""The Optuna adapter: space translation, sampling distributions, options, foreign trials,
import/export round trip and the example."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

optuna = pytest.importorskip("optuna")

import hpo  # noqa: E402
from hpo.adapters._optuna_space import from_distribution, to_distribution  # noqa: E402
from hpo.adapters.optuna import (  # noqa: E402
    export_optuna_study,
    import_optuna_study,
)
from hpo.exceptions import SearcherError  # noqa: E402
from hpo.searchers import make_searcher  # noqa: E402
from hpo.space import Categorical, Float, Int, Space  # noqa: E402
from hpo.testing.searcher_conformance import finished_trial, finished_trial_for  # noqa: E402
from hpo.trial import TrialState  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _values(space: Space, n: int, searcher: str = "optuna:random", **options: Any) -> list:
    s = make_searcher(searcher, space, seed=0, **options)
    return [c.config["v"] for c in s.ask(n)]


# --- space translation ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("param", "dist"),
    [
        (Float(-2.5, 7.0), optuna.distributions.FloatDistribution(-2.5, 7.0)),
        (Float(1e-6, 1e2, log=True), optuna.distributions.FloatDistribution(1e-6, 1e2, log=True)),
        (Float(-1, 1, step=0.25), optuna.distributions.FloatDistribution(-1, 1, step=0.25)),
        (Int(2, 20, step=3), optuna.distributions.IntDistribution(2, 20, step=3)),
        (Int(1, 4096, log=True), optuna.distributions.IntDistribution(1, 4096, log=True)),
        (
            Categorical(["a", 3, 2.5, True, None]),
            optuna.distributions.CategoricalDistribution(["a", 3, 2.5, True, None]),
        ),
    ],
    ids=str,
)
def test_distribution_round_trip(param: Any, dist: Any) -> None:
    assert to_distribution(param) == dist
    assert from_distribution("v", dist) == param


def test_single_valued_distributions_are_fixed_values_and_dynamic_ranges_import(
    tmp_path: Path,
) -> None:
    assert from_distribution("width", optuna.distributions.IntDistribution(3, 3)) == Int(3, 3)
    assert to_distribution(Float(2.5, 2.5)) == optuna.distributions.FloatDistribution(2.5, 2.5)
    url = f"sqlite:///{tmp_path / 'dynamic.db'}"
    study = optuna.create_study(storage=url, study_name="k")
    for n in (1, 3, 2):  # k in [1, n]: a range that depends on n
        study.add_trial(
            optuna.trial.create_trial(
                params={"k": 1},
                distributions={"k": optuna.distributions.IntDistribution(1, n)},
                value=float(n),
            )
        )
    ours = import_optuna_study(url, "k")
    assert ours.define_by_run and ours.space["k"] == Int(1, 3)
    assert [t.value for t in ours.trials] == [1.0, 3.0, 2.0]


@pytest.mark.parametrize("searcher", ["optuna:tpe", "optuna:random", "optuna:qmc"])
def test_bounds_steps_and_types(searcher: str) -> None:
    for param, kind in (
        (Float(-1.0, 1.0, step=0.25), float),
        (Int(2, 20, step=3), int),
        (Int(1, 4096, log=True), int),
        (Float(1e-6, 1e2, log=True), float),
    ):
        values = _values(Space({"v": param}), 40, searcher)
        assert all(type(v) is kind and param.contains(v) for v in values), (param, values)
    choices = ["a", 3, 2.5, True, None, False, 0]
    # 0 and False compare equal: hpo refuses them together, so drop one
    space = Space({"v": Categorical(choices[:-1])})
    values = _values(space, 60, searcher)
    assert {(type(v), v) for v in values} == {(type(c), c) for c in choices[:-1]}


def test_conditional_space_is_driven_define_by_run() -> None:
    space = Space(
        {
            "model": Categorical(["svm", "tree"]),
            "C": Float(1e-3, 1e3, log=True, when={"model": "svm"}),
            "kernel": Categorical(["rbf", "linear"], when={"model": "svm"}),
            "gamma": Float(1e-4, 1.0, log=True, when={"kernel": "rbf"}),
            "depth": Int(1, 8, when={"model": "tree"}),
        }
    )
    searcher = make_searcher("optuna:tpe", space, seed=1, n_startup_trials=4)
    for number in range(20):
        suggestion = searcher.ask(1)[0]
        config = suggestion.config
        assert not space.violations(config)
        loss = config.get("depth", 0) + math.log10(config.get("C", 1.0)) ** 2
        searcher.tell(finished_trial_for(number, suggestion, loss))
    study = searcher._optuna_study()  # the private Optuna study saw exactly the active ones
    for t in study.trials:
        assert ("gamma" in t.params) == (t.params.get("kernel") == "rbf")
        assert ("depth" in t.params) == (t.params["model"] == "tree")


# --- distributions of optuna:random ---------------------------------------------------------
def test_random_log_float_is_log_uniform() -> None:
    values = np.array(_values(Space({"v": Float(1e-4, 1e2, log=True)}), 800))
    u = (np.log(values) - np.log(1e-4)) / (np.log(1e2) - np.log(1e-4))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # and it is not uniform on the linear scale
    assert stats.kstest((values - 1e-4) / (1e2 - 1e-4), "uniform").pvalue < 1e-6


def test_random_float_is_uniform_and_stepped_floats_on_grid() -> None:
    values = np.array(_values(Space({"v": Float(-3.0, 5.0)}), 800))
    assert stats.kstest((values + 3.0) / 8.0, "uniform").pvalue > 1e-3
    stepped = _values(Space({"v": Float(0.0, 1.0, step=0.1)}), 600)
    grid = [min(0.0 + i * 0.1, 1.0) for i in range(11)]
    assert set(stepped) <= set(grid), set(stepped) - set(grid)
    counts = [stepped.count(g) for g in grid]
    assert stats.chisquare(counts).pvalue > 1e-3


def test_random_int_and_categorical_are_uniform() -> None:
    ints = _values(Space({"v": Int(1, 6)}), 600)
    assert stats.chisquare([ints.count(i) for i in range(1, 7)]).pvalue > 1e-3
    cats = _values(Space({"v": Categorical([None, True, "x"])}), 600)
    assert stats.chisquare([cats.count(c) for c in (None, True, "x")]).pvalue > 1e-3


# --- options ----------------------------------------------------------------------------------
def test_options_pass_through_and_are_validated() -> None:
    searcher = make_searcher("optuna:tpe", Space({"v": Float(0, 1)}), n_startup_trials=2)
    assert searcher._sampler(0)._n_startup_trials == 2  # type: ignore[attr-defined]
    with pytest.raises(SearcherError, match=r"'optuna:tpe' does not take 'n_trials'.*"):
        make_searcher("optuna:tpe", Space({"v": Float(0, 1)}), n_trials=3)
    with pytest.raises(SearcherError, match=r"does not take 'gamma'"):
        make_searcher("optuna:tpe", Space({"v": Float(0, 1)}), gamma=3)
    with pytest.raises(SearcherError, match="qmc_type"):
        make_searcher("optuna:qmc", Space({"v": Float(0, 1)}), qmc_type="lattice")
    with pytest.raises(SearcherError, match="JSON"):
        make_searcher(
            "optuna:cmaes" if False else "optuna:tpe",
            Space({"v": Float(0, 1)}),
            n_startup_trials=object(),
        )


def test_foreign_and_failed_trials_reach_the_optuna_study() -> None:
    space = Space({"x": Float(0, 1), "k": Categorical(["a", "b"])})
    searcher = make_searcher("optuna:tpe", space, seed=0)
    own = searcher.ask(1)[0]
    searcher.tell(finished_trial_for(0, own, None, TrialState.FAILED))
    searcher.tell(finished_trial(1, {"x": 0.5, "k": "a"}, 0.25))
    searcher.tell(
        finished_trial(
            2, {"x": 0.7, "k": "b"}, 0.4, TrialState.PRUNED, intermediate_values={0: 1.0, 3: 0.4}
        )
    )
    trials = searcher._optuna_study().trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "PRUNED"]
    assert trials[1].params == {"x": 0.5, "k": "a"} and trials[1].value == 0.25
    assert trials[2].intermediate_values == {0: 1.0, 3: 0.4}


def test_asks_are_answered_by_suggestion_id_not_by_configuration() -> None:
    """Each ask is a RUNNING Optuna trial until the trial carrying its id is told; a trial
    with the same configuration but no id (or another id) is added as a foreign one."""
    space = Space({"x": Float(0, 1)})
    searcher = make_searcher("optuna:random", space, seed=0)
    first, second = searcher.ask(2)
    searcher.tell(finished_trial(0, first.config, 0.5))  # no id: a foreign trial
    searcher.tell(finished_trial(1, first.config, 0.6, suggestion_id="elsewhere"))
    states = [t.state.name for t in searcher._optuna_study().trials]
    assert states == ["RUNNING", "RUNNING", "COMPLETE", "COMPLETE"]
    # second's id with first's configuration: it is second's Optuna trial that finishes
    searcher.tell(finished_trial(2, first.config, 0.7, suggestion_id=second.id))
    trials = searcher._optuna_study().trials
    assert [t.state.name for t in trials] == ["RUNNING", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert trials[1].value == 0.7
    pending = searcher.state_dict()["pending"]
    assert [(e["id"], e["params"]) for e in pending] == [(first.id, first.config)]
    # rebuilt from the state and the replayed trials, first's ask is still answered by id
    rebuilt = make_searcher("optuna:random", space, seed=0)
    rebuilt.load_state_dict(json.loads(json.dumps(searcher.state_dict())))
    for number, value in enumerate([0.5, 0.6, 0.7]):
        rebuilt.tell(finished_trial(number, first.config, value))
    (new,) = rebuilt.ask(1)  # first restores the outstanding ask as a RUNNING Optuna trial
    rebuilt.tell(finished_trial_for(3, first, 0.1))
    assert [e["id"] for e in rebuilt.state_dict()["pending"]] == [new.id]
    trials = rebuilt._optuna_study().trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4 + ["RUNNING"]
    assert trials[3].params == first.config and trials[3].value == 0.1


def test_pending_entries_without_ids_are_dropped_on_load() -> None:
    space = Space({"x": Float(0, 1)})
    searcher = make_searcher("optuna:random", space, seed=0)
    old = {"version": 1, "searcher": "optuna:random", "pending": [{"params": {"x": 0.5}}]}
    searcher.load_state_dict(old)
    assert "pending" not in searcher.state_dict()


def test_cmaes_without_its_package_is_a_clear_error() -> None:
    try:
        import cmaes  # noqa: F401
    except ImportError:
        with pytest.raises(SearcherError, match="cmaes"):
            make_searcher("optuna:cmaes", Space({"v": Float(0, 1)}))
    else:
        assert make_searcher("optuna:cmaes", Space({"v": Float(0, 1)})).ask(1)


def test_gp_model_resumes_exactly() -> None:
    """Past its start-up trials the GP proposes from its model, and a searcher rebuilt from
    its state plus the replayed trials proposes exactly what the original does."""
    space = Space({"x": Float(-5.0, 5.0), "y": Float(1e-3, 1e2, log=True)})
    original = make_searcher("optuna:gp", space, seed=5, n_startup_trials=4)
    told = []
    for number in range(7):
        suggestion = original.ask(1)[0]
        config = suggestion.config
        told.append(finished_trial_for(number, suggestion, (config["x"] - 1) ** 2 + config["y"]))
        original.tell(told[-1])
    original.ask(1)  # outstanding when the state is saved
    rebuilt = make_searcher("optuna:gp", space, seed=5, n_startup_trials=4)
    rebuilt.load_state_dict(original.state_dict())
    for trial in told:
        rebuilt.tell(trial)
    assert [s.config for s in rebuilt.ask(2)] == [s.config for s in original.ask(2)]


# --- import / export ---------------------------------------------------------------------------
def _optuna_objective(trial: Any) -> float:
    kind = trial.suggest_categorical("kind", ["a", "b", None, True, 2.5])
    x = trial.suggest_float("x", 1e-3, 1.0, log=True)
    trial.suggest_int("n", 1, 9, step=2)
    if kind == "a":
        trial.suggest_float("s", 0.0, 1.0, step=0.1)
    trial.set_user_attr("note", {"fold": [1, 2]})
    for step in range(3):
        trial.report(x * (3 - step), step)
    if trial.number % 5 == 3:
        raise optuna.TrialPruned()
    if trial.number % 5 == 4:
        raise RuntimeError("diverged")
    return x


_FIELDS = (
    "number", "state", "value", "params", "distributions", "user_attrs",
    "intermediate_values", "datetime_start", "datetime_complete",
)  # fmt: skip


def test_optuna_sqlite_round_trip(tmp_path: Path) -> None:
    """Optuna sqlite file -> hpo (SQL storage) -> another Optuna sqlite file: equal."""
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    source = optuna.create_study(storage=source_url, study_name="src", direction="maximize")
    source.set_user_attr("owner", "team-a")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        source.optimize(_optuna_objective, n_trials=12, catch=(RuntimeError,))
    finally:
        optuna.logging.set_verbosity(optuna.logging.INFO)
    source.enqueue_trial({"x": 0.5})

    ours = import_optuna_study(
        source_url, "src", storage=f"sqlite:///{tmp_path / 'hpo.db'}", name="mine"
    )
    assert ours.name == "mine" and ours.direction == "maximize"
    assert ours.define_by_run  # "s" exists only where kind == "a"
    assert ours.space["x"] == Float(1e-3, 1.0, log=True)
    assert ours.space["kind"] == Categorical(["a", "b", None, True, 2.5])
    states = [t.state for t in ours.trials]
    assert states.count(TrialState.PRUNED) == 2 and states.count(TrialState.FAILED) == 2
    assert states[-1] is TrialState.WAITING
    assert ours.best_value == source.best_value

    name = export_optuna_study(ours, f"sqlite:///{tmp_path / 'copy.db'}", name="back")
    assert name == "back"
    copy = optuna.load_study(study_name="back", storage=f"sqlite:///{tmp_path / 'copy.db'}")
    assert copy.user_attrs == {"owner": "team-a"}
    assert copy.direction == source.direction
    assert len(copy.trials) == len(source.trials) == 13
    for a, b in zip(source.trials, copy.trials, strict=True):
        for field in _FIELDS:
            assert getattr(a, field) == getattr(b, field), (a.number, field)


def test_export_keeps_metrics_and_errors_and_import_brings_them_back(tmp_path: Path) -> None:
    space = {"x": Float(0.0, 1.0), "k": Categorical([None, False, 3])}

    def objective(config: dict[str, Any]) -> dict[str, float]:
        if config["x"] > 0.8:
            raise ValueError("too large")
        return {"loss": config["x"], "time": 2.0}

    study = hpo.create_study(space=space, searcher="optuna:random", seed=1, metric="loss")
    study.optimize(objective, n_trials=10, progress=False)
    url = f"sqlite:///{tmp_path / 'out.db'}"
    export_optuna_study(study, url)
    back = import_optuna_study(url, study.name)
    assert not back.define_by_run and back.space == Space(space)
    for a, b in zip(study.trials, back.trials, strict=True):
        assert (a.number, a.state, a.params, a.value) == (b.number, b.state, b.params, b.value)
        assert a.metrics == b.metrics
        assert (a.error is None) == (b.error is None)
        # the original times in the time fields, not the import's (nor in user attributes)
        assert (b.datetime_start, b.datetime_complete) == (a.datetime_start, a.datetime_complete)
        assert b.datetime_start is not None and b.datetime_start.tzinfo is UTC
        assert not any(k.startswith("optuna:") for k in b.user_attrs)


def test_import_refuses_what_hpo_cannot_hold(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.db'}"  # (Optuna itself refuses changing kinds)
    with pytest.raises(hpo.StudyNotFoundError, match="no Optuna study named 'nope'"):
        import_optuna_study(url, "nope")
    optuna.create_study(storage=url, study_name="multi", directions=["minimize", "maximize"])
    with pytest.raises(ValueError, match="2 objectives"):
        import_optuna_study(url, "multi")


# --- the example ---------------------------------------------------------------------------------
def test_example_runs_and_exports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "adapter_optuna.py"), "--n-trials", "6",
         "--optuna-storage", url],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Best 3-fold CV accuracy: " in result.stdout
    name = re.search(r"study '([^']+)'", result.stdout.splitlines()[-1])
    assert name is not None
    exported = optuna.load_study(study_name=name.group(1), storage=url)
    assert len(exported.trials) == 6
    assert all(t.state.name == "COMPLETE" for t in exported.trials)
    assert 0.5 < exported.best_value <= 1.0


def test_enqueued_trials_of_a_study_teach_the_sampler() -> None:
    space = {"x": Float(-2.0, 2.0), "k": Categorical(["a", "b"])}
    study = hpo.create_study(space=space, searcher="optuna:tpe", seed=0)
    study.enqueue({"x": 0.25, "k": "b"})
    study.optimize(lambda c: c["x"] ** 2 + (c["k"] == "a"), n_trials=4, progress=False)
    optuna_trials = study.searcher._optuna_study().trials  # type: ignore[attr-defined]
    # the enqueued trial (not proposed by the searcher) was added once it finished
    assert [(t.params, t.value) for t in optuna_trials if t.params == {"x": 0.25, "k": "b"}] == [
        ({"x": 0.25, "k": "b"}, 0.0625)
    ]
    assert sum(t.state.name == "COMPLETE" for t in optuna_trials) == 3  # the 4th: told next ask
