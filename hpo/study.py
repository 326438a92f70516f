"""Studies: ask / tell / optimize over one objective, backed by a storage.

>>> study = create_study(sphere, searcher="random", seed=0)     # doctest: +SKIP
>>> study.optimize(n_trials=20)                                 # doctest: +SKIP
>>> study.best_params, study.best_value                         # doctest: +SKIP

The study keeps its searcher current: before each ask it tells the searcher every trial
that finished since it last looked (here, in another thread or in another process sharing
the storage) through the storage's incremental read. A reloaded study rebuilds its
searcher the same way, from ``(name, kwargs, saved state)`` plus the stored trials.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.budget import Budget, as_budget
from hpo.exceptions import DuplicateStudyError
from hpo.executors.base import Callback, Executor, OptimizeRun
from hpo.objective import Objective, as_objective, outcome_from_result
from hpo.searchers import DEFAULT_SEARCHER, Decision, Searcher, make_searcher, searcher_class
from hpo.space import Param, Space, SpaceError, as_space
from hpo.storage import Storage, StudyRecord, get_storage
from hpo.trial import (
    FrozenTrial,
    Trial,
    TrialChannel,
    TrialSpec,
    TrialState,
    best_trial,
    check_user_attr,
    check_value,
)

if TYPE_CHECKING:
    import pandas as pd

    from hpo.stoppers import Stopper

ObjectiveLike = Objective | Callable[..., Any]

#: seconds between heartbeats of running trials; a trial silent for the grace period
#: (default 4 intervals) is failed by the next process that asks
DEFAULT_HEARTBEAT_INTERVAL = 30.0
#: the study attribute holding the multi-fidelity settings (budget, stopper and options)
FIDELITY_ATTR = "hpo:fidelity"


class _StudyChannel(TrialChannel):
    """The in-process channel: a running trial talks to its study directly."""

    def __init__(self, study: Study) -> None:
        self._study = study

    def suggest(self, number: int, name: str, param: Param) -> Any:
        return self._study._suggest_param(number, name, param)

    def report(self, number: int, step: int, value: float) -> bool:
        return self._study._report(number, step, value)

    def set_user_attr(self, number: int, key: str, value: Any) -> None:
        self._study._set_user_attr(number, key, value)


class Study:
    """A named optimization of one objective; build it with :func:`create_study` or
    :func:`load_study`."""

    def __init__(
        self,
        storage: Storage,
        record: StudyRecord,
        objective: ObjectiveLike | None = None,
        *,
        artifacts: str | Path | None = None,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        grace_period: float | None = None,
    ) -> None:
        if not heartbeat_interval > 0:
            raise ValueError(f"heartbeat_interval must be > 0 seconds, got {heartbeat_interval!r}")
        grace = 4 * heartbeat_interval if grace_period is None else grace_period
        if not grace > heartbeat_interval:
            raise ValueError(
                f"grace_period ({grace}) must exceed heartbeat_interval ({heartbeat_interval}), "
                "or live trials would be failed"
            )
        self.heartbeat_interval = float(heartbeat_interval)
        self.grace_period = float(grace)
        self._last_stale_check = -math.inf
        self.storage = storage
        self._record = record
        self._objective = objective
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
        self._stop_requested = False
        self._channel = _StudyChannel(self)
        from hpo.artifacts import LocalArtifactStore

        self.artifacts_root = str(LocalArtifactStore(artifacts).root.resolve())

    def __repr__(self) -> str:
        return (
            f"Study(name={self.name!r}, direction={self.direction!r}, "
            f"searcher={self._record.searcher!r})"
        )

    # --- definition --------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._record.name

    @property
    def study_id(self) -> int:
        return self._record.study_id

    @property
    def direction(self) -> str:
        return self._record.direction

    @property
    def space(self) -> Space:
        """The search space (for define-by-run studies: the parameters seen so far)."""
        return self._record.space

    @property
    def define_by_run(self) -> bool:
        return self._record.define_by_run

    @property
    def searcher_name(self) -> str:
        return self._record.searcher

    @property
    def searcher_kwargs(self) -> dict[str, Any]:
        return dict(self._record.searcher_kwargs)

    @property
    def metric(self) -> str | None:
        return self._record.metric

    @property
    def seed(self) -> int | None:
        return self._record.seed

    @property
    def objective(self) -> ObjectiveLike | None:
        return self._objective

    @property
    def budget(self) -> Budget | None:
        """The resource each trial may spend (multi-fidelity studies), else ``None``."""
        data = self._record.user_attrs.get(FIDELITY_ATTR, {}).get("budget")
        return Budget.from_json(data) if data else None

    @property
    def stopper_name(self) -> str | None:
        return self._record.user_attrs.get(FIDELITY_ATTR, {}).get("stopper")

    @property
    def stopper_kwargs(self) -> dict[str, Any]:
        return dict(self._record.user_attrs.get(FIDELITY_ATTR, {}).get("stopper_kwargs", {}))

    @property
    def stopper(self) -> Stopper | None:
        """The study's stopper, built on first use, or ``None`` without one."""
        name, budget = self.stopper_name, self.budget
        if name is None or budget is None:
            return None
        with self._lock:
            if self._stopper is None:
                from hpo.stoppers import make_stopper

                self._stopper = make_stopper(
                    name,
                    budget,
                    direction=self.direction,
                    seed=self.seed,
                    **self.stopper_kwargs,
                )
            return self._stopper

    @property
    def searcher(self) -> Searcher:
        """The study's searcher, built on first use from its name, options and state."""
        with self._lock:
            if self._searcher is None:
                rec = self._record
                searcher = make_searcher(
                    rec.searcher,
                    None if rec.define_by_run else rec.space,
                    direction=rec.direction,
                    seed=rec.seed,
                    budget=self.budget,
                    **rec.searcher_kwargs,
                )
                if rec.searcher_state:
                    searcher.load_state_dict(rec.searcher_state)
                searcher.bind_counter(lambda key: self.storage.next_counter(self.study_id, key))
                self._searcher = searcher
            return self._searcher

    # --- keeping the searcher current ----------------------------------------------------
    def _sync(self) -> None:
        """Tell the searcher every trial finished since the last look (lock held)."""
        searcher = self.searcher
        batch = self.storage.get_trials(self.study_id, since=self._cursor)
        for t in batch.trials:
            self._history[t.number] = t
            if t.state is TrialState.WAITING:
                self._waiting.add(t.number)
            else:
                self._waiting.discard(t.number)
            if t.state.is_finished and t.number not in self._told:
                self._told.add(t.number)
                searcher.tell(t)
        self._cursor = batch.cursor

    def _save_state_if_changed(self) -> None:
        state = self.searcher.state_dict()
        encoded = json.dumps(state, sort_keys=True)
        if encoded != self._saved_state:
            self.storage.save_searcher_state(self.study_id, state)
            self._saved_state = encoded

    # --- ask / tell ----------------------------------------------------------------------
    def _fail_stale_trials(self) -> None:
        """Fail trials whose driver stopped beating (a crashed or killed process), at most
        once per heartbeat interval."""
        now = time.monotonic()
        if now - self._last_stale_check < self.heartbeat_interval:
            return
        self._last_stale_check = now
        cutoff = datetime.now(UTC) - timedelta(seconds=self.grace_period)
        self.storage.fail_stale_trials(
            self.study_id,
            older_than=cutoff,
            error=f"no heartbeat for {self.grace_period:g}s: the process running this trial "
            "is presumed dead",
        )

    def _ask_frozen(self, *, heartbeat: bool = False) -> FrozenTrial:
        """Start the next trial; ``heartbeat=True`` for trials whose runner keeps beating."""
        with self._lock:
            self._fail_stale_trials()
            self._sync()
            if self._waiting:
                trial = self.storage.pop_waiting_trial(self.study_id, heartbeat=heartbeat)
                if trial is not None:
                    self._waiting.discard(trial.number)
                    return trial
                self._waiting.clear()
            t0 = time.perf_counter()
            suggestion = self.searcher.ask(1)[0]
            elapsed = time.perf_counter() - t0
            budget = suggestion.budget
            if budget is None and self.budget is not None:
                budget = self.budget.max
            trial = self.storage.create_trial(
                self.study_id,
                params=suggestion.config,
                budget=budget,
                parent=suggestion.parent,
                searcher_time=elapsed,
                heartbeat=heartbeat,
            )
            self._save_state_if_changed()
            return trial

    def _spec_for(self, trial: FrozenTrial) -> TrialSpec:
        return TrialSpec(
            study_name=self.name,
            number=trial.number,
            params=dict(trial.params),
            budget=trial.budget,
            parent=trial.parent,
            checkpoint_root=self.artifacts_root,
        )

    def ask(self) -> Trial:
        """Start a trial: an enqueued configuration if any, else the searcher's next.

        Raises :class:`~hpo.exceptions.SearchSpaceExhausted` when the searcher has none."""
        return Trial(self._spec_for(self._ask_frozen()), self._channel)

    def tell(
        self,
        trial: Trial | FrozenTrial | int,
        value: float | Mapping[str, Any] | None = None,
        *,
        metrics: Mapping[str, Any] | None = None,
        state: TrialState | str | None = None,
        error: str | None = None,
    ) -> FrozenTrial:
        """Finish a trial with its value (COMPLETE, the default), or as PRUNED / FAILED.

        ``value`` may be a dict of metrics when the study has a ``metric``. A NaN or
        infinite value makes the trial FAILED with the reason stored."""
        number = trial if isinstance(trial, int) else trial.number
        state = TrialState(state) if state is not None else TrialState.COMPLETE
        extra = {str(k): _metric_value(v) for k, v in (metrics or {}).items()}
        final: float | None = None
        if isinstance(value, Mapping):
            outcome = outcome_from_result(value, self.metric, pruned=state is TrialState.PRUNED)
            if state is not TrialState.FAILED:
                state, error = outcome.state, outcome.error or error
            final = outcome.value
            extra = {**outcome.metrics, **extra}
        elif state is TrialState.COMPLETE:
            if value is None:
                raise ValueError(
                    f"tell() needs a value to complete trial {number}; pass "
                    "state='FAILED' or state='PRUNED' for a trial without one"
                )
            try:
                final = check_value(value)
            except ValueError as exc:
                state, error = TrialState.FAILED, str(exc)
        elif state is TrialState.PRUNED and value is not None:
            try:
                final = check_value(value)
            except ValueError:
                final = None
        elif not state.is_finished:
            raise ValueError(
                f"tell() finishes trials: state must be COMPLETE, PRUNED or FAILED, "
                f"got {state.value}"
            )
        if state is TrialState.FAILED:
            final = None
        return self.storage.finish_trial(
            self.study_id, number, state, value=final, metrics=extra, error=error
        )

    def enqueue(self, config: Mapping[str, Any]) -> FrozenTrial:
        """Evaluate ``config`` before the searcher's next suggestions (warm starts)."""
        if not isinstance(config, Mapping):
            raise TypeError(f"enqueue() takes a dict of parameter values, got {config!r}")
        params = dict(config)
        if not self.define_by_run:
            problems = self.space.violations(params)
            if problems:
                raise SpaceError(f"cannot enqueue {params!r}: " + "; ".join(problems))
            params = self.space.canonical(params)
        trial = self.storage.enqueue_trial(self.study_id, params)
        with self._lock:
            self._waiting.add(trial.number)
        return trial

    # --- the channel's side ----------------------------------------------------------------
    def _suggest_param(self, number: int, name: str, param: Param) -> Any:
        with self._lock:
            space = self._record.space
            known = space.get(name)
            if not self.define_by_run and known is None:
                raise SpaceError(
                    f"parameter {name!r} is not in the study's space "
                    f"({', '.join(space) or 'empty'}); "
                    "add it to the space, or create the study without a space (define-by-run)"
                )
            if known is not None and known.to_json() != param.to_json():
                raise SpaceError(
                    f"parameter {name!r} was defined as {known!r} earlier in this study; "
                    f"it cannot become {param!r}: keep one definition per name"
                )
            current = self.storage.get_trial(self.study_id, number).params
            value = self.searcher.suggest_param(number, dict(current), name, param)
            self.storage.set_trial_param(self.study_id, number, name, value)
            if known is None:
                grown = space.with_param(name, param)
                self.storage.set_study_space(self.study_id, grown)
                self._record = self.storage.get_study_by_id(self.study_id)
            return value

    def _report(self, number: int, step: int, value: float) -> bool:
        """Store an intermediate value; ask the stopper (or the searcher that owns
        stopping) whether the trial goes on. Returns ``True`` to stop it."""
        self.storage.report(self.study_id, number, step, value)
        searcher = self.searcher
        owns = type(searcher).owns_stopping
        stopper = None if owns else self.stopper
        if stopper is None and not owns:
            return False
        with self._lock:
            self._sync()  # this report and everything other workers stored since
            trial = self._history.get(number) or self.storage.get_trial(self.study_id, number)
            trials = dict(self._history)
            if owns:
                decision = searcher.on_report(trial, step, value, trials)
            else:
                assert stopper is not None
                decision = stopper.on_report(trial, step, value, trials)
            self._save_state_if_changed()
            return Decision(decision) is Decision.STOP

    def _set_user_attr(self, number: int, key: str, value: Any) -> None:
        check_user_attr(key, value)
        self.storage.set_trial_user_attr(self.study_id, number, key, value)

    # --- optimize ----------------------------------------------------------------------
    def stop(self) -> None:
        """Ask a running ``optimize`` to start no new trial (e.g. from a callback)."""
        self._stop_requested = True

    def _resolve_objective(self, objective: ObjectiveLike | None) -> Objective:
        objective = objective if objective is not None else self._objective
        if objective is None:
            raise ValueError(
                "no objective: pass one to optimize(objective) or to create_study(objective)"
            )
        obj = as_objective(objective, None if self.define_by_run else self.space)
        if obj.space is not None and not self.define_by_run and obj.space != self.space:
            raise ValueError(
                f"the objective's space differs from study {self.name!r}'s space; "
                "create a new study for a new space"
            )
        if obj.direction is not None and obj.direction != self.direction:
            raise ValueError(
                f"the objective says direction={obj.direction!r} but study {self.name!r} "
                f"{self.direction}s"
            )
        if obj.style != "trial" and self.define_by_run:
            raise ValueError(
                f"objective {obj.name!r} takes a config but study {self.name!r} has no space; "
                "decorate it with @hpo.objective(space=...) or use trial.suggest_* inside"
            )
        return obj

    def optimize(
        self,
        objective: ObjectiveLike | None = None,
        n_trials: int | None = None,
        timeout: float | None = None,
        n_workers: int = 1,
        executor: Executor | str | None = None,
        catch: type[BaseException] | Sequence[type[BaseException]] = (Exception,),
        callbacks: Iterable[Callback] = (),
        progress: bool = True,
    ) -> Study:
        """Run ``n_trials`` more trials (and/or until ``timeout`` seconds pass).

        ``executor`` is ``"serial"``, ``"thread"``, ``"process"`` or an
        :class:`~hpo.executors.base.Executor`; by default serial for one worker, threads
        for more. Exceptions of the types in ``catch`` fail their trial and the study goes
        on; others fail it and are re-raised. Each ``callback(study, trial)`` runs after a
        trial finishes. Returns the study."""
        obj = self._resolve_objective(objective)
        if n_trials is not None and (
            isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0
        ):
            raise ValueError(f"n_trials must be a non-negative int or None, got {n_trials!r}")
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if isinstance(catch, type):
            catch = (catch,)
        catch = tuple(catch)
        if not all(isinstance(c, type) and issubclass(c, BaseException) for c in catch):
            raise TypeError(f"catch must be exception classes, got {catch!r}")
        callbacks = list(callbacks)
        for cb in callbacks:
            if not callable(cb):
                raise TypeError(f"callbacks must be callables (study, trial), got {cb!r}")
        self.searcher  # noqa: B018 - build now: a missing dependency fails before any trial
        from hpo.executors import resolve_executor
        from hpo.progress import ProgressBar

        ex = resolve_executor(executor, n_workers)
        bar = ProgressBar(total=n_trials, enabled=progress)
        run = OptimizeRun(
            self,
            obj,
            n_trials=n_trials,
            timeout=timeout,
            catch=catch,
            callbacks=callbacks,
            progress=bar,
        )
        self._stop_requested = False
        try:
            ex.run(run)
        finally:
            run.close()
            bar.close()
        run.raise_if_error()
        return self

    # --- results -----------------------------------------------------------------------
    def get_trials(self, states: Iterable[TrialState | str] | None = None) -> list[FrozenTrial]:
        """Snapshots of the study's trials in number order (only ``states``, if given)."""
        wanted = None if states is None else [TrialState(s) for s in states]
        return self.storage.get_trials(self.study_id, states=wanted).trials

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()

    @property
    def best_trial(self) -> FrozenTrial:
        """The COMPLETE trial with the best value (ties: the earliest)."""
        best = best_trial(self.get_trials([TrialState.COMPLETE]), self.direction)
        if best is None:
            raise ValueError(f"study {self.name!r} has no COMPLETE trial yet")
        return best

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        value = self.best_trial.value
        assert value is not None
        return value

    def trials_dataframe(self) -> pd.DataFrame:
        """One row per trial: number, state, value, ``params_*``, ``metrics_*``,
        ``user_attrs_*``, times, budget, parent, searcher time and error."""
        from hpo.tables import trials_dataframe

        return trials_dataframe(self.trials)


