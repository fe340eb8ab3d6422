"""JSON APIs: the public widget API, the data API and the OpenAPI document."""

from widget_server.api.data import bp as data_bp
from widget_server.api.docs import bp as docs_bp
from widget_server.api.widget import bp as widget_bp

__all__ = ["data_bp", "docs_bp", "widget_bp"]
