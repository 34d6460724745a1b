"""The cached policy cannot leak or block: one token's answer, checked against every route of an API.

API Gateway caches the authorizer's answer per token and evaluates it for every later route of the
stage. These tests take the policy returned for route A and evaluate it — with an IAM evaluator
written here, independently of the code under test (``*`` any run of characters including ``/``,
``?`` one character, explicit Deny beats Allow, no Allow means deny) — for every route B of a sample
API, plus paths built to slip between the patterns. For a cached policy the answer for B must be
exactly the per-request decision for B, computed by an oracle also written here. A per-request
policy (which needs TTL 0) must be right for A and must never open any other B.

Routes B include methods outside the seven standard verbs (``PROPFIND``, ``$connect``, ``get``...):
API Gateway puts whatever method a client sends into the ARN, and with route rules those are
refused, by the decision and by every cached policy alike. They also include paths ending in
``/$connect``, which are ordinary HTTP routes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwt_authorizer.incoming import AuthorizationRequest, read_request
from jwt_authorizer.responses import iam_policy, settle
from jwt_authorizer.routes import ALLOW_ALL, VERBS
from jwt_authorizer.rules import EVERY_VERB, RouteRules, parse_rules
from support import IdentityProvider, KeyPair, LambdaContext, claims, http_v2_event, rest_token_event

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "orders-rules.json"
ORDERS_DOC: dict[str, Any] = json.loads(EXAMPLE.read_text())
TENANT = "11111111-1111-1111-1111-111111111111"
STAGE = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod"

PROFILES: dict[str, dict[str, Any]] = {
    "reader (delegated, scp)": {"scp": "orders.read", "tid": TENANT},
    "writer (delegated, scp)": {"scp": "orders.read orders.write", "tid": TENANT},
    "admin (role)": {"scp": "user_impersonation", "roles": ["Orders.Admin"], "tid": TENANT},
    "admin of another tenant": {"roles": ["Orders.Admin"], "tid": "22222222-2222-2222-2222-222222222222"},
    "job (app-only, roles, no scp)": {"roles": ["Orders.Job"], "tid": TENANT, "azp": "job-app"},
    "nobody": {"scp": "User.Read", "tid": TENANT},
}

# The sample API's routes (API Gateway resources) and values their parameters take at run time.
SAMPLE_API = [
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("GET", "/orders/{id}"),
    ("PUT", "/orders/{id}"),
    ("PATCH", "/orders/{id}"),
    ("DELETE", "/orders/{id}"),
    ("POST", "/orders/{id}/fulfil"),
    ("GET", "/orders/{id}/items"),  # a route no rule names: the default decides
    ("ANY", "/admin/{proxy+}"),
    ("GET", "/health"),
    ("GET", "/"),
]
VALUES = ["42", "a-b", "admin", "orders", "fulfil"]
# Paths built to fall between what the rules say and what a naive glob would allow.
TRICKY = [
    "/orders/",
    "/orders//fulfil",
    "/orders/42/",
    "/orders/1/2",
    "/orders/1/2/fulfil",
    "/orders/42/fulfil/x",
    "/orders/*",
    "/orders/4?",
    "/ordersX",
    "/admin",
    "/admin/",
    "/x/admin/y",
    "/health/",
    "/healthz",
    "/x/orders",
    "/GET/orders",
    "/orders/$connect",
    "/$connect",
    "/admin/$connect",
    "/orders/42/$connect",
]
# Methods a client may send that are not among the seven verbs rules can name.
ODD_VERBS = ["PROPFIND", "MKCOL", "$connect", "get", "GET$", "X", "CONNECT", "TRACE", "*", "G?T"]
EVERY_METHOD = [*VERBS, *ODD_VERBS]


def concrete(path: str) -> list[str]:
    if "{proxy+}" in path:
        return [path.replace("{proxy+}", v) for v in ("users", "users/7", "a/b/c")]
    if "{id}" in path:
        return [path.replace("{id}", v) for v in VALUES]
    return [path]


def sample_requests(extra: list[str] = TRICKY) -> list[tuple[str, str]]:
    """Every method (standard or not) on every concrete path of the sample API, plus the tricky paths."""
    paths = [p for _, template in SAMPLE_API for p in concrete(template)] + extra
    return [(verb, path) for path in dict.fromkeys(paths) for verb in EVERY_METHOD]


def api_requests() -> list[tuple[str, str]]:
    """Only the requests the sample API itself routes (method and path of a real resource)."""
    out: list[tuple[str, str]] = []
    for method, template in SAMPLE_API:
        for path in concrete(template):
            out.extend((verb, path) for verb in (VERBS if method == "ANY" else (method,)))
    return out


# ----- an IAM evaluator, independent of jwt_authorizer --------------------------------------------


@cache
def _iam_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern), re.DOTALL)


def iam_match(pattern: str, text: str) -> bool:
    """IAM resource wildcards: ``*`` any run of characters (``/`` too), ``?`` exactly one."""
    return _iam_regex(pattern).fullmatch(text) is not None


def iam_match_slow(pattern: str, text: str) -> bool:
    """The same, by dynamic programming over characters (cross-checks the regex translation)."""
    row: list[bool] = [True] + [False] * len(text)
    for ch in pattern:
        if ch == "*":
            for j in range(1, len(text) + 1):
                row[j] = row[j] or row[j - 1]
        else:
            row = [False] + [row[j - 1] and (ch == "?" or ch == text[j - 1]) for j in range(1, len(text) + 1)]
    return row[-1]


def evaluate(response: dict[str, Any], arn: str) -> bool:
    """Explicit Deny beats Allow; without a matching Allow the request is denied."""
    statements = response["policyDocument"]["Statement"]
    assert response["policyDocument"]["Version"] == "2012-10-17"

    def hits(statement: dict[str, Any]) -> bool:
        assert statement["Action"] == "execute-api:Invoke"
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        return any(iam_match(resource, arn) for resource in resources)

    if any(s["Effect"] == "Deny" and hits(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and hits(s) for s in statements)


def test_the_evaluator_itself() -> None:
    for match in (iam_match, iam_match_slow):
        assert match("a/*", "a/b/c") and match("a/*", "a/") and not match("a/*", "a")
        assert match("a/?", "a/b") and not match("a/?", "a/bc") and match("*", "")
        assert match("*/x/*", "GET/y/x/z") and not match("GET/x", "GET/x/") and match("a.b", "a.b")
        assert not match("a.b", "axb") and match("a*b*c", "a/b/c") and not match("a*b*c", "a/c/b")
    for pattern in ["*", "?", "a*", "*a", "a?c", "*/*", "a/*/b", "??*"]:
        for text in ["", "a", "ab", "abc", "a/b", "a//b", "a/x/b", "*", "?"]:
            assert iam_match(pattern, text) is iam_match_slow(pattern, text), (pattern, text)
    policy = {
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ["s/GET/*"]},
                {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "s/GET/secret"},
            ],
        }
    }
    assert evaluate(policy, "s/GET/open") and not evaluate(policy, "s/GET/secret")
    assert not evaluate(policy, "s/POST/open")


# ----- an oracle for the rules, independent of jwt_authorizer -------------------------------------


def oracle_matches(rule: dict[str, Any], method: str, path: str) -> bool:
    rule_method = str(rule.get("method", "ANY")).upper()
    if rule["path"] == "$connect":
        return method == ""
    if method == "" or (rule_method not in {"ANY", "*"} and rule_method != method):
        return False
    if rule["path"] == "/":
        return path == "/"
    wanted = rule["path"][1:].split("/")
    actual = path[1:].split("/") if path.startswith("/") else []
    for i, part in enumerate(wanted):
        if part == "*" or part.endswith("+}"):
            return len(actual) > i  # the rest of the path: there is a '/' here, anything may follow
        if (
            i >= len(actual)
            or (part.startswith("{") and actual[i] == "")
            or (not part.startswith("{") and part != actual[i])
        ):
            return False
    return len(actual) == len(wanted)


def oracle(document: dict[str, Any], rules: RouteRules, token: dict[str, Any], method: str, path: str) -> bool:
    if method and method not in VERBS:
        return False  # with rules, only the seven verbs are ever granted (docs/route-rules.md)
    satisfied = rules.satisfied(token)
    matching = [i for i, rule in enumerate(document["rules"]) if oracle_matches(rule, method, path)]
    if not matching:
        return bool(document.get("default", "deny") == "allow")
    return any(i in satisfied for i in matching)


# ----- answering route A ----------------------------------------------------------------------------


def request_for(method: str, path: str, stage: str = "prod", partition: str = "aws") -> AuthorizationRequest:
    event = rest_token_event("a.b.c", method=method, path=path[1:], stage=stage, partition=partition)
    return read_request(event, "access_token")


def answer(
    rules: RouteRules, token: dict[str, Any], method: str, path: str, **where: str
) -> tuple[dict[str, Any], Any]:
    """What the authorizer returns for route A (the code path of Authorizer.decide/respond)."""
    request = request_for(method, path, **where)
    grant, permitted, _ = settle(rules.grant_for(token), request, iam=True)
    return iam_policy("principal", request.route, request.kind, grant, {"sub": "x"}, permitted=permitted), grant


def arn(method: str, path: str, stage: str = STAGE) -> str:
    return f"{stage}/{method}{path}"


def check_cache(
    document: dict[str, Any],
    token: dict[str, Any],
    first: tuple[str, str],
    routes: list[tuple[str, str]],
    *,
    rules: RouteRules | None = None,
) -> bool:
    """The policy for ``first``, evaluated for every route: exact if cached, never leaking if not.

    Returns whether the answer was a cached (whole-API) policy.
    """
    rules = rules or parse_rules(document)
    policy, grant = answer(rules, token, *first)
    assert len(json.dumps(policy)) < 6 * 1024
    for statement in policy["policyDocument"]["Statement"]:
        resources = statement["Resource"]
        assert all(len(r) <= 512 for r in ([resources] if isinstance(resources, str) else resources))
    expected_first = oracle(document, rules, token, *first)
    assert grant.permits(*first) is expected_first
    if grant.per_request and any(ch in first[0] + first[1] for ch in "*?"):
        # No policy can name this ARN exactly ('*'/'?' are wildcards to IAM): refused, by design.
        expected_first = False
    assert evaluate(policy, arn(*first)) is expected_first, f"route A {first}"
    for method, path in routes:
        expected = oracle(document, rules, token, method, path)
        assert grant.permits(method, path) is expected, (method, path)
        got = evaluate(policy, arn(method, path))
        if grant.per_request:
            assert not (got and not expected), f"per-request answer for {first} leaks {method} {path}"
        else:
            assert got is expected, f"cached answer for {first} {'leaks' if got else 'blocks'} {method} {path}"
    return not grant.per_request


# ----- the orders example ---------------------------------------------------------------------------


@pytest.mark.parametrize("profile", list(PROFILES))
def test_orders_example_cached_policy_is_exact_for_every_route(profile: str) -> None:
    rules = parse_rules(ORDERS_DOC)
    requests = sample_requests()
    for first in api_requests():
        assert check_cache(ORDERS_DOC, PROFILES[profile], first, requests, rules=rules), "expected a cached policy"
    # Route A with a method no rule can name, or a path ending in /$connect: refused, and the
    # answer (cached when the ARN can be named exactly) is still right for every route B.
    for first in [("PROPFIND", "/admin/users"), ("$connect", "/"), ("GET", "/orders/$connect"), ("X", "/health")]:
        check_cache(ORDERS_DOC, PROFILES[profile], first, requests, rules=rules)


def test_orders_example_policies() -> None:
    """The statements the docs show for the worked example."""
    rules = parse_rules(ORDERS_DOC)
    reader = rules.grant_for(PROFILES["reader (delegated, scp)"])
    assert reader.routes == (("GET", "/orders"), ("GET", "/orders/*"), ("GET", "/health"))
    assert reader.denied == (("GET", "/orders/*/*"), ("GET", "/orders/"))
    job = rules.grant_for(PROFILES["job (app-only, roles, no scp)"])
    assert job.routes == (("POST", "/orders/*/fulfil"), ("GET", "/health"))
    assert job.denied == (("POST", "/orders/*/*/fulfil"), ("POST", "/orders//fulfil"))
    admin = rules.grant_for(PROFILES["admin (role)"])
    assert ("GET", "/admin/*") in admin.routes and ("OPTIONS", "/admin/*") in admin.routes
    assert not any(method == "*" for method, _ in admin.routes)  # ANY expands: a '*' verb spans '/'
    nobody = rules.grant_for(PROFILES["nobody"])
    assert nobody.routes == (("GET", "/health"),) and nobody.denied == ()


def test_a_refused_route_gets_an_explicit_deny() -> None:
    rules = parse_rules(ORDERS_DOC)
    policy, _ = answer(rules, PROFILES["reader (delegated, scp)"], "DELETE", "/orders/42")
    denies = [r for s in policy["policyDocument"]["Statement"] if s["Effect"] == "Deny" for r in s["Resource"]]
    assert arn("DELETE", "/orders/42") in denies
    assert evaluate(policy, arn("GET", "/orders/42"))  # the cached answer still serves the reader's routes
    nothing, _ = answer(rules, {"scp": "x"}, "GET", "/orders")
    assert not any(evaluate(nothing, arn(m, p)) for m, p in sample_requests() if p != "/health")


# ----- rules no single policy can express ----------------------------------------------------------

NESTED_DOC: dict[str, Any] = {
    "rules": [
        *ORDERS_DOC["rules"],
        {"method": "GET", "path": "/orders/{id}/items", "require": {"scope": "orders.read"}},
    ]
}


def test_nested_routes_under_a_parameter_fall_back_to_per_request() -> None:
    """Readers may GET /orders/{id} and /orders/{id}/items but nothing else below /orders/{id}.

    No set of IAM globs says "one segment": GET/orders/* would also open /orders/42/anything. The
    reader's answer becomes per-request (TTL 0) — and still never opens another route.
    """
    rules = parse_rules(NESTED_DOC)
    reader = PROFILES["reader (delegated, scp)"]
    assert rules.grant_for(reader).per_request
    for first in api_requests():
        assert not check_cache(NESTED_DOC, reader, first, sample_requests(), rules=rules)
    # Callers the new rule does not concern keep their cached policies.
    assert check_cache(NESTED_DOC, PROFILES["job (app-only, roles, no scp)"], ("GET", "/health"), sample_requests())


def test_all_routes_listed_makes_nested_routes_cacheable() -> None:
    """When the rules name every route of the API, paths no route has need not be denied."""
    document = {**NESTED_DOC, "allRoutesListed": True}
    document["rules"] = [*NESTED_DOC["rules"], {"method": "GET", "path": "/", "require": "authenticated"}]
    rules = parse_rules(document)
    listed = [
        (verb, path)
        for method, template in [*SAMPLE_API[:8], *SAMPLE_API[8:]]
        for path in concrete(template)
        for verb in (VERBS if method == "ANY" else (method,))
        if any(oracle_matches(rule, verb, path) for rule in document["rules"])
    ]
    for profile, token in PROFILES.items():
        for first in listed:
            assert check_cache(document, token, first, listed, rules=rules), profile


def test_a_route_outside_a_listed_api_is_answered_per_request() -> None:
    """allRoutesListed is a promise; a request that breaks it gets an exact answer for itself, logged."""
    for default in ("deny", "allow"):
        document = {**ORDERS_DOC, "default": default, "allRoutesListed": True}
        rules = parse_rules(document)
        for token in PROFILES.values():
            for first in [("GET", "/orders/1/items"), ("PATCH", "/orders/1"), ("GET", "/unlisted")]:
                assert not check_cache(document, token, first, sample_requests(), rules=rules)
                _, permitted, fields = settle(rules.grant_for(token), request_for(*first), iam=True)
                assert fields["route_unlisted"] is True and permitted is (default == "allow")


def test_default_allow() -> None:
    document = {
        "default": "allow",
        "rules": [
            {"method": "ANY", "path": "/admin/*", "require": {"role": "Orders.Admin"}},
            {"method": "DELETE", "path": "/orders/*", "require": {"role": "Orders.Admin"}},
            {"method": "POST", "path": "/orders", "require": {"scope": "orders.write"}},
        ],
    }
    rules = parse_rules(document)
    for token in PROFILES.values():
        for first in [("GET", "/orders"), ("DELETE", "/orders/1"), ("GET", "/admin/x")]:
            assert check_cache(document, token, first, sample_requests(), rules=rules)
    reader = rules.grant_for(PROFILES["reader (delegated, scp)"])
    # Default allow is every standard verb on the stage, not "*/*": that would allow PROPFIND too.
    assert not reader.allow_all and set(EVERY_VERB) <= set(reader.routes) and ("POST", "/orders") in reader.denied
    # A refused {param} rule cannot be denied exactly under default allow ('*' would also deny
    # /orders/1/items, which no rule names): per-request, still without leaks.
    narrow = {**document, "rules": [{"method": "GET", "path": "/orders/{id}", "require": {"scope": "x"}}]}
    assert not check_cache(narrow, {"scp": "y"}, ("GET", "/health"), sample_requests())


