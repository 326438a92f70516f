"""``hpo demo``: the hpo server with its dashboard and a live demo comparison (``make run``)::

    hpo demo                                  # http://127.0.0.1:8000, sqlite:///hpo-demo.db
    hpo demo --problem gbm_breast_cancer --searchers random,tpe,gp,portfolio --seeds 6

It opens (or creates) the SQLite storage, serves the server on ``--host``/``--port``,
starts the comparison ``--name`` (default ``demo-<problem>``: several searchers, several
seeds, one real scikit-learn task) as one of the server's comparison jobs, prints the
dashboard's address, and serves until Ctrl-C. Idempotent: run it again and the stored
comparison is reused, resumed where it stopped (or shown, when it is complete).

No token by default (the server listens on 127.0.0.1 only); ``--token`` or
``$HPO_API_TOKEN`` protects writes as for ``hpo server``. FastAPI and uvicorn are imported
only here (``pip install 'hpo[server]'``).
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from typing import Any

from hpo.cli._common import EXIT_OK, UsageError, err, positive_int

DEFAULT_DEMO_STORAGE = "sqlite:///hpo-demo.db"
DEFAULT_PROBLEM = "svm_wine"
DEFAULT_SEARCHERS = "random,tpe,gp"


def add_parser(sub: Any) -> None:
    """Register ``hpo demo``."""
    parser = sub.add_parser(
        "demo",
        help="serve the dashboard with a live demo comparison (what `make run` does)",
        description="Start the hpo server on a SQLite file, launch a comparison of several "
        "searchers on a real scikit-learn task, print the dashboard's address and serve "
        "until Ctrl-C. Running it again reuses (and resumes) the stored comparison.",
        epilog="example: hpo demo --problem gbm_breast_cancer --seeds 6 --port 8080",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        default=None,
        help=f"SQLite storage URL (default: {DEFAULT_DEMO_STORAGE})",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--problem",
        default=DEFAULT_PROBLEM,
        help=f"a built-in problem (default: {DEFAULT_PROBLEM})",
    )
    parser.add_argument(
        "--searchers",
        default=DEFAULT_SEARCHERS,
        metavar="A,B,...",
        help=f"searchers to compare (default: {DEFAULT_SEARCHERS})",
    )
    parser.add_argument(
        "--seeds",
        type=positive_int,
        default=6,
        metavar="K",
        help="seeds per searcher (default: 6, the fewest for a significance test)",
    )
    parser.add_argument(
        "--n-trials",
        type=positive_int,
        default=25,
        metavar="N",
        help="trials per study (default: 25)",
    )
    parser.add_argument(
        "--name", default=None, help="the comparison's name (default: demo-PROBLEM)"
    )
    parser.add_argument(
        "--executor",
        choices=("ray", "thread", "process"),
        default=None,
        help="where the comparison's trials run (default: a local Ray cluster when Ray is "
        "installed, else threads)",
    )
    parser.add_argument(
        "--job-workers",
        type=positive_int,
        default=2,
        metavar="K",
        help="trials evaluated at once with threads or processes (default: 2)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="API token for writes (default: $HPO_API_TOKEN; none: no auth)",
    )
    parser.set_defaults(handler=cmd_demo)


def _check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise UsageError(f"--port must be 1 to 65535, got {port}")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); is another server "
                f"running there? Stop it or pass --port (e.g. PORT={port + 1} make run)"
            ) from None


def _validated(args: argparse.Namespace) -> list[str]:
    from hpo.benchmarks import available_problems
    from hpo.searchers import available_searchers

    if args.problem not in available_problems():
        raise UsageError(f"unknown problem {args.problem!r}; see `hpo compare --help`")
    searchers = [s.strip() for s in args.searchers.split(",") if s.strip()]
    unknown = [s for s in searchers if s not in available_searchers()]
    if not searchers or unknown:
        raise UsageError(
            f"unknown searchers {unknown or args.searchers!r}; choose from "
            f"{', '.join(available_searchers())}"
        )
    return searchers


def _launch(base: str, body: dict[str, Any], token: str | None, ready: threading.Event) -> None:
    """Once the server answers, plan and start the comparison (or reuse the stored one)
    through its own API, then print where to look."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        if not ready.wait(60):
            err("hpo demo: the server did not start")
            return
        try:
            answer = client.post("/api/v1/comparisons", json=body)
        except httpx.HTTPError as exc:
            err(f"hpo demo: could not start the comparison: {exc}")
            return
        if answer.status_code >= 400:
            err(f"hpo demo: could not start the comparison: {answer.text}")
            return
        record = answer.json()
        again = "resumed" if answer.status_code == 200 else "started"
        err(
            f"hpo demo: comparison {record['name']!r} {again}: {body['problem']}, "
            f"{', '.join(body['searchers'])} x {body['seeds']} seeds x {body['n_trials']} trials"
        )
        err("")
        err(f"    Dashboard:  {base}/#/comparisons/{record['comparison_id']}")
        err(f"    Studies:    {base}/#/studies        API docs: {base}/docs")
        err("")
        err("hpo demo: serving until Ctrl-C (the comparison fills in live)")


def _default_executor() -> str:
    """A local Ray cluster when Ray is installed (the embedded default), else threads."""
    from importlib.util import find_spec

    return "ray" if find_spec("ray") is not None else "thread"


def cmd_demo(args: argparse.Namespace) -> int:
    """``hpo demo``: serve the dashboard and a demo comparison until SIGINT / SIGTERM."""
    try:
        import uvicorn

        from hpo.server.app import create_app
        from hpo.server.config import ServerConfig
    except ImportError as exc:
        raise UsageError(
            f"the demo needs FastAPI and uvicorn ({exc}); pip install 'hpo[server]'"
        ) from None
    url = args.storage or DEFAULT_DEMO_STORAGE
    if not url.lower().startswith("sqlite"):
        raise UsageError(f"the demo runs on SQLite (a sqlite:/// URL), got {url!r}")
    searchers = _validated(args)
    _check_port(args.host, args.port)
    token = args.token or os.environ.get("HPO_API_TOKEN") or None
    executor = args.executor or _default_executor()
    try:
        config = ServerConfig(token=token, job_executor=executor, job_workers=args.job_workers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    name = args.name or f"demo-{args.problem}"
    body = {
        "name": name,
        "problem": args.problem,
        "searchers": searchers,
        "seeds": args.seeds,
        "n_trials": args.n_trials,
        "load_if_exists": True,
        "run": True,
    }
    err(
        f"hpo demo: {url} on http://{args.host}:{args.port} "
        f"(auth: {'writes' if token else 'off'}; trials run on {executor})"
    )
    app = create_app(url, config)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=10
        )
    )
    ready = threading.Event()
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    launcher = threading.Thread(
        target=_launch, args=(f"http://{host}:{args.port}", body, token, ready), daemon=True
    )
    launcher.start()

    def mark_ready() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        ready.set()

    threading.Thread(target=mark_ready, daemon=True).start()
    try:
        server.run()  # until Ctrl-C / SIGTERM: the app's lifespan stops the jobs
    finally:
        err("hpo demo: stopped; run it again to resume the comparison")
    return EXIT_OK
