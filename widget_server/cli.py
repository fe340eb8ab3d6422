"""The ``keepkit`` command: a Flask CLI group with one sub-group per area."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from typing import NoReturn

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from widget_server import create_app
from widget_server.errors import KeepkitError
from widget_server.extensions import db
from widget_server.services.locales import SUPPORTED_LOCALES


def _create_app():
    return create_app()


def main() -> None:
    """The ``keepkit`` console script: a wrong setting or an unreachable database is one line
    on stderr and a non-zero exit, never a traceback."""
    from sqlalchemy.exc import DBAPIError

    from widget_server.config import ConfigError

    try:
        cli.main(prog_name="keepkit")
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        click.echo(
            f"Error: the database cannot be used ({reason}). Check KEEPKIT_DATABASE_URL, "
            "and run 'keepkit db upgrade' on a new database.",
            err=True,
        )
        sys.exit(1)


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli():
    """Keepkit: cancellation flow, public roadmap and churn insights.

    Configuration comes from KEEPKIT_* environment variables (see the README).
    """


def register_commands(app) -> None:
    """Attach the app-bound command groups to ``app.cli`` (``keepkit`` finds them there)."""
    for command in (users, sites_group, customers, experiments_group, seed, worker, reports):
        app.cli.add_command(command)


def _fail(exc: KeepkitError) -> NoReturn:
    db.session.rollback()
    raise click.ClickException(exc.message)


# --- users -------------------------------------------------------------------------------


@click.group()
def users():
    """Admin users."""


@users.command("create-admin")
@with_appcontext
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--site", "site_keys", multiple=True, help="Limit the admin to these sites (default: all)."
)
@click.option(
    "--role",
    type=click.Choice(["viewer", "editor", "owner"]),
    default="owner",
    show_default=True,
    help="The role on the --site sites (an admin without --site owns every site).",
)
def create_admin(email, password_stdin, site_keys, role):
    """Create an admin. The password is prompted (hidden, confirmed) unless --password-stdin."""
    from widget_server.services import sites, users

    password = _read_password(password_stdin)
    try:
        site_rows = [sites.get_site(key) for key in site_keys]
        user = users.create_admin(email, password, owner=not site_rows, sites=site_rows, role=role)
    except KeepkitError as exc:
        _fail(exc)
    db.session.commit()
    scope = "all sites" if user.is_owner else f"{role} of " + ", ".join(s.name for s in site_rows)
    click.echo(f"Admin {user.email} created ({scope}).")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("set-password")
@with_appcontext
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password(email, password_stdin):
    """Set an admin's password (prompted, hidden, confirmed); signs them out everywhere."""
    from widget_server.services import audit, users

    password = _read_password(password_stdin)
    try:
        user = users.get_user(email)
        users.set_password(user, password)
    except KeepkitError as exc:
        _fail(exc)
    audit.record("password_set", actor="CLI", email=user.email)
    db.session.commit()
    click.echo(f"Password of {user.email} set; their sessions everywhere are signed out.")


# --- sites -------------------------------------------------------------------------------


@click.group("sites")
def sites_group():
    """Sites (one per product that embeds Keepkit)."""


@sites_group.command("create")
@with_appcontext
@click.option("--name", required=True)
@click.option("--origin", "origins", multiple=True, help="Allowed origin, repeatable.")
@click.option("--currency", default="USD", show_default=True)
@click.option("--locale", default="en", show_default=True, type=click.Choice(SUPPORTED_LOCALES))
@click.option("--json", "as_json", is_flag=True, help="Print the keys as one JSON object.")
def create_site(name, origins, currency, locale, as_json):
    """Create a site; prints its site key, token signing secret and a data API key."""
    from widget_server.services import sites

    try:
        site, api_key = sites.create_site(
            name, list(origins), currency=currency, default_locale=locale
        )
    except KeepkitError as exc:
        _fail(exc)
    db.session.commit()
    if as_json:
        click.echo(json.dumps({"key": site.key, "secret": site.secret_primary, "api_key": api_key}))
        return
    click.echo(f"Site {site.name!r} created.")
    click.echo(f"  site key:        {site.key}")
    click.echo(f"  signing secret:  {site.secret_primary}")
    click.echo(f"  data API key:    {api_key}   (shown once)")


