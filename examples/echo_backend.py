"""Example backend: answers with the authorizer context API Gateway passed to it.

Deployed only with ``CreateExampleApi=true``, behind both example APIs, to show what an
integration receives after the authorizer allowed the call:

- REST API (proxy integration): ``requestContext.authorizer`` holds ``principalId`` and every
  context key the authorizer returned, values stringified by API Gateway.
- HTTP API (payload 2.0): ``requestContext.authorizer.lambda`` holds the context (simple or IAM
  response alike).

Standard library only; nothing here trusts or re-verifies the token.
"""

from __future__ import annotations

import json
from typing import Any


def _authorizer(request_context: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    authorizer = request_context.get("authorizer") or {}
    if isinstance(authorizer.get("lambda"), dict):
        return "http-api", dict(authorizer["lambda"])
    return "rest-api", {k: v for k, v in authorizer.items() if k != "integrationLatency"}


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    request_context = event.get("requestContext") or {}
    api, authorizer = _authorizer(request_context)
    http = request_context.get("http") or {}
    body = {
        "api": api,
        "method": http.get("method") or event.get("httpMethod"),
        "path": http.get("path") or event.get("path"),
        "route": event.get("routeKey") or request_context.get("resourcePath"),
        "pathParameters": event.get("pathParameters") or {},
        "authorizer": authorizer,
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(body, sort_keys=True),
    }
