"""The driver: the engine of one study.

A driver owns a study's searcher and stopper. It starts trials (fails stale ones, pops the
queue of enqueued configurations, asks the searcher, creates the trial, saves the
searcher's state), finishes them, answers intermediate reports with a
:class:`~hpo.trial.Decision`, suggests define-by-run parameters (idempotently) and beats
running trials in batches. :class:`~hpo.study.Study` is the user's object and holds a
driver; executors drive the driver and know nothing of the study.

There is one driver per study at a time, wherever it lives: in the user's process
(:class:`LocalDriver`, over a :class:`~hpo.storage.Storage`), or in a server, in which
case the client holds a stand-in that forwards every call over HTTP. Several processes
may each hold a :class:`LocalDriver` of one in-process study (they coordinate through the
storage's counters and incremental reads); a study whose stored ``owner`` names a server
is refused (:class:`~hpo.exceptions.StudyOwnedError`).

**Replica mode** (``LocalDriver(..., replica=True)``, what server replicas on one
PostgreSQL use): every call that changes the searcher (an ask, a report to a searcher
that owns stopping, a define-by-run suggestion) runs under the storage's study lock,
which excludes the other replicas; inside it the driver reads the searcher state's
version, rebuilds its searcher (saved state plus a replay of the stored trials it already
holds) when another replica advanced it, catches up on new trials, asks, and saves the
state with a compare-and-set. Replicas therefore share one searcher: one grid walk, one
BOHB bracket schedule, one PBT population. Without it a driver takes no lock and keeps
the single-process speed.

**Worker ids.** ``start_trial(worker_id=...)`` returns the worker's own RUNNING trial
when it has one (asked before, never told), so a retried or repeated ask never leaves an
orphan trial.

>>> driver = LocalDriver(storage, storage.get_study("exp"))      # doctest: +SKIP
>>> spec = driver.start_trial()                                   # doctest: +SKIP
>>> driver.report(spec.number, 1, 0.5)                            # doctest: +SKIP
<Decision.CONTINUE: 'CONTINUE'>
>>> driver.finish_trial(spec.number, TrialOutcome(TrialState.COMPLETE, 0.4))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.budget import Budget
from hpo.exceptions import SearchSpaceExhausted, StudyOwnedError
from hpo.objective import TrialOutcome
from hpo.searchers import Searcher, make_searcher
from hpo.space import Param, Space, SpaceError, hull
from hpo.storage import Storage, StudyRecord
from hpo.storage.base import StudyStoppedError, check_worker_id
from hpo.trial import Decision, FrozenTrial, TrialSpec, TrialState, check_user_attr

if TYPE_CHECKING:
    from hpo.stoppers import Stopper

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "Clock",
    "Driver",
    "LocalDriver",
]

#: seconds between heartbeats of running trials; a trial silent for the grace period
#: (default four intervals) belongs to a process that died and is failed
DEFAULT_HEARTBEAT_INTERVAL = 30.0

#: the wall clock a driver compares heartbeats against (injectable for tests)
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Driver(ABC):
    """The engine of one study: what executors, the server and remote workers call.

    Every method is thread-safe. Numbers are trial numbers of the driver's study."""

    #: seconds between the heartbeats an executor sends for its running trials
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL

    @property
    @abstractmethod
    def record(self) -> StudyRecord:
        """The study's stored definition, as this driver last read it."""

    @property
    def checkpoint_root(self) -> str | None:
        """Where trials keep checkpoints (an artifact store location every worker of this
        driver can reach), or ``None`` when they go through the channel."""
        return None

    @abstractmethod
    def start_trial(self, *, heartbeat: bool = True, worker_id: str | None = None) -> TrialSpec:
        """Open the next trial (an enqueued configuration first, else the searcher's
        next) as RUNNING and return what a worker needs to run it. ``heartbeat=True``
        for trials whose runner keeps beating. A ``worker_id`` that already has a RUNNING
        trial gets that trial back instead of a new one. Raises
        :class:`~hpo.exceptions.SearchSpaceExhausted` when the searcher has nothing new."""

    @abstractmethod
    def finish_trial(self, number: int, outcome: TrialOutcome) -> FrozenTrial:
        """Store a trial's outcome (COMPLETE, PRUNED or FAILED), once; the searcher learns
        it before the next ask. :class:`~hpo.exceptions.TrialFinishedError` if finished."""

    def finish_and_start(
        self,
        number: int,
        outcome: TrialOutcome,
        *,
        heartbeat: bool = True,
        worker_id: str | None = None,
    ) -> tuple[FrozenTrial, TrialSpec | None]:
        """Finish trial ``number`` and open the next one, for a worker that *will* run
        another: :meth:`finish_trial`, then :meth:`start_trial` (``None`` instead of
        :class:`~hpo.exceptions.SearchSpaceExhausted`). Other errors of the start
        propagate after the finish is stored, as with the two calls. A server's driver
        does both in one round trip (:class:`hpo.remote.RemoteDriver`). Call it only when
        the next trial will run: the trial it opens is the caller's to finish."""
        frozen = self.finish_trial(number, outcome)
        try:
            return frozen, self.start_trial(heartbeat=heartbeat, worker_id=worker_id)
        except SearchSpaceExhausted:
            return frozen, None

    @abstractmethod
    def report(self, number: int, step: int, value: float) -> Decision:
        """Store an intermediate value and decide whether the trial goes on (the
        stopper's, or the searcher's when it owns stopping; CONTINUE without either)."""

    @abstractmethod
    def suggest(self, number: int, name: str, param: Param) -> Any:
        """The value of define-by-run parameter ``name`` for a running trial. Idempotent:
        asking again for a parameter the trial already has returns the stored value."""

    @abstractmethod
    def set_user_attr(self, number: int, key: str, value: Any) -> None:
        """Attach a JSON-serializable attribute to a trial."""

    @abstractmethod
    def heartbeat(self, numbers: Iterable[int]) -> list[int]:
        """Beat several running trials at once; returns the numbers beaten (finished ones
        are skipped)."""

    @abstractmethod
    def sync(self) -> None:
        """Catch the searcher up on trials finished elsewhere since it last looked."""

    @abstractmethod
    def enqueue(
        self, params: Mapping[str, Any], *, user_attrs: Mapping[str, Any] | None = None
    ) -> FrozenTrial:
        """Queue a configuration (with attributes for the trial it becomes) to evaluate
        before the searcher's next suggestions."""

    def add_trial(self, trial: FrozenTrial, distributions: Mapping[str, Param]) -> FrozenTrial:
        """Store a finished trial evaluated elsewhere (``Study.add_trial``); a define-by-run
        study learns the parameters it has not seen from ``distributions``."""
        raise NotImplementedError(f"{type(self).__name__} cannot add finished trials")

    def save_checkpoint(self, number: int, data: bytes) -> None:
        """Keep ``data`` (a pickled object) as the trial's latest checkpoint; for workers
        that cannot reach :attr:`checkpoint_root` themselves."""
        raise NotImplementedError(f"{type(self).__name__} keeps no checkpoints")

    def load_checkpoint(self, number: int, parent: int | None = None) -> bytes | None:
        """The trial's latest checkpoint (pickled), else its parent's, else ``None``."""
        raise NotImplementedError(f"{type(self).__name__} keeps no checkpoints")

    def spec_for(self, trial: FrozenTrial) -> TrialSpec:
        """What a worker needs to run ``trial``."""
        return TrialSpec(
            study_name=self.record.name,
            number=trial.number,
            params=dict(trial.params),
            budget=trial.budget,
            parent=trial.parent,
            checkpoint_root=self.checkpoint_root,
        )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the driver holds (nothing for the local driver)."""


class LocalDriver(Driver):
    """A driver in this process, over a :class:`~hpo.storage.Storage`.

    The searcher is rebuilt from the study's ``(searcher name, options, saved state)``
    and caught up by replaying the stored trials through the storage's incremental
    read. Trials whose heartbeat stopped for ``grace_period`` seconds (default four
    ``heartbeat_interval``) are failed before each ask, at most once per interval,
    comparing against ``clock`` (UTC; injectable for tests). ``owner`` is who drives the
    study (``None``: this process, like any other in-process driver; a server passes its
    own name, and claims an unowned study). ``artifacts`` is the checkpoint directory.
    ``replica=True`` shares the searcher with other processes driving the study (see the
    module docstring).
    """

    def __init__(
        self,
        storage: Storage,
        record: StudyRecord,
        *,
        artifacts: str | Path | None = None,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        grace_period: float | None = None,
        owner: str | None = None,
        clock: Clock = _utcnow,
        replica: bool = False,
    ) -> None:
        if not heartbeat_interval > 0:
            raise ValueError(f"heartbeat_interval must be > 0 seconds, got {heartbeat_interval!r}")
        grace = 4 * heartbeat_interval if grace_period is None else grace_period
        if not grace > heartbeat_interval:
            raise ValueError(
                f"grace_period ({grace}) must exceed heartbeat_interval ({heartbeat_interval}), "
                "or live trials would be failed"
            )
        if record.owner is not None and record.owner != owner:
            raise StudyOwnedError(
                f"study {record.name!r} is driven by {record.owner}; connect to it there "
                "(storage='http://host:port') instead of driving it in this process"
            )
        if owner is not None and record.owner is None:
            storage.set_study_owner(record.study_id, owner)
            record = storage.get_study_by_id(record.study_id)
        from hpo.artifacts import get_artifact_store

        self.storage = storage
        self.heartbeat_interval = float(heartbeat_interval)
        self.grace_period = float(grace)
        self.owner = owner
        self._clock = clock
        self._record = record
        self._artifacts = get_artifact_store(artifacts)  # a path or a URI (s3://, file://)
        self._checkpoint_root = self._artifacts.location
        self._lock = threading.RLock()
        self._searcher: Searcher | None = None
        self._stopper: Stopper | None = None
        self._cursor = 0
        self._history: dict[int, FrozenTrial] = {}
        self._told: set[int] = set()
        self._waiting: set[int] = set()
        self._saved_state: str | None = (
            json.dumps(record.searcher_state, sort_keys=True) if record.searcher_state else None
        )
        self._last_stale_check = -math.inf
        self.replica = bool(replica)
        self._state_version: int | None = None  # the version this searcher holds, if known
        self._reread = False  # replica mode: re-read the whole study at the next rebuild

    def __repr__(self) -> str:
        return f"LocalDriver(study={self._record.name!r}, storage={self.storage!r})"

    # --- what the driver owns --------------------------------------------------------
    @property
    def record(self) -> StudyRecord:
        return self._record

    @property
    def study_id(self) -> int:
        return self._record.study_id

    @property
    def checkpoint_root(self) -> str:
        return self._checkpoint_root

    @property
    def searcher(self) -> Searcher:
        """The study's searcher, built on first use from its name, options and state."""
        with self._lock:
            if self._searcher is None:
                self._searcher = self._build_searcher(self._record.searcher_state)
            return self._searcher

    def _build_searcher(self, state: dict[str, Any] | None) -> Searcher:
        rec = self._record
        searcher = make_searcher(
            rec.searcher,
            None if rec.define_by_run else rec.space,
            direction=rec.direction,
            seed=rec.seed,
            budget=rec.budget,
            **rec.searcher_kwargs,
        )
        if state:
            searcher.load_state_dict(state)
        searcher.bind_counter(lambda key: self.storage.next_counter(self.study_id, key))
        return searcher

    @contextlib.contextmanager
    def _shared_searcher(self) -> Iterator[None]:
        """Hold this driver's lock and, in replica mode, the study lock with the searcher
        caught up to the state other replicas saved; the state is saved on the way out."""
        with self._lock:
            if not self.replica:
                yield
                return
            with self.storage.study_lock(self.study_id):
                saved = self.storage.load_searcher_state(self.study_id)
                if saved.version != self._state_version:
                    self._rebuild(saved.state)
                    self._state_version = saved.version
                try:
                    yield
                except BaseException:
                    # the searcher may be half-changed, and the storage may have rolled the
                    # block's writes back (PostgreSQL: one transaction): rebuild from a
                    # fresh read of the study
                    self._state_version = None
                    self._reread = True
                    raise
                self._save_state_if_changed()

    def _rebuild(self, state: dict[str, Any] | None) -> None:
        """A new searcher from ``state`` (another replica's), told every finished trial
        this driver holds, after catching up on the storage."""
        self._record = self.storage.get_study_by_id(self.study_id)
        if self._reread:  # after a failed block: forget what it may have read or changed
            self._cursor, self._history, self._waiting = 0, {}, set()
            self._reread = False
        searcher = self._build_searcher(state)
        self._searcher = searcher
        self._told = set()
        self._cursor_sync(tell=False)
        for number in sorted(self._history):
            trial = self._history[number]
            if trial.state.is_finished:
                self._told.add(number)
                searcher.tell(trial)
        self._saved_state = json.dumps(state, sort_keys=True) if state else None

    @property
    def stopper(self) -> Stopper | None:
        """The study's stopper, built on first use, or ``None`` without one."""
        rec = self._record
        if rec.stopper is None or rec.budget is None:
            return None
        with self._lock:
            if self._stopper is None:
                self._stopper = build_stopper(rec.stopper, rec.budget, rec)
            return self._stopper

    # --- keeping the searcher current ------------------------------------------------
    def sync(self) -> None:
        with self._lock:
            self._cursor_sync(tell=True)

    def _cursor_sync(self, *, tell: bool) -> bool | None:
        """Read the trials changed since the cursor into the history (telling the searcher
        the newly finished ones when ``tell``). Returns whether the study is stopped when
        the storage answers that in the same read (SQL storages), else ``None``."""
        searcher = self.searcher if tell else None
        stopped: bool | None = None
        both = getattr(self.storage, "get_trials_and_stopped", None)
        if both is not None:
            batch, stopped = both(self.study_id, since=self._cursor)
        else:
            batch = self.storage.get_trials(self.study_id, since=self._cursor)
        for t in batch.trials:
            self._history[t.number] = t
            if t.state is TrialState.WAITING:
                self._waiting.add(t.number)
            else:
                self._waiting.discard(t.number)
            if searcher is not None and t.state.is_finished and t.number not in self._told:
                self._told.add(t.number)
                searcher.tell(t)
            elif searcher is not None and t.state is TrialState.RUNNING:
                searcher.observe_running(t)  # e.g. asked by another process: pending
        self._cursor = batch.cursor
        return stopped

    def _save_state_if_changed(self) -> None:
        state = self.searcher.state_dict()
        encoded = json.dumps(state, sort_keys=True)
        if encoded != self._saved_state:
            expected = self._state_version if self.replica else None
            self._state_version = self.storage.save_searcher_state(
                self.study_id, state, expected_version=expected
            )
            self._saved_state = encoded

    def fail_stale_trials(self, *, force: bool = False) -> list[int]:
        """Fail RUNNING trials whose heartbeat is older than the grace period (their
        process died); at most once per heartbeat interval unless ``force``."""
        now = time.monotonic()
        if not force and now - self._last_stale_check < self.heartbeat_interval:
            return []
        self._last_stale_check = now
        cutoff = self._clock() - timedelta(seconds=self.grace_period)
        return self.storage.fail_stale_trials(
            self.study_id,
            older_than=cutoff,
            error=f"no heartbeat for {self.grace_period:g}s: the process running this trial "
            "is presumed dead",
        )

    def reap(self) -> list[int]:
        """Fail the stale trials now and tell the searcher about them (a server's reaper
        calls this, so a dead worker's trial is failed with nobody asking)."""
        failed = self.fail_stale_trials(force=True)
        if failed:
            with self._shared_searcher():
                self.sync()
                if not self.replica:
                    self._save_state_if_changed()
        return failed

    # --- trials ---------------------------------------------------------------------
    def start_trial(self, *, heartbeat: bool = True, worker_id: str | None = None) -> TrialSpec:
        return self.spec_for(self.start_frozen(heartbeat=heartbeat, worker_id=worker_id))

    def start_frozen(self, *, heartbeat: bool = True, worker_id: str | None = None) -> FrozenTrial:
        """:meth:`start_trial`, returning the stored trial rather than its spec."""
        return self.start_trials(1, heartbeat=heartbeat, worker_id=worker_id)[0]

    def start_trials(
        self,
        n: int = 1,
        *,
        heartbeat: bool = True,
        worker_id: str | None = None,
        resume: bool = True,
    ) -> list[FrozenTrial]:
        """Open ``n`` trials at once (:meth:`start_trial` ``n`` times under one lock). A
        worker's RUNNING trials come back first (``resume=False`` skips looking for them:
        the caller knows the worker id is new); fewer than ``n`` when the searcher runs
        out, :class:`~hpo.exceptions.SearchSpaceExhausted` when it has none at all."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        check_worker_id(worker_id)
        with self._shared_searcher():
            self.fail_stale_trials()
            with self._lock:
                stopped = self._cursor_sync(tell=True)  # sync(), and maybe the stop flag
            trials: list[FrozenTrial] = []
            if worker_id is not None and resume:
                trials = self.storage.worker_trials(self.study_id, worker_id)[:n]
                if trials and heartbeat:
                    self.storage.heartbeat_trials(self.study_id, [t.number for t in trials])
            try:
                if len(trials) < n and (
                    stopped if stopped is not None else self.storage.is_study_stopped(self.study_id)
                ):
                    raise StudyStoppedError(f"study {self._record.name!r} is stopped; resume it")
                while len(trials) < n:
                    trials.append(self._start_one(heartbeat, worker_id))
            except SearchSpaceExhausted:
                if not trials:
                    raise
            if not self.replica:
                self._save_state_if_changed()
            return trials

    def _start_one(self, heartbeat: bool, worker_id: str | None) -> FrozenTrial:
        if self._waiting:
            trial = self.storage.pop_waiting_trial(
                self.study_id, heartbeat=heartbeat, worker_id=worker_id
            )
            if trial is not None:
                self._waiting.discard(trial.number)
                return trial
            self._waiting.clear()
        t0 = time.perf_counter()
        suggestion = self.searcher.ask(1)[0]
        elapsed = time.perf_counter() - t0
        budget = suggestion.budget
        if budget is None and self._record.budget is not None:
            budget = self._record.budget.max
        return self.storage.create_trial(
            self.study_id,
            params=suggestion.config,
            budget=budget,
            parent=suggestion.parent,
            searcher_time=elapsed,
            heartbeat=heartbeat,
            suggestion_id=suggestion.id,
            searcher_info=suggestion.info,
            worker_id=worker_id,
        )

    def finish_trial(self, number: int, outcome: TrialOutcome) -> FrozenTrial:
        if not outcome.state.is_finished:
            raise ValueError(
                f"a trial finishes COMPLETE, PRUNED or FAILED, got {outcome.state.value}"
            )
        value = None if outcome.state is TrialState.FAILED else outcome.value
        return self.storage.finish_trial(
            self.study_id,
            number,
            outcome.state,
            value=value,
            metrics=dict(outcome.metrics),
            error=outcome.error,
        )

    def enqueue(
        self, params: Mapping[str, Any], *, user_attrs: Mapping[str, Any] | None = None
    ) -> FrozenTrial:
        attrs = dict(user_attrs or {})
        for key, value in attrs.items():
            check_user_attr(key, value)
        config = dict(params)
        if not self._record.define_by_run:
            problems = self._record.space.violations(config)
            if problems:
                raise SpaceError(f"cannot enqueue {config!r}: " + "; ".join(problems))
            config = self._record.space.canonical(config)
        trial = self.storage.enqueue_trial(self.study_id, config, user_attrs=attrs)
        with self._lock:
            self._waiting.add(trial.number)
        return trial

    def heartbeat(self, numbers: Iterable[int]) -> list[int]:
        wanted = sorted({int(n) for n in numbers})
        return self.storage.heartbeat_trials(self.study_id, wanted) if wanted else []

    def add_trial(self, trial: FrozenTrial, distributions: Mapping[str, Param]) -> FrozenTrial:
        with self._lock:
            record = self._record = self.storage.get_study_by_id(self.study_id)
            space, config = record.space, dict(trial.params)
            if record.define_by_run:
                space = grow_space(space, config, distributions)
                problems = Space({k: space[k] for k in space if k in config}).violations(config)
                problems += [
                    f"{k}={v!r} is outside {distributions[k]!r}"
                    for k, v in config.items()
                    if k in distributions and not distributions[k].contains(v)
                ]
            else:
                problems = space.violations(config)
            if problems:
                raise SpaceError(f"cannot add a trial with {config!r}: " + "; ".join(problems))
            config = space.canonical(config)
            if space != record.space:
                self.storage.set_study_space(self.study_id, space)
                self._record = self.storage.get_study_by_id(self.study_id)
            return self.storage.add_trial(self.study_id, trial.evolve(params=config))

    # --- calls from running trials ---------------------------------------------------
    def suggest(self, number: int, name: str, param: Param) -> Any:
        with self._shared_searcher():
            space = self._record.space
            known = space.get(name)
            if not self._record.define_by_run and known is None:
                raise SpaceError(
                    f"parameter {name!r} is not in the study's space "
                    f"({', '.join(space) or 'empty'}); "
                    "add it to the space, or create the study without a space (define-by-run)"
                )
            if self._record.define_by_run and (known is None or known != param):
                self._record = self.storage.get_study_by_id(self.study_id)  # others' growth
                space = self._record.space
                known = space.get(name)
            widened = known
            if known is not None and known.to_json() != param.to_json():
                if not self._record.define_by_run:
                    raise SpaceError(
                        f"parameter {name!r} was defined as {known!r} earlier in this study; "
                        f"it cannot become {param!r}: keep one definition per name"
                    )
                try:  # a range may change between trials (dynamic); its kind may not
                    widened = hull(known, param)
                except SpaceError as exc:
                    raise SpaceError(f"parameter {name!r}: {exc}") from None
                widened = known if widened == known else widened
            trial = self.storage.get_trial(self.study_id, number)
            current = trial.params
            if name in current:  # a retried call: the value drawn the first time
                return current[name]
            only = param.grid_values(2)
            if len(only) == 1:  # a degenerate range (low == high): its one value
                value = only[0]
            else:
                value = self.searcher.suggest_param(
                    number, dict(current), name, param, suggestion_id=trial.suggestion_id
                )
            self.storage.set_trial_param(self.study_id, number, name, value)
            grown = None
            if known is None:
                grown = space.with_param(name, param)
            elif widened is not None and widened is not known:  # dynamic: keep the hull
                grown = space.with_replaced(name, widened)
            if grown is not None:
                self.storage.set_study_space(self.study_id, grown)
                self._record = self.storage.get_study_by_id(self.study_id)
            return value

    def report(self, number: int, step: int, value: float) -> Decision:
        self.storage.report(self.study_id, number, step, value)
        searcher = self.searcher
        owns = type(searcher).owns_stopping
        stopper = None if owns else self.stopper
        if stopper is None and not owns:
            return Decision.CONTINUE
        with self._shared_searcher() if owns else self._lock:
            self.sync()  # this report and everything other workers stored since
            searcher = self.searcher  # a replica may have rebuilt it
            trial = self._history.get(number) or self.storage.get_trial(self.study_id, number)
            trials = dict(self._history)
            if owns:
                decision = searcher.on_report(trial, step, value, trials)
            else:
                assert stopper is not None
                decision = stopper.on_report(trial, step, value, trials)
            if not self.replica:
                self._save_state_if_changed()
            return Decision(decision)

    def set_user_attr(self, number: int, key: str, value: Any) -> None:
        check_user_attr(key, value)
        self.storage.set_trial_user_attr(self.study_id, number, key, value)

    def save_checkpoint(self, number: int, data: bytes) -> None:
        self._artifacts.save_bytes(self._record.name, number, data)

    def load_checkpoint(self, number: int, parent: int | None = None) -> bytes | None:
        for n in (number, parent):
            if n is not None and self._artifacts.exists(self._record.name, n):
                return self._artifacts.load_bytes(self._record.name, n)
        return None


def build_stopper(name: str, budget: Budget, record: StudyRecord) -> Stopper:
    """The stopper ``name`` for a study (its direction, seed and stored options)."""
    from hpo.stoppers import make_stopper

    return make_stopper(
        name,
        budget,
        direction=record.direction,
        seed=record.seed,
        **record.stopper_kwargs,
    )


def grow_space(space: Space, config: Mapping[str, Any], given: Mapping[str, Param]) -> Space:
    """A define-by-run ``space`` grown by the definitions ``given`` for the parameters of
    ``config`` (a changed range widens to the hull); ``SpaceError`` for a parameter with
    no definition."""
    for name in config:
        param = given.get(name)
        if param is None:
            if name not in space:
                raise SpaceError(
                    f"parameter {name!r} is new to this define-by-run study; give its "
                    f"definition: distributions={{{name!r}: hpo.Float(...)}}"
                )
            continue
        if not isinstance(param, Param):
            raise SpaceError(f"distributions[{name!r}] must be an hpo parameter, got {param!r}")
        if name not in space:
            space = space.with_param(name, param)
        elif space[name] != param:
            try:
                space = space.with_replaced(name, hull(space[name], param))
            except SpaceError as exc:
                raise SpaceError(f"parameter {name!r}: {exc}") from None
    return space
