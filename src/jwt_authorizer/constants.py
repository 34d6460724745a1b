"""Names of environment variables and their defaults, in one place.

Every variable the function reads is named here so that the configuration loader, the configuration
table of docs/configuration.md, the SAM template and the token doctor cannot drift apart silently.
"""

from __future__ import annotations

from typing import Final

# --- who issues the tokens, and for whom -------------------------------------------------------
ISSUER_ENV: Final = "ISSUER"
AUDIENCE_ENV: Final = "AUDIENCE"
AUDIENCE_CLAIM_ENV: Final = "AUDIENCE_CLAIM"
ALLOWED_ALGORITHMS_ENV: Final = "ALLOWED_ALGORITHMS"
ALLOWED_TENANTS_ENV: Final = "ALLOWED_TENANTS"
CLOCK_SKEW_ENV: Final = "CLOCK_SKEW_SECONDS"
MAX_TOKEN_BYTES_ENV: Final = "MAX_TOKEN_BYTES"
DECISION_CACHE_SIZE_ENV: Final = "DECISION_CACHE_SIZE"

# --- several issuers at once (JSON list; the single-issuer variables are the simple case) -------
ISSUERS_ENV: Final = "ISSUERS"
ISSUERS_FILE_ENV: Final = "ISSUERS_FILE"

# --- where the keys come from ------------------------------------------------------------------
JWKS_URI_ENV: Final = "JWKS_URI"
DISCOVERY_URL_ENV: Final = "DISCOVERY_URL"
JWKS_INLINE_ENV: Final = "JWKS"
JWKS_FILE_ENV: Final = "JWKS_FILE"

# --- key cache ---------------------------------------------------------------------------------
JWKS_MAX_AGE_ENV: Final = "JWKS_MAX_AGE_SECONDS"
JWKS_PENALTY_ENV: Final = "JWKS_PENALTY_SECONDS"
JWKS_STALE_ENV: Final = "JWKS_STALE_SECONDS"
JWKS_RETRY_ENV: Final = "JWKS_RETRY_SECONDS"
JWKS_PREFETCH_ENV: Final = "JWKS_PREFETCH"

# --- HTTP --------------------------------------------------------------------------------------
HTTP_CONNECT_TIMEOUT_ENV: Final = "HTTP_CONNECT_TIMEOUT_SECONDS"
HTTP_TIMEOUT_ENV: Final = "HTTP_TIMEOUT_SECONDS"
HTTP_MAX_BYTES_ENV: Final = "HTTP_MAX_BYTES"

# --- the answer to API Gateway -----------------------------------------------------------------
PRINCIPAL_CLAIM_ENV: Final = "PRINCIPAL_CLAIM"
CONTEXT_CLAIMS_ENV: Final = "CONTEXT_CLAIMS"
HTTP_API_RESPONSE_ENV: Final = "HTTP_API_RESPONSE"
WEBSOCKET_TOKEN_QUERY_ENV: Final = "WEBSOCKET_TOKEN_QUERY_PARAMETER"
ROUTE_RULES_ENV: Final = "ROUTE_RULES"
ROUTE_RULES_FILE_ENV: Final = "ROUTE_RULES_FILE"
ROUTE_DEFAULT_ENV: Final = "ROUTE_DEFAULT"

# --- revocation list (docs/revocation.md) -------------------------------------------------------
REVOCATION_URL_ENV: Final = "REVOCATION_URL"
REVOCATION_S3_BUCKET_ENV: Final = "REVOCATION_S3_BUCKET"
REVOCATION_S3_KEY_ENV: Final = "REVOCATION_S3_KEY"
REVOCATION_REFRESH_ENV: Final = "REVOCATION_REFRESH_SECONDS"
REVOCATION_RETRY_ENV: Final = "REVOCATION_RETRY_SECONDS"
REVOCATION_STALE_ENV: Final = "REVOCATION_STALE_SECONDS"
REVOCATION_STALE_POLICY_ENV: Final = "REVOCATION_STALE_POLICY"
REVOCATION_COLD_START_POLICY_ENV: Final = "REVOCATION_COLD_START_POLICY"
DEFAULT_REVOCATION_REFRESH_SECONDS: Final = 30
DEFAULT_REVOCATION_RETRY_SECONDS: Final = 5
DEFAULT_REVOCATION_STALE_SECONDS: Final = 300
DEFAULT_REVOCATION_POLICY: Final = "closed"
REVOCATION_POLICIES: Final = ("closed", "open")

# --- Powertools (names owned by Powertools; defaults owned by us) ------------------------------
SERVICE_NAME_ENV: Final = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV: Final = "POWERTOOLS_METRICS_NAMESPACE"
TRACE_DISABLED_ENV: Final = "POWERTOOLS_TRACE_DISABLED"

# --- defaults, justified in docs/configuration.md ("Key cache defaults, and why") --------------
DEFAULT_ALGORITHMS: Final = ("RS256",)
DEFAULT_CLOCK_SKEW_SECONDS: Final = 60
DEFAULT_MAX_TOKEN_BYTES: Final = 16 * 1024
DEFAULT_DECISION_CACHE_SIZE: Final = 1024
DEFAULT_JWKS_MAX_AGE_SECONDS: Final = 3600
DEFAULT_JWKS_PENALTY_SECONDS: Final = 60
DEFAULT_JWKS_STALE_SECONDS: Final = 6 * 3600
DEFAULT_JWKS_RETRY_SECONDS: Final = 10
DEFAULT_HTTP_CONNECT_TIMEOUT_SECONDS: Final = 1.0
DEFAULT_HTTP_TIMEOUT_SECONDS: Final = 2.5
DEFAULT_HTTP_MAX_BYTES: Final = 256 * 1024
MAX_HTTP_MAX_BYTES: Final = 10 * 1024 * 1024  # the largest HTTP_MAX_BYTES (and list the CLI reads)
DEFAULT_PRINCIPAL_CLAIMS: Final = ("sub", "oid", "azp", "appid")
DEFAULT_CONTEXT_CLAIMS: Final = (
    "sub",
    "oid",
    "iss",
    "tid",
    "azp",
    "appid",
    "scp",
    "scope",
    "roles",
    "groups",
    "preferred_username",
    "client_id",
)
DEFAULT_WEBSOCKET_TOKEN_QUERY: Final = "access_token"
DEFAULT_SERVICE_NAME: Final = "jwt-authorizer"
DEFAULT_METRICS_NAMESPACE: Final = "JwtAuthorizer"

USER_AGENT: Final = "jwt-authorizer/0.1 (+AWS Lambda authorizer; key fetch)"

# Algorithms this project can verify; anything else in ALLOWED_ALGORITHMS is a configuration error.
SUPPORTED_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)

# Microsoft Graph's audiences: a token for Graph is never a token for this API.
GRAPH_AUDIENCES: Final = frozenset(
    {
        "00000003-0000-0000-c000-000000000000",
        "https://graph.microsoft.com",
        "https://graph.microsoft.com/",
        "https://graph.microsoft.us",
        "https://dod-graph.microsoft.us",
        "https://microsoftgraph.chinacloudapi.cn",
    }
)

TENANT_PLACEHOLDER: Final = "{tenantid}"
