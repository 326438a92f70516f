"""The scikit-optimize adapters: conformance, space translation, initial random points,
learning (foreign and failed trials), options, the GBRT fix and the example."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hpo
from hpo.searchers import make_searcher
from hpo.space import Categorical, Float, Int, Space
from hpo.testing.distributions import assert_uniform_choices, assert_uniform_on
from hpo.testing.searcher_conformance import (
    SearcherConformance,
    SearcherSpec,
    assert_config_in_space,
    conditional_space,
    finished_trial,
    finished_trial_for,
    mixed_space,
)
from hpo.trial import TrialState

pytest.importorskip("skopt")

from skopt.space import Categorical as SkCategorical
from skopt.space import Integer, Real

from hpo.adapters.skopt import to_skopt

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "adapter_skopt.py"
FAST_TREES: dict[str, Any] = {"acq_optimizer_kwargs": {"n_points": 500}}
SPECS = [
    SearcherSpec(
        "skopt:gp", {"acq_optimizer_kwargs": {"n_points": 500, "n_restarts_optimizer": 2}}
    ),
    SearcherSpec("skopt:rf", FAST_TREES),
    SearcherSpec("skopt:et", FAST_TREES),
    SearcherSpec("skopt:gbrt", FAST_TREES),
]
RANDOM_ONLY: dict[str, Any] = {
    "n_initial_points": 10**6
}  # never leaves skopt's initial random phase


@pytest.fixture(params=SPECS, ids=str)
def searcher_spec(request: pytest.FixtureRequest) -> SearcherSpec:
    return request.param


class TestSkoptConformance(SearcherConformance):
    """The whole searcher suite, once per skopt surrogate."""


# --- space translation --------------------------------------------------------------------------
def test_translation_of_every_parameter_flavour() -> None:
    dims = to_skopt(mixed_space())
    by_name = {d.name: d for d in dims}
    assert list(by_name) == list(mixed_space())
    lr = by_name["lr"]
    assert isinstance(lr, Real) and lr.prior == "log-uniform"
    assert (lr.low, lr.high) == (1e-5, 1e-1)
    assert isinstance(by_name["momentum"], Real) and by_name["momentum"].prior == "uniform"
    assert isinstance(by_name["layers"], Integer)
    assert (by_name["layers"].low, by_name["layers"].high) == (1, 8)
    assert by_name["units"].prior == "log-uniform"
    for stepped, n in (("dropout", 11), ("batch", 16)):  # grid indices 0 .. n-1
        assert isinstance(by_name[stepped], Integer)
        assert (by_name[stepped].low, by_name[stepped].high) == (0, n - 1)
    assert isinstance(by_name["extra"], SkCategorical)
    assert list(by_name["extra"].categories) == [0, 1, 2, 3, 4]


def draws(space: Space, n: int, *, name: str = "skopt:gp") -> list[dict[str, Any]]:
    """``n`` of skopt's initial random points, asked in one batch and checked."""
    configs = [s.config for s in make_searcher(name, space, seed=0, **RANDOM_ONLY).ask(n)]
    for config in configs:
        assert_config_in_space(space, config)
    return configs


def test_initial_points_log_uniform() -> None:
    values = [c["v"] for c in draws(Space({"v": Float(1e-4, 1e2, log=True)}), 500)]
    assert_uniform_on(values, 1e-4, 1e2, log=True)


@pytest.mark.parametrize(
    ("param", "support"),
    [
        (Int(-3, 3), list(range(-3, 4))),
        (Int(2, 20, step=3), [2, 5, 8, 11, 14, 17, 20]),
        (Float(0.1, 0.7, step=0.2), [0.1, 0.30000000000000004, 0.5, 0.7]),
    ],
    ids=["int", "int_step", "float_step"],
)
def test_initial_points_uniform_on_the_grid(param: Any, support: list[Any]) -> None:
    assert_uniform_choices([c["v"] for c in draws(Space({"v": param}), 500)], support)


def test_typed_choices_preserved_exactly() -> None:
    choices = [True, None, 0, "0", 2.5, "None"]
    values = [c["v"] for c in draws(Space({"v": Categorical(choices)}), 500)]
    assert_uniform_choices(
        [(type(v).__name__, v) for v in values], [(type(c).__name__, c) for c in choices]
    )


