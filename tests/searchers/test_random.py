"""Random search: the distributions it draws from, Sobol uniformity, seeding and sharing.

Every statistical check is seeded, so it is deterministic; the thresholds (p > 1e-3,
five standard deviations) would also hold for almost any other seed.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats
from scipy.stats import qmc

import hpo
from hpo.searchers import make_searcher
from hpo.space import Categorical, Float, Int, Param, Space

N = 4000


def _draws(param: Param, *, sobol: bool = False, seed: int = 0, n: int = N) -> list[Any]:
    searcher = make_searcher("random", Space({"v": param}), seed=seed, sobol=sobol)
    return [s.config["v"] for s in searcher.ask(n)]


@pytest.mark.parametrize("sobol", [False, True])
def test_log_float_is_log_uniform(sobol: bool) -> None:
    param = Float(1e-4, 1e2, log=True)
    values = np.array(_draws(param, sobol=sobol))
    assert values.min() >= 1e-4 and values.max() <= 1e2
    logs = (np.log(values) - math.log(1e-4)) / (math.log(1e2) - math.log(1e-4))
    assert stats.kstest(logs, "uniform").pvalue > 1e-3
    # each of the six decades gets a sixth of the draws; linearly, nearly all would be in
    # the last one
    decades = Counter(np.floor(np.log10(values)).astype(int).tolist())
    assert sorted(decades) == [-4, -3, -2, -1, 0, 1]
    assert stats.chisquare([decades[d] for d in range(-4, 2)]).pvalue > 1e-3
    assert stats.kstest((values - 1e-4) / (1e2 - 1e-4), "uniform").pvalue < 1e-10


def test_linear_float_is_uniform() -> None:
    values = np.array(_draws(Float(-3.0, 7.0)))
    assert stats.kstest((values + 3.0) / 10.0, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("sobol", [False, True])
def test_int_uniform_over_values_including_endpoints(sobol: bool) -> None:
    values = _draws(Int(-2, 7), sobol=sobol)
    assert all(type(v) is int for v in values)
    counts = Counter(values)
    assert sorted(counts) == list(range(-2, 8))
    assert stats.chisquare([counts[v] for v in range(-2, 8)]).pvalue > 1e-3


def test_stepped_int_only_on_its_steps() -> None:
    counts = Counter(_draws(Int(0, 20, step=5)))
    assert sorted(counts) == [0, 5, 10, 15, 20]
    assert stats.chisquare(list(counts.values())).pvalue > 1e-3


def test_log_int_follows_log_bins() -> None:
    param = Int(1, 32, log=True)
    counts = Counter(_draws(param))
    assert min(counts) == 1 and max(counts) == 32
    width = math.log(32.5) - math.log(0.5)
    expected = [N * (math.log(v + 0.5) - math.log(v - 0.5)) / width for v in range(1, 33)]
    observed = [counts[v] for v in range(1, 33)]
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    assert counts[1] > 5 * counts[32], "small values are much likelier on a log scale"


def test_stepped_float_only_on_the_grid() -> None:
    param = Float(-1.0, 1.0, step=0.25)
    values = _draws(param)
    grid = [-1.0 + 0.25 * k for k in range(9)]
    assert set(values) == set(grid), sorted(set(values))
    counts = Counter(values)
    assert stats.chisquare([counts[g] for g in grid]).pvalue > 1e-3


@pytest.mark.parametrize("sobol", [False, True])
def test_categorical_uniform_and_typed(sobol: bool) -> None:
    param = Categorical(["a", None, 3, 2.5, True])
    values = _draws(param, sobol=sobol)
    counts = [sum(1 for v in values if type(v) is type(c) and v == c) for c in param.choices]
    assert sum(counts) == N, "every draw is exactly one of the typed choices"
    assert stats.chisquare(counts).pvalue > 1e-3


def test_conditional_children_follow_their_branch() -> None:
    space = Space(
        {
            "opt": Categorical(["adam", "sgd", "rmsprop"]),
            "momentum": Float(0.0, 0.99, when={"opt": "sgd"}),
            "nesterov": Categorical([True, False], when={"opt": "sgd"}),
            "dampening": Float(0.0, 0.5, when={"nesterov": False}),
            "beta": Float(0.8, 0.999, when={"opt": ["adam", "rmsprop"]}),
        }
    )
    configs = [s.config for s in make_searcher("random", space, seed=1).ask(N)]
    sgd = sum(c["opt"] == "sgd" for c in configs)
    assert sum("momentum" in c for c in configs) == sgd
    assert sum("nesterov" in c for c in configs) == sgd
    assert sum("beta" in c for c in configs) == N - sgd
    damp = sum("dampening" in c for c in configs)
    assert damp == sum(c.get("nesterov") is False for c in configs)
    for observed, p in ((sgd, 1 / 3), (damp, 1 / 6)):
        sd = math.sqrt(N * p * (1 - p))
        assert abs(observed - N * p) < 5 * sd, (observed, N * p)
    # the child is distributed as declared within its branch
    momentum = np.array([c["momentum"] for c in configs if "momentum" in c])
    assert stats.kstest(momentum / 0.99, "uniform").pvalue > 1e-3


def _encoded(space: Space, *, sobol: bool, seed: int, n: int) -> np.ndarray:
    searcher = make_searcher("random", space, seed=seed, sobol=sobol)
    return np.array([space.encode(s.config) for s in searcher.ask(n)])


def test_sobol_has_lower_discrepancy_than_uniform() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(-5.0, 5.0), "z": Float(1e-3, 1.0, log=True)})
    plain = [qmc.discrepancy(_encoded(space, sobol=False, seed=s, n=256)) for s in range(3)]
    sobol = [qmc.discrepancy(_encoded(space, sobol=True, seed=s, n=256)) for s in range(3)]
    assert max(sobol) * 10 < min(plain), (sobol, plain)


def test_sobol_points_are_the_scrambled_sequence() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    searcher = make_searcher("random", space, seed=5, sobol=True)
    first = [s.config for s in searcher.ask(8)]
    expected = qmc.Sobol(2, scramble=True, seed=5).random(8)
    assert np.allclose([[c["x"], c["y"]] for c in first], expected)


def _study_params(seed: int | None, **kwargs: Any) -> list[dict[str, Any]]:
    space = Space(
        {
            "lr": Float(1e-5, 1e-1, log=True),
            "layers": Int(1, 6),
            "act": Categorical(["relu", "tanh"]),
            "slope": Float(0.0, 0.3, when={"act": "relu"}),
        }
    )
    study = hpo.create_study(space=space, searcher="random", searcher_kwargs=kwargs, seed=seed)
    study.optimize(lambda config: config["layers"] * config["lr"], n_trials=20, progress=False)
    return [t.params for t in study.trials]


@pytest.mark.parametrize("sobol", [False, True])
def test_seeded_studies_are_reproducible(sobol: bool) -> None:
    first = _study_params(7, sobol=sobol)
    assert first == _study_params(7, sobol=sobol)
    assert first != _study_params(8, sobol=sobol)
    assert len({tuple(sorted(p.items())) for p in first}) == 20


def test_unseeded_studies_differ() -> None:
    assert _study_params(None) != _study_params(None)


# --- define-by-run ----------------------------------------------------------------------------


def test_define_by_run_deterministic_per_seed_trial_and_name() -> None:
    param = Float(0.0, 1.0)
    a, b = make_searcher("random", None, seed=3), make_searcher("random", None, seed=3)
    x = a.suggest_param(5, {}, "x", param)
    # the same (seed, trial, name) gives the same value, whatever came before it
    assert b.suggest_param(5, {"y": 0.2, "k": "a"}, "x", param) == x
    assert a.suggest_param(5, {}, "x", param) == x
    # any change of seed, trial number or name changes it
    assert make_searcher("random", None, seed=4).suggest_param(5, {}, "x", param) != x
    assert a.suggest_param(6, {}, "x", param) != x
    assert a.suggest_param(5, {}, "x2", param) != x
    values = {a.suggest_param(t, {}, "x", param) for t in range(200)}
    assert len(values) == 200


def test_define_by_run_values_are_in_range_and_uniform() -> None:
    searcher = make_searcher("random", None, seed=0)
    ints = [searcher.suggest_param(t, {}, "n", Int(1, 9, step=2)) for t in range(2000)]
    counts = Counter(ints)
    assert sorted(counts) == [1, 3, 5, 7, 9]
    assert stats.chisquare(list(counts.values())).pvalue > 1e-3
    logs = [searcher.suggest_param(t, {}, "lr", Float(1e-4, 1.0, log=True)) for t in range(2000)]
    scaled = (np.log10(logs) + 4.0) / 4.0
    assert stats.kstest(scaled, "uniform").pvalue > 1e-3


def test_define_by_run_study_is_reproducible() -> None:
    def objective(trial: hpo.Trial) -> float:
        x = trial.suggest_float("x", -1.0, 1.0)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        if kind == "a":
            x += trial.suggest_int("n", 0, 3)
        return x

    runs = []
    for seed in (11, 11, 12):
        study = hpo.create_study(searcher="random", seed=seed)
        study.optimize(objective, n_trials=15, progress=False)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1] and runs[0] != runs[2]
    assert all(("n" in p) == (p["kind"] == "a") for p in runs[0])


# --- sharing a study ----------------------------------------------------------------------------


def _shared_counter() -> Callable[[str], int]:
    """Stands in for the storage's atomic counter shared by processes of one study."""
    counters: defaultdict[str, itertools.count[int]] = defaultdict(itertools.count)
    lock = threading.Lock()

    def next_value(key: str) -> int:
        with lock:
            return next(counters[key])

    return next_value


