"""The "Cancellation insights" PDF: report data → HTML (Jinja, autoescaped) → PDF (WeasyPrint).

Everything the report shows is inline (CSS, SVG charts); the URL fetcher refuses every URL,
so rendering never reaches the network, whatever a customer typed into a comment.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, render_template
from flask_babel import gettext
from markupsafe import Markup
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from widget_server.i18n import current_locale
from widget_server.models import Site, utcnow
from widget_server.reports.data import report_context
from widget_server.services.period import Filter
from widget_server.services.roadmap import status_label

# The report's template lives here (templates/reports/); the blueprint has no routes.
bp = Blueprint("reports", __name__, template_folder="templates")

log = logging.getLogger(__name__)
PAGE_SIZES = ("A4", "Letter")


class NoFetching(URLFetcher):
    """Refuses every resource but inline ``data:`` URLs (the site's logo): the report is
    self-contained."""

    def fetch(self, url, headers=None):
        if url.startswith("data:image/"):
            return super().fetch(url, headers)
        log.warning("PDF report: refused to fetch %s", url[:200])
        raise ValueError(f"Keepkit reports fetch nothing ({url[:80]})")


def css_string(text: str) -> Markup:
    """``text`` as a CSS string (for ``content:`` in the page's margin boxes)."""
    quoted = json.dumps(text, ensure_ascii=False).replace("<", "\\3c ")
    return Markup(quoted)  # noqa: S704 - a JSON string literal: quotes and backslashes escaped


def page_counter() -> Markup:
    """The footer's "Page 2 of 5" as CSS ``content``: the translated sentence around the
    page counters, whatever order the language puts them in."""
    page, pages = "\x00", "\x01"
    text = gettext("Page %(page)s of %(pages)s", page=page, pages=pages)
    content = []
    for i, piece in enumerate(text.split(page)):
        if i:
            content.append("counter(page)")
        for j, bit in enumerate(piece.split(pages)):
            if j:
                content.append("counter(pages)")
            if bit:
                content.append(str(css_string(bit)))
    return Markup(" ".join(content))  # noqa: S704 - CSS strings and counters only


def render_html(site: Site, filters: Filter, page_size: str = "A4") -> str:
    """The report's HTML in the current locale: the requesting admin's language, or the
    digest recipient's (``force_locale``); figures follow the same locale."""
    locale = current_locale()
    return render_template(
        "reports/insights.html",
        site=site,
        page_size=page_size if page_size in PAGE_SIZES else "A4",
        generated=utcnow(),
        locale=locale,
        css_string=css_string,
        page_counter=page_counter(),
        label=lambda status: status_label(site, status, locale),
        **report_context(site, filters),
    )


def render_pdf(site: Site, filters: Filter, page_size: str = "A4") -> bytes:
    """The report as PDF bytes."""
    # WeasyPrint narrates each step at INFO and fontTools its font subsetting: a worker
    # sending the weekly digests would log little else. Their warnings still come through.
    for name in ("weasyprint.progress", "fontTools"):
        logging.getLogger(name).setLevel(logging.WARNING)
    html = render_html(site, filters, page_size)
    return HTML(string=html, base_url="keepkit-report:/", url_fetcher=NoFetching()).write_pdf()
