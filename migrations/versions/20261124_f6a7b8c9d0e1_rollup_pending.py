"""rollup_pending: completions queued for the rollups (completing takes no shared row)

Revision ID: f6a7b8c9d0e1
Revises: e5f6a7b8c9d0
Create Date: 2026-11-24 18:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = "f6a7b8c9d0e1"
down_revision = "e5f6a7b8c9d0"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rollup_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["cancellation_sessions.id"],
            name="fk_rollup_pending_session_id_cancellation_sessions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name="fk_rollup_pending_site_id_sites", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rollup_pending"),
        sa.UniqueConstraint("session_id", name="uq_rollup_pending_session_id"),
    )
    op.create_index("ix_rollup_pending_site_id", "rollup_pending", ["site_id"], unique=False)


def downgrade():
    op.drop_index("ix_rollup_pending_site_id", table_name="rollup_pending")
    op.drop_table("rollup_pending")
