# The README's two commands: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= python3
PORT ?= 5000
export PORT
# Procfile commands (flask, gunicorn) resolve from the virtualenv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test services stop-services lint bench release clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

services:
	scripts/services.sh start

stop-services:
	scripts/services.sh stop

release: $(STAMP)
	$(VENV)/bin/flask --app app release

# Locally the broker reports asynchronous work to the local platform (Procfile.dev).
run: export LOCAL_PLATFORM_URL ?= http://127.0.0.1:5100
run: export PLATFORM_API_URL ?= $(LOCAL_PLATFORM_URL)
run: export PLATFORM_ID_URL ?= $(LOCAL_PLATFORM_URL)
run: export PLATFORM_DASHBOARD_URL ?= $(LOCAL_PLATFORM_URL)
# Connect talks to the Salesforce stand-in (Procfile.dev) and trusts its throwaway CA, made
# before anything starts so the first request can already check it. The bundle is the usual
# public CAs plus that one (a REQUESTS_CA_BUNDLE already in the environment is replaced: it
# would not know the stand-in).
STANDIN_CERTS := instance/salesforce-standin-certs
STANDIN_BUNDLE := instance/ca-bundle-with-standin.pem
run: export REQUESTS_CA_BUNDLE := $(CURDIR)/$(STANDIN_BUNDLE)
run: export SALESFORCE_LOGIN_URL ?= https://127.0.0.1:5200
run: export SALESFORCE_CLIENT_ID ?= standin-connected-app
run: export SALESFORCE_CLIENT_SECRET ?= standin-connected-app-secret
run: export CONNECT_MIN_POLL_SECONDS ?= 10
run: $(STAMP) services release
	$(PY) -m standins.salesforce certs --cert-dir $(STANDIN_CERTS)
	cat "$$($(PY) -c 'import certifi; print(certifi.where())')" $(STANDIN_CERTS)/cert.pem > $(STANDIN_BUNDLE)
	$(VENV)/bin/honcho start -f Procfile.dev

test: $(STAMP) services
	scripts/install-chromium.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Every benchmark in turn; each prints both sides and the ratio (or the goal) from one run.
bench: $(STAMP) services
	$(PY) bench/provision_postgres.py
	$(PY) bench/provision_rabbitmq.py
	$(PY) bench/provision_kafka.py
	$(PY) bench/catalog.py
	$(PY) bench/scale.py
	$(PY) bench/odata_query.py
	$(PY) bench/concurrency.py
	$(PY) bench/connect_sync.py
	$(PY) bench/data_connector.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
