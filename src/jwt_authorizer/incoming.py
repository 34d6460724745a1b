"""Reading an API Gateway authorizer event: which API it is, where the token is, which route.

API Gateway sends five shapes (REST TOKEN, REST REQUEST, HTTP API 1.0 and 2.0, WebSocket
``$connect``) that differ in where the token and the route live. They are read as the plain
dictionaries they are, touching only the keys each shape really has, the same ones Powertools'
data classes read (``methodArn``, ``routeArn``, ``headers``...): a REST REQUEST event has no
``version`` or ``identitySource``. Building a data class per event would cost more than the rest
of a warm decision. Nothing here trusts the token; it only finds it.

The kind of event is decided only from what API Gateway alone sets, never from text a caller
chooses: a WebSocket ``$connect`` has a WebSocket request context (``eventType`` ``CONNECT``,
``routeKey`` ``$connect``, a ``connectionId``) *and* a WebSocket method ARN
(``.../{stage}/$connect``, no verb). A REST or HTTP API path may end in ``/$connect`` too (``$`` is
a legal path character); such a request is an ordinary route. An event whose signals disagree is
refused (``malformed_event``, 401): answering it as a connection would allow the whole stage.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, NamedTuple

from .exceptions import MalformedAuthorizationError, MalformedEventError, MissingTokenError

# RFC 6750 section 2.1: "Bearer" (any case), one space, one b64token, nothing else.
_B64TOKEN_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
# DOTALL: a path is caller text and may hold any character; every ARN with the execute-api prefix
# must parse, or a path with a line break would turn the answer into a literal-ARN one.
_ARN = re.compile(
    r"arn:(?P<partition>[^:]+):execute-api:(?P<region>[^:]*):(?P<account>[^:]*):"
    r"(?P<api>[^/]+)/(?P<stage>[^/]+)(?:/(?P<rest>.*))?",
    re.DOTALL,
)
CONNECT_ROUTE = "$connect"
# Authorization schemes whose name may be logged when they are not Bearer (IANA's HTTP
# Authentication Scheme Registry, plus AWS SigV4 and NTLM). Anything else is never echoed: a bare
# credential sent without a scheme must not have its first characters logged.
KNOWN_SCHEMES = {
    name.lower(): name
    for name in (
        "Basic",
        "Concealed",
        "Digest",
        "DPoP",
        "GNAP",
        "HOBA",
        "Mutual",
        "Negotiate",
        "NTLM",
        "OAuth",
        "PrivateToken",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
        "vapid",
        "AWS4-HMAC-SHA256",
    )
}
_MAX_ROUTE_LABEL = 512


class EventKind(StrEnum):
    REST_TOKEN = "rest_token"
    REST_REQUEST = "rest_request"
    HTTP_V1 = "http_v1"
    HTTP_V2 = "http_v2"
    WEBSOCKET = "websocket"


class RouteArn(NamedTuple):
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
    # The part after the stage is exactly ``$connect`` (a WebSocket ARN's shape: no verb segment).
    connect: bool = False


class AuthorizationRequest:
    """A request as the decision sees it.

    ``http_method`` and ``path`` are the route the decision is taken on: the method ARN's verb
    and path when the ARN can be read (what API Gateway matches a cached policy against), else
    the event's own method and path; ``""`` when neither names a route. A WebSocket connection has
    no method (``""``) and the path ``/$connect``. ``checked`` is False when the token's b64token
    syntax is still to be checked (``bearer_value``).
    """

    __slots__ = ("checked", "http_method", "kind", "path", "route", "token")

    def __init__(  # noqa: PLR0917 - positional on the warm path; no dataclass: 1.6 ms to define at cold start
        self, kind: EventKind, token: str, route: RouteArn, http_method: str, path: str, checked: bool = True
    ) -> None:
        self.kind = kind
        self.token = token
        self.route = route
        self.http_method = http_method
        self.path = path
        self.checked = checked

    @property
    def label(self) -> str:
        """The route for log lines: ``GET /orders/42``, or ``$connect``."""
        if self.kind is EventKind.WEBSOCKET:
            return CONNECT_ROUTE
        return f"{self.http_method or '-'} {self.path or '-'}"[:_MAX_ROUTE_LABEL]


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
    rest = match["rest"]
    connect = rest == CONNECT_ROUTE
    if websocket:
        method, path = "", rest or ""
    else:
        method, slash, path = (rest or "").partition("/")
        if not method or not slash:
            # ``.../stage``, ``.../stage/GET`` or ``.../stage//x``: no verb and path to decide on.
            return RouteArn(raw=arn, connect=connect)
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
        connect=connect,
    )


def bearer_token(value: str | None) -> str:
    """The token of an ``Authorization: Bearer`` value, or a typed authentication failure."""
    if value is None or not value.strip():
        raise MissingTokenError("no Authorization header (or it is empty)")
    stripped = value.strip(" ")
    if stripped[:7].lower() != "bearer ":
        scheme = value.strip().split(" ", 1)[0]
        if scheme.lower() != "bearer":
            # Only a recognised scheme is named, in its registered spelling (never the caller's text).
            raise MalformedAuthorizationError(
                "the Authorization scheme is not Bearer", actual=KNOWN_SCHEMES.get(scheme.lower())
            )
        raise MalformedAuthorizationError(_SYNTAX_ERROR)
    token = stripped[7:]
    if not is_b64token(token):
        raise MalformedAuthorizationError(_SYNTAX_ERROR)
    return token


_SYNTAX_ERROR = "the Authorization header must be 'Bearer' and exactly one token"


def bearer_value(value: str | None) -> tuple[str, bool]:
    """``(token, checked)``: ``bearer_token(value)``, or the usual spelling read at once, unchecked.

    For ``Bearer <text>`` (no trailing space) the token is ``<text>`` if it is one at all; its
    b64token syntax is then left to ``check_token_syntax``, called only when the token fails to
    parse: a token that parses as a JWS is a b64token (base64url and dots), and one that is
    remembered as verified was parsed before. Either way the answer is ``bearer_token``'s.
    """
    if value.__class__ is str and value[:7] == "Bearer " and value[-1:] != " ":
        return value[7:], False
    return bearer_token(value), True


def check_token_syntax(token: str) -> None:
    """The b64token check ``bearer_value`` deferred (``MalformedAuthorizationError``)."""
    if not is_b64token(token):
        raise MalformedAuthorizationError(_SYNTAX_ERROR)


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
    except KeyError as exc:
        # An event without the keys its type promises (an emulator, a test console): no token.
        raise MissingTokenError(f"the event lacks {exc!s:.40}; no token can be read") from None
    except (TypeError, AttributeError, ValueError) as exc:
        # The type name only: a message could quote a value of the event (a header, a token).
        raise MissingTokenError(f"the event is not of the shape its type promises ({type(exc).__name__})") from None


def _websocket_context(event: dict[str, Any]) -> tuple[bool, bool]:
    """(any WebSocket signal in the request context, a complete and consistent ``$connect`` context)."""
    context = event.get("requestContext")
    if not isinstance(context, dict):
        return False, False
    event_type = context.get("eventType")
    route_key = context.get("routeKey")
    connection = context.get("connectionId")
    signals = event_type is not None or route_key == CONNECT_ROUTE or connection is not None
    complete = (
        event_type == "CONNECT"
        and route_key == CONNECT_ROUTE
        and isinstance(connection, str)
        and bool(connection)
        and "version" not in event
    )
    return signals, complete


def _refuse_mixed(kind: str, signals: bool, connect_arn: bool) -> None:
    """An HTTP event must carry neither WebSocket context nor a ``$connect`` ARN."""
    if signals or connect_arn:
        what = "a WebSocket request context" if signals else "a WebSocket $connect ARN (no verb)"
        raise MalformedEventError(f"a {kind} event with {what}: API Gateway never sends this; refused")


def _http_route(route: RouteArn, method: Any, path: Any) -> tuple[str, str]:
    """The route to decide on: the ARN's when readable, else the event's; ``("", "")`` for none."""
    if route.valid:
        return route.method, route.path
    if isinstance(method, str) and method and "/" not in method and isinstance(path, str) and path.startswith("/"):
        return method, path
    return "", ""


def _read(event: dict[str, Any], websocket_query_parameter: str) -> AuthorizationRequest:
    if event.get("type") == "TOKEN":
        # The event has exactly type, authorizationToken and methodArn (what
        # APIGatewayAuthorizerTokenEvent reads, without building it on every call).
        route = parse_arn(event["methodArn"])
        if route.connect:
            _refuse_mixed("REST TOKEN", False, True)
        token, checked = bearer_value(event.get("authorizationToken"))
        if route.valid:
            return AuthorizationRequest(EventKind.REST_TOKEN, token, route, route.method, route.path, checked)
        return AuthorizationRequest(EventKind.REST_TOKEN, token, route, "", "", checked)
    if event.get("version") == "2.0":
        route = parse_arn(event["routeArn"])
        _refuse_mixed("HTTP API 2.0", _websocket_context(event)[0], route.connect)
        token, checked = bearer_value(_header(event["headers"], "authorization"))
        http = (event.get("requestContext") or {}).get("http") or {}
        method, path = _http_route(route, http.get("method"), event.get("rawPath"))
        return AuthorizationRequest(EventKind.HTTP_V2, token, route, method, path, checked)
    method_arn = event["methodArn"]
    signals, complete = _websocket_context(event)
    route = parse_arn(method_arn)
    connect_arn = route.connect
    if complete and connect_arn:
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
    kind = EventKind.HTTP_V1 if event.get("version") == "1.0" else EventKind.REST_REQUEST
    if signals or connect_arn:
        if not connect_arn:
            detail = "a WebSocket request context, but a method ARN with a verb"
        elif not signals:
            detail = "a WebSocket $connect ARN, but no WebSocket request context"
        else:
            detail = "an incomplete or contradictory WebSocket request context"
        raise MalformedEventError(f"the event mixes WebSocket and HTTP signals ({detail}); refused")
    token, checked = bearer_value(_single_header(event, "Authorization"))
    method, path = _http_route(route, event.get("httpMethod"), event.get("path"))
    return AuthorizationRequest(kind, token, route, method, path, checked)
