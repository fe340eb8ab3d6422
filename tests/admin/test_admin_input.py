"""The admin's doors refuse what the API's refuse: text that is not one line gets a form error,
numbers beyond range a form error or a 4xx, NUL a 400 page. Nothing is stored."""

import pytest
import sqlalchemy as sa

from tests.clients import token_of
from tests.factories import BAD_LINES
from widget_server.extensions import db
from widget_server.models import Offer, Reason, RoadmapItem
from widget_server.services import roadmap

# Browsers send form fields as UTF-8, where a lone surrogate cannot even be encoded; NUL is
# refused for the whole request (see the last test). The other kinds get a form error.
FORM_BAD_LINES = [
    bad
    for bad in BAD_LINES
    if "\x00" not in bad and not any(0xD800 <= ord(c) < 0xE000 for c in bad)
]
HUGE = "99999999999999999999"


def form_error(response, status=422) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == status, html[:500]
    return html


@pytest.mark.parametrize("bad", FORM_BAD_LINES)
def test_roadmap_titles_from_the_admin_are_one_line(admin_client, site, bad):
    token = token_of(admin_client, site)
    base = f"/admin/sites/{site.key}/roadmap"
    created = admin_client.post(
        base,
        data={"csrf_token": token, "title": f"SSO{bad}X-Injected: 1", "status": "planned"},
        follow_redirects=True,
    )
    assert "one line of text" in created.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RoadmapItem)) == 0
    item = roadmap.create_item(site, title="SSO")
    db.session.commit()
    edited = admin_client.post(
        f"{base}/{item.id}", data={"csrf_token": token, "title": f"SSO{bad}", "status": "planned"}
    )
    assert "one line of text" in form_error(edited)
    db.session.refresh(item)
    assert (item.title, item.status) == ("SSO", "under_consideration")


@pytest.mark.parametrize("bad", FORM_BAD_LINES)
def test_site_reason_offer_and_label_texts_are_one_line(admin_client, site, bad):
    token = token_of(admin_client, site)
    base = f"/admin/sites/{site.key}"
    general = {
        "csrf_token": token, "name": f"Acme{bad}", "default_locale": "en", "currency": "USD",
        "brand_color": "#112233", "discount_window_days": "90",
    }  # fmt: skip
    page = admin_client.post(f"{base}/general", data=general, follow_redirects=True)
    assert "one line of text" in page.get_data(as_text=True)
    reasons = db.session.scalar(sa.select(sa.func.count()).select_from(Reason))
    for labels in ({"label_en": f"Seasonal{bad}"}, {"label_en": "Ok", "followup_de": f"Wann{bad}"}):
        html = form_error(
            admin_client.post(f"{base}/reasons/new", data={"csrf_token": token, **labels})
        )
        assert "one line of text" in html
    offer = {"csrf_token": token, "type": "pause", "pause_months": "2", "title_en": "Take a break"}
    for field in ("title_en", "cta_en", "plans"):
        data = offer | {field: offer.get(field, "x") + bad}
        assert "one line of text" in form_error(admin_client.post(f"{base}/offers/new", data=data))
    labels = {"csrf_token": token, "label_shipped_en": f"Done{bad}"}
    admin_client.post(f"{base}/roadmap-options", data=labels)
    origin = {"csrf_token": token, "origin": f"https://shop{bad}.example.com"}
    admin_client.post(f"{base}/origins", data=origin)
    db.session.refresh(site)
    assert site.name == "Acme" and site.status_labels == {}
    assert [o.origin for o in site.origins] == ["https://app.example.com"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Reason)) == reasons
    assert db.session.scalar(sa.select(Offer).where(Offer.key == "take_a_break")) is None


def test_offer_bodies_keep_line_breaks(admin_client, site):
    data = {
        "csrf_token": token_of(admin_client, site), "type": "pause", "pause_months": "2",
        "title_en": "Take a break", "body_en": "Pause now.\r\nResume later.", "cta_en": "Pause",
    }  # fmt: skip
    assert admin_client.post(f"/admin/sites/{site.key}/offers/new", data=data).status_code == 302
    offer = db.session.scalar(sa.select(Offer).where(Offer.key == "take_a_break"))
    assert offer.texts["en"]["body"] == "Pause now.\r\nResume later."


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_mrr", "1e400"),  # infinity once multiplied
        ("min_mrr", "1e17"),  # beyond BIGINT in cents
        ("max_mrr", "10000000001"),  # over 10^12 minor units
        ("max_mrr", "nan"),
        ("min_mrr", "-1"),
        ("max_mrr", "Infinity"),
    ],
)
def test_offer_amounts_are_bounded(admin_client, site, field, value):
    data = {
        "csrf_token": token_of(admin_client, site), "type": "pause", "pause_months": "2",
        "title_en": "Take a break", field: value,
    }  # fmt: skip
    html = form_error(admin_client.post(f"/admin/sites/{site.key}/offers/new", data=data))
    assert "must be an amount" in html
    assert db.session.scalar(sa.select(Offer).where(Offer.key == "take_a_break")) is None


