"""Route rules: which routes a verified caller may reach, decided from the token's claims."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .constants import ROUTE_RULES_ENV, ROUTE_RULES_FILE_ENV
from .exceptions import ConfigurationError
from .routes import Grant


class RouteRules:
    """A list of rules; each grants (method, pattern) to tokens whose claims meet its requirement."""

    def __init__(self, rules: list[dict[str, Any]], default: str) -> None:
        self.rules = rules
        self.default = default

    def grant_for(self, claims: dict[str, Any]) -> Grant:
        raise NotImplementedError  # the route-rules work (issue 5) fills this in


def load_rules(env: Mapping[str, str], default: str) -> RouteRules | None:
    """The configured rules, validated; ``None`` when no rules are configured (allow the stage)."""
    for name in (ROUTE_RULES_ENV, ROUTE_RULES_FILE_ENV):
        if (env.get(name) or "").strip():
            raise ConfigurationError(name, "route rules are not implemented yet", f"unset {name}")
    return None
