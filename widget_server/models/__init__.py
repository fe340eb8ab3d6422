"""Typed models, one module per aggregate. Importing this package registers them all."""

from widget_server.models.base import MAX_ID, Base, utcnow
from widget_server.models.customer import Customer
from widget_server.models.flow import OFFER_TYPES, Offer, Reason, offer_reasons
from widget_server.models.outbox import OutboxMessage
from widget_server.models.roadmap import (
    MODERATION,
    STATUSES,
    VOTABLE,
    VOTE_SOURCES,
    RoadmapItem,
    Subscription,
    Vote,
)
from widget_server.models.rollup import OfferShownRollup, ReasonRollup, SegmentRollup
from widget_server.models.session import OUTCOMES, CancellationSession
from widget_server.models.site import ApiKey, ExchangeRate, Site, SiteOrigin
from widget_server.models.user import AdminUser, site_admins

__all__ = [
    "MAX_ID",
    "MODERATION",
    "OFFER_TYPES",
    "OUTCOMES",
    "STATUSES",
    "VOTABLE",
    "VOTE_SOURCES",
    "AdminUser",
    "ApiKey",
    "Base",
    "CancellationSession",
    "Customer",
    "ExchangeRate",
    "Offer",
    "OfferShownRollup",
    "OutboxMessage",
    "Reason",
    "ReasonRollup",
    "RoadmapItem",
    "SegmentRollup",
    "Site",
    "SiteOrigin",
    "Subscription",
    "Vote",
    "offer_reasons",
    "site_admins",
    "utcnow",
]
