"""experiments: a holdout per site and A/B tests of offers per reason; each session records
its arm in them

Revision ID: 3c4d5e6f7a8b
Revises: 1a2b3c4d5e6f
Create Date: 2026-11-24 10:30:00

"""

from alembic import op
import sqlalchemy as sa


revision = "3c4d5e6f7a8b"
down_revision = "1a2b3c4d5e6f"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("reason_id", sa.Integer(), nullable=True),
        sa.Column("holdout_percent", sa.Integer(), nullable=True),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("planned_size", sa.Integer(), nullable=False),
        sa.Column("winner_offer_id", sa.Integer(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('holdout', 'ab')", name="ck_experiments_kind"),
        sa.CheckConstraint(
            "status IN ('running', 'paused', 'ended')", name="ck_experiments_status"
        ),
        sa.ForeignKeyConstraint(
            ["reason_id"], ["reasons.id"], name="fk_experiments_reason_id_reasons",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name="fk_experiments_site_id_sites", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["winner_offer_id"], ["offers.id"], name="fk_experiments_winner_offer_id_offers",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_experiments"),
    )  # fmt: skip
    op.create_index("ix_experiments_site_status", "experiments", ["site_id", "status"])
    op.create_table(
        "experiment_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("weight > 0", name="ck_experiment_variants_weight"),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"],
            name="fk_experiment_variants_experiment_id_experiments", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name="fk_experiment_variants_offer_id_offers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_experiment_variants"),
        sa.UniqueConstraint(
            "experiment_id", "offer_id", name="uq_experiment_variants_experiment_id_offer_id"
        ),
    )  # fmt: skip
    op.create_index(
        "ix_experiment_variants_experiment_id", "experiment_variants", ["experiment_id"]
    )
    with op.batch_alter_table("cancellation_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holdout_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("holdout_arm", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("ab_test_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ab_arm", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            "fk_cancellation_sessions_holdout_id_experiments", "experiments",
            ["holdout_id"], ["id"], ondelete="SET NULL",
        )  # fmt: skip
        batch_op.create_foreign_key(
            "fk_cancellation_sessions_ab_test_id_experiments", "experiments",
            ["ab_test_id"], ["id"], ondelete="SET NULL",
        )  # fmt: skip
        batch_op.create_index(
            "ix_cancellation_sessions_holdout", ["holdout_id", "holdout_arm", "outcome", "mrr"]
        )
        batch_op.create_index(
            "ix_cancellation_sessions_ab_test", ["ab_test_id", "ab_arm", "outcome", "mrr"]
        )


def downgrade():
    with op.batch_alter_table("cancellation_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_cancellation_sessions_ab_test")
        batch_op.drop_index("ix_cancellation_sessions_holdout")
        batch_op.drop_constraint(
            "fk_cancellation_sessions_ab_test_id_experiments", type_="foreignkey"
        )
        batch_op.drop_constraint(
            "fk_cancellation_sessions_holdout_id_experiments", type_="foreignkey"
        )
        batch_op.drop_column("ab_arm")
        batch_op.drop_column("ab_test_id")
        batch_op.drop_column("holdout_arm")
        batch_op.drop_column("holdout_id")
    op.drop_index("ix_experiment_variants_experiment_id", table_name="experiment_variants")
    op.drop_table("experiment_variants")
    op.drop_index("ix_experiments_site_status", table_name="experiments")
    op.drop_table("experiments")
