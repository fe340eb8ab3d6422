"""presentation: the app's address (links back from the hosted pages) and the reactivation
address win-back emails link to

Revision ID: 4d5e6f7a8b9c
Revises: 2b3c4d5e6f7a
Create Date: 2026-11-24 12:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = "4d5e6f7a8b9c"
down_revision = "2b3c4d5e6f7a"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("app_url", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("reactivation_url", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("reactivation_url")
        batch.drop_column("app_url")
