"""The documentation served by Keepkit itself: ``/docs/<name>`` renders ``docs/<name>.md`` of
this installation, so links from the admin and from one page to another work offline.

Only the Markdown files in ``docs/`` can be named (the name is looked up in the directory's
listing, never joined into a path); raw HTML in them is escaped and the rendered HTML is
sanitised like roadmap descriptions."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import nh3
from flask import Blueprint, Response, abort, render_template
from markdown_it import MarkdownIt

from widget_server.config import ROOT
from widget_server.extensions import limiter

bp = Blueprint("handbook", __name__, url_prefix="/docs", template_folder="templates")
DOCS = ROOT / "docs"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")
_TAGS = {
    "h1", "h2", "h3", "h4", "p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td", "hr",
}  # fmt: skip
# A link to another page of the docs: "embedding.md#anchor" → "/docs/embedding#anchor".
_MD_LINK = re.compile(r'href="(?:\./|docs/)?([a-z0-9][a-z0-9-]*)\.md(#[^"]*)?"')


def pages(directory: Path = DOCS) -> dict[str, Path]:
    """The documentation pages: name → file, for the ``*.md`` files directly in ``docs/``."""
    if not directory.is_dir():
        return {}
    return {
        path.stem: path
        for path in sorted(directory.glob("*.md"))
        if path.is_file() and _NAME.match(path.stem)
    }


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def render(text: str) -> str:
    """Markdown → sanitised HTML with links between pages pointing at ``/docs/<name>``."""
    html = _MD_LINK.sub(
        lambda m: f'href="/docs/{m.group(1)}{m.group(2) or ""}"', _parser().render(text)
    )
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}, "th": {"style"}, "td": {"style"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def _title(text: str, name: str) -> str:
    first = next((line for line in text.splitlines() if line.startswith("# ")), "")
    return first[2:].strip() or name


@bp.get("/")
def index():
    titles = {
        name: _title(path.read_text(encoding="utf-8"), name) for name, path in pages().items()
    }
    return render_template("handbook.html", titles=titles, body=None, title="Documentation")


@bp.get("/<name>")
def page(name: str):
    path = pages().get(name)
    if path is None:
        abort(404)
    text = path.read_text(encoding="utf-8")
    return render_template(
        "handbook.html", body=render(text), title=_title(text, name), titles=None, name=name
    )


icon_bp = Blueprint("icon", __name__)
limiter.exempt(icon_bp)


@icon_bp.get("/favicon.ico")
def favicon():
    """The Keepkit icon for browsers that ask for /favicon.ico (pages also link the SVG)."""
    response = Response(_icon(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@cache
def _icon() -> bytes:
    return (ROOT / "admin" / "static" / "favicon.svg").read_bytes()
