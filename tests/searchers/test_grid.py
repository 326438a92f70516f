"""ParameterGrid (index-addressable, conditional-aware) and the grid searcher."""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import hpo
from hpo.exceptions import HPOError, SearcherError, SearchSpaceExhausted
from hpo.searchers import make_searcher
from hpo.searchers.grid import DEFAULT_RESOLUTION, GridSearcher, ParameterGrid
from hpo.space import Categorical, Float, Int, Param, Space
from hpo.trial import TrialState


def brute_force(space: Space, resolution: int) -> list[dict[str, Any]]:
    """Every distinct active configuration, depth first in space order."""
    names = list(space)
    out: list[dict[str, Any]] = []

    def visit(i: int, config: dict[str, Any]) -> None:
        if i == len(names):
            out.append(dict(config))
            return
        name = names[i]
        if not space.is_active(name, config):
            visit(i + 1, config)
            return
        for value in space[name].grid_values(resolution):
            visit(i + 1, {**config, name: value})

    visit(0, {})
    return out


def _key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


def plain_space() -> Space:
    return Space(
        {
            "a": Int(0, 2),
            "b": Categorical(["x", "y"]),
            "c": Float(0.0, 1.0),
            "d": Categorical([None, True, 1.5]),
        }
    )


def conditional_space() -> Space:
    return Space(
        {
            "model": Categorical(["linear", "tree", "net"]),
            "C": Float(1e-3, 1e3, log=True, when={"model": "linear"}),
            "depth": Int(1, 4, when={"model": "tree"}),
            "criterion": Categorical(["gini", "entropy"], when={"model": "tree"}),
            "activation": Categorical(["relu", "tanh"], when={"model": "net"}),
            "slope": Float(0.01, 0.3, when={"activation": "relu"}),
            "bias": Categorical([True, False], when={"model": ["linear", "net"]}),
            "seed": Int(0, 1),
        }
    )


def deep_space() -> Space:
    """A chain a -> b -> c -> d of conditions, an Int parent and two parents at once."""
    return Space(
        {
            "a": Categorical(["on", "off"]),
            "n": Int(0, 100, when={"a": "on"}),
            "b": Categorical([1, 2, 3], when={"a": "on"}),
            "c": Categorical([True, False], when={"b": [2, 3]}),
            "d": Float(0.0, 1.0, when={"c": True}),
            "e": Int(1, 3, when={"n": [0, 50], "b": 1}),
            "f": Categorical(["u", "v"]),
        }
    )


# --- ParameterGrid ---------------------------------------------------------------------------


def test_size_of_plain_space() -> None:
    assert len(ParameterGrid(plain_space())) == 3 * 2 * DEFAULT_RESOLUTION * 3
    assert len(ParameterGrid(plain_space(), resolution=4)) == 3 * 2 * 4 * 3
    assert len(ParameterGrid(Space({"x": Int(1, 100)}), resolution=7)) == 7
    assert len(ParameterGrid(Space({}))) == 1 and ParameterGrid(Space({}))[0] == {}


def test_size_of_conditional_space_does_not_multiply_inactive() -> None:
    # linear: C 10 x bias 2; tree: depth 4 x criterion 2; net: (relu: slope 10 + tanh: 1)
    # x bias 2; the unconditional `seed` doubles everything
    assert len(ParameterGrid(conditional_space())) == (20 + 8 + 22) * 2
    # a=on: n 5 values; b=1 -> e active only for n in {0, 50}: 2*3 + 3*1; b=2,3: c=True
    # gives d 5 values, c=False 1 -> 6 each; a=off: 1. Then f doubles.
    grid = ParameterGrid(deep_space(), resolution=5)
    assert grid.values["n"] == [0, 25, 50, 75, 100]
    assert len(grid) == (2 * 3 + 3 * 1 + 5 * 6 * 2 + 1) * 2


@pytest.mark.parametrize(
    ("space", "resolution"),
    [
        (plain_space(), 3),
        (conditional_space(), 10),
        (conditional_space(), 2),
        (deep_space(), 5),
        (deep_space(), 1),
        (Space({"x": Float(0.0, 1.0, when=None)}), 10),
    ],
    ids=["plain", "conditional", "conditional-r2", "deep", "deep-r1", "one-float"],
)
def test_getitem_enumerates_exactly_the_distinct_configs(space: Space, resolution: int) -> None:
    grid = ParameterGrid(space, resolution)
    expected = brute_force(space, resolution)
    assert len(grid) == len(expected)
    listed = [grid[i] for i in range(len(grid))]
    assert listed == expected  # same points, in lexicographic order of the space
    assert len({_key(c) for c in listed}) == len(listed)
    for config in listed:
        assert space.contains(config), space.violations(config)


