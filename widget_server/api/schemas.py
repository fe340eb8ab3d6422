"""Marshmallow schemas for the public widget API and the data API.

Inputs reject unknown fields; outputs list their fields explicitly. No schema queries the
database.
"""

from __future__ import annotations

import re
from datetime import timedelta

from marshmallow import (
    RAISE,
    Schema,
    fields,
    post_dump,
    pre_dump,
    pre_load,
    validate,
    validates_schema,
)
from marshmallow import ValidationError as SchemaError
from werkzeug.datastructures import MultiDict

from widget_server.models import EVENT_TYPES, MAX_ID, STATUSES, utcnow
from widget_server.services import text
from widget_server.services.money import MAX_AMOUNT, is_currency


class SingleLine(validate.Validator):
    """The single-line rule of :mod:`widget_server.services.text` (no CR, LF, NUL or other
    control characters, no lone surrogates). ``regex`` only documents it in the OpenAPI
    document (apispec turns it into ``pattern``; lone surrogates are left out of it, as JSON
    Schema's regexes see characters beyond U+FFFF as surrogate pairs); the check itself is the
    service's."""

    error = "Must be " + text.SINGLE_LINE_RULE
    regex = re.compile(r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$")

    def __call__(self, value):
        if not isinstance(value, str) or not text.is_single_line(value):
            raise SchemaError(self.error)
        return value


class Storable(validate.Validator):
    """Multi-line text: line breaks are fine, NUL and lone surrogates are not."""

    error = "Must be " + text.STORABLE_RULE

    def __call__(self, value):
        if not isinstance(value, str) or not text.is_storable(value):
            raise SchemaError(self.error)
        return value


def line(max_length: int, min_length: int | None = None, **kwargs) -> fields.String:
    """A single-line string field of at most ``max_length`` characters."""
    return fields.String(
        validate=[SingleLine(), validate.Length(min=min_length, max=max_length)], **kwargs
    )


class JSONBoolean(fields.Boolean):
    """``true`` or ``false`` only (marshmallow's Boolean also takes 1, "yes", "on", …)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Input(Schema):
    class Meta:
        unknown = RAISE

    @pre_load
    def _once_each(self, data, **kwargs):
        """A query string names each parameter once (``?plan=a&plan=b`` is refused, not read
        as ``a``)."""
        if isinstance(data, MultiDict):
            repeated = {
                key: ["Give this parameter once"] for key, values in data.lists() if len(values) > 1
            }
            if repeated:
                raise SchemaError(repeated)
            return data.to_dict()
        return data


# --- widget API ---------------------------------------------------------------------------


class WidgetAuth(Input):
    token = fields.String(
        required=True, metadata={"description": "Customer JWT signed by the host backend"}
    )


class StartInput(WidgetAuth):
    locale = line(35, load_default=None, allow_none=True)
    session = line(
        64,
        load_default=None,
        allow_none=True,
        metadata={"description": "Client-generated UUID; a retry with the same id is a no-op"},
    )


class AnswerInput(WidgetAuth):
    reason = line(64, 1, required=True)
    roadmap_item = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "For a missing-feature reason: the roadmap item needed"},
    )
    comment = fields.String(load_default=None, allow_none=True, validate=Storable())
    followup_answer = fields.String(load_default=None, allow_none=True, validate=Storable())


class CompleteInput(WidgetAuth):
    outcome = fields.String(
        required=True, validate=validate.OneOf(["cancelled", "saved", "dismissed"])
    )
    offer = line(64, load_default=None, allow_none=True)


class ReasonOut(Schema):
    id = fields.String()
    label = fields.String()
    requires_text = fields.Boolean()
    missing_feature = fields.Boolean()
    followup = fields.String(allow_none=True)


class OfferOut(Schema):
    id = fields.String()
    type = fields.String()
    title = fields.String()
    body = fields.String()
    cta = fields.String()
    percent = fields.Integer(metadata={"description": "discount only"})
    months = fields.Integer(metadata={"description": "discount and pause"})
    plan = fields.String(metadata={"description": "switch_plan only"})
    url = fields.String(metadata={"description": "contact only"})

    @post_dump
    def _drop_empty(self, data, **kwargs):
        return {k: v for k, v in data.items() if v is not None}


class SiteOut(Schema):
    name = fields.String()
    brand_color = fields.String()


class RoadmapChoiceOut(Schema):
    id = fields.Integer()
    title = fields.String()


def widget_strings(script: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={
            "description": f"The texts {script} shows, in the answer's locale, by name "
            "(from the server's translation catalogs)"
        },
    )


class StartLimitsOut(Schema):
    comment = fields.Integer(
        metadata={"description": "Most characters of a comment or of a follow-up answer"}
    )


class StartOut(Schema):
    session = fields.String()
    locale = fields.String()
    strings = widget_strings("cancel.js")
    site = fields.Nested(SiteOut)
    reasons = fields.List(fields.Nested(ReasonOut))
    roadmap = fields.List(
        fields.Nested(RoadmapChoiceOut),
        metadata={"description": "Items offered for a missing-feature reason"},
    )
    limits = fields.Nested(StartLimitsOut, metadata={"description": "What the form may hold"})


class AnswerOut(Schema):
    session = fields.String()
    offer = fields.Nested(OfferOut, allow_none=True)


class ReasonRef(Schema):
    id = fields.String()
    label = fields.String()


class ResultOut(Schema):
    outcome = fields.String()
    reason = fields.Nested(ReasonRef, allow_none=True)
    comment = fields.String(allow_none=True)
    offer = fields.Nested(OfferOut, allow_none=True)
    session = fields.String()
    receipt = fields.String(
        metadata={"description": "HS256 JWT of {sub, session, outcome, offer}, site secret"}
    )


# --- data API ----------------------------------------------------------------------------


class RangeQuery(Input):
    """Two dates; whether they make a period is the period's rule (``invalid_period``)."""

    from_ = fields.Date(data_key="from", load_default=None, format="%Y-%m-%d")
    to = fields.Date(load_default=None, format="%Y-%m-%d")


class SessionsQuery(RangeQuery):
    cursor = line(100, load_default=None)
    order = fields.String(
        load_default="newest",
        validate=validate.OneOf(["newest", "oldest"]),
        metadata={"description": "newest (default: the latest sessions first) or oldest"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class ReasonsQuery(RangeQuery):
    plan = line(100, load_default=None)


class SessionOut(Schema):
    id = fields.String(attribute="public_id")
    customer_id = fields.Function(lambda s: s.customer.external_id)
    plan = fields.String(allow_none=True)
    mrr = fields.Integer()
    currency = fields.String()
    reason = fields.Function(
        lambda s: {"id": s.reason.key, "label": s.reason.labels.get("en")} if s.reason else None
    )
    comment = fields.String(allow_none=True)
    followup_answer = fields.String(allow_none=True)
    offers_shown = fields.List(fields.String())
    offer = fields.Function(
        lambda s: {"id": s.offer.key, "type": s.offer.type} if s.offer else None
    )
    outcome = fields.String(allow_none=True)
    holdout_id = fields.Integer(
        allow_none=True, metadata={"description": "The site's holdout when the flow started"}
    )
    holdout_arm = fields.String(allow_none=True, metadata={"enum": ["offers", "holdout", None]})
    ab_test_id = fields.Integer(
        allow_none=True, metadata={"description": "The reason's A/B test when answered"}
    )
    ab_arm = fields.String(allow_none=True, metadata={"description": "The variant's offer id"})
    locale = fields.String()
    attributes = fields.Dict()
    started_at = fields.AwareDateTime(format="iso")
    answered_at = fields.AwareDateTime(format="iso", allow_none=True)
    completed_at = fields.AwareDateTime(format="iso", allow_none=True)


class SessionPage(Schema):
    items = fields.List(fields.Nested(SessionOut))
    next_cursor = fields.String(allow_none=True)


def _reason_of(item: dict) -> dict:
    """A ranked row's reason in the one shape every endpoint uses: ``{"id", "label"}``."""
    return {"id": item["reason_id"], "label": item["reason"]}


REASON_SHAPE = {
    "type": "object",
    "description": 'The reason, as everywhere: {"id": key or null (none given), "label"}',
    "properties": {"id": {"type": "string", "nullable": True}, "label": {"type": "string"}},
}


class RankingItem(Schema):
    reason_id = fields.String(allow_none=True, metadata={"description": "The reason's id"})
    reason = fields.Function(_reason_of, metadata=REASON_SHAPE)
    archived = fields.Boolean()
    cancelled = fields.Integer()
    lost_mrr = fields.Integer()
    share = fields.Float()
    average_mrr = fields.Integer()


class RankingOut(Schema):
    currency = fields.String()
    total_lost_mrr = fields.Integer()
    items = fields.List(fields.Nested(RankingItem))


class ErrorBody(Schema):
    code = fields.String()
    message = fields.String()
    details = fields.Dict()


class ErrorOut(Schema):
    error = fields.Nested(ErrorBody)


# --- roadmap -----------------------------------------------------------------------------


class BoardInput(Input):
    token = fields.String(load_default=None, allow_none=True)
    locale = line(35, load_default=None, allow_none=True)


class VoteInput(Input):
    token = fields.String(load_default=None, allow_none=True)
    anonymous_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"description": "Only where the site allows anonymous voting"},
    )
    vote = JSONBoolean(required=True, metadata={"description": "true: vote, false: unvote"})


# A customer's suggestion: the one definition of its limits (the widget's form reads them
# from the board's answer).
SUGGESTION_LIMITS = {"title_min": 3, "title_max": 200, "description": 5000}


class SuggestionInput(WidgetAuth):
    title = line(SUGGESTION_LIMITS["title_max"], SUGGESTION_LIMITS["title_min"], required=True)
    description = fields.String(
        load_default="",
        validate=[Storable(), validate.Length(max=SUGGESTION_LIMITS["description"])],
    )


class BoardItemOut(Schema):
    id = fields.Integer()
    title = fields.String()
    description_html = fields.String()
    status = fields.String()
    status_label = fields.String()
    target = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    votes = fields.Integer()
    votable = fields.Boolean()
    voted = fields.Boolean()


class BoardColumnOut(Schema):
    status = fields.String()
    label = fields.String()
    items = fields.List(fields.Nested(BoardItemOut))


class BoardLimitsOut(Schema):
    title_min = fields.Integer(
        metadata={"description": "Fewest characters of a suggestion's title"}
    )
    title_max = fields.Integer(metadata={"description": "Most characters of a suggestion's title"})
    description = fields.Integer(
        metadata={"description": "Most characters of a suggestion's description"}
    )


class BoardOut(Schema):
    locale = fields.String()
    strings = widget_strings("roadmap.js")
    can_vote = fields.Boolean()
    columns = fields.List(fields.Nested(BoardColumnOut))
    limits = fields.Nested(BoardLimitsOut, metadata={"description": "What a suggestion may hold"})


class VoteOut(Schema):
    item_id = fields.Integer()
    votes = fields.Integer()
    voted = fields.Boolean()


class SuggestionOut(Schema):
    id = fields.Integer()
    moderation = fields.String(metadata={"description": "pending until an admin approves it"})


class SimilarQuery(Input):
    q = fields.String(
        load_default="",
        validate=Storable(),
        metadata={"description": "What the customer is typing; the first 200 characters count"},
    )


class SimilarItemOut(Schema):
    id = fields.Integer()
    title = fields.String()
    status = fields.String()


class SimilarOut(Schema):
    items = fields.List(fields.Nested(SimilarItemOut))


class RoadmapItemIn(Input):
    title = line(200, 1, required=True)
    description = fields.String(load_default="", validate=[Storable(), validate.Length(max=20000)])
    status = fields.String(
        load_default="under_consideration",
        validate=validate.OneOf(STATUSES),
    )
    public = JSONBoolean(load_default=True)
    target = line(
        7,
        load_default=None,
        allow_none=True,
        metadata={"description": "A month (2026-03) or a quarter (2026-Q2)"},
    )
    tags = fields.List(line(40), load_default=list, validate=validate.Length(max=20))


class RoadmapItemOut(Schema):
    id = fields.Integer(attribute="item.id")
    title = fields.String(attribute="item.title")
    description = fields.String(attribute="item.description")
    status = fields.String(attribute="item.status")
    public = fields.Boolean(attribute="item.public")
    target = fields.String(attribute="item.target", allow_none=True)
    tags = fields.List(fields.String(), attribute="item.tags")
    moderation = fields.String(attribute="item.moderation")
    merged_into = fields.Integer(attribute="item.merged_into_id", allow_none=True)
    votes = fields.Integer()
    companies = fields.Integer()
    voters_mrr = fields.Integer()
    lost_mrr = fields.Integer()
    created_at = fields.AwareDateTime(attribute="item.created_at", format="iso")
    updated_at = fields.AwareDateTime(attribute="item.updated_at", format="iso")


class RoadmapItemPage(Schema):
    items = fields.List(fields.Nested(RoadmapItemOut))
    next_cursor = fields.String(allow_none=True)


class RoadmapQuery(Input):
    cursor = line(100, load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    sort = fields.String(
        load_default="votes",
        validate=validate.OneOf(["votes", "companies", "voters_mrr", "lost_mrr", "created"]),
    )
    status = line(
        200,
        load_default=None,
        metadata={"description": "Comma-separated status keys, e.g. planned,in_progress"},
    )


class InsightsQuery(RangeQuery):
    plan = line(100, load_default=None)
    segment = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[^=]{1,64}=.{0,255}$", error="use attribute=value"),
        metadata={"description": "A custom attribute filter, e.g. region=EU"},
    )
    by = fields.String(
        load_default="plan", metadata={"description": "plan, tenure, mrr or attr:<attribute>"}
    )


class SummaryTotals(Schema):
    currency = fields.String()
    completed = fields.Integer(metadata={"description": "Flows completed in the range"})
    cancelled = fields.Integer()
    dismissed = fields.Integer(metadata={"description": "Closed without deciding"})
    lost_mrr = fields.Integer(metadata={"description": "MRR of the cancellations (minor units)"})
    saved = fields.Integer()
    saved_mrr = fields.Integer()
    saved_mrr_net = fields.Integer(metadata={"description": "saved_mrr less discounts given"})
    save_rate = fields.Float(metadata={"description": "saved / (saved + cancelled), 0-1"})
    unconverted = fields.Integer(
        metadata={"description": "Sessions in a currency without an exchange rate (not summed)"}
    )


class SummaryChange(Schema):
    """Relative change from the previous period (0.1 = +10 %); null when it was zero."""

    cancelled = fields.Float(allow_none=True)
    lost_mrr = fields.Float(allow_none=True)
    saved = fields.Float(allow_none=True)
    saved_mrr = fields.Float(allow_none=True)
    save_rate = fields.Float(allow_none=True)


class SummaryOut(Schema):
    current = fields.Nested(SummaryTotals)
    previous = fields.Nested(
        SummaryTotals, metadata={"description": "The period of the same length just before"}
    )
    change = fields.Nested(SummaryChange)


class SegmentItem(Schema):
    segment = fields.String()
    cancelled = fields.Integer()
    saved = fields.Integer()
    lost_mrr = fields.Integer()
    share = fields.Float(metadata={"description": "Share of the lost MRR, 0-1"})
    save_rate = fields.Float()


class SegmentsOut(Schema):
    by = fields.String()
    currency = fields.String()
    items = fields.List(fields.Nested(SegmentItem))


class OfferPerformanceItem(Schema):
    offer_id = fields.String()
    offer = fields.String(metadata={"description": "The offer's title"})
    type = fields.String()
    shown = fields.Integer()
    accepted = fields.Integer()
    save_rate = fields.Float(metadata={"description": "accepted / shown, 0-1"})
    mrr_kept = fields.Integer()
    archived = fields.Boolean()


class OffersOut(Schema):
    currency = fields.String()
    items = fields.List(fields.Nested(OfferPerformanceItem))


class TrendSeries(Schema):
    reason_id = fields.String(allow_none=True)
    reason = fields.Function(_reason_of, metadata=REASON_SHAPE)
    values = fields.List(
        fields.Integer(), metadata={"description": "Lost MRR per month, in the order of months"}
    )


class TrendOut(Schema):
    currency = fields.String()
    months = fields.List(fields.String(), metadata={"description": "YYYY-MM"})
    series = fields.List(fields.Nested(TrendSeries))


class LiftOut(Schema):
    estimate = fields.Float(metadata={"description": "Save rate of the arm minus the reference's"})
    ci_low = fields.Float(metadata={"description": "95 % interval (Newcombe), lower end"})
    ci_high = fields.Float(metadata={"description": "95 % interval (Newcombe), upper end"})


class ExperimentArmOut(Schema):
    key = fields.String(metadata={"description": "offers | holdout, or the variant's offer id"})
    sessions = fields.Integer(metadata={"description": "Completed sessions in the arm"})
    saved = fields.Integer(
        metadata={"description": "Sessions completed saved: an accepted offer, or kept without"}
    )
    save_rate = fields.Float(metadata={"description": "saved / sessions, 0-1"})
    retained_30 = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Saves at least 30 days old whose customer had no "
            "subscription.cancelled within 30 days; null when none is that old"
        },
    )
    eligible_30 = fields.Integer(metadata={"description": "Saves at least 30 days old"})
    mrr_kept = fields.Integer(metadata={"description": "MRR of the saves (minor units)"})
    discount_cost = fields.Integer(
        metadata={"description": "Discounts accepted: MRR x percent x months (minor units)"}
    )
    lift = fields.Nested(
        LiftOut, allow_none=True, metadata={"description": "Against the reference arm"}
    )


class ExperimentOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": ["holdout", "ab"]})
    status = fields.String(metadata={"enum": ["running", "paused", "ended"]})
    name = fields.String()
    reason = fields.Nested(
        ReasonRef, allow_none=True, metadata={"description": "A/B tests: the reason"}
    )
    holdout_percent = fields.Integer(allow_none=True)
    planned_size = fields.Integer(metadata={"description": "Sessions per arm before the lift"})
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    kept = fields.String(allow_none=True, metadata={"description": "The variant kept at the end"})
    arms = fields.List(fields.Nested(ExperimentArmOut))
    lift = fields.Nested(
        LiftOut,
        allow_none=True,
        metadata={
            "description": "offers minus holdout, or the second variant minus the first; null "
            "until every arm reached the planned size"
        },
    )
    conclusive = fields.Boolean(metadata={"description": "Every arm reached the planned size"})


class ExperimentsOut(Schema):
    currency = fields.String()
    items = fields.List(fields.Nested(ExperimentOut))


# --- lifecycle events --------------------------------------------------------------------

MAX_EVENTS = 500
# Clocks differ: an event may say it happened up to a day ahead of ours, no more.
FUTURE_SKEW = timedelta(days=1)


class EventIn(Input):
    id = line(
        255, 1, required=True, metadata={"description": "Your id for the event (idempotency key)"}
    )
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    customer = line(
        255, 1, required=True, metadata={"description": "The customer's id (the token's sub)"}
    )
    occurred_at = fields.AwareDateTime(
        required=True,
        format="iso",
        metadata={"description": "When it happened (UTC offset required; the past is fine)"},
    )
    mrr = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_AMOUNT),
        metadata={"description": "MRR after the event, minor units; required for mrr.changed"},
    )
    currency = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[A-Z]{3}$", error="Not an ISO 4217 currency code"),
        metadata={"description": "ISO 4217; default: the customer's"},
    )

    @validates_schema
    def _consistent(self, data, **kwargs):
        if data.get("type") == "mrr.changed" and data.get("mrr") is None:
            raise SchemaError("mrr.changed carries the new MRR", "mrr")
        currency = data.get("currency")
        if currency is not None and not is_currency(currency):
            raise SchemaError("Not an ISO 4217 currency code", "currency")
        occurred_at = data.get("occurred_at")
        if occurred_at is not None and not (
            occurred_at.year >= 1970 and occurred_at <= utcnow() + FUTURE_SKEW
        ):
            raise SchemaError("Must be after 1970 and not more than a day ahead", "occurred_at")


