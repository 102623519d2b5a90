# Ferry: `make run` serves the portal (embedded), `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run run-prod test lint format lock clean-var bench

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || { $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null; \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9; }
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.txt
	@touch $@

## run: the embedded portal on SQLite with an in-process worker, at http://$(HOST):$(PORT)
run: $(STAMP)
	@export DEBUG=$${DEBUG:-1}; \
	$(BIN)/python manage.py migrate --no-input -v0 && \
	$(BIN)/python manage.py seed_demo && \
	echo && echo "Ferry is at http://$(HOST):$(PORT)/  (Ctrl-C stops it)" && echo && \
	exec $(BIN)/daphne -b $(HOST) -p $(PORT) portal.asgi:application

## run-prod: web, worker and beat processes against DATABASE_URL and REDIS_URL
run-prod: $(STAMP)
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" -a -n "$$SECRET_KEY" || \
	  { echo "run-prod needs DATABASE_URL, REDIS_URL and SECRET_KEY (see README.md)"; exit 2; }
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input -v0
	HOST=$(HOST) PORT=$(PORT) exec $(BIN)/honcho start -f Procfile

## test: the whole suite; production-shape tests run when DATABASE_URL and REDIS_URL are set
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## lock: recompile requirements.txt from requirements.in
lock: $(STAMP)
	$(BIN)/uv pip compile -q requirements.in -o requirements.txt --python-version 3.11

bench: $(STAMP)
	$(BIN)/python -m bench
