"""Route patterns, IAM resource globs, and the grant a verified token carries into the policy.

Two languages meet here, both over the *route string* ``VERB/path`` that follows
``arn:...:{api}/{stage}/`` in a method ARN (``GET/orders/42``; the root path is ``GET/``):

* rule patterns, in API Gateway resource style: ``/orders/{id}`` — ``{id}`` is exactly one
  non-empty path segment; a final ``*`` or ``{name+}`` is the rest of the path (any characters,
  ``/`` included, possibly none). Paths are compared as the ARN carries them: case-sensitive, and
  ``/orders/`` is not ``/orders``. Method ``ANY`` is any verb.
* IAM resource globs, as API Gateway evaluates a returned policy: ``*`` is any run of characters
  *including* ``/``, ``?`` exactly one character.

A glob is often broader than the rule it came from: ``/orders/{id}`` becomes ``/orders/*``, which
also covers ``/orders/42/items`` and ``/orders/``. Policy building therefore never trusts a
translation: ``find`` explores the product of small automata (one per rule, per glob) and finds a
route string on which the statements and the rules disagree, or proves there is none. The rules
module uses it to prove each cached policy exact, and falls back to a per-request answer when it
cannot.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Final, NamedTuple, Protocol

# Verbs an API Gateway method ARN can carry (an ``ANY`` method arrives as the request's verb).
VERBS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ANY_METHOD: Final = "ANY"
WEBSOCKET_CONNECT: Final = "$connect"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PARAM = re.compile(r"\{(" + _NAME + r")\}")
_GREEDY = re.compile(r"\{(" + _NAME + r")\+\}")
# Literal segments use only the characters Powertools accepts in a policy resource.
_LITERAL = re.compile(r"[A-Za-z0-9._-]+")


# ----- rule patterns ------------------------------------------------------------------------------


class Segment(NamedTuple):
    kind: str  # "literal", "param" (one segment) or "rest" (the remainder, possibly empty)
    value: str  # the literal text or the parameter name


class PathPattern(NamedTuple):
    """A validated rule path: ``/``, ``/orders``, ``/orders/{id}``, ``/files/*``, ``/{proxy+}``."""

    text: str
    segments: tuple[Segment, ...]

    @property
    def regex(self) -> re.Pattern[str]:
        return _regex(self)

    @property
    def canonical(self) -> str:
        """The pattern with parameter names erased: two rules with one canonical form overlap fully."""
        parts = {"literal": None, "param": "{}", "rest": "*"}
        return "/" + "/".join(parts[s.kind] or s.value for s in self.segments)

    @property
    def glob(self) -> str:
        """The IAM resource for this pattern (``{id}`` and the rest both become ``*``)."""
        return "/" + "/".join(s.value if s.kind == "literal" else "*" for s in self.segments)

    def narrow_globs(self) -> list[str]:
        """Globs covering every path the glob matches but the pattern does not.

        For each ``{param}`` star: the star spanning a ``/`` (``*`` -> ``*/*``) and the star empty.
        Any string the glob over-matches gives some ``{param}`` star such a value, so these cover
        the whole excess (they may cover more; the caller checks).
        """
        out: list[str] = []
        for index, segment in enumerate(self.segments):
            if segment.kind != "param":
                continue
            for replacement in ("*/*", ""):
                parts = [s.value if s.kind == "literal" else "*" for s in self.segments]
                parts[index] = replacement
                out.append("/" + "/".join(parts))
        return out

    def tokens(self) -> list[Token]:
        out: list[Token] = [("/", False)] if not self.segments else []
        for segment in self.segments:
            out.append(("/", False))
            if segment.kind == "literal":
                out.extend((ch, False) for ch in segment.value)
            elif segment.kind == "param":
                out.extend([(SEG, False), (SEG, True)])
            else:
                out.append((ANY, True))
        return out


def parse_pattern(text: str) -> PathPattern:
    """Validate a rule path; raises ``ValueError`` saying what is wrong with it."""
    if not isinstance(text, str) or not text:
        raise ValueError("a path must be a non-empty string")
    if not text.startswith("/"):
        raise ValueError(f"{text!r} must start with '/'")
    if text == "/":
        return PathPattern(text, ())
    if text.endswith("/"):
        raise ValueError(f"{text!r} ends with '/': paths are compared exactly; drop the trailing slash")
    raw = text[1:].split("/")
    segments: list[Segment] = []
    names: set[str] = set()
    for position, part in enumerate(raw):
        last = position == len(raw) - 1
        if part == "":
            raise ValueError(f"{text!r} has an empty segment ('//')")
        if part == "*" or _GREEDY.fullmatch(part):
            if not last:
                raise ValueError(f"{text!r}: {part} (the rest of the path) may only be the last segment")
            segments.append(Segment("rest", part))
            continue
        param = _PARAM.fullmatch(part)
        if param:
            if param.group(1) in names:
                raise ValueError(f"{text!r} names the parameter {param.group(1)!r} twice")
            names.add(param.group(1))
            segments.append(Segment("param", param.group(1)))
            continue
        if part in {".", ".."} or _LITERAL.fullmatch(part) is None:
            raise ValueError(
                f"{text!r}: segment {part!r} is not a literal (letters, digits, '.', '_', '-'), "
                "a {param}, or a final * / {param+}"
            )
        segments.append(Segment("literal", part))
    return PathPattern(text, tuple(segments))


@lru_cache(maxsize=1024)
def _regex(pattern: PathPattern) -> re.Pattern[str]:
    parts = []
    for segment in pattern.segments:
        if segment.kind == "literal":
            parts.append(re.escape(segment.value))
        elif segment.kind == "param":
            parts.append("[^/]+")
        else:
            parts.append(".*")
    return re.compile("/" + "/".join(parts), re.DOTALL)


@lru_cache(maxsize=1024)
def _parsed(pattern: str) -> PathPattern:
    return parse_pattern(pattern)


def route_matches(rule_method: str, pattern: str, method: str, path: str) -> bool:
    """Does the request (method, path) fall under a rule's (method, pattern)?"""
    if rule_method.upper() in {"*", ANY_METHOD}:
        if not method or "/" in method:
            return False
    elif rule_method != method:
        return False
    return _parsed(pattern).regex.fullmatch(path) is not None


