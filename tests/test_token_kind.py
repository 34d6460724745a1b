"""Only access tokens, explicitly typed, with claims of the right JSON type (review findings 3, 7, 8).

Through ``lambda_handler``, with real keys and pyjwt tokens:

* ID tokens are refused with their own reason, ``not_access_token`` -- an Entra token without
  ``azp``/``appid``, tokens carrying ``at_hash``/``c_hash``, a ``nonce`` without scopes, Cognito's
  ``token_use: id``, Keycloak's ``typ: ID`` -- even when ``AUDIENCE`` holds the client id they are
  issued for, as docs/configuration.md advises for Entra v2;
* a header ``typ`` other than ``JWT``/``at+jwt`` (as media types) is ``unsupported_token_type``;
* a claim the decision uses with the wrong JSON type is ``invalid_claim``, and a present but
  invalid principal claim never falls back to the next one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from appload import cold_start
from jwt_authorizer.config import load_settings
from jwt_authorizer.doctor import Verdict, explain
from support import (
    ACCOUNT,
    API_ID,
    REGION,
    IdentityProvider,
    KeyPair,
    Outcome,
    claims,
    invoke,
    jwks,
    preserved_environ,
    rest_token_event,
    sign_parts,
)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "6e7bd6d6-1d4f-4e5b-9c4c-2f4bd1a0c0de"  # the API's (and, in the bad case, the client's) app id
V2 = f"https://login.microsoftonline.com/{TENANT}/v2.0"
V1 = f"https://sts.windows.net/{TENANT}/"
ALLOW = Outcome(200, "granted")
STAGE = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/prod"


@pytest.fixture
def entra_app(signer: KeyPair) -> Any:
    """The handler for an Entra tenant (v1 and v2 issuers) whose AUDIENCE is the bare client id."""
    with preserved_environ():
        env = {
            "ISSUER": f"{V2},{V1}",
            "AUDIENCE": f"{CLIENT_ID},api://{CLIENT_ID}",
            "JWKS": json.dumps(jwks(signer)),
            "JWKS_PREFETCH": "false",
        }
        yield cold_start(env)


def entra_claims(issuer: str, **extra: Any) -> dict[str, Any]:
    base = {"audience": CLIENT_ID, "tid": TENANT, "oid": "00000000-0000-0000-0000-0000000000aa"}
    return claims(issuer, **{**base, **extra})


# ----- finding 3: ID tokens ------------------------------------------------------------------------


def test_entra_access_tokens_are_allowed(entra_app: ModuleType, signer: KeyPair) -> None:
    v2 = signer.sign(entra_claims(V2, azp="11111111-2222-3333-4444-555555555555", scp="orders.read"))
    v1 = signer.sign(entra_claims(V1, appid="11111111-2222-3333-4444-555555555555", aud=f"api://{CLIENT_ID}"))
    app_only = signer.sign(entra_claims(V2, azp=CLIENT_ID, sub=None, oid=None, roles=["Orders.Job"]))
    for token in (v2, v1, app_only):
        assert invoke(entra_app, rest_token_event(token))[0] == ALLOW


@pytest.mark.parametrize(
    "extra",
    [
        {"nonce": "n-0S6_WzA2Mj", "preferred_username": "ada@example.com", "name": "Ada"},  # a v2 ID token
        {"preferred_username": "ada@example.com"},  # no nonce: still no azp/appid
        {"at_hash": "x1y2", "azp": "11111111-2222-3333-4444-555555555555"},  # a hybrid-flow ID token
        {"c_hash": "x1y2", "azp": "11111111-2222-3333-4444-555555555555"},
    ],
)
def test_an_entra_id_token_for_the_client_id_is_refused(
    entra_app: ModuleType, signer: KeyPair, extra: dict[str, Any]
) -> None:
    """The review's finding: AUDIENCE holds the bare client id, the ID token's aud is that id."""
    token = signer.sign(entra_claims(V2, **extra))
    assert invoke(entra_app, rest_token_event(token))[0] == Outcome(401, "not_access_token")


def test_an_entra_v1_id_token_is_refused(entra_app: ModuleType, signer: KeyPair) -> None:
    token = signer.sign(entra_claims(V1, aud=f"api://{CLIENT_ID}", unique_name="ada@example.com"))
    assert invoke(entra_app, rest_token_event(token))[0] == Outcome(401, "not_access_token")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"nonce": "n-1"}, Outcome(401, "not_access_token")),
        ({"at_hash": "abc"}, Outcome(401, "not_access_token")),
        ({"c_hash": "abc", "scope": "orders.read"}, Outcome(401, "not_access_token")),
        ({"token_use": "id"}, Outcome(401, "not_access_token")),  # Cognito
        ({"typ": "ID", "nonce": "n-1"}, Outcome(401, "not_access_token")),  # Keycloak
        ({"typ": "id"}, Outcome(401, "not_access_token")),
        # Access tokens of providers that copy the nonce (Keycloak before 24) carry scopes or say so.
        ({"nonce": "n-1", "scope": "openid orders.read"}, ALLOW),
        ({"nonce": "n-1", "typ": "Bearer"}, ALLOW),
        ({"token_use": "access", "scope": "orders.read"}, ALLOW),
    ],
)
def test_id_token_markers_of_other_providers(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, extra: Any, expected: Outcome
) -> None:
    module = load_app()
    assert invoke(module, rest_token_event(signer.sign(claims(idp.issuer, **extra))))[0] == expected


def test_a_nonce_in_an_at_jwt_token_does_not_make_it_an_id_token(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    token = signer.sign(claims(idp.issuer, nonce="n-1"), typ="at+jwt")
    assert invoke(load_app(), rest_token_event(token))[0] == ALLOW


def test_the_doctor_diagnoses_an_id_token_and_says_the_fix(signer: KeyPair) -> None:
    token = signer.sign(entra_claims(V2, nonce="n-1", preferred_username="ada@example.com"))
    env = {"ISSUER": V2, "AUDIENCE": CLIENT_ID, "JWKS": json.dumps(jwks(signer)), "JWKS_PREFETCH": "false"}
    report = explain(token, load_settings(env))
    assert (report.verdict, report.reason) == (Verdict.REFUSED, "not_access_token")
    check = report.decisive
    assert check is not None and check.name == "token type"
    assert "this is an ID token, not an access token" in (check.cause or "")
    assert "passes only because AUDIENCE lists that client id" in (check.cause or "")
    assert "acquireTokenSilent" in (check.fix or "") and "result.accessToken" in (check.fix or "")


# ----- finding 8: explicit typing ------------------------------------------------------------------


def _typed(signer: KeyPair, issuer: str, typ: Any) -> str:
    header: dict[str, Any] = {"alg": "RS256", "kid": signer.kid}
    if typ is not None:
        header["typ"] = typ
    return sign_parts(signer, header, claims(issuer))


@pytest.mark.parametrize(
    "typ", [None, "JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "APPLICATION/AT+JWT", "application/jwt"]
)
def test_access_token_types_are_accepted(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, typ: str | None
) -> None:
    assert invoke(load_app(), rest_token_event(_typed(signer, idp.issuer, typ)))[0] == ALLOW


@pytest.mark.parametrize(
    "typ",
    ["dpop+jwt", "secevent+jwt", "logout+jwt", "application/logout+jwt", "JWS", "jwt ", "", ["JWT"], 7, None.__class__],
)
def test_other_token_types_are_refused(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, typ: Any
) -> None:
    value = "NoneType" if typ is None.__class__ else typ
    token = _typed(signer, idp.issuer, value)
    assert invoke(load_app(), rest_token_event(token))[0] == Outcome(401, "unsupported_token_type")


@pytest.mark.parametrize("typ", ["id_token+jwt", "application/id_token+jwt"])
def test_an_id_token_type_is_not_an_access_token(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, typ: str
) -> None:
    token = _typed(signer, idp.issuer, typ)
    assert invoke(load_app(), rest_token_event(token))[0] == Outcome(401, "not_access_token")


# ----- finding 7: claim types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"sub": {"id": "user-1"}, "oid": "fallback-oid"},  # the review's case: allowed with oid as principal
        {"sub": ["user-1"]},
        {"sub": 42},
        {"sub": None, "oid": "fallback-oid"},
        {"sub": "", "oid": "fallback-oid"},
        {"oid": {"x": 1}},
        {"azp": 7},
        {"appid": True},
        {"tid": 12345},
        {"tid": ["72f988bf-86f1-41af-91ab-2d7cd011db47"]},
        {"scp": 1},
        {"scp": {"orders.read": True}},
        {"scope": ["orders.read", 1]},
        {"roles": {"Orders.Admin": True}},
        {"roles": ["Orders.Admin", None]},
        {"groups": 5},
        {"groups": [["g"]]},
        {"aud": {"api://test": True}},
        {"aud": ["api://test", 3]},
    ],
)
def test_claims_of_the_wrong_type_make_the_token_invalid(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, extra: dict[str, Any]
) -> None:
    module = load_app()
    token = sign_parts(signer, {"alg": "RS256", "kid": signer.kid, "typ": "JWT"}, {**claims(idp.issuer), **extra})
    assert invoke(module, rest_token_event(token))[0] == Outcome(401, "invalid_claim")


def test_an_issuer_of_the_wrong_type_is_invalid(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = load_app()
    for issuer in ([idp.issuer], {"iss": idp.issuer}, 1):
        token = sign_parts(signer, {"alg": "RS256", "kid": signer.kid}, {**claims(idp.issuer), "iss": issuer})
        assert invoke(module, rest_token_event(token))[0] == Outcome(401, "invalid_claim")


def test_well_typed_claims_are_allowed(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = load_app()
    extra = {"scp": ["orders.read"], "scope": "a b", "roles": ["R"], "groups": "g1", "tid": TENANT, "oid": "o"}
    outcome, response = invoke(module, rest_token_event(signer.sign(claims(idp.issuer, **extra))))
    assert outcome == ALLOW and response is not None and response["principalId"] == "user-1"


def test_a_custom_principal_claim_of_the_wrong_type_never_falls_back(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = load_app(PRINCIPAL_CLAIM="preferred_username,sub")
    token = signer.sign(claims(idp.issuer, preferred_username={"name": "ada"}))
    assert invoke(module, rest_token_event(token))[0] == Outcome(401, "invalid_claim")
    token = signer.sign(claims(idp.issuer))  # absent: falls back to sub
    outcome, response = invoke(module, rest_token_event(token))
    assert outcome == ALLOW and response is not None and response["principalId"] == "user-1"
