"""Route rules: which routes a verified caller may reach, decided from the token's claims.

The document (``ROUTE_RULES`` JSON, or a JSON/YAML file named by ``ROUTE_RULES_FILE``)::

    {"default": "deny",
     "rules": [{"method": "GET", "path": "/orders/{id}",
                "require": {"anyOf": [{"scope": "orders.read"}, {"role": "Orders.Admin"}]}}]}

Semantics, in full in docs/route-rules.md ("How rules decide"):

* A route is open to a caller when at least one rule matching the route accepts the caller; a
  route no rule matches follows the default (``deny``, or ``allow`` any authenticated caller).
  Rules only grant: a specific rule cannot narrow a broader one.
* Requirements: ``scope`` (a word of ``scp`` or ``scope``), ``role`` (in ``roles``), ``group``
  (in ``groups``), ``{"claim": c, "equals": v}``, ``{"claim": c, "contains": v}``, ``anyOf``,
  ``allOf`` (nestable), and ``"authenticated"`` (any verified caller).
* WebSocket: rules with path ``$connect`` decide the connection; HTTP rules never apply to it.
* Methods: a rule names one of the seven verbs of ``routes.VERBS`` or ``ANY`` (any of them). With
  rules configured, a request with another method (``PROPFIND``, ``$connect``, ``get``...) is
  refused (``method_not_supported``): no IAM glob can say "any verb but not one spanning ``/``", so
  only the seven verbs are listed in policies, and the decision refuses what policies cannot allow.

Because API Gateway caches one answer per token for every route, ``grant_for`` computes the IAM
statements for *all* rules at once, proves them equal to the rules on every method and path
(``routes.find``), and falls back to a per-request answer when no policy of acceptable size is
exact. Grants are memoized by the set of rules a token satisfies.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .constants import ROUTE_DEFAULT_ENV, ROUTE_RULES_ENV, ROUTE_RULES_FILE_ENV
from .exceptions import ConfigurationError
from .paths import read_configured_file
from .routes import (
    ANY_METHOD,
    POLICY_BUDGET_BYTES,
    VERBS,
    WEBSOCKET_CONNECT,
    Automaton,
    Budget,
    BudgetExceeded,
    Grant,
    PathPattern,
    Statement,
    find,
    parse_pattern,
    policy_size,
)

MAX_RULES: Final = 500
MAX_DEPTH: Final = 8
MAX_FILE_BYTES: Final = 512 * 1024
# Automaton steps one grant computation may spend proving its policy before answering per request.
PROOF_BUDGET: Final = 100_000
# Distinct sets of satisfied rules whose grants are kept warm.
GRANT_CACHE_SIZE: Final = 256
# The shortest ARN prefix a policy resource can have: arn:aws:execute-api:us-east-1:<12>:<10>/s/
MIN_ARN_PREFIX: Final = "arn:aws:execute-api:us-east-1:000000000000:0000000000/s/"
# Every standard verb on the whole stage: what default allow grants before its Denies. Not the
# stage-wide ``*/*``, which would also allow methods the rules refuse (``method_not_supported``).
EVERY_VERB: Final[tuple[Statement, ...]] = tuple((verb, "/*") for verb in VERBS)

_PACKAGE_ROOT = Path(__file__).resolve().parent
_DOCUMENT_KEYS = {"default", "allRoutesListed", "rules"}
_RULE_KEYS = {"name", "method", "path", "require"}
_ATOMS = {"scope": "scopes", "role": "roles", "group": "groups"}


# ----- requirements -------------------------------------------------------------------------------


def _words(value: Any) -> set[str]:
    """A space-separated string's words, or a list's strings (Okta sends ``scp`` as a list)."""
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return set()


def _values(value: Any) -> set[str]:
    """A list claim's strings; a lone string counts as one value."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return set()


