"""The error hierarchy: one class per reason, each with a machine-readable ``reason``.

Three families map to three API Gateway outcomes, and the mapping happens in exactly one place
(``app.lambda_handler``):

* ``TokenRejected`` and its subclasses: the caller is not authenticated -> 401 ``Unauthorized``.
* ``AccessDenied``: authenticated, but the route rules say no -> explicit Deny (403).
* ``KeySourceUnavailable``: we could not decide -> any other error (500), so nothing is cached.

Messages and ``actual``/``expected`` values describe claims and headers, never the token or its
signature, so every one of them is safe to log.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

_MAX_VALUE_CHARS = 200


class Reason(StrEnum):
    """Stable, low-cardinality reason codes shared by logs, metrics and the token doctor."""

    MISSING_TOKEN = "missing_token"
    MALFORMED_EVENT = "malformed_event"
    MALFORMED_AUTHORIZATION = "malformed_authorization"
    MALFORMED_TOKEN = "malformed_token"
    TOKEN_TOO_LARGE = "token_too_large"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNSUPPORTED_CRITICAL_HEADER = "unsupported_critical_header"
    UNKNOWN_KEY = "unknown_key"
    KEY_MISMATCH = "key_mismatch"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    ISSUED_IN_FUTURE = "issued_in_future"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    TENANT_NOT_ALLOWED = "tenant_not_allowed"
    GRAPH_TOKEN = "graph_token"
    NOT_ACCESS_TOKEN = "not_access_token"
    UNSUPPORTED_TOKEN_TYPE = "unsupported_token_type"
    MISSING_CLAIM = "missing_claim"
    INVALID_CLAIM = "invalid_claim"
    ROUTE_NOT_PERMITTED = "route_not_permitted"
    KEY_SOURCE_UNAVAILABLE = "key_source_unavailable"
    REVOKED = "revoked"
    REVOCATION_UNAVAILABLE = "revocation_unavailable"


def _clip(value: Any) -> Any:
    """Keep attacker-controlled values short enough for a log line."""
    if isinstance(value, str) and len(value) > _MAX_VALUE_CHARS:
        return value[:_MAX_VALUE_CHARS] + "..."
    if isinstance(value, list | tuple) and len(value) > 10:
        return [_clip(v) for v in value[:10]] + ["..."]
    return value


class JwtAuthorizerError(Exception):
    """Root of every error this package raises on purpose."""

    reason: Reason


class ConfigurationError(JwtAuthorizerError):
    """A setting is missing or invalid; raised at cold start and names the variable to fix."""

    def __init__(self, variable: str, problem: str, fix: str) -> None:
        self.variable = variable
        self.problem = problem
        self.fix = fix
        super().__init__(f"{variable}: {problem}. Fix: {fix}")


class TokenRejected(JwtAuthorizerError):
    """The token does not authenticate the caller (API Gateway: 401)."""

    reason: Reason = Reason.MALFORMED_TOKEN

    def __init__(self, message: str, *, actual: Any = None, expected: Any = None) -> None:
        self.message = message
        self.actual = _clip(actual)
        self.expected = _clip(expected)
        super().__init__(message)

    def details(self) -> dict[str, Any]:
        """The log-safe description of this rejection."""
        out: dict[str, Any] = {"reason": str(self.reason), "detail": self.message}
        if self.actual is not None:
            out["actual"] = self.actual
        if self.expected is not None:
            out["expected"] = self.expected
        return out


class MissingTokenError(TokenRejected):
    reason = Reason.MISSING_TOKEN


class MalformedEventError(TokenRejected):
    """The event contradicts itself (a WebSocket context with an HTTP method ARN, or the reverse).

    API Gateway never sends such an event; refusing it (401, never cached) is safer than guessing
    which kind of answer it wants.
    """

    reason = Reason.MALFORMED_EVENT


class MalformedAuthorizationError(TokenRejected):
    reason = Reason.MALFORMED_AUTHORIZATION


class MalformedTokenError(TokenRejected):
    reason = Reason.MALFORMED_TOKEN


class TokenTooLargeError(TokenRejected):
    reason = Reason.TOKEN_TOO_LARGE


class UnsupportedAlgorithmError(TokenRejected):
    reason = Reason.UNSUPPORTED_ALGORITHM


class UnsupportedCriticalHeaderError(TokenRejected):
    reason = Reason.UNSUPPORTED_CRITICAL_HEADER


class UnknownKeyError(TokenRejected):
    reason = Reason.UNKNOWN_KEY


class KeyMismatchError(TokenRejected):
    reason = Reason.KEY_MISMATCH


class InvalidSignatureError(TokenRejected):
    reason = Reason.BAD_SIGNATURE


class TokenExpiredError(TokenRejected):
    reason = Reason.EXPIRED


class TokenNotYetValidError(TokenRejected):
    reason = Reason.NOT_YET_VALID


class TokenIssuedInFutureError(TokenRejected):
    reason = Reason.ISSUED_IN_FUTURE


class WrongIssuerError(TokenRejected):
    reason = Reason.WRONG_ISSUER


class WrongAudienceError(TokenRejected):
    reason = Reason.WRONG_AUDIENCE


class TenantNotAllowedError(TokenRejected):
    reason = Reason.TENANT_NOT_ALLOWED


class GraphTokenError(TokenRejected):
    reason = Reason.GRAPH_TOKEN


class NotAccessTokenError(TokenRejected):
    """An ID token (or another token that says it is not an access token) sent as an access token."""

    reason = Reason.NOT_ACCESS_TOKEN


class UnsupportedTokenTypeError(TokenRejected):
    """The header's ``typ`` names another kind of JWT (RFC 8725 section 3.11: explicit typing)."""

    reason = Reason.UNSUPPORTED_TOKEN_TYPE


class MissingClaimError(TokenRejected):
    reason = Reason.MISSING_CLAIM


class InvalidClaimError(TokenRejected):
    reason = Reason.INVALID_CLAIM


class TokenRevokedError(TokenRejected):
    """The token passed every check, but an entry of the revocation list covers it (API Gateway: 401)."""

    reason = Reason.REVOKED

    def __init__(self, message: str, *, entry_id: str, actual: Any = None, expected: Any = None) -> None:
        super().__init__(message, actual=actual, expected=expected)
        self.entry_id = entry_id

    def details(self) -> dict[str, Any]:
        out = super().details()
        out["revocation_entry"] = _clip(self.entry_id)
        return out


class AccessDenied(JwtAuthorizerError):
    """Authenticated, but the route rules do not let this caller in (API Gateway: 403)."""

    reason = Reason.ROUTE_NOT_PERMITTED

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class KeySourceUnavailable(JwtAuthorizerError):
    """No usable key could be had: the caller should retry (API Gateway: 500, nothing cached)."""

    reason = Reason.KEY_SOURCE_UNAVAILABLE

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class RevocationUnavailable(KeySourceUnavailable):
    """No usable revocation list, and the configured policy says not to decide without one (500)."""

    reason = Reason.REVOCATION_UNAVAILABLE


class FetchError(Exception):
    """A key-source request failed (network, status, size, JSON); internal to the key cache."""
