"""The verification engine: a token string in, verified claims or a typed rejection out.

The order of checks is chosen so that everything a token says about itself is used only to look
things up in configuration, never to widen trust: the issuer is chosen among the configured ones,
the algorithm must be allowed by configuration *and* fit the key, and the key comes from the
issuer's configured key cache. Time is checked last among the cheap checks, after the signature,
so that a forged token is reported as forged.

Two checks make sure the token is the right *kind* of JWT. Explicit typing (RFC 8725 section
3.11): a header ``typ``, when present, must be ``JWT`` or ``at+jwt`` (compared as media types are:
any case, ``application/`` optional); anything else names another kind of JWT
(``unsupported_token_type``; ``id_token+jwt`` is ``not_access_token``). And ID tokens are refused
(``not_access_token``) by what marks them: an Entra token without ``azp`` (v2) or ``appid`` (v1),
which every Entra access token carries; ``at_hash``/``c_hash``; ``nonce`` unless the token carries
scopes or says it is an access token; Cognito's ``token_use: id``; Keycloak's ``typ: ID`` claim.

Claims the decision uses must have their JSON type: ``iss`` and ``tid`` strings, the audience
claim a string or a list of strings, every configured principal claim a non-empty string,
``scp``/``scope`` a string or a list of strings, ``roles``/``groups`` a list of strings (or one
string). Anything else is ``invalid_claim``: a present but invalid claim never falls back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from . import entra
from .config import IssuerSettings
from .constants import GRAPH_AUDIENCES
from .exceptions import (
    GraphTokenError,
    InvalidClaimError,
    InvalidSignatureError,
    KeyMismatchError,
    MalformedTokenError,
    MissingClaimError,
    NotAccessTokenError,
    TenantNotAllowedError,
    TokenExpiredError,
    TokenIssuedInFutureError,
    TokenNotYetValidError,
    UnsupportedAlgorithmError,
    UnsupportedCriticalHeaderError,
    UnsupportedTokenTypeError,
    WrongAudienceError,
    WrongIssuerError,
)
from .jwks import KeyCache
from .keys import SigningKey
from .timefmt import duration, instant
from .token import ParsedToken, parse_token

_MAX_KID_CHARS = 256
_FLOAT_INTEGERS = 2**1023  # integers of float range, compared without converting them
# Header typ values (as media types, without "application/") of the tokens this function accepts.
ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt"})
# typ values that say "ID token" outright (some providers type their ID tokens).
ID_TOKEN_TYPES = frozenset({"id_token+jwt", "id+jwt", "idtoken+jwt", "id_token"})
# Claims only OpenID Connect ID tokens carry (OIDC Core sections 2 and 3.3.2.11).
ID_TOKEN_HASH_CLAIMS = ("at_hash", "c_hash")
SCOPE_CLAIMS = ("scp", "scope")
VALUE_LIST_CLAIMS = ("roles", "groups")


def media_type(typ: str) -> str:
    """``typ`` compared as media types are: case-insensitive, the ``application/`` prefix optional."""
    lowered = typ.lower()
    return lowered.removeprefix("application/")


def check_token_type(header: dict[str, Any]) -> None:
    """RFC 8725 section 3.11: a typed JWT must be typed as an access token (or plain ``JWT``)."""
    if "typ" not in header:
        return
    typ = header["typ"]
    if not isinstance(typ, str):
        raise UnsupportedTokenTypeError("the header's typ must be a string", actual=type(typ).__name__)
    kind = media_type(typ)
    if kind in ACCESS_TOKEN_TYPES:
        return
    if kind in ID_TOKEN_TYPES:
        raise NotAccessTokenError("the header's typ says this is an ID token", actual=typ[:60])
    raise UnsupportedTokenTypeError(
        "the header's typ names another kind of JWT, not an access token",
        actual=typ[:60],
        expected=["JWT", "at+jwt", "application/at+jwt"],
    )


# Claims any of whose presence calls for the full look at the token's kind.
_KIND_CLAIMS = frozenset({"token_use", "typ", "nonce", *ID_TOKEN_HASH_CLAIMS})


@lru_cache(maxsize=1024)
def is_entra_issuer(issuer: str) -> bool:
    """An Entra v1 or v2 issuer (remembered: a verified token's issuer is one of a few configured ones)."""
    return entra.is_v1_issuer(issuer) or entra.is_v2_issuer(issuer)


def _has_client(claims: dict[str, Any]) -> bool:
    """Does the token name its client (``azp`` in v2, ``appid`` in v1) as every Entra access token does?"""
    azp, appid = claims.get("azp"), claims.get("appid")
    return (azp.__class__ is str and azp != "") or (appid.__class__ is str and appid != "")


def id_token_markers(header: dict[str, Any], claims: dict[str, Any]) -> list[str]:
    """What makes this (signed, issuer-chosen) token an ID token; empty for an access token."""
    issuer = claims.get("iss")
    entra_issuer = issuer.__class__ is str and is_entra_issuer(issuer)
    if _KIND_CLAIMS.isdisjoint(claims) and (not entra_issuer or _has_client(claims)):
        return []  # the common access token: none of the rules below can fire
    markers: list[str] = []
    if claims.get("token_use") == "id":
        markers.append("token_use is id (a Cognito ID token)")
    payload_typ = claims.get("typ")
    payload_kind = payload_typ.lower() if isinstance(payload_typ, str) else None
    if payload_kind == "id":
        markers.append("its typ claim is ID (a Keycloak ID token)")
    if entra_issuer and not _has_client(claims):
        markers.append("it is an Entra token without azp or appid, which every Entra access token carries")
    hashes = [name for name in ID_TOKEN_HASH_CLAIMS if name in claims]
    if hashes:
        markers.append(f"it carries {', '.join(hashes)} (claims of ID tokens only)")
    typ = header.get("typ")
    declared_access = (isinstance(typ, str) and media_type(typ) == "at+jwt") or payload_kind == "bearer"
    # nonce: ID tokens carry it; some providers (Keycloak before 24) copy it into access tokens too,
    # which then carry scopes or say what they are.
    if "nonce" in claims and not declared_access and not any(name in claims for name in SCOPE_CLAIMS):
        markers.append("it carries a nonce claim and no scopes")
    return markers


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


class VerifiedToken:
    """A token whose signature and claims passed every check (built once per token: a plain class)."""

    __slots__ = ("claims", "expires_at", "header", "key")

    def __init__(self, header: dict[str, Any], claims: dict[str, Any], key: SigningKey, expires_at: float) -> None:
        self.header = header
        self.claims = claims
        self.key = key
        self.expires_at = expires_at


_NUMBERS = (int, float)
_MISSING: Any = object()


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value.__class__ is int and -_FLOAT_INTEGERS < value < _FLOAT_INTEGERS:
        return float(value)  # the common case: a plain integer of float range
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, _NUMBERS):
        raise InvalidClaimError(f"{name} must be a finite NumericDate", actual=repr(value)[:40])
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range (JSON integers have no size limit)
        number = math.inf
    if not math.isfinite(number):
        raise InvalidClaimError(f"{name} must be a finite NumericDate", actual=repr(value)[:40])
    return number


