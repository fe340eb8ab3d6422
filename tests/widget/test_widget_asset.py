"""How the widget script is served: one versioned file, gzip, long cache, within budget."""

import gzip

BUDGET = 8 * 1024


def test_script_is_served_compressed_with_long_cache(client):
    response = client.get("/widget/v1/keepkit.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Content-Encoding"] == "gzip"
    assert "max-age=86400" in response.headers["Cache-Control"]
    assert "Accept-Encoding" in response.headers["Vary"]
    body = gzip.decompress(response.data).decode()
    assert "__KEEPKIT_CSS__" not in body and ":host" in body  # the CSS is inlined
    assert len(response.data) <= BUDGET


def test_versioned_url_is_immutable_and_etag_revalidates(client):
    etag = client.get("/widget/v1/keepkit.js").headers["ETag"].strip('"')
    pinned = client.get(f"/widget/v1/keepkit.js?v={etag}")
    assert "immutable" in pinned.headers["Cache-Control"]
    again = client.get("/widget/v1/keepkit.js", headers={"If-None-Match": f'"{etag}"'})
    assert again.status_code == 304 and again.data == b""


def test_plain_clients_get_the_uncompressed_script(client):
    response = client.get("/widget/v1/keepkit.js")
    assert "Content-Encoding" not in response.headers
    assert response.data.startswith(b"(function")
