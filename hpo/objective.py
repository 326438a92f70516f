"""The ``@hpo.objective`` decorator and the one place objectives are invoked.

Three call styles are accepted:

* ``f(config)`` — a dict of parameter values (needs a space);
* ``f(config, trial)`` — the same plus the live :class:`~hpo.trial.Trial` (for
  ``report``, ``should_stop`` and checkpoints);
* ``f(trial)`` — define-by-run: ``trial.suggest_float(...)`` and friends. Chosen when the
  single argument is named ``trial``, or the objective has no space and its argument is
  not named like a configuration (``config``, ``cfg``, ``params``, ...: see
  :data:`CONFIG_NAMES`); such an objective without a space is refused before anything is
  stored, with a message saying to declare the space.

The objective returns a number, or a dict of metrics in which ``metric`` names the
objective value; the other metrics are stored with the trial.

>>> @objective(space={"x": Float(-5, 5)}, direction="minimize")
... def sphere(config):
...     return config["x"] ** 2
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from hpo.budget import Budget, as_budget
from hpo.exceptions import TrialPruned
from hpo.space import Param, Space, as_space
from hpo.trial import Trial, TrialState, check_value

Style = Literal["config", "config_trial", "trial"]


def _positional_arity(func: Callable[..., Any]) -> tuple[int, list[str]]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return 1, []
    names = [
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values()) and len(names) < 2:
        return 2, names
    return len(names), names


def call_style(func: Callable[..., Any], has_space: bool) -> Style:
    """How ``func`` wants to be called (see the module docstring)."""
    arity, names = _positional_arity(func)
    if arity >= 2:
        return "config_trial"
    if arity == 0:
        raise TypeError(
            f"objective {getattr(func, '__name__', func)!r} takes no arguments; it must take "
            "`config`, `(config, trial)` or `trial`"
        )
    if names[:1] == ["trial"]:
        return "trial"
    if has_space or (names[:1] and names[0] in CONFIG_NAMES):
        return "config"
    return "trial"


#: names of a single argument that say "a config dict", whether or not a space is known:
#: such an objective is never called define-by-run (without a space it is refused with a
#: message, rather than failing every trial on ``config["x"]``)
CONFIG_NAMES = frozenset(
    {"config", "cfg", "conf", "configuration", "params", "hparams", "hyperparameters"}
)


class Objective:
    """A function bound to its space, direction and metric; still callable directly."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        space: Space | Mapping[str, Param] | None = None,
        direction: str | None = None,
        metric: str | None = None,
        budget: Budget | tuple[str, float, float] | None = None,
    ) -> None:
        if not callable(func):
            raise TypeError(f"an objective must be callable, got {func!r}")
        if direction is not None and direction not in ("minimize", "maximize"):
            raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
        if metric is not None and (not isinstance(metric, str) or not metric):
            raise ValueError(f"metric must be a non-empty string naming a metric, got {metric!r}")
        self.func = func
        self.space = as_space(space)
        self.direction = direction
        self.metric = metric
        self.budget = as_budget(budget)
        self.style: Style = call_style(func, self.space is not None)
        if self.budget is not None and self.style == "config":
            raise ValueError(
                f"objective {self.name!r} has a budget but takes only `config`; take "
                "`(config, trial)` to read trial.budget and call trial.report(step, value)"
            )
        functools.update_wrapper(self, func)

    @property
    def name(self) -> str:
        return getattr(self.func, "__qualname__", None) or repr(self.func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        budget = f", budget={self.budget!r}" if self.budget is not None else ""
        return (
            f"Objective({self.name}, direction={self.direction!r}, metric={self.metric!r}{budget})"
        )

    def with_metric(self, metric: str | None) -> Objective:
        """A copy whose ``metric`` names the objective value (e.g. the study's)."""
        out = Objective.__new__(Objective)  # not copy.copy: __reduce__ may name self
        out.__dict__.update(self.__dict__)
        out.metric = metric
        return out

    def _parts(self) -> tuple[Any, ...]:
        return (
            self.space.to_json() if self.space is not None else None,
            self.direction,
            self.metric,
            self.budget.to_json() if self.budget is not None else None,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # A decorated module-level function is pickled by reference to the module
        # attribute (which is this Objective), a variant of one (another metric) by that
        # reference and its parts, anything else by its function and parts.
        module = getattr(self.func, "__module__", None)
        qualname = getattr(self.func, "__qualname__", "")
        if module and "<locals>" not in qualname:
            try:
                target = _import_attr(module, qualname)
            except (ImportError, AttributeError):
                target = None
            if target is self:
                return (_import_attr, (module, qualname))
            if isinstance(target, Objective) and target.func is self.func:
                return (_variant, (module, qualname, *self._parts()))
        return (_rebuild, (self.func, *self._parts()))


def _import_attr(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _variant(module: str, qualname: str, *parts: Any) -> Objective:
    """A variant of the decorated objective at ``module.qualname`` (see ``__reduce__``)."""
    target = _import_attr(module, qualname)
    return _rebuild(target.func, *parts)


def _rebuild(
    func: Callable[..., Any],
    space: dict[str, Any] | None,
    direction: str | None,
    metric: str | None,
    budget: dict[str, Any] | None = None,
) -> Objective:
    if isinstance(func, Objective):
        return func
    return Objective(
        func,
        space=Space.from_json(space) if space is not None else None,
        direction=direction,
        metric=metric,
        budget=Budget.from_json(budget) if budget is not None else None,
    )


@overload
def objective(func: Callable[..., Any], /) -> Objective: ...
@overload
def objective(
    *,
    space: Space | Mapping[str, Param] | None = None,
    direction: str | None = None,
    metric: str | None = None,
    budget: Budget | tuple[str, float, float] | None = None,
) -> Callable[[Callable[..., Any]], Objective]: ...
def objective(
    func: Callable[..., Any] | None = None,
    /,
    *,
    space: Space | Mapping[str, Param] | None = None,
    direction: str | None = None,
    metric: str | None = None,
    budget: Budget | tuple[str, float, float] | None = None,
) -> Objective | Callable[[Callable[..., Any]], Objective]:
    """Decorate a function as an objective (``direction`` defaults to minimize at study
    creation when neither the decorator nor ``create_study`` names one). ``budget``
    (:class:`hpo.Budget`) makes it multi-fidelity: it reads ``trial.budget``, reports with
    ``trial.report(step, value)`` and returns early when ``trial.should_stop()``."""
    if func is not None:
        return Objective(func)

    def deco(f: Callable[..., Any]) -> Objective:
        return Objective(f, space=space, direction=direction, metric=metric, budget=budget)

    return deco


def as_objective(func: Callable[..., Any] | Objective, space: Space | None) -> Objective:
    """Wrap a plain function (given a study's space), or return an Objective as is."""
    if isinstance(func, Objective):
        return func
    if not callable(func):
        raise TypeError(f"an objective must be callable, got {func!r}")
    obj = Objective.__new__(Objective)
    obj.func = func
    obj.space = space if space is not None and len(space) else None
    obj.direction = None
    obj.metric = None
    obj.budget = None
    obj.style = call_style(func, obj.space is not None)
    return obj


@dataclass(frozen=True)
class TrialOutcome:
    """What evaluating an objective produced, ready to be told to the study (picklable)."""

    state: TrialState
    value: float | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None
    raised: BaseException | None = None  # kept to re-raise exceptions outside ``catch``


def outcome_from_result(
    result: Any, metric: str | None, pruned: bool = False, last: float | None = None
) -> TrialOutcome:
    """Turn an objective's return value into an outcome (FAILED with a reason if invalid).

    A trial the study asked to stop (``pruned``) stays PRUNED whatever it returns: a
    missing, NaN or infinite value (a diverged run) becomes ``last``, its last reported
    value."""
    state = TrialState.PRUNED if pruned else TrialState.COMPLETE
    metrics: dict[str, float | None] = {}
    if isinstance(result, Mapping):
        for key, v in result.items():
            if v is None and key != metric:  # an extra metric this trial has no value for
                metrics[str(key)] = None
                continue
            try:
                f = float(v)
            except (TypeError, ValueError):
                return TrialOutcome(
                    TrialState.FAILED,
                    error=f"metric {key!r} must be a number, got {v!r} of type {type(v).__name__}",
                )
            metrics[str(key)] = f if math.isfinite(f) else None
        if metric is None:
            return TrialOutcome(
                TrialState.FAILED,
                metrics=metrics,
                error="the objective returned a dict of metrics but no `metric` names the "
                f"objective value; pass metric=... (one of {sorted(metrics)})",
            )
        if metric not in result:
            return TrialOutcome(
                TrialState.FAILED,
                metrics=metrics,
                error=f"the objective's result has no metric {metric!r} (the objective value); "
                f"it returned {sorted(metrics)}",
            )
        raw = result[metric]
        metrics.pop(metric, None)
    else:
        if result is None and not pruned:
            return TrialOutcome(
                TrialState.FAILED,
                error="the objective returned None; return a number or a dict of metrics",
            )
        raw = result
    try:
        value = check_value(raw)
    except ValueError as exc:
        if pruned:  # stopped early: the last report stands for the value
            return TrialOutcome(TrialState.PRUNED, value=last, metrics=metrics)
        return TrialOutcome(TrialState.FAILED, metrics=metrics, error=str(exc))
    return TrialOutcome(state, value=value, metrics=metrics)


def outcome_from_tell(
    value: float | Mapping[str, Any] | None,
    *,
    metrics: Mapping[str, Any] | None = None,
    state: TrialState | str | None = None,
    error: str | None = None,
    metric: str | None = None,
    number: int | None = None,
) -> TrialOutcome:
    """The outcome of a hand-told trial (``study.tell``), validated.

    ``state`` defaults to COMPLETE, which needs a ``value`` (a number, or a dict of
    metrics naming ``metric``); an invalid value makes the outcome FAILED with the reason.
    Extra ``metrics`` must be numbers (``None``, NaN and infinities are stored as missing).
    Raises ``ValueError`` for a COMPLETE tell without a value, or an unfinished state."""
    which = "the trial" if number is None else f"trial {number}"
    state = TrialState(state) if state is not None else TrialState.COMPLETE
    extra = {str(k): _metric_or_missing(k, v) for k, v in (metrics or {}).items()}
    final: float | None = None
    if isinstance(value, Mapping):
        outcome = outcome_from_result(value, metric, pruned=state is TrialState.PRUNED)
        if state is not TrialState.FAILED:
            state, error = outcome.state, outcome.error or error
        final = outcome.value
        extra = {**outcome.metrics, **extra}
    elif state is TrialState.COMPLETE:
        if value is None:
            raise ValueError(
                f"tell() needs a value to complete {which}; pass "
                "state='FAILED' or state='PRUNED' for a trial without one"
            )
        try:
            final = check_value(value)
        except ValueError as exc:
            state, error = TrialState.FAILED, str(exc)
    elif state is TrialState.PRUNED and value is not None:
        try:
            final = check_value(value)
        except ValueError:
            final = None
    elif not state.is_finished:
        raise ValueError(
            f"tell() finishes trials: state must be COMPLETE, PRUNED or FAILED, got {state.value}"
        )
    if state is TrialState.FAILED:
        final = None
    return TrialOutcome(state, value=final, metrics=extra, error=error)


def _metric_or_missing(key: Any, v: Any) -> float | None:
    """A metric as a finite float, ``None`` when missing (None, NaN, infinite)."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"metric {key!r} must be a number, got {v!r}") from None
    return f if math.isfinite(f) else None


def evaluate(
    objective: Objective,
    trial: Trial,
    catch: tuple[type[BaseException], ...] = (Exception,),
) -> TrialOutcome:
    """Call ``objective`` on ``trial`` and capture the outcome.

    Exceptions in ``catch`` make the trial FAILED with the traceback stored;
    :class:`~hpo.exceptions.TrialPruned` makes it PRUNED; other exceptions are
    returned in ``raised`` (the trial is FAILED) so the caller can re-raise them.
    """
    try:
        if objective.style == "config":
            result = objective.func(trial.params)
        elif objective.style == "config_trial":
            result = objective.func(trial.params, trial)
        else:
            result = objective.func(trial)
    except TrialPruned:  # stored with the last reported value, as Optuna does
        return TrialOutcome(TrialState.PRUNED, value=getattr(trial, "last_reported_value", None))
    except catch as exc:
        return TrialOutcome(TrialState.FAILED, error=_format_error(exc))
    except Exception as exc:
        return TrialOutcome(TrialState.FAILED, error=_format_error(exc), raised=exc)
    last = getattr(trial, "last_reported_value", None)
    return outcome_from_result(result, objective.metric, pruned=trial.should_stop(), last=last)


def _format_error(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).rstrip()
