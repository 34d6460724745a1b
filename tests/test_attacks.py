"""The adversarial suite: one class per attack family, every case with its exact outcome.

Each case is checked twice where it makes sense: by the engine (``Verifier.verify``, asserting the
rejection's ``reason``) and by the Lambda handler (``Outcome``: the status API Gateway would answer
and the ``reason`` of the handler's log line). A case that the handler refuses earlier than the
engine (an ``Authorization`` value that is not a bearer token) says so explicitly.

The world shared by the classes: a loopback issuer publishing a genuine RSA key, a genuine P-256
key and the genuine RSA key again under a ``kid`` declared for RS512 only; the function allows
RS256, RS512, ES256 and ES384. A second loopback server plays the attacker's host and counts every
request it receives, which must stay at zero.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appload import cold_start
from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import ConfigurationError, Reason, TokenRejected
from jwt_authorizer.factory import build_verifier
from jwt_authorizer.verifier import Verifier
from support import (
    IdentityProvider,
    KeyPair,
    Outcome,
    answer_with,
    b64url,
    claims,
    compose,
    ec_pair,
    env_for,
    http_v1_event,
    http_v2_event,
    invoke,
    log_lines_of,
    outcome_of,
    preserved_environ,
    quick_provider,
    rest_request_event,
    rest_token_event,
    rsa_pair,
    self_signed_certificate,
    sign_parts,
    stop_quickly,
    websocket_connect_event,
)

ALLOWED = "RS256,RS512,ES256,ES384"
GENUINE = rsa_pair("genuine-rsa", slot=0)
GENUINE_EC = ec_pair("genuine-ec")
# The genuine RSA key once more, published with "alg": "RS512": it may verify RS512 and nothing else.
DECLARED_RS512 = KeyPair(GENUINE.private, "declared-rs512", "RS512", extra={"alg": "RS512"})
ATTACKER = rsa_pair("attacker-rsa", slot=1)
ATTACKER_EC = ec_pair("attacker-ec")
# The order of P-256 (SEC 2, section 2.4.2): r and s of an ES256 signature live in [1, n - 1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

ALLOW = Outcome(200, "granted")


@dataclass
class World:
    idp: IdentityProvider
    evil: IdentityProvider
    env: dict[str, str]
    engine: Verifier
    app: ModuleType

    @property
    def issuer(self) -> str:
        return self.idp.issuer

    def fresh_engine(self, **env: str) -> Verifier:
        """An engine with its own, empty key cache (for counting fetches)."""
        return build_verifier(load_settings({**self.env, **env}))

    def body(self, **extra: Any) -> dict[str, Any]:
        return claims(self.idp.issuer, **extra)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    idp, evil = quick_provider(), quick_provider()
    idp.publish(GENUINE, GENUINE_EC, DECLARED_RS512)
    evil.publish(ATTACKER, ATTACKER_EC)
    evil.documents["/cert.pem"] = {"x5c": [self_signed_certificate(ATTACKER)]}
    env = env_for(idp, ALLOWED_ALGORITHMS=ALLOWED)
    with preserved_environ():
        app = cold_start(env)
        yield World(idp, evil, env, build_verifier(load_settings(env)), app)
    stop_quickly(idp)
    stop_quickly(evil)


def reason_of(engine: Verifier, token: str) -> Reason:
    with pytest.raises(TokenRejected) as info:
        engine.verify(token)
    return info.value.reason


def refused(world: World, token: str, reason: Reason, *, by_handler: Reason | None = None) -> None:
    """The engine refuses ``token`` for ``reason``; the handler answers 401 for the same reason.

    ``by_handler`` names the reason when the handler stops the token before the engine sees it.
    """
    assert reason_of(world.engine, token) == reason
    assert outcome_of(world.app, rest_token_event(token)) == Outcome(401, str(by_handler or reason))


def accepted(world: World, token: str) -> None:
    world.engine.verify(token)
    assert outcome_of(world.app, rest_token_event(token)) == ALLOW


def header_of(pair: KeyPair, **members: Any) -> dict[str, Any]:
    header = {"alg": pair.alg, "typ": "JWT", "kid": pair.kid, **members}
    return {k: v for k, v in header.items() if v is not None}


def signature_of(token: str) -> bytes:
    segment = token.rsplit(".", 1)[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def with_signature(token: str, signature: bytes) -> str:
    return f"{token.rsplit('.', 1)[0]}.{b64url(signature)}"


def test_the_world_accepts_its_genuine_tokens(world: World) -> None:
    """The control case: every refusal below is about the attack, not a broken setup."""
    accepted(world, GENUINE.sign(world.body()))
    accepted(world, GENUINE_EC.sign(world.body()))
    accepted(world, DECLARED_RS512.sign(world.body()))


# ==================================================================================================
# Algorithm confusion (RFC 8725 sections 2.1, 3.1, 3.2)
# ==================================================================================================


class TestAlgorithmConfusion:
    @pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "NoNe", "none "])
    def test_none_in_any_casing_is_not_an_allowed_algorithm(self, world: World, alg: str) -> None:
        token = compose(header_of(GENUINE, alg=alg), world.body(), b"\x00")
        refused(world, token, Reason.UNSUPPORTED_ALGORITHM)

    def test_none_with_a_real_signature_attached_is_still_none(self, world: World) -> None:
        genuine = GENUINE.sign(world.body())
        token = compose(header_of(GENUINE, alg="none"), world.body(), signature_of(genuine))
        refused(world, token, Reason.UNSUPPORTED_ALGORITHM)

    @pytest.mark.parametrize("alg", ["none", "NONE"])
    def test_unsecured_jws_with_an_empty_signature_is_malformed(self, world: World, alg: str) -> None:
        """RFC 7515 appendix A.5 form ``header.payload.``: refused before any algorithm check."""
        token = compose(header_of(GENUINE, alg=alg), world.body()).rsplit(".", 1)[0] + "."
        refused(world, token, Reason.MALFORMED_TOKEN)

    @pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
    @pytest.mark.parametrize("form", ["pem-spki", "pem-pkcs1", "der", "jwk-json", "modulus"])
    def test_hmac_keyed_with_the_published_public_key(self, world: World, alg: str, form: str) -> None:
        """The classic confusion: the verifier's own public key used as the HMAC secret."""
        public = GENUINE.private.public_key()
        secret = {
            "pem-spki": public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
            "pem-pkcs1": public.public_bytes(Encoding.PEM, PublicFormat.PKCS1),
            "der": public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
            "jwk-json": json.dumps(GENUINE.jwk()).encode(),
            "modulus": public.public_numbers().n.to_bytes(256, "big"),
        }[form]
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        signing_input = compose(header_of(GENUINE, alg=alg), world.body()).rsplit(".", 1)[0]
        mac = hmac.new(secret, signing_input.encode(), digest).digest()
        refused(world, f"{signing_input}.{b64url(mac)}", Reason.UNSUPPORTED_ALGORITHM)

    def test_hmac_keyed_with_the_ec_public_key(self, world: World) -> None:
        secret = GENUINE_EC.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        signing_input = compose(header_of(GENUINE_EC, alg="HS256"), world.body()).rsplit(".", 1)[0]
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        refused(world, f"{signing_input}.{b64url(mac)}", Reason.UNSUPPORTED_ALGORITHM)

    @pytest.mark.parametrize("alg", ["none", "None", "HS256", "hs512", "EdDSA", "RS1", "ES256K"])
    def test_the_allowlist_cannot_be_configured_to_confusable_algorithms(self, world: World, alg: str) -> None:
        with pytest.raises(ConfigurationError) as info:
            load_settings({**world.env, "ALLOWED_ALGORITHMS": f"RS256,{alg}"})
        assert info.value.variable == "ALLOWED_ALGORITHMS"

    @pytest.mark.parametrize("alg", ["RS384", "PS256", "PS512"])
    def test_a_genuine_signature_under_an_algorithm_outside_the_allowlist(self, world: World, alg: str) -> None:
        """Signed by the genuine key, correctly: the allowlist is still the only authority."""
        token = GENUINE.sign(world.body(), alg=alg)
        refused(world, token, Reason.UNSUPPORTED_ALGORITHM)

    def test_es512_outside_the_allowlist(self, world: World) -> None:
        token = ec_pair(GENUINE_EC.kid, alg="ES512").sign(world.body())
        refused(world, token, Reason.UNSUPPORTED_ALGORITHM)

    @pytest.mark.parametrize("alg", ["rs256", "Rs256", "RS256 ", " RS256", "RS256\u0000", "EdDSA", "HS256", ""])
    def test_spellings_near_an_allowed_algorithm(self, world: World, alg: str) -> None:
        token = compose(header_of(GENUINE, alg=alg), world.body(), signature_of(GENUINE.sign(world.body())))
        refused(world, token, Reason.UNSUPPORTED_ALGORITHM)

    @pytest.mark.parametrize("alg", [None, 256, True, ["RS256"], {"RS256": True}])
    def test_alg_that_is_not_a_string(self, world: World, alg: Any) -> None:
        header = {"typ": "JWT", "kid": GENUINE.kid} if alg is None else {"alg": alg, "kid": GENUINE.kid}
        token = compose(header, world.body(), signature_of(GENUINE.sign(world.body())))
        refused(world, token, Reason.MALFORMED_TOKEN)

    def test_jwk_alg_must_equal_the_token_alg(self, world: World) -> None:
        """RFC 8725 section 3.1: a key declared for RS512 verifies no RS256 token, even its own."""
        refused(world, DECLARED_RS512.sign(world.body(), alg="RS256"), Reason.KEY_MISMATCH)
        accepted(world, DECLARED_RS512.sign(world.body(), alg="RS512"))

    def test_rsa_kid_with_an_ec_algorithm(self, world: World) -> None:
        forged = KeyPair(ATTACKER_EC.private, GENUINE.kid, "ES256").sign(world.body())
        refused(world, forged, Reason.KEY_MISMATCH)

    def test_ec_kid_with_an_rsa_algorithm(self, world: World) -> None:
        forged = KeyPair(ATTACKER.private, GENUINE_EC.kid, "RS256").sign(world.body())
        refused(world, forged, Reason.KEY_MISMATCH)

    def test_p256_key_with_es384(self, world: World) -> None:
        """Both allowed, but ES384 needs P-384: the curve decides, not the header."""
        forged = KeyPair(ec_pair(alg="ES384").private, GENUINE_EC.kid, "ES384").sign(world.body())
        refused(world, forged, Reason.KEY_MISMATCH)


