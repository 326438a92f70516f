"""Request and response bodies of the REST API (pydantic), and the checks every JSON value
from a client passes before it reaches the storage.

Request models validate types, lengths and ranges (out-of-range numbers would overflow a
database column; NUL characters are refused by PostgreSQL), so malformed input is a 422
naming the field. Richer values (spaces, parameters, budgets, outcomes) are decoded by
:mod:`hpo.codecs` and the core's own validation, whose errors are 422 as well.
Response models document the answers; handlers encode them with :mod:`hpo.codecs`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: PostgreSQL INTEGER and BIGINT ranges (ids and trial numbers; seeds and cursors)
INT32 = 2**31 - 1
INT64 = 2**63 - 1
MAX_JSON_DEPTH = 32


def no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


def check_json(value: Any, depth: int = 0) -> Any:
    """``value`` if it is plain JSON every storage keeps: finite numbers, strings without
    NUL, string keys, at most :data:`MAX_JSON_DEPTH` levels."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > INT64:
            raise ValueError(f"integer {value} is out of the 64-bit range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite (no NaN or infinity)")
        return value
    if isinstance(value, str):
        return no_nul(value)
    if isinstance(value, list):
        return [check_json(v, depth + 1) for v in value]
    if isinstance(value, dict):
        for key in value:
            no_nul(key)
        return {k: check_json(v, depth + 1) for k, v in value.items()}
    raise ValueError(f"not a JSON value: {value!r}")


def decode(build: Any, data: Any, what: str) -> Any:
    """``build(data)`` (a codec's decoder), with malformed input as a ``ValueError``
    naming ``what`` (so a client gets a 422, never a 500)."""
    from hpo.exceptions import HPOError

    try:
        return build(data)
    except (HPOError, ValueError):
        raise
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"malformed {what}: {type(exc).__name__}: {exc}") from None


Name = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(no_nul)]
Short = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(no_nul)]
Text = Annotated[str, Field(max_length=1_000_000), AfterValidator(no_nul)]
JSONObject = Annotated[dict[str, Any], AfterValidator(check_json)]
JSONValue = Annotated[Any, AfterValidator(check_json)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=-INT64, le=INT64)]
Count = Annotated[int, Field(ge=0, le=INT32)]
WorkerId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- requests ------------------------------------------------------------------------------
class StudyCreate(_Body):
    """A new study. ``space`` is the JSON of :meth:`hpo.Space.to_json` (``null``: define-
    by-run); ``budget`` that of :meth:`hpo.Budget.to_json`. ``retries``: how many times the
    reaper re-queues a trial whose worker died (``0``: it stays FAILED)."""

    name: Name | None = None
    space: JSONObject | None = None
    direction: Literal["minimize", "maximize"] = "minimize"
    searcher: Short | None = None
    searcher_kwargs: JSONObject = Field(default_factory=dict)
    seed: Seed | None = None
    metric: Short | None = None
    user_attrs: JSONObject = Field(default_factory=dict)
    budget: JSONObject | None = None
    stopper: Short | None = None
    stopper_kwargs: JSONObject = Field(default_factory=dict)
    load_if_exists: bool = False
    retries: Annotated[int, Field(ge=0, le=100)] = 0


class AskBody(_Body):
    """Open ``n`` trials for ``worker_id``; a worker with RUNNING trials gets them back
    first (a retried or repeated ask opens nothing new)."""

    n: Annotated[int, Field(ge=1, le=1000)] = 1
    heartbeat: bool = True
    worker_id: WorkerId | None = None
    #: the client vouches that ``worker_id`` never asked before (a fresh id on its first
    #: attempt): the server skips looking for its trials
    new_worker: bool = False


class TellBody(_Body):
    """A trial's outcome (what :func:`hpo.codecs.trial_outcome_to_json` writes)."""

    state: Literal["COMPLETE", "PRUNED", "FAILED"] = "COMPLETE"
    value: Finite | None = None
    metrics: dict[Short, Finite | None] = Field(default_factory=dict)
    error: Text | None = None


class TellAndAskBody(_Body):
    """Finish a trial (``tell``) and open the worker's next ones (``ask``) in one request."""

    tell: TellBody
    ask: AskBody = Field(default_factory=AskBody)


class ReportBody(_Body):
    step: Count
    value: Finite


class SuggestBody(_Body):
    name: Name
    param: JSONObject


class UserAttrBody(_Body):
    key: Name
    value: JSONValue = None


class EnqueueBody(_Body):
    params: JSONObject
    user_attrs: JSONObject = Field(default_factory=dict)


class HeartbeatBody(_Body):
    numbers: Annotated[list[Count], Field(max_length=100_000)]


