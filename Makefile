# Keepkit developer commands. `make demo` and `make test` are the two a new user needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo keepkit test lint format install clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

HOST ?= 127.0.0.1
PORT ?= 5000
DEMO_DB := sqlite:///$(CURDIR)/instance/demo.db

## Start Keepkit on SQLite with demo data; prints where to log in. `make demo PORT=8123`.
demo: $(STAMP)
	KEEPKIT_ENV=demo KEEPKIT_DATABASE_URL=$${KEEPKIT_DATABASE_URL:-$(DEMO_DB)} $(BIN)/keepkit demo --host $(HOST) --port $(PORT)

## Any keepkit command against the demo database: make keepkit ARGS="sites list"
keepkit: $(STAMP)
	@KEEPKIT_ENV=demo KEEPKIT_DATABASE_URL=$${KEEPKIT_DATABASE_URL:-$(DEMO_DB)} $(BIN)/keepkit $(ARGS)

## The whole test suite: lint, then pytest on SQLite and on PostgreSQL (browser tests included).
test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance/demo.db .pytest_cache .ruff_cache

## Benchmarks (not part of the test suite): 1,000,000 sessions into SQLite and PostgreSQL.
BENCH_SESSIONS ?= 1000000
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432
bench: $(STAMP)
	rm -f /tmp/keepkit-bench.db
	$(BIN)/python scripts/bench.py --database sqlite:////tmp/keepkit-bench.db --sessions $(BENCH_SESSIONS)
	psql "$(BENCH_PG)/postgres" -qc "DROP DATABASE IF EXISTS keepkit_bench" -c "CREATE DATABASE keepkit_bench"
	$(BIN)/python scripts/bench.py --database $(BENCH_PG)/keepkit_bench --sessions $(BENCH_SESSIONS)
