"""Define-by-run for searchers that model the whole configuration (``gp``, ``genetic``).

Such a searcher needs a fixed space, which a define-by-run study does not declare. As
Optuna's GP and CMA-ES samplers do, it models *the space seen so far*:

* **Relative space.** The parameters every COMPLETE trial has (the intersection of their
  spaces), in the order the first of them suggested them, each with the one definition
  its trials used. A parameter whose definition changed between trials (a dynamic range,
  :func:`hpo.space.hull`) or that some complete trial lacks (a conditional branch) is left
  out. The first trial has no relative space.
* **Relative proposals.** At each ask, an inner searcher of the same algorithm, built on
  the relative space and told the trials restricted to it, proposes values for all of its
  parameters at once; the ask (its :class:`~hpo.searchers.base.Suggestion`) carries the
  inner suggestion's id, so the inner searcher's pending asks, constant liar included,
  work as in a declared space. When the trial then calls ``trial.suggest_*`` for one of
  these parameters with the same definition, it gets the proposed value.
* **Independent sampling** for everything else: parameters outside the relative space,
  a definition differing from the one modelled, enqueued trials (no proposal): uniform in
  the encoded space, seeded by ``(seed, trial number, parameter name)``, as ``random`` does.

The inner searcher is rebuilt (and told the stored trials again) when the relative space
changes, which happens only while it shrinks: the intersection never grows. The saved
state keeps the definitions seen and the outstanding proposals (by suggestion id), so a
rebuilt searcher hands out the same values; the inner searcher is rebuilt from the trials.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from hpo.searchers.base import Counter, Searcher, Suggestion
from hpo.space import Param, Space, param_from_json
from hpo.trial import FrozenTrial, TrialState

_MAX_PROPOSALS = 256


def independent_value(seed: int | None, salt: int, number: int, name: str, param: Param) -> Any:
    """A uniform draw for ``name`` in trial ``number``: reproducible per seed, distinct per
    trial and name (``salt`` stands in for the seed of an unseeded searcher)."""
    key = zlib.crc32(name.encode())
    entropy = [seed, number, key] if seed is not None else [salt, number, key, 1]
    return param.sample(np.random.default_rng(entropy))


def _prefixed(counter: Counter, prefix: str, key: str) -> int:
    return counter(f"{prefix}/{key}")


class RelativeSpace:
    """The definitions define-by-run trials used, and the intersection of the COMPLETE
    trials' parameters (see the module docstring)."""

    def __init__(self) -> None:
        self.definitions: dict[str, dict[str, Any] | None] = {}  # None: it changed (dynamic)
        self._names: list[str] | None = None  # parameters of every COMPLETE trial so far

    def observe(self, name: str, param: Param) -> None:
        """Record that a trial suggested ``name`` as ``param``."""
        spec = param.to_json()
        if name not in self.definitions:
            self.definitions[name] = spec
        elif self.definitions[name] != spec:
            self.definitions[name] = None

    def tell(self, trial: FrozenTrial) -> None:
        if trial.state is not TrialState.COMPLETE or trial.value is None:
            return
        if not math.isfinite(trial.value):
            return
        names = list(trial.params)
        self._names = names if self._names is None else [n for n in self._names if n in names]

    def space(self) -> Space:
        """The relative space now: shared parameters with one known definition."""
        params: dict[str, Param] = {}
        for name in self._names or []:
            spec = self.definitions.get(name)
            if spec is not None:
                params[name] = param_from_json(spec)
        return Space(params)


class RelativeSampler:
    """Define-by-run for a model-based searcher (see the module docstring).

    ``make_inner(space, seed)`` builds the same algorithm on a declared space."""

    def __init__(
        self, outer: Searcher, make_inner: Callable[[Space, int | None], Searcher]
    ) -> None:
        self._outer = outer
        self._make_inner = make_inner
        self._salt = outer.seed if outer.seed is not None else int(outer.rng.integers(2**31))
        self.tracker = RelativeSpace()
        self._trials: list[FrozenTrial] = []
        self._inner: Searcher | None = None
        self._inner_space: Space | None = None
        self._proposals: dict[str, dict[str, Any]] = {}  # suggestion id -> relative config

    @property
    def space(self) -> Space:
        """The space the inner searcher models (empty before the first complete trial)."""
        return self._inner_space if self._inner_space is not None else Space()

    # --- the inner searcher -------------------------------------------------------------
    def _inner_for(self, space: Space) -> Searcher:
        if self._inner is None or self._inner_space != space:
            seed = None
            if self._outer.seed is not None:
                seed = int(np.random.SeedSequence([self._outer.seed, 7]).generate_state(1)[0])
            inner = self._make_inner(space, seed)
            counter = self._outer._counter
            if counter is not None:
                inner.bind_counter(functools.partial(_prefixed, counter, "relative"))
            self._inner, self._inner_space = inner, space
            for trial in self._trials:
                self._tell_inner(trial)
        return self._inner

    def _tell_inner(self, trial: FrozenTrial) -> None:
        assert self._inner is not None and self._inner_space is not None
        space = self._inner_space
        if any(name not in trial.params for name in space):
            return  # a trial outside the relative space (a failed branch): nothing to learn
        restricted = {name: trial.params[name] for name in space}
        if space.violations(restricted):
            return  # values from another definition of a parameter
        self._inner.tell(trial.evolve(params=space.canonical(restricted)))

    # --- the searcher's hooks -------------------------------------------------------------
    def ask(self, n: int) -> list[Suggestion]:
        space = self.tracker.space()
        if not len(space):
            return [Suggestion({}, info={"relative": []}) for _ in range(n)]
        out = []
        for s in self._inner_for(space).ask(n):
            self._proposals[s.id] = dict(s.config)
            while len(self._proposals) > _MAX_PROPOSALS:
                del self._proposals[next(iter(self._proposals))]
            out.append(
                Suggestion({}, s.budget, s.parent, {**s.info, "relative": list(space)}, s.id)
            )
        return out

    def observe_running(self, trial: FrozenTrial) -> None:
        """A running trial (another process's, say) becomes a pending point of the inner
        searcher, restricted to the relative space, once it has all of its parameters."""
        space = self._inner_space
        if self._inner is None or space is None or any(n not in trial.params for n in space):
            return
        restricted = {name: trial.params[name] for name in space}
        if not space.violations(restricted):
            self._inner.observe_running(trial.evolve(params=space.canonical(restricted)))

    def tell(self, trial: FrozenTrial) -> None:
        if trial.suggestion_id is not None:
            self._proposals.pop(trial.suggestion_id, None)
        self._trials.append(trial)
        self.tracker.tell(trial)
        if self._inner is not None:
            self._tell_inner(trial)

    def suggest(
        self,
        suggestion_id: str | None,
        number: int,
        name: str,
        param: Param,
    ) -> Any:
        self.tracker.observe(name, param)
        proposal = None if suggestion_id is None else self._proposals.get(suggestion_id)
        same = self.tracker.definitions.get(name) == param.to_json()  # as when proposed
        if proposal is not None and name in proposal and same:
            return proposal[name]
        return independent_value(self._outer.seed, self._salt, number, name, param)

    # --- state --------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "salt": self._salt,
            "definitions": dict(self.tracker.definitions),
            "proposals": [{"id": i, "config": dict(c)} for i, c in self._proposals.items()],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._salt = int(state.get("salt", self._salt))
        self.tracker.definitions = {
            str(k): (None if v is None else dict(v))
            for k, v in state.get("definitions", {}).items()
        }
        self._proposals = {str(e["id"]): dict(e["config"]) for e in state.get("proposals", [])}
