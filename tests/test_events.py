"""Static checks of the sample events, events/env.json and the SAM template's configuration.

Nothing here invokes the function: these tests keep the files a developer runs by hand
(``make invoke``, ``sam local invoke``) consistent with the template and with constants.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from jwt_authorizer import constants as c

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
DEV_ISSUER = EVENTS / "dev-issuer"

EVENT_FILES = sorted(p for p in EVENTS.glob("*.json") if p.name != "env.json")
REST_REQUEST_EVENTS = ["rest-request-allow.json", "rest-request-missing-token.json"]

# Environment variables the template sets that constants.py does not name: Powertools reads these.
NAMED_ELSEWHERE = {"POWERTOOLS_LOG_LEVEL", "POWERTOOLS_LOGGER_LOG_EVENT"}
# Variables whose empty parameter means "derived from the stack name" (tests/test_template.py).
STACK_DERIVED = {c.SERVICE_NAME_ENV: "ServiceName", c.METRICS_NAMESPACE_ENV: "MetricsNamespace"}


def _constant_names() -> set[str]:
    return {value for name, value in vars(c).items() if name.endswith("_ENV") and isinstance(value, str)}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    document, problems = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not problems, problems
    return document


@pytest.fixture(scope="module")
def variables(template: dict[str, Any]) -> dict[str, Any]:
    function = template["Resources"]["AuthorizerFunction"]
    return dict(function["Properties"]["Environment"]["Variables"])


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# ----- the event files ----------------------------------------------------------------------------


def test_the_expected_events_exist() -> None:
    names = {p.name for p in EVENT_FILES}
    expected = {
        "rest-token-allow.json",
        "rest-token-expired.json",
        "rest-token-wrong-audience.json",
        "rest-token-graph-token.json",
        "rest-token-no-bearer.json",
        "rest-request-allow.json",
        "rest-request-missing-token.json",
        "http-api-v1-allow.json",
        "http-api-v2-allow.json",
        "http-api-v2-expired.json",
        "websocket-connect-allow.json",
    }
    assert expected <= names


@pytest.mark.parametrize("path", [*EVENT_FILES, EVENTS / "env.json", DEV_ISSUER / "jwks.json"], ids=str)
def test_every_json_file_parses(path: Path) -> None:
    assert isinstance(_load(path), dict)


@pytest.mark.parametrize("name", REST_REQUEST_EVENTS)
def test_rest_request_events_have_no_http_api_keys(name: str) -> None:
    event = _load(EVENTS / name)
    assert event["type"] == "REQUEST"
    assert not {"version", "identitySource", "authorizationToken", "routeArn"} & event.keys()
    for key in ("headers", "multiValueHeaders", "requestContext", "methodArn", "resource", "path"):
        assert key in event


def test_missing_token_event_really_has_no_token() -> None:
    event = _load(EVENTS / "rest-request-missing-token.json")
    assert "authorization" not in {h.lower() for h in event["headers"]}
    assert "authorization" not in {h.lower() for h in event["multiValueHeaders"]}


def test_http_api_payload_shapes() -> None:
    v1 = _load(EVENTS / "http-api-v1-allow.json")
    assert v1["version"] == "1.0"
    assert isinstance(v1["identitySource"], str)
    assert v1["authorizationToken"] == v1["headers"]["Authorization"]
    assert "/$default/GET/orders/42" in v1["methodArn"]
    for name in ("http-api-v2-allow.json", "http-api-v2-expired.json"):
        v2 = _load(EVENTS / name)
        assert v2["version"] == "2.0"
        assert "methodArn" not in v2
        assert v2["routeArn"].endswith("/$default/GET/orders/42")
        assert isinstance(v2["identitySource"], list)
        assert v2["routeKey"] == "GET /orders/{id}"
        assert v2["requestContext"]["stage"] == "$default"
        assert all(h == h.lower() for h in v2["headers"])


def test_websocket_connect_token_is_in_the_query_string() -> None:
    event = _load(EVENTS / "websocket-connect-allow.json")
    assert event["methodArn"].endswith("/$connect")
    assert "authorization" not in {h.lower() for h in event["headers"]}
    assert event["queryStringParameters"][c.DEFAULT_WEBSOCKET_TOKEN_QUERY]


def test_token_events_carry_bearer_except_the_no_bearer_one() -> None:
    for path in EVENTS.glob("rest-token-*.json"):
        event = _load(path)
        assert set(event) == {"type", "authorizationToken", "methodArn"}
        has_scheme = event["authorizationToken"].startswith("Bearer ")
        assert has_scheme is (path.name != "rest-token-no-bearer.json"), path.name


# ----- env.json against the template --------------------------------------------------------------


def test_env_json_configures_the_dev_issuer_inline() -> None:
    env = _load(EVENTS / "env.json")
    block = env["AuthorizerFunction"]
    assert all(isinstance(v, str) for v in block.values())
    assert block[c.ISSUER_ENV] == "https://dev-issuer.jwt-authorizer.invalid"
    assert json.loads(block[c.JWKS_INLINE_ENV]) == _load(DEV_ISSUER / "jwks.json")
    assert block[c.JWKS_PREFETCH_ENV] == "false"


def test_env_json_sets_only_declared_variables(variables: dict[str, Any]) -> None:
    # sam local invoke --env-vars silently ignores variables the function does not declare.
    env = _load(EVENTS / "env.json")
    for function, block in env.items():
        if function == "Parameters":
            continue
        assert function == "AuthorizerFunction"
        assert set(block) <= set(variables), set(block) - set(variables)


# ----- the template against constants.py -----------------------------------------------------------


def test_every_variable_in_constants_is_declared(variables: dict[str, Any]) -> None:
    missing = _constant_names() - set(variables)
    assert not missing, f"declare these in template.yaml: {sorted(missing)}"


def test_every_declared_variable_is_known(variables: dict[str, Any]) -> None:
    unknown = set(variables) - _constant_names() - NAMED_ELSEWHERE
    assert not unknown, f"not named in constants.py: {sorted(unknown)}"


def test_variables_come_from_parameters(template: dict[str, Any], variables: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    for name, value in variables.items():
        if name == "POWERTOOLS_LOGGER_LOG_EVENT":
            assert value == "false"  # logging events would log bearer tokens
            continue
        if name in STACK_DERIVED:
            assert value["Fn::If"][1] == {"Ref": STACK_DERIVED[name]}, name
            continue
        assert isinstance(value, dict), name
        assert set(value) == {"Ref"}, name
        assert value["Ref"] in parameters, name


def test_parameter_defaults_leave_the_code_defaults_in_charge(
    template: dict[str, Any], variables: dict[str, Any]
) -> None:
    parameters = template["Parameters"]
    own_defaults = {
        c.TRACE_DISABLED_ENV: "false",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    for name, value in variables.items():
        if name in STACK_DERIVED:
            assert parameters[STACK_DERIVED[name]]["Default"] == "", name
            continue
        if not isinstance(value, dict):
            continue
        parameter = parameters[value["Ref"]]
        if name in own_defaults:
            assert parameter["Default"] == own_defaults[name], name
        else:
            # Empty means unset; template Rules make deployers say whom to trust.
            assert parameter.get("Default") == "", name


def test_every_parameter_is_used(template: dict[str, Any]) -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    for name in template["Parameters"]:
        assert f"!Ref {name}" in text, name


# ----- the development key stays out of deployments ------------------------------------------------


def test_dev_issuer_is_not_referenced_by_deployment_files() -> None:
    jwks = _load(DEV_ISSUER / "jwks.json")
    modulus = jwks["keys"][0]["n"]
    forbidden = ["dev-issuer", "private-key", "PRIVATE KEY", "jwt-authorizer.invalid", modulus[:40]]
    for path in (TEMPLATE, SAMCONFIG):
        text = path.read_text(encoding="utf-8")
        for needle in forbidden:
            assert needle not in text, f"{path.name} mentions {needle!r}"


def test_dev_key_is_labelled_development_only() -> None:
    readme = (DEV_ISSUER / "README.md").read_text(encoding="utf-8")
    assert "DEVELOPMENT ONLY" in readme
    assert (DEV_ISSUER / "private-key.pem").read_text(encoding="ascii").startswith("-----BEGIN PRIVATE KEY-----")


def test_every_variable_is_in_the_template_and_the_docs() -> None:
    """constants.py, template.yaml and the configuration table (docs/configuration.md) cannot drift apart."""
    from jwt_authorizer import constants

    names = {value for key, value in vars(constants).items() if key.endswith("_ENV")}
    template = (ROOT / "template.yaml").read_text()
    environment = template[template.index("Variables:") :]
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert sorted(n for n in names if f"{n}:" not in environment) == []
    assert sorted(n for n in names if f"| `{n}` |" not in page) == []


def test_make_events_leaves_no_diff_while_the_tokens_are_valid(tmp_path: Path) -> None:
    """`make events` re-mints with the committed key and issue time: byte for byte the same files."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "scripts/make_events.py", "--out", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    assert written == sorted(p.relative_to(EVENTS) for p in EVENTS.rglob("*.json"))
    for name in written:
        assert (tmp_path / name).read_bytes() == (EVENTS / name).read_bytes(), name
