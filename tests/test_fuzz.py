"""Property-based fuzzing of the handler and the engine with hypothesis.

The properties, for any input drawn here:

* the handler returns a well-formed Allow/Deny answer, raises ``Unauthorized`` (401), or raises
  the key-source error (500) -- never an internal error, never another exception;
* nothing that the genuine keys did not sign is ever allowed: tokens signed by other keys,
  unsigned or HMAC tokens, genuine tokens with any one edit, genuine signatures on other claims;
* a genuinely signed token is allowed exactly when an independent, twenty-line oracle of the
  claim rules says it should be.

Runs are reproducible and bounded: the "reproducible" hypothesis profile (tests/conftest.py)
derandomizes and keeps no example database, so CI sees the same examples every time, and each
property has a fixed example budget (the whole file stays within a few seconds). ``make fuzz``
draws new examples.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from appload import cold_start
from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import TokenRejected
from jwt_authorizer.factory import build_verifier
from jwt_authorizer.verifier import Verifier
from support import (
    IdentityProvider,
    KeyPair,
    Outcome,
    b64url,
    compose,
    ec_pair,
    env_for,
    http_v1_event,
    http_v2_event,
    invoke,
    preserved_environ,
    quick_provider,
    rest_request_event,
    rest_token_event,
    rsa_pair,
    sign_parts,
    stop_quickly,
    websocket_connect_event,
)


def fuzz(examples: int) -> Callable[[Any], Any]:
    """A fixed example budget; which examples is the profile's choice (tests/conftest.py)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


AUDIENCE = "api://test"
GENUINE = rsa_pair("genuine-rsa", slot=0)
GENUINE_EC = ec_pair("genuine-ec")
ATTACKER = rsa_pair("attacker-rsa", slot=1)
ATTACKER_EC = ec_pair("attacker-ec")
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
PRINCIPAL_CLAIMS = ("sub", "oid", "azp", "appid")
SKEW = 60


@dataclass
class World:
    idp: IdentityProvider
    engine: Verifier
    app: ModuleType
    genuine_tokens: list[str]

    @property
    def issuer(self) -> str:
        return self.idp.issuer


_WORLD: World | None = None


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    global _WORLD
    idp = quick_provider()
    idp.publish(GENUINE, GENUINE_EC)
    env = env_for(idp, ALLOWED_ALGORITHMS="RS256,ES256")
    now = int(time.time())
    # Valid for an hour: long enough for any run of this file.
    base = {"iss": idp.issuer, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 3600}
    tokens = [
        GENUINE.sign({**base, "sub": "user-1"}),
        GENUINE.sign({**base, "sub": "user-2", "aud": ["other", AUDIENCE], "roles": ["Reader"]}),
        GENUINE_EC.sign({**base, "azp": "client-app"}),
    ]
    with preserved_environ():
        _WORLD = World(idp, build_verifier(load_settings(env)), cold_start(env), tokens)
        for token in tokens:  # the control: all of them are allowed
            assert invoke(_WORLD.app, rest_token_event(token))[0] == Outcome(200, "granted")
        yield _WORLD
    _WORLD = None
    stop_quickly(idp)


def the_world() -> World:
    assert _WORLD is not None, "the world fixture must be active"
    return _WORLD


def outcome(app: ModuleType, event: Any) -> Outcome:
    """The handler's outcome, checked against the contract: never an internal error."""
    result, _ = invoke(app, event)
    assert result.status in {200, 401, 403, 500}, result
    assert result.reason != "internal_error", result
    return result


def holds_genuine_token(world: World, event: Any) -> bool:
    text = json.dumps(event, default=str)
    return any(token in text for token in world.genuine_tokens)