class EventBatchIn(Input):
    events = fields.List(
        fields.Nested(EventIn),
        required=True,
        validate=validate.Length(min=1, max=MAX_EVENTS),
        metadata={"description": f"At most {MAX_EVENTS} events, stored all or nothing"},
    )


class EventsOut(Schema):
    accepted = fields.Integer(metadata={"description": "Events stored by this request"})
    duplicates = fields.Integer(
        metadata={"description": "Events whose id was already stored (or repeated in the batch)"}
    )


class RetentionWindow(Schema):
    eligible = fields.Integer(metadata={"description": "Saves at least N days old"})
    retained = fields.Integer(
        metadata={"description": "Eligible saves not reported cancelled within N days"}
    )
    retained_mrr = fields.Integer(metadata={"description": "Their MRR at the save"})


class RetentionWindows(Schema):
    d30 = fields.Nested(RetentionWindow, data_key="30")
    d60 = fields.Nested(RetentionWindow, data_key="60")
    d90 = fields.Nested(RetentionWindow, data_key="90")


class RetentionOut(Schema):
    currency = fields.String()
    saved = fields.Integer(metadata={"description": "Sessions completed saved in the range"})
    saved_mrr = fields.Integer()
    cancellations = fields.Integer(
        metadata={"description": "Sessions completed cancelled in the range"}
    )
    confirmed_cancellations = fields.Integer(
        metadata={"description": "Cancellations billing confirmed (subscription.cancelled)"}
    )
    still_paying = fields.Integer(
        metadata={"description": "Said cancelled over 35 days ago, never confirmed by billing"}
    )
    still_paying_mrr = fields.Integer()
    windows = fields.Nested(RetentionWindows)

    @pre_dump
    def _windows(self, data, **kwargs):
        return {**data, "windows": {f"d{k}": v for k, v in data["windows"].items()}}


