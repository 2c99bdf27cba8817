# Two commands: `make run` (the whole product, embedded default) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint format check-deploy system-deps test-system-deps clean messages

$(VENV)/.runtime: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (Debian: apt-get install python3.11 python3.11-venv)"; exit 1; }
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The S3 stand-in of the storage test (moto's S3 server) lives in a venv of its own: moto
# needs botocore, whose python-dateutil pin the kubernetes client refuses.
S3_VENV := .venv-s3
$(S3_VENV)/.ready: requirements-s3.txt
	[ -x $(S3_VENV)/bin/python ] || $(PYTHON) -m venv $(S3_VENV)
	$(S3_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(S3_VENV)/bin/python -m pip install --quiet -r requirements-s3.txt
	touch $@

run: $(VENV)/.runtime system-deps
	./scripts/run-dev.sh

# Debian packages the sandbox runs for real: memcached (a process per memcached pod),
# nutcracker (the router of sharded instances), openssl (its CA for HTTPS).
SYSTEM_PACKAGES := memcached nutcracker openssl
# ... and what the tests drive besides: Chromium (browser tests), redis, gettext.
TEST_PACKAGES := $(SYSTEM_PACKAGES) chromium fonts-wqy-microhei redis-server gettext

system-deps:
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

test-system-deps:
	@missing=""; \
	for pkg in $(TEST_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: $(VENV)/.dev $(S3_VENV)/.ready test-system-deps lint
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest

check-deploy: $(VENV)/.runtime
	DJANGO_DEBUG=0 SECRET_KEY=$$(openssl rand -hex 40) ALLOWED_HOSTS=market.example.com \
	  FIELD_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) $(S3_VENV) var/db.sqlite3* var/broker var/celerybeat-schedule* test-artifacts

# Refresh the Chinese catalogue after changing UI strings; fill new msgids from a JSON
# {msgid: translation} with scripts/fill_translations.py, then compile.
messages: $(VENV)/.dev
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemessages -l zh_Hans --no-wrap \
	  --ignore=.venv --ignore=tests --ignore=static --ignore=sandbox --ignore=var --ignore=bench
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py compilemessages -l zh_Hans --ignore=.venv
