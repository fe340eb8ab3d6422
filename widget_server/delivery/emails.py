"""Composing every email the worker sends: roadmap emails to voters (work started, shipped),
win-back emails to customers who left for a missing item, and the admins' weekly digest.

Templates: ``widget_server/delivery/templates/email/<name>.{txt,html}``, found through the
``bp`` blueprint below.
"""

from __future__ import annotations

import base64
import unicodedata
from datetime import date
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, current_app, render_template
from flask_babel import force_locale, gettext

from widget_server.delivery.errors import ComposeError, DeliveryError, message_site
from widget_server.delivery.tokens import digest_unsubscribe_token, unsubscribe_token
from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import AdminUser, Customer, OutboxMessage, RoadmapItem, Site
from widget_server.reports.formatting import day
from widget_server.services import insights
from widget_server.services.locales import pick_locale
from widget_server.services.period import Filter, Period
from widget_server.services.roadmap import status_label

# No routes: registered so that Jinja finds the email templates next to this module.
bp = Blueprint("delivery", __name__, template_folder="templates")

# Headers are written by the library (quoted display names, encoded words where needed), but
# a header whose raw value is an URL (List-Unsubscribe) must stay literal: RFC 2369 clients
# cannot read an RFC 2047-encoded URL. ``refold_source="none"`` keeps raw values as set.
EMAIL_POLICY = policy.SMTP.clone(refold_source="none")

SUBJECTS = {
    "in_progress": N_("We started working on “%(title)s”"),
    "shipped": N_("“%(title)s” is live"),
    "winback": N_("You asked for “%(title)s”: it is here now"),
}


def _absolute(path: str) -> str:
    base = current_app.config["KEEPKIT_PUBLIC_URL"].rstrip("/")
    if not base:
        raise DeliveryError("KEEPKIT_PUBLIC_URL is not set: emails need absolute links")
    return base + path


def header_text(value: str) -> str:
    """One line of header-safe text: control characters (CR, LF, NUL, …) and line or paragraph
    separators become spaces. Input doors refuse them already; this keeps the worker safe for
    rows written before they did."""
    cleaned = "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value or ""
    )
    return " ".join(cleaned.split())


def parse_mail_from(value: str) -> Address:
    """``KEEPKIT_MAIL_FROM`` as ``addr`` or ``Name <addr>``.

    :raises ValueError: when it is not one email address.
    """
    value = value or ""
    header = None
    if header_text(value) == value.strip():
        header = policy.default.header_factory("From", value)
    if (
        header is None
        or header.defects
        or len(header.addresses) != 1
        or not header.addresses[0].domain
    ):
        raise ValueError(f"KEEPKIT_MAIL_FROM must be 'addr' or 'Name <addr>', not {value!r}")
    return header.addresses[0]


def message_id(message: OutboxMessage, domain: str) -> str:
    """The stable Message-ID of an outbox message: the same on every attempt, so a receiver
    can drop the copy a worker killed after the SMTP server accepted it sends again."""
    return f"<outbox-{message.id}@{domain}>"


def _compose(
    message: OutboxMessage,
    *,
    sender: str | None,
    subject: str,
    unsubscribe: str,
    template: str,
    context: dict,
) -> EmailMessage:
    """An HTML + text email from ``email/<template>.{txt,html}`` with a stable Message-ID and
    the one-click unsubscribe headers (RFC 8058).

    Every header goes through the email library's API: display names are quoted, subjects
    encoded, addresses parsed (a malformed one raises). ``sender`` replaces the display name
    of ``KEEPKIT_MAIL_FROM`` (e.g. the site's name); None keeps it.
    """
    mail_from = parse_mail_from(current_app.config["KEEPKIT_MAIL_FROM"])
    email = EmailMessage(policy=EMAIL_POLICY)
    email["Subject"] = header_text(subject)
    display = header_text(sender) if sender else mail_from.display_name
    email["From"] = Address(display_name=display or "Keepkit", addr_spec=mail_from.addr_spec)
    email["To"] = Address(addr_spec=message.recipient.strip())
    email["Message-ID"] = message_id(message, mail_from.domain or "keepkit.local")
    # Literal <https://…> (RFC 2369): never folded or encoded.
    email.set_raw("List-Unsubscribe", f"<{unsubscribe}>")
    email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    context = {**context, "subject": subject, "unsubscribe_url": unsubscribe}
    logo = _logo(context.get("site"))
    context["logo_cid"] = logo[2][1:-1] if logo else None
    email.set_content(render_template(f"email/{template}.txt", **context))
    email.add_alternative(render_template(f"email/{template}.html", **context), subtype="html")
    if logo:
        # Inline (multipart/related, cid:): mail clients block data: images and remote ones.
        data, subtype, cid = logo
        list(email.iter_parts())[1].add_related(data, "image", subtype, cid=cid)
    return email