# ==================================================================================================
# Header injection: jku, x5u, jwk, x5c, kid (RFC 8725 section 3.10)
# ==================================================================================================


class TestHeaderInjection:
    @pytest.fixture(autouse=True)
    def _attacker_host_stays_silent(self, world: World) -> Iterator[None]:
        before = sum(world.evil.counts.values())
        yield
        assert sum(world.evil.counts.values()) == before, "the authorizer contacted the attacker's host"

    @pytest.mark.parametrize("member", ["jku", "x5u"])
    def test_key_url_with_the_attackers_kid(self, world: World, member: str) -> None:
        url = world.evil.jwks_uri if member == "jku" else f"{world.evil.base}/cert.pem"
        refused(world, ATTACKER.sign(world.body(), **{member: url}), Reason.UNKNOWN_KEY)

    @pytest.mark.parametrize("member", ["jku", "x5u"])
    def test_key_url_with_the_genuine_kid(self, world: World, member: str) -> None:
        url = world.evil.jwks_uri if member == "jku" else f"{world.evil.base}/cert.pem"
        forged = ATTACKER.sign(world.body(), kid=GENUINE.kid, **{member: url})
        refused(world, forged, Reason.BAD_SIGNATURE)

    def test_key_url_on_the_genuine_issuers_host(self, world: World) -> None:
        """Even a URL on the trusted host is not followed: keys come from configuration only."""
        world.idp.documents["/attacker-upload"] = {"keys": [ATTACKER.jwk()]}
        forged = ATTACKER.sign(world.body(), jku=f"{world.idp.base}/attacker-upload")
        refused(world, forged, Reason.UNKNOWN_KEY)
        assert world.idp.counts["/attacker-upload"] == 0

    def test_embedded_jwk_with_the_attackers_kid(self, world: World) -> None:
        refused(world, ATTACKER.sign(world.body(), jwk=ATTACKER.jwk()), Reason.UNKNOWN_KEY)

    def test_embedded_jwk_with_the_genuine_kid(self, world: World) -> None:
        forged = ATTACKER.sign(world.body(), kid=GENUINE.kid, jwk=ATTACKER.jwk(kid=GENUINE.kid))
        refused(world, forged, Reason.BAD_SIGNATURE)

    def test_embedded_ec_jwk_with_the_genuine_ec_kid(self, world: World) -> None:
        forged = KeyPair(ATTACKER_EC.private, GENUINE_EC.kid, "ES256")
        refused(world, forged.sign(world.body(), jwk=ATTACKER_EC.jwk(kid=GENUINE_EC.kid)), Reason.BAD_SIGNATURE)

    def test_embedded_jwk_without_kid(self, world: World) -> None:
        """A header that names its key only by value has no key we could look up."""
        token = ATTACKER.sign(world.body(), kid=None, jwk=ATTACKER.jwk())
        refused(world, token, Reason.MALFORMED_TOKEN)

    def test_x5c_attacker_certificate_with_the_attackers_kid(self, world: World) -> None:
        cert = self_signed_certificate(ATTACKER)
        refused(world, ATTACKER.sign(world.body(), x5c=[cert]), Reason.UNKNOWN_KEY)

    def test_x5c_attacker_certificate_with_the_genuine_kid(self, world: World) -> None:
        cert = self_signed_certificate(ATTACKER, common_name="login.microsoftonline.com")
        thumbprint = b64url(hashlib.sha256(base64.b64decode(cert)).digest())
        forged = ATTACKER.sign(world.body(), kid=GENUINE.kid, x5c=[cert], **{"x5t#S256": thumbprint})
        refused(world, forged, Reason.BAD_SIGNATURE)

    def test_x5c_without_kid(self, world: World) -> None:
        token = ATTACKER.sign(world.body(), kid=None, x5c=[self_signed_certificate(ATTACKER)])
        refused(world, token, Reason.MALFORMED_TOKEN)

    KIDS: tuple[str, ...] = (
        "../../../../etc/passwd",
        "/dev/null",
        "..\\..\\windows\\win.ini",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "' OR '1'='1",
        "genuine-rsa' --",
        "1; DROP TABLE keys; --",
        '{"$ne": null}',
        "*",
        "genuine-rsa\u0000",
        "GENUINE-RSA",
        " genuine-rsa",
        "genuine-rsa ",
        "__proto__",
        "k" * 256,
    )

    @pytest.mark.parametrize("kid", KIDS)
    def test_kid_with_path_or_query_text_signed_by_the_genuine_key(self, world: World, kid: str) -> None:
        """The kid is a dictionary key and nothing else: no file, no URL, no query, no fuzzy match."""
        refused(world, KeyPair(GENUINE.private, kid, "RS256").sign(world.body()), Reason.UNKNOWN_KEY)

    def test_hostile_kids_touch_nothing_but_the_configured_key_set(self, world: World) -> None:
        engine = world.fresh_engine()
        paths_before = set(world.idp.counts)
        fetches_before = world.idp.jwks_fetches
        for kid in self.KIDS:
            token = KeyPair(GENUINE.private, kid, "RS256").sign(world.body())
            assert reason_of(engine, token) == Reason.UNKNOWN_KEY
        # One fetch for the empty cache; the unknown kid opened the penalty window for the rest.
        assert world.idp.jwks_fetches - fetches_before == 1
        assert set(world.idp.counts) <= paths_before | {world.idp.jwks_path, world.idp.discovery_path}

    @pytest.mark.parametrize("kid", [None, "", 7, True, ["genuine-rsa"], {"kid": "genuine-rsa"}, "k" * 257])
    def test_kid_that_cannot_name_a_key(self, world: World, kid: Any) -> None:
        header = header_of(GENUINE) | {"kid": kid}
        if kid is None:
            del header["kid"]
        refused(world, sign_parts(GENUINE, header, world.body()), Reason.MALFORMED_TOKEN)

    def test_kid_with_a_lone_surrogate(self, world: World) -> None:
        """JSON may escape a surrogate that UTF-8 cannot carry; it is still only an unknown kid."""
        header = b'{"alg":"RS256","kid":"\\ud800genuine-rsa"}'
        refused(world, sign_parts(GENUINE, header, world.body()), Reason.UNKNOWN_KEY)

    @pytest.mark.parametrize("crit", [["exp"], ["b64"], ["http://example.com/ext"], [], "b64"])
    def test_critical_extensions_are_refused(self, world: World, crit: Any) -> None:
        refused(world, GENUINE.sign(world.body(), crit=crit), Reason.UNSUPPORTED_CRITICAL_HEADER)

    def test_nonce_header_marks_a_graph_token(self, world: World) -> None:
        refused(world, GENUINE.sign(world.body(), nonce="n-1"), Reason.GRAPH_TOKEN)

    @pytest.mark.parametrize(
        "typ", ["JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT", "application/jwt", None]
    )
    def test_typ_of_an_access_token_is_accepted(self, world: World, typ: str | None) -> None:
        """RFC 8725 section 3.11: JWT and at+jwt (RFC 9068), compared as media types, or no typ."""
        header = {k: v for k, v in header_of(GENUINE).items() if k != "typ"}
        accepted(world, sign_parts(GENUINE, header if typ is None else {**header, "typ": typ}, world.body()))

    @pytest.mark.parametrize(
        "typ",
        ["dpop+jwt", "secevent+jwt", "logout+jwt", "application/jwk+json", "JOSE", "at+jwt ", "text/at+jwt", ""],
    )
    def test_typ_of_another_kind_of_jwt_is_refused(self, world: World, typ: str) -> None:
        refused(world, sign_parts(GENUINE, header_of(GENUINE, typ=typ), world.body()), Reason.UNSUPPORTED_TOKEN_TYPE)

    @pytest.mark.parametrize("typ", [["JWT"], 1, {"media": "JWT"}, True, False])
    def test_typ_that_is_not_a_string_is_refused(self, world: World, typ: Any) -> None:
        refused(world, sign_parts(GENUINE, header_of(GENUINE, typ=typ), world.body()), Reason.UNSUPPORTED_TOKEN_TYPE)

    @pytest.mark.parametrize("typ", ["id_token+jwt", "application/id_token+jwt", "id_token"])
    def test_typ_of_an_id_token_is_not_an_access_token(self, world: World, typ: str) -> None:
        refused(world, sign_parts(GENUINE, header_of(GENUINE, typ=typ), world.body()), Reason.NOT_ACCESS_TOKEN)