# ----- strategies ----------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=6,
)
algs = st.sampled_from(["RS256", "ES256", "RS384", "RS512", "PS256", "ES384", "HS256", "none", "None", "EdDSA"]) | (
    st.text(max_size=6)
)
kids = st.sampled_from([GENUINE.kid, GENUINE_EC.kid, ATTACKER.kid, ATTACKER_EC.kid, "", "../keys"]) | st.text(
    max_size=12
)
header_extras = st.dictionaries(
    st.sampled_from(["jku", "x5u", "jwk", "x5c", "x5t", "typ", "cty", "crit", "nonce", "b64", "zip", "enc"]),
    json_values,
    max_size=3,
)
# Time claims that are not offsets from now, including integers beyond float range.
time_junk = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.lists(st.integers(), max_size=2)
)
audiences = st.sampled_from([AUDIENCE, "api://other", "", "https://graph.microsoft.com"]) | st.lists(
    st.sampled_from([AUDIENCE, "api://other", "00000003-0000-0000-c000-000000000000"]) | scalars, max_size=3
)
issuers = st.sampled_from(["{iss}/", "https://evil.example", "{ISS}", " {iss}"]) | scalars


def _offsets(*values: int) -> st.SearchStrategy[tuple[str, int]]:
    return st.sampled_from(values).map(lambda o: ("offset", o))


# Per claim: values that pass, and values that should not (or that do not matter).
_PAST, _FUTURE = _offsets(-(10**6), -7200, -600, -180), _offsets(180, 600, 7200, 10**6)
CLAIM_VALUES: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "iss": (st.just("{iss}"), issuers),
    "aud": (st.sampled_from([AUDIENCE, [AUDIENCE], ["api://other", AUDIENCE]]), audiences),
    "exp": (_FUTURE, _PAST | time_junk),
    "nbf": (_PAST, _FUTURE | time_junk),
    "iat": (_PAST, _FUTURE | time_junk),
    "sub": (st.sampled_from(["user-1", "00000000-0000-0000-0000-000000000001"]), scalars),
    "oid": (st.none(), scalars),
    "azp": (st.none(), scalars),
    "tid": (st.none(), scalars),
}


@st.composite
def claim_sets(draw: st.DrawFn) -> dict[str, Any]:
    """Claims that are right except for a few drawn flaws (often none): each flaw removes a claim
    or gives it a wrong or junk value. "{iss}" and time offsets are resolved by ``resolve``."""
    flawed = draw(st.sets(st.sampled_from(sorted(CLAIM_VALUES)), max_size=3))
    out: dict[str, Any] = {}
    for name, (good, bad) in CLAIM_VALUES.items():
        if name not in flawed:
            value = draw(good)
        elif draw(st.booleans()):
            continue  # the flaw is absence
        else:
            value = draw(bad)
        if value is not None or name in flawed:
            out[name] = value
    out.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2)))
    return out


def resolve(claims: dict[str, Any], issuer: str, now: int) -> dict[str, Any]:
    out = {}
    for name, drawn in claims.items():
        value = drawn
        if isinstance(drawn, tuple) and drawn[0] == "offset":
            value = now + drawn[1]
        elif isinstance(drawn, str) and "{" in drawn:
            value = drawn.replace("{iss}", issuer).replace("{ISS}", issuer.upper())
        out[name] = value
    return out


@st.composite
def forged_tokens(draw: st.DrawFn) -> str:
    """Tokens the genuine keys did not sign, in every way we can think of."""
    world = the_world()
    claims = resolve(draw(claim_sets()), world.issuer, int(time.time()))
    header = {"alg": draw(algs), "kid": draw(kids), **draw(header_extras)}
    if draw(st.booleans()):
        header["typ"] = "JWT"
    way = draw(st.sampled_from(["attacker-rsa", "attacker-ec", "random", "hmac", "borrowed", "empty"]))
    if way == "attacker-rsa":
        return sign_parts(KeyPair(ATTACKER.private, str(header["kid"]), "RS256"), header, claims)
    if way == "attacker-ec":
        return sign_parts(KeyPair(ATTACKER_EC.private, str(header["kid"]), "ES256"), header, claims)
    if way == "random":
        return compose(header, claims, draw(st.binary(min_size=1, max_size=300)))
    if way == "hmac":
        secret = GENUINE.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        signing_input = compose(header, claims).rsplit(".", 1)[0]
        return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"
    if way == "borrowed":
        genuine = draw(st.sampled_from(world.genuine_tokens))
        return compose(header, claims).rsplit(".", 1)[0] + "." + genuine.rsplit(".", 1)[1]
    return compose(header, claims).rsplit(".", 1)[0] + "."


