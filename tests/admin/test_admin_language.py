"""An admin who reads German gets German: refused forms, site texts that have a German
version, Keepkit's own segment names. The data API keeps English for developers."""

import pytest
from flask_babel import force_locale

from tests.clients import token_of
from tests.factories import auth, complete_session
from widget_server.errors import Conflict, ValidationError
from widget_server.extensions import db
from widget_server.services import roadmap, sites

GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


def test_a_refused_form_speaks_german_while_the_api_stays_english(admin_client, site):
    page = admin_client.post(
        f"/admin/sites/{site.key}/roadmap",
        data={"title": "", "csrf_token": token_of(admin_client, site)},
        headers=GERMAN,
        follow_redirects=True,
    )
    html = page.get_data(as_text=True)
    assert "Ein Titel mit 1 bis 200 Zeichen ist erforderlich" in html
    assert "A title of 1 to 200 characters is required" not in html

    # The same refusal keeps its English message for the data API's envelope.
    with pytest.raises(ValidationError) as refused:
        roadmap.create_item(site, title="")
    assert refused.value.message == "A title of 1 to 200 characters is required"
    assert refused.value.code == "invalid_item"


def test_dashboard_ranks_reasons_and_segments_in_german(admin_client, site):
    complete_session(site, "leaver", "too_expensive", "cancelled", mrr=4900)
    db.session.commit()
    url = f"/admin/sites/{site.key}/?by=tenure"
    german = admin_client.get(url, headers=GERMAN).get_data(as_text=True)
    assert "Zu teuer" in german  # the site's own German label
    assert "unbekannt" in german  # a tenure band of Keepkit's
    english = admin_client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Too expensive" in english and "unknown" in english


def test_the_data_api_envelope_stays_english_for_a_german_reader(client, api_key):
    answer = client.post(
        "/api/v1/roadmap/items",
        json={"title": "   "},  # passes the schema, refused by the service
        headers={**auth(api_key), **GERMAN},
    )
    assert answer.status_code in (400, 422)
    error = answer.get_json()["error"]
    assert (error["code"], error["message"]) == (
        "invalid_item",
        "A title of 1 to 200 characters is required",
    )


def test_roadmap_statuses_in_the_admins_language(admin_client, site):
    roadmap.create_item(site, title="Single sign-on", status="planned")
    db.session.commit()
    page = admin_client.get(f"/admin/sites/{site.key}/roadmap", headers=GERMAN)
    assert "Geplant" in page.get_data(as_text=True)
    site.status_labels = {"planned": {"en": "Next up", "de": "Als Nächstes"}}
    db.session.commit()
    page = admin_client.get(f"/admin/sites/{site.key}/roadmap", headers=GERMAN)
    assert "Als Nächstes" in page.get_data(as_text=True)


def test_values_inside_a_refusal_are_german_too(admin_client, site):
    """A field's name, a number and the reason an address is refused are part of the
    sentence: a German admin reads them in German, written the German way."""
    token = token_of(admin_client, site)
    offer = {"csrf_token": token, "type": "pause", "pause_months": "2", "title_en": "Pause"}
    page = admin_client.post(
        f"/admin/sites/{site.key}/offers/new", data=offer | {"max_mrr": "1e17"}, headers=GERMAN
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "Der Höchst-MRR muss ein Betrag wie 49,00 sein (höchstens 10.000.000.000)" in html

    page = admin_client.post(
        f"/admin/sites/{site.key}/offers/new",
        data=offer | {"type": "contact", "contact_url": "https://example.com/\nx"},
        headers=GERMAN,
    )
    assert "Der Kontaktlink muss eine einzelne Textzeile ohne Zeilenumbrüche" in page.get_data(
        as_text=True
    )

    page = admin_client.post(
        f"/admin/sites/{site.key}/webhook",
        data={"csrf_token": token, "webhook_url": "http://169.254.169.254/latest"},
        headers=GERMAN,
        follow_redirects=True,
    )
    assert (
        "Diese Webhook-URL ist nicht erlaubt: 169.254.169.254 ist eine Link-Local-Adresse; "
        "Keepkit sendet dorthin nie Webhooks"
    ) in page.get_data(as_text=True)


def test_a_refusal_keeps_english_values_for_the_data_api(app, site):
    with pytest.raises(ValidationError) as refused:
        sites.set_webhook(site, "http://169.254.169.254/latest")
    assert refused.value.message == (
        "This webhook URL is not allowed: 169.254.169.254 is a link-local address; "
        "Keepkit never sends webhooks there"
    )
    item = roadmap.create_item(site, title="Dark mode", status="shipped")
    with pytest.raises(Conflict) as shipped:
        roadmap.check_votable(item)
    assert shipped.value.message == "Items that are shipped take no votes"
    with force_locale("fi"):
        assert shipped.value.localized() == (
            "Kohteet, joiden tila on julkaistu, eivät ota vastaan ääniä"
        )
    with force_locale("de"):
        assert shipped.value.localized() == (
            "Einträge mit dem Status „Veröffentlicht“ nehmen keine Stimmen an"
        )
