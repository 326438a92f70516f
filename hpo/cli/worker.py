"""``hpo worker``: evaluate a server's study until it is done::

    hpo worker --server http://host:8000 --study svm train.py:objective --n-workers 4

The worker asks the server for configurations (its searcher runs there), evaluates the
objective and tells the results; every request is retried while the server restarts. It
stops when the searcher has nothing left, after ``--n-trials`` trials of its own, when
the study holds ``--total-trials`` trials, after ``--timeout`` seconds, or on SIGTERM /
Ctrl-C (its running trials are then marked FAILED). ``--worker-id`` (or
``$HPO_WORKER_ID``) names the worker stably: restarted under the same id after
preemption, it gets its unfinished trial back and runs it again.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from hpo.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    UsageError,
    err,
    first_line,
    plural,
    positive_float,
    positive_int,
)

SERVER_ENV = "HPO_SERVER"
WORKER_ENV = "HPO_WORKER_ID"


def add_parser(sub: Any) -> None:
    """Register ``hpo worker``."""
    parser = sub.add_parser(
        "worker",
        help="evaluate a server's study: ask, run the objective, tell, until done",
        description="Run trials of STUDY on the hpo server at --server: the server's "
        "searcher proposes, this worker evaluates OBJECTIVE (module:function or "
        "path/to/file.py:function) and tells the result.",
        epilog="example: hpo worker --server http://127.0.0.1:8000 --study svm train.py:svm",
    )
    parser.add_argument("target", metavar="OBJECTIVE", help="module:function or file.py:function")
    parser.add_argument("--server", metavar="URL", help=f"the server (default: ${SERVER_ENV})")
    parser.add_argument("--study", required=True, metavar="NAME", help="the study to work on")
    parser.add_argument("--n-trials", type=positive_int, metavar="N", help="this worker's trials")
    parser.add_argument(
        "--total-trials", type=positive_int, metavar="N", help="stop once the study holds N trials"
    )
    parser.add_argument(
        "--timeout", type=positive_float, metavar="SEC", help="start no trial after SEC seconds"
    )
    parser.add_argument(
        "--n-workers",
        type=positive_int,
        default=1,
        metavar="K",
        help="trials run at once (default: 1)",
    )
    parser.add_argument(
        "--executor",
        choices=("serial", "thread", "process"),
        help="where trials run (default: serial for one, else threads)",
    )
    parser.add_argument(
        "--worker-id", metavar="ID", help=f"this worker's stable name (default: ${WORKER_ENV})"
    )
    parser.add_argument("--token", help="API token (default: $HPO_API_TOKEN)")
    parser.set_defaults(handler=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    """``hpo worker``: load the study from the server and optimize it."""
    from hpo.cli._objective import load_objective
    from hpo.cli.run import _sigterm_as_interrupt, _Tally, _Terminated, make_executor
    from hpo.exceptions import HPOError, StudyNotFoundError
    from hpo.remote import RemoteDriver
    from hpo.storage.base import check_worker_id

    server = args.server or os.environ.get(SERVER_ENV)
    if not server:
        raise UsageError(f"give --server URL (or set ${SERVER_ENV})")
    worker_id = args.worker_id or os.environ.get(WORKER_ENV) or None
    try:
        check_worker_id(worker_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    executor = make_executor(args.executor, args.n_workers)
    objective = load_objective(args.target)
    import hpo
    from hpo.storage.http import HTTPStorage

    try:
        storage = HTTPStorage(server, token=args.token)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        try:
            study = hpo.load_study(args.study, storage, objective)
        except StudyNotFoundError:
            raise UsageError(f"the server at {storage.url} has no study {args.study!r}") from None
        except HPOError as exc:
            raise UsageError(f"cannot reach {storage.url}: {first_line(exc)}") from None
        driver = study.driver
        if isinstance(driver, RemoteDriver):
            driver.worker_id = worker_id
        tally = _Tally(first_number=0)
        callbacks: list[Any] = [tally]
        if args.total_trials:
            total = args.total_trials

            def stop_at_total(s: hpo.Study, _trial: Any) -> None:
                if storage.count_trials(s.study_id) >= total:
                    s.stop()

            callbacks.append(stop_at_total)
            if storage.count_trials(study.study_id) >= total:
                err(f"study {study.name!r} already holds {total} trials: nothing to do")
                return 0
        err(
            f"hpo worker: study {study.name!r} on {storage.url}"
            + (f" as {worker_id!r}" if worker_id else "")
        )
        try:
            with _sigterm_as_interrupt():
                study.optimize(
                    n_trials=args.n_trials,
                    timeout=args.timeout,
                    executor=executor,
                    callbacks=callbacks,
                    progress=False,
                )
        except KeyboardInterrupt as exc:
            err(f"hpo worker: stopped; {plural(sum(tally.counts.values()), 'trial')} run")
            return EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED
        except (HPOError, ValueError, TypeError) as exc:
            err(f"hpo worker: error: {first_line(exc)}")
            return EXIT_FAILED
        n = sum(tally.counts.values())
        err(f"hpo worker: {plural(n, 'trial')} run ({dict(tally.counts)})")
        return EXIT_FAILED if 0 < tally.counts["FAILED"] == n else 0
    finally:
        storage.close()
