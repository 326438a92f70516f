"""The one extension point for search algorithms.

A searcher proposes configurations (:meth:`Searcher.ask`) and learns from finished trials
(:meth:`Searcher.tell`). The public methods are template methods that do the bookkeeping
(validation against the space, counting, state versioning); an algorithm implements the
small private hooks ``_ask``, ``_tell`` and, optionally, ``_suggest_param``,
``_state`` / ``_load_state``.

Searchers never touch storage. Where several processes share one study, the study binds
a shared counter (:meth:`Searcher.bind_counter`) so that :meth:`Searcher._next_index`
hands out each index once across all of them (the grid claims points this way).

A minimal searcher::

    class Center(Searcher):
        name = "center"

        def _ask(self, n):  # one Suggestion per ask: each carries its own id
            centre = self.space.decode(np.full(self.space.n_dims, 0.5))
            return [Suggestion(dict(centre)) for _ in range(n)]
"""

from __future__ import annotations

import math
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hpo.exceptions import SearcherError
from hpo.space import Param, Space
from hpo.trial import Decision, FrozenTrial, TrialState

Counter = Callable[[str], int]


def new_suggestion_id() -> str:
    """A fresh, globally unique suggestion id (32 hex digits; draws nothing from any
    seeded generator, so seeded searchers stay reproducible)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Suggestion:
    """A configuration to evaluate, with the budget and parent trial where they apply.

    ``id`` names this ask: the driver stores it on the trial it becomes, and ``tell``
    hands the searcher that trial with ``trial.suggestion_id == id``, so a searcher keeps
    its pending asks by id. ``info`` is JSON the searcher wants stored with the trial."""

    config: dict[str, Any]
    budget: float | None = None
    parent: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_suggestion_id)


class Searcher(ABC):
    """Base class of every searcher.

    Subclasses set ``name`` (the registry name) and may set ``supports_define_by_run``
    (they implement ``_suggest_param``), ``state_version``, ``owns_stopping`` and
    ``needs_budget``. ``__init__`` takes the
    space, the direction and the seed, then the searcher's own keyword options; it only
    stores them, so a searcher is rebuilt from ``(name, kwargs, state_dict)``.
    """

    name: ClassVar[str] = ""
    supports_define_by_run: ClassVar[bool] = False
    state_version: ClassVar[int] = 1
    #: decides on intermediate reports itself (``on_report``); refuses a separate stopper
    owns_stopping: ClassVar[bool] = False
    #: needs the study's :class:`~hpo.budget.Budget`, passed as the ``budget`` keyword
    needs_budget: ClassVar[bool] = False

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
    ) -> None:
        if direction not in ("minimize", "maximize"):
            raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
        if isinstance(seed, np.integer):
            seed = int(seed)
        if space is None and not self.supports_define_by_run:
            raise SearcherError(
                f"the {self.name or type(self).__name__!r} searcher needs the whole space up "
                "front; pass space=... to create_study or decorate the objective with "
                "@hpo.objective(space=...)"
            )
        self.space: Space = space if space is not None else Space()
        self.direction = direction
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.n_asked = 0
        self.n_told = 0
        self._counter: Counter | None = None
        self._local_counters: dict[str, int] = {}
        # ask/tell/suggest_param/state are serialized: workers' threads may share a searcher
        self._lock = threading.RLock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # --- public template methods ---------------------------------------------------
    def ask(self, n: int = 1) -> list[Suggestion]:
        """Propose ``n`` configurations to evaluate next (``n`` may be asked again before
        any result comes back). Raises :class:`~hpo.exceptions.SearchSpaceExhausted`
        when nothing new is left."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        n = int(n)
        with self._lock:
            suggestions = self._ask(n)
            self.n_asked += n
        if len(suggestions) != n:
            raise SearcherError(
                f"searcher {self.name!r} returned {len(suggestions)} suggestions for n={n}"
            )
        out = []
        for s in suggestions:
            config = self.space.canonical(s.config) if len(self.space) else dict(s.config)
            problems = self.space.violations(config) if len(self.space) else []
            if problems:
                raise SearcherError(
                    f"searcher {self.name!r} proposed {config!r}, outside the space: "
                    + "; ".join(problems)
                )
            out.append(Suggestion(config, s.budget, s.parent, s.info, s.id))
        return out

    def tell(self, trial: FrozenTrial) -> None:
        """Learn from a finished trial (COMPLETE, PRUNED or FAILED), told once each."""
        if not trial.state.is_finished:
            raise ValueError(
                f"tell() takes finished trials, got trial {trial.number} {trial.state}"
            )
        with self._lock:
            self.n_told += 1
            self._tell(trial)

    def observe_running(self, trial: FrozenTrial) -> None:
        """Learn that ``trial`` is running: one of this searcher's own asks, or one asked
        elsewhere (another process sharing the study, an enqueued configuration). Model
        based searchers treat the others' as pending too, so that processes sharing a
        study do not all propose the same point; the default ignores it. Called before
        asks, possibly several times per trial; ``tell`` follows when it finishes."""
        with self._lock:
            self._observe_running(trial)

    def on_report(
        self, trial: FrozenTrial, step: int, value: float, trials: Mapping[int, FrozenTrial]
    ) -> Decision:
        """Decide on an intermediate report; only searchers that own stopping
        (``owns_stopping = True``: BOHB, PBT) override. ``trials`` maps every trial number
        of the study to its stored snapshot (``trial`` included, with this report)."""
        return Decision.CONTINUE

    def suggest_param(
        self,
        trial_number: int,
        config: dict[str, Any],
        name: str,
        param: Param,
        *,
        suggestion_id: str | None = None,
    ) -> Any:
        """One define-by-run parameter value, given the trial's parameters so far.

        ``suggestion_id`` is the id of the ask the trial answers (``None`` for enqueued
        trials), so a searcher that proposed several parameters at once for that ask
        (``gp``, ``genetic``: the space seen so far) hands out its proposal."""
        if not self.supports_define_by_run:
            raise SearcherError(
                f"the {self.name!r} searcher needs the whole space up front and cannot sample "
                f"{name!r} define-by-run; declare the space with @hpo.objective(space=...) or "
                "use searcher='random'"
            )
        with self._lock:
            value = self._suggest_param_for(suggestion_id, trial_number, config, name, param)
        if not param.contains(value):
            raise SearcherError(f"searcher {self.name!r} proposed {name}={value!r} outside {param}")
        return value

    @property
    def startup_trials(self) -> int:
        """Trials this searcher proposes without its model (random or space-filling start-
        up: TPE's ``n_startup``, the GP's initial design, the genetic first population);
        0 for searchers without a model. A comparison whose budget is within it compares
        start-up designs, not searchers, and says so."""
        return 0

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable, versioned state: only what cannot be rebuilt from trials."""
        with self._lock:
            state: dict[str, Any] = {"version": self.state_version, "searcher": self.name}
            if self._local_counters:
                state["counters"] = dict(self._local_counters)
            state.update(self._state())
            return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version = state.get("version")
        if version != self.state_version:
            raise SearcherError(
                f"cannot load state version {version!r} into searcher {self.name!r} "
                f"(expects version {self.state_version})"
            )
        with self._lock:
            self._local_counters = {str(k): int(v) for k, v in state.get("counters", {}).items()}
            self._load_state(state)

    def bind_counter(self, counter: Counter | None) -> None:
        """Use ``counter`` (shared across processes, from the storage) for indices."""
        self._counter = counter

    # --- helpers for subclasses ----------------------------------------------------
    def _next_index(self, key: str) -> int:
        """0, 1, 2, ... for ``key``; unique across processes when a counter is bound."""
        if self._counter is not None:
            return self._counter(f"{self.name}:{key}")
        with self._lock:
            value = self._local_counters.get(key, 0)
            self._local_counters[key] = value + 1
            return value

    def _loss(self, trial: FrozenTrial) -> float | None:
        """The trial's value as a loss (lower is better), or ``None`` if it has none."""
        if trial.state is not TrialState.COMPLETE or trial.value is None:
            return None
        if not math.isfinite(trial.value):
            return None
        return trial.value if self.direction == "minimize" else -trial.value

    def _rng_for(self, index: int) -> np.random.Generator:
        """A generator for the ``index``-th draw: reproducible per seed and distinct per index,
        so processes sharing a study never repeat each other's draws."""
        entropy = [index] if self.seed is None else [self.seed, index]
        if self.seed is None:
            entropy.append(int(self.rng.integers(2**63)))
        return np.random.default_rng(entropy)

    # --- hooks -------------------------------------------------------------------------
    @abstractmethod
    def _ask(self, n: int) -> list[Suggestion]:
        """Return exactly ``n`` suggestions."""

    def _tell(self, trial: FrozenTrial) -> None:  # noqa: B027 - optional hook
        """Update the model with a finished trial (stateless searchers ignore it)."""

    def _observe_running(self, trial: FrozenTrial) -> None:  # noqa: B027 - optional hook
        """See :meth:`observe_running` (ignored unless overridden)."""

    def _suggest_param(
        self, trial_number: int, config: dict[str, Any], name: str, param: Param
    ) -> Any:
        raise NotImplementedError

    def _suggest_param_for(
        self,
        suggestion_id: str | None,
        trial_number: int,
        config: dict[str, Any],
        name: str,
        param: Param,
    ) -> Any:
        """:meth:`_suggest_param` for a searcher that needs the ask's id (override this)."""
        return self._suggest_param(trial_number, config, name, param)

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        pass
