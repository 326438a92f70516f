"""Studies: create, list (summaries or records), get (by id or name), delete, the
searcher's saved state, enqueue, export."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from hpo.codecs import (
    study_record_to_json,
    study_summary_to_json,
    to_json_value,
    trial_to_json,
)
from hpo.exceptions import DuplicateStudyError, HPOError
from hpo.server.errors import json_response
from hpo.server.routes import ERRORS
from hpo.server.schemas import (
    INT32,
    EnqueueBody,
    SearcherStateOut,
    StudiesOut,
    StudyCreate,
    StudyOut,
    SummaryOut,
    TrialOut,
    decode,
)
from hpo.server.state import State
from hpo.storage import StudyRecord
from hpo.storage.http import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/studies", tags=["studies"], responses=ERRORS)
StudyId = Annotated[int, Path(ge=0, le=INT32, description="the study's id")]
#: the study attribute holding how often the reaper re-queues a dead worker's trial
RETRIES_ATTR = "hpo:retries"


def _validated(body: StudyCreate) -> dict[str, Any]:
    """The study's definition, checked as ``hpo.create_study`` checks it (the searcher
    and stopper are built once), as keyword arguments of ``Storage.create_study``."""
    from hpo.budget import Budget
    from hpo.searchers import DEFAULT_SEARCHER, make_searcher
    from hpo.space import Space

    space = None if body.space is None else decode(Space.from_json, body.space, "space")
    budget = None if body.budget is None else decode(Budget.from_json, body.budget, "budget")
    searcher = body.searcher or DEFAULT_SEARCHER
    try:
        stopper_kwargs = _check_stopper(
            searcher, budget, body.stopper, body.stopper_kwargs, body.direction, body.seed
        )
        make_searcher(
            searcher,
            space,
            direction=body.direction,
            seed=body.seed,
            budget=budget,
            **body.searcher_kwargs,
        )
    except (HPOError, ValueError, TypeError):
        raise
    except Exception as exc:  # a library the searcher needs, missing on this server
        raise ValueError(f"searcher {searcher!r} cannot run on this server: {exc}") from None
    attrs = dict(body.user_attrs)
    if body.retries:
        attrs[RETRIES_ATTR] = body.retries
    return {
        "direction": body.direction,
        "space": space,
        "searcher": searcher,
        "searcher_kwargs": dict(body.searcher_kwargs),
        "seed": body.seed,
        "metric": body.metric,
        "user_attrs": attrs,
        "budget": budget,
        "stopper": body.stopper,
        "stopper_kwargs": stopper_kwargs,
    }


def _check_stopper(
    searcher: str,
    budget: Any,
    stopper: str | None,
    kwargs: dict[str, Any],
    direction: str,
    seed: int | None,
) -> dict[str, Any]:
    """The stopper's options, after checking it as ``hpo.create_study`` does."""
    from hpo.searchers import searcher_class
    from hpo.stoppers import make_stopper

    if kwargs and stopper is None:
        raise ValueError("stopper_kwargs given without a stopper")
    if stopper is None:
        return {}
    if searcher_class(searcher).owns_stopping:
        raise ValueError(
            f"searcher {searcher!r} decides when to stop trials itself; drop stopper={stopper!r}"
        )
    if budget is None:
        raise ValueError(f"stopper {stopper!r} needs the trials' budget: give `budget`")
    make_stopper(stopper, budget, direction=direction, seed=seed, **kwargs)
    return dict(kwargs)


def _check_compatible(record: StudyRecord, definition: dict[str, Any]) -> None:
    """A stored study reused with ``load_if_exists`` must have the asked definition."""
    space = definition["space"]
    if space is not None and not record.define_by_run and record.space != space:
        raise DuplicateStudyError(f"study {record.name!r} exists with a different space")
    for key in ("direction", "searcher"):
        if getattr(record, key) != definition[key]:
            raise DuplicateStudyError(
                f"study {record.name!r} exists with {key} {getattr(record, key)!r}, not "
                f"{definition[key]!r}"
            )


def _default_name() -> str:
    import time
    import uuid

    return f"study-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