def test_conditional_inactive_parameters_dropped_in_both_phases() -> None:
    """skopt optimizes the full space; the searcher drops what our Space says is inactive,
    for random and for model-based points."""
    space = conditional_space()
    searcher = make_searcher("skopt:gbrt", space, seed=1, n_initial_points=6, **FAST_TREES)
    rng = np.random.default_rng(0)
    for number in range(8):
        config = space.sample(rng)
        searcher.tell(finished_trial(number, config, float(len(config))))
    for suggestion in searcher.ask(6):
        assert_config_in_space(space, suggestion.config)


def test_conditions_on_numeric_parents_are_supported() -> None:
    """Unlike hyperopt, any condition works: skopt sees the full space."""
    space = Space({"n": Int(1, 4), "w": Float(0.0, 1.0, when={"n": [2, 3]})})
    searcher = make_searcher("skopt:gbrt", space, seed=2, n_initial_points=5, **FAST_TREES)
    configs = []
    for number in range(12):
        suggestion = searcher.ask(1)[0]
        config = suggestion.config
        searcher.tell(finished_trial_for(number, suggestion, config["n"] + config.get("w", 0.5)))
        configs.append(config)
    for config in configs:
        assert_config_in_space(space, config)
    assert {("w" in c) for c in configs} == {True, False}


# --- learning from told trials --------------------------------------------------------------
def _gp(direction: str = "minimize", **options: Any) -> Any:
    space = Space({"x": Float(0.0, 1.0)})
    return make_searcher(
        "skopt:gp", space, seed=0, direction=direction, acq_func="EI", n_initial_points=5, **options
    )


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_foreign_trials_are_learned_from(direction: str) -> None:
    searcher = _gp(direction)
    sign = 1.0 if direction == "minimize" else -1.0
    for number, x in enumerate(np.linspace(0.0, 1.0, 11)):
        searcher.tell(finished_trial(100 + number, {"x": float(x)}, sign * (float(x) - 0.8) ** 2))
    xs = [s.config["x"] for s in searcher.ask(4)]
    assert abs(xs[0] - 0.8) < 0.08, xs
    assert len(set(xs)) == 4, "pending points must be distinct (constant liar)"


def test_failed_trials_are_told_the_worst_loss() -> None:
    """Failures below 0.5 are told the worst observed loss, so the model does not
    extrapolate the downward slope into the region that fails."""
    searcher = _gp()
    for number, x in enumerate(np.linspace(0.0, 1.0, 21)):
        if x < 0.5:
            searcher.tell(finished_trial(number, {"x": float(x)}, None, TrialState.FAILED))
        else:
            searcher.tell(finished_trial(number, {"x": float(x)}, float(x)))
    x = searcher.ask(1)[0].config["x"]
    assert 0.42 < x < 0.7, x


def test_failed_trials_without_any_complete_keep_random_sampling() -> None:
    searcher = _gp()
    for number in range(8):
        suggestion = searcher.ask(1)[0]
        searcher.tell(finished_trial_for(number, suggestion, None, TrialState.FAILED))
    xs = [s.config["x"] for s in searcher.ask(30)]
    assert np.std(xs) > 0.2


def _pending(suggestions: list[Any]) -> list[dict[str, Any]]:
    return [{"id": s.id, "config": s.config} for s in suggestions]


def test_pending_points_are_saved_and_released_by_suggestion_id() -> None:
    searcher = _gp()
    asked = searcher.ask(3)
    state = json.loads(json.dumps(searcher.state_dict()))
    assert state["version"] == 2 and state["pending"] == _pending(asked)
    # a trial with asked[1]'s configuration but no id, or another id, releases nothing
    searcher.tell(finished_trial(0, asked[1].config, 0.5))
    searcher.tell(finished_trial(1, asked[1].config, 0.5, suggestion_id="elsewhere"))
    assert searcher.state_dict()["pending"] == _pending(asked)
    # asked[0]'s id with asked[1]'s configuration releases asked[0]
    searcher.tell(finished_trial(2, asked[1].config, 0.5, suggestion_id=asked[0].id))
    assert searcher.state_dict()["pending"] == _pending(asked[1:])
    rebuilt = _gp()
    rebuilt.load_state_dict(json.loads(json.dumps(searcher.state_dict())))
    rebuilt.tell(finished_trial_for(3, asked[2], 0.25))
    assert rebuilt.state_dict()["pending"] == _pending(asked[1:2])


