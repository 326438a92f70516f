"""Translation between hpo parameters and Optuna distributions, both ways.

>>> to_distribution(Float(1e-4, 1.0, log=True))          # doctest: +SKIP
FloatDistribution(high=1.0, log=True, low=0.0001, step=None)

Every hpo parameter has an exact Optuna counterpart (``Float`` -> ``FloatDistribution``,
``Int`` -> ``IntDistribution``, ``Categorical`` -> ``CategoricalDistribution``; choices of
type str, int, float, bool and None are all Optuna choice types). Conditions have no
distribution: they are expressed by suggesting a parameter only when it is active. A
single-valued range (``FloatDistribution(1, 1)``) is hpo's fixed value ``Float(1, 1)``.
An Optuna distribution that hpo cannot hold raises
:class:`~hpo.exceptions.UnsupportedSpaceError`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hpo.exceptions import UnsupportedSpaceError
from hpo.space import Categorical, Float, Int, Param, SpaceError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import Trial as OptunaTrial


def to_distribution(param: Param) -> BaseDistribution:
    """The Optuna distribution of one hpo parameter (its condition aside)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(param, Float):
        return FloatDistribution(param.low, param.high, log=param.log, step=param.step)
    if isinstance(param, Int):
        return IntDistribution(param.low, param.high, log=param.log, step=param.step)
    if isinstance(param, Categorical):
        return CategoricalDistribution(list(param.choices))
    raise UnsupportedSpaceError(f"Optuna has no distribution for {param!r}")


def from_distribution(name: str, dist: BaseDistribution) -> Param:
    """The hpo parameter of an Optuna distribution; a clear error where none exists."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    try:
        if isinstance(dist, FloatDistribution):
            return Float(dist.low, dist.high, log=dist.log, step=dist.step)
        if isinstance(dist, IntDistribution):
            return Int(dist.low, dist.high, log=dist.log, step=dist.step)
        if isinstance(dist, CategoricalDistribution):
            return Categorical(list(dist.choices))
    except SpaceError as exc:
        raise UnsupportedSpaceError(
            f"parameter {name!r}: Optuna's {dist!r} has no hpo equivalent: {exc}"
        ) from exc
    raise UnsupportedSpaceError(
        f"parameter {name!r}: unknown Optuna distribution {type(dist).__name__}"
    )


def snap(param: Param, value: Any) -> Any:
    """``value`` (as Optuna returned it) exactly on hpo's representation: stepped floats on
    the grid hpo uses, integers as ``int``, categorical choices as the very choice object."""
    if isinstance(param, Float):
        v = float(value)
        if param.step is not None:
            k = round((v - param.low) / param.step)
            v = min(param.low + k * param.step, param.high)
        return min(max(v, param.low), param.high)
    if isinstance(param, Int):
        return int(value)
    if isinstance(param, Categorical):
        return param.choices[param.index(value)]
    return value


def suggest(trial: OptunaTrial, name: str, param: Param) -> Any:
    """Ask a live Optuna trial for ``name`` with the distribution of ``param``."""
    v: Any
    if isinstance(param, Float):
        v = trial.suggest_float(name, param.low, param.high, log=param.log, step=param.step)
    elif isinstance(param, Int):
        v = trial.suggest_int(name, param.low, param.high, log=param.log, step=param.step)
    elif isinstance(param, Categorical):
        v = trial.suggest_categorical(name, list(param.choices))
    else:
        raise UnsupportedSpaceError(f"parameter {name!r}: Optuna cannot suggest {param!r}")
    return snap(param, v)


def finite_or_none(value: float | None) -> float | None:
    """``value`` when it is a finite number, else ``None``."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
