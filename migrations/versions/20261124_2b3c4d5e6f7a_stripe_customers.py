"""stripe customers: a customer's Stripe id, from the token's stripe_customer claim

Revision ID: 2b3c4d5e6f7a
Revises: 1a2b3c4d5e6f
Create Date: 2026-11-24 11:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = "2b3c4d5e6f7a"
down_revision = "1a2b3c4d5e6f"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stripe_customer_id", sa.String(length=255), nullable=True))
        batch_op.create_index(
            "ix_customers_site_stripe", ["site_id", "stripe_customer_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_site_stripe")
        batch_op.drop_column("stripe_customer_id")