def test_offer_amount_at_the_bound_is_kept(admin_client, site):
    data = {
        "csrf_token": token_of(admin_client, site), "type": "pause", "pause_months": "2",
        "title_en": "Take a break", "min_mrr": "10.005", "max_mrr": "10000000000",
    }  # fmt: skip
    assert admin_client.post(f"/admin/sites/{site.key}/offers/new", data=data).status_code == 302
    offer = db.session.scalar(sa.select(Offer).where(Offer.key == "take_a_break"))
    assert (offer.min_mrr, offer.max_mrr) == (1001, 10**12)  # cents rounded half up


def test_offer_reasons_beyond_an_integer_are_ignored(admin_client, site):
    reason = db.session.scalar(sa.select(Reason).where(Reason.key == "switching"))
    data = {
        "csrf_token": token_of(admin_client, site), "type": "pause", "pause_months": "2",
        "title_en": "Take a break", "reason_ids": [HUGE, "²", str(reason.id)],
    }  # fmt: skip
    assert admin_client.post(f"/admin/sites/{site.key}/offers/new", data=data).status_code == 302
    offer = db.session.scalar(sa.select(Offer).where(Offer.key == "take_a_break"))
    assert [r.key for r in offer.reasons] == ["switching"]


@pytest.mark.parametrize("page", [HUGE, "0", "-3", "two"])
def test_session_pages_beyond_range_are_a_400(admin_client, site, page):
    response = admin_client.get(f"/admin/sites/{site.key}/sessions?page={page}")
    assert response.status_code == 400 and "page must be" in response.get_data(as_text=True)


def test_urls_and_forms_with_ids_beyond_an_integer(admin_client, site):
    item = roadmap.create_item(site, title="SSO")
    db.session.commit()
    base = f"/admin/sites/{site.key}"
    for url in (f"{base}/roadmap/{HUGE}", f"{base}/roadmap/{2**31}", f"{base}/reasons/{2**31}"):
        assert admin_client.get(url).status_code == 404
    merged = admin_client.post(
        f"{base}/roadmap/{item.id}/merge",
        data={"csrf_token": token_of(admin_client, site), "into": HUGE},
        follow_redirects=True,
    )
    assert merged.status_code == 200 and "No such roadmap item" in merged.get_data(as_text=True)
    db.session.refresh(item)
    assert item.merged_into_id is None


def test_nul_in_forms_and_query_strings_is_a_400(client, admin_client, site):
    base = f"/admin/sites/{site.key}"
    assert admin_client.get(f"{base}/?plan=Growth%00").status_code == 400
    assert admin_client.get(f"{base}/sessions?q=%00").status_code == 400
    data = {"csrf_token": token_of(admin_client, site), "title": "SSO\x00"}
    assert admin_client.post(f"{base}/roadmap", data=data).status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RoadmapItem)) == 0
    admin_client.post("/admin/logout", data={"csrf_token": data["csrf_token"]})
    login = client.post("/admin/login", data={"email": "pm@example.com\x00", "password": "x"})
    assert login.status_code == 400


@pytest.mark.parametrize("number", ["²", "٣", "9" * 5000, HUGE])
def test_numbers_that_only_look_like_numbers_are_not_a_500(admin_client, site, number):
    item = roadmap.create_item(site, title="SSO")
    db.session.commit()
    base = f"/admin/sites/{site.key}"
    page = admin_client.get(f"{base}/roadmap/{item.id}?voters_page={number}&churned_page=2")
    assert page.status_code == 200
    assert admin_client.get(f"{base}/sessions?page={number}").status_code == 400
    retention = admin_client.post(
        f"{base}/privacy/retention",
        data={"csrf_token": token_of(admin_client, site), "months": number},
    )
    assert retention.status_code == 302
    db.session.refresh(site)
    assert site.comment_retention_months is None
