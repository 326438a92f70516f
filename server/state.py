"""What every route reaches: the storage, the settings, the driver pool and the jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from hpo.server.config import ServerConfig
from hpo.server.drivers import DriverPool
from hpo.server.jobs import JobManager
from hpo.storage import Storage


@dataclass
class ServerState:
    storage: Storage
    config: ServerConfig
    pool: DriverPool
    jobs: JobManager


def get_state(request: Request) -> ServerState:
    """The server's state (a FastAPI dependency)."""
    state: ServerState = request.app.state.hpo
    return state


#: a route parameter that receives the server's state
State = Annotated[ServerState, Depends(get_state)]