class ReactivationFigures(Schema):
    reactivated = fields.Integer()
    reactivated_mrr = fields.Integer()


class ReactivationItem(ReactivationFigures):
    roadmap_item_id = fields.Integer()
    title = fields.String()


class ReactivationsOut(Schema):
    currency = fields.String()
    total = fields.Integer(metadata={"description": "subscription.reactivated events in range"})
    total_mrr = fields.Integer()
    items = fields.List(
        fields.Nested(ReactivationItem),
        metadata={
            "description": "Per roadmap item whose win-back email the customer got in the 90 "
            "days before coming back (one customer may count for several items)"
        },
    )
    unattributed = fields.Nested(ReactivationFigures)


# --- customers' data (GDPR) ------------------------------------------------------------------


class ItemRefOut(Schema):
    id = fields.Integer()
    title = fields.String()


class CustomerProfileOut(Schema):
    id = fields.String()
    email = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    plan = fields.String(allow_none=True)
    mrr = fields.Integer()
    currency = fields.String()
    signed_up_at = fields.String(allow_none=True)
    attributes = fields.Dict()
    locale = fields.String(allow_none=True)
    first_seen_at = fields.String()
    last_seen_at = fields.String()


class CustomerSessionOut(Schema):
    id = fields.String()
    started_at = fields.String()
    answered_at = fields.String(allow_none=True)
    completed_at = fields.String(allow_none=True)
    plan = fields.String(allow_none=True)
    mrr = fields.Integer()
    currency = fields.String()
    attributes = fields.Dict()
    locale = fields.String()
    reason = fields.Nested(ReasonRef, allow_none=True)
    comment = fields.String(allow_none=True)
    followup_answer = fields.String(allow_none=True)
    roadmap_item = fields.Integer(allow_none=True)
    offers_shown = fields.List(fields.String())
    offer = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)