def _same(a: Any, b: Any) -> bool:
    """Typed equality: ``True`` is not ``1``; ``1`` and ``1.0`` are equal numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


@dataclass(frozen=True, slots=True)
class Requirement:
    """A test over claims: an atom (``kind`` with ``claim``/``value``) or ``anyOf``/``allOf``."""

    kind: str  # authenticated, scope, role, group, equals, contains, anyOf, allOf
    claim: str = ""
    value: Any = None
    items: tuple[Requirement, ...] = ()

    def test(self, claims: Mapping[str, Any]) -> bool:
        kind = self.kind
        if kind == "authenticated":
            return True
        if kind == "scope":
            return self.value in _words(claims.get("scp")) | _words(claims.get("scope"))
        if kind == "role":
            return self.value in _values(claims.get("roles"))
        if kind == "group":
            return self.value in _values(claims.get("groups"))
        if kind == "equals":
            return self.claim in claims and _same(claims[self.claim], self.value)
        if kind == "contains":
            actual = claims.get(self.claim)
            if isinstance(actual, list):
                return any(_same(item, self.value) for item in actual)
            return isinstance(actual, str) and isinstance(self.value, str) and self.value in actual.split()
        if kind == "anyOf":
            return any(item.test(claims) for item in self.items)
        return all(item.test(claims) for item in self.items)

    def describe(self) -> str:
        if self.kind == "authenticated":
            return "authenticated"
        if self.kind in _ATOMS:
            return f"{self.kind} {self.value}"
        if self.kind in {"equals", "contains"}:
            return f"{self.claim} {self.kind} {json.dumps(self.value)}"
        joiner = " or " if self.kind == "anyOf" else " and "
        return "(" + joiner.join(item.describe() for item in self.items) + ")"

    def mentions(self, kind: str) -> bool:
        return self.kind == kind or any(item.mentions(kind) for item in self.items)


def _requirement(spec: Any, where: str, variable: str, depth: int = 0) -> Requirement:
    def bad(problem: str, fix: str) -> ConfigurationError:
        return ConfigurationError(variable, f"{where}: {problem}", fix)

    if depth > MAX_DEPTH:
        raise bad(f"requirements nest deeper than {MAX_DEPTH} levels", "flatten the anyOf/allOf nesting")
    if spec == "authenticated":
        return Requirement("authenticated")
    if not isinstance(spec, dict):
        raise bad(
            f"{json.dumps(spec)[:60]} is not a requirement",
            'use "authenticated" or an object such as {"scope": "orders.read"}, {"role": "..."}, {"anyOf": [...]}',
        )
    if not spec:
        raise bad(
            "the requirement is empty",
            'say what the caller needs; for any verified caller write "require": "authenticated"',
        )
    keys = set(spec)
    for combinator in ("anyOf", "allOf"):
        if combinator in keys:
            if keys != {combinator}:
                raise bad(f"{combinator} cannot share an object with {sorted(keys - {combinator})}", "nest them")
            items = spec[combinator]
            if not isinstance(items, list) or not items:
                raise bad(f"{combinator} must be a non-empty list", f'give {{"{combinator}": [{{...}}, {{...}}]}}')
            return Requirement(
                combinator,
                items=tuple(
                    _requirement(item, f"{where}.{combinator}[{i}]", variable, depth + 1)
                    for i, item in enumerate(items)
                ),
            )
    if "claim" in keys:
        operators = keys & {"equals", "contains"}
        if len(operators) != 1 or keys - {"claim", "equals", "contains"}:
            raise bad(
                f"a claim test needs claim and exactly one of equals/contains (got {sorted(keys)})",
                'use {"claim": "tid", "equals": "<value>"} or {"claim": "amr", "contains": "mfa"}',
            )
        claim, operator = spec["claim"], operators.pop()
        value = spec[operator]
        if not isinstance(claim, str) or not claim:
            raise bad("claim must be a non-empty claim name", 'e.g. "claim": "tid"')
        if isinstance(value, float) and not math.isfinite(value):
            raise bad(f"{operator} must be a string, number or boolean", "give a plain value")
        if not isinstance(value, str | int | float | bool) or (isinstance(value, str) and not value):
            raise bad(f"{operator} must be a non-empty string, a number or a boolean", "give a plain value")
        return Requirement(operator, claim=claim, value=value)
    atoms = keys & set(_ATOMS)
    unknown = keys - set(_ATOMS)
    if unknown:
        raise bad(
            f"unknown key(s) {sorted(unknown)}",
            "use scope, role, group, claim with equals/contains, anyOf, allOf (or the string authenticated)",
        )
    if len(atoms) != 1:
        raise bad(
            f"one test per object (got {sorted(atoms)})",
            'combine tests with {"anyOf": [...]} or {"allOf": [...]}',
        )
    kind = atoms.pop()
    value = spec[kind]
    if not isinstance(value, str) or not value or value != value.strip() or " " in value:
        raise bad(
            f"{kind} must be one non-empty {_ATOMS[kind][:-1]} name without spaces",
            f'list alternatives with {{"anyOf": [{{"{kind}": "a"}}, {{"{kind}": "b"}}]}}',
        )
    return Requirement(kind, value=value)


# ----- rules --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    index: int
    name: str
    method: str  # a verb or ANY; "" for $connect
    pattern: PathPattern | None  # None for $connect
    require: Requirement

    @property
    def label(self) -> str:
        return self.name or (WEBSOCKET_CONNECT if self.pattern is None else f"{self.method} {self.pattern.text}")

    def matches(self, method: str, path: str) -> bool:
        if self.pattern is None:
            return False
        if self.method == ANY_METHOD:
            if not method or "/" in method:
                return False
        elif self.method != method:
            return False
        return self.pattern.regex.fullmatch(path) is not None

    def statements(self) -> list[Statement]:
        """Allow/Deny statements whose globs cover this rule (``ANY``: one per verb).

        Never a ``*`` verb: IAM's ``*`` spans ``/`` (``*/admin/*`` covers ``GET/x/admin/y``) and any
        method text, standard or not.
        """
        assert self.pattern is not None  # noqa: S101 - HTTP rules only
        methods = VERBS if self.method == ANY_METHOD else (self.method,)
        return [(m, self.pattern.glob) for m in methods]

    def narrowing(self) -> list[Statement]:
        """Deny candidates for what this rule's globs over-match: a ``{param}`` star spanning ``/`` or empty."""
        assert self.pattern is not None  # noqa: S101 - HTTP rules only
        return [(method, glob) for method, _ in self.statements() for glob in self.pattern.narrow_globs()]


