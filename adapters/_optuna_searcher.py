"""The searchers behind ``optuna:tpe``, ``optuna:gp``, ``optuna:cmaes``, ``optuna:qmc`` and
``optuna:random`` (see :mod:`hpo.adapters.optuna` for the user-facing story).

One private in-memory Optuna study per searcher. Every Optuna trial gets a fresh sampler
seeded from ``(seed, index)``, the index being the study's shared ``trial`` counter (or the
trial number, define-by-run), so that a rebuilt searcher continues the very same sequence
once its finished trials are replayed into the Optuna study.

Each ask is a RUNNING Optuna trial kept under the suggestion's id until the trial that
answers it is told (``trial.suggestion_id``); a told trial without one of those ids
(enqueued, another process) is added to the Optuna study as a finished foreign trial.
Configurations are still compared (canonical JSON) for one purpose only: a point asked
or told before is not proposed again.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hpo.exceptions import SearcherError
from hpo.searchers.base import Searcher, Suggestion
from hpo.space import Param, Space
from hpo.trial import FrozenTrial, TrialState

from ._optuna_space import finite_or_none, suggest, to_distribution

if TYPE_CHECKING:
    import optuna

#: sampler options that cannot be stored as JSON with a study (or that hpo sets itself)
_NOT_OPTIONS = frozenset(
    {"self", "seed", "independent_sampler", "constraints_func", "gamma", "weights", "source_trials"}
)


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial INFO lines while the adapter drives its private study."""
    import optuna

    previous = optuna.logging.get_verbosity()
    if previous < logging.WARNING:
        optuna.logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        if previous < logging.WARNING:
            optuna.logging.set_verbosity(previous)


