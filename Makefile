# Two commands from a fresh clone: `make run` and `make test` (see README).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEV_ENV := DEBUG=1

.PHONY: run test test-browser migrate demo sweep bench lint check typecheck fmt clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ceol needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

migrate: $(STAMP)
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput

demo: migrate
	$(DEV_ENV) $(BIN)/python manage.py setup_demo_data

sweep: $(STAMP)
	$(DEV_ENV) $(BIN)/python manage.py check_active_sessions

run: demo
	$(DEV_ENV) $(BIN)/python manage.py runserver_with_sweeps 127.0.0.1:8000

test: $(STAMP)
	$(BIN)/python -m pytest

test-browser: $(STAMP)
	CEOL_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -m browser

bench: $(STAMP)
	$(DEV_ENV) $(BIN)/python manage.py bench_sweep --sessions 1000

# ruff (lint + format check), mypy with django-stubs, the migrations and the deploy
# checks; configuration in pyproject.toml. CI runs `make check` before the tests.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: lint typecheck
	$(DEV_ENV) $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=0 SECRET_KEY=ci-check-deploy-only-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG \
	  ALLOWED_HOSTS=ceol.example.org $(BIN)/python manage.py check --deploy --fail-level WARNING

typecheck: $(STAMP)
	$(BIN)/mypy .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache
