"""lifecycle events: what billing says happened after the flow; the Stripe connector's settings

Revision ID: 1a2b3c4d5e6f
Revises: f6a7b8c9d0e1
Create Date: 2026-11-24 10:30:00

"""

from alembic import op
import sqlalchemy as sa


revision = "1a2b3c4d5e6f"
down_revision = "f6a7b8c9d0e1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "lifecycle_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mrr", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "type IN ('subscription.cancelled', 'subscription.reactivated', "
            "'subscription.renewed', 'mrr.changed')",
            name="ck_lifecycle_events_type",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_lifecycle_events_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name="fk_lifecycle_events_site_id_sites", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lifecycle_events"),
        sa.UniqueConstraint("site_id", "event_id", name="uq_lifecycle_events_site_id_event_id"),
    )
    op.create_index(
        "ix_lifecycle_events_site_type_occurred",
        "lifecycle_events",
        ["site_id", "type", "occurred_at", "customer_id"],
        unique=False,
    )
    op.create_index(
        "ix_lifecycle_events_customer_occurred",
        "lifecycle_events",
        ["customer_id", "occurred_at", "type"],
        unique=False,
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stripe_webhook_secret", sa.String(length=255), nullable=True)
        )
        batch_op.add_column(sa.Column("stripe_api_key", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column(
                "stripe_apply_cancellations",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade():
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("stripe_apply_cancellations")
        batch_op.drop_column("stripe_api_key")
        batch_op.drop_column("stripe_webhook_secret")
    op.drop_index("ix_lifecycle_events_customer_occurred", table_name="lifecycle_events")
    op.drop_index("ix_lifecycle_events_site_type_occurred", table_name="lifecycle_events")
    op.drop_table("lifecycle_events")
