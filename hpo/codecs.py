"""JSON codecs for the core's values: what the server answers with and what its HTTP
client rebuilds, so both sides hold the same objects.

Every ``*_to_json`` returns a JSON-compatible value (only ``str``, ``int``, ``float``,
``bool``, ``None``, lists and string-keyed dicts) that ``json.dumps(..., allow_nan=False)``
accepts; every ``*_from_json`` rebuilds an equal object. Conventions:

* datetimes are ISO-8601 strings with their UTC offset (``"2024-05-01T12:00:00+00:00"``);
  a naive datetime is taken as UTC (every backend stores UTC); a missing one is ``None``;
* NaN and infinities are never emitted: they become ``None``. Fields that allow ``None``
  (a trial's ``value``, its ``metrics``) decode it as ``None``; fields that are always
  numbers (intermediate values, curves, table cells, ranks) decode it as NaN;
* enums are their string values (``"COMPLETE"``); integer keys (a trial's steps) are
  decimal strings, turned back into ints;
* decoders ignore keys they do not know and default the optional ones, so a client and
  a server one version apart still understand each other; a missing required key is a
  ``ValueError`` that names it.

>>> from hpo.trial import FrozenTrial, TrialState
>>> t = FrozenTrial(0, TrialState.COMPLETE, {"x": 0.5}, value=0.25,
...                 intermediate_values={1: 0.3})
>>> data = trial_to_json(t)
>>> data["intermediate_values"]
{'1': 0.3}
>>> trial_from_json(data) == t
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.budget import Budget
from hpo.exceptions import error_code, error_from_code, error_kind
from hpo.objective import TrialOutcome
from hpo.space import Param, Space, param_from_json
from hpo.storage.base import ComparisonMember, ComparisonRecord, StudyRecord, StudySummary
from hpo.trial import FrozenTrial, TrialSpec, TrialState

if TYPE_CHECKING:
    import pandas as pd

    from hpo.comparison_result import ComparisonResult, Curves, SearcherCurves

__all__ = [
    "ComparisonSummary",
    "comparison_record_from_json",
    "comparison_record_to_json",
    "comparison_summary_from_json",
    "comparison_summary_to_json",
    "datetime_from_json",
    "datetime_to_json",
    "error_from_json",
    "error_to_json",
    "param_from_json",
    "param_to_json",
    "space_from_json",
    "space_to_json",
    "study_record_from_json",
    "study_record_to_json",
    "study_summary_from_json",
    "study_summary_to_json",
    "to_json_value",
    "trial_from_json",
    "trial_outcome_from_json",
    "trial_outcome_to_json",
    "trial_spec_from_json",
    "trial_spec_to_json",
    "trial_to_json",
]

JSON = dict[str, Any]


# --- building blocks -----------------------------------------------------------------------
def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON: numpy scalars and arrays as Python numbers and lists,
    tuples as lists, NaN and infinities as ``None``, datetimes as ISO-8601; a ``TypeError``
    naming the offending value for anything else.

    >>> to_json_value({"a": (1, float("nan")), "b": np.float64(2.5)})
    {'a': [1, None], 'b': 2.5}
    """
    if isinstance(value, np.generic):  # before float: np.float64 is a float subclass
        return to_json_value(value.item())
    if value is None or type(value) in (str, bool, int):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):  # StrEnum and other subclasses: their plain value
        return str.__str__(value)
    if isinstance(value, bool | int):
        return int(value) if not isinstance(value, bool) else bool(value)
    if isinstance(value, np.ndarray):
        return to_json_value(value.tolist())
    if isinstance(value, datetime):
        return datetime_to_json(value)
    if isinstance(value, Mapping):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str | int | float | bool) or key is None:
                raise TypeError(f"JSON object keys must be strings, got {key!r}")
            out[key if isinstance(key, str) else str(key)] = to_json_value(v)
        return out
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    raise TypeError(f"{value!r} of type {type(value).__name__} cannot be encoded as JSON")


