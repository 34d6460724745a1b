"""The function under AWS SAM CLI: every events/ file through ``sam local invoke``, and real HTTP
requests through ``sam local start-api`` in front of the example REST and HTTP APIs.

Skipped unless ``SAM_LOCAL=1``: they need SAM CLI, a container runtime and the Lambda python3.13
image (docs/local-testing.md; on these machines ``../shared/samlocal``). ``make test-sam`` runs
them. Like the Makefile they honour ``SAM_CLI`` (default ``.venv-sam/bin/sam``, else ``sam``),
``SAM_LOCAL_ARGS`` (extra arguments for ``sam local``) and ``ARCH`` (default: this machine's, so
the container runs natively).
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from support import promised_outcome

pytestmark = pytest.mark.skipif(
    os.environ.get("SAM_LOCAL") != "1", reason="sam local tests need SAM_LOCAL=1 (make test-sam)"
)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted(p for p in (ROOT / "events").glob("*.json") if p.name != "env.json")
ENV_FILE = ROOT / "events" / "env.json"
ARCH = os.environ.get("ARCH") or ("arm64" if platform.machine() in {"aarch64", "arm64"} else "x86_64")
EXTRA = shlex.split(os.environ.get("SAM_LOCAL_ARGS", ""))
PARAMETERS = f"Architecture={ARCH} CreateExampleApi=true"
ROUTE_RULES = json.dumps(json.loads((ROOT / "examples" / "orders-rules.json").read_text()), separators=(",", ":"))


def sam_cli() -> str:
    configured = os.environ.get("SAM_CLI")
    if configured:
        return configured
    own = ROOT / ".venv-sam" / "bin" / "sam"
    return str(own) if own.is_file() else (shutil.which("sam") or "sam")


def load_start_api() -> ModuleType:
    spec = importlib.util.spec_from_file_location("start_api", ROOT / "scripts" / "start_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``sam build`` for ARCH into a scratch folder (a developer's .aws-sam stays as it was)."""
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    command = [sam_cli(), "build", "--build-in-source", "--build-dir", str(build_dir)]
    command += ["--parameter-overrides", PARAMETERS]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "ARCH": ARCH}, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (build_dir / "AuthorizerFunction" / "jwt_authorizer" / "app.py").is_file()
    return build_dir / "template.yaml"


def sam_invoke(template: Path, event_file: Path) -> tuple[Any, list[dict[str, Any]]]:
    """The function's answer (stdout's last line) and its JSON log lines (in stderr)."""
    command = [sam_cli(), "local", "invoke", "AuthorizerFunction", "--template", str(template)]
    command += ["--event", str(event_file), "--env-vars", str(ENV_FILE), "--parameter-overrides", PARAMETERS, *EXTRA]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith('{"level"')]
    return answer, logs


@pytest.mark.parametrize("event_file", EVENTS, ids=lambda p: p.stem)
def test_every_sample_event_through_sam_local_invoke(built: Path, event_file: Path) -> None:
    answer, logs = sam_invoke(built, event_file)
    decisions = [line for line in logs if "outcome" in line]
    assert len(decisions) == 1, logs
    if promised_outcome(event_file.stem) == "401":
        assert answer["errorMessage"] == "Unauthorized", answer
        assert answer["errorType"] == "Unauthorized"
        assert decisions[0]["outcome"] == "unauthorized"
        return
    assert decisions[0]["outcome"] == "allow", decisions
    if "isAuthorized" in answer:
        assert answer == {"isAuthorized": True, "context": answer["context"]}
        assert answer["context"]["sub"] == "dev-user"
    else:
        assert answer["principalId"] == "dev-user"
        assert [s["Effect"] for s in answer["policyDocument"]["Statement"]] == ["Allow"]


# ----- sam local start-api ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        assert process.poll() is None, f"sam local start-api on {port} exited with {process.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"sam local start-api did not listen on {port}")


