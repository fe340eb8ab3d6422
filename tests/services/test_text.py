"""The single-line rule, and every service that takes single-line text applies it (the admin
forms and the CLI call services directly, so a schema alone would not be enough)."""

import sys
import unicodedata

import pytest
import sqlalchemy as sa

from tests.factories import BAD_LINES, BAD_TEXTS
from widget_server.errors import ValidationError
from widget_server.models import Offer, Reason, RoadmapItem, Site
from widget_server.services import flow_config, roadmap, sites
from widget_server.services.text import is_single_line, is_storable, single_line, storable


def test_every_control_character_breaks_a_line():
    controls = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cc"]
    assert len(controls) == 65
    for char in [*controls, "\u2028", "\u2029"]:
        assert not is_single_line(f"x{char}y"), repr(char)
    assert is_single_line("Zürich, 東京 😀 «ok» \u00a0 \u200b")
    assert not is_single_line("\ud83d")  # half of an emoji, as JSON's "\ud83d" gives it


def test_multi_line_text_keeps_line_breaks_but_not_nul_or_lone_surrogates():
    assert is_storable("line one\r\nline two\ttabbed\u2028")
    for text in BAD_TEXTS:
        assert not is_storable(text)


def test_the_rule_raises_a_validation_error_naming_the_field():
    with pytest.raises(ValidationError) as info:
        single_line("Hi\r\nBcc: x@example.com", "title")
    assert info.value.code == "invalid_characters" and "title" in info.value.details
    assert single_line(None, "title") == "" and storable("a\nb", "body") == "a\nb"


def refused(call):
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.code


@pytest.mark.parametrize("bad", BAD_LINES)
def test_roadmap_services_refuse_multi_line_titles_targets_and_tags(db, site, bad):
    item = roadmap.create_item(site, title="SSO")
    assert refused(lambda: roadmap.create_item(site, title=f"Dark {bad} mode")) == (
        "invalid_characters"
    )
    assert refused(lambda: roadmap.update_item(site, item, title=bad)) == "invalid_characters"
    assert refused(lambda: roadmap.update_item(site, item, target=f"2026-Q1{bad}")) == (
        "invalid_characters"
    )
    assert refused(lambda: roadmap.update_item(site, item, tags=["ok", bad])) == (
        "invalid_characters"
    )
    assert refused(
        lambda: roadmap.set_roadmap_options(
            site, labels={"shipped": {"en": f"Done{bad}"}}, anonymous_voting=False
        )
    ) == ("invalid_characters")
    titles = db.session.scalars(sa.select(RoadmapItem.title).where(RoadmapItem.site_id == site.id))
    assert list(titles) == ["SSO"] and (item.target, item.tags) == (None, [])
    assert site.status_labels == {}


@pytest.mark.parametrize("bad", BAD_TEXTS)
def test_descriptions_refuse_nul_and_lone_surrogates(db, site, bad):
    assert roadmap.create_item(site, title="Fine", description="two\nlines").description == (
        "two\nlines"
    )
    assert refused(lambda: roadmap.create_item(site, title="x", description=bad)) == (
        "invalid_characters"
    )


@pytest.mark.parametrize("bad", BAD_LINES)
def test_site_services_refuse_multi_line_names_and_origins(db, site, bad):
    assert refused(lambda: sites.create_site(f"Shop{bad}", [])) == "invalid_characters"
    assert refused(
        lambda: sites.update_site(
            site,
            name=f"Acme{bad}",
            default_locale="en",
            currency="USD",
            brand_color="#112233",
            discount_window_days=30,
        )
    ) == ("invalid_characters")
    # urlsplit would quietly drop tabs and line breaks and keep the rest
    assert refused(lambda: sites.add_origin(site, f"https://shop{bad}.example.com")) == (
        "invalid_origin"
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Site)) == 1
    assert site.name == "Acme" and [o.origin for o in site.origins] == ["https://app.example.com"]


@pytest.mark.parametrize("bad", BAD_LINES)
def test_reason_and_offer_services_refuse_multi_line_labels(db, site, bad):
    base = {"followup": {}, "requires_text": False, "is_missing_feature": False}
    reasons = db.session.scalar(sa.select(sa.func.count()).select_from(Reason))
    assert refused(
        lambda: flow_config.save_reason(site, None, labels={"en": f"Seasonal{bad}"}, **base)
    ) == ("invalid_characters")
    assert refused(
        lambda: flow_config.save_reason(
            site, None, labels={"en": "Seasonal"}, **(base | {"followup": {"de": f"Wann{bad}?"}})
        )
    ) == ("invalid_characters")
    offer = {"type": "pause", "pause_months": "2"}
    for field in ("title", "cta"):
        texts = {"en": {"title": "Take a break", "body": "", "cta": "Pause"}}
        texts["en"][field] += bad
        assert refused(
            lambda t=texts: flow_config.save_offer(site, None, offer | {"texts": t})
        ) == ("invalid_characters")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Reason)) == reasons
    assert db.session.scalar(sa.select(Offer).where(Offer.key == "take_a_break")) is None


def test_offer_bodies_may_have_line_breaks_but_not_nul(db, site):
    texts = {"en": {"title": "Take a break", "body": "Pause now.\nResume later.", "cta": "Pause"}}
    offer = flow_config.save_offer(
        site, None, {"type": "pause", "pause_months": "2", "texts": texts}
    )
    assert offer.texts["en"]["body"] == "Pause now.\nResume later."
    for bad in BAD_TEXTS:
        texts["en"]["body"] = bad
        data = {"type": "pause", "pause_months": "2", "texts": texts}
        assert refused(lambda d=data: flow_config.save_offer(site, offer, d)) == (
            "invalid_characters"
        )
