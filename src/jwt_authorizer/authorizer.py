"""From an API Gateway event to a decision, and from a decision to API Gateway's answer.

This is the logic behind ``app.lambda_handler``: it raises the typed errors of ``exceptions`` and
returns ``Decision`` objects; the handler alone maps them to 401/403/500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import Settings
from .identity import context_of, principal_of
from .incoming import AuthorizationRequest, EventKind, read_request
from .responses import iam_policy, settle, simple_response
from .routes import ALLOW_ALL, Grant
from .token import ParsedToken
from .verifier import VerifiedToken, Verifier

_LOGGED_CLAIMS = (("iss", "iss"), ("sub", "sub"), ("tid", "tid"), ("azp", "client_id"), ("appid", "client_id"))


def log_fields(parsed: ParsedToken | None, request: AuthorizationRequest | None) -> dict[str, Any]:
    """What a log line may say about a token: a few identifying claims, never the token."""
    fields: dict[str, Any] = {}
    if request is not None:
        fields["event_type"] = str(request.kind)
        fields["route"] = f"{request.http_method} {request.path}".strip()
    if parsed is not None:
        kid = parsed.header.get("kid")
        if isinstance(kid, str):
            fields["kid"] = kid[:128]
        for claim, key in _LOGGED_CLAIMS:
            value = parsed.claims.get(claim)
            if isinstance(value, str) and key not in fields:
                fields[key] = value[:256]
    return fields


@dataclass
class Decision:
    request: AuthorizationRequest
    verified: VerifiedToken
    principal_id: str
    grant: Grant
    permitted: bool
    context: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)


class Authorizer:
    """Holds the warm state (verifier, key caches, per-issuer rules) shared by every invocation."""

    def __init__(self, settings: Settings, verifier: Verifier) -> None:
        self.settings = settings
        self.verifier = verifier

    def decide(self, event: dict[str, Any]) -> Decision:
        """Verify the event's token and apply the route rules.

        Raises ``TokenRejected`` (with ``log_fields`` attached) or ``KeySourceUnavailable``.
        """
        request: AuthorizationRequest | None = None
        parsed: ParsedToken | None = None
        try:
            request = read_request(event, self.settings.websocket_query_parameter)
            parsed = self.verifier.parse(request.token)
            issuer = self.verifier.select(parsed)
            verified = issuer.verify(parsed, self.verifier.now())
            principal_id, principal_claim = principal_of(verified.claims, issuer.settings.principal_claims)
        except Exception as exc:
            # The handler logs the failure; it needs to know which token it was about.
            exc.log_fields = log_fields(parsed, request)  # type: ignore[attr-defined]
            raise
        rules = issuer.settings.route_rules
        grant = rules.grant_for(verified.claims) if rules is not None else ALLOW_ALL
        iam = not (request.kind is EventKind.HTTP_V2 and self.settings.http_api_response == "simple")
        grant, permitted, route_fields = settle(grant, request, iam=iam)
        fields = log_fields(parsed, request)
        fields["principal_claim"] = principal_claim
        fields.update(route_fields)
        context = context_of(verified.claims, issuer.settings.context_claims)
        return Decision(request, verified, principal_id, grant, permitted, context, fields)

    def respond(self, decision: Decision) -> dict[str, Any]:
        request = decision.request
        if request.kind is EventKind.HTTP_V2 and self.settings.http_api_response == "simple":
            return simple_response(decision.permitted, decision.context)
        return iam_policy(decision.principal_id, request.route, request.kind, decision.grant, decision.context)
