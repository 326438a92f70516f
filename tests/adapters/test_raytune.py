"""Ray Tune adapter, for real: Tune experiments on the session's local Ray (2 CPUs).

Both directions: an hpo study run through Tune (ASHA, PBT, Tune's own searchers, failing
trials) with every trial in the study's storage, and hpo searchers inside a plain Tuner.
Budgets are small and curves short so the whole file stays within a few minutes.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hpo
from hpo.trial import TrialState

pytest.importorskip("ray.tune", reason="Ray Tune is not installed (pip install 'hpo[ray]')")

from ray import tune
from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining
from ray.tune.search import ConcurrencyLimiter

from hpo.adapters.raytune import HPOSearch, run_with_tune, to_tune_space

pytestmark = pytest.mark.usefixtures("ray_session")

EPOCHS = 6
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "adapter_raytune.py"


@hpo.objective(space={"lr": hpo.Float(1e-4, 1e-1, log=True)}, direction="maximize")
def curve(config: dict[str, Any], trial: hpo.Trial) -> float:
    """The issue's objective: resumes from its checkpoint, reports every epoch."""
    state = trial.load_checkpoint()
    start = state["epoch"] if state else 0
    acc = state["acc"] if state else 0.0
    for epoch in range(start + 1, EPOCHS + 1):
        ceiling = 0.95 - 0.15 * (math.log10(config["lr"]) + 2.0) ** 2
        acc = ceiling * (1.0 - math.exp(-epoch * config["lr"] * 30.0))
        trial.report(epoch, acc)
        trial.save_checkpoint({"epoch": epoch, "acc": acc})
        if trial.should_stop():
            break
    return acc


@hpo.objective(space={"lr": hpo.Float(1e-4, 1e-1, log=True)}, direction="maximize", metric="acc")
def traced_curve(config: dict[str, Any], trial: hpo.Trial) -> dict[str, float]:
    """Like ``curve``, and returns where it resumed (from the pickled state and from a file
    in ``checkpoint_dir``) and which trial number it ran as."""
    state = trial.load_checkpoint()
    start = state["epoch"] if state else 0
    acc = state["acc"] if state else 0.0
    marker = trial.checkpoint_dir / "epoch.txt"
    file_epoch = float(marker.read_text()) if marker.exists() else 0.0
    trial.set_user_attr("started_at", start)
    for epoch in range(start + 1, EPOCHS + 1):
        ceiling = 0.95 - 0.15 * (math.log10(config["lr"]) + 2.0) ** 2
        acc = ceiling * (1.0 - math.exp(-epoch * config["lr"] * 30.0))
        trial.report(epoch, acc)
        marker.write_text(str(epoch))
        trial.save_checkpoint({"epoch": epoch, "acc": acc})
    return {
        "acc": acc,
        "resumed_from": float(start),
        "file_epoch": file_epoch,
        "number": float(trial.number),
    }


def test_asha_stops_trials_early_and_every_trial_lands_in_sql_storage(
    sqlite_url: str, tmp_path: Path
) -> None:
    study = hpo.create_study(curve, storage=sqlite_url, seed=0, name="asha")
    asha = ASHAScheduler(max_t=EPOCHS, grace_period=1, reduction_factor=2)
    run_with_tune(study, 6, scheduler=asha, storage_path=str(tmp_path), verbose=0)

    trials = hpo.load_study("asha", sqlite_url).trials
    assert len(trials) == 6
    assert {t.state for t in trials} == {TrialState.COMPLETE, TrialState.PRUNED}
    for t in trials:
        steps = sorted(t.intermediate_values)
        assert steps == list(range(1, len(steps) + 1)) and steps
        assert t.value == pytest.approx(t.intermediate_values[steps[-1]])
        if t.state is TrialState.COMPLETE:
            assert steps[-1] == EPOCHS
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert any(len(t.intermediate_values) < EPOCHS for t in pruned)
    complete = [t.value for t in trials if t.state is TrialState.COMPLETE and t.value is not None]
    assert study.best_value == max(complete)


