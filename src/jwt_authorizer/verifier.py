"""The verification engine: a token string in, verified claims or a typed rejection out.

The order of checks is chosen so that everything a token says about itself is used only to look
things up in configuration, never to widen trust: the issuer is chosen among the configured ones,
the algorithm must be allowed by configuration *and* fit the key, and the key comes from the
issuer's configured key cache. Time is checked last among the cheap checks, after the signature,
so that a forged token is reported as forged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
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
    TenantNotAllowedError,
    TokenExpiredError,
    TokenIssuedInFutureError,
    TokenNotYetValidError,
    UnsupportedAlgorithmError,
    UnsupportedCriticalHeaderError,
    WrongAudienceError,
    WrongIssuerError,
)
from .jwks import KeyCache
from .keys import SigningKey
from .timefmt import duration, instant
from .token import ParsedToken, parse_token

_MAX_KID_CHARS = 256


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token whose signature and claims passed every check."""

    header: dict[str, Any]
    claims: dict[str, Any]
    key: SigningKey
    expires_at: float


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
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
        self._has_template = any(entra.is_template(p) for p in settings.issuers)

    def matches(self, issuer: str, tenant_id: object) -> bool:
        return any(entra.match_issuer(p, issuer, tenant_id) for p in self._patterns)

    def verify(self, parsed: ParsedToken, now: float) -> VerifiedToken:
        """Every check, in order; the token doctor calls the same steps one by one."""
        self.check_algorithm(parsed)
        self.check_tenant(parsed.claims)
        key = self.keys.get(parsed.header["kid"])
        self.check_key(parsed, key)
        self.check_signature(parsed, key)
        expires_at = self.check_times(parsed.claims, now)
        self.check_audience(parsed.claims)
        return VerifiedToken(parsed.header, parsed.claims, key, expires_at)

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
        issuer = parsed.claims["iss"]
        if not entra.key_may_sign(key.issuer, issuer, parsed.claims.get("tid")):
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
        if aud is None:
            raise MissingClaimError(f"the token has no {name} claim", expected=name)
        if isinstance(aud, str):
            audiences = [aud]
        elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
            audiences = aud
        else:
            raise InvalidClaimError(f"{name} must be a string or a list of strings", actual=type(aud).__name__)
        expected = self.settings.audiences
        if any(a in expected for a in audiences):
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

    def now(self) -> float:
        return self._clock()

    def parse(self, token: str) -> ParsedToken:
        """Parse and check the header; everything here costs no key lookup."""
        parsed = parse_token(token, self.max_token_bytes)
        header = parsed.header
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
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > _MAX_KID_CHARS:
            raise MalformedTokenError("the header needs a kid (a short string) to choose the key", expected="kid")
        return parsed

    def select(self, parsed: ParsedToken) -> IssuerVerifier:
        """The configured issuer this token claims; refuses unknown issuers without any fetch."""
        claims = parsed.claims
        issuer = claims.get("iss")
        if issuer is None:
            raise MissingClaimError("the token has no iss claim", expected="iss")
        if not isinstance(issuer, str):
            raise InvalidClaimError("iss must be a string", actual=type(issuer).__name__)
        tenant_id = claims.get("tid")
        for candidate in self.issuers:
            if candidate.matches(issuer, tenant_id):
                return candidate
        configured = [p for v in self.issuers for p in v.settings.issuers]
        if any(entra.is_template(p) for p in configured) and "tid" not in claims:
            raise MissingClaimError("the issuer is a tenant template, but the token has no tid", expected="tid")
        raise WrongIssuerError("the token's issuer is not a configured issuer", actual=issuer, expected=configured)

    def verify(self, token: str) -> VerifiedToken:
        parsed = self.parse(token)
        return self.select(parsed).verify(parsed, self.now())