def _random_param(rng: np.random.Generator, when: dict[str, Any] | None) -> Param:
    kind = int(rng.integers(3))
    if kind == 0:
        return Categorical(list(range(int(rng.integers(1, 4)))), when=when)
    if kind == 1:
        return Int(0, int(rng.integers(1, 5)), when=when)
    return Float(0.0, 1.0, when=when)


def _random_space(rng: np.random.Generator) -> Space:
    """Up to 6 small parameters, most conditional on an earlier discrete one (on values
    that may or may not lie on the grid)."""
    params: dict[str, Param] = {}
    for i in range(int(rng.integers(2, 7))):
        parents = [n for n, p in params.items() if not isinstance(p, Float)]
        when = None
        if parents and rng.random() < 0.7:
            parent = parents[int(rng.integers(len(parents)))]
            p = params[parent]
            if isinstance(p, Categorical):
                values: list[Any] = list(p.choices)
            else:
                assert isinstance(p, Int)
                values = list(range(p.low, p.high + 1))
            when = {parent: sorted({values[int(rng.integers(len(values)))] for _ in range(2)})}
        params[f"p{i}"] = _random_param(rng, when)
    return Space(params)


def test_random_conditional_spaces_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    n_conditional = 0
    for _ in range(60):
        space = _random_space(rng)
        n_conditional += space.is_conditional
        grid = ParameterGrid(space, resolution=3)
        expected = brute_force(space, 3)
        assert [grid[i] for i in range(len(grid))] == expected, space
    assert n_conditional > 20


def test_negative_indices_and_out_of_range() -> None:
    grid = ParameterGrid(conditional_space())
    n = len(grid)
    assert grid[-1] == grid[n - 1] and grid[-n] == grid[0]
    assert grid[np.int64(3)] == grid[3]
    for bad in (n, n + 5, -n - 1):
        with pytest.raises(IndexError, match=f"out of range for a grid of {n} points"):
            grid[bad]
    for wrong in ("1", 1.0, True, None):
        with pytest.raises(TypeError, match="grid indices are ints"):
            grid[wrong]  # type: ignore[index]


def test_large_grid_is_indexed_without_listing() -> None:
    space = Space({f"x{i}": Float(0.0, 1.0) for i in range(12)})
    grid = ParameterGrid(space)
    assert len(grid) == 10**12
    last = grid[-1]
    assert last == {f"x{i}": 1.0 for i in range(12)}
    middle = grid[123_456_789_012]
    digits = [int(d) for d in f"{123_456_789_012:012d}"]
    assert [round(middle[f"x{i}"] * 9) for i in range(12)] == digits


@pytest.mark.parametrize("resolution", [0, -1, True, 2.5, "10"])
def test_resolution_must_be_positive_int(resolution: Any) -> None:
    with pytest.raises(ValueError, match="`resolution` must be a positive int"):
        ParameterGrid(plain_space(), resolution)
    with pytest.raises(ValueError, match="`resolution` must be a positive int"):
        make_searcher("grid", plain_space(), resolution=resolution)


# --- resolution semantics -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "resolution", "expected"),
    [
        (Int(1, 5), 10, [1, 2, 3, 4, 5]),
        (Int(1, 10), 10, list(range(1, 11))),
        (Int(0, 100), 5, [0, 25, 50, 75, 100]),
        (Int(0, 100, step=10), 3, [0, 50, 100]),
        (Int(2, 20, step=3), 10, [2, 5, 8, 11, 14, 17, 20]),
        (Int(1, 1000, log=True), 4, [1, 10, 100, 1000]),
        (Int(2, 64, log=True), 6, [2, 4, 8, 16, 32, 64]),
        (Float(0.0, 1.0), 5, [0.0, 0.25, 0.5, 0.75, 1.0]),
        (Float(-2.0, 2.0), 2, [-2.0, 2.0]),
        (Float(0.0, 1.0), 1, [0.5]),
        (Float(0.0, 1.0, step=0.25), 10, [0.0, 0.25, 0.5, 0.75, 1.0]),
        (Float(0.0, 10.0, step=0.5), 3, [0.0, 5.0, 10.0]),
        (Categorical(["a", None, 2]), 1, ["a", None, 2]),
    ],
)
def test_grid_values(param: Param, resolution: int, expected: list[Any]) -> None:
    values = param.grid_values(resolution)
    assert values == pytest.approx(expected) if isinstance(param, Float) else values == expected
    assert all(type(v) is type(e) for v, e in zip(values, expected, strict=True))