def _metric_value(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"metrics must be numbers, got {v!r}") from None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def _default_name() -> str:
    return f"study-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def create_study(
    objective: ObjectiveLike | None = None,
    *,
    space: Space | Mapping[str, Param] | None = None,
    direction: str | None = None,
    searcher: str | None = None,
    searcher_kwargs: Mapping[str, Any] | None = None,
    name: str | None = None,
    storage: Storage | str | None = None,
    seed: int | None = None,
    load_if_exists: bool = False,
    metric: str | None = None,
    artifacts: str | Path | None = None,
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
    grace_period: float | None = None,
    budget: Budget | tuple[str, float, float] | None = None,
    stopper: str | None = None,
    stopper_kwargs: Mapping[str, Any] | None = None,
) -> Study:
    """Create a study (or load it, with ``load_if_exists=True``).

    The space, direction and metric come from a decorated objective or from these keywords;
    giving both with different values is an error. ``searcher`` defaults to
    :data:`hpo.searchers.DEFAULT_SEARCHER`; ``direction`` defaults to minimize;
    ``storage=None`` keeps everything in memory, a URL (``sqlite:///hpo.db``,
    ``postgresql+psycopg://...``) stores it in SQL. No space at all makes a define-by-run
    study (``trial.suggest_*`` in the objective).

    Trials run by ``optimize`` beat every ``heartbeat_interval`` seconds; one silent for
    ``grace_period`` seconds (default four intervals) belongs to a process that died, and
    the next process to ask marks it FAILED.

    **Multi-fidelity.** ``budget`` (:class:`hpo.Budget`, or from the decorated objective)
    is what each trial may spend; ``stopper`` (``"median"``, ``"asha"``, ``"hyperband"``,
    with ``stopper_kwargs``) stops unpromising trials at their reports, for any searcher.
    ``"bohb"`` and ``"pbt"`` decide on reports themselves and refuse a separate stopper."""
    obj_space = obj_direction = obj_metric = None
    obj_budget: Budget | None = None
    if objective is not None:
        if isinstance(objective, Objective):
            obj_space, obj_direction, obj_metric, obj_budget = (
                objective.space,
                objective.direction,
                objective.metric,
                objective.budget,
            )
        elif not callable(objective):
            raise TypeError(f"objective must be callable, got {objective!r}")
    space_ = as_space(space)
    if space_ is not None and obj_space is not None and space_ != obj_space:
        raise ValueError(
            "the objective is decorated with a space and create_study got a different "
            "`space`; give the space in one place"
        )
    space_ = space_ if space_ is not None else obj_space
    if direction is not None and direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    if direction is not None and obj_direction is not None and direction != obj_direction:
        raise ValueError(
            f"the objective says direction={obj_direction!r} but create_study got "
            f"direction={direction!r}; give the direction in one place"
        )
    direction_ = direction or obj_direction or "minimize"
    if metric is not None and obj_metric is not None and metric != obj_metric:
        raise ValueError(
            f"the objective says metric={obj_metric!r} but create_study got metric={metric!r}"
        )
    metric_ = metric or obj_metric
    if searcher is None:
        searcher = DEFAULT_SEARCHER
    if not isinstance(searcher, str):
        raise TypeError(
            f"searcher must be a registered name such as 'random' or 'grid', got {searcher!r}"
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    kwargs = dict(searcher_kwargs or {})
    try:
        json.dumps(kwargs)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"searcher_kwargs must be JSON-serializable: {exc}") from None
    budget_ = as_budget(budget)
    if budget_ is not None and obj_budget is not None and budget_ != obj_budget:
        raise ValueError(
            f"the objective says budget={obj_budget!r} but create_study got "
            f"budget={budget_!r}; give the budget in one place"
        )
    budget_ = budget_ or obj_budget
    fidelity = _fidelity(searcher, budget_, stopper, stopper_kwargs, direction_, seed)
    # build once to validate the name, options and space support before storing anything
    make_searcher(searcher, space_, direction=direction_, seed=seed, budget=budget_, **kwargs)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    store = get_storage(storage)
    study_name = name or _default_name()
    try:
        record = store.create_study(
            study_name,
            direction=direction_,
            space=space_,
            searcher=searcher,
            searcher_kwargs=kwargs,
            seed=seed,
            metric=metric_,
            user_attrs={FIDELITY_ATTR: fidelity} if fidelity else None,
        )
    except DuplicateStudyError:
        if not load_if_exists:
            raise
        record = store.get_study(study_name)
        _check_compatible(record, space_, direction_, searcher)
        stored = record.user_attrs.get(FIDELITY_ATTR, {})
        if fidelity and stored != fidelity:
            raise ValueError(
                f"study {record.name!r} exists with budget/stopper {stored or 'none'}, not "
                f"{fidelity}; load it with hpo.load_study or pick another name"
            ) from None
    return Study(
        store,
        record,
        objective,
        artifacts=artifacts,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
    )