def test_long_stage_names_and_partitions() -> None:
    rules = parse_rules(ORDERS_DOC)
    reader = PROFILES["reader (delegated, scp)"]
    policy, grant = answer(rules, reader, "GET", "/orders", partition="aws-cn")
    assert not grant.per_request
    assert all(
        r.startswith("arn:aws-cn:execute-api:eu-west-1:123456789012:abcdef1234/prod/")
        for s in policy["policyDocument"]["Statement"]
        for r in s["Resource"]
    )
    # Resource ARNs are limited to 512 characters: a route too long to list makes the answer per-request.
    document = {
        "rules": [
            {"method": "GET", "path": "/" + "x" * 460, "require": {"scope": "orders.read"}},
            {"method": "GET", "path": "/short", "require": {"scope": "orders.read"}},
        ]
    }
    policy, grant = answer(parse_rules(document), reader, "GET", "/short")
    assert grant.per_request
    assert policy["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [arn("GET", "/short")]}
    ]
    assert check_cache(document, reader, ("GET", "/short"), [("GET", "/" + "x" * 460), ("GET", "/x")]) is False
    # A request ARN that cannot be named exactly (wildcard characters in the path) is refused.
    _, permitted, fields = settle(
        rules.grant_for(reader).per_request_variant(), request_for("GET", "/orders/*"), iam=True
    )
    assert not permitted and fields["route_reason"] == "arn_not_expressible"


