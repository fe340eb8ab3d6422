import pytest
import sqlalchemy as sa

from tests.factories import complete_session, make_customer, make_site, start_flow
from widget_server.errors import Conflict, ValidationError
from widget_server.models import OutboxMessage, Subscription, Vote
from widget_server.services import flow, roadmap


def outbox(db, kind="email"):
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == kind)))


def test_votes_are_one_per_customer_and_counted_per_company(db, site):
    item = roadmap.create_item(site, title="SSO with Okta")
    a = make_customer(site, "a", company="acme", mrr=5000)
    b = make_customer(site, "b", company="acme", mrr=3000)
    c = make_customer(site, "c", mrr=2000)
    assert roadmap.vote(site, item, a) is True
    assert roadmap.vote(site, item, a) is False  # idempotent
    roadmap.vote(site, item, b)
    roadmap.vote(site, item, c)
    [row] = roadmap.items_with_stats(site, roadmap.ItemFilter())
    assert (row["votes"], row["companies"], row["voters_mrr"]) == (3, 2, 10000)
    assert roadmap.unvote(site, item, b) is True
    assert roadmap.unvote(site, item, b) is False
    assert roadmap.vote_state(item, b) == {"item_id": item.id, "votes": 2, "voted": False}
    assert roadmap.vote_state(item, a)["voted"] is True


@pytest.mark.parametrize("status", ["shipped", "declined", "duplicate"])
def test_no_votes_on_closed_items(db, site, status):
    item = roadmap.create_item(site, title="Old thing", status=status)
    with pytest.raises(Conflict) as info:
        roadmap.vote(site, item, make_customer(site, "a", mrr=1000))
    assert info.value.code == "item_not_votable"


def test_lost_mrr_comes_from_customers_who_cancelled_for_it(db, site):
    sso = roadmap.create_item(site, title="SSO")
    api = roadmap.create_item(site, title="API")
    complete_session(site, "x", "missing_features", roadmap_item=sso, mrr=29900, email="x@ex.com")
    complete_session(site, "y", "missing_features", roadmap_item=sso, mrr=9900, email="y@ex.com")
    complete_session(site, "z", "missing_features", roadmap_item=api, mrr=2900, email="z@ex.com")
    rows = roadmap.items_with_stats(site, roadmap.ItemFilter(), sort="lost_mrr")
    assert [(r["item"].title, r["lost_mrr"], r["churned"]) for r in rows] == [
        ("SSO", 39800, 2),
        ("API", 2900, 1),
    ]


def test_missing_feature_link_is_validated(db, site):
    item = roadmap.create_item(site, title="Hidden", public=False)
    session, _ = start_flow(site, "q", reason=None)
    for reason, item_id in (("missing_features", item.id), ("switching", None)):
        if item_id is None:
            item_id = roadmap.create_item(site, title="Public").id
        with pytest.raises(ValidationError) as info:
            flow.answer_session(site, session, reason_key=reason, roadmap_item_id=item_id)
        assert info.value.code == "unknown_roadmap_item"
    other, _ = make_site("Other")
    foreign = roadmap.create_item(other, title="Theirs")
    with pytest.raises(ValidationError):
        flow.answer_session(
            site, session, reason_key="missing_features", roadmap_item_id=foreign.id
        )


def test_status_changes_queue_each_email_once(db, site):
    item = roadmap.create_item(site, title="Dark mode")
    voters = [make_customer(site, f"v{i}", mrr=1000) for i in range(3)]
    for voter in voters:
        roadmap.vote(site, item, voter)
    roadmap.unsubscribe(site, voters[2].id, item.id)
    complete_session(
        site, "gone", "missing_features", roadmap_item=item, mrr=5000, email="gone@ex.com"
    )
    assert roadmap.change_status(site, item, "in_progress") == 2
    assert roadmap.change_status(site, item, "planned") == 0
    assert roadmap.change_status(site, item, "in_progress") == 0  # not twice
    assert roadmap.change_status(site, item, "shipped") == 3  # 2 voters + 1 win-back
    topics = sorted(m.topic for m in outbox(db))
    assert topics == ["roadmap.in_progress"] * 2 + ["roadmap.shipped"] * 2 + ["roadmap.winback"]
    assert {m.recipient for m in outbox(db) if m.topic == "roadmap.winback"} == {"gone@ex.com"}


