"""Optuna studies in and out: :func:`import_optuna_study` and :func:`export_optuna_study`.

>>> study = import_optuna_study("sqlite:///optuna.db", "svm")             # doctest: +SKIP
>>> export_optuna_study(study, "sqlite:///copy.db", name="svm-copy")       # doctest: +SKIP
'svm-copy'

What travels: parameters with their distributions (Optuna distributions become the hpo
space and back; a single-valued range such as ``FloatDistribution(1, 1)`` becomes
``Float(1, 1)``, a fixed value; a range that changed between trials becomes the smallest
range holding all of them), values, states (COMPLETE, PRUNED, FAIL <-> FAILED, RUNNING,
WAITING), intermediate values, user attributes, study user attributes, and the trials'
start and end times, in hpo's time fields (``Storage.add_trial`` writes given times; a
trial still RUNNING in Optuna starts now, its Optuna start kept in the user attribute
``optuna:datetime_start``). hpo's extra metrics and error text go to Optuna as the system
attributes ``hpo:metrics`` and ``hpo:error`` and come back on import. A missing Optuna
study raises :class:`~hpo.exceptions.StudyNotFoundError`.

A study whose trials do not all have the same parameters and distributions (conditional,
define-by-run, dynamic ranges) comes in as a define-by-run hpo study holding the union of
the parameters.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hpo.exceptions import StudyNotFoundError, UnsupportedSpaceError
from hpo.space import Param, Space, SpaceError, hull
from hpo.storage import Storage, get_storage
from hpo.study import Study
from hpo.trial import FrozenTrial, TrialState

from ._optuna_space import finite_or_none, from_distribution, snap, to_distribution

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

START, COMPLETE = "optuna:datetime_start", "optuna:datetime_complete"
_OPTUNA_ATTRS = (START, COMPLETE)


# --- Optuna -> hpo -------------------------------------------------------------------------
def import_optuna_study(
    optuna_storage: str | optuna.storages.BaseStorage,
    study_name: str,
    *,
    storage: Storage | str | None = None,
    name: str | None = None,
    searcher: str = "optuna:tpe",
) -> Study:
    """Copy the Optuna study ``study_name`` (from any Optuna storage or URL) into an hpo
    storage as a new study (called ``name``, default the Optuna name) and return it."""
    import optuna

    try:
        source = optuna.load_study(study_name=study_name, storage=optuna_storage)
    except KeyError:
        where = optuna_storage if isinstance(optuna_storage, str) else "the Optuna storage"
        raise StudyNotFoundError(f"no Optuna study named {study_name!r} in {where}") from None
    if len(source.directions) != 1:
        raise ValueError(
            f"Optuna study {study_name!r} has {len(source.directions)} objectives; hpo studies "
            "optimize one"
        )
    trials = source.get_trials(deepcopy=False)
    space = _space_of(trials)
    uniform = all(
        set(t.params) == set(space)
        and all(_param_of(k, d) == space[k] for k, d in t.distributions.items())
        for t in trials
    )
    store = get_storage(storage)
    record = store.create_study(
        name or study_name,
        direction="maximize" if source.direction.name == "MAXIMIZE" else "minimize",
        space=space if uniform else None,
        searcher=searcher,
        user_attrs=dict(source.user_attrs),
    )
    if not uniform:
        store.set_study_space(record.study_id, space)
    for trial in trials:
        _import_trial(store, record.study_id, space, trial)
    return Study(store, store.get_study_by_id(record.study_id))


def _space_of(trials: list[optuna.trial.FrozenTrial]) -> Space:
    """The union of the trials' distributions, in order of first appearance; a parameter
    whose range changed between trials (a dynamic range) gets the smallest range holding
    all of them (:func:`hpo.space.hull`)."""
    params: dict[str, Param] = {}
    for trial in trials:
        for pname, dist in trial.distributions.items():
            param = _param_of(pname, dist)
            seen = params.setdefault(pname, param)
            if seen != param:
                try:
                    params[pname] = hull(seen, param)
                except SpaceError as exc:
                    raise UnsupportedSpaceError(
                        f"parameter {pname!r} has two incompatible distributions in the Optuna "
                        f"study: {exc}"
                    ) from None
    return Space(params)


def _param_of(pname: str, dist: BaseDistribution) -> Param:
    return from_distribution(pname, dist)


def _import_trial(
    store: Storage, study_id: int, space: Space, trial: optuna.trial.FrozenTrial
) -> None:
    import optuna

    params = {k: snap(space[k], v) for k, v in trial.params.items()}
    if trial.state is optuna.trial.TrialState.WAITING:
        store.enqueue_trial(study_id, params)
        return
    steps = {
        int(step): float(reported)
        for step, reported in sorted(trial.intermediate_values.items())
        if finite_or_none(reported) is not None
    }
    if trial.state is not optuna.trial.TrialState.RUNNING:  # finished: stored as it was
        state, value, error = _hpo_outcome(trial)
        metrics = trial.system_attrs.get("hpo:metrics") or {}
        start = _utc(trial.datetime_start)
        end = _utc(trial.datetime_complete) or start
        store.add_trial(
            study_id,
            FrozenTrial(
                number=-1,
                state=state,
                params=params,
                value=value,
                metrics={str(k): finite_or_none(v) for k, v in metrics.items()},
                intermediate_values=steps,
                user_attrs=dict(trial.user_attrs),
                datetime_start=start or end,
                datetime_complete=end,
                error=error,
            ),
        )
        return
    # still running in Optuna: a RUNNING trial here (started now), its start time kept aside
    number = store.create_trial(study_id, params=params).number
    for step, reported in steps.items():
        store.report(study_id, number, step, reported)
    attrs = dict(trial.user_attrs)
    if trial.datetime_start is not None:
        attrs[START] = trial.datetime_start.isoformat()
    for key, attr in attrs.items():
        store.set_trial_user_attr(study_id, number, key, attr)


def _utc(when: datetime | None) -> datetime | None:
    """Optuna's naive local time as timezone-aware UTC (what hpo's storages keep)."""
    return None if when is None else when.astimezone(UTC)


def _hpo_outcome(trial: optuna.trial.FrozenTrial) -> tuple[TrialState, float | None, str | None]:
    import optuna

    error = trial.system_attrs.get("hpo:error")
    value: float | None
    if trial.state is optuna.trial.TrialState.COMPLETE:
        value = trial.value
        if value is None or not math.isfinite(value):
            return TrialState.FAILED, None, error or f"non-finite value {value} in Optuna"
        return TrialState.COMPLETE, float(value), error
    if trial.state is optuna.trial.TrialState.PRUNED:
        last = trial.last_step
        value = trial.value
        if value is None and last is not None:
            value = trial.intermediate_values.get(last)
        return TrialState.PRUNED, finite_or_none(value), error
    return TrialState.FAILED, None, error


# --- hpo -> Optuna -------------------------------------------------------------------------
def export_optuna_study(
    study: Study,
    optuna_storage: str | optuna.storages.BaseStorage,
    *,
    name: str | None = None,
) -> str:
    """Write ``study`` and its trials as a new Optuna study (``name``, default the hpo name)
    in ``optuna_storage``; return the Optuna study's name."""
    import optuna

    target = optuna.create_study(
        storage=optuna_storage,
        study_name=name or study.name,
        direction=_direction(study.direction),
    )
    record = study.storage.get_study_by_id(study.study_id)
    for key, value in record.user_attrs.items():
        target.set_user_attr(key, value)
    target.add_trials([_optuna_trial(study.space, t) for t in study.trials])
    return target.study_name


