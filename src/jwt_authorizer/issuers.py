"""Several issuers behind one authorizer: the ``ISSUERS`` list and the Entra presets.

Each entry is validated by exactly the same code as the single-issuer variables: its keys are
mapped onto those variable names, so ``{"audience": [...]}`` in an entry is checked like
``AUDIENCE``. Identity settings (issuer, audience, keys, tenants) are never inherited from the
environment: an entry that forgot its audience must fail, not silently share another's. Only the
presentation settings (principal claim, context claims, route rules) fall back to the variables.

Entra presets turn ``{"entra": {"tenant": ..., "version": ..., "cloud": ...}}`` into the issuers and
key URL Microsoft documents for that cloud, so nobody has to remember that v1 tokens come from
``sts.windows.net`` with a trailing slash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from . import constants as c
from . import entra
from .exceptions import ConfigurationError
from .paths import read_configured_file

T = TypeVar("T")

# Entry key -> the single-issuer variable that validates it.
_IDENTITY_KEYS = {
    "issuer": c.ISSUER_ENV,
    "audience": c.AUDIENCE_ENV,
    "audience_claim": c.AUDIENCE_CLAIM_ENV,
    "algorithms": c.ALLOWED_ALGORITHMS_ENV,
    "allowed_tenants": c.ALLOWED_TENANTS_ENV,
    "clock_skew": c.CLOCK_SKEW_ENV,
    "jwks_uri": c.JWKS_URI_ENV,
    "discovery_url": c.DISCOVERY_URL_ENV,
    "jwks": c.JWKS_INLINE_ENV,
    "jwks_file": c.JWKS_FILE_ENV,
}
_PRESENTATION_KEYS = {
    "principal_claim": c.PRINCIPAL_CLAIM_ENV,
    "context_claims": c.CONTEXT_CLAIMS_ENV,
    "route_rules": c.ROUTE_RULES_ENV,
    "route_rules_file": c.ROUTE_RULES_FILE_ENV,
    "route_default": c.ROUTE_DEFAULT_ENV,
}
_KNOWN_KEYS = {"name", "entra", *_IDENTITY_KEYS, *_PRESENTATION_KEYS}

# Per cloud: v2 issuer host, v1 issuer host, key host (Microsoft's documented endpoints).
ENTRA_CLOUDS: dict[str, tuple[str, str, str]] = {
    "public": ("login.microsoftonline.com", "sts.windows.net", "login.microsoftonline.com"),
    "usgov": ("login.microsoftonline.us", "sts.windows.net", "login.microsoftonline.us"),
    "china": ("login.partner.microsoftonline.cn", "sts.chinacloudapi.cn", "login.chinacloudapi.cn"),
}
_MULTI_TENANT = {"organizations", "common"}


def entra_preset(preset: Any, where: str) -> dict[str, str]:
    """Issuers and key URL for an Entra tenant (or organizations/common), version and cloud."""
    if not isinstance(preset, dict):
        raise ConfigurationError(where, "entra must be an object", 'use {"tenant": "<tenant-id>", "version": "2.0"}')
    unknown = set(preset) - {"tenant", "version", "cloud"}
    if unknown:
        raise ConfigurationError(where, f"unknown keys {sorted(unknown)}", "use tenant, version and cloud")
    tenant = str(preset.get("tenant", "")).lower()
    version = str(preset.get("version", "2.0"))
    cloud = str(preset.get("cloud", "public")).lower()
    if cloud not in ENTRA_CLOUDS:
        raise ConfigurationError(where, f"unknown cloud {cloud!r}", f"use one of {', '.join(ENTRA_CLOUDS)}")
    if version not in {"1.0", "2.0", "both"}:
        raise ConfigurationError(where, f"unknown token version {version!r}", "use 1.0, 2.0 or both")
    if tenant not in _MULTI_TENANT and entra.TENANT_ID.fullmatch(tenant) is None:
        raise ConfigurationError(
            where, f"{tenant!r} is not a tenant id", "use the tenant's GUID, or organizations/common"
        )
    v2_host, v1_host, key_host = ENTRA_CLOUDS[cloud]
    slot = c.TENANT_PLACEHOLDER if tenant in _MULTI_TENANT else tenant
    issuers = []
    if version in {"2.0", "both"}:
        issuers.append(f"https://{v2_host}/{slot}/v2.0")
    if version in {"1.0", "both"}:
        issuers.append(f"https://{v1_host}/{slot}/")
    # One key set serves v1 and v2 tokens alike; the tenant's own set also holds its app keys.
    return {c.ISSUER_ENV: ",".join(issuers), c.JWKS_URI_ENV: f"https://{key_host}/{tenant}/discovery/v2.0/keys"}


_JSON_KEYS = {"jwks", "route_rules"}


def _as_variable(key: str, value: Any) -> str:
    if key in _JSON_KEYS and isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _entry_env(entry: Any, index: int, env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    where = f"{c.ISSUERS_ENV}[{index}]"
    if not isinstance(entry, dict):
        raise ConfigurationError(where, "an issuer entry must be a JSON object", 'use {"issuer": ..., "audience": ...}')
    unknown = set(entry) - _KNOWN_KEYS
    if unknown:
        raise ConfigurationError(where, f"unknown keys {sorted(unknown)}", f"use only {sorted(_KNOWN_KEYS)}")
    name = str(entry.get("name") or f"issuer-{index}")
    values = {var: env[var] for var in _PRESENTATION_KEYS.values() if env.get(var)}
    if "entra" in entry:
        if "issuer" in entry:
            raise ConfigurationError(where, "both entra and issuer are set", "keep one of them")
        values.update(entra_preset(entry["entra"], f"{where}.entra"))
    if "route_rules" in entry or "route_rules_file" in entry:
        # The entry's own rules replace the inherited ones, in whichever form they were given.
        values.pop(c.ROUTE_RULES_ENV, None)
        values.pop(c.ROUTE_RULES_FILE_ENV, None)
    for key, variable in {**_IDENTITY_KEYS, **_PRESENTATION_KEYS}.items():
        if key in entry:
            values[variable] = _as_variable(key, entry[key])
    if any(key in entry for key in ("jwks", "jwks_file", "discovery_url")) and "jwks_uri" not in entry:
        values.pop(c.JWKS_URI_ENV, None)  # an explicit key source beats the preset's URL
    return values, name


def load_issuers(env: Mapping[str, str], build: Callable[[Mapping[str, str], str], T]) -> tuple[T, ...]:
    """The configured issuers: the ``ISSUERS`` list when set, else the single-issuer variables."""
    raw = (env.get(c.ISSUERS_ENV) or "").strip()
    file_name = (env.get(c.ISSUERS_FILE_ENV) or "").strip()
    if not raw and not file_name:
        return (build(env, ""),)
    if raw and file_name:
        raise ConfigurationError(c.ISSUERS_ENV, f"both {c.ISSUERS_ENV} and {c.ISSUERS_FILE_ENV} are set", "keep one")
    variable = c.ISSUERS_ENV if raw else c.ISSUERS_FILE_ENV
    if file_name:
        _, raw = read_configured_file(file_name, variable, "ship it in the package")
    if env.get(c.ISSUER_ENV):
        raise ConfigurationError(
            c.ISSUER_ENV, f"{c.ISSUER_ENV} and {variable} are both set", f"move the issuer into {variable}"
        )
    try:
        entries = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ConfigurationError(variable, f"not JSON: {exc}", "give a JSON list of issuer objects") from None
    if not isinstance(entries, list) or not entries:
        raise ConfigurationError(variable, "not a non-empty JSON list", "give a list of issuer objects")
    built = []
    names: set[str] = set()
    for index, entry in enumerate(entries):
        values, name = _entry_env(entry, index, env)
        if name in names:
            raise ConfigurationError(f"{c.ISSUERS_ENV}[{index}]", f"the name {name!r} is used twice", "name each once")
        names.add(name)
        try:
            built.append(build(values, name))
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"{c.ISSUERS_ENV}[{index}] ({name}) {exc.variable}", exc.problem, exc.fix
            ) from None
    return tuple(built)
