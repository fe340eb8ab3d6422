"""Gunicorn settings for Keepkit: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every setting can be changed through the environment (``KEEPKIT_BIND``, ``KEEPKIT_WORKERS``,
…), so one file serves development machines, ``make load`` and production. Gunicorn reads this
file once, in the master process, before it forks the workers.
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Where to listen. Behind nginx on the same machine keep 127.0.0.1 (nginx terminates TLS and
# forwards; see docs/deploy.md); a comma separates several addresses.
bind = os.environ.get("KEEPKIT_BIND", "127.0.0.1:8000").split(",")

# Worker processes. Each one is a Python interpreter with its own database connection pool
# (SQLAlchemy's, 5 connections at most per process by default) and, without Redis, its own
# rate-limit counters. Keepkit's requests wait mostly on the database, so gunicorn's usual
# starting point, two per core plus one, keeps the cores busy; count the PostgreSQL
# connections: processes x machines x (threads or 1) must stay under max_connections.
workers = _int("KEEPKIT_WORKERS", 2 * multiprocessing.cpu_count() + 1)

# Threads per worker. 1 runs the plain "sync" worker (one request at a time per process);
# more than 1 makes gunicorn use its "gthread" worker (a thread pool per process), which also
# keeps client connections alive between requests.
threads = _int("KEEPKIT_THREADS", 1)

# Another worker class (``sync``, ``gthread``); empty lets gunicorn choose from ``threads``.
if os.environ.get("KEEPKIT_WORKER_CLASS"):
    worker_class = os.environ["KEEPKIT_WORKER_CLASS"]

# A request still running after this many seconds gets its worker killed and restarted. The
# slowest admin requests (a PDF report over a year) take a few seconds; anything longer runs
# in `keepkit worker`, not in a request.
timeout = _int("KEEPKIT_TIMEOUT", 30)

# On a restart (SIGHUP, a deploy) or a stop (SIGTERM), workers finish the requests they are
# serving for up to this long before they are killed.
graceful_timeout = _int("KEEPKIT_GRACEFUL_TIMEOUT", 30)

# Seconds an idle client connection is kept open (gthread only; sync workers close after each
# response). Behind nginx a few seconds is plenty.
keepalive = _int("KEEPKIT_KEEPALIVE", 5)

# Restart a worker after this many requests (0: never), with up to ``max_requests_jitter``
# more so the workers do not all restart at once: a guard against slow memory growth.
max_requests = _int("KEEPKIT_MAX_REQUESTS", 0)
max_requests_jitter = _int("KEEPKIT_MAX_REQUESTS_JITTER", 0)

# The app is built in each worker after the fork (not preloaded in the master): no database
# connection or Redis client is ever shared between processes.
preload_app = False

# Heartbeat files in memory, not on a disk that may stall (gunicorn's advice for containers).
SHM = "/dev/shm"  # noqa: S108 - gunicorn's heartbeat files, not data
worker_tmp_dir = SHM if os.path.isdir(SHM) else None

# Logs on stderr; the access log is off unless KEEPKIT_ACCESS_LOG names a file or "-" (nginx
# logs every request already).
errorlog = "-"
loglevel = os.environ.get("KEEPKIT_LOG_LEVEL", "info")
accesslog = os.environ.get("KEEPKIT_ACCESS_LOG") or None

# Client addresses behind a proxy: Keepkit reads X-Forwarded-For itself when
# KEEPKIT_TRUSTED_PROXIES is set (Werkzeug's ProxyFix); gunicorn's own forwarded_allow_ips stays
# at its default (only a proxy on 127.0.0.1 may say the scheme was https).

proc_name = "keepkit"