def sampler_options(name: str, sampler_cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` checked against the sampler's keyword arguments and for JSON values."""
    accepted = [
        p
        for p in inspect.signature(sampler_cls).parameters
        if p not in _NOT_OPTIONS and not p.startswith("_")
    ]
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise SearcherError(
            f"searcher {name!r} does not take {', '.join(map(repr, unknown))}; its options "
            f"(passed to optuna's {sampler_cls.__name__}) are: {', '.join(accepted) or 'none'}"
        )
    try:
        json.dumps(options, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SearcherError(
            f"searcher {name!r}: options must be JSON values (they are stored with the study), "
            f"got {options!r}: {exc}"
        ) from None
    return dict(options)


class OptunaSearcher(Searcher):
    """Base of the Optuna-backed searchers; subclasses name the sampler class."""

    sampler_class: ClassVar[str] = ""
    supports_define_by_run = True
    #: whether a rebuilt searcher continues the exact sequence (see the module docstring)
    resumable: ClassVar[bool] = True

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        self._define_by_run = space is None
        self.options = sampler_options(self.name, self._sampler_cls(), options)
        self._study: optuna.Study | None = None
        self._system_attrs: dict[str, Any] = {}
        self._asked: dict[str, optuna.Trial] = {}  # suggestion id -> its RUNNING Optuna trial
        self._running: dict[int, tuple[optuna.Trial, optuna.samplers.BaseSampler]] = {}
        self._known: dict[str, Param] = {}
        self._seen: set[str] = set()  # keys of configurations asked or told (no repeats)
        # outstanding asks of a loaded state ({"id", "params", "system_attrs"}), not yet
        # restored
        self._pending: list[dict[str, Any]] = []
        try:
            self._sampler(0)
        except (TypeError, ValueError) as exc:
            raise SearcherError(
                f"searcher {self.name!r}: invalid options {options!r}: {exc}"
            ) from None

    # --- samplers ------------------------------------------------------------------------
    def _sampler_cls(self) -> type:
        import optuna

        return getattr(optuna.samplers, self.sampler_class)

    def _defaults(self) -> dict[str, Any]:
        """Options hpo sets where the user gave none."""
        return {}

    def _sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        """A fresh sampler seeded with ``seed``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning: the user asked for it by name
            return self._sampler_cls()(seed=seed, **{**self._defaults(), **self.options})

    def _sampler_for(self, index: int) -> optuna.samplers.BaseSampler:
        return self._sampler(int(self._rng_for(index).integers(2**31 - 1)))

    def _optuna_study(self) -> optuna.Study:
        if self._study is None:
            import optuna

            with quiet_optuna():
                self._study = optuna.create_study(
                    direction=optuna.study.StudyDirection[self.direction.upper()],
                    sampler=self._sampler(0),
                )
            for key, value in self._system_attrs.items():
                self._study._storage.set_study_system_attr(self._study._study_id, key, value)
        return self._study

    def _start(self, index: int) -> tuple[optuna.Trial, optuna.samplers.BaseSampler]:
        study = self._optuna_study()
        sampler = self._sampler_for(index)
        study.sampler = sampler
        with quiet_optuna():
            return study.ask(), sampler

    # --- hooks -----------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Suggestion]:
        self._restore_pending()
        out = []
        for _ in range(n):
            index = self._next_index("trial")
            trial, config = self._propose(self._sampler_for(index))
            key = self._key(config)
            if key in self._seen:
                # a model that sees no difference (a constant objective, say) may propose a
                # point again: drop it from the Optuna study and draw once at random instead
                self._discard(trial)
                trial, config = self._propose(self._random_for(index))
                key = self._key(config)
            self._seen.add(key)
            suggestion = Suggestion(config, info={"optuna_trial": trial.number})
            self._asked[suggestion.id] = trial
            out.append(suggestion)
        return out

    def _propose(self, sampler: optuna.samplers.BaseSampler) -> tuple[optuna.Trial, dict[str, Any]]:
        """A new Optuna trial with every active parameter suggested, in space order."""
        study = self._optuna_study()
        study.sampler = sampler
        config: dict[str, Any] = {}
        with quiet_optuna():
            trial = study.ask()
            for name, param in self.space.items():
                if self.space.is_active(name, config):
                    config[name] = suggest(trial, name, param)
        return trial, config

    def _discard(self, trial: optuna.Trial) -> None:
        import optuna

        with quiet_optuna():
            self._optuna_study().tell(trial, state=optuna.trial.TrialState.FAIL)

    def _random_for(self, index: int) -> optuna.samplers.BaseSampler:
        import optuna

        entropy = [index, 1] if self.seed is None else [self.seed, index, 1]
        if self.seed is None:
            entropy.append(int(self.rng.integers(2**63)))
        return optuna.samplers.RandomSampler(
            seed=int(np.random.default_rng(entropy).integers(2**31 - 1))
        )

    def _suggest_param(
        self, trial_number: int, config: dict[str, Any], name: str, param: Param
    ) -> Any:
        if trial_number not in self._running:
            self._running[trial_number] = self._start(trial_number)
        trial, sampler = self._running[trial_number]
        self._optuna_study().sampler = sampler
        self._known[name] = param
        with quiet_optuna():
            return suggest(trial, name, param)

    def _tell(self, trial: FrozenTrial) -> None:
        with contextlib.suppress(TypeError, ValueError):
            self._seen.add(self._key(trial.params))
        own = self._running.pop(trial.number, None)
        optuna_trial = own[0] if own is not None else self._pop_asked(trial.suggestion_id)
        if optuna_trial is None:
            self._drop_pending(trial.suggestion_id)
            self._add_foreign(trial)
            return
        import optuna

        study = self._optuna_study()
        with quiet_optuna():
            if trial.state is TrialState.PRUNED:
                for step, value in _intermediates(trial).items():
                    optuna_trial.report(value, step)
                study.tell(optuna_trial, state=optuna.trial.TrialState.PRUNED)
            elif trial.state is TrialState.COMPLETE and finite_or_none(trial.value) is not None:
                study.tell(optuna_trial, trial.value)
            else:
                study.tell(optuna_trial, state=optuna.trial.TrialState.FAIL)

    def _state(self) -> dict[str, Any]:
        """Optuna's study-level sampler state (QMC's position) and the configurations asked
        but not yet told: samplers that count running trials (TPE's and GP's constant liar)
        need them, and told trials cannot bring them back."""
        state: dict[str, Any] = {}
        attrs = self._system_attrs
        if self._study is not None:
            attrs = self._study._storage.get_study_system_attrs(self._study._study_id)
        if attrs:
            state["system_attrs"] = dict(attrs)
        asked = sorted((t.number, sid) for sid, t in self._asked.items())
        pending = [self._pending_entry(sid, self._asked[sid]) for _, sid in asked]
        pending += self._pending
        if pending:
            state["pending"] = pending
        return state

    def _pending_entry(self, suggestion_id: str, trial: optuna.Trial) -> dict[str, Any]:
        """An outstanding Optuna trial as JSON: the id of the suggestion it answers, its
        values and Optuna's own notes on it (multivariate TPE keeps the relative sample of
        inactive parameters there)."""
        frozen = self._optuna_study()._storage.get_trial(trial._trial_id)
        attrs = {k: v for k, v in frozen.system_attrs.items() if k != "fixed_params"}
        return {"id": suggestion_id, "params": dict(frozen.params), "system_attrs": attrs}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._system_attrs = dict(state.get("system_attrs", {}))
        if self._study is not None:
            for key, value in self._system_attrs.items():
                self._study._storage.set_study_system_attr(self._study._study_id, key, value)
        # entries without an id (saved before asks had ids) are answered by no trial: dropped
        self._pending = [
            entry
            for entry in state.get("pending", [])
            if isinstance(entry, dict)
            and isinstance(entry.get("id"), str)
            and not self.space.violations(entry.get("params", {}))
        ]

    def _restore_pending(self) -> None:
        """Recreate the outstanding asks of a saved state as RUNNING Optuna trials, after the
        replayed trials (those told meanwhile were dropped from the list), as they were."""
        pending, self._pending = self._pending, []
        for entry in pending:
            self._restore_one(
                entry["id"], dict(entry["params"]), dict(entry.get("system_attrs", {}))
            )

    def _restore_one(
        self, suggestion_id: str, config: dict[str, Any], system_attrs: dict[str, Any]
    ) -> None:
        study = self._optuna_study()
        with quiet_optuna():
            study.enqueue_trial(config, skip_if_exists=False)
            trial = study.ask()
            for key, value in system_attrs.items():
                study._storage.set_trial_system_attr(trial._trial_id, key, value)
            for name, param in self.space.items():
                if name in config:
                    suggest(trial, name, param)
        self._seen.add(self._key(config))
        self._asked[suggestion_id] = trial

    # --- bookkeeping -------------------------------------------------------------------------
    def _key(self, config: dict[str, Any]) -> str:
        canonical = self.space.canonical(config) if len(self.space) else config
        return json.dumps(canonical, sort_keys=True)

    def _pop_asked(self, suggestion_id: str | None) -> optuna.Trial | None:
        """The RUNNING Optuna trial of the ask ``suggestion_id`` (``None``: not ours)."""
        if suggestion_id is None:
            return None
        return self._asked.pop(suggestion_id, None)

    def _drop_pending(self, suggestion_id: str | None) -> None:
        """Forget a saved outstanding ask once its trial is told (replayed)."""
        if suggestion_id is None:
            return
        self._pending = [e for e in self._pending if e["id"] != suggestion_id]

    def _param(self, name: str) -> Param | None:
        return self.space.get(name) if name in self.space else self._known.get(name)

    def _add_foreign(self, trial: FrozenTrial) -> None:
        """Add a trial this searcher did not propose, so the sampler learns from it."""
        import optuna

        params, dists = {}, {}
        for name, value in trial.params.items():
            param = self._param(name)
            if param is not None and param.contains(value):
                params[name], dists[name] = value, to_distribution(param)
        value = finite_or_none(trial.value)
        state = {
            TrialState.COMPLETE: optuna.trial.TrialState.COMPLETE,
            TrialState.PRUNED: optuna.trial.TrialState.PRUNED,
        }.get(trial.state, optuna.trial.TrialState.FAIL)
        if state is optuna.trial.TrialState.COMPLETE and value is None:
            state = optuna.trial.TrialState.FAIL
        record = optuna.trial.create_trial(
            state=state,
            value=value if state is optuna.trial.TrialState.COMPLETE else None,
            params=params,
            distributions=dists,
            intermediate_values=_intermediates(trial),
        )
        with quiet_optuna():
            self._optuna_study().add_trial(record)


def _intermediates(trial: FrozenTrial) -> dict[int, float]:
    """The trial's intermediate values; a PRUNED trial with only a final value reports it at
    its last step (0), which is what Optuna's samplers rank pruned trials by."""
    values = {int(k): float(v) for k, v in trial.intermediate_values.items()}
    value = finite_or_none(trial.value)
    if not values and trial.state is TrialState.PRUNED and value is not None:
        values[0] = value
    return values
