"""The engine against a real loopback identity provider: every reason has a test."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import Reason, TokenRejected
from jwt_authorizer.factory import build_verifier
from jwt_authorizer.verifier import Verifier
from support import IdentityProvider, KeyPair, claims, ec_pair, env_for, rsa_pair

TENANT_A = "11111111-1111-1111-1111-111111111111"
TENANT_B = "22222222-2222-2222-2222-222222222222"


def make(idp: IdentityProvider, **env: str) -> Verifier:
    return build_verifier(load_settings(env_for(idp, **env)))


def reason_of(verifier: Verifier, token: str) -> Reason:
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    return info.value.reason


DUPLICATE_KEYS = b'{"a": 1, "a": 2}'
NAN_CLAIM = b'{"exp": NaN}'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_genuine_token_verifies_through_discovery(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp)
    result = verifier.verify(signer.sign(claims(idp.issuer)))
    assert result.claims["sub"] == "user-1"
    assert result.key.kid == signer.kid
    assert idp.counts[idp.discovery_path] == 1
    assert idp.jwks_fetches == 1
    # Warm: no further request for the same key.
    for _ in range(5):
        verifier.verify(signer.sign(claims(idp.issuer)))
    assert idp.jwks_fetches == 1
    assert idp.last_headers.get("User-Agent", "").startswith("jwt-authorizer/")


def test_jwks_uri_skips_discovery(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp, JWKS_URI=idp.jwks_uri)
    verifier.verify(signer.sign(claims(idp.issuer)))
    assert idp.counts[idp.discovery_path] == 0


def test_discovery_naming_another_issuer_is_not_trusted(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    idp.documents[idp.discovery_path] = {"issuer": "https://evil.example", "jwks_uri": idp.jwks_uri}
    verifier = make(idp)
    from jwt_authorizer.exceptions import KeySourceUnavailable

    with pytest.raises(KeySourceUnavailable):
        verifier.verify(signer.sign(claims(idp.issuer)))
    assert idp.jwks_fetches == 0


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_rsa_family(idp: IdentityProvider, alg: str) -> None:
    pair = rsa_pair("k", slot=1, alg=alg)
    idp.publish(pair)
    verifier = make(idp, ALLOWED_ALGORITHMS=alg)
    assert verifier.verify(pair.sign(claims(idp.issuer))).key.kid == "k"


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_ec_family(idp: IdentityProvider, alg: str) -> None:
    pair = ec_pair("e", alg=alg)
    idp.publish(pair)
    verifier = make(idp, ALLOWED_ALGORITHMS=alg)
    assert verifier.verify(pair.sign(claims(idp.issuer))).key.kid == "e"


# ----- one test per reason ------------------------------------------------------------------------


def test_malformed(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp)
    good = signer.sign(claims(idp.issuer))
    header, payload, signature = good.split(".")
    cases = [
        "",
        "abc",
        f"{header}.{payload}",
        f"{header}.{payload}.{signature}.x",
        f"{header}=.{payload}.{signature}",
        f"{header}.{payload}.{signature}+",
        f"{b64(b'[1,2]')}.{payload}.{signature}",
        f"{b64(b'{not json')}.{payload}.{signature}",
        f"{header}.{b64(DUPLICATE_KEYS)}.{signature}",
        f"{header}.{b64(NAN_CLAIM)}.{signature}",
        f"{header}.{b64(b'[' * 5000 + b']' * 5000)}.{signature}",
        f"{b64(json.dumps({'kid': 'x'}).encode())}.{payload}.{signature}",
        f"{b64(json.dumps({'alg': 'RS256'}).encode())}.{payload}.{signature}",
    ]
    for case in cases:
        assert reason_of(verifier, case) == Reason.MALFORMED_TOKEN, case[:60]
    assert idp.jwks_fetches == 0


def test_non_canonical_base64_is_malformed(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp)
    header, payload, signature = signer.sign(claims(idp.issuer)).split(".")
    # 256 signature bytes leave 4 unused bits in the last character; setting one is another spelling.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[last | 1 if last % 2 == 0 else last & ~1]
    assert reason_of(verifier, f"{header}.{payload}.{twin}") == Reason.MALFORMED_TOKEN


def test_too_large(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp, MAX_TOKEN_BYTES="2048")
    token = signer.sign(claims(idp.issuer, padding="x" * 4000))
    assert reason_of(verifier, token) == Reason.TOKEN_TOO_LARGE


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "HS256", "RS512", "ES256"])
def test_algorithm_not_allowed(idp: IdentityProvider, signer: KeyPair, alg: str) -> None:
    idp.publish(signer)
    verifier = make(idp)
    header = b64(json.dumps({"alg": alg, "kid": signer.kid, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims(idp.issuer)).encode())
    assert reason_of(verifier, f"{header}.{payload}.{b64(b'sig')}") == Reason.UNSUPPORTED_ALGORITHM


def test_crit_header(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    token = signer.sign(claims(idp.issuer), crit=["exp"])
    assert reason_of(make(idp), token) == Reason.UNSUPPORTED_CRITICAL_HEADER


def test_unknown_key(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    other = rsa_pair("not-published", slot=1)
    assert reason_of(make(idp), other.sign(claims(idp.issuer))) == Reason.UNKNOWN_KEY


def test_bad_signature_with_another_key_under_the_same_kid(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    forger = rsa_pair(signer.kid, slot=1)
    assert reason_of(make(idp), forger.sign(claims(idp.issuer))) == Reason.BAD_SIGNATURE


def test_bad_signature_when_payload_is_swapped(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    header, _, signature = signer.sign(claims(idp.issuer)).split(".")
    payload = b64(json.dumps(claims(idp.issuer, sub="admin")).encode())
    assert reason_of(make(idp), f"{header}.{payload}.{signature}") == Reason.BAD_SIGNATURE


def test_key_type_must_fit_algorithm(idp: IdentityProvider) -> None:
    ec_key = ec_pair("shared-kid")
    rsa_key = rsa_pair("shared-kid", slot=1)
    idp.publish(ec_key)
    verifier = make(idp, ALLOWED_ALGORITHMS="RS256,ES256")
    assert reason_of(verifier, rsa_key.sign(claims(idp.issuer))) == Reason.KEY_MISMATCH


def test_key_alg_must_equal_token_alg(idp: IdentityProvider) -> None:
    pair = rsa_pair("k", slot=1)
    idp.documents[idp.jwks_path] = {"keys": [pair.jwk(alg="RS512")]}
    verifier = make(idp, ALLOWED_ALGORITHMS="RS256,RS512")
    assert reason_of(verifier, pair.sign(claims(idp.issuer), alg="RS256")) == Reason.KEY_MISMATCH
    assert verifier.verify(pair.sign(claims(idp.issuer), alg="RS512")).key.alg == "RS512"


def test_expired_not_yet_valid_and_future_iat(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp, CLOCK_SKEW_SECONDS="30")
    now = int(time.time())
    assert reason_of(verifier, signer.sign(claims(idp.issuer, exp=now - 31))) == Reason.EXPIRED
    assert reason_of(verifier, signer.sign(claims(idp.issuer, nbf=now + 120))) == Reason.NOT_YET_VALID
    assert reason_of(verifier, signer.sign(claims(idp.issuer, iat=now + 120))) == Reason.ISSUED_IN_FUTURE
    # Inside the skew, all three are accepted.
    verifier.verify(signer.sign(claims(idp.issuer, exp=now - 10, nbf=now + 10, iat=now + 10)))


def test_missing_and_invalid_time_claims(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp)
    assert reason_of(verifier, signer.sign(claims(idp.issuer, exp=None))) == Reason.MISSING_CLAIM
    for bad in ["soon", True, [1], 1e400]:
        body = claims(idp.issuer)
        body["exp"] = bad
        token = signer.sign(body) if bad != 1e400 else None
        if token is None:
            header = b64(json.dumps({"alg": "RS256", "kid": signer.kid}).encode())
            raw = json.dumps(claims(idp.issuer)).replace(str(body["iat"] + 600), "1e400")
            token = f"{header}.{b64(raw.encode())}.{b64(b'x' * 256)}"
            assert reason_of(verifier, token) in {Reason.INVALID_CLAIM, Reason.BAD_SIGNATURE}
            continue
        assert reason_of(verifier, token) == Reason.INVALID_CLAIM, bad


def test_wrong_issuer_costs_no_fetch(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp)
    assert reason_of(verifier, signer.sign(claims("https://evil.example"))) == Reason.WRONG_ISSUER
    assert reason_of(verifier, signer.sign(claims(idp.issuer + "/"))) == Reason.WRONG_ISSUER
    assert reason_of(verifier, signer.sign(claims(None))) == Reason.MISSING_CLAIM
    assert idp.jwks_fetches == 0


def test_audience_any_of(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp, AUDIENCE="api://one, client-id-2")
    verifier.verify(signer.sign(claims(idp.issuer, audience="client-id-2")))
    verifier.verify(signer.sign(claims(idp.issuer, audience=["other", "api://one"])))
    assert reason_of(verifier, signer.sign(claims(idp.issuer, audience="api://two"))) == Reason.WRONG_AUDIENCE
    assert reason_of(verifier, signer.sign(claims(idp.issuer, audience=[]))) == Reason.WRONG_AUDIENCE
    assert reason_of(verifier, signer.sign(claims(idp.issuer, audience=None))) == Reason.MISSING_CLAIM
    assert reason_of(verifier, signer.sign(claims(idp.issuer, audience=7))) == Reason.INVALID_CLAIM


def test_graph_token(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp)
    with_nonce = signer.sign(claims(idp.issuer), nonce="abc")
    assert reason_of(verifier, with_nonce) == Reason.GRAPH_TOKEN
    for_graph = signer.sign(claims(idp.issuer, audience="https://graph.microsoft.com"))
    assert reason_of(verifier, for_graph) == Reason.GRAPH_TOKEN


def test_tenant_template(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    template = idp.base + "/{tenantid}/v2.0"
    verifier = make(idp, ISSUER=template, JWKS_URI=idp.jwks_uri, ALLOWED_TENANTS=TENANT_A)
    iss_a = f"{idp.base}/{TENANT_A}/v2.0"
    iss_b = f"{idp.base}/{TENANT_B}/v2.0"
    verifier.verify(signer.sign(claims(iss_a, tid=TENANT_A)))
    assert reason_of(verifier, signer.sign(claims(iss_b, tid=TENANT_B))) == Reason.TENANT_NOT_ALLOWED
    # The tenant in iss must be the tid claim.
    assert reason_of(verifier, signer.sign(claims(iss_a, tid=TENANT_B))) == Reason.WRONG_ISSUER
    assert reason_of(verifier, signer.sign(claims(iss_a))) == Reason.MISSING_CLAIM
    # With ALLOWED_TENANTS=*, any tenant of the template is accepted, on purpose.
    open_verifier = make(idp, ISSUER=template, JWKS_URI=idp.jwks_uri, ALLOWED_TENANTS="*")
    open_verifier.verify(signer.sign(claims(iss_b, tid=TENANT_B)))


def test_allowed_tenants_applies_to_a_fixed_issuer(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = make(idp, ALLOWED_TENANTS=TENANT_A)
    verifier.verify(signer.sign(claims(idp.issuer, tid=TENANT_A)))
    assert reason_of(verifier, signer.sign(claims(idp.issuer, tid=TENANT_B))) == Reason.TENANT_NOT_ALLOWED


def test_key_issuer_member_must_match(idp: IdentityProvider) -> None:
    pair = rsa_pair("k", slot=1)
    template = idp.base + "/{tenantid}/v2.0"
    idp.documents[idp.jwks_path] = {"keys": [pair.jwk(issuer=f"{idp.base}/{TENANT_A}/v2.0")]}
    verifier = make(idp, ISSUER=template, JWKS_URI=idp.jwks_uri, ALLOWED_TENANTS="*")
    verifier.verify(pair.sign(claims(f"{idp.base}/{TENANT_A}/v2.0", tid=TENANT_A)))
    token_b = pair.sign(claims(f"{idp.base}/{TENANT_B}/v2.0", tid=TENANT_B))
    assert reason_of(verifier, token_b) == Reason.KEY_MISMATCH


def _forge_header(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(header + "=="))
    decoded.update(changes)
    return f"{b64(json.dumps(decoded).encode())}.{payload}.{signature}"


def test_header_key_hints_are_never_followed(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    attacker = rsa_pair("attacker", slot=1)
    verifier = make(idp)
    body = claims(idp.issuer)
    cases = [
        attacker.sign(body, jku=idp.base + "/attacker-keys"),
        attacker.sign(body, x5u=idp.base + "/attacker-cert"),
        attacker.sign(body, jwk=attacker.jwk()),
    ]
    for token in cases:
        assert reason_of(verifier, token) == Reason.UNKNOWN_KEY
    assert idp.counts["/attacker-keys"] == 0
    assert idp.counts["/attacker-cert"] == 0
    # The same attacker, claiming the genuine kid: the signature fails.
    forged = attacker.sign(body, kid=signer.kid, jwk=attacker.jwk(kid=signer.kid))
    assert reason_of(verifier, forged) == Reason.BAD_SIGNATURE


def test_hmac_keyed_with_the_public_key_is_refused(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pem = signer.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = b64(json.dumps({"alg": "HS256", "kid": signer.kid}).encode())
    payload = b64(json.dumps(claims(idp.issuer)).encode())
    import hashlib
    import hmac

    mac = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    verifier = make(idp, ALLOWED_ALGORITHMS="RS256,ES256")
    assert reason_of(verifier, f"{header}.{payload}.{b64(mac)}") == Reason.UNSUPPORTED_ALGORITHM


def test_pyjwt_agrees_on_what_we_accept(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    token = signer.sign(claims(idp.issuer))
    make(idp).verify(token)
    jwt.decode(token, signer.private.public_key(), algorithms=["RS256"], audience="api://test")
