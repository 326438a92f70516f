"""Process executor: each of ``n_workers`` worker processes runs one trial at a time.

The driver (in this process) owns the searcher and the storage; a worker only evaluates
the objective. A running trial's calls travel over a pipe as the channel protocol's
requests (:mod:`hpo.channel`) and the driver answers them, so in-memory studies work too.
A trial that runs past ``trial_timeout`` seconds has its worker killed and is FAILED with
that reason; a worker that dies (segfault, ``os._exit``, out of memory) fails its trial
the same way, and a fresh worker takes its place.

Workers are started, and ready (imports done, objective unpickled), before the first
trial is opened, and a worker lost with its trial is replaced before the next one, so trial
durations never include a worker's start-up.

The objective travels to the workers pickled: by reference for a module-level function or
decorated objective, by value (cloudpickle) for closures, lambdas and functions defined in
``__main__`` or a notebook. Workers start with ``start_method`` (``"spawn"`` by default:
safe with threads, the driver has some).
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

from hpo.channel import Reply, Request, RequestChannel, portable, reply
from hpo.executors.base import Executor, OptimizeRun, drive_in_threads
from hpo.objective import Objective, TrialOutcome, evaluate
from hpo.trial import Trial, TrialSpec, TrialState

_POLL = 0.05


def _pipe_sender(conn: Connection) -> Any:
    """A channel transport over ``conn``: send a request, wait for its reply."""

    def send(request: Request) -> Reply:
        conn.send(("request", request))
        answer: Reply = conn.recv()
        return answer

    return send


def ship(objective: Objective) -> bytes:
    """``objective`` pickled for a worker process: by reference where pickle can, else by
    value with cloudpickle (closures, lambdas, ``__main__``); ``TypeError`` when neither
    can, saying what to do."""
    try:
        return pickle.dumps(objective, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
    try:
        import cloudpickle
    except ImportError:
        raise TypeError(
            f"the process executor sends the objective to worker processes, but "
            f"{objective.name!r} cannot be pickled ({reason}); install cloudpickle to send "
            "closures and lambdas, use a module-level function, or executor='thread'"
        ) from None
    try:
        return bytes(cloudpickle.dumps(objective, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:
        raise TypeError(
            f"the process executor sends the objective to worker processes, but "
            f"{objective.name!r} cannot be pickled, even by value ({type(exc).__name__}: "
            f"{exc}); use a module-level function or executor='thread'"
        ) from None


def _worker_main(conn: Connection, shipped: bytes, catch: tuple[type[BaseException], ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides what Ctrl-C does
    objective: Objective = pickle.loads(shipped)
    channel = RequestChannel(_pipe_sender(conn))
    conn.send(("ready", None))  # imports done, objective unpickled: trials may start
    while True:
        try:
            spec = conn.recv()
        except EOFError:
            return
        if spec is None:
            return
        conn.send(("started", spec.number))
        outcome = evaluate(objective, Trial(spec, channel), catch)
        raised = portable(outcome.raised) if outcome.raised is not None else None
        conn.send(
            (
                "done",
                TrialOutcome(outcome.state, outcome.value, outcome.metrics, outcome.error, raised),
            )
        )


class ProcessExecutor(Executor):
    """Runs trials in ``n_workers`` worker processes, with an optional per-trial time limit.

    >>> study.optimize(n_trials=20, executor=ProcessExecutor(4, trial_timeout=60))  # doctest: +SKIP
    """

    remote = True

    def __init__(
        self, n_workers: int = 2, *, trial_timeout: float | None = None, start_method: str = "spawn"
    ) -> None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive int, got {n_workers!r}")
        if trial_timeout is not None and not trial_timeout > 0:
            raise ValueError(
                f"trial_timeout must be a positive number of seconds, got {trial_timeout!r}"
            )
        if start_method not in mp.get_all_start_methods():
            raise ValueError(
                f"start_method must be one of {mp.get_all_start_methods()}, got {start_method!r}"
            )
        self.n_workers = n_workers
        self.trial_timeout = trial_timeout
        self.start_method = start_method

    def run(self, run: OptimizeRun) -> None:
        shipped = ship(run.objective)
        ctx = mp.get_context(self.start_method)
        workers = [_Worker(ctx, run, shipped, self.trial_timeout) for _ in range(self.n_workers)]

        def kill_all() -> None:
            for w in workers:
                w.kill()

        try:
            for w in workers:  # start them all at once: each one imports for a while
                w.launch()
            for w in workers:  # no trial starts (its clock) before a worker is ready
                w.wait_ready()
            drive_in_threads(run, [w.run_trial for w in workers], on_interrupt=kill_all)
        finally:
            for w in workers:
                w.close()


class _Worker:
    """One worker process and its pipe, restarted after a crash or a time-out."""

    def __init__(self, ctx: Any, run: OptimizeRun, shipped: bytes, limit: float | None) -> None:
        self._ctx = ctx
        self._run = run
        self._shipped = shipped
        self._limit = limit
        self._proc: Any = None
        self._conn: Connection | None = None

    def launch(self) -> None:
        """Start the worker process (it says "ready" once it can take a trial)."""
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=_worker_main, args=(child, self._shipped, self._run.catch), daemon=True
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent

    def wait_ready(self) -> None:
        """Wait until the worker has imported everything and unpickled the objective, so
        that a trial's times (started when the driver opens it) exclude the start-up. A
        worker that dies while starting is left for :meth:`run_trial` to report."""
        assert self._conn is not None and self._proc is not None
        while True:
            try:
                if self._conn.poll(_POLL):
                    kind, _ = self._conn.recv()
                    if kind == "ready":
                        return
            except (EOFError, OSError):
                return
            if not self._proc.is_alive():
                return

    def _start(self) -> None:
        self.launch()
        self.wait_ready()

    def run_trial(self, spec: TrialSpec) -> TrialOutcome:
        """Evaluate ``spec`` in the worker process, answering its channel calls (a worker
        lost with its last trial is replaced before this returns, so the next trial's
        clock never includes a start-up either)."""
        outcome = self._run_trial(spec)
        run = self._run
        more = run.n_trials is None or run.n_started < run.n_trials
        if self._proc is None and more and not run.stopped:
            self._start()
        return outcome

    def _run_trial(self, spec: TrialSpec) -> TrialOutcome:
        limit = self._limit
        if self._proc is None or not self._proc.is_alive():
            self._start()
        conn = self._conn
        assert conn is not None
        conn.send(spec)
        deadline: float | None = None  # the clock starts when the worker has the trial
        while True:
            if deadline is not None and time.monotonic() > deadline:
                self.kill()
                return TrialOutcome(
                    TrialState.FAILED,
                    error=f"trial {spec.number} exceeded the per-trial time limit of "
                    f"{limit:g}s and its worker process was killed",
                )
            try:
                ready = conn.poll(_POLL)
                msg = conn.recv() if ready else None
            except (EOFError, OSError):
                msg, ready = None, False
                self._proc.join(timeout=1.0)
            if msg is None:
                if not self._proc.is_alive():
                    code = self._proc.exitcode
                    self._discard()
                    return TrialOutcome(
                        TrialState.FAILED,
                        error=f"the worker process running trial {spec.number} died "
                        f"(exit code {code})",
                    )
                continue
            kind = msg[0]
            if kind == "started":
                deadline = None if limit is None else time.monotonic() + limit
                continue
            if kind == "done":
                outcome: TrialOutcome = msg[1]
                return outcome
            conn.send(reply(self._run.driver, msg[1]))

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn = None, None

    def kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._discard()

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            try:
                assert self._conn is not None
                self._conn.send(None)
                self._proc.join(timeout=5)
            except (OSError, BrokenPipeError):
                pass
        self.kill()
