"""Route patterns and grants: the vocabulary shared by route rules and policy building.

Patterns follow API Gateway resource paths: ``/orders/{id}`` matches one segment for ``{id}``;
``{proxy+}`` and a whole-segment ``*`` match the rest of the path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_PARAM = re.compile(r"\{[A-Za-z0-9_]+\}")
_GREEDY = re.compile(r"\{[A-Za-z0-9_]+\+\}")


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    parts = []
    for segment in pattern.strip("/").split("/"):
        if segment == "*" or _GREEDY.fullmatch(segment):
            parts.append(".+")
        elif _PARAM.fullmatch(segment):
            parts.append("[^/]+")
        else:
            parts.append(re.escape(segment).replace(r"\*", "[^/]*"))
    return re.compile("/" + "/".join(parts))


def route_matches(rule_method: str, pattern: str, method: str, path: str) -> bool:
    """Does the request (method, path) fall under a rule's (method, pattern)?"""
    if rule_method not in {"*", "ANY"} and rule_method.upper() != method.upper():
        return False
    return compile_pattern(pattern).fullmatch("/" + path.strip("/")) is not None


@dataclass(frozen=True, slots=True)
class Grant:
    """What a caller may invoke: everything, or a list of (method, resource pattern) routes."""

    allow_all: bool
    routes: tuple[tuple[str, str], ...] = ()

    def permits(self, method: str, path: str) -> bool:
        if self.allow_all:
            return True
        return any(route_matches(m, pattern, method, path) for m, pattern in self.routes)


ALLOW_ALL = Grant(allow_all=True)
