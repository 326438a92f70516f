"""The statements :class:`hpo.storage.sql.SQLStorage` runs, built once at import.

Building a SQLAlchemy statement costs more than running it on SQLite, so the hot paths
(ask, tell, report) execute these prebuilt statements with bound parameters (``p_*``).
Also here: turning rows into :class:`~hpo.trial.FrozenTrial`,
:class:`~hpo.storage.base.StudyRecord` and :class:`~hpo.storage.base.StudySummary` values.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam
from sqlalchemy.engine import Row

from hpo.budget import Budget
from hpo.space import Space
from hpo.storage._schema import comparison_studies, comparisons, counters, studies, trials
from hpo.storage._schema import study_notes as notes
from hpo.storage._schema import trial_intermediate_values as ivalues
from hpo.storage.base import ComparisonMember, ComparisonRecord, StudyRecord, StudySummary
from hpo.trial import FrozenTrial, TrialState

UNFINISHED = (TrialState.WAITING.value, TrialState.RUNNING.value)

_STUDY: sa.BindParameter[int] = bindparam("p_study")
_NUMBER: sa.BindParameter[int] = bindparam("p_number")
_SEQ: sa.BindParameter[int] = bindparam("p_seq")
_THIS_TRIAL = (trials.c.study_id == _STUDY, trials.c.number == _NUMBER)
TRIAL_COLUMNS = tuple(trials.c)
#: whether a trial has intermediate values (saves a query when it has none). Written out
#: because SQLAlchemy renders RETURNING columns unqualified, subqueries included.
HAS_VALUES = sa.literal_column(
    "EXISTS (SELECT 1 FROM trial_intermediate_values AS iv WHERE iv.trial_id = trials.id)",
    sa.Boolean,
).label("has_values")

# --- studies -----------------------------------------------------------------------------
_NOW: sa.BindParameter[Any] = bindparam("p_now", type_=studies.c.last_activity.type)
#: ``last_activity`` moved forward to ``p_now`` (never back: writers' clocks interleave)
_LATEST_ACTIVITY = sa.case(
    (sa.or_(studies.c.last_activity.is_(None), studies.c.last_activity < _NOW), _NOW),
    else_=studies.c.last_activity,
)


def _bump(*, number: bool, activity: bool) -> sa.Update:
    """Lock the study row and take the next change sequence (and the next trial number;
    and record a trial start, heartbeat or finish at ``p_now`` as its last activity)."""
    values: dict[str, Any] = {"seq": studies.c.seq + 1}
    returning = [studies.c.seq]
    if number:
        values["n_trials"] = studies.c.n_trials + 1
        returning.append(studies.c.n_trials)
    if activity:
        values["last_activity"] = _LATEST_ACTIVITY
    return sa.update(studies).where(studies.c.id == _STUDY).values(**values).returning(*returning)


#: lock the study row and take the next change sequence
BUMP_SEQ = _bump(number=False, activity=False)
#: the same, for a trial start, heartbeat or finish at ``p_now``
BUMP_SEQ_ACTIVE = _bump(number=False, activity=True)
#: lock the study row, take the next change sequence and the next trial number
BUMP_SEQ_AND_NUMBER = _bump(number=True, activity=False)
#: the same, for a trial started at ``p_now``
BUMP_SEQ_AND_NUMBER_ACTIVE = _bump(number=True, activity=True)
STUDY_N_TRIALS = sa.select(studies.c.n_trials).where(studies.c.id == _STUDY)
STUDY_NAME = sa.select(studies.c.name).where(studies.c.id == _STUDY)
#: the study's advisory lock on PostgreSQL, until the transaction ends; keyed by the schema
#: (tests and tenants share one database) and the study id
STUDY_ADVISORY_LOCK = sa.text(
    "SELECT pg_advisory_xact_lock(hashtext('hpo:study:' || coalesce(current_schema(), '')), "
    ":p_study)"
)
#: the searcher state and its version, in one read
SEARCHER_STATE = sa.select(studies.c.searcher_state, studies.c.searcher_state_version).where(
    studies.c.id == _STUDY
)
_STATE_VALUES = {
    "searcher_state": bindparam("p_state", type_=studies.c.searcher_state.type),
    "searcher_state_version": studies.c.searcher_state_version + 1,
}
#: save the searcher state, bumping its version
SAVE_STATE = (
    sa.update(studies)
    .where(studies.c.id == _STUDY)
    .values(**_STATE_VALUES)
    .returning(studies.c.searcher_state_version)
)
#: the same, only from version ``p_version`` (compare-and-set)
SAVE_STATE_IF = (
    sa.update(studies)
    .where(studies.c.id == _STUDY, studies.c.searcher_state_version == bindparam("p_version"))
    .values(**_STATE_VALUES)
    .returning(studies.c.searcher_state_version)
)
#: stop a study (keeping the first stop's time) and return its ``stopped_at``
STOP_STUDY = (
    sa.update(studies)
    .where(studies.c.id == _STUDY)
    .values(stopped_at=sa.func.coalesce(studies.c.stopped_at, _NOW))
    .returning(studies.c.stopped_at)
)
#: resume a study
RESUME_STUDY = (
    sa.update(studies).where(studies.c.id == _STUDY).values(stopped_at=None).returning(studies.c.id)
)
STUDY_STOPPED_AT = sa.select(studies.c.id, studies.c.stopped_at).where(studies.c.id == _STUDY)
#: a study's note (no row: never written)
STUDY_NOTE = sa.select(notes.c.body, notes.c.version, notes.c.updated_at).where(
    notes.c.study_id == _STUDY
)
COUNT_IN_STATES = (
    sa.select(sa.func.count())
    .select_from(trials)
    .where(trials.c.study_id == _STUDY, trials.c.state.in_(bindparam("p_states", expanding=True)))
)

# --- trials ------------------------------------------------------------------------------
INSERT_TRIAL = sa.insert(trials)
TRIAL = sa.select(*TRIAL_COLUMNS, HAS_VALUES).where(*_THIS_TRIAL)
TRIAL_STATE = sa.select(trials.c.state).where(*_THIS_TRIAL)
#: the RUNNING trials a worker asked for (through ``ix_trials_study_worker``)
WORKER_TRIALS = (
    sa.select(*TRIAL_COLUMNS, HAS_VALUES)
    .where(
        trials.c.study_id == _STUDY,
        trials.c.worker_id == bindparam("p_worker"),
        trials.c.state == TrialState.RUNNING.value,
    )
    .order_by(trials.c.number)
)
TRIAL_FIELDS = sa.select(trials.c.state, trials.c.params, trials.c.user_attrs).where(*_THIS_TRIAL)
TRIAL_VALUES = (
    sa.select(ivalues.c.step, ivalues.c.value)
    .where(ivalues.c.trial_id == bindparam("p_trial"))
    .order_by(ivalues.c.step)
)


def _update_unfinished(**values: Any) -> sa.Update:
    """Change one WAITING or RUNNING trial, stamping it with the change sequence."""
    unfinished = trials.c.state.in_(UNFINISHED)
    return sa.update(trials).where(*_THIS_TRIAL, unfinished).values(seq=_SEQ, **values)


TOUCH = _update_unfinished(heartbeat=bindparam("p_now")).returning(trials.c.id)
#: beat the RUNNING trials among ``p_numbers`` (one statement, one change sequence)
TOUCH_MANY = (
    sa.update(trials)
    .where(
        trials.c.study_id == _STUDY,
        trials.c.number.in_(bindparam("p_numbers", expanding=True)),
        trials.c.state == TrialState.RUNNING.value,
    )
    .values(seq=_SEQ, heartbeat=bindparam("p_now", type_=trials.c.heartbeat.type))
    .returning(trials.c.number)
)
MARK = _update_unfinished().returning(trials.c.id)
SET_PARAMS = _update_unfinished(params=bindparam("p_params", type_=trials.c.params.type))
SET_ATTRS = _update_unfinished(user_attrs=bindparam("p_attrs", type_=trials.c.user_attrs.type))
FINISH = _update_unfinished(
    state=bindparam("p_state"),
    value=bindparam("p_value"),
    metrics=bindparam("p_metrics", type_=trials.c.metrics.type),
    error=bindparam("p_error"),
    datetime_complete=bindparam("p_now", type_=trials.c.datetime_complete.type),
).returning(*TRIAL_COLUMNS, HAS_VALUES)
_OLDEST_WAITING = (
    sa.select(trials.c.id)
    .where(trials.c.study_id == _STUDY, trials.c.state == TrialState.WAITING.value)
    .order_by(trials.c.number)
    .limit(1)
    .scalar_subquery()
)
START_WAITING = (
    sa.update(trials)
    .where(trials.c.id == _OLDEST_WAITING)
    .values(
        seq=_SEQ,
        state=TrialState.RUNNING.value,
        datetime_start=bindparam("p_now", type_=trials.c.datetime_start.type),
        heartbeat=bindparam("p_now2", type_=trials.c.heartbeat.type),
        worker_id=bindparam("p_worker", type_=trials.c.worker_id.type),
    )
    .returning(*TRIAL_COLUMNS, HAS_VALUES)
)


@functools.cache
def changed_trials(incremental: bool, filtered: bool) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """Two queries: the study's ``seq`` (as ``cursor``; and its ``stopped_at`` as
    ``study_stopped_at``) joined to its trials changed after
    ``p_seq`` / in ``p_states`` (when asked), in one statement, hence one snapshot, even
    under READ COMMITTED (no trial: one row of NULLs; no study: no row), each with
    whether it has intermediate values; and the intermediate values of those trials (run
    only when one has some). Only full reads come in number order."""
    match = [trials.c.study_id == studies.c.id]
    if incremental:
        match.append(trials.c.seq > _SEQ)
    if filtered:
        match.append(trials.c.state.in_(bindparam("p_states", expanding=True)))
    rows = (
        sa.select(
            studies.c.seq.label("cursor"),
            studies.c.stopped_at.label("study_stopped_at"),
            *TRIAL_COLUMNS,
            HAS_VALUES,
        )
        .select_from(studies.outerjoin(trials, sa.and_(*match)))
        .where(studies.c.id == _STUDY)
    )
    if not incremental:  # incremental reads are sorted by the caller: ordering here would
        rows = rows.order_by(trials.c.number)  # steer SQLite off the (study_id, seq) index
    chosen = sa.select(trials.c.id).where(trials.c.study_id == _STUDY, *match[1:])
    values = (
        sa.select(ivalues.c.trial_id, ivalues.c.step, ivalues.c.value)
        .where(ivalues.c.trial_id.in_(chosen))
        .order_by(ivalues.c.trial_id, ivalues.c.step)
    )
    return rows, values


# --- summaries ---------------------------------------------------------------------------
_COMPLETE = TrialState.COMPLETE.value


def _best_value(descending: bool) -> sa.ScalarSelect[Any]:
    """The study's least (greatest) COMPLETE value: one seek in ``ix_trials_study_best``."""
    t = trials.alias("bv")
    return (
        sa.select(t.c.value)
        .where(t.c.study_id == studies.c.id, t.c.state == _COMPLETE, t.c.value.is_not(None))
        .order_by(t.c.value.desc() if descending else t.c.value)
        .limit(1)
        .scalar_subquery()
    )