def _number(value: float | None) -> float | None:
    """A finite number, or ``None`` (for ``None``, NaN and infinities)."""
    if value is None:
        return None
    out = to_json_value(value)
    if out is not None and (isinstance(out, bool) or not isinstance(out, int | float)):
        raise TypeError(f"expected a number, got {value!r}")
    return out


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _float_or_nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _require(data: Any, what: str, *keys: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be a JSON object, got {data!r}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{what} needs {', '.join(map(repr, missing))}; got keys {sorted(data)}")
    return data


def datetime_to_json(value: datetime | None) -> str | None:
    """ISO-8601 with the UTC offset (a naive datetime is taken as UTC), or ``None``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def datetime_from_json(value: str | None) -> datetime | None:
    """The timezone-aware datetime of an ISO-8601 string (UTC if it has no offset)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"a datetime must be an ISO-8601 string, got {value!r}")
    out = datetime.fromisoformat(value)
    return out if out.tzinfo is not None else out.replace(tzinfo=UTC)


# --- spaces --------------------------------------------------------------------------------
def param_to_json(param: Param) -> JSON:
    """:meth:`Param.to_json`; :func:`param_from_json` (from :mod:`hpo.space`) inverts it."""
    return param.to_json()


def space_to_json(space: Space) -> JSON:
    """:meth:`Space.to_json`; :func:`space_from_json` inverts it."""
    return space.to_json()


def space_from_json(data: Mapping[str, Any]) -> Space:
    return Space.from_json(data)


# --- trials --------------------------------------------------------------------------------
def trial_to_json(trial: FrozenTrial) -> JSON:
    """Every field of a :class:`~hpo.trial.FrozenTrial` (steps as string keys)."""
    return {
        "number": trial.number,
        "state": trial.state.value,
        "params": to_json_value(trial.params),
        "value": _number(trial.value),
        "metrics": {str(k): _number(v) for k, v in trial.metrics.items()},
        "intermediate_values": {
            str(step): _number(v) for step, v in sorted(trial.intermediate_values.items())
        },
        "user_attrs": to_json_value(trial.user_attrs),
        "datetime_start": datetime_to_json(trial.datetime_start),
        "datetime_complete": datetime_to_json(trial.datetime_complete),
        "error": trial.error,
        "budget": _number(trial.budget),
        "parent": trial.parent,
        "searcher_time": _number(trial.searcher_time),
        "heartbeat": datetime_to_json(trial.heartbeat),
        "suggestion_id": trial.suggestion_id,
        "searcher_info": to_json_value(trial.searcher_info),
    }


def trial_from_json(data: Mapping[str, Any]) -> FrozenTrial:
    """The :class:`~hpo.trial.FrozenTrial` of :func:`trial_to_json`'s output."""
    d = _require(data, "a trial", "number", "state")
    return FrozenTrial(
        number=int(d["number"]),
        state=TrialState(d["state"]),
        params=dict(d.get("params") or {}),
        value=_float_or_none(d.get("value")),
        metrics={str(k): _float_or_none(v) for k, v in (d.get("metrics") or {}).items()},
        intermediate_values={
            int(step): _float_or_nan(v) for step, v in (d.get("intermediate_values") or {}).items()
        },
        user_attrs=dict(d.get("user_attrs") or {}),
        datetime_start=datetime_from_json(d.get("datetime_start")),
        datetime_complete=datetime_from_json(d.get("datetime_complete")),
        error=d.get("error"),
        budget=d.get("budget"),
        parent=d.get("parent"),
        searcher_time=_float_or_none(d.get("searcher_time")),
        heartbeat=datetime_from_json(d.get("heartbeat")),
        suggestion_id=d.get("suggestion_id"),
        searcher_info=dict(d.get("searcher_info") or {}),
    )


def trial_spec_to_json(spec: TrialSpec) -> JSON:
    """What a worker needs to run one trial."""
    return {
        "study_name": spec.study_name,
        "number": spec.number,
        "params": to_json_value(spec.params),
        "budget": _number(spec.budget),
        "parent": spec.parent,
        "checkpoint_root": spec.checkpoint_root,
    }


def trial_spec_from_json(data: Mapping[str, Any]) -> TrialSpec:
    d = _require(data, "a trial spec", "study_name", "number")
    return TrialSpec(
        study_name=str(d["study_name"]),
        number=int(d["number"]),
        params=dict(d.get("params") or {}),
        budget=d.get("budget"),
        parent=d.get("parent"),
        checkpoint_root=d.get("checkpoint_root"),
    )


