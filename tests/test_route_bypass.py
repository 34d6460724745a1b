"""Caller-chosen method and path text never shapes the answer (security review, findings 1 and 2).

Through ``lambda_handler``, with real tokens and the loopback key server:

* the event kind comes only from what API Gateway alone sets: a path ending in ``/$connect`` is an
  ordinary route, never a WebSocket connection with a stage-wide answer; events whose WebSocket
  signals disagree are refused (401 ``malformed_event``);
* any method text API Gateway can put in an ARN (``PROPFIND``, ``$connect``, ``get``...) is
  decided, and the returned policy, evaluated with the tests' own IAM evaluator, says exactly what
  the decision line says -- for the request itself and, for cached policies, for every other route.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import (
    ACCOUNT,
    API_ID,
    REGION,
    IdentityProvider,
    KeyPair,
    claims,
    http_v1_event,
    http_v2_event,
    invoke,
    log_lines_of,
    rest_request_event,
    rest_token_event,
    websocket_connect_event,
)
from test_policy_cache import EVERY_METHOD, ORDERS_DOC, PROFILES, evaluate

STAGE = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/prod"
ADMIN_DEFAULT_ALLOW = {
    "default": "allow",
    "rules": [{"method": "ANY", "path": "/admin/{proxy+}", "require": {"role": "Orders.Admin"}}],
}
# The review's routes: the admin API, an order, and paths that merely end in $connect.
ROUTES = [
    "/admin/users/1",
    "/admin/users",
    "/admin",
    "/orders",
    "/orders/42",
    "/orders/$connect",
    "/admin/$connect",
    "/$connect",
    "/health",
    "/",
]


def rules_app(load_app: Callable[..., ModuleType], document: dict[str, Any], **env: str) -> ModuleType:
    return load_app(ROUTE_RULES=json.dumps(document), **env)


def event_for(kind: str, token: str, method: str, path: str) -> dict[str, Any]:
    """An API Gateway event of ``kind`` for ``method path`` (stage prod, or $default for HTTP APIs)."""
    if kind == "rest_token":
        return rest_token_event(token, method=method, path=path[1:])
    if kind == "rest_request":
        return rest_request_event({"Authorization": f"Bearer {token}"}, method=method, path=path)
    if kind == "http_v1":
        return http_v1_event(token, method=method, path=path)
    return http_v2_event(token, method=method, path=path)


def request_arn(event: dict[str, Any]) -> str:
    return str(event.get("methodArn") or event["routeArn"])


def _stage(event: dict[str, Any]) -> str:
    """``arn:...:{api}/{stage}`` of the event's ARN."""
    head, stage, _ = request_arn(event).split("/", 2)
    return f"{head}/{stage}"


# ----- finding 1: a path ending in /$connect is an ordinary route -------------------------------


@pytest.mark.parametrize("kind", ["rest_token", "rest_request", "http_v1", "http_v2_iam"])
def test_a_path_ending_in_connect_gets_no_stage_wide_allow(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, kind: str, capsys: Any
) -> None:
    """The review's exploit: default allow, ANY /admin/{proxy+} needs a role, GET /orders/$connect."""
    module = rules_app(load_app, ADMIN_DEFAULT_ALLOW, HTTP_API_RESPONSE="iam")
    token = signer.sign(claims(idp.issuer, scp="orders.read"))
    event = event_for(kind, token, "GET", "/orders/$connect")
    capsys.readouterr()
    outcome, response = invoke(module, event)
    assert outcome.status == 200  # default allow: the route itself is granted
    assert response is not None
    line = log_lines_of(capsys.readouterr().out)[-1]
    assert line["event_type"] == kind.removesuffix("_iam") and line["route"] == "GET /orders/$connect"
    stage = _stage(event)
    assert evaluate(response, request_arn(event))
    # The answer API Gateway caches for this token must not open the admin API.
    for method in ["DELETE", "GET", "POST", "PROPFIND"]:
        assert not evaluate(response, f"{stage}/{method}/admin/users/1"), method
    assert evaluate(response, f"{stage}/GET/orders/42")


