"""Parameters and spaces: validation, immutability, the unit-cube codec, conditions, JSON."""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats

from hpo.space import (
    Categorical,
    Float,
    Int,
    Param,
    Space,
    SpaceError,
    as_space,
    fit_step_high,
    hull,
    param_from_json,
)

# --- construction -----------------------------------------------------------------------

INVALID: list[tuple[Callable[[], Any], str]] = [
    (lambda: Float(5, 1), r"^Float: `low <= high` must hold, got low=5, high=1; swap them$"),
    (lambda: Int(9, 2), r"^Int: `low <= high` must hold, got low=9, high=2; swap them$"),
    (lambda: Float(0.0, 1.0, log=True), r"log scale needs `low > 0`, got low=0.0"),
    (lambda: Float(-1.0, 1.0, log=True), r"log scale needs `low > 0`, got low=-1.0"),
    (lambda: Int(0, 10, log=True), r"Int: a log scale needs `low > 0`, got low=0"),
    (lambda: Float(0.0, 1.0, step=0.3), r"`step` must divide .*step=0.3.*adjust `high` to 0.9"),
    (lambda: Int(0, 10, step=3), r"`step` must divide .*step=3; use high=9"),
    (lambda: Float(1.0, 10.0, log=True, step=1.0), r"`step` and `log=True` cannot be combined"),
    (lambda: Float(0.0, 1.0, step=0.0), r"`step` must be a positive number, got 0.0"),
    (lambda: Float(0.0, 1.0, step=-0.5), r"`step` must be a positive number, got -0.5"),
    (lambda: Int(0, 10, step=0), r"`step` must be >= 1, got 0"),
    (lambda: Int(1, 100, log=True, step=3), r"log scale needs step=1, got step=3"),
    (lambda: Int(0.5, 3), r"Int: `low` must be an integer, got 0.5"),
    (lambda: Int(0, 3, step=1.5), r"`step` must be an integer, got 1.5"),
    (lambda: Int(0, "3"), r"`high` must be an integer, got '3'"),
    (lambda: Float("0", 1.0), r"must be numbers, got low='0', high=1.0"),
    (lambda: Float(True, 2.0), r"must be numbers, got low=True"),
    (lambda: Float(0.0, math.inf), r"must be finite, got low=0.0, high=inf"),
    (lambda: Float(math.nan, 1.0), r"must be finite, got low=nan"),
    (lambda: Int(0, math.inf), r"`high` must be an integer, got inf"),
    (lambda: Categorical([]), r"`choices` is empty"),
    (lambda: Categorical("abc"), r"must be a list or tuple of values, got 'abc'"),
    (lambda: Categorical(3), r"must be a list or tuple of values, got 3"),
    (lambda: Categorical({"a", "b"}), r"sets are refused: their order is not stable"),
    (lambda: Categorical(["a", "b", "a"]), r"duplicate choices 'a' and 'a'"),
    (lambda: Categorical([1, True]), r"duplicate choices 1 and True"),
    (lambda: Categorical([1, 1.0]), r"duplicate choices 1 and 1.0"),
    (lambda: Categorical([True, 1.0]), r"duplicate choices True and 1.0"),
    (lambda: Categorical([0, False]), r"duplicate choices 0 and False"),
    (lambda: Categorical([None, None]), r"duplicate choices None and None"),
    (lambda: Categorical([1.0, math.nan]), r"choices must be finite, got nan"),
    (lambda: Categorical([math.inf]), r"choices must be finite, got inf"),
    (lambda: Categorical([[1, 2]]), r"must be str, int, float, bool or None, got \[1, 2\]"),
    (lambda: Categorical([object()]), r"of type object"),
    (lambda: Float(0.0, 1.0, when={}), r"`when` must be a non-empty dict"),
    (lambda: Float(0.0, 1.0, when="a"), r"`when` must be a non-empty dict"),
    (lambda: Float(0.0, 1.0, when={"a": []}), r"`when` for 'a' lists no values"),
    (lambda: Float(0.0, 1.0, when={1: "x"}), r"`when` keys must be parameter names"),
]


