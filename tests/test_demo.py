"""`keepkit demo`, the command a new user runs, as a real process."""

import os
import subprocess
import sys
from pathlib import Path

KEEPKIT = Path(sys.executable).parent / "keepkit"


def test_demo_prepares_sqlite_and_prints_the_login(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPKIT_")}
    env["KEEPKIT_DATABASE_URL"] = f"sqlite:///{tmp_path}/demo.db"
    command = [str(KEEPKIT), "demo", "--no-serve", "--sessions", "200", "--port", "5999"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "http://127.0.0.1:5999/admin/" in first.stdout
    assert "email demo@keepkit.local" in first.stdout
    assert "http://127.0.0.1:5999/demo/acme" in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    password = first.stdout.split("password ")[1].split()[0]
    assert password not in again.stdout  # a fresh password each run
