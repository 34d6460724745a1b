"""Route rules: the requirement language, path patterns, defaults, validation, loading, and the handler."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import ConfigurationError
from jwt_authorizer.routes import POLICY_BUDGET_BYTES, glob_matches, parse_pattern, route_matches
from jwt_authorizer.rules import EVERY_VERB, RouteRules, load_rules, parse_rules
from support import (
    IdentityProvider,
    KeyPair,
    LambdaContext,
    claims,
    http_v2_event,
    rest_request_event,
    rest_token_event,
    websocket_connect_event,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "orders-rules.json"
TENANT = "11111111-1111-1111-1111-111111111111"
OTHER_TENANT = "22222222-2222-2222-2222-222222222222"

# Entra token shapes: delegated (user) tokens carry scp; app-only (client credentials) tokens carry
# roles and no scp; group membership arrives in groups.
READER: dict[str, Any] = {"scp": "orders.read", "tid": TENANT, "oid": "u-1"}
WRITER: dict[str, Any] = {"scp": "orders.read orders.write", "tid": TENANT, "oid": "u-2"}
ADMIN: dict[str, Any] = {"scp": "user_impersonation", "roles": ["Orders.Admin"], "tid": TENANT, "oid": "u-3"}
FOREIGN_ADMIN: dict[str, Any] = {"roles": ["Orders.Admin"], "tid": OTHER_TENANT}
JOB: dict[str, Any] = {"roles": ["Orders.Job"], "tid": TENANT, "azp": "job-client", "azpacr": "1"}
NOBODY: dict[str, Any] = {"scp": "User.Read", "tid": TENANT}


def rules_of(*rules: dict[str, Any], default: str = "deny", **document: Any) -> RouteRules:
    return parse_rules({"rules": list(rules), **document}, default)


def permitted(rules: RouteRules, token: dict[str, Any], method: str, path: str) -> bool:
    return rules.grant_for(token).permits(method, path)


# ----- requirements -------------------------------------------------------------------------------

REQUIREMENT_TABLE: list[tuple[str, Any, dict[str, Any], bool]] = [
    # Entra delegated tokens: scp is one space-separated string.
    ("scp word", {"scope": "orders.read"}, {"scp": "openid orders.read"}, True),
    ("scp other word", {"scope": "orders.read"}, {"scp": "orders.write"}, False),
    ("scp is not a substring test", {"scope": "orders.read"}, {"scp": "orders.readonly"}, False),
    ("scp case-sensitive", {"scope": "orders.read"}, {"scp": "Orders.Read"}, False),
    # OAuth's scope claim and list-valued scp (Okta) count too.
    ("scope claim", {"scope": "orders.read"}, {"scope": "orders.read profile"}, True),
    ("scp list", {"scope": "orders.read"}, {"scp": ["orders.read"]}, True),
    # App-only tokens: roles, and no scp at all.
    ("app role", {"role": "Orders.Job"}, {"roles": ["Orders.Job"]}, True),
    ("app role missing", {"role": "Orders.Job"}, {"roles": ["Orders.Reader"]}, False),
    ("scope never matches a role", {"scope": "Orders.Job"}, {"roles": ["Orders.Job"]}, False),
    ("role never matches a scope", {"role": "orders.read"}, {"scp": "orders.read"}, False),
    ("roles not a list", {"role": "Orders.Job"}, {"roles": {"Orders.Job": True}}, False),
    # Groups.
    ("group member", {"group": "g-ops"}, {"groups": ["g-dev", "g-ops"]}, True),
    ("group non-member", {"group": "g-ops"}, {"groups": ["g-dev"]}, False),
    ("group overage (no groups claim)", {"group": "g-ops"}, {"_claim_names": {"groups": "src1"}}, False),
    # Any claim equal to / containing a value.
    ("claim equals", {"claim": "tid", "equals": TENANT}, {"tid": TENANT}, True),
    ("claim differs", {"claim": "tid", "equals": TENANT}, {"tid": OTHER_TENANT}, False),
    ("claim absent", {"claim": "tid", "equals": TENANT}, {}, False),
    ("equals is typed: true is not 1", {"claim": "level", "equals": 1}, {"level": True}, False),
    ("numbers compare as numbers", {"claim": "level", "equals": 2}, {"level": 2.0}, True),
    ("boolean claim", {"claim": "email_verified", "equals": True}, {"email_verified": True}, True),
    ("contains in a list", {"claim": "amr", "contains": "mfa"}, {"amr": ["pwd", "mfa"]}, True),
    ("contains a word", {"claim": "acrs", "contains": "c1"}, {"acrs": "c1 c2"}, True),
    ("contains is not substring", {"claim": "acrs", "contains": "c1"}, {"acrs": "c10"}, False),
    ("contains in a non-list", {"claim": "amr", "contains": "mfa"}, {"amr": 3}, False),
    # Combinators.
    ("anyOf first", {"anyOf": [{"scope": "a"}, {"role": "B"}]}, {"scp": "a"}, True),
    ("anyOf second", {"anyOf": [{"scope": "a"}, {"role": "B"}]}, {"roles": ["B"]}, True),
    ("anyOf none", {"anyOf": [{"scope": "a"}, {"role": "B"}]}, {"scp": "c"}, False),
    ("allOf both", {"allOf": [{"scope": "a"}, {"group": "g"}]}, {"scp": "a", "groups": ["g"]}, True),
    ("allOf one", {"allOf": [{"scope": "a"}, {"group": "g"}]}, {"scp": "a"}, False),
    (
        "nested",
        {"anyOf": [{"role": "Admin"}, {"allOf": [{"scope": "a"}, {"claim": "tid", "equals": TENANT}]}]},
        {"scp": "a", "tid": TENANT},
        True,
    ),
    (
        "nested, wrong tenant",
        {"anyOf": [{"role": "Admin"}, {"allOf": [{"scope": "a"}, {"claim": "tid", "equals": TENANT}]}]},
        {"scp": "a", "tid": OTHER_TENANT},
        False,
    ),
    ("authenticated", "authenticated", {}, True),
]


@pytest.mark.parametrize(
    ("requirement", "token", "expected"), [row[1:] for row in REQUIREMENT_TABLE], ids=[r[0] for r in REQUIREMENT_TABLE]
)
def test_requirements(requirement: Any, token: dict[str, Any], expected: bool) -> None:
    rules = rules_of({"method": "GET", "path": "/x", "require": requirement})
    assert permitted(rules, token, "GET", "/x") is expected


# ----- the orders example: Entra delegated, app-only, admin role --------------------------------

ORDERS = parse_rules(json.loads(EXAMPLE.read_text()))

ORDERS_TABLE: list[tuple[str, str, dict[str, bool]]] = [
    # route -> who may call it (reader, writer, admin, foreign admin, job, nobody)
    ("GET", "/orders", {"reader": True, "writer": True, "admin": True, "foreign": True, "job": False}),
    ("GET", "/orders/42", {"reader": True, "writer": True, "admin": True, "foreign": True, "job": False}),
    ("POST", "/orders", {"reader": False, "writer": True, "admin": True, "foreign": True, "job": False}),
    ("PUT", "/orders/42", {"reader": False, "writer": True, "admin": True, "foreign": True, "job": False}),
    ("PATCH", "/orders/42", {"reader": False, "writer": False, "admin": False, "foreign": False, "job": False}),
    ("DELETE", "/orders/42", {"reader": False, "writer": False, "admin": True, "foreign": True, "job": False}),
    ("POST", "/orders/42/fulfil", {"reader": False, "writer": False, "admin": True, "foreign": True, "job": True}),
    ("GET", "/orders/42/fulfil", {"reader": False, "writer": False, "admin": False, "foreign": False, "job": False}),
    ("GET", "/admin/users", {"reader": False, "writer": False, "admin": True, "foreign": False, "job": False}),
    ("DELETE", "/admin/users/7", {"reader": False, "writer": False, "admin": True, "foreign": False, "job": False}),
    ("GET", "/admin", {"reader": False, "writer": False, "admin": False, "foreign": False, "job": False}),
    ("GET", "/health", {"reader": True, "writer": True, "admin": True, "foreign": True, "job": True}),
    ("GET", "/", {"reader": False, "writer": False, "admin": False, "foreign": False, "job": False}),
    ("GET", "/orders/", {"reader": False, "writer": False, "admin": False, "foreign": False, "job": False}),
    ("GET", "/orders/42/", {"reader": False, "writer": False, "admin": False, "foreign": False, "job": False}),
    ("GET", "/ORDERS", {"reader": False, "writer": False, "admin": False, "foreign": False, "job": False}),
]
PROFILES: dict[str, dict[str, Any]] = {
    "reader": READER,
    "writer": WRITER,
    "admin": ADMIN,
    "foreign": FOREIGN_ADMIN,
    "job": JOB,
}


@pytest.mark.parametrize(("method", "path", "who"), ORDERS_TABLE, ids=[f"{m} {p}" for m, p, _ in ORDERS_TABLE])
def test_orders_example(method: str, path: str, who: dict[str, bool]) -> None:
    for profile, expected in who.items():
        assert permitted(ORDERS, PROFILES[profile], method, path) is expected, profile
    assert permitted(ORDERS, NOBODY, method, path) is (path == "/health" and method == "GET")


# ----- path patterns ------------------------------------------------------------------------------

PATTERN_TABLE: list[tuple[str, str, str, str, bool]] = [
    ("GET", "/orders/{id}", "GET", "/orders/42", True),
    ("GET", "/orders/{id}", "GET", "/orders/42/items", False),
    ("GET", "/orders/{id}", "GET", "/orders/", False),
    ("GET", "/orders/{id}", "GET", "/orders", False),
    ("GET", "/orders/{id}", "POST", "/orders/42", False),
    ("GET", "/orders/{id}/items/{item}", "GET", "/orders/1/items/2", True),
    ("GET", "/orders/{id}/items/{item}", "GET", "/orders/1/2/items/3", False),
    ("GET", "/orders/{id}/items/{item}", "GET", "/orders//items/3", False),
    ("ANY", "/orders/{id}", "DELETE", "/orders/42", True),
    ("ANY", "/orders/{id}", "OPTIONS", "/orders/42", True),
    ("*", "/orders/{id}", "PATCH", "/orders/42", True),
    ("GET", "/files/*", "GET", "/files/a/b/c.txt", True),
    ("GET", "/files/*", "GET", "/files/", True),
    ("GET", "/files/*", "GET", "/files", False),
    ("GET", "/files/{proxy+}", "GET", "/files/a/b", True),
    ("GET", "/files/{proxy+}", "GET", "/filesX/a", False),
    ("GET", "/", "GET", "/", True),
    ("GET", "/", "GET", "/x", False),
    ("GET", "/*", "GET", "/", True),
    ("GET", "/*", "GET", "/anything/at/all", True),
    ("GET", "/v1.2/report_x-y", "GET", "/v1.2/report_x-y", True),
    ("GET", "/v1.2/report_x-y", "GET", "/v1x2/report_x-y", False),
    ("GET", "/orders", "GET", "/orders/", False),
]


@pytest.mark.parametrize(("rule_method", "pattern", "method", "path", "expected"), PATTERN_TABLE)
def test_path_patterns(rule_method: str, pattern: str, method: str, path: str, expected: bool) -> None:
    assert route_matches(rule_method, pattern, method, path) is expected
    rules = rules_of({"method": rule_method, "path": pattern, "require": {"scope": "s"}})
    assert permitted(rules, {"scp": "s"}, method, path) is expected
    assert permitted(rules, {"scp": "t"}, method, path) is False


def test_glob_semantics_are_iam_semantics() -> None:
    assert glob_matches("GET/orders/*", "GET/orders/42/items")  # '*' spans '/'
    assert glob_matches("GET/orders/*", "GET/orders/")
    assert glob_matches("GET/orders/?", "GET/orders/4")
    assert not glob_matches("GET/orders/?", "GET/orders/42")
    assert glob_matches("*/orders", "GET/x/orders")  # a '*' verb spans too
    assert not glob_matches("GET/orders", "GET/orders/")


# ----- defaults and the union of rules -------------------------------------------------------------


@pytest.mark.parametrize(
    ("default", "method", "path", "token", "expected"),
    [
        ("deny", "GET", "/unlisted", READER, False),
        ("allow", "GET", "/unlisted", READER, True),
        ("allow", "GET", "/unlisted", NOBODY, True),
        ("deny", "GET", "/orders", READER, True),
        ("allow", "GET", "/orders", READER, True),
        # A listed route stays closed to a caller who fails its rule, whatever the default.
        ("allow", "GET", "/orders", NOBODY, False),
        ("allow", "POST", "/orders", READER, False),
        ("deny", "POST", "/orders", READER, False),
    ],
)
def test_default(default: str, method: str, path: str, token: dict[str, Any], expected: bool) -> None:
    rules = rules_of(
        {"method": "GET", "path": "/orders", "require": {"scope": "orders.read"}},
        {"method": "POST", "path": "/orders", "require": {"scope": "orders.write"}},
        default=default,
    )
    assert permitted(rules, token, method, path) is expected


def test_rules_only_grant() -> None:
    """A route matched by several rules is open to a caller meeting any of them."""
    rules = rules_of(
        {"method": "GET", "path": "/orders/*", "require": {"scope": "orders.read"}},
        {"method": "GET", "path": "/orders/{id}/audit", "require": {"role": "Auditor"}},
    )
    assert permitted(rules, {"roles": ["Auditor"]}, "GET", "/orders/1/audit")
    assert not permitted(rules, {"roles": ["Auditor"]}, "GET", "/orders/1")
    assert permitted(rules, {"scp": "orders.read"}, "GET", "/orders/1/audit")  # the broad rule grants it


def test_document_default_and_environment() -> None:
    document = json.dumps({"default": "allow", "rules": [{"path": "/x", "require": "authenticated"}]})
    assert load_rules({"ROUTE_RULES": document}, "deny").default == "allow"  # type: ignore[union-attr]
    assert load_rules({"ROUTE_RULES": document, "ROUTE_DEFAULT": "allow"}, "allow").default == "allow"  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError) as info:
        load_rules({"ROUTE_RULES": document, "ROUTE_DEFAULT": "deny"}, "deny")
    assert info.value.variable == "ROUTE_DEFAULT"
    plain = json.dumps({"rules": [{"path": "/x", "require": "authenticated"}]})
    assert load_rules({"ROUTE_RULES": plain, "ROUTE_DEFAULT": "allow"}, "allow").default == "allow"  # type: ignore[union-attr]


# ----- WebSocket ---------------------------------------------------------------------------------


def test_websocket_rules_apply_to_connect_only() -> None:
    rules = rules_of(
        {"path": "$connect", "require": {"scope": "chat.connect"}},
        {"method": "ANY", "path": "/*", "require": "authenticated"},
    )
    assert permitted(rules, {"scp": "chat.connect"}, "", "/$connect")
    assert not permitted(rules, {"scp": "other"}, "", "/$connect")  # ANY /* never covers $connect
    assert permitted(rules, {"scp": "other"}, "GET", "/$connect")  # an HTTP path named like it
    http_only = rules_of({"method": "ANY", "path": "/*", "require": "authenticated"})
    assert not permitted(http_only, {"scp": "x"}, "", "/$connect")  # default deny
    assert permitted(rules_of({"path": "/x", "require": "authenticated"}, default="allow"), {}, "", "/$connect")


# ----- validation at cold start ------------------------------------------------------------------

BAD_DOCUMENTS: list[tuple[str, Any, str]] = [
    ("not an object", "rules", "not an object"),
    ("unknown top-level key", {"rules": [{"path": "/x", "require": "authenticated"}], "defualt": "deny"}, "defualt"),
    ("no rules", {"rules": []}, "no rules"),
    ("rules not a list", {"rules": {"path": "/x"}}, "no rules"),
    ("rule not an object", {"rules": ["GET /x"]}, "rules[0] is not an object"),
    ("unknown rule key", {"rules": [{"path": "/x", "require": "authenticated", "scope": "a"}]}, "['scope']"),
    ("no path", {"rules": [{"require": "authenticated"}]}, "no path"),
    ("no require", {"rules": [{"path": "/x"}]}, "no require"),
    ("empty requirement", {"rules": [{"path": "/x", "require": {}}]}, "empty"),
    ("null requirement", {"rules": [{"path": "/x", "require": None}]}, "not a requirement"),
    ("unknown requirement key", {"rules": [{"path": "/x", "require": {"scopes": "a"}}]}, "['scopes']"),
    ("two tests in one object", {"rules": [{"path": "/x", "require": {"scope": "a", "role": "b"}}]}, "one test"),
    ("empty anyOf", {"rules": [{"path": "/x", "require": {"anyOf": []}}]}, "non-empty list"),
    ("anyOf with a sibling", {"rules": [{"path": "/x", "require": {"anyOf": [{"scope": "a"}], "role": "b"}}]}, "share"),
    ("nested empty", {"rules": [{"path": "/x", "require": {"allOf": [{"anyOf": [{}]}]}}]}, "anyOf[0]"),
    ("scope list", {"rules": [{"path": "/x", "require": {"scope": ["a", "b"]}}]}, "anyOf"),
    ("scope with spaces", {"rules": [{"path": "/x", "require": {"scope": "a b"}}]}, "without spaces"),
    ("claim without operator", {"rules": [{"path": "/x", "require": {"claim": "tid"}}]}, "equals/contains"),
    ("claim both operators", {"rules": [{"path": "/x", "require": {"claim": "t", "equals": 1, "contains": 1}}]},
     "one of"),
    ("claim value object", {"rules": [{"path": "/x", "require": {"claim": "t", "equals": {"a": 1}}}]}, "plain"),
    ("bad method", {"rules": [{"method": "FETCH", "path": "/x", "require": "authenticated"}]}, "not an HTTP method"),
    ("relative path", {"rules": [{"path": "orders", "require": "authenticated"}]}, "start with '/'"),
    ("trailing slash", {"rules": [{"path": "/orders/", "require": "authenticated"}]}, "trailing slash"),
    ("empty segment", {"rules": [{"path": "/a//b", "require": "authenticated"}]}, "empty segment"),
    ("star in the middle", {"rules": [{"path": "/a/*/b", "require": "authenticated"}]}, "last segment"),
    ("greedy in the middle", {"rules": [{"path": "/{p+}/b", "require": "authenticated"}]}, "last segment"),
    ("partial wildcard", {"rules": [{"path": "/a/b*", "require": "authenticated"}]}, "not a literal"),
    ("query string", {"rules": [{"path": "/a?b=1", "require": "authenticated"}]}, "not a literal"),
    ("dot segment", {"rules": [{"path": "/a/../b", "require": "authenticated"}]}, "not a literal"),
    ("param twice", {"rules": [{"path": "/{id}/{id}", "require": "authenticated"}]}, "twice"),
    ("bad param", {"rules": [{"path": "/{1d}", "require": "authenticated"}]}, "not a literal"),
    ("$connect with a verb", {"rules": [{"method": "GET", "path": "$connect", "require": "authenticated"}]}, "no HTTP"),
    (
        "duplicate route",
        {
            "rules": [
                {"method": "GET", "path": "/o/{id}", "require": {"scope": "a"}},
                {"method": "GET", "path": "/o/{orderId}", "require": {"scope": "b"}},
            ]
        },
        "same route",
    ),
    ("bad default", {"default": "maybe", "rules": [{"path": "/x", "require": "authenticated"}]}, "deny or allow"),
    ("list default", {"default": [], "rules": [{"path": "/x", "require": "authenticated"}]}, "deny or allow"),
    ("object default", {"default": {"a": 1}, "rules": [{"path": "/x", "require": "authenticated"}]}, "deny or allow"),
    ("bad allRoutesListed", {"allRoutesListed": "yes", "rules": [{"path": "/x", "require": "authenticated"}]}, "true"),
    ("too deep", {"rules": [{"path": "/x", "require": {"anyOf": [{"anyOf": [{"anyOf": [{"anyOf": [{"anyOf": [
        {"anyOf": [{"anyOf": [{"anyOf": [{"anyOf": [{"scope": "a"}]}]}]}]}]}]}]}]}]}}]}, "deeper"),
]  # fmt: skip


@pytest.mark.parametrize(("document", "fragment"), [r[1:] for r in BAD_DOCUMENTS], ids=[r[0] for r in BAD_DOCUMENTS])
def test_invalid_rules_fail_at_cold_start(document: Any, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({"ISSUER": "https://issuer.example", "AUDIENCE": "api://x", "ROUTE_RULES": json.dumps(document)})
    error = info.value
    assert "ROUTE_RULES" in error.variable
    assert fragment in str(error), str(error)
    assert error.fix.strip()
    assert str(error).endswith(f"Fix: {error.fix}")


def test_invalid_json_and_both_variables(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_rules({"ROUTE_RULES": "{rules: []}"}, "deny")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_rules({"ROUTE_RULES": "[" * 100_000}, "deny")
    (tmp_path / "r.json").write_text("{}")
    with pytest.raises(ConfigurationError, match="keep one"):
        load_rules({"ROUTE_RULES": "{}", "ROUTE_RULES_FILE": str(tmp_path / "r.json")}, "deny")
    assert load_rules({"ROUTE_RULES": "  "}, "deny") is None
    assert load_rules({}, "deny") is None


def test_rules_file_json_and_yaml(tmp_path: Path) -> None:
    loaded = load_rules({"ROUTE_RULES_FILE": str(EXAMPLE)}, "deny")
    assert loaded is not None and len(loaded.rules) == len(ORDERS.rules)
    yaml_file = tmp_path / "rules.yaml"
    yaml_file.write_text(
        "default: deny\nrules:\n  - method: GET\n    path: /orders/{id}\n    require:\n"
        "      anyOf:\n        - scope: orders.read\n        - role: Orders.Admin\n"
    )
    from_yaml = load_rules({"ROUTE_RULES_FILE": str(yaml_file)}, "deny")
    assert from_yaml is not None
    assert permitted(from_yaml, READER, "GET", "/orders/1")
    assert not permitted(from_yaml, JOB, "GET", "/orders/1")


def test_yaml_without_pyyaml_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    yaml_file = tmp_path / "rules.yml"
    yaml_file.write_text("rules: []\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    with pytest.raises(ConfigurationError) as info:
        load_rules({"ROUTE_RULES_FILE": str(yaml_file)}, "deny")
    assert info.value.variable == "ROUTE_RULES_FILE"
    assert "PyYAML" in info.value.problem
    assert ".json" in info.value.fix


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"\xff\xfe{", "UTF-8"), (b"rules: [", "YAML"), (b"", "not an object")],
)
def test_bad_rules_files(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError, match=fragment) as info:
        load_rules({"ROUTE_RULES_FILE": str(path)}, "deny")
    assert info.value.variable == "ROUTE_RULES_FILE"


def test_missing_rules_file() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_rules({"ROUTE_RULES_FILE": "no-such-rules.json"}, "deny")
    assert info.value.variable == "ROUTE_RULES_FILE"
    assert "src/jwt_authorizer" in info.value.fix


def test_rules_reach_the_settings() -> None:
    settings = load_settings(
        {"ISSUER": "https://issuer.example", "AUDIENCE": "api://x", "ROUTE_RULES_FILE": str(EXAMPLE)}
    )
    assert settings.issuer.route_rules is not None
    assert settings.issuer.route_rules.default == "deny"


# ----- size: a rule set too large for one policy falls back to per-request answers ---------------


def test_policy_budget_hand_computed() -> None:
    """One Allow resource costs its ARN plus 4 bytes (quotes, comma, space) in the document."""
    rules = rules_of({"method": "GET", "path": "/r0", "require": "authenticated"})
    grant = rules.grant_for({})
    assert grant.routes == (("GET", "/r0"),) and not grant.per_request
    from jwt_authorizer.routes import policy_size

    prefix = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/"
    assert len(prefix) == 59
    empty = len('{"Version": "2012-10-17", "Statement": []}')
    statement = len('{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": []}')
    one = policy_size(prefix, False, [("GET", "/r0")], [])
    assert one == empty + statement + len(prefix + "GET/r0") + 2
    two = policy_size(prefix, False, [("GET", "/r0"), ("GET", "/r1")], [])
    assert two - one == len(prefix + "GET/r1") + 4
    # So 4096 bytes hold about (4096 - 110) / (59 + 15 + 4) = 51 resources of 15 characters.
    per_resource = len(prefix) + 15 + 4
    assert 45 <= (POLICY_BUDGET_BYTES - empty - statement) // per_resource <= 55


def test_huge_rule_set_falls_back_to_per_request() -> None:
    many = [{"method": "GET", "path": f"/reports/r{i:03d}/summary", "require": {"scope": "r"}} for i in range(120)]
    rules = rules_of(*many)
    grant = rules.grant_for({"scp": "r"})
    assert grant.per_request
    assert grant.routes == () and grant.denied == ()
    assert grant.permits("GET", "/reports/r007/summary")
    assert not grant.permits("GET", "/reports/r999/summary")
    # A smaller caller (few granted routes) still gets a cached policy from the same rules.
    few = rules_of(*many[:3], *[{**r, "require": {"scope": "other"}} for r in many[3:]])
    small = few.grant_for({"scp": "r"})
    assert not small.per_request and len(small.routes) == 3


def test_unprovable_rule_sets_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = parse_rules(json.loads(EXAMPLE.read_text()))
    rules.proof_budget = 10  # nothing can be proved in ten steps
    grant = rules.grant_for(ADMIN)
    assert grant.per_request and grant.permits("DELETE", "/orders/1")


def test_grants_are_memoized_per_satisfied_set() -> None:
    first = ORDERS.grant_for(READER)
    assert ORDERS.grant_for({"scp": "orders.read", "oid": "someone-else"}) is first
    assert ORDERS.grant_for(WRITER) is not first


def test_trivial_grants() -> None:
    rules = rules_of({"method": "GET", "path": "/x", "require": {"scope": "a"}})
    nothing = rules.grant_for({"scp": "b"})
    assert (nothing.allow_all, nothing.routes, nothing.denied, nothing.per_request) == (False, (), (), False)
    allow = rules_of({"method": "GET", "path": "/x", "require": {"scope": "a"}}, default="allow")
    everything = allow.grant_for({"scp": "a"})
    # Every standard verb on the stage; "*/*" would also allow methods the rules refuse (PROPFIND).
    assert not everything.allow_all and everything.routes == EVERY_VERB and not everything.per_request
    assert everything.permits("DELETE", "/anything") and not everything.permits("PROPFIND", "/x")


def test_parse_pattern_canonical_forms() -> None:
    assert parse_pattern("/orders/{id}").glob == "/orders/*"
    assert parse_pattern("/files/{proxy+}").glob == "/files/*"
    assert parse_pattern("/").glob == "/"
    assert parse_pattern("/orders/{id}").narrow_globs() == ["/orders/*/*", "/orders/"]
    assert parse_pattern("/a/{x}/b/{y}").canonical == parse_pattern("/a/{p}/b/{q}").canonical


# ----- through the handler: 403 for a failed rule, never 401 --------------------------------------


@pytest.fixture
def app(load_app: Callable[..., ModuleType]) -> Callable[..., ModuleType]:
    """The handler with the orders example's rules unless a test says otherwise."""
    return lambda **env: load_app(**{"ROUTE_RULES_FILE": str(EXAMPLE), **env})


