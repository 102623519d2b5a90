# Ferry: `make run` serves the portal (embedded), `make test` runs every test, `make test-fast` the quick ones.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed
# pytest-xdist workers: one per core, at most four (each production-shape stack takes a Redis db).
# One more than the cores was tried: the real Ansible runs keep the cores busy, so every test
# took longer and the run did not finish sooner.
TEST_WORKERS ?= auto
PYTEST_PARALLEL := -n $(TEST_WORKERS) --maxprocesses 4 --dist loadgroup
FAST_MARKERS := not ansible and not server and not production and not browser and not reliability

.PHONY: run run-prod test test-fast lint format lock kolla bench

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || { $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null; \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9; }
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.txt -r requirements-dev.txt
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

## test: lint and the whole suite in parallel; production-shape tests run when DATABASE_URL and REDIS_URL are set
test: lint kolla
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

## test-fast: lint and every test that runs no Ansible, starts no server or browser and injects no fault
test-fast: lint
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

## kolla: install kolla-ansible once into var/kolla/kolla-ansible-<version>/ (the tests use it, never install it)
kolla: $(STAMP)
	$(BIN)/python -m runner.kolla

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## lock: recompile requirements.txt (runtime) and requirements-dev.txt (tests and tools) from their .in files
lock: $(STAMP)
	$(BIN)/uv pip compile -q requirements.in -o requirements.txt --python-version 3.11
	$(BIN)/uv pip compile -q requirements-dev.in -o requirements-dev.txt --python-version 3.11

## bench: list the benchmarks; `make bench BENCH=ingest ARGS="--runs 3"` runs one (docs/benchmarks.md)
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH) $(ARGS)
