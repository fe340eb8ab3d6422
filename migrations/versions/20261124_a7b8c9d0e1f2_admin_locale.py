"""admin_locale: each admin's language for the admin area, the PDF report and the digest
(NULL: automatic)

Revision ID: a7b8c9d0e1f2
Revises: 4d5e6f7a8b9c
Create Date: 2026-11-24 20:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = "a7b8c9d0e1f2"
down_revision = "4d5e6f7a8b9c"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("admin_users") as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=10), nullable=True))


def downgrade():
    with op.batch_alter_table("admin_users") as batch_op:
        batch_op.drop_column("locale")
