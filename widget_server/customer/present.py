"""What customers read, in their locale: the flow's reasons, offers and result, and the
roadmap board grouped and labelled. The widget's API answers (api/widget.py), the hosted
cancellation page and the public roadmap page present the services' data with these, so the
three show the same thing the same way; the services themselves return data only.
"""

from __future__ import annotations

from typing import Any

from widget_server.models import CancellationSession, Offer, Reason, Site
from widget_server.services.flow import Choices
from widget_server.services.locales import translate
from widget_server.services.roadmap import BOARD_STATUSES, status_label
from widget_server.services.site_cache import OfferView, ReasonView, SiteView


def reason(reason: Reason | ReasonView, locale: str) -> dict:
    return {
        "id": reason.key,
        "label": translate(reason.labels, locale),
        "requires_text": reason.requires_text,
        "missing_feature": reason.is_missing_feature,
        "followup": translate(reason.followup, locale),
    }


def choices(choices: Choices, locale: str) -> dict[str, list]:
    """The start of the flow: the reasons to pick from, and the roadmap items to name."""
    return {
        "reasons": [reason(r, locale) for r in choices.reasons],
        "roadmap": choices.roadmap,
    }


def offer(offer: Offer | OfferView, locale: str) -> dict:
    """A save offer: its texts in ``locale`` and what it gives (percent and months, a plan…)."""
    texts = translate(offer.texts, locale) or {}
    view = {
        "id": offer.key,
        "type": offer.type,
        "title": texts.get("title", ""),
        "body": texts.get("body", ""),
        "cta": texts.get("cta", ""),
    }
    extras: dict[str, dict[str, Any]] = {
        "discount": {"percent": offer.discount_percent, "months": offer.discount_months},
        "pause": {"months": offer.pause_months},
        "switch_plan": {"plan": offer.target_plan},
        "contact": {"url": offer.contact_url},
    }
    view.update(extras.get(offer.type, {}))
    return view


def result(
    session: CancellationSession,
    receipt: str,
    chosen: Reason | ReasonView | None,
    accepted: Offer | OfferView | None,
) -> dict:
    """The ``Result`` the widget resolves with (see the integration contract): ``chosen`` and
    ``accepted`` are the session's reason and offer (:func:`flow.reason_of`, ``offer_of``)."""
    locale = session.locale
    return {
        "outcome": session.outcome,
        "reason": {"id": chosen.key, "label": translate(chosen.labels, locale)} if chosen else None,
        "comment": session.comment,
        "offer": offer(accepted, locale) if accepted else None,
        "session": session.public_id,
        "receipt": receipt,
    }


def board(site: Site | SiteView, items: list[dict], locale: str) -> dict:
    """The board's items in one column per status, each labelled in ``locale`` (the site's
    own labels first)."""

    labels = {status: status_label(site, status, locale) for status in BOARD_STATUSES}
    return {
        "columns": [
            {
                "status": status,
                "label": labels[status],
                "items": [
                    {**item, "status_label": labels[status]}
                    for item in items
                    if item["status"] == status
                ],
            }
            for status in BOARD_STATUSES
        ]
    }
