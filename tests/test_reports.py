"""The PDF report: its text has the right figures; it fetches nothing; CLI and admin."""

import io

import pytest
from pypdf import PdfReader

from tests.factories import complete_session, last30, pdf_text
from widget_server.reports import pdf
from widget_server.services.period import Filter, Period


def test_pdf_has_the_figures(app, db, site, book):
    complete_session(site, "quote", "missing_features", mrr=100, plan="Business", folded=True)
    db.session.commit()
    with app.test_request_context():
        data = pdf.render_pdf(site, last30(), "Letter")
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert "Acme · Cancellation insights" in text
    assert "$428" in text  # lost MRR: 42,700 + 100 cents
    assert "Missing features I need" in text and "Page 1 of" in text
    assert "33.3%" in text  # save rate with the extra cancellation: 2 / (2 + 4)


def test_user_text_cannot_make_the_pdf_fetch_anything(app, db, site, monkeypatch):
    complete_session(site, "evil", "switching", mrr=500, folded=True)
    from widget_server.models import CancellationSession

    session = db.session.query(CancellationSession).one()
    session.comment = '<img src="http://127.0.0.1:9/x.png"> <b>bold</b>'
    db.session.commit()
    fetched = []
    monkeypatch.setattr(
        pdf.NoFetching, "fetch", lambda self, url, headers=None: fetched.append(url)
    )
    with app.test_request_context():
        html = pdf.render_html(site, last30())
        pdf.render_pdf(site, last30())
    assert "&lt;img src=" in html and "<img" not in html
    assert fetched == []


def test_fetcher_refuses_urls():
    with pytest.raises(ValueError, match="fetch nothing"):
        pdf.NoFetching().fetch("http://127.0.0.1:9/logo.png")


