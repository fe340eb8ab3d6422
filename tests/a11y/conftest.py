"""The widget tests' host page server, for the widget steps checked here."""

from tests.widget.conftest import host_server  # noqa: F401  (a fixture)
