"""Executors run trials; :class:`OptimizeRun` is the one ``optimize`` call they serve.

An executor only decides *where* objectives run. It loops::

    while (spec := run.start_trial()) is not None:     # reserves budget, asks the driver
        outcome = <evaluate the objective for spec somewhere>
        run.finish(spec, outcome)                        # tells the driver, callbacks, progress

``start_trial`` is thread-safe and enforces ``n_trials`` exactly (a slot is reserved
before asking), the ``timeout`` (no trial starts after it), exhaustion of the searcher
and :meth:`OptimizeRun.stop`. On Ctrl-C an executor calls :meth:`OptimizeRun.abort`,
which marks every trial it started and has not finished as FAILED.

Executors know the study only through its :class:`~hpo.driver.Driver`: they import
nothing from :mod:`hpo.study`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from hpo.channel import DriverChannel
from hpo.driver import Driver
from hpo.exceptions import SearchSpaceExhausted, TrialFinishedError
from hpo.objective import Objective, TrialOutcome, evaluate
from hpo.trial import FrozenTrial, Trial, TrialSpec, TrialState

#: called with each trial an optimize run finished (the study binds its own argument)
TrialCallback = Callable[[FrozenTrial], None]
Evaluate = Callable[[TrialSpec], TrialOutcome]


class Executor(ABC):
    """Runs the trials of one ``optimize`` call."""

    #: whether the executor evaluates objectives in other processes (objective must pickle)
    remote: bool = False

    @abstractmethod
    def run(self, run: OptimizeRun) -> None:
        """Run trials until ``run.start_trial()`` returns ``None``."""


class OptimizeRun:
    """Budget accounting and bookkeeping shared by every executor for one optimize call."""

    def __init__(
        self,
        driver: Driver,
        objective: Objective,
        *,
        n_trials: int | None,
        timeout: float | None,
        catch: tuple[type[BaseException], ...],
        callbacks: Sequence[TrialCallback] = (),
        progress: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.driver = driver
        self.channel = DriverChannel(driver)
        self.objective = objective
        self.n_trials = n_trials
        self.timeout = timeout
        self.catch = catch
        self.callbacks = list(callbacks)
        self.progress = progress
        self._lock = threading.Lock()
        self._started = 0
        self._finished = 0
        self._running: set[int] = set()
        self._stop_reason: str | None = None
        self._error: BaseException | None = None
        self._clock = clock  # seconds, for the timeout (injectable for tests)
        self._t0 = clock()
        self._closed = threading.Event()
        self._beater: threading.Thread | None = None

    # --- budget ------------------------------------------------------------------------
    @property
    def n_started(self) -> int:
        return self._started

    @property
    def n_finished(self) -> int:
        return self._finished

    @property
    def stopped(self) -> bool:
        return self._stop_reason is not None

    def elapsed(self) -> float:
        return self._clock() - self._t0

    def time_left(self) -> float | None:
        return None if self.timeout is None else self.timeout - self.elapsed()

    def stop(self, reason: str) -> None:
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason

    def _reserve(self) -> bool:
        with self._lock:
            if self._stop_reason is not None:
                return False
            if self.n_trials is not None and self._started >= self.n_trials:
                return False
            if self.timeout is not None and self.elapsed() >= self.timeout:
                self._stop_reason = "timeout"
                return False
            self._started += 1
            return True

    def start_trial(self) -> TrialSpec | None:
        """Reserve one trial of the budget and ask the driver for it; ``None`` when done."""
        if not self._reserve():
            return None
        try:
            spec = self.driver.start_trial(heartbeat=True)
        except SearchSpaceExhausted:
            with self._lock:
                self._started -= 1
                self._stop_reason = self._stop_reason or "exhausted"
            return None
        except BaseException:
            with self._lock:
                self._started -= 1
            raise
        with self._lock:
            self._running.add(spec.number)
            if self._beater is None:
                self._beater = threading.Thread(
                    target=self._beat, name="hpo-heartbeat", daemon=True
                )
                self._beater.start()
        return spec

    def _beat(self) -> None:
        """Beat every running trial, in one batch, each ``driver.heartbeat_interval``
        seconds until closed, so others can tell a live trial from one whose process died."""
        while not self._closed.wait(self.driver.heartbeat_interval):
            with self._lock:
                running = sorted(self._running)
            if not running:
                continue
            # a storage hiccup must not kill the run: the next beat retries
            with contextlib.suppress(Exception):
                self.driver.heartbeat(running)

    def close(self) -> None:
        """Stop the heartbeat thread (called by ``Study.optimize`` when the run ends)."""
        self._closed.set()
        if self._beater is not None:
            self._beater.join(timeout=5)

    def finish(self, spec: TrialSpec, outcome: TrialOutcome) -> FrozenTrial | None:
        """Record ``outcome`` for ``spec``, run callbacks, and remember errors to re-raise."""
        try:
            frozen = self.driver.finish_trial(spec.number, outcome)
        except TrialFinishedError:  # e.g. failed by abort() while it was still running
            frozen = None
        with self._lock:
            self._running.discard(spec.number)
            self._finished += 1
            if outcome.raised is not None and self._error is None:
                self._error = outcome.raised
                self._stop_reason = "error"
        if frozen is not None:
            for callback in self.callbacks:
                callback(frozen)
            if self.progress is not None:
                self.progress.update(self, frozen)
        return frozen

    def evaluate_here(self, spec: TrialSpec) -> TrialOutcome:
        """Evaluate the objective in this process, talking to the driver directly."""
        return evaluate(self.objective, Trial(spec, self.channel), self.catch)

    def abort(self, reason: str) -> None:
        """Mark every trial this run started and did not finish as FAILED."""
        self.stop(reason)
        with self._lock:
            running = sorted(self._running)
            self._running.clear()
        failed = TrialOutcome(TrialState.FAILED, error=reason)
        for number in running:
            with contextlib.suppress(TrialFinishedError):
                self.driver.finish_trial(number, failed)

    def raise_if_error(self) -> None:
        """Re-raise the first exception an objective raised outside ``catch``."""
        if self._error is not None:
            raise self._error


def interrupt_reason(exc: KeyboardInterrupt) -> str:
    """The error stored on trials an interrupt failed: the interrupt's own message when it
    has one (``hpo run`` raises one saying "terminated by SIGTERM"), else Ctrl-C's."""
    return f"interrupted: {exc}" if str(exc) else "interrupted by KeyboardInterrupt (Ctrl-C)"


def drive_in_threads(
    run: OptimizeRun,
    evaluators: Sequence[Evaluate],
    *,
    on_interrupt: Callable[[], None] | None = None,
) -> None:
    """Run trials from one thread per evaluator until ``run`` is spent.

    Ctrl-C fails the running trials (after ``on_interrupt``, e.g. killing workers) and
    propagates; the first error raised in a thread stops the run, fails its running trials
    and is re-raised here."""
    failures: list[BaseException] = []

    def loop(evaluate: Evaluate) -> None:
        try:
            while (spec := run.start_trial()) is not None:
                run.finish(spec, evaluate(spec))
        except BaseException as exc:
            failures.append(exc)
            run.stop("error")

    threads = [
        threading.Thread(target=loop, args=(ev,), name=f"hpo-worker-{i}", daemon=True)
        for i, ev in enumerate(evaluators)
    ]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.1)
    except KeyboardInterrupt as exc:
        run.abort(interrupt_reason(exc))
        if on_interrupt is not None:
            on_interrupt()
        raise
    if failures:
        run.abort(f"optimization stopped by {type(failures[0]).__name__}: {failures[0]}")
        raise failures[0]
