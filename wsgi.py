"""Production entry point: ``gunicorn wsgi:app``."""

from widget_server import create_app

app = create_app()
