"""Studies: ask / tell / optimize over one objective, backed by a storage.

>>> study = create_study(sphere, searcher="random", seed=0)     # doctest: +SKIP
>>> study.optimize(n_trials=20)                                 # doctest: +SKIP
>>> study.best_params, study.best_value                         # doctest: +SKIP

A study holds a :class:`~hpo.driver.Driver`, the engine that owns its searcher: before
each ask the driver tells the searcher every trial that finished since it last looked
(here, in another thread or in another process sharing the storage) through the
storage's incremental read. A reloaded study rebuilds its searcher the same way, from
``(name, kwargs, saved state)`` plus the stored trials.
"""

from __future__ import annotations

import functools
import json
import numbers
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo._logging import TrialLog
from hpo.budget import Budget, as_budget
from hpo.channel import DriverChannel
from hpo.driver import DEFAULT_HEARTBEAT_INTERVAL, Driver, LocalDriver
from hpo.exceptions import DuplicateStudyError, StudyNotFoundError
from hpo.executors.base import Executor, OptimizeRun
from hpo.objective import Objective, as_objective, outcome_from_tell
from hpo.searchers import DEFAULT_SEARCHER, Searcher, make_searcher, searcher_class
from hpo.space import Param, Space, as_space
from hpo.storage import Storage, StudyRecord, get_storage
from hpo.trial import FrozenTrial, Trial, TrialState, best_trial, check_user_attr, finished_trial

if TYPE_CHECKING:
    import pandas as pd

    from hpo.stoppers import Stopper

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "Callback",
    "Study",
    "create_study",
    "delete_study",
    "load_study",
]

ObjectiveLike = Objective | Callable[..., Any]
#: called as ``callback(study, trial)`` after each trial ``optimize`` finishes
Callback = Callable[["Study", FrozenTrial], None]


