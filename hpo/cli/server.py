"""``hpo server``: serve studies over HTTP (the searcher lives in the server)::

    hpo server --storage postgresql+psycopg://hpo@db/hpo --host 0.0.0.0 --port 8000 \\
        --workers 4 --token "$HPO_API_TOKEN"

The storage is ``--storage``, else ``$HPO_STORAGE``, else ``sqlite:///hpo.db``; its
migrations run before the server listens. ``--workers N`` runs N server processes on one
port (replicas: PostgreSQL only; SQLite is refused above 1). The token comes from
``--token`` or ``$HPO_API_TOKEN`` (prefer the variable: command lines are visible to
other users); with it every write needs ``Authorization: Bearer <token>``, and with
``--private`` every read too. FastAPI and uvicorn are imported only here (``pip install
'hpo[server]'``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from hpo.cli._common import (
    EXIT_OK,
    UsageError,
    err,
    first_line,
    positive_float,
    positive_int,
    storage_url,
)

TOKEN_ENV = "HPO_API_TOKEN"


def add_parser(sub: Any) -> None:
    """Register ``hpo server``."""
    parser = sub.add_parser(
        "server",
        help="serve studies over HTTP: workers ask and tell, the searcher runs here",
        description="Serve the studies of --storage over HTTP (REST API under /api/v1, docs "
        "at /docs, probes at /healthz and /readyz). Workers point at it with "
        "storage='http://HOST:PORT' or 'hpo worker'.",
        epilog="example: HPO_API_TOKEN=... hpo server --storage sqlite:///hpo.db --port 8000",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="storage URL (default: $HPO_STORAGE, else sqlite:///hpo.db)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="server processes sharing the port (default: 1; above 1 needs PostgreSQL)",
    )
    parser.add_argument("--token", help=f"API token (default: ${TOKEN_ENV}; none: no auth)")
    parser.add_argument("--private", action="store_true", help="require the token for reads too")
    parser.add_argument(
        "--allow-objective",
        action="append",
        default=[],
        metavar="PATTERN",
        help="let comparison jobs import objectives matching PATTERN (fnmatch on "
        "module:function, e.g. 'myproject.objectives:*'); repeatable",
    )
    parser.add_argument(
        "--owner",
        default=None,
        help="the name this deployment stores as "
        "the owner of the studies it drives (default: hpo-server)",
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=positive_float,
        metavar="SEC",
        help="seconds between workers' heartbeats (default: 30)",
    )
    parser.add_argument(
        "--grace-period",
        type=positive_float,
        metavar="SEC",
        help="a trial silent this long is failed (default: 4 intervals)",
    )
    parser.add_argument(
        "--artifacts",
        metavar="DIR",
        help="where checkpoints are kept (default: $HPO_ARTIFACTS, else ./hpo-artifacts)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=positive_int,
        metavar="N",
        help="largest API request body (default: 1 MiB)",
    )
    parser.add_argument(
        "--max-artifact-bytes",
        type=positive_int,
        metavar="N",
        help="largest checkpoint upload (default: 256 MiB)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow browser requests from ORIGIN (CORS is off by default)",
    )
    parser.add_argument(
        "--job-executor",
        choices=("process", "thread", "serial", "ray"),
        help="how comparison jobs run trials (default: process)",
    )
    parser.add_argument(
        "--job-workers",
        type=positive_int,
        metavar="K",
        help="worker processes (or threads) per comparison job (default: 2)",
    )
    parser.add_argument(
        "--ray-address", metavar="ADDR", help="run comparison jobs on the Ray cluster at ADDR"
    )
    parser.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.set_defaults(handler=cmd_server)


def build_config(args: argparse.Namespace) -> Any:
    """The :class:`~hpo.server.config.ServerConfig` of the command line."""
    from hpo.server.config import ServerConfig

    options: dict[str, Any] = {
        "token": args.token or os.environ.get(TOKEN_ENV) or None,
        "private": args.private,
        "allow_objectives": tuple(args.allow_objective),
        "cors_origins": tuple(args.cors_origin),
    }
    pairs = (
        ("owner", args.owner),
        ("heartbeat_interval", args.heartbeat_interval),
        ("grace_period", args.grace_period),
        ("artifacts", None if args.artifacts is None else os.path.abspath(args.artifacts)),
        ("max_body_bytes", args.max_body_bytes),
        ("max_artifact_bytes", args.max_artifact_bytes),
        (
            "job_executor",
            "ray" if args.ray_address and not args.job_executor else args.job_executor,
        ),
        ("job_workers", args.job_workers),
        ("ray_address", args.ray_address),
    )
    options.update({k: v for k, v in pairs if v is not None})
    try:
        return ServerConfig(**options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_storage(url: str, workers: int) -> None:
    """Open the storage once (migrations run here, before any worker starts) and refuse
    several processes on a storage that cannot share a study between them."""
    from hpo.storage import InMemoryStorage, get_storage

    try:
        storage = get_storage(url)
    except Exception as exc:
        raise UsageError(f"cannot open storage {url!r}: {first_line(exc)}") from None
    try:
        if isinstance(storage, InMemoryStorage) or not storage.drives_studies:
            raise UsageError(
                f"the server needs a SQL storage (sqlite:/// or postgresql://), got {url!r}"
            )
        if workers > 1 and not storage.study_lock_is_shared:
            raise UsageError(
                f"--workers {workers} needs PostgreSQL: SQLite has one writer and no lock "
                "that spans processes, so server processes on it would race for a study's "
                "searcher; run --workers 1 (one process serves many workers), or use a "
                "postgresql+psycopg:// storage for replicas"
            )
    finally:
        storage.close()


def cmd_server(args: argparse.Namespace) -> int:
    """``hpo server``: check the storage, then serve until SIGINT / SIGTERM."""
    try:
        import uvicorn

        from hpo.server.app import CONFIG_ENV, STORAGE_ENV, config_to_env, create_app
    except ImportError as exc:
        raise UsageError(
            f"the server needs FastAPI and uvicorn ({exc}); pip install 'hpo[server]'"
        ) from None
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be 1 to 65535, got {args.port}")
    url = storage_url(args.storage)
    if url.lower().startswith("sqlite"):
        from hpo.cli._common import _check_sqlite_directory

        _check_sqlite_directory(url)
    config = build_config(args)
    check_storage(url, args.workers)
    auth = "off" if not config.token else ("reads and writes" if config.private else "writes")
    err(
        f"hpo server: {url} on http://{args.host}:{args.port} "
        f"({args.workers} process{'es' if args.workers > 1 else ''}, auth: {auth}); "
        "docs at /docs"
    )
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": args.access_log,
        "timeout_graceful_shutdown": 10,
    }
    if args.workers == 1:
        uvicorn.run(create_app(url, config), **common)
        return EXIT_OK
    os.environ[STORAGE_ENV] = url
    os.environ[CONFIG_ENV] = config_to_env(config)
    if config.token:
        os.environ[TOKEN_ENV] = config.token
    uvicorn.run("hpo.server.app:app_from_env", factory=True, workers=args.workers, **common)
    return EXIT_OK
