"""The driver side of :func:`hpo.adapters.raytune.run_with_tune`: the storage writes.

Every write to the study's storage happens here, in the process that called
``run_with_tune``: workers only send Tune results. That keeps in-memory studies working
and means only the driver needs to reach a SQL database.

* :class:`TuneRun` knows which hpo trial each Tune trial currently is and records its
  reports, its end (COMPLETE / PRUNED / FAILED) and PBT lineage.
* :mod:`._raytune_hooks` holds what Tune calls: the search algorithms that open hpo
  trials and the ``Callback`` that feeds Tune's events to the run.

The hpo trial number travels in the Tune config under ``__hpo_trial__``. PBT clones the
config of the trial it exploits, so right after an exploit that key names the *donor*:
the recorder then ends the exploited trial's current hpo trial as PRUNED, opens a new one
whose ``parent`` is the donor, and writes the new number back into the Tune config before
Tune restarts the trial from the donor's checkpoint.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from hpo.exceptions import SearchSpaceExhausted, TrialFinishedError
from hpo.trial import TrialState

from ._raytune_worker import (
    ATTRS_KEY,
    METRICS_KEY,
    STATE_KEY,
    STEP_KEY,
    TRIAL_KEY,
    ObjectiveFailed,
    space_params,
)

if TYPE_CHECKING:
    from ray.tune.experiment import Trial as TuneTrial

    from hpo.study import Study


class TuneRun:
    """Driver-side bookkeeping of one ``run_with_tune`` call (thread-safe)."""

    def __init__(self, study: Study, metric_key: str) -> None:
        self.study = study
        self.metric_key = metric_key
        self.numbers: dict[str, int] = {}  # Tune trial id -> current hpo trial number
        self.created: list[int] = []
        self._last_value: dict[int, float] = {}
        self._last_result: dict[int, dict[str, Any]] = {}  # the newest Tune result of each
        self._lock = threading.RLock()

    # --- trials start -----------------------------------------------------------------
    def ask(self, trial_id: str) -> dict[str, Any] | None:
        """The study's next configuration for a new Tune trial, or ``None`` if exhausted."""
        with self._lock:
            try:
                spec = self.study.driver.start_trial(heartbeat=False)
            except SearchSpaceExhausted:
                return None
            self._bind(trial_id, spec.number)
            return {**spec.params, TRIAL_KEY: spec.number}

    def ask_many(self, n: int) -> list[dict[str, Any]]:
        """Up to ``n`` configurations at once, for schedulers that refuse a search
        algorithm (PBT): Tune's variant generator then runs them as given, and each
        Tune trial is matched to its hpo trial by the number in its config."""
        configs = []
        with self._lock:
            for _ in range(n):
                try:
                    spec = self.study.driver.start_trial(heartbeat=False)
                except SearchSpaceExhausted:
                    break
                self.created.append(spec.number)
                configs.append({**spec.params, TRIAL_KEY: spec.number})
        return configs

    def number_of(self, trial: TuneTrial) -> int | None:
        """The hpo trial a Tune trial currently is (adopting trials from ``ask_many``)."""
        number = self.numbers.get(trial.trial_id)
        if number is None:
            own = trial.config.get(TRIAL_KEY)
            if own is not None and int(own) in self.created:
                number = self.numbers[trial.trial_id] = int(own)
        return number

    def create(
        self,
        trial_id: str,
        config: dict[str, Any],
        *,
        parent: int | None = None,
        searcher_time: float | None = None,
    ) -> int:
        """A new hpo trial for ``config`` (proposed by Tune's searcher, or a PBT clone)."""
        with self._lock:
            frozen = self.study.storage.create_trial(
                self.study.study_id,
                params=space_params(self.study.space, config),
                parent=parent,
                searcher_time=searcher_time,
            )
            self._bind(trial_id, frozen.number)
            return frozen.number

    def _bind(self, trial_id: str, number: int) -> None:
        self.numbers[trial_id] = number
        self.created.append(number)

    # --- while trials run -------------------------------------------------------------
    def record_result(self, trial: TuneTrial, result: dict[str, Any]) -> None:
        """Store an intermediate value the trial reported."""
        number = self.number_of(trial)
        if number is None:
            return
        self._last_result[number] = result
        for key, attr in (result.get(ATTRS_KEY) or {}).items():
            with contextlib.suppress(TrialFinishedError):
                self.study.storage.set_trial_user_attr(self.study.study_id, number, key, attr)
        if STEP_KEY not in result:
            return
        value = result.get(self.metric_key)
        if value is None or value != value:
            return
        with self._lock:
            self._last_value[number] = float(value)
            with contextlib.suppress(TrialFinishedError):
                self.study.storage.report(
                    self.study.study_id, number, int(result[STEP_KEY]), float(value)
                )

    def follow_clones(self, trials: list[TuneTrial]) -> None:
        """Turn every PBT exploit since the last look into a new hpo trial with its parent."""
        with self._lock:
            for trial in trials:
                number = self.number_of(trial)
                donor = trial.config.get(TRIAL_KEY)
                if number is None or donor is None or int(donor) == number:
                    continue
                self._close(number, self._last_result.get(number, {}))
                new = self.create(trial.trial_id, trial.config, parent=int(donor))
                trial.set_config({**trial.config, TRIAL_KEY: new})

    # --- trials end -------------------------------------------------------------------
    def complete(self, trial: TuneTrial) -> None:
        """A Tune trial ended: with the objective's outcome if it returned, else it was
        stopped by the scheduler (PRUNED, keeping its reports)."""
        number = self.number_of(trial)
        if number is not None:
            self._close(number, self._last_result.get(number) or trial.last_result or {})

    def _close(self, number: int, last: dict[str, Any]) -> None:
        """End hpo trial ``number`` given the last Tune result it sent."""
        if STATE_KEY not in last:
            self._finish(number, TrialState.PRUNED)
            return
        value = last.get(self.metric_key)
        metrics = last.get(METRICS_KEY) or {}
        state = TrialState(last[STATE_KEY])
        if state is TrialState.PRUNED and (value is None or value != value):
            value = self._last_value.get(number)
        self._finish(number, state, value=value, metrics=metrics)

    def error(self, trial: TuneTrial) -> None:
        """A Tune trial errored: FAILED with the objective's traceback (or Tune's error)."""
        number = self.number_of(trial)
        if number is not None:
            self._finish(number, TrialState.FAILED, error=_error_text(trial))

    def _finish(
        self,
        number: int,
        state: TrialState,
        *,
        value: float | None = None,
        metrics: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        if state is TrialState.PRUNED and value is None:
            value = self._last_value.get(number)
        with contextlib.suppress(TrialFinishedError):
            self.study.tell(number, value, metrics=metrics, state=state, error=error)

    def fail_unfinished(self, reason: str) -> None:
        """Fail the trials of this run that Tune never finished (interrupt, Tune error)."""
        for number in list(self.created):
            self._finish(number, TrialState.FAILED, error=reason)


def _error_text(trial: TuneTrial) -> str:
    try:
        exc: BaseException | None = trial.get_pickled_error()
    except Exception:
        exc = None
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ObjectiveFailed):
            return str(exc)
        exc = getattr(exc, "cause", None) or exc.__cause__
    path = trial.error_file
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().strip() or "the Tune trial errored"
        except OSError:
            pass
    return f"the Tune trial errored (no error text available; status {trial.status})"
