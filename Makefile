# The README's commands. Needs only Python >= 3.12 and make: uv is installed on first use.

PYTHON ?= python3
# Use uv from PATH when there is one; otherwise install it into .tools/ with pip.
UV := $(or $(shell uv --version >/dev/null 2>&1 && command -v uv),.tools/bin/uv)
MANAGE := $(UV) run python manage.py

.PHONY: dev install migrate test e2e bench lint format clean

dev: install migrate  ## Run web (http://127.0.0.1:8000), the workers and the scheduler; Ctrl-C stops them.
	$(UV) run honcho start -f Procfile.dev

install: $(UV)
	$(UV) sync --locked

migrate: install
	$(MANAGE) migrate --noinput
	$(MANAGE) createcachetable

test: install  ## The whole suite, browser tests included, on SQLite (or on DATABASE_URL when set).
	$(UV) run pytest

e2e: install  ## Only the browser tests, against real gunicorn, runworker and runscheduler processes.
	$(UV) run pytest tests/e2e

bench: install  ## Benchmarks (PostgreSQL at DATABASE_URL, default the local test database).
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(UV) run python -m bench

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: install
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

clean:
	rm -rf .venv .tools var test-results

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv
