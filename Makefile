# Keepkit developer commands. `make demo` and `make test` are the two a new user needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo keepkit test lint format install clean bench bench-ci bench-loop load load-ci faults messages

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
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance/demo.db .pytest_cache .ruff_cache .mypy_cache

## Benchmarks (not part of the test suite): 1,000,000 sessions into SQLite and PostgreSQL.
BENCH_SESSIONS ?= 1000000
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432
bench: $(STAMP)
	rm -f /tmp/keepkit-bench.db
	$(BIN)/python scripts/bench.py --database sqlite:////tmp/keepkit-bench.db --sessions $(BENCH_SESSIONS)
	psql "$(BENCH_PG)/postgres" -qc "DROP DATABASE IF EXISTS keepkit_bench" -c "CREATE DATABASE keepkit_bench"
	$(BIN)/python scripts/bench.py --database $(BENCH_PG)/keepkit_bench --sessions $(BENCH_SESSIONS)
	$(MAKE) bench-loop

## The short variant CI runs: 2,000 sessions into a fresh SQLite file, every timing and admin
## page once through, so a benchmark that no longer runs is found before anyone needs it.
bench-ci: $(STAMP)
	rm -f /tmp/keepkit-bench-ci.db
	$(BIN)/python scripts/bench.py --database sqlite:////tmp/keepkit-bench-ci.db --sessions 2000

## The closed loop: lifecycle events ingested in batches of 500, retention and reactivations
## over BENCH_SESSIONS sessions and as many lifecycle events, on SQLite and PostgreSQL.
bench-loop: $(STAMP)
	rm -f /tmp/keepkit-bench-loop.db
	$(BIN)/python scripts/bench_loop.py --database sqlite:////tmp/keepkit-bench-loop.db --sessions $(BENCH_SESSIONS)
	psql "$(BENCH_PG)/postgres" -qc "DROP DATABASE IF EXISTS keepkit_bench_loop" -c "CREATE DATABASE keepkit_bench_loop"
	$(BIN)/python scripts/bench_loop.py --database $(BENCH_PG)/keepkit_bench_loop --sessions $(BENCH_SESSIONS)

## Load (not part of the suite): Keepkit under gunicorn (gunicorn.conf.py) and locust, next to a
## no-op Flask endpoint, on SQLite and PostgreSQL, then checks every acknowledged write and the
## rollups. LOAD_USERS (50), LOAD_SECONDS (60), LOAD_SEED (0), LOAD_DATABASES, LOAD_SCENARIOS,
## LOAD_PG_URL, LOAD_REDIS_URL, LOAD_OUTPUT: see scripts/load/run.py and docs/performance.md.
load: $(STAMP)
	$(BIN)/python scripts/load/run.py

## The short variant CI runs after `make test`: fails on any 5xx or integrity error.
load-ci: $(STAMP)
	LOAD_USERS=10 LOAD_SECONDS=10 LOAD_OUTPUT=$(CURDIR)/instance/load/load-ci.json $(BIN)/python scripts/load/run.py

## Faults under load (a gunicorn worker killed, PostgreSQL restarted, Redis gone, the worker
## killed mid-delivery) on a PostgreSQL and a Redis of the script's own: scripts/load/faults.py.
faults: $(STAMP)
	$(BIN)/python scripts/load/faults.py

## Translations (docs/translations.md): collect the strings marked in the code into
## widget_server/translations/messages.pot and merge them into every locale's messages.po.
## New and changed strings arrive untranslated or fuzzy; the catalog test fails until they are
## translated. Catalogs are read at startup: there is no compile step.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o widget_server/translations/messages.pot \
	  --project=Keepkit --version=0.1 --copyright-holder=Keepkit --add-location=file --sort-by-file --no-wrap .
	$(BIN)/pybabel update -i widget_server/translations/messages.pot -d widget_server/translations \
	  --no-wrap --ignore-obsolete
