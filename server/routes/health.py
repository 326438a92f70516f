"""``/healthz`` (the process answers), ``/readyz`` (the storage answers) and
``/api/v1/info`` (what a client needs to know about this server)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from hpo.server.errors import error_response, json_response, log
from hpo.server.schemas import ErrorOut, HealthOut, InfoOut
from hpo.server.state import State
from hpo.storage.http import API_PREFIX

router = APIRouter()


@router.get("/healthz", response_model=HealthOut, tags=["health"])
async def healthz() -> Response:
    """The process is up (liveness)."""
    return json_response({"status": "ok"})


@router.get(
    "/readyz",
    response_model=HealthOut,
    responses={503: {"model": ErrorOut, "description": "the storage cannot serve"}},
    tags=["health"],
)
async def readyz(state: State) -> Response:
    """The storage answers a read (readiness: route traffic here)."""
    try:
        await state.pool.call(lambda: state.storage.study_summaries([0]))
    except Exception as exc:
        log.warning("not ready: %s", exc)
        return error_response("not_ready", "unavailable", "the storage does not answer", 503)
    return json_response({"status": "ready"})


@router.get(f"{API_PREFIX}/info", response_model=InfoOut, tags=["health"])
async def info(state: State) -> Response:
    """The server's version, owner name, heartbeat settings, auth and limits."""
    import os

    from hpo import __version__

    cfg = state.config
    auth = "none" if not cfg.token else ("all" if cfg.private else "writes")
    return json_response(
        {
            "name": "hpo",
            "version": __version__,
            "owner": cfg.owner,
            "heartbeat_interval": cfg.heartbeat_interval,
            "grace_period": cfg.grace,
            "replica": state.pool.replica,
            "auth": auth,
            "max_body_bytes": cfg.max_body_bytes,
            "max_artifact_bytes": cfg.max_artifact_bytes,
            "pid": os.getpid(),
        }
    )
