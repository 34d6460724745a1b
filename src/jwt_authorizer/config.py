"""Configuration, read and validated once at cold start.

Precedence follows Powertools: an argument beats the environment, the environment beats the
default. Every problem raises ``ConfigurationError`` naming the variable and the fix, so a bad
deployment fails its first invocation loudly instead of refusing every token with a vague 401.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from . import constants as c
from . import entra
from .exceptions import ConfigurationError
from .issuers import load_issuers
from .keys import KeySet, UnusableKey, parse_jwks
from .paths import read_configured_file
from .urls import is_secure_url, redact_url

if TYPE_CHECKING:
    from .rules import RouteRules


class IssuerSettings(NamedTuple):
    """Everything needed to trust one issuer (or one Entra tenant template)."""

    issuers: tuple[str, ...]
    audiences: frozenset[str]
    algorithms: frozenset[str]
    allowed_tenants: frozenset[str] | None
    clock_skew: int
    jwks_uri: str | None
    discovery_url: str | None
    static_keys: KeySet | None
    static_keys_origin: str | None
    audience_claim: str = "aud"
    # ALLOWED_TENANTS=*: every tenant on purpose (allowed_tenants is then None, as when unset).
    any_tenant: bool = False
    principal_claims: tuple[str, ...] = c.DEFAULT_PRINCIPAL_CLAIMS
    context_claims: tuple[str, ...] = c.DEFAULT_CONTEXT_CLAIMS
    route_rules: RouteRules | None = None
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.issuers[0]

    def admits(self, tenant_id: object) -> bool:
        """Would ``check_tenant`` let this ``tid`` through? (``None`` restricts nothing.)"""
        allowed = self.allowed_tenants
        return allowed is None or (isinstance(tenant_id, str) and tenant_id.lower() in allowed)


class RevocationSettings(NamedTuple):
    """Where the revocation list comes from and what to do when it cannot be had (docs/revocation.md)."""

    url: str | None
    s3_bucket: str | None
    s3_key: str | None
    refresh: int = c.DEFAULT_REVOCATION_REFRESH_SECONDS
    retry: int = c.DEFAULT_REVOCATION_RETRY_SECONDS
    stale: int = c.DEFAULT_REVOCATION_STALE_SECONDS
    stale_policy: str = c.DEFAULT_REVOCATION_POLICY
    cold_start_policy: str = c.DEFAULT_REVOCATION_POLICY

    @property
    def source(self) -> str:
        """The list's location as an operator writes it: the URL, or ``s3://bucket/key``."""
        return self.url if self.url is not None else f"s3://{self.s3_bucket}/{self.s3_key}"


class Settings(NamedTuple):
    """The whole configuration of one function instance."""

    issuers: tuple[IssuerSettings, ...]
    max_token_bytes: int
    decision_cache_size: int
    jwks_max_age: int
    jwks_penalty: int
    jwks_stale: int
    jwks_retry: int
    jwks_prefetch: bool
    http_connect_timeout: float
    http_timeout: float
    http_max_bytes: int
    http_api_response: str
    websocket_query_parameter: str
    service_name: str
    metrics_namespace: str
    revocation: RevocationSettings | None = None

    @property
    def issuer(self) -> IssuerSettings:
        """The first (in the single-issuer configuration, the only) issuer."""
        return self.issuers[0]