@sites_group.command("set-webhook")
@with_appcontext
@click.option("--site", "site_key", required=True)
@click.option("--url", required=True, help="An http(s) URL on a public address.")
@click.option("--json", "as_json", is_flag=True, help="Print the URL and secret as JSON.")
def set_webhook(site_key, url, as_json):
    """Set the site's webhook URL; prints its signing secret. Loopback, private and
    link-local targets are refused unless KEEPKIT_WEBHOOK_ALLOW_PRIVATE=1."""
    from widget_server.services import sites

    try:
        site = sites.get_site(site_key)
        sites.set_webhook(
            site, url, allow_private=current_app.config["KEEPKIT_WEBHOOK_ALLOW_PRIVATE"]
        )
    except KeepkitError as exc:
        _fail(exc)
    db.session.commit()
    if as_json:
        click.echo(json.dumps({"url": site.webhook_url, "secret": site.webhook_secret}))
        return
    click.echo(f"Webhook for {site.name!r} set.")
    click.echo(f"  URL:             {site.webhook_url}")
    click.echo(f"  signing secret:  {site.webhook_secret}")


@sites_group.command("stripe")
@with_appcontext
@click.option("--site", "site_key", required=True)
@click.option(
    "--webhook-secret", required=True, help="The endpoint's signing secret (whsec_…); '' removes"
)
@click.option("--api-key", default=None, help="A Stripe secret or restricted key (optional)")
@click.option(
    "--apply-cancellations/--no-apply-cancellations",
    default=None,
    help="Cancel at period end in Stripe when a customer confirms a cancellation (needs a key)",
)
def stripe(site_key, webhook_secret, api_key, apply_cancellations):
    """Connect the site to Stripe: its webhooks become lifecycle events; with an API key,
    Keepkit reads MRR and plans from Stripe for tokens that carry none."""
    from widget_server.services import sites, stripe_connector

    try:
        site = sites.get_site(site_key)
        stripe_connector.configure(
            site,
            webhook_secret=webhook_secret,
            api_key=api_key,
            apply_cancellations=apply_cancellations,
        )
    except KeepkitError as exc:
        _fail(exc)
    db.session.commit()
    public_url = current_app.config["KEEPKIT_PUBLIC_URL"].rstrip("/") or "https://<keepkit>"
    click.echo(f"Stripe connector for {site.name!r} set.")
    click.echo(f"  endpoint URL:    {public_url}/integrations/stripe/{site.key}")
    click.echo(f"  signing secret:  {stripe_connector.masked(site.stripe_webhook_secret)}")
    click.echo(f"  API key:         {stripe_connector.masked(site.stripe_api_key) or 'none'}")
    applies = "yes" if site.stripe_apply_cancellations else "no"
    click.echo(f"  cancels in Stripe at period end: {applies}")


@sites_group.command("list")
@with_appcontext
def list_sites():
    """List sites with their keys."""
    import sqlalchemy as sa

    from widget_server.models import Site

    for site in db.session.scalars(sa.select(Site).order_by(Site.name)):
        origins = ", ".join(o.origin for o in site.origins) or "no origins"
        click.echo(f"{site.key}  {site.name}  ({origins})")


# --- customers ---------------------------------------------------------------------------


@click.group()
def customers():
    """Customers' personal data (export and erasure requests)."""


def _customer_command(site_key: str, customer_id: str, operation):
    from widget_server.services import audit, sites

    try:
        site = sites.get_site(site_key)
        result = operation(site, customer_id)
    except KeepkitError as exc:
        _fail(exc)
    action = "customer_erased" if operation.__name__ == "erase_customer" else "customer_exported"
    details = result if action == "customer_erased" else {}
    audit.record(action, actor="CLI", site=site, customer=customer_id, **details)
    db.session.commit()
    return result


@customers.command("export")
@click.option("--site", "site_key", required=True)
@click.option("--customer", "customer_id", required=True, help="The customer's id (token sub).")
@with_appcontext
def export_customer(site_key, customer_id):
    """Print everything stored about one customer as JSON."""
    from widget_server.services import privacy

    data = _customer_command(site_key, customer_id, privacy.export_customer)
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@customers.command("erase")
@click.option("--site", "site_key", required=True)
@click.option("--customer", "customer_id", required=True, help="The customer's id (token sub).")
@with_appcontext
def erase_customer(site_key, customer_id):
    """Erase one customer's personal data (sessions stay for the figures, anonymised)."""
    from widget_server.services import privacy

    counts = _customer_command(site_key, customer_id, privacy.erase_customer)
    click.echo(
        f"Erased customer {customer_id}: {counts['sessions']} sessions anonymised, "
        f"{counts['votes']} votes, {counts['subscriptions']} subscriptions and "
        f"{counts['messages']} messages deleted."
    )


