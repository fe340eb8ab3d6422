"""stripe customers and billing outcomes: a customer's Stripe id (the token's stripe_customer
claim); when billing reported a session's customer cancelled, for retention figures

Revision ID: 2b3c4d5e6f7a
Revises: 3c4d5e6f7a8b
Create Date: 2026-11-24 11:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = "2b3c4d5e6f7a"
down_revision = "3c4d5e6f7a8b"
branch_labels = None
depends_on = None


def upgrade():
    # No lifecycle event is older than the previous revision, so no session has one yet.
    with op.batch_alter_table("cancellation_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("billing_cancelled_after", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_cancellation_sessions_outcomes",
            ["site_id", "outcome", "completed_at", "billing_cancelled_after", "currency", "mrr"],
            unique=False,
        )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stripe_customer_id", sa.String(length=255), nullable=True))
        batch_op.create_index(
            "ix_customers_site_stripe", ["site_id", "stripe_customer_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("cancellation_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_cancellation_sessions_outcomes")
        batch_op.drop_column("billing_cancelled_after")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_site_stripe")
        batch_op.drop_column("stripe_customer_id")