def trial_outcome_to_json(outcome: TrialOutcome) -> JSON:
    """A trial's outcome; the exception it ``raised`` (if any) is not encoded: its
    ``error`` text is what travels."""
    return {
        "state": outcome.state.value,
        "value": _number(outcome.value),
        "metrics": {str(k): _number(v) for k, v in outcome.metrics.items()},
        "error": outcome.error,
    }


def trial_outcome_from_json(data: Mapping[str, Any]) -> TrialOutcome:
    """The :class:`~hpo.objective.TrialOutcome` (``raised`` is ``None``)."""
    d = _require(data, "a trial outcome", "state")
    return TrialOutcome(
        state=TrialState(d["state"]),
        value=_float_or_none(d.get("value")),
        metrics={str(k): _float_or_none(v) for k, v in (d.get("metrics") or {}).items()},
        error=d.get("error"),
    )


# --- studies -------------------------------------------------------------------------------
def study_record_to_json(record: StudyRecord) -> JSON:
    """A stored study: its definition (space, searcher and options, budget, stopper),
    the searcher's saved state and who drives it."""
    return {
        "study_id": record.study_id,
        "name": record.name,
        "direction": record.direction,
        "space": record.space.to_json(),
        "searcher": record.searcher,
        "searcher_kwargs": to_json_value(record.searcher_kwargs),
        "searcher_state": to_json_value(record.searcher_state),
        "seed": record.seed,
        "metric": record.metric,
        "created_at": datetime_to_json(record.created_at),
        "user_attrs": to_json_value(record.user_attrs),
        "define_by_run": record.define_by_run,
        "budget": record.budget.to_json() if record.budget is not None else None,
        "stopper": record.stopper,
        "stopper_kwargs": to_json_value(record.stopper_kwargs),
        "owner": record.owner,
        "stopped_at": datetime_to_json(record.stopped_at),
    }


def study_record_from_json(data: Mapping[str, Any]) -> StudyRecord:
    d = _require(data, "a study", "study_id", "name", "direction", "searcher")
    budget = d.get("budget")
    return StudyRecord(
        study_id=int(d["study_id"]),
        name=str(d["name"]),
        direction=str(d["direction"]),
        space=Space.from_json(d.get("space") or {"params": []}),
        searcher=str(d["searcher"]),
        searcher_kwargs=dict(d.get("searcher_kwargs") or {}),
        searcher_state=d.get("searcher_state"),
        seed=d.get("seed"),
        metric=d.get("metric"),
        created_at=datetime_from_json(d.get("created_at")),
        user_attrs=dict(d.get("user_attrs") or {}),
        define_by_run=bool(d.get("define_by_run", False)),
        budget=Budget.from_json(budget) if budget is not None else None,
        stopper=d.get("stopper"),
        stopper_kwargs=dict(d.get("stopper_kwargs") or {}),
        owner=d.get("owner"),
        stopped_at=datetime_from_json(d.get("stopped_at")),
    )


def study_summary_to_json(summary: StudySummary) -> JSON:
    """A study at a glance (``n_trials`` is included for readers; decoding ignores it)."""
    return {
        "study_id": summary.study_id,
        "name": summary.name,
        "direction": summary.direction,
        "searcher": summary.searcher,
        "counts": {str(k): int(v) for k, v in summary.counts.items()},
        "n_trials": summary.n_trials,
        "best_value": _number(summary.best_value),
        "best_number": summary.best_number,
        "last_activity": datetime_to_json(summary.last_activity),
        "created_at": datetime_to_json(summary.created_at),
        "owner": summary.owner,
        "stopped_at": datetime_to_json(summary.stopped_at),
    }


def study_summary_from_json(data: Mapping[str, Any]) -> StudySummary:
    d = _require(data, "a study summary", "study_id", "name", "direction", "searcher")
    return StudySummary(
        study_id=int(d["study_id"]),
        name=str(d["name"]),
        direction=str(d["direction"]),
        searcher=str(d["searcher"]),
        counts={str(k): int(v) for k, v in (d.get("counts") or {}).items()},
        best_value=_float_or_none(d.get("best_value")),
        best_number=d.get("best_number"),
        last_activity=datetime_from_json(d.get("last_activity")),
        created_at=datetime_from_json(d.get("created_at")),
        owner=d.get("owner"),
        stopped_at=datetime_from_json(d.get("stopped_at")),
    )