@functools.cache
def study_summaries(filtered: bool) -> sa.Select[Any]:
    """One statement for the summaries of all studies (of ``p_studies`` when ``filtered``),
    oldest first, in one snapshot. Per study: its counts by state (``n_<state>``, NULL
    without trials) from one ``GROUP BY`` over the ``(study_id, state, number)`` index, the
    best value and the earliest trial holding it by seeks in ``ix_trials_study_best``, and
    the maintained ``last_activity``; no trial row is read."""
    ids: sa.BindParameter[list[int]] = bindparam("p_studies", expanding=True)
    counts = sa.select(
        trials.c.study_id,
        *(
            sa.func.sum(sa.case((trials.c.state == s.value, 1), else_=0)).label(_count_key(s))
            for s in TrialState
        ),
    ).group_by(trials.c.study_id)
    best_value = sa.case(
        (studies.c.direction == "maximize", _best_value(descending=True)),
        else_=_best_value(descending=False),
    ).label("best_value")
    base = sa.select(
        studies.c.id,
        studies.c.name,
        studies.c.direction,
        studies.c.searcher,
        studies.c.created_at,
        studies.c.owner,
        studies.c.last_activity,
        studies.c.stopped_at,
        best_value,
    )
    if filtered:
        counts = counts.where(trials.c.study_id.in_(ids))
        base = base.where(studies.c.id.in_(ids))
    by_state = counts.subquery("counts")
    s = base.subquery("s")
    t = trials.alias("bn")
    best_number = (
        sa.select(t.c.number)
        .where(t.c.study_id == s.c.id, t.c.state == _COMPLETE, t.c.value == s.c.best_value)
        .order_by(t.c.number)
        .limit(1)
        .scalar_subquery()
        .label("best_number")
    )
    return (
        sa.select(s, best_number, *(by_state.c[_count_key(st)] for st in TrialState))
        .select_from(s.outerjoin(by_state, by_state.c.study_id == s.c.id))
        .order_by(s.c.id)
    )