# --- experiments ---------------------------------------------------------------------------


@click.group("experiments")
def experiments_group():
    """Holdout and A/B tests of the cancellation flow's offers."""


@experiments_group.command("holdout")
@click.option("--site", "site_key", required=True)
@click.option("--percent", required=True, help="0-50: the share of customers offered nothing.")
@click.option(
    "--planned-size",
    default=None,
    help="Completed sessions per arm before the lift is shown (default: 1,377, see "
    "docs/experiments.md).",
)
@with_appcontext
def holdout(site_key, percent, planned_size):
    """Offer nothing to PERCENT % of the site's customers (0 ends the holdout)."""
    from widget_server.services import audit, experiments, sites

    try:
        site = sites.get_site(site_key)
        previous = experiments.current_holdout(site)
        before = previous.holdout_percent if previous else 0
        experiment = experiments.set_holdout(site, percent, by="CLI", planned_size=planned_size)
    except KeepkitError as exc:
        _fail(exc)
    now = experiment.holdout_percent if experiment else 0
    if now != before:
        audit.record("holdout_changed", actor="CLI", site=site, previous=before, percent=now)
    db.session.commit()
    if experiment is None:
        click.echo(f"No holdout on {site.key}: every customer sees the offers.")
    else:
        click.echo(
            f"Holdout on {site.key}: {now} % of customers are offered nothing "
            f"(experiment {experiment.id}, planned size {experiment.planned_size:,} per arm)."
        )


# --- seed --------------------------------------------------------------------------------


def _refuse_in_production():
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException(
            "Refusing to write demo data in production (set KEEPKIT_ENV=development)."
        )


@click.command()
@click.option("--site", "site_key", required=True)
@click.option("--sessions", "total", type=click.IntRange(1, 10_000_000), default=5000)
@click.option(
    "--with-events",
    is_flag=True,
    help="Also write lifecycle events: renewals, lapsed saves, confirmed cancellations, "
    "customers who came back after a shipped item's win-back email.",
)
@with_appcontext
def seed(site_key, total, with_events):
    """Top a site up to N realistic demo sessions (idempotent)."""
    from widget_server.services import seed as seeding
    from widget_server.services import sites

    _refuse_in_production()
    try:
        site = sites.get_site(site_key)
    except KeepkitError as exc:
        _fail(exc)
    started = time.perf_counter()

    def progress(done, todo):
        db.session.commit()
        click.echo(f"\r  {done:,}/{todo:,} sessions", nl=False, err=True)

    added = 0
    if with_events and not db.session.scalar(seeding.roadmap_items_query(site)):
        # The story needs a roadmap that churned customers asked for (one item shipped).
        added = seeding.seed_sessions(site, min(total, 400))
        seeding.seed_roadmap(site)
        db.session.commit()
    added += seeding.seed_sessions(site, total, progress=progress)
    db.session.commit()
    if added:
        seeding.analyze()
        db.session.commit()
    elapsed = time.perf_counter() - started
    click.echo(("\n" if added else "") + f"Added {added:,} sessions in {elapsed:.1f}s.")
    if with_events:
        started = time.perf_counter()

        def events_progress(done):
            db.session.commit()
            click.echo(f"\r  {done:,} events", nl=False, err=True)

        events = seeding.seed_events(site, progress=events_progress)
        db.session.commit()
        if events:
            seeding.analyze()
            db.session.commit()
        elapsed = time.perf_counter() - started
        click.echo(
            ("\n" if events else "") + f"Added {events:,} lifecycle events in {elapsed:.1f}s."
        )


# --- reports -----------------------------------------------------------------------------


@click.group()
def reports():
    """Reports."""


@reports.command("pdf")
@click.option("--site", "site_key", required=True)
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="Default: 30 days ago.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Default: today.")
@click.option("--plan", default=None)
@click.option("--size", type=click.Choice(["A4", "Letter"]), default="A4", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True)
@with_appcontext
def report_pdf(site_key, start, end, plan, size, output):
    """Write the "Cancellation insights" PDF for a date range."""
    from widget_server.models import utcnow
    from widget_server.reports.pdf import render_pdf
    from widget_server.services import rollups, sites
    from widget_server.services.period import Filter, InvalidPeriod, Period

    try:
        site = sites.get_site(site_key)
    except KeepkitError as exc:
        _fail(exc)
    try:
        period = Period.parse(
            start.date() if start else None, end.date() if end else None, today=utcnow().date()
        )
    except InvalidPeriod as exc:
        if exc.problem == "order":
            raise click.ClickException("--from must not be after --to") from None
        option = "--from" if exc.field == "start" else "--to"
        raise click.ClickException(f"{option}: {exc.message}") from None
    started = time.perf_counter()
    rollups.fold_all(site)  # completions not yet counted by a worker
    db.session.commit()
    pdf = render_pdf(site, Filter.parse(period, plan=plan), size)
    with open(output, "wb") as handle:
        handle.write(pdf)
    elapsed = time.perf_counter() - started
    click.echo(f"Wrote {output} ({len(pdf) / 1024:.0f} KB) in {elapsed:.1f}s.")