def test_webhooks_are_queued_only_with_a_url(db, site):
    item = roadmap.create_item(site, title="Exports")
    roadmap.vote(site, item, make_customer(site, "a", mrr=1000))
    assert outbox(db, "webhook") == []
    site.webhook_url, site.webhook_secret = "https://hooks.example.com/kk", "whsec"
    roadmap.vote(site, item, make_customer(site, "b", mrr=1000))
    roadmap.unvote(site, item, make_customer(site, "b", mrr=1000))
    roadmap.change_status(site, item, "planned")
    assert [m.topic for m in outbox(db, "webhook")] == [
        "vote.created", "vote.deleted", "roadmap_item.status_changed",
    ]  # fmt: skip


def test_merge_unites_voters_without_double_votes(db, site):
    original = roadmap.create_item(site, title="Okta SSO")
    duplicate = roadmap.create_item(site, title="Single sign-on")
    both, only_dup, only_orig = (
        make_customer(site, "both", mrr=1000),
        make_customer(site, "dup", mrr=1000),
        make_customer(site, "orig", mrr=1000),
    )
    for voter in (both, only_dup):
        roadmap.vote(site, duplicate, voter)
    for voter in (both, only_orig):
        roadmap.vote(site, original, voter)
    churned = complete_session(
        site, "left", "missing_features", roadmap_item=duplicate, mrr=7000, email="left@ex.com"
    )
    roadmap.merge(site, duplicate, original)
    voters = set(db.session.scalars(sa.select(Vote.customer_id).where(Vote.item_id == original.id)))
    assert voters == {both.id, only_dup.id, only_orig.id}
    assert db.session.scalar(sa.select(sa.func.count()).where(Vote.item_id == duplicate.id)) == 0
    subs = db.session.scalar(sa.select(sa.func.count()).where(Subscription.item_id == original.id))
    assert subs == 3
    db.session.refresh(churned)
    assert churned.roadmap_item_id == original.id
    assert (duplicate.status, duplicate.merged_into_id) == ("duplicate", original.id)
    with pytest.raises(ValidationError):
        roadmap.merge(site, original, duplicate)  # into a merged item


def test_suggestions_wait_for_moderation(db, site):
    author = make_customer(site, "idea-person", mrr=1000)
    item = roadmap.suggest(site, author, title="Slack integration")
    assert all(i["id"] != item.id for i in roadmap.board(site))
    roadmap.moderate(site, item, approve=True)
    _, voted = roadmap.reader(site, author.external_id)
    [listed] = [i for i in roadmap.board(site, voted) if i["id"] == item.id]
    assert listed["votes"] == 1 and listed["voted"] is True


def test_similar_items(db, site):
    roadmap.create_item(site, title="Slack integration")
    roadmap.create_item(site, title="Export to Excel")
    roadmap.create_item(site, title="Hidden slack thing", public=False)
    assert [i["title"] for i in roadmap.similar(site, "better slack notifications")] == [
        "Slack integration"
    ]
    assert roadmap.similar(site, "a") == []


def test_item_validation(db, site):
    for fields in (
        {"title": ""},
        {"title": "x", "target": "next year"},
        {"title": "x", "status": "done"},
    ):
        with pytest.raises(ValidationError):
            roadmap.create_item(site, **fields)
    item = roadmap.create_item(site, title="Q", target="2026-q3", tags="API, api ,Reports")
    assert item.target == "2026-Q3" and item.tags == ["api", "reports"]


def test_markdown_is_rendered_safely(db, site):
    from widget_server.services.text import render_markdown

    html = render_markdown(
        "**Bold** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://a.b)"
    )
    assert "<strong>Bold</strong>" in html and "<script>" not in html
    assert 'href="javascript' not in html and 'href="https://a.b"' in html


def test_votes_that_cannot_be_taken_say_why(db, site):
    from widget_server.errors import NotFound

    original = roadmap.create_item(site, title="Dark mode")
    duplicate = roadmap.create_item(site, title="Night theme")
    roadmap.merge(site, duplicate, original)
    voter = make_customer(site, "why", mrr=1000)
    with pytest.raises(Conflict, match="merged into “Dark mode”: votes go there"):
        roadmap.vote(site, duplicate, voter)
    pending = roadmap.create_item(site, title="Idea")
    pending.moderation = "pending"
    with pytest.raises(NotFound):  # customers do not know it exists
        roadmap.vote(site, pending, voter)
    with pytest.raises(Conflict, match="waiting for moderation"):
        roadmap.vote(site, pending, voter, source="support")
    shipped = roadmap.create_item(site, title="CSV", status="shipped")
    with pytest.raises(Conflict, match="Items that are shipped take no votes"):
        roadmap.vote(site, shipped, voter)