def _count_key(state: TrialState) -> str:
    return f"n_{state.value.lower()}"


# --- comparisons -------------------------------------------------------------------------
COMPARISON_ID = sa.select(comparisons.c.id).where(comparisons.c.id == bindparam("p_comparison"))
_NAMED_COMPARISON = sa.select(comparisons.c.id).where(comparisons.c.name == bindparam("p_name"))
#: a comparison's links to its studies, then the comparison itself (by name)
DELETE_COMPARISON_LINKS = sa.delete(comparison_studies).where(
    comparison_studies.c.comparison_id.in_(_NAMED_COMPARISON.scalar_subquery())
)
DELETE_COMPARISON = sa.delete(comparisons).where(comparisons.c.name == bindparam("p_name"))
#: members of the comparisons in ``p_comparisons``, with their study names
COMPARISON_MEMBERS = (
    sa.select(
        comparison_studies.c.comparison_id,
        comparison_studies.c.study_id,
        studies.c.name,
        comparison_studies.c.label,
        comparison_studies.c.seed,
    )
    .join(studies, studies.c.id == comparison_studies.c.study_id)
    .where(comparison_studies.c.comparison_id.in_(bindparam("p_comparisons", expanding=True)))
    .order_by(comparison_studies.c.label, comparison_studies.c.seed)
)


