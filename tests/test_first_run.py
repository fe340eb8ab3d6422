"""The README's first command on a fresh clone: `make demo` starts Keepkit with demo data and
prints where to log in; the admin and the Acme page answer. Nothing left over on a developer's
machine (instance/, .venv, a database) may be needed.

Run once per suite by scripts/test.sh (it does not depend on the database under test).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.first_run
ROOT = Path(__file__).resolve().parent.parent


def read_until(process, pattern: str, timeout: float) -> tuple[re.Match, str]:
    """Read the process's output until ``pattern`` matches (or fail with what it printed)."""
    output, deadline = "", time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        chunk = process.stdout.read()
        if chunk:
            output += chunk.decode(errors="replace")
            if match := re.search(pattern, output):
                return match, output
        elif process.poll() is not None:
            pytest.fail(f"make demo exited with {process.returncode}:\n{output[-4000:]}")
        time.sleep(0.5)
    pytest.fail(f"make demo printed no login within {timeout:.0f}s:\n{output[-4000:]}")


def test_make_demo_on_a_fresh_clone(tmp_path):
    clone = tmp_path / "keepkit"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    assert not (clone / "instance").exists() and not (clone / ".venv").exists()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEPKIT_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(ROOT))
    )
    process = subprocess.Popen(
        ["make", "demo", f"PORT={port}"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        login, _ = read_until(
            process, r"Admin:\s+(http://\S+)\s+email (\S+)\s+password (\S+)", timeout=900
        )
        admin_url, email, password = login.groups()
        assert admin_url == f"http://127.0.0.1:{port}/admin/"
        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = wait_for_page(opener, f"{base}/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
        with opener.open(f"{base}/admin/login", data=form.encode(), timeout=30) as response:
            dashboard = response.read().decode()
            assert "/admin/sites/" in response.url, response.url
        assert "Why we lose money" in dashboard and "Lost MRR" in dashboard
        with opener.open(f"{base}/demo/acme", timeout=30) as response:
            assert "Cancel subscription" in response.read().decode()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        process.stdout.close()


def wait_for_page(opener, url: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with opener.open(url, timeout=10) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
