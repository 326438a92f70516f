"""Grid search over an index-addressable grid, conditional spaces included.

Every parameter contributes a finite list of values (:meth:`hpo.space.Param.grid_values`):
categoricals all their choices; integers and stepped floats all their values when there
are at most ``resolution`` of them; otherwise ``resolution`` points evenly spaced in the
encoded space (log-spaced for log scales), endpoints included. The grid is the set of
distinct *active* configurations, so an inactive parameter never multiplies the size.

Points are claimed through the study's shared counter, one index per ask, so parallel
workers and processes sharing a study never evaluate the same point twice; a grid point
already evaluated as an enqueued (or added) trial is skipped, not evaluated again. When every
index has been claimed, ``ask`` raises :class:`~hpo.exceptions.SearchSpaceExhausted` and
``Study.optimize`` ends cleanly.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import numpy as np

from hpo.exceptions import SearchSpaceExhausted
from hpo.searchers.base import Searcher, Suggestion
from hpo.space import Space
from hpo.trial import FrozenTrial

DEFAULT_RESOLUTION = 10


def _key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


def _config_key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


class ParameterGrid:
    """The grid of a space as a sequence: ``len(grid)`` and ``grid[i]`` without building
    the list (``O(d)`` per lookup for unconditional spaces).

    >>> grid = ParameterGrid(Space({"a": Int(0, 2), "b": Categorical(["x", "y"])}))
    >>> len(grid), grid[3]                                   # doctest: +SKIP
    (6, {'a': 1, 'b': 'y'})
    """

    def __init__(self, space: Space, resolution: int = DEFAULT_RESOLUTION) -> None:
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
            raise ValueError(f"`resolution` must be a positive int, got {resolution!r}")
        self.space = space
        self.resolution = resolution
        self.names = list(space)
        self.values = {n: space[n].grid_values(resolution) for n in self.names}
        # controllers_after[i]: parents referenced by parameters at positions >= i
        self._controllers_after: list[tuple[str, ...]] = []
        for i in range(len(self.names) + 1):
            parents: dict[str, None] = {}
            for name in self.names[i:]:
                for parent, _ in space[name].when:
                    parents[parent] = None
            self._controllers_after.append(tuple(parents))
        self._count = lru_cache(maxsize=None)(self._count_uncached)
        self._len = self._completions(0, {})

    def __len__(self) -> int:
        return self._len

    def _completions(self, i: int, config: dict[str, Any]) -> int:
        key = tuple(_key(config.get(c, _ABSENT)) for c in self._controllers_after[i])
        return self._count(i, key, _Frozen(config))

    def _count_uncached(self, i: int, key: tuple[Any, ...], frozen: _Frozen) -> int:
        if i == len(self.names):
            return 1
        config = frozen.config
        name = self.names[i]
        if not self.space.is_active(name, config):
            return self._completions(i + 1, config)
        if name in self._controllers_after[i + 1]:
            return sum(self._completions(i + 1, {**config, name: v}) for v in self.values[name])
        return len(self.values[name]) * self._completions(i + 1, config)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"grid indices are ints, got {index!r}")
        index = int(index)
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(f"grid index {index} out of range for a grid of {self._len} points")
        config: dict[str, Any] = {}
        for i, name in enumerate(self.names):
            if not self.space.is_active(name, config):
                continue
            if name in self._controllers_after[i + 1]:
                for v in self.values[name]:
                    size = self._completions(i + 1, {**config, name: v})
                    if index < size:
                        config[name] = v
                        break
                    index -= size
            else:
                size = self._completions(i + 1, config)
                k, index = divmod(index, size)
                config[name] = self.values[name][k]
        return config


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


class _Frozen:
    """Carries a config through the memoized count without being part of its key."""

    __slots__ = ("config",)

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Frozen)


class GridSearcher(Searcher):
    """Visits every point of :class:`ParameterGrid` once, in order or shuffled.

    ``resolution`` is the number of points per continuous (or large) numeric parameter;
    ``shuffle=True`` visits the grid in a seeded pseudo-random order, which covers the
    space evenly when the budget ends before the grid does.
    """

    name = "grid"

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        resolution: int = DEFAULT_RESOLUTION,
        shuffle: bool = False,
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        self.grid = ParameterGrid(self.space, resolution)
        self.shuffle = bool(shuffle)
        n = len(self.grid)
        rng = np.random.default_rng(seed if seed is not None else 0)
        self._stride, self._offset = 1, 0
        if self.shuffle and n > 1:
            stride = int(rng.integers(1, n))
            while math.gcd(stride, n) != 1:
                stride = stride % (n - 1) + 1
            self._stride, self._offset = stride, int(rng.integers(n))
        self._leftover: list[int] = []
        self._evaluated: set[str] = set()  # configurations evaluated outside the grid's asks

    def __len__(self) -> int:
        return len(self.grid)

    def position(self, index: int) -> int:
        """Grid position visited at the ``index``-th claim (a bijection on the grid)."""
        return (self._stride * index + self._offset) % len(self.grid)

    def _ask(self, n: int) -> list[Suggestion]:
        # Positions claimed by an ask(n) that ran out part-way are handed out first, so a
        # batch that hits the end of the grid loses no point.
        leftover = self._leftover
        positions: list[int] = []
        while len(positions) < n:
            if leftover:
                positions.append(leftover.pop(0))
                continue
            index = self._next_index("point")
            if index >= len(self.grid):
                self._leftover = positions + leftover
                raise SearchSpaceExhausted(
                    f"all {len(self.grid)} grid points have been claimed; raise `resolution` "
                    "for a finer grid, or stop asking"
                )
            position = self.position(index)
            if self._evaluated and _config_key(self.grid[position]) in self._evaluated:
                continue  # already evaluated as an enqueued (or added) trial: skip it
            positions.append(position)
        self._leftover = leftover
        return [Suggestion(self.grid[pos], info={"grid_index": pos}) for pos in positions]

    def _tell(self, trial: FrozenTrial) -> None:
        self._remember(trial)

    def _observe_running(self, trial: FrozenTrial) -> None:
        self._remember(trial)

    def _remember(self, trial: FrozenTrial) -> None:
        """Note a configuration the grid did not propose (enqueued, added by hand), so that
        its grid point is skipped rather than evaluated twice."""
        if trial.suggestion_id is None and not self.space.violations(dict(trial.params)):
            self._evaluated.add(_config_key(self.space.canonical(dict(trial.params))))

    def _state(self) -> dict[str, Any]:
        leftover = self._leftover
        return {"leftover": list(leftover)} if leftover else {}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._leftover = [int(p) for p in state.get("leftover", [])]
