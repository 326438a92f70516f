"""Multi-fidelity settings and owner as study columns; suggestions on trials; summaries.

* ``studies``: ``budget`` (JSON), ``stopper``, ``stopper_kwargs`` (JSON, ``{}``) and
  ``owner`` (who drives the study; NULL: in-process drivers), plus ``last_activity`` (the
  latest trial start, heartbeat or finish, kept by the storage for study summaries).
* ``trials``: ``suggestion_id`` and ``searcher_info`` (JSON, ``{}``): the searcher's ask a
  trial evaluates.
* Index ``ix_trials_study_best`` ``(study_id, state, value, number)``: a study's best
  COMPLETE value and its trial in two index seeks.
* Data: each study's ``user_attrs["hpo:fidelity"]`` (``{"budget": {"name", "min", "max"},
  "stopper": ..., "stopper_kwargs": {...}}``) moves to the new columns and leaves
  ``user_attrs``; ``last_activity`` is computed from the trials. The downgrade puts the
  attribute back.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)
_EMPTY_OBJECT = sa.text("'{}'")
FIDELITY_ATTR = "hpo:fidelity"

# the columns the data steps touch, as of this revision
_studies = sa.table(
    "studies",
    sa.column("id", sa.Integer),
    sa.column("user_attrs", sa.JSON),
    sa.column("budget", sa.JSON(none_as_null=True)),
    sa.column("stopper", sa.String),
    sa.column("stopper_kwargs", sa.JSON),
    sa.column("last_activity", _TIMESTAMP),
)
_trials = sa.table(
    "trials",
    sa.column("study_id", sa.Integer),
    sa.column("datetime_start", _TIMESTAMP),
    sa.column("heartbeat", _TIMESTAMP),
    sa.column("datetime_complete", _TIMESTAMP),
)


def upgrade() -> None:
    _refuse_offline()
    op.add_column("studies", sa.Column("budget", sa.JSON, nullable=True))
    op.add_column("studies", sa.Column("stopper", sa.String(128), nullable=True))
    op.add_column(
        "studies",
        sa.Column("stopper_kwargs", sa.JSON, nullable=False, server_default=_EMPTY_OBJECT),
    )
    op.add_column("studies", sa.Column("owner", sa.String(256), nullable=True))
    op.add_column("studies", sa.Column("last_activity", _TIMESTAMP, nullable=True))
    op.add_column("trials", sa.Column("suggestion_id", sa.String(128), nullable=True))
    op.add_column(
        "trials",
        sa.Column("searcher_info", sa.JSON, nullable=False, server_default=_EMPTY_OBJECT),
    )
    op.create_index("ix_trials_study_best", "trials", ["study_id", "state", "value", "number"])
    conn = op.get_bind()
    _move_fidelity_to_columns(conn)
    _fill_last_activity(conn)


def downgrade() -> None:
    _refuse_offline()
    conn = op.get_bind()
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): recreating ``studies`` in batch
    # mode would drop the table, and with foreign keys on that deletes every trial
    if conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35, 0):
        raise RuntimeError(
            "downgrading an hpo database below revision 0003 needs SQLite 3.35 or newer "
            f"(ALTER TABLE ... DROP COLUMN); this Python has SQLite {sqlite3.sqlite_version}"
        )
    _move_fidelity_to_user_attrs(conn)
    op.drop_index("ix_trials_study_best", table_name="trials")
    op.drop_column("trials", "searcher_info")
    op.drop_column("trials", "suggestion_id")
    for column in ("last_activity", "owner", "stopper_kwargs", "stopper", "budget"):
        op.drop_column("studies", column)


def _refuse_offline() -> None:
    if context.is_offline_mode():
        raise RuntimeError(
            "revision 0003 moves data between columns, which needs the database: run it "
            "online (open the storage, or alembic upgrade without --sql)"
        )


def _move_fidelity_to_columns(conn: sa.Connection) -> None:
    rows = conn.execute(sa.select(_studies.c.id, _studies.c.user_attrs)).all()
    for study_id, attrs in rows:
        fidelity = (attrs or {}).get(FIDELITY_ATTR)
        if not isinstance(fidelity, dict):
            continue
        conn.execute(
            sa.update(_studies)
            .where(_studies.c.id == study_id)
            .values(
                budget=fidelity.get("budget"),
                stopper=fidelity.get("stopper"),
                stopper_kwargs=fidelity.get("stopper_kwargs") or {},
                user_attrs={k: v for k, v in attrs.items() if k != FIDELITY_ATTR},
            )
        )


def _move_fidelity_to_user_attrs(conn: sa.Connection) -> None:
    """The attribute as hpo wrote it before 0003: ``{"budget": ...}`` without a stopper,
    ``{"budget", "stopper", "stopper_kwargs"}`` with one."""
    rows = conn.execute(
        sa.select(
            _studies.c.id,
            _studies.c.user_attrs,
            _studies.c.budget,
            _studies.c.stopper,
            _studies.c.stopper_kwargs,
        )
    ).all()
    for study_id, attrs, budget, stopper, stopper_kwargs in rows:
        fidelity: dict[str, Any] = {}
        if budget is not None:
            fidelity["budget"] = budget
        if stopper is not None:
            fidelity["stopper"] = stopper
        if stopper is not None or stopper_kwargs:
            fidelity["stopper_kwargs"] = stopper_kwargs or {}
        if not fidelity:
            continue
        conn.execute(
            sa.update(_studies)
            .where(_studies.c.id == study_id)
            .values(user_attrs={**(attrs or {}), FIDELITY_ATTR: fidelity})
        )


def _fill_last_activity(conn: sa.Connection) -> None:
    """Each study's latest trial start, heartbeat or finish."""
    latest = conn.execute(
        sa.select(
            _trials.c.study_id,
            sa.func.max(_trials.c.datetime_start),
            sa.func.max(_trials.c.heartbeat),
            sa.func.max(_trials.c.datetime_complete),
        ).group_by(_trials.c.study_id)
    ).all()
    updates = []
    for study_id, *stamps in latest:
        present = [s for s in stamps if s is not None]
        if present:
            updates.append({"b_id": study_id, "b_at": max(present)})
    if updates:
        conn.execute(
            sa.update(_studies)
            .where(_studies.c.id == sa.bindparam("b_id"))
            .values(last_activity=sa.bindparam("b_at")),
            updates,
        )