def test_default_deny_with_a_connect_rule_does_not_turn_an_http_route_into_a_deny_all(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    document = {
        "rules": [
            *ORDERS_DOC["rules"],
            {"path": "$connect", "require": {"scope": "chat.connect"}},
        ]
    }
    module = rules_app(load_app, document)
    token = signer.sign(claims(idp.issuer, **PROFILES["reader (delegated, scp)"]))
    # GET /orders/{orderId} with orderId "$connect": the reader may read it.
    event = rest_request_event({"Authorization": f"Bearer {token}"}, path="/orders/$connect")
    outcome, response = invoke(module, event)
    assert outcome.status == 200 and response is not None
    # The reader's cached answer still serves the routes the rules grant, and only those.
    assert evaluate(response, f"{STAGE}/GET/orders") and evaluate(response, f"{STAGE}/GET/orders/7")
    assert not evaluate(response, f"{STAGE}/DELETE/orders/7")
    assert not evaluate(response, f"{STAGE}/GET/admin/x")


def test_a_genuine_websocket_connect_is_still_a_connection(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: Any
) -> None:
    module = rules_app(load_app, {"rules": [{"path": "$connect", "require": {"scope": "chat.connect"}}]})
    allowed = signer.sign(claims(idp.issuer, scp="chat.connect"))
    refused = signer.sign(claims(idp.issuer, scp="other"))
    capsys.readouterr()
    outcome, response = invoke(module, websocket_connect_event(allowed))
    assert outcome.status == 200 and response is not None
    assert response["policyDocument"]["Statement"][0]["Resource"] == [f"{STAGE}/*"]
    line = log_lines_of(capsys.readouterr().out)[-1]
    assert line["event_type"] == "websocket" and line["route"] == "$connect"  # no leading space
    assert invoke(module, websocket_connect_event(refused))[0].status == 403


def _ws_context_with_http_arn() -> dict[str, Any]:
    event = websocket_connect_event("x")
    event["methodArn"] = f"{STAGE}/GET/orders/$connect"
    return event


def _connect_arn_without_ws_context() -> dict[str, Any]:
    event = rest_request_event({"Authorization": "Bearer x"}, path="/orders")
    event["methodArn"] = f"{STAGE}/$connect"
    return event


def _ws_without_connection_id() -> dict[str, Any]:
    event = websocket_connect_event("x")
    del event["requestContext"]["connectionId"]
    return event


def _ws_with_message_event_type() -> dict[str, Any]:
    event = websocket_connect_event("x")
    event["requestContext"]["eventType"] = "MESSAGE"
    return event


def _http_v1_with_ws_context() -> dict[str, Any]:
    event = http_v1_event("x", path="/orders/$connect")
    event["requestContext"].update({"eventType": "CONNECT", "routeKey": "$connect", "connectionId": "c-1"})
    event["methodArn"] = f"{STAGE}/$connect"
    return event


def _token_event_with_connect_arn() -> dict[str, Any]:
    event = rest_token_event("x")
    event["methodArn"] = f"{STAGE}/$connect"
    return event


def _v2_with_connect_arn() -> dict[str, Any]:
    event = http_v2_event("x")
    event["routeArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/$default/$connect"
    return event


@pytest.mark.parametrize(
    "build",
    [
        _ws_context_with_http_arn,
        _connect_arn_without_ws_context,
        _ws_without_connection_id,
        _ws_with_message_event_type,
        _http_v1_with_ws_context,
        _token_event_with_connect_arn,
        _v2_with_connect_arn,
    ],
)
def test_events_whose_websocket_signals_disagree_are_refused(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, build: Callable[[], dict[str, Any]]
) -> None:
    module = rules_app(load_app, ADMIN_DEFAULT_ALLOW)
    token = signer.sign(claims(idp.issuer, roles=["Orders.Admin"]))
    event = json.loads(json.dumps(build()).replace("Bearer x", f"Bearer {token}").replace('"x"', json.dumps(token)))
    outcome, _ = invoke(module, event)
    assert (outcome.status, outcome.reason) == (401, "malformed_event")


def test_a_line_break_in_the_path_is_still_read_as_a_route(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    """The ARN is read whatever characters the path holds: no fallback to a literal-ARN answer."""
    module = rules_app(load_app, ADMIN_DEFAULT_ALLOW)
    token = signer.sign(claims(idp.issuer))
    event = rest_request_event({"Authorization": f"Bearer {token}"}, method="GET", path="/admin/x\ny")
    outcome, response = invoke(module, event)
    assert outcome.status == 403 and response is not None
    assert not evaluate(response, request_arn(event))


# ----- finding 2: any method text; the policy and the decision line agree -------------------------


def test_propfind_under_default_allow_is_refused_and_logged_as_refused(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: Any
) -> None:
    module = rules_app(load_app, ADMIN_DEFAULT_ALLOW)
    token = signer.sign(claims(idp.issuer, scp="orders.read"))
    event = rest_token_event(token, method="PROPFIND", path="admin/users")
    capsys.readouterr()
    outcome, response = invoke(module, event)
    assert outcome == type(outcome)(403, "route_not_permitted") and response is not None
    line = log_lines_of(capsys.readouterr().out)[-1]
    assert line["route_reason"] == "method_not_supported" and line["route"] == "PROPFIND /admin/users"
    assert not evaluate(response, request_arn(event))
    assert f"{STAGE}/PROPFIND/admin/users" in {
        r for s in response["policyDocument"]["Statement"] if s["Effect"] == "Deny" for r in s["Resource"]
    }
    # The cached answer refuses every odd method anywhere, and serves the standard ones.
    for method in ["PROPFIND", "MKCOL", "$connect", "get"]:
        for path in ["/admin/users", "/orders", "/"]:
            assert not evaluate(response, f"{STAGE}/{method}{path}"), (method, path)
    assert evaluate(response, f"{STAGE}/GET/orders") and not evaluate(response, f"{STAGE}/DELETE/admin/users")


@pytest.fixture
def mint(signer: KeyPair, idp: IdentityProvider) -> Callable[..., str]:
    """A genuine token of the loopback issuer with these extra claims."""
    return lambda **extra: signer.sign(claims(idp.issuer, **extra))


@pytest.mark.parametrize(
    "case",
    [
        (ADMIN_DEFAULT_ALLOW, "reader (delegated, scp)"),
        (ADMIN_DEFAULT_ALLOW, "admin (role)"),
        (ORDERS_DOC, "reader (delegated, scp)"),
        (ORDERS_DOC, "admin (role)"),
        (ORDERS_DOC, "job (app-only, roles, no scp)"),
    ],
)
@pytest.mark.parametrize("kind", ["rest_token", "rest_request", "http_v2_iam"])
def test_policy_and_decision_line_agree_for_every_method_and_path(
    load_app: Callable[..., ModuleType],
    mint: Callable[..., str],
    case: tuple[dict[str, Any], str],
    kind: str,
    capsys: Any,
) -> None:
    """For each request A: the returned policy, evaluated at A's ARN, is the decision line's outcome;
    a cached policy (``route_policy: cached``) is also every other route B's outcome."""
    document, profile = case
    module = rules_app(load_app, document, HTTP_API_RESPONSE="iam")
    token = mint(**PROFILES[profile])
    requests = [(method, path) for path in ROUTES for method in EVERY_METHOD]
    answers: dict[tuple[str, str], tuple[bool, dict[str, Any], dict[str, Any], str]] = {}
    for method, path in requests:
        event = event_for(kind, token, method, path)
        capsys.readouterr()
        outcome, response = invoke(module, event)
        assert outcome.status in {200, 403} and response is not None, (method, path, outcome)
        line = log_lines_of(capsys.readouterr().out)[-1]
        allowed = outcome.status == 200
        assert evaluate(response, request_arn(event)) is allowed, (method, path, line)
        answers[(method, path)] = (allowed, response, line, request_arn(event))
    for (method, path), (_, response, line, _) in answers.items():
        if line.get("route_policy") != "cached":
            continue
        for other, (allowed, _, _, arn) in answers.items():
            assert evaluate(response, arn) is allowed, f"the cached answer for {method} {path} is wrong for {other}"


@pytest.fixture
def fuzz_app(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> tuple[ModuleType, list[str]]:
    """One cold start for all the examples of the property below: (module, [caller, admin])."""
    module = rules_app(load_app, ADMIN_DEFAULT_ALLOW, HTTP_API_RESPONSE="iam")
    tokens = [signer.sign(claims(idp.issuer, lifetime=3600, **extra)) for extra in ({}, {"roles": ["Orders.Admin"]})]
    return module, tokens


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(["rest_token", "rest_request", "http_v1", "http_v2_iam"]),
    method=st.sampled_from(EVERY_METHOD) | st.text(alphabet="GETPOSabx$!#%&'*+-.^_`|~?", min_size=1, max_size=6),
    path=st.sampled_from(ROUTES) | st.text(alphabet="/adminorsu$?*.", max_size=14).map(lambda text: "/" + text),
    admin=st.booleans(),
)
def test_fuzzed_methods_and_paths_never_split_policy_from_log(
    fuzz_app: tuple[ModuleType, list[str]], kind: str, method: str, path: str, admin: bool
) -> None:
    module, tokens = fuzz_app
    event = event_for(kind, tokens[admin], method, path)
    outcome, response = invoke(module, event)
    assert outcome.status in {200, 403} and response is not None, outcome
    assert evaluate(response, request_arn(event)) is (outcome.status == 200)
    stage = _stage(event)
    # Whatever route A was, the answer never opens the admin API to a caller without the role.
    if not admin:
        assert not evaluate(response, f"{stage}/DELETE/admin/users/1")
        assert not evaluate(response, f"{stage}/PROPFIND/admin/users")
