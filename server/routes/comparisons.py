"""Comparisons: plan and run one in the background (a job), list, get (with the job's
state), summary (statistics computed in ``hpo``), delete; and the record-level calls the
HTTP storage makes (``/comparison-records``, members)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from starlette.responses import Response

from hpo.codecs import comparison_record_to_json, comparison_summary_to_json
from hpo.server.errors import json_response
from hpo.server.routes import ERRORS
from hpo.server.schemas import (
    INT32,
    ComparisonCreate,
    ComparisonOut,
    ComparisonRecordCreate,
    ComparisonsOut,
    MemberCreate,
    ValueOut,
)
from hpo.server.state import ServerState, State
from hpo.storage import ComparisonRecord
from hpo.storage.http import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["comparisons"], responses=ERRORS)
ComparisonId = Annotated[int, Path(ge=0, le=INT32, description="the comparison's id")]


def _record_json(state: ServerState, record: ComparisonRecord) -> dict[str, Any]:
    return {**comparison_record_to_json(record), "job": state.jobs.status(record.name)}


def _by_id(state: ServerState, comparison_id: int) -> ComparisonRecord:
    from hpo.exceptions import ComparisonNotFoundError

    for record in state.storage.list_comparisons():
        if record.comparison_id == comparison_id:
            return record
    raise ComparisonNotFoundError(f"no comparison with id {comparison_id}")


@router.post("/comparisons", response_model=ComparisonOut, status_code=201)
async def create_comparison(body: ComparisonCreate, state: State) -> Response:
    """Plan a comparison (searchers x seeds on one problem, ``n_trials`` each) and, with
    ``run``, run it in the background: its studies fill in live, and an unfinished job
    resumes after a server restart. ``problem`` names a built-in problem; ``objective``
    (``module:function``) is refused (403) unless the server allows it."""
    from hpo.compare import plan_comparison
    from hpo.server.jobs import problem_for

    def plan() -> tuple[ComparisonRecord, int]:
        problem, objective = problem_for(body.objective, body.problem, state.config)
        searchers = [
            s if isinstance(s, str) else (s.label, s.searcher, s.kwargs) for s in body.searchers
        ]
        seeds = body.seeds
        existed = False
        if body.name is not None and body.load_if_exists:
            try:
                state.storage.get_comparison(body.name)
                existed = True
            except LookupError:
                pass
        record = plan_comparison(
            problem,
            searchers,
            seeds=seeds,
            n_trials=body.n_trials,
            storage=state.storage,
            name=body.name,
            load_if_exists=body.load_if_exists,
        )
        state.jobs.claim(record)
        if body.run:
            state.jobs.start(record.name, (problem, objective))
        return record, 200 if existed else 201

    record, status = await state.pool.call(plan)
    return json_response(_record_json(state, record), status)


@router.get("/comparisons", response_model=ComparisonsOut)
async def list_comparisons(state: State) -> Response:
    records = await state.pool.call(state.storage.list_comparisons)
    return json_response({"comparisons": [_record_json(state, r) for r in records]})


@router.get("/comparisons/by-name/{name:path}", response_model=ComparisonOut)
async def get_comparison_by_name(name: str, state: State) -> Response:
    record = await state.pool.call(lambda: state.storage.get_comparison(name))
    return json_response(_record_json(state, record))


@router.get("/comparisons/{comparison_id}", response_model=ComparisonOut)
async def get_comparison(comparison_id: ComparisonId, state: State) -> Response:
    """The comparison, its member studies, and its job's state (``running``, ``done``,
    ``failed`` with the error, ``stopped``; ``null`` when this server runs none)."""
    record = await state.pool.call(lambda: _by_id(state, comparison_id))
    return json_response(_record_json(state, record))


@router.get("/comparisons/{comparison_id}/summary")
async def comparison_summary(comparison_id: ComparisonId, state: State) -> Response:
    """The comparison's summary from its stored trials (what
    :func:`hpo.codecs.comparison_summary_to_json` writes): table, best-so-far curves,
    average ranks, normalized regrets, best searcher."""
    from hpo.comparison_result import ComparisonResult

    def summarize() -> dict[str, Any]:
        record = _by_id(state, comparison_id)
        return comparison_summary_to_json(ComparisonResult(state.storage, record))

    return json_response(await state.pool.call(summarize))


@router.delete("/comparisons/{comparison_id}", status_code=204)
async def delete_comparison(comparison_id: ComparisonId, state: State) -> Response:
    """Delete the comparison record and stop its job (its studies stay)."""

    def delete() -> None:
        record = _by_id(state, comparison_id)
        state.jobs.forget(record.name)
        state.storage.delete_comparison(record.name)

    await state.pool.call(delete)
    return Response(status_code=204)


@router.post("/comparison-records", response_model=ComparisonOut, status_code=201)
async def create_comparison_record(body: ComparisonRecordCreate, state: State) -> Response:
    """An empty comparison record (the storage-level call ``hpo.plan_comparison`` makes
    through the HTTP storage); nothing runs."""
    record = await state.pool.call(
        lambda: state.storage.create_comparison(
            body.name,
            problem=body.problem,
            direction=body.direction,
            n_trials=body.n_trials,
            spec=body.spec,
            optimum=body.optimum,
            reference=body.reference,
        )
    )
    return json_response(_record_json(state, record), 201)


@router.post("/comparisons/{comparison_id}/members", response_model=ValueOut, status_code=201)
async def add_member(comparison_id: ComparisonId, body: MemberCreate, state: State) -> Response:
    """Make a study a member of the comparison for ``(label, seed)``."""
    await state.pool.call(
        lambda: state.storage.add_comparison_study(
            comparison_id, body.study_id, label=body.label, seed=body.seed
        )
    )
    return json_response({"value": None}, 201)