class IssuerVerifier:
    """Verifies tokens of one configured issuer with that issuer's own key cache."""

    def __init__(self, settings: IssuerSettings, keys: KeyCache) -> None:
        self.settings = settings
        self.keys = keys
        self._patterns = settings.issuers
        self.has_template = any(entra.is_template(p) for p in settings.issuers)
        self._principal_claims = settings.principal_claims
        # (key's issuer member, token issuer, tid) -> may the key sign for it? Tokens of one tenant
        # share these, and Entra's rule costs regular expressions.
        self._key_issuers: dict[tuple[str, str, object], bool] = {}

    def matches(self, issuer: str, tenant_id: object) -> bool:
        return any(entra.match_issuer(p, issuer, tenant_id) for p in self._patterns)

    def verify(self, parsed: ParsedToken, now: float) -> VerifiedToken:
        """Every check, in order; the token doctor calls the same steps one by one."""
        self.check_algorithm(parsed)
        self.check_tenant(parsed.claims)
        key = self.keys.get(parsed.header["kid"])
        self.check_key(parsed, key)
        self.check_signature(parsed, key)
        self.check_claim_types(parsed.claims)
        self.check_token_kind(parsed)
        expires_at = self.check_times(parsed.claims, now)
        self.check_audience(parsed.claims)
        return VerifiedToken(parsed.header, parsed.claims, key, expires_at)

    def check_claim_types(self, claims: dict[str, Any]) -> None:
        """The claims the decision and the backend's context rely on have their JSON type."""
        for name in self._principal_claims:
            value = claims.get(name, _MISSING)
            if value is not _MISSING and (value.__class__ is not str or value == ""):
                raise InvalidClaimError(
                    f"{name} (a principal claim) must be a non-empty string", actual=type(value).__name__
                )
        for name in SCOPE_CLAIMS:
            value = claims.get(name, _MISSING)
            if value is not _MISSING and value.__class__ is not str and not _string_list(value):
                raise InvalidClaimError(f"{name} must be a string or a list of strings", actual=type(value).__name__)
        for name in VALUE_LIST_CLAIMS:
            value = claims.get(name, _MISSING)
            if value is not _MISSING and value.__class__ is not str and not _string_list(value):
                raise InvalidClaimError(f"{name} must be a list of strings", actual=type(value).__name__)

    @staticmethod
    def check_token_kind(parsed: ParsedToken) -> None:
        """Only access tokens: an ID token says who signed in to a client app, not what may call an API."""
        markers = id_token_markers(parsed.header, parsed.claims)
        if markers:
            raise NotAccessTokenError(
                "this is an ID token, not an access token: " + "; ".join(markers), actual=markers[0]
            )

    def check_algorithm(self, parsed: ParsedToken) -> None:
        alg = parsed.header["alg"]
        if alg not in self.settings.algorithms:
            raise UnsupportedAlgorithmError(
                "the token's algorithm is not allowed", actual=alg, expected=sorted(self.settings.algorithms)
            )

    def check_key(self, parsed: ParsedToken, key: SigningKey) -> None:
        """The JWK must fit the token: type, declared algorithm, curve, and its own issuer member."""
        alg = parsed.header["alg"]
        problem = key.accepts(alg)
        if problem is not None:
            raise KeyMismatchError(problem, actual=alg, expected=key.alg or key.kty)
        if key.issuer is None:
            return  # a key without an issuer member is the configured key set's for any of its issuers
        issuer, tenant_id = parsed.claims["iss"], parsed.claims.get("tid")
        memo = (key.issuer, issuer, tenant_id if tenant_id.__class__ is str else None)
        allowed = self._key_issuers.get(memo)
        if allowed is None:
            allowed = entra.key_may_sign(key.issuer, issuer, tenant_id)
            if len(self._key_issuers) >= 1024:
                self._key_issuers.clear()
            self._key_issuers[memo] = allowed
        if not allowed:
            raise KeyMismatchError("the signing key belongs to another issuer", actual=issuer, expected=key.issuer)

    @staticmethod
    def check_signature(parsed: ParsedToken, key: SigningKey) -> None:
        if not key.verify(parsed.header["alg"], parsed.signing_input, parsed.signature):
            raise InvalidSignatureError("the signature does not verify with the issuer's key", actual=key.kid)

    def check_tenant(self, claims: dict[str, Any]) -> None:
        tenant_id = claims.get("tid")
        allowed = self.settings.allowed_tenants
        if allowed is None:
            return
        if tenant_id is None:
            raise MissingClaimError("the token has no tid claim, and ALLOWED_TENANTS is set", expected="tid")
        if not isinstance(tenant_id, str) or tenant_id.lower() not in allowed:
            raise TenantNotAllowedError(
                "the token's tenant is not in ALLOWED_TENANTS", actual=tenant_id, expected=sorted(allowed)
            )

    def check_times(self, claims: dict[str, Any], now: float) -> float:
        skew = self.settings.clock_skew
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        big = _FLOAT_INTEGERS
        if (
            exp.__class__ is int
            and -big < exp < big
            and (nbf is None or (nbf.__class__ is int and -big < nbf < big))
            and (iat is None or (iat.__class__ is int and -big < iat < big))
            and now < exp + skew
            and (nbf is None or nbf <= now + skew)
            and (iat is None or iat <= now + skew)
        ):
            return float(exp) + skew  # plain integers in range, all in bounds: what the checks below find
        exp = _numeric_date(claims, "exp")
        if exp is None:
            raise MissingClaimError("the token has no exp claim", expected="exp")
        if now >= exp + skew:
            raise TokenExpiredError(
                f"the token expired {duration(now - exp)} ago, at {instant(exp)}",
                actual=int(exp),
                expected=f">= {int(now)} - {skew} s",
            )
        nbf = _numeric_date(claims, "nbf")
        if nbf is not None and nbf > now + skew:
            raise TokenNotYetValidError(
                f"the token is not valid for another {duration(nbf - now)}, until {instant(nbf)}",
                actual=int(nbf),
                expected=f"<= {int(now)}",
            )
        iat = _numeric_date(claims, "iat")
        if iat is not None and iat > now + skew:
            raise TokenIssuedInFutureError(
                f"the token claims to be issued {duration(iat - now)} in the future, at {instant(iat)}", actual=int(iat)
            )
        return exp + skew

    def check_audience(self, claims: dict[str, Any]) -> None:
        """Any of the configured audiences, in ``aud`` (or the configured claim, e.g. Cognito's ``client_id``)."""
        name = self.settings.audience_claim
        aud = claims.get(name)
        if aud.__class__ is str and aud in self.settings.audiences:
            return  # the common case: one audience, and it is ours
        if aud is None:
            raise MissingClaimError(f"the token has no {name} claim", expected=name)
        if isinstance(aud, str):
            audiences = [aud]
        elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
            audiences = aud
        else:
            raise InvalidClaimError(f"{name} must be a string or a list of strings", actual=type(aud).__name__)
        expected = self.settings.audiences
        if not expected.isdisjoint(audiences):
            return
        if any(a in GRAPH_AUDIENCES for a in audiences):
            raise GraphTokenError(
                "this token was issued for Microsoft Graph, not for this API: request a token with "
                "this API's scope (api://<client-id>/.default or a scope it exposes)",
                actual=aud,
                expected=sorted(expected),
            )
        raise WrongAudienceError("the token is for another audience", actual=aud, expected=sorted(expected))