@router.post("", response_model=StudyOut, status_code=201)
async def create_study(body: StudyCreate, state: State) -> Response:
    """Create a study (the server owns it: it drives its searcher). With
    ``load_if_exists`` an existing study of that name and definition is returned (200)."""

    def create() -> tuple[StudyRecord, int]:
        name = body.name or _default_name()
        if not body.load_if_exists:  # a taken name is a conflict whatever the definition
            try:
                state.storage.get_study(name)
            except LookupError:
                pass
            else:
                raise DuplicateStudyError(
                    f"a study named {name!r} already exists; pass load_if_exists=True to "
                    "continue it, or choose another name"
                )
        definition = _validated(body)
        try:
            return state.storage.create_study(name, owner=state.config.owner, **definition), 201
        except DuplicateStudyError:
            if not body.load_if_exists:
                raise
        record = state.storage.get_study(name)
        _check_compatible(record, definition)
        return record, 200

    record, status = await state.pool.call(create)
    return json_response(study_record_to_json(record), status)


@router.get("", response_model=StudiesOut)
async def list_studies(
    state: State,
    view: Literal["summaries", "records"] = "summaries",
    ids: Annotated[str | None, Query(max_length=100_000, pattern=r"^[0-9]+(,[0-9]+)*$")] = None,
) -> Response:
    """Every study (oldest first) as a summary (counts by state, best value, last
    activity: computed from aggregates), or as its full record with ``view=records``;
    ``ids=1,2,3`` picks studies."""
    wanted = None if ids is None else [int(i) for i in ids.split(",") if int(i) <= INT32]

    def read() -> list[dict[str, Any]]:
        if view == "records":
            records = state.storage.list_studies()
            if wanted is not None:
                records = [r for r in records if r.study_id in set(wanted)]
            return [study_record_to_json(r) for r in records]
        return [study_summary_to_json(s) for s in state.storage.study_summaries(wanted)]

    return json_response({"studies": await state.pool.call(read)})


@router.get("/by-name/{name:path}", response_model=StudyOut)
async def get_study_by_name(name: str, state: State) -> Response:
    """The study called ``name`` (URL-encoded; names may contain ``/``)."""
    record = await state.pool.call(lambda: state.storage.get_study(name))
    return json_response(study_record_to_json(record))


@router.get("/{study_id}", response_model=StudyOut)
async def get_study(study_id: StudyId, state: State) -> Response:
    record = await state.pool.call(lambda: state.storage.get_study_by_id(study_id))
    return json_response(study_record_to_json(record))


@router.get("/{study_id}/summary", response_model=SummaryOut)
async def get_summary(study_id: StudyId, state: State) -> Response:
    def read() -> dict[str, Any]:
        found = state.storage.study_summaries([study_id])
        if not found:
            state.storage.get_study_by_id(study_id)  # StudyNotFoundError
        return study_summary_to_json(found[0])

    return json_response(await state.pool.call(read))


@router.delete("/{study_id}", status_code=204)
async def delete_study(study_id: StudyId, state: State) -> Response:
    """Delete a study and its trials (its driver is dropped)."""

    def delete() -> None:
        record = state.storage.get_study_by_id(study_id)
        state.storage.delete_study(record.name)
        state.pool.evict(study_id)

    await state.pool.call(delete, study_id=study_id)
    return Response(status_code=204)


@router.get("/{study_id}/searcher-state", response_model=SearcherStateOut)
async def searcher_state(study_id: StudyId, state: State) -> Response:
    """The searcher's saved state and its version (bumped by every save)."""
    saved = await state.pool.call(lambda: state.storage.load_searcher_state(study_id))
    return json_response({"state": to_json_value(saved.state), "version": saved.version})


@router.post("/{study_id}/enqueue", response_model=TrialOut, status_code=201)
async def enqueue(study_id: StudyId, body: EnqueueBody, state: State) -> Response:
    """Queue a configuration (checked against the space) to run before new suggestions."""
    trial = await state.pool.run(
        study_id, lambda d: d.enqueue(body.params, user_attrs=body.user_attrs)
    )
    return json_response(trial_to_json(trial), 201)


@router.get(
    "/{study_id}/export",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def export(
    study_id: StudyId,
    state: State,
    format: Literal["csv", "json"] = "json",
) -> Response:
    """Every trial: CSV (one flat row per trial) or JSON (``{"study", "trials"}``)."""

    def read() -> tuple[StudyRecord, list[Any]]:
        record = state.storage.get_study_by_id(study_id)
        return record, state.storage.get_trials(study_id).trials

    record, trials = await state.pool.call(read)
    filename = record.name.replace("/", "_").replace('"', "_")
    if format == "json":
        data = {"study": study_record_to_json(record), "trials": [trial_to_json(t) for t in trials]}
        return json_response(
            data, headers={"Content-Disposition": f'attachment; filename="{filename}.json"'}
        )
    from hpo.tables import trials_dataframe

    buffer = io.StringIO()
    trials_dataframe(trials).to_csv(buffer, index=False)
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )
