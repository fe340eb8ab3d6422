"""Customers, created or refreshed from each verified token."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from widget_server.extensions import db
from widget_server.models import Customer, Site, utcnow
from widget_server.services.tokens import CustomerClaims


def upsert_customer(site: Site, claims: CustomerClaims, *, locale: str | None = None) -> Customer:
    """Return the site's customer for ``claims.sub``, refreshed from the claims.

    Safe under concurrency: a parallel insert of the same customer is caught in a savepoint.
    """
    query = sa.select(Customer).where(
        Customer.site_id == site.id, Customer.external_id == claims.sub
    )
    customer = db.session.scalar(query)
    if customer is None:
        try:
            with db.session.begin_nested():
                customer = Customer(
                    site_id=site.id, external_id=claims.sub, currency=claims.currency
                )
                db.session.add(customer)
        except IntegrityError:
            customer = db.session.scalars(query).one()
    for name in ("email", "name", "company", "plan"):
        value = getattr(claims, name)
        if value is not None:
            setattr(customer, name, value)
    customer.mrr = claims.mrr
    customer.currency = claims.currency
    if claims.signed_up_at is not None:
        customer.signed_up_at = claims.signed_up_at
    customer.attributes = dict(claims.attributes)
    if locale:
        customer.locale = locale
    customer.updated_at = utcnow()
    db.session.flush()
    return customer


def find_customer(site: Site, who: str) -> Customer | None:
    """A customer of the site by external id or (case-insensitive) email."""
    who = (who or "").strip()
    if not who:
        return None
    return db.session.scalar(
        sa.select(Customer)
        .where(
            Customer.site_id == site.id,
            sa.or_(Customer.external_id == who, sa.func.lower(Customer.email) == who.lower()),
        )
        .limit(1)
    )
