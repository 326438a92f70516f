"""Trials of a study: ask, tell, report, suggest, user attributes, the channel,
heartbeats, and incremental reads.

Every call that changes the searcher (ask, a define-by-run suggestion, a report the
stopper or searcher decides on) is one of the study's exclusive calls (see
:mod:`hpo.server.drivers`); tells, heartbeats and reads are not.

Retry safety: an ask carries a ``worker_id`` and a worker with RUNNING trials gets them
back; a tell repeated with the same outcome answers with the stored trial (``409`` only
when the trial finished differently); a report at a step replaces it; suggestions are
idempotent per parameter. A tell-and-ask is a tell (at once) then an ask (exclusive), so
it is exactly as safe to repeat.

Ask, tell and tell-and-ask are also answered by :mod:`hpo.server.fast` (the same
functions below, in front of FastAPI's per-request layers).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from starlette.responses import Response

from hpo.channel import (
    LoadCheckpoint,
    Report,
    Request,
    SaveCheckpoint,
    SetUserAttr,
    Suggest,
    request_from_json,
)
from hpo.codecs import trial_spec_to_json, trial_to_json
from hpo.driver import LocalDriver
from hpo.exceptions import (
    HPOError,
    SearchSpaceExhausted,
    TrialFinishedError,
    error_code,
    error_kind,
)
from hpo.objective import TrialOutcome
from hpo.server.errors import json_response
from hpo.server.routes import ERRORS
from hpo.server.schemas import (
    INT32,
    INT64,
    AskBody,
    AskOut,
    BeatenOut,
    ChannelBody,
    DecisionOut,
    HeartbeatBody,
    ReportBody,
    SuggestBody,
    TellAndAskBody,
    TellAndAskOut,
    TellBody,
    TrialOut,
    TrialsOut,
    UserAttrBody,
    ValueOut,
    WorkerId,
    decode,
)
from hpo.server.state import ServerState, State
from hpo.space import param_from_json
from hpo.storage.http import API_PREFIX
from hpo.trial import FrozenTrial, TrialState

router = APIRouter(prefix=f"{API_PREFIX}/studies/{{study_id}}", tags=["trials"], responses=ERRORS)
StudyId = Annotated[int, Path(ge=0, le=INT32, description="the study's id")]
Number = Annotated[int, Path(ge=0, le=INT32, description="the trial's number")]


def _start(driver: LocalDriver, body: AskBody) -> list[dict[str, Any]]:
    """Open the trials an ask wants; the answer's specs (checkpoints go to the server's
    artifact endpoint: no server path in them)."""
    trials = driver.start_trials(
        body.n, heartbeat=body.heartbeat, worker_id=body.worker_id, resume=not body.new_worker
    )
    return [{**trial_spec_to_json(driver.spec_for(t)), "checkpoint_root": None} for t in trials]


def _same_outcome(stored: FrozenTrial, outcome: TrialOutcome) -> bool:
    """Whether a repeated tell says what the stored trial already says."""
    if stored.state is not outcome.state:
        return False
    if outcome.state is TrialState.FAILED:
        return stored.error == outcome.error
    return stored.value == outcome.value


def _outcome(body: TellBody) -> TrialOutcome:
    outcome = TrialOutcome(TrialState(body.state), body.value, dict(body.metrics), body.error)
    if outcome.state is TrialState.COMPLETE and outcome.value is None:
        raise ValueError("a COMPLETE trial needs its `value` (a finite number)")
    return outcome


def _finish(driver: LocalDriver, number: int, outcome: TrialOutcome) -> FrozenTrial:
    """Store the outcome; a repeated tell with the same outcome answers the stored trial."""
    try:
        return driver.finish_trial(number, outcome)
    except TrialFinishedError:
        stored = driver.storage.get_trial(driver.study_id, number)
        if _same_outcome(stored, outcome):
            return stored
        raise


async def ask_trials(state: ServerState, study_id: int, body: AskBody) -> dict[str, Any]:
    """The answer of ``POST .../ask`` (also served by :mod:`hpo.server.fast`)."""
    specs = await state.pool.run(study_id, lambda d: _start(d, body), exclusive=True)
    return {"trials": specs, "exhausted": len(specs) < body.n}


async def tell_trial(
    state: ServerState, study_id: int, number: int, body: TellBody
) -> dict[str, Any]:
    """The answer of ``POST .../trials/{number}/tell`` (also served by the fast path)."""
    outcome = _outcome(body)
    return trial_to_json(await state.pool.run(study_id, lambda d: _finish(d, number, outcome)))


async def tell_and_ask(
    state: ServerState, study_id: int, number: int, body: TellAndAskBody
) -> dict[str, Any]:
    """The answer of ``POST .../trials/{number}/tell-and-ask``: the tell (run at once, as
    tells are), then the ask (one of the study's exclusive calls)."""
    outcome = _outcome(body.tell)

    def start(driver: LocalDriver) -> dict[str, Any]:
        try:
            specs = _start(driver, body.ask)
        except SearchSpaceExhausted:
            specs = []
        except HPOError as exc:  # the tell is stored: say why no trial was opened
            if error_kind(exc) not in ASK_ERROR_KINDS:
                raise
            failure = {"code": error_code(exc), "kind": error_kind(exc), "message": str(exc)}
            return {"trials": [], "exhausted": False, "ask_error": failure}
        return {"trials": specs, "exhausted": len(specs) < body.ask.n}

    told = await state.pool.run(study_id, lambda d: trial_to_json(_finish(d, number, outcome)))
    return {"trial": told, **await state.pool.run(study_id, start, exclusive=True)}


#: errors of the ask half of a tell-and-ask answered with the stored tell (a retry would
#: fail the same way); others (a database that cannot serve) fail the request, and the
#: client's retry is safe (the tell is idempotent, the ask carries a worker id)
ASK_ERROR_KINDS = frozenset({"conflict", "not_found", "invalid", "forbidden"})


@router.post("/ask", response_model=AskOut)
async def ask(study_id: StudyId, body: AskBody, state: State) -> Response:
    """Open up to ``n`` RUNNING trials (an enqueued configuration first, else the
    searcher's next) and answer what a worker needs to run each. ``exhausted`` is true
    when the searcher ran out (fewer than ``n``); with none at all the answer is ``409``
    ``search_space_exhausted``."""
    return json_response(await ask_trials(state, study_id, body))


@router.post("/trials/{number}/tell", response_model=TrialOut)
async def tell(study_id: StudyId, number: Number, body: TellBody, state: State) -> Response:
    """Finish a trial: COMPLETE with its ``value`` (and ``metrics``), PRUNED, or FAILED
    with its ``error`` text. Repeating the same tell is answered with the stored trial."""
    return json_response(await tell_trial(state, study_id, number, body))


@router.post("/trials/{number}/tell-and-ask", response_model=TellAndAskOut)
async def tell_then_ask(
    study_id: StudyId, number: Number, body: TellAndAskBody, state: State
) -> Response:
    """Finish trial ``number`` (``tell``: as ``POST .../tell``) and open the worker's next
    trials (``ask``: as ``POST .../ask``) in one round trip: what a worker that will run
    another trial sends. The answer holds the stored ``trial`` and the new ``trials``;
    ``exhausted`` when the searcher ran out (no ``409``: the tell is stored). When the
    tell is stored but no trial can be opened (a stopped study, ...), ``ask_error`` says
    why, as an error body. Safe to repeat: the tell is idempotent, and a worker that asks
    again gets its own RUNNING trials back."""
    return json_response(await tell_and_ask(state, study_id, number, body))


async def _answer(state: ServerState, study_id: int, request: Request) -> Any:
    """Answer one channel request from the study's driver."""
    exclusive = isinstance(request, Suggest) or (
        isinstance(request, Report) and state.pool.decides_reports(study_id)
    )

    def answer(driver: LocalDriver) -> Any:
        if isinstance(request, Suggest):
            return driver.suggest(request.number, request.name, request.param)
        if isinstance(request, Report):
            return driver.report(request.number, request.step, request.value).value
        if isinstance(request, SetUserAttr):
            driver.set_user_attr(request.number, request.key, request.value)
            return None
        if isinstance(request, SaveCheckpoint):
            driver.storage.get_trial(study_id, request.number)  # TrialNotFoundError
            driver.save_checkpoint(request.number, request.data)
            return None
        assert isinstance(request, LoadCheckpoint)
        data = driver.load_checkpoint(request.number, request.parent)
        return None if data is None else base64.b64encode(data).decode("ascii")

    return await state.pool.run(study_id, answer, exclusive=exclusive)


@router.post("/trials/{number}/report", response_model=DecisionOut)
async def report(study_id: StudyId, number: Number, body: ReportBody, state: State) -> Response:
    """Store an intermediate value at ``step`` and answer the stopper's (or the
    searcher's) decision: ``CONTINUE`` or ``STOP``."""
    decision = await _answer(state, study_id, Report(number, body.step, body.value))
    return json_response({"decision": decision})


@router.post("/trials/{number}/suggest", response_model=ValueOut)
async def suggest(study_id: StudyId, number: Number, body: SuggestBody, state: State) -> Response:
    """The value of define-by-run parameter ``name`` (``param``: the JSON of a
    :class:`hpo.Float` / ``Int`` / ``Categorical``); asking again returns the same value."""
    param = decode(param_from_json, body.param, "param")
    value = await _answer(state, study_id, Suggest(number, body.name, param))
    return json_response({"value": value})


@router.post("/trials/{number}/user-attrs", response_model=ValueOut)
async def user_attr(
    study_id: StudyId, number: Number, body: UserAttrBody, state: State
) -> Response:
    """Attach a JSON attribute to a running trial."""
    await _answer(state, study_id, SetUserAttr(number, body.key, body.value))
    return json_response({"value": None})


@router.post("/channel", response_model=ValueOut)
async def channel(
    study_id: StudyId,
    body: Annotated[ChannelBody, Body(description="a request of hpo.channel.request_to_json")],
    state: State,
) -> Response:
    """One channel request of a running trial (what remote workers send): ``suggest``
    (answered with the value), ``report`` (the decision), ``user_attr``,
    ``save_checkpoint`` (base64 ``data``) and ``load_checkpoint`` (base64 or null)."""
    from hpo.server.schemas import check_json

    data = body.model_dump()
    check_json(data)
    request = decode(request_from_json, data, "channel request")
    return json_response({"value": await _answer(state, study_id, request)})


@router.post("/heartbeat", response_model=BeatenOut)
async def heartbeat(study_id: StudyId, body: HeartbeatBody, state: State) -> Response:
    """Beat several running trials at once; answers the numbers beaten (finished and
    unknown ones are skipped)."""
    beaten = await state.pool.run(study_id, lambda d: d.heartbeat(body.numbers))
    return json_response({"beaten": beaten})


@router.get("/trials", response_model=TrialsOut)
async def list_trials(
    study_id: StudyId,
    state: State,
    since: Annotated[int, Query(ge=0, le=INT64)] = 0,
    states: Annotated[
        str | None,
        Query(
            pattern=r"^(WAITING|RUNNING|COMPLETE|PRUNED|FAILED)(,(WAITING|RUNNING|COMPLETE|PRUNED|FAILED))*$"
        ),
    ] = None,
    worker_id: WorkerId | None = None,
) -> Response:
    """Trials changed after the ``since`` cursor (all with 0), in number order, and the
    cursor to pass next time: an incremental read, so dashboards and workers never re-read
    everything. ``states`` filters (``COMPLETE,PRUNED``); ``worker_id`` lists that
    worker's RUNNING trials."""
    wanted = None if states is None else [TrialState(s) for s in states.split(",")]

    def read() -> dict[str, Any]:
        storage = state.storage
        if worker_id is not None:
            trials = storage.worker_trials(study_id, worker_id)
            return {"trials": [trial_to_json(t) for t in trials], "cursor": 0}
        batch = storage.get_trials(study_id, since=since, states=wanted)
        return {"trials": [trial_to_json(t) for t in batch.trials], "cursor": batch.cursor}

    return json_response(await state.pool.call(read))


@router.get("/trials/{number}", response_model=TrialOut)
async def get_trial(study_id: StudyId, number: Number, state: State) -> Response:
    trial = await state.pool.call(lambda: state.storage.get_trial(study_id, number))
    return json_response(trial_to_json(trial))