@pytest.mark.parametrize(("factory", "message"), INVALID)
def test_invalid_parameters_have_actionable_messages(
    factory: Callable[[], Any], message: str
) -> None:
    with pytest.raises(SpaceError, match=message):
        factory()


def test_space_error_is_a_value_error() -> None:
    assert issubclass(SpaceError, ValueError)
    with pytest.raises(ValueError):
        Float(1.0, 0.0)


INVALID_SPACES: list[tuple[Callable[[], Any], str]] = [
    (
        lambda: Space({"x": Float(0.0, 1.0, when={"kind": "a"})}),
        r"'x' is conditional on 'kind', which is not in the space; declare the parent",
    ),
    (
        lambda: Space({"x": Float(0.0, 1.0, when={"kind": "a"}), "kind": Categorical(["a", "b"])}),
        r"'x' is conditional on 'kind', which is declared after it",
    ),
    (
        lambda: Space({"x": Categorical(["a", "b"], when={"x": "a"})}),
        r"'x' cannot be conditional on itself",
    ),
    (
        lambda: Space({"kind": Categorical(["a", "b"]), "x": Float(0.0, 1.0, when={"kind": "c"})}),
        r"condition value 'c' can never be taken by 'kind'",
    ),
    (
        lambda: Space({"n": Int(1, 10), "x": Float(0.0, 1.0, when={"n": [3, 11]})}),
        r"condition value 11 can never be taken by 'n'",
    ),
    (
        lambda: Space({"n": Int(0, 10, step=2), "x": Float(0.0, 1.0, when={"n": 3})}),
        r"condition value 3 can never be taken by 'n'",
    ),
    (
        lambda: Space({"flag": Categorical([True, False]), "x": Int(1, 3, when={"flag": 1})}),
        r"condition value 1 can never be taken by 'flag'",
    ),
    (lambda: Space({"x": (0, 1)}), r"must be hpo.Float, hpo.Int or hpo.Categorical"),
    (lambda: Space({"": Float(0.0, 1.0)}), r"non-empty strings, got ''"),
    (lambda: Space({3: Float(0.0, 1.0)}), r"non-empty strings, got 3"),
    (lambda: as_space([Float(0.0, 1.0)]), r"`space` must be an hpo.Space or a dict"),
]


@pytest.mark.parametrize(("factory", "message"), INVALID_SPACES)
def test_invalid_spaces_have_actionable_messages(factory: Callable[[], Any], message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        factory()


def test_valid_construction_normalizes_types() -> None:
    f = Float(0, 1)
    assert (type(f.low), type(f.high)) == (float, float)
    assert f == Float(0.0, 1.0) and hash(f) == hash(Float(0.0, 1.0))
    i = Int(np.int64(1), 4.0, step=1.0)
    assert (i.low, i.high, i.step) == (1, 4, 1) and type(i.high) is int and type(i.step) is int
    assert Float(0.0, 1.0, step=0.1).n_values == 11
    assert Float(0.0, 1.0).n_values is None
    assert Int(2, 20, step=3).n_values == 7
    assert Categorical(("a", "b")).choices == ("a", "b")
    assert Float(0.0, 1.0, when={"k": ["a", "b"]}).conditions == {"k": ("a", "b")}


def test_categorical_equality_is_type_aware() -> None:
    assert Categorical([1, 2]) == Categorical([1, 2])
    assert Categorical([1, 2]) != Categorical([1.0, 2.0])
    assert Categorical([0, 1]) != Categorical([False, True])
    assert Space({"c": Categorical([0, 1])}) != Space({"c": Categorical([False, True])})
    assert len({Categorical([1, 2]), Categorical([1.0, 2.0]), Categorical([1, 2])}) == 2


# --- immutability --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "field"),
    [
        (Float(0.0, 1.0), "low"),
        (Float(0.0, 1.0), "log"),
        (Int(0, 3), "step"),
        (Categorical(["a"]), "choices"),
        (Categorical(["a"], when={"x": 1}), "when"),
    ],
)
def test_parameters_are_frozen(param: Param, field: str) -> None:
    before = getattr(param, field)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(param, field, before)