def _fidelity(
    searcher: str,
    budget: Budget | None,
    stopper: str | None,
    stopper_kwargs: Mapping[str, Any] | None,
    direction: str,
    seed: int | None,
) -> dict[str, Any]:
    """The multi-fidelity settings to store, validated (empty without a budget)."""
    if stopper_kwargs and stopper is None:
        raise ValueError("stopper_kwargs given without a stopper; pass stopper='asha' (or ...)")
    if stopper is None:
        return {"budget": budget.to_json()} if budget is not None else {}
    if not isinstance(stopper, str):
        raise TypeError(f"stopper must be a registered name such as 'asha', got {stopper!r}")
    if searcher_class(searcher).owns_stopping:
        raise ValueError(
            f"searcher {searcher!r} decides when to stop trials itself; drop "
            f"stopper={stopper!r} (or use a searcher such as 'tpe' or 'random' with it)"
        )
    if budget is None:
        raise ValueError(
            f"stopper {stopper!r} needs the trials' budget: pass budget=hpo.Budget('epoch', "
            "1, 50) to create_study or to @hpo.objective, and report each step with "
            "trial.report(step, value)"
        )
    kwargs = dict(stopper_kwargs or {})
    try:
        json.dumps(kwargs)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"stopper_kwargs must be JSON-serializable: {exc}") from None
    from hpo.stoppers import make_stopper

    make_stopper(stopper, budget, direction=direction, seed=seed, **kwargs)  # validates
    return {"budget": budget.to_json(), "stopper": stopper, "stopper_kwargs": kwargs}


def _check_compatible(
    record: StudyRecord, space: Space | None, direction: str, searcher: str
) -> None:
    if space is not None and not record.define_by_run and record.space != space:
        raise ValueError(f"study {record.name!r} exists with a different space")
    if record.direction != direction:
        raise ValueError(f"study {record.name!r} exists and {record.direction}s, not {direction}s")
    if record.searcher != searcher:
        raise ValueError(
            f"study {record.name!r} exists with searcher {record.searcher!r}, not {searcher!r}; "
            "load it with hpo.load_study or pick another name"
        )


def load_study(
    name: str,
    storage: Storage | str,
    objective: ObjectiveLike | None = None,
    *,
    artifacts: str | Path | None = None,
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
    grace_period: float | None = None,
) -> Study:
    """Load a stored study; its searcher is rebuilt from its name, options, state and trials."""
    store = get_storage(storage)
    return Study(
        store,
        store.get_study(name),
        objective,
        artifacts=artifacts,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
    )
