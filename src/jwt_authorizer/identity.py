"""Who the caller is (principalId) and what the backend learns about them (context).

API Gateway accepts only strings, numbers and booleans as context values on REST APIs and passes
them to the backend as strings, so claims are flattened here: lists become space-separated strings
(as ``scp`` already is), objects become compact JSON, and the whole context is bounded in size.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from .exceptions import InvalidClaimError, MissingClaimError

MAX_VALUE_CHARS = 2048
MAX_CONTEXT_CHARS = 3072  # with a 4 KB policy, the whole answer stays well under 8 KB


def principal_of(claims: dict[str, Any], names: Iterable[str]) -> tuple[str, str]:
    """The first configured claim that names the caller, and which claim it was.

    Entra app-only v2 tokens have neither ``sub`` nor ``oid``; the default order falls back to the
    client id (``azp``, or ``appid`` in v1), which is the caller in a client-credentials flow. Only
    an *absent* claim falls back to the next: a present one that is not a non-empty string makes
    the token invalid (otherwise a token whose ``sub`` is an object would be named by its ``oid``).
    """
    tried = []
    for name in names:
        if name in claims:
            value = claims[name]
            if isinstance(value, str) and value:
                return value, name
            raise InvalidClaimError(
                f"{name} (a principal claim) must be a non-empty string", actual=type(value).__name__
            )
        tried.append(name)
    raise MissingClaimError("the token has no claim to use as principalId", expected=tried)


_SCALARS = (bool, int, str)
_MISSING: Any = object()


def _flatten(value: Any) -> str | int | float | bool | None:
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def context_of(claims: dict[str, Any], names: Iterable[str]) -> dict[str, str | int | float | bool]:
    """The configured claims, flattened; values too large to pass are left out and listed."""
    context: dict[str, str | int | float | bool] = {}
    omitted: list[str] = []
    size = 0
    for name in names:
        value = claims.get(name, _MISSING)
        if value is _MISSING:
            continue
        if value.__class__ is str:  # most claims: no flattening, its own length (built once per token)
            length = len(value)
        else:
            value = _flatten(value)
            if value is None:
                continue
            length = len(value) if isinstance(value, str) else 16
        if length > MAX_VALUE_CHARS or size + length > MAX_CONTEXT_CHARS:
            omitted.append(name)
            continue
        context[name] = value
        size += length + len(name)
    if omitted:
        context["omittedClaims"] = " ".join(omitted)
    return context
