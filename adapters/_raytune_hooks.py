"""What Tune calls during :func:`hpo.adapters.raytune.run_with_tune` (imports Ray).

* :class:`StudySearch` lets the study's own searcher propose Tune's configurations.
* :class:`NumberedSearch` wraps one of Tune's searchers so that each of its suggestions
  becomes an hpo trial before Tune starts it.
* :class:`Recorder` is the Tune ``Callback`` that feeds Tune's events to the
  :class:`~._raytune_driver.TuneRun`, which writes the study's storage.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ray.tune import Callback
from ray.tune.search import Searcher as TuneSearcher

from ._raytune_driver import TuneRun
from ._raytune_worker import TRIAL_KEY

if TYPE_CHECKING:
    from ray.tune.experiment import Trial as TuneTrial


class _DriverOnly:
    """Holds the live :class:`TuneRun`; Tune pickles its configuration (``tuner.pkl``),
    so a pickled copy keeps everything but the run (Tuner.restore is not supported)."""

    _run: TuneRun | None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_run"] = None
        return state

    @property
    def run(self) -> TuneRun:
        if self._run is None:
            raise RuntimeError(
                "this object belongs to a finished or unpickled run_with_tune call; resume a "
                "study by calling run_with_tune again (hpo.load_study restores it)"
            )
        return self._run


class StudySearch(_DriverOnly, TuneSearcher):
    """The study's own searcher as Tune's search algorithm; the study learns finished
    trials from its storage, so completion needs no message here."""

    def __init__(self, run: TuneRun, *, metric: str, mode: str) -> None:
        super().__init__(metric=metric, mode=mode)
        self._run = run

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        config = self.run.ask(trial_id)
        return TuneSearcher.FINISHED if config is None else config

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Nothing to do: the recorder stores the trial and the study syncs its searcher."""

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass

    def save(self, checkpoint_path: str) -> None:
        """Nothing to save: the searcher's state lives in the study's storage."""

    def restore(self, checkpoint_path: str) -> None:
        raise RuntimeError(
            "a study run through Tune resumes by calling run_with_tune again on the loaded "
            "study; its searcher state lives in the study's storage"
        )


class NumberedSearch(_DriverOnly, TuneSearcher):
    """Wraps one of Tune's searchers: each suggestion becomes an hpo trial first."""

    def __init__(self, searcher: TuneSearcher, run: TuneRun) -> None:
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher = searcher  # the name Tune's wrappers use (save/restore walk it)
        self._run = run

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        ok = bool(self.searcher.set_search_properties(metric, mode, config, **spec))
        self._metric, self._mode = self.searcher.metric, self.searcher.mode
        return ok

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return bool(self.searcher.set_max_concurrency(max_concurrent))

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        t0 = time.perf_counter()
        config = self.searcher.suggest(trial_id)
        if config is None or config == TuneSearcher.FINISHED:
            return config
        elapsed = time.perf_counter() - t0
        number = self.run.create(trial_id, dict(config), searcher_time=elapsed)
        return {**config, TRIAL_KEY: number}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


class Recorder(_DriverOnly, Callback):
    """Tune callback that writes every trial's progress and end to the study's storage."""

    def __init__(self, run: TuneRun) -> None:
        self._run = run

    def on_trial_start(
        self, iteration: int, trials: list[TuneTrial], trial: TuneTrial, **info: Any
    ) -> None:
        self.run.follow_clones(trials)

    def on_trial_result(
        self,
        iteration: int,
        trials: list[TuneTrial],
        trial: TuneTrial,
        result: dict[str, Any],
        **info: Any,
    ) -> None:
        self.run.record_result(trial, result)
        self.run.follow_clones(trials)

    def on_trial_complete(
        self, iteration: int, trials: list[TuneTrial], trial: TuneTrial, **info: Any
    ) -> None:
        self.run.complete(trial)

    def on_trial_error(
        self, iteration: int, trials: list[TuneTrial], trial: TuneTrial, **info: Any
    ) -> None:
        self.run.error(trial)
