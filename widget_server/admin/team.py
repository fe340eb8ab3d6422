"""Admin: who may do what on a site (owners only)."""

from __future__ import annotations

from flask import flash, g, render_template, request, url_for
from flask_babel import gettext

from widget_server.admin.common import ROLE_LABELS, Routes, audit, done, refused, site_view
from widget_server.models import ROLES
from widget_server.services import users

routes = Routes()


def _team_url() -> str:
    return url_for("admin.team", site_key=g.site.key)


@routes.get("/sites/<site_key>/team")
@site_view("owner")
def team():
    return render_template("team.html", members=users.members(g.site), roles=ROLES)


@routes.post("/sites/<site_key>/team")
@site_view("owner")
def team_add():
    """Give an admin a role on this site; a new account's first password is shown once."""
    email, role = request.form.get("email", ""), request.form.get("role", "")
    refused(back=_team_url())
    user, password = users.add_member(g.site, email, role)
    audit("member_added", email=user.email, role=role, new_account=password is not None)
    message = gettext(
        "%(email)s is now %(role)s of %(site)s.",
        email=user.email,
        role=gettext(ROLE_LABELS[role]),
        site=g.site.name,
    )
    if password is None:
        return done(message, _team_url())
    flash(message)
    return render_template(
        "team.html",
        members=users.members(g.site),
        roles=ROLES,
        created={"email": user.email, "password": password},
    )


@routes.post("/sites/<site_key>/team/<int:user_id>")
@site_view("owner")
def team_member(user_id: int):
    """Change a member's role, or (``remove``) take their access away."""
    refused(back=_team_url())
    if request.form.get("remove"):
        user = users.remove_member(g.site, user_id)
        audit("member_removed", email=user.email)
        return done(gettext("Access removed."), _team_url())
    role = request.form.get("role", "")
    user, previous = users.set_role(g.site, user_id, role)
    audit("role_changed", email=user.email, previous=previous, role=role)
    return done(gettext("Role changed."), _team_url())
