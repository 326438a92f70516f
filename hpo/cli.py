"""The ``hpo`` command: run a study from the shell and inspect the stored ones.

::

    hpo run train.py:objective --searcher random --n-trials 50 --storage sqlite:///hpo.db
    hpo studies                       # one row per study: trials by state, best value
    hpo show my-study                 # definition, counts, best trial, last trials
    hpo export my-study --format csv --output trials.csv

The storage is ``--storage``, else ``$HPO_STORAGE``, else ``sqlite:///hpo.db``.

Exit codes: 0 success; 1 when every trial of a run failed, or optimization stopped on an
error; 2 for a bad argument (one line on stderr, nothing stored changes); 130 on Ctrl-C
and 143 on SIGTERM, after the running trials were marked FAILED. A failing objective
never crashes the command: its trials are FAILED with their traceback stored, counted in
the summary, and the run goes on. Status lines and the progress bar (on terminals) go to
stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from hpo.executors.base import Executor
    from hpo.storage import Storage, StudyRecord
    from hpo.study import Study
    from hpo.trial import FrozenTrial

DEFAULT_STORAGE = "sqlite:///hpo.db"
STORAGE_ENV = "HPO_STORAGE"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
STATES = ("COMPLETE", "PRUNED", "FAILED", "RUNNING", "WAITING")


class UsageError(Exception):
    """A bad argument: reported as one line on stderr with exit code 2."""

    def __init__(self, message: str, prog: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog


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
        _err(f"{exc.prog or prog}: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err(f"{prog}: interrupted")
        return EXIT_INTERRUPTED
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
        type=_positive_int,
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
    return parser


def _add_run(sub: Any) -> None:
    from hpo.searchers import available_searchers

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
        help=f"one of: {', '.join(available_searchers())} (default: random, or the stored one "
        "with --load-if-exists)",
    )
    run.add_argument("--searcher-kwargs", metavar="JSON", help="searcher options as a JSON object")
    run.add_argument("--n-trials", type=_positive_int, metavar="N", help="trials to run")
    run.add_argument(
        "--timeout", type=_positive_float, metavar="SEC", help="start no trial after SEC seconds"
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
        type=_positive_int,
        default=1,
        metavar="K",
        help="trials run at once (default: 1)",
    )
    run.add_argument(
        "--executor",
        choices=("serial", "thread", "process"),
        help="where trials run (default: serial for one worker, else threads)",
    )
    run.add_argument(
        "--load-if-exists",
        action="store_true",
        help="continue the study --name if it exists instead of failing",
    )
    _add_storage(run)
    run.set_defaults(handler=cmd_run)


def _add_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        metavar="URL",
        help=f"storage URL (default: ${STORAGE_ENV}, else {DEFAULT_STORAGE})",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


# --- hpo run ---------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    """``hpo run``: validate everything, then create or load the study and optimize it."""
    if args.n_trials is None and args.timeout is None:
        raise UsageError("give --n-trials, --timeout or both")
    if args.load_if_exists and not args.name:
        raise UsageError("--load-if-exists needs --name (the study to continue)")
    kwargs = parse_searcher_kwargs(args.searcher_kwargs)
    if args.searcher is not None:
        check_searcher(args.searcher)
    executor = make_executor(args.executor, args.n_workers)
    objective = load_objective(args.target)
    url = storage_url(args.storage)
    storage = open_storage(url)
    try:
        study = create_or_load(args, objective, storage, kwargs, url)
        return optimize(study, args, executor, url)
    finally:
        storage.close()


def parse_searcher_kwargs(text: str | None) -> dict[str, Any]:
    """``--searcher-kwargs`` as a dict; a :class:`UsageError` unless it is a JSON object."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--searcher-kwargs is not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise UsageError(
            f"--searcher-kwargs must be a JSON object such as '{{\"resolution\": 5}}', got {text!r}"
        )
    return value


def check_searcher(name: str) -> None:
    """A :class:`UsageError` naming the available searchers unless ``name`` is one."""
    from hpo.exceptions import SearcherError
    from hpo.searchers import searcher_class

    try:
        searcher_class(name)
    except SearcherError as exc:
        raise UsageError(str(exc)) from None