class Study:
    """A named optimization of one objective; build it with :func:`create_study` or
    :func:`load_study`.

    The study is the user's object; the work of running it (the searcher, the stopper,
    starting and finishing trials) is its :attr:`driver`'s."""

    def __init__(
        self,
        storage: Storage,
        record: StudyRecord,
        objective: ObjectiveLike | None = None,
        *,
        artifacts: str | Path | None = None,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        grace_period: float | None = None,
        driver: Driver | None = None,
    ) -> None:
        self.storage = storage
        self._driver = driver or open_driver(
            storage,
            record,
            artifacts=artifacts,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )
        self._objective = objective
        self._channel = DriverChannel(self._driver)
        self._runs: list[OptimizeRun] = []
        self._runs_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"Study(name={self.name!r}, direction={self.direction!r}, "
            f"searcher={self.searcher_name!r})"
        )

    # --- definition --------------------------------------------------------------------
    @property
    def driver(self) -> Driver:
        """The engine that runs this study (:class:`~hpo.driver.LocalDriver` here)."""
        return self._driver

    @property
    def _record(self) -> StudyRecord:
        return self._driver.record

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
        return self._record.budget

    @property
    def stopper_name(self) -> str | None:
        return self._record.stopper

    @property
    def stopper_kwargs(self) -> dict[str, Any]:
        return dict(self._record.stopper_kwargs)

    @property
    def heartbeat_interval(self) -> float:
        return self._driver.heartbeat_interval

    @property
    def grace_period(self) -> float:
        return self._local_driver("grace_period").grace_period

    @property
    def artifacts_root(self) -> str:
        """The directory trials keep their checkpoints in."""
        root = self._driver.checkpoint_root
        if root is None:
            raise AttributeError(f"study {self.name!r} keeps its checkpoints in its server")
        return root

    def _local_driver(self, what: str) -> LocalDriver:
        if not isinstance(self._driver, LocalDriver):
            raise AttributeError(
                f"study {self.name!r} is driven by {self._record.owner or 'a server'}; its "
                f"{what} lives there, not in this process"
            )
        return self._driver

    @property
    def stopper(self) -> Stopper | None:
        """The study's stopper, built on first use, or ``None`` without one."""
        return self._local_driver("stopper").stopper

    @property
    def searcher(self) -> Searcher:
        """The study's searcher, built on first use from its name, options and state."""
        return self._local_driver("searcher").searcher

    # --- ask / tell ----------------------------------------------------------------------
    def ask(self) -> Trial:
        """Start a trial: an enqueued configuration if any, else the searcher's next.

        Raises :class:`~hpo.exceptions.SearchSpaceExhausted` when the searcher has none."""
        return Trial(self._driver.start_trial(heartbeat=False), self._channel)

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
        infinite value makes the trial FAILED with the reason stored; a NaN or infinite
        extra metric is stored as missing."""
        number = trial if isinstance(trial, int) else trial.number
        outcome = outcome_from_tell(
            value, metrics=metrics, state=state, error=error, metric=self.metric, number=number
        )
        return self._driver.finish_trial(number, outcome)

    def enqueue(self, config: Mapping[str, Any]) -> FrozenTrial:
        """Evaluate ``config`` before the searcher's next suggestions (warm starts)."""
        if not isinstance(config, Mapping):
            raise TypeError(f"enqueue() takes a dict of parameter values, got {config!r}")
        return self._driver.enqueue(config)

    # --- optimize ----------------------------------------------------------------------
    def stop(self) -> None:
        """Ask a running ``optimize`` to start no new trial (e.g. from a callback)."""
        with self._runs_lock:
            for run in self._runs:
                run.stop("stopped by Study.stop()")

    def resolve_objective(self, objective: ObjectiveLike | None = None) -> Objective:
        """``objective`` (else the study's own) as an :class:`~hpo.objective.Objective`
        checked against the study: same space, direction, and a call style the study can
        serve. Raises ``ValueError`` saying what differs."""
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
        if obj.metric is not None and self.metric is not None and obj.metric != self.metric:
            raise ValueError(
                f"the objective says metric={obj.metric!r} but study {self.name!r} optimizes "
                f"metric {self.metric!r}"
            )
        if obj.metric is None and self.metric is not None:
            obj = obj.with_metric(self.metric)  # the study's metric names the value
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
        obj = self.resolve_objective(objective)
        if n_trials is not None and (
            isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 0
        ):
            raise ValueError(f"n_trials must be a non-negative int or None, got {n_trials!r}")
        n_trials = None if n_trials is None else int(n_trials)
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
        if isinstance(self._driver, LocalDriver):
            self._driver.searcher  # noqa: B018 - build now: a missing dependency fails first
        from hpo.executors import resolve_executor
        from hpo.progress import ProgressBar

        ex = resolve_executor(executor, n_workers)
        bar = ProgressBar(total=n_trials, enabled=progress)
        bar.best = self._stored_best_value() if progress else None  # the study's, not the run's
        log = TrialLog(self.name, self.direction)
        run = OptimizeRun(
            self._driver,
            obj,
            n_trials=n_trials,
            timeout=timeout,
            catch=catch,
            callbacks=[log, *(functools.partial(cb, self) for cb in callbacks)],
            progress=bar,
        )
        with self._runs_lock:
            self._runs.append(run)
        try:
            ex.run(run)
        finally:
            with self._runs_lock:
                self._runs.remove(run)
            run.close()
            bar.close()
            log.summary()
        run.raise_if_error()
        return self

    def _stored_best_value(self) -> float | None:
        summaries = self.storage.study_summaries([self.study_id])
        return summaries[0].best_value if summaries else None

    # --- attributes and trials added by hand -----------------------------------------
    @property
    def user_attrs(self) -> dict[str, Any]:
        """The study's user attributes, as stored now."""
        return dict(self.storage.get_study_by_id(self.study_id).user_attrs)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serializable attribute to the study (replacing one of that key).

        >>> study.set_user_attr("dataset", "wine-v2")          # doctest: +SKIP
        """
        if not isinstance(key, str) or not key:
            raise TypeError(f"a user attribute key must be a non-empty string, got {key!r}")
        check_user_attr(key, value)
        self.storage.set_study_user_attr(self.study_id, key, value)

    def add_trial(
        self,
        params: Mapping[str, Any] | FrozenTrial,
        value: float | None = None,
        *,
        state: TrialState | str = TrialState.COMPLETE,
        metrics: Mapping[str, Any] | None = None,
        intermediate_values: Mapping[int, float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        datetime_start: datetime | None = None,
        datetime_complete: datetime | None = None,
        error: str | None = None,
        distributions: Mapping[str, Param] | None = None,
    ) -> FrozenTrial:
        """Store a trial evaluated elsewhere, already finished (Optuna's ``add_trial``).

        ``params`` is the configuration (checked against the space), or a
        :class:`~hpo.trial.FrozenTrial` (e.g. from another study) whose fields are copied;
        ``value`` the objective value (required for COMPLETE, optional for PRUNED, none
        for FAILED). The times default to now; naive datetimes are taken as local time.
        A define-by-run study needs a definition for each parameter it has not seen yet:
        ``distributions={"x": hpo.Float(0, 1)}``. The searcher learns from the trial
        before its next ask. Returns the stored trial (with its number).

        >>> study.add_trial({"x": 0.5}, 0.25)                    # doctest: +SKIP
        """
        if isinstance(params, FrozenTrial):
            t = params
            extra = (metrics, intermediate_values, user_attrs, datetime_start, datetime_complete)
            if value is not None or error is not None or any(x is not None for x in extra):
                raise TypeError(
                    "add_trial(frozen_trial) copies the trial's own fields; pass its changes "
                    "with frozen_trial.evolve(...) instead of keywords"
                )
            state, value, metrics, error = t.state, t.value, t.metrics, t.error
            intermediate_values, user_attrs = t.intermediate_values, t.user_attrs
            datetime_start, datetime_complete = t.datetime_start, t.datetime_complete
            params = t.params
        trial = finished_trial(
            params,
            value,
            state=state,
            metrics=metrics,
            intermediate_values=intermediate_values,
            user_attrs=user_attrs,
            datetime_start=datetime_start,
            datetime_complete=datetime_complete,
            error=error,
        )
        return self._driver.add_trial(trial, dict(distributions or {}))

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
        ``user_attrs_*``, ``intermediate_values_<step>``, times, budget, parent, searcher
        time and error. Integer columns with missing cells (inactive parameters) keep
        integers (pandas' nullable ``Int64``)."""
        from hpo.tables import trials_dataframe

        return trials_dataframe(self.trials)


def open_driver(
    storage: Storage,
    record: StudyRecord,
    *,
    artifacts: str | Path | None = None,
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
    grace_period: float | None = None,
) -> Driver:
    """The driver of a stored study: a :class:`~hpo.driver.LocalDriver` in this process,
    unless the storage's server drives its studies (then its stand-in)."""
    if not storage.drives_studies:
        from hpo.remote import remote_driver

        return remote_driver(storage, record)
    return LocalDriver(
        storage,
        record,
        artifacts=artifacts,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
    )


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

    **Loading.** With ``load_if_exists=True`` and a stored study of that ``name``, the
    stored study is returned: every option left out (searcher, its options, direction,
    seed, metric, space, budget, stopper) is the stored one, so a second worker attaches
    with ``create_study(objective, name=..., storage=..., load_if_exists=True)``; an option
    given explicitly (or by the decorated objective) that conflicts with the stored one is
    refused with a ``ValueError`` naming both.

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
    if metric is not None and obj_metric is not None and metric != obj_metric:
        raise ValueError(
            f"the objective says metric={obj_metric!r} but create_study got metric={metric!r}"
        )
    if searcher is not None and not isinstance(searcher, str):
        raise TypeError(
            f"searcher must be a registered name such as 'random' or 'grid', got {searcher!r}"
        )
    seed = _as_seed(seed)
    kwargs = None if searcher_kwargs is None else dict(searcher_kwargs)
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
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    given = _Given(
        space=space_,
        direction=direction or obj_direction,
        searcher=searcher,
        searcher_kwargs=kwargs,
        seed=seed,
        metric=metric or obj_metric,
        budget=budget_ or obj_budget,
        stopper=stopper,
        stopper_kwargs=None if stopper_kwargs is None else dict(stopper_kwargs),
    )

    def opened(store: Storage, record: StudyRecord) -> Study:
        return Study(
            store,
            record,
            objective,
            artifacts=artifacts,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )

    if load_if_exists and name is not None:
        found = _stored_study(storage, name)
        if found is not None:
            store, record = found
            given.check(record)
            return opened(store, record)
    record_args = _validated_new_study(objective, given)
    store = get_storage(storage)
    study_name = name or _default_name()
    try:
        record = store.create_study(study_name, **record_args)
    except DuplicateStudyError:
        if not load_if_exists:
            raise
        record = store.get_study(study_name)  # created meanwhile by another process
        given.check(record)
    return opened(store, record)


def _as_seed(seed: Any) -> int | None:
    """``seed`` as an int (numpy integers included), or ``None``; ``TypeError`` otherwise."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    return int(seed)


@dataclass(frozen=True)
class _Given:
    """The options a ``create_study`` call gave (``None``: left out, so a stored study's
    own value is adopted, and a new study gets the default)."""

    space: Space | None
    direction: str | None
    searcher: str | None
    searcher_kwargs: dict[str, Any] | None
    seed: int | None
    metric: str | None
    budget: Budget | None
    stopper: str | None
    stopper_kwargs: dict[str, Any] | None

    def check(self, record: StudyRecord) -> None:
        """``ValueError`` naming every explicit option that conflicts with ``record``."""
        stored: dict[str, Any] = {
            "searcher": record.searcher,
            "searcher_kwargs": dict(record.searcher_kwargs),
            "direction": record.direction,
            "seed": record.seed,
            "metric": record.metric,
            "budget": record.budget,
            "stopper": record.stopper,
            "stopper_kwargs": dict(record.stopper_kwargs),
        }
        conflicts = [
            f"{key} {stored[key]!r}, not {getattr(self, key)!r}"
            for key in stored
            if getattr(self, key) is not None and getattr(self, key) != stored[key]
        ]
        if self.space is not None and not record.define_by_run and self.space != record.space:
            conflicts.insert(0, "a different space")
        if conflicts:
            raise ValueError(
                f"study {record.name!r} exists with " + "; ".join(conflicts) + ". Leave out "
                "the options to adopt the stored ones (load it with hpo.load_study), or pick "
                "another name"
            )


def _stored_study(storage: Storage | str | None, name: str) -> tuple[Storage, StudyRecord] | None:
    """The storage and the stored study ``name``, or ``None`` when there is none; never
    creates a SQLite file that does not exist yet."""
    if storage is None:
        return None
    if isinstance(storage, str) and _missing_sqlite_file(storage):
        return None
    store = get_storage(storage)
    try:
        return store, store.get_study(name)
    except StudyNotFoundError:
        return None


def _missing_sqlite_file(url: str) -> bool:
    """Whether ``url`` names a SQLite file that does not exist (in-memory URLs: no)."""
    if not url.strip().lower().startswith("sqlite"):
        return False
    from sqlalchemy.engine import make_url

    try:
        database = make_url(url.strip()).database
    except Exception:
        return False
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return not Path(database).exists()


def _validated_new_study(objective: ObjectiveLike | None, given: _Given) -> dict[str, Any]:
    """The stored definition of a new study with ``given`` options (defaults filled in),
    validated before anything is stored: the searcher is built once."""
    searcher = given.searcher if given.searcher is not None else DEFAULT_SEARCHER
    direction = given.direction or "minimize"
    kwargs = dict(given.searcher_kwargs or {})
    if given.space is None and objective is not None:
        style = as_objective(objective, None).style
        if style != "trial":
            name = getattr(objective, "__qualname__", None) or repr(objective)
            raise ValueError(
                f"objective {name!r} takes a config dict, but no space was given: declare "
                "it with @hpo.objective(space={...}) or create_study(space=...), or take "
                "`trial` and call trial.suggest_* inside (define-by-run)"
            )
    stopper_kwargs = _check_stopper(
        searcher, given.budget, given.stopper, given.stopper_kwargs, direction, given.seed
    )
    # build once to validate the name, options and space support before storing anything
    make_searcher(
        searcher, given.space, direction=direction, seed=given.seed, budget=given.budget, **kwargs
    )
    return {
        "direction": direction,
        "space": given.space,
        "searcher": searcher,
        "searcher_kwargs": kwargs,
        "seed": given.seed,
        "metric": given.metric,
        "budget": given.budget,
        "stopper": given.stopper,
        "stopper_kwargs": stopper_kwargs,
    }


def _check_stopper(
    searcher: str,
    budget: Budget | None,
    stopper: str | None,
    stopper_kwargs: Mapping[str, Any] | None,
    direction: str,
    seed: int | None,
) -> dict[str, Any]:
    """Validate the multi-fidelity settings; return the stopper's options."""
    if stopper_kwargs and stopper is None:
        raise ValueError("stopper_kwargs given without a stopper; pass stopper='asha' (or ...)")
    if stopper is None:
        return {}
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
    return kwargs


def load_study(
    name: str,
    storage: Storage | str,
    objective: ObjectiveLike | None = None,
    *,
    artifacts: str | Path | None = None,
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
    grace_period: float | None = None,
) -> Study:
    """Load a stored study; its searcher is rebuilt from its name, options, state and trials.

    Raises :class:`~hpo.exceptions.StudyNotFoundError` when there is no such study; a
    SQLite file that does not exist is not created."""
    if isinstance(storage, str) and _missing_sqlite_file(storage):
        raise StudyNotFoundError(
            f"no study named {name!r}: the SQLite file of {storage!r} does not exist"
        )
    store = get_storage(storage)
    return Study(
        store,
        store.get_study(name),
        objective,
        artifacts=artifacts,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
    )


def delete_study(name: str, storage: Storage | str) -> None:
    """Delete the stored study ``name`` and its trials (and its place in comparisons).

    Checkpoints in an artifact directory are not touched. Raises
    :class:`~hpo.exceptions.StudyNotFoundError` when there is no such study (a SQLite file
    that does not exist is not created).

    >>> hpo.delete_study("svm", "sqlite:///hpo.db")      # doctest: +SKIP
    """
    if isinstance(storage, str) and _missing_sqlite_file(storage):
        raise StudyNotFoundError(
            f"no study named {name!r}: the SQLite file of {storage!r} does not exist"
        )
    get_storage(storage).delete_study(name)
