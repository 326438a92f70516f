"""The hyperopt adapters: conformance, space translation, distributions, learning, example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hpo
from hpo.exceptions import UnsupportedSpaceError
from hpo.searchers import make_searcher
from hpo.space import Categorical, Float, Int, Space
from hpo.testing.distributions import assert_uniform_choices, assert_uniform_on
from hpo.testing.searcher_conformance import (
    SearcherConformance,
    SearcherSpec,
    assert_config_in_space,
    conditional_space,
    finished_trial,
)
from hpo.trial import TrialState

pytest.importorskip("hyperopt")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "adapter_hyperopt.py"
SPECS = [
    SearcherSpec("hyperopt:tpe", {"n_startup_jobs": 5}),
    SearcherSpec("hyperopt:anneal"),
    SearcherSpec("hyperopt:rand"),
]


@pytest.fixture(params=SPECS, ids=str)
def searcher_spec(request: pytest.FixtureRequest) -> SearcherSpec:
    return request.param


class TestHyperoptConformance(SearcherConformance):
    """The whole searcher suite, once per hyperopt algorithm."""


def draws(space: Space, n: int, *, seed: int = 0, name: str = "hyperopt:rand") -> list[Any]:
    """``n`` configurations asked in one batch, each checked against the space."""
    configs = [s.config for s in make_searcher(name, space, seed=seed).ask(n)]
    for config in configs:
        assert_config_in_space(space, config)
    return configs


# --- distributions (hyperopt:rand draws from the translated prior) --------------------------
def test_log_float_is_log_uniform() -> None:
    values = [c["v"] for c in draws(Space({"v": Float(1e-4, 1e2, log=True)}), 600)]
    assert_uniform_on(values, 1e-4, 1e2, log=True)
    # a linear-uniform draw would put ~99% of the mass above 1; log-uniform puts a third
    assert 0.2 < np.mean(np.array(values) > 1.0) < 0.47


def test_linear_float_is_uniform() -> None:
    values = [c["v"] for c in draws(Space({"v": Float(-2.5, 7.0)}), 600)]
    assert_uniform_on(values, -2.5, 7.0)


@pytest.mark.parametrize(
    ("param", "support"),
    [
        (Int(-3, 3), list(range(-3, 4))),
        (Int(2, 20, step=3), [2, 5, 8, 11, 14, 17, 20]),
        (Float(-1.0, 1.0, step=0.25), [-1.0 + 0.25 * i for i in range(9)]),
        (Float(0.1, 0.7, step=0.2), [0.1, 0.30000000000000004, 0.5, 0.7]),
    ],
    ids=["int", "int_step", "float_step", "float_step_offset"],
)
def test_grid_parameters_uniform_with_endpoints(param: Any, support: list[Any]) -> None:
    """Steps land on the grid from ``low`` (not multiples of ``q`` from zero), and the
    endpoints get a full share (``hp.quniform(low, high, q)`` would halve them)."""
    values = [c["v"] for c in draws(Space({"v": param}), 700)]
    assert_uniform_choices(values, support)


def test_log_int_in_bounds_and_log_shaped() -> None:
    values = [c["v"] for c in draws(Space({"v": Int(1, 1000, log=True)}), 600)]
    assert min(values) >= 1 and max(values) <= 1000 and 1 in values
    assert 0.2 < np.mean(np.array(values) <= 10) < 0.45  # ~1/3 of the log range


def test_typed_choices_preserved_exactly() -> None:
    choices = [True, None, 0, "0", 2.5, "None"]
    values = [c["v"] for c in draws(Space({"v": Categorical(choices)}), 600)]
    keyed = [(type(v).__name__, v) for v in values]
    assert_uniform_choices(keyed, [(type(c).__name__, c) for c in choices])


# --- conditional spaces: nested hp.choice -------------------------------------------------------
def test_conditional_branches_drawn_as_the_space_says() -> None:
    """Nested choices reproduce our conditions exactly (checked per draw), with a uniform
    parent and, inside ``net``, a uniform ``activation``."""
    space = conditional_space()
    configs = draws(space, 600)
    assert_uniform_choices([c["model"] for c in configs], ["linear", "tree", "net"])
    nets = [c for c in configs if c["model"] == "net"]
    assert_uniform_choices([c["activation"] for c in nets], ["relu", "tanh"])
    assert all(("bias" in c) == (c["model"] != "tree") for c in configs)


def test_condition_implied_by_a_nested_parent_is_supported() -> None:
    space = Space(
        {
            "model": Categorical(["net", "tree"]),
            "act": Categorical(["relu", "tanh"], when={"model": "net"}),
            "slope": Float(0.0, 1.0, when={"model": "net", "act": "relu"}),
        }
    )
    configs = draws(space, 200)
    assert {("slope" in c) for c in configs} == {True, False}
    assert all(("slope" in c) == (c.get("act") == "relu") for c in configs)


@pytest.mark.parametrize(
    ("space", "pattern"),
    [
        (
            Space({"n": Int(1, 4), "w": Float(0.0, 1.0, when={"n": 2})}),
            r"'w'.*int parameter 'n'.*hpo\.Categorical",
        ),
        (
            Space({"x": Float(0.0, 1.0, step=0.5), "w": Float(0.0, 1.0, when={"x": 0.5})}),
            r"'w'.*float parameter 'x'",
        ),
        (
            Space(
                {
                    "a": Categorical(["p", "q"]),
                    "b": Categorical(["r", "s"]),
                    "w": Float(0.0, 1.0, when={"a": "p", "b": "r"}),
                }
            ),
            r"'w'.*not nested",
        ),
    ],
    ids=["int_parent", "float_parent", "two_unnested_parents"],
)
@pytest.mark.parametrize("name", ["hyperopt:tpe", "hyperopt:rand"])
def test_inexpressible_conditions_are_a_clear_error(name: str, space: Space, pattern: str) -> None:
    with pytest.raises(UnsupportedSpaceError, match=pattern) as info:
        make_searcher(name, space, seed=0)  # when built, not at the first ask
    assert name in str(info.value)
    storage = hpo.storage.InMemoryStorage()
    with pytest.raises(UnsupportedSpaceError):
        hpo.create_study(space=space, searcher=name, storage=storage)
    assert storage.list_studies() == []  # nothing stored


# --- learning from told trials ------------------------------------------------------------------
def _tell_parabola(searcher: Any, direction: str) -> None:
    """21 trials the searcher never proposed; the optimum is at x = 0.8."""
    sign = 1.0 if direction == "minimize" else -1.0
    for number, x in enumerate(np.linspace(0.0, 1.0, 21)):
        value = sign * (float(x) - 0.8) ** 2
        searcher.tell(finished_trial(100 + number, {"x": float(x)}, value))


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("name", ["hyperopt:tpe", "hyperopt:anneal"])
def test_foreign_trials_are_learned_from(name: str, direction: str) -> None:
    searcher = make_searcher(name, Space({"x": Float(0.0, 1.0)}), seed=0, direction=direction)
    _tell_parabola(searcher, direction)
    xs = [s.config["x"] for s in searcher.ask(8)]
    assert abs(float(np.median(xs)) - 0.8) < 0.1, xs


def test_failed_trials_count_as_bad_for_tpe() -> None:
    searcher = make_searcher("hyperopt:tpe", Space({"x": Float(0.0, 1.0)}), seed=0)
    for number, x in enumerate(np.linspace(0.0, 1.0, 21)):
        if x < 0.5:
            searcher.tell(finished_trial(number, {"x": float(x)}, None, TrialState.FAILED))
        else:
            searcher.tell(finished_trial(number, {"x": float(x)}, float(x)))
    xs = [s.config["x"] for s in searcher.ask(8)]
    assert all(x > 0.45 for x in xs), xs


def test_tpe_startup_is_random_then_model_based() -> None:
    """Before ``n_startup_jobs`` trials TPE draws from the prior; after, it concentrates."""
    space = Space({"x": Float(0.0, 1.0)})
    searcher = make_searcher("hyperopt:tpe", space, seed=3, n_startup_jobs=30)
    _tell_parabola(searcher, "minimize")  # 21 < 30: still random
    early = [s.config["x"] for s in searcher.ask(40)]
    assert np.std(early) > 0.2
    for number in range(9):
        searcher.tell(finished_trial(200 + number, {"x": 0.8}, 0.0))
    late = [s.config["x"] for s in searcher.ask(8)]
    assert np.std(late) < 0.5 * np.std(early), (early, late)


# --- options and seeds -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "options", "pattern"),
    [
        ("hyperopt:tpe", {"gamma": 0.0}, "gamma"),
        ("hyperopt:tpe", {"gamma": 1.5}, r"gamma.*\(0, 1\]"),
        ("hyperopt:tpe", {"n_startup_jobs": 0}, "n_startup_jobs"),
        ("hyperopt:tpe", {"n_startup_jobs": 2.5}, "n_startup_jobs.*int"),
        ("hyperopt:tpe", {"n_EI_candidates": 0}, "n_EI_candidates"),
        ("hyperopt:tpe", {"prior_weight": -1}, "prior_weight"),
        ("hyperopt:tpe", {"gamma": "big"}, "gamma.*'big'"),
        ("hyperopt:anneal", {"avg_best_idx": 0.5}, "avg_best_idx"),
        ("hyperopt:anneal", {"shrink_coef": -0.1}, "shrink_coef"),
    ],
)
def test_invalid_options_are_clear_errors(name: str, options: dict[str, Any], pattern: str) -> None:
    space = Space({"x": Float(0.0, 1.0)})
    with pytest.raises(ValueError, match=pattern):
        make_searcher(name, space, **options)
    with pytest.raises(ValueError, match=pattern):
        hpo.create_study(space=space, searcher=name, searcher_kwargs=options)


def test_rand_takes_no_options() -> None:
    with pytest.raises(hpo.SearcherError, match="its options are: none"):
        make_searcher("hyperopt:rand", Space({"x": Float(0.0, 1.0)}), gamma=0.3)


def test_tpe_options_change_the_search() -> None:
    space = Space({"x": Float(0.0, 1.0)})
    runs = []
    for gamma in (0.1, 0.9):
        searcher = make_searcher("hyperopt:tpe", space, seed=0, n_startup_jobs=5, gamma=gamma)
        _tell_parabola(searcher, "minimize")
        runs.append([s.config["x"] for s in searcher.ask(4)])
    assert runs[0] != runs[1]


def test_seeded_conditional_study_reproducible() -> None:
    def loss(config: dict[str, Any]) -> float:
        return float(config.get("C", 1.0)) + (config.get("depth") or 0)

    runs = []
    for _ in range(2):
        study = hpo.create_study(
            space=conditional_space(),
            searcher="hyperopt:tpe",
            searcher_kwargs={"n_startup_jobs": 4},
            seed=5,
        )
        study.optimize(loss, n_trials=10, progress=False)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]


# --- the example -------------------------------------------------------------------------------
def test_example_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--n-trials", "4", "--searcher", "hyperopt:tpe"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "4 trials with searcher 'hyperopt:tpe'" in result.stdout
    accuracy = float(result.stdout.split("Best 3-fold CV accuracy: ")[1].split()[0])
    assert 0.5 < accuracy <= 1.0
