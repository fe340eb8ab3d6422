"""How the widget is served: a small loader plus two parts, gzip, long cache, in budget."""

import gzip
import re

import pytest

BUDGET = 8 * 1024


def test_loader_is_served_compressed_with_long_cache(client):
    response = client.get("/widget/v1/keepkit.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Content-Encoding"] == "gzip"
    assert "max-age=86400" in response.headers["Cache-Control"]
    assert "Accept-Encoding" in response.headers["Vary"]
    assert len(response.data) <= 2 * 1024


@pytest.mark.parametrize("part", ["cancel", "roadmap"])
def test_parts_are_pinned_by_hash_and_immutable(client, part):
    loader = client.get("/widget/v1/keepkit.js").get_data(as_text=True)
    version = re.search(rf'{part}: "([0-9a-f]{{16}})"', loader).group(1)
    response = client.get(f"/widget/v1/{part}.js?v={version}", headers={"Accept-Encoding": "gzip"})
    assert response.headers["ETag"] == f'"{version}"'
    assert "immutable" in response.headers["Cache-Control"]
    body = gzip.decompress(response.data).decode()
    assert "__KEEPKIT_CSS__" not in body and ":host" in body  # the part's CSS is inlined
    assert len(response.data) <= BUDGET


def test_etag_revalidates(client):
    etag = client.get("/widget/v1/keepkit.js").headers["ETag"]
    again = client.get("/widget/v1/keepkit.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_plain_clients_get_the_uncompressed_script(client):
    response = client.get("/widget/v1/keepkit.js")
    assert "Content-Encoding" not in response.headers
    assert response.data.startswith(b"(function")
    assert client.get("/widget/v1/other.js").status_code == 404