# ==================================================================================================
# Signature games (RFC 8725 sections 3.3, 3.4)
# ==================================================================================================


class TestSignatureGames:
    def test_stripped_signature(self, world: World) -> None:
        header, payload, _ = GENUINE.sign(world.body()).split(".")
        refused(world, f"{header}.{payload}.", Reason.MALFORMED_TOKEN)
        refused(world, f"{header}.{payload}", Reason.MALFORMED_TOKEN)

    @pytest.mark.parametrize("keep", [255, 254, 128, 32, 1])
    def test_truncated_signature_bytes(self, world: World, keep: int) -> None:
        token = GENUINE.sign(world.body())
        refused(world, with_signature(token, signature_of(token)[:keep]), Reason.BAD_SIGNATURE)

    def test_truncated_signature_characters(self, world: World) -> None:
        """342 characters carry 256 bytes; 341 is a length no base64url string can have."""
        token = GENUINE.sign(world.body())
        assert len(token.rsplit(".", 1)[1]) == 342
        refused(world, token[:-1], Reason.MALFORMED_TOKEN)

    @pytest.mark.parametrize("where", ["prefix", "suffix"])
    def test_extended_signature(self, world: World, where: str) -> None:
        token = GENUINE.sign(world.body())
        signature = signature_of(token)
        longer = b"\x00" + signature if where == "prefix" else signature + b"\x00"
        refused(world, with_signature(token, longer), Reason.BAD_SIGNATURE)

    def test_signature_from_another_token_of_the_same_key(self, world: World) -> None:
        mine = GENUINE.sign(world.body(sub="attacker"))
        theirs = GENUINE.sign(world.body(sub="admin", roles=["Admin"]))
        refused(world, with_signature(theirs, signature_of(mine)), Reason.BAD_SIGNATURE)

    def test_signature_from_the_same_claims_under_another_algorithm(self, world: World) -> None:
        body = world.body()
        rs512 = DECLARED_RS512.sign(body, alg="RS512")
        rs256 = GENUINE.sign(body)
        refused(world, with_signature(rs256, signature_of(rs512)), Reason.BAD_SIGNATURE)

    def test_signature_of_the_ec_key_on_an_rsa_token(self, world: World) -> None:
        rsa_token = GENUINE.sign(world.body())
        refused(world, with_signature(rsa_token, signature_of(GENUINE_EC.sign(world.body()))), Reason.BAD_SIGNATURE)

    @pytest.mark.parametrize("value", [0, 1, 2, "n-1", "n", "max"])
    def test_rsa_signature_edge_values(self, world: World, value: int | str) -> None:
        n = GENUINE.private.public_key().public_numbers().n
        number = {"n-1": n - 1, "n": n, "max": 2**2048 - 1}.get(str(value), value)
        assert isinstance(number, int)
        token = GENUINE.sign(world.body())
        refused(world, with_signature(token, number.to_bytes(256, "big")), Reason.BAD_SIGNATURE)

    @pytest.mark.parametrize(
        ("r", "s"),
        [
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
            (P256_ORDER, P256_ORDER),
            (P256_ORDER, 1),
            (2**256 - 1, 2**256 - 1),
        ],
        ids=["r=s=0", "r=0", "s=0", "r=s=1", "r=s=n", "r=n", "r=s=max"],
    )
    def test_ecdsa_degenerate_signatures(self, world: World, r: int, s: int) -> None:
        """CVE-2022-21449 ("psychic signatures") and friends: r or s outside [1, n-1] never verify."""
        token = GENUINE_EC.sign(world.body())
        refused(world, with_signature(token, r.to_bytes(32, "big") + s.to_bytes(32, "big")), Reason.BAD_SIGNATURE)

    def test_ecdsa_zero_signature_when_es256_is_the_only_algorithm(self, world: World) -> None:
        engine = world.fresh_engine(ALLOWED_ALGORITHMS="ES256")
        token = with_signature(GENUINE_EC.sign(world.body()), b"\x00" * 64)
        assert reason_of(engine, token) == Reason.BAD_SIGNATURE

    @pytest.mark.parametrize("length", [0, 1, 63, 65, 96, 128])
    def test_ecdsa_signature_of_the_wrong_length(self, world: World, length: int) -> None:
        token = GENUINE_EC.sign(world.body())
        signature = (signature_of(token) * 3)[:length]
        if length == 0:
            refused(world, token.rsplit(".", 1)[0] + ".", Reason.MALFORMED_TOKEN)
            return
        refused(world, with_signature(token, signature), Reason.BAD_SIGNATURE)

    def test_ecdsa_der_signature_instead_of_raw(self, world: World) -> None:
        """JWS ECDSA signatures are raw r||s (RFC 7518 section 3.4); the DER form is refused."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        signing_input = GENUINE_EC.sign(world.body()).rsplit(".", 1)[0]
        der = GENUINE_EC.private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        decode_dss_signature(der)  # it is a real, valid signature, only in the wrong encoding
        refused(world, f"{signing_input}.{b64url(der)}", Reason.BAD_SIGNATURE)

    def test_ecdsa_malleability_is_a_property_not_a_bypass(self, world: World) -> None:
        """(r, n - s) is a second valid ECDSA signature of the same claims by the same key.

        It is accepted, and must be: it proves the genuine key signed these claims. Nothing in the
        authorizer uses the token string as a unique identifier, so a second spelling grants
        nothing the first did not (docs/security.md, "What it does not do").
        """
        token = GENUINE_EC.sign(world.body())
        signature = signature_of(token)
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        twin = with_signature(token, r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big"))
        assert twin != token
        accepted(world, twin)


# ==================================================================================================
# Claim games (RFC 8725 sections 3.8, 3.9; RFC 7519 section 4.1)
# ==================================================================================================


def _raw_payload(world: World, name: str, literal: str) -> bytes:
    """The world's claims as JSON with ``name`` set to a literal that json.dumps cannot write."""
    body = world.body()
    body[name] = "__LITERAL__"
    return json.dumps(body).replace('"__LITERAL__"', literal).encode()


