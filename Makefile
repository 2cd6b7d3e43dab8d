# The README's commands. Needs only Python >= 3.12 and make: uv is installed on first use.

PYTHON ?= python3
# Use uv from PATH when there is one; otherwise install it into .tools/ with pip.
UV := $(or $(shell uv --version >/dev/null 2>&1 && command -v uv),.tools/bin/uv)
MANAGE := $(UV) run python manage.py

.PHONY: dev install migrate test lint format clean

dev: install migrate  ## Run web (http://127.0.0.1:8000) and worker together; Ctrl-C stops both.
	$(UV) run honcho start -f Procfile.dev

install: $(UV)
	$(UV) sync --locked

migrate: install
	$(MANAGE) migrate --noinput
	$(MANAGE) createcachetable

test: install  ## The whole suite, on SQLite (or on DATABASE_URL when set).
	$(UV) run pytest

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: install
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

clean:
	rm -rf .venv .tools var

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv
