"""Admin area: Flask-Login session, htmx fragments, CSRF on every mutation, roles per site."""

from widget_server.admin import experiments as _experiments  # noqa: F401 - registers its views
from widget_server.admin import privacy as _privacy  # noqa: F401 - registers its views
from widget_server.admin import roadmap as _roadmap  # noqa: F401 - registers its views
from widget_server.admin import team as _team  # noqa: F401 - registers its views
from widget_server.admin.views import bp

__all__ = ["bp"]
