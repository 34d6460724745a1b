"""What is particular to Microsoft Entra ID: tenant templates, v1/v2 issuers, Graph tokens.

Entra's multi-tenant discovery documents (``common``, ``organizations``) name the literal issuer
``https://login.microsoftonline.com/{tenantid}/v2.0``; a token's real issuer carries its tenant id
in place of the template, and the same tenant id in its ``tid`` claim. Keys in Entra's v2 key sets
carry an ``issuer`` member saying which issuers they may sign for.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .constants import TENANT_PLACEHOLDER

# Entra tenant ids are GUIDs; anything else in a {tenantid} slot is refused.
TENANT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# v2 hosts (login endpoints) and the v1 hosts whose tokens they also sign, per cloud.
_V2_HOSTS = {
    "login.microsoftonline.com": "sts.windows.net",
    "login.microsoftonline.us": "sts.windows.net",
    "login.partner.microsoftonline.cn": "sts.chinacloudapi.cn",
    "login.chinacloudapi.cn": "sts.chinacloudapi.cn",
}
_V1_HOSTS = frozenset(_V2_HOSTS.values())
_V1_ISSUER = re.compile(r"https://(?P<host>[^/]+)/(?P<tid>[^/]+)/")
_V2_ISSUER = re.compile(r"https://(?P<host>[^/]+)/(?P<tid>[^/]+)/v2\.0")


def is_template(issuer: str) -> bool:
    return TENANT_PLACEHOLDER in issuer


def expand(template: str, tenant_id: str) -> str:
    return template.replace(TENANT_PLACEHOLDER, tenant_id)


def default_discovery_url(issuer: str) -> str | None:
    """The discovery document for an issuer, ``None`` when we cannot pick one soundly.

    A concrete issuer publishes its own document. For a ``{tenantid}`` template on Entra's hosts we
    use the ``organizations`` document (work and school accounts; its issuer is the literal
    template, and its keys exclude the personal-account tenant); for the v1 template, Entra's
    ``common`` v1 document, which is where ``https://sts.windows.net/{tenantid}/`` is published.
    """
    if not is_template(issuer):
        return issuer.rstrip("/") + "/.well-known/openid-configuration"
    parts = urlsplit(issuer)
    host = parts.hostname or ""
    if host in _V2_HOSTS:
        return expand(issuer, "organizations").rstrip("/") + "/.well-known/openid-configuration"
    if host in _V1_HOSTS:
        login = next(v2 for v2, v1 in _V2_HOSTS.items() if v1 == host)
        return f"https://{login}/common/.well-known/openid-configuration"
    return None


def common_issuer(a: str, b: str) -> tuple[str, str | None] | None:
    """An issuer that both patterns accept, with the tenant id it takes (``None``: any), or ``None``.

    A concrete issuer accepts itself; a ``{tenantid}`` template accepts its expansion with the
    token's own ``tid`` (a GUID). Two different templates meet at most at one tenant id: writing
    both as prefix + tid + suffix, the shorter prefix must begin the longer one, and the tenant id
    is then fixed by the difference (it repeats with its length), so it can simply be tried.
    """
    if a == b:
        return a, None
    if not is_template(a) and not is_template(b):
        return None
    if not is_template(b):
        return _fits(a, b)
    if not is_template(a):
        return _fits(b, a)
    prefix_a, _, _ = a.partition(TENANT_PLACEHOLDER)
    prefix_b, _, _ = b.partition(TENANT_PLACEHOLDER)
    if len(prefix_a) == len(prefix_b):
        return None  # same position: equal only if the templates are
    short, long_ = (prefix_a, prefix_b) if len(prefix_a) < len(prefix_b) else (prefix_b, prefix_a)
    if not long_.startswith(short):
        return None
    step = long_[len(short) :]
    tenant = (step * (36 // len(step) + 1))[:36]
    if TENANT_ID.fullmatch(tenant) is None or expand(a, tenant) != expand(b, tenant):
        return None
    return expand(a, tenant), tenant


def _fits(template: str, issuer: str) -> tuple[str, str] | None:
    prefix, _, suffix = template.partition(TENANT_PLACEHOLDER)
    if len(issuer) != len(prefix) + 36 + len(suffix) or not issuer.startswith(prefix) or not issuer.endswith(suffix):
        return None
    tenant = issuer[len(prefix) : len(prefix) + 36]
    return (issuer, tenant) if TENANT_ID.fullmatch(tenant) else None


def match_issuer(pattern: str, issuer: str, tenant_id: object) -> bool:
    """Does the token's ``iss`` fit ``pattern``, with its tenant slot equal to its ``tid``?"""
    if not is_template(pattern):
        return issuer == pattern
    if not isinstance(tenant_id, str) or TENANT_ID.fullmatch(tenant_id) is None:
        return False
    return issuer == expand(pattern, tenant_id)


def _tenant_form(issuer: str) -> tuple[str, str, str, str] | None:
    """(cloud v1 host, tenant, version, host) for an Entra issuer, ``None`` for anything else."""
    match = _V2_ISSUER.fullmatch(issuer)
    if match and match["host"] in _V2_HOSTS:
        return _V2_HOSTS[match["host"]], match["tid"].lower(), "2", match["host"]
    match = _V1_ISSUER.fullmatch(issuer)
    if match and match["host"] in _V1_HOSTS:
        return match["host"], match["tid"].lower(), "1", match["host"]
    return None


def key_may_sign(key_issuer: str | None, token_issuer: str, tenant_id: object) -> bool:
    """Does a key's own ``issuer`` member allow it to sign for ``token_issuer``?

    Entra v2 keys name the v2 issuer (often the template); the same keys sign the tenant's v1
    tokens, so a v1 issuer of the same tenant and cloud is accepted too. A key for the consumer
    tenant never verifies a work tenant's token.
    """
    if key_issuer is None:
        return True
    expected = expand(key_issuer, tenant_id) if isinstance(tenant_id, str) else key_issuer
    if expected == token_issuer:
        return True
    key_form = _tenant_form(expected)
    token_form = _tenant_form(token_issuer)
    if key_form is None or token_form is None or key_form[:2] != token_form[:2]:
        return False
    # Same tenant, same v1 cloud: a v1 issuer is the twin of the v2 one. Two v2 issuers on
    # different hosts (login.microsoftonline.com and .us share sts.windows.net) are not twins.
    return key_form[2] != token_form[2] or key_form[3] == token_form[3]


def is_v1_issuer(issuer: str) -> bool:
    form = _tenant_form(issuer)
    return form is not None and form[2] == "1"


def is_v2_issuer(issuer: str) -> bool:
    form = _tenant_form(issuer)
    return form is not None and form[2] == "2"