@st.composite
def mutated_tokens(draw: st.DrawFn) -> str:
    """A genuine token with one edit: any character, anywhere, or its segments rearranged."""
    token = draw(st.sampled_from(the_world().genuine_tokens))
    op = draw(st.sampled_from(["replace", "replace", "insert", "delete", "swap-segments", "repeat-segment", "case"]))
    i = draw(st.integers(min_value=0, max_value=len(token) - 1))
    char = draw(st.sampled_from(B64URL + ".=+/ ~") | st.characters())
    parts = token.split(".")
    if op == "replace":
        out = token[:i] + char + token[i + 1 :]
    elif op == "insert":
        out = token[:i] + char + token[i:]
    elif op == "delete":
        out = token[:i] + token[i + 1 :]
    elif op == "swap-segments":
        a, b = draw(st.sampled_from([(0, 1), (1, 2), (0, 2)]))
        parts[a], parts[b] = parts[b], parts[a]
        out = ".".join(parts)
    elif op == "repeat-segment":
        j = draw(st.integers(min_value=0, max_value=2))
        out = ".".join([*parts[: j + 1], parts[j], *parts[j + 1 :]])
    else:
        out = token[:i] + token[i].swapcase() + token[i + 1 :]
    assume(out != token)
    return out


TOKEN_SHAPES = ["rest_token", "rest_request", "http_v1", "http_v2", "http_v2_iam", "ws_header", "ws_query"]


# Methods and paths a client chooses: any method token (not only the seven verbs), and paths that
# end in /$connect, which must never make an HTTP request look like a WebSocket connection.
methods = st.sampled_from(["GET", "POST", "DELETE", "PROPFIND", "$connect", "get", "CONNECT"]) | st.text(
    alphabet="GETPOSabx$!#%&'*+-.^_`|~", min_size=1, max_size=6
)
paths = st.sampled_from(["/orders/42", "/orders/$connect", "/$connect", "/", "/a//b", "/x\ny", "/*"]) | st.text(
    alphabet="/abc$?*.%", max_size=10
).map(lambda text: "/" + text)


def build_event(
    shape: str, token: str, authorization: str, method: str = "GET", path: str = "/orders/42"
) -> dict[str, Any]:
    if shape == "rest_token":
        event = rest_token_event(None, method=method, path=path[1:])
        event["authorizationToken"] = authorization
        return event
    if shape == "rest_request":
        return rest_request_event({"Authorization": authorization}, method=method, path=path)
    if shape == "http_v1":
        event = http_v1_event(token, method=method, path=path)
        event["headers"] = {"Authorization": authorization}
        event["multiValueHeaders"] = {"Authorization": [authorization]}
        return event
    if shape in {"http_v2", "http_v2_iam"}:
        event = http_v2_event(None, method=method, path=path)
        event["headers"] = {"authorization": authorization}
        return event
    if shape == "ws_header":
        return websocket_connect_event(None, header=authorization)
    return websocket_connect_event(token)


@st.composite
def events(draw: st.DrawFn) -> Any:
    """API Gateway events of every shape carrying any token, then damaged a little, or junk."""
    world = the_world()
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(json_values)
    token = draw(st.sampled_from(world.genuine_tokens) | forged_tokens() | mutated_tokens() | st.text(max_size=40))
    scheme = draw(st.sampled_from(["Bearer ", "Bearer ", "bearer ", "Basic ", "", "Bearer  ", " Bearer "]))
    authorization = draw(st.just(scheme + token) | st.text(max_size=30) | json_values)
    shape = draw(st.sampled_from(TOKEN_SHAPES))
    event = build_event(shape, token, authorization, draw(methods), draw(paths))  # type: ignore[arg-type]
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        key = draw(
            st.sampled_from(
                [*sorted(event), "headers", "multiValueHeaders", "requestContext", "methodArn", "routeArn", "type"]
            )
        )
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(json_values)
    return event


# ----- the properties ------------------------------------------------------------------------------


@fuzz(250)
@given(event=events())
def test_any_event_gets_a_contract_outcome(world: World, event: Any) -> None:
    result = outcome(world.app, event)
    assert result.status != 500, "the key server is up: nothing may be a 500 here"
    if result.status in {200, 403}:
        assert holds_genuine_token(world, event), "allowed without a genuine token"