def test_huge_rule_set_answers_per_request_without_leaks() -> None:
    document = {"rules": [{"method": "GET", "path": f"/r/{i:03d}/x", "require": {"scope": "r"}} for i in range(150)]}
    rules = parse_rules(document)
    probes = [("GET", f"/r/{i:03d}/x") for i in range(0, 150, 7)] + [("GET", "/r/999/x"), ("POST", "/r/001/x")]
    for first in probes[:5]:
        assert not check_cache(document, {"scp": "r"}, first, probes, rules=rules)


# ----- random rule sets ----------------------------------------------------------------------------


def _pattern(parts: list[str], tail: str) -> str:
    """A rule path from segments, numbering the parameters ({p0}, {p1}, ...)."""
    numbered = [f"{{p{i}}}" if part == "{}" else part for i, part in enumerate(parts)]
    return "/" + "/".join(numbered + ([tail] if tail else []))


PATTERNS = st.builds(
    _pattern, st.lists(st.sampled_from(["a", "b", "{}"]), min_size=0, max_size=3), st.sampled_from(["", "", "*"])
)
RULES = st.lists(
    st.fixed_dictionaries(
        {
            "method": st.sampled_from(["GET", "POST", "ANY"]),
            "path": PATTERNS,
            "require": st.sampled_from([{"scope": "s1"}, {"scope": "s2"}, {"role": "R"}, "authenticated"]),
        }
    ),
    min_size=1,
    max_size=6,
)
PROBE_PATHS = st.lists(st.sampled_from(["a", "b", "c", "", "a*", "?", "$connect"]), min_size=0, max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)
# Any method token a client may send (RFC 9110 tchar), not only the seven verbs.
METHOD_TEXT = st.text(alphabet="GETPOSabcx$!#%&'*+-.^_`|~?", min_size=1, max_size=8)