def _rule(spec: Any, index: int, variable: str) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(spec, dict):
        raise ConfigurationError(variable, f"{where} is not an object", 'give {"method", "path", "require"}')
    unknown = set(spec) - _RULE_KEYS
    if unknown:
        raise ConfigurationError(
            variable, f"{where}: unknown key(s) {sorted(unknown)}", f"use only {sorted(_RULE_KEYS)}"
        )
    name = spec.get("name", "")
    if not isinstance(name, str):
        raise ConfigurationError(variable, f"{where}.name must be a string", "name the rule for the logs")
    if "path" not in spec:
        raise ConfigurationError(variable, f"{where} has no path", 'add "path": "/orders/{id}" (or "$connect")')
    if "require" not in spec:
        raise ConfigurationError(
            variable, f"{where} has no require", 'add e.g. "require": {"scope": "orders.read"} or "authenticated"'
        )
    require = _requirement(spec["require"], f"{where}.require", variable)
    raw_method = spec.get("method", ANY_METHOD)
    method = raw_method.upper() if isinstance(raw_method, str) else ""
    method = ANY_METHOD if method == "*" else method
    path = spec["path"]
    if path == WEBSOCKET_CONNECT:
        if method != ANY_METHOD:
            raise ConfigurationError(
                variable, f"{where}: a $connect rule has no HTTP method", 'leave "method" out (or use "ANY")'
            )
        return Rule(index, name, "", None, require)
    if method not in (*VERBS, ANY_METHOD):
        raise ConfigurationError(
            variable, f"{where}: {raw_method!r} is not an HTTP method", f"use one of {', '.join(VERBS)} or ANY"
        )
    try:
        pattern = parse_pattern(path)
    except ValueError as exc:
        raise ConfigurationError(
            variable,
            f"{where}.path: {exc}",
            "write API Gateway resource paths: /orders, /orders/{id}, /files/* or /files/{proxy+}",
        ) from None
    return Rule(index, name, method, pattern, require)


class TokenDecision:
    """The rules' exact answer for one set of satisfied rules (one kind of token)."""

    __slots__ = ("rules", "satisfied")

    def __init__(self, rules: RouteRules, satisfied: frozenset[int]) -> None:
        self.rules = rules
        self.satisfied = satisfied

    def _matching(self, method: str, path: str) -> list[Rule]:
        if method == "":  # a WebSocket $connect
            return list(self.rules.connect_rules)
        return [rule for rule in self.rules.http_rules if rule.matches(method, path)]

    def permits(self, method: str, path: str) -> bool:
        if method and method not in VERBS:
            return False  # only the seven verbs can be listed exactly in a policy (module docstring)
        matching = self._matching(method, path)
        if not matching:
            return self.rules.default == "allow"
        return any(rule.index in self.satisfied for rule in matching)

    def covers(self, method: str, path: str) -> bool:
        return not self.rules.all_routes_listed or method == "" or bool(self._matching(method, path))

    def explain(self, method: str, path: str) -> dict[str, Any]:
        """Log fields saying why (method, path) is refused; never any claim value."""
        if method and method not in VERBS:
            return {"route_reason": "method_not_supported"}
        matching = self._matching(method, path)
        if not matching:
            return {"route_reason": "no_rule_matches", "route_default": self.rules.default}
        fields: dict[str, Any] = {
            "route_reason": "requirement_not_met",
            "route_rules": [rule.label for rule in matching][:10],
            "route_requires": " or ".join(rule.require.describe() for rule in matching)[:500],
        }
        return fields


