# jwt-authorizer: every command a developer or CI needs. Only Python 3.11+ and make are assumed:
# the first target that needs tools creates .venv and installs the project into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EVENT ?= events/rest-token-allow.json
ENV_FILE ?= events/env.json

.DEFAULT_GOAL := help
.PHONY: help venv test lint invoke bench events clean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "jwt-authorizer needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the project with its development tools

test: $(STAMP)  ## run the whole test suite
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff, mypy, and the SAM template linters
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml

invoke: $(STAMP)  ## run the authorizer on EVENT (default: REST TOKEN allow) with events/env.json; SAM=1 uses sam local invoke
	$(BIN)/python scripts/invoke.py --event $(EVENT) --env-file $(ENV_FILE) $(if $(SAM),--sam)

events: $(STAMP)  ## re-mint the development tokens inside events/
	$(BIN)/python scripts/make_events.py

bench: $(STAMP)  ## print the performance table (ratios to one RSA signature check)
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_revocation.py

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam build dist

include build.mk
