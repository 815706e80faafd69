# Two commands for a new user: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --disable-pip-version-check
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
STAMP_HONCHO := $(VENV)/.installed-honcho
# The patients' Spanish, compiled from the catalogue in the repository (the .mo is not kept in git).
MO := locale/es/LC_MESSAGES/django.mo
PORT ?= 8000
# Links in emails and the calendar feed follow the port served (honcho gives the worker and beat
# ports of their own, so SITE_URL is set here, once, for all three processes).
export SITE_URL ?= http://127.0.0.1:$(PORT)
export DJANGO_DEBUG ?= true

.PHONY: run test lint install install-dev browsers clean screenshots messages

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	# XStatic-Bootstrap builds with pkg_resources, which setuptools 81 removed.
	$(PIP) "setuptools<81" wheel

$(STAMP_RUN): $(BIN)/python requirements.txt
	$(PIP) --no-build-isolation -r requirements.txt
	touch $@

$(STAMP_DEV): $(STAMP_RUN) requirements-dev.txt
	$(PIP) --no-build-isolation -r requirements-dev.txt
	touch $@

# honcho (development only, pinned in requirements-dev.txt) for `make run`, without the rest of the
# development set.
$(STAMP_HONCHO): $(STAMP_RUN) requirements-dev.txt
	$(PIP) "$$(grep -E '^honcho==' requirements-dev.txt)"
	touch $@

install: $(STAMP_RUN) $(MO)
install-dev: $(STAMP_DEV) $(MO)

# compilemessages needs gettext's msgfmt: Debian's `gettext` is installed when missing (as root),
# like chromium below; without it, locale/msgfmt.py (standard library only) writes the same .mo.
$(MO): locale/es/LC_MESSAGES/django.po locale/msgfmt.py | $(STAMP_RUN)
	@if ! command -v msgfmt >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null) \
	    || echo "WARNING: could not install gettext; compiling locale/ with locale/msgfmt.py"; \
	fi
	if command -v msgfmt >/dev/null; then \
	  $(BIN)/python manage.py compilemessages --locale es --ignore '.venv' --ignore 'var' && touch $@; \
	else $(BIN)/python locale/msgfmt.py $< $@; fi

messages: $(MO)

# Web server, Celery worker and beat together; Ctrl-C stops all three.
run: install $(STAMP_HONCHO)
	mkdir -p var/mail var/broker/out var/broker/processed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --once
	$(BIN)/python manage.py plan_reminders
	@echo ""
	@echo "  Open $(subst //127.0.0.1:,//localhost:,$(SITE_URL))/  (demo logins above; emails land in var/mail/)"
	@echo "  Passkeys work only at that address (a browser refuses them on 127.0.0.1)."
	@echo ""
	PORT=$(PORT) SITE_URL=$(SITE_URL) $(BIN)/honcho start -f Procfile

# The suite runs in TEST_WORKERS processes (pytest-xdist), a test file to a process: many tests
# wait on real workers, SMTP and browsers rather than on the CPU. TEST_WORKERS=0 runs in one.
TEST_WORKERS ?= 3
test: install-dev browsers
	DJANGO_ALLOW_ASYNC_UNSAFE=true $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The browser journeys again, writing docs/screenshots/*.png (`make test` leaves them alone).
screenshots: install-dev browsers
	SCREENSHOTS=1 DJANGO_ALLOW_ASYNC_UNSAFE=true $(BIN)/python -m pytest tests/e2e/test_journeys.py tests/e2e/test_one_click.py tests/e2e/test_spanish_page.py tests/e2e/test_reminders_stalled.py tests/e2e/test_find_and_review.py tests/e2e/test_accessibility.py -q -p no:randomly

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browsers:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "WARNING: could not install chromium; the browser tests will be skipped"; \
	  else echo "Browser tests need /usr/bin/chromium: sudo apt-get install chromium"; fi; \
	fi

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# Types, strict on the rules engine (pyproject.toml [tool.mypy] says which files and why).
	$(BIN)/mypy
	# Security lint of the three apps; each `nosec` says why on its line.
	$(BIN)/bandit -q -r config api demo clinic patients monitoring rules -x '*/migrations/*'
	# The import contracts of pyproject.toml (docs/architecture.md).
	$(BIN)/lint-imports
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles

# Speed and scale (docs/quality.md P1-P4) against PostgreSQL and Redis, with production settings
# (gunicorn from deploy/gunicorn.conf.py, DJANGO_DEBUG off, verified sessions), written to
# docs/benchmarks.md; BENCH_QUICK=1 for a short run at 1,000 patients (var/bench/). DATABASE_URL
# names the server and the databases' base name, BENCH_REDIS_URL the Redis database no worker
# reads (bench/run.py). About half an hour in full; it loads both cores.
.PHONY: bench
bench: install-dev
	$(BIN)/python bench/run.py

# Backups that restore (docs/operations.md): a seeded clinic with home-test evidence is dumped
# (pg_dump -Fc), restored into a new database, and compared table by table and file by file.
# PostgreSQL on 127.0.0.1:5432 unless DRILL_DATABASE_URL names another server.
.PHONY: backup-drill
backup-drill: install
	$(BIN)/python ops/backup_drill.py

# nginx for `make rehearse` (Debian's package, like chromium above).
.PHONY: proxy rehearse
proxy:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
	    || { echo "could not install nginx"; exit 1; }; \
	  else echo "make rehearse needs nginx: sudo apt-get install nginx"; exit 1; fi; \
	fi

# The production topology on this machine under load and faults (docs/rehearsal.md, docs/quality.md
# O2): nginx, 2 gunicorn, 2 workers, 2 beats, PostgreSQL (database `rehearse`, made anew; the
# server from REHEARSE_POSTGRES, default postgres://postgres@127.0.0.1:5432), a Redis of its own.
rehearse: install-dev proxy
	$(BIN)/python ops/rehearse.py $(REHEARSE_ARGS)
