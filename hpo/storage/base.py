"""The storage contract every backend (memory, SQL, HTTP) implements.

Contract, checked by :mod:`hpo.testing.storage_conformance`:

* **Thread-safe.** Any method may be called from several threads at once; SQL backends
  are also safe across processes sharing one database.
* **Snapshots.** Reads return :class:`~hpo.trial.FrozenTrial` / :class:`StudyRecord`
  values that later writes never change.
* **Finished trials are immutable.** Finishing, reporting to or changing a COMPLETE,
  PRUNED or FAILED trial raises :class:`~hpo.exceptions.TrialFinishedError`.
* **Numbers are dense.** Trial numbers of a study are ``0, 1, 2, ...`` in creation order,
  assigned atomically (no two trials share a number, across processes too).
* **Incremental reads.** Every change to a trial (creation, parameter, intermediate
  value, attribute, heartbeat, finish) gives it a new, strictly larger per-study change
  sequence. ``get_trials(study_id, since=cursor)`` returns the trials changed after
  ``cursor`` together with the new cursor, so a trial that moves from RUNNING to COMPLETE
  is seen again, and a reader that passes back the cursor never misses a change.
* **Atomic counters.** ``next_counter(study_id, key)`` returns ``0, 1, 2, ...`` to its
  callers with no value returned twice, across threads and processes: searchers use it to
  claim grid points and seed streams without duplicates.
* **Waiting queue.** ``enqueue_trial`` adds a WAITING trial; ``pop_waiting_trial`` turns
  the oldest into RUNNING for exactly one caller.
* **Heartbeats.** A trial's ``heartbeat`` is ``None`` until its worker beats: at creation
  (``create_trial(heartbeat=True)``, ``pop_waiting_trial(heartbeat=True)``) and then with
  ``heartbeat()``. Reports and attributes do not beat. ``fail_stale_trials`` fails the
  RUNNING trials whose last beat is older than a cut-off, so a trial whose worker died is
  never stuck RUNNING; trials that never beat (driven by hand with ask/tell) are left alone.
* **Owner.** ``StudyRecord.owner`` is ``None`` for a study driven in-process (any number
  of processes may each drive it, coordinating through counters), or names the server that
  drives it (``set_study_owner``); a process then refuses to drive it itself.
* **Summaries.** ``study_summaries`` returns counts by state, the best value and the last
  activity of studies from aggregates, never by reading every trial.
* **Versioned searcher state.** Every ``save_searcher_state`` bumps the study's state
  version (``1, 2, ...``; ``0`` before the first save) and returns it;
  ``load_searcher_state`` reads the state with its version in one snapshot. A save given
  ``expected_version`` is a compare-and-set: it raises
  :class:`SearcherStateConflict` and changes nothing unless the stored version is that
  one, so a driver learns that another process (a server replica) advanced the searcher.
* **Study lock.** ``study_lock(study_id)`` is a context manager that excludes every other
  holder of the same study's lock, threads of this process and (where
  ``study_lock_is_shared``) other processes on the same database: PostgreSQL takes an
  advisory lock, released by the database if the process dies. A driver holds it around
  an ask in replica mode. SQLite's lock covers this process only.
* **Worker ids.** A RUNNING trial may record the worker that asked for it
  (``create_trial(worker_id=...)``, ``pop_waiting_trial(worker_id=...)``);
  ``worker_trials(study_id, worker_id)`` returns that worker's RUNNING trials, so a worker
  that asks again before telling gets its own trial back.
* **Comparisons** are stored groups of studies (searchers x seeds on one problem):
  ``create_comparison`` (a unique name, else
  :class:`~hpo.exceptions.DuplicateComparisonError`), ``add_comparison_study`` (one study
  per ``(label, seed)``), ``get_comparison`` (with its members;
  :class:`~hpo.exceptions.ComparisonNotFoundError` if none), ``list_comparisons`` and
  ``delete_comparison`` (the record and its links; member studies stay).
  Deleting a study removes it from its comparisons.
* **Stopped studies.** ``set_study_stopped(study_id, True)`` marks a study stopped (its
  ``stopped_at``, kept from the first stop; ``False`` resumes it): a driver then opens no
  new trial (:class:`StudyStoppedError`), while running trials may still finish.
  ``is_study_stopped`` is a cheap read for the ask path; records and summaries carry
  ``stopped_at``.
* **Notes.** Each study has one Markdown note (``get_study_note``: empty at version 0);
  ``set_study_note`` replaces it and bumps its version, and given ``expected_version`` is
  a compare-and-set (:class:`StudyNoteConflict`), so two editors never silently overwrite
  each other. Deleting a study deletes its note.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from hpo.budget import Budget
from hpo.exceptions import HPOError, SearchSpaceExhausted, TrialFinishedError
from hpo.space import Space
from hpo.trial import FrozenTrial, TrialState

DIRECTIONS = ("minimize", "maximize")
_LOCKS_GUARD = threading.Lock()  # creates the per-study locks of Storage.study_lock
#: longest worker id a storage keeps
MAX_WORKER_ID = 128
#: longest study note a storage keeps (characters)
MAX_NOTE_CHARS = 100_000


class SearcherStateConflict(HPOError):
    """A compare-and-set save of a searcher's state found another version stored: another
    process advanced the searcher since this one read it."""

    code = "searcher_state_conflict"
    kind = "conflict"


class StudyStoppedError(SearchSpaceExhausted):
    """The study was stopped (``Storage.set_study_stopped``, e.g. from the dashboard): no
    new trial is opened until it is resumed. A subclass of
    :class:`~hpo.exceptions.SearchSpaceExhausted`, so a worker or ``optimize`` loop ends
    as it does when a grid runs out."""

    code = "study_stopped"


class StudyNoteConflict(HPOError):
    """A compare-and-set save of a study's note found another version stored: someone
    else edited the note since this editor read it."""

    code = "study_note_conflict"
    kind = "conflict"


def check_note(body: str) -> str:
    """``body`` if it is a string of at most :data:`MAX_NOTE_CHARS` characters, else a
    ``ValueError`` saying why."""
    if not isinstance(body, str):
        raise ValueError(f"a study note is a string, got {type(body).__name__}")
    if len(body) > MAX_NOTE_CHARS:
        raise ValueError(f"a study note holds at most {MAX_NOTE_CHARS} characters, got {len(body)}")
    return body


def check_worker_id(worker_id: str | None) -> str | None:
    """``worker_id`` if it is ``None`` or a non-empty string of at most
    :data:`MAX_WORKER_ID` printable characters, else a ``ValueError`` saying why."""
    if worker_id is None:
        return None
    if (
        not isinstance(worker_id, str)
        or not 0 < len(worker_id) <= MAX_WORKER_ID
        or not worker_id.isprintable()
    ):
        raise ValueError(
            f"a worker id is a string of 1 to {MAX_WORKER_ID} printable characters, "
            f"got {worker_id!r}"
        )
    return worker_id


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (what every backend stores)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class StudyRecord:
    """A study as stored: its definition, the searcher to rebuild, and its state.

    ``define_by_run`` studies were created without a space; their ``space`` holds the
    parameters their trials have suggested so far. ``budget``, ``stopper`` and
    ``stopper_kwargs`` are the multi-fidelity settings (``None`` / empty without them);
    ``owner`` is ``None`` for a study driven in-process, else who drives it (a server);
    ``stopped_at`` is when the study was stopped (``None``: it runs).
    """

    study_id: int
    name: str
    direction: str
    space: Space
    searcher: str
    searcher_kwargs: dict[str, Any] = field(default_factory=dict)
    searcher_state: dict[str, Any] | None = None
    seed: int | None = None
    metric: str | None = None
    created_at: datetime | None = None
    user_attrs: dict[str, Any] = field(default_factory=dict)
    define_by_run: bool = False
    budget: Budget | None = None
    stopper: str | None = None
    stopper_kwargs: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    stopped_at: datetime | None = None

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None


@dataclass(frozen=True)
class StudySummary:
    """A study at a glance, computed by the storage from aggregates: trial counts by
    state (every state present, zeros included), the best COMPLETE value for the study's
    direction and its trial number, the time of the last change to any trial (start,
    heartbeat or finish; ``None`` without trials), and when the study was stopped."""

    study_id: int
    name: str
    direction: str
    searcher: str
    counts: dict[str, int]
    best_value: float | None = None
    best_number: int | None = None
    last_activity: datetime | None = None
    created_at: datetime | None = None
    owner: str | None = None
    stopped_at: datetime | None = None

    @property
    def n_trials(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class StudyNote:
    """A study's Markdown note, its version (``0``: never written; bumped by every save)
    and when it was last saved."""

    body: str = ""
    version: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ComparisonMember:
    """One study of a comparison: the searcher's label and the seed it ran with."""

    study_id: int
    study_name: str
    label: str
    seed: int


