"""Building the answer API Gateway expects: an IAM policy, or an HTTP API simple response.

API Gateway caches an authorizer's answer per token and reuses it for every route of the API
until the TTL ends, so the policy must describe everything the token may call, never only the
route in the event: without route rules that is the whole stage; with rules it is the grant's
Allow statements minus its explicit Deny statements, which the rules module has proved equal to
the rules on every method and path.

When no policy of acceptable size is exact (``Grant.per_request``), the answer covers the current
request only — Allow exactly its ARN, or Deny everything — and is correct only with the
authorizer's result cache off (TTL 0): a cached per-request answer blocks the token's next route,
it never opens one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .incoming import AuthorizationRequest, EventKind, RouteArn
from .routes import (
    MAX_RESOURCE_ARN_CHARS,
    POLICY_BUDGET_BYTES,
    VERBS,
    Grant,
    Statement,
    longest_resource,
    policy_size,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerResponse,
    )

# A path Powertools accepts in a resource, without IAM wildcards.
_PLAIN_PATH = re.compile(r"/[/.a-zA-Z0-9_{}+-]*")


def _literal_policy(principal_id: str, route: RouteArn, effect: str, context: dict[str, Any]) -> dict[str, Any]:
    """Allow or deny exactly the ARN we were given (emulator ARNs, unusual request paths)."""
    response: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": [route.raw]}],
        },
    }
    if context:
        response["context"] = context
    return response


def nameable(route: RouteArn) -> bool:
    """Can a policy name exactly this ARN, readable or not? (No ``*``/``?``, at most 512 characters.)"""
    raw = route.raw
    return bool(raw) and "*" not in raw and "?" not in raw and len(raw) <= MAX_RESOURCE_ARN_CHARS


def exact_resource(route: RouteArn) -> bool:
    """Can a policy name exactly this request's ARN (no ``*``/``?`` in it, at most 512 characters)?"""
    return route.valid and nameable(route)


def _plain(route: RouteArn) -> bool:
    """Can Powertools name this ARN? (It strips every leading '/' of a resource: '//a' would become '/a';
    it knows only the seven verbs.) Other exact ARNs are written verbatim."""
    return (
        exact_resource(route)
        and route.method in VERBS
        and _PLAIN_PATH.fullmatch(route.path) is not None
        and not route.path.startswith("//")
    )


def _add_statements(
    policy: APIGatewayAuthorizerResponse, effect: str, statements: tuple[Statement, ...], prefix: str
) -> list[str]:
    """Add statements through Powertools; return the ARNs it cannot spell (a resource starting '//')."""
    verbatim = []
    for method, resource in statements:
        if resource.startswith("//"):
            verbatim.append(prefix + method + resource)
        elif effect == "Allow":
            policy.allow_route(method, resource)
        else:
            policy.deny_route(method, resource)
    return verbatim


def _with_resources(response: dict[str, Any], effect: str, arns: list[str]) -> dict[str, Any]:
    if arns:
        statements = response["policyDocument"]["Statement"]
        target = next((s for s in statements if s["Effect"] == effect and "Condition" not in s), None)
        if target is None:
            statements.append({"Action": "execute-api:Invoke", "Effect": effect, "Resource": arns})
        else:
            target["Resource"].extend(arns)
    return response


_FITTED: dict[tuple[int, str, int], tuple[Grant, Grant]] = {}
_MAX_FITTED = 1024


def fit(grant: Grant, route: RouteArn, kind: EventKind) -> Grant:
    """The grant as this stage's policy can carry it: per request when the cached form is too large.

    The answer depends only on the grant, the stage ARN and the length of the request's ARN, and is
    remembered for them: measuring a policy's size costs more than the rest of a warm decision.
    """
    if grant.per_request or not route.valid or kind is EventKind.WEBSOCKET:
        return grant
    key = (id(grant), route.stage_prefix, len(route.raw))
    known = _FITTED.get(key)
    if known is not None and known[0] is grant:
        return known[1]
    fitted = _fit(grant, route)
    if len(_FITTED) >= _MAX_FITTED:
        _FITTED.clear()
    _FITTED[key] = (grant, fitted)
    return fitted


def _fit(grant: Grant, route: RouteArn) -> Grant:
    prefix = route.stage_prefix + "/"
    too_long = longest_resource(prefix, grant.allow_all, grant.routes, grant.denied) > MAX_RESOURCE_ARN_CHARS
    # Room for the explicit Deny of the current route that iam_policy may add (none when the grant
    # refuses nothing: the whole stage, no rules).
    refuses = grant.decision is not None or bool(grant.denied) or not grant.allow_all
    extra = len(route.raw) + 4 if refuses else 0
    size = policy_size(prefix, grant.allow_all, grant.routes, grant.denied, extra_denied=extra)
    if too_long or size > POLICY_BUDGET_BYTES:
        return grant.per_request_variant()
    return grant


