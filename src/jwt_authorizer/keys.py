"""Turning a JWKS document into verification keys, skipping what cannot be trusted.

A key set is third-party input even when it comes from the right issuer: one odd key (an
encryption key, an unknown ``kty``, a certificate that disagrees with ``n``/``e``, a member of the
wrong JSON type, a certificate whose key type cannot be loaded) is skipped with a note, never
fatal, so the genuine keys beside it keep working. Each JWK is parsed on its own, and whatever a
malformed member makes a library raise is caught there. Keys are built once per fetch, never per
request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from jwt.algorithms import Algorithm, ECAlgorithm, RSAAlgorithm, RSAPSSAlgorithm
from jwt.exceptions import InvalidKeyError

from .token import b64url_decode

MIN_RSA_BITS = 2048

# One PyJWT algorithm object per JWS name, built once: they are stateless verifiers.
_ALGORITHMS: dict[str, Algorithm] = {
    "RS256": RSAAlgorithm(RSAAlgorithm.SHA256),
    "RS384": RSAAlgorithm(RSAAlgorithm.SHA384),
    "RS512": RSAAlgorithm(RSAAlgorithm.SHA512),
    "PS256": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA256),
    "PS384": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA384),
    "PS512": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA512),
    "ES256": ECAlgorithm(ECAlgorithm.SHA256),
    "ES384": ECAlgorithm(ECAlgorithm.SHA384),
    "ES512": ECAlgorithm(ECAlgorithm.SHA512),
}
_DIGESTS = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
_RSA_SCHEMES: dict[str, tuple[padding.AsymmetricPadding, hashes.HashAlgorithm]] = {
    **{f"RS{bits}": (padding.PKCS1v15(), digest) for bits, digest in _DIGESTS.items()},
    **{
        f"PS{bits}": (padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest)
        for bits, digest in _DIGESTS.items()
    },
}
_CURVE_FOR_ALG = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_JWK_CURVES = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1"}


def kty_for_algorithm(alg: str) -> str:
    """The JWK key type an algorithm needs (RFC 7518 section 3.1)."""
    return "EC" if alg.startswith("ES") else "RSA"


class SigningKey(NamedTuple):
    """One usable public key from a JWKS, with the members that constrain its use."""

    kid: str
    kty: str
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    alg: str | None = None
    issuer: str | None = None
    curve: str | None = None

    def accepts(self, alg: str) -> str | None:
        """Why this key cannot verify ``alg`` (``None`` when it can): RFC 8725 section 3.1."""
        if self.kty != kty_for_algorithm(alg):
            return f"key {self.kid!r} is {self.kty}, the token's algorithm {alg} needs another type"
        if self.alg is not None and self.alg != alg:
            return f"key {self.kid!r} is declared for {self.alg}, the token says {alg}"
        if self.curve is not None and _CURVE_FOR_ALG.get(alg) != self.curve:
            return f"key {self.kid!r} is on curve {self.curve}, which {alg} does not use"
        return None

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """Check a signature with cryptography; never raises on bad input.

        RSA goes straight to cryptography with padding and hash objects built once (PyJWT builds
        them on every call); ECDSA goes through PyJWT, which turns JOSE's raw r||s into DER and
        refuses signatures of the wrong length.
        """
        rsa_scheme = _RSA_SCHEMES.get(alg)
        if rsa_scheme is None:
            return _ALGORITHMS[alg].verify(signing_input, self.public_key, signature)
        key = self.public_key
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        try:
            key.verify(signature, signing_input, rsa_scheme[0], rsa_scheme[1])
        except InvalidSignature:
            return False
        return True


class SkippedKey(NamedTuple):
    """One JWK left out of a key set: where it was, its ``kid`` (when a string), and why.

    ``code`` is short and stable (for logs and metrics), ``detail`` the sentence for people.
    """

    position: int
    kid: str | None
    code: str
    detail: str

    def __str__(self) -> str:
        return f"key {self.position} (kid {self.kid!r}): {self.detail}"


class KeySet:
    """The keys of one fetch, by ``kid``, and the ones that were skipped (never changed once built)."""

    __slots__ = ("keys", "skipped")

    def __init__(self, keys: Mapping[str, SigningKey], skipped: tuple[SkippedKey, ...] = ()) -> None:
        self.keys = keys
        self.skipped = skipped

    def __len__(self) -> int:
        return len(self.keys)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeySet) and (self.keys, self.skipped) == (other.keys, other.skipped)

    __hash__ = None  # type: ignore[assignment]  # compared by content, like the dataclass it was

    def __repr__(self) -> str:
        return f"KeySet(keys={sorted(self.keys)!r}, skipped={list(self.skipped)!r})"

    def skipped_words(self) -> str:
        return "; ".join(str(note) for note in self.skipped)


class UnusableKey(ValueError):
    """A JWK that is skipped; the message says why, ``code`` says it in one word."""

    def __init__(self, message: str, code: str = "unusable") -> None:
        super().__init__(message)
        self.code = code


def _certificate_key(jwk: Mapping[str, Any]) -> PublicKeyTypes | None:
    """Load ``x5c[0]`` and check ``x5t``/``x5t#S256`` against it; ``None`` without ``x5c``.

    The certificate is not validated as a chain (the JWKS URI is what we trust, RFC 7517 section
    4.7 leaves that to the application), but when it is present it must be the same key, so that
    a consumer reading ``x5c`` and one reading ``n``/``e`` never trust two different keys.
    """
    chain = jwk.get("x5c")
    if chain is None:
        return None
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise UnusableKey("x5c is not a list of base64 certificates", "x5c_malformed")
    # Imported on first use: the x509 machinery is a third of cryptography's import time, and a
    # key set without certificates (most non-Entra issuers) never needs it.
    from cryptography import x509  # noqa: PLC0415

    try:
        der = base64.b64decode(chain[0], validate=True)
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, binascii.Error) as exc:
        raise UnusableKey(f"x5c[0] is not a DER certificate: {exc}", "x5c_not_a_certificate") from None
    try:
        public_key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise UnusableKey(f"x5c[0] holds a key that cannot be loaded: {exc}", "x5c_key_unsupported") from None
    der = cert.public_bytes(Encoding.DER)
    for member, digest in (("x5t", hashlib.sha1), ("x5t#S256", hashlib.sha256)):
        thumbprint = jwk.get(member)
        if thumbprint is None:
            continue
        try:
            matches = isinstance(thumbprint, str) and b64url_decode(thumbprint) == digest(der).digest()
        except ValueError:
            matches = False
        if not matches:
            raise UnusableKey(f"{member} is not the thumbprint of x5c[0]", "x5t_mismatch")
    return public_key


def _rsa_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    from_cert = _certificate_key(jwk)
    if from_cert is not None and not isinstance(from_cert, rsa.RSAPublicKey):
        raise UnusableKey("x5c[0] does not hold an RSA key", "x5c_key_mismatch")
    if "n" in jwk or "e" in jwk:
        if not isinstance(jwk.get("n"), str) or not isinstance(jwk.get("e"), str):
            raise UnusableKey("n and e must both be base64url strings", "rsa_members_malformed")
        if "d" in jwk:
            raise UnusableKey("a private key has no place in a public key set", "private_key")
        try:
            key = RSAAlgorithm.from_jwk(dict(jwk))
        except (InvalidKeyError, ValueError, TypeError) as exc:
            raise UnusableKey(f"n/e do not form an RSA key: {exc}", "rsa_key_invalid") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise UnusableKey("not an RSA public key", "rsa_key_invalid")
        if from_cert is not None and from_cert.public_numbers() != key.public_numbers():
            raise UnusableKey("x5c[0] and n/e hold different keys", "x5c_key_mismatch")
    elif from_cert is not None:
        key = from_cert
    else:
        raise UnusableKey("an RSA key needs n/e or x5c", "rsa_members_malformed")
    if key.key_size < MIN_RSA_BITS:
        raise UnusableKey(f"RSA key of {key.key_size} bits, under {MIN_RSA_BITS}", "rsa_key_too_small")
    return key


def _ec_key(jwk: Mapping[str, Any]) -> tuple[ec.EllipticCurvePublicKey, str]:
    crv = jwk.get("crv")
    # A JSON list or object here is malformed input, not a reason to crash the whole key set.
    curve = _JWK_CURVES.get(crv) if isinstance(crv, str) else None
    if curve is None:
        raise UnusableKey(f"unsupported curve {crv!r}", "unsupported_curve")
    alg = jwk.get("alg")
    if alg is not None and _CURVE_FOR_ALG.get(alg) != curve:
        # Such a key could never verify anything (``SigningKey.accepts``); say so once, here.
        raise UnusableKey(f"alg {alg} does not use curve {crv}", "alg_curve_mismatch")
    if "d" in jwk:
        raise UnusableKey("a private key has no place in a public key set", "private_key")
    if not isinstance(jwk.get("x"), str) or not isinstance(jwk.get("y"), str):
        raise UnusableKey("x and y must both be base64url strings", "ec_members_malformed")
    try:
        key = ECAlgorithm.from_jwk(dict(jwk))
    except (InvalidKeyError, ValueError, TypeError) as exc:
        raise UnusableKey(f"x/y do not form an EC key: {exc}", "ec_key_invalid") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UnusableKey("not an EC public key", "ec_key_invalid")
    from_cert = _certificate_key(jwk)
    if from_cert is not None and (
        not isinstance(from_cert, ec.EllipticCurvePublicKey) or from_cert.public_numbers() != key.public_numbers()
    ):
        raise UnusableKey("x5c[0] and x/y hold different keys", "x5c_key_mismatch")
    return key, curve


def parse_jwk(jwk: Any) -> SigningKey:
    """One JWK to a ``SigningKey``, or ``UnusableKey`` saying why it is skipped."""
    if not isinstance(jwk, dict):
        raise UnusableKey("not a JSON object", "not_an_object")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise UnusableKey("no kid", "no_kid")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise UnusableKey(f"use is {_short(use)}, not 'sig'", "not_for_signing")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise UnusableKey("key_ops does not allow 'verify'", "not_for_signing")
    alg = jwk.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in _ALGORITHMS):
        raise UnusableKey(f"alg {_short(alg)} is not one this authorizer verifies", "unsupported_alg")
    issuer = jwk.get("issuer")
    if issuer is not None and not isinstance(issuer, str):
        raise UnusableKey("issuer is not a string", "issuer_malformed")
    kty = jwk.get("kty")
    if kty == "RSA":
        if alg is not None and kty_for_algorithm(alg) != "RSA":
            raise UnusableKey(f"alg {alg} does not fit an RSA key", "alg_kty_mismatch")
        return SigningKey(kid, "RSA", _rsa_key(jwk), alg, issuer)
    if kty == "EC":
        if alg is not None and kty_for_algorithm(alg) != "EC":
            raise UnusableKey(f"alg {alg} does not fit an EC key", "alg_kty_mismatch")
        key, curve = _ec_key(jwk)
        return SigningKey(kid, "EC", key, alg, issuer, curve)
    raise UnusableKey(f"unsupported kty {_short(kty)}", "unsupported_kty")


def _short(value: Any) -> str:
    """A JSON member's value for a note, clipped: key sets are third-party input."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def parse_jwks(document: Any) -> KeySet:
    """A JWKS document to a ``KeySet``; a duplicated ``kid`` keeps neither copy (ambiguous).

    Each JWK is parsed on its own: an exception of any kind from one of them (a library meeting a
    member of the wrong type, say) skips that key only, noted with its ``kid`` and a reason.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise UnusableKey('a JWKS must be a JSON object with a "keys" list', "not_a_jwks")
    keys: dict[str, SigningKey] = {}
    skipped: list[SkippedKey] = []
    duplicated: set[str] = set()
    for index, jwk in enumerate(document["keys"]):
        raw_kid = jwk.get("kid") if isinstance(jwk, dict) else None
        kid = raw_kid[:256] if isinstance(raw_kid, str) else None
        try:
            key = parse_jwk(jwk)
        except UnusableKey as exc:
            skipped.append(SkippedKey(index, kid, exc.code, str(exc)))
            continue
        except Exception as exc:  # one malformed key must never take the others down
            skipped.append(SkippedKey(index, kid, "malformed", f"malformed key ({type(exc).__name__})"))
            continue
        if key.kid in keys or key.kid in duplicated:
            duplicated.add(key.kid)
            keys.pop(key.kid, None)
            skipped.append(SkippedKey(index, key.kid, "duplicate_kid", "kid appears more than once"))
            continue
        keys[key.kid] = key
    return KeySet(keys, tuple(skipped))
