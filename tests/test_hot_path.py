"""The lean warm path and the early key fetch answer exactly as the general path does.

Each shortcut of issue 13 has a test here through ``lambda_handler`` (or the part it lives in),
against the loopback identity provider and real keys: remembered headers, the deferred b64token
check, the remembered answer to a repeated TOKEN event, bounded JSON nesting, the early fetch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import Any

import pytest
from freezegun import freeze_time

from jwt_authorizer import early
from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import FetchError, Reason, TokenRejected
from jwt_authorizer.factory import build_verifier
from jwt_authorizer.http import UrllibFetcher
from jwt_authorizer.incoming import EventKind, parse_arn
from jwt_authorizer.responses import iam_policy, simple_response, stage_document
from jwt_authorizer.routes import ALLOW_ALL
from jwt_authorizer.token import MAX_JSON_DEPTH
from support import (
    IdentityProvider,
    KeyPair,
    Outcome,
    claims,
    env_for,
    invoke,
    rest_request_event,
    rest_token_event,
    sign_parts,
)

ALLOW = Outcome(200, "granted")


# ----- remembered headers ---------------------------------------------------------------------------


def test_tokens_of_one_key_share_one_checked_header(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = build_verifier(load_settings(env_for(idp)))
    parsed = [verifier.parse(signer.sign(claims(idp.issuer, sub=f"user-{i}"))) for i in range(5)]
    assert all(p.header is parsed[0].header for p in parsed)  # decoded and checked once
    assert [p.claims["sub"] for p in parsed] == [f"user-{i}" for i in range(5)]


def test_a_header_that_fails_its_checks_is_never_remembered(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = build_verifier(load_settings(env_for(idp)))
    token = sign_parts(signer, {"alg": "RS256", "kid": signer.kid, "crit": ["exp"]}, claims(idp.issuer))
    for _ in range(2):  # the second time is refused exactly like the first
        with pytest.raises(TokenRejected) as info:
            verifier.parse(token)
        assert info.value.reason is Reason.UNSUPPORTED_CRITICAL_HEADER
    assert verifier._headers == {}


# ----- the deferred b64token check ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        ("Bearer not*a*token", Outcome(401, "malformed_authorization")),  # not a b64token at all
        ("Bearer a.b.c", Outcome(401, "malformed_token")),  # a b64token, not a JWS
        ("Bearer  {token}", Outcome(401, "malformed_authorization")),  # two spaces
        ("Bearer {token}  ", ALLOW),  # trailing spaces are stripped, as before
        ("bearer {token}", ALLOW),  # the scheme in any case
        ("Bearer {token}", ALLOW),
    ],
)
def test_the_authorization_value_is_read_as_before(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, authorization: str, expected: Outcome
) -> None:
    module = load_app()
    event = rest_token_event(None)
    event["authorizationToken"] = authorization.format(token=signer.sign(claims(idp.issuer)))
    for _ in range(2):  # fresh, then remembered
        assert invoke(module, event)[0] == expected
    request = rest_request_event({"Authorization": event["authorizationToken"]})
    assert invoke(module, request)[0] == expected


# ----- the remembered answer to a repeated TOKEN event ----------------------------------------------


def test_a_repeated_token_event_gets_the_same_answer_until_the_token_expires(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = load_app(CLOCK_SKEW_SECONDS="0")
    start = time.time()
    with freeze_time(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start))) as clock:
        token = signer.sign(claims(idp.issuer, lifetime=120))
        event = rest_token_event(token)
        first = invoke(module, event)
        second = invoke(module, event)
        assert first[0] == second[0] == ALLOW and first[1] == second[1]
        other_route = invoke(module, rest_token_event(token, path="orders/43"))
        assert other_route[0] == ALLOW and other_route[1] == first[1]  # the same stage-wide policy
        clock.tick(121)
        assert invoke(module, event)[0] == Outcome(401, "expired")


def test_a_forgotten_token_is_verified_again(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = load_app()
    event = rest_token_event(signer.sign(claims(idp.issuer)))
    assert invoke(module, event)[0] == ALLOW
    assert invoke(module, event)[0] == ALLOW  # now remembered whole
    decisions = module.AUTHORIZER.decisions
    decisions.clear()  # what a key rotation, an expiry, a revocation or an eviction does to the entry
    assert len(decisions) == 0
    assert invoke(module, event)[0] == ALLOW
    assert len(decisions) == 1  # verified again and remembered again: the old answer was not reused


def test_without_a_decision_cache_nothing_is_remembered(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = load_app(DECISION_CACHE_SIZE="0")
    event = rest_token_event(signer.sign(claims(idp.issuer)))
    for _ in range(3):
        assert invoke(module, event)[0] == ALLOW
    assert module.AUTHORIZER._recent == {} and len(module.AUTHORIZER.decisions) == 0


# ----- nesting ----------------------------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("depth", "expected"), [(MAX_JSON_DEPTH - 1, ALLOW), (MAX_JSON_DEPTH, Outcome(401, "malformed_token"))]
)
def test_nesting_is_bounded_the_same_on_every_python(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, depth: int, expected: Outcome
) -> None:
    # The payload is depth 1; a claim nested ``depth`` lists deep makes the document depth + 1.
    module = load_app()
    token = signer.sign(claims(idp.issuer, nested=_nested(depth)))
    assert invoke(module, rest_token_event(token))[0] == expected


# ----- answers built without Powertools are Powertools' answers ------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/orders/42",
        "arn:aws-cn:execute-api:cn-north-1:123456789012:abcdef1234/v1/POST/",
        "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:abcdef1234/$default/DELETE/a/b/c",
    ],
)
@pytest.mark.parametrize("kind", [EventKind.REST_TOKEN, EventKind.REST_REQUEST, EventKind.HTTP_V1, EventKind.HTTP_V2])
def test_the_stage_document_is_the_one_powertools_writes(arn: str, kind: EventKind) -> None:
    route = parse_arn(arn)
    expected = iam_policy("", route, kind, ALLOW_ALL, {}, permitted=True)["policyDocument"]
    assert stage_document(route) == expected


@pytest.mark.parametrize("authorized", [True, False])
@pytest.mark.parametrize("context", [{}, {"sub": "u", "scp": "a b", "n": 3, "ok": True}])
def test_the_simple_response_is_the_one_powertools_writes(authorized: bool, context: dict[str, Any]) -> None:
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerResponseV2,
    )

    expected = APIGatewayAuthorizerResponseV2(authorize=authorized, context=context or None).asdict()
    assert simple_response(authorized, context) == expected


# ----- the early key fetch ------------------------------------------------------------------------


def test_a_plain_cold_start_fetches_the_key_set_once_and_early(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = load_app(JWKS_PREFETCH="true", JWKS_URI=idp.jwks_uri)
    assert module.EARLY is not None and module.EARLY.url == idp.jwks_uri
    assert idp.jwks_fetches == 1
    assert invoke(module, rest_token_event(signer.sign(claims(idp.issuer))))[0] == ALLOW
    assert idp.jwks_fetches == 1


def test_an_early_discovery_is_followed_by_the_key_set_once(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = load_app(JWKS_PREFETCH="true")
    assert module.EARLY is not None and module.EARLY.discovery
    assert invoke(module, rest_token_event(signer.sign(claims(idp.issuer))))[0] == ALLOW
    assert (idp.counts[idp.discovery_path], idp.jwks_fetches) == (1, 1)


@pytest.mark.parametrize(
    "env",
    [
        {"JWKS_PREFETCH": "false"},
        {"ISSUER": "https://login.microsoftonline.com/{tenantid}/v2.0", "ALLOWED_TENANTS": "*"},
        {"ISSUER": "https://a.example,https://b.example"},
        {"JWKS_URI": "http://idp.example/keys"},  # not a URL the function may fetch
        {"HTTP_TIMEOUT_SECONDS": "soon"},  # the configuration loader will refuse it
    ],
)
def test_only_a_plain_configuration_starts_early(idp: IdentityProvider, env: dict[str, str]) -> None:
    assert early.start({**env_for(idp, JWKS_PREFETCH="true", JWKS_URI=idp.jwks_uri), **env}) is None


def test_settings_that_ask_for_another_fetch_do_not_take_the_early_one(idp: IdentityProvider) -> None:
    env = env_for(idp, JWKS_PREFETCH="true", JWKS_URI=idp.jwks_uri)
    started = early.start(env)
    assert started is not None
    assert started.fetcher_for(load_settings(env)) is not None
    assert started.fetcher_for(load_settings({**env, "HTTP_TIMEOUT_SECONDS": "1.5"})) is None
    assert started.fetcher_for(load_settings({**env, "JWKS_URI": f"{idp.base}/other"})) is None


class _SlowKeys:
    """A key server that answers after ``delay`` seconds and counts what it answered."""

    def __init__(self, idp: IdentityProvider, delay: float) -> None:
        self.answered = 0

        def slowly(handler: BaseHTTPRequestHandler) -> bool:
            time.sleep(delay)
            self.answered += 1
            return False  # then the usual document

        idp.behaviour[idp.jwks_path] = slowly


@pytest.fixture
def slow_keys(idp: IdentityProvider, signer: KeyPair) -> Iterator[_SlowKeys]:
    idp.publish(signer)
    yield _SlowKeys(idp, 0.3)


def test_fetch_json_waits_for_the_early_fetch_of_its_url_and_uses_it_once(
    idp: IdentityProvider, slow_keys: _SlowKeys
) -> None:
    fetcher = UrllibFetcher(1.0, 2.0, 65536)
    fetcher.expect(idp.jwks_uri)
    threading.Thread(target=fetcher.fetch_early, args=(idp.jwks_uri,), daemon=True).start()
    document = fetcher.fetch_json(idp.jwks_uri)  # while the early request is still on its way
    assert document == idp.documents[idp.jwks_path] and idp.jwks_fetches == 1
    assert fetcher.fetch_json(idp.jwks_uri) == document and idp.jwks_fetches == 2  # later ones go out


def test_an_early_failure_is_the_failure_of_the_fetch_it_stood_for(idp: IdentityProvider) -> None:
    fetcher = UrllibFetcher(1.0, 2.0, 65536)
    url = f"{idp.base}/missing"
    fetcher.expect(url)
    fetcher.fetch_early(url)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher.fetch_json(url)
    assert idp.counts["/missing"] == 1


def test_an_early_fetch_that_fails_unexpectedly_is_a_fetch_error_not_a_null_document(
    idp: IdentityProvider, signer: KeyPair
) -> None:
    idp.publish(signer)
    fetcher = UrllibFetcher(1.0, 2.0, 65536)
    url = idp.jwks_uri
    fetcher.expect(url)
    fetcher.fetch_early(url, follow=lambda document: document["no such member"])  # a KeyError in the follow-up
    with pytest.raises(FetchError, match="failed: KeyError"):
        fetcher.fetch_json(url)


def test_the_early_answer_is_the_one_the_key_cache_parses(
    idp: IdentityProvider, signer: KeyPair, load_app: Callable[..., ModuleType]
) -> None:
    # Published keys are what the function verifies with, whichever thread fetched them.
    idp.publish(signer)
    module = load_app(JWKS_PREFETCH="true", JWKS_URI=idp.jwks_uri)
    key_set = module.VERIFIER.issuers[0].keys.key_set
    assert key_set is not None and list(key_set.keys) == [signer.kid]
    assert key_set.keys[signer.kid].public_key.public_numbers() == signer.private.public_key().public_numbers()
