"""``hpo run``: check every argument before anything is stored, create the study (or
continue a stored one with ``--load-if-exists``), optimize it with a progress bar, and
print a summary of this run: its trials by state, the last error, and the study's best
value and configuration. Ctrl-C and SIGTERM stop the run cleanly: the running trials are
marked FAILED, the summary is still printed, and the exit code says which signal it was."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hpo.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    UsageError,
    err,
    error_line,
    format_counts,
    format_params,
    open_storage,
    plural,
    storage_url,
)
from hpo.cli._objective import load_objective

if TYPE_CHECKING:
    from hpo.executors.base import Executor
    from hpo.storage import Storage
    from hpo.study import Study
    from hpo.trial import FrozenTrial


def cmd_run(args: argparse.Namespace) -> int:
    """``hpo run``: validate everything, then create or load the study and optimize it."""
    if args.n_trials is None and args.timeout is None:
        raise UsageError("give --n-trials, --timeout or both")
    if args.load_if_exists and not args.name:
        raise UsageError("--load-if-exists needs --name (the study to continue)")
    kwargs = parse_searcher_kwargs(args.searcher_kwargs)
    if args.searcher is not None:
        check_searcher(args.searcher)
    if args.stopper is not None:
        check_stopper(args.stopper)
    executor = make_executor(args.executor, args.n_workers)
    objective = load_objective(args.target)
    url = storage_url(args.storage)
    storage = open_storage(url)
    try:
        study = create_or_load(args, objective, storage, kwargs, url)
        return optimize(study, args, executor, url)
    finally:
        storage.close()


def parse_searcher_kwargs(text: str | None) -> dict[str, Any] | None:
    """``--searcher-kwargs`` as a dict (``None`` when not given: a continued study keeps
    its stored options); a :class:`UsageError` unless it is a JSON object."""
    if text is None:
        return None
    return parse_json_object("--searcher-kwargs", text)


def parse_json_object(option: str, text: str) -> dict[str, Any]:
    """``text`` as a JSON object, or a :class:`UsageError` naming ``option``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option} is not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise UsageError(
            f"{option} must be a JSON object such as '{{\"resolution\": 5}}', got {text!r}"
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


def check_stopper(name: str) -> None:
    """A :class:`UsageError` naming the available stoppers unless ``name`` is one."""
    from hpo.exceptions import HPOError
    from hpo.stoppers import stopper_class

    try:
        stopper_class(name)
    except HPOError as exc:
        raise UsageError(str(exc)) from None


def make_executor(name: str | None, n_workers: int) -> Executor:
    """The executor for ``--executor`` and ``--n-workers``."""
    from hpo.executors import resolve_executor

    try:
        return resolve_executor(name, n_workers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def create_or_load(
    args: argparse.Namespace,
    objective: Callable[..., Any],
    storage: Storage,
    kwargs: dict[str, Any] | None,
    url: str,
) -> Study:
    """The study to optimize: new, or the stored ``--name`` with ``--load-if-exists``.

    When continuing a study, options not given on the command line (searcher, its
    options, direction, seed, stopper) are the stored ones; a given one that conflicts is
    a usage error."""
    import hpo
    from hpo.exceptions import DuplicateStudyError, HPOError

    stopper_kwargs = None
    if args.stopper_kwargs is not None:
        if args.stopper is None:
            raise UsageError("--stopper-kwargs needs --stopper")
        stopper_kwargs = parse_json_object("--stopper-kwargs", args.stopper_kwargs)
    try:
        return hpo.create_study(
            objective,
            direction=args.direction,
            searcher=args.searcher,
            searcher_kwargs=kwargs,
            name=args.name,
            storage=storage,
            seed=args.seed,
            load_if_exists=args.load_if_exists,
            stopper=args.stopper,
            stopper_kwargs=stopper_kwargs,
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
    budget = plural(args.n_trials, "trial") if args.n_trials else "trials"
    limit = f" for at most {args.timeout:g}s" if args.timeout else ""
    err(
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
        err(f"{what}: {plural(aborted, 'running trial')} marked FAILED.")
        print_summary(study, tally, url)
        return EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED
    except (HPOError, ValueError, TypeError) as exc:
        err(f"hpo run: error: {exc}")
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
        raise _Terminated("terminated by SIGTERM")

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
                self.last_error = (trial.number, error_line(trial.error))

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
        f"Study {study.name!r}: {plural(n, 'trial')} in {tally.elapsed:.1f}s"
        f" ({format_counts(tally.counts)})"
    )
    if tally.last_error is not None:
        number, line = tally.last_error
        print(f"Last error (trial {number}): {line}")
    err(f"Inspect it with: hpo show {study.name} --storage {url}")
    try:
        best = study.best_trial
    except ValueError:
        print("No trial has completed, so there is no best configuration.")
    else:
        print(f"Best value: {best.value:.6g} (trial {best.number})")
        print(f"Best configuration: {format_params(best.params)}")
    all_failed = 0 < tally.counts["FAILED"] == n
    return EXIT_FAILED if all_failed else EXIT_OK
