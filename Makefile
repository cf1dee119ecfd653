# Hài Lòng: `make run` and `make test` work on a fresh clone (they set everything up first).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
KIOSK_PORT ?= 8001

.PHONY: install run test lint format chromium bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[server,dev]'
	touch $(STAMP)

install: $(STAMP)

## Set up, migrate the embedded SQLite database, load demo data when empty, start the server and a demo kiosk.
run: install
	$(BIN)/hailong db upgrade
	$(BIN)/hailong seed-demo --if-empty
	@trap 'kill $$kiosk 2>/dev/null' EXIT; \
	$(BIN)/hailong demo-kiosk --port $(KIOSK_PORT) --server http://127.0.0.1:$(PORT) & kiosk=$$!; \
	$(BIN)/hailong serve --host $(HOST) --port $(PORT)

## Set up (including Debian's chromium for browser tests), lint, and run the whole suite.
test: install chromium lint
	$(BIN)/pytest

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null; \
	  else echo "error: /usr/bin/chromium is missing; install Debian's chromium package (browser tests need it)" >&2; exit 1; fi; \
	fi
	@command -v pdftoppm >/dev/null || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; } || { echo "error: poppler-utils missing" >&2; exit 1; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || { echo "error: wrk is missing (Debian package wrk)" >&2; exit 1; }
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