def test_pbt_clones_trials_with_lineage_and_restores_their_checkpoints(tmp_path: Path) -> None:
    study = hpo.create_study(traced_curve, seed=1)
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=2,
        quantile_fraction=0.5,
        hyperparam_mutations={"lr": tune.loguniform(1e-4, 1e-1)},
    )
    run_with_tune(study, 4, scheduler=pbt, storage_path=str(tmp_path), verbose=0)

    trials = study.trials
    roots = [t for t in trials if t.parent is None]
    clones = [t for t in trials if t.parent is not None]
    assert len(roots) == 4 and clones, [(t.number, t.parent, t.state) for t in trials]
    numbers = {t.number for t in trials}
    assert all(t.state.is_finished for t in trials)
    for clone in clones:
        assert clone.parent in numbers and clone.parent != clone.number
        if clone.intermediate_values:  # resumed from the parent's checkpoint, not epoch 0
            first = min(clone.intermediate_values)
            assert first > 1
            assert (
                first - 1
                in study.storage.get_trial(study.study_id, clone.parent).intermediate_values
            )
    for t in trials:
        if t.state is not TrialState.COMPLETE:
            continue
        assert t.metrics["number"] == t.number  # the worker ran as this hpo trial
        resumed = t.metrics["resumed_from"]
        assert resumed is not None
        assert t.metrics["file_epoch"] == resumed  # checkpoint_dir files travel too
        assert t.user_attrs["started_at"] == resumed
        if t.parent is not None:
            assert resumed > 0  # from the parent's checkpoint (or its own, after a pause)
        else:  # a root starts fresh, or resumes its own checkpoint when PBT paused it
            assert resumed == 0 or int(resumed) in t.intermediate_values


def test_a_failing_trial_is_failed_with_its_traceback(tmp_path: Path) -> None:
    @hpo.objective(space={"x": hpo.Int(0, 3)}, direction="minimize")
    def flaky(config: dict[str, Any]) -> float:
        if config["x"] == 2:
            raise ValueError("boom at x=2")
        return float(config["x"])

    study = hpo.create_study(flaky, searcher="grid")
    run_with_tune(study, 4, storage_path=str(tmp_path), verbose=0)

    by_x = {t.params["x"]: t for t in study.trials}
    assert sorted(by_x) == [0, 1, 2, 3]
    failed = by_x.pop(2)
    assert failed.state is TrialState.FAILED and failed.value is None
    assert "ValueError: boom at x=2" in (failed.error or "")
    assert "Traceback" in (failed.error or "")
    assert all(t.state is TrialState.COMPLETE and t.value == x for x, t in by_x.items())
    assert study.best_params == {"x": 0}


def test_tune_search_algorithm_proposes_and_hpo_records(tmp_path: Path) -> None:
    space = {"x": hpo.Float(-2.0, 2.0), "k": hpo.Categorical(["a", "b"])}

    @hpo.objective(space=space, direction="minimize")
    def bowl(config: dict[str, Any]) -> float:
        return config["x"] ** 2 + (0.5 if config["k"] == "b" else 0.0)

    study = hpo.create_study(bowl, name="tune-search")
    inner = HPOSearch(space, seed=3)
    search = ConcurrencyLimiter(inner, max_concurrent=2)
    run_with_tune(
        study, 5, search_alg=search, param_space={}, storage_path=str(tmp_path), verbose=0
    )

    trials = study.trials
    assert len(trials) == 5
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert all(study.space.contains(t.params) for t in trials)
    assert all(t.value == pytest.approx(bowl(t.params)) for t in trials)


def test_tunes_own_searcher_gets_the_translated_space(tmp_path: Path) -> None:
    optuna_search = pytest.importorskip("ray.tune.search.optuna", reason="needs optuna")
    space = {
        "k": hpo.Categorical(["a", "b"]),
        "n": hpo.Int(1, 4),
        "g": hpo.Float(1e-3, 1.0, log=True, when={"k": "a"}),
    }

    @hpo.objective(space=space, direction="maximize")
    def score(config: dict[str, Any]) -> float:
        return config["n"] + config.get("g", 0.0)

    study = hpo.create_study(score)
    search = ConcurrencyLimiter(optuna_search.OptunaSearch(seed=0), max_concurrent=2)
    run_with_tune(study, 4, search_alg=search, storage_path=str(tmp_path), verbose=0)

    trials = study.trials
    assert len(trials) == 4 and all(t.state is TrialState.COMPLETE for t in trials)
    for t in trials:  # inactive conditional parameters are dropped
        assert study.space.contains(t.params), t.params
        assert t.value == pytest.approx(score(t.params))
        assert t.searcher_time is not None


