"""Admin: a site's dashboard (cancellation reasons ranked by lost revenue, the breakdowns and
the trend) and its PDF report."""

from __future__ import annotations

from flask import g, request

from widget_server.admin.common import (
    Routes,
    attachment,
    current_figures,
    parse_filter,
    render,
    site_view,
)
from widget_server.errors import KeepkitError
from widget_server.reports.data import dashboard_context
from widget_server.services import insights, jobs, money, sessions

routes = Routes()


@routes.get("/sites/<site_key>/")
@site_view("viewer")
def dashboard():
    current_figures()
    filters, error = parse_filter(request.args)
    by = request.args.get("by") or "plan"
    try:
        context = dashboard_context(g.site, filters, by)
    except KeepkitError as exc:
        # An unknown breakdown is no failure: the plan breakdown shows, with the message.
        context, error = dashboard_context(g.site, filters, "plan"), exc.localized()
        by = "plan"
    return render(
        "dashboard.html",
        "_ranking.html",
        period=filters.period,
        plan=filters.plan,
        filters=filters,
        by=by,
        plans=sessions.site_plans(g.site),
        attributes=insights.attribute_keys(g.site),
        error=error,
        rates=money.rates(g.site),
        jobs=jobs.active(g.site),
        **context,
    )


@routes.get("/sites/<site_key>/report.pdf")
@site_view("viewer")
def report_pdf():
    """The PDF report for the dashboard's current filters."""
    from widget_server.reports.pdf import render_pdf

    current_figures()
    filters, _ = parse_filter(request.args)
    pdf = render_pdf(g.site, filters, request.args.get("size", "A4"))
    name = f"keepkit-insights-{g.site.key}-{filters.period.start}-{filters.period.end}.pdf"
    return attachment(pdf, "application/pdf", name)