def test_space_is_immutable() -> None:
    choices = ["a", "b"]
    params: dict[str, Param] = {"c": Categorical(choices), "x": Float(0.0, 1.0)}
    space = Space(params)
    choices.append("c")
    params["y"] = Int(0, 1)
    assert space["c"].choices == ("a", "b")  # type: ignore[attr-defined]
    assert list(space) == ["c", "x"]
    with pytest.raises(TypeError):
        space["z"] = Int(0, 1)  # type: ignore[index]
    grown = space.with_param("y", Int(0, 1))
    assert list(grown) == ["c", "x", "y"] and list(space) == ["c", "x"]
    with pytest.raises(SpaceError, match="'x' is already in the space"):
        space.with_param("x", Float(0.0, 2.0))


def test_space_equality_and_hash() -> None:
    a = Space({"x": Float(0, 1), "n": Int(1, 3)})
    b = Space({"x": Float(0.0, 1.0), "n": Int(1, 3)})
    c = Space({"n": Int(1, 3), "x": Float(0.0, 1.0)})
    assert a == b and hash(a) == hash(b)
    assert a != c, "order is part of a space (it fixes the encoding)"
    assert a != Space({"x": Float(0, 1), "n": Int(1, 4)})


# --- the unit-cube codec -------------------------------------------------------------------

CODEC_PARAMS: list[Param] = [
    Float(-3.0, 7.0),
    Float(0.1, 0.7),
    Float(1e-6, 1e2, log=True),
    Float(-1.0, 1.0, step=0.25),
    Float(0.0, 1.0, step=0.1),
    Int(-5, 5),
    Int(0, 100, step=10),
    Int(1, 4096, log=True),
    Int(3, 4),
    Categorical(["a", "b", "c"]),
    Categorical([None, 2, 1.5, True, "x"]),
    Categorical(["only"]),
]


def _equal(param: Param, a: Any, b: Any) -> bool:
    if isinstance(param, Float) and param.step is None:
        return type(a) is type(b) is float and a == pytest.approx(b, rel=1e-12, abs=1e-15)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("param", CODEC_PARAMS, ids=repr)
def test_param_codec_round_trip(param: Param) -> None:
    rng = np.random.default_rng(0)
    values = [param.sample(rng) for _ in range(300)] + param.grid_values(25)
    if not isinstance(param, Categorical):
        values += [param.low, param.high]  # type: ignore[attr-defined]
    if isinstance(param, Float) and param.step is None:
        values += [float(v) for v in rng.uniform(param.low, param.high, 100)]
    for value in values:
        assert param.contains(value), value
        u = param.encode(value)
        assert u.shape == (param.n_dims,)
        assert np.all((u >= 0.0) & (u <= 1.0)), (value, u)
        assert _equal(param, param.decode(u), value), (value, u, param.decode(u))


@pytest.mark.parametrize("param", CODEC_PARAMS, ids=repr)
def test_decode_any_point_is_valid(param: Param) -> None:
    rng = np.random.default_rng(1)
    points = [rng.random(param.n_dims) for _ in range(300)]
    points += [np.zeros(param.n_dims), np.ones(param.n_dims), np.full(param.n_dims, 2.0)]
    points += [np.full(param.n_dims, -1.0)]
    for u in points:
        assert param.contains(param.decode(u)), u


@pytest.mark.parametrize(
    "param", [p for p in CODEC_PARAMS if not isinstance(p, Categorical)], ids=repr
)
def test_bounds_are_decoded_exactly(param: Param) -> None:
    assert param.decode(np.array([0.0])) == param.low  # type: ignore[attr-defined]
    assert param.decode(np.array([1.0])) == param.high  # type: ignore[attr-defined]