# ----- IAM globs ----------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _glob_regex(glob: str) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob)
    return re.compile(body, re.DOTALL)


def glob_matches(glob: str, text: str) -> bool:
    """IAM resource matching: ``*`` any run of characters (``/`` included), ``?`` one character."""
    return _glob_regex(glob).fullmatch(text) is not None


def glob_tokens(glob: str) -> list[Token]:
    return [(ANY, True) if ch == "*" else (ANY, False) if ch == "?" else (ch, False) for ch in glob]


# ----- automata over route strings ----------------------------------------------------------------

ANY: Final = "<any>"  # any one character
SEG: Final = "<seg>"  # any one character but '/'
# A token is a character class (one literal character, ANY or SEG) and whether it may repeat
# (zero or more times) instead of occurring exactly once.
Token = tuple[str, bool]


class Automaton:
    """A linear NFA over the tokens of a pattern or glob; a state set is a bit mask of positions."""

    __slots__ = ("_closure", "_literal_sets", "_literals", "_steps", "accept", "start", "tokens")

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = tuple(tokens)
        n = len(self.tokens)
        closure = [0] * (n + 1)
        closure[n] = 1 << n
        for i in range(n - 1, -1, -1):
            closure[i] = (1 << i) | (closure[i + 1] if self.tokens[i][1] else 0)
        self._closure = closure
        self.start = closure[0]
        self.accept = 1 << n
        self._literals = [cls if len(cls) == 1 else "" for cls, _ in self.tokens]
        self._steps: dict[tuple[int, str], int] = {}
        self._literal_sets: dict[int, frozenset[str]] = {}

    @classmethod
    def for_route(cls, method: str, pattern: PathPattern) -> Automaton:
        """The strings ``VERB/path`` a rule matches (``ANY``: one non-empty segment as the verb)."""
        head: list[Token] = [(SEG, False), (SEG, True)] if method == ANY_METHOD else [(c, False) for c in method]
        return cls(head + pattern.tokens())

    @classmethod
    def for_glob(cls, glob: str) -> Automaton:
        return cls(glob_tokens(glob))

    def literals(self, mask: int) -> frozenset[str]:
        """The literal characters the positions in ``mask`` can consume next."""
        found = self._literal_sets.get(mask)
        if found is None:
            out = set()
            bits = mask
            while bits:
                low = bits & -bits
                i = low.bit_length() - 1
                bits ^= low
                if i < len(self._literals) and self._literals[i]:
                    out.add(self._literals[i])
            found = self._literal_sets[mask] = frozenset(out)
        return found

    def step(self, mask: int, char: str) -> int:
        key = (mask, char)
        found = self._steps.get(key)
        if found is not None:
            return found
        out = 0
        bits = mask
        while bits:
            low = bits & -bits
            i = low.bit_length() - 1
            bits ^= low
            if i == len(self.tokens):
                continue
            cls, star = self.tokens[i]
            if cls in (char, ANY) or (cls == SEG and char != "/"):
                out |= self._closure[i] if star else self._closure[i + 1]
        self._steps[key] = out
        return out


class BudgetExceeded(Exception):
    """The search grew past its budget; the caller must not rely on an answer."""


class Budget:
    def __init__(self, steps: int) -> None:
        self.remaining = steps

    def spend(self, steps: int) -> None:
        self.remaining -= steps
        if self.remaining < 0:
            raise BudgetExceeded


# The verb tracker's states while the verb is being read: the text so far while it is a prefix of
# a standard verb ("" before the first character), or _OTHER_VERB once it cannot become one.
_OTHER_VERB: Final = "\x00other"
_VERB_PREFIXES: Final = frozenset(verb[:i] for verb in VERBS for i in range(len(verb) + 1))


def _next_verb(head: str, char: str) -> str:
    if head == _OTHER_VERB:
        return head
    grown = head + char
    return grown if grown in _VERB_PREFIXES else _OTHER_VERB


def find(automata: Sequence[Automaton], predicate: Callable[[int, bool], bool], budget: Budget) -> str | None:
    """A route string ``VERB/path`` on which ``predicate(accepted, standard)`` holds, or ``None``.

    ``accepted`` has bit ``i`` set when ``automata[i]`` matches the string; ``standard`` says whether
    its verb is one of ``VERBS``. Every route string is covered, whatever its verb: API Gateway puts
    the request's method in the ARN, and a client may send any method token (``PROPFIND``,
    ``$connect``...), so the verb is any non-empty text without ``/``. The search is breadth-first
    over the product of the automata and a small tracker of the verb (a prefix of a standard verb,
    another verb, or read), and characters that neither an active position nor the tracker names
    behave alike, so one stand-in represents them all. A predicate that never returns True visits
    every reachable state (a scan). Raises ``BudgetExceeded`` when the product grows past the
    budget.
    """
    named: set[str] = {"/", *"".join(VERBS)}
    for automaton in automata:
        named.update(cls for cls, _ in automaton.tokens if len(cls) == 1)
    other = next(ch for ch in "~!x\x01\ue000" if ch not in named)
    # A product state: the verb tracker (a str while in the verb, a bool -- standard or not --
    # after it), and the automata still alive as (index, position mask) pairs.
    State = tuple[str | bool, tuple[tuple[int, int], ...]]

    steps = [a._steps for a in automata]

    def advance(alive: tuple[tuple[int, int], ...], char: str) -> tuple[tuple[int, int], ...]:
        out = []
        for i, mask in alive:
            following = steps[i].get((mask, char))
            if following is None:
                following = automata[i].step(mask, char)
            if following:
                out.append((i, following))
        return tuple(out)

    start: State = ("", tuple((i, a.start) for i, a in enumerate(automata)))
    seen: set[State] = {start}
    queue: deque[tuple[State, str]] = deque([(start, "")])
    while queue:
        (head, alive), text = queue.popleft()
        budget.spend(len(alive) + 1)
        chars = {"/", other}
        accepted = 0
        for i, mask in alive:
            automaton = automata[i]
            if mask & automaton.accept:
                accepted |= 1 << i
            chars |= automaton.literals(mask)
        if isinstance(head, bool):
            if predicate(accepted, head):
                return text
            if not alive:
                continue  # nothing can change any more
        elif head != _OTHER_VERB:
            chars.update(verb[len(head)] for verb in VERBS if len(verb) > len(head) and verb.startswith(head))
        for char in sorted(chars):
            following_head: str | bool
            if isinstance(head, bool):
                following_head = head
            elif char == "/":
                if head == "":
                    continue  # an empty verb: not a route string
                following_head = head in VERBS
            else:
                following_head = _next_verb(head, char)
            following: State = (following_head, advance(alive, char))
            if following not in seen:
                seen.add(following)
                queue.append((following, text + char))
    return None


# ----- policy size --------------------------------------------------------------------------------

# API Gateway limits each resource ARN of a returned policy to 512 characters.
MAX_RESOURCE_ARN_CHARS: Final = 512
# The policy document, serialized as the Lambda runtime does (json.dumps defaults). With a typical
# 59-character ARN prefix (arn:aws:execute-api:eu-west-1:<account>:<api>/prod/) and a 15-character
# route glob, one resource costs 78 bytes, so about 50 statements' resources fit; principalId and
# the context (the identity module bounds it) ride beside it in the response.
POLICY_BUDGET_BYTES: Final = 4096


def policy_size(
    prefix: str, allow_all: bool, routes: Sequence[Statement], denied: Sequence[Statement], extra_denied: int = 0
) -> int:
    """Bytes of the policy document for ARNs beginning with ``prefix`` (``arn:...:{api}/{stage}/``)."""
    allow = ([prefix + "*/*"] if allow_all else []) + [prefix + m + r for m, r in routes]
    deny = [prefix + m + r for m, r in denied]
    statements = [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resources}
        for effect, resources in (("Allow", allow), ("Deny", deny))
        if resources
    ]
    return len(json.dumps({"Version": "2012-10-17", "Statement": statements})) + extra_denied


def longest_resource(prefix: str, allow_all: bool, routes: Sequence[Statement], denied: Sequence[Statement]) -> int:
    lengths = [len(prefix) + 3] if allow_all else []
    lengths += [len(prefix) + len(m) + len(r) for m, r in (*routes, *denied)]
    return max(lengths, default=0)


# ----- what a token may call -----------------------------------------------------------------------

# A policy statement's route: (VERB or "*", resource glob starting with "/"); the route string it
# covers is their concatenation ("GET" + "/orders/*").
Statement = tuple[str, str]


class RouteDecision(Protocol):
    """The exact, per-request answer of the rules for one token."""

    def permits(self, method: str, path: str) -> bool: ...

    def explain(self, method: str, path: str) -> dict[str, Any]: ...

    def covers(self, method: str, path: str) -> bool:
        """Is a cached policy proved exact on this route? (False for a route outside a listed API.)"""
        ...


class Grant(NamedTuple):
    """What a caller may invoke, and how a cached IAM policy expresses it.

    ``allow_all`` allows the whole stage; ``routes`` are further Allow statements and ``denied``
    explicit Deny statements (Deny wins). ``per_request`` means no policy of acceptable size
    expresses the grant exactly: the answer covers the current request only, and the authorizer's
    result cache must be off (TTL 0). ``decision``, when set, is the rules' exact answer; without
    it the statements themselves decide.
    """

    allow_all: bool
    routes: tuple[Statement, ...] = ()
    denied: tuple[Statement, ...] = ()
    per_request: bool = False
    decision: RouteDecision | None = None

    def permits(self, method: str, path: str) -> bool:
        if self.decision is not None:
            return self.decision.permits(method, path)
        route = method + path
        allowed = self.allow_all or any(glob_matches(m + r, route) for m, r in self.routes)
        return allowed and not any(glob_matches(m + r, route) for m, r in self.denied)

    def explain(self, method: str, path: str) -> dict[str, Any]:
        return self.decision.explain(method, path) if self.decision is not None else {}

    def per_request_variant(self) -> Grant:
        """The same decision, answered for the current request only."""
        if self.decision is None:
            return self._replace(per_request=True)  # the statements are what decides: keep them
        return self._replace(allow_all=False, routes=(), denied=(), per_request=True)


ALLOW_ALL = Grant(allow_all=True)
