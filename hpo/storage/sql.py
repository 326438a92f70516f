"""SQL storage for SQLite and PostgreSQL, through SQLAlchemy Core.

>>> storage = SQLStorage("sqlite:///hpo.db")                          # doctest: +SKIP
>>> storage = SQLStorage("postgresql+psycopg://user@host/hpo")        # doctest: +SKIP

How the contract of :mod:`hpo.storage.base` is kept, across threads and processes:

* **Change sequence.** Every trial mutation first runs
  ``UPDATE studies SET seq = seq + 1 ... RETURNING seq``, which locks the study row until
  commit, then writes that ``seq`` on the trial row in the same transaction. Writers of one
  study therefore commit in ``seq`` order, so a reader that has seen ``seq = n`` has seen
  every change up to ``n``, and ``get_trials(since=n)`` never misses one. Trial numbers come
  from the same locked statement (``n_trials = n_trials + 1``), so they are dense.
  A batch of heartbeats is one such bump and one ``UPDATE ... WHERE number IN (...)``:
  the beaten trials share the new ``seq``, committed together.
* **Counters** are one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statement.
* **Summaries** are one statement for any number of studies: counts by state from a
  ``GROUP BY`` over the ``(study_id, state, number)`` index, the best value from seeks in
  the ``(study_id, state, value, number)`` index, and ``studies.last_activity``, which the
  bump of a trial start, heartbeat or finish moves forward.
* **SQLite** runs in WAL mode with ``synchronous=NORMAL`` (a crash loses no committed
  transaction; a power cut may lose the last few) and a 30 s busy timeout. Write
  transactions start with ``BEGIN IMMEDIATE``, so concurrent processes queue for the write
  lock instead of failing on a lock upgrade; threads of one process queue on a lock of
  their own first. ``sqlite://`` (in memory) keeps one shared connection.
* **Schema** changes go through the Alembic migrations in ``hpo/storage/migrations``;
  opening a storage upgrades the database to the newest revision (under a PostgreSQL
  advisory lock, or SQLite's write lock) and refuses a database newer than this code.
* **Study locks** (server replicas): on PostgreSQL, ``study_lock`` takes this process's
  lock for the study, then a transaction-level advisory lock keyed by the schema and the
  study id on a connection of its own, held until the block ends; the database releases
  it if the process dies. The reads and writes of the holding thread run in that
  transaction, so a replica's whole ask (counters, the new trial, the searcher state)
  commits once, as the lock is released, or not at all (writers that undo themselves,
  like an empty queue's pop, use a savepoint). SQLite's study lock covers this process only
  (``study_lock_is_shared`` is false), which is why a server on SQLite runs one process.
* **Searcher state** carries a version bumped in the same ``UPDATE``; a compare-and-set
  save adds ``AND searcher_state_version = :expected``.
* **Cost.** An ask is a read (changes since the last look and whether the study is
  stopped, one statement: :meth:`SQLStorage.get_trials_and_stopped`) and two short write
  transactions (a counter, the new trial; one transaction inside a PostgreSQL study
  lock); a tell is one write transaction. Statements are prebuilt
  (:mod:`hpo.storage._queries`) and connections pooled.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

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
from hpo.storage import _queries as q
from hpo.storage._engine import (
    SchemaVersionError,
    alembic_config,
    is_memory_sqlite,
    make_engine,
    upgrade_to_head,
)
from hpo.storage._schema import comparison_studies, comparisons, studies, study_notes
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

__all__ = ["SQLStorage", "SchemaVersionError", "alembic_config"]


class _NoWaitingTrial(Exception):
    """Rolls back ``pop_waiting_trial`` when the queue is empty."""


class _NothingChanged(Exception):
    """Rolls back ``heartbeat_trials`` when none of its trials could be beaten."""


class _Held(threading.local):
    """The connection of the study lock this thread holds (PostgreSQL), if any."""

    conn: Connection | None = None


def _no_study(study_id: int) -> StudyNotFoundError:
    return StudyNotFoundError(f"no study with id {study_id}")


class SQLStorage(Storage):
    """A :class:`~hpo.storage.base.Storage` in SQLite or PostgreSQL (any SQLAlchemy URL of
    those two); ``engine_kwargs`` go to :func:`sqlalchemy.create_engine`.

    Opening upgrades the schema to this version's newest migration. Several threads and
    processes may use one database at once.
    """

    def __init__(self, url: str, *, engine_kwargs: Mapping[str, Any] | None = None) -> None:
        self.url = url
        self._engine = make_engine(url, engine_kwargs)
        self._dialect = self._engine.dialect.name
        self._writer = self._engine.execution_options(hpo_begin="IMMEDIATE")
        # SQLite has one writer at a time: threads of this process queue on this lock rather
        # than in SQLite's sleeping busy handler. In-memory SQLite shares one connection, so
        # its reads take the lock too.
        lock = threading.RLock()
        nolock = contextlib.nullcontext()
        sqlite = self._dialect == "sqlite"
        self._write_lock: contextlib.AbstractContextManager[Any] = lock if sqlite else nolock
        self._read_lock: contextlib.AbstractContextManager[Any] = (
            lock if is_memory_sqlite(self._engine.url) else nolock
        )
        self.study_lock_is_shared = self._dialect == "postgresql"
        self._held = _Held()  # this thread's study-lock transaction (PostgreSQL)
        self._next_counter = q.next_counter(self._dialect)
        self._put_intermediate = q.put_intermediate(self._dialect)
        try:
            with self._write_lock:
                upgrade_to_head(self._engine, self._writer, str(self))
        except BaseException:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"SQLStorage({str(self)!r})"

    def __str__(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for inspection and tests; the tables are internal)."""
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    # --- transactions ------------------------------------------------------------------
    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction (one snapshot), rolled back afterwards; inside a study lock
        (PostgreSQL), the lock's transaction."""
        held = self._held.conn
        if held is not None:
            yield held
            return
        with self._read_lock, self._engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def _write(self, *, undo_on_error: bool = False) -> Iterator[Connection]:
        """A write transaction, committed on success and rolled back on any error.

        Inside a study lock (PostgreSQL) it is part of the lock's transaction, committed
        when the lock is released; ``undo_on_error`` wraps it in a savepoint, for writers
        that raise to undo their statements and carry on (an empty queue)."""
        held = self._held.conn
        if held is not None:
            if not undo_on_error:
                yield held
                return
            with held.begin_nested():
                yield held
            return
        with self._write_lock, self._writer.begin() as conn:
            yield conn

    # --- helpers -----------------------------------------------------------------------
    def _bump(self, conn: Connection, study_id: int, activity: datetime | None = None) -> int:
        """Lock the study row and return its next change sequence; ``activity``: the time
        of a trial start, heartbeat or finish (the study's last activity, unless later)."""
        if activity is None:
            seq = conn.execute(q.BUMP_SEQ, {"p_study": study_id}).scalar()
        else:
            seq = conn.execute(q.BUMP_SEQ_ACTIVE, {"p_study": study_id, "p_now": activity}).scalar()
        if seq is None:
            raise _no_study(study_id)
        return int(seq)

    def _study_name(self, conn: Connection, study_id: int) -> str:
        name = conn.execute(q.STUDY_NAME, {"p_study": study_id}).scalar()
        if name is None:
            raise _no_study(study_id)
        return str(name)

    def _trial_error(self, conn: Connection, study_id: int, number: int) -> Exception:
        """Why a trial could not be changed: it does not exist, or it is finished."""
        name = self._study_name(conn, study_id)
        state = conn.execute(q.TRIAL_STATE, {"p_study": study_id, "p_number": number}).scalar()
        if state is None:
            return TrialNotFoundError(f"study {name!r} has no trial {number}")
        return TrialFinishedError(
            f"trial {number} of study {name!r} is already {state}; "
            "finished trials cannot be changed"
        )

    def _frozen(self, conn: Connection, row: Row[*tuple[Any, ...]]) -> FrozenTrial:
        """A trial row (with ``has_values``) as a snapshot, with its intermediate values."""
        values: dict[int, float] = {}
        if row.has_values:
            values = dict(conn.execute(q.TRIAL_VALUES, {"p_trial": row.id}).all())
        return q.frozen_trial(row, values)

    def _update_json(self, study_id: int, number: int, field: str, key: str, value: Any) -> None:
        """Set ``key`` in the ``params`` or ``user_attrs`` of an unfinished trial."""
        with self._write() as conn:
            seq = self._bump(conn, study_id)  # the study row lock makes read-modify-write safe
            args = {"p_study": study_id, "p_number": number}
            row = conn.execute(q.TRIAL_FIELDS, args).first()
            if row is None or row.state not in q.UNFINISHED:
                raise self._trial_error(conn, study_id, number)
            if field == "params":
                params = {**row.params, key: value}
                conn.execute(q.SET_PARAMS, {**args, "p_seq": seq, "p_params": params})
            else:
                attrs = {**row.user_attrs, key: value}
                conn.execute(q.SET_ATTRS, {**args, "p_seq": seq, "p_attrs": attrs})

    # --- studies -----------------------------------------------------------------------
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
        if not isinstance(name, str) or not 0 < len(name) <= 512:
            raise ValueError(f"a study name is a string of 1 to 512 characters, got {name!r}")
        record = StudyRecord(
            study_id=0,
            name=name,
            direction=direction,
            space=space if space is not None else Space(),
            define_by_run=space is None,
            searcher=searcher,
            searcher_kwargs=q.json_copy(searcher_kwargs or {}),
            seed=seed,
            metric=metric,
            created_at=utcnow(),
            user_attrs=q.json_copy(user_attrs or {}),
            budget=budget,
            stopper=stopper,
            stopper_kwargs=q.json_copy(stopper_kwargs or {}),
            owner=owner,
        )
        row = {
            "name": name,
            "direction": direction,
            "space": record.space.to_json(),
            "define_by_run": record.define_by_run,
            "searcher": searcher,
            "searcher_kwargs": record.searcher_kwargs,
            "searcher_state": None,
            "seed": seed,
            "metric": metric,
            "user_attrs": record.user_attrs,
            "created_at": record.created_at,
            "seq": 0,
            "n_trials": 0,
            "budget": None if budget is None else budget.to_json(),
            "stopper": stopper,
            "stopper_kwargs": record.stopper_kwargs,
            "owner": owner,
            "last_activity": None,
        }
        key = self._insert_named(
            studies,
            row,
            DuplicateStudyError(
                f"a study named {name!r} already exists; pass load_if_exists=True to "
                "continue it, or choose another name"
            ),
        )
        return StudyRecord(**{**record.__dict__, "study_id": key})

    def _insert_named(self, table: sa.Table, row: dict[str, Any], duplicate: Exception) -> int:
        """Insert ``row`` into a table with a unique ``name``; raise ``duplicate`` when the
        name is taken (any other integrity error propagates). Returns the new id."""
        try:
            with self._write(undo_on_error=True) as conn:
                key = conn.execute(sa.insert(table).values(**row)).inserted_primary_key
        except sa.exc.IntegrityError:
            with self._read() as conn:
                taken = conn.execute(sa.select(table.c.id).where(table.c.name == row["name"]))
                if taken.first() is None:
                    raise
            raise duplicate from None
        assert key is not None
        return int(key[0])

    def _get_study(self, where: sa.ColumnElement[bool]) -> StudyRecord | None:
        with self._read() as conn:
            row = conn.execute(sa.select(studies).where(where)).first()
        return None if row is None else q.study_record(row)

    def get_study(self, name: str) -> StudyRecord:
        record = self._get_study(studies.c.name == name)
        if record is None:
            raise StudyNotFoundError(f"no study named {name!r}")
        return record

    def get_study_by_id(self, study_id: int) -> StudyRecord:
        record = self._get_study(studies.c.id == study_id)
        if record is None:
            raise _no_study(study_id)
        return record

    def list_studies(self) -> list[StudyRecord]:
        with self._read() as conn:
            rows = conn.execute(sa.select(studies).order_by(studies.c.id)).all()
        return [q.study_record(r) for r in rows]

    def delete_study(self, name: str) -> None:
        with self._write() as conn:
            deleted = conn.execute(sa.delete(studies).where(studies.c.name == name)).rowcount
        if not deleted:
            raise StudyNotFoundError(f"no study named {name!r}")

    def _update_study(self, study_id: int, **values: Any) -> None:
        with self._write() as conn:
            stmt = sa.update(studies).where(studies.c.id == study_id).values(**values)
            if not conn.execute(stmt).rowcount:
                raise _no_study(study_id)

    def set_study_owner(self, study_id: int, owner: str | None) -> None:
        self._update_study(study_id, owner=owner)

    def study_summaries(self, study_ids: Iterable[int] | None = None) -> list[StudySummary]:
        args: dict[str, Any] = {}
        if study_ids is not None:
            args["p_studies"] = sorted({int(i) for i in study_ids})
            if not args["p_studies"]:
                return []
        with self._read() as conn:
            rows = conn.execute(q.study_summaries(study_ids is not None), args).all()
        return [q.study_summary(r) for r in rows]

    def set_study_space(self, study_id: int, space: Space) -> None:
        self._update_study(study_id, space=space.to_json())

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._write() as conn:
            self._bump(conn, study_id)  # the study row locked: read-modify-write is safe
            attrs = conn.execute(
                sa.select(studies.c.user_attrs).where(studies.c.id == study_id)
            ).scalar()
            attrs = {**(attrs or {}), key: q.json_copy(value)}
            conn.execute(
                sa.update(studies).where(studies.c.id == study_id).values(user_attrs=attrs)
            )

    def set_study_stopped(self, study_id: int, stopped: bool) -> datetime | None:
        with self._write() as conn:
            if stopped:
                when = conn.execute(q.STOP_STUDY, {"p_study": study_id, "p_now": utcnow()})
                stopped_at = when.scalar()
            else:
                stopped_at = None
                if conn.execute(q.RESUME_STUDY, {"p_study": study_id}).scalar() is None:
                    raise _no_study(study_id)
        if stopped and stopped_at is None:
            raise _no_study(study_id)
        return stopped_at

    def is_study_stopped(self, study_id: int) -> bool:
        with self._read() as conn:
            row = conn.execute(q.STUDY_STOPPED_AT, {"p_study": study_id}).first()
        if row is None:
            raise _no_study(study_id)
        return row.stopped_at is not None

    def get_study_note(self, study_id: int) -> StudyNote:
        with self._read() as conn:
            row = conn.execute(q.STUDY_NOTE, {"p_study": study_id}).first()
            if row is None:
                self._study_name(conn, study_id)  # StudyNotFoundError for a missing study
                return StudyNote()
        return StudyNote(row.body, int(row.version), row.updated_at)

    def set_study_note(
        self, study_id: int, body: str, *, expected_version: int | None = None
    ) -> StudyNote:
        check_note(body)
        now = utcnow()
        with self._write() as conn:
            # the study row locked (PostgreSQL): concurrent saves of one note queue here
            locked = sa.select(studies.c.name).where(studies.c.id == study_id).with_for_update()
            name = conn.execute(locked).scalar()
            if name is None:
                raise _no_study(study_id)
            row = conn.execute(q.STUDY_NOTE, {"p_study": study_id}).first()
            version = 0 if row is None else int(row.version)
            if expected_version is not None and expected_version != version:
                raise StudyNoteConflict(
                    f"the note of study {name!r} is at version {version}, not "
                    f"{expected_version}: someone else saved it"
                )
            values = {"body": body, "version": version + 1, "updated_at": now}
            if row is None:
                conn.execute(sa.insert(study_notes).values(study_id=study_id, **values))
            else:
                where = study_notes.c.study_id == study_id
                conn.execute(sa.update(study_notes).where(where).values(**values))
        return StudyNote(body, version + 1, now)

    def save_searcher_state(
        self, study_id: int, state: dict[str, Any], *, expected_version: int | None = None
    ) -> int:
        args: dict[str, Any] = {"p_study": study_id, "p_state": q.json_copy(state)}
        stmt = q.SAVE_STATE
        if expected_version is not None:
            stmt, args["p_version"] = q.SAVE_STATE_IF, int(expected_version)
        with self._write() as conn:
            version = conn.execute(stmt, args).scalar()
            if version is None:
                stored = conn.execute(q.SEARCHER_STATE, args).first()
                if stored is None:
                    raise _no_study(study_id)
                name = self._study_name(conn, study_id)
                raise SearcherStateConflict(
                    f"the searcher state of study {name!r} is at version {stored[1]}, not "
                    f"{expected_version}: another process saved it"
                )
        return int(version)

    def load_searcher_state(self, study_id: int) -> SearcherState:
        with self._read() as conn:
            row = conn.execute(q.SEARCHER_STATE, {"p_study": study_id}).first()
        if row is None:
            raise _no_study(study_id)
        return SearcherState(row[0], int(row[1]))

    @contextlib.contextmanager
    def study_lock(self, study_id: int) -> Iterator[None]:
        """The study's lock (see the module docstring). On PostgreSQL the reads and
        writes of this thread while it holds the lock run in the lock's transaction: they
        commit together as the lock is released, or roll back together if the block
        raises."""
        if self._dialect != "postgresql":
            with super().study_lock(study_id):
                yield
            return
        held = self._held
        outer = held.conn
        with super().study_lock(study_id), self._engine.begin() as conn:
            conn.execute(q.STUDY_ADVISORY_LOCK, {"p_study": int(study_id)})
            held.conn = conn
            try:
                yield
            finally:
                held.conn = outer

    def count_trials(self, study_id: int, states: Iterable[TrialState] | None = None) -> int:
        with self._read() as conn:
            total = conn.execute(q.STUDY_N_TRIALS, {"p_study": study_id}).scalar()
            if total is None:
                raise _no_study(study_id)
            if states is None:
                return int(total)
            wanted = [TrialState(s).value for s in states]
            args = {"p_study": study_id, "p_states": wanted}
            return int(conn.execute(q.COUNT_IN_STATES, args).scalar_one())

    # --- trials ------------------------------------------------------------------------
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
        now = utcnow() if state is TrialState.RUNNING else None
        beat = now if heartbeat else None
        params = q.json_copy(params)
        info = q.json_copy(searcher_info or {})
        attrs = q.json_copy(user_attrs or {})
        bump_args: dict[str, Any] = {"p_study": study_id}
        if now is None:
            bump = q.BUMP_SEQ_AND_NUMBER
        else:  # a start: the study's last activity
            bump, bump_args["p_now"] = q.BUMP_SEQ_AND_NUMBER_ACTIVE, now
        with self._write() as conn:
            bumped = conn.execute(bump, bump_args).first()
            if bumped is None:
                raise _no_study(study_id)
            seq, n_trials = bumped
            number = int(n_trials) - 1
            row = {
                "study_id": study_id,
                "number": number,
                "state": state.value,
                "params": params,
                "metrics": {},
                "user_attrs": attrs,
                "datetime_start": now,
                "heartbeat": beat,
                "budget": budget,
                "parent": parent,
                "searcher_time": searcher_time,
                "seq": seq,
                "suggestion_id": suggestion_id,
                "searcher_info": info,
                "worker_id": worker_id if state is TrialState.RUNNING else None,
            }
            conn.execute(q.INSERT_TRIAL, row)
        return FrozenTrial(  # the copies above are this trial's own (the insert only read them)
            number=number,
            state=state,
            params=params,
            datetime_start=now,
            heartbeat=beat,
            budget=budget,
            parent=parent,
            searcher_time=searcher_time,
            suggestion_id=suggestion_id,
            searcher_info=info,
            user_attrs=attrs,
        )

    def add_trial(self, study_id: int, trial: FrozenTrial) -> FrozenTrial:
        if not trial.state.is_finished:
            raise ValueError(f"add_trial stores finished trials, got {trial.state}")
        activity = trial.datetime_complete or trial.datetime_start
        bump_args: dict[str, Any] = {"p_study": study_id}
        if activity is None:
            bump = q.BUMP_SEQ_AND_NUMBER
        else:
            bump, bump_args["p_now"] = q.BUMP_SEQ_AND_NUMBER_ACTIVE, activity
        with self._write() as conn:
            bumped = conn.execute(bump, bump_args).first()
            if bumped is None:
                raise _no_study(study_id)
            seq, n_trials = bumped
            number = int(n_trials) - 1
            row = {
                "study_id": study_id,
                "number": number,
                "state": trial.state.value,
                "params": q.json_copy(trial.params),
                "value": None if trial.value is None else float(trial.value),
                "metrics": q.json_copy(dict(trial.metrics)),
                "user_attrs": q.json_copy(dict(trial.user_attrs)),
                "datetime_start": trial.datetime_start,
                "datetime_complete": trial.datetime_complete,
                "error": trial.error,
                "budget": trial.budget,
                "parent": trial.parent,
                "searcher_time": trial.searcher_time,
                "seq": seq,
                "searcher_info": {},
            }
            key = conn.execute(q.INSERT_TRIAL, row).inserted_primary_key
            assert key is not None
            for step, value in sorted(trial.intermediate_values.items()):
                args = {"p_trial": int(key[0]), "p_step": int(step), "p_value": float(value)}
                conn.execute(self._put_intermediate, args)
            stored = conn.execute(q.TRIAL, {"p_study": study_id, "p_number": number}).first()
            assert stored is not None
            return self._frozen(conn, stored)

    def pop_waiting_trial(
        self, study_id: int, *, heartbeat: bool = False, worker_id: str | None = None
    ) -> FrozenTrial | None:
        check_worker_id(worker_id)
        now = utcnow()
        try:
            with self._write(undo_on_error=True) as conn:
                seq = self._bump(conn, study_id, now)  # the study row locked: one caller wins
                beat = now if heartbeat else None
                args = {
                    "p_study": study_id,
                    "p_seq": seq,
                    "p_now": now,
                    "p_now2": beat,
                    "p_worker": worker_id,
                }
                row = conn.execute(q.START_WAITING, args).first()
                if row is None:
                    raise _NoWaitingTrial
                return self._frozen(conn, row)
        except _NoWaitingTrial:
            return None

    def worker_trials(self, study_id: int, worker_id: str) -> list[FrozenTrial]:
        with self._read() as conn:
            args = {"p_study": study_id, "p_worker": worker_id}
            rows = conn.execute(q.WORKER_TRIALS, args).all()
            if not rows:
                self._study_name(conn, study_id)  # StudyNotFoundError for a missing study
            return [self._frozen(conn, row) for row in rows]

    def set_trial_param(self, study_id: int, number: int, name: str, value: Any) -> None:
        self._update_json(study_id, number, "params", name, q.json_copy(value))

    def set_trial_user_attr(self, study_id: int, number: int, key: str, value: Any) -> None:
        self._update_json(study_id, number, "user_attrs", key, q.json_copy(value))

    def _touch(self, conn: Connection, study_id: int, number: int, *, beat: bool) -> int:
        """New change sequence (and heartbeat, if ``beat``) for an unfinished trial;
        returns its row id."""
        now = utcnow() if beat else None
        seq = self._bump(conn, study_id, now)
        args: dict[str, Any] = {"p_study": study_id, "p_number": number, "p_seq": seq}
        if beat:
            args["p_now"] = now
        trial_id = conn.execute(q.TOUCH if beat else q.MARK, args).scalar()
        if trial_id is None:
            raise self._trial_error(conn, study_id, number)
        return int(trial_id)

    def report(self, study_id: int, number: int, step: int, value: float) -> None:
        with self._write() as conn:
            trial_id = self._touch(conn, study_id, number, beat=False)
            args = {"p_trial": trial_id, "p_step": int(step), "p_value": float(value)}
            conn.execute(self._put_intermediate, args)

    def heartbeat(self, study_id: int, number: int) -> None:
        with self._write() as conn:
            self._touch(conn, study_id, number, beat=True)

    def heartbeat_trials(self, study_id: int, numbers: Iterable[int]) -> list[int]:
        wanted = sorted({int(n) for n in numbers})
        now = utcnow()
        beaten: list[int] = []
        try:
            with self._write(undo_on_error=True) as conn:
                seq = self._bump(conn, study_id, now)
                args = {"p_study": study_id, "p_numbers": wanted, "p_seq": seq, "p_now": now}
                if wanted:
                    beaten = sorted(int(n) for n in conn.execute(q.TOUCH_MANY, args).scalars())
                if not beaten:
                    raise _NothingChanged  # no trace: neither the sequence nor the activity
        except _NothingChanged:
            pass
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
        now = utcnow()
        args = {
            "p_study": study_id,
            "p_number": number,
            "p_state": state.value,
            "p_value": None if value is None else float(value),
            "p_metrics": q.json_copy(dict(metrics or {})),
            "p_error": error,
            "p_now": now,
        }
        with self._write() as conn:
            args["p_seq"] = self._bump(conn, study_id, now)
            row = conn.execute(q.FINISH, args).first()
            if row is None:
                raise self._trial_error(conn, study_id, number)
            return self._frozen(conn, row)

    def get_trial(self, study_id: int, number: int) -> FrozenTrial:
        with self._read() as conn:
            row = conn.execute(q.TRIAL, {"p_study": study_id, "p_number": number}).first()
            if row is None:
                name = self._study_name(conn, study_id)
                raise TrialNotFoundError(f"study {name!r} has no trial {number}")
            return self._frozen(conn, row)

    def get_trials(
        self,
        study_id: int,
        *,
        since: int = 0,
        states: Iterable[TrialState] | None = None,
    ) -> TrialBatch:
        return self._changes(study_id, since, states)[0]

    def get_trials_and_stopped(self, study_id: int, *, since: int = 0) -> tuple[TrialBatch, bool]:
        """:meth:`get_trials` and :meth:`is_study_stopped` in one read (what a driver
        reads before each ask)."""
        batch, stopped_at = self._changes(study_id, since, None)
        return batch, stopped_at is not None

    def _changes(
        self, study_id: int, since: int, states: Iterable[TrialState] | None
    ) -> tuple[TrialBatch, datetime | None]:
        since = max(int(since), 0)
        rows_stmt, values_stmt = q.changed_trials(since > 0, states is not None)
        args: dict[str, Any] = {"p_study": study_id, "p_seq": since}
        if states is not None:
            args["p_states"] = [TrialState(s).value for s in states]
        values: dict[int, dict[int, float]] = {}
        with self._read() as conn:
            rows = conn.execute(rows_stmt, args).all()
            if not rows:
                raise _no_study(study_id)
            # every change up to the study's seq is committed (writers commit in seq order)
            # and in the snapshot that read it, so a read from this cursor misses none
            cursor = max(int(rows[0].cursor), since)
            stopped_at = rows[0].study_stopped_at
            if rows[0].id is None:  # the study has no changed trial
                return TrialBatch(trials=[], cursor=cursor), stopped_at
            if any(r.has_values for r in rows):  # one query for all, only when needed
                for trial_id, step, value in conn.execute(values_stmt, args):
                    values.setdefault(trial_id, {})[step] = value
        batch = [q.frozen_trial(r, values.get(r.id)) for r in rows]
        if since:
            batch.sort(key=lambda t: t.number)
        return TrialBatch(trials=batch, cursor=cursor), stopped_at

    def next_counter(self, study_id: int, key: str) -> int:
        try:
            with self._write() as conn:
                value = conn.execute(self._next_counter, {"p_study": study_id, "p_key": key})
                return int(value.scalar_one()) - 1
        except sa.exc.IntegrityError:  # the foreign key: no such study
            raise _no_study(study_id) from None

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
        if not isinstance(name, str) or not 0 < len(name) <= 512:
            raise ValueError(f"a comparison name is a string of 1 to 512 characters, got {name!r}")
        record = ComparisonRecord(
            comparison_id=0,
            name=name,
            problem=problem,
            direction=direction,
            n_trials=int(n_trials),
            spec=q.json_copy(spec),
            optimum=None if optimum is None else float(optimum),
            reference=None if reference is None else float(reference),
            created_at=utcnow(),
        )
        row = {k: v for k, v in record.__dict__.items() if k not in ("comparison_id", "members")}
        key = self._insert_named(
            comparisons,
            row,
            DuplicateComparisonError(
                f"a comparison named {name!r} already exists; pass load_if_exists=True to "
                "resume it, or choose another name"
            ),
        )
        return ComparisonRecord(**{**record.__dict__, "comparison_id": key})

    def add_comparison_study(
        self, comparison_id: int, study_id: int, *, label: str, seed: int
    ) -> None:
        row = {"comparison_id": comparison_id, "study_id": study_id, "label": label, "seed": seed}
        try:
            with self._write(undo_on_error=True) as conn:
                conn.execute(sa.insert(comparison_studies).values(**row))
        except sa.exc.IntegrityError:
            with self._read() as conn:
                args = {"p_comparison": comparison_id, "p_study": study_id}
                if conn.execute(q.COMPARISON_ID, args).first() is None:
                    raise ComparisonNotFoundError(
                        f"no comparison with id {comparison_id}"
                    ) from None
                if conn.execute(q.STUDY_NAME, args).first() is None:
                    raise _no_study(study_id) from None
            raise DuplicateComparisonError(
                f"comparison {comparison_id} already has a study for searcher {label!r} and "
                f"seed {seed} (or study {study_id})"
            ) from None

    def _comparisons(self, where: sa.ColumnElement[bool] | None) -> list[ComparisonRecord]:
        stmt = sa.select(comparisons).order_by(comparisons.c.id)
        if where is not None:
            stmt = stmt.where(where)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            ids = [r.id for r in rows]
            members: dict[int, list[ComparisonMember]] = {i: [] for i in ids}
            if ids:
                for cid, sid, sname, label, seed in conn.execute(
                    q.COMPARISON_MEMBERS, {"p_comparisons": ids}
                ):
                    members[cid].append(ComparisonMember(sid, sname, label, int(seed)))
        return [q.comparison_record(r, members[r.id]) for r in rows]

    def get_comparison(self, name: str) -> ComparisonRecord:
        found = self._comparisons(comparisons.c.name == name)
        if not found:
            raise ComparisonNotFoundError(f"no comparison named {name!r}")
        return found[0]

    def list_comparisons(self) -> list[ComparisonRecord]:
        return self._comparisons(None)

    def delete_comparison(self, name: str) -> None:
        with self._write() as conn:
            conn.execute(q.DELETE_COMPARISON_LINKS, {"p_name": name})  # the studies stay
            deleted = conn.execute(q.DELETE_COMPARISON, {"p_name": name}).rowcount
        if not deleted:
            raise ComparisonNotFoundError(f"no comparison named {name!r}")
