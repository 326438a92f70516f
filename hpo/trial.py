"""Trials: their states, the immutable record (:class:`FrozenTrial`) and the live handle
an objective receives (:class:`Trial`).

A :class:`Trial` talks to its driver through a :class:`TrialChannel`: an in-process call
for the serial and thread executors, a pipe for the process executor, a Ray actor or HTTP
(the protocol is :mod:`hpo.channel`). The objective never sees which.
"""

from __future__ import annotations

import json
import math
import numbers
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from hpo.space import Categorical, Float, Int, Param, SpaceError, fit_step_high


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


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


def finished_trial(
    params: Mapping[str, Any],
    value: float | None = None,
    *,
    state: TrialState | str = TrialState.COMPLETE,
    metrics: Mapping[str, Any] | None = None,
    intermediate_values: Mapping[int, float] | None = None,
    user_attrs: Mapping[str, Any] | None = None,
    datetime_start: datetime | None = None,
    datetime_complete: datetime | None = None,
    error: str | None = None,
) -> FrozenTrial:
    """A finished trial built by hand, validated (what ``Study.add_trial`` stores; its
    ``number`` is ``-1`` until stored). COMPLETE needs a finite ``value``; PRUNED may have
    one; FAILED has none. Times default to now (UTC); naive datetimes are local time."""
    state = TrialState(state)
    if not state.is_finished:
        raise ValueError(
            f"add_trial() stores finished trials (COMPLETE, PRUNED or FAILED), got "
            f"{state.value}; use study.enqueue(config) to evaluate a configuration later"
        )
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of parameter values, got {params!r}")
    if state is TrialState.COMPLETE:
        if value is None:
            raise ValueError("a COMPLETE trial needs its value; pass state='FAILED' without one")
        final: float | None = check_value(value)
    elif state is TrialState.PRUNED and value is not None:
        final = check_value(value)
    else:
        if value is not None:
            raise ValueError(f"a FAILED trial has no value, got value={value!r}")
        final = None
    extra: dict[str, float | None] = {}
    for key, v in (metrics or {}).items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            raise ValueError(f"metric {key!r} must be a number, got {v!r}")
        extra[str(key)] = None if v is None or not _is_real(v) else float(v)  # NaN: missing
    steps: dict[int, float] = {}
    for step, v in (intermediate_values or {}).items():
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"intermediate value steps must be ints >= 0, got {step!r}")
        steps[int(step)] = check_value(v, f"intermediate value at step {step}")
    attrs = dict(user_attrs or {})
    for key, v in attrs.items():
        check_user_attr(key, v)
    now = datetime.now(UTC)
    start, end = _utc(datetime_start) or now, _utc(datetime_complete) or now
    if end < start:
        raise ValueError(
            f"datetime_complete ({end.isoformat()}) is before datetime_start ({start.isoformat()})"
        )
    return FrozenTrial(
        number=-1,
        state=state,
        params=dict(params),
        value=final,
        metrics=extra,
        intermediate_values=steps,
        user_attrs=attrs,
        datetime_start=start,
        datetime_complete=end,
        error=error if state is TrialState.FAILED else None,
    )


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    if not isinstance(when, datetime):
        raise TypeError(f"times must be datetime objects, got {when!r}")
    return when.astimezone(UTC)  # a naive datetime is local time


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

    def __init__(
        self, spec: TrialSpec, channel: TrialChannel, *, devices: Iterable[str] = ()
    ) -> None:
        self._spec = spec
        self._channel = channel
        self._devices = tuple(str(d) for d in devices)
        self._params: dict[str, Any] = dict(spec.params)
        self._should_stop = False
        self._reported: dict[int, float] = {}

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

    @property
    def devices(self) -> tuple[str, ...]:
        """The GPU ids this trial was given (``("0",)``, or one id shared with other
        trials for a fractional GPU); empty on CPU. On Ray, ``CUDA_VISIBLE_DEVICES`` lists
        exactly these, so frameworks see them as ``cuda:0``, ``cuda:1``, ..."""
        return self._devices

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
        """A float in ``[low, high]`` (see :meth:`suggest_int` for the range rules). A
        ``step`` that does not divide ``high - low`` lowers ``high`` to the last whole
        step, with a warning, as Optuna does (declared spaces refuse it instead)."""
        if step is not None and _is_real(low) and _is_real(high) and _is_real(step) and step > 0:
            high = self._fit_step(name, low, high, step)
        return float(self._suggest(name, Float(low, high, log=log, step=step)))

    def suggest_int(
        self, name: str, low: int, high: int, *, log: bool = False, step: int = 1
    ) -> int:
        """An int in ``[low, high]``, both inclusive.

        ``low == high`` is a fixed value (returned without asking the searcher for
        anything to choose). The range may differ from one trial to the next (e.g.
        ``suggest_int("k", 1, n)`` after ``n`` was suggested): the searchers sample it in
        the range this trial gives, and the study's space records the smallest range
        holding every trial's (:func:`hpo.space.hull`). Kind, log scale and categorical
        choices cannot change. A ``step`` that does not divide ``high - low`` lowers
        ``high`` with a warning, as Optuna does."""
        if _is_real(low) and _is_real(high) and _is_real(step) and step >= 1:
            high = int(self._fit_step(name, low, high, step))
        return int(self._suggest(name, Int(low, high, log=log, step=step)))

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        """One of ``choices`` (str, int, float, bool or None; numpy scalars are taken as
        the Python values they hold). The choices of a name cannot change between trials."""
        return self._suggest(name, Categorical(choices))

    @staticmethod
    def _fit_step(name: str, low: Any, high: Any, step: Any) -> Any:
        fitted = fit_step_high(float(low), float(high), float(step))
        if fitted == float(high) or fitted < float(low):
            return high
        warnings.warn(
            f"parameter {name!r}: step={step} does not divide the range [{low}, {high}]; "
            f"using [{low}, {fitted:g}] instead (as Optuna does)",
            UserWarning,
            stacklevel=3,
        )
        return fitted

    def __getitem__(self, key: Any) -> Any:
        raise TypeError(
            f"trial[{key!r}]: this objective was called define-by-run, with a Trial, not a "
            "config dict. Declare its space (@hpo.objective(space={...}) or "
            "create_study(space=...)) to receive a config, or call trial.suggest_*(...) "
            "inside it"
        )

    # --- reporting ---------------------------------------------------------------------
    def report(self, step: int, value: float) -> Decision:
        """Record an intermediate ``value`` at ``step`` (e.g. validation loss per epoch);
        returns the study's decision (also what :meth:`should_stop` answers next).

        The order is ``report(step, value)``; Optuna's is ``report(value, step)``. A float
        step (``report(0.93, 3)``, Optuna's order) raises ``TypeError`` saying so; steps
        are ints (numpy integers too) ``>= 0``. Reporting a step a second time keeps the
        first value and warns, as Optuna does; the decision of the first report stands."""
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            if isinstance(step, numbers.Real):
                raise TypeError(
                    f"`step` must be an int, got {step!r}: hpo's order is "
                    f"trial.report(step, value) (Optuna's is report(value, step)); did you "
                    f"mean trial.report({value!r}, {step!r})?"
                )
            raise TypeError(f"`step` must be an int, got {step!r} of type {type(step).__name__}")
        step = int(step)
        if step < 0:
            raise ValueError(f"`step` must be >= 0, got {step}")
        v = check_value(value, "reported value")
        if step in self._reported:
            warnings.warn(
                f"trial {self.number} already reported step {step} (value "
                f"{self._reported[step]:g}); the new value {v:g} is ignored",
                UserWarning,
                stacklevel=2,
            )
            return Decision.STOP if self._should_stop else Decision.CONTINUE
        decision = Decision(self._channel.report(self.number, step, v))
        self._reported[step] = v
        self._should_stop = decision is Decision.STOP
        return decision

    @property
    def intermediate_values(self) -> dict[int, float]:
        """The values this trial reported, by step (a copy)."""
        return dict(self._reported)

    @property
    def last_reported_value(self) -> float | None:
        """The value reported at the largest step, or ``None`` before any report (what a
        PRUNED trial stores as its value, as Optuna does)."""
        return self._reported[max(self._reported)] if self._reported else None

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
