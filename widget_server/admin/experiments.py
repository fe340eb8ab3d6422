"""Admin: the site's holdout and A/B tests of offers, with their results."""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from widget_server.admin.common import Routes, audit, done, refused, site_view
from widget_server.guards import whole_number
from widget_server.models import MAX_ID
from widget_server.services import experiments, flow_config
from widget_server.services.experiment_stats import (
    DEFAULT_BASELINE,
    DEFAULT_EFFECT,
    DEFAULT_PLANNED_SIZE,
)

routes = Routes()


def _list_url() -> str:
    return url_for("admin.experiment_list", site_key=g.site.key)


def _back():
    return redirect(_list_url())


@routes.get("/sites/<site_key>/experiments")
@site_view("viewer")
def experiment_list():
    """Every experiment with its arms, lift and money; the holdout and A/B test controls."""
    holdout = experiments.current_holdout(g.site)
    return render_template(
        "experiments.html",
        results=experiments.results(g.site),
        holdout=holdout,
        reasons=flow_config.all_reasons(g.site),
        offers=[o for o in flow_config.all_offers(g.site) if o.archived_at is None],
        default_size=DEFAULT_PLANNED_SIZE,
        default_baseline=DEFAULT_BASELINE,
        default_effect=DEFAULT_EFFECT,
        max_percent=experiments.MAX_HOLDOUT_PERCENT,
        max_variants=experiments.MAX_VARIANTS,
    )


@routes.post("/sites/<site_key>/experiments/holdout")
@site_view("editor")
def experiment_holdout():
    """Set the share of customers offered nothing (0 ends the holdout)."""
    form = request.form

    def save():
        previous = experiments.current_holdout(g.site)
        before = previous.holdout_percent if previous else 0
        experiment = experiments.set_holdout(
            g.site,
            form.get("percent", ""),
            by=current_user.email,
            planned_size=form.get("planned_size") or None,
        )
        now = experiment.holdout_percent if experiment else 0
        if now != before:
            audit("holdout_changed", previous=before, percent=now)

    refused(back=_list_url())
    save()
    return done(gettext("Holdout saved."), _list_url())


def _variants(form) -> list[tuple]:
    """``(offer_id, weight)`` pairs from the form's rows (``offer_N``, ``weight_N``)."""
    pairs = []
    for n in range(experiments.MAX_VARIANTS):
        offer = whole_number(form.get(f"offer_{n}", ""), 1, MAX_ID)
        if offer is None:
            continue
        weight = whole_number(form.get(f"weight_{n}", "1") or "1", 1, experiments.MAX_WEIGHT)
        pairs.append((offer, weight if weight is not None else 0))
    return pairs


@routes.post("/sites/<site_key>/experiments/ab")
@site_view("editor")
def experiment_ab():
    """Start an A/B test of offers for one reason."""
    form = request.form

    def start():
        experiment = experiments.create_ab_test(
            g.site,
            whole_number(form.get("reason_id", ""), 1, MAX_ID),
            _variants(form),
            by=current_user.email,
            planned_size=form.get("planned_size") or None,
            name=form.get("name"),
        )
        audit("experiment_started", experiment=experiment.id, name=experiment.name)

    refused(back=_list_url())
    start()
    return done(gettext("A/B test started."), _list_url())


@routes.post("/sites/<site_key>/experiments/<int:experiment_id>/<action>")
@site_view("editor")
def experiment_action(experiment_id: int, action: str):
    """Pause, resume or end an experiment (an A/B test ends keeping the chosen variant)."""
    if action not in ("pause", "resume", "end"):
        return _back()

    def change():
        experiment = experiments.get_experiment(g.site, experiment_id)
        if action == "end":
            keep = whole_number(request.form.get("keep", ""), 1, MAX_ID)
            experiments.end(experiment, by=current_user.email, keep_offer_id=keep)
        else:
            getattr(experiments, action)(experiment, by=current_user.email)
        audit(
            {"pause": "experiment_paused", "resume": "experiment_resumed"}.get(
                action, "experiment_ended"
            ),
            experiment=experiment.id,
            name=experiment.name,
        )

    refused(back=_list_url())
    change()
    message = {
        "pause": gettext("Experiment paused."),
        "resume": gettext("Experiment resumed."),
        "end": gettext("Experiment ended."),
    }[action]
    return done(message, _list_url())
