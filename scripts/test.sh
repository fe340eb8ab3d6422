#!/usr/bin/env bash
# Runs the whole suite: lint (ruff, mypy), pytest on SQLite, pytest on PostgreSQL.
# PostgreSQL: KEEPKIT_TEST_PG_URL (default: the local server's `test` database). Outside CI an
# unreachable server skips the PostgreSQL run's tests with a reason; in CI (CI set) it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${KEEPKIT_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}"

echo "== ruff"
ruff check .
ruff format --check .

echo "== mypy"
mypy

echo "== pytest on SQLite"
env -u KEEPKIT_TEST_DATABASE_URL pytest -m "not first_run" "$@"

echo "== pytest on PostgreSQL ($PG_URL)"
KEEPKIT_TEST_DATABASE_URL="$PG_URL" pytest -m "not first_run" "$@"

if [ "$#" -eq 0 ]; then
  echo "== first run: the README's demo command on a fresh clone of HEAD"
  env -u KEEPKIT_TEST_DATABASE_URL pytest -m first_run tests/test_first_run.py
fi
