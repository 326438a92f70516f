"""The storage conformance suite: the whole contract of :mod:`hpo.storage.base`, as tests.

A backend proves itself by subclassing :class:`StorageConformance` in a test module and
providing a ``storage_factory`` fixture: a callable that opens a handle on one fresh,
shared backend each time it is called (several handles on one database stand in for
several processes). :func:`open_storages` makes one from a URL::

    import pytest
    from hpo.testing.storage_conformance import StorageConformance, open_storages

    class TestMyStorage(StorageConformance):
        @pytest.fixture
        def storage_factory(self):
            with open_storages("sqlite:///test.db") as factory:
                yield factory

The class name does not start with ``Test``, so importing it collects nothing by itself.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hpo.budget import Budget
from hpo.exceptions import (
    ComparisonNotFoundError,
    DuplicateComparisonError,
    DuplicateStudyError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
)
from hpo.space import Categorical, Float, Int, Space
from hpo.storage import Storage, StudyRecord, StudySummary, get_storage
from hpo.storage.base import MAX_NOTE_CHARS, SearcherStateConflict, StudyNote, StudyNoteConflict
from hpo.trial import FrozenTrial, TrialState

StorageFactory = Callable[[], Storage]

#: the cases a server's storage (:class:`hpo.storage.http.HTTPStorage`) passes: reads and
#: creates; raw trial writes, counters, owners and searcher states belong to the server
REMOTE_CASES: frozenset[str] = frozenset(
    {
        "test_enqueued_trials_read_incrementally",
        "test_summary_and_records_of_a_plain_study",
        "test_duplicate_name_is_refused",
        "test_invalid_direction_is_refused",
        "test_list_studies_oldest_first",
        "test_comparison_round_trip",
        "test_comparison_seen_by_another_handle",
        "test_comparison_without_optimum",
        "test_deleting_a_study_leaves_its_comparison",
        "test_duplicate_comparison_member_is_refused",
        "test_duplicate_comparison_name_is_refused",
        "test_list_comparisons_oldest_first_with_members",
        "test_missing_comparison",
    }
)

N_THREADS = 4
PER_THREAD = 25
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)


@contextlib.contextmanager
def open_storages(url: str | None) -> Iterator[StorageFactory]:
    """A factory of handles on the backend at ``url``, all closed on exit.

    ``None`` (in memory) has no second handle: the factory returns the same storage."""
    opened: list[Storage] = []

    def factory() -> Storage:
        if url is None and opened:
            return opened[0]
        storage = get_storage(url)
        opened.append(storage)
        return storage

    try:
        yield factory
    finally:
        for storage in opened:
            storage.close()


def only_cases(cases: frozenset[str]) -> Callable[[type], type]:
    """A class decorator keeping only the test methods named in ``cases`` (for backends
    that offer part of the contract, e.g. the HTTP storage: :data:`REMOTE_CASES`)."""

    def restrict(cls: type) -> type:
        for name in dir(cls):
            if name.startswith("test_") and name not in cases:
                setattr(cls, name, None)  # not callable: pytest does not collect it
        return cls

    return restrict


def rich_space() -> Space:
    """A space using every parameter type and option (for round trips)."""
    return Space(
        {
            "kernel": Categorical(["rbf", "linear", None, True, 3]),
            "C": Float(1e-3, 1e3, log=True),
            "gamma": Float(0.0, 1.0, step=0.25, when={"kernel": "rbf"}),
            "layers": Int(1, 64, log=True),
            "width": Int(2, 10, step=2, when={"kernel": ["rbf", "linear"]}),
        }
    )


#: JSON values that must survive storage exactly (types included)
JSON_VALUES: dict[str, Any] = {
    "unicode": "héllo wörld ✓ 日本語",
    "nested": {"a": [1, 2.5, {"b": None, "c": [True, False]}], "d": {}},
    "none": None,
    "true": True,
    "false": False,
    "int": 7,
    "float": 0.1,
    "big": 2**53,
    "list": [],
}


def _run_threads(target: Callable[[int], None], n: int = N_THREADS) -> None:
    """Run ``target(i)`` in ``n`` threads started together; re-raise the first error."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _aware_utc(value: datetime | None) -> bool:
    return value is not None and value.utcoffset() == timedelta(0)


