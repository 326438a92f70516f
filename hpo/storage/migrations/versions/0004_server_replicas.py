"""Server replicas: a versioned searcher state and the worker id of asked trials.

* ``studies.searcher_state_version`` (NOT NULL, 0): bumped by every save of the searcher
  state, so a server replica sees that another one advanced the searcher (and a
  compare-and-set save refuses a stale state). Existing studies start at 0, or 1 when
  they already have a saved state.
* ``trials.worker_id`` (NULL): the worker that asked for a RUNNING trial, so a worker that
  asks again before telling gets its own trial back; index ``ix_trials_study_worker``
  ``(study_id, worker_id)`` finds them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_studies = sa.table(
    "studies",
    sa.column("id", sa.Integer),
    sa.column("searcher_state", sa.JSON),
    sa.column("searcher_state_version", _BIGINT),
)


def upgrade() -> None:
    op.add_column(
        "studies",
        sa.Column("searcher_state_version", _BIGINT, nullable=False, server_default=sa.text("0")),
    )
    op.add_column("trials", sa.Column("worker_id", sa.String(128), nullable=True))
    op.create_index("ix_trials_study_worker", "trials", ["study_id", "worker_id"])
    # a state saved before versions existed is version 1 (SQL NULL and JSON null: none)
    conn = op.get_bind()
    rows = conn.execute(sa.select(_studies.c.id, _studies.c.searcher_state)).all()
    saved = [{"b_id": study_id} for study_id, state in rows if state is not None]
    if saved:
        conn.execute(
            sa.update(_studies)
            .where(_studies.c.id == sa.bindparam("b_id"))
            .values(searcher_state_version=1),
            saved,
        )


def downgrade() -> None:
    bind = op.get_bind()
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): recreating ``studies`` in batch
    # mode would drop the table, and with foreign keys on that deletes every trial
    if bind.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35, 0):
        raise RuntimeError(
            "downgrading an hpo database below revision 0004 needs SQLite 3.35 or newer "
            f"(ALTER TABLE ... DROP COLUMN); this Python has SQLite {sqlite3.sqlite_version}"
        )
    op.drop_index("ix_trials_study_worker", table_name="trials")
    op.drop_column("trials", "worker_id")
    op.drop_column("studies", "searcher_state_version")
