# jwt-authorizer: every command a developer or CI needs. Only Python 3.11+ and make are assumed.
# Each target installs into .venv only what it needs (runtime, test or lint tools), at the versions
# pinned in requirements/dev.txt; AWS SAM CLI goes into its own .venv-sam, and only for the targets
# that run it. `make` alone lists the targets.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EVENT ?= events/rest-token-allow.json
ENV_FILE ?= events/env.json
PORT ?= 3000
# make test: pytest-xdist workers (0 = one process, as a plain `pytest` run). Each takes whole test
# files (--dist loadfile), so a module's fixtures and order stay as they are.
TEST_WORKERS ?= 2
# The sam targets: ARCH is the template's Architecture (arm64, or x86_64 to run natively on an
# x86_64 machine), SAM_CLI the `sam` to run (default: AWS SAM CLI pinned in requirements/sam.txt,
# installed into SAM_VENV), SAM_LOCAL_ARGS extra arguments for `sam local invoke` / `start-api`.
ARCH ?= arm64
SAM_VENV ?= .venv-sam
SAM_CLI ?= $(SAM_VENV)/bin/sam
SAM_LOCAL_ARGS ?=
SAM_PARAMETERS = Architecture=$(ARCH)
# sam build runs build.mk in a child make, which must build for the same ARCH.
export ARCH SAM_CLI SAM_LOCAL_ARGS
export SAM_CLI_TELEMETRY ?= 0

# Installs without build isolation (setuptools is in the venv) and within the pinned versions.
PIP_INSTALL = $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-build-isolation -c requirements/dev.txt
# What a target needs installed, as stamp files inside the venv.
RUNTIME := $(VENV)/.runtime
TEST := $(VENV)/.test
LINT := $(VENV)/.lint
LOCK := $(VENV)/.lock
SAM_TOOLS := $(VENV)/.sam-tools
SAM_INSTALLED := $(if $(filter $(SAM_VENV)/bin/sam,$(SAM_CLI)),$(SAM_VENV)/.installed)

.DEFAULT_GOAL := help
.PHONY: help venv invoke test fuzz lint docs events bench lock sam-build start-api test-sam clean

help:  ## list the targets (this text)
	@echo "usage: make TARGET [VARIABLE=value ...]"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-zA-Z_-]+):.*## (.*)/\1\t\2/' \
		| awk -F'\t' '{ printf "  %-26s %s\n", $$1, $$2 }'
	@echo "variables: EVENT, ENV_FILE, SAM=1, ARCH=arm64|x86_64, SAM_CLI, SAM_LOCAL_ARGS, PORT, API, TEST_WORKERS, PYTHON, VENV"
	@echo "more: docs/local-testing.md (make docs: the documentation site)"

# ----- installs ---------------------------------------------------------------------------------

$(RUNTIME): pyproject.toml requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "jwt-authorizer needs Python 3.11 or newer (found $$($(PYTHON) --version 2>&1)); pass PYTHON=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/dev.txt setuptools
	$(PIP_INSTALL) -e .
	@touch $@

$(TEST): $(RUNTIME)
	$(PIP_INSTALL) -e '.[test]'
	@touch $@

$(LINT): $(RUNTIME)
	$(PIP_INSTALL) -e '.[lint]'
	@touch $@

$(LOCK): $(RUNTIME)
	$(PIP_INSTALL) uv
	@touch $@

$(SAM_TOOLS): $(RUNTIME)
	$(PIP_INSTALL) pyyaml
	@touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	@touch $@

venv: $(TEST) $(LINT)  ## install everything for development into .venv (the CLI: .venv/bin/jwt-authorizer)

# ----- the everyday targets ---------------------------------------------------------------------

invoke: $(RUNTIME) $(if $(SAM),sam-build)  ## run the authorizer on EVENT with ENV_FILE, in-process (SAM=1: sam build + sam local invoke)
	$(BIN)/python scripts/invoke.py --event $(EVENT) --env-file $(ENV_FILE) \
		$(if $(SAM),--sam --parameter-overrides '$(SAM_PARAMETERS)')

# Bytecode caches on even where PYTHONDONTWRITEBYTECODE is set: dozens of tests start a Python that
# imports the package again, and pytest rewrites every test module's asserts; without the caches
# each of them compiles everything anew (about 10 % of the suite). __pycache__ is git-ignored.
test: $(TEST)  ## run the test suite (the sam local tests too with SAM_LOCAL=1: see test-sam)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# make test draws the same hypothesis examples every run (tests/conftest.py); this draws new ones.
fuzz: $(TEST)  ## the property tests on new random examples (make test always draws the same ones)
	HYPOTHESIS_PROFILE=explore PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile \
		$$(grep -l '@given' tests/*.py)

lint: $(LINT) $(SAM_INSTALLED)  ## ruff, ruff format, mypy, cfn-lint, sam validate --lint and mkdocs build --strict
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(SAM_CLI) validate --lint --template template.yaml
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs: $(LINT)  ## serve the documentation site (mkdocs.yml, docs/) on 127.0.0.1:8000, rebuilt on every edit
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

events: $(RUNTIME)  ## re-mint the development tokens in events/ (no change while they are valid)
	$(BIN)/python scripts/make_events.py

bench: $(RUNTIME)  ## print the performance table (ratios to one RSA signature check)
	$(BIN)/python scripts/bench.py

lock: $(LOCK)  ## refresh the pinned versions in requirements/ (uv pip compile; Lambda wheels with hashes)
	$(BIN)/python scripts/lock.py

# ----- sam local (a container runtime; on these machines ../shared/samlocal, docs/local-testing.md) --

sam-build: $(SAM_INSTALLED)  ## sam build for ARCH (the package in .aws-sam/build)
	$(CHECK_ARCH)
	$(SAM_CLI) build --build-in-source --parameter-overrides '$(SAM_PARAMETERS) CreateExampleApi=true'

start-api: sam-build $(SAM_TOOLS)  ## serve the example REST API on 127.0.0.1:PORT, the HTTP API on PORT+1 (API=rest|http: one)
	$(BIN)/python scripts/start_api.py --port $(PORT) --env-file $(ENV_FILE) --api $(or $(API),both) \
		--parameter-overrides '$(SAM_PARAMETERS) CreateExampleApi=true'

test-sam: $(TEST) $(SAM_TOOLS) $(SAM_INSTALLED)  ## the sam local integration tests (tests/integration, SAM_LOCAL=1)
	SAM_LOCAL=1 PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest tests/integration

clean:  ## remove the virtual environments, caches and build output
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .aws-sam build dist site

include build.mk
