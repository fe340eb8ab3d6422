"""Public widget API: cookie-less, site key + customer token + Origin allowlist + CORS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, current_app, g, jsonify, request

from widget_server import database, ratelimit
from widget_server.api.schemas import (
    SUGGESTION_LIMITS,
    AnswerInput,
    AnswerOut,
    BoardInput,
    BoardOut,
    CompleteInput,
    ResultOut,
    SimilarOut,
    SimilarQuery,
    StartInput,
    StartOut,
    SuggestionInput,
    SuggestionOut,
    VoteInput,
    VoteOut,
)
from widget_server.customer import present
from widget_server.customer.widget_texts import cancel_strings, roadmap_strings
from widget_server.errors import Forbidden, KeepkitError, Unauthorized
from widget_server.extensions import db
from widget_server.guards import json_object
from widget_server.services import flow, roadmap, site_cache, sites, stripe_connector
from widget_server.services.customers import current_customer, is_current, upsert_customer
from widget_server.services.locales import pick_locale
from widget_server.services.tokens import CustomerClaims, verify_customer_token

# One instance of each schema, made once: marshmallow schemas keep no state between loads
# and dumps, and making one copies every field (a third of a board read's time).
START_INPUT = StartInput()
START_OUT = StartOut()
ANSWER_INPUT = AnswerInput()
ANSWER_OUT = AnswerOut()
COMPLETE_INPUT = CompleteInput()
RESULT_OUT = ResultOut()
BOARD_INPUT = BoardInput()
BOARD_OUT = BoardOut()
VOTE_INPUT = VoteInput()
VOTE_OUT = VoteOut()
SUGGESTION_INPUT = SuggestionInput()
SUGGESTION_OUT = SuggestionOut()
SIMILAR_QUERY = SimilarQuery()
SIMILAR_OUT = SimilarOut()

T = TypeVar("T")

bp = Blueprint("widget_api", __name__, url_prefix="/api/v1/widget/<site_key>")


ratelimit.limit_door(bp, "widget")


@bp.url_value_preprocessor
def _load_site(endpoint, values):
    # Runs before the limiter, which counts per address and site (unknown keys: one bucket).
    g.site_key = values.pop("site_key")
    g.site = site_cache.site_view(db.session(), g.site_key)


@bp.before_request
def _check_origin():
    if g.site is None:
        raise sites.site_not_found(g.site_key)
    origin = request.headers.get("Origin")
    own = request.host_url.rstrip("/")
    if origin and origin != own and not _allowed(origin):
        raise Forbidden(
            f"Origin {origin} is not allowed for this site; add it in the Keepkit admin "
            "(Settings → Allowed origins)",
            code="origin_not_allowed",
        )
    if request.method == "OPTIONS":
        return current_app.response_class(status=204)
    return None


def _allowed(origin: str) -> bool:
    try:
        return sites.normalize_origin(origin) in g.site.allowed_origins
    except KeepkitError:
        return False


@bp.after_request
def _cors(response):
    # Rejected origins never reach a view (see _check_origin); echoing the origin on the
    # error lets the developer read why.
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "86400"
    response.vary.add("Origin")
    response.headers["Cache-Control"] = "no-store"
    return response


def _body(schema):
    """Parse the JSON body. ``text/plain`` is accepted so browsers skip the CORS preflight."""
    return schema.load(json_object(request.get_data(cache=False)))


def _customer(data):
    return verify_customer_token(g.site, data["token"])


@bp.route("/sessions", methods=["POST", "OPTIONS"])
def start():
    """Start the flow: verify the token, create the session, return the reasons."""
    data = _body(START_INPUT)
    claims = stripe_connector.complete_claims(
        g.site, _customer(data), current_app.config["KEEPKIT_STRIPE_API_BASE"]
    )
    session, created = flow.start_session(
        g.site, claims, locale=data["locale"], public_id=data["session"]
    )
    body = START_OUT.dump({"session": session.public_id, "locale": session.locale})
    body.update(_start_choices(session.locale))
    return jsonify(body), 201 if created else 200


_CHOICES_OUT = StartOut(only=("strings", "site", "reasons", "roadmap", "limits"))


def _start_choices(locale: str) -> dict:
    """What every customer of the site who starts the flow in ``locale`` is shown."""
    choices = flow.choices(g.site)

    def make():
        return _CHOICES_OUT.dump(
            {
                "strings": cancel_strings(locale),
                "site": {"name": g.site.name, "brand_color": g.site.brand_color},
                **present.choices(choices, locale),
                "limits": {"comment": flow.MAX_COMMENT},
            }
        )

    return _same_for_all("start", locale, choices.roadmap, make)


@bp.route("/sessions/<session_id>/answer", methods=["POST", "OPTIONS"])
def answer(session_id: str):
    """Record the reason and comment; returns the save offer to show, if any."""
    data = _body(ANSWER_INPUT)
    session = flow.get_session(g.site, _customer(data), session_id)
    offer = flow.answer_session(
        g.site,
        session,
        reason_key=data["reason"],
        comment=data["comment"],
        followup_answer=data["followup_answer"],
        roadmap_item_id=data["roadmap_item"],
    )
    body = {
        "session": session.public_id,
        "offer": present.offer(offer, session.locale) if offer else None,
    }
    return jsonify(ANSWER_OUT.dump(body))


@bp.route("/sessions/<session_id>/complete", methods=["POST", "OPTIONS"])
def complete(session_id: str):
    """Close the flow with an outcome; returns the Result with a signed receipt."""
    data = _body(COMPLETE_INPUT)
    session = flow.get_session(g.site, _customer(data), session_id)
    flow.complete_session(g.site, session, outcome=data["outcome"], offer_key=data["offer"])
    result = present.result(
        session,
        flow.receipt(g.site, session),
        flow.reason_of(g.site, session),
        flow.offer_of(g.site, session),
    )
    return jsonify(RESULT_OUT.dump(result))


# --- roadmap ------------------------------------------------------------------------------


def _voter_claims(data) -> CustomerClaims:
    """Who writes to the roadmap: the token's customer, or (only where the site allows
    anonymous voting) the browser's anonymous id.

    :raises Unauthorized: ``token_missing`` when neither is acceptable.
    """
    if data.get("token"):
        return verify_customer_token(g.site, data["token"])
    anonymous = data.get("anonymous_id")
    if g.site.anonymous_voting and anonymous:
        return CustomerClaims(sub=f"anonymous:{anonymous}", currency=g.site.currency)
    raise Unauthorized("Voting needs a customer token", code="token_missing")


@bp.route("/roadmap", methods=["POST", "OPTIONS"])
@database.reads
def board():
    """The public board; with a token, also which items this customer voted for. A read: the
    customer is written only when new or changed (their language, for emails)."""
    data = _body(BOARD_INPUT)
    locale = pick_locale(data["locale"], g.site.default_locale)
    reader, voted = None, frozenset[int]()
    if data["token"]:
        claims = verify_customer_token(g.site, data["token"])
        reader, voted = roadmap.reader(g.site, claims.sub)
        if not is_current(reader, claims, locale):
            reader = database.write_now(lambda: upsert_customer(g.site, claims, locale=locale))
    body = BOARD_OUT.dump(
        {
            "locale": locale,
            "strings": roadmap_strings(locale),
            "can_vote": reader is not None or g.site.anonymous_voting,
            "limits": SUGGESTION_LIMITS,
        }
    )
    body["columns"] = _board_columns(locale, voted)
    return jsonify(body)


_COLUMNS_OUT = BoardOut(only=("columns",))


def _board_columns(locale: str, voted: frozenset[int]) -> list:
    items = roadmap.public_board(g.site)

    def make():
        board = present.board(g.site, roadmap.board(g.site, items=items), locale)
        return _COLUMNS_OUT.dump(board)["columns"]

    columns = _same_for_all("board", locale, items, make)  # made with no votes
    if not voted:
        return columns
    return [
        {**column, "items": [{**item, "voted": item["id"] in voted} for item in column["items"]]}
        for column in columns
    ]


# Parts of an answer that are the same for every customer of a site in a locale, as the API
# writes them: per process, while this process's snapshot of the site is the one they were
# made from and what else they show (``shown``: the board's items) is equal. Dumping them was
# a quarter of a board read and a tenth of a flow start.
_MADE: dict[tuple[str, str, str], tuple[object, object, Any]] = {}


def _same_for_all(kind: str, locale: str, shown: object, make: Callable[[], T]) -> T:
    key = (kind, g.site.key, locale)
    made = _MADE.get(key)
    if made is None or made[0] is not g.site or made[1] != shown:
        made = _MADE[key] = (g.site, shown, make())
    return cast(T, made[2])


@bp.route("/roadmap/items/<int:item_id>/vote", methods=["POST", "OPTIONS"])
def vote(item_id: int):
    """Vote (``"vote": true``) or take the vote back (``false``); idempotent either way.
    Hidden items and suggestions in moderation are unknown here (404), as on the board."""
    data = _body(VOTE_INPUT)
    try:
        claims, refused = _voter_claims(data), None
    except KeepkitError as exc:  # told after the item: an unknown item is a 404 first
        claims, refused = None, exc
    item, stored = roadmap.public_item_and_voter(g.site, item_id, claims.sub if claims else None)
    if claims is None:
        raise cast(KeepkitError, refused)
    customer = current_customer(g.site, claims, stored)
    if data["vote"]:
        roadmap.vote(g.site, item, customer)
    else:
        roadmap.unvote(g.site, item, customer)
    state = roadmap.vote_state(item, customer)  # in this transaction: it sees its own write
    return jsonify(VOTE_OUT.dump(state))


@bp.route("/roadmap/suggestions", methods=["POST", "OPTIONS"])
def suggest():
    """A customer's idea; it waits for moderation before anyone else sees it."""
    data = _body(SUGGESTION_INPUT)
    customer = upsert_customer(g.site, _voter_claims(data))
    item = roadmap.suggest(g.site, customer, title=data["title"], description=data["description"])
    return jsonify(SUGGESTION_OUT.dump(item)), 201


@bp.get("/roadmap/similar")
def similar():
    """Existing public items that look like what the customer is typing."""
    query = SIMILAR_QUERY.load(request.args)["q"][:200]
    return jsonify(SIMILAR_OUT.dump({"items": roadmap.similar(g.site, query)}))