# ----- small typed readers ------------------------------------------------------------------------


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = _get(env, name)
    if raw is None:
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float, *, integer: bool) -> Any:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value: float = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ConfigurationError(name, f"{raw!r} is not {kind}", f"set {kind} of seconds or bytes") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ConfigurationError(name, f"{raw} is out of range", f"choose a value from {low} to {high}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(name, f"{raw!r} is not a boolean", "use true or false")


def _secure_url(env: Mapping[str, str], name: str) -> str | None:
    url = _get(env, name)
    if url is not None and not is_secure_url(url):
        raise ConfigurationError(
            name,
            f"{redact_url(url)} is not an https URL",
            "use https:// (http:// is accepted only for 127.0.0.1, localhost and ::1)",
        )
    return url


# ----- the pieces ---------------------------------------------------------------------------------


def _issuers(env: Mapping[str, str]) -> tuple[str, ...]:
    issuers = _list(env, c.ISSUER_ENV)
    if not issuers:
        raise ConfigurationError(
            c.ISSUER_ENV,
            "no issuer is configured",
            "set the token issuer, e.g. https://login.microsoftonline.com/<tenant-id>/v2.0",
        )
    for position, issuer in enumerate(issuers, 1):
        if not is_secure_url(issuer.replace(c.TENANT_PLACEHOLDER, "tenant")):
            # A piece that is no URL may be the tail of one cut at a comma (a query string): it is
            # named by its place in the list, not shown.
            shown = (
                redact_url(issuer)
                if "://" in issuer or len(issuers) == 1
                else f"item {position} of the comma-separated list"
            )
            raise ConfigurationError(
                c.ISSUER_ENV,
                f"{shown} is not an https URL",
                "use the exact https:// issuer of your tokens (http:// only on loopback hosts)",
            )
        if issuer.count(c.TENANT_PLACEHOLDER) > 1 or "{" in issuer.replace(c.TENANT_PLACEHOLDER, ""):
            raise ConfigurationError(
                c.ISSUER_ENV,
                f"{redact_url(issuer)} has a placeholder other than a single {c.TENANT_PLACEHOLDER}",
                f"use {c.TENANT_PLACEHOLDER} once, where the tenant id stands",
            )
    return issuers


def _algorithms(env: Mapping[str, str]) -> frozenset[str]:
    algorithms = _list(env, c.ALLOWED_ALGORITHMS_ENV) or c.DEFAULT_ALGORITHMS
    for alg in algorithms:
        if alg.lower() == "none" or alg.upper().startswith("HS"):
            raise ConfigurationError(
                c.ALLOWED_ALGORITHMS_ENV,
                f"{alg} is refused: unsigned and shared-secret tokens cannot be verified with public keys",
                "allow only RS*, PS* or ES* algorithms (RFC 8725 section 3.1)",
            )
        if alg not in c.SUPPORTED_ALGORITHMS:
            raise ConfigurationError(
                c.ALLOWED_ALGORITHMS_ENV,
                f"{alg!r} is not supported",
                f"choose from {', '.join(sorted(c.SUPPORTED_ALGORITHMS))}",
            )
    return frozenset(algorithms)


ANY_TENANT = "*"


def _tenants(env: Mapping[str, str]) -> tuple[frozenset[str] | None, bool]:
    """The allowed tenant ids, and whether ``*`` (every tenant, on purpose) was given."""
    tenants = _list(env, c.ALLOWED_TENANTS_ENV)
    if not tenants:
        return None, False
    if ANY_TENANT in tenants:
        if len(tenants) > 1:
            raise ConfigurationError(
                c.ALLOWED_TENANTS_ENV,
                "* (every tenant) is listed together with tenant ids",
                "give either * alone, or the tenant ids alone",
            )
        return None, True
    for tenant in tenants:
        if entra.TENANT_ID.fullmatch(tenant) is None:
            raise ConfigurationError(
                c.ALLOWED_TENANTS_ENV,
                f"{tenant!r} is not a tenant id",
                "list tenant ids (GUIDs, the tokens' tid claim), comma-separated, or * for every tenant",
            )
    return frozenset(t.lower() for t in tenants), False


def _refuse_any_tenant_by_accident(
    issuers: tuple[str, ...], tenants: frozenset[str] | None, any_tenant: bool, name: str
) -> None:
    """A ``{tenantid}`` issuer with no tenant list accepts every Entra tenant in the world: say so."""
    template = next((issuer for issuer in issuers if entra.is_template(issuer)), None)
    if template is None or tenants is not None or any_tenant:
        return
    where = '"allowed_tenants" of this ISSUERS entry' if name else c.ALLOWED_TENANTS_ENV
    raise ConfigurationError(
        c.ALLOWED_TENANTS_ENV,
        f"the issuer {redact_url(template)} is a {c.TENANT_PLACEHOLDER} template, and no tenant is listed: "
        "tokens of every Entra tenant in the world would be accepted, and any tenant's administrator "
        "could grant their own users this API's app roles",
        f"list the tenant ids you serve in {where} (comma-separated GUIDs), or set it to * to accept "
        "every tenant on purpose",
    )


def _static_keys(env: Mapping[str, str]) -> tuple[KeySet | None, str | None]:
    inline = _get(env, c.JWKS_INLINE_ENV)
    file_name = _get(env, c.JWKS_FILE_ENV)
    if inline and file_name:
        raise ConfigurationError(
            c.JWKS_INLINE_ENV, f"both {c.JWKS_INLINE_ENV} and {c.JWKS_FILE_ENV} are set", "keep one"
        )
    if inline is None and file_name is None:
        return None, None
    if inline is not None:
        variable, origin, text = c.JWKS_INLINE_ENV, "inline JWKS", inline
    else:
        assert file_name is not None  # noqa: S101 - one of the two is set
        variable = c.JWKS_FILE_ENV
        path, text = read_configured_file(file_name, variable, "ship the file in the package")
        origin = f"JWKS file {path}"
    try:
        key_set = parse_jwks(json.loads(text))
    except (ValueError, UnusableKey, RecursionError) as exc:
        raise ConfigurationError(variable, f"not a JWKS document: {exc}", 'give {"keys": [...]}') from None
    if not key_set.keys:
        raise ConfigurationError(
            variable, f"no usable key ({key_set.skipped_words()})", "include at least one signing key"
        )
    return key_set, origin


def _route_default(env: Mapping[str, str]) -> str:
    route_default = (_get(env, c.ROUTE_DEFAULT_ENV) or "deny").lower()
    if route_default not in {"deny", "allow"}:
        raise ConfigurationError(c.ROUTE_DEFAULT_ENV, f"{route_default!r} is not a decision", "use deny or allow")
    return route_default


def _route_rules(env: Mapping[str, str]) -> RouteRules | None:
    """The route rules, when some are configured: only then is the rules engine imported."""
    default = _route_default(env)
    if not (_get(env, c.ROUTE_RULES_ENV) or _get(env, c.ROUTE_RULES_FILE_ENV)):
        return None
    from .rules import load_rules  # noqa: PLC0415 - the proofs and automata cost a cold start

    return load_rules(env, default)


def issuer_settings(env: Mapping[str, str], name: str = "") -> IssuerSettings:
    """One issuer from variables named as in the single-issuer configuration."""
    issuers = _issuers(env)
    audiences = _list(env, c.AUDIENCE_ENV)
    if not audiences:
        raise ConfigurationError(
            c.AUDIENCE_ENV,
            "no audience is configured: any API's token of this issuer would be accepted",
            "set the API's application id URI and/or client id, comma-separated",
        )
    tenants, any_tenant = _tenants(env)
    _refuse_any_tenant_by_accident(issuers, tenants, any_tenant, name)
    static_keys, static_origin = _static_keys(env)
    jwks_uri = _secure_url(env, c.JWKS_URI_ENV)
    discovery_url = _secure_url(env, c.DISCOVERY_URL_ENV)
    if static_keys is None and jwks_uri is None and discovery_url is None:
        discovery_url = entra.default_discovery_url(issuers[0])
        if discovery_url is None:
            raise ConfigurationError(
                c.ISSUER_ENV,
                f"cannot find the discovery document of the template issuer {redact_url(issuers[0])}",
                f"set {c.JWKS_URI_ENV} or {c.DISCOVERY_URL_ENV}",
            )
    return IssuerSettings(
        issuers=issuers,
        audiences=frozenset(audiences),
        algorithms=_algorithms(env),
        allowed_tenants=tenants,
        any_tenant=any_tenant,
        clock_skew=_number(env, c.CLOCK_SKEW_ENV, c.DEFAULT_CLOCK_SKEW_SECONDS, 0, 600, integer=True),
        jwks_uri=jwks_uri,
        discovery_url=discovery_url if jwks_uri is None else None,
        static_keys=static_keys,
        static_keys_origin=static_origin,
        audience_claim=_get(env, c.AUDIENCE_CLAIM_ENV) or "aud",
        principal_claims=_list(env, c.PRINCIPAL_CLAIM_ENV) or c.DEFAULT_PRINCIPAL_CLAIMS,
        context_claims=_list(env, c.CONTEXT_CLAIMS_ENV) or c.DEFAULT_CONTEXT_CLAIMS,
        route_rules=_route_rules(env),
        name=name,
    )


def _http_api_response(env: Mapping[str, str]) -> str:
    form = (_get(env, c.HTTP_API_RESPONSE_ENV) or "simple").lower()
    if form not in {"simple", "iam"}:
        raise ConfigurationError(c.HTTP_API_RESPONSE_ENV, f"{form!r} is not a response form", "use simple or iam")
    return form


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read the configuration; a keyword argument wins, and its variables are then not read at all."""
    env = os.environ if environ is None else environ
    unknown = sorted(set(overrides) - set(Settings._fields))
    if unknown:
        raise TypeError(f"load_settings() got unknown settings: {', '.join(unknown)}")
    readers: dict[str, Callable[[], Any]] = {
        "http_api_response": lambda: _http_api_response(env),
        "issuers": lambda: load_issuers(env, issuer_settings),
        "max_token_bytes": lambda: _number(
            env, c.MAX_TOKEN_BYTES_ENV, c.DEFAULT_MAX_TOKEN_BYTES, 512, 1024 * 1024, integer=True
        ),
        "decision_cache_size": lambda: _number(
            env, c.DECISION_CACHE_SIZE_ENV, c.DEFAULT_DECISION_CACHE_SIZE, 0, 100_000, integer=True
        ),
        "jwks_max_age": lambda: _number(
            env, c.JWKS_MAX_AGE_ENV, c.DEFAULT_JWKS_MAX_AGE_SECONDS, 60, 7 * 86400, integer=True
        ),
        "jwks_penalty": lambda: _number(env, c.JWKS_PENALTY_ENV, c.DEFAULT_JWKS_PENALTY_SECONDS, 0, 3600, integer=True),
        "jwks_stale": lambda: _number(env, c.JWKS_STALE_ENV, c.DEFAULT_JWKS_STALE_SECONDS, 0, 7 * 86400, integer=True),
        "jwks_retry": lambda: _number(env, c.JWKS_RETRY_ENV, c.DEFAULT_JWKS_RETRY_SECONDS, 0, 3600, integer=True),
        "jwks_prefetch": lambda: _bool(env, c.JWKS_PREFETCH_ENV, True),
        "http_connect_timeout": lambda: _number(
            env, c.HTTP_CONNECT_TIMEOUT_ENV, c.DEFAULT_HTTP_CONNECT_TIMEOUT_SECONDS, 0.05, 5, integer=False
        ),
        "http_timeout": lambda: _number(
            env, c.HTTP_TIMEOUT_ENV, c.DEFAULT_HTTP_TIMEOUT_SECONDS, 0.05, 8, integer=False
        ),
        "http_max_bytes": lambda: _number(
            env, c.HTTP_MAX_BYTES_ENV, c.DEFAULT_HTTP_MAX_BYTES, 1024, c.MAX_HTTP_MAX_BYTES, integer=True
        ),
        "websocket_query_parameter": lambda: _get(env, c.WEBSOCKET_TOKEN_QUERY_ENV) or c.DEFAULT_WEBSOCKET_TOKEN_QUERY,
        "service_name": lambda: _get(env, c.SERVICE_NAME_ENV) or c.DEFAULT_SERVICE_NAME,
        "metrics_namespace": lambda: _get(env, c.METRICS_NAMESPACE_ENV) or c.DEFAULT_METRICS_NAMESPACE,
        "revocation": lambda: revocation_settings(env),
    }
    values = {name: overrides[name] if name in overrides else read() for name, read in readers.items()}
    refuse_overlapping_issuers(values["issuers"])
    return Settings(**values)


def refuse_overlapping_issuers(issuers: tuple[IssuerSettings, ...]) -> None:
    """No token may fit two entries: which one's audience, keys and rules apply would depend on order.

    Two entries overlap when one issuer string fits a pattern of each (a ``{tenantid}`` template
    fits the fixed issuer of any of its tenants) for a tenant id both entries admit. Entries whose
    tenant lists are disjoint do not overlap; the verifier then picks the one that admits the
    token's tenant, whatever the order.
    """
    for index, first in enumerate(issuers):
        for second in issuers[index + 1 :]:
            for a in first.issuers:
                for b in second.issuers:
                    if a == b:
                        raise ConfigurationError(
                            c.ISSUERS_ENV,
                            f"the issuer {redact_url(a)} is configured by both {first.label!r} and {second.label!r}",
                            "configure each issuer once; list several audiences in one entry instead",
                        )
                    common = entra.common_issuer(a, b)
                    if common is None or not (first.admits(common[1]) and second.admits(common[1])):
                        continue
                    raise ConfigurationError(
                        c.ISSUERS_ENV,
                        f"the entries {first.label!r} ({redact_url(a)}) and {second.label!r} ({redact_url(b)}) both "
                        f"accept tokens of {redact_url(common[0])} (tid {common[1]}): which entry's audience, keys "
                        "and rules apply would depend on their order in the list",
                        f'make them disjoint: leave tenant {common[1]} out of the "allowed_tenants" of the '
                        f'{c.TENANT_PLACEHOLDER} entry ("*" admits every tenant, so it overlaps every '
                        "tenant's own entry), or merge the two entries into one",
                    )


# ----- the revocation list ------------------------------------------------------------------------

_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REVOCATION_TUNING = (
    c.REVOCATION_REFRESH_ENV,
    c.REVOCATION_RETRY_ENV,
    c.REVOCATION_STALE_ENV,
    c.REVOCATION_STALE_POLICY_ENV,
    c.REVOCATION_COLD_START_POLICY_ENV,
)


def _revocation_policy(env: Mapping[str, str], name: str) -> str:
    policy = (_get(env, name) or c.DEFAULT_REVOCATION_POLICY).lower()
    if policy not in c.REVOCATION_POLICIES:
        raise ConfigurationError(
            name,
            f"{policy!r} is not a policy",
            "use closed (answer 500 until a usable list is loaded) or open (decide without it)",
        )
    return policy


def revocation_settings(env: Mapping[str, str]) -> RevocationSettings | None:
    """The revocation list's source and policies; ``None`` when no list is configured."""
    url = _secure_url(env, c.REVOCATION_URL_ENV)
    bucket = _get(env, c.REVOCATION_S3_BUCKET_ENV)
    key = _get(env, c.REVOCATION_S3_KEY_ENV)
    if url is None and bucket is None and key is None:
        tuned = [name for name in _REVOCATION_TUNING if _get(env, name) is not None]
        if tuned:
            raise ConfigurationError(
                tuned[0],
                "it is set, but no revocation list is configured",
                f"set {c.REVOCATION_URL_ENV} or {c.REVOCATION_S3_BUCKET_ENV} and {c.REVOCATION_S3_KEY_ENV}, "
                f"or unset {tuned[0]}",
            )
        return None
    if url is not None and (bucket is not None or key is not None):
        raise ConfigurationError(
            c.REVOCATION_URL_ENV,
            f"both {c.REVOCATION_URL_ENV} and {c.REVOCATION_S3_BUCKET_ENV}/{c.REVOCATION_S3_KEY_ENV} are set",
            "keep one source",
        )
    if url is None:
        if bucket is None or key is None:
            missing = c.REVOCATION_S3_KEY_ENV if key is None else c.REVOCATION_S3_BUCKET_ENV
            raise ConfigurationError(missing, "is not set", "an S3 source needs both the bucket and the object key")
        if _S3_BUCKET.fullmatch(bucket) is None or ".." in bucket:
            # Not echoed: a value that is no bucket name may be a URL, even a signed one.
            raise ConfigurationError(
                c.REVOCATION_S3_BUCKET_ENV,
                f"{redact_url(bucket)!r} is not an S3 bucket name",
                "give the bucket's name only (no s3:// and no key), e.g. my-org-revocations",
            )
        try:
            key_bytes = len(key.encode("utf-8"))
        except UnicodeEncodeError:  # a byte of the environment that is not UTF-8
            raise ConfigurationError(
                c.REVOCATION_S3_KEY_ENV, "is not UTF-8 text", "give the object key as written in S3"
            ) from None
        if key_bytes > 1024:
            raise ConfigurationError(c.REVOCATION_S3_KEY_ENV, "is longer than 1024 bytes", "use a shorter key")
    refresh = _number(env, c.REVOCATION_REFRESH_ENV, c.DEFAULT_REVOCATION_REFRESH_SECONDS, 1, 3600, integer=True)
    return RevocationSettings(
        url=url,
        s3_bucket=bucket if url is None else None,
        s3_key=key if url is None else None,
        refresh=refresh,
        retry=min(
            refresh, _number(env, c.REVOCATION_RETRY_ENV, c.DEFAULT_REVOCATION_RETRY_SECONDS, 1, 3600, integer=True)
        ),
        stale=_number(env, c.REVOCATION_STALE_ENV, c.DEFAULT_REVOCATION_STALE_SECONDS, 0, 7 * 86400, integer=True),
        stale_policy=_revocation_policy(env, c.REVOCATION_STALE_POLICY_ENV),
        cold_start_policy=_revocation_policy(env, c.REVOCATION_COLD_START_POLICY_ENV),
    )
