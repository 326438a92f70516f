"""The dashboard's view of trials: per-study caches kept current by incremental reads.

A study page redraws its charts every time the study changes; a comparison page reads
every member study. Reading every trial again each time would cost seconds on a 50,000
trial study, so :class:`TrialCache` keeps each study's trials in memory and brings them
up to date with the storage's incremental read (``get_trials(study, since=cursor)``):
after the first read, a refresh reads only the trials that changed.

* **Snapshots.** :meth:`TrialCache.get` returns a :class:`StudyTrials` whose list is never
  changed afterwards (a refresh copies it), so a request computes on a consistent set.
* **Bounded.** At most ``max_trials`` trials (default 200,000, about 200 MB;
  ``$HPO_DASHBOARD_CACHE_TRIALS``) are kept over all studies; the least recently used
  studies go first (the one being read always stays).
* **Derived values.** :meth:`TrialCache.memo` keeps a value computed from a study's trials
  until its cursor moves (plot data, table sorts), so polling an idle study is cheap.

Thread-safe: refreshes of one study are serialized, different studies run in parallel.

>>> cache = TrialCache(storage)                         # doctest: +SKIP
>>> view = cache.get(study_id)                          # first call reads everything
>>> view = cache.get(study_id)                          # later calls read the changes
>>> len(view.trials), view.cursor                       # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hpo.storage import Storage
from hpo.trial import FrozenTrial

T = TypeVar("T")

#: trials kept in memory over all studies (about 1 KB each); ``$HPO_DASHBOARD_CACHE_TRIALS``
#: changes it for a server
DEFAULT_MAX_TRIALS = 200_000
CACHE_ENV = "HPO_DASHBOARD_CACHE_TRIALS"


@dataclass(frozen=True)
class StudyTrials:
    """A study's trials (index = trial number) as of ``cursor``."""

    study_id: int
    cursor: int
    trials: list[FrozenTrial]


@dataclass
class _Entry:
    view: StudyTrials
    lock: threading.Lock = field(default_factory=threading.Lock)
    memo: dict[str, tuple[int, Any]] = field(default_factory=dict)
    memo_lock: threading.Lock = field(default_factory=threading.Lock)


class TrialCache:
    """Trials of recently viewed studies, refreshed incrementally (see the module docs)."""

    def __init__(self, storage: Storage, *, max_trials: int | None = None) -> None:
        self.storage = storage
        if max_trials is None:
            max_trials = int(os.environ.get(CACHE_ENV) or DEFAULT_MAX_TRIALS)
        self.max_trials = int(max_trials)
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, study_id: int) -> _Entry:
        with self._lock:
            entry = self._entries.get(study_id)
            if entry is None:
                entry = _Entry(StudyTrials(study_id, 0, []))
                self._entries[study_id] = entry
            self._entries.move_to_end(study_id)
            return entry

    def get(self, study_id: int) -> StudyTrials:
        """The study's trials, brought up to date (StudyNotFoundError if it is gone)."""
        entry = self._entry(study_id)
        with entry.lock:
            view = entry.view
            try:
                batch = self.storage.get_trials(study_id, since=view.cursor)
            except LookupError:
                self.forget(study_id)
                raise
            if batch.cursor != view.cursor or batch.trials:
                merged = _merged(view, batch.trials, batch.cursor)
                if merged is None:  # a gap in the numbers (never expected): read everything
                    full = self.storage.get_trials(study_id)
                    merged = StudyTrials(study_id, full.cursor, list(full.trials))
                entry.view = merged
            view = entry.view
        self._evict(keep=study_id)
        return view

    def memo(self, study_id: int, key: str, view: StudyTrials, compute: Callable[[], T]) -> T:
        """``compute()``, or the value it gave for the same ``key`` at ``view``'s cursor."""
        entry = self._entry(study_id)
        with entry.memo_lock:  # one computation per key: concurrent pollers wait for it
            found = entry.memo.get(key)
            if found is not None and found[0] == view.cursor:
                return found[1]
            value = compute()
            entry.memo[key] = (view.cursor, value)
            if len(entry.memo) > 64:  # parameters of slices and contours: keep the recent
                entry.memo.pop(next(iter(entry.memo)))
            return value

    def forget(self, study_id: int) -> None:
        """Drop a study (deleted)."""
        with self._lock:
            self._entries.pop(study_id, None)

    def _evict(self, keep: int) -> None:
        with self._lock:
            total = sum(len(e.view.trials) for e in self._entries.values())
            for study_id in list(self._entries):
                if total <= self.max_trials:
                    break
                if study_id != keep:
                    total -= len(self._entries.pop(study_id).view.trials)


def _merged(view: StudyTrials, changed: list[FrozenTrial], cursor: int) -> StudyTrials | None:
    """``view`` with the ``changed`` trials in place (``None`` if they leave a gap)."""
    trials = list(view.trials)
    for trial in sorted(changed, key=lambda t: t.number):
        if trial.number < len(trials):
            trials[trial.number] = trial
        elif trial.number == len(trials):
            trials.append(trial)
        else:
            return None
    return StudyTrials(view.study_id, max(cursor, view.cursor), trials)
