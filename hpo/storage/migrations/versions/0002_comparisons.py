"""Comparisons: named groups of studies (searchers x seeds on one problem).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("problem", sa.String(256), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("n_trials", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("optimum", sa.Double, nullable=True),
        sa.Column("reference", sa.Double, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.UniqueConstraint("name", name="uq_comparisons_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "comparison_studies",
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
        sa.UniqueConstraint(
            "comparison_id", "label", "seed", name="uq_comparison_studies_label_seed"
        ),
    )
    op.create_index("ix_comparison_studies_study", "comparison_studies", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_comparison_studies_study", table_name="comparison_studies")
    op.drop_table("comparison_studies")
    op.drop_table("comparisons")
