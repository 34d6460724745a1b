# SAM's makefile builder: `sam build` runs `make build-AuthorizerFunction ARTIFACTS_DIR=...` in a
# copy of this folder. Runtime dependencies are installed as wheels for the Lambda platform and
# Python version, so the build needs neither Docker nor a matching local Python.
LAMBDA_PLATFORM ?= manylinux2014_aarch64
LAMBDA_PYTHON ?= 3.13
PIP ?= $(PYTHON) -m pip

.PHONY: build-AuthorizerFunction build-EchoFunction

build-AuthorizerFunction:
	$(PYTHON) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > "$(ARTIFACTS_DIR)/.requirements.txt"
	$(PIP) install --quiet --disable-pip-version-check --no-compile \
		--target "$(ARTIFACTS_DIR)" --platform $(LAMBDA_PLATFORM) \
		--implementation cp --python-version $(LAMBDA_PYTHON) --only-binary=:all: \
		--upgrade -r "$(ARTIFACTS_DIR)/.requirements.txt"
	cp -R src/jwt_authorizer "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)"/jwt_authorizer/__pycache__ "$(ARTIFACTS_DIR)/.requirements.txt"

build-EchoFunction:
	cp examples/echo_backend.py "$(ARTIFACTS_DIR)/"
