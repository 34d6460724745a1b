"""Building the answer API Gateway expects: an IAM policy, or an HTTP API simple response.

API Gateway caches an authorizer's answer per token and reuses it for every route of the API
until the TTL ends, so the policy must describe everything the token may call, never only the
route in the event: without route rules that is the whole stage, with rules it is the list of
routes the rules grant (anything not listed is implicitly denied, which API Gateway answers 403).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerResponseV2,
    APIGatewayAuthorizerResponseWebSocket,
)

from .incoming import EventKind, RouteArn
from .routes import Grant


def _literal_policy(principal_id: str, route: RouteArn, effect: str, context: dict[str, Any]) -> dict[str, Any]:
    """For ARNs we cannot read (emulators): allow or deny exactly the ARN we were given."""
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


def iam_policy(
    principal_id: str, route: RouteArn, kind: EventKind, grant: Grant, context: dict[str, Any]
) -> dict[str, Any]:
    """The IAM policy for this caller, valid for every route of the stage."""
    if not route.valid:
        permitted = grant.allow_all or grant.permits(route.method, route.path)
        return _literal_policy(principal_id, route, "Allow" if permitted else "Deny", context)
    args = (principal_id, route.region, route.account, route.api_id, route.stage)
    if kind is EventKind.WEBSOCKET:
        ws = APIGatewayAuthorizerResponseWebSocket(*args, context=context or None, partition=route.partition)
        if grant.allow_all or grant.permits("", route.path):
            ws.allow_all_routes()
        else:
            ws.deny_all_routes()
        return ws.asdict()
    policy = APIGatewayAuthorizerResponse(*args, context=context or None, partition=route.partition)
    if grant.allow_all:
        policy.allow_all_routes()
    elif grant.routes:
        for method, resource in grant.routes:
            policy.allow_route(method, resource)
    else:
        policy.deny_all_routes()
    return policy.asdict()


def simple_response(authorized: bool, context: dict[str, Any]) -> dict[str, Any]:
    """HTTP API payload 2.0 simple response."""
    return APIGatewayAuthorizerResponseV2(authorize=authorized, context=context or None).asdict()