def test_log_float_grid_is_geometric_with_exact_endpoints() -> None:
    values = Float(1e-3, 1e3, log=True).grid_values(7)
    assert values[0] == 1e-3 and values[-1] == 1e3
    assert values == pytest.approx([1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3], rel=1e-12)
    ratios = np.diff(np.log(values))
    assert np.allclose(ratios, ratios[0])


def test_log_int_grid_deduplicates() -> None:
    values = Int(1, 20, log=True).grid_values(15)
    assert values == sorted(set(values)) and values[0] == 1 and values[-1] == 20
    assert len(values) < 15


# --- GridSearcher -------------------------------------------------------------------------------


def test_position_is_identity_without_shuffle() -> None:
    searcher = GridSearcher(plain_space())
    assert [searcher.position(i) for i in range(len(searcher))] == list(range(len(searcher)))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 60, 64, 97, 180])
def test_shuffle_is_a_seeded_bijection(size: int) -> None:
    space = Space({"i": Int(0, size - 1)}) if size > 1 else Space({"c": Categorical(["x"])})
    orders = {}
    for seed in (0, 1, 2):
        searcher = GridSearcher(space, seed=seed, shuffle=True, resolution=size)
        assert len(searcher) == size
        order = [searcher.position(i) for i in range(size)]
        assert sorted(order) == list(range(size)), "shuffle must visit every point once"
        again = GridSearcher(space, seed=seed, shuffle=True, resolution=size)
        assert [again.position(i) for i in range(size)] == order
        orders[seed] = order
    if size >= 7:
        assert len({tuple(o) for o in orders.values()}) == 3, "seeds should change the order"
        assert orders[0] != list(range(size))


def test_asks_claim_every_point_once_then_exhaust() -> None:
    space = conditional_space()
    searcher = make_searcher("grid", space, seed=0, shuffle=True)
    n = len(ParameterGrid(space))
    configs = [searcher.ask(1)[0].config for _ in range(n - 10)]
    configs += [s.config for s in searcher.ask(10)]
    assert sorted(map(_key, configs)) == sorted(map(_key, brute_force(space, 10)))
    for _ in range(2):
        with pytest.raises(SearchSpaceExhausted, match=f"all {n} grid points have been claimed"):
            searcher.ask(1)


def test_batch_ask_at_the_end_loses_no_point() -> None:
    space = Space({"a": Categorical(["x", "y", "z"]), "b": Int(0, 1)})
    searcher = make_searcher("grid", space)
    first = [s.config for s in searcher.ask(4)]
    with pytest.raises(SearchSpaceExhausted):
        searcher.ask(4)  # only 2 left: nothing returned, nothing lost
    rest = [searcher.ask(1)[0].config, searcher.ask(1)[0].config]
    assert sorted(map(_key, first + rest)) == sorted(map(_key, brute_force(space, 10)))
    with pytest.raises(SearchSpaceExhausted):
        searcher.ask(1)


def test_leftover_points_survive_a_state_round_trip() -> None:
    space = Space({"a": Categorical(["x", "y", "z"])})
    searcher = make_searcher("grid", space)
    searcher.ask(1)
    with pytest.raises(SearchSpaceExhausted):
        searcher.ask(3)
    state = json.loads(json.dumps(searcher.state_dict()))
    rebuilt = make_searcher("grid", space)
    rebuilt.load_state_dict(state)
    assert [rebuilt.ask(1)[0].config["a"] for _ in range(2)] == ["y", "z"]
    with pytest.raises(SearchSpaceExhausted):
        rebuilt.ask(1)


def _ask_until_exhausted(searcher: hpo.Searcher, out: list[str], start: threading.Barrier) -> None:
    start.wait()
    while True:
        try:
            out.append(_key(searcher.ask(1)[0].config))
        except SearchSpaceExhausted:
            return


