"""Unsubscribe links: signed tokens in the ``/u/<token>`` links of every email we send.

A customer's roadmap emails carry ``{"s": site, "c": customer, "i": item}`` (``i`` None: every
roadmap email of that site); an admin's weekly digest carries ``{"a": user}``.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="keepkit-unsubscribe")


def unsubscribe_token(site_id: int, customer_id: int, item_id: int | None) -> str:
    return _serializer().dumps({"s": site_id, "c": customer_id, "i": item_id})


def digest_unsubscribe_token(user_id: int) -> str:
    return _serializer().dumps({"a": user_id})


def read_unsubscribe_token(token: str) -> dict | None:
    """``{"s", "c", "i"}`` (a customer's roadmap emails) or ``{"a"}`` (an admin's digest)."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if isinstance(data, dict) and ({"s", "c", "i"} <= set(data) or set(data) == {"a"}):
        return data
    return None