def make_executor(name: str | None, n_workers: int) -> Executor:
    """The executor for ``--executor`` and ``--n-workers``."""
    from hpo.executors import resolve_executor

    try:
        return resolve_executor(name, n_workers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def load_objective(target: str) -> Callable[..., Any]:
    """Import ``module:attr`` or ``path/to/file.py:attr`` and return the callable.

    A file is imported as a module named after it, with its directory put first on
    ``sys.path`` (so the process executor can import it again in its workers); a module
    name is looked up from the current directory too, as ``python -m`` does."""
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr or not _is_dotted_name(attr):
        raise UsageError(
            f"malformed objective {target!r}: expected module:function or path/to/file.py:function"
        )
    if module_part.endswith(".py") or "/" in module_part or os.sep in module_part:
        module = _import_file(Path(module_part))
    else:
        module = _import_module(module_part)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(
                f"{module_part!r} has no attribute {attr!r}; it defines: "
                f"{', '.join(_callables_in(module)) or 'no functions'}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(
            f"{target!r} is not callable (it is the {type(obj).__name__} {obj!r}); name a "
            "function or an @hpo.objective"
        )
    return obj


def _is_dotted_name(text: str) -> bool:
    return all(part.isidentifier() for part in text.split("."))


def _import_module(name: str) -> Any:
    if not _is_dotted_name(name):
        raise UsageError(f"malformed module name {name!r}; expected e.g. package.module")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise UsageError(
                f"no module named {name!r}; check the name or give a file path "
                "(path/to/file.py:function)"
            ) from None
        raise UsageError(f"importing {name!r} failed: {exc}") from None
    except (Exception, SystemExit) as exc:
        raise UsageError(f"importing {name!r} failed: {_describe(exc)}") from None


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise UsageError(f"no such file {str(path)!r}")
    if path.suffix != ".py" or not path.stem.isidentifier():
        raise UsageError(f"{str(path)!r} is not an importable Python file (name.py)")
    resolved = path.resolve()
    loaded = sys.modules.get(path.stem)
    loaded_file = getattr(loaded, "__file__", None)
    if loaded is not None and (loaded_file is None or Path(loaded_file).resolve() != resolved):
        raise UsageError(
            f"cannot import {str(path)!r} as module {path.stem!r}: another module of that "
            f"name is already loaded ({loaded_file or 'built in'}); rename the file"
        )
    directory = str(resolved.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        return importlib.import_module(path.stem)
    except (Exception, SystemExit) as exc:  # SystemExit: a script without a __main__ guard
        raise UsageError(f"importing {str(path)!r} failed: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    """``Type: message (file:line)``, the line being the innermost frame."""
    if isinstance(exc, SyntaxError):  # its message names the file and line already
        return f"SyntaxError: {exc}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "<frozen" not in f.filename]
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _callables_in(module: Any) -> list[str]:
    """Public functions and objectives defined in ``module`` (for error messages)."""
    from hpo.objective import Objective

    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (callable(value) or isinstance(value, Objective))
        and getattr(value, "__module__", None) == module.__name__
    )


def create_or_load(
    args: argparse.Namespace,
    objective: Callable[..., Any],
    storage: Storage,
    kwargs: dict[str, Any],
    url: str,
) -> Study:
    """The study to optimize: new, or the stored ``--name`` with ``--load-if-exists``.

    When continuing a study, options not given on the command line (searcher, direction)
    are the stored ones."""
    import hpo
    from hpo.exceptions import DuplicateStudyError, HPOError, StudyNotFoundError

    searcher, direction = args.searcher, args.direction
    if args.load_if_exists:
        try:
            record = storage.get_study(args.name)
        except StudyNotFoundError:
            pass
        else:
            searcher = searcher or record.searcher
            decorated = isinstance(objective, hpo.Objective) and objective.direction
            direction = direction or (None if decorated else record.direction)
    try:
        return hpo.create_study(
            objective,
            direction=direction,
            searcher=searcher or "random",
            searcher_kwargs=kwargs,
            name=args.name,
            storage=storage,
            seed=args.seed,
            load_if_exists=args.load_if_exists,
        )
    except DuplicateStudyError:
        raise UsageError(
            f"study {args.name!r} already exists in {url}; pass --load-if-exists to add "
            "trials to it, or choose another --name"
        ) from None
    except (HPOError, ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def optimize(study: Study, args: argparse.Namespace, executor: Executor, url: str) -> int:
    """Optimize ``study``, then print a summary; Ctrl-C gives exit code 130."""
    from hpo.exceptions import HPOError

    tally = _Tally(first_number=study.storage.count_trials(study.study_id))
    budget = _plural(args.n_trials, "trial") if args.n_trials else "trials"
    limit = f" for at most {args.timeout:g}s" if args.timeout else ""
    _err(
        f"Study {study.name!r} ({study.searcher_name}, {study.direction}) in {url}: "
        f"running {budget}{limit}"
    )
    try:
        with _sigterm_as_interrupt():
            study.optimize(
                n_trials=args.n_trials,
                timeout=args.timeout,
                executor=executor,
                callbacks=[tally],
                progress=True,
            )
    except KeyboardInterrupt as exc:
        aborted = tally.count_aborted(study)
        what = "Terminated" if isinstance(exc, _Terminated) else "Interrupted"
        _err(f"{what}: {_plural(aborted, 'running trial')} marked FAILED.")
        print_summary(study, tally, url)
        return EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED
    except (HPOError, ValueError, TypeError) as exc:
        _err(f"hpo run: error: {exc}")
        print_summary(study, tally, url)
        return EXIT_FAILED
    return print_summary(study, tally, url)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C so that running trials end FAILED, not stuck RUNNING."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`_Terminated` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Tally:
    """A callback counting this run's finished trials by state (thread-safe)."""

    def __init__(self, first_number: int) -> None:
        self.counts: Counter[str] = Counter()
        self.last_error: tuple[int, str] | None = None
        self.first_number = first_number
        self._seen: set[int] = set()
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._started_at = datetime.now(UTC)

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        with self._lock:
            self._seen.add(trial.number)
            self.counts[trial.state.value] += 1
            if trial.error:
                self.last_error = (trial.number, trial.error.strip().splitlines()[-1])

    def count_aborted(self, study: Study) -> int:
        """Count the trials an interrupted run failed without a callback: FAILED since the
        run started, numbered after the trials that existed before it, and not seen."""
        from hpo.trial import TrialState

        aborted = [
            t
            for t in study.get_trials([TrialState.FAILED])
            if t.number >= self.first_number
            and t.number not in self._seen
            and t.datetime_complete is not None
            and t.datetime_complete >= self._started_at
        ]
        for trial in aborted:
            self(study, trial)
        return len(aborted)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._t0


def print_summary(study: Study, tally: _Tally, url: str) -> int:
    """Print this run's counts and the study's best trial; the exit code (1 when every
    trial of the run failed)."""
    n = sum(tally.counts.values())
    print(
        f"Study {study.name!r}: {_plural(n, 'trial')} in {tally.elapsed:.1f}s"
        f" ({_format_counts(tally.counts)})"
    )
    if tally.last_error is not None:
        number, line = tally.last_error
        print(f"Last error (trial {number}): {line}")
    _err(f"Inspect it with: hpo show {study.name} --storage {url}")
    try:
        best = study.best_trial
    except ValueError:
        print("No trial has completed, so there is no best configuration.")
    else:
        print(f"Best value: {best.value:.6g} (trial {best.number})")
        print(f"Best configuration: {json.dumps(best.params, default=_json_default)}")
    all_failed = 0 < tally.counts["FAILED"] == sum(tally.counts.values())
    return EXIT_FAILED if all_failed else EXIT_OK


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _format_counts(counts: Counter[str]) -> str:
    parts = [f"{counts[s]} {s}" for s in STATES if counts[s]]
    return ", ".join(parts) or "none finished"


# --- storage and studies ---------------------------------------------------------------
def storage_url(given: str | None) -> str:
    """``--storage``, else ``$HPO_STORAGE``, else :data:`DEFAULT_STORAGE`."""
    return given or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (``None`` for other URLs and in-memory)."""
    if not url.lower().startswith("sqlite"):
        return None
    try:
        from sqlalchemy.engine import make_url

        database = make_url(url).database
    except Exception:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def open_storage(url: str) -> Storage:
    """The storage at ``url``, or a :class:`UsageError` saying why the URL is invalid."""
    from hpo.storage import get_storage

    _check_sqlite_directory(url)
    try:
        return get_storage(url)
    except Exception as exc:
        raise UsageError(f"invalid storage URL {url!r}: {_first_line(exc)}") from None


def open_existing_storage(url: str) -> Storage | None:
    """Like :func:`open_storage`, but ``None`` for a SQLite file that does not exist (so
    read-only commands never create one)."""
    _check_sqlite_directory(url)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return None
    return open_storage(url)


def _check_sqlite_directory(url: str) -> None:
    path = sqlite_file(url)
    if path is not None and not path.parent.is_dir():
        raise UsageError(
            f"invalid storage URL {url!r}: directory {str(path.parent)!r} does not exist"
        )


def find_study(storage: Storage | None, name: str, url: str) -> StudyRecord:
    """The stored study ``name``, or a :class:`UsageError` listing the existing ones."""
    from hpo.exceptions import StudyNotFoundError

    if storage is not None:
        try:
            return storage.get_study(name)
        except StudyNotFoundError:
            pass
    names = [r.name for r in storage.list_studies()] if storage is not None else []
    if not names:
        raise UsageError(f"no study named {name!r}: {url} has no studies")
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(
        f"no study named {name!r} in {url}.{hint} Existing studies: {', '.join(names)}"
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# --- hpo studies -----------------------------------------------------------------------
def cmd_studies(args: argparse.Namespace) -> int:
    """``hpo studies``: one row per study with its trials by state and best value."""
    url = storage_url(args.storage)
    storage = open_existing_storage(url)
    if storage is None:
        print(f"No studies in {url}.")
        return EXIT_OK
    try:
        rows = [_study_row(storage, r) for r in storage.list_studies()]
    finally:
        storage.close()
    if not rows:
        print(f"No studies in {url}.")
        return EXIT_OK
    headers = ["NAME", "DIRECTION", "SEARCHER", "TRIALS", *STATES, "BEST", "CREATED"]
    print(format_table(headers, rows))
    return EXIT_OK


def _study_row(storage: Storage, record: StudyRecord) -> list[Any]:
    trials = storage.get_trials(record.study_id).trials
    counts = Counter(t.state.value for t in trials)
    best = best_of(trials, record.direction)
    return [
        record.name,
        record.direction,
        record.searcher,
        len(trials),
        *(counts[s] for s in STATES),
        None if best is None else best.value,
        record.created_at,
    ]


def best_of(trials: Sequence[FrozenTrial], direction: str) -> FrozenTrial | None:
    """The best COMPLETE trial (ties: the earliest), as :attr:`Study.best_trial` picks."""
    complete = [t for t in trials if t.state.value == "COMPLETE" and t.value is not None]
    if not complete:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    return min(complete, key=lambda t: (sign * t.value, t.number))  # type: ignore[operator]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with columns aligned (numbers right, text left)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in cells:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        local = value.astimezone() if value.tzinfo is not None else value
        return local.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


# --- hpo show --------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace) -> int:
    """``hpo show``: a study's definition, counts by state, best trial and last trials."""
    url = storage_url(args.storage)
    storage = open_existing_storage(url)
    try:
        record = find_study(storage, args.study, url)
        assert storage is not None
        trials = storage.get_trials(record.study_id).trials
        print(describe_study(record, trials, args.last))
    finally:
        if storage is not None:
            storage.close()
    return EXIT_OK


def describe_study(record: StudyRecord, trials: Sequence[FrozenTrial], last: int) -> str:
    """The text ``hpo show`` prints."""
    kwargs = json.dumps(record.searcher_kwargs, sort_keys=True) if record.searcher_kwargs else ""
    lines = [
        f"Study {record.name!r}",
        f"  direction:  {record.direction}",
        f"  searcher:   {record.searcher} {kwargs}".rstrip(),
        f"  seed:       {_cell(record.seed)}",
        f"  metric:     {_cell(record.metric)}",
        f"  created:    {_cell(record.created_at)}",
        "Space (define-by-run; the parameters seen so far):" if record.define_by_run else "Space:",
    ]
    lines += [f"  {name}: {param!r}" for name, param in record.space.items()] or ["  (empty)"]
    counts = Counter(t.state.value for t in trials)
    lines.append(f"Trials: {len(trials)} ({_format_counts(counts)})")
    best = best_of(trials, record.direction)
    if best is None:
        lines.append("Best trial: none complete yet")
    else:
        lines.append(
            f"Best trial: {best.number}, value {best.value:.6g}, "
            f"configuration {json.dumps(best.params, default=_json_default)}"
        )
    if trials:
        shown = trials[-last:]
        lines.append(f"Last {_plural(len(shown), 'trial')}:")
        lines.append(
            _indent(
                format_table(
                    ["NUMBER", "STATE", "VALUE", "DURATION", "PARAMS", "ERROR"],
                    [_trial_row(t) for t in shown],
                )
            )
        )
    return "\n".join(lines)


def _trial_row(t: FrozenTrial) -> list[Any]:
    error = t.error.strip().splitlines()[-1] if t.error else ""
    if len(error) > 60:
        error = error[:57] + "..."
    return [
        t.number,
        t.state.value,
        t.value,
        t.duration,
        json.dumps(t.params, default=_json_default),
        error,
    ]


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


# --- hpo export ------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    """``hpo export``: the study's trials as CSV or JSON, to stdout or ``--output``."""
    url = storage_url(args.storage)
    storage = open_existing_storage(url)
    try:
        record = find_study(storage, args.study, url)
        assert storage is not None
        trials = storage.get_trials(record.study_id).trials
    finally:
        if storage is not None:
            storage.close()
    text = export_csv(trials) if args.format == "csv" else export_json(record, trials)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output!r}: {exc.strerror or exc}") from None
    _err(f"Wrote {len(trials)} trials of {record.name!r} to {args.output}")
    return EXIT_OK


def export_csv(trials: Sequence[FrozenTrial]) -> str:
    """One flat row per trial (the columns of :meth:`Study.trials_dataframe`)."""
    from hpo.tables import trials_dataframe

    return str(trials_dataframe(list(trials)).to_csv(index=False))


def export_json(record: StudyRecord, trials: Sequence[FrozenTrial]) -> str:
    """``{"study": {...definition...}, "trials": [...full records...]}`` as indented JSON."""
    study = {
        "name": record.name,
        "direction": record.direction,
        "searcher": record.searcher,
        "searcher_kwargs": record.searcher_kwargs,
        "seed": record.seed,
        "metric": record.metric,
        "define_by_run": record.define_by_run,
        "space": record.space.to_json(),
        "created_at": record.created_at,
        "user_attrs": record.user_attrs,
    }
    payload = {"study": study, "trials": [trial_record(t) for t in trials]}
    return json.dumps(payload, indent=2, default=_json_default) + "\n"


def trial_record(t: FrozenTrial) -> dict[str, Any]:
    """Everything stored about a trial, JSON-ready (datetimes are ISO 8601 strings)."""
    return {
        "number": t.number,
        "state": t.state.value,
        "value": t.value,
        "params": t.params,
        "metrics": t.metrics,
        "intermediate_values": {str(k): v for k, v in sorted(t.intermediate_values.items())},
        "user_attrs": t.user_attrs,
        "datetime_start": t.datetime_start,
        "datetime_complete": t.datetime_complete,
        "duration": t.duration,
        "budget": t.budget,
        "parent": t.parent,
        "searcher_time": t.searcher_time,
        "error": t.error,
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    return str(value)


def _err(message: str, stream: IO[str] | None = None) -> None:
    print(message, file=stream if stream is not None else sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
