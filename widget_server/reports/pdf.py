"""The "Cancellation insights" PDF: report data → HTML (Jinja, autoescaped) → PDF (WeasyPrint).

Everything the report shows is inline (CSS, SVG charts); the URL fetcher refuses every URL,
so rendering never reaches the network, whatever a customer typed into a comment.
"""

from __future__ import annotations

import logging

from flask import Blueprint, render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher

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


def render_html(site: Site, filters: Filter, page_size: str = "A4") -> str:
    return render_template(
        "reports/insights.html",
        site=site,
        page_size=page_size if page_size in PAGE_SIZES else "A4",
        generated=utcnow(),
        label=lambda status: status_label(site, status, "en"),
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
