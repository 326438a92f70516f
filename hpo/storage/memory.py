"""In-memory storage: the default when no URL is given; lives as long as the process."""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hpo.budget import Budget
from hpo.exceptions import (
    ComparisonNotFoundError,
    DuplicateComparisonError,
    DuplicateStudyError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
)
from hpo.space import Space
from hpo.storage.base import (
    DIRECTIONS,
    ComparisonMember,
    ComparisonRecord,
    SearcherState,
    SearcherStateConflict,
    Storage,
    StudyNote,
    StudyNoteConflict,
    StudyRecord,
    StudySummary,
    TrialBatch,
    check_note,
    check_worker_id,
    utcnow,
)
from hpo.trial import FrozenTrial, TrialState


@dataclass
class _StudyData:
    record: StudyRecord
    trials: list[FrozenTrial] = field(default_factory=list)
    changelog: list[int] = field(default_factory=list)  # trial number changed at seq i + 1
    counters: dict[str, int] = field(default_factory=dict)
    # kept up to date by every write, so that summaries read no trial
    counts: dict[TrialState, int] = field(default_factory=lambda: dict.fromkeys(TrialState, 0))
    best: tuple[float, int] | None = None  # (value, number) of the best COMPLETE trial
    last_activity: datetime | None = None  # the latest trial start, heartbeat or finish
    state_version: int = 0  # bumped by every save of the searcher state
    workers: dict[int, str] = field(default_factory=dict)  # trial number -> who asked
    note: StudyNote = field(default_factory=StudyNote)

    def track(self, old: FrozenTrial | None, new: FrozenTrial) -> None:
        """Update the counts, the best trial and the last activity for a write."""
        if old is None or old.state is not new.state:
            if old is not None:
                self.counts[old.state] -= 1
            self.counts[new.state] += 1
        value = new.value
        if new.state is TrialState.COMPLETE and value is not None and not math.isnan(value):
            sign = 1.0 if self.record.direction == "minimize" else -1.0
            best = self.best
            if best is None or (sign * value, new.number) < (sign * best[0], best[1]):
                self.best = (float(value), new.number)
        for stamp in (new.datetime_start, new.heartbeat, new.datetime_complete):
            if stamp is not None and (self.last_activity is None or stamp > self.last_activity):
                self.last_activity = stamp