class CustomerVoteOut(Schema):
    item = fields.Nested(ItemRefOut)
    company = fields.String(allow_none=True)
    source = fields.String()
    created_at = fields.String()


class CustomerSubscriptionOut(Schema):
    item = fields.Nested(ItemRefOut)
    created_at = fields.String()
    unsubscribed_at = fields.String(allow_none=True)


class CustomerSuggestionOut(Schema):
    item = fields.Nested(ItemRefOut)
    created_at = fields.String()


class CustomerMessageOut(Schema):
    kind = fields.String(metadata={"description": "email or webhook"})
    topic = fields.String()
    to = fields.String(allow_none=True)
    state = fields.String()
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)


class CustomerEventOut(Schema):
    id = fields.String()
    type = fields.String()
    occurred_at = fields.String()
    mrr = fields.Integer(allow_none=True)
    currency = fields.String(allow_none=True)


class CustomerExportOut(Schema):
    customer = fields.Nested(CustomerProfileOut)
    sessions = fields.List(fields.Nested(CustomerSessionOut))
    votes = fields.List(fields.Nested(CustomerVoteOut))
    subscriptions = fields.List(fields.Nested(CustomerSubscriptionOut))
    suggestions = fields.List(fields.Nested(CustomerSuggestionOut))
    messages = fields.List(fields.Nested(CustomerMessageOut))
    lifecycle_events = fields.List(fields.Nested(CustomerEventOut))


class CustomerErasedOut(Schema):
    erased = fields.Boolean()
    sessions = fields.Integer(metadata={"description": "sessions kept without personal fields"})
    votes = fields.Integer()
    subscriptions = fields.Integer()
    messages = fields.Integer()