def wall_clock() -> float:
    """``time.time()`` looked up on every call, so a patched clock (freezegun) is seen.

    A default argument of ``time.time`` binds the real function once, at import.
    """
    return time.time()


def check_header(header: dict[str, Any]) -> None:
    """The header checks, which depend on nothing but the header (``Verifier.parse`` remembers them)."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedTokenError("the header has no alg", expected="alg")
    if "crit" in header:
        raise UnsupportedCriticalHeaderError(
            "the token lists critical extensions this authorizer does not implement",
            actual=header.get("crit"),
        )
    if "nonce" in header:
        raise GraphTokenError(
            "the header carries a nonce: this is a Microsoft Graph token, which only Graph can "
            "verify; request a token with this API's scope instead",
        )
    check_token_type(header)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > _MAX_KID_CHARS:
        raise MalformedTokenError("the header needs a kid (a short string) to choose the key", expected="kid")


class Verifier:
    """Parses once, picks the configured issuer the token names, and lets it verify the rest."""

    def __init__(
        self,
        issuers: list[IssuerVerifier],
        max_token_bytes: int,
        clock: Callable[[], float] = wall_clock,
    ) -> None:
        self.issuers = issuers
        self.max_token_bytes = max_token_bytes
        self._clock = clock
        self._headers: dict[bytes, dict[str, Any]] = {}
        # Exact issuers -> the entries naming them (several only when their tenant lists differ);
        # tenant templates are matched one by one.
        self._exact: dict[str, list[IssuerVerifier]] = {}
        self._templated = [v for v in issuers if v.has_template]
        for verifier in issuers:
            for pattern in verifier.settings.issuers:
                if not entra.is_template(pattern):
                    self._exact.setdefault(pattern, []).append(verifier)

    def now(self) -> float:
        return self._clock()

    def parse(self, token: str) -> ParsedToken:
        """Parse and check the header; everything here costs no key lookup.

        Headers that passed ``check_header`` are remembered by segment: tokens of one issuer
        share a few (one per key), so most tokens skip decoding and checking theirs.
        """
        return parse_token(token, self.max_token_bytes, check_header=check_header, headers=self._headers)

    def select(self, parsed: ParsedToken) -> IssuerVerifier:
        """The configured issuer this token claims; refuses unknown issuers without any fetch."""
        claims = parsed.claims
        issuer = claims.get("iss")
        if issuer is None:
            raise MissingClaimError("the token has no iss claim", expected="iss")
        if not isinstance(issuer, str):
            raise InvalidClaimError("iss must be a string", actual=type(issuer).__name__)
        tenant_id = claims.get("tid")
        if "tid" in claims and not isinstance(tenant_id, str):
            raise InvalidClaimError("tid must be a string", actual=type(tenant_id).__name__)
        exact = self._exact.get(issuer)
        if exact is not None and len(exact) == 1 and not self._templated:
            return exact[0]  # one configured entry claims this issuer: the common case
        matching = [candidate for candidate in self.issuers if candidate.matches(issuer, tenant_id)]
        if matching:
            # Configuration refuses entries that overlap for an admitted tenant, so at most one of
            # several candidates admits this tid, whatever the order; if none does, any of them
            # refuses it the same way (tenant_not_allowed).
            return next((c for c in matching if c.settings.admits(tenant_id)), matching[0])
        configured = [p for v in self.issuers for p in v.settings.issuers]
        if any(entra.is_template(p) for p in configured) and "tid" not in claims:
            raise MissingClaimError("the issuer is a tenant template, but the token has no tid", expected="tid")
        raise WrongIssuerError("the token's issuer is not a configured issuer", actual=issuer, expected=configured)

    def verify(self, token: str) -> VerifiedToken:
        parsed = self.parse(token)
        return self.select(parsed).verify(parsed, self.now())