@pytest.mark.parametrize("sobol", [False, True])
def test_searchers_sharing_a_counter_never_repeat_a_draw(sobol: bool) -> None:
    space = Space({"x": Float(0.0, 1.0), "c": Categorical(["a", "b", "c"])})
    counter = _shared_counter()
    first, second = (make_searcher("random", space, seed=9, sobol=sobol) for _ in range(2))
    for searcher in (first, second):
        searcher.bind_counter(counter)
    drawn = []
    for _ in range(50):
        drawn += [s.config for s in first.ask(1)] + [s.config for s in second.ask(2)]
    xs = [c["x"] for c in drawn]
    assert len(set(xs)) == len(xs) == 150
    # together they produce exactly what one searcher of the study would have
    alone = make_searcher("random", space, seed=9, sobol=sobol)
    assert sorted(xs) == sorted(s.config["x"] for s in alone.ask(150))


@pytest.mark.parametrize("sobol", [False, True])
def test_threads_sharing_a_searcher_never_repeat_a_draw(sobol: bool) -> None:
    space = Space({"x": Float(0.0, 1.0)})
    searcher = make_searcher("random", space, seed=2, sobol=sobol)
    barrier = threading.Barrier(4)
    results: list[list[float]] = [[] for _ in range(4)]

    def work(out: list[float]) -> None:
        barrier.wait()
        for _ in range(150):
            out.append(searcher.ask(1)[0].config["x"])

    threads = [threading.Thread(target=work, args=(r,)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    xs = [x for r in results for x in r]
    assert len(set(xs)) == len(xs) == 600
    alone = make_searcher("random", space, seed=2, sobol=sobol)
    assert sorted(xs) == sorted(s.config["x"] for s in alone.ask(600))


def test_unseeded_sobol_state_keeps_the_sequence() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    original = make_searcher("random", space, seed=None, sobol=True)
    original.ask(5)
    rebuilt = make_searcher("random", space, seed=None, sobol=True)
    rebuilt.load_state_dict(original.state_dict())
    assert [s.config for s in rebuilt.ask(4)] == [s.config for s in original.ask(4)]


def test_draw_index_is_reported() -> None:
    searcher = make_searcher("random", Space({"x": Float(0.0, 1.0)}), seed=0)
    assert [s.info["draw"] for s in searcher.ask(3)] == [0, 1, 2]
    assert searcher.ask(1)[0].info["draw"] == 3
