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

from . import early

# First of all: the key set travels while everything below is imported (early.py).
EARLY = early.start()

from .authorizer import Authorizer  # noqa: E402
from .config import load_settings  # noqa: E402
from .exceptions import ConfigurationError, KeySourceUnavailable, TokenRejected  # noqa: E402
from .factory import build_fetcher, build_revocations, build_verifier, prefetch_all  # noqa: E402
from .observability import (  # noqa: E402
    Observability,
    configuration_failed,
    observe_key_sources,
    redact_text,
    refusal_fields,
    tracing_enabled,
)


class Unauthorized(Exception):
    """API Gateway maps exactly this message to 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


class AuthorizerUnavailable(Exception):
    """Any message but ``Unauthorized`` makes API Gateway answer 500 and cache nothing."""


try:
    SETTINGS = load_settings()
except ConfigurationError as _error:
    configuration_failed(_error)  # a structured line and a metric, then the import fails loudly
    raise
except Exception as _error:  # a defect of the loader: the alarm on the metric still fires
    configuration_failed(
        ConfigurationError(
            "configuration",
            f"the configuration could not be read ({type(_error).__name__})",
            "the traceback below names the setting; please report it as a defect",
        )
    )
    raise
OBSERVABILITY = Observability(SETTINGS)
# One HTTP client (limits, deadline, pooled connections) for the key sets and the revocation list.
FETCHER = (EARLY.fetcher_for(SETTINGS) if EARLY is not None else None) or build_fetcher(SETTINGS)
REVOCATIONS = build_revocations(SETTINGS, fetcher=FETCHER, listener=OBSERVABILITY.key_event)
VERIFIER = build_verifier(
    SETTINGS,
    fetcher=FETCHER,
    listener=OBSERVABILITY.cache_event,
    revocations=REVOCATIONS,
)
observe_key_sources(VERIFIER, OBSERVABILITY, tracing=tracing_enabled())
AUTHORIZER = Authorizer(SETTINGS, VERIFIER, REVOCATIONS)
# Best effort: the first request tries again under the caches' rules.
prefetch_all(
    VERIFIER,
    timeout=SETTINGS.http_timeout + SETTINGS.http_connect_timeout,
    keys=SETTINGS.jwks_prefetch,
    revocations=REVOCATIONS,
)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        decision = AUTHORIZER.decide(event)
        response = AUTHORIZER.respond(decision)
    except TokenRejected as exc:
        OBSERVABILITY.decision("unauthorized", exc.reason, refusal_fields(exc), context, event=event)
        raise Unauthorized from None
    except KeySourceUnavailable as exc:
        fields = {**getattr(exc, "log_fields", {}), "detail": redact_text(exc.message)}  # URLs may hold secrets
        OBSERVABILITY.decision("error", exc.reason, fields, context, level="error", event=event)
        raise AuthorizerUnavailable("Key source unavailable; retry later") from None
    except Exception as exc:
        OBSERVABILITY.logger.exception(
            "unexpected error", extra={"function_request_id": getattr(context, "aws_request_id", None)}
        )
        fields = {**getattr(exc, "log_fields", {}), "error_type": type(exc).__name__}
        OBSERVABILITY.decision("error", "internal_error", fields, context, level="error", event=event)
        raise AuthorizerUnavailable("Internal authorizer error") from None
    if decision.permitted:
        OBSERVABILITY.decision("allow", "granted", decision.fields, context, encoded=decision.encoded, event=event)
    else:
        OBSERVABILITY.decision(
            "deny",
            "route_not_permitted",
            decision.fields,
            context,
            level="warning",
            encoded=decision.encoded,
            event=event,
        )
    return response