def _logo(site: Site | None) -> tuple[bytes, str, str] | None:
    """The site's logo (stored as a data: URI) as bytes, image subtype and a Content-ID."""
    if site is None or not site.logo or not site.logo.startswith("data:image/"):
        return None
    header, _, encoded = site.logo.partition(",")
    subtype = header[len("data:image/") :].split(";", 1)[0]
    try:
        data = base64.b64decode(encoded, validate=True)
    except ValueError:
        return None
    return data, subtype, make_msgid(domain="logo.keepkit.local")


def digest_locale(user: AdminUser | None, site: Site) -> str:
    """The digest's language: the recipient admin's choice, else the site's default locale."""
    return pick_locale(user.locale if user else None, site.default_locale)


def build_digest(message: OutboxMessage) -> EmailMessage:
    """The weekly digest: a short summary in the body and the PDF report attached, both in
    the recipient's language (:func:`digest_locale`)."""
    from widget_server.reports.pdf import render_pdf  # WeasyPrint: loaded only when needed

    payload = message.payload
    site = message_site(message)
    period = Period(date.fromisoformat(payload["from"]), date.fromisoformat(payload["to"]))
    filters = Filter(period)
    locale = digest_locale(db.session.get(AdminUser, payload["user_id"]), site)
    with force_locale(locale):
        start, end = day(period.start), day(period.end)
        email = _compose(
            message,
            sender=None,
            subject=gettext(
                "Cancellation insights for %(site)s: %(start)s to %(end)s",
                site=site.name,
                start=start,
                end=end,
            ),
            unsubscribe=_absolute(f"/u/{digest_unsubscribe_token(payload['user_id'])}"),
            template="digest",
            context={
                "site": site,
                "period": period,
                "locale": locale,
                "summary": insights.summary(site, filters),
                "dashboard_url": _absolute(f"/admin/sites/{site.key}/"),
            },
        )
        name = f"keepkit-insights-{period.start}-{period.end}.pdf"
        email.add_attachment(
            render_pdf(site, filters), maintype="application", subtype="pdf", filename=name
        )
    return email


def _with_item(url: str | None, item_id: int) -> str | None:
    """The site's reactivation address naming the item: ``…?keepkit_item=7``."""
    if not url:
        return None
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("keepkit_item", item_id)])
    return urlunsplit(parts._replace(query=query))


def build_email(message: OutboxMessage) -> EmailMessage:
    payload = message.payload
    if payload.get("template") == "digest":
        return build_digest(message)
    site = message_site(message)
    item = db.session.get(RoadmapItem, payload["item_id"])
    customer = db.session.get(Customer, payload["customer_id"])
    if item is None or customer is None:
        raise ComposeError("The roadmap item or the customer no longer exists")
    locale = pick_locale(customer.locale, site.default_locale)
    kind = payload["template"]
    status = payload.get("status", "shipped")
    key = "winback" if kind == "winback" else status
    token = unsubscribe_token(site.id, customer.id, None if kind == "winback" else item.id)
    with force_locale(locale):  # the recipient's language, whoever composes the email
        return _compose(
            message,
            sender=site.name,
            subject=gettext(SUBJECTS[key], title=item.title),
            unsubscribe=_absolute(f"/u/{token}"),
            template="roadmap",
            context={
                "site": site,
                "item": item,
                "description_html": item.description_html,
                "customer": customer,
                "kind": kind,
                "status": status,
                "status_label": status_label(site, status, locale),
                "locale": locale,
                "roadmap_url": _absolute(f"/roadmap/{site.key}"),
                "reactivation_url": _with_item(site.reactivation_url, item.id)
                if kind == "winback"
                else None,
                "brand": site.brand_color or "#4f46e5",
            },
        )
