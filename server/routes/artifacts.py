"""Checkpoints: each trial's latest artifact, uploaded and downloaded as bytes.

``PUT /api/v1/artifacts/<study name>/<trial number>`` keeps the body (at most the
server's ``max_artifact_bytes``; ``413`` beyond) as the trial's checkpoint, replacing the
previous one atomically; ``GET`` answers it (``404`` without one), ``HEAD`` says whether
it exists, ``DELETE`` removes it. The study name is URL-encoded (names may hold ``/``).
The trial must exist. This is the store :class:`hpo.storage.http.HTTPArtifactStore`
reaches, so workers anywhere save and load checkpoints through the server.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi import Request as HTTPRequest
from starlette.responses import Response

from hpo.artifacts import LocalArtifactStore
from hpo.exceptions import TrialNotFoundError
from hpo.server.errors import error_response
from hpo.server.routes import ERRORS
from hpo.server.schemas import INT32
from hpo.server.state import ServerState, State
from hpo.storage.http import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/artifacts", tags=["artifacts"], responses=ERRORS)
Number = Annotated[int, Path(ge=0, le=INT32, description="the trial's number")]
BINARY = "application/octet-stream"


def _check_trial(state: ServerState, study: str, number: int) -> None:
    record = state.storage.get_study(study)
    state.storage.get_trial(record.study_id, number)


def _store(state: ServerState) -> LocalArtifactStore:

    return LocalArtifactStore(state.config.artifacts)


@router.put(
    "/{study:path}/{number}",
    status_code=204,
    openapi_extra={
        "requestBody": {"content": {BINARY: {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def put_artifact(study: str, number: Number, request: HTTPRequest, state: State) -> Response:
    """Keep the body as the trial's latest checkpoint."""
    data = await request.body()

    def save() -> None:
        _check_trial(state, study, number)
        _store(state).save_bytes(study, number, data)

    await state.pool.call(save)
    return Response(status_code=204)


@router.get(
    "/{study:path}/{number}",
    responses={200: {"content": {BINARY: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def get_artifact(study: str, number: Number, state: State) -> Response:
    """The trial's latest checkpoint (404 without one)."""

    def load() -> bytes | None:
        _check_trial(state, study, number)
        try:
            return _store(state).load_bytes(study, number)
        except FileNotFoundError:
            return None

    data = await state.pool.call(load)
    if data is None:
        return error_response(
            "artifact_not_found", "not_found", f"trial {number} of {study!r} has no checkpoint"
        )
    return Response(data, media_type=BINARY)


@router.head("/{study:path}/{number}", include_in_schema=False)
async def head_artifact(study: str, number: Number, state: State) -> Response:
    def exists() -> bool:
        try:
            _check_trial(state, study, number)
        except (TrialNotFoundError, LookupError):
            return False
        return _store(state).exists(study, number)

    return Response(status_code=200 if await state.pool.call(exists) else 404)


@router.delete("/{study:path}/{number}", status_code=204)
async def delete_artifact(study: str, number: Number, state: State) -> Response:
    """Remove the trial's checkpoint (no error when it has none)."""

    def delete() -> None:
        _check_trial(state, study, number)
        _store(state).delete(study, number)

    await state.pool.call(delete)
    return Response(status_code=204)
