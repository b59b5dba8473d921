# Entry points of the project. The README's first two commands are `make demo` and `make test`.
# Everything installs into a project-local venv from the pinned lock (requirements.txt).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# Project root and plugins/ on the path, as Airflow's dag processor and the Astro runtime do.
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: install demo ui check-config lint test test-fast bench lock migrate emulator clean

# --compile-bytecode: every Airflow task, CLI call and test subprocess imports Airflow and
# great-expectations; without .pyc files (PYTHONDONTWRITEBYTECODE, read-only venvs) each one
# recompiles them: 11 s instead of 5 s for `import great_expectations` on 2 cores.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9
	$(UV) pip sync --quiet --compile-bytecode --python $(PY) requirements.txt
	# the project itself, editable: its Airflow provider entry point (connection types for the UI)
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	touch $@

install: $(VENV)/.installed

## demo: install, then run the nightly sync and the response import on embedded defaults
demo: install
	$(PY) scripts/demo.py

## ui: the Airflow UI on the demo's data (run `make demo` first), until Ctrl-C
ui: install
	$(PY) scripts/ui.py

## check-config: validate config/lists.yaml and config/response_import.yaml, and parse the DAGs and
## plugins as Airflow does (project root and plugins/ on the path); exit 1 on any problem
check-config: install
	$(PY) scripts/check_config.py

## lint: ruff's checks and its formatting check (the configuration is in pyproject.toml)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## test: install, lint (ruff check + ruff format --check), then run the whole test suite
## (PostgreSQL tests skip without a server)
test: lint
	$(PY) -m pytest

## test-fast: the suite without the end-to-end tests
test-fast: install
	$(PY) -m pytest -m "not e2e"

## bench: generate 100k + 1M-contact CRMs on PostgreSQL, run every benchmark against the emulator,
## write bench/results/latest.{json,md} (BENCH_ARGS=--quick for a smoke run, --reuse to keep the CRMs)
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

## lock: regenerate requirements.txt from requirements.in
lock: install
	$(UV) pip compile --quiet --python-version 3.11 requirements.in -o requirements.txt

## migrate: apply the staging migrations to URL (default: the embedded SQLite database)
# The URL reaches the tool in the environment, not on the command line make echoes: it may hold a
# password. The tool logs it with the password masked.
migrate: export CRM_SYNC_STAGING_URL := $(or $(URL),$(CRM_SYNC_STAGING_URL))
migrate: install
	$(PY) -m include.crm_sync.staging.migrate

## emulator: run the Optimizely Campaign emulator in the foreground
emulator: install
	$(PY) -m include.emulators.optimizely

clean:
	rm -rf .local .pytest_cache
