"""Reading an API Gateway authorizer event: which API it is, where the token is, which route.

API Gateway sends five shapes (REST TOKEN, REST REQUEST, HTTP API 1.0 and 2.0, WebSocket
``$connect``) that differ in where the token and the route live. They are read through
Powertools' data classes, and only the keys each shape really has are touched: a REST REQUEST
event has no ``version`` or ``identitySource``. Nothing here trusts the token; it only finds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerTokenEvent,
)

from .exceptions import MalformedAuthorizationError, MissingTokenError

# RFC 6750 section 2.1: "Bearer" (any case), one space, one b64token, nothing else.
_B64TOKEN_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
_ARN = re.compile(
    r"arn:(?P<partition>[^:]+):execute-api:(?P<region>[^:]*):(?P<account>[^:]*):"
    r"(?P<api>[^/]+)/(?P<stage>[^/]+)(?:/(?P<rest>.*))?"
)


class EventKind(StrEnum):
    REST_TOKEN = "rest_token"
    REST_REQUEST = "rest_request"
    HTTP_V1 = "http_v1"
    HTTP_V2 = "http_v2"
    WEBSOCKET = "websocket"


@dataclass(frozen=True, slots=True)
class RouteArn:
    """The parts of a methodArn/routeArn; ``valid`` is False for ARNs we could not read."""

    raw: str
    partition: str = "aws"
    region: str = ""
    account: str = ""
    api_id: str = ""
    stage: str = ""
    method: str = ""
    path: str = ""
    valid: bool = False
    # ``arn:...:api/stage``: every route of the stage lies under it.
    stage_prefix: str = ""


@dataclass(slots=True)
class AuthorizationRequest:
    kind: EventKind
    token: str
    route: RouteArn
    http_method: str
    path: str


_PARSED_ARNS: dict[tuple[str, bool], RouteArn] = {}
_MAX_PARSED_ARNS = 4096


def parse_arn(arn: str, *, websocket: bool = False) -> RouteArn:
    """Read an execute-api ARN without trusting its shape; remembered, as routes repeat."""
    key = (arn, websocket)
    parsed = _PARSED_ARNS.get(key) if isinstance(arn, str) else None
    if parsed is None:
        parsed = _parse_arn(arn, websocket)
        if isinstance(arn, str):
            if len(_PARSED_ARNS) >= _MAX_PARSED_ARNS:
                _PARSED_ARNS.clear()
            _PARSED_ARNS[key] = parsed
    return parsed


def _parse_arn(arn: str, websocket: bool) -> RouteArn:
    """Read an execute-api ARN without trusting its shape (emulators send odd ones)."""
    match = _ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        return RouteArn(raw=arn if isinstance(arn, str) else "")
    rest = match["rest"] or ""
    if websocket:
        method, path = "", rest
    else:
        method, _, path = rest.partition("/")
    return RouteArn(
        raw=arn,
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
        api_id=match["api"],
        stage=match["stage"],
        method=method,
        path="/" + path,
        valid=True,
        stage_prefix=arn[: match.end("stage")],
    )


def bearer_token(value: str | None) -> str:
    """The token of an ``Authorization: Bearer`` value, or a typed authentication failure."""
    if value is None or not value.strip():
        raise MissingTokenError("no Authorization header (or it is empty)")
    stripped = value.strip(" ")
    if stripped[:7].lower() != "bearer ":
        scheme = value.strip().split(" ", 1)[0]
        if scheme.lower() != "bearer":
            # Name the scheme only when it is a short word (Basic, Digest...): a bare token sent
            # without a scheme would otherwise have its first characters logged.
            named = scheme if scheme.isalpha() and len(scheme) <= 16 else None
            raise MalformedAuthorizationError("the Authorization scheme is not Bearer", actual=named)
        raise MalformedAuthorizationError("the Authorization header must be 'Bearer' and exactly one token")
    token = stripped[7:]
    if not is_b64token(token):
        raise MalformedAuthorizationError("the Authorization header must be 'Bearer' and exactly one token")
    return token


def is_b64token(text: str) -> bool:
    """RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="

    Deleting the allowed bytes with one C-level ``translate`` is several times cheaper than a
    regular expression over a kilobyte-long token.
    """
    if not text or not text.isascii():
        return False
    body = text.rstrip("=")
    return bool(body) and not body.encode("ascii").translate(None, _B64TOKEN_BYTES)


def _header(headers: dict[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _all_values(headers: dict[str, Any] | None, name: str) -> list[Any]:
    """Every value of ``name`` under every spelling of it (``Authorization``, ``authorization``...)."""
    if not headers:
        return []
    lowered = name.lower()
    found: list[Any] = []
    for key, value in headers.items():
        if key.lower() == lowered:
            found.extend(value if isinstance(value, list) else [value])
    return found


def _single_header(event: dict[str, Any], name: str) -> str | None:
    """The header's one value; two values, or two spellings, of Authorization is an ambiguity we refuse."""
    multi = _all_values(event.get("multiValueHeaders"), name)
    single = _all_values(event.get("headers"), name)
    if len(multi) > 1 or len(single) > 1:
        count = max(len(multi), len(single))
        raise MalformedAuthorizationError(f"{count} {name} headers; exactly one is allowed")
    value = single[0] if single else None
    return value if isinstance(value, str) else None