@fuzz(200)
@given(token=forged_tokens())
def test_tokens_the_genuine_keys_did_not_sign_are_never_allowed(world: World, token: str) -> None:
    with pytest.raises(TokenRejected):
        world.engine.verify(token)
    for event in (rest_token_event(token), http_v2_event(token)):
        assert outcome(world.app, event).status == 401


@fuzz(300)
@given(token=mutated_tokens())
def test_any_edit_of_a_genuine_token_is_refused(world: World, token: str) -> None:
    with pytest.raises(TokenRejected):
        world.engine.verify(token)
    assert outcome(world.app, rest_token_event(token)).status == 401


@fuzz(200)
@given(value=st.text(max_size=80) | st.binary(max_size=60).map(lambda b: "Bearer " + b64url(b)))
def test_any_authorization_text_is_a_401_with_an_input_reason(world: World, value: str) -> None:
    event = rest_token_event(None)
    event["authorizationToken"] = value
    result = outcome(world.app, event)
    assert result.status == 401
    assert result.reason in {"missing_token", "malformed_authorization", "malformed_token", "token_too_large"}


def oracle_allows(claims: dict[str, Any], issuer: str, now: float) -> bool:
    """The claim rules, written independently of verifier.py (RFC 7519 section 4.1)."""

    def number(name: str) -> float | bool | None:
        value = claims.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False  # present but invalid
        try:
            number = float(value)
        except OverflowError:
            return False  # an integer beyond any date
        return number if math.isfinite(number) else False

    try:
        json.dumps(claims, allow_nan=False)
    except ValueError:
        return False  # NaN and Infinity are not JSON (RFC 8259 section 6)
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if claims.get("iss") != issuer or not isinstance(audiences, list):
        return False
    if not all(isinstance(a, str) for a in audiences) or AUDIENCE not in audiences:
        return False
    exp, nbf, iat = number("exp"), number("nbf"), number("iat")
    if exp is None or exp is False or now >= exp + SKEW:
        return False
    if nbf is False or (nbf is not None and nbf > now + SKEW):
        return False
    if iat is False or (iat is not None and iat > now + SKEW):
        return False
    # Claims the decision uses must have their type; a present but invalid one never falls back.
    if "tid" in claims and not isinstance(claims["tid"], str):
        return False
    for name in ("scp", "scope"):
        if name in claims and not is_string_or_strings(claims[name]):
            return False
    for name in ("roles", "groups"):
        if name in claims and not is_string_or_strings(claims[name]):
            return False
    present = [name for name in PRINCIPAL_CLAIMS if name in claims]
    if any(not (isinstance(claims[name], str) and claims[name]) for name in present):
        return False
    # ID tokens are not access tokens (this issuer is not Entra's).
    scoped = "scp" in claims or "scope" in claims or str(claims.get("typ", "")).lower() == "bearer"
    if "at_hash" in claims or "c_hash" in claims or ("nonce" in claims and not scoped):
        return False
    if claims.get("token_use") == "id" or (isinstance(claims.get("typ"), str) and claims["typ"].lower() == "id"):
        return False
    return bool(present)


def is_string_or_strings(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


@fuzz(250)
@given(drawn=claim_sets(), ec=st.booleans())
def test_genuinely_signed_claims_are_allowed_exactly_when_the_rules_say(
    world: World, drawn: dict[str, Any], ec: bool
) -> None:
    now = int(time.time())
    claims = resolve(drawn, world.issuer, now)
    pair = GENUINE_EC if ec else GENUINE
    token = sign_parts(pair, {"alg": pair.alg, "kid": pair.kid, "typ": "JWT"}, claims)
    result = outcome(world.app, rest_token_event(token))
    assert result.status in {200, 401}
    assert (result.status == 200) == oracle_allows(claims, world.issuer, now), (result, claims)


@pytest.mark.parametrize("headers", [["Bearer x"], "authorization", [["a", "b", "c"]]])
def test_v2_headers_that_are_not_a_mapping(world: World, headers: Any) -> None:
    """Found by test_any_event_gets_a_contract_outcome before its strategy was narrowed."""
    event = http_v2_event(world.genuine_tokens[0])
    event["headers"] = headers
    assert outcome(world.app, event) == Outcome(401, "missing_token")
