"""One odd key, or one odd discovery document, never takes the authorizer down (review finding 4).

Each case is served by the loopback identity provider. An odd key beside a genuine one is
skipped, counted and logged with its kid and reason, and the genuine key keeps verifying (through
``lambda_handler``). A discovery document whose ``issuer`` is not a string, or whose ``jwks_uri``
cannot be read, is a key-source failure like any other: 500 ``key_source_unavailable`` without a
traceback, the retry window holds, a warm cache keeps serving its keys, and a cold start with
prefetch on (the default) survives it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from appload import cold_start
from jwt_authorizer.keys import parse_jwks
from support import (
    IdentityProvider,
    KeyPair,
    Outcome,
    claims,
    ec_pair,
    env_for,
    invoke,
    log_lines_of,
    rest_token_event,
    rsa_pair,
    self_signed_certificate,
)
from test_jwks_cache import MAX_AGE, RETRY, Harness

RSA_ENCRYPTION_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1
UNKNOWN_KEY_OID = bytes.fromhex("2a864886f70d010163")  # 1.2.840.113549.1.1.99: no such key type


def unloadable_certificate(pair: KeyPair) -> str:
    """A well-formed certificate whose public key has a type cryptography cannot load."""
    der = base64.b64decode(self_signed_certificate(pair))
    assert der.count(RSA_ENCRYPTION_OID) == 1
    return base64.b64encode(der.replace(RSA_ENCRYPTION_OID, UNKNOWN_KEY_OID)).decode("ascii")


EC = ec_pair("odd-ec")
RSA_STRANGER = rsa_pair("odd-x5c", slot=1)

ODD_KEYS: dict[str, tuple[dict[str, Any], str]] = {
    "ec x not a string": ({**EC.jwk(), "x": 12345}, "ec_members_malformed"),
    "ec y a list": ({**EC.jwk(), "y": ["a", "b"]}, "ec_members_malformed"),
    "ec x an object": ({**EC.jwk(), "x": {"b64": "AA"}}, "ec_members_malformed"),
    "x5c key type unloadable": (
        {**RSA_STRANGER.jwk(), "x5c": [unloadable_certificate(RSA_STRANGER)]},
        "x5c_key_unsupported",
    ),
    "x5c only, key type unloadable": (
        {"kty": "RSA", "kid": "odd-x5c", "use": "sig", "x5c": [unloadable_certificate(RSA_STRANGER)]},
        "x5c_key_unsupported",
    ),
    "rsa n an object": ({**RSA_STRANGER.jwk(), "n": {"x": 1}}, "rsa_members_malformed"),
}


@pytest.mark.parametrize("case", list(ODD_KEYS))
def test_an_odd_key_is_skipped_logged_and_the_genuine_key_verifies(
    load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, case: str, capsys: Any
) -> None:
    odd, reason = ODD_KEYS[case]
    idp.documents[idp.jwks_path] = {"keys": [odd, signer.jwk()]}
    capsys.readouterr()
    module = load_app(JWKS_PREFETCH="true", JWKS_URI=f"{idp.jwks_uri}?tenant=x&sig=SECRET")
    assert invoke(module, rest_token_event(signer.sign(claims(idp.issuer))))[0] == Outcome(200, "granted")
    lines = log_lines_of(capsys.readouterr().out)
    skipped = [line for line in lines if line.get("message") == "key skipped"]
    assert len(skipped) == 1, lines
    assert skipped[0]["level"] == "WARNING" and skipped[0]["kid"] == odd["kid"] and skipped[0]["reason"] == reason
    assert skipped[0]["source"] == f"{idp.jwks_uri}?***"  # the query string is never logged
    # The skipped key's own line carries its metric (dimension service), as every key event's does.
    metrics = skipped[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert {"Name": "SkippedKeys", "Unit": "Count"} in metrics and skipped[0]["SkippedKeys"] == 1
    assert skipped[0]["key_event"] == "key_skipped"
    assert idp.jwks_fetches == 1
    assert "Traceback" not in "".join(json.dumps(line) for line in lines)


@pytest.mark.parametrize("case", list(ODD_KEYS))
def test_a_refresh_that_brings_an_odd_key_keeps_the_genuine_keys(
    idp: IdentityProvider, signer: KeyPair, case: str
) -> None:
    idp.publish(signer)
    h = Harness(idp)
    assert h.verifies(signer)
    idp.documents[idp.jwks_path] = {"keys": [ODD_KEYS[case][0], signer.jwk()]}
    h.clock.advance(MAX_AGE)
    assert h.verifies(signer)
    assert h.fetches == 2 and h.cache.generation == 2 and "fetch_failed" not in h.events
    assert h.fields == [
        {"event": "key_skipped", "kid": ODD_KEYS[case][0]["kid"], "reason": ODD_KEYS[case][1], "source": idp.jwks_uri}
    ]


# ----- discovery documents the cache cannot use -----------------------------------------------------

BAD_DISCOVERY: dict[str, Callable[[IdentityProvider], dict[str, Any]]] = {
    "issuer is a list": lambda idp: {"issuer": [idp.issuer], "jwks_uri": idp.jwks_uri},
    "issuer is an object": lambda idp: {"issuer": {"value": idp.issuer}, "jwks_uri": idp.jwks_uri},
    "issuer is a number": lambda idp: {"issuer": 7, "jwks_uri": idp.jwks_uri},
    "jwks_uri unparsable": lambda idp: {"issuer": idp.issuer, "jwks_uri": "https://[::1/keys"},
    "jwks_uri bad port": lambda idp: {"issuer": idp.issuer, "jwks_uri": "http://127.0.0.1:99999999/keys"},
    "jwks_uri not a string": lambda idp: {"issuer": idp.issuer, "jwks_uri": ["https://idp.example/keys"]},
    "jwks_uri with credentials over http": lambda idp: {
        "issuer": idp.issuer,
        "jwks_uri": "http://user:hunter2@idp.example/keys?sig=SECRET",
    },
}


@pytest.mark.parametrize("case", list(BAD_DISCOVERY))
def test_a_bad_discovery_document_is_a_key_source_failure(
    idp: IdentityProvider, signer: KeyPair, case: str, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    idp.publish(signer)
    idp.documents[idp.discovery_path] = BAD_DISCOVERY[case](idp)
    env = env_for(idp, JWKS_PREFETCH="true", JWKS_RETRY_SECONDS="3600")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    module = cold_start(env)  # prefetch meets the bad document at cold start, and must not crash it
    assert idp.counts[idp.discovery_path] == 1
    token = signer.sign(claims(idp.issuer))
    for _ in range(3):
        assert invoke(module, rest_token_event(token))[0] == Outcome(500, "key_source_unavailable")
    # The retry window holds: no request per invocation; no key set was asked for.
    assert idp.counts[idp.discovery_path] == 1 and idp.jwks_fetches == 0
    out = capsys.readouterr().out
    assert "Traceback" not in out and "internal_error" not in out
    assert "hunter2" not in out and "SECRET" not in out


def test_a_bad_discovery_document_is_retried_after_the_window_and_then_works(
    idp: IdentityProvider, signer: KeyPair
) -> None:
    idp.publish(signer)
    idp.documents[idp.discovery_path] = {"issuer": [idp.issuer], "jwks_uri": idp.jwks_uri}
    h = Harness(idp, JWKS_URI="")
    token = h.token(signer)
    assert "names no issuer string" in h.unavailable(token)
    h.unavailable(token)
    assert idp.counts[idp.discovery_path] == 1 and h.events.count("fetch_failed") == 1
    idp.documents[idp.discovery_path] = {"issuer": idp.issuer, "jwks_uri": idp.jwks_uri}
    h.clock.advance(RETRY)
    assert h.verifies(signer)
    assert idp.counts[idp.discovery_path] == 2 and h.fetches == 1


# ----- fuzzing the members of a key ----------------------------------------------------------------

GENUINE = rsa_pair("genuine", slot=0)
MEMBERS = ["kty", "kid", "use", "key_ops", "alg", "n", "e", "x", "y", "crv", "x5c", "x5t", "x5t#S256", "issuer", "d"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([GENUINE.jwk(kid="other"), EC.jwk(kid="other"), RSA_STRANGER.jwk(kid="other")]),
    edits=st.dictionaries(st.sampled_from(MEMBERS), json_values, min_size=1, max_size=4),
)
def test_any_malformed_member_skips_only_its_own_key(base: dict[str, Any], edits: dict[str, Any]) -> None:
    odd = {**base, **edits}
    assume(odd.get("kid") != "genuine")  # a second "genuine" is a duplicate: both copies go, by design
    key_set = parse_jwks({"keys": [odd, GENUINE.jwk()]})
    assert "genuine" in key_set.keys
    for note in key_set.skipped:
        assert note.code and note.code.replace("_", "").isalnum() and note.code.islower(), note