def _direction(direction: str) -> optuna.study.StudyDirection:
    import optuna

    return optuna.study.StudyDirection[direction.upper()]


def _optuna_trial(space: Space, trial: FrozenTrial) -> optuna.trial.FrozenTrial:
    import optuna

    states = {
        TrialState.COMPLETE: optuna.trial.TrialState.COMPLETE,
        TrialState.PRUNED: optuna.trial.TrialState.PRUNED,
        TrialState.FAILED: optuna.trial.TrialState.FAIL,
        TrialState.RUNNING: optuna.trial.TrialState.RUNNING,
        TrialState.WAITING: optuna.trial.TrialState.WAITING,
    }
    system: dict[str, Any] = {}
    if trial.metrics:
        system["hpo:metrics"] = dict(trial.metrics)
    if trial.error:
        system["hpo:error"] = trial.error
    user = {k: v for k, v in trial.user_attrs.items() if k not in _OPTUNA_ATTRS}
    valued = trial.state in (TrialState.COMPLETE, TrialState.PRUNED)
    return optuna.trial.FrozenTrial(
        number=trial.number,
        state=states[trial.state],
        value=trial.value if valued else None,
        values=None,
        datetime_start=_when(trial.user_attrs.get(START), trial.datetime_start),
        datetime_complete=_when(trial.user_attrs.get(COMPLETE), trial.datetime_complete),
        params=dict(trial.params),
        distributions={k: to_distribution(space[k]) for k in trial.params},
        user_attrs=user,
        system_attrs=system,
        intermediate_values=dict(trial.intermediate_values),
        trial_id=0,
    )


def _when(saved: Any, own: datetime | None) -> datetime | None:
    """Optuna's own time when the trial came from Optuna, else hpo's (timezone-aware UTC)
    as Optuna keeps times: naive, in local time."""
    if isinstance(saved, str):
        return datetime.fromisoformat(saved)
    if own is not None and own.tzinfo is not None:
        return own.astimezone().replace(tzinfo=None)
    return own