class RouteRules:
    """Validated rules; ``grant_for`` gives a token's grant, with the policy that expresses it."""

    def __init__(self, rules: Sequence[Rule], default: str, *, all_routes_listed: bool = False) -> None:
        if default not in {"deny", "allow"}:
            raise ValueError(f"default must be deny or allow, not {default!r}")
        self.rules = tuple(rules)
        self.default = default
        self.all_routes_listed = all_routes_listed
        self.http_rules = tuple(r for r in self.rules if r.pattern is not None)
        self.connect_rules = tuple(r for r in self.rules if r.pattern is None)
        self.proof_budget = PROOF_BUDGET
        self._automata = [Automaton.for_route(r.method, r.pattern) for r in self.http_rules if r.pattern is not None]
        self._grants: dict[frozenset[int], Grant] = {}

    def satisfied(self, claims: Mapping[str, Any]) -> frozenset[int]:
        return frozenset(rule.index for rule in self.rules if rule.require.test(claims))

    def grant_for(self, claims: Mapping[str, Any]) -> Grant:
        satisfied = self.satisfied(claims)
        grant = self._grants.get(satisfied)
        if grant is None:
            grant = self.grant_for_satisfied(satisfied)
            if len(self._grants) >= GRANT_CACHE_SIZE:
                del self._grants[next(iter(self._grants))]
            self._grants[satisfied] = grant
        return grant

    def grant_for_satisfied(self, satisfied: frozenset[int]) -> Grant:
        """The grant for a token meeting exactly these rules (by index)."""
        decision = TokenDecision(self, satisfied)
        granted = [r for r in self.http_rules if r.index in satisfied]
        if self.default == "allow" and len(granted) == len(self.http_rules):
            return Grant(allow_all=False, routes=EVERY_VERB, decision=decision)
        if self.default == "deny" and not granted:
            return Grant(allow_all=False, decision=decision)
        budget = Budget(self.proof_budget)
        try:
            grant = self._exact_policy(satisfied, budget)
        except BudgetExceeded:
            grant = None
        if grant is not None:
            return grant._replace(decision=decision)
        return Grant(allow_all=False, per_request=True, decision=decision)

    # ----- proving a cached policy exact ----------------------------------------------------------

    def _exact_policy(self, satisfied: frozenset[int], budget: Budget) -> Grant | None:
        """Statements equal to the rules on every route string, or ``None``.

        Candidates: Allow the globs of the granted rules (default deny) or every standard verb on
        the whole stage (default allow); Deny what those globs over-match (default deny) or the
        refused rules' globs (default allow). Scans of the product automaton then look for a string that even
        every candidate Deny leaves open (no subset can close it: fail fast), keep the Denies that
        block only over-granted strings, look for any route string where the statements and the
        rules disagree, and finally merge the Allows (drop one another covers).
        """
        rules = self.http_rules
        allow_default = self.default == "allow"
        n_rules = len(rules)
        rule_bits = (1 << n_rules) - 1
        granted_bits = sum(1 << i for i, r in enumerate(rules) if r.index in satisfied)
        listed = self.all_routes_listed

        def truth(accepted: int, standard: bool) -> bool:
            matched = accepted & rule_bits
            return standard and (bool(matched & granted_bits) or (allow_default and not matched))

        def outside(accepted: int) -> bool:
            return listed and not accepted & rule_bits

        if allow_default:
            allows: list[Statement] = list(EVERY_VERB)
            denies = _unique(s for r in rules if r.index not in satisfied for s in r.statements())
        else:
            allows = _unique(s for r in rules if r.index in satisfied for s in r.statements())
            candidates = [s for r in rules if r.index in satisfied for s in r.narrowing()]
            if listed:
                candidates += [s for r in rules if r.index not in satisfied for s in r.statements()]
            denies = [s for s in _unique(candidates) if s not in allows]
        if policy_size(MIN_ARN_PREFIX, False, allows, []) > POLICY_BUDGET_BYTES:
            return None

        def globs(statements: list[Statement]) -> list[Automaton]:
            return [Automaton.for_glob(m + r) for m, r in statements]

        n_allows = len(allows)
        allow_bits = ((1 << n_allows) - 1) << n_rules

        def allowed(accepted: int) -> bool:
            return bool(accepted & allow_bits)

        all_deny_bits = ((1 << len(denies)) - 1) << (n_rules + n_allows)

        def leaks(accepted: int, standard: bool) -> bool:
            return (
                not outside(accepted)
                and allowed(accepted)
                and not accepted & all_deny_bits
                and not truth(accepted, standard)
            )

        # Fail fast: a string every candidate Deny misses stays open with any subset of them.
        if find([*self._automata, *globs(allows), *globs(denies)], leaks, budget) is not None:
            return None
        # A Deny is kept when it blocks something the Allows over-grant and nothing the rules grant.
        if denies:
            first = n_rules + n_allows
            blocks_granted = 0
            blocks_excess = 0

            def classify(accepted: int, standard: bool) -> bool:
                nonlocal blocks_granted, blocks_excess
                hits = accepted >> first
                if hits and not outside(accepted):
                    if truth(accepted, standard):
                        blocks_granted |= hits
                    elif allowed(accepted):
                        blocks_excess |= hits
                return False

            find([*self._automata, *globs(allows), *globs(denies)], classify, budget)
            denies = [d for i, d in enumerate(denies) if blocks_excess >> i & 1 and not blocks_granted >> i & 1]
        deny_bits = ((1 << len(denies)) - 1) << (n_rules + n_allows)

        def disagrees(accepted: int, standard: bool) -> bool:
            policy = allowed(accepted) and not accepted & deny_bits
            return not outside(accepted) and policy != truth(accepted, standard)

        if find([*self._automata, *globs(allows), *globs(denies)], disagrees, budget) is not None:
            return None
        # Merge: A is dropped when another kept Allow B covers it (A ⊆ B on the route strings); the
        # union, and so the policy just proved, does not change.
        if len(allows) > 1:
            n = len(allows)
            offset = n_rules if listed else 0
            escapes = [0] * n  # bit j of escapes[i]: some string matches allow i but not allow j

            def note(accepted: int, standard: bool) -> bool:
                if not outside(accepted):
                    hits = accepted >> offset
                    for i in range(n):
                        if hits >> i & 1:
                            escapes[i] |= ~hits
                return False

            find([*(self._automata if listed else []), *globs(allows)], note, budget)
            dropped: set[int] = set()
            for i in range(n):
                if any(j != i and j not in dropped and not escapes[i] >> j & 1 for j in range(n)):
                    dropped.add(i)
            allows = [a for i, a in enumerate(allows) if i not in dropped]
        if policy_size(MIN_ARN_PREFIX, False, allows, denies) > POLICY_BUDGET_BYTES:
            return None
        return Grant(allow_all=False, routes=tuple(allows), denied=tuple(denies))


