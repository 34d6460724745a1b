"""The handler on every API Gateway event type, with real tokens and a loopback key server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from support import (
    IdentityProvider,
    KeyPair,
    LambdaContext,
    claims,
    http_v1_event,
    http_v2_event,
    rest_request_event,
    rest_token_event,
    websocket_connect_event,
)

STAGE_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod"


@pytest.fixture
def app(load_app: Callable[..., ModuleType]) -> Callable[..., ModuleType]:
    return load_app


def call(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    return module.lambda_handler(event, LambdaContext())  # type: ignore[no-any-return]


def log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def test_rest_token_allow_covers_the_whole_stage(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = app()
    response = call(module, rest_token_event(signer.sign(claims(idp.issuer, tid="t-1", scp="orders.read"))))
    assert response["principalId"] == "user-1"
    statement = response["policyDocument"]["Statement"]
    assert statement == [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{STAGE_ARN}/*/*"]}]
    assert response["context"]["sub"] == "user-1"
    assert response["context"]["scp"] == "orders.read"
    assert response["context"]["iss"] == idp.issuer


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_partition_is_kept(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, partition: str
) -> None:
    module = app()
    response = call(module, rest_token_event(signer.sign(claims(idp.issuer)), partition=partition))
    resource = response["policyDocument"]["Statement"][0]["Resource"][0]
    assert resource.startswith(f"arn:{partition}:execute-api:eu-west-1:123456789012:abcdef1234/prod/")


def test_one_policy_serves_every_route(app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider) -> None:
    """API Gateway reuses the cached policy for other routes: it must allow them."""
    from fnmatch import fnmatchcase

    module = app()
    response = call(module, rest_token_event(signer.sign(claims(idp.issuer)), path="orders/42"))
    resources = response["policyDocument"]["Statement"][0]["Resource"]
    for method, path in [("GET", "orders"), ("POST", "orders"), ("DELETE", "orders/7"), ("GET", "")]:
        arn = f"{STAGE_ARN}/{method}/{path}"
        assert any(fnmatchcase(arn, pattern) for pattern in resources), arn


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer  abc",
        "Bearer\tabc",
        "Bearer abc, Bearer def",
        "bearer not-a-jwt",
    ],
)
def test_bad_authorization_is_401(app: Callable[..., ModuleType], authorization: str | None) -> None:
    module = app()
    event = rest_token_event(None)
    if authorization is not None:
        event["authorizationToken"] = authorization
    with pytest.raises(Exception) as info:
        call(module, event)
    assert str(info.value) == "Unauthorized"


def test_bearer_scheme_is_case_insensitive(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = app()
    for scheme in ["bearer ", "BEARER ", "BeArEr "]:
        response = call(module, rest_token_event(signer.sign(claims(idp.issuer)), scheme=scheme))
        assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_expired_and_wrong_audience_are_401(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = app()
    now = int(time.time())
    for token in [signer.sign(claims(idp.issuer, exp=now - 3600)), signer.sign(claims(idp.issuer, audience="x"))]:
        with pytest.raises(Exception) as info:
            call(module, rest_token_event(token))
        assert str(info.value) == "Unauthorized"


def test_rest_request_event(app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider) -> None:
    module = app()
    token = signer.sign(claims(idp.issuer))
    response = call(module, rest_request_event({"authorization": f"Bearer {token}"}))
    assert response["policyDocument"]["Statement"][0]["Resource"] == [f"{STAGE_ARN}/*/*"]
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        call(module, rest_request_event({"X-Other": "1"}))
    two = rest_request_event(
        {"Authorization": f"Bearer {token}"}, multi={"Authorization": [f"Bearer {token}", f"Bearer {token}"]}
    )
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        call(module, two)


def test_http_api_v1_gets_an_iam_policy(app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider) -> None:
    module = app()
    response = call(module, http_v1_event(signer.sign(claims(idp.issuer))))
    resource = response["policyDocument"]["Statement"][0]["Resource"][0]
    assert resource == "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/$default/*/*"


def test_http_api_v2_simple_and_iam(app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider) -> None:
    module = app()
    token = signer.sign(claims(idp.issuer, roles=["Orders.Admin", "Orders.Read"]))
    response = call(module, http_v2_event(token))
    assert response["isAuthorized"] is True
    assert response["context"]["roles"] == "Orders.Admin Orders.Read"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        call(module, http_v2_event(None))
    iam = app(HTTP_API_RESPONSE="iam")
    response = call(iam, http_v2_event(token))
    assert response["policyDocument"]["Statement"][0]["Resource"] == [
        "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/$default/*/*"
    ]


def test_websocket_connect_with_query_token(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = app()
    token = signer.sign(claims(idp.issuer))
    response = call(module, websocket_connect_event(token))
    assert response["policyDocument"]["Statement"][0]["Resource"] == [f"{STAGE_ARN}/*"]
    response = call(module, websocket_connect_event(None, header=f"Bearer {token}"))
    assert response["principalId"] == "user-1"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        call(module, websocket_connect_event(None))
    custom = app(WEBSOCKET_TOKEN_QUERY_PARAMETER="token")
    assert call(custom, websocket_connect_event(token, parameter="token"))["principalId"] == "user-1"


def test_emulator_arns_do_not_crash(app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider) -> None:
    module = app()
    token = signer.sign(claims(idp.issuer))
    odd = {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {token}",
        "methodArn": "arn:aws:execute-api:us-east-1:random-account-id:random-api-id/local stage/GET/orders",
    }
    response = call(module, odd)
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    garbage = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": "not-an-arn"}
    response = call(module, garbage)
    assert response["policyDocument"]["Statement"][0]["Resource"] == ["not-an-arn"]


def test_key_source_down_is_500_not_401(app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider) -> None:
    module = app(JWKS_URI=idp.base + "/missing-keys")
    with pytest.raises(Exception) as info:
        call(module, rest_token_event(signer.sign(claims(idp.issuer))))
    assert str(info.value) != "Unauthorized"
    assert type(info.value).__name__ == "AuthorizerUnavailable"


def test_principal_falls_back_for_app_only_tokens(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = app()
    app_only = claims(idp.issuer, sub=None, azp="client-app-1", azpacr="1")
    assert call(module, rest_token_event(signer.sign(app_only)))["principalId"] == "client-app-1"
    v1 = claims(idp.issuer, sub=None, appid="client-app-2")
    assert call(module, rest_token_event(signer.sign(v1)))["principalId"] == "client-app-2"
    with_oid = claims(idp.issuer, sub=None, oid="object-1", azp="client")
    assert call(module, rest_token_event(signer.sign(with_oid)))["principalId"] == "object-1"
    custom = app(PRINCIPAL_CLAIM="oid")
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        call(custom, rest_token_event(signer.sign(app_only)))


def test_context_is_flat_and_bounded(app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider) -> None:
    module = app(CONTEXT_CLAIMS="sub,groups,nested,flag,count,huge")
    body = claims(idp.issuer, groups=["g1", "g2"], nested={"a": [1, 2]}, flag=True, count=3, huge="x" * 5000)
    context = call(module, rest_token_event(signer.sign(body)))["context"]
    assert context == {
        "sub": "user-1",
        "groups": "g1 g2",
        "nested": '{"a":[1,2]}',
        "flag": True,
        "count": 3,
        "omittedClaims": "huge",
    }
    assert all(isinstance(v, str | int | float | bool) for v in context.values())


def test_one_log_line_per_decision_and_no_token_in_logs(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app(POWERTOOLS_LOGGER_LOG_EVENT="true", POWERTOOLS_LOG_LEVEL="DEBUG")
    capsys.readouterr()
    good = signer.sign(claims(idp.issuer, tid="tenant-1", azp="client-1"))
    expired = signer.sign(claims(idp.issuer, exp=int(time.time()) - 7200))
    forged = good[:-10] + ("A" * 10 if not good.endswith("A" * 10) else "B" * 10)
    tokens = [good, expired, forged]
    call(module, rest_token_event(good))
    for token in (expired, forged):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            call(module, rest_token_event(token))
    out = capsys.readouterr().out
    for token in tokens:
        _, payload, signature = token.split(".")
        assert signature not in out
        assert signature[:16] not in out
        assert token not in out
        assert payload not in out
    decisions = [line for line in log_lines(out) if "outcome" in line]
    assert [d["outcome"] for d in decisions] == ["allow", "unauthorized", "unauthorized"]
    assert decisions[0]["kid"] == signer.kid
    assert decisions[0]["sub"] == "user-1"
    assert decisions[0]["client_id"] == "client-1"
    assert decisions[0]["function_request_id"] == "req-0001"
    assert decisions[0]["cold_start"] is True and decisions[1]["cold_start"] is False
    assert decisions[1]["reason"] == "expired"
    assert decisions[2]["reason"] in {"bad_signature", "malformed_token"}
    # Metrics ride in the same line (EMF).
    emf = decisions[0]["_aws"]["CloudWatchMetrics"][0]
    assert emf["Namespace"] == "JwtAuthorizer"
    assert emf["Metrics"] == [{"Name": "Decisions", "Unit": "Count"}]
    assert decisions[0]["Decisions"] == 1
    # Cold start and the key fetch have lines of their own, as they happened.
    others = [line for line in log_lines(out) if "outcome" not in line]
    assert [line.get("ColdStart") for line in others].count(1) == 1
    assert [line.get("key_event") for line in others] == ["fetch", None]


def test_log_encoder_matches_the_standard_one() -> None:
    from jwt_authorizer.logline import dumps

    for value in [{"a": 1, "b": [1, 2.5, None, True], "c": 'é"x\n'}, "text", None, 3, {"o": object}]:
        assert json.loads(dumps(value)) == json.loads(json.dumps(value, default=str))


def test_log_lines_have_each_member_once_and_emf_dimensions(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    def strict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in pairs]
        assert len(names) == len(set(names)), names
        return dict(pairs)

    module = app()
    capsys.readouterr()
    call(module, rest_token_event(signer.sign(claims(idp.issuer))))
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        call(module, rest_token_event(signer.sign(claims(idp.issuer, audience="other"))))
    quiet = app(POWERTOOLS_LOG_LEVEL="ERROR")
    call(quiet, rest_token_event(signer.sign(claims(idp.issuer))))
    lines = [json.loads(line, object_pairs_hook=strict) for line in capsys.readouterr().out.splitlines()]
    decisions = [line for line in lines if "reason" in line]
    assert [line.get("message") for line in decisions] == ["allow: granted", "unauthorized: wrong_audience", None]
    for line in lines:
        for directive in line["_aws"]["CloudWatchMetrics"]:
            for dimension in {name for names in directive["Dimensions"] for name in names}:
                assert isinstance(line[dimension], str)  # EMF needs each dimension's value on the line
    assert decisions[2]["service"] == "jwt-authorizer" and decisions[2]["outcome"] == "allow"


def test_a_token_sent_without_a_scheme_is_not_logged(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app()
    capsys.readouterr()
    token = signer.sign(claims(idp.issuer))
    for value in (token, f"Token{token}", "Basic dXNlcjpwYXNz"):
        event = rest_token_event(None)
        event["authorizationToken"] = value
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            call(module, event)
    lines = [line for line in log_lines(capsys.readouterr().out) if "outcome" in line]
    assert [line["reason"] for line in lines] == ["malformed_authorization"] * 3
    assert "actual" not in lines[0] and "actual" not in lines[1]
    assert lines[2]["actual"] == "Basic"
    out = json.dumps(lines)
    assert token[:12] not in out and "dXNlcjpwYXNz" not in out
