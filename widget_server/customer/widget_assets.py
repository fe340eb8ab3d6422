"""Serves the embeddable widget from static/widget/ under versioned URLs.

``keepkit.js`` is a small loader; it loads ``cancel.js`` or ``roadmap.js`` on first use.
Each part is bundled once per process (its stylesheet inlined, so a part is one download; the
few strings it shows before its first API answer inlined from the catalogs, see
``widget_texts``), lightly minified and pre-compressed. The loader carries the parts' content
hashes, so the parts are served immutable for a year.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache

from flask import Blueprint, current_app, request

from widget_server.config import ROOT
from widget_server.customer.widget_texts import BEFORE_ANSWER, before_answer

bp = Blueprint("widget_assets", __name__)
WIDGET_DIR = ROOT / "static" / "widget"
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str


def _minify_css(css: str) -> str:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"\s+", " ", css)
    return re.sub(r"\s*([{}:;,>])\s*", r"\1", css).replace(";}", "}").strip()


def _minify_js(js: str) -> str:
    lines = []
    for line in js.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        lines.append(stripped)
    return "\n".join(lines)


def bundle(name: str) -> str:
    js = (WIDGET_DIR / f"{name}.js").read_text(encoding="utf-8")
    css_path = WIDGET_DIR / f"{name}.css"
    if css_path.exists():
        css = _minify_css(css_path.read_text(encoding="utf-8"))
        js = js.replace("__KEEPKIT_CSS__", css.replace("\\", "\\\\").replace("`", "\\`"))
    if name in BEFORE_ANSWER:
        js = js.replace("__KEEPKIT_STRINGS__", json.dumps(before_answer(name)))
    return _minify_js(js)


PARTS = ("cancel", "roadmap")


@cache
def asset(name: str) -> Asset:
    text = bundle(name)
    if name == "keepkit":
        for part in PARTS:
            text = text.replace(f"__KEEPKIT_V_{part.upper()}__", asset(part).etag)
    body = text.encode()
    return Asset(body, gzip.compress(body, 9, mtime=0), hashlib.sha256(body).hexdigest()[:16])


def _serve(name: str):
    item = asset(name)
    response = current_app.response_class(mimetype="text/javascript")
    response.set_etag(item.etag)
    versioned = request.args.get("v") == item.etag
    response.headers["Cache-Control"] = (
        IMMUTABLE
        if versioned
        else f"public, max-age={current_app.config['KEEPKIT_WIDGET_MAX_AGE']}, "
        "stale-while-revalidate=86400"
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.vary.add("Accept-Encoding")
    if request.if_none_match.contains(item.etag):
        response.status_code = 304
        return response
    if "gzip" in request.accept_encodings:
        response.set_data(item.gzipped)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.set_data(item.body)
    return response


@bp.get("/widget/v1/<any(keepkit, cancel, roadmap):name>.js")
def widget_js(name: str):
    return _serve(name)
