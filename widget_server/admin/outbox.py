"""Admin: the outbox — the emails and webhooks the worker delivered, is delivering or parked —
and sending a parked one again."""

from __future__ import annotations

from flask import g, render_template, url_for
from flask_babel import gettext

from widget_server.admin.common import Routes, done, site_view
from widget_server.services import notifications

routes = Routes()


@routes.get("/sites/<site_key>/outbox")
@site_view("viewer")
def outbox():
    return render_template(
        "outbox.html",
        emails=notifications.recent(g.site, "email"),
        webhooks=notifications.recent(g.site, "webhook"),
    )


@routes.post("/sites/<site_key>/outbox/<int:message_id>/resend")
@site_view("editor")
def outbox_resend(message_id: int):
    notifications.resend(g.site, message_id)
    return done(
        gettext("Queued again; the worker delivers it shortly."),
        url_for("admin.outbox", site_key=g.site.key),
    )
