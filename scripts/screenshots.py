"""Screenshots of every page a person sees, for looking at before and after a change.

    python scripts/screenshots.py OUTPUT_DIR [--sessions 5000]

Runs Keepkit on a fresh SQLite file with the demo data, signs in with Chromium (Debian's,
/usr/bin/chromium) and saves full-page PNGs at 1440x900 and on a phone (390x844). Nothing is
written outside OUTPUT_DIR and a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
from pathlib import Path

from werkzeug.serving import make_server

# The innermost elements that reach beyond the viewport's right edge.
WIDEST = """(limit) => {
  const beyond = (el) => el.getBoundingClientRect().right > limit + 1;
  return [...document.querySelectorAll('body *')]
    .filter(el => beyond(el) && ![...el.children].some(beyond)).slice(0, 5)
    .map(el => el.tagName + '.' + el.className + ' ' + (el.textContent || '').slice(0, 40));
}"""

PAGES = [
    ("dashboard", "/admin/sites/{key}/"),
    ("dashboard-30d", "/admin/sites/{key}/?range=30d"),
    ("dashboard-12m", "/admin/sites/{key}/?range=12m"),
    ("sessions", "/admin/sites/{key}/sessions"),
    ("comments", "/admin/sites/{key}/comments?range=90d"),
    ("impact", "/admin/sites/{key}/impact?range=12m"),
    ("experiments", "/admin/sites/{key}/experiments"),
    ("roadmap", "/admin/sites/{key}/roadmap"),
    ("roadmap-item", "/admin/sites/{key}/roadmap/{item}"),
    ("settings", "/admin/sites/{key}/settings"),
    ("outbox", "/admin/sites/{key}/outbox"),
    ("public-roadmap", "/roadmap/{key}"),
    ("hosted", "/c/{key}?token={token}"),
    ("hosted-invalid", "/c/{key}?token=nope"),
    ("acme", "/demo/acme"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--sessions", type=int, default=5000)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="keepkit-shots-")
    os.environ["KEEPKIT_DATABASE_URL"] = f"sqlite:///{workdir}/keepkit.db"
    os.environ.setdefault("KEEPKIT_ENV", "demo")

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from widget_server import create_app
    from widget_server.demo import DEMO_EMAIL, customer_token, prepare_demo
    from widget_server.extensions import db
    from widget_server.models import RoadmapItem, Site

    httpd = make_server("127.0.0.1", 0, None, threaded=True)
    base = f"http://127.0.0.1:{httpd.server_port}"
    app = create_app({"ENV": "demo", "KEEPKIT_PUBLIC_URL": base})
    httpd.app = app
    password = secrets.token_urlsafe(12)
    with app.app_context():
        upgrade()
        info = prepare_demo([base], args.sessions, password)
        db.session.commit()
        site = db.session.scalar(sa.select(Site).where(Site.key == info["site_key"]))
        item = db.session.scalar(
            sa.select(RoadmapItem.id).where(RoadmapItem.site_id == site.id).limit(1)
        )
        token = customer_token(
            site, "shots-1", plan="Growth", mrr=9900, email="jane@example.com", name="Jane"
        )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        for name, size in (("desktop", (1440, 900)), ("phone", (390, 844))):
            context = browser.new_context(viewport={"width": size[0], "height": size[1]})
            page = context.new_page()
            page.goto(f"{base}/admin/login")
            page.fill("input[name=email]", DEMO_EMAIL)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url("**/admin/sites/**")
            for label, path in PAGES:
                url = base + path.format(key=info["site_key"], item=item, token=token)
                page.goto(url)
                page.wait_for_load_state("load")
                width = page.evaluate("document.documentElement.scrollWidth")
                page.screenshot(path=str(args.output / f"{label}-{name}.png"), full_page=True)
                print(f"{label}-{name}: page width {width} px (viewport {size[0]})")
                if width > size[0]:
                    print("  too wide:", page.evaluate(WIDEST, size[0]))
            page.goto(f"{base}/demo/acme")
            page.get_by_role("button", name="Cancel subscription").first.click()
            page.locator("keepkit-flow [data-kk=reason]").first.wait_for()
            page.wait_for_timeout(400)  # the dialog fades in (150 ms): shoot it when it is there
            page.screenshot(path=str(args.output / f"widget-{name}.png"))
            context.close()
        browser.close()
    httpd.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