# --- comparisons ---------------------------------------------------------------------------
def comparison_record_to_json(record: ComparisonRecord) -> JSON:
    """A stored comparison with its members (label, seed and study of each)."""
    return {
        "comparison_id": record.comparison_id,
        "name": record.name,
        "problem": record.problem,
        "direction": record.direction,
        "n_trials": record.n_trials,
        "spec": to_json_value(record.spec),
        "optimum": _number(record.optimum),
        "reference": _number(record.reference),
        "created_at": datetime_to_json(record.created_at),
        "members": [
            {"study_id": m.study_id, "study_name": m.study_name, "label": m.label, "seed": m.seed}
            for m in record.members
        ],
    }


def comparison_record_from_json(data: Mapping[str, Any]) -> ComparisonRecord:
    d = _require(data, "a comparison", "comparison_id", "name", "problem", "direction", "n_trials")
    members = []
    for m in d.get("members") or ():
        m = _require(m, "a comparison member", "study_id", "study_name", "label", "seed")
        members.append(
            ComparisonMember(
                int(m["study_id"]), str(m["study_name"]), str(m["label"]), int(m["seed"])
            )
        )
    return ComparisonRecord(
        comparison_id=int(d["comparison_id"]),
        name=str(d["name"]),
        problem=str(d["problem"]),
        direction=str(d["direction"]),
        n_trials=int(d["n_trials"]),
        spec=dict(d.get("spec") or {}),
        optimum=_float_or_none(d.get("optimum")),
        reference=_float_or_none(d.get("reference")),
        created_at=datetime_from_json(d.get("created_at")),
        members=tuple(members),
    )


#: columns of the comparison table that hold text and whole numbers; the others are floats
_TEXT_COLUMNS = ("searcher", "searcher_name")
_INT_COLUMNS = ("n_seeds", "n_trials", "n_failed")
_CURVE_ARRAYS = (
    "runs_by_trial",
    "runs_by_time",
    "median_by_trial",
    "q25_by_trial",
    "q75_by_trial",
    "median_by_time",
    "q25_by_time",
    "q75_by_time",
)


@dataclass(frozen=True, eq=False)
class ComparisonSummary:
    """A comparison's summary as the server computed it (:func:`comparison_summary_from_json`).

    It reads like :class:`~hpo.comparison_result.ComparisonResult`: ``record``,
    ``labels``, ``seeds``, ``best_searcher`` (``None`` without searchers) and
    ``regret_basis`` are attributes; :meth:`table`, :meth:`curves`,
    :meth:`average_ranks` and :meth:`normalized_regrets` (after the whole budget) give
    the same numbers, so code that prints or plots a result works on either.
    """

    record: ComparisonRecord
    labels: tuple[str, ...]
    seeds: tuple[int, ...]
    best_searcher: str | None
    regret_basis: str
    rows: tuple[Mapping[str, Any], ...]
    curve_data: Curves
    ranks: Mapping[str, float]
    regrets: Mapping[str, np.ndarray]

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def direction(self) -> str:
        return self.record.direction

    @property
    def n_trials(self) -> int:
        return self.record.n_trials

    def table(self) -> pd.DataFrame:
        """One row per searcher, the columns and order of ``ComparisonResult.table()``."""
        import pandas as pd

        from hpo.comparison_result import TABLE_COLUMNS

        if not self.rows:
            return pd.DataFrame([], columns=list(TABLE_COLUMNS))
        columns = list(TABLE_COLUMNS) + [k for k in self.rows[0] if k not in TABLE_COLUMNS]
        frame = pd.DataFrame([dict(r) for r in self.rows], columns=columns)
        for col in TABLE_COLUMNS:
            if col in _INT_COLUMNS:
                frame[col] = frame[col].astype("int64")
            elif col not in _TEXT_COLUMNS:
                frame[col] = frame[col].astype(float)
        return frame

    def curves(self) -> Curves:
        """Best-so-far curves of every searcher (numpy arrays, NaN where no value)."""
        return self.curve_data

    def average_ranks(self) -> dict[str, float]:
        return dict(self.ranks)

    def normalized_regrets(self) -> dict[str, np.ndarray]:
        """Each searcher's final normalized regret, one value per seed (sorted seeds)."""
        return {lab: r.copy() for lab, r in self.regrets.items()}


def _array_to_json(a: np.ndarray) -> Any:
    return to_json_value(np.asarray(a).tolist())