def _unique(statements: Any) -> list[Statement]:
    return list(dict.fromkeys(statements))


# ----- loading ------------------------------------------------------------------------------------


def parse_rules(document: Any, default: str = "deny", *, variable: str = ROUTE_RULES_ENV) -> RouteRules:
    """Validate a rules document (already decoded); raises ``ConfigurationError`` naming ``variable``."""
    if isinstance(document, list):
        document = {"rules": document}
    if not isinstance(document, dict):
        raise ConfigurationError(variable, "the rules document is not an object", 'give {"rules": [...]}')
    unknown = set(document) - _DOCUMENT_KEYS
    if unknown:
        raise ConfigurationError(variable, f"unknown key(s) {sorted(unknown)}", f"use only {sorted(_DOCUMENT_KEYS)}")
    specs = document.get("rules")
    if not isinstance(specs, list) or not specs:
        raise ConfigurationError(
            variable,
            "no rules (rules must be a non-empty list)",
            f"list rules, or unset {ROUTE_RULES_ENV}/{ROUTE_RULES_FILE_ENV} to allow every verified caller",
        )
    if len(specs) > MAX_RULES:
        raise ConfigurationError(variable, f"{len(specs)} rules (more than {MAX_RULES})", "merge rules with patterns")
    if "default" in document:
        default = document["default"]
        if not isinstance(default, str) or default not in {"deny", "allow"}:  # a list is not hashable
            raise ConfigurationError(variable, f"default {default!r} is not deny or allow", "use deny or allow")
    listed = document.get("allRoutesListed", False)
    if not isinstance(listed, bool):
        raise ConfigurationError(variable, "allRoutesListed must be true or false", "use a JSON boolean")
    rules = [_rule(spec, index, variable) for index, spec in enumerate(specs)]
    seen: dict[tuple[str, str], int] = {}
    for rule in rules:
        key = (rule.method, rule.pattern.canonical if rule.pattern is not None else WEBSOCKET_CONNECT)
        if key in seen:
            raise ConfigurationError(
                variable,
                f"rules[{seen[key]}] and rules[{rule.index}] name the same route {rule.method} {key[1]}".replace(
                    "  ", " "
                ),
                "merge them into one rule and combine the requirements with anyOf/allOf",
            )
        seen[key] = rule.index
    return RouteRules(rules, default, all_routes_listed=listed)


