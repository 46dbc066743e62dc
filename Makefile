# The two set-up commands: `make run` (the app, with a demo connection) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint format venv dev-venv demo clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.runtime
dev-venv: $(VENV)/.dev

# A local .env (ignored by git) so later `manage.py` commands use the same settings.
.env:
	@$(PYTHON) -c "import secrets; print('DJANGO_DEBUG=1'); print('DJANGO_SECRET_KEY=' + secrets.token_urlsafe(50))" > .env
	@echo "Wrote .env (DJANGO_DEBUG=1 and a generated secret key)."

demo: $(VENV)/.runtime .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py prepare_demo

# The job worker runs beside the web server and stops with it (on SQLite it says jobs
# run inside the web process and exits).
run: demo
	@$(PY) manage.py run_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:8000

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) tools/mypy_ratchet.py
	DJANGO_SETTINGS_MODULE=itsm.settings_test $(PY) manage.py check --fail-level WARNING
	DJANGO_SETTINGS_MODULE=itsm.settings_test $(PY) manage.py makemigrations --check --dry-run

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(VENV)/bin/pytest --cov --cov-report=term:skip-covered

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache .coverage