def test_cli_writes_the_report(runner, db, site, book, tmp_path):
    target = tmp_path / "report.pdf"
    result = runner.invoke(args=["reports", "pdf", "--site", site.key, "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "$427" in pdf_text(target.read_bytes())
    bad = runner.invoke(
        args=["reports", "pdf", "--site", site.key, "--from", "2026-02-01", "--to", "2026-01-01",
              "-o", str(target)]
    )  # fmt: skip
    assert bad.exit_code != 0 and "--from must not be after --to" in bad.output


def test_admin_downloads_the_report(admin_client, site, book):
    response = admin_client.get(f"/admin/sites/{site.key}/report.pdf?range=30d")
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "$427" in pdf_text(response.data)
    page = admin_client.get(f"/admin/sites/{site.key}/").get_data(as_text=True)
    assert "data-download" in page and "report.pdf" in page


def tiny_png() -> bytes:
    import struct
    import zlib

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x4f\x46\xe5")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_logo_upload_and_in_the_pdf(admin_client, app, db, site):
    from tests.clients import token_of

    token = token_of(admin_client, site)
    bad = admin_client.post(
        f"/admin/sites/{site.key}/logo",
        data={"csrf_token": token, "logo": (io.BytesIO(b"GIF89a..."), "x.gif")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "must be a PNG or JPEG" in bad.get_data(as_text=True)
    admin_client.post(
        f"/admin/sites/{site.key}/logo",
        data={"csrf_token": token, "logo": (io.BytesIO(tiny_png()), "logo.png")},
        content_type="multipart/form-data",
    )
    db.session.refresh(site)
    assert site.logo.startswith("data:image/png;base64,")
    with app.test_request_context():
        data = pdf.render_pdf(site, last30())
    assert len(PdfReader(io.BytesIO(data)).pages[0].images) == 1


def test_pdf_has_the_impact_section(app, db, client, site, api_key):
    from tests.factories import REACTIVATED, complete_session, post_events, winback_email
    from widget_server.services import roadmap

    item = roadmap.create_item(site, title="Audit trail", status="in_progress")
    customer = complete_session(
        site, "R", "missing_features", mrr=4200, days_ago=60, roadmap_item=item
    ).customer_id
    complete_session(site, "S", outcome="saved", mrr=2500, days_ago=40)
    winback_email(site, customer, item, 10)
    db.session.commit()
    post_events(client, api_key, ("R", REACTIVATED, 3, 4200))
    with app.test_request_context():
        data = pdf.render_pdf(site, Filter(Period.last_days(90)), "A4")
    text = pdf_text(data)
    assert "Impact: what happened after the flow" in text
    assert "Of 1 customer saved in the period ($25 MRR)" in text
    assert "Audit trail 1 $42" in text


def test_quoted_comments_follow_the_plan_and_segment_filter(db, site):
    from widget_server.reports.data import top_comments

    for sub, plan in (("ent", "Enterprise"), ("gro", "Growth")):
        region = {"region": "EU" if plan == "Enterprise" else "US"}
        complete_session(site, sub, plan=plan, attributes=region, comment=f"{plan} words")
    db.session.commit()
    period = Period.last_days(30)
    everyone = top_comments(site, Filter(period), ["too_expensive"])
    assert {c["comment"] for c in everyone["too_expensive"]} == {"Enterprise words", "Growth words"}
    enterprise = top_comments(site, Filter(period, "Enterprise"), ["too_expensive"])
    assert [c["comment"] for c in enterprise["too_expensive"]] == ["Enterprise words"]
    us = top_comments(site, Filter(period, None, "region", "US"), ["too_expensive"])
    assert [c["comment"] for c in us["too_expensive"]] == ["Growth words"]
    nobody = top_comments(site, Filter(period, "Enterprise", "region", "US"), ["too_expensive"])
    assert nobody["too_expensive"] == []


def test_rendering_a_pdf_does_not_flood_the_log(app, db, site, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    with app.test_request_context():
        pdf.render_pdf(site, Filter(Period.last_days(30)))
    noise = [r for r in caplog.records if r.name.startswith(("weasyprint", "fontTools"))]
    assert [r for r in noise if r.levelno < logging.WARNING] == []


def test_page_one_has_an_executive_summary(app, db, site):
    from widget_server.services import roadmap

    item = roadmap.create_item(site, title="Okta SSO", status="in_progress")
    complete_session(site, "a", "missing_features", mrr=90000, roadmap_item=item, folded=True)
    complete_session(site, "b", "too_expensive", mrr=10000, folded=True)
    db.session.commit()
    with app.test_request_context():
        data = pdf.render_pdf(site, Filter(Period.last_days(30)))
    first_page = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "In short" in first_page
    assert "Lost MRR: $1,000 from 2 cancellations" in first_page
    assert "Top reason: Missing features I need, 90.0% of lost MRR" in first_page
    assert "Okta SSO (In progress, $900 lost)" in first_page


def _filled(page) -> float:
    """How far down its content area a laid-out page is filled (0-1), from WeasyPrint's boxes."""
    box = page._page_box
    bottom = box.content_box_y()

    def walk(node):
        nonlocal bottom
        children = getattr(node, "children", None) or []
        if not children and getattr(node, "position_y", None) is not None:
            height = node.height if isinstance(node.height, int | float) else 0
            bottom = max(bottom, node.position_y + height)
        for child in children:
            walk(child)

    for child in box.children:
        if getattr(child, "element_tag", None) == "html":  # not the page's footer boxes
            walk(child)
    return (bottom - box.content_box_y()) / box.height


@pytest.mark.parametrize("sessions", [40, 400])
def test_no_page_is_left_mostly_empty(app, db, site, sessions):
    from weasyprint import HTML

    from widget_server.services import rollups, seed

    seed.seed_roadmap(site)
    seed.seed_sessions(site, sessions)
    rollups.fold_all(site)
    db.session.commit()
    for days in (30, 365):
        with app.test_request_context():
            html = pdf.render_html(site, Filter(Period.last_days(days)))
        document = HTML(string=html, url_fetcher=pdf.NoFetching()).render()
        filled = [round(_filled(page), 2) for page in document.pages]
        assert len(filled) >= 2, filled
        assert min(filled[:-1]) >= 0.6 and filled[-1] >= 0.25, (days, filled)