class TestClaimGames:
    def test_missing_exp(self, world: World) -> None:
        refused(world, GENUINE.sign(world.body(exp=None)), Reason.MISSING_CLAIM)

    def test_null_exp_is_missing(self, world: World) -> None:
        refused(
            world, sign_parts(GENUINE, header_of(GENUINE), _raw_payload(world, "exp", "null")), Reason.MISSING_CLAIM
        )

    @pytest.mark.parametrize("value", ["9999999999", "", True, False, [9999999999], {"t": 9999999999}])
    def test_non_numeric_exp(self, world: World, value: Any) -> None:
        body = world.body()
        body["exp"] = value
        refused(world, GENUINE.sign(body), Reason.INVALID_CLAIM)

    @pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
    @pytest.mark.parametrize("literal", ["1e400", "-1e400"])
    def test_numbers_json_reads_as_infinite(self, world: World, name: str, literal: str) -> None:
        token = sign_parts(GENUINE, header_of(GENUINE), _raw_payload(world, name, literal))
        refused(world, token, Reason.INVALID_CLAIM)

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
    def test_non_json_number_literals(self, world: World, literal: str) -> None:
        token = sign_parts(GENUINE, header_of(GENUINE), _raw_payload(world, "exp", literal))
        refused(world, token, Reason.MALFORMED_TOKEN)

    def test_integer_longer_than_python_parses(self, world: World) -> None:
        """Python refuses integers over 4300 digits (CVE-2020-10735): malformed, not a crash."""
        token = sign_parts(GENUINE, header_of(GENUINE), _raw_payload(world, "exp", "9" * 5000))
        refused(world, token, Reason.MALFORMED_TOKEN)

    @pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
    @pytest.mark.parametrize("value", [10**309, -(10**309), 10**400], ids=["1e309", "-1e309", "1e400-int"])
    def test_integer_beyond_float_range(self, world: World, name: str, value: int) -> None:
        body = world.body()
        body[name] = value
        refused(world, GENUINE.sign(body), Reason.INVALID_CLAIM)

    def test_far_future_exp_is_accepted(self, world: World) -> None:
        """No maximum lifetime is enforced: the issuer's exp is trusted once the signature is."""
        accepted(world, GENUINE.sign(world.body(exp=1e308)))

    @pytest.mark.parametrize("exp", [0, -1, 1, 946684800])
    def test_exp_in_the_past(self, world: World, exp: int) -> None:
        refused(world, GENUINE.sign(world.body(exp=exp)), Reason.EXPIRED)

    def test_nbf_in_the_future(self, world: World) -> None:
        refused(world, GENUINE.sign(world.body(nbf=int(time.time()) + 3600)), Reason.NOT_YET_VALID)

    def test_nbf_not_a_number(self, world: World) -> None:
        refused(world, GENUINE.sign(world.body(nbf="0")), Reason.INVALID_CLAIM)

    def test_iat_in_the_future(self, world: World) -> None:
        refused(world, GENUINE.sign(world.body(iat=int(time.time()) + 3600)), Reason.ISSUED_IN_FUTURE)

    @pytest.mark.parametrize(
        ("aud", "reason"),
        [
            ("", Reason.WRONG_AUDIENCE),
            ([], Reason.WRONG_AUDIENCE),
            ([""], Reason.WRONG_AUDIENCE),
            ("API://TEST", Reason.WRONG_AUDIENCE),
            ("api://test/", Reason.WRONG_AUDIENCE),
            (" api://test", Reason.WRONG_AUDIENCE),
            ("api://test,api://other", Reason.WRONG_AUDIENCE),
            ("api://test\u0000", Reason.WRONG_AUDIENCE),
            (7, Reason.INVALID_CLAIM),
            (True, Reason.INVALID_CLAIM),
            ({"api://test": True}, Reason.INVALID_CLAIM),
            (["api://test", 7], Reason.INVALID_CLAIM),
            ([["api://test"]], Reason.INVALID_CLAIM),
            ([None], Reason.INVALID_CLAIM),
        ],
        ids=repr,
    )
    def test_audience_empty_or_of_the_wrong_type(self, world: World, aud: Any, reason: Reason) -> None:
        body = world.body()
        body["aud"] = aud
        refused(world, GENUINE.sign(body), reason)

    def test_audience_missing_or_null(self, world: World) -> None:
        refused(world, GENUINE.sign(world.body(audience=None)), Reason.MISSING_CLAIM)
        refused(
            world, sign_parts(GENUINE, header_of(GENUINE), _raw_payload(world, "aud", "null")), Reason.MISSING_CLAIM
        )

    @pytest.mark.parametrize(
        "issuer",
        [
            "{issuer}/",
            "{issuer}//",
            "{issuer} ",
            " {issuer}",
            "{upper}",
            "{issuer}/v2.0",
            "{issuer}/../",
            "{issuer}#",
            "{issuer}?",
            "https://evil.example",
        ],
    )
    def test_issuer_near_the_configured_one(self, world: World, issuer: str) -> None:
        """Exact string comparison (RFC 8725 section 3.8), decided before any key fetch."""
        iss = issuer.format(issuer=world.issuer, upper=world.issuer.upper())
        engine = world.fresh_engine()
        before = world.idp.jwks_fetches + world.idp.counts[world.idp.discovery_path]
        token = GENUINE.sign(claims(iss))
        assert reason_of(engine, token) == Reason.WRONG_ISSUER
        assert outcome_of(world.app, rest_token_event(token)) == Outcome(401, "wrong_issuer")
        assert world.idp.jwks_fetches + world.idp.counts[world.idp.discovery_path] == before

    @pytest.mark.parametrize(("iss", "reason"), [(7, Reason.INVALID_CLAIM), (["x"], Reason.INVALID_CLAIM)])
    def test_issuer_of_the_wrong_type(self, world: World, iss: Any, reason: Reason) -> None:
        body = world.body()
        body["iss"] = [world.issuer] if iss == ["x"] else iss
        refused(world, sign_parts(GENUINE, header_of(GENUINE), body), reason)

    def test_issuer_missing_or_null(self, world: World) -> None:
        body = world.body()
        del body["iss"]
        refused(world, GENUINE.sign(body), Reason.MISSING_CLAIM)
        refused(
            world, sign_parts(GENUINE, header_of(GENUINE), _raw_payload(world, "iss", "null")), Reason.MISSING_CLAIM
        )

    def test_no_claim_names_the_caller(self, world: World) -> None:
        """Verified, but nobody to name as principalId: refused rather than an empty principal."""
        body = world.body()
        del body["sub"]
        token = GENUINE.sign(body)
        world.engine.verify(token)  # the engine has nothing against it
        assert outcome_of(world.app, rest_token_event(token)) == Outcome(401, "missing_claim")

    def test_an_empty_principal_claim_is_invalid(self, world: World) -> None:
        refused(world, GENUINE.sign(world.body(sub="")), Reason.INVALID_CLAIM)