@dataclass(frozen=True)
class ComparisonRecord:
    """A comparison as stored: a named group of studies on one problem and budget.

    ``spec`` is JSON: ``{"searchers": [{"label", "searcher", "kwargs"}, ...], "seeds": [...]}``
    (what :func:`hpo.compare` needs to resume it); ``optimum`` and ``reference`` are the
    problem's, when known; ``members`` are ordered by label, then seed.
    """

    comparison_id: int
    name: str
    problem: str
    direction: str
    n_trials: int
    spec: dict[str, Any] = field(default_factory=dict)
    optimum: float | None = None
    reference: float | None = None
    created_at: datetime | None = None
    members: tuple[ComparisonMember, ...] = ()


@dataclass(frozen=True)
class SearcherState:
    """A study's saved searcher state and its version (``0``: never saved)."""

    state: dict[str, Any] | None
    version: int


@dataclass(frozen=True)
class TrialBatch:
    """Trials changed after a cursor, and the cursor to pass next time."""

    trials: list[FrozenTrial]
    cursor: int


class Storage(ABC):
    """Where studies and trials live. See the module docstring for the contract."""

    #: whether processes using this storage drive its studies themselves; ``False`` for a
    #: storage whose server drives them (the study then holds the server's stand-in driver)
    drives_studies: ClassVar[bool] = True

    # --- studies ---------------------------------------------------------------------
    @abstractmethod
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
        """Create a study; :class:`~hpo.exceptions.DuplicateStudyError` if the name exists.

        ``space=None`` makes a define-by-run study (stored with an empty space)."""

    @abstractmethod
    def get_study(self, name: str) -> StudyRecord:
        """The study called ``name``; :class:`~hpo.exceptions.StudyNotFoundError` if none."""

    @abstractmethod
    def get_study_by_id(self, study_id: int) -> StudyRecord:
        """The study with that id; :class:`~hpo.exceptions.StudyNotFoundError` if none."""

    @abstractmethod
    def list_studies(self) -> list[StudyRecord]:
        """All studies, oldest first."""

    @abstractmethod
    def delete_study(self, name: str) -> None:
        """Remove a study and its trials."""

    @abstractmethod
    def set_study_owner(self, study_id: int, owner: str | None) -> None:
        """Record who drives the study (``None``: in-process drivers)."""

    @abstractmethod
    def study_summaries(self, study_ids: Iterable[int] | None = None) -> list[StudySummary]:
        """Summaries of the given studies (all when ``None``), oldest first; unknown ids
        are skipped. Computed from aggregates, never by reading every trial."""

    @abstractmethod
    def set_study_space(self, study_id: int, space: Space) -> None:
        """Replace the space of a define-by-run study (it grows as parameters appear)."""

    @abstractmethod
    def save_searcher_state(
        self, study_id: int, state: dict[str, Any], *, expected_version: int | None = None
    ) -> int:
        """Persist the searcher's JSON state (only what trials cannot rebuild) and return
        its new version. With ``expected_version``, save only if that is the stored
        version (else :class:`SearcherStateConflict`, nothing changed)."""

    @abstractmethod
    def load_searcher_state(self, study_id: int) -> SearcherState:
        """The saved searcher state and its version, read together."""

    #: whether :meth:`study_lock` excludes other processes using the same database too
    study_lock_is_shared: bool = False

    @contextlib.contextmanager
    def study_lock(self, study_id: int) -> Iterator[None]:
        """Hold the study's lock (see the module docstring). This default is an in-process
        lock per study and storage object; backends shared between processes override it."""
        with _LOCKS_GUARD:
            locks: dict[int, threading.Lock] = self.__dict__.setdefault("_hpo_study_locks", {})
            lock = locks.setdefault(int(study_id), threading.Lock())
        with lock:
            yield

    @abstractmethod
    def count_trials(self, study_id: int, states: Iterable[TrialState] | None = None) -> int:
        """How many trials the study has (in ``states``, when given)."""

    # --- trials ----------------------------------------------------------------------
    @abstractmethod
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
        """Add a trial with the next number; RUNNING trials get their start time now, and
        their first heartbeat when ``heartbeat`` is true. ``suggestion_id`` and
        ``searcher_info`` (JSON) record the searcher's ask it evaluates; ``worker_id`` the
        worker that asked for it; ``user_attrs`` are written with the trial, atomically."""

    @abstractmethod
    def pop_waiting_trial(
        self, study_id: int, *, heartbeat: bool = False, worker_id: str | None = None
    ) -> FrozenTrial | None:
        """Atomically turn the oldest WAITING trial into RUNNING and return it (with its
        first heartbeat when ``heartbeat`` is true, and ``worker_id`` recorded)."""

    @abstractmethod
    def worker_trials(self, study_id: int, worker_id: str) -> list[FrozenTrial]:
        """The RUNNING trials asked for by ``worker_id``, in number order."""

    @abstractmethod
    def set_trial_param(self, study_id: int, number: int, name: str, value: Any) -> None:
        """Add a define-by-run parameter value to a running trial."""

    @abstractmethod
    def report(self, study_id: int, number: int, step: int, value: float) -> None:
        """Store an intermediate value (a later report at the same step replaces it)."""

    @abstractmethod
    def set_trial_user_attr(self, study_id: int, number: int, key: str, value: Any) -> None:
        """Attach a JSON-serializable attribute to a trial."""

    @abstractmethod
    def heartbeat(self, study_id: int, number: int) -> None:
        """Record that a running trial's worker is alive."""

    @abstractmethod
    def heartbeat_trials(self, study_id: int, numbers: Iterable[int]) -> list[int]:
        """Beat several running trials in one call (one transaction in SQL); returns the
        numbers beaten. Finished or unknown numbers are skipped, not errors: a batch may
        race with trials finishing."""

    @abstractmethod
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
        """Move a RUNNING (or WAITING) trial to a finished state, once."""

    @abstractmethod
    def get_trial(self, study_id: int, number: int) -> FrozenTrial:
        """One trial; :class:`~hpo.exceptions.TrialNotFoundError` if none."""

    @abstractmethod
    def get_trials(
        self,
        study_id: int,
        *,
        since: int = 0,
        states: Iterable[TrialState] | None = None,
    ) -> TrialBatch:
        """Trials changed after ``since`` (all when 0), in number order, and the new cursor."""

    @abstractmethod
    def next_counter(self, study_id: int, key: str) -> int:
        """Atomically return ``0, 1, 2, ...`` for ``(study, key)``, never the same twice."""

    def fail_stale_trials(self, study_id: int, *, older_than: datetime, error: str) -> list[int]:
        """Fail RUNNING trials whose last heartbeat is before ``older_than``; return their
        numbers. Safe to race: each trial is failed by at most one caller."""
        stale = [
            t.number
            for t in self.get_trials(study_id, states=[TrialState.RUNNING]).trials
            if t.heartbeat is not None and t.heartbeat < older_than
        ]
        failed = []
        for number in stale:
            try:
                self.finish_trial(study_id, number, TrialState.FAILED, error=error)
            except TrialFinishedError:
                continue
            failed.append(number)
        return failed

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        """Set one JSON-serializable user attribute of a study (``Study.set_user_attr``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot set study attributes")

    # --- control and notes (the dashboard) ----------------------------------------------
    def set_study_stopped(self, study_id: int, stopped: bool) -> datetime | None:
        """Stop the study (``True``: no new trial opens; the first stop's time is kept) or
        resume it (``False``); returns its ``stopped_at``. StudyNotFoundError if none."""
        raise NotImplementedError(f"{type(self).__name__} cannot stop studies")

    def is_study_stopped(self, study_id: int) -> bool:
        """Whether the study is stopped (what a driver checks before opening trials)."""
        return self.get_study_by_id(study_id).stopped_at is not None

    def get_study_note(self, study_id: int) -> StudyNote:
        """The study's note (empty, version 0, when never written)."""
        raise NotImplementedError(f"{type(self).__name__} cannot keep study notes")

    def set_study_note(
        self, study_id: int, body: str, *, expected_version: int | None = None
    ) -> StudyNote:
        """Replace the study's note (at most :data:`MAX_NOTE_CHARS` characters) and return
        it with its new version; with ``expected_version``, only if that is the stored
        version (else :class:`StudyNoteConflict`, nothing changed)."""
        raise NotImplementedError(f"{type(self).__name__} cannot keep study notes")

    def add_trial(self, study_id: int, trial: FrozenTrial) -> FrozenTrial:
        """Store a finished trial as given (``Study.add_trial``, imports): its state,
        value, metrics, intermediate values, user attributes, error and *its own* start
        and completion times, under the next number (``trial.number`` is ignored), in one
        change. Returns the stored trial."""
        raise NotImplementedError(f"{type(self).__name__} cannot add finished trials")

    # --- comparisons -------------------------------------------------------------------
    @abstractmethod
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
        """Create an empty comparison; :class:`~hpo.exceptions.DuplicateComparisonError`
        if the name exists."""

    @abstractmethod
    def add_comparison_study(
        self, comparison_id: int, study_id: int, *, label: str, seed: int
    ) -> None:
        """Make a study a member of a comparison. ComparisonNotFoundError /
        StudyNotFoundError when either is missing; DuplicateComparisonError when the
        comparison already has a study for ``(label, seed)`` (or this study)."""

    @abstractmethod
    def get_comparison(self, name: str) -> ComparisonRecord:
        """The comparison called ``name`` with its members;
        :class:`~hpo.exceptions.ComparisonNotFoundError` if none."""

    @abstractmethod
    def list_comparisons(self) -> list[ComparisonRecord]:
        """All comparisons with their members, oldest first."""

    @abstractmethod
    def delete_comparison(self, name: str) -> None:
        """Remove a comparison and its links to studies (the studies stay);
        :class:`~hpo.exceptions.ComparisonNotFoundError` if none."""

    # --- lifecycle ---------------------------------------------------------------------
    def enqueue_trial(
        self, study_id: int, params: dict[str, Any], *, user_attrs: dict[str, Any] | None = None
    ) -> FrozenTrial:
        """Add a WAITING trial holding ``params`` (and ``user_attrs``, in the same write), to
        be evaluated before new suggestions."""
        return self.create_trial(
            study_id, params=params, state=TrialState.WAITING, user_attrs=user_attrs
        )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the storage must not be used afterwards."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
