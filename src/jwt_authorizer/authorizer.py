"""From an API Gateway event to a decision, and from a decision to API Gateway's answer.

This is the logic behind ``app.lambda_handler``: it raises the typed errors of ``exceptions`` and
returns ``Decision`` objects; the handler alone maps them to 401/403/500.
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii as _encode
from typing import TYPE_CHECKING, Any

from .config import Settings
from .decisions import CachedDecision, DecisionCache
from .exceptions import MalformedTokenError, TokenTooLargeError
from .identity import context_of, principal_of
from .incoming import AuthorizationRequest, EventKind, check_token_syntax, read_request
from .logline import dumps as _dumps
from .responses import iam_policy, settle, simple_response, stage_document
from .routes import ALLOW_ALL, Grant
from .token import ParsedToken
from .verifier import VerifiedToken, Verifier

if TYPE_CHECKING:
    from .revocation_source import RevocationCache

_MAX_DOCUMENTS = 256
_MAX_ROUTE_MEMBERS = 4096
_MAX_TOKEN_GROUPS = 1024
_MAX_RECENT = 4096

_NO_FIELDS: dict[str, Any] = {}  # shared: never written to
_LOGGED_CLAIMS = (("iss", "iss"), ("sub", "sub"), ("tid", "tid"), ("azp", "client_id"), ("appid", "client_id"))


def log_fields(parsed: ParsedToken | None, request: AuthorizationRequest | None) -> dict[str, Any]:
    """What a log line may say about a token: a few identifying claims, never the token."""
    fields: dict[str, Any] = {}
    if request is not None:
        fields["event_type"] = str(request.kind)
        fields["route"] = request.label
    if parsed is not None:
        kid = parsed.header.get("kid")
        if isinstance(kid, str):
            fields["kid"] = kid[:128]
        for claim, key in _LOGGED_CLAIMS:
            value = parsed.claims.get(claim)
            if isinstance(value, str) and key not in fields:
                fields[key] = value[:256]
    return fields


def token_members(parsed: ParsedToken, principal_claim: str, memo: dict[tuple[Any, ...], str] | None = None) -> str:
    """``log_fields(parsed, None)`` plus the principal claim, as JSON members: encoded once per token.

    All but ``sub`` are shared by the tokens of one client of one tenant (key, issuer, tenant,
    client, principal claim), so with a ``memo`` that part is encoded once per such group.
    """
    header, claims = parsed.header, parsed.claims
    # kid, iss and tid are strings (or absent) once the token verified; the client claims may be
    # anything when they are not principal claims.
    azp, appid = claims.get("azp"), claims.get("appid")
    group = (
        header.get("kid"),
        claims.get("iss"),
        claims.get("tid"),
        azp if azp.__class__ is str else None,
        appid if appid.__class__ is str else None,
        principal_claim,
    )
    shared = memo.get(group) if memo is not None else None
    if shared is None:
        kid, iss, tid = (v if v.__class__ is str else None for v in group[:3])
        parts = [f'"kid":{_encode(kid[:128])}'] if kid is not None else []
        parts += [f'"{key}":{_encode(value[:256])}' for key, value in (("iss", iss), ("tid", tid)) if value is not None]
        azp, appid = group[3:5]
        client = azp if azp is not None else appid
        if client is not None:
            parts.append(f'"client_id":{_encode(client[:256])}')
        parts.append(f'"principal_claim":{_encode(principal_claim)}')
        shared = ",".join(parts)
        if memo is not None:
            if len(memo) >= _MAX_TOKEN_GROUPS:
                memo.clear()
            memo[group] = shared
    sub = claims.get("sub")
    return f'{shared},"sub":{_encode(sub[:256])}' if sub.__class__ is str else shared


class Decision:
    """One request's decision. ``fields`` are the route decision's log fields (empty without route
    rules) and ``encoded`` the line's other members, already encoded: where the request went, then
    what the token said; ``response`` is ``Authorizer.respond``'s answer, once built."""

    __slots__ = (
        "context",
        "encoded",
        "fields",
        "grant",
        "permitted",
        "principal_id",
        "remembered",
        "request",
        "response",
        "verified",
    )

    def __init__(  # noqa: PLR0917 - positional on the warm path; no dataclass: 1.6 ms to define at cold start
        self,
        request: AuthorizationRequest,
        verified: VerifiedToken,
        principal_id: str,
        grant: Grant,
        permitted: bool,
        context: dict[str, Any],
        fields: dict[str, Any],
        encoded: str,
        remembered: CachedDecision,
    ) -> None:
        self.request = request
        self.verified = verified
        self.principal_id = principal_id
        self.grant = grant
        self.permitted = permitted
        self.context = context
        self.fields = fields
        self.encoded = encoded
        self.remembered = remembered
        self.response: dict[str, Any] | None = None