class InMemoryStorage(Storage):
    """A dict-backed :class:`~hpo.storage.base.Storage` guarded by one lock.

    Only this process can use it, so its study lock excludes every user of the study."""

    study_lock_is_shared = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[int, _StudyData] = {}
        self._names: dict[str, int] = {}
        self._next_id = 1
        self._comparisons: dict[str, ComparisonRecord] = {}
        self._next_comparison_id = 1
        # comparison id -> {(label, seed): study id}
        self._members: dict[int, dict[tuple[str, int], int]] = {}

    # --- helpers ---------------------------------------------------------------------
    def _study(self, study_id: int) -> _StudyData:
        try:
            return self._studies[study_id]
        except KeyError:
            raise StudyNotFoundError(f"no study with id {study_id}") from None

    @staticmethod
    def _snapshot(trial: FrozenTrial) -> FrozenTrial:
        """A copy whose containers the caller may change without touching the store."""
        return trial.evolve(
            params=copy.deepcopy(trial.params),
            metrics=dict(trial.metrics),
            intermediate_values=dict(trial.intermediate_values),
            user_attrs=copy.deepcopy(trial.user_attrs),
            searcher_info=copy.deepcopy(trial.searcher_info),
        )

    def _trial(self, data: _StudyData, number: int) -> FrozenTrial:
        if not 0 <= number < len(data.trials):
            raise TrialNotFoundError(f"study {data.record.name!r} has no trial {number}")
        return data.trials[number]

    def _put(self, data: _StudyData, trial: FrozenTrial) -> FrozenTrial:
        """Store a new or changed trial under a new change sequence."""
        if trial.number == len(data.trials):
            data.trials.append(trial)
            data.track(None, trial)
        else:
            data.track(data.trials[trial.number], trial)
            data.trials[trial.number] = trial
        data.changelog.append(trial.number)
        return trial

    def _running(self, data: _StudyData, number: int) -> FrozenTrial:
        trial = self._trial(data, number)
        if trial.state.is_finished:
            raise TrialFinishedError(
                f"trial {number} of study {data.record.name!r} is already {trial.state.value}; "
                "finished trials cannot be changed"
            )
        return trial

    # --- studies ---------------------------------------------------------------------
    def create_study(
        self,
        name: str,
        *,
        direction: str,
        space: Space | None,
        searcher: str,
        searcher_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        metric: str | None = None,
        user_attrs: dict[str, Any] | None = None,
        budget: Budget | None = None,
        stopper: str | None = None,
        stopper_kwargs: dict[str, Any] | None = None,
        owner: str | None = None,
    ) -> StudyRecord:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
        with self._lock:
            if name in self._names:
                raise DuplicateStudyError(
                    f"a study named {name!r} already exists; pass load_if_exists=True to "
                    "continue it, or choose another name"
                )
            record = StudyRecord(
                study_id=self._next_id,
                name=name,
                direction=direction,
                space=space if space is not None else Space(),
                define_by_run=space is None,
                searcher=searcher,
                searcher_kwargs=copy.deepcopy(searcher_kwargs or {}),
                seed=seed,
                metric=metric,
                created_at=utcnow(),
                user_attrs=copy.deepcopy(user_attrs or {}),
                budget=budget,
                stopper=stopper,
                stopper_kwargs=copy.deepcopy(stopper_kwargs or {}),
                owner=owner,
            )
            self._studies[record.study_id] = _StudyData(record)
            self._names[name] = record.study_id
            self._next_id += 1
            return record

    def get_study(self, name: str) -> StudyRecord:
        with self._lock:
            if name not in self._names:
                raise StudyNotFoundError(f"no study named {name!r}")
            return self._studies[self._names[name]].record

    def get_study_by_id(self, study_id: int) -> StudyRecord:
        with self._lock:
            return self._study(study_id).record

    def list_studies(self) -> list[StudyRecord]:
        with self._lock:
            return [d.record for d in self._studies.values()]

    def delete_study(self, name: str) -> None:
        with self._lock:
            if name not in self._names:
                raise StudyNotFoundError(f"no study named {name!r}")
            study_id = self._names.pop(name)
            del self._studies[study_id]
            for links in self._members.values():  # deleting a study leaves its comparisons
                for key in [k for k, sid in links.items() if sid == study_id]:
                    del links[key]

    def set_study_owner(self, study_id: int, owner: str | None) -> None:
        with self._lock:
            data = self._study(study_id)
            data.record = StudyRecord(**{**data.record.__dict__, "owner": owner})

    def study_summaries(self, study_ids: Iterable[int] | None = None) -> list[StudySummary]:
        with self._lock:
            if study_ids is None:
                chosen = list(self._studies.values())
            else:
                ids = {int(i) for i in study_ids}
                chosen = [d for sid, d in self._studies.items() if sid in ids]
            return [
                StudySummary(
                    study_id=d.record.study_id,
                    name=d.record.name,
                    direction=d.record.direction,
                    searcher=d.record.searcher,
                    counts={state.value: n for state, n in d.counts.items()},
                    best_value=None if d.best is None else d.best[0],
                    best_number=None if d.best is None else d.best[1],
                    last_activity=d.last_activity,
                    created_at=d.record.created_at,
                    owner=d.record.owner,
                    stopped_at=d.record.stopped_at,
                )
                for d in chosen
            ]

    def set_study_space(self, study_id: int, space: Space) -> None:
        with self._lock:
            data = self._study(study_id)
            data.record = StudyRecord(**{**data.record.__dict__, "space": space})

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            data = self._study(study_id)
            attrs = {**data.record.user_attrs, key: copy.deepcopy(value)}
            data.record = StudyRecord(**{**data.record.__dict__, "user_attrs": attrs})

    def set_study_stopped(self, study_id: int, stopped: bool) -> datetime | None:
        with self._lock:
            data = self._study(study_id)
            when = (data.record.stopped_at or utcnow()) if stopped else None
            data.record = StudyRecord(**{**data.record.__dict__, "stopped_at": when})
            return when

    def is_study_stopped(self, study_id: int) -> bool:
        with self._lock:
            return self._study(study_id).record.stopped_at is not None

    def get_study_note(self, study_id: int) -> StudyNote:
        with self._lock:
            return self._study(study_id).note

    def set_study_note(
        self, study_id: int, body: str, *, expected_version: int | None = None
    ) -> StudyNote:
        check_note(body)
        with self._lock:
            data = self._study(study_id)
            if expected_version is not None and expected_version != data.note.version:
                raise StudyNoteConflict(
                    f"the note of study {data.record.name!r} is at version "
                    f"{data.note.version}, not {expected_version}: someone else saved it"
                )
            data.note = StudyNote(body, data.note.version + 1, utcnow())
            return data.note

    def add_trial(self, study_id: int, trial: FrozenTrial) -> FrozenTrial:
        if not trial.state.is_finished:
            raise ValueError(f"add_trial stores finished trials, got {trial.state}")
        with self._lock:
            data = self._study(study_id)
            added = self._snapshot(trial).evolve(
                number=len(data.trials), heartbeat=None, suggestion_id=None, searcher_info={}
            )
            return self._snapshot(self._put(data, added))

    def save_searcher_state(
        self, study_id: int, state: dict[str, Any], *, expected_version: int | None = None
    ) -> int:
        with self._lock:
            data = self._study(study_id)
            if expected_version is not None and expected_version != data.state_version:
                raise SearcherStateConflict(
                    f"the searcher state of study {data.record.name!r} is at version "
                    f"{data.state_version}, not {expected_version}: another process saved it"
                )
            data.record = StudyRecord(
                **{**data.record.__dict__, "searcher_state": copy.deepcopy(state)}
            )
            data.state_version += 1
            return data.state_version

    def load_searcher_state(self, study_id: int) -> SearcherState:
        with self._lock:
            data = self._study(study_id)
            return SearcherState(copy.deepcopy(data.record.searcher_state), data.state_version)

    def count_trials(self, study_id: int, states: Iterable[TrialState] | None = None) -> int:
        with self._lock:
            trials = self._study(study_id).trials
            if states is None:
                return len(trials)
            wanted = set(states)
            return sum(t.state in wanted for t in trials)

    # --- trials ----------------------------------------------------------------------
    def create_trial(
        self,
        study_id: int,
        *,
        params: dict[str, Any],
        state: TrialState = TrialState.RUNNING,
        budget: float | None = None,
        parent: int | None = None,
        searcher_time: float | None = None,
        heartbeat: bool = False,
        suggestion_id: str | None = None,
        searcher_info: dict[str, Any] | None = None,
        worker_id: str | None = None,
        user_attrs: dict[str, Any] | None = None,
    ) -> FrozenTrial:
        if state not in (TrialState.RUNNING, TrialState.WAITING):
            raise ValueError(f"a new trial is RUNNING or WAITING, got {state}")
        check_worker_id(worker_id)
        with self._lock:
            data = self._study(study_id)
            now = utcnow()
            trial = FrozenTrial(
                number=len(data.trials),
                state=state,
                params=copy.deepcopy(params),
                datetime_start=now if state is TrialState.RUNNING else None,
                heartbeat=now if heartbeat and state is TrialState.RUNNING else None,
                budget=budget,
                parent=parent,
                searcher_time=searcher_time,
                suggestion_id=suggestion_id,
                searcher_info=copy.deepcopy(searcher_info or {}),
                user_attrs=copy.deepcopy(user_attrs or {}),
            )
            if worker_id is not None and state is TrialState.RUNNING:
                data.workers[trial.number] = worker_id
            return self._snapshot(self._put(data, trial))

    def pop_waiting_trial(
        self, study_id: int, *, heartbeat: bool = False, worker_id: str | None = None
    ) -> FrozenTrial | None:
        check_worker_id(worker_id)
        with self._lock:
            data = self._study(study_id)
            for trial in data.trials:
                if trial.state is TrialState.WAITING:
                    now = utcnow()
                    if worker_id is not None:
                        data.workers[trial.number] = worker_id
                    return self._snapshot(
                        self._put(
                            data,
                            trial.evolve(
                                state=TrialState.RUNNING,
                                datetime_start=now,
                                heartbeat=now if heartbeat else None,
                            ),
                        )
                    )
            return None

    def worker_trials(self, study_id: int, worker_id: str) -> list[FrozenTrial]:
        with self._lock:
            data = self._study(study_id)
            return [
                self._snapshot(data.trials[n])
                for n, w in sorted(data.workers.items())
                if w == worker_id and data.trials[n].state is TrialState.RUNNING
            ]

    def set_trial_param(self, study_id: int, number: int, name: str, value: Any) -> None:
        with self._lock:
            data = self._study(study_id)
            trial = self._running(data, number)
            self._put(data, trial.evolve(params={**trial.params, name: copy.deepcopy(value)}))

    def report(self, study_id: int, number: int, step: int, value: float) -> None:
        with self._lock:
            data = self._study(study_id)
            trial = self._running(data, number)
            values = {**trial.intermediate_values, int(step): float(value)}
            self._put(data, trial.evolve(intermediate_values=values))

    def set_trial_user_attr(self, study_id: int, number: int, key: str, value: Any) -> None:
        with self._lock:
            data = self._study(study_id)
            trial = self._running(data, number)
            attrs = {**trial.user_attrs, key: copy.deepcopy(value)}
            self._put(data, trial.evolve(user_attrs=attrs))

    def heartbeat(self, study_id: int, number: int) -> None:
        with self._lock:
            data = self._study(study_id)
            trial = self._running(data, number)
            self._put(data, trial.evolve(heartbeat=utcnow()))

    def heartbeat_trials(self, study_id: int, numbers: Iterable[int]) -> list[int]:
        with self._lock:
            data = self._study(study_id)
            trials, now = data.trials, utcnow()
            beaten = [
                n
                for n in sorted({int(n) for n in numbers})
                if 0 <= n < len(trials) and trials[n].state is TrialState.RUNNING
            ]
            for n in beaten:
                self._put(data, trials[n].evolve(heartbeat=now))
            return beaten

    def finish_trial(
        self,
        study_id: int,
        number: int,
        state: TrialState,
        *,
        value: float | None = None,
        metrics: dict[str, float | None] | None = None,
        error: str | None = None,
    ) -> FrozenTrial:
        if not state.is_finished:
            raise ValueError(f"finish_trial needs COMPLETE, PRUNED or FAILED, got {state}")
        with self._lock:
            data = self._study(study_id)
            trial = self._running(data, number)
            done = trial.evolve(
                state=state,
                value=value,
                metrics=dict(metrics or {}),
                error=error,
                datetime_complete=utcnow(),
            )
            data.workers.pop(number, None)
            return self._snapshot(self._put(data, done))

    def get_trial(self, study_id: int, number: int) -> FrozenTrial:
        with self._lock:
            return self._snapshot(self._trial(self._study(study_id), number))

    def get_trials(
        self,
        study_id: int,
        *,
        since: int = 0,
        states: Iterable[TrialState] | None = None,
    ) -> TrialBatch:
        with self._lock:
            data = self._study(study_id)
            wanted = set(states) if states is not None else None
            since = max(int(since), 0)
            if since == 0:
                changed: Iterable[FrozenTrial] = data.trials
            else:
                changed = (data.trials[n] for n in sorted(set(data.changelog[since:])))
            trials = [self._snapshot(t) for t in changed if wanted is None or t.state in wanted]
            return TrialBatch(trials=trials, cursor=max(len(data.changelog), since))

    def next_counter(self, study_id: int, key: str) -> int:
        with self._lock:
            data = self._study(study_id)
            value = data.counters.get(key, 0)
            data.counters[key] = value + 1
            return value

    # --- comparisons -------------------------------------------------------------------
    def create_comparison(
        self,
        name: str,
        *,
        problem: str,
        direction: str,
        n_trials: int,
        spec: dict[str, Any],
        optimum: float | None = None,
        reference: float | None = None,
    ) -> ComparisonRecord:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
        with self._lock:
            if name in self._comparisons:
                raise DuplicateComparisonError(
                    f"a comparison named {name!r} already exists; pass load_if_exists=True "
                    "to resume it, or choose another name"
                )
            record = ComparisonRecord(
                comparison_id=self._next_comparison_id,
                name=name,
                problem=problem,
                direction=direction,
                n_trials=int(n_trials),
                spec=copy.deepcopy(spec),
                optimum=None if optimum is None else float(optimum),
                reference=None if reference is None else float(reference),
                created_at=utcnow(),
            )
            self._comparisons[name] = record
            self._members[record.comparison_id] = {}
            self._next_comparison_id += 1
            return record

    def add_comparison_study(
        self, comparison_id: int, study_id: int, *, label: str, seed: int
    ) -> None:
        with self._lock:
            members = self._members.get(comparison_id)
            if members is None:
                raise ComparisonNotFoundError(f"no comparison with id {comparison_id}")
            self._study(study_id)
            if (label, seed) in members or study_id in members.values():
                raise DuplicateComparisonError(
                    f"comparison {comparison_id} already has a study for searcher {label!r} "
                    f"and seed {seed} (or study {study_id})"
                )
            members[(label, int(seed))] = study_id

    def _with_members(self, record: ComparisonRecord) -> ComparisonRecord:
        members = [
            ComparisonMember(sid, self._studies[sid].record.name, label, seed)
            for (label, seed), sid in self._members[record.comparison_id].items()
            if sid in self._studies  # a deleted study leaves its comparisons
        ]
        members.sort(key=lambda m: (m.label, m.seed))
        return ComparisonRecord(
            **{**record.__dict__, "spec": copy.deepcopy(record.spec), "members": tuple(members)}
        )

    def get_comparison(self, name: str) -> ComparisonRecord:
        with self._lock:
            if name not in self._comparisons:
                raise ComparisonNotFoundError(f"no comparison named {name!r}")
            return self._with_members(self._comparisons[name])

    def list_comparisons(self) -> list[ComparisonRecord]:
        with self._lock:
            records = sorted(self._comparisons.values(), key=lambda r: r.comparison_id)
            return [self._with_members(r) for r in records]

    def delete_comparison(self, name: str) -> None:
        with self._lock:
            record = self._comparisons.pop(name, None)
            if record is None:
                raise ComparisonNotFoundError(f"no comparison named {name!r}")
            del self._members[record.comparison_id]  # the studies stay
