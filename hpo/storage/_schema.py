"""Table definitions of the SQL storage (SQLAlchemy Core), mirrored by the migrations.

The schema itself is created and changed only by the Alembic migrations in
``hpo/storage/migrations``; these tables are what :mod:`hpo.storage.sql` queries, and a test
checks that the two agree.

Design choices:

* Parameters, metrics and attributes are JSON columns on the trial row (no per-row
  attribute tables), so a trial is one row to write and one row to read.
* Intermediate values live in their own table keyed by ``(trial_id, step)``: a report is one
  small upsert instead of rewriting a growing JSON blob.
* ``studies.seq`` is the study's change sequence and ``trials.seq`` the sequence of a
  trial's last change; ``get_trials(since=...)`` reads through the ``(study_id, seq)`` index.
* ``studies.n_trials`` is the next trial number, bumped in the same statement as ``seq``.
* Study summaries come from aggregates, never from reading every trial: counts by state
  from ``GROUP BY`` over the ``(study_id, state, number)`` index, the best COMPLETE value
  and its trial from two seeks in the ``(study_id, state, value, number)`` index, and the
  last activity from ``studies.last_activity``, kept up to date (the latest trial start,
  heartbeat or finish) by the statement that bumps ``seq``.
* Multi-fidelity settings (``budget``, ``stopper``, ``stopper_kwargs``) and the study's
  ``owner`` (who drives it) are study columns; a trial records the searcher's suggestion
  it evaluates (``suggestion_id``, ``searcher_info``).
* Comparisons are tables of their own (``comparisons``, and ``comparison_studies`` linking
  a comparison to one study per searcher label and seed), not study attributes; deleting
  a study or a comparison removes its links.
* Server replicas (0004): ``studies.searcher_state_version`` is bumped by every save of
  the searcher state (compare-and-set saves compare it), and ``trials.worker_id`` records
  the worker that asked for a trial, found again through ``ix_trials_study_worker``.
* Dashboard controls (0005): ``studies.stopped_at`` (NULL: the study runs) and one
  Markdown note per study in ``study_notes`` (its body, a version for compare-and-set
  saves, the time of the last save), a table of its own so that reading studies never
  reads notes.
* JSON (not JSONB) on PostgreSQL: it keeps key order, so parameters come back in the
  order of the space.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()

TRIAL_STATES = ("WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAILED")

#: 64-bit on PostgreSQL; plain INTEGER on SQLite so that primary keys alias the rowid.
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware UTC.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text (it has no time zones).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware, got the naive {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_type(*, nullable: bool = False) -> sa.JSON:
    """A JSON column type; nullable ones store Python ``None`` as SQL NULL."""
    return sa.JSON(none_as_null=nullable)


#: the server default of NOT NULL JSON object columns added to existing tables
EMPTY_JSON_OBJECT = sa.text("'{}'")


studies = sa.Table(
    "studies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("space", json_type(), nullable=False),
    sa.Column("define_by_run", sa.Boolean, nullable=False, default=False),
    sa.Column("searcher", sa.String(128), nullable=False),
    sa.Column("searcher_kwargs", json_type(), nullable=False),
    sa.Column("searcher_state", json_type(nullable=True), nullable=True),
    sa.Column("seed", sa.BigInteger, nullable=True),
    sa.Column("metric", sa.String(256), nullable=True),
    sa.Column("user_attrs", json_type(), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("seq", BigInt, nullable=False, default=0),
    sa.Column("n_trials", sa.Integer, nullable=False, default=0),
    sa.Column("budget", json_type(nullable=True), nullable=True),
    sa.Column("stopper", sa.String(128), nullable=True),
    sa.Column("stopper_kwargs", json_type(), nullable=False, server_default=EMPTY_JSON_OBJECT),
    sa.Column("owner", sa.String(256), nullable=True),
    sa.Column("last_activity", UTCDateTime, nullable=True),
    sa.Column("searcher_state_version", BigInt, nullable=False, server_default=sa.text("0")),
    sa.Column("stopped_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("name", name="uq_studies_name"),
    sqlite_autoincrement=True,  # never reuse the id of a deleted study
)

trials = sa.Table(
    "trials",
    metadata,
    sa.Column("id", BigInt, primary_key=True, autoincrement=True),
    sa.Column(
        "study_id",
        sa.Integer,
        sa.ForeignKey("studies.id", ondelete="CASCADE", name="fk_trials_study_id"),
        nullable=False,
    ),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("params", json_type(), nullable=False),
    sa.Column("value", sa.Double, nullable=True),
    sa.Column("metrics", json_type(), nullable=False),
    sa.Column("user_attrs", json_type(), nullable=False),
    sa.Column("datetime_start", UTCDateTime, nullable=True),
    sa.Column("datetime_complete", UTCDateTime, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("budget", sa.Double, nullable=True),
    sa.Column("parent", sa.Integer, nullable=True),
    sa.Column("searcher_time", sa.Double, nullable=True),
    sa.Column("heartbeat", UTCDateTime, nullable=True),
    sa.Column("seq", BigInt, nullable=False),
    sa.Column("suggestion_id", sa.String(128), nullable=True),
    sa.Column("searcher_info", json_type(), nullable=False, server_default=EMPTY_JSON_OBJECT),
    sa.Column("worker_id", sa.String(128), nullable=True),
    sa.UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
    sa.CheckConstraint(
        "state IN ('WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAILED')",
        name="ck_trials_state",
    ),
    sa.Index("ix_trials_study_seq", "study_id", "seq"),
    sa.Index("ix_trials_study_state", "study_id", "state", "number"),
    sa.Index("ix_trials_study_best", "study_id", "state", "value", "number"),
    sa.Index("ix_trials_study_worker", "study_id", "worker_id"),
)

trial_intermediate_values = sa.Table(
    "trial_intermediate_values",
    metadata,
    sa.Column(
        "trial_id",
        BigInt,
        sa.ForeignKey("trials.id", ondelete="CASCADE", name="fk_trial_intermediate_values_trial"),
        primary_key=True,
    ),
    sa.Column("step", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.Double, nullable=False),
)

study_notes = sa.Table(
    "study_notes",
    metadata,
    sa.Column(
        "study_id",
        sa.Integer,
        sa.ForeignKey("studies.id", ondelete="CASCADE", name="fk_study_notes_study_id"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("version", BigInt, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column(
        "study_id",
        sa.Integer,
        sa.ForeignKey("studies.id", ondelete="CASCADE", name="fk_counters_study_id"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", BigInt, nullable=False),
)

comparisons = sa.Table(
    "comparisons",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("problem", sa.String(256), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("n_trials", sa.Integer, nullable=False),
    sa.Column("spec", json_type(), nullable=False),
    sa.Column("optimum", sa.Double, nullable=True),
    sa.Column("reference", sa.Double, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("name", name="uq_comparisons_name"),
    sqlite_autoincrement=True,
)

comparison_studies = sa.Table(
    "comparison_studies",
    metadata,
    sa.Column(
        "comparison_id",
        sa.Integer,
        sa.ForeignKey(
            "comparisons.id", ondelete="CASCADE", name="fk_comparison_studies_comparison"
        ),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column(
        "study_id",
        sa.Integer,
        sa.ForeignKey("studies.id", ondelete="CASCADE", name="fk_comparison_studies_study"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("label", sa.String(256), nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("comparison_id", "label", "seed", name="uq_comparison_studies_label_seed"),
    sa.Index("ix_comparison_studies_study", "study_id"),
)
