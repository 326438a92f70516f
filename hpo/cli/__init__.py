"""The ``hpo`` command: run a study from the shell and inspect the stored ones.

::

    hpo run train.py:objective --searcher random --n-trials 50 --storage sqlite:///hpo.db
    hpo studies                       # one row per study: trials by state, best value
    hpo show my-study                 # definition, counts, best trial, last trials
    hpo export my-study --format csv --output trials.csv
    hpo compare branin --searchers random,tpe --seeds 5 --n-trials 30   # or --show NAME
    hpo server --storage sqlite:///hpo.db --port 8000   # studies over HTTP
    hpo worker --server http://host:8000 --study NAME train.py:objective
    hpo delete my-study --yes         # the study and its trials
    hpo demo                          # the dashboard with a live demo comparison (make run)

The storage is ``--storage``, else ``$HPO_STORAGE``, else ``sqlite:///hpo.db``.

Exit codes: 0 success; 1 when every trial of a run failed, or optimization stopped on an
error; 2 for a bad argument (one line on stderr, nothing stored changes); 130 on Ctrl-C
and 143 on SIGTERM, after the running trials were marked FAILED; 141 when the reader of
the output went away (``hpo show NAME | head``), quietly. A failing objective
never crashes the command: its trials are FAILED with their traceback stored, counted in
the summary, and the run goes on. Status lines and the progress bar (on terminals) go to
stderr, results to stdout.

This package builds the parser and dispatches; the subcommands live in :mod:`hpo.cli.run`,
:mod:`hpo.cli.report`, :mod:`hpo.cli.compare` and :mod:`hpo.cli.delete`, what they share
in :mod:`hpo.cli._common`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

from hpo.cli._common import (
    DEFAULT_STORAGE,
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    STORAGE_ENV,
    UsageError,
    err,
    positive_float,
    positive_int,
    quiet_stdout,
)
from hpo.cli.compare import add_parser as _add_compare
from hpo.cli.delete import add_parser as _add_delete
from hpo.cli.demo import add_parser as _add_demo
from hpo.cli.report import cmd_export, cmd_show, cmd_studies
from hpo.cli.run import cmd_run
from hpo.cli.server import add_parser as _add_server
from hpo.cli.worker import add_parser as _add_worker

__all__ = ["UsageError", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become :class:`UsageError` (one line, no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; see '{self.prog} --help'", prog=self.prog)


# --- entry point -----------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hpo`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit
    code."""
    prog = "hpo"
    try:
        args = build_parser().parse_args(argv)
        prog = f"hpo {args.command}"
        code: int = args.handler(args)
        return code
    except UsageError as exc:
        err(f"{exc.prog or prog}: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err(f"{prog}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (hpo show NAME | head): end quietly
        quiet_stdout()
        return EXIT_BROKEN_PIPE
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``hpo`` command and its subcommands."""
    from hpo import __version__

    parser = _Parser(
        prog="hpo",
        description="Hyperparameter optimization from the shell. Studies live in --storage, "
        f"else ${STORAGE_ENV}, else {DEFAULT_STORAGE}.",
    )
    parser.add_argument("--version", action="version", version=f"hpo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    studies = sub.add_parser("studies", help="list the stored studies")
    _add_storage(studies)
    studies.set_defaults(handler=cmd_studies)
    show = sub.add_parser("show", help="show one study: definition, counts, best and last trials")
    show.add_argument("study", metavar="STUDY", help="the study's name")
    show.add_argument(
        "--last",
        type=positive_int,
        default=10,
        metavar="N",
        help="how many of the latest trials to list (default: 10)",
    )
    _add_storage(show)
    show.set_defaults(handler=cmd_show)
    export = sub.add_parser("export", help="write a study's trials as CSV or JSON")
    export.add_argument("study", metavar="STUDY", help="the study's name")
    export.add_argument(
        "--format",
        choices=("csv", "json"),
        required=True,
        help="csv: one flat row per trial; json: the study and full trial records",
    )
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    _add_storage(export)
    export.set_defaults(handler=cmd_export)
    _add_compare(sub)
    _add_delete(sub)
    _add_server(sub)
    _add_worker(sub)
    _add_demo(sub)
    return parser


def _add_run(sub: Any) -> None:
    from hpo.searchers import DEFAULT_SEARCHER, available_searchers

    run = sub.add_parser(
        "run",
        help="create (or continue) a study and optimize it",
        description="Create a study (or continue one with --load-if-exists) and optimize it; "
        "print the best value and configuration at the end.",
        epilog="example: hpo run train.py:objective --searcher random --n-trials 50 "
        "--storage sqlite:///hpo.db",
    )
    run.add_argument(
        "target",
        metavar="OBJECTIVE",
        help="the objective as module:function or path/to/file.py:function",
    )
    run.add_argument(
        "--searcher",
        metavar="NAME",
        help=f"one of: {', '.join(available_searchers())} (default: {DEFAULT_SEARCHER}, or the "
        "stored one "
        "with --load-if-exists)",
    )
    run.add_argument("--searcher-kwargs", metavar="JSON", help="searcher options as a JSON object")
    run.add_argument(
        "--stopper",
        metavar="NAME",
        help=f"early stopping of unpromising trials: one of {', '.join(_stoppers())} (needs "
        "an objective decorated with a budget)",
    )
    run.add_argument("--stopper-kwargs", metavar="JSON", help="stopper options as a JSON object")
    run.add_argument("--n-trials", type=positive_int, metavar="N", help="trials to run")
    run.add_argument(
        "--timeout", type=positive_float, metavar="SEC", help="start no trial after SEC seconds"
    )
    run.add_argument("--name", help="the study's name (default: a generated one)")
    run.add_argument("--seed", type=int, help="the searcher's seed")
    run.add_argument(
        "--direction",
        choices=("minimize", "maximize"),
        help="default: the objective's, else minimize",
    )
    run.add_argument(
        "--n-workers",
        type=positive_int,
        default=1,
        metavar="K",
        help="trials run at once (default: 1)",
    )
    run.add_argument(
        "--executor",
        choices=("serial", "thread", "process", "ray"),
        help="where trials run (default: serial for one worker, else threads; ray: the "
        "local or connected Ray cluster, see RAY_ADDRESS)",
    )
    run.add_argument(
        "--load-if-exists",
        action="store_true",
        help="continue the study --name if it exists instead of failing",
    )
    _add_storage(run)
    run.set_defaults(handler=cmd_run)


def _stoppers() -> list[str]:
    from hpo.stoppers import available_stoppers

    return available_stoppers()


def _add_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        metavar="URL",
        help=f"storage URL (default: ${STORAGE_ENV}, else {DEFAULT_STORAGE})",
    )
