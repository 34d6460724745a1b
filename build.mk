# SAM's makefile builder: `sam build` runs `make build-AuthorizerFunction ARTIFACTS_DIR=...` in
# this folder (samconfig.toml sets build_in_source) or in a scratch copy of it. Runtime
# dependencies are installed as wheels for the Lambda platform and Python version, so the build
# needs neither Docker nor a matching local Python.
#
#   LAMBDA_EXTRAS=tracing sam build   # also ship aws-xray-sdk (Powertools Tracer subsegments)
LAMBDA_PLATFORM ?= manylinux2014_aarch64
LAMBDA_PYTHON ?= 3.13
LAMBDA_EXTRAS ?=
PIP ?= $(PYTHON) -m pip

.PHONY: build-AuthorizerFunction build-EchoFunction

build-AuthorizerFunction:
	$(PYTHON) -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; extras = [e for e in sys.argv[1].split(",") if e]; print("\n".join(p["dependencies"] + [d for e in extras for d in p["optional-dependencies"][e]]))' "$(LAMBDA_EXTRAS)" > "$(ARTIFACTS_DIR)/.requirements.txt"
	$(PIP) install --quiet --disable-pip-version-check --no-compile \
		--target "$(ARTIFACTS_DIR)" --platform $(LAMBDA_PLATFORM) \
		--implementation cp --python-version $(LAMBDA_PYTHON) --only-binary=:all: \
		--upgrade -r "$(ARTIFACTS_DIR)/.requirements.txt"
	cp -R src/jwt_authorizer "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)"/jwt_authorizer/__pycache__ "$(ARTIFACTS_DIR)/.requirements.txt" "$(ARTIFACTS_DIR)/bin"
	@# Lambda's code directory is read-only: without bytecode in the package, every cold start
	@# compiles every module. Bytecode is version-specific, so it needs the runtime's Python here.
	@if python$(LAMBDA_PYTHON) -c "" >/dev/null 2>&1; then \
		python$(LAMBDA_PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)" >/dev/null; \
	else \
		echo "note: python$(LAMBDA_PYTHON) is not installed here, so the package ships without bytecode" \
			"(cold starts compile it); build where python$(LAMBDA_PYTHON) exists to include it"; \
	fi

build-EchoFunction:
	cp examples/echo_backend.py "$(ARTIFACTS_DIR)/"
