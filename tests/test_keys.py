"""JWKS parsing: odd keys are skipped with a reason, the genuine keys beside them keep working.

Certificates are real self-signed X.509 certificates made with cryptography's builder, and every
key that loads is proven usable by verifying a token PyJWT signed with its private half.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jwt_authorizer.keys import KeySet, SigningKey, UnusableKey, parse_jwk, parse_jwks
from jwt_authorizer.token import parse_token
from support import KeyPair, claims, ec_pair, rsa_pair, self_signed_certificate

ISSUER = "https://issuer.example"


@pytest.fixture(scope="module")
def rsa_a() -> KeyPair:
    return rsa_pair("a", slot=0)


@pytest.fixture(scope="module")
def rsa_b() -> KeyPair:
    return rsa_pair("b", slot=1)


@pytest.fixture(scope="module")
def ec_p256() -> KeyPair:
    return ec_pair("e256", alg="ES256")


def certificate(pair: KeyPair) -> bytes:
    """A real self-signed certificate for ``pair``'s public key, as DER."""
    return base64.b64decode(self_signed_certificate(pair, f"signing key {pair.kid}"))


def x5c(der: bytes) -> list[str]:
    """``x5c`` holds standard (not URL-safe) base64 DER, RFC 7517 section 4.7."""
    return [base64.b64encode(der).decode()]


def thumbprint(der: bytes, digest: Any) -> str:
    return base64.urlsafe_b64encode(digest(der).digest()).rstrip(b"=").decode()


def proves(key: SigningKey, pair: KeyPair, alg: str | None = None) -> bool:
    """The loaded key verifies a token PyJWT signed with ``pair``'s private key."""
    parsed = parse_token(pair.sign(claims(ISSUER), alg=alg), 16 * 1024)
    return key.verify(alg or pair.alg, parsed.signing_input, parsed.signature)


def cert_only(pair: KeyPair, der: bytes | None = None, **members: Any) -> dict[str, Any]:
    """An RSA JWK with no n/e: the key is only in the certificate."""
    der = certificate(pair) if der is None else der
    return {"kty": "RSA", "kid": pair.kid, "use": "sig", "x5c": x5c(der), **members}


def skipped_because(jwk: Any) -> str:
    with pytest.raises(UnusableKey) as info:
        parse_jwk(jwk)
    return str(info.value)


# ----- certificates -------------------------------------------------------------------------------


def test_rsa_key_given_only_as_a_certificate_verifies(rsa_a: KeyPair) -> None:
    key = parse_jwk(cert_only(rsa_a))
    assert key.kid == "a"
    assert key.kty == "RSA"
    assert isinstance(key.public_key, rsa.RSAPublicKey)
    assert key.public_key.public_numbers() == rsa_a.private.public_key().public_numbers()
    assert proves(key, rsa_a)


def test_n_e_and_an_agreeing_certificate_verify(rsa_a: KeyPair) -> None:
    der = certificate(rsa_a)
    jwk = rsa_a.jwk(
        x5c=x5c(der),
        x5t=thumbprint(der, hashlib.sha1),
        **{"x5t#S256": thumbprint(der, hashlib.sha256)},
    )
    key = parse_jwk(jwk)
    assert proves(key, rsa_a)


def test_certificate_disagreeing_with_n_e_is_skipped(rsa_a: KeyPair, rsa_b: KeyPair) -> None:
    # n/e of key a, certificate of key b: which one is meant is unknowable, so neither is used.
    jwk = rsa_a.jwk(x5c=x5c(certificate(rsa_b)))
    assert skipped_because(jwk) == "x5c[0] and n/e hold different keys"


def test_wrong_x5t_is_skipped_and_the_right_one_accepted(rsa_a: KeyPair, rsa_b: KeyPair) -> None:
    der = certificate(rsa_a)
    other = certificate(rsa_b)
    wrong = cert_only(rsa_a, der, x5t=thumbprint(other, hashlib.sha1))
    assert skipped_because(wrong) == "x5t is not the thumbprint of x5c[0]"
    # A SHA-256 digest in x5t (the SHA-1 member) is wrong too.
    swapped = cert_only(rsa_a, der, x5t=thumbprint(der, hashlib.sha256))
    assert skipped_because(swapped) == "x5t is not the thumbprint of x5c[0]"
    for garbage in ["not base64!", 12, ""]:
        assert skipped_because(cert_only(rsa_a, der, x5t=garbage)) == "x5t is not the thumbprint of x5c[0]"
    assert proves(parse_jwk(cert_only(rsa_a, der, x5t=thumbprint(der, hashlib.sha1))), rsa_a)


