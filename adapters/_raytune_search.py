""":class:`HPOSearch`: any hpo searcher as a ``ray.tune.search.Searcher`` (imports Ray).

Tune asks for one configuration per trial id and reports each trial's results; the
searcher sees them as hpo :class:`~hpo.trial.FrozenTrial` records (intermediate values
from ``on_trial_result``, the final value from ``on_trial_complete``). ``save`` writes
JSON: the searcher's own versioned state plus the finished trials, which ``restore``
replays into a freshly built searcher, as a reloaded hpo study does.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from ray.tune.search import Searcher as TuneSearcher

from hpo.exceptions import SearcherError, SearchSpaceExhausted
from hpo.searchers import Searcher, make_searcher
from hpo.space import Param, Space, as_space
from hpo.trial import FrozenTrial, TrialState

_FORMAT = "hpo.adapters.raytune.HPOSearch"
_VERSION = 1
_MODES = {"min": "minimize", "max": "maximize"}


def _finite(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _trial_to_json(t: FrozenTrial) -> dict[str, Any]:
    return {
        "number": t.number,
        "state": t.state.value,
        "params": t.params,
        "value": t.value,
        "intermediate_values": {str(k): v for k, v in t.intermediate_values.items()},
        "error": t.error,
        "suggestion_id": t.suggestion_id,
        "searcher_info": t.searcher_info,
    }


def _trial_from_json(d: Mapping[str, Any]) -> FrozenTrial:
    return FrozenTrial(
        number=int(d["number"]),
        state=TrialState(d["state"]),
        params=dict(d["params"]),
        value=d.get("value"),
        intermediate_values={int(k): float(v) for k, v in d["intermediate_values"].items()},
        error=d.get("error"),
        suggestion_id=d.get("suggestion_id"),
        searcher_info=dict(d.get("searcher_info") or {}),
    )


class HPOSearch(TuneSearcher):
    """An hpo searcher (``"random"``, ``"grid"``, ``"optuna:tpe"``, ...) inside Tune.

    >>> search = HPOSearch({"x": hpo.Float(-5, 5)}, searcher="grid", metric="loss",
    ...                    mode="min", resolution=5)                    # doctest: +SKIP
    >>> tune.Tuner(f, tune_config=tune.TuneConfig(search_alg=search, num_samples=5))
    ... # doctest: +SKIP

    ``space`` is an :class:`hpo.Space` or a dict of parameters; ``metric`` and ``mode``
    (``"min"``/``"max"``) may come later from ``TuneConfig``. Extra keyword arguments are
    the searcher's options. A finished grid makes Tune stop asking (``FINISHED``).
    Results without the metric (errored trials) are told to the searcher as FAILED.
    """

    def __init__(
        self,
        space: Space | Mapping[str, Param],
        searcher: str = "random",
        *,
        metric: str | None = None,
        mode: str | None = None,
        seed: int | None = None,
        **searcher_kwargs: Any,
    ) -> None:
        if mode is not None and mode not in _MODES:
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        super().__init__(metric=metric, mode=mode)
        parsed = as_space(space)
        if parsed is None or not len(parsed):
            raise ValueError("HPOSearch needs a non-empty space of hpo parameters")
        self.space = parsed
        self.searcher_name = searcher
        self.seed = seed
        self.searcher_kwargs = dict(searcher_kwargs)
        self._searcher: Searcher | None = None
        self._live: dict[str, FrozenTrial] = {}  # Tune trial id -> running trial
        self._finished: list[FrozenTrial] = []
        self._next_number = 0
        self._exhausted = False
        make_searcher(searcher, parsed, seed=seed, **self.searcher_kwargs)  # validate now

    # --- the hpo searcher ---------------------------------------------------------------
    # (not called ``searcher``: Tune treats an object with that attribute as a wrapper)
    @property
    def hpo_searcher(self) -> Searcher:
        """The hpo searcher, built on first use (the direction is known by then)."""
        if self._searcher is None:
            direction = _MODES.get(self._mode or "min", "minimize")
            self._searcher = make_searcher(
                self.searcher_name,
                self.space,
                direction=direction,
                seed=self.seed,
                **self.searcher_kwargs,
            )
        return self._searcher

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """Take Tune's metric and mode; refuse a Tune search space (ours is fixed)."""
        if config and any(k in self.space for k in config):
            return False
        if self._searcher is not None and mode is not None and mode != self._mode:
            return False
        if mode is not None and mode not in _MODES:
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        return True

    # --- Tune's side -------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        """The next configuration as a Tune config dict, or ``FINISHED``."""
        if self._exhausted:
            return TuneSearcher.FINISHED
        try:
            suggestion = self.hpo_searcher.ask(1)[0]
        except SearchSpaceExhausted:
            self._exhausted = True
            return TuneSearcher.FINISHED
        trial = FrozenTrial(
            number=self._next_number,
            state=TrialState.RUNNING,
            params=dict(suggestion.config),
            budget=suggestion.budget,
            suggestion_id=suggestion.id,
            searcher_info=dict(suggestion.info),
        )
        self._next_number += 1
        self._live[trial_id] = trial
        return dict(suggestion.config)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Keep the metric as an intermediate value at ``training_iteration``."""
        trial = self._live.get(trial_id)
        value = _finite(result.get(self._metric)) if self._metric else None
        if trial is None or value is None:
            return
        step = int(result.get("training_iteration", len(trial.intermediate_values) + 1))
        trial.intermediate_values[step] = value

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Tell the hpo searcher: COMPLETE with the metric, else FAILED."""
        trial = self._live.pop(trial_id, None)
        if trial is None:
            return
        value = _finite((result or {}).get(self._metric)) if self._metric else None
        if error or value is None:
            reason = "the Tune trial errored" if error else f"no finite {self._metric!r}"
            done = trial.evolve(state=TrialState.FAILED, error=reason)
        else:
            done = trial.evolve(state=TrialState.COMPLETE, value=value)
        self._finished.append(done)
        self.hpo_searcher.tell(done)

    # --- state ---------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """JSON-serializable state: definition, searcher state, finished and live trials."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "space": self.space.to_json(),
            "searcher": self.searcher_name,
            "searcher_kwargs": self.searcher_kwargs,
            "seed": self.seed,
            "metric": self._metric,
            "mode": self._mode,
            "searcher_state": self.hpo_searcher.state_dict(),
            "finished": [_trial_to_json(t) for t in self._finished],
            "live": {k: _trial_to_json(t) for k, t in self._live.items()},
            "next_number": self._next_number,
            "exhausted": self._exhausted,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Rebuild the searcher from a :meth:`get_state` dict and replay its trials."""
        if state.get("format") != _FORMAT or state.get("version") != _VERSION:
            raise SearcherError(
                f"not an HPOSearch state of version {_VERSION}: format="
                f"{state.get('format')!r}, version={state.get('version')!r}"
            )
        self.space = Space.from_json(state["space"])
        self.searcher_name = state["searcher"]
        self.searcher_kwargs = dict(state["searcher_kwargs"])
        self.seed = state["seed"]
        self._metric, self._mode = state["metric"], state["mode"]
        self._searcher = None
        self.hpo_searcher.load_state_dict(state["searcher_state"])
        self._finished = [_trial_from_json(t) for t in state["finished"]]
        for trial in self._finished:
            self.hpo_searcher.tell(trial)
        self._live = {k: _trial_from_json(t) for k, t in state["live"].items()}
        self._next_number = int(state["next_number"])
        self._exhausted = bool(state["exhausted"])

    def save(self, checkpoint_path: str) -> None:
        """Write :meth:`get_state` as JSON, atomically."""
        directory = os.path.dirname(os.path.abspath(checkpoint_path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".hposearch-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.get_state(), fh)
            os.replace(tmp, checkpoint_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def restore(self, checkpoint_path: str) -> None:
        """Load a state written by :meth:`save`."""
        with open(checkpoint_path, encoding="utf-8") as fh:
            self.set_state(json.load(fh))