def test_continuous_encode_is_linear_or_logarithmic() -> None:
    assert Float(-3.0, 7.0).encode(2.0)[0] == pytest.approx(0.5)
    assert Float(1e-3, 1e3, log=True).encode(1.0)[0] == pytest.approx(0.5)
    assert Float(1e-3, 1e3, log=True).encode(1e-2)[0] == pytest.approx(1 / 6)


@pytest.mark.parametrize(
    "param",
    [Int(-2, 7), Int(0, 20, step=5), Int(3, 4), Float(0.0, 1.0, step=0.25)],
    ids=repr,
)
def test_uniform_u_gives_equal_bins(param: Int | Float) -> None:
    n = param.n_values
    assert n is not None
    m = 1000 * n
    values = [param.decode(np.array([(k + 0.5) / m])) for k in range(m)]
    counts = Counter(values)
    assert len(counts) == n
    assert set(counts.values()) == {1000}, counts
    # each value encodes to the centre of its bin
    for idx, value in enumerate(sorted(counts)):
        assert param.encode(value)[0] == pytest.approx((idx + 0.5) / n)


def test_log_int_bins_are_equal_in_log() -> None:
    param = Int(1, 20, log=True)
    m = 200_000
    counts = Counter(param.decode(np.array([(k + 0.5) / m])) for k in range(m))
    assert sorted(counts) == list(range(1, 21))
    width = math.log(20.5) - math.log(0.5)
    for v, count in counts.items():
        expected = m * (math.log(v + 0.5) - math.log(v - 0.5)) / width
        assert abs(count - expected) <= 1.5, (v, count, expected)


def test_uniform_u_gives_uniform_choice() -> None:
    param = Categorical(["a", None, 3, 2.5, False])
    rng = np.random.default_rng(2)
    draws = [param.decode(rng.random(param.n_dims)) for _ in range(5000)]
    counts = [sum(1 for d in draws if type(d) is type(c) and d == c) for c in param.choices]
    assert sum(counts) == 5000
    assert stats.chisquare(counts).pvalue > 1e-3, counts
    assert param.encode(3).tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert param.encode(False).tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]


def _conditional_space() -> Space:
    return Space(
        {
            "model": Categorical(["linear", "tree", "net"]),
            "C": Float(1e-3, 1e3, log=True, when={"model": "linear"}),
            "depth": Int(1, 12, when={"model": "tree"}),
            "activation": Categorical(["relu", "tanh", None], when={"model": "net"}),
            "slope": Float(0.01, 0.3, when={"activation": "relu"}),
            "bias": Categorical([True, False], when={"model": ["linear", "net"]}),
            "lr": Float(1e-5, 1.0, log=True),
            "batch": Int(16, 256, step=16),
        }
    )


def test_space_codec_round_trip_with_conditions() -> None:
    space = _conditional_space()
    assert space.n_dims == 3 + 1 + 1 + 3 + 1 + 2 + 1 + 1
    assert space.dims_of("activation") == slice(5, 8)
    rng = np.random.default_rng(3)
    seen_inactive = Counter[str]()
    for _ in range(500):
        config = space.sample(rng)
        assert space.contains(config), space.violations(config)
        u = space.encode(config)
        assert u.shape == (space.n_dims,)
        for name in space:
            dims = u[space.dims_of(name)]
            if name in config:
                assert np.all((dims >= 0.0) & (dims <= 1.0))
            else:
                seen_inactive[name] += 1
                assert np.all(np.isnan(dims)), (name, dims)
        filled = space.encode(config, fill=0.5)
        assert not np.any(np.isnan(filled))
        decoded = space.decode(u)
        assert list(decoded) == list(config)
        for name, value in config.items():
            assert _equal(space[name], decoded[name], value), (name, decoded[name], value)
        assert space.decode(filled) == decoded
    assert set(seen_inactive) == {"C", "depth", "activation", "slope", "bias"}


def test_decode_checks_dimension() -> None:
    space = _conditional_space()
    with pytest.raises(ValueError, match=f"expected a point with {space.n_dims} dimensions"):
        space.decode(np.zeros(space.n_dims - 1))