def test_x5t_s256_is_checked(rsa_a: KeyPair, rsa_b: KeyPair) -> None:
    der = certificate(rsa_a)
    right = cert_only(rsa_a, der, **{"x5t#S256": thumbprint(der, hashlib.sha256)})
    assert proves(parse_jwk(right), rsa_a)
    wrong = cert_only(rsa_a, der, **{"x5t#S256": thumbprint(certificate(rsa_b), hashlib.sha256)})
    assert skipped_because(wrong) == "x5t#S256 is not the thumbprint of x5c[0]"
    # A right x5t does not excuse a wrong x5t#S256.
    mixed = cert_only(
        rsa_a,
        der,
        x5t=thumbprint(der, hashlib.sha1),
        **{"x5t#S256": thumbprint(der, hashlib.sha1)},
    )
    assert skipped_because(mixed) == "x5t#S256 is not the thumbprint of x5c[0]"


@pytest.mark.parametrize(
    ("chain", "why"),
    [
        ("MIIB", "x5c is not a list of base64 certificates"),
        ([], "x5c is not a list of base64 certificates"),
        ([7], "x5c is not a list of base64 certificates"),
        (["not base64 at all"], "x5c[0] is not a DER certificate"),
        ([base64.b64encode(b"\x30\x03\x02\x01\x01").decode()], "x5c[0] is not a DER certificate"),
    ],
)
def test_malformed_x5c_is_skipped(rsa_a: KeyPair, chain: Any, why: str) -> None:
    assert skipped_because(rsa_a.jwk(x5c=chain)).startswith(why)


def test_certificate_of_another_key_type_is_skipped(ec_p256: KeyPair) -> None:
    jwk = {"kty": "RSA", "kid": "c", "x5c": x5c(certificate(ec_p256))}
    assert skipped_because(jwk) == "x5c[0] does not hold an RSA key"


def test_ec_key_with_an_agreeing_certificate_verifies_and_a_disagreeing_one_is_skipped(
    ec_p256: KeyPair,
) -> None:
    key = parse_jwk(ec_p256.jwk(x5c=x5c(certificate(ec_p256))))
    assert proves(key, ec_p256)
    stranger = ec_pair("stranger", alg="ES256")
    assert skipped_because(ec_p256.jwk(x5c=x5c(certificate(stranger)))) == ("x5c[0] and x/y hold different keys")


# ----- members that rule a key out ------------------------------------------------------------------


def test_encryption_keys_are_skipped(rsa_a: KeyPair) -> None:
    assert skipped_because(rsa_a.jwk(use="enc")) == "use is 'enc', not 'sig'"
    assert skipped_because(rsa_a.jwk(key_ops=["encrypt"])) == "key_ops does not allow 'verify'"
    assert proves(parse_jwk(rsa_a.jwk(key_ops=["verify"])), rsa_a)
    # No use at all is a signing key (RFC 7517 makes use optional).
    assert proves(parse_jwk(rsa_a.jwk(use=None)), rsa_a)


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"},
        {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kid": "no-kty"},
        {"kty": ["RSA"], "kid": "list-kty"},
    ],
)
def test_unknown_key_types_are_skipped_not_fatal(rsa_a: KeyPair, ec_p256: KeyPair, jwk: Any) -> None:
    key_set = parse_jwks({"keys": [jwk, rsa_a.jwk(), ec_p256.jwk()]})
    assert sorted(key_set.keys) == ["a", "e256"]
    assert len(key_set.skipped) == 1
    assert "unsupported kty" in str(key_set.skipped[0]) and key_set.skipped[0].code == "unsupported_kty"
    assert str(key_set.skipped[0]).startswith(f"key 0 (kid {jwk['kid']!r})")
    assert key_set.skipped[0].kid == jwk["kid"]
    assert proves(key_set.keys["a"], rsa_a)
    assert proves(key_set.keys["e256"], ec_p256)


def test_rsa_keys_under_2048_bits_are_refused() -> None:
    weak = rsa_pair("weak", bits=1024, slot=0)
    assert skipped_because(weak.jwk()) == "RSA key of 1024 bits, under 2048"
    assert skipped_because(cert_only(weak)) == "RSA key of 1024 bits, under 2048"


def test_private_keys_are_skipped(rsa_a: KeyPair, ec_p256: KeyPair) -> None:
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    private = "a private key has no place in a public key set"
    # A published private key is a leak; using it as a public key would hide the incident.
    full_rsa = RSAAlgorithm.to_jwk(rsa_a.private, as_dict=True) | {"kid": "a"}
    assert full_rsa["key_ops"] == ["sign"]
    assert skipped_because(full_rsa) == "key_ops does not allow 'verify'"
    del full_rsa["key_ops"]
    assert skipped_because(full_rsa) == private
    assert skipped_because(rsa_a.jwk(d=full_rsa["d"])) == private
    full_ec = ECAlgorithm.to_jwk(ec_p256.private, as_dict=True) | {"kid": "e"}
    full_ec.pop("key_ops", None)
    assert skipped_because(full_ec) == private


