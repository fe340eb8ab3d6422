"""Editing a site's reasons and offers (admin settings)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal, overload
from urllib.parse import urlsplit

import sqlalchemy as sa

from widget_server.errors import NotFound, ValidationError
from widget_server.extensions import db
from widget_server.i18n import N_, Text
from widget_server.models import MAX_ID, OFFER_TYPES, Offer, Reason, Site, utcnow
from widget_server.services.locales import SUPPORTED_LOCALES
from widget_server.services.money import MAX_AMOUNT, minor_digits, to_minor
from widget_server.services.text import single_line, storable

MAX_LABEL = 120


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48]
    return slug or "item"


def _unique_key(model, site: Site, base: str) -> str:
    taken: set[str] = set(db.session.scalars(sa.select(model.key).where(model.site_id == site.id)))
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


@overload
def _clean_labels(labels: dict, what: Text, *, required: Literal[True] = True) -> dict: ...
@overload
def _clean_labels(labels: dict, what: Text, *, required: bool) -> dict | None: ...
def _clean_labels(labels: dict, what: Text, *, required: bool = True) -> dict | None:
    """The labels per supported locale, stripped; ``None`` if none is left. With ``required``
    (the default) an English label must be there, so the result is never ``None``."""
    cleaned = {
        loc: single_line(
            labels.get(loc), Text(N_("The %(what)s (%(locale)s)"), what=what, locale=loc)
        ).strip()
        for loc in SUPPORTED_LOCALES
    }
    cleaned = {loc: text for loc, text in cleaned.items() if text}
    if required and "en" not in cleaned:
        raise ValidationError(
            N_("The %(what)s needs an English text"), code="label_required", params={"what": what}
        )
    for loc, text in cleaned.items():
        if len(text) > MAX_LABEL * 2:
            raise ValidationError(
                N_("The %(what)s (%(locale)s) is too long"),
                code="label_too_long",
                params={"what": what, "locale": loc},
            )
    return cleaned or None


_KINDS = {Reason: N_("reason"), Offer: N_("offer")}


def _get(model, site: Site, item_id: int):
    item = db.session.get(model, item_id)
    if item is None or item.site_id != site.id:
        raise NotFound(
            N_("No such %(kind)s"), code="not_found", params={"kind": Text(_KINDS[model])}
        )
    return item


def get_reason(site: Site, reason_id: int) -> Reason:
    """:raises NotFound: unless the reason belongs to the site."""
    return _get(Reason, site, reason_id)


def get_offer(site: Site, offer_id: int) -> Offer:
    """:raises NotFound: unless the offer belongs to the site."""
    return _get(Offer, site, offer_id)


def all_reasons(site: Site) -> list[Reason]:
    query = sa.select(Reason).where(Reason.site_id == site.id)
    return list(
        db.session.scalars(query.order_by(Reason.archived_at.is_not(None), Reason.position))
    )


def all_offers(site: Site) -> list[Offer]:
    query = sa.select(Offer).where(Offer.site_id == site.id)
    return list(db.session.scalars(query.order_by(Offer.archived_at.is_not(None), Offer.position)))


def save_reason(
    site: Site,
    reason: Reason | None,
    *,
    labels: dict,
    followup: dict,
    requires_text: bool,
    is_missing_feature: bool,
) -> Reason:
    """Create (``reason=None``) or update a reason. The key never changes once set.

    :raises ValidationError: ``label_required``, ``label_too_long`` or ``invalid_characters``
        (a label or follow-up question that is not a single line).
    """
    clean = _clean_labels(labels, Text(N_("reason label")))
    clean_followup = _clean_labels(followup, Text(N_("follow-up question")), required=False)
    if reason is None:
        position = db.session.execute(
            sa.select(sa.func.coalesce(sa.func.max(Reason.position), -1)).where(
                Reason.site_id == site.id
            )
        ).scalar_one()
        reason = Reason(
            site_id=site.id,
            key=_unique_key(Reason, site, _slug(clean["en"])),
            position=position + 1,
        )
        db.session.add(reason)
    reason.labels = clean
    reason.followup = clean_followup
    reason.requires_text = requires_text
    reason.is_missing_feature = is_missing_feature
    db.session.flush()
    return reason


def set_archived(item: Reason | Offer, archived: bool) -> None:
    """Archive (hide from customers, keep history) or restore a reason or offer."""
    item.archived_at = utcnow() if archived else None
    db.session.flush()


def move(site: Site, item: Reason | Offer, direction: int) -> None:
    """Swap ``item`` with its neighbour among the active items (``direction`` is -1 or +1)."""
    model: type[Reason] | type[Offer] = type(item)
    items: list[Reason | Offer] = list(
        db.session.scalars(
            sa.select(model)
            .where(model.site_id == site.id, model.archived_at.is_(None))
            .order_by(model.position, model.id)
        )
    )
    index = next((i for i, it in enumerate(items) if it.id == item.id), None)
    if index is None:
        return
    target = index + direction
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
    for position, it in enumerate(items):
        it.position = position
    db.session.flush()


def _int_in(value, lo: int, hi: int, field: Text) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not lo <= number <= hi:
        raise ValidationError(
            N_("%(field)s must be a whole number from %(low)s to %(high)s"),
            params={"field": field, "low": lo, "high": hi},
            code="invalid_offer",
            details={str(field): f"{lo}-{hi}"},
        )
    return number


def _money(value, field: Text, currency: str) -> int | None:
    """An amount in major units of ``currency`` (``49.00`` USD, ``4900`` JPY, ``4.900`` KWD)
    as minor units (how many digits: Babel's currency data), at most :data:`MAX_AMOUNT`."""
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip())
    except (ArithmeticError, ValueError):
        amount = None
    scale = 10 ** minor_digits(currency)
    if amount is None or not amount.is_finite() or not 0 <= amount * scale <= MAX_AMOUNT:
        example = (Decimal(4900) / scale).quantize(Decimal(1) / scale)
        raise ValidationError(
            N_("%(field)s must be an amount such as %(example)s (at most %(max)s)"),
            params={"field": field, "example": example, "max": MAX_AMOUNT // scale},
            code="invalid_offer",
            details={str(field): "amount"},
        )
    return to_minor(amount, currency)


def _ids(values) -> set[int]:
    """Row ids from form values; anything else (words, huge numbers) names no row."""
    ids = set()
    for value in values or []:
        value = str(value)
        if value.isascii() and value.isdigit() and len(value) <= 10 and 0 < int(value) <= MAX_ID:
            ids.add(int(value))
    return ids


def save_offer(site: Site, offer: Offer | None, data: dict) -> Offer:
    """Create or update an offer from form-like ``data``.

    Keys: type, texts {locale: {title, body, cta}}, discount_percent, discount_months,
    pause_months, target_plan, contact_url, plans (comma separated), min_mrr, max_mrr
    (major units, e.g. 49.00), reason_ids.

    :raises ValidationError: ``invalid_offer`` naming the field at fault, or
        ``invalid_characters`` (a title, call to action, plan or link that is not a single line,
        a body with NUL).
    """
    kind = data.get("type")
    if kind not in OFFER_TYPES:
        raise ValidationError(
            N_("type must be one of %(choices)s"),
            code="invalid_offer",
            params={"choices": ", ".join(OFFER_TYPES)},
        )
    texts = {}
    for loc in SUPPORTED_LOCALES:
        given = data.get("texts", {}).get(loc) or {}
        entry = {
            "title": single_line(
                given.get("title"), Text(N_("The offer title (%(locale)s)"), locale=loc)
            ).strip(),
            "body": storable(
                given.get("body"), Text(N_("The offer text (%(locale)s)"), locale=loc)
            ).strip(),
            "cta": single_line(
                given.get("cta"), Text(N_("The button text (%(locale)s)"), locale=loc)
            ).strip(),
        }
        if entry["title"]:
            texts[loc] = {k: v[:400] for k, v in entry.items()}
    if "en" not in texts:
        raise ValidationError(N_("The offer needs an English title"), code="invalid_offer")
    fields = dict.fromkeys(
        ("discount_percent", "discount_months", "pause_months", "target_plan", "contact_url")
    )
    if kind == "discount":
        fields["discount_percent"] = _int_in(
            data.get("discount_percent"), 1, 100, Text(N_("discount %"))
        )
        fields["discount_months"] = _int_in(data.get("discount_months"), 1, 36, Text(N_("months")))
    elif kind == "pause":
        fields["pause_months"] = _int_in(data.get("pause_months"), 1, 12, Text(N_("pause months")))
    elif kind == "switch_plan":
        plan = single_line(data.get("target_plan"), Text(N_("The plan to switch to"))).strip()
        if not plan:
            raise ValidationError(N_("Name the plan to switch to"), code="invalid_offer")
        fields["target_plan"] = plan[:100]
    elif kind == "contact":
        url = single_line(data.get("contact_url"), Text(N_("The contact link"))).strip()
        if urlsplit(url).scheme not in ("http", "https", "mailto") or len(url) > 500:
            raise ValidationError(
                N_("The contact link must start with https://, http:// or mailto:"),
                code="invalid_offer",
            )
        fields["contact_url"] = url
    plans = single_line(data.get("plans"), Text(N_("Plans"))).split(",")
    plans = [p.strip()[:100] for p in plans if p.strip()]
    min_mrr = _money(data.get("min_mrr"), Text(N_("minimum MRR")), site.currency)
    max_mrr = _money(data.get("max_mrr"), Text(N_("maximum MRR")), site.currency)
    if min_mrr is not None and max_mrr is not None and min_mrr > max_mrr:
        raise ValidationError(N_("The minimum MRR is above the maximum"), code="invalid_offer")
    reason_ids = _ids(data.get("reason_ids"))
    reasons = list(
        db.session.scalars(
            sa.select(Reason).where(Reason.site_id == site.id, Reason.id.in_(reason_ids))
        )
    )
    if offer is None:
        position = db.session.execute(
            sa.select(sa.func.coalesce(sa.func.max(Offer.position), -1)).where(
                Offer.site_id == site.id
            )
        ).scalar_one()
        base = _slug(texts["en"]["title"])
        offer = Offer(site_id=site.id, key=_unique_key(Offer, site, base), position=position + 1)
        db.session.add(offer)
    offer.type = kind
    offer.texts = texts
    for name, value in fields.items():
        setattr(offer, name, value)
    offer.plans = plans or None
    offer.min_mrr, offer.max_mrr = min_mrr, max_mrr
    offer.reasons = reasons
    db.session.flush()
    return offer
