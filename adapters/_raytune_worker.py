"""The worker side of :func:`hpo.adapters.raytune.run_with_tune`: the function Tune runs.

A Tune trial runs :func:`tune_trainable`, which rebuilds the objective, wraps the Tune
config in an :class:`~hpo.trial.Trial` whose channel is a :class:`TuneChannel`, and
evaluates it with :func:`hpo.objective.evaluate`. The channel maps

* ``trial.report(step, value)`` to ``ray.tune.report`` (the scheduler's input);
* ``trial.save_checkpoint`` / ``load_checkpoint`` / ``checkpoint_dir`` to Tune
  checkpoints, so ASHA, HyperBand and PBT pause, stop and clone trials by themselves;
* ``trial.set_user_attr`` to a field of the next report, stored by the driver.

Define-by-run (``trial.suggest_*`` for a parameter outside the space) is refused: Tune
fixes a trial's configuration before it starts.

Tune wants one report per iteration carrying both the metric and the checkpoint, while an
hpo objective calls ``report`` and ``save_checkpoint`` separately (in either order). The
channel therefore holds each report, with the checkpoint saved after it, until the next
report or the end of the objective. The last report then carries the outcome (state,
value, metrics) under reserved ``hpo_*`` keys: a trial that runs to its end (ASHA's
``max_t`` included) is COMPLETE rather than stopped at its last report. The price is one
step of latency: a scheduler stops or clones a trial one step after the step it judged
(the extra step's work is discarded; checkpoints stay consistent with their reports).
The worker never touches the study's storage.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo.objective import Objective, TrialOutcome, evaluate
from hpo.space import Param, Space
from hpo.trial import Decision, Trial, TrialChannel, TrialSpec, TrialState, check_user_attr

#: config key holding the hpo trial number of a Tune trial (set on the driver)
TRIAL_KEY = "__hpo_trial__"
#: result keys the worker sends and the driver reads
STEP_KEY = "hpo_step"
STATE_KEY = "hpo_state"
METRICS_KEY = "hpo_metrics"
ATTRS_KEY = "hpo_user_attrs"
_PICKLE = "hpo_checkpoint.pkl"
_FILES = "files"


def space_params(space: Space, config: dict[str, Any]) -> dict[str, Any]:
    """The space's parameters in a Tune config: active ones only, cast to their types."""
    present = {k: v for k, v in config.items() if k in space}
    active = {k: v for k, v in present.items() if space.is_active(k, present)}
    return space.canonical(active)


class ObjectiveFailed(RuntimeError):
    """The objective raised or returned an invalid value; the message is hpo's error text
    (the traceback), which the driver stores with the FAILED trial."""


@dataclass(frozen=True)
class WorkerPayload:
    """What every Tune trial needs to evaluate the objective (pickled by cloudpickle).

    It carries the objective's *function*, not the :class:`~hpo.objective.Objective`: an
    Objective defined in a script pickles by reference to ``__main__``, which a Ray
    worker cannot import, while cloudpickle sends the bare function by value.
    """

    study_name: str
    func: Any
    space: dict[str, Any]
    metric_key: str
    objective_metric: str | None

    def objective(self) -> Objective:
        return Objective(self.func, space=Space.from_json(self.space), metric=self.objective_metric)