# --- contains, violations, canonical --------------------------------------------------------


def _opt_space() -> Space:
    return Space(
        {
            "opt": Categorical(["adam", "sgd"]),
            "momentum": Float(0.0, 1.0, when={"opt": "sgd"}),
            "n": Int(1, 5),
        }
    )


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"opt": "sgd", "momentum": 0.5, "n": 2}, []),
        ({"opt": "adam", "n": 5}, []),
        ({"opt": "sgd", "n": 2}, ["missing active parameter 'momentum'"]),
        (
            {"opt": "adam", "momentum": 0.5, "n": 2},
            ["parameter 'momentum' is inactive but present"],
        ),
        ({"opt": "adam", "n": 9}, ["n=9 is outside Int(low=1, high=5, log=False, step=1)"]),
        ({"opt": "adam", "n": 2, "zzz": 1}, ["unknown parameter 'zzz'"]),
        (
            {"opt": "rmsprop", "n": 2},
            ["opt='rmsprop' is outside Categorical(choices=['adam', 'sgd'])"],
        ),
        ({}, ["missing active parameter 'opt'", "missing active parameter 'n'"]),
    ],
)
def test_violations_messages(config: dict[str, Any], problems: list[str]) -> None:
    space = _opt_space()
    assert space.violations(config) == problems
    assert space.contains(config) is (not problems)


def test_param_contains() -> None:
    assert Int(0, 4).contains(2.0) and not Int(0, 4).contains(2.5)
    assert not Int(0, 4).contains(True) and not Int(0, 4).contains("2")
    assert not Int(0, 4, step=2).contains(3) and Int(0, 4, step=2).contains(4)
    assert Float(0.0, 1.0).contains(1) and not Float(0.0, 1.0).contains(1.01)
    assert not Float(0.0, 1.0).contains(math.nan) and not Float(0.0, 1.0).contains("0.5")
    assert not Float(0.0, 1.0).contains(False)
    tenths = Float(0.0, 1.0, step=0.1)
    assert tenths.contains(0.1 * 3) and tenths.contains(1.0) and not tenths.contains(0.35)
    c = Categorical([1, "a", None])
    assert c.contains(1) and c.contains(np.int64(1)) and c.contains(1.0) and c.contains(None)
    assert not c.contains(True) and not c.contains("b")
    assert not Categorical([True, False]).contains(1)
    assert not Categorical([True, False]).contains(0)


def test_canonical_orders_and_casts() -> None:
    space = Space(
        {
            "opt": Categorical(["adam", 1, 2.5, False]),
            "x": Float(0.0, 1.0),
            "n": Int(1, 5),
        }
    )
    config = space.canonical({"n": np.int64(2), "x": 1, "opt": np.float64(2.5)})
    assert list(config) == ["opt", "x", "n"]
    assert config == {"opt": 2.5, "x": 1.0, "n": 2}
    assert [type(v) for v in config.values()] == [float, float, int]
    assert type(space.canonical({"opt": 1.0})["opt"]) is int
    assert space.canonical({"opt": False})["opt"] is False


# --- conditions ---------------------------------------------------------------------------------


