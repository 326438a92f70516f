"""Search spaces: typed parameters, conditions, the unit-cube codec and JSON round trip.

Every parameter maps to and from the unit interval, so model-based searchers work in
``[0, 1]^d`` and share one codec::

    space = hpo.Space({
        "kernel": hpo.Categorical(["rbf", "linear"]),
        "C": hpo.Float(1e-3, 1e3, log=True),
        "gamma": hpo.Float(1e-4, 1.0, log=True, when={"kernel": "rbf"}),
    })
    config = space.sample(np.random.default_rng(0))
    u = space.encode(config)          # shape (space.n_dims,), NaN for inactive dims
    assert space.decode(u) == config

Encoding rules (the one place they are defined):

* ``Float``: linear or log scale onto ``[0, 1]``; with ``step`` the grid points are
  treated like an ``Int`` with ``n`` values.
* ``Int`` and stepped ``Float``: ``n`` values occupy ``n`` equal bins; a value encodes to
  its bin centre and any point of the bin decodes to it, so a uniform ``u`` gives a
  uniform value. Log-scaled integers use bins equal in ``log`` between ``low - 0.5`` and
  ``high + 0.5``.
* ``Categorical``: one-hot over its choices (one dimension per choice); decoding takes
  the arg-max, so a uniform point gives a uniform choice.
* Inactive conditional parameters encode as ``NaN`` (or the ``fill`` value asked for)
  and are left out of decoded configurations.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

import numpy as np

ChoiceValue: TypeAlias = str | int | float | bool | None
Config: TypeAlias = dict[str, Any]

_REL_TOL = 1e-9


class SpaceError(ValueError):
    """A parameter or space definition is invalid; the message says how to fix it.

    ``code`` and ``kind`` are its stable error code (see :mod:`hpo.exceptions`)."""

    code: ClassVar[str] = "invalid_space"
    kind: ClassVar[str] = "invalid"


def _freeze_when(when: Mapping[str, Any] | None) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if when is None:
        return ()
    if not isinstance(when, Mapping) or not when:
        raise SpaceError(
            f"`when` must be a non-empty dict mapping a parameter name to a value or a list "
            f"of values, e.g. when={{'kernel': 'rbf'}}; got {when!r}"
        )
    frozen = []
    for key, value in when.items():
        if not isinstance(key, str):
            raise SpaceError(f"`when` keys must be parameter names (str), got {key!r}")
        values = tuple(value) if isinstance(value, list | tuple | set | frozenset) else (value,)
        if not values:
            raise SpaceError(f"`when` for {key!r} lists no values; give at least one")
        frozen.append((key, values))
    return tuple(frozen)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def _n_steps(low: float, high: float, step: float) -> int:
    """Number of grid points ``low, low+step, ..., high``; raises when step does not divide."""
    span = (high - low) / step
    n = round(span)
    if abs(span - n) > 1e-6 * max(1.0, abs(span)):
        raise SpaceError(
            f"`step` must divide `high - low` exactly, got low={low}, high={high}, step={step} "
            f"((high - low) / step = {span:g}); adjust `high` to {low + n * step:g} or pick "
            f"another step"
        )
    return n + 1


@dataclass(frozen=True)
class Param:
    """Base of all parameter types. ``when`` makes the parameter conditional."""

    kind: ClassVar[str] = "param"
    when: tuple[tuple[str, tuple[Any, ...]], ...] = field(default=(), kw_only=True)

    # --- codec ---------------------------------------------------------------------
    @property
    def n_dims(self) -> int:
        """Number of unit-cube dimensions this parameter occupies."""
        return 1

    def encode(self, value: Any) -> np.ndarray:
        raise NotImplementedError

    def decode(self, u: np.ndarray) -> Any:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn uniformly in the encoded space (log-uniform for log scales)."""
        return self.decode(rng.random(self.n_dims))

    def contains(self, value: Any) -> bool:
        raise NotImplementedError

    # --- conditions ----------------------------------------------------------------
    @property
    def conditions(self) -> dict[str, tuple[Any, ...]]:
        """The parent parameters and accepted values that make this parameter active."""
        return dict(self.when)

    # --- grid support ----------------------------------------------------------------
    def grid_values(self, resolution: int) -> list[Any]:
        """Distinct values a grid visits: all of them when finite and at most
        ``resolution``, else ``resolution`` points evenly spaced in the encoded space."""
        raise NotImplementedError

    # --- JSON ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def _when_json(self) -> dict[str, Any]:
        return {k: list(v) for k, v in self.when} if self.when else {}


