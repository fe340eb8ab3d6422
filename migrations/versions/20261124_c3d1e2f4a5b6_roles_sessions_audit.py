"""roles per site, session generations, audit log

Revision ID: c3d1e2f4a5b6
Revises: b5ec155de059
Create Date: 2026-11-24 09:00:00

Existing site memberships keep the power they had: they become owners of their sites.
"""

from alembic import op
import sqlalchemy as sa


revision = "c3d1e2f4a5b6"
down_revision = "b5ec155de059"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("site_admins", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=10), nullable=False, server_default="owner")
        )
        batch_op.create_check_constraint(
            "ck_site_admins_role", "role IN ('viewer', 'editor', 'owner')"
        )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["admin_users.id"],
            name="fk_audit_events_actor_id_admin_users",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name="fk_audit_events_site_id_sites", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_created_at", "audit_events", ["created_at"], unique=False)
    op.create_index(
        "ix_audit_events_site_created", "audit_events", ["site_id", "created_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_audit_events_site_created", table_name="audit_events")
    op.drop_index("ix_audit_events_created_at", table_name="audit_events")
    op.drop_table("audit_events")
    with op.batch_alter_table("site_admins", schema=None) as batch_op:
        batch_op.drop_constraint("ck_site_admins_role", type_="check")
        batch_op.drop_column("role")
    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.drop_column("session_generation")
