"""privacy: messages linked to their customer, comment retention, scheduled worker runs

Revision ID: d4e5f6a7b8c9
Revises: c3d1e2f4a5b6
Create Date: 2026-11-24 12:00:00

Messages already queued are linked to their customer where the payload names one: emails by
their ``customer_id``, webhooks by the customer id in their data.
"""

from alembic import op
import sqlalchemy as sa


revision = "d4e5f6a7b8c9"
down_revision = "c3d1e2f4a5b6"
branch_labels = None
depends_on = None

BACKFILL = {
    "postgresql": [
        "UPDATE outbox_messages SET customer_id = (payload->>'customer_id')::integer "
        "WHERE kind = 'email' AND payload->>'customer_id' ~ '^[0-9]+$' "
        "AND EXISTS (SELECT 1 FROM customers c WHERE c.id = (payload->>'customer_id')::integer)",
        "UPDATE outbox_messages o SET customer_id = c.id FROM customers c "
        "WHERE o.kind = 'webhook' AND c.site_id = o.site_id AND c.external_id = "
        "COALESCE(o.payload->'data'->'customer'->>'id', o.payload->'data'->>'customer')",
    ],
    "sqlite": [
        "UPDATE outbox_messages SET customer_id = (SELECT c.id FROM customers c "
        "WHERE c.id = json_extract(outbox_messages.payload, '$.customer_id')) "
        "WHERE kind = 'email'",
        "UPDATE outbox_messages SET customer_id = (SELECT c.id FROM customers c "
        "WHERE c.site_id = outbox_messages.site_id AND c.external_id = COALESCE("
        "json_extract(outbox_messages.payload, '$.data.customer.id'), "
        "json_extract(outbox_messages.payload, '$.data.customer'))) WHERE kind = 'webhook'",
    ],
}


def upgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_outbox_messages_customer_id", ["customer_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_outbox_messages_customer_id_customers",
            "customers",
            ["customer_id"],
            ["id"],
            ondelete="CASCADE",
        )
    for statement in BACKFILL[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comment_retention_months", sa.Integer(), nullable=True))
    op.create_table(
        "scheduled_runs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_scheduled_runs"),
    )


def downgrade():
    op.drop_table("scheduled_runs")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("comment_retention_months")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outbox_messages_customer_id_customers", type_="foreignkey")
        batch_op.drop_index("ix_outbox_messages_customer_id")
        batch_op.drop_column("customer_id")