def test_is_active_nested_and_list_valued() -> None:
    space = Space(
        {
            "a": Categorical(["x", "y", "z"]),
            "b": Categorical(["p", "q"], when={"a": ["x", "z"]}),
            "c": Int(1, 3, when={"b": "p"}),
            "d": Float(0.0, 1.0, when={"c": [2, 3]}),
            "flag": Categorical([True, False]),
            "e": Float(0.0, 1.0, when={"flag": True, "a": "y"}),
        }
    )
    assert space.is_conditional
    assert space.is_active("b", {"a": "x"}) and space.is_active("b", {"a": "z"})
    assert not space.is_active("b", {"a": "y"}) and not space.is_active("b", {})
    assert space.is_active("c", {"a": "x", "b": "p"})
    # b's value is stale: b is inactive under a='y', so c and d are inactive too
    assert not space.is_active("c", {"a": "y", "b": "p"})
    assert not space.is_active("d", {"a": "y", "b": "p", "c": 2})
    assert space.is_active("d", {"a": "z", "b": "p", "c": 2.0})
    assert not space.is_active("d", {"a": "z", "b": "p", "c": 1})
    assert not space.is_active("d", {"a": "z", "b": "q", "c": 3})
    # several parents: all must match; bools are not ints
    assert space.is_active("e", {"a": "y", "flag": True})
    assert not space.is_active("e", {"a": "x", "flag": True})
    assert not space.is_active("e", {"a": "y", "flag": 1})
    assert not space.is_active("e", {"a": "y", "flag": False})
    assert space.is_active("a", {}) and not Space({"a": Int(0, 1)}).is_conditional


def test_sampled_configs_respect_nested_conditions() -> None:
    space = Space(
        {
            "a": Categorical(["x", "y"]),
            "b": Categorical(["p", "q"], when={"a": "x"}),
            "c": Int(1, 3, when={"b": "p"}),
        }
    )
    rng = np.random.default_rng(4)
    shapes = Counter(tuple(space.sample(rng)) for _ in range(400))
    assert set(shapes) == {("a",), ("a", "b"), ("a", "b", "c")}


# --- JSON ---------------------------------------------------------------------------------------


def _json_space() -> Space:
    return Space(
        {
            "x": Float(0, 1),
            "lr": Float(1e-5, 1e-1, log=True),
            "frac": Float(0.0, 1.0, step=0.125),
            "n": Int(1, 9, step=2),
            "units": Int(8, 1024, log=True),
            "choice": Categorical([None, 2, 1.5, True, "a"]),
            "flag": Categorical([False, True]),
            "k": Int(-3, 3, when={"choice": [2, 1.5]}),
            "y": Float(-1.0, 1.0, when={"flag": True, "k": [0, -3]}),
            "z": Categorical([1.0, 2.0], when={"choice": None}),
        }
    )


def test_json_round_trip_preserves_types() -> None:
    space = _json_space()
    text = json.dumps(space.to_json())
    back = Space.from_json(json.loads(text))
    assert back == space and Space.from_json(text) == space
    assert list(back) == list(space)
    for name in space:
        assert repr(back[name]) == repr(space[name])
    choice = back["choice"]
    assert isinstance(choice, Categorical)
    assert [type(c) for c in choice.choices] == [type(None), int, float, bool, str]
    assert [type(c) for c in back["z"].choices] == [float, float]  # type: ignore[attr-defined]
    assert type(back["x"].low) is float and type(back["n"].low) is int  # type: ignore[attr-defined]
    assert back["y"].when == (("flag", (True,)), ("k", (0, -3)))
    assert type(back["y"].when[0][1][0]) is bool
    assert back["k"].when == (("choice", (2, 1.5)),)
    assert [type(v) for v in back["k"].when[0][1]] == [int, float]
    # the codec agrees after the round trip
    rng = np.random.default_rng(5)
    for _ in range(50):
        config = space.sample(rng)
        assert np.array_equal(space.encode(config), back.encode(config), equal_nan=True)


