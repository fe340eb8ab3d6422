"""Typed models, one module per aggregate. Importing this package registers them all."""

from widget_server.models.base import MAX_ID, Base, utcnow
from widget_server.models.customer import Customer
from widget_server.models.experiment import (
    EXPERIMENT_KINDS,
    EXPERIMENT_STATUSES,
    Experiment,
    ExperimentVariant,
)
from widget_server.models.flow import OFFER_TYPES, Offer, Reason, offer_reasons
from widget_server.models.job import JOB_STATES, Job
from widget_server.models.lifecycle import EVENT_TYPES, LifecycleEvent
from widget_server.models.outbox import OutboxMessage, ScheduledRun
from widget_server.models.roadmap import (
    MODERATION,
    STATUSES,
    VOTABLE,
    VOTE_SOURCES,
    RoadmapItem,
    Subscription,
    Vote,
)
from widget_server.models.rollup import (
    OfferShownRollup,
    ReasonRollup,
    RollupPending,
    SegmentRollup,
)
from widget_server.models.session import OUTCOMES, CancellationSession
from widget_server.models.site import ApiKey, ExchangeRate, Site, SiteOrigin
from widget_server.models.user import ROLES, AdminUser, AuditEvent, SiteMembership

__all__ = [
    "EVENT_TYPES",
    "EXPERIMENT_KINDS",
    "EXPERIMENT_STATUSES",
    "JOB_STATES",
    "MAX_ID",
    "MODERATION",
    "OFFER_TYPES",
    "OUTCOMES",
    "ROLES",
    "STATUSES",
    "VOTABLE",
    "VOTE_SOURCES",
    "AdminUser",
    "ApiKey",
    "AuditEvent",
    "Base",
    "CancellationSession",
    "Customer",
    "ExchangeRate",
    "Experiment",
    "ExperimentVariant",
    "Job",
    "LifecycleEvent",
    "Offer",
    "OfferShownRollup",
    "OutboxMessage",
    "Reason",
    "ReasonRollup",
    "RoadmapItem",
    "RollupPending",
    "ScheduledRun",
    "SegmentRollup",
    "Site",
    "SiteMembership",
    "SiteOrigin",
    "Subscription",
    "Vote",
    "offer_reasons",
    "utcnow",
]
