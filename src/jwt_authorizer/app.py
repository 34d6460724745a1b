"""The Lambda entry point: wiring only, and the one place errors become API Gateway outcomes.

Everything expensive (configuration, key cache, HTTP pool, rules) is built once per container at
import time and reused by every warm invocation.

Outcomes, per API Gateway's authorizer contract:

* ``TokenRejected`` -> raise ``Unauthorized`` (message exactly ``Unauthorized``: 401, not cached);
* authenticated, route not granted -> a policy without this route, or ``isAuthorized: false``
  (403);
* ``KeySourceUnavailable`` or anything unexpected -> raise another error (500, not cached as a
  deny, the client may retry).
"""

from __future__ import annotations

from typing import Any

from .authorizer import Authorizer
from .config import load_settings
from .exceptions import KeySourceUnavailable, TokenRejected
from .factory import build_revocations, build_verifier, prefetch_all
from .observability import Observability, TracedKeyProvider, tracing_enabled


class Unauthorized(Exception):
    """API Gateway maps exactly this message to 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


class AuthorizerUnavailable(Exception):
    """Any message but ``Unauthorized`` makes API Gateway answer 500 and cache nothing."""


SETTINGS = load_settings()
OBSERVABILITY = Observability(SETTINGS)
REVOCATIONS = build_revocations(SETTINGS, listener=OBSERVABILITY.key_event)
VERIFIER = build_verifier(SETTINGS, listener=OBSERVABILITY.key_event, revocations=REVOCATIONS)
if tracing_enabled():
    for _issuer in VERIFIER.issuers:
        _issuer.keys.provider = TracedKeyProvider(_issuer.keys.provider, SETTINGS.service_name)
AUTHORIZER = Authorizer(SETTINGS, VERIFIER, REVOCATIONS)
if SETTINGS.jwks_prefetch:
    prefetch_all(VERIFIER, timeout=SETTINGS.http_timeout + SETTINGS.http_connect_timeout)
if REVOCATIONS is not None:
    REVOCATIONS.prefetch()  # best effort; the first request tries again under the cache's rules


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        decision = AUTHORIZER.decide(event)
        response = AUTHORIZER.respond(decision)
    except TokenRejected as exc:
        fields = {**getattr(exc, "log_fields", {}), **exc.details()}
        del fields["reason"]  # the line's metrics part names the reason (a dimension)
        OBSERVABILITY.decision("unauthorized", exc.reason, fields, context)
        raise Unauthorized from None
    except KeySourceUnavailable as exc:
        fields = {**getattr(exc, "log_fields", {}), "detail": exc.message}
        OBSERVABILITY.decision("error", exc.reason, fields, context, level="error")
        raise AuthorizerUnavailable("Key source unavailable; retry later") from None
    except Exception as exc:
        OBSERVABILITY.logger.exception(
            "unexpected error", extra={"function_request_id": getattr(context, "aws_request_id", None)}
        )
        fields = {**getattr(exc, "log_fields", {}), "error_type": type(exc).__name__}
        OBSERVABILITY.decision("error", "internal_error", fields, context, level="error")
        raise AuthorizerUnavailable("Internal authorizer error") from None
    if decision.permitted:
        OBSERVABILITY.decision(
            "allow", "granted", decision.fields, context, encoded=decision.remembered.encoded_fields()
        )
    else:
        OBSERVABILITY.decision(
            "deny",
            "route_not_permitted",
            decision.fields,
            context,
            level="warning",
            encoded=decision.remembered.encoded_fields(),
        )
    return response