class ChannelBody(BaseModel):
    """A channel request (:func:`hpo.channel.request_to_json`): ``type`` is ``suggest``,
    ``report``, ``user_attr``, ``save_checkpoint`` or ``load_checkpoint``."""

    model_config = ConfigDict(extra="allow")
    type: Literal["suggest", "report", "user_attr", "save_checkpoint", "load_checkpoint"]
    number: Count


class SearcherEntry(_Body):
    label: Short
    searcher: Short
    kwargs: JSONObject = Field(default_factory=dict)


class ComparisonCreate(_Body):
    """Plan a comparison and (``run``) run it in the background: a built-in ``problem``
    (``hpo.benchmarks``), or an ``objective`` ``module:function`` the server allows."""

    name: Name | None = None
    problem: Short | None = None
    objective: Short | None = None
    searchers: Annotated[list[Short | SearcherEntry], Field(min_length=1, max_length=64)]
    seeds: (
        Annotated[int, Field(ge=1, le=1000)]
        | Annotated[list[Seed], Field(min_length=1, max_length=1000)]
    ) = 10
    n_trials: Annotated[int, Field(ge=1, le=100_000)]
    load_if_exists: bool = False
    run: bool = True


class ComparisonRecordCreate(_Body):
    """A comparison record as the storage creates it (what ``HTTPStorage`` sends)."""

    name: Name
    problem: Short
    direction: Literal["minimize", "maximize"]
    n_trials: Annotated[int, Field(ge=1, le=INT32)]
    spec: JSONObject = Field(default_factory=dict)
    optimum: Finite | None = None
    reference: Finite | None = None


class MemberCreate(_Body):
    study_id: Count
    label: Short
    seed: Seed


# --- responses -----------------------------------------------------------------------------
class ErrorOut(_Out):
    code: str
    kind: str
    message: str


class TrialOut(_Out):
    number: int
    state: Literal["WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAILED"]
    params: dict[str, Any]
    value: float | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    intermediate_values: dict[str, float | None] = Field(default_factory=dict)
    user_attrs: dict[str, Any] = Field(default_factory=dict)
    datetime_start: str | None = None
    datetime_complete: str | None = None
    error: str | None = None
    budget: float | None = None
    parent: int | None = None
    searcher_time: float | None = None
    heartbeat: str | None = None
    suggestion_id: str | None = None
    searcher_info: dict[str, Any] = Field(default_factory=dict)


class TrialSpecOut(_Out):
    study_name: str
    number: int
    params: dict[str, Any]
    budget: float | None = None
    parent: int | None = None
    checkpoint_root: str | None = None


class AskOut(_Out):
    trials: list[TrialSpecOut]
    exhausted: bool = False


class TellAndAskOut(_Out):
    trial: TrialOut
    trials: list[TrialSpecOut]
    exhausted: bool = False
    ask_error: ErrorOut | None = None


class TrialsOut(_Out):
    trials: list[TrialOut]
    cursor: int


class StudyOut(_Out):
    study_id: int
    name: str
    direction: str
    space: dict[str, Any]
    searcher: str
    searcher_kwargs: dict[str, Any]
    searcher_state: dict[str, Any] | None = None
    seed: int | None = None
    metric: str | None = None
    created_at: str | None = None
    user_attrs: dict[str, Any] = Field(default_factory=dict)
    define_by_run: bool = False
    budget: dict[str, Any] | None = None
    stopper: str | None = None
    stopper_kwargs: dict[str, Any] = Field(default_factory=dict)
    owner: str | None = None


class SummaryOut(_Out):
    study_id: int
    name: str
    direction: str
    searcher: str
    counts: dict[str, int]
    n_trials: int
    best_value: float | None = None
    best_number: int | None = None
    last_activity: str | None = None
    created_at: str | None = None
    owner: str | None = None


class StudiesOut(_Out):
    studies: list[dict[str, Any]]


class SearcherStateOut(_Out):
    state: dict[str, Any] | None = None
    version: int


class DecisionOut(_Out):
    decision: Literal["CONTINUE", "STOP"]


class ValueOut(_Out):
    value: Any = None


class BeatenOut(_Out):
    beaten: list[int]


class MemberOut(_Out):
    study_id: int
    study_name: str
    label: str
    seed: int


class ComparisonOut(_Out):
    comparison_id: int
    name: str
    problem: str
    direction: str
    n_trials: int
    spec: dict[str, Any] = Field(default_factory=dict)
    optimum: float | None = None
    reference: float | None = None
    created_at: str | None = None
    members: list[MemberOut] = Field(default_factory=list)
    job: dict[str, Any] | None = None


class ComparisonsOut(_Out):
    comparisons: list[ComparisonOut]


class InfoOut(_Out):
    name: str
    version: str
    owner: str
    heartbeat_interval: float
    grace_period: float
    replica: bool
    auth: Literal["none", "writes", "all"]
    max_body_bytes: int
    max_artifact_bytes: int
    pid: int


class HealthOut(_Out):
    status: str
