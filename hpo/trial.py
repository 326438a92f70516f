"""Trials: their states, the immutable record (:class:`FrozenTrial`) and the live handle
an objective receives (:class:`Trial`).

A :class:`Trial` talks to its driver through a :class:`TrialChannel`: an in-process call
for the serial and thread executors, a pipe for the process executor, a Ray actor or HTTP
(the protocol is :mod:`hpo.channel`). The objective never sees which.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from hpo.space import Categorical, Float, Int, Param, SpaceError


class Decision(StrEnum):
    """The answer to an intermediate report: go on, or stop the trial (a stopper's or a
    searcher's decision, returned by :meth:`Trial.report` through the channel)."""

    CONTINUE = "CONTINUE"
    STOP = "STOP"


class TrialState(StrEnum):
    """Where a trial is in its life. Only ``COMPLETE`` trials count for ``best_*``."""

    WAITING = "WAITING"  # enqueued, not started
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"  # stopped early; keeps its intermediate values
    FAILED = "FAILED"  # raised, returned NaN/inf, timed out or was interrupted

    @property
    def is_finished(self) -> bool:
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)


@dataclass(frozen=True)
class FrozenTrial:
    """An immutable snapshot of one trial as the storage holds it.

    ``value`` is the objective value (``None`` unless COMPLETE, or PRUNED with a last
    reported value); ``metrics`` the other numbers the objective returned. ``budget``,
    ``parent`` (lineage), ``searcher_time`` (seconds the searcher spent proposing it) and
    ``heartbeat`` serve multi-fidelity, population-based and distributed execution.
    ``suggestion_id`` is the id of the searcher's suggestion this trial evaluates (``None``
    for enqueued trials), by which the searcher matches the result to its ask;
    ``searcher_info`` is what the searcher said about it (PBT's action and donor, the
    portfolio's member, ...).
    """

    number: int
    state: TrialState
    params: dict[str, Any]
    value: float | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    intermediate_values: dict[int, float] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    datetime_start: datetime | None = None
    datetime_complete: datetime | None = None
    error: str | None = None
    budget: float | None = None
    parent: int | None = None
    searcher_time: float | None = None
    heartbeat: datetime | None = None
    suggestion_id: str | None = None
    searcher_info: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds from start to completion, when both are known."""
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return (self.datetime_complete - self.datetime_start).total_seconds()

    @property
    def last_step(self) -> int | None:
        return max(self.intermediate_values) if self.intermediate_values else None

    def evolve(self, **changes: Any) -> FrozenTrial:
        """A copy with some fields changed (the original is untouched)."""
        return replace(self, **changes)


def best_trial(trials: Iterable[FrozenTrial], direction: str) -> FrozenTrial | None:
    """The COMPLETE trial with the best value (ties: the earliest), or ``None``."""
    sign = 1.0 if direction == "minimize" else -1.0
    best: FrozenTrial | None = None
    for t in trials:
        if t.state is not TrialState.COMPLETE or t.value is None:
            continue
        if best is None or (sign * t.value, t.number) < (sign * best.value, best.number):  # type: ignore[operator]
            best = t
    return best


def check_user_attr(key: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is JSON without NaN or infinity (what every
    storage, PostgreSQL's JSON included, can keep)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"user attribute {key!r} must be JSON-serializable without NaN or infinity: {exc}"
        ) from None


def check_value(value: Any, what: str = "objective value") -> float:
    """``value`` as a finite float, or a ``ValueError`` that says what was wrong."""
    if isinstance(value, bool | str | bytes):
        raise ValueError(
            f"the {what} must be a number, got {value!r} of type {type(value).__name__}"
        )
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"the {what} must be a number, got {value!r} of type {type(value).__name__}"
        ) from None
    if not math.isfinite(out):
        raise ValueError(f"the {what} must be finite, got {out}")
    return out


class TrialChannel(ABC):
    """How a running :class:`Trial` reaches its driver (in-process, pipe, actor, HTTP)."""

    @abstractmethod
    def suggest(self, number: int, name: str, param: Param) -> Any:
        """Value of a define-by-run parameter, chosen by the study's searcher."""

    @abstractmethod
    def report(self, number: int, step: int, value: float) -> Decision:
        """Store an intermediate value; return whether the trial goes on."""

    @abstractmethod
    def set_user_attr(self, number: int, key: str, value: Any) -> None:
        """Attach a JSON-serializable attribute to the trial."""

    # Checkpoints default to the local artifact store; a channel whose runner keeps
    # checkpoints elsewhere (Ray Tune, a remote store) overrides these three.
    def checkpoint_dir(self, spec: TrialSpec) -> Path:
        """A directory the trial may write files into (created on demand)."""
        from hpo.artifacts import get_artifact_store

        return get_artifact_store(spec.checkpoint_root).trial_dir(spec.study_name, spec.number)

    def save_checkpoint(self, spec: TrialSpec, obj: Any) -> None:
        """Keep ``obj`` as the trial's latest checkpoint."""
        from hpo.artifacts import get_artifact_store

        get_artifact_store(spec.checkpoint_root).save(spec.study_name, spec.number, obj)

    def load_checkpoint(self, spec: TrialSpec) -> Any:
        """The trial's latest checkpoint, else its parent's, else ``None``."""
        from hpo.artifacts import get_artifact_store

        store = get_artifact_store(spec.checkpoint_root)
        for number in (spec.number, spec.parent):
            if number is not None and store.exists(spec.study_name, number):
                return store.load(spec.study_name, number)
        return None