def test_a_duplicated_kid_keeps_neither_copy(rsa_a: KeyPair, rsa_b: KeyPair, ec_p256: KeyPair) -> None:
    twin = rsa_b.jwk(kid="a")
    key_set = parse_jwks({"keys": [rsa_a.jwk(), twin, ec_p256.jwk(), rsa_a.jwk()]})
    assert sorted(key_set.keys) == ["e256"]
    assert tuple(map(str, key_set.skipped)) == (
        "key 1 (kid 'a'): kid appears more than once",
        "key 3 (kid 'a'): kid appears more than once",
    )
    # Even an exact copy is ambiguous enough to drop: nothing says which entry the issuer meant.
    copies = parse_jwks({"keys": [rsa_a.jwk(), rsa_a.jwk()]})
    assert dict(copies.keys) == {}


@pytest.mark.parametrize("crv", ["P-192", "secp256k1", "Ed25519", None, ["P-256"], {"P-256": 1}])
def test_ec_keys_on_unknown_curves_are_skipped(ec_p256: KeyPair, crv: Any) -> None:
    jwk = ec_p256.jwk()
    jwk["crv"] = crv
    assert skipped_because(jwk) == f"unsupported curve {crv!r}"


@pytest.mark.parametrize(
    ("pair_name", "alg", "why"),
    [
        ("rsa_a", "ES256", "alg ES256 does not fit an RSA key"),
        ("ec_p256", "RS256", "alg RS256 does not fit an EC key"),
        ("ec_p256", "PS256", "alg PS256 does not fit an EC key"),
        ("ec_p256", "ES384", "alg ES384 does not use curve P-256"),
        ("rsa_a", "HS256", "alg 'HS256' is not one this authorizer verifies"),
        ("rsa_a", "none", "alg 'none' is not one this authorizer verifies"),
        ("rsa_a", ["RS256"], "alg ['RS256'] is not one this authorizer verifies"),
    ],
)
def test_alg_member_must_fit_the_key(request: pytest.FixtureRequest, pair_name: str, alg: Any, why: str) -> None:
    pair: KeyPair = request.getfixturevalue(pair_name)
    assert skipped_because(pair.jwk(alg=alg)) == why


def test_alg_member_that_fits_is_kept(rsa_a: KeyPair, ec_p256: KeyPair) -> None:
    rsa_key = parse_jwk(rsa_a.jwk(alg="PS256"))
    assert rsa_key.alg == "PS256"
    assert proves(rsa_key, rsa_a, alg="PS256")
    ec_key = parse_jwk(ec_p256.jwk(alg="ES256"))
    assert (ec_key.alg, ec_key.curve) == ("ES256", "secp256r1")
    assert proves(ec_key, ec_p256)


@pytest.mark.parametrize(
    ("jwk", "why"),
    [
        ({"kty": "RSA", "use": "sig"}, "no kid"),
        ({"kty": "RSA", "kid": ""}, "no kid"),
        ({"kty": "RSA", "kid": 7}, "no kid"),
        ({"kty": "RSA", "kid": "k"}, "an RSA key needs n/e or x5c"),
        ({"kty": "RSA", "kid": "k", "n": "AQAB"}, "n and e must both be base64url strings"),
        ({"kty": "RSA", "kid": "k", "n": 5, "e": "AQAB"}, "n and e must both be base64url strings"),
        ({"kty": "EC", "kid": "k", "crv": "P-256", "x": "AA", "y": "AA"}, "x/y do not form an EC key"),
        ({"kty": "RSA", "kid": "k", "issuer": 1, "n": "AQAB", "e": "AQAB"}, "issuer is not a string"),
    ],
)
def test_incomplete_keys_are_skipped(jwk: dict[str, Any], why: str) -> None:
    assert skipped_because(jwk).startswith(why)


def test_non_object_entries_are_skipped(rsa_a: KeyPair) -> None:
    key_set = parse_jwks({"keys": [1, "a", None, [rsa_a.jwk()], True, rsa_a.jwk()]})
    assert list(key_set.keys) == ["a"]
    assert tuple(map(str, key_set.skipped)) == tuple(f"key {i} (kid None): not a JSON object" for i in range(5))
    assert proves(key_set.keys["a"], rsa_a)


@pytest.mark.parametrize("document", [[], {"keys": {}}, {"keys": "x"}, {"key": []}, None, "{}"])
def test_a_document_that_is_not_a_jwks_is_refused(document: Any) -> None:
    with pytest.raises(UnusableKey, match='a JWKS must be a JSON object with a "keys" list'):
        parse_jwks(document)


def test_an_empty_list_gives_an_empty_key_set() -> None:
    # Not an error here: the cache decides that "no usable key" is a failed fetch.
    assert parse_jwks({"keys": []}) == KeySet({}, ())


def test_every_supported_curve_loads() -> None:
    for alg, curve in [("ES256", "secp256r1"), ("ES384", "secp384r1"), ("ES512", "secp521r1")]:
        pair = ec_pair(alg.lower(), alg=alg)
        key = parse_jwk(pair.jwk())
        assert key.curve == curve
        assert isinstance(key.public_key, ec.EllipticCurvePublicKey)
        assert proves(key, pair)