def test_threads_sharing_a_searcher_get_no_duplicates() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0), "z": Int(0, 3)})
    searcher = make_searcher("grid", space, resolution=12)
    results: list[list[str]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)
    threads = [
        threading.Thread(target=_ask_until_exhausted, args=(searcher, results[i], barrier))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [k for r in results for k in r]
    assert len(claimed) == 12 * 12 * 4 == len(set(claimed))
    assert sum(1 for r in results if r) >= 2, "the threads should have shared the work"


def _shared_counter() -> Callable[[str], int]:
    counters: defaultdict[str, itertools.count[int]] = defaultdict(itertools.count)
    lock = threading.Lock()

    def next_value(key: str) -> int:
        with lock:
            return next(counters[key])

    return next_value


def test_searchers_sharing_a_counter_split_the_grid() -> None:
    """Four searchers (as in four processes of one study) claim through one counter."""
    space = conditional_space()
    counter = _shared_counter()
    searchers = [make_searcher("grid", space, seed=3, shuffle=True) for _ in range(4)]
    for s in searchers:
        s.bind_counter(counter)
    results: list[list[str]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)
    threads = [
        threading.Thread(target=_ask_until_exhausted, args=(s, results[i], barrier))
        for i, s in enumerate(searchers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [k for r in results for k in r]
    assert sorted(claimed) == sorted(map(_key, brute_force(space, 10)))


def _objective(config: dict[str, Any]) -> float:
    return float(config["x"] ** 2 + config["n"])


@pytest.mark.parametrize("n_workers", [1, 4])
def test_optimize_stops_cleanly_when_the_grid_is_done(n_workers: int) -> None:
    space = Space({"x": Float(-1.0, 1.0), "n": Int(0, 2)})
    study = hpo.create_study(
        space=space, searcher="grid", searcher_kwargs={"resolution": 5}, seed=0
    )
    study.optimize(_objective, n_trials=100, n_workers=n_workers, progress=False)
    trials = study.trials
    assert len(trials) == 15
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert sorted(_key(t.params) for t in trials) == sorted(map(_key, brute_force(space, 5)))
    assert study.best_params == {"x": 0.0, "n": 0} and study.best_value == 0.0
    study.optimize(_objective, n_trials=5, progress=False)  # nothing left: no error
    assert len(study.trials) == 15
    with pytest.raises(SearchSpaceExhausted) as info:
        study.ask()
    assert isinstance(info.value, HPOError) and not isinstance(info.value, SearcherError)


def test_optimize_without_budget_ends_with_the_grid() -> None:
    space = Space({"c": Categorical(["a", "b", "c"]), "flag": Categorical([True, False])})
    study = hpo.create_study(space=space, searcher="grid")
    study.optimize(lambda config: len(config["c"]), progress=False)
    assert len(study.trials) == 6


def test_enqueued_trials_come_first_and_grid_continues() -> None:
    space = Space({"n": Int(0, 3)})
    study = hpo.create_study(space=space, searcher="grid")
    study.enqueue({"n": 2})
    study.optimize(lambda config: config["n"], n_trials=10, progress=False)
    # the enqueued point is not evaluated again (it used to be: [2, 0, 1, 2, 3])
    assert [t.params["n"] for t in study.trials] == [2, 0, 1, 3]


def test_define_by_run_is_a_clear_error() -> None:
    with pytest.raises(SearcherError, match=r"'grid' searcher needs the whole space up front"):
        make_searcher("grid", None)

    def objective(trial: hpo.Trial) -> float:
        return trial.suggest_float("x", 0.0, 1.0)

    with pytest.raises(SearcherError, match=r"'grid'.*@hpo.objective\(space=...\)"):
        hpo.create_study(objective, searcher="grid")
    searcher = make_searcher("grid", Space({"x": Float(0.0, 1.0)}))
    with pytest.raises(SearcherError, match=r"'grid' searcher .* cannot sample 'y'"):
        searcher.suggest_param(0, {}, "y", Float(0.0, 1.0))


def test_grid_index_is_reported() -> None:
    searcher = make_searcher("grid", plain_space(), seed=4, shuffle=True)
    for s in searcher.ask(5):
        assert s.config == searcher.grid[s.info["grid_index"]]  # type: ignore[attr-defined]


def test_resolution_one_takes_centres() -> None:
    space = Space({"x": Float(0.0, 4.0), "lr": Float(1e-4, 1.0, log=True), "n": Int(0, 10)})
    grid = ParameterGrid(space, resolution=1)
    assert len(grid) == 1
    assert grid[0]["x"] == 2.0 and grid[0]["n"] == 5
    assert math.isclose(grid[0]["lr"], 1e-2)


def test_an_enqueued_grid_point_is_not_evaluated_again() -> None:
    study = hpo.create_study(space={"a": Int(0, 3), "b": Categorical(["x", "y"])}, searcher="grid")
    study.enqueue({"a": 2, "b": "y"})
    study.add_trial({"a": 0, "b": "x"}, 1.0)
    study.optimize(lambda config: config["a"], n_trials=20, progress=False)
    configs = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(configs) == len(set(configs)) == 8  # the whole grid, each point once