def _check_bounds(cls: str, low: Any, high: Any, log: bool) -> None:
    if not _is_number(low) or not _is_number(high):
        raise SpaceError(f"{cls}: `low` and `high` must be numbers, got low={low!r}, high={high!r}")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise SpaceError(f"{cls}: `low` and `high` must be finite, got low={low}, high={high}")
    if not low <= high:
        raise SpaceError(f"{cls}: `low <= high` must hold, got low={low}, high={high}; swap them")
    if log and low <= 0:
        raise SpaceError(
            f"{cls}: a log scale needs `low > 0`, got low={low}; use log=False or a positive low"
        )


@dataclass(frozen=True)
class Float(Param):
    """A real-valued parameter in ``[low, high]``, optionally log-scaled or stepped.

    >>> Float(1e-4, 1.0, log=True)
    Float(low=0.0001, high=1.0, log=True, step=None)
    """

    kind: ClassVar[str] = "float"
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __init__(
        self,
        low: float,
        high: float,
        log: bool = False,
        step: float | None = None,
        *,
        when: Mapping[str, Any] | None = None,
    ) -> None:
        _check_bounds("Float", low, high, log)
        if step is not None:
            if log:
                raise SpaceError("Float: `step` and `log=True` cannot be combined; drop one")
            if not _is_number(step) or not step > 0:
                raise SpaceError(f"Float: `step` must be a positive number, got {step!r}")
            _n_steps(float(low), float(high), float(step))
        object.__setattr__(self, "low", float(low))
        object.__setattr__(self, "high", float(high))
        object.__setattr__(self, "log", bool(log))
        object.__setattr__(self, "step", None if step is None else float(step))
        object.__setattr__(self, "when", _freeze_when(when))

    def __repr__(self) -> str:
        extra = f", when={self._when_json()}" if self.when else ""
        return f"Float(low={self.low}, high={self.high}, log={self.log}, step={self.step}{extra})"

    @property
    def n_values(self) -> int | None:
        """Number of distinct values when stepped, else ``None`` (continuous)."""
        return None if self.step is None else _n_steps(self.low, self.high, self.step)

    def encode(self, value: Any) -> np.ndarray:
        v = float(value)
        if self.step is not None:
            n = self.n_values
            assert n is not None
            idx = min(max(round((v - self.low) / self.step), 0), n - 1)
            return np.array([(idx + 0.5) / n])
        if self.high == self.low:  # a fixed value: the middle of the unit interval
            return np.array([0.5])
        if self.log:
            u = (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        else:
            u = (v - self.low) / (self.high - self.low)
        return np.array([min(max(u, 0.0), 1.0)])

    def decode(self, u: np.ndarray) -> float:
        x = float(np.clip(np.asarray(u, dtype=float).reshape(-1)[0], 0.0, 1.0))
        if self.step is not None:
            n = self.n_values
            assert n is not None
            idx = min(int(x * n), n - 1)
            return min(self.low + idx * self.step, self.high)
        if x in (0.0, 1.0) or self.high == self.low:  # the bounds exactly, not
            return self.high if x else self.low  # exp(log(low)) = low * (1 + eps)
        if self.log:
            v = math.exp(math.log(self.low) + x * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + x * (self.high - self.low)
        return min(max(v, self.low), self.high)

    def contains(self, value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(value):
            return False
        tol = _REL_TOL * max(1.0, abs(self.high), abs(self.low))
        if not (self.low - tol <= value <= self.high + tol):
            return False
        if self.step is not None:
            k = (value - self.low) / self.step
            return abs(k - round(k)) < 1e-6
        return True

    def grid_values(self, resolution: int) -> list[Any]:
        n = self.n_values
        if n is not None and n <= resolution:
            return [min(self.low + i * self.step, self.high) for i in range(n)]  # type: ignore[operator]
        if resolution == 1:
            return [self.decode(np.array([0.5]))]
        points = [self.decode(np.array([i / (resolution - 1)])) for i in range(resolution)]
        return list(dict.fromkeys(points))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        if self.when:
            out["when"] = self._when_json()
        return out


@dataclass(frozen=True)
class Int(Param):
    """An integer parameter in ``[low, high]`` (both inclusive), optionally log-scaled.

    >>> Int(1, 9, step=2).grid_values(10)
    [1, 3, 5, 7, 9]
    """

    kind: ClassVar[str] = "int"
    low: int
    high: int
    log: bool = False
    step: int = 1

    def __init__(
        self,
        low: int,
        high: int,
        log: bool = False,
        step: int = 1,
        *,
        when: Mapping[str, Any] | None = None,
    ) -> None:
        for name, v in (("low", low), ("high", high), ("step", step)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                if _is_number(v) and float(v).is_integer():
                    continue
                raise SpaceError(f"Int: `{name}` must be an integer, got {v!r}")
        low, high, step = int(low), int(high), int(step)
        _check_bounds("Int", low, high, log)
        if step < 1:
            raise SpaceError(f"Int: `step` must be >= 1, got {step}")
        if log and step != 1:
            raise SpaceError(f"Int: a log scale needs step=1, got step={step}")
        if (high - low) % step:
            raise SpaceError(
                f"Int: `step` must divide `high - low`, got low={low}, high={high}, step={step}; "
                f"use high={low + (high - low) // step * step}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "log", bool(log))
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "when", _freeze_when(when))

    def __repr__(self) -> str:
        extra = f", when={self._when_json()}" if self.when else ""
        return f"Int(low={self.low}, high={self.high}, log={self.log}, step={self.step}{extra})"

    @property
    def n_values(self) -> int:
        return (self.high - self.low) // self.step + 1

    def _log_edges(self) -> tuple[float, float]:
        return math.log(self.low - 0.5), math.log(self.high + 0.5)

    def encode(self, value: Any) -> np.ndarray:
        v = round(float(value))
        if self.log:
            a, b = self._log_edges()
            return np.array([min(max((math.log(v) - a) / (b - a), 0.0), 1.0)])
        idx = min(max((v - self.low) // self.step, 0), self.n_values - 1)
        return np.array([(idx + 0.5) / self.n_values])

    def decode(self, u: np.ndarray) -> int:
        x = float(np.clip(np.asarray(u, dtype=float).reshape(-1)[0], 0.0, 1.0))
        if self.log:
            a, b = self._log_edges()
            return min(max(round(math.exp(a + x * (b - a))), self.low), self.high)
        idx = min(int(x * self.n_values), self.n_values - 1)
        return self.low + idx * self.step

    def contains(self, value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(value) or not float(value).is_integer():
            return False
        v = int(value)
        return self.low <= v <= self.high and (v - self.low) % self.step == 0

    def grid_values(self, resolution: int) -> list[Any]:
        if self.n_values <= resolution:
            return [self.low + i * self.step for i in range(self.n_values)]
        if resolution == 1:
            return [self.decode(np.array([0.5]))]
        points = [
            self.low + round(i * (self.n_values - 1) / (resolution - 1)) * self.step
            for i in range(resolution)
        ]
        if self.log:
            # geometric from low to high (Int(1, 1000, log=True) -> 1, 10, 100, 1000), not
            # through the codec, whose half-integer bin edges would skew the low end
            ratio = math.log(self.high) - math.log(self.low)
            points = [
                min(
                    max(round(self.low * math.exp(ratio * i / (resolution - 1))), self.low),
                    self.high,
                )
                for i in range(resolution)
            ]
        return list(dict.fromkeys(points))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step != 1:
            out["step"] = self.step
        if self.when:
            out["when"] = self._when_json()
        return out


def _plain(value: Any) -> Any:
    """A numpy scalar (``np.int64(3)``, ``np.str_("a")``, ``np.bool_(True)``) as the Python
    value it holds, so that it is stored, compared and serialized like one; anything else
    as it is."""
    return value.item() if isinstance(value, np.generic) else value


def _same_choice(a: Any, b: Any) -> bool:
    """Equality that keeps ``1``, ``1.0`` and ``True`` apart."""
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Categorical(Param):
    """One of a fixed list of choices (str, int, float, bool or None), one-hot encoded.

    >>> Categorical(["adam", "sgd"]).index("sgd")
    1
    """

    kind: ClassVar[str] = "categorical"
    choices: tuple[ChoiceValue, ...]

    def __init__(
        self, choices: Sequence[ChoiceValue], *, when: Mapping[str, Any] | None = None
    ) -> None:
        if isinstance(choices, str) or not isinstance(choices, Sequence):
            raise SpaceError(
                f"Categorical: `choices` must be a list or tuple of values, got {choices!r}; "
                "wrap a single value in a list (sets are refused: their order is not stable)"
            )
        choices = tuple(_plain(c) for c in choices)
        if not choices:
            raise SpaceError("Categorical: `choices` is empty; give at least one choice")
        for c in choices:
            if c is not None and not isinstance(c, str | int | float | bool):
                raise SpaceError(
                    f"Categorical: choices must be str, int, float, bool or None, got "
                    f"{c!r} of type {type(c).__name__}"
                )
            if isinstance(c, float) and not math.isfinite(c):
                raise SpaceError(f"Categorical: choices must be finite, got {c!r}")
        for i, a in enumerate(choices):
            for b in choices[i + 1 :]:
                if a == b or _same_choice(a, b):
                    raise SpaceError(
                        f"Categorical: duplicate choices {a!r} and {b!r} (they compare equal); "
                        "every choice must be distinct"
                    )
        object.__setattr__(self, "choices", choices)
        object.__setattr__(self, "when", _freeze_when(when))

    def __repr__(self) -> str:
        extra = f", when={self._when_json()}" if self.when else ""
        return f"Categorical(choices={list(self.choices)!r}{extra})"

    def _typed_choices(self) -> tuple[tuple[str, ChoiceValue], ...]:
        return tuple((type(c).__name__, c) for c in self.choices)

    def __eq__(self, other: object) -> bool:
        # type-aware, like the choices themselves: [0, 1] is not [False, True] nor [0.0, 1.0]
        if not isinstance(other, Categorical):
            return NotImplemented
        return self._typed_choices() == other._typed_choices() and self.when == other.when

    def __hash__(self) -> int:
        return hash((self._typed_choices(), self.when))

    @property
    def n_dims(self) -> int:
        return len(self.choices)

    def index(self, value: Any) -> int:
        """Position of ``value`` among the choices (type-aware: ``1`` is not ``True``)."""
        for i, c in enumerate(self.choices):
            if _same_choice(c, value):
                return i
        for i, c in enumerate(self.choices):  # tolerate e.g. numpy scalars
            if not isinstance(c, bool) and not isinstance(value, bool) and c == value:
                return i
        raise ValueError(f"{value!r} is not one of the choices {list(self.choices)!r}")

    def encode(self, value: Any) -> np.ndarray:
        out = np.zeros(len(self.choices))
        out[self.index(value)] = 1.0
        return out

    def decode(self, u: np.ndarray) -> ChoiceValue:
        arr = np.asarray(u, dtype=float).reshape(-1)
        return self.choices[int(np.argmax(arr))]

    def sample(self, rng: np.random.Generator) -> ChoiceValue:
        return self.choices[int(rng.integers(len(self.choices)))]

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def grid_values(self, resolution: int) -> list[Any]:
        return list(self.choices)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "categorical", "choices": list(self.choices)}
        if self.when:
            out["when"] = self._when_json()
        return out


def param_from_json(data: Mapping[str, Any]) -> Param:
    """Rebuild a parameter from :meth:`Param.to_json` output."""
    if not isinstance(data, Mapping) or "type" not in data:
        raise SpaceError(f"a parameter must be a dict with a 'type' key, got {data!r}")
    kind = data["type"]
    when = data.get("when") or None
    required = {"float": ("low", "high"), "int": ("low", "high"), "categorical": ("choices",)}
    missing = [k for k in required.get(kind, ()) if k not in data]
    if missing:
        raise SpaceError(
            f"a {kind!r} parameter needs {', '.join(map(repr, missing))}, got {dict(data)!r}"
        )
    if kind == "float":
        return Float(
            data["low"], data["high"], bool(data.get("log", False)), data.get("step"), when=when
        )
    if kind == "int":
        return Int(
            data["low"],
            data["high"],
            bool(data.get("log", False)),
            int(data.get("step", 1)),
            when=when,
        )
    if kind == "categorical":
        return Categorical(data["choices"], when=when)
    raise SpaceError(f"unknown parameter type {kind!r}; expected 'float', 'int' or 'categorical'")


class Space(Mapping[str, Param]):
    """An ordered, immutable mapping of parameter names to parameters.

    Conditions may only refer to parameters declared earlier, so configurations are
    built in one pass, and a parameter whose parent is inactive is inactive too.

    >>> s = Space({"x": Float(0, 1), "n": Int(1, 3)})
    >>> s.n_dims
    2
    """

    def __init__(self, params: Mapping[str, Param] | None = None) -> None:
        params = dict(params or {})
        for name, p in params.items():
            if not isinstance(name, str) or not name:
                raise SpaceError(f"parameter names must be non-empty strings, got {name!r}")
            if not isinstance(p, Param):
                raise SpaceError(
                    f"parameter {name!r} must be hpo.Float, hpo.Int or hpo.Categorical, got "
                    f"{p!r}; wrap fixed values as hpo.Categorical([value])"
                )
        seen: dict[str, Param] = {}
        for name, p in params.items():
            for parent, values in p.when:
                if parent == name:
                    raise SpaceError(f"parameter {name!r} cannot be conditional on itself")
                if parent not in seen:
                    where = "declared after it" if parent in params else "not in the space"
                    raise SpaceError(
                        f"parameter {name!r} is conditional on {parent!r}, which is {where}; "
                        "declare the parent parameter first"
                    )
                if isinstance(seen[parent], Float) and seen[parent].step is None:  # type: ignore[attr-defined]
                    raise SpaceError(
                        f"parameter {name!r} is conditional on {parent!r}, a continuous "
                        f"{seen[parent]!r} that never takes one exact value; condition on a "
                        "Categorical, an Int or a Float with a `step`"
                    )
                for v in values:
                    if not seen[parent].contains(v):
                        raise SpaceError(
                            f"parameter {name!r}: condition value {v!r} can never be taken by "
                            f"{parent!r} ({seen[parent]!r})"
                        )
            seen[name] = p
        self._params = seen
        slices: dict[str, slice] = {}
        start = 0
        for name, p in seen.items():
            slices[name] = slice(start, start + p.n_dims)
            start += p.n_dims
        self._slices = slices
        self._n_dims = start

    # --- mapping ---------------------------------------------------------------------
    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return list(self._params.items()) == list(other._params.items())

    def __hash__(self) -> int:
        return hash(tuple(self._params.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self._params.items())
        return f"Space({{{inner}}})"

    # --- structure ---------------------------------------------------------------------
    @property
    def n_dims(self) -> int:
        """Dimension of the unit cube the codec maps to."""
        return self._n_dims

    def dims_of(self, name: str) -> slice:
        """The slice of encoded dimensions that belongs to parameter ``name``."""
        return self._slices[name]

    @property
    def is_conditional(self) -> bool:
        return any(p.when for p in self._params.values())

    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """Whether ``name`` is active given the (partial) configuration ``config``."""
        for parent, values in self._params[name].when:
            if parent not in config or not self.is_active(parent, config):
                return False
            if not any(_condition_match(config[parent], v) for v in values):
                return False
        return True

    def with_param(self, name: str, param: Param) -> Space:
        """A new space with ``param`` appended (used by define-by-run studies)."""
        if name in self._params:
            raise SpaceError(f"parameter {name!r} is already in the space")
        return Space({**self._params, name: param})

    def with_replaced(self, name: str, param: Param) -> Space:
        """A new space with parameter ``name`` redefined as ``param``, in its place (used
        by define-by-run studies whose parameter ranges change: see :func:`hull`)."""
        if name not in self._params:
            raise SpaceError(f"parameter {name!r} is not in the space")
        return Space({**self._params, name: param})

    # --- configurations ------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Config:
        """A configuration drawn uniformly in the encoded space."""
        return self.decode(rng.random(self._n_dims))

    def contains(self, config: Mapping[str, Any]) -> bool:
        """True when every active parameter is present and valid and nothing else is."""
        return not self.violations(config)

    def violations(self, config: Mapping[str, Any]) -> list[str]:
        """Human-readable reasons ``config`` is not in the space (empty when it is)."""
        problems = [f"unknown parameter {k!r}" for k in config if k not in self._params]
        for name, p in self._params.items():
            active = self.is_active(name, config)
            if active and name not in config:
                problems.append(f"missing active parameter {name!r}")
            elif not active and name in config:
                problems.append(f"parameter {name!r} is inactive but present")
            elif active and not p.contains(config[name]):
                problems.append(f"{name}={config[name]!r} is outside {p!r}")
        return problems

    def canonical(self, config: Mapping[str, Any]) -> Config:
        """``config`` in space order with values cast to their parameter's type."""
        out: Config = {}
        for name, p in self._params.items():
            if name in config:
                value = config[name]
                if isinstance(p, Int):
                    value = int(value)
                elif isinstance(p, Float):
                    value = float(value)
                elif isinstance(p, Categorical):
                    value = p.choices[p.index(value)]
                out[name] = value
        return out

    def encode(self, config: Mapping[str, Any], *, fill: float = math.nan) -> np.ndarray:
        """Map a configuration to ``[0, 1]^n_dims``; inactive dimensions get ``fill``."""
        u = np.full(self._n_dims, fill, dtype=float)
        for name, p in self._params.items():
            if name in config and self.is_active(name, config):
                u[self._slices[name]] = p.encode(config[name])
        return u

    def decode(self, u: np.ndarray) -> Config:
        """Map a point of the unit cube to a configuration (inactive parameters dropped)."""
        arr = np.asarray(u, dtype=float).reshape(-1)
        if arr.shape[0] != self._n_dims:
            raise ValueError(f"expected a point with {self._n_dims} dimensions, got {arr.shape[0]}")
        arr = np.where(np.isnan(arr), 0.5, arr)
        config: Config = {}
        for name, p in self._params.items():
            if self.is_active(name, config):
                config[name] = p.decode(arr[self._slices[name]])
        return config

    # --- JSON ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable description; :meth:`from_json` inverts it."""
        return {"params": [{"name": k, **p.to_json()} for k, p in self._params.items()]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> Space:
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, Mapping):
            raise SpaceError(f"a space must be {{'params': [...]}}, got {data!r}")
        items = data.get("params")
        if not isinstance(items, list):
            raise SpaceError(f"a space must be {{'params': [...]}}, got {data!r}")
        params: dict[str, Param] = {}
        for item in items:
            item = dict(item)
            name = item.pop("name", None)
            if not isinstance(name, str):
                raise SpaceError(f"every parameter needs a 'name', got {item!r}")
            params[name] = param_from_json(item)
        return cls(params)


def _condition_match(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):
        return _same_choice(value, expected)
    return bool(value == expected)


def as_space(space: Space | Mapping[str, Param] | None) -> Space | None:
    """Accept a :class:`Space`, a plain dict of parameters, or ``None``."""
    if space is None or isinstance(space, Space):
        return space
    if isinstance(space, Mapping):
        return Space(space)
    raise SpaceError(
        f"`space` must be an hpo.Space or a dict of name -> parameter, got {type(space).__name__}"
    )


def fit_step_high(low: float, high: float, step: float) -> float:
    """The largest ``high' <= high`` that ``step`` divides from ``low``: what Optuna does
    (with a warning) when a define-by-run range is not a whole number of steps, e.g.
    ``fit_step_high(0, 1, 0.3) == 0.9``. ``high`` itself when ``step`` divides it."""
    span = (high - low) / step
    n = round(span)
    if abs(span - n) <= 1e-6 * max(1.0, abs(span)):
        return high
    n = math.floor(span + 1e-9)
    return float(round(low + n * step, 12))


def hull(a: Param, b: Param) -> Param:
    """The smallest parameter holding every value of ``a`` and of ``b``: how a
    define-by-run study records a parameter whose range changes from trial to trial
    (``hull(Int(1, 1), Int(1, 5)) == Int(1, 5)``).

    Both must be of one kind with the same log scale, and categoricals must have the same
    choices (the rules Optuna applies to dynamic ranges); otherwise :class:`SpaceError`.
    Steps are kept when both share one that also divides the hull, else dropped (``Int``
    falls back to ``step=1``). ``a``'s condition is kept."""
    if type(a) is not type(b):
        raise SpaceError(
            f"cannot change a parameter's kind from {a!r} to {b!r}; keep one kind per name"
        )
    when = dict(a.when) or None
    if isinstance(a, Categorical):
        assert isinstance(b, Categorical)
        if a != Categorical(b.choices, when=when):
            raise SpaceError(
                f"categorical choices cannot change from {list(a.choices)!r} to "
                f"{list(b.choices)!r}; keep one list of choices per name"
            )
        return a
    assert isinstance(a, Float | Int) and isinstance(b, Float | Int)
    if a.log != b.log:
        raise SpaceError(f"cannot change a parameter's log scale: {a!r} then {b!r}")
    low, high = min(a.low, b.low), max(a.high, b.high)
    if isinstance(a, Int):
        assert isinstance(b, Int)
        ilow, ihigh = min(a.low, b.low), max(a.high, b.high)
        step = a.step if a.step == b.step and (ihigh - ilow) % a.step == 0 else 1
        step = step if (a.low - ilow) % step == 0 and (b.low - ilow) % step == 0 else 1
        return Int(ilow, ihigh, log=a.log, step=step, when=when)
    fstep = a.step if a.step is not None and a.step == b.step else None
    if fstep is not None:
        for x in (high, a.low, b.low):
            k = (x - low) / fstep
            if abs(k - round(k)) > 1e-6 * max(1.0, abs(k)):
                fstep = None
                break
    return Float(low, high, log=a.log, step=fstep, when=when)
