# SAM's makefile builder: `sam build` runs `make build-AuthorizerFunction ARTIFACTS_DIR=...` in
# this folder (`--build-in-source`, as the Makefile's sam targets and samconfig.toml ask) or in a
# scratch copy of it. The runtime dependencies are the wheels pinned, with their hashes, in
# requirements/lambda.txt, installed for the Lambda platform and Python version: the build needs
# neither Docker nor a matching local Python.
#
#   ARCH=x86_64 sam build             # x86_64 wheels (the template's Architecture=x86_64); default arm64
#   LAMBDA_EXTRAS=tracing sam build   # also ship aws-xray-sdk (requirements/lambda-tracing.txt)
ARCH ?= arm64
# Checked by the targets that use it (an unrelated ARCH in the environment must not break `make help`).
CHECK_ARCH = @case "$(ARCH)" in arm64|x86_64) ;; *) echo "ARCH must be arm64 or x86_64 (the template's Architecture), not \"$(ARCH)\""; exit 2;; esac
LAMBDA_PLATFORM ?= $(if $(filter x86_64,$(ARCH)),manylinux2014_x86_64,manylinux2014_aarch64)
LAMBDA_PYTHON ?= 3.13
LAMBDA_EXTRAS ?=
LAMBDA_REQUIREMENTS ?= requirements/lambda$(if $(LAMBDA_EXTRAS),-$(subst $(COMMA),-,$(LAMBDA_EXTRAS))).txt
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
COMMA := ,

# CPython $(LAMBDA_PYTHON), which writes the package's bytecode: `python3.13` on PATH, else pyenv's
# (`pyenv which`, else the newest installed 3.13.x through `PYENV_VERSION=... pyenv exec`). A pyenv
# shim exists even where that version is not selected, so each candidate must really run and be
# $(LAMBDA_PYTHON). Set LAMBDA_PYTHON_BIN to choose one; empty = none found (no bytecode shipped).
LAMBDA_PYTHON_PROBE = import sys; assert "%d.%d" % sys.version_info[:2] == "$(LAMBDA_PYTHON)"; print(sys.executable)
# Looked up once, on first use (a plain `?=` would run the search at every reference).
LAMBDA_PYTHON_BIN ?= $(eval LAMBDA_PYTHON_BIN := $(shell { \
	python$(LAMBDA_PYTHON) -c '$(LAMBDA_PYTHON_PROBE)' \
	|| "$$(pyenv which python$(LAMBDA_PYTHON))" -c '$(LAMBDA_PYTHON_PROBE)' \
	|| PYENV_VERSION="$$(pyenv versions --bare | grep -E '^$(subst .,\.,$(LAMBDA_PYTHON))\.[0-9]+$$' | sort -V | tail -n 1)" \
		pyenv exec python$(LAMBDA_PYTHON) -c '$(LAMBDA_PYTHON_PROBE)'; \
	} 2>/dev/null | tail -n 1))$(LAMBDA_PYTHON_BIN)

.PHONY: build-AuthorizerFunction build-EchoFunction lambda-python

build-AuthorizerFunction:  ## (sam build) the function package in ARTIFACTS_DIR for ARCH: locked wheels, code, bytecode
	$(CHECK_ARCH)
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: sam build sets it (or pass ARTIFACTS_DIR=folder)"; exit 2; }
	@test -f "$(LAMBDA_REQUIREMENTS)" || { echo "$(LAMBDA_REQUIREMENTS) does not exist: LAMBDA_EXTRAS=$(LAMBDA_EXTRAS) has no lock file (see scripts/lock.py)"; exit 2; }
	$(PIP) install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --no-deps --require-hashes \
		--target "$(ARTIFACTS_DIR)" --platform $(LAMBDA_PLATFORM) \
		--implementation cp --python-version $(LAMBDA_PYTHON) --only-binary=:all: \
		--upgrade -r "$(LAMBDA_REQUIREMENTS)"
	cp -R src/jwt_authorizer "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)"/jwt_authorizer/__pycache__ "$(ARTIFACTS_DIR)/bin"
	@# Lambda's code directory is read-only: without bytecode in the package, every cold start
	@# compiles every module. Bytecode is version-specific, so it needs the runtime's Python here.
	@if [ -n "$(LAMBDA_PYTHON_BIN)" ]; then \
		echo "byte-compiling with $(LAMBDA_PYTHON_BIN)"; \
		"$(LAMBDA_PYTHON_BIN)" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)" >/dev/null; \
	else \
		echo "note: no CPython $(LAMBDA_PYTHON) found (python$(LAMBDA_PYTHON), pyenv), so the package ships" \
			"without bytecode and every cold start compiles it; install it or set LAMBDA_PYTHON_BIN"; \
	fi

build-EchoFunction:  ## (sam build) the example echo backend in ARTIFACTS_DIR
	cp examples/echo_backend.py "$(ARTIFACTS_DIR)/"

lambda-python:  ## print the CPython LAMBDA_PYTHON (3.13) that byte-compiles the package, or fail
	@test -n "$(LAMBDA_PYTHON_BIN)" || { echo "no CPython $(LAMBDA_PYTHON) found (python$(LAMBDA_PYTHON), pyenv)" >&2; exit 1; }
	@echo "$(LAMBDA_PYTHON_BIN)"
