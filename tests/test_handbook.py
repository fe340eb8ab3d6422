"""The documentation Keepkit serves (/docs/<name>), the favicon and the admin's embed snippet."""

from __future__ import annotations

from widget_server import handbook


def test_docs_pages_are_served_rendered_and_linked(client):
    index = client.get("/docs/")
    assert index.status_code == 200 and 'href="/docs/embedding"' in index.text
    page = client.get("/docs/roadmap")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "<h1>" in page.text and "<script" not in page.text
    # Links from one page to another stay inside /docs.
    assert 'href="/docs/embedding"' in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_only_the_files_in_docs_can_be_named(client):
    for name in ("../README", "..%2FREADME", "README", "nope", "embedding.md", ".env", "%00"):
        assert client.get(f"/docs/{name}").status_code in (400, 404), name


def test_markdown_is_rendered_safely(tmp_path):
    (tmp_path / "evil.md").write_text(
        "# Evil\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) [ok](deploy.md#tls)\n"
        "\n| a | b |\n| --- | --- |\n| 1 | 2 |\n",
        encoding="utf-8",
    )
    (tmp_path / "Not A Page.md").write_text("x", encoding="utf-8")
    pages = handbook.pages(tmp_path)
    assert list(pages) == ["evil"]
    html = handbook.render(pages["evil"].read_text(encoding="utf-8"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and 'href="/docs/deploy#tls"' in html
    assert "<table>" in html and "<td>2</td>" in html


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data


def test_the_admin_shows_the_full_embed_snippet(admin_client, site):
    html = admin_client.get(f"/admin/sites/{site.key}/settings").text
    snippet = html[html.index('<pre id="snippet">') : html.index("</pre>", html.index("snippet"))]
    assert "<script" not in snippet  # shown, escaped, not run
    assert "window.Keepkit = window.Keepkit || { q: []" in snippet.replace("&#34;", '"')
    assert f"data-site=&#34;{site.key}&#34;" in snippet and "cancelFlow" in snippet
    assert 'href="/docs/embedding"' in html
    assert client_can_open(admin_client, "/docs/embedding")


def client_can_open(client, path):
    return client.get(path).status_code == 200


def test_every_webhook_event_is_documented_with_its_payload(db, site):
    """The examples in docs/roadmap.md have the keys Keepkit really sends, event by event."""
    import json
    import re

    import sqlalchemy as sa

    from tests.factories import complete_session, make_token
    from widget_server.models import OutboxMessage
    from widget_server.services import roadmap, sites
    from widget_server.services.customers import upsert_customer
    from widget_server.services.tokens import verify_customer_token

    sites.set_webhook(site, "https://hooks.example.com/k", allow_private=True)
    claims = verify_customer_token(site, make_token(site, "cust-1", email="j@example.com"))
    complete_session(site, "cust-1", outcome="saved", offer="discount_30", email="j@example.com")
    item = roadmap.create_item(site, title="Okta SSO", status="planned")
    customer = upsert_customer(site, claims)
    roadmap.vote(site, item, customer)
    roadmap.unvote(site, item, customer)
    roadmap.change_status(site, item, "in_progress")
    sent = {
        m.topic: m.payload
        for m in db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "webhook"))
    }
    text = (handbook.DOCS / "roadmap.md").read_text(encoding="utf-8")
    examples = {}
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        body = json.loads(block)
        if "event" in body:
            examples[body["event"]] = body
    assert set(sent) <= set(examples), set(sent) - set(examples)

    for event, payload in sent.items():
        documented = examples[event]
        assert set(documented) == {"id", *payload}, event
        assert set(documented["data"]) == set(payload["data"]), event
