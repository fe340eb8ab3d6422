"""Admin area: Flask-Login session, htmx fragments, CSRF on every mutation, roles per site.

One module per area; each lists its pages in a ``routes`` table that is added to the blueprint
here, so importing a module registers nothing by itself. What the pages share (access checks,
the htmx-aware render, the mapping of domain errors) is in ``common.py``.
"""

from flask import Blueprint

from widget_server.admin import (
    audit,
    auth,
    common,
    dashboard,
    experiments,
    impact,
    outbox,
    privacy,
    roadmap,
    sessions,
    settings,
    team,
)
from widget_server.config import ROOT
from widget_server.errors import KeepkitError
from widget_server.extensions import login_manager

AREAS = (
    auth, dashboard, sessions, roadmap, settings, outbox, audit, team, experiments, impact,
    privacy,
)  # fmt: skip

bp = Blueprint(
    "admin", __name__, url_prefix="/admin", template_folder=str(ROOT / "admin" / "templates")
)
bp.context_processor(common.admin_labels)
bp.app_context_processor(impact.stripe_endpoint_helpers)
bp.after_request(common.security_headers)
bp.before_request(common.admin_language)
for name, template_filter in common.TEMPLATE_FILTERS.items():
    bp.add_app_template_filter(template_filter, name)
for name, template_global in common.TEMPLATE_GLOBALS.items():
    bp.add_app_template_global(template_global, name)
bp.register_error_handler(KeepkitError, common.domain_error)
auth.init_login(login_manager)
for area in AREAS:
    area.routes.register(bp)

__all__ = ["bp"]
