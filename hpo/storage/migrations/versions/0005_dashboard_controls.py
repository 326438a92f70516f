"""Dashboard controls: a study's stopped state and its Markdown note.

* ``studies.stopped_at`` (NULL): when the study was stopped (from the dashboard or
  ``Storage.set_study_stopped``); a driver opens no new trial of a stopped study.
* ``study_notes``: one Markdown note per study (``study_id`` primary key, deleted with
  the study), with a ``version`` bumped by every save (compare-and-set edits) and
  ``updated_at``. A table of its own: listing studies never reads the notes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)
_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("studies", sa.Column("stopped_at", _TIMESTAMP, nullable=True))
    op.create_table(
        "study_notes",
        sa.Column(
            "study_id",
            sa.Integer,
            sa.ForeignKey("studies.id", ondelete="CASCADE", name="fk_study_notes_study_id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("version", _BIGINT, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    bind = op.get_bind()
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): recreating ``studies`` in batch
    # mode would drop the table, and with foreign keys on that deletes every trial
    if bind.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35, 0):
        raise RuntimeError(
            "downgrading an hpo database below revision 0005 needs SQLite 3.35 or newer "
            f"(ALTER TABLE ... DROP COLUMN); this Python has SQLite {sqlite3.sqlite_version}"
        )
    op.drop_table("study_notes")
    op.drop_column("studies", "stopped_at")