def settle(grant: Grant, request: AuthorizationRequest, *, iam: bool) -> tuple[Grant, bool, dict[str, Any]]:
    """The grant fitted to the answer's form, whether this request is permitted, and log fields.

    This is the one decision about the request: ``iam_policy`` only renders it, so the policy and
    the decision line always say the same thing. The decision is taken on the method ARN's verb
    and path (what a cached policy is matched against), so a cached and a per-request answer can
    never disagree about the same request. A request whose refusal or permission the policy could
    not express exactly (an ARN with IAM wildcards in it, an unreadable ARN) is refused, or
    answered for itself only. A refusal under a cached policy needs no statement of its own: the
    policy was proved to refuse every route the rules refuse, whatever its method or path text;
    ``iam_policy`` adds an explicit Deny where the ARN can be named exactly.
    """
    route = request.route
    method, path = request.http_method, request.path
    websocket = request.kind is EventKind.WEBSOCKET
    fields: dict[str, Any] = {}
    if not websocket and not method:
        # Neither the ARN nor the event names a route: only a grant of everything can say yes.
        permitted = grant.decision is None and grant.allow_all and (not iam or nameable(route))
        if grant.decision is not None:
            fields["route_reason"] = "route_unreadable"
        return grant, permitted, fields
    if iam:
        if grant.decision is not None and not grant.per_request and not grant.decision.covers(method, path):
            # allRoutesListed promised no such route: the cached policy was proved for listed routes only.
            grant = grant.per_request_variant()
            fields["route_unlisted"] = True
        grant = fit(grant, route, request.kind)
    permitted = grant.permits(method, path)
    if iam and not websocket and (not route.valid or grant.per_request) and permitted and not nameable(route):
        permitted = False
        fields["route_reason"] = "arn_not_expressible"
    if grant.decision is None:
        return grant, permitted, fields
    if iam and not websocket:
        fields["route_policy"] = "per_request" if grant.per_request else "cached"
    if not permitted and "route_reason" not in fields:
        fields.update(grant.explain(method, path))
    return grant, permitted, fields


def iam_policy(
    principal_id: str,
    route: RouteArn,
    kind: EventKind,
    grant: Grant,
    context: dict[str, Any],
    *,
    permitted: bool,
) -> dict[str, Any]:
    """The IAM policy for this caller, rendering ``settle``'s decision ``permitted``.

    Valid for every route of the stage unless ``grant.per_request`` (or the ARN is unreadable).
    """
    if not route.valid:
        allowed = permitted and nameable(route)
        return _literal_policy(principal_id, route, "Allow" if allowed else "Deny", context)
    # Powertools' response classes, imported on first use: the common answers (the whole stage,
    # the simple response) are built below without them, and the tests prove the two alike.
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (  # noqa: PLC0415
        APIGatewayAuthorizerResponse,
        APIGatewayAuthorizerResponseWebSocket,
    )

    args = (principal_id, route.region, route.account, route.api_id, route.stage)
    if kind is EventKind.WEBSOCKET:
        # The authorizer runs on $connect only; the connection is all the policy governs.
        ws = APIGatewayAuthorizerResponseWebSocket(*args, context=context or None, partition=route.partition)
        if permitted:
            ws.allow_all_routes()
        else:
            ws.deny_all_routes()
        return ws.asdict()
    policy = APIGatewayAuthorizerResponse(*args, context=context or None, partition=route.partition)
    if grant.per_request:
        if not (permitted and exact_resource(route)):
            policy.deny_all_routes()
        elif _plain(route):
            policy.allow_route(route.method, route.path)
        else:
            return _literal_policy(principal_id, route, "Allow", context)
        return policy.asdict()
    prefix = route.stage_prefix + "/"
    if grant.allow_all:
        policy.allow_all_routes()
    allow_verbatim = _add_statements(policy, "Allow", grant.routes, prefix)
    deny_verbatim = _add_statements(policy, "Deny", grant.denied, prefix)
    if not permitted:
        # Refused routes get an explicit Deny (harmless in the cache: the rules refuse this exact
        # route, and the ARN has no wildcard, so the Deny matches nothing else). An ARN with a
        # wildcard gets none: the proved statements refuse it already.
        if _plain(route):
            policy.deny_route(route.method, route.path)
        elif nameable(route):
            deny_verbatim.append(route.raw)
    if not grant.allow_all and not grant.routes:
        policy.deny_all_routes()
    response = policy.asdict()
    return _with_resources(_with_resources(response, "Allow", allow_verbatim), "Deny", deny_verbatim)


def simple_response(authorized: bool, context: dict[str, Any]) -> dict[str, Any]:
    """HTTP API payload 2.0 simple response, as ``APIGatewayAuthorizerResponseV2.asdict()`` gives it."""
    return {"isAuthorized": authorized, "context": context} if context else {"isAuthorized": authorized}


def stage_document(route: RouteArn) -> dict[str, Any]:
    """The policy document allowing every route of the stage, as Powertools' ``allow_all_routes``
    writes it (the answer without route rules, built once per stage)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [route.stage_prefix + "/*/*"]}],
    }