class TuneChannel(TrialChannel):
    """A trial's channel inside a Tune function trainable (one per trial run)."""

    def __init__(self, metric_key: str) -> None:
        self.metric_key = metric_key
        self._pending: dict[str, Any] | None = None
        self._last_value = float("nan")
        self._pending_ckpt: Path | None = None  # goes with the pending report
        self._unclaimed: Path | None = None  # saved, waiting for the next report
        self._save_first = False
        self._latest: Path | None = None  # newest checkpoint written in this run
        self._work = Path(tempfile.mkdtemp(prefix="hpo-tune-"))
        self._files: Path | None = None
        self._n_reports = 0
        self._attrs: dict[str, Any] = {}  # user attributes waiting for the next report

    # --- define-by-run is not available under Tune ------------------------------------
    def suggest(self, number: int, name: str, param: Param) -> Any:
        raise RuntimeError(
            f"trial.suggest_*({name!r}) is not available under Ray Tune: the configuration "
            "is chosen before the trial starts; declare every parameter in the space"
        )

    def set_user_attr(self, number: int, key: str, value: Any) -> None:
        """Sent with the next report; the driver stores it."""
        check_user_attr(key, value)
        self._attrs[str(key)] = value

    # --- reports ----------------------------------------------------------------------
    def report(self, number: int, step: int, value: float) -> Decision:
        if self._pending is not None:
            self._flush()
        self._pending = {self.metric_key: value, STEP_KEY: step}
        self._pending_ckpt, self._unclaimed = self._unclaimed, None
        self._last_value = value
        self._n_reports += 1
        return Decision.CONTINUE  # Tune stops a trial itself, at a report

    def finish(self, outcome: TrialOutcome) -> None:
        """Send the last report with the trial's outcome attached; a FAILED outcome is
        raised as :class:`ObjectiveFailed`, so Tune records the trial as errored too."""
        if self._unclaimed is not None:
            self._pending_ckpt, self._unclaimed = self._unclaimed, None
        if outcome.state is TrialState.FAILED:
            if self._pending is not None or self._attrs:
                self._flush()
            raise ObjectiveFailed(outcome.error or "the objective failed")
        final = self._pending or {}
        self._pending = final
        final[STATE_KEY] = outcome.state.value
        if outcome.value is not None:
            final[self.metric_key] = outcome.value
        final.setdefault(self.metric_key, self._last_value)
        if outcome.metrics:
            final[METRICS_KEY] = dict(outcome.metrics)
        self._flush()

    def _flush(self) -> None:
        from ray import tune

        metrics, self._pending = self._pending or {}, None
        if self._attrs:
            metrics[ATTRS_KEY], self._attrs = self._attrs, {}
        stage, self._pending_ckpt = self._pending_ckpt, None
        if stage is None:
            tune.report(metrics)
            return
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(stage)))

    # --- checkpoints ------------------------------------------------------------------
    def checkpoint_dir(self, spec: TrialSpec) -> Path:
        """A directory whose files travel with the trial's next ``save_checkpoint``."""
        if self._files is None:
            self._files = self._work / _FILES
            self._files.mkdir()
            restored = self._restored()
            if restored is not None and (restored / _FILES).is_dir():
                shutil.copytree(restored / _FILES, self._files, dirs_exist_ok=True)
        return self._files

    def save_checkpoint(self, spec: TrialSpec, obj: Any) -> None:
        stage = Path(tempfile.mkdtemp(prefix="ckpt-", dir=self._work))
        with (stage / _PICKLE).open("wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        if self._files is not None:
            shutil.copytree(self._files, stage / _FILES)
        previous, self._latest = self._latest, stage
        if self._n_reports == 0:
            self._save_first = True  # saved before the first report: saves precede reports
        if self._pending is not None and not self._save_first:
            self._pending_ckpt = stage
        else:
            self._unclaimed = stage
        if previous is not None and previous not in (self._pending_ckpt, self._unclaimed):
            shutil.rmtree(previous, ignore_errors=True)  # reported (Tune copied it) or replaced

    def load_checkpoint(self, spec: TrialSpec) -> Any:
        """The newest checkpoint of this run, else the one Tune restored (this trial's own
        after a pause, or the cloned trial's after a PBT exploit), else ``None``."""
        directory = self._latest or self._restored()
        if directory is None or not (directory / _PICKLE).is_file():
            return None
        with (directory / _PICKLE).open("rb") as fh:
            return pickle.load(fh)

    def _restored(self) -> Path | None:
        from ray import tune

        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            return None
        target = self._work / "restored"
        if not target.exists():
            source = Path(checkpoint.to_directory(str(target)))
            if source != target:
                shutil.copytree(source, target, dirs_exist_ok=True)
        return target

    def close(self) -> None:
        shutil.rmtree(self._work, ignore_errors=True)


def tune_trainable(config: dict[str, Any], payload: WorkerPayload) -> None:
    """Evaluate the objective for one Tune trial (runs on a Ray worker)."""
    number = int(config[TRIAL_KEY])
    params = space_params(Space.from_json(payload.space), config)
    spec = TrialSpec(study_name=payload.study_name, number=number, params=params)
    channel = TuneChannel(payload.metric_key)
    try:
        outcome = evaluate(payload.objective(), Trial(spec, channel), catch=(Exception,))
        channel.finish(outcome)
    finally:
        channel.close()
