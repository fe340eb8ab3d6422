"""Customers, created or refreshed from each verified token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import Customer, Site, utcnow
from widget_server.services.sql import as_stored, insert_or_ignore, per_dialect
from widget_server.services.tokens import CustomerClaims

SEEN_GRANULARITY = timedelta(minutes=10)


def is_current(
    customer: Customer | sa.Row[Any] | None, claims: CustomerClaims, locale: str | None
) -> bool:
    """Whether :func:`upsert_customer` would change nothing worth a write (``customer``: a
    Customer, or a row with its field names, as ``roadmap.reader`` reads it)."""
    if customer is None or (locale and customer.locale != locale):
        return False
    return all(getattr(customer, name) == value for name, value in _fields(claims).items()) and (
        utcnow() - customer.updated_at < SEEN_GRANULARITY
    )


def _fields(claims: CustomerClaims) -> dict:
    fields = {
        name: getattr(claims, name)
        for name in ("email", "name", "company", "plan", "signed_up_at")
        if getattr(claims, name) is not None
    }
    if claims.stripe_customer is not None:
        fields["stripe_customer_id"] = claims.stripe_customer
    fields |= {"mrr": claims.mrr, "currency": claims.currency}
    fields["attributes"] = dict(claims.attributes)
    return fields


_CUSTOMERS = Customer.__table__
# Built once (a statement costs more to build than to run): the read of every token's customer,
# as a plain row (a Core statement on the connection; as_stored makes the object of it).
_ROW_BY_SUB = sa.select(_CUSTOMERS).where(
    _CUSTOMERS.c.site_id == sa.bindparam("site_id"),
    _CUSTOMERS.c.external_id == sa.bindparam("sub"),
)


def _insert(site: Site, claims: CustomerClaims, locale: str | None) -> sa.Row[Any] | None:
    """Insert the customer unless the site has them (a concurrent insert of the same customer
    included): their stored row, or None. One statement, built once per database kind."""
    values = {"site_id": site.id, "external_id": claims.sub, "attributes": {}}
    values |= _fields(claims) | {"locale": locale, "created_at": utcnow()}
    values["updated_at"] = values["created_at"]
    statement = per_dialect(
        "customers.insert",
        lambda: insert_or_ignore(_CUSTOMERS, ["site_id", "external_id"]).returning(*_CUSTOMERS.c),
    )
    return db.session.connection().execute(statement, values).first()


def upsert_customer(site: Site, claims: CustomerClaims, *, locale: str | None = None) -> Customer:
    """Return the site's customer for ``claims.sub``, refreshed from the claims. Only what
    changed is written (when they were last seen is kept to the nearest ten minutes), so a
    returning customer costs one read.

    Safe under concurrency: a parallel insert of the same customer is an insert that does
    nothing (one statement, no savepoint).
    """
    key = {"site_id": site.id, "sub": claims.sub}
    db.session.flush()  # as an ORM query would: what the request changed is written first
    row = db.session.connection().execute(_ROW_BY_SUB, key).first()
    if row is None:
        row = _insert(site, claims, locale)
        if row is not None:
            return as_stored(Customer, row)
        # A concurrent request inserted them: read them.
        row = db.session.connection().execute(_ROW_BY_SUB, key).one()
    customer = as_stored(Customer, row)
    if is_current(customer, claims, locale):
        return customer
    changes = _fields(claims) | ({"locale": locale} if locale else {})
    for name, value in changes.items():
        if getattr(customer, name) != value:
            setattr(customer, name, value)
    now = utcnow()
    if (
        customer.updated_at is None
        or now - customer.updated_at >= SEEN_GRANULARITY
        or (db.session.is_modified(customer))
    ):
        customer.updated_at = now
    db.session.flush()
    return customer


def known_customer(
    site: Site, claims: CustomerClaims, *, locale: str | None = None, new_likely: bool = False
) -> Customer:
    """:func:`upsert_customer` for a caller that only reads the customer's columns (a roadmap
    vote, the start of a flow): a new customer, or a returning one whose claims changed
    nothing, is the stored row itself, written or read with one Core statement (loading the
    object cost a tenth of a vote). That row is read-only: the attribute names are the
    Customer's, there are no relationships. ``new_likely``: the caller expects a customer
    Keepkit has not seen (one who opens the cancellation flow), so the insert is tried first
    and a new customer costs one statement, a known one two.

    Safe under concurrency as :func:`upsert_customer` is.
    """
    if new_likely and (row := _insert(site, claims, locale)) is not None:
        return cast("Customer", row)
    key = {"site_id": site.id, "sub": claims.sub}
    stored = db.session.connection().execute(_ROW_BY_SUB, key).first()
    return current_customer(site, claims, stored, locale=locale)


def current_customer(
    site: Site, claims: CustomerClaims, stored: sa.Row[Any] | None, *, locale: str | None = None
) -> Customer:
    """:func:`known_customer` for a caller that read the customer's stored row itself, in a
    statement that read something else too (``stored``: a row with the Customer's column
    names, None when the site has no such customer)."""
    if stored is not None and is_current(stored, claims, locale):
        return cast("Customer", stored)
    return upsert_customer(site, claims, locale=locale)


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


def ensure_customers(site: Site, currencies: dict[str, str | None]) -> dict[str, Customer]:
    """The site's customers with these external ids, those Keepkit has not seen created (with
    no MRR yet, in the currency given for them or else the site's). Two statements for any
    number of customers; like :func:`upsert_customer`, a concurrent insert of the same customer
    is an insert that does nothing.

    ``currencies`` maps each external id to a currency code (or None).
    """
    if not currencies:
        return {}
    query = sa.select(Customer).where(
        Customer.site_id == site.id, Customer.external_id.in_(list(currencies))
    )
    found = {customer.external_id: customer for customer in db.session.scalars(query)}
    missing = [sub for sub in currencies if sub not in found]
    if missing:
        now = utcnow()
        db.session.execute(
            insert_or_ignore(Customer, ["site_id", "external_id"]).values(
                [
                    {
                        "site_id": site.id,
                        "external_id": sub,
                        "mrr": 0,
                        "currency": currencies[sub] or site.currency,
                        "attributes": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for sub in missing
                ]
            )
        )
        again = query.where(Customer.external_id.in_(missing))
        found |= {customer.external_id: customer for customer in db.session.scalars(again)}
    return found