def _valid(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop rules naming a route an earlier rule names (the loader refuses duplicates)."""
    return list({(rule["method"], rule["path"]): rule for rule in reversed(rules)}.values())[::-1]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=RULES,
    default=st.sampled_from(["deny", "allow"]),
    scopes=st.lists(st.sampled_from(["s1", "s2"]), unique=True),
    role=st.booleans(),
    probes=st.lists(
        st.tuples(st.sampled_from(VERBS) | st.sampled_from(ODD_VERBS) | METHOD_TEXT, PROBE_PATHS),
        min_size=1,
        max_size=25,
    ),
)
def test_random_rule_sets_never_leak_or_block(
    rules: list[dict[str, Any]], default: str, scopes: list[str], role: bool, probes: list[tuple[str, str]]
) -> None:
    document = {"default": default, "rules": _valid(rules)}
    token: dict[str, Any] = {"scp": " ".join(scopes), **({"roles": ["R"]} if role else {})}
    extra = [("GET", "/a/b/c/d"), ("POST", "/a//b"), ("DELETE", "/"), ("GET", "/b/a/")]
    check_cache(document, token, probes[0], probes + extra)


# ----- end to end through the handler ---------------------------------------------------------------


@pytest.fixture
def app(load_app: Callable[..., ModuleType]) -> Callable[..., ModuleType]:
    """The handler with the orders example's rules unless a test says otherwise."""
    return lambda **env: load_app(**{"ROUTE_RULES_FILE": str(EXAMPLE), **env})


@pytest.mark.parametrize("kind", ["rest_token", "http_v2_iam"])
def test_handler_answers_are_cache_safe(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, kind: str
) -> None:
    module = app(HTTP_API_RESPONSE="iam")
    rules = parse_rules(ORDERS_DOC)
    stage = STAGE if kind == "rest_token" else STAGE.replace("/prod", "/$default")
    for profile, token_claims in PROFILES.items():
        token = signer.sign(claims(idp.issuer, **token_claims))
        for method, path in [("GET", "/orders/42"), ("POST", "/orders/42/fulfil"), ("DELETE", "/admin/x")]:
            if kind == "rest_token":
                event = rest_token_event(token, method=method, path=path[1:])
            else:
                event = http_v2_event(token, method=method, path=path)
            response = module.lambda_handler(event, LambdaContext())
            for b_method, b_path in sample_requests():
                expected = oracle(ORDERS_DOC, rules, token_claims, b_method, b_path)
                assert evaluate(response, arn(b_method, b_path, stage)) is expected, (profile, method, path, b_path)


@pytest.mark.parametrize("length", [10, 3000, 9000])
def test_without_rules_settle_allows_the_whole_stage_whatever_the_arn_length(length: int) -> None:
    """The handler's no-rules shortcut and ``settle`` are one decision: a long ARN changes nothing."""
    request = request_for("GET", "/" + "a" * length)
    grant, permitted, fields = settle(ALLOW_ALL, request, iam=True)
    assert (permitted, grant.per_request, fields) == (True, False, {})
    policy = iam_policy("principal", request.route, request.kind, grant, {}, permitted=permitted)
    (statement,) = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Resource"] == [f"{request.route.stage_prefix}/*/*"]
    assert ALLOW_ALL.per_request_variant().permits("GET", "/orders")  # demoted, still the same answer
