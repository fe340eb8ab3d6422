"""The catalogs: every string the code marks is translated in every shipped locale, a
customer whose language is German reads German on every surface, and so does an admin who
chose German (or whose browser asks for it): pages, PDF report, weekly digest."""

import json
import re
import shutil
import subprocess
import sys

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from tests.clients import csrf_token
from tests.factories import complete_session, make_token, pdf_text, roadmap_board, widget
from widget_server.config import ROOT
from widget_server.customer.widget_assets import asset
from widget_server.customer.widget_texts import plural_forms
from widget_server.i18n import catalog_path
from widget_server.services.locales import SUPPORTED_LOCALES

TRANSLATED = [locale for locale in SUPPORTED_LOCALES if locale != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted() -> dict[str, tuple]:
    """msgid → (msgid, plural) of every string marked in the code, as ``make messages`` finds
    them (same babel.cfg, gettext's default keywords)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        ids = message if isinstance(message, tuple) else (message,)
        found[ids[0]] = ids
    return found


def problems(catalog: Catalog, wanted: dict[str, tuple]) -> list[str]:
    """What stops ``catalog`` from translating every wanted string correctly."""
    out = []
    for key, ids in sorted(wanted.items()):
        entry: Message | None = catalog.get(key)
        if entry is None:
            out.append(f"missing: {key!r}")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy:
            out.append(f"fuzzy: {key!r}")
        if len(ids) != len(entry.id if isinstance(entry.id, tuple) else (entry.id,)):
            out.append(f"singular/plural differs from the code: {key!r}")
        if not all(s and s.strip() for s in strings):
            out.append(f"untranslated: {key!r}")
        names = {name for msgid in ids for name in PLACEHOLDER.findall(msgid)}
        for text in strings:
            if text and set(PLACEHOLDER.findall(text)) != names:
                out.append(f"placeholders differ: {key!r} → {text!r}")
    return out


def test_the_code_marks_strings_of_every_surface():
    found = extracted()
    for text in (
        "Before you go",  # widget and hosted page
        "You asked for “%(title)s”: it is here now",  # email subject
        "Stop the weekly digest?",  # unsubscribe page
        "In progress",  # roadmap status label
        "To vote, open the roadmap from inside %(site)s while signed in and press an item's "
        "vote button. Voters get an email when work starts and when it ships.",  # {% trans %}
    ):
        assert text in found
    assert found["vote"] == ("vote", "votes")


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_string_is_translated(locale):
    with catalog_path(locale).open("rb") as po:
        catalog = read_po(po, locale=locale)
    assert problems(catalog, extracted()) == []


def test_the_check_finds_missing_fuzzy_and_mismatched_translations():
    catalog = Catalog(locale="de")
    catalog.add("Continue", "Weiter")
    catalog.add("Back to %(site)s", "Zurück zu %(name)s")
    catalog.add("Loading…", "Wird geladen…", flags=["fuzzy"])
    catalog.add("Close", "")
    wanted = {m: (m,) for m in ("Continue", "Back to %(site)s", "Loading…", "Close", "Planned")}
    assert problems(catalog, wanted) == [
        "placeholders differ: 'Back to %(site)s' → 'Zurück zu %(name)s'",
        "untranslated: 'Close'",
        "fuzzy: 'Loading…'",
        "missing: 'Planned'",
    ]


# --- what a German customer reads ----------------------------------------------------------


def test_widget_answers_carry_the_customers_language(client, db, site):
    start = widget(client, site, "/sessions", {"token": make_token(site), "locale": "de-AT"})
    strings = start.get_json()["strings"]
    assert strings["title"] == "Bevor Sie gehen"
    assert strings["got"] == "Ihr Angebot: %(offer)s"  # the script fills in the offer
    english = widget(client, site, "/sessions", {"token": make_token(site, "en-1"), "locale": "en"})
    assert english.get_json()["strings"]["title"] == "Before you go"
    assert english.get_json()["strings"].keys() == strings.keys()

    roadmap_board(site)
    board = widget(client, site, "/roadmap", {"locale": "de"}).get_json()
    assert (board["strings"]["votes.one"], board["strings"]["votes.other"]) == ("Stimme", "Stimmen")
    assert [c["label"] for c in board["columns"]][:2] == ["In Prüfung", "Geplant"]


def test_widget_scripts_bundle_only_what_shows_before_the_answer():
    cancel = asset("cancel").body.decode()
    assert json.dumps({"loading": "Wird geladen…", "close": "Schließen"}) in cancel
    assert json.dumps("Bevor Sie gehen")[1:-1] not in cancel  # the rest comes from the answer
    roadmap = asset("roadmap").body.decode()
    assert json.dumps("Tiekarttaa ei voitu ladata.")[1:-1] in roadmap


def test_public_pages_in_german(client, db, site):
    roadmap_board(site)
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    page = client.get(f"/roadmap/{site.key}", headers=german).get_data(as_text=True)
    assert '<html lang="de">' in page
    assert "Acme · Roadmap" in page and "Geplant" in page and "Noch nichts hier." in page
    assert '<span data-kk="vote-count">0</span> Stimmen' in page
    assert "Um abzustimmen, öffnen Sie die Roadmap angemeldet in Acme" in page

    bad = client.get("/u/not-a-token", headers=german)
    assert bad.status_code == 400 and "Dieser Abmeldelink ist ungültig." in bad.get_data(True)


def test_hosted_page_in_german_fills_in_its_placeholders(client, db, site):
    site.app_url = "https://app.example.com"
    db.session.commit()
    page = client.get(f"/c/{site.key}?token=not-a-token", headers={"Accept-Language": "de"})
    html = page.get_data(as_text=True)
    assert page.status_code == 401
    assert "Dieser Link ist nicht mehr gültig." in html and "Zurück zu Acme" in html


def test_admin_settings_show_the_catalogs_status_labels_as_defaults(admin_client, site):
    html = admin_client.get(f"/admin/sites/{site.key}/settings").get_data(as_text=True)
    for label in ("Planned", "Geplant", "Suunniteltu", "Työn alla", "Veröffentlicht"):
        assert f'placeholder="{label}"' in html


def test_the_widgets_vote_word_takes_each_locales_plural_forms(client, db, site):
    roadmap_board(site)
    for locale, one, other in (("de", "Stimme", "Stimmen"), ("fi", "ääni", "ääntä")):
        strings = widget(client, site, "/roadmap", {"locale": locale}).get_json()["strings"]
        assert (strings["votes.one"], strings["votes.other"]) == (one, other)
    # A locale with more forms than one and other gets each of them from the catalog.
    assert plural_forms("pl", "vote", "votes").keys() == {"one", "few", "many", "other"}


def test_error_page_in_the_readers_language(client, db):
    german = client.get("/no-such-page", headers={"Accept-Language": "de-CH,de;q=0.9"})
    html = german.get_data(as_text=True)
    assert german.status_code == 404 and '<html lang="de">' in html
    assert "Seite nicht gefunden" in html and "Unter dieser Adresse gibt es keine Seite." in html
    english = client.get("/no-such-page", headers={"Accept-Language": "fr"}).text
    assert "Page not found" in english and '<html lang="en">' in english


# --- what an admin reads: their own language, else their browser's -----------------------


def test_admin_pages_in_the_accounts_language(admin_client, db, admin, site):
    complete_session(site, "big", "missing_features", "cancelled", mrr=4382000)
    admin.locale = "de"
    db.session.commit()
    # The account's choice wins over the browser's language; figures follow the text.
    html = admin_client.get(
        f"/admin/sites/{site.key}/?range=30d", headers={"Accept-Language": "en-US"}
    ).text
    assert '<html lang="de">' in html and "Warum wir Geld verlieren" in html
    assert "Gründe nach verlorenem MRR" in html and "43.820\xa0$" in html
    assert "1 Kündigung" in html and ">Einstellungen</a>" in html
    settings = admin_client.get(f"/admin/sites/{site.key}/settings").text
    assert "<h2>Kündigungsgründe</h2>" in settings and "<h2>Erlaubte Origins</h2>" in settings
    assert "Seiten auf diesen Origins dürfen die Widgets einbetten" in settings


def test_admin_pages_follow_the_browser_when_no_language_is_chosen(admin_client, site):
    url = f"/admin/sites/{site.key}/"
    finnish = admin_client.get(url, headers={"Accept-Language": "fi-FI,en;q=0.5"}).text
    assert '<html lang="fi">' in finnish and "Miksi menetämme rahaa" in finnish
    other = admin_client.get(url, headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
    assert '<html lang="en">' in other and "Why we lose money" in other


def test_the_account_page_saves_the_language(admin_client, db, admin):
    token = csrf_token(admin_client, "/admin/account")
    saved = admin_client.post(
        "/admin/account", data={"csrf_token": token, "action": "language", "locale": "fi"}
    )
    assert saved.status_code == 302
    db.session.refresh(admin)
    assert admin.locale == "fi"
    page = admin_client.get("/admin/account").text
    assert "Kieli tallennettu." in page and "Oma tili" in page
    assert '<option value="fi" lang="fi" selected>suomi</option>' in page

    refused = admin_client.post(
        "/admin/account", data={"csrf_token": token, "action": "language", "locale": "xx"}
    )
    assert refused.status_code == 422
    admin_client.post("/admin/account", data={"csrf_token": token, "action": "language"})
    db.session.refresh(admin)
    assert admin.locale is None  # automatic again
    no_csrf = admin_client.post("/admin/account", data={"action": "language", "locale": "de"})
    assert no_csrf.status_code == 400
    db.session.refresh(admin)
    assert admin.locale is None


def test_the_pdf_report_in_the_admins_language(admin_client, db, admin, site, book):
    admin.locale = "de"
    db.session.commit()
    response = admin_client.get(f"/admin/sites/{site.key}/report.pdf?range=30d")
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "Acme · Kündigungsanalyse" in text and "Seite 1 von" in text
    assert "Gründe nach verlorenem MRR" in text and "Halterate" in text
    assert "427\xa0$" in text or "427 $" in text  # figures in German too


def test_a_new_locale_is_one_catalog_file(tmp_path):
    """Dropping sv/LC_MESSAGES/messages.po next to the others ships Swedish: the locale is
    offered, negotiated and read from that file, with nothing else changed (a fresh
    interpreter, as a restarted Keepkit reads the catalogs)."""
    catalog = Catalog(locale="sv", domain="messages")
    catalog.add("Why are you cancelling?", "Varför säger du upp?")
    swedish = catalog_path("sv")
    assert not swedish.parent.parent.exists()
    swedish.parent.mkdir(parents=True)
    try:
        with swedish.open("wb") as po:
            write_po(po, catalog)
        script = (
            "from widget_server.services.locales import SUPPORTED_LOCALES, pick_locale\n"
            "from widget_server.i18n import gettext_in\n"
            "from widget_server.admin.auth import language_name\n"
            "print(SUPPORTED_LOCALES, pick_locale('sv-SE'), language_name('sv'))\n"
            "print(gettext_in('sv', 'Why are you cancelling?'))\n"
        )
        found = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout.splitlines()
    finally:
        shutil.rmtree(swedish.parent.parent)
    assert found == ["('en', 'de', 'fi', 'sv') sv svenska", "Varför säger du upp?"]
