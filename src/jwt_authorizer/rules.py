"""Route rules: which routes a verified caller may reach, decided from the token's claims."""

from __future__ import annotations

from typing import Any

from .routes import Grant


class RouteRules:
    """A list of rules; each grants (method, pattern) to tokens whose claims meet its requirement."""

    def __init__(self, rules: list[dict[str, Any]], default: str) -> None:
        self.rules = rules
        self.default = default

    def grant_for(self, claims: dict[str, Any]) -> Grant:
        raise NotImplementedError  # the route-rules work (issue 5) fills this in
