"""An empty database upgrades to head, and autogenerate then finds no difference."""

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from tests.databases import empty_database
from widget_server import create_app
from widget_server.extensions import db
from widget_server.models import Site
from widget_server.services import insights
from widget_server.services.period import Filter, Period


@pytest.fixture
def empty_database_url(tmp_path):
    with empty_database(tmp_path, "migrations") as url:
        yield url


def test_upgrade_to_head_matches_models(empty_database_url):
    app = create_app({"ENV": "testing", "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == []


FIRST_REVISION = "a5e185fb291d"
ROWS = [
    "INSERT INTO sites (id, key, name, secret_primary, default_locale, currency, brand_color, "
    "discount_window_days, created_at) VALUES (1, 'site_x', 'X', 's', 'en', 'USD', '#000000', "
    "365, '2026-01-01 00:00:00')",
    "INSERT INTO reasons (id, site_id, key, position, labels, requires_text, is_missing_feature, "
    "created_at) VALUES (1, 1, 'other', 0, '{\"en\": \"Other\"}', true, false, "
    "'2026-01-01 00:00:00')",
    "INSERT INTO customers (id, site_id, external_id, mrr, currency, attributes, created_at, "
    "updated_at) VALUES (1, 1, 'c1', 9900, 'USD', '{}', '2026-01-01 00:00:00', "
    "'2026-01-01 00:00:00')",
    "INSERT INTO cancellation_sessions (id, public_id, site_id, customer_id, mrr, currency, "
    "attributes, locale, reason_id, offers_shown, outcome, started_at, completed_at) VALUES "
    "(1, 'p1', 1, 1, 9900, 'USD', '{}', 'en', 1, '[]', 'cancelled', '2026-01-01 00:00:00', "
    "'2026-01-01 00:01:00')",
]


def test_upgrading_keeps_existing_data(empty_database_url):
    """SQLite rebuilds tables in batch migrations; no cascade may delete the rows."""
    app = create_app({"ENV": "testing", "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade(revision=FIRST_REVISION)
        with db.engine.begin() as conn:
            for statement in ROWS:
                conn.exec_driver_sql(statement)
        upgrade()
        with db.engine.connect() as conn:
            counts = [
                conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()  # noqa: S608
                for table in ("sites", "reasons", "customers", "cancellation_sessions")
            ]
        # The rollups introduced later are filled from the sessions already there.
        january = Filter(Period(date(2026, 1, 1), date(2026, 1, 31)))
        ranking = insights.reason_ranking(db.session.get(Site, 1), january)
        db.session.remove()
        db.engine.dispose()
    assert counts == [1, 1, 1, 1]
    assert [(i["reason_id"], i["lost_mrr"]) for i in ranking["items"]] == [("other", 9900)]


def test_revisions_import_nothing_from_the_application():
    """A revision is history: it carries its own SQL, so later code changes cannot break
    upgrades from older databases."""
    import ast
    from pathlib import Path

    versions = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    for path in sorted(versions.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "widget_server" for n in names), path.name
