"""performance: completions queued for the rollups (completing takes no shared row);
roadmap descriptions rendered when saved; a version per site for processes' snapshots

Revision ID: f6a7b8c9d0e1
Revises: e5f6a7b8c9d0
Create Date: 2026-11-24 18:00:00

"""

from alembic import op
import nh3
import sqlalchemy as sa
from markdown_it import MarkdownIt


revision = "f6a7b8c9d0e1"
down_revision = "e5f6a7b8c9d0"
branch_labels = None
depends_on = None


def render(text):
    """Markdown as the application rendered it when this revision was written."""
    html = (
        MarkdownIt("commonmark", {"html": False, "linkify": False})
        .disable("image")
        .render(text or "")
    )
    return nh3.clean(
        html,
        tags={
            "p",
            "br",
            "strong",
            "em",
            "code",
            "pre",
            "ul",
            "ol",
            "li",
            "a",
            "blockquote",
            "h3",
            "h4",
        },
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def upgrade():
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("config_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("roadmap_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("description_html", sa.Text(), nullable=False, server_default="")
        )
    bind = op.get_bind()
    items = sa.table(
        "roadmap_items", sa.column("id"), sa.column("description"), sa.column("description_html")
    )
    for item_id, description in bind.execute(
        sa.select(items.c.id, items.c.description).where(items.c.description != "")
    ).all():
        bind.execute(
            items.update().where(items.c.id == item_id).values(description_html=render(description))
        )
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
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("config_version")
    with op.batch_alter_table("roadmap_items", schema=None) as batch_op:
        batch_op.drop_column("description_html")
    op.drop_index("ix_rollup_pending_site_id", table_name="rollup_pending")
    op.drop_table("rollup_pending")