@dataclass(frozen=True)
class TrialSpec:
    """What a worker needs to run one trial, wherever it runs (picklable)."""

    study_name: str
    number: int
    params: dict[str, Any]
    budget: float | None = None
    parent: int | None = None
    checkpoint_root: str | None = None


class Trial:
    """The live handle an objective receives.

    >>> def objective(trial):                      # define-by-run
    ...     x = trial.suggest_float("x", -5, 5)
    ...     return x ** 2
    """

    def __init__(self, spec: TrialSpec, channel: TrialChannel) -> None:
        self._spec = spec
        self._channel = channel
        self._params: dict[str, Any] = dict(spec.params)
        self._should_stop = False

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self._params!r})"

    @property
    def number(self) -> int:
        return self._spec.number

    @property
    def study_name(self) -> str:
        return self._spec.study_name

    @property
    def params(self) -> dict[str, Any]:
        """The configuration so far (a copy)."""
        return dict(self._params)

    @property
    def budget(self) -> float | None:
        """The most this trial may use (e.g. epochs), or ``None`` for unbudgeted studies."""
        return self._spec.budget

    @property
    def parent(self) -> int | None:
        """The trial this one continues from (population-based search), if any."""
        return self._spec.parent

    # --- define-by-run ----------------------------------------------------------------
    def _suggest(self, name: str, param: Param) -> Any:
        if not isinstance(name, str) or not name:
            raise SpaceError(f"a parameter name must be a non-empty string, got {name!r}")
        if name in self._params:
            value = self._params[name]
            if not param.contains(value):
                raise SpaceError(
                    f"parameter {name!r} already has the value {value!r}, which is outside "
                    f"the newly suggested {param!r}; keep one definition per name"
                )
            return value
        value = self._channel.suggest(self.number, name, param)
        self._params[name] = value
        return value

    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        return float(self._suggest(name, Float(low, high, log=log, step=step)))

    def suggest_int(
        self, name: str, low: int, high: int, *, log: bool = False, step: int = 1
    ) -> int:
        return int(self._suggest(name, Int(low, high, log=log, step=step)))

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        return self._suggest(name, Categorical(choices))

    # --- reporting ---------------------------------------------------------------------
    def report(self, step: int, value: float) -> Decision:
        """Record an intermediate ``value`` at ``step`` (e.g. validation loss per epoch);
        returns the study's decision (also what :meth:`should_stop` answers next)."""
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"`step` must be an int, got {step!r}")
        if step < 0:
            raise ValueError(f"`step` must be >= 0, got {step}")
        v = check_value(value, "reported value")
        decision = Decision(self._channel.report(self.number, step, v))
        self._should_stop = decision is Decision.STOP
        return decision

    def should_stop(self) -> bool:
        """Whether the study asks this trial to stop after its last report."""
        return self._should_stop

    def set_user_attr(self, key: str, value: Any) -> None:
        self._channel.set_user_attr(self.number, key, value)

    # --- checkpoints -------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        """A directory this trial may write files into; created on first access."""
        return self._channel.checkpoint_dir(self._spec)

    def save_checkpoint(self, obj: Any) -> None:
        """Pickle ``obj`` as this trial's latest checkpoint (trusted storage only)."""
        self._channel.save_checkpoint(self._spec, obj)

    def load_checkpoint(self) -> Any:
        """This trial's latest checkpoint, else its parent's, else ``None``."""
        return self._channel.load_checkpoint(self._spec)