def test_param_json_is_minimal() -> None:
    assert Float(0, 1).to_json() == {"type": "float", "low": 0.0, "high": 1.0}
    assert Int(1, 9, step=2).to_json() == {"type": "int", "low": 1, "high": 9, "step": 2}
    assert Categorical(["a"], when={"b": 1}).to_json() == {
        "type": "categorical",
        "choices": ["a"],
        "when": {"b": [1]},
    }
    assert param_from_json(Float(1e-3, 1.0, log=True).to_json()) == Float(1e-3, 1.0, log=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"params": [{"name": "x", "type": "complex", "low": 0}]}, r"unknown parameter type"),
        ({"params": [{"type": "float", "low": 0, "high": 1}]}, r"needs a 'name'"),
        ({"params": [{"name": "x", "type": "float", "low": 0}]}, r"'float' parameter needs 'high'"),
        ({"params": [{"name": "c", "type": "categorical"}]}, r"needs 'choices'"),
        ({"params": [{"name": "x", "low": 0, "high": 1}]}, r"with a 'type' key"),
        ({"params": {"x": {}}}, r"a space must be \{'params': \[...\]\}"),
        ({}, r"a space must be"),
        ("[1, 2]", r"a space must be"),
        ({"params": [{"name": "x", "type": "float", "low": 2, "high": 1}]}, r"`low <= high`"),
    ],
)
def test_from_json_errors(data: Any, message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        Space.from_json(data)


# --- fixed values, dynamic ranges, numpy choices (issue 14) --------------------------------
@pytest.mark.parametrize(
    "param",
    [Float(2.5, 2.5), Float(0.1, 0.1, log=True), Float(1.0, 1.0, step=0.5), Int(3, 3)],
    ids=repr,
)
def test_a_degenerate_range_is_a_fixed_value_everywhere(param: Any) -> None:
    value = param.low
    assert param.contains(value) and not param.contains(value + 1)
    for u in (0.0, 0.3, 1.0):
        assert param.decode(np.array([u])) == value
    assert param.encode(value).tolist() == [0.5]
    assert param.grid_values(5) == [value]
    assert param.sample(np.random.default_rng(0)) == value
    assert param_from_json(param.to_json()) == param


def test_fit_step_high_is_optunas_adjustment() -> None:
    assert fit_step_high(0.0, 1.0, 0.3) == 0.9
    assert fit_step_high(0.0, 1.0, 0.25) == 1.0
    assert fit_step_high(1.0, 10.0, 4.0) == 9.0


def test_hull_holds_both_ranges_and_refuses_other_changes() -> None:
    assert hull(Int(1, 1), Int(1, 5)) == Int(1, 5)
    assert hull(Int(1, 5, step=2), Int(3, 9, step=2)) == Int(1, 9, step=2)
    assert hull(Int(1, 5, step=2), Int(2, 6, step=2)) == Int(1, 6)
    assert hull(Float(0.0, 0.9, step=0.3), Float(0.3, 1.2, step=0.3)) == Float(0.0, 1.2, step=0.3)
    assert hull(Float(0.0, 1.0, step=0.5), Float(0.0, 1.2, step=0.3)) == Float(0.0, 1.2)
    assert hull(Float(1e-3, 1.0, log=True), Float(1e-4, 0.1, log=True)) == Float(
        1e-4, 1.0, log=True
    )
    c = Categorical(["a", "b"])
    assert hull(c, Categorical(["a", "b"])) is c
    with pytest.raises(SpaceError, match="cannot change a parameter's kind"):
        hull(Int(0, 1), Float(0.0, 1.0))
    with pytest.raises(SpaceError, match="cannot change a parameter's log scale"):
        hull(Float(1e-3, 1.0, log=True), Float(1e-3, 1.0))
    with pytest.raises(SpaceError, match="categorical choices cannot change"):
        hull(c, Categorical(["a", "c"]))


def test_a_condition_on_a_continuous_parent_is_refused() -> None:
    # it used to be accepted, and the child could never be active
    with pytest.raises(SpaceError, match=r"continuous .* never takes one exact value"):
        Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0, when={"x": 0.5})})
    stepped = Space({"x": Float(0.0, 1.0, step=0.5), "y": Float(0.0, 1.0, when={"x": 0.5})})
    assert stepped.is_active("y", {"x": 0.5})


def test_numpy_choices_are_plain_python_values() -> None:
    c = Categorical([np.int64(3), np.float64(2.5), np.str_("a"), np.bool_(True)])
    assert [type(v) for v in c.choices] == [int, float, str, bool]
    assert c == Categorical([3, 2.5, "a", True])
    assert c.contains(np.int64(3)) and c.index(np.str_("a")) == 2
    assert json.loads(json.dumps(c.to_json()))["choices"] == [3, 2.5, "a", True]
