"""The demo: an "Acme" host page that embeds the real widget, and the data behind it.

Registered only in the development, demo and testing configurations.
"""

from __future__ import annotations

import time

import jwt
import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request

from widget_server.extensions import db
from widget_server.models import AdminUser, Site
from widget_server.services import seed, sites, users

bp = Blueprint("demo", __name__, template_folder="templates", url_prefix="/demo")
DEMO_SITE = "Acme Analytics"
DEMO_EMAIL = "demo@keepkit.local"


def prepare_demo(origins: list[str], total: int, password: str) -> dict:
    """Create (once) the demo site and admin, top up the seed data, reset the password."""
    from werkzeug.security import generate_password_hash

    site = db.session.scalar(sa.select(Site).where(Site.name == DEMO_SITE))
    if site is None:
        site, _ = sites.create_site(DEMO_SITE, origins)
    for origin in origins:
        if not sites.origin_allowed(site, origin):
            sites.add_origin(site, origin)
    user = db.session.scalar(sa.select(AdminUser).where(AdminUser.email == DEMO_EMAIL))
    if user is None:
        users.create_admin(DEMO_EMAIL, password)
    else:
        user.password_hash = generate_password_hash(password)
    fresh = seed.seeded_count(site) == 0
    if fresh:
        seed.seed_sessions(site, min(total, 400))  # customers to vote with
        seed.seed_roadmap(site)
    seed.seed_sessions(site, total)
    seed.seed_events(site)  # the Impact page's story: lapsed saves, customers who came back
    return {"site_key": site.key, "email": DEMO_EMAIL}


def customer_token(site: Site, sub: str, *, plan: str, mrr: int, email: str, name: str) -> str:
    """What the host backend does: sign a short-lived customer token with the site secret."""
    now = int(time.time())
    claims = {
        "sub": sub,
        "exp": now + 3600,
        "iat": now,
        "email": email,
        "name": name,
        "company": "acme-customer-42",
        "plan": plan,
        "mrr": mrr,
        "signed_up_at": now - 400 * 86400,
        "attributes": {"seats": 3, "region": "EU"},
    }
    return jwt.encode(claims, site.secret_primary, algorithm="HS256")


@bp.get("/acme")
def acme():
    site = db.session.scalar(sa.select(Site).where(Site.name == DEMO_SITE))
    if site is None:
        abort(404, "Run `keepkit demo` first: it creates the demo site.")
    plan = request.args.get("plan", "Growth")
    token = customer_token(
        site, request.args.get("customer", "demo-customer-1"),
        plan=plan, mrr=9900 if plan == "Growth" else 2900,
        email="jane@example.com", name="Jane Doe",
    )  # fmt: skip
    return render_template("demo/acme.html", site=site, token=token)