def _resolve(name: str) -> Path:
    path = Path(name)
    if path.is_absolute():
        return path
    for root in (_PACKAGE_ROOT, Path(os.environ.get("LAMBDA_TASK_ROOT") or _PACKAGE_ROOT), Path.cwd()):
        if (root / path).is_file():
            return root / path
    return _PACKAGE_ROOT / path


def _decode(text: str, variable: str, *, yaml: bool) -> Any:
    if yaml:
        try:
            module: Any = importlib.import_module("yaml")
        except ImportError:
            raise ConfigurationError(
                variable,
                "a YAML rules file needs PyYAML, which is not installed",
                "ship the rules as JSON (.json), or add pyyaml to the function's dependencies",
            ) from None
        try:
            document = module.safe_load(text)
        except (module.YAMLError, RecursionError) as exc:
            raise ConfigurationError(variable, f"not valid YAML: {str(exc)[:200]}", "fix the YAML syntax") from None
        # YAML has more than JSON (dates, numbers and booleans as keys, NaN): the rules are a JSON
        # document, so a YAML file holds exactly what its JSON spelling would, or is refused here.
        # json.dumps would turn a key 1 into "1" (and YAML's `1:` and `yes:` are one Python key).
        try:
            _only_string_keys(document)
            return json.loads(json.dumps(document, allow_nan=False))
        except (TypeError, ValueError, RecursionError) as exc:
            raise ConfigurationError(
                variable, f"holds a value JSON cannot: {str(exc)[:200]}", "quote keys, dates and other such values"
            ) from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigurationError(
            variable, f"not valid JSON: {str(exc)[:200]}", 'give {"rules": [...]} as JSON'
        ) from None


def _only_string_keys(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"the key {key!r} is not a string")
            _only_string_keys(item)
    elif isinstance(value, list):
        for item in value:
            _only_string_keys(item)


def load_rules(env: Mapping[str, str], default: str) -> RouteRules | None:
    """The configured rules, validated; ``None`` when no rules are configured (allow the stage)."""
    inline = (env.get(ROUTE_RULES_ENV) or "").strip()
    file_name = (env.get(ROUTE_RULES_FILE_ENV) or "").strip()
    if inline and file_name:
        raise ConfigurationError(
            ROUTE_RULES_ENV, f"both {ROUTE_RULES_ENV} and {ROUTE_RULES_FILE_ENV} are set", "keep one"
        )
    if not inline and not file_name:
        return None
    if inline:
        variable, document = ROUTE_RULES_ENV, _decode(inline, ROUTE_RULES_ENV, yaml=False)
    else:
        variable = ROUTE_RULES_FILE_ENV
        path, text = read_configured_file(
            file_name,
            variable,
            "ship the file with the code (src/jwt_authorizer/) and name it relative to that folder",
            resolve=_resolve,
            max_bytes=MAX_FILE_BYTES,
        )
        document = _decode(text, variable, yaml=path.suffix.lower() in {".yaml", ".yml"})
    explicit = (env.get(ROUTE_DEFAULT_ENV) or "").strip().lower()
    if isinstance(document, dict) and "default" in document and explicit and document["default"] != explicit:
        raise ConfigurationError(
            ROUTE_DEFAULT_ENV,
            f"{ROUTE_DEFAULT_ENV}={explicit} contradicts the rules' default {document['default']!r}",
            f"set the default in one place (unset {ROUTE_DEFAULT_ENV} or drop the document's default)",
        )
    return parse_rules(document, default, variable=variable)