# ==================================================================================================
# Encoding games (RFC 8725 sections 2.6, 3.7; RFC 7515 section 7.1)
# ==================================================================================================


class TestEncodingGames:
    @pytest.mark.parametrize("segment", [0, 1, 2])
    def test_padding(self, world: World, segment: int) -> None:
        parts = GENUINE.sign(world.body()).split(".")
        parts[segment] += "=" * (-len(parts[segment]) % 4 or 4)
        token = ".".join(parts)
        # "=" may only end a bearer token (RFC 6750 b64token), so the handler stops the first two.
        by_handler = Reason.MALFORMED_TOKEN if segment == 2 else Reason.MALFORMED_AUTHORIZATION
        refused(world, token, Reason.MALFORMED_TOKEN, by_handler=by_handler)

    def test_standard_base64_alphabet(self, world: World) -> None:
        """The "+" and "/" of base64 are not base64url: a second spelling of the same bytes."""
        token = GENUINE.sign(world.body(sub="??>>??>>"))
        assert "-" in token or "_" in token
        refused(world, token.replace("-", "+").replace("_", "/"), Reason.MALFORMED_TOKEN)

    @pytest.mark.parametrize("char", ["!", "%", "*", "~", " ", "\t", "\n", "é", "\u0000", "\u200b"])
    def test_non_alphabet_character(self, world: World, char: str) -> None:
        header, payload, signature = GENUINE.sign(world.body()).split(".")
        token = f"{header}.{payload[:10]}{char}{payload[10:]}.{signature}"
        # "~" is a legal bearer-token character; the others already fail the Bearer syntax.
        by_handler = Reason.MALFORMED_TOKEN if char == "~" else Reason.MALFORMED_AUTHORIZATION
        refused(world, token, Reason.MALFORMED_TOKEN, by_handler=by_handler)

    def test_non_canonical_trailing_bits(self, world: World) -> None:
        token = GENUINE.sign(world.body())
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(token[-1])
        twin = token[:-1] + alphabet[last ^ 1]
        refused(world, twin, Reason.MALFORMED_TOKEN)

    @pytest.mark.parametrize("shape", ["h.p", "h.p.s.x", "h.p.s.x.y", "h..s", ".p.s", "h.p.s.", "..", "...."])
    def test_segment_count(self, world: World, shape: str) -> None:
        header, payload, signature = GENUINE.sign(world.body()).split(".")
        token = shape.replace("h", header).replace("p", payload).replace("s", signature)
        token = token.replace("x", b64url(b"extra")).replace("y", b64url(b"more"))
        refused(world, token, Reason.MALFORMED_TOKEN)

    def test_jwe_shaped_token(self, world: World) -> None:
        header = b64url(json.dumps({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": GENUINE.kid}).encode())
        token = ".".join([header, b64url(b"k" * 256), b64url(b"i" * 12), b64url(b"c" * 40), b64url(b"t" * 16)])
        refused(world, token, Reason.MALFORMED_TOKEN)

    @pytest.mark.parametrize(
        ("header", "payload"),
        [
            (b'{"alg":"none","alg":"RS256","kid":"genuine-rsa"}', None),
            (b'{"alg":"RS256","kid":"attacker-rsa","kid":"genuine-rsa"}', None),
            (None, b'"aud":"api://other","aud":"api://test"'),
            (None, b'"sub":"user-1","sub":"admin"'),
            (None, b'"ctx":{"role":"reader","role":"admin"}'),
        ],
        ids=["header-alg", "header-kid", "payload-aud", "payload-sub", "nested-member"],
    )
    def test_duplicate_members_even_when_genuinely_signed(
        self, world: World, header: bytes | None, payload: bytes | None
    ) -> None:
        """Two parsers must never read two different tokens (RFC 8725 section 2.6): refused."""
        header_bytes = header or json.dumps(header_of(GENUINE)).encode()
        body = json.dumps(world.body()).encode()
        payload_bytes = body[:-1] + b"," + payload + b"}" if payload else body
        refused(world, sign_parts(GENUINE, header_bytes, payload_bytes), Reason.MALFORMED_TOKEN)

    @pytest.mark.parametrize("depth", [2_000, 5_000])
    def test_deeply_nested_payload(self, world: World, depth: int) -> None:
        payload = b'{"n":' + b"[" * depth + b"]" * depth + b"}"
        refused(world, compose(header_of(GENUINE), payload, b"\x00" * 256), Reason.MALFORMED_TOKEN)

    def test_very_deeply_nested_header_under_a_raised_size_limit(self, world: World) -> None:
        engine = world.fresh_engine(MAX_TOKEN_BYTES=str(1024 * 1024))
        header = b"[" * 300_000 + b"]" * 300_000
        assert reason_of(engine, compose(header, world.body(), b"\x00" * 256)) == Reason.MALFORMED_TOKEN

    def test_moderately_nested_claim_is_fine(self, world: World) -> None:
        accepted(world, GENUINE.sign(world.body(nested=json.loads("[" * 100 + "]" * 100))))

    @pytest.mark.parametrize(
        "raw",
        [
            b'{"alg":"RS256","kid":"genuine-rsa\xff"}',
            b'\xef\xbb\xbf{"alg":"RS256","kid":"genuine-rsa"}',
            '{"alg":"RS256","kid":"genuine-rsa"}'.encode("utf-16"),
            b'{"alg":"RS256","kid":"\xc0\xafgenuine-rsa"}',
            b'{"alg":"RS256","kid":"genuine-rsa"} trailing',
            b'{"alg":"RS256","kid":"genuine-rsa",}',
            b"{'alg':'RS256','kid':'genuine-rsa'}",
            b'["RS256","genuine-rsa"]',
            b'"RS256"',
            b"null",
            b"",
        ],
        ids=[
            "invalid-utf8",
            "bom",
            "utf16",
            "overlong-utf8",
            "trailing-text",
            "trailing-comma",
            "single-quotes",
            "array",
            "string",
            "null",
            "empty",
        ],
    )
    def test_header_that_is_not_one_utf8_json_object(self, world: World, raw: bytes) -> None:
        refused(world, compose(raw, world.body(), b"\x00" * 256), Reason.MALFORMED_TOKEN)

    @pytest.mark.parametrize("raw", [b"[]", b'"claims"', b"42", b"null", b'{"exp":1}{"exp":2}'])
    def test_payload_that_is_not_one_json_object(self, world: World, raw: bytes) -> None:
        refused(world, sign_parts(GENUINE, header_of(GENUINE), raw), Reason.MALFORMED_TOKEN)

    def test_oversized_token(self, world: World) -> None:
        token = GENUINE.sign(world.body(padding="x" * 20_000))
        refused(world, token, Reason.TOKEN_TOO_LARGE)

    def test_oversized_jose_header(self, world: World) -> None:
        token = GENUINE.sign(world.body(), x="x" * 20_000)
        refused(world, token, Reason.TOKEN_TOO_LARGE)

    def test_megabyte_authorization_value_costs_no_parse_and_no_fetch(self, world: World) -> None:
        engine = world.fresh_engine()
        before = world.idp.jwks_fetches
        token = "a" * (1024 * 1024)
        assert reason_of(engine, token) == Reason.TOKEN_TOO_LARGE
        assert outcome_of(world.app, rest_token_event(token)) == Outcome(401, "token_too_large")
        assert world.idp.jwks_fetches == before

    def test_size_limit_is_inclusive(self, world: World) -> None:
        token = GENUINE.sign(world.body())
        engine = world.fresh_engine(MAX_TOKEN_BYTES=str(len(token)))
        engine.verify(token)
        longer = GENUINE.sign(world.body(sub="user-10"))
        assert len(longer) > len(token)
        assert reason_of(engine, longer) == Reason.TOKEN_TOO_LARGE


# ==================================================================================================
# Authorization header games (RFC 6750 section 2.1)
# ==================================================================================================


class TestAuthorizationHeaderGames:
    @pytest.fixture
    def good(self, world: World) -> str:
        return GENUINE.sign(world.body())

    @pytest.fixture
    def forged(self, world: World) -> str:
        return ATTACKER.sign(world.body(), kid=GENUINE.kid)

    def rest_token(self, world: World, value: Any) -> Outcome:
        event = rest_token_event(None)
        if value is not ...:
            event["authorizationToken"] = value
        return outcome_of(world.app, event)

    @pytest.mark.parametrize("value", [..., None, "", "   ", "\t"])
    def test_no_token(self, world: World, value: Any) -> None:
        assert self.rest_token(world, value) == Outcome(401, "missing_token")

    @pytest.mark.parametrize(
        "template",
        ["{t}", "Basic {t}", "Token {t}", "JWT {t}", "Bearer", "Bearer ", "Bearer{t}", "B {t}", "Bearer: {t}"],
    )
    def test_missing_or_wrong_scheme(self, world: World, good: str, template: str) -> None:
        assert self.rest_token(world, template.format(t=good)) == Outcome(401, "malformed_authorization")

    @pytest.mark.parametrize(
        "template",
        ["Bearer {t} Bearer {t}", "Bearer {t}, Bearer {t}", "Bearer {t},{t}", "Bearer {t} {t}", "Bearer {t};{t}"],
    )
    def test_two_tokens_in_one_value(self, world: World, good: str, template: str) -> None:
        assert self.rest_token(world, template.format(t=good)) == Outcome(401, "malformed_authorization")

    @pytest.mark.parametrize(
        "template",
        [
            "Bearer  {t}",
            "Bearer\t{t}",
            "Bearer\u00a0{t}",
            "Bearer\u2003{t}",
            "Bearer\n{t}",
            "Bearer {t}\t",
            "Bearer {t}\n",
            "Bearer {t}\r\n",
            "\tBearer {t}",
            "Bearer {t}\u0000",
        ],
    )
    def test_odd_whitespace(self, world: World, good: str, template: str) -> None:
        assert self.rest_token(world, template.format(t=good)) == Outcome(401, "malformed_authorization")

    @pytest.mark.parametrize("template", [" Bearer {t}", "Bearer {t} ", "  Bearer {t}  ", "bEARER {t}", "BEARER {t}"])
    def test_tolerated_spellings(self, world: World, good: str, template: str) -> None:
        """Surrounding spaces are not part of a header value (RFC 9110 section 5.5); the scheme
        is case-insensitive (RFC 9110 section 11.1)."""
        assert self.rest_token(world, template.format(t=good)) == ALLOW

    @pytest.mark.parametrize("value", [42, ["Bearer x"], {"Bearer": "x"}, True])
    def test_authorization_token_of_the_wrong_type(self, world: World, value: Any) -> None:
        assert self.rest_token(world, value) == Outcome(401, "missing_token")

    def test_two_authorization_headers_same_token(self, world: World, good: str) -> None:
        event = rest_request_event(
            {"Authorization": f"Bearer {good}"}, multi={"Authorization": [f"Bearer {good}", f"Bearer {good}"]}
        )
        assert outcome_of(world.app, event) == Outcome(401, "malformed_authorization")

    def test_two_authorization_headers_different_tokens(self, world: World, good: str, forged: str) -> None:
        event = rest_request_event(
            {"Authorization": f"Bearer {forged}"}, multi={"Authorization": [f"Bearer {good}", f"Bearer {forged}"]}
        )
        assert outcome_of(world.app, event) == Outcome(401, "malformed_authorization")

    def test_two_authorization_headers_on_http_api_v1(self, world: World, good: str) -> None:
        event = http_v1_event(good)
        event["multiValueHeaders"] = {"Authorization": [f"Bearer {good}", f"Bearer {good}"]}
        assert outcome_of(world.app, event) == Outcome(401, "malformed_authorization")

    def test_http_api_v2_joins_repeated_headers_with_a_comma(self, world: World, good: str, forged: str) -> None:
        """HTTP API payload 2.0 carries repeated headers as one comma-separated value."""
        event = http_v2_event(good)
        event["headers"]["authorization"] = f"Bearer {good},Bearer {forged}"
        assert outcome_of(world.app, event) == Outcome(401, "malformed_authorization")

    def test_two_spellings_of_the_authorization_header(self, world: World, good: str, forged: str) -> None:
        """The backend may read the other spelling; the authorizer must not pick one silently."""
        headers = {"Authorization": f"Bearer {good}", "authorization": f"Bearer {forged}"}
        event = rest_request_event(headers, multi={k: [v] for k, v in headers.items()})
        assert outcome_of(world.app, event) == Outcome(401, "malformed_authorization")

    def test_websocket_header_decides_over_the_query_string(self, world: World, good: str, forged: str) -> None:
        """With both, the Authorization header is the token; the query parameter is not read."""
        assert outcome_of(world.app, websocket_connect_event(forged, header=f"Bearer {good}")) == ALLOW
        both = websocket_connect_event(good, header=f"Bearer {forged}")
        assert outcome_of(world.app, both) == Outcome(401, "bad_signature")

    @pytest.mark.parametrize("raw", ["a b", "tok%2E", "tok\u00e9", "Bearer tok", "tok\n"])
    def test_websocket_query_token_with_foreign_characters(self, world: World, raw: str) -> None:
        assert outcome_of(world.app, websocket_connect_event(raw)) == Outcome(401, "malformed_authorization")

    def test_the_log_line_carries_the_reason(
        self, world: World, forged: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``Outcome.reason`` is what the handler logs: checked here on the real JSON line."""
        with preserved_environ():
            module = cold_start(world.env)
            capsys.readouterr()
            assert outcome_of(module, rest_token_event(forged)) == Outcome(401, "bad_signature")
        lines = [line for line in log_lines_of(capsys.readouterr().out) if "outcome" in line]
        assert [(line["outcome"], line["reason"]) for line in lines] == [("unauthorized", "bad_signature")]
        assert forged.rsplit(".", 1)[1] not in json.dumps(lines)


# ==================================================================================================
# Key-set inputs (RFC 8725 section 3.4): what the issuer's own JWKS may not smuggle in
# ==================================================================================================


class TestKeySetInputs:
    """A poisoned entry in the key set is skipped, so a token naming it finds no key at all."""

    @pytest.fixture
    def server(self) -> Iterator[IdentityProvider]:
        provider = quick_provider()
        yield provider
        stop_quickly(provider)

    def publish_with(self, server: IdentityProvider, bad: dict[str, Any]) -> Verifier:
        server.documents[server.jwks_path] = {"keys": [GENUINE.jwk(), GENUINE_EC.jwk(), bad]}
        return build_verifier(load_settings(env_for(server, ALLOWED_ALGORITHMS=ALLOWED)))

    def test_ec_point_off_the_curve(self, server: IdentityProvider) -> None:
        jwk = GENUINE_EC.jwk(kid="off-curve")
        y = int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "=="), "big")
        jwk["y"] = b64url(((y + 1) % 2**256).to_bytes(32, "big"))
        engine = self.publish_with(server, jwk)
        token = KeyPair(GENUINE_EC.private, "off-curve", "ES256").sign(claims(server.issuer))
        assert reason_of(engine, token) == Reason.UNKNOWN_KEY
        assert engine.verify(GENUINE_EC.sign(claims(server.issuer))).key.kid == GENUINE_EC.kid

    def test_rsa_public_exponent_one(self, server: IdentityProvider) -> None:
        """With e = 1 every padded digest would be its own signature: such a key is refused."""
        engine = self.publish_with(server, GENUINE.jwk(kid="e-one", e=b64url(b"\x01")))
        token = compose({"alg": "RS256", "kid": "e-one"}, claims(server.issuer), b"\x01" * 256)
        assert reason_of(engine, token) == Reason.UNKNOWN_KEY

    def test_rsa_key_under_2048_bits(self, server: IdentityProvider) -> None:
        weak = rsa_pair("weak-1024", bits=1024)
        engine = self.publish_with(server, weak.jwk())
        token = sign_parts(weak, {"alg": "RS256", "kid": weak.kid}, claims(server.issuer))
        assert reason_of(engine, token) == Reason.UNKNOWN_KEY

    def test_symmetric_key_in_the_set(self, server: IdentityProvider) -> None:
        """An "oct" key is never a verification key, so HS256 cannot sneak in through the JWKS."""
        secret = b"s" * 32
        engine = self.publish_with(server, {"kty": "oct", "kid": "oct-1", "k": b64url(secret)})
        signing_input = compose({"alg": "RS256", "kid": "oct-1"}, claims(server.issuer)).rsplit(".", 1)[0]
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert reason_of(engine, f"{signing_input}.{b64url(mac)}") == Reason.UNKNOWN_KEY

    def test_encryption_key_in_the_set(self, server: IdentityProvider) -> None:
        engine = self.publish_with(server, ATTACKER.jwk(use="enc"))
        assert reason_of(engine, ATTACKER.sign(claims(server.issuer))) == Reason.UNKNOWN_KEY


# ==================================================================================================
# Key-server faults, at the handler level (the HTTP-level cases live in test_http_faults.py)
# ==================================================================================================


class TestKeyServerFaults:
    @pytest.fixture
    def server(self) -> Iterator[IdentityProvider]:
        provider = quick_provider()
        provider.publish(GENUINE)
        yield provider
        stop_quickly(provider)

    def start(self, server: IdentityProvider, **env: str) -> ModuleType:
        with preserved_environ():
            return cold_start(env_for(server, **env))

    @pytest.mark.parametrize("status", [500, 503, 404, 429])
    def test_jwks_error_is_500_then_allow_once_the_server_is_back(self, server: IdentityProvider, status: int) -> None:
        app = self.start(server, JWKS_RETRY_SECONDS="0")
        token = GENUINE.sign(claims(server.issuer))
        server.behaviour[server.jwks_path] = answer_with(status)
        outcome, _ = invoke(app, rest_token_event(token))
        assert outcome == Outcome(500, "key_source_unavailable")
        with pytest.raises(app.AuthorizerUnavailable) as info:
            app.lambda_handler(rest_token_event(token), None)
        assert str(info.value) == "Key source unavailable; retry later"
        del server.behaviour[server.jwks_path]
        assert outcome_of(app, rest_token_event(token)) == ALLOW

    def test_discovery_error_is_500_then_allow(self, server: IdentityProvider) -> None:
        app = self.start(server, JWKS_RETRY_SECONDS="0")
        token = GENUINE.sign(claims(server.issuer))
        server.behaviour[server.discovery_path] = answer_with(500)
        assert outcome_of(app, rest_token_event(token)) == Outcome(500, "key_source_unavailable")
        del server.behaviour[server.discovery_path]
        assert outcome_of(app, rest_token_event(token)) == ALLOW

    @pytest.mark.parametrize(
        "body",
        [b'{"keys": []}', b"{}", b"not json", b'{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "genuine-rsa"}]}'],
        ids=["empty", "no-keys", "not-json", "only-symmetric"],
    )
    def test_unusable_key_set_is_500_never_401(self, server: IdentityProvider, body: bytes) -> None:
        """An empty or unusable set means "cannot decide", never "no token is valid"."""
        app = self.start(server)
        server.behaviour[server.jwks_path] = answer_with(200, body)
        assert outcome_of(app, rest_token_event(GENUINE.sign(claims(server.issuer)))) == Outcome(
            500, "key_source_unavailable"
        )

    def test_retry_window_protects_a_recovering_server(self, server: IdentityProvider) -> None:
        """After a failure, callers get 500 without a request until JWKS_RETRY_SECONDS pass."""
        app = self.start(server, JWKS_RETRY_SECONDS="600")
        token = GENUINE.sign(claims(server.issuer))
        server.behaviour[server.jwks_path] = answer_with(500)
        assert outcome_of(app, rest_token_event(token)) == Outcome(500, "key_source_unavailable")
        del server.behaviour[server.jwks_path]
        fetches = server.jwks_fetches
        for _ in range(20):
            assert outcome_of(app, rest_token_event(token)) == Outcome(500, "key_source_unavailable")
        assert server.jwks_fetches == fetches

    def test_what_needs_no_key_is_still_401_during_an_outage(self, server: IdentityProvider) -> None:
        app = self.start(server)
        server.behaviour[server.jwks_path] = answer_with(500)
        server.behaviour[server.discovery_path] = answer_with(500)
        cases = {
            "not-a-jwt": "malformed_token",
            compose(header_of(GENUINE, alg="none"), claims(server.issuer)): "unsupported_algorithm",
            GENUINE.sign(claims("https://evil.example")): "wrong_issuer",
            GENUINE.sign(claims(server.issuer), crit=["exp"]): "unsupported_critical_header",
        }
        for token, reason in cases.items():
            assert outcome_of(app, rest_token_event(token)) == Outcome(401, reason)
        assert server.jwks_fetches == 0

    def test_unknown_kid_during_an_outage_is_500(self, server: IdentityProvider) -> None:
        """With keys cached, an unknown kid must refetch to decide; if that fails: 500, not 401."""
        app = self.start(server, JWKS_PREFETCH="true")
        assert server.jwks_fetches == 1
        server.behaviour[server.jwks_path] = answer_with(500)
        assert outcome_of(app, rest_token_event(GENUINE.sign(claims(server.issuer)))) == ALLOW
        rotated = rsa_pair("rotated", slot=1).sign(claims(server.issuer))
        assert outcome_of(app, rest_token_event(rotated)) == Outcome(500, "key_source_unavailable")