# --- upserts (dialect-specific ON CONFLICT) ---------------------------------------------
def _dialect_insert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


@functools.cache
def next_counter(dialect: str) -> Any:
    """Increment-or-create a counter in one statement, returning its new value."""
    stmt = _dialect_insert(dialect)(counters).values(
        study_id=_STUDY, key=bindparam("p_key"), value=1
    )
    return stmt.on_conflict_do_update(
        index_elements=[counters.c.study_id, counters.c.key],
        set_={"value": counters.c.value + 1},
    ).returning(counters.c.value)


@functools.cache
def put_intermediate(dialect: str) -> Any:
    """Insert an intermediate value, replacing the one at the same step."""
    stmt = _dialect_insert(dialect)(ivalues).values(
        trial_id=bindparam("p_trial"), step=bindparam("p_step"), value=bindparam("p_value")
    )
    return stmt.on_conflict_do_update(
        index_elements=[ivalues.c.trial_id, ivalues.c.step],
        set_={"value": stmt.excluded.value},
    )


# --- rows to values ----------------------------------------------------------------------
def json_copy(value: Any) -> Any:
    """What the database gives back for ``value``: a deep copy, tuples as lists."""
    return json.loads(json.dumps(value))


def _float(value: Any) -> float | None:
    # SQLite hands back integral REALs as ints from RETURNING
    return None if value is None else float(value)


def frozen_trial(
    row: Row[*tuple[Any, ...]], intermediate: dict[int, float] | None = None
) -> FrozenTrial:
    """A trial row (all of :data:`TRIAL_COLUMNS`) as a snapshot."""
    m = row._mapping
    return FrozenTrial(
        number=m["number"],
        state=TrialState(m["state"]),
        params=m["params"],
        value=_float(m["value"]),
        metrics=m["metrics"],
        intermediate_values=intermediate or {},
        user_attrs=m["user_attrs"],
        datetime_start=m["datetime_start"],
        datetime_complete=m["datetime_complete"],
        error=m["error"],
        budget=_float(m["budget"]),
        parent=m["parent"],
        searcher_time=_float(m["searcher_time"]),
        heartbeat=m["heartbeat"],
        suggestion_id=m["suggestion_id"],
        searcher_info=m["searcher_info"] or {},
    )


def study_record(row: Row[*tuple[Any, ...]]) -> StudyRecord:
    """A study row as a record."""
    m = row._mapping
    return StudyRecord(
        study_id=m["id"],
        name=m["name"],
        direction=m["direction"],
        space=Space.from_json(m["space"]),
        searcher=m["searcher"],
        searcher_kwargs=m["searcher_kwargs"] or {},
        searcher_state=m["searcher_state"],
        seed=m["seed"],
        metric=m["metric"],
        created_at=m["created_at"],
        user_attrs=m["user_attrs"] or {},
        define_by_run=bool(m["define_by_run"]),
        budget=None if m["budget"] is None else Budget.from_json(m["budget"]),
        stopper=m["stopper"],
        stopper_kwargs=m["stopper_kwargs"] or {},
        owner=m["owner"],
        stopped_at=m["stopped_at"],
    )


def study_summary(row: Row[*tuple[Any, ...]]) -> StudySummary:
    """A row of :func:`study_summaries` as a summary."""
    m = row._mapping
    return StudySummary(
        study_id=m["id"],
        name=m["name"],
        direction=m["direction"],
        searcher=m["searcher"],
        counts={s.value: int(m[_count_key(s)] or 0) for s in TrialState},
        best_value=_float(m["best_value"]),
        best_number=m["best_number"],
        last_activity=m["last_activity"],
        created_at=m["created_at"],
        owner=m["owner"],
        stopped_at=m["stopped_at"],
    )


def comparison_record(
    row: Row[*tuple[Any, ...]], members: list[ComparisonMember] | None = None
) -> ComparisonRecord:
    """A comparison row (and its members, already ordered) as a record."""
    m = row._mapping
    return ComparisonRecord(
        comparison_id=m["id"],
        name=m["name"],
        problem=m["problem"],
        direction=m["direction"],
        n_trials=m["n_trials"],
        spec=m["spec"] or {},
        optimum=_float(m["optimum"]),
        reference=_float(m["reference"]),
        created_at=m["created_at"],
        members=tuple(members or ()),
    )
