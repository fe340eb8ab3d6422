"""localstripe (a stateful fake Stripe server, PyPI ``localstripe``) in a subprocess on a free
loopback port, and the official ``stripe`` library pointed at it. Nothing talks to Stripe."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from stripe import StripeClient

from tests.integrations.localstripe import API_KEY
from tests.servers import free_port


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    """The base URL of a localstripe server of this test session."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
        cwd=tmp_path_factory.mktemp("localstripe"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            request = urllib.request.Request(  # noqa: S310 - loopback
                f"{url}/v1/customers", headers={"Authorization": f"Bearer {API_KEY}"}
            )
            with urllib.request.urlopen(request, timeout=2):  # noqa: S310 - loopback
                break
        except (urllib.error.URLError, ConnectionError) as exc:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"localstripe did not start: {exc}") from exc
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def stripe_client(localstripe):
    return StripeClient(API_KEY, base_addresses={"api": localstripe})
