"""The server's settings (one frozen value; ``hpo server`` builds it from its flags)."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from hpo.artifacts import DEFAULT_ROOT, DEFAULT_ROOT_ENV
from hpo.driver import DEFAULT_HEARTBEAT_INTERVAL

DEFAULT_OWNER = "hpo-server"
TOKEN_ENV = "HPO_API_TOKEN"


@dataclass(frozen=True)
class ServerConfig:
    """How a server behaves.

    * ``owner``: the name it stores as the owner of the studies it drives; every replica
      of one deployment shares it (local processes then refuse those studies).
    * ``token``: the API token (``None``: no auth); every write needs
      ``Authorization: Bearer <token>``, and every read too when ``private``.
    * ``allow_objectives``: ``fnmatch`` patterns of ``module:function`` objectives that
      comparison jobs may import and run (none by default: built-in problems only).
    * ``max_body_bytes`` / ``max_artifact_bytes``: request size limits (413 beyond).
    * ``heartbeat_interval`` / ``grace_period``: a RUNNING trial silent for the grace
      period (default four intervals) is failed by the reaper, which looks every
      ``reaper_interval`` seconds (default: the heartbeat interval).
    * ``replica``: share searchers with other server processes on the same database
      (``None``: when the storage's study lock spans processes, i.e. PostgreSQL).
    * ``max_drivers``: drivers kept in memory (least recently used evicted first).
    * ``threads``: driver calls running at once (they run off the event loop).
    * ``job_executor`` / ``job_workers``: how comparison jobs evaluate objectives
      (``"process"`` workers asking this server's drivers, ``"thread"``, or ``"ray"``
      with ``ray_address``); ``resume_jobs`` restarts unfinished ones on start.
    * ``cors_origins``: origins allowed by CORS (none: CORS off).
    """

    owner: str = DEFAULT_OWNER
    token: str | None = None
    private: bool = False
    allow_objectives: tuple[str, ...] = ()
    max_body_bytes: int = 1 << 20
    max_artifact_bytes: int = 256 << 20
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    grace_period: float | None = None
    reaper_interval: float | None = None
    artifacts: str = field(
        default_factory=lambda: str(
            Path(os.environ.get(DEFAULT_ROOT_ENV) or DEFAULT_ROOT).resolve()
        )
    )
    replica: bool | None = None
    max_drivers: int = 1000
    threads: int = 64
    job_executor: str = "process"
    job_workers: int = 2
    ray_address: str | None = None
    resume_jobs: bool = True
    cors_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.owner or len(self.owner) > 256:
            raise ValueError(f"owner must be 1 to 256 characters, got {self.owner!r}")
        if self.token is not None and len(self.token) < 8:
            raise ValueError("the API token must be at least 8 characters long")
        if self.private and not self.token:
            raise ValueError("--private needs a token (--token or $HPO_API_TOKEN)")
        for name in (
            "max_body_bytes",
            "max_artifact_bytes",
            "max_drivers",
            "threads",
            "job_workers",
        ):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.heartbeat_interval > 0:
            raise ValueError(f"heartbeat_interval must be > 0, got {self.heartbeat_interval}")
        if not self.grace > self.heartbeat_interval:
            raise ValueError(
                f"grace_period ({self.grace}) must exceed heartbeat_interval "
                f"({self.heartbeat_interval})"
            )
        if self.job_executor not in ("process", "thread", "serial", "ray"):
            raise ValueError(
                f"job_executor must be process, thread, serial or ray, got {self.job_executor!r}"
            )

    @property
    def grace(self) -> float:
        return 4 * self.heartbeat_interval if self.grace_period is None else self.grace_period

    @property
    def reap_every(self) -> float:
        return self.heartbeat_interval if self.reaper_interval is None else self.reaper_interval

    def objective_allowed(self, target: str) -> bool:
        """Whether ``module:function`` matches one of :attr:`allow_objectives`."""
        return any(fnmatch.fnmatchcase(target, p) for p in self.allow_objectives)