class Authorizer:
    """Holds the warm state (verifier, key caches, rules, caches) shared by every invocation."""

    def __init__(self, settings: Settings, verifier: Verifier, revocations: RevocationCache | None = None) -> None:
        self.settings = settings
        self.verifier = verifier
        if revocations is None:
            self.decisions = DecisionCache(settings.decision_cache_size)
        else:  # remembered successes re-checked when the revocation list changes
            from .revoking import RevokingDecisionCache  # noqa: PLC0415 - only with a list

            self.decisions = RevokingDecisionCache(settings.decision_cache_size, revocations)
        # Policy documents by (event kind, stage ARN, grant): one per stage and kind of caller, shared
        # by every principal (API Gateway only serializes them; nothing mutates them).
        self._documents: dict[tuple[EventKind, str, int, bool], tuple[Grant, dict[str, Any]]] = {}
        self._route_json: dict[tuple[EventKind, str, str], str] = {}
        self._token_groups: dict[tuple[Any, ...], str] = {}
        # (authorizationToken, methodArn) of REST TOKEN events -> their decision, while remembered.
        self._recent: dict[tuple[str, str], Decision] = {}
        self._recent_size = min(settings.decision_cache_size, _MAX_RECENT)

    def decide(self, event: dict[str, Any]) -> Decision:
        """Verify the event's token (or recall it) and apply the route rules.

        Raises ``TokenRejected`` (with ``log_fields`` attached) or ``KeySourceUnavailable``.
        """
        recent_key: tuple[str, str] | None = None
        if event.__class__ is dict and event.get("type") == "TOKEN":
            # A REST TOKEN event is its token and its method ARN, nothing else: the same pair, still
            # remembered by the decision cache (expiry, key set, revocations: ``decisions.get``),
            # gets the same decision, computed once.
            authorization, arn = event.get("authorizationToken"), event.get("methodArn")
            if authorization.__class__ is str and arn.__class__ is str:
                recent_key = (authorization, arn)
                recent = self._recent.get(recent_key)
                if (
                    recent is not None
                    and self.decisions.get(recent.request.token, self.verifier.now()) is recent.remembered
                ):
                    return recent
        request: AuthorizationRequest | None = None
        parsed: ParsedToken | None = None
        try:
            request = read_request(event, self.settings.websocket_query_parameter)
            now = self.verifier.now()
            entry = self.decisions.get(request.token, now)
            if entry is None:
                try:
                    parsed = self.verifier.parse(request.token)
                except (MalformedTokenError, TokenTooLargeError):
                    if not request.checked:
                        check_token_syntax(request.token)  # not even a b64token: say that instead
                    raise
                entry = self._verify(request.token, parsed, now)
        except Exception as exc:
            # The handler logs the failure; it needs to know which token it was about.
            exc.log_fields = log_fields(parsed, request)  # type: ignore[attr-defined]
            raise
        grant = entry.grant
        if grant is ALLOW_ALL and request.route.valid:
            # No route rules: every route of a readable ARN is allowed, and the policy is stage-wide.
            permitted, route_fields = True, _NO_FIELDS
        else:
            iam = not (request.kind is EventKind.HTTP_V2 and self.settings.http_api_response == "simple")
            grant, permitted, route_fields = settle(grant, request, iam=iam)
        encoded = f"{self._route_members(request)},{entry.token_json}"
        decision = Decision(
            request, entry.verified, entry.principal_id, grant, permitted, entry.context, route_fields, encoded, entry
        )
        if recent_key is not None and parsed is None and self._recent_size > 0:
            # Seen again (recalled from the decision cache): worth keeping whole.
            if len(self._recent) >= self._recent_size:
                self._recent.clear()
            self._recent[recent_key] = decision
        return decision

    def _route_members(self, request: AuthorizationRequest) -> str:
        """``"event_type":...,"route":...`` for this request, encoded once per event kind and route."""
        key = (request.kind, request.http_method, request.path)
        members = self._route_json.get(key)
        if members is None:
            members = _dumps({"event_type": request.kind.value, "route": request.label})[1:-1]
            if len(self._route_json) >= _MAX_ROUTE_MEMBERS:
                self._route_json.clear()
            self._route_json[key] = members
        return members

    def _verify(self, token: str, parsed: ParsedToken, now: float) -> CachedDecision:
        issuer = self.verifier.select(parsed)
        verified = issuer.verify(parsed, now)
        settings = issuer.settings
        principal_id, principal_claim = principal_of(verified.claims, settings.principal_claims)
        rules = settings.route_rules
        entry = CachedDecision(
            issuer=issuer,
            verified=verified,
            generation=issuer.keys.generation,
            expires_at=float(verified.claims["exp"]),
            principal_id=principal_id,
            grant=rules.grant_for(verified.claims) if rules is not None else ALLOW_ALL,
            context=context_of(verified.claims, settings.context_claims),
            token_json=token_members(parsed, principal_claim, self._token_groups),
        )
        self.decisions.put(token, entry)
        return entry

    def respond(self, decision: Decision) -> dict[str, Any]:
        """API Gateway's answer; built once per decision (a remembered one answers again alike)."""
        if decision.response is None:
            decision.response = self._respond(decision)
        return decision.response

    def _respond(self, decision: Decision) -> dict[str, Any]:
        request = decision.request
        if request.kind is EventKind.HTTP_V2 and self.settings.http_api_response == "simple":
            return simple_response(decision.permitted, decision.context)
        document = self._shared_document(decision)
        if document is None:
            return iam_policy(
                decision.principal_id,
                request.route,
                request.kind,
                decision.grant,
                decision.context,
                permitted=decision.permitted,
            )
        response: dict[str, Any] = {"principalId": decision.principal_id, "policyDocument": document}
        if decision.context:
            response["context"] = decision.context
        return response

    def _shared_document(self, decision: Decision) -> dict[str, Any] | None:
        """The stage-wide policy document for this grant, built once; ``None`` when it is per request.

        Only answers that do not depend on the route in the event are shared: a stage-wide grant
        whose policy carries no statement about the current route (a refusal adds one).
        """
        request, grant = decision.request, decision.grant
        route = request.route
        websocket = request.kind is EventKind.WEBSOCKET
        if not route.valid or grant.per_request or not (decision.permitted or websocket):
            return None
        key = (request.kind, route.stage_prefix, id(grant), decision.permitted)
        cached = self._documents.get(key)
        if cached is not None and cached[0] is grant:
            return cached[1]
        if grant is ALLOW_ALL and not websocket:
            document = stage_document(route)
        else:
            document = iam_policy("", route, request.kind, grant, {}, permitted=decision.permitted)["policyDocument"]
        if len(self._documents) >= _MAX_DOCUMENTS:
            self._documents.clear()
        self._documents[key] = (grant, document)
        return document
