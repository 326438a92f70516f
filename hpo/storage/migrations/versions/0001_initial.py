"""The initial schema: studies, trials, intermediate values and counters.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("space", sa.JSON, nullable=False),
        sa.Column("define_by_run", sa.Boolean, nullable=False),
        sa.Column("searcher", sa.String(128), nullable=False),
        sa.Column("searcher_kwargs", sa.JSON, nullable=False),
        sa.Column("searcher_state", sa.JSON, nullable=True),
        sa.Column("seed", sa.BigInteger, nullable=True),
        sa.Column("metric", sa.String(256), nullable=True),
        sa.Column("user_attrs", sa.JSON, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("seq", _BIGINT, nullable=False),
        sa.Column("n_trials", sa.Integer, nullable=False),
        sa.UniqueConstraint("name", name="uq_studies_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "trials",
        sa.Column("id", _BIGINT, primary_key=True, autoincrement=True),
        sa.Column(
            "study_id",
            sa.Integer,
            sa.ForeignKey("studies.id", ondelete="CASCADE", name="fk_trials_study_id"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("user_attrs", sa.JSON, nullable=False),
        sa.Column("datetime_start", _TIMESTAMP, nullable=True),
        sa.Column("datetime_complete", _TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("budget", sa.Double, nullable=True),
        sa.Column("parent", sa.Integer, nullable=True),
        sa.Column("searcher_time", sa.Double, nullable=True),
        sa.Column("heartbeat", _TIMESTAMP, nullable=True),
        sa.Column("seq", _BIGINT, nullable=False),
        sa.UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
        sa.CheckConstraint(
            "state IN ('WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAILED')",
            name="ck_trials_state",
        ),
    )
    op.create_index("ix_trials_study_seq", "trials", ["study_id", "seq"])
    op.create_index("ix_trials_study_state", "trials", ["study_id", "state", "number"])
    op.create_table(
        "trial_intermediate_values",
        sa.Column(
            "trial_id",
            _BIGINT,
            sa.ForeignKey(
                "trials.id", ondelete="CASCADE", name="fk_trial_intermediate_values_trial"
            ),
            primary_key=True,
        ),
        sa.Column("step", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("value", sa.Double, nullable=False),
    )
    op.create_table(
        "counters",
        sa.Column(
            "study_id",
            sa.Integer,
            sa.ForeignKey("studies.id", ondelete="CASCADE", name="fk_counters_study_id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("value", _BIGINT, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("counters")
    op.drop_table("trial_intermediate_values")
    op.drop_index("ix_trials_study_state", table_name="trials")
    op.drop_index("ix_trials_study_seq", table_name="trials")
    op.drop_table("trials")
    op.drop_table("studies")