@pytest.mark.parametrize(
    ("searcher", "kwargs", "num_samples", "expected"),
    [("grid", {}, 10, 6), ("random", {"sobol": True}, 5, 5)],
)
def test_hpo_searcher_inside_a_plain_tuner(
    searcher: str, kwargs: dict[str, Any], num_samples: int, expected: int, tmp_path: Path
) -> None:
    def loss(config: dict[str, Any]) -> None:  # a closure: Ray sends it by value
        tune.report({"loss": (config["x"] - 1) ** 2 + (0.0 if config["k"] == "a" else 1.0)})

    space = hpo.Space({"x": hpo.Int(0, 2), "k": hpo.Categorical(["a", "b"])})
    search = HPOSearch(space, searcher, metric="loss", mode="min", seed=0, **kwargs)
    tuner = tune.Tuner(
        loss,
        tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(search, max_concurrent=2), num_samples=num_samples
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    grid = tuner.fit()
    results = [grid[i] for i in range(len(grid))]

    configs = [{k: r.config[k] for k in ("x", "k")} for r in results if r.config]
    assert len(configs) == expected
    assert all(space.contains(c) for c in configs)
    if searcher == "grid":
        assert sorted(map(json.dumps, configs)) == sorted(set(map(json.dumps, configs)))
    best = grid.get_best_result(metric="loss", mode="min")
    assert best.metrics is not None and best.metrics["loss"] == min(
        r.metrics["loss"] for r in results if r.metrics is not None
    )
    assert search.hpo_searcher.n_told == expected


def test_hposearch_save_and_restore_continue_the_search(tmp_path: Path) -> None:
    space = hpo.Space({"x": hpo.Int(0, 4)})
    first = HPOSearch(space, "grid", metric="loss", mode="min")
    seen = []
    for i in range(3):
        config = first.suggest(f"t{i}")
        assert isinstance(config, dict)
        seen.append(config["x"])
        first.on_trial_result(f"t{i}", {"loss": 1.0, "training_iteration": 1})
        first.on_trial_complete(f"t{i}", {"loss": float(config["x"])})
    path = tmp_path / "searcher.json"
    first.save(str(path))
    assert json.loads(path.read_text())["searcher"] == "grid"

    second = HPOSearch(space, "grid", metric="loss", mode="min")
    second.restore(str(path))
    assert second.get_state() == first.get_state()
    assert second.hpo_searcher.n_told == 3
    rest = [second.suggest("t3"), second.suggest("t4")]
    assert sorted(seen + [c["x"] for c in rest if isinstance(c, dict)]) == [0, 1, 2, 3, 4]
    assert second.suggest("t5") == "FINISHED"


def test_bad_inputs_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="non-empty space"):
        HPOSearch({}, "random")
    with pytest.raises(ValueError, match="mode must be"):
        HPOSearch({"x": hpo.Float(0, 1)}, mode="up")
    dbr = hpo.create_study(direction="minimize")
    with pytest.raises(ValueError, match="define-by-run"):
        run_with_tune(dbr, 2, objective=lambda trial: trial.suggest_float("x", 0, 1))
    study = hpo.create_study(curve)
    with pytest.raises(TypeError, match="search_alg must be"):
        run_with_tune(study, 2, search_alg="optuna")
    domains = to_tune_space(hpo.Space({"n": hpo.Int(1, 8, log=True), "c": hpo.Categorical([1, 2])}))
    assert set(domains) == {"n", "c"}


def test_the_adapter_imports_without_ray_and_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "import hpo, hpo.adapters.raytune as rt\n"
        "assert not any(m == 'ray' or m.startswith('ray.') for m in sys.modules"
        " if sys.modules[m] is not None)\n"
        "try:\n    rt.HPOSearch\nexcept ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install 'hpo[ray]'" in result.stdout


def test_the_example_runs_and_prints_its_best_configuration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'example.db'}"
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--n-trials", "4", "--storage", url],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Best configuration: {'lr': " in result.stdout
    (record,) = hpo.storage.get_storage(url).list_studies()
    trials = hpo.load_study(record.name, url).trials
    assert len(trials) == 4 and all(t.state.is_finished for t in trials)