class StorageConformance:
    """Every behaviour :class:`~hpo.storage.base.Storage` promises. Subclass it and
    provide the ``storage_factory`` fixture (see the module docstring)."""

    @pytest.fixture
    def storage_factory(self) -> StorageFactory:
        raise NotImplementedError(
            "subclasses of StorageConformance must define a `storage_factory` fixture"
        )

    @pytest.fixture
    def storage(self, storage_factory: StorageFactory) -> Storage:
        return storage_factory()

    @pytest.fixture
    def study(self, storage: Storage) -> StudyRecord:
        return storage.create_study(
            "study", direction="minimize", space=rich_space(), searcher="random"
        )

    # --- studies -----------------------------------------------------------------------
    def test_study_round_trip(self, storage: Storage) -> None:
        space = rich_space()
        created = storage.create_study(
            "svm",
            direction="maximize",
            space=space,
            searcher="grid",
            searcher_kwargs={"resolution": 5, "nested": {"a": [1, None]}},
            seed=123,
            metric="accuracy",
            user_attrs={"owner": "ana"},
        )
        for got in (storage.get_study("svm"), storage.get_study_by_id(created.study_id)):
            assert got == created
            assert got.space == space and list(got.space) == list(space)
            assert got.direction == "maximize" and got.searcher == "grid"
            assert got.searcher_kwargs == {"resolution": 5, "nested": {"a": [1, None]}}
            assert (got.seed, got.metric, got.user_attrs) == (123, "accuracy", {"owner": "ana"})
            assert got.searcher_state is None and not got.define_by_run
            assert _aware_utc(got.created_at)

    def test_define_by_run_study_space_grows(self, storage: Storage) -> None:
        record = storage.create_study("dbr", direction="minimize", space=None, searcher="random")
        assert record.define_by_run and len(record.space) == 0
        grown = Space({"x": Float(0, 1)}).with_param("n", Int(1, 5))
        storage.set_study_space(record.study_id, grown)
        again = storage.get_study("dbr")
        assert again.space == grown and again.define_by_run

    def test_duplicate_name_is_refused(self, storage: Storage, study: StudyRecord) -> None:
        with pytest.raises(DuplicateStudyError, match="study"):
            storage.create_study("study", direction="maximize", space=None, searcher="grid")
        assert storage.get_study("study") == study
        assert len(storage.list_studies()) == 1

    def test_invalid_direction_is_refused(self, storage: Storage) -> None:
        with pytest.raises(ValueError, match="direction"):
            storage.create_study("s", direction="up", space=None, searcher="random")
        assert storage.list_studies() == []

    def test_missing_study(self, storage: Storage) -> None:
        missing = 987_654
        calls: list[Callable[[], object]] = [
            lambda: storage.get_study("nope"),
            lambda: storage.get_study_by_id(missing),
            lambda: storage.delete_study("nope"),
            lambda: storage.set_study_space(missing, Space()),
            lambda: storage.save_searcher_state(missing, {"a": 1}),
            lambda: storage.count_trials(missing),
            lambda: storage.create_trial(missing, params={}),
            lambda: storage.get_trial(missing, 0),
            lambda: storage.get_trials(missing),
            lambda: storage.next_counter(missing, "k"),
            lambda: storage.set_study_owner(missing, "server"),
            lambda: storage.heartbeat_trials(missing, [0]),
            lambda: storage.heartbeat_trials(missing, []),
            lambda: storage.load_searcher_state(missing),
            lambda: storage.worker_trials(missing, "w"),
        ]
        for call in calls:
            with pytest.raises(StudyNotFoundError):
                call()
        assert storage.study_summaries([missing]) == []

    def test_list_studies_oldest_first(self, storage: Storage) -> None:
        for name in ("b", "a", "c"):
            storage.create_study(name, direction="minimize", space=None, searcher="random")
        assert [s.name for s in storage.list_studies()] == ["b", "a", "c"]

    def test_delete_study_removes_its_trials_only(self, storage: Storage) -> None:
        gone = storage.create_study("gone", direction="minimize", space=None, searcher="random")
        kept = storage.create_study("kept", direction="minimize", space=None, searcher="random")
        for record in (gone, kept):
            storage.create_trial(record.study_id, params={"x": 1})
            storage.report(record.study_id, 0, 0, 1.0)
            storage.next_counter(record.study_id, "k")
        storage.delete_study("gone")
        with pytest.raises(StudyNotFoundError):
            storage.get_study("gone")
        with pytest.raises(StudyNotFoundError):
            storage.get_trials(gone.study_id)
        assert [s.name for s in storage.list_studies()] == ["kept"]
        assert storage.get_trial(kept.study_id, 0).intermediate_values == {0: 1.0}
        assert storage.next_counter(kept.study_id, "k") == 1
        again = storage.create_study("gone", direction="minimize", space=None, searcher="random")
        assert storage.count_trials(again.study_id) == 0
        assert storage.next_counter(again.study_id, "k") == 0

    def test_searcher_state_round_trip(self, storage: Storage, study: StudyRecord) -> None:
        state = {"version": 1, "counters": {"draw": 3}, "model": [[0.5, None], {"ü": True}]}
        storage.save_searcher_state(study.study_id, state)
        got = storage.get_study_by_id(study.study_id).searcher_state
        assert got == state
        assert got is not state
        state["version"] = 99  # the caller's dict is not the stored one
        assert storage.get_study("study").searcher_state == {**state, "version": 1}
        storage.save_searcher_state(study.study_id, {"version": 2})
        assert storage.get_study("study").searcher_state == {"version": 2}

    def test_fidelity_settings_and_owner_round_trip(self, storage: Storage) -> None:
        kwargs = {"eta": 3, "grace": 2.5, "nested": {"a": [1, None, True]}}
        created = storage.create_study(
            "mf",
            direction="minimize",
            space=rich_space(),
            searcher="random",
            budget=Budget("epoch", 1, 50),
            stopper="asha",
            stopper_kwargs=kwargs,
            owner="server-1",
        )
        fractional = storage.create_study(
            "frac",
            direction="maximize",
            space=None,
            searcher="random",
            budget=Budget("fraction", 0.125, 1.0),
        )
        kwargs["eta"] = 99  # the caller's dict is not the stored one
        plain = storage.create_study("plain", direction="minimize", space=None, searcher="random")
        for got in (storage.get_study("mf"), storage.get_study_by_id(created.study_id)):
            assert got == created
            assert got.budget == Budget("epoch", 1, 50)
            assert got.budget is not None and got.budget.integral  # ints stay ints
            assert [type(v) for v in (got.budget.min, got.budget.max)] == [int, int]
            assert got.stopper == "asha" and got.owner == "server-1"
            assert got.stopper_kwargs == {"eta": 3, "grace": 2.5, "nested": {"a": [1, None, True]}}
            assert got.user_attrs == {}  # the settings are not user attributes
        frac = storage.get_study("frac")
        assert frac == fractional and frac.budget == Budget("fraction", 0.125, 1.0)
        assert frac.budget is not None and not frac.budget.integral
        assert (frac.stopper, frac.stopper_kwargs, frac.owner) == (None, {}, None)
        got = storage.get_study("plain")
        assert got == plain
        assert (got.budget, got.stopper, got.stopper_kwargs, got.owner) == (None, None, {}, None)
        assert storage.list_studies() == [created, fractional, plain]

    def test_set_study_owner(self, storage: Storage, study: StudyRecord) -> None:
        other = storage.create_study("other", direction="minimize", space=None, searcher="random")
        assert study.owner is None
        storage.set_study_owner(study.study_id, "server-a:8080")
        got = storage.get_study("study")
        assert got.owner == "server-a:8080"
        assert got == StudyRecord(**{**study.__dict__, "owner": "server-a:8080"})
        assert storage.get_study("other") == other  # only that study
        storage.set_study_owner(study.study_id, "server-b")
        assert storage.get_study_by_id(study.study_id).owner == "server-b"
        storage.set_study_owner(study.study_id, None)  # back to in-process drivers
        assert storage.get_study("study") == study

    # --- summaries ---------------------------------------------------------------------
    @staticmethod
    def _summary(storage: Storage, study_id: int) -> StudySummary:
        (summary,) = storage.study_summaries([study_id])
        return summary

    def test_summary_of_an_empty_study(self, storage: Storage) -> None:
        record = storage.create_study(
            "empty", direction="maximize", space=None, searcher="grid", owner="srv"
        )
        assert storage.study_summaries() == [
            StudySummary(
                study_id=record.study_id,
                name="empty",
                direction="maximize",
                searcher="grid",
                counts={"WAITING": 0, "RUNNING": 0, "COMPLETE": 0, "PRUNED": 0, "FAILED": 0},
                best_value=None,
                best_number=None,
                last_activity=None,
                created_at=record.created_at,
                owner="srv",
            )
        ]
        assert storage.study_summaries()[0].n_trials == 0

    def test_trials_are_created_with_their_attributes_in_one_write(
        self, storage: Storage, study: StudyRecord
    ) -> None:
        sid = study.study_id
        queued = storage.enqueue_trial(sid, {"x": 1}, user_attrs={"retry_of": 3, "tag": ["a"]})
        assert queued.user_attrs == {"retry_of": 3, "tag": ["a"]}
        running = storage.create_trial(sid, params={}, user_attrs={"k": {"v": None}})
        assert storage.get_trial(sid, running.number).user_attrs == {"k": {"v": None}}
        started = storage.pop_waiting_trial(sid)
        assert started is not None and started.number == queued.number
        assert started.user_attrs == {"retry_of": 3, "tag": ["a"]}
        assert storage.create_trial(sid, params={}).user_attrs == {}

    def test_summary_counts_every_state(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        for _ in range(6):
            storage.create_trial(sid, params={})
        storage.enqueue_trial(sid, {})
        storage.enqueue_trial(sid, {})
        storage.finish_trial(sid, 0, TrialState.COMPLETE, value=1.0)
        storage.finish_trial(sid, 1, TrialState.PRUNED, value=0.5)
        storage.finish_trial(sid, 2, TrialState.FAILED, error="boom")
        storage.finish_trial(sid, 3, TrialState.FAILED, error="boom")
        storage.pop_waiting_trial(sid)  # 6 runs
        summary = self._summary(storage, sid)
        assert summary.counts == {
            "WAITING": 1,
            "RUNNING": 3,
            "COMPLETE": 1,
            "PRUNED": 1,
            "FAILED": 2,
        }
        assert list(summary.counts) == [s.value for s in TrialState]
        assert summary.n_trials == 8 == storage.count_trials(sid)
        assert (summary.study_id, summary.name, summary.direction, summary.searcher) == (
            sid,
            "study",
            "minimize",
            "random",
        )
        assert (summary.created_at, summary.owner) == (study.created_at, None)

    @pytest.mark.parametrize(
        ("direction", "finishes", "best"),
        [
            # COMPLETE trials as (number, value), in the order they finish; the best
            # (number, value): ties go to the earliest number, not the first to finish
            ("minimize", [(0, 2.0), (3, -1.5), (2, -1.5), (1, 0.0)], (2, -1.5)),
            ("maximize", [(0, 2.0), (3, 7.0), (2, 7.0), (1, 0.0)], (2, 7.0)),
            ("minimize", [(1, 0.0), (0, 0.0), (2, 0.5)], (0, 0.0)),
            ("maximize", [(3, -4.0), (2, -8.0)], (3, -4.0)),
        ],
    )
    def test_summary_best_value_for_the_direction(
        self,
        storage: Storage,
        direction: str,
        finishes: list[tuple[int, float]],
        best: tuple[int, float],
    ) -> None:
        record = storage.create_study("best", direction=direction, space=None, searcher="random")
        sid = record.study_id
        for _ in range(6):
            storage.create_trial(sid, params={})
        # a better value that does not count: trial 4 is PRUNED (5 stays RUNNING)
        storage.finish_trial(
            sid, 4, TrialState.PRUNED, value=-1e6 if direction == "minimize" else 1e6
        )
        for number, value in finishes:
            storage.finish_trial(sid, number, TrialState.COMPLETE, value=value)
        summary = self._summary(storage, sid)
        assert (summary.best_number, summary.best_value) == best
        assert isinstance(summary.best_value, float)

    def test_summary_best_ignores_other_states(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        for _ in range(3):
            storage.create_trial(sid, params={})
        storage.finish_trial(sid, 0, TrialState.PRUNED, value=-5.0)
        storage.finish_trial(sid, 1, TrialState.FAILED)
        summary = self._summary(storage, sid)
        assert (summary.best_value, summary.best_number) == (None, None)
        storage.finish_trial(sid, 2, TrialState.COMPLETE, value=3)
        summary = self._summary(storage, sid)
        assert (summary.best_value, summary.best_number) == (3.0, 2)

    def test_summary_last_activity_moves_forward(
        self, storage: Storage, study: StudyRecord
    ) -> None:
        sid = study.study_id

        def last_activity() -> datetime | None:
            return self._summary(storage, sid).last_activity

        started = storage.create_trial(sid, params={})
        assert last_activity() == started.datetime_start
        assert _aware_utc(last_activity())
        storage.enqueue_trial(sid, {})  # not started: no activity
        storage.report(sid, 0, 0, 1.0)  # reports do not beat
        storage.set_trial_user_attr(sid, 0, "k", "v")
        assert last_activity() == started.datetime_start
        storage.heartbeat(sid, 0)
        beat = storage.get_trial(sid, 0).heartbeat
        assert beat is not None and last_activity() == beat
        popped = storage.pop_waiting_trial(sid)
        assert popped is not None and last_activity() == popped.datetime_start
        storage.heartbeat_trials(sid, [0, 1])
        beats = {storage.get_trial(sid, n).heartbeat for n in (0, 1)}
        assert len(beats) == 1 and last_activity() == beats.pop()
        done = storage.finish_trial(sid, 1, TrialState.COMPLETE, value=1.0)
        assert done.datetime_complete is not None and last_activity() == done.datetime_complete
        stamps = [
            stamp
            for t in storage.get_trials(sid).trials
            for stamp in (t.datetime_start, t.heartbeat, t.datetime_complete)
            if stamp is not None
        ]
        assert last_activity() == max(stamps)

    def test_summaries_of_several_studies(self, storage: Storage) -> None:
        ids = []
        for name, direction in (("b", "maximize"), ("a", "minimize"), ("c", "minimize")):
            ids.append(
                storage.create_study(name, direction=direction, space=None, searcher="random")
            )
        b, a, c = (r.study_id for r in ids)
        for i, sid in enumerate((b, a, c)):
            for n in range(3 - i):
                storage.create_trial(sid, params={})
                storage.finish_trial(sid, n, TrialState.COMPLETE, value=float(n))
        storage.set_study_owner(a, "srv")
        everything = storage.study_summaries()
        assert [s.name for s in everything] == ["b", "a", "c"]  # oldest first
        assert [(s.n_trials, s.best_value, s.best_number) for s in everything] == [
            (3, 2.0, 2),  # maximize
            (2, 0.0, 0),
            (1, 0.0, 0),
        ]
        assert [s.owner for s in everything] == [None, "srv", None]
        assert [s.name for s in storage.study_summaries([c, 987_654, b])] == ["b", "c"]
        assert storage.study_summaries([c, c]) == [everything[2]]
        assert storage.study_summaries([]) == []
        assert storage.study_summaries(iter([a])) == [everything[1]]
        storage.delete_study("a")
        assert [s.name for s in storage.study_summaries()] == ["b", "c"]

    # --- creating trials -----------------------------------------------------------------
    def test_create_trial_fields(self, storage: Storage, study: StudyRecord) -> None:
        before = datetime.now(UTC)
        params = {"kernel": "rbf", "C": 1.5, "gamma": 0.25, "layers": 3, "width": 4}
        first = storage.create_trial(
            study.study_id,
            params=params,
            budget=9.0,
            parent=None,
            searcher_time=0.25,
            heartbeat=True,
        )
        second = storage.create_trial(study.study_id, params={"C": 2.0}, parent=0)
        assert (first.number, second.number) == (0, 1)
        for trial in (first, storage.get_trial(study.study_id, 0)):
            assert trial.state is TrialState.RUNNING and trial.params == params
            assert list(trial.params) == list(params)
            assert (trial.budget, trial.parent, trial.searcher_time) == (9.0, None, 0.25)
            assert trial.value is None and trial.metrics == {} and trial.user_attrs == {}
            assert trial.intermediate_values == {} and trial.error is None
            assert _aware_utc(trial.datetime_start) and _aware_utc(trial.heartbeat)
            assert trial.datetime_start is not None and trial.datetime_start >= before
            assert trial.datetime_complete is None
        assert storage.get_trial(study.study_id, 1).parent == 0
        assert second.heartbeat is None  # no heartbeat unless asked: never judged stale

    def test_suggestion_round_trip(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        info = {"action": "exploit", "donor": 3, "nested": {"a": [1, None, True]}, "ü": 0.5}
        created = storage.create_trial(
            sid, params={"C": 1.0}, suggestion_id="ab12", searcher_info=info
        )
        info["donor"] = 99  # the caller's dict is not the stored one
        expected = {"action": "exploit", "donor": 3, "nested": {"a": [1, None, True]}, "ü": 0.5}
        queued = storage.create_trial(
            sid,
            params={"C": 2.0},
            state=TrialState.WAITING,
            suggestion_id="cd34",
            searcher_info={"member": "tpe"},
        )
        plain = storage.enqueue_trial(sid, {"C": 3.0})
        cursor = storage.get_trials(sid).cursor
        popped = storage.pop_waiting_trial(sid, heartbeat=True)
        assert popped is not None and popped.number == 1
        done = storage.finish_trial(sid, 0, TrialState.COMPLETE, value=1.0)
        since = storage.get_trials(sid, since=cursor).trials
        assert [t.number for t in since] == [0, 1]
        for t in (created, storage.get_trial(sid, 0), storage.get_trials(sid).trials[0]):
            assert (t.suggestion_id, t.searcher_info) == ("ab12", expected)
        for t in (done, since[0]):
            assert (t.suggestion_id, t.searcher_info) == ("ab12", expected)
        for t in (queued, popped, since[1], storage.get_trial(sid, 1)):
            assert (t.suggestion_id, t.searcher_info) == ("cd34", {"member": "tpe"})
        for t in (plain, storage.get_trial(sid, 2), storage.get_trials(sid).trials[2]):
            assert (t.suggestion_id, t.searcher_info) == (None, {})
        assert storage.get_trials(sid, states=[TrialState.WAITING]).trials[0].suggestion_id is None
        created.searcher_info["action"] = "changed"  # a snapshot: the store keeps its own
        storage.get_trial(sid, 0).searcher_info["action"] = "changed"
        assert storage.get_trial(sid, 0).searcher_info == expected

    def test_waiting_trial_has_no_start(self, storage: Storage, study: StudyRecord) -> None:
        trial = storage.enqueue_trial(study.study_id, {"C": 1.0})
        for t in (trial, storage.get_trial(study.study_id, trial.number)):
            assert t.state is TrialState.WAITING and t.params == {"C": 1.0}
            assert t.datetime_start is None and t.heartbeat is None

    def test_create_trial_refuses_finished_state(
        self, storage: Storage, study: StudyRecord
    ) -> None:
        with pytest.raises(ValueError, match="RUNNING or WAITING"):
            storage.create_trial(study.study_id, params={}, state=TrialState.COMPLETE)
        assert storage.count_trials(study.study_id) == 0

    def test_numbers_dense_under_concurrency(
        self, storage_factory: StorageFactory, study: StudyRecord
    ) -> None:
        handles = [storage_factory() for _ in range(N_THREADS)]
        numbers: list[list[int]] = [[] for _ in range(N_THREADS)]

        def create(i: int) -> None:
            for _ in range(PER_THREAD):
                trial = handles[i].create_trial(study.study_id, params={"thread": i})
                numbers[i].append(trial.number)

        _run_threads(create)
        total = N_THREADS * PER_THREAD
        assert sorted(n for ns in numbers for n in ns) == list(range(total))
        assert all(ns == sorted(ns) for ns in numbers)  # each caller sees increasing numbers
        storage = handles[0]
        assert storage.count_trials(study.study_id) == total
        stored = storage.get_trials(study.study_id).trials
        assert [t.number for t in stored] == list(range(total))
        for i, ns in enumerate(numbers):
            assert all(stored[n].params == {"thread": i} for n in ns)

    # --- snapshots and immutability ---------------------------------------------------------
    def test_snapshots_unaffected_by_later_writes(
        self, storage: Storage, study: StudyRecord
    ) -> None:
        sid = study.study_id
        storage.create_trial(sid, params={"C": 1.0})
        snapshot = storage.get_trial(sid, 0)
        listed = storage.get_trials(sid).trials[0]
        storage.set_trial_param(sid, 0, "layers", 2)
        storage.report(sid, 0, 0, 0.5)
        storage.set_trial_user_attr(sid, 0, "k", "v")
        storage.finish_trial(sid, 0, TrialState.COMPLETE, value=1.0, metrics={"m": 2.0})
        for old in (snapshot, listed):
            assert old.state is TrialState.RUNNING and old.params == {"C": 1.0}
            assert old.intermediate_values == {} and old.user_attrs == {} and old.value is None
        again = storage.get_trial(sid, 0)
        assert again.params == {"C": 1.0, "layers": 2} and again.user_attrs == {"k": "v"}
        assert again.intermediate_values == {0: 0.5} and again.value == 1.0

    def test_changing_a_returned_trial_changes_nothing_stored(
        self, storage: Storage, study: StudyRecord
    ) -> None:
        sid = study.study_id
        created = storage.create_trial(sid, params={"C": 1.0, "layers": [8, 8]})
        storage.set_trial_user_attr(sid, 0, "note", {"tags": ["a"]})
        storage.report(sid, 0, 1, 0.5)
        for trial in (created, storage.get_trial(sid, 0), storage.get_trials(sid).trials[0]):
            trial.params["C"] = 99.0
            trial.params.setdefault("layers", []).append(16)
            trial.user_attrs.setdefault("note", {"tags": []})["tags"].append("z")
            trial.intermediate_values[2] = 0.1
        again = storage.get_trial(sid, 0)
        assert again.params == {"C": 1.0, "layers": [8, 8]}
        assert again.user_attrs == {"note": {"tags": ["a"]}}
        assert again.intermediate_values == {1: 0.5}

    @pytest.mark.parametrize("state", FINISHED, ids=[s.value for s in FINISHED])
    def test_finished_trials_are_immutable(
        self, storage: Storage, study: StudyRecord, state: TrialState
    ) -> None:
        sid = study.study_id
        storage.create_trial(sid, params={"C": 1.0})
        storage.report(sid, 0, 0, 3.0)
        value = None if state is TrialState.FAILED else 1.0
        done = storage.finish_trial(sid, 0, state, value=value, error="boom")
        changes: list[Callable[[], object]] = [
            lambda: storage.finish_trial(sid, 0, TrialState.COMPLETE, value=2.0),
            lambda: storage.report(sid, 0, 1, 2.0),
            lambda: storage.set_trial_param(sid, 0, "layers", 3),
            lambda: storage.set_trial_user_attr(sid, 0, "k", 1),
            lambda: storage.heartbeat(sid, 0),
        ]
        cursor = storage.get_trials(sid).cursor
        for change in changes:
            with pytest.raises(TrialFinishedError, match="finished"):
                change()
        assert storage.get_trial(sid, 0) == done
        assert storage.get_trials(sid, since=cursor).trials == []  # refused changes leave no trace

    def test_finish_trial_needs_a_finished_state(
        self, storage: Storage, study: StudyRecord
    ) -> None:
        storage.create_trial(study.study_id, params={})
        with pytest.raises(ValueError, match="COMPLETE, PRUNED or FAILED"):
            storage.finish_trial(study.study_id, 0, TrialState.RUNNING)
        assert storage.get_trial(study.study_id, 0).state is TrialState.RUNNING

    def test_missing_trial(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        storage.create_trial(sid, params={})
        calls: list[Callable[[], object]] = [
            lambda: storage.get_trial(sid, 1),
            lambda: storage.finish_trial(sid, 1, TrialState.COMPLETE, value=1.0),
            lambda: storage.report(sid, 1, 0, 1.0),
            lambda: storage.set_trial_param(sid, 1, "a", 1),
            lambda: storage.set_trial_user_attr(sid, 1, "a", 1),
            lambda: storage.heartbeat(sid, 1),
        ]
        for call in calls:
            with pytest.raises(TrialNotFoundError):
                call()
        assert storage.count_trials(sid) == 1

    def test_finish_trial_fields(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        for _ in range(3):
            storage.create_trial(sid, params={"C": 1.0})
        storage.report(sid, 1, 0, 4.0)
        complete = storage.finish_trial(
            sid, 0, TrialState.COMPLETE, value=0.5, metrics={"acc": 0.9, "nan": None}
        )
        pruned = storage.finish_trial(sid, 1, TrialState.PRUNED, value=4.0)
        failed = storage.finish_trial(sid, 2, TrialState.FAILED, error="Traceback: boom ✗")
        assert storage.get_trials(sid).trials == [complete, pruned, failed]
        assert complete.value == 0.5 and isinstance(complete.value, float)
        assert complete.metrics == {"acc": 0.9, "nan": None}
        assert pruned.state is TrialState.PRUNED and pruned.intermediate_values == {0: 4.0}
        assert failed.value is None and failed.error == "Traceback: boom ✗"
        for t in (complete, pruned, failed):
            assert _aware_utc(t.datetime_complete) and t.duration is not None
            assert t.duration >= 0

    def test_waiting_trial_can_be_finished(self, storage: Storage, study: StudyRecord) -> None:
        storage.enqueue_trial(study.study_id, {"C": 2.0})
        done = storage.finish_trial(study.study_id, 0, TrialState.FAILED, error="skipped")
        assert done.state is TrialState.FAILED and done.datetime_start is None
        assert storage.pop_waiting_trial(study.study_id) is None

    # --- changing running trials ------------------------------------------------------------
    def test_report_replaces_the_same_step(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        storage.create_trial(sid, params={})
        storage.report(sid, 0, 1, 0.5)
        storage.report(sid, 0, 0, 0.9)
        storage.report(sid, 0, 1, 0.25)
        storage.report(sid, 0, 10, 1)
        values = storage.get_trial(sid, 0).intermediate_values
        assert values == {0: 0.9, 1: 0.25, 10: 1.0}
        assert all(isinstance(k, int) and isinstance(v, float) for k, v in values.items())
        done = storage.finish_trial(sid, 0, TrialState.PRUNED, value=1.0)
        assert done.intermediate_values == values and done.last_step == 10

    def test_intermediate_values_stay_with_their_trial(
        self, storage: Storage, study: StudyRecord
    ) -> None:
        sid = study.study_id
        for n in range(6):
            storage.create_trial(sid, params={"n": n})
            for step in range(n):
                storage.report(sid, n, step, n + step / 10)
        for trial in storage.get_trials(sid).trials:
            n = trial.number
            assert trial.intermediate_values == {s: n + s / 10 for s in range(n)}

    def test_set_trial_param(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        storage.create_trial(sid, params={"a": 1})
        storage.set_trial_param(sid, 0, "b", "x")
        storage.set_trial_param(sid, 0, "c", 0.5)
        params = storage.get_trial(sid, 0).params
        assert params == {"a": 1, "b": "x", "c": 0.5} and list(params) == ["a", "b", "c"]

    def test_user_attrs(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        storage.create_trial(sid, params={})
        for key, value in JSON_VALUES.items():
            storage.set_trial_user_attr(sid, 0, key, value)
        storage.set_trial_user_attr(sid, 0, "int", 8)  # replaces
        expected = {**JSON_VALUES, "int": 8}
        assert storage.get_trial(sid, 0).user_attrs == expected
        done = storage.finish_trial(sid, 0, TrialState.COMPLETE, value=1.0)
        assert done.user_attrs == expected

    def test_heartbeat(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        first = storage.create_trial(sid, params={}, heartbeat=True)
        cursor = storage.get_trials(sid).cursor
        storage.heartbeat(sid, 0)
        batch = storage.get_trials(sid, since=cursor)
        assert [t.number for t in batch.trials] == [0] and batch.cursor > cursor
        beat = batch.trials[0].heartbeat
        assert _aware_utc(beat)
        assert beat is not None and first.heartbeat is not None and beat >= first.heartbeat
        storage.report(sid, 0, 1, 0.5)  # reports do not beat
        assert storage.get_trial(sid, 0).heartbeat == beat

    def test_heartbeat_trials(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        first = storage.create_trial(sid, params={}, heartbeat=True)  # 0
        storage.create_trial(sid, params={})  # 1: never beat yet
        storage.create_trial(sid, params={}, heartbeat=True)  # 2: finished
        done = storage.finish_trial(sid, 2, TrialState.COMPLETE, value=1.0)
        waiting = storage.enqueue_trial(sid, {})  # 3: not running
        storage.create_trial(sid, params={})  # 4
        cursor = storage.get_trials(sid).cursor
        before = datetime.now(UTC)
        beaten = storage.heartbeat_trials(sid, [4, 0, 2, 99, 1, 3, 0, -1])
        after = datetime.now(UTC)
        assert sorted(beaten) == [0, 1, 4]
        batch = storage.get_trials(sid, since=cursor)
        assert [t.number for t in batch.trials] == [0, 1, 4] and batch.cursor > cursor
        beats = {t.heartbeat for t in batch.trials}
        assert len(beats) == 1  # one beat for the batch
        beat = beats.pop()
        assert beat is not None and _aware_utc(beat) and before <= beat <= after
        assert first.heartbeat is not None and beat >= first.heartbeat
        for t in batch.trials:
            assert t == storage.get_trial(sid, t.number)
            assert t.state is TrialState.RUNNING
        assert storage.get_trial(sid, 2) == done  # finished: untouched
        assert storage.get_trial(sid, 3) == waiting  # waiting: untouched
        cursor = batch.cursor
        assert storage.heartbeat_trials(sid, [2, 3, 99]) == []
        assert storage.heartbeat_trials(sid, []) == []
        assert storage.get_trials(sid, since=cursor).trials == []  # nothing beaten, no trace
        assert sorted(storage.heartbeat_trials(sid, (n for n in (1,)))) == [1]
        assert [t.number for t in storage.get_trials(sid, since=cursor).trials] == [1]

    def test_fail_stale_trials(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        storage.create_trial(sid, params={"C": 0.0}, heartbeat=True)  # 0: goes stale
        storage.create_trial(sid, params={"C": 1.0})  # 1: never beats (driven by hand)
        storage.create_trial(sid, params={"C": 2.0}, heartbeat=True)  # 2: finished
        storage.finish_trial(sid, 2, TrialState.COMPLETE, value=1.0)
        time.sleep(0.02)
        cutoff = datetime.now(UTC)
        time.sleep(0.02)
        storage.create_trial(sid, params={"C": 3.0}, heartbeat=True)  # 3: beat after cutoff
        long_ago = cutoff - timedelta(hours=1)
        assert storage.fail_stale_trials(sid, older_than=long_ago, error="x") == []
        assert storage.fail_stale_trials(sid, older_than=cutoff, error="worker is gone") == [0]
        stale = storage.get_trial(sid, 0)
        assert stale.state is TrialState.FAILED and stale.error == "worker is gone"
        assert [storage.get_trial(sid, n).state for n in (1, 2, 3)] == [
            TrialState.RUNNING,
            TrialState.COMPLETE,
            TrialState.RUNNING,
        ]
        assert storage.fail_stale_trials(sid, older_than=cutoff, error="again") == []

    def test_json_values_preserved(self, storage: Storage) -> None:
        record = storage.create_study(
            "json ✓ 日本",
            direction="minimize",
            space=None,
            searcher="random",
            searcher_kwargs=JSON_VALUES,
            user_attrs=JSON_VALUES,
        )
        params = {"unicode": "ünï ✓", "none": None, "true": True, "int": 3, "float": 3.0}
        storage.create_trial(record.study_id, params=params)
        storage.set_trial_param(record.study_id, 0, "nested", JSON_VALUES["nested"])
        got = storage.get_study("json ✓ 日本")
        assert got.searcher_kwargs == JSON_VALUES and got.user_attrs == JSON_VALUES
        stored = storage.get_trial(record.study_id, 0).params
        assert stored == {**params, "nested": JSON_VALUES["nested"]}
        # bools stay bools and ints stay ints (1 == True == 1.0 in Python, so check types)
        assert [type(v) for v in stored.values()] == [str, type(None), bool, int, float, dict]
        assert type(got.user_attrs["big"]) is int and got.user_attrs["big"] == 2**53

    # --- incremental reads -------------------------------------------------------------------
    def test_get_trials_in_number_order(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        batch = storage.get_trials(sid)
        assert batch.trials == []
        for n in range(5):
            storage.create_trial(sid, params={"n": n})
        storage.finish_trial(sid, 3, TrialState.COMPLETE, value=1.0)  # changed last
        storage.report(sid, 1, 0, 1.0)
        batch = storage.get_trials(sid)
        assert [t.number for t in batch.trials] == [0, 1, 2, 3, 4]
        assert batch.cursor > 0

    def test_cursor_sees_every_kind_of_change(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        storage.create_trial(sid, params={})
        storage.create_trial(sid, params={})
        cursor = storage.get_trials(sid).cursor
        empty = storage.get_trials(sid, since=cursor)
        assert empty.trials == [] and empty.cursor == cursor
        changes: list[Callable[[], object]] = [
            lambda: storage.set_trial_param(sid, 1, "C", 1.0),
            lambda: storage.report(sid, 1, 0, 0.5),
            lambda: storage.set_trial_user_attr(sid, 1, "k", "v"),
            lambda: storage.heartbeat(sid, 1),
            lambda: storage.finish_trial(sid, 1, TrialState.COMPLETE, value=2.0),
        ]
        for change in changes:
            change()
            batch = storage.get_trials(sid, since=cursor)
            assert [t.number for t in batch.trials] == [1]
            assert batch.trials[0] == storage.get_trial(sid, 1)
            assert batch.cursor > cursor
            cursor = batch.cursor
        assert storage.get_trials(sid, since=cursor).trials == []
        storage.create_trial(sid, params={})
        assert [t.number for t in storage.get_trials(sid, since=cursor).trials] == [2]

    def test_running_trial_seen_again_when_complete(
        self, storage: Storage, study: StudyRecord
    ) -> None:
        sid = study.study_id
        storage.create_trial(sid, params={})
        first = storage.get_trials(sid)
        assert [t.state for t in first.trials] == [TrialState.RUNNING]
        storage.finish_trial(sid, 0, TrialState.COMPLETE, value=3.0)
        second = storage.get_trials(sid, since=first.cursor)
        assert [(t.number, t.state, t.value) for t in second.trials] == [
            (0, TrialState.COMPLETE, 3.0)
        ]

    def test_cursor_misses_nothing_under_concurrent_writers(
        self, storage_factory: StorageFactory, study: StudyRecord
    ) -> None:
        sid = study.study_id
        n_writers = N_THREADS - 1
        reader = storage_factory()
        writers = [storage_factory() for _ in range(n_writers)]
        running = [n_writers]
        lock = threading.Lock()
        done = threading.Event()
        seen: dict[int, FrozenTrial] = {}

        def write(storage: Storage, i: int) -> None:
            try:
                for _ in range(PER_THREAD // 2):
                    n = storage.create_trial(sid, params={"w": i}).number
                    storage.report(sid, n, 0, float(n))
                    storage.finish_trial(sid, n, TrialState.COMPLETE, value=float(n))
            finally:
                with lock:
                    running[0] -= 1
                    if running[0] == 0:
                        done.set()

        def read() -> None:
            cursor, polls = 0, 0
            while not done.is_set() or polls == 0:
                batch = reader.get_trials(sid, since=cursor)
                assert batch.cursor >= cursor
                seen.update((t.number, t) for t in batch.trials)
                cursor, polls = batch.cursor, polls + 1
            batch = reader.get_trials(sid, since=cursor)  # every writer has finished
            seen.update((t.number, t) for t in batch.trials)

        _run_threads(lambda i: read() if i == n_writers else write(writers[i], i))
        final = reader.get_trials(sid).trials
        assert len(final) == n_writers * (PER_THREAD // 2)
        assert sorted(seen) == [t.number for t in final]
        assert [seen[t.number] for t in final] == final  # the reader ended with every change
        assert all(t.state is TrialState.COMPLETE for t in final)

    def test_states_filter(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        for _ in range(5):
            storage.create_trial(sid, params={})
        storage.enqueue_trial(sid, {})
        storage.finish_trial(sid, 0, TrialState.COMPLETE, value=1.0)
        storage.finish_trial(sid, 2, TrialState.COMPLETE, value=2.0)
        storage.finish_trial(sid, 3, TrialState.FAILED)
        cursor = storage.get_trials(sid).cursor

        def numbers(*states: TrialState, since: int = 0) -> list[int]:
            return [t.number for t in storage.get_trials(sid, since=since, states=states).trials]

        assert numbers(TrialState.COMPLETE) == [0, 2]
        assert numbers(TrialState.COMPLETE, TrialState.FAILED) == [0, 2, 3]
        assert numbers(TrialState.RUNNING) == [1, 4]
        assert numbers(TrialState.WAITING) == [5]
        assert numbers(TrialState.PRUNED) == []
        storage.finish_trial(sid, 4, TrialState.COMPLETE, value=0.0)
        storage.report(sid, 1, 0, 1.0)
        assert numbers(TrialState.COMPLETE, since=cursor) == [4]
        batch = storage.get_trials(sid, since=cursor, states=[TrialState.PRUNED])
        assert batch.trials == [] and batch.cursor > cursor  # the cursor passes filtered changes

    def test_count_trials(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        assert storage.count_trials(sid) == 0
        for _ in range(4):
            storage.create_trial(sid, params={})
        storage.enqueue_trial(sid, {})
        storage.finish_trial(sid, 0, TrialState.COMPLETE, value=1.0)
        storage.finish_trial(sid, 1, TrialState.PRUNED)
        assert storage.count_trials(sid) == 5
        assert storage.count_trials(sid, [TrialState.COMPLETE]) == 1
        assert storage.count_trials(sid, [TrialState.COMPLETE, TrialState.PRUNED]) == 2
        assert storage.count_trials(sid, [TrialState.RUNNING]) == 2
        assert storage.count_trials(sid, [TrialState.WAITING]) == 1
        assert storage.count_trials(sid, []) == 0

    # --- counters and the waiting queue ----------------------------------------------------
    def test_next_counter_sequences(self, storage: Storage, study: StudyRecord) -> None:
        other = storage.create_study("other", direction="minimize", space=None, searcher="grid")
        sid = study.study_id
        assert [storage.next_counter(sid, "a") for _ in range(3)] == [0, 1, 2]
        assert storage.next_counter(sid, "b") == 0
        assert storage.next_counter(other.study_id, "a") == 0
        assert storage.next_counter(sid, "a") == 3

    # --- reads and writes any backend offers (the HTTP storage included) -----------------
    @staticmethod
    def _plain_study(storage: Storage, name: str = "plain") -> StudyRecord:
        space = Space({"x": Float(0.0, 1.0), "k": Categorical(["a", "b"])})
        return storage.create_study(name, direction="minimize", space=space, searcher="random")

    def test_enqueued_trials_read_incrementally(self, storage: Storage) -> None:
        sid = self._plain_study(storage).study_id
        cursor = storage.get_trials(sid).cursor
        for i in range(3):
            trial = storage.enqueue_trial(sid, {"x": i / 4, "k": "a"})
            assert (trial.number, trial.state) == (i, TrialState.WAITING)
        batch = storage.get_trials(sid, since=cursor)
        assert [t.number for t in batch.trials] == [0, 1, 2]
        storage.report(sid, 1, 2, 0.5)
        storage.set_trial_user_attr(sid, 1, "note", {"a": [1, None]})
        done = storage.finish_trial(sid, 1, TrialState.COMPLETE, value=0.25, metrics={"m": 1.0})
        assert (done.state, done.value, done.metrics) == (TrialState.COMPLETE, 0.25, {"m": 1.0})
        later = storage.get_trials(sid, since=batch.cursor)
        assert [t.number for t in later.trials] == [1] and later.cursor > batch.cursor
        assert later.trials[0] == storage.get_trial(sid, 1) == done
        assert done.intermediate_values == {2: 0.5} and done.user_attrs == {
            "note": {"a": [1, None]}
        }
        assert storage.get_trials(sid, since=later.cursor).trials == []
        waiting = storage.get_trials(sid, states=[TrialState.WAITING]).trials
        assert [t.number for t in waiting] == [0, 2]
        assert storage.count_trials(sid) == 3
        assert storage.count_trials(sid, [TrialState.COMPLETE, TrialState.FAILED]) == 1
        with pytest.raises(TrialFinishedError):
            storage.finish_trial(sid, 1, TrialState.COMPLETE, value=0.5)
        with pytest.raises(TrialNotFoundError):
            storage.get_trial(sid, 7)

    def test_summary_and_records_of_a_plain_study(self, storage: Storage) -> None:
        record = self._plain_study(storage)
        sid = record.study_id
        for i in range(2):
            storage.enqueue_trial(sid, {"x": i / 2, "k": "b"})
            storage.finish_trial(sid, i, TrialState.COMPLETE, value=float(i))
        (summary,) = storage.study_summaries([sid])
        assert (summary.name, summary.best_value, summary.best_number) == ("plain", 0.0, 0)
        assert summary.counts["COMPLETE"] == 2 and summary.n_trials == 2
        assert storage.get_study("plain").space == record.space
        assert [r.name for r in storage.list_studies()] == ["plain"]
        assert storage.heartbeat_trials(sid, [0, 1]) == []  # finished: skipped

    # --- versioned searcher state, study locks, worker ids (server replicas) ----------------
    def test_searcher_state_versions(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        other = storage.create_study("other", direction="minimize", space=None, searcher="grid")
        initial = storage.load_searcher_state(sid)
        assert (initial.state, initial.version) == (None, 0)
        assert storage.save_searcher_state(sid, {"version": 1, "n": 1}) == 1
        assert storage.save_searcher_state(sid, {"version": 1, "n": 2}) == 2
        loaded = storage.load_searcher_state(sid)
        assert (loaded.state, loaded.version) == ({"version": 1, "n": 2}, 2)
        assert storage.get_study_by_id(sid).searcher_state == {"version": 1, "n": 2}
        assert storage.load_searcher_state(other.study_id).version == 0  # per study
        loaded.state["n"] = 99  # type: ignore[index]  # a snapshot
        assert storage.load_searcher_state(sid).state == {"version": 1, "n": 2}

    def test_searcher_state_compare_and_set(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        assert storage.save_searcher_state(sid, {"n": 1}, expected_version=0) == 1
        assert storage.save_searcher_state(sid, {"n": 2}, expected_version=1) == 2
        with pytest.raises(SearcherStateConflict, match="version 2, not 1"):
            storage.save_searcher_state(sid, {"n": 3}, expected_version=1)
        assert storage.load_searcher_state(sid).state == {"n": 2}  # nothing changed
        assert storage.load_searcher_state(sid).version == 2
        with pytest.raises(StudyNotFoundError):
            storage.save_searcher_state(987_654, {"n": 1}, expected_version=0)

    def test_compare_and_set_loses_no_update_under_concurrency(
        self, storage_factory: StorageFactory, study: StudyRecord
    ) -> None:
        handles = [storage_factory() for _ in range(N_THREADS)]
        sid = study.study_id

        def increment(i: int) -> None:
            done = 0
            while done < PER_THREAD // 5:
                current = handles[i].load_searcher_state(sid)
                n = (current.state or {}).get("n", 0)
                try:
                    handles[i].save_searcher_state(
                        sid, {"n": n + 1}, expected_version=current.version
                    )
                except SearcherStateConflict:
                    continue
                done += 1

        _run_threads(increment)
        final = handles[0].load_searcher_state(sid)
        assert final.state == {"n": N_THREADS * (PER_THREAD // 5)}
        assert final.version == N_THREADS * (PER_THREAD // 5)

    def test_study_lock_excludes_other_holders(
        self, storage_factory: StorageFactory, study: StudyRecord
    ) -> None:
        first = storage_factory()
        # handles stand in for processes only where the lock is shared between processes
        handles = [storage_factory() if first.study_lock_is_shared else first for _ in range(3)]
        sid = study.study_id
        inside: list[int] = []
        overlaps: list[int] = []

        def critical(i: int) -> None:
            for _ in range(5):
                with handles[i].study_lock(sid):
                    inside.append(i)
                    if len(inside) > 1:
                        overlaps.append(i)
                    state = handles[i].load_searcher_state(sid).state or {}
                    time.sleep(0.001)  # widen the window a lost update would need
                    handles[i].save_searcher_state(sid, {"n": state.get("n", 0) + 1})
                    inside.remove(i)

        _run_threads(critical, n=3)
        assert overlaps == []
        assert handles[0].load_searcher_state(sid).state == {"n": 15}

    def test_study_lock_is_per_study_and_reentrant_across_calls(
        self, storage: Storage, study: StudyRecord
    ) -> None:
        other = storage.create_study("other", direction="minimize", space=None, searcher="grid")
        got_other = threading.Event()

        def take_other() -> None:
            with storage.study_lock(other.study_id):
                got_other.set()

        with storage.study_lock(study.study_id):
            thread = threading.Thread(target=take_other)
            thread.start()
            assert got_other.wait(30), "another study's lock waited for this one"
            thread.join()
        with storage.study_lock(study.study_id):  # released: it can be taken again
            pass

    def test_worker_trials(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        assert storage.worker_trials(sid, "w1") == []
        storage.create_trial(sid, params={"C": 1.0}, worker_id="w1")
        storage.create_trial(sid, params={"C": 2.0}, worker_id="w2")
        storage.create_trial(sid, params={"C": 3.0})
        storage.enqueue_trial(sid, {"C": 4.0})
        storage.create_trial(sid, params={"C": 5.0}, worker_id="w1", heartbeat=True)
        popped = storage.pop_waiting_trial(sid, worker_id="w2")
        assert popped is not None and popped.number == 3
        mine = storage.worker_trials(sid, "w1")
        assert [t.number for t in mine] == [0, 4]
        assert mine[1] == storage.get_trial(sid, 4)
        assert [t.number for t in storage.worker_trials(sid, "w2")] == [1, 3]
        storage.finish_trial(sid, 0, TrialState.COMPLETE, value=1.0)
        storage.finish_trial(sid, 3, TrialState.FAILED, error="x")
        assert [t.number for t in storage.worker_trials(sid, "w1")] == [4]  # RUNNING only
        assert [t.number for t in storage.worker_trials(sid, "w2")] == [1]
        assert storage.worker_trials(sid, "nobody") == []
        other = storage.create_study("other", direction="minimize", space=None, searcher="grid")
        assert storage.worker_trials(other.study_id, "w1") == []  # per study
        for bad in ("", "x" * 129, "tab\there"):
            with pytest.raises(ValueError, match="worker id"):
                storage.create_trial(sid, params={}, worker_id=bad)
        assert storage.count_trials(sid) == 5

    def test_next_counter_unique_under_concurrency(
        self, storage_factory: StorageFactory, study: StudyRecord
    ) -> None:
        handles = [storage_factory() for _ in range(N_THREADS)]
        values: list[int] = []
        lock = threading.Lock()

        def claim(i: int) -> None:
            mine = [
                handles[i].next_counter(study.study_id, "grid:point") for _ in range(PER_THREAD)
            ]
            with lock:
                values.extend(mine)

        _run_threads(claim)
        assert sorted(values) == list(range(N_THREADS * PER_THREAD))

    def test_enqueue_and_pop_oldest_first(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        assert storage.pop_waiting_trial(sid) is None
        storage.enqueue_trial(sid, {"C": 1.0})
        storage.create_trial(sid, params={"C": 5.0})
        storage.enqueue_trial(sid, {"C": 2.0})
        cursor = storage.get_trials(sid).cursor
        first = storage.pop_waiting_trial(sid, heartbeat=True)
        assert first is not None and (first.number, first.params) == (0, {"C": 1.0})
        assert first.state is TrialState.RUNNING
        assert _aware_utc(first.datetime_start) and _aware_utc(first.heartbeat)
        assert storage.get_trial(sid, 0) == first
        assert [t.number for t in storage.get_trials(sid, since=cursor).trials] == [0]
        second = storage.pop_waiting_trial(sid)
        assert second is not None and second.number == 2 and second.heartbeat is None
        assert storage.pop_waiting_trial(sid) is None
        assert storage.count_trials(sid, [TrialState.WAITING]) == 0

    def test_pop_waiting_trial_exactly_once_under_concurrency(
        self, storage_factory: StorageFactory, study: StudyRecord
    ) -> None:
        sid = study.study_id
        handles = [storage_factory() for _ in range(N_THREADS)]
        enqueued = [handles[0].enqueue_trial(sid, {"i": i}).number for i in range(20)]
        popped: list[FrozenTrial] = []
        lock = threading.Lock()

        def pop(i: int) -> None:
            while (trial := handles[i].pop_waiting_trial(sid)) is not None:
                with lock:
                    popped.append(trial)

        _run_threads(pop)
        assert sorted(t.number for t in popped) == enqueued
        assert all(t.state is TrialState.RUNNING for t in popped)
        assert handles[0].count_trials(sid, [TrialState.RUNNING]) == 20

    # --- time ----------------------------------------------------------------------------------
    def test_datetimes_are_timezone_aware_utc(self, storage: Storage, study: StudyRecord) -> None:
        sid = study.study_id
        before = datetime.now(UTC)
        storage.create_trial(sid, params={}, heartbeat=True)
        storage.heartbeat(sid, 0)
        done = storage.finish_trial(sid, 0, TrialState.COMPLETE, value=1.0)
        after = datetime.now(UTC)
        for t in (done, storage.get_trial(sid, 0), storage.get_trials(sid).trials[0]):
            for stamp in (t.datetime_start, t.datetime_complete, t.heartbeat):
                assert _aware_utc(stamp)
                assert stamp is not None and before <= stamp <= after
        created = storage.get_study_by_id(sid).created_at
        assert _aware_utc(created) and created is not None and created <= after

    # --- comparisons -------------------------------------------------------------------
    def _comparison(self, storage: Storage, name: str = "cmp") -> Any:
        spec = {
            "searchers": [
                {"label": "random", "searcher": "random", "kwargs": {}},
                {"label": "sobol", "searcher": "random", "kwargs": {"sobol": True}},
            ],
            "seeds": [0, 1],
        }
        return storage.create_comparison(
            name,
            problem="branin",
            direction="minimize",
            n_trials=15,
            spec=spec,
            optimum=0.397887,
            reference=24.5,
        )

    def test_comparison_round_trip(self, storage: Storage) -> None:
        created = self._comparison(storage)
        assert created.members == ()
        ids = {}
        for label in ("sobol", "random"):
            for seed in (1, 0):
                study = storage.create_study(
                    f"cmp/{label}/seed{seed}",
                    direction="minimize",
                    space=rich_space(),
                    searcher="random",
                    seed=seed,
                )
                storage.add_comparison_study(
                    created.comparison_id, study.study_id, label=label, seed=seed
                )
                ids[(label, seed)] = study.study_id
        got = storage.get_comparison("cmp")
        assert got.comparison_id == created.comparison_id
        assert (got.name, got.problem, got.direction, got.n_trials) == (
            "cmp",
            "branin",
            "minimize",
            15,
        )
        assert got.spec == created.spec and got.spec["searchers"][1]["kwargs"] == {"sobol": True}
        assert (got.optimum, got.reference) == (0.397887, 24.5)
        assert _aware_utc(got.created_at)
        assert [(m.label, m.seed) for m in got.members] == [
            ("random", 0),
            ("random", 1),
            ("sobol", 0),
            ("sobol", 1),
        ]
        for m in got.members:
            assert m.study_id == ids[(m.label, m.seed)]
            assert m.study_name == f"cmp/{m.label}/seed{m.seed}"

    def test_comparison_without_optimum(self, storage: Storage) -> None:
        storage.create_comparison(
            "plain", problem="p", direction="maximize", n_trials=3, spec={"seeds": [0]}
        )
        got = storage.get_comparison("plain")
        assert (got.optimum, got.reference, got.direction) == (None, None, "maximize")

    def test_duplicate_comparison_name_is_refused(self, storage: Storage) -> None:
        self._comparison(storage)
        with pytest.raises(DuplicateComparisonError, match="'cmp' already exists"):
            self._comparison(storage)
        assert len(storage.list_comparisons()) == 1

    def test_duplicate_comparison_member_is_refused(self, storage: Storage) -> None:
        cmp = self._comparison(storage)
        a = storage.create_study("a", direction="minimize", space=None, searcher="random")
        b = storage.create_study("b", direction="minimize", space=None, searcher="random")
        storage.add_comparison_study(cmp.comparison_id, a.study_id, label="random", seed=0)
        with pytest.raises(DuplicateComparisonError, match="'random' and seed 0"):
            storage.add_comparison_study(cmp.comparison_id, b.study_id, label="random", seed=0)
        assert [m.study_id for m in storage.get_comparison("cmp").members] == [a.study_id]

    def test_missing_comparison(self, storage: Storage, study: StudyRecord) -> None:
        with pytest.raises(ComparisonNotFoundError, match="no comparison named 'nope'"):
            storage.get_comparison("nope")
        with pytest.raises(ComparisonNotFoundError):
            storage.add_comparison_study(424242, study.study_id, label="x", seed=0)
        cmp = self._comparison(storage)
        with pytest.raises(StudyNotFoundError):
            storage.add_comparison_study(cmp.comparison_id, 424242, label="x", seed=0)

    def test_list_comparisons_oldest_first_with_members(self, storage: Storage) -> None:
        assert storage.list_comparisons() == []
        first = self._comparison(storage, "first")
        self._comparison(storage, "second")
        s = storage.create_study("s", direction="minimize", space=None, searcher="random")
        storage.add_comparison_study(first.comparison_id, s.study_id, label="random", seed=3)
        listed = storage.list_comparisons()
        assert [c.name for c in listed] == ["first", "second"]
        assert [(m.study_name, m.seed) for m in listed[0].members] == [("s", 3)]
        assert listed[1].members == ()

    def test_deleting_a_study_leaves_its_comparison(self, storage: Storage) -> None:
        cmp = self._comparison(storage)
        for seed in (0, 1):
            s = storage.create_study(
                f"s{seed}", direction="minimize", space=None, searcher="random"
            )
            storage.add_comparison_study(cmp.comparison_id, s.study_id, label="r", seed=seed)
        storage.delete_study("s0")
        assert [m.study_name for m in storage.get_comparison("cmp").members] == ["s1"]

    def test_delete_comparison_keeps_its_studies(self, storage: Storage) -> None:
        cmp = self._comparison(storage)
        other = self._comparison(storage, "other")
        members = []
        for seed in (0, 1):
            s = storage.create_study(
                f"s{seed}", direction="minimize", space=None, searcher="random"
            )
            storage.create_trial(s.study_id, params={"x": seed})
            storage.add_comparison_study(cmp.comparison_id, s.study_id, label="r", seed=seed)
            members.append(s)
        storage.add_comparison_study(other.comparison_id, members[0].study_id, label="r", seed=0)
        kept_other = storage.get_comparison("other")
        storage.delete_comparison("cmp")
        with pytest.raises(ComparisonNotFoundError, match="no comparison named 'cmp'"):
            storage.get_comparison("cmp")
        assert storage.list_comparisons() == [kept_other]
        assert storage.list_studies() == members  # the studies stay, with their trials
        for s in members:
            assert storage.get_trial(s.study_id, 0).params == {"x": members.index(s)}
        with pytest.raises(ComparisonNotFoundError, match="no comparison named 'cmp'"):
            storage.delete_comparison("cmp")
        with pytest.raises(ComparisonNotFoundError, match="no comparison named 'nope'"):
            storage.delete_comparison("nope")
        again = self._comparison(storage)  # the name is free again, without the old links
        assert again.comparison_id not in (cmp.comparison_id, other.comparison_id)
        assert storage.get_comparison("cmp").members == ()
        storage.add_comparison_study(again.comparison_id, members[1].study_id, label="r", seed=1)
        assert [m.study_name for m in storage.get_comparison("cmp").members] == ["s1"]
        assert storage.get_comparison("other") == kept_other
        storage.delete_comparison("other")
        storage.delete_comparison("cmp")
        assert storage.list_comparisons() == [] and storage.list_studies() == members

    # --- stopped studies and notes (dashboard controls) ----------------------------------
    def test_stop_and_resume_a_study(self, storage_factory: StorageFactory) -> None:
        storage, other = storage_factory(), storage_factory()
        study = storage.create_study("s", direction="minimize", space=None, searcher="random")
        sid = study.study_id
        assert study.stopped_at is None and not storage.is_study_stopped(sid)
        (summary,) = storage.study_summaries([sid])
        assert summary.stopped_at is None
        stopped_at = storage.set_study_stopped(sid, True)
        assert _aware_utc(stopped_at)
        assert other.is_study_stopped(sid) and other.get_study_by_id(sid).stopped_at == stopped_at
        assert other.get_study("s").stopped_at == stopped_at
        assert other.study_summaries([sid])[0].stopped_at == stopped_at
        assert storage.set_study_stopped(sid, True) == stopped_at  # the first stop is kept
        storage.create_trial(sid, params={"x": 1})  # the storage itself still writes
        assert storage.set_study_stopped(sid, False) is None
        assert not other.is_study_stopped(sid) and other.get_study_by_id(sid).stopped_at is None
        for missing in (
            lambda: storage.set_study_stopped(sid + 1000, True),
            lambda: storage.set_study_stopped(sid + 1000, False),
            lambda: storage.is_study_stopped(sid + 1000),
        ):
            with pytest.raises(StudyNotFoundError):
                missing()

    def test_study_note_round_trip(self, storage_factory: StorageFactory) -> None:
        storage, other = storage_factory(), storage_factory()
        sid = storage.create_study(
            "s", direction="minimize", space=None, searcher="random"
        ).study_id
        assert storage.get_study_note(sid) == StudyNote("", 0, None)
        text = "# Findings\n\n* `C` matters — ünïcode, <b>raw</b> & 'quotes'\n"
        first = storage.set_study_note(sid, text, expected_version=0)
        assert (first.body, first.version) == (text, 1) and _aware_utc(first.updated_at)
        assert other.get_study_note(sid) == first
        with pytest.raises(StudyNoteConflict, match="version 1, not 0"):
            other.set_study_note(sid, "stale edit", expected_version=0)
        assert storage.get_study_note(sid) == first  # the refused save changed nothing
        second = other.set_study_note(sid, "", expected_version=1)
        assert (second.body, second.version) == ("", 2)
        assert storage.set_study_note(sid, "last word").version == 3  # unconditional save
        with pytest.raises(ValueError, match="at most"):
            storage.set_study_note(sid, "x" * (MAX_NOTE_CHARS + 1))
        with pytest.raises(StudyNotFoundError):
            storage.get_study_note(sid + 1000)
        with pytest.raises(StudyNotFoundError):
            storage.set_study_note(sid + 1000, "x")
        storage.delete_study("s")
        again = storage.create_study("s", direction="minimize", space=None, searcher="random")
        assert storage.get_study_note(again.study_id) == StudyNote("", 0, None)

    def test_note_compare_and_set_loses_no_edit_under_concurrency(
        self, storage_factory: StorageFactory
    ) -> None:
        first = storage_factory()
        sid = first.create_study("s", direction="minimize", space=None, searcher="random").study_id
        handles = [storage_factory() for _ in range(N_THREADS)]

        def edit(i: int) -> None:
            storage = handles[i]
            for k in range(5):
                while True:
                    note = storage.get_study_note(sid)
                    try:
                        body = f"{note.body}{i}.{k};"
                        storage.set_study_note(sid, body, expected_version=note.version)
                        break
                    except StudyNoteConflict:
                        continue

        _run_threads(edit)
        note = first.get_study_note(sid)
        assert note.version == 5 * N_THREADS
        assert sorted(note.body.rstrip(";").split(";")) == sorted(
            f"{i}.{k}" for i in range(N_THREADS) for k in range(5)
        )

    def test_comparison_seen_by_another_handle(self, storage_factory: StorageFactory) -> None:
        writer, reader = storage_factory(), storage_factory()
        cmp = self._comparison(writer)
        s = writer.create_study("s", direction="minimize", space=None, searcher="random")
        writer.add_comparison_study(cmp.comparison_id, s.study_id, label="r", seed=0)
        assert reader.get_comparison("cmp") == writer.get_comparison("cmp")