@reports.command("rebuild-rollups")
@click.option("--site", "site_key", default=None, help="One site (default: every site).")
@with_appcontext
def rebuild_rollups(site_key):
    """Recompute the dashboard's daily and monthly rollups from the sessions (after restoring
    a backup or editing sessions by hand; completing a session keeps them current). Runs in
    short steps: the widget keeps answering while it works."""
    from widget_server.models import Site
    from widget_server.services import rollups, sites

    try:
        chosen = [sites.get_site(site_key)] if site_key else list(db.session.scalars(select(Site)))
    except KeepkitError as exc:
        _fail(exc)
    started = time.perf_counter()
    for site in chosen:
        key = site.key
        for done, total in rollups.rebuild_in_steps(site):
            db.session.commit()
            click.echo(f"\r{key}: {done}/{total} steps", nl=False, err=True)
        click.echo(f"\r{key}: rebuilt ({total} steps)" + " " * 10)
    click.echo(f"Rebuilt {len(chosen)} site(s) in {time.perf_counter() - started:.1f}s.")


# --- worker ------------------------------------------------------------------------------


@click.command()
@click.option("--once", is_flag=True, help="Deliver everything that is due, then exit.")
@click.option("--poll", default=2.0, show_default=True, help="Seconds between polls when idle.")
@with_appcontext
def worker(once, poll):
    """Deliver queued emails and webhooks (retries with backoff; safe to run several)."""
    import logging

    from widget_server.delivery.emails import parse_mail_from
    from widget_server.delivery.worker import run_forever, run_once

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not current_app.config["KEEPKIT_PUBLIC_URL"]:
        raise click.ClickException("Set KEEPKIT_PUBLIC_URL: emails need absolute links.")
    try:
        parse_mail_from(current_app.config["KEEPKIT_MAIL_FROM"])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if once:
        sent, retried, failed = run_once()
        click.echo(
            f"Sent {sent}, retried {retried}, failed {failed} "
            "(retried ones are tried again later; failed ones wait in the admin's outbox)."
        )
        return
    click.echo("Keepkit worker running; Ctrl+C to stop.")
    try:
        run_forever(poll)
    except KeyboardInterrupt:
        click.echo("Stopped.")


# --- demo --------------------------------------------------------------------------------


def _check_port_free(host: str, port: int) -> None:
    """Before minutes of seeding: the demo must be able to listen there."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"Cannot listen on {host}:{port} ({exc.strerror}). Choose another port: "
                "make demo PORT=8123 (or keepkit demo --port 8123)."
            ) from exc


@cli.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--sessions", "total", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the demo database and exit.")
def demo(host, port, total, no_serve):
    """Start Keepkit on SQLite with demo data and an "Acme" host page."""
    from flask_migrate import upgrade

    from widget_server.demo import prepare_demo

    os.environ.setdefault("KEEPKIT_ENV", "demo")
    if not no_serve:
        _check_port_free(host, port)
    app = create_app(
        {"ENV": os.environ["KEEPKIT_ENV"], "KEEPKIT_PUBLIC_URL": f"http://{host}:{port}"}
    )
    with app.app_context():
        upgrade()
        password = secrets.token_urlsafe(12)
        info = prepare_demo([f"http://{host}:{port}", f"http://localhost:{port}"], total, password)
        db.session.commit()
    base = f"http://{host}:{port}"
    click.echo("")
    click.echo("Keepkit demo is ready.")
    click.echo(f"  Admin:      {base}/admin/   email {info['email']}   password {password}")
    click.echo(f"  Acme app:   {base}/demo/acme   (click 'Cancel subscription')")
    click.echo(
        f"  Site key:   {info['site_key']}   database {app.config['SQLALCHEMY_DATABASE_URI']}"
    )
    if not no_serve:
        from werkzeug.serving import run_simple

        # app.run() is a no-op inside a Flask CLI command; serve directly instead.
        run_simple(host, port, app, threaded=True)