def read_request(event: dict[str, Any], websocket_query_parameter: str) -> AuthorizationRequest:
    """Classify the event and find its token; raises ``TokenRejected`` subclasses for bad input."""
    if not isinstance(event, dict):
        raise MissingTokenError("the event is not an object")
    try:
        return _read(event, websocket_query_parameter)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # An event without the keys its type promises (an emulator, a test console): no token.
        raise MissingTokenError(f"the event lacks {exc!s:.40}; no token can be read") from None


def _read(event: dict[str, Any], websocket_query_parameter: str) -> AuthorizationRequest:
    if event.get("type") == "TOKEN":
        token_event = APIGatewayAuthorizerTokenEvent(event)
        route = parse_arn(token_event.method_arn)
        token = bearer_token(event.get("authorizationToken"))
        return AuthorizationRequest(EventKind.REST_TOKEN, token, route, route.method, route.path)
    if event.get("version") == "2.0":
        v2 = APIGatewayAuthorizerEventV2(event)
        route = parse_arn(v2.route_arn)
        token = bearer_token(_header(v2.headers, "authorization"))
        http = (event.get("requestContext") or {}).get("http") or {}
        method = http.get("method") or route.method
        return AuthorizationRequest(EventKind.HTTP_V2, token, route, method, event.get("rawPath") or route.path)
    request = APIGatewayAuthorizerRequestEvent(event)
    method_arn = request.method_arn
    context = event.get("requestContext") or {}
    if context.get("eventType") == "CONNECT" or method_arn.endswith("/$connect"):
        route = parse_arn(method_arn, websocket=True)
        header = _single_header(event, "Authorization")
        if header is not None:
            token = bearer_token(header)
        else:
            raw = (event.get("queryStringParameters") or {}).get(websocket_query_parameter)
            if not raw:
                raise MissingTokenError(f"no Authorization header and no {websocket_query_parameter!r} query parameter")
            if not isinstance(raw, str) or not is_b64token(raw):
                raise MalformedAuthorizationError("the query-string token has characters outside a token")
            token = raw
        return AuthorizationRequest(EventKind.WEBSOCKET, token, route, "", route.path)
    route = parse_arn(method_arn)
    token = bearer_token(_single_header(event, "Authorization"))
    kind = EventKind.HTTP_V1 if event.get("version") == "1.0" else EventKind.REST_REQUEST
    method = event.get("httpMethod") or route.method
    return AuthorizationRequest(kind, token, route, method, event.get("path") or route.path)