def call(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    return module.lambda_handler(event, LambdaContext())  # type: ignore[no-any-return]


def decisions(captured: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [line for line in lines if "outcome" in line]


def test_failed_rule_is_an_explicit_deny_not_401(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app()
    capsys.readouterr()
    token = signer.sign(claims(idp.issuer, **READER))
    response = call(module, rest_token_event(token, method="DELETE", path="orders/42"))
    statements = response["policyDocument"]["Statement"]
    denied = [r for s in statements if s["Effect"] == "Deny" for r in s["Resource"]]
    arn = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/DELETE/orders/42"
    assert arn in denied
    assert response["principalId"] == "user-1"
    line = decisions(capsys.readouterr().out)[-1]
    assert line["outcome"] == "deny"
    assert line["reason"] == "route_not_permitted"
    assert line["route_reason"] == "requirement_not_met"
    assert line["route_rules"] == ["cancel an order"]
    assert line["route_requires"] == "role Orders.Admin"
    assert line["route_policy"] == "cached"
    assert "orders.read" not in json.dumps(line["route_rules"])  # claim values never logged as reasons

    response = call(module, rest_token_event(token, method="GET", path="nowhere"))
    line = decisions(capsys.readouterr().out)[-1]
    assert line["route_reason"] == "no_rule_matches" and line["route_default"] == "deny"


def test_http_api_simple_response_follows_the_route(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    module = app()
    job = signer.sign(claims(idp.issuer, sub=None, **JOB))
    fulfil = http_v2_event(job, method="POST", path="/orders/42/fulfil", route_key="POST /orders/{orderId}/fulfil")
    assert call(module, fulfil)["isAuthorized"] is True
    assert call(module, http_v2_event(job, method="GET", path="/orders/42"))["isAuthorized"] is False


def test_rest_request_and_websocket(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, tmp_path: Path
) -> None:
    module = app()
    reader = signer.sign(claims(idp.issuer, **READER))
    response = call(module, rest_request_event({"Authorization": f"Bearer {reader}"}))
    allowed = [r for s in response["policyDocument"]["Statement"] if s["Effect"] == "Allow" for r in s["Resource"]]
    assert "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/orders/*" in allowed
    ws_rules = tmp_path / "ws.json"
    ws_rules.write_text(json.dumps({"rules": [{"path": "$connect", "require": {"scope": "chat"}}]}))
    ws = app(ROUTE_RULES_FILE=str(ws_rules))
    chatter = signer.sign(claims(idp.issuer, scp="chat"))
    stage = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*"
    allow = call(ws, websocket_connect_event(chatter))["policyDocument"]["Statement"]
    assert allow == [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [stage]}]
    deny = call(ws, websocket_connect_event(reader))["policyDocument"]["Statement"]
    assert deny == [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [stage]}]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
_RULE = {"method": "GET", "path": "/orders/{id}", "require": {"scope": "orders.read"}}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["default", "allRoutesListed", "rules", "method", "path", "require", "scope", "anyOf"]),
    _JSON,
)
def test_any_json_anywhere_in_the_rules_is_loaded_or_refused_by_name(name: str, value: Any) -> None:
    """Whatever the document holds, the cold start either loads it or raises ``ConfigurationError``
    (a structured line, a metric and the fix), never another exception."""
    if name in {"default", "allRoutesListed", "rules"}:
        document: Any = {"rules": [_RULE], name: value}
    elif name in {"method", "path", "require"}:
        document = {"rules": [{**_RULE, name: value}]}
    else:
        document = {"rules": [{**_RULE, "require": {name: value}}]}
    try:
        load_settings({"ISSUER": "https://issuer.example", "AUDIENCE": "api://x", "ROUTE_RULES": json.dumps(document)})
    except ConfigurationError as error:
        assert error.variable == "ROUTE_RULES"