def _array_from_json(data: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A float array of ``shape`` (``None`` entries as NaN)."""
    return np.array([] if data is None else data, dtype=float).reshape(shape)


def _curves_to_json(curves: Curves) -> JSON:
    return {
        "direction": curves.direction,
        "trials": _array_to_json(curves.trials),
        "time_grid": _array_to_json(curves.time_grid),
        "searchers": [
            {
                "label": c.label,
                "seeds": [int(s) for s in c.seeds],
                **{key: _array_to_json(getattr(c, key)) for key in _CURVE_ARRAYS},
            }
            for c in curves.searchers.values()
        ],
    }


def _curves_from_json(data: Mapping[str, Any]) -> Curves:
    from hpo.comparison_result import Curves, SearcherCurves

    d = _require(data, "comparison curves", "direction", "trials", "time_grid")
    trials = np.array(d["trials"], dtype=np.int64).reshape(-1)
    grid = np.array(d["time_grid"], dtype=float).reshape(-1)
    searchers: dict[str, SearcherCurves] = {}
    for item in d.get("searchers") or ():
        c = _require(item, "a searcher's curves", "label", "seeds", *_CURVE_ARRAYS)
        seeds = [int(s) for s in c["seeds"]]
        arrays = {}
        for key in _CURVE_ARRAYS:
            width = trials.size if key.endswith("_by_trial") else grid.size
            shape = (len(seeds), width) if key.startswith("runs_") else (width,)
            arrays[key] = _array_from_json(c[key], shape)
        searchers[str(c["label"])] = SearcherCurves(label=str(c["label"]), seeds=seeds, **arrays)
    return Curves(direction=str(d["direction"]), trials=trials, time_grid=grid, searchers=searchers)


def comparison_summary_to_json(result: ComparisonResult | ComparisonSummary) -> JSON:
    """A comparison's summary, computed once (by the server) and sent whole: the record,
    the table (one object per row, NaN as ``None``), the best-so-far curves of every
    searcher (lists, one row per seed), average ranks, the best searcher, the regret basis
    and the final normalized regrets per seed.

    A :class:`ComparisonSummary` encodes to the same JSON it was decoded from.
    """
    labels = list(result.labels)
    rows = result.table().to_dict("records")
    return {
        "record": comparison_record_to_json(result.record),
        "labels": labels,
        "seeds": [int(s) for s in result.seeds],
        "best_searcher": result.best_searcher if labels else None,
        "regret_basis": result.regret_basis,
        "table": [to_json_value(row) for row in rows],
        "curves": _curves_to_json(result.curves()),
        "average_ranks": {str(k): _number(v) for k, v in result.average_ranks().items()},
        "normalized_regrets": {
            str(k): _array_to_json(v) for k, v in result.normalized_regrets().items()
        },
    }


def comparison_summary_from_json(data: Mapping[str, Any]) -> ComparisonSummary:
    """The :class:`ComparisonSummary` of :func:`comparison_summary_to_json`'s output."""
    d = _require(data, "a comparison summary", "record", "labels", "seeds", "curves")
    return ComparisonSummary(
        record=comparison_record_from_json(d["record"]),
        labels=tuple(str(lab) for lab in d["labels"]),
        seeds=tuple(int(s) for s in d["seeds"]),
        best_searcher=d.get("best_searcher"),
        regret_basis=str(d.get("regret_basis", "")),
        rows=tuple(dict(r) for r in d.get("table") or ()),
        curve_data=_curves_from_json(d["curves"]),
        ranks={str(k): _float_or_nan(v) for k, v in (d.get("average_ranks") or {}).items()},
        regrets={
            str(k): _array_from_json(v, (len(v or ()),))
            for k, v in (d.get("normalized_regrets") or {}).items()
        },
    )


# --- errors --------------------------------------------------------------------------------
def error_to_json(exc: BaseException) -> JSON:
    """``{"code", "kind", "message"}`` of an exception (see :mod:`hpo.exceptions`)."""
    return {"code": error_code(exc), "kind": error_kind(exc), "message": str(exc)}


def error_from_json(data: Mapping[str, Any]) -> Exception:
    """The exception :func:`error_to_json` describes (same class where known, same text)."""
    d = _require(data, "an error", "code")
    return error_from_code(str(d["code"]), str(d.get("message", "")))
