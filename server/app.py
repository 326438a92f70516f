"""The server application: ``create_app(storage, ...)`` wires one router per resource.

>>> from hpo.server.app import create_app
>>> app = create_app("sqlite:///hpo.db", token="s3cret-token")     # doctest: +SKIP
>>> # uvicorn.run(app, host="127.0.0.1", port=8000)

``hpo server`` serves it with uvicorn (``--workers N`` processes build it from the
environment through :func:`app_from_env`). OpenAPI docs at ``/docs``, the schema at
``/openapi.json``, probes at ``/healthz`` and ``/readyz``, the API under ``/api/v1``:

================================================  =================================
``POST /api/v1/studies``                          create (``load_if_exists``)
``GET /api/v1/studies``                           summaries (``view=records``)
``GET /api/v1/studies/{id}``, ``/by-name/{name}``  one study
``DELETE /api/v1/studies/{id}``                   delete
``POST /api/v1/studies/{id}/ask``                 open trials (worker id, ``n``)
``POST .../trials/{n}/tell``                      finish a trial
``POST .../trials/{n}/tell-and-ask``              finish it and open the next
``POST .../trials/{n}/report``                    intermediate value -> decision
``POST .../trials/{n}/suggest``                   define-by-run parameter
``POST .../trials/{n}/user-attrs``                attribute
``POST .../channel``                              any channel request
``POST .../enqueue``, ``POST .../heartbeat``      queue a config; beat trials
``GET .../trials?since=``, ``GET .../trials/{n}``  incremental reads
``GET .../export?format=csv|json``                export
``PUT|GET|DELETE /api/v1/artifacts/{study}/{n}``  checkpoints
``POST|GET /api/v1/comparisons``, ``.../summary``  comparison jobs and statistics
================================================  =================================
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import fields, replace
from functools import partial
from typing import Any

import anyio
from fastapi import FastAPI

from hpo.exceptions import HPOError
from hpo.server import errors
from hpo.server.auth import Guard
from hpo.server.config import ServerConfig
from hpo.server.drivers import DriverPool
from hpo.server.fast import FastPath, is_hot
from hpo.server.jobs import JobManager
from hpo.server.reaper import reaper_loop
from hpo.server.routes import artifacts, comparisons, dashboard, health, studies, trials
from hpo.server.state import ServerState
from hpo.storage import Storage, get_storage

log = logging.getLogger("hpo.server")
#: environment variables :func:`app_from_env` reads (set by ``hpo server --workers N``)
STORAGE_ENV = "HPO_SERVER_STORAGE"
CONFIG_ENV = "HPO_SERVER_CONFIG"


def create_app(
    storage: Storage | str | None = None,
    config: ServerConfig | None = None,
    *,
    reaper: bool = True,
    **options: Any,
) -> FastAPI:
    """The FastAPI application serving ``storage`` (a :class:`~hpo.storage.Storage` or a
    URL; ``None``: in memory). ``config`` (or its fields as keyword ``options``, e.g.
    ``token=...``, ``owner=...``) sets auth, limits, heartbeats and jobs;
    ``reaper=False`` turns the background reaper off (tests drive it by hand)."""
    config = replace(config or ServerConfig(), **options) if options else (config or ServerConfig())
    owns_storage = not isinstance(storage, Storage)
    store = get_storage(storage)
    pool = DriverPool(store, config)
    state = ServerState(store, config, pool, JobManager(store, pool, config))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            if reaper:
                tasks.start_soon(reaper_loop, state)
            if config.resume_jobs:
                await pool.call(state.jobs.resume)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                await anyio.to_thread.run_sync(state.jobs.stop_all)
                if owns_storage:
                    store.close()

    from hpo import __version__

    app = HPOApp(
        title="hpo server",
        version=__version__,
        description="Studies over HTTP: the searcher lives in the server, workers ask and "
        "tell. Errors are {code, kind, message}; writes need `Authorization: Bearer <token>` "
        "when the server has a token.",
        lifespan=lifespan,
    )
    app.state.hpo = state
    errors.install(app)
    for module in (health, studies, trials, comparisons, artifacts):
        app.include_router(module.router)
    dashboard.install(app)  # the web dashboard: / and /api/v1/dashboard
    app.add_middleware(Guard, config=config)
    # the workers' hot path, in front of FastAPI's layers: behind the same Guard (and CORS)
    hot: Any = Guard(FastPath(partial(FastAPI.__call__, app), state), config)
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        cors: dict[str, Any] = {
            "allow_origins": list(config.cors_origins),
            "allow_methods": ["*"],
            "allow_headers": ["Authorization", "Content-Type"],
        }
        app.add_middleware(CORSMiddleware, **cors)
        hot = CORSMiddleware(hot, **cors)
    app.hot_path = hot
    return app


class HPOApp(FastAPI):
    """FastAPI, with the workers' hot path in front: requests that
    :func:`~hpo.server.fast.is_hot` accepts go to :attr:`hot_path` (:class:`Guard` around
    :class:`~hpo.server.fast.FastPath`), which answers them without FastAPI's per-request
    layers or hands them back to the whole application."""

    hot_path: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.hot_path is not None and is_hot(scope):
            await self.hot_path(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def config_to_env(config: ServerConfig) -> str:
    """``config`` as JSON for :data:`CONFIG_ENV` (the token excluded: it travels in
    ``$HPO_API_TOKEN``)."""
    data = {f.name: getattr(config, f.name) for f in fields(config) if f.name != "token"}
    return json.dumps(data)


def app_from_env() -> FastAPI:
    """The application of one ``hpo server --workers N`` process, from the environment
    the command set (:data:`STORAGE_ENV`, :data:`CONFIG_ENV`, ``$HPO_API_TOKEN``)."""
    data = json.loads(os.environ.get(CONFIG_ENV) or "{}")
    for key in ("allow_objectives", "cors_origins"):
        if key in data:
            data[key] = tuple(data[key])
    token = os.environ.get("HPO_API_TOKEN") or None
    config = ServerConfig(**data, token=token)
    return create_app(os.environ.get(STORAGE_ENV), config)


__all__ = ["HPOError", "ServerConfig", "app_from_env", "create_app"]