@pytest.fixture(scope="module")
def apis(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """Both example APIs, each under its own ``sam local start-api`` (their routes would shadow each
    other under one), with the orders route rules of examples/ on top of events/env.json."""
    env = json.loads(ENV_FILE.read_text())
    env["AuthorizerFunction"]["ROUTE_RULES"] = ROUTE_RULES
    env_file = tmp_path_factory.mktemp("env") / "env.json"
    env_file.write_text(json.dumps(env))
    templates = load_start_api().write_templates(built)
    ports = {api: free_port() for api in templates}
    logs = tmp_path_factory.mktemp("logs")
    processes = []
    try:
        for api, template in templates.items():
            command = [sam_cli(), "local", "start-api", "--template", str(template), "--env-vars", str(env_file)]
            command += ["--host", "127.0.0.1", "--port", str(ports[api]), "--parameter-overrides", PARAMETERS, *EXTRA]
            log = (logs / f"{api}.log").open("wb")
            processes.append(subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 180
        for process, port in zip(processes, ports.values(), strict=True):
            wait_until_listening(port, process, deadline)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def token(**claims: Any) -> str:
    """A token of the development issuer (its committed, public key) with these claims."""
    key = serialization.load_pem_private_key((ROOT / "events" / "dev-issuer" / "private-key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    now = int(time.time())
    body = {
        "iss": "https://dev-issuer.jwt-authorizer.invalid",
        "aud": "api://jwt-authorizer-dev",
        "sub": "dev-reader",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "dev-2026"})


def request(port: int, method: str, path: str, authorization: str | None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, headers={"Authorization": authorization} if authorization else {})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(body)
    except ValueError:
        return response.status, body


ADMIN = json.loads((ROOT / "events" / "rest-token-allow.json").read_text())["authorizationToken"]
EXPIRED = json.loads((ROOT / "events" / "rest-token-expired.json").read_text())["authorizationToken"]


@pytest.mark.parametrize("api", ["rest", "http"])
def test_start_api_passes_allowed_requests_to_the_backend(apis: dict[str, int], api: str) -> None:
    status, body = request(apis[api], "GET", "/orders/42", ADMIN)
    assert status == 200, body
    assert body["api"] == f"{api}-api"
    assert body["path"] == "/orders/42"
    assert body["authorizer"]["sub"] == "dev-user"
    assert body["authorizer"]["roles"] == "Orders.Admin"
    status, body = request(apis[api], "DELETE", "/orders/42", ADMIN)
    assert (status, body["method"]) == (200, "DELETE")


@pytest.mark.parametrize("api", ["rest", "http"])
def test_start_api_answers_403_where_the_route_rules_deny(apis: dict[str, int], api: str) -> None:
    reader = f"Bearer {token(scp='orders.read')}"
    status, body = request(apis[api], "GET", "/orders/7", reader)
    assert status == 200, body
    assert body["authorizer"]["sub"] == "dev-reader"
    status, body = request(apis[api], "DELETE", "/orders/7", reader)  # cancelling needs Orders.Admin
    assert status == 403, body


@pytest.mark.parametrize("api", ["rest", "http"])
def test_start_api_answers_401_without_a_token(apis: dict[str, int], api: str) -> None:
    assert request(apis[api], "GET", "/orders", None)[0] == 401


@pytest.mark.parametrize("api", ["rest", "http"])
def test_start_api_shows_unauthorized_as_502_where_api_gateway_answers_401(apis: dict[str, int], api: str) -> None:
    """SAM CLI's emulation, documented in docs/local-testing.md: when this fails, SAM changed."""
    status, body = request(apis[api], "GET", "/orders/42", EXPIRED)
    assert status == 502, body


def test_start_api_rest_validation_expression_refuses_other_schemes_before_the_function(
    apis: dict[str, int],
) -> None:
    # The example REST API's Identity.ValidationExpression: API Gateway (and SAM) answer 401 alone.
    assert request(apis["rest"], "GET", "/orders", "Basic ZGV2OmRldg==")[0] == 401