def test_version_1_state_loads_without_its_pending_points() -> None:
    searcher = _gp()
    searcher.load_state_dict({"version": 1, "searcher": "skopt:gp", "pending": [{"x": 0.5}]})
    assert searcher.state_dict()["pending"] == []


# --- options --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "options", "pattern"),
    [
        ("skopt:gp", {"n_initial_points": 0}, "n_initial_points"),
        ("skopt:gp", {"n_initial_points": True}, "n_initial_points"),
        ("skopt:gp", {"acq_func": "EIps"}, r"acq_func.*'EI'.*'EIps'"),
        ("skopt:gp", {"acq_optimizer": "adam"}, "acq_optimizer"),
        ("skopt:rf", {"acq_optimizer": "lbfgs"}, r"lbfgs.*skopt:gp"),
        ("skopt:et", {"liar": "cl_median"}, "liar"),
        ("skopt:gbrt", {"acq_func_kwargs": [1, 2]}, "acq_func_kwargs"),
    ],
)
def test_invalid_options_are_clear_errors(name: str, options: dict[str, Any], pattern: str) -> None:
    space = Space({"x": Float(0.0, 1.0)})
    with pytest.raises(ValueError, match=pattern):
        make_searcher(name, space, **options)
    with pytest.raises(ValueError, match=pattern):
        hpo.create_study(space=space, searcher=name, searcher_kwargs=options)


def test_acquisition_options_pass_through() -> None:
    """LCB with kappa=0 exploits the told optimum; with a huge kappa it explores."""
    picks = {}
    for kappa in (0.0, 1e4):
        searcher = make_searcher(
            "skopt:gp",
            Space({"x": Float(0.0, 1.0)}),
            seed=0,
            n_initial_points=5,
            acq_func="LCB",
            acq_func_kwargs={"kappa": kappa},
        )
        for number, x in enumerate([0.0, 0.05, 0.1, 0.15, 0.2, 0.25]):
            searcher.tell(finished_trial(number, {"x": x}, (x - 0.1) ** 2))
        picks[kappa] = searcher.ask(1)[0].config["x"]
    assert abs(picks[0.0] - 0.1) < 0.05 and picks[1e4] > 0.5, picks


def test_gbrt_fixed_for_current_scikit_learn_and_numpy() -> None:
    from sklearn.base import is_regressor

    from hpo.adapters.skopt import _QuantileGBRT

    model = _QuantileGBRT(random_state=0)
    assert is_regressor(model)
    X = np.linspace(0.0, 1.0, 40).reshape(-1, 1)
    model.fit(X, X.ravel() ** 2)
    mean, std = model.predict(X, return_std=True)
    assert mean.shape == std.shape == (40,) and np.all(np.isfinite(std))
    assert np.abs(mean - X.ravel() ** 2).max() < 0.1


# --- the example -------------------------------------------------------------------------------
def test_example_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--n-trials", "10", "--searcher", "skopt:gp"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "10 trials with searcher 'skopt:gp'" in result.stdout
    accuracy = float(result.stdout.split("Best 3-fold CV accuracy: ")[1].split()[0])
    assert 0.5 < accuracy <= 1.0


def test_gp_hedge_gains_carried_in_the_state() -> None:
    """skopt keeps the hedge's gains inside its optimizer; here they survive each ask and a
    JSON state round trip, and they change as models are fitted."""
    space = Space({"x": Float(0.0, 1.0), "y": Float(-1.0, 1.0)})
    searcher = make_searcher("skopt:gp", space, seed=0, n_initial_points=4)
    for number in range(6):
        suggestion = searcher.ask(1)[0]
        config = suggestion.config
        searcher.tell(finished_trial_for(number, suggestion, config["x"] ** 2 + config["y"]))
    first = searcher.state_dict()["hedge"]
    assert len(first["gains"]) == 3 and len(first["candidates"]) == 3
    searcher.ask(1)
    second = json.loads(json.dumps(searcher.state_dict()))["hedge"]
    assert second["gains"] != first["gains"]
    assert any(g != 0.0 for g in second["gains"])
