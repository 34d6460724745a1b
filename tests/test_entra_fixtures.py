"""Genuine Microsoft Entra ID tokens, verified end to end with a frozen clock.

The tokens, key sets and discovery documents are public, expired Microsoft material kept in
``../shared/entra-fixtures`` (its README says where each came from). They are read in place, never
copied into the project, and every test here skips when the folder is absent (a user's clone).
"""

from __future__ import annotations

import base64
import copy
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from jwt_authorizer import entra
from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import ConfigurationError, KeySourceUnavailable, Reason, TokenRejected
from jwt_authorizer.factory import build_verifier
from jwt_authorizer.keys import parse_jwk, parse_jwks
from jwt_authorizer.verifier import VerifiedToken, Verifier
from support import IdentityProvider

V1_TEMPLATE = "https://sts.windows.net/{tenantid}/"
V2_TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"  # personal Microsoft accounts
OTHER_TENANT = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f"  # a well-formed tenant id of no fixture
SKEW = 60  # the default CLOCK_SKEW_SECONDS

# Collected at import so each real token is its own test case; the entra_fixtures fixture skips
# every case when the folder is absent (then the single placeholder name is never loaded).
_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "entra-fixtures"
TOKEN_NAMES = sorted(p.stem for p in (_FOLDER / "tokens").glob("*.json")) or ["fixtures-absent"]
V1_NAMES = [n for n in TOKEN_NAMES if n.startswith("v1_")] or ["fixtures-absent"]
V2_NAMES = [n for n in TOKEN_NAMES if n.startswith("v2_")] or ["fixtures-absent"]
NO_SUB_TOKEN = "v2_app_access_token_no_sub_grpc_2024"

V1_DISCOVERY = ("common_v1_from_MSIdentityTools_tests.json",)
V2_DISCOVERY = ("organizations_v2.0_2024-10-26.json", "common_v2.0_2024-10-26.json")
DISCOVERY_CASES = [
    (doc, name) for name in TOKEN_NAMES for doc in (V1_DISCOVERY if name.startswith("v1_") else V2_DISCOVERY)
]


@dataclass(frozen=True)
class EntraToken:
    """One fixture token with what it needs: its moment, its issuer, audience and key set."""

    name: str
    token: str
    header: dict[str, Any]
    claims: dict[str, Any]
    at: int
    issuer: str
    audience: str
    tid: str
    jwks: dict[str, Any]

    @property
    def v1(self) -> bool:
        return self.claims["ver"] == "1.0"

    @property
    def template(self) -> str:
        return V1_TEMPLATE if self.v1 else V2_TEMPLATE

    @property
    def kid(self) -> str:
        kid: str = self.header["kid"]
        return kid

    @property
    def exp(self) -> int:
        exp: int = self.claims["exp"]
        return exp

    def jwks_with(self, kid: str, **changes: Any) -> dict[str, Any]:
        """A copy of the key set with members of one key changed."""
        document = copy.deepcopy(self.jwks)
        for jwk in document["keys"]:
            if jwk["kid"] == kid:
                jwk.update(changes)
        return document


def load_token(folder: Path, name: str) -> EntraToken:
    raw = json.loads((folder / "tokens" / f"{name}.json").read_text(encoding="utf-8"))
    key_set = json.loads((folder / raw["jwks_file"]).read_text(encoding="utf-8"))
    expected = raw["expected"]
    return EntraToken(
        name=name,
        token=raw["token"],
        header=raw["header"],
        claims=raw["claims"],
        at=raw["frozen_time"]["unix"],
        issuer=expected["issuer"],
        audience=expected["audience"],
        tid=expected["tid"],
        jwks=key_set,
    )


def load_json(folder: Path, relative: str) -> Any:
    return json.loads((folder / relative).read_text(encoding="utf-8"))


def merged_jwks(tokens: list[EntraToken]) -> dict[str, Any]:
    """The union of several key sets; a kid met twice must hold the same key both times."""
    keys: dict[str, dict[str, Any]] = {}
    for token in tokens:
        for jwk in token.jwks["keys"]:
            seen = keys.setdefault(jwk["kid"], jwk)
            assert seen["n"] == jwk["n"], f"kid {jwk['kid']} names two different keys"
    return {"keys": list(keys.values())}


def _now() -> float:
    # Looked up on every call, so freezegun's time.time answers (see the xfail test at the end).
    return time.time()


def at(moment: float) -> Any:
    return freeze_time(datetime.fromtimestamp(moment, UTC))


def env_for_token(token: EntraToken, **overrides: str | None) -> dict[str, str]:
    env: dict[str, str | None] = {
        "ISSUER": token.issuer,
        "AUDIENCE": token.audience,
        "JWKS": json.dumps(token.jwks),
        "JWKS_PREFETCH": "false",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def make(env: dict[str, str]) -> Verifier:
    return build_verifier(load_settings(env), clock=_now)


def verify_at(verifier: Verifier, token: str, moment: float) -> VerifiedToken:
    with at(moment):
        return verifier.verify(token)


def reason_at(verifier: Verifier, token: str, moment: float) -> Reason:
    with at(moment), pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    return info.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(params=TOKEN_NAMES)
def real(request: pytest.FixtureRequest, entra_fixtures: Path) -> EntraToken:
    return load_token(entra_fixtures, request.param)


@pytest.fixture(params=V1_NAMES)
def real_v1(request: pytest.FixtureRequest, entra_fixtures: Path) -> EntraToken:
    return load_token(entra_fixtures, request.param)


@pytest.fixture(params=V2_NAMES)
def real_v2(request: pytest.FixtureRequest, entra_fixtures: Path) -> EntraToken:
    return load_token(entra_fixtures, request.param)


@pytest.fixture
def all_tokens(entra_fixtures: Path) -> list[EntraToken]:
    return [load_token(entra_fixtures, name) for name in TOKEN_NAMES]


# ----- the fixtures are what the README says ------------------------------------------------------


def test_fixture_set_has_both_token_versions(all_tokens: list[EntraToken]) -> None:
    versions = {t.claims["ver"] for t in all_tokens}
    assert versions == {"1.0", "2.0"}
    for token in all_tokens:
        assert token.name.startswith("v1_" if token.v1 else "v2_")


def test_fixture_token_is_consistent(real: EntraToken) -> None:
    assert real.header["alg"] == "RS256"
    assert real.claims["iss"] == real.issuer
    assert real.claims["tid"] == real.tid
    assert real.claims["nbf"] <= real.at < real.exp
    assert real.kid in {k["kid"] for k in real.jwks["keys"]}
    form = entra.is_v1_issuer if real.v1 else entra.is_v2_issuer
    assert form(real.issuer)


def test_every_fixture_key_set_parses_without_skipping(entra_fixtures: Path) -> None:
    files = sorted((entra_fixtures / "jwks").glob("*.json"))
    assert files
    for path in files:
        document = load_json(entra_fixtures, f"jwks/{path.name}")
        if isinstance(document["keys"], dict):  # the key history: kid -> {"jwk": ..., dates}
            history = document["keys"]
            assert len(history) == 42
            for kid, entry in history.items():
                assert parse_jwk(entry["jwk"]).kid == kid
            continue
        key_set = parse_jwks(document)
        assert key_set.skipped == (), path.name
        assert len(key_set) == len(document["keys"]), path.name


# ----- each real token verifies with its recorded issuer and audience -----------------------------


def test_verifies_with_inline_jwks(real: EntraToken) -> None:
    result = verify_at(make(env_for_token(real)), real.token, real.at)
    assert result.claims == real.claims
    assert result.key.kid == real.kid
    assert result.expires_at == real.exp + SKEW


def test_verifies_with_jwks_uri_on_loopback(real: EntraToken, idp: IdentityProvider) -> None:
    idp.documents[idp.jwks_path] = real.jwks
    verifier = make(env_for_token(real, JWKS=None, JWKS_URI=idp.jwks_uri))
    for _ in range(3):
        assert verify_at(verifier, real.token, real.at).claims["tid"] == real.tid
    assert idp.jwks_fetches == 1
    assert idp.counts[idp.discovery_path] == 0


def test_v1_tokens_are_signed_by_keys_that_name_the_v2_issuer(real_v1: EntraToken) -> None:
    result = verify_at(make(env_for_token(real_v1)), real_v1.token, real_v1.at)
    assert entra.is_v1_issuer(result.claims["iss"])
    assert result.key.issuer is not None
    assert entra.is_v2_issuer(entra.expand(result.key.issuer, real_v1.tid))


def test_verifies_through_the_tenant_template(real: EntraToken, idp: IdentityProvider) -> None:
    idp.documents[idp.jwks_path] = real.jwks
    env = env_for_token(
        real,
        ISSUER=real.template,
        ALLOWED_TENANTS=f"{OTHER_TENANT}, {real.tid.upper()}",
        JWKS=None,
        JWKS_URI=idp.jwks_uri,
    )
    result = verify_at(make(env), real.token, real.at)
    assert result.claims["iss"] == entra.expand(real.template, real.tid)


def test_template_with_any_tenant_on_purpose_accepts_the_token(real: EntraToken) -> None:
    verify_at(make(env_for_token(real, ISSUER=real.template, ALLOWED_TENANTS="*")), real.token, real.at)


def test_template_without_allowed_tenants_is_a_configuration_error(real: EntraToken) -> None:
    with pytest.raises(ConfigurationError) as info:
        make(env_for_token(real, ISSUER=real.template))
    assert info.value.variable == "ALLOWED_TENANTS" and "every Entra tenant in the world" in info.value.problem


def test_other_version_template_is_another_issuer(real: EntraToken) -> None:
    other = V2_TEMPLATE if real.v1 else V1_TEMPLATE
    verifier = make(env_for_token(real, ISSUER=other, ALLOWED_TENANTS=real.tid))
    assert reason_at(verifier, real.token, real.at) == Reason.WRONG_ISSUER


# ----- and fails for the right reason otherwise ---------------------------------------------------


def test_another_audience_is_refused(real: EntraToken) -> None:
    for audience in ["api://another-api", real.audience.upper(), real.audience + "/"]:
        verifier = make(env_for_token(real, AUDIENCE=audience))
        assert reason_at(verifier, real.token, real.at) == Reason.WRONG_AUDIENCE, audience


def test_another_allowed_tenant_is_refused(real: EntraToken) -> None:
    for issuer in (real.issuer, real.template):
        verifier = make(env_for_token(real, ISSUER=issuer, ALLOWED_TENANTS=OTHER_TENANT))
        assert reason_at(verifier, real.token, real.at) == Reason.TENANT_NOT_ALLOWED, issuer


def test_time_window(real: EntraToken) -> None:
    verifier = make(env_for_token(real))
    verify_at(verifier, real.token, real.exp + SKEW - 1)
    assert reason_at(verifier, real.token, real.exp + SKEW) == Reason.EXPIRED
    assert reason_at(verifier, real.token, real.exp + SKEW + 3600) == Reason.EXPIRED
    assert reason_at(verifier, real.token, real.claims["nbf"] - SKEW - 1) == Reason.NOT_YET_VALID
    strict = make(env_for_token(real, CLOCK_SKEW_SECONDS="0"))
    assert reason_at(strict, real.token, real.exp) == Reason.EXPIRED


def test_consumer_tenant_key_does_not_verify_a_work_tenant_token(real: EntraToken) -> None:
    assert real.tid != CONSUMER_TENANT
    consumer = f"https://login.microsoftonline.com/{CONSUMER_TENANT}/v2.0"
    key_set = real.jwks_with(real.kid, issuer=consumer)
    for issuer in (real.issuer, real.template):
        verifier = make(env_for_token(real, ISSUER=issuer, JWKS=json.dumps(key_set), ALLOWED_TENANTS="*"))
        assert reason_at(verifier, real.token, real.at) == Reason.KEY_MISMATCH, issuer


def test_genuine_consumer_keys_sit_beside_the_template_keys(entra_fixtures: Path) -> None:
    document = load_json(entra_fixtures, "jwks/entra_common_v2_keys_2024-10-26_latest.json")
    issuers = {k["issuer"] for k in document["keys"]}
    assert issuers == {V2_TEMPLATE, f"https://login.microsoftonline.com/{CONSUMER_TENANT}/v2.0"}


@pytest.mark.parametrize(
    "key_issuer",
    [
        "https://login.microsoftonline.com/" + OTHER_TENANT + "/v2.0",
        "https://sts.windows.net/" + OTHER_TENANT + "/",
        "https://login.partner.microsoftonline.cn/{tenantid}/v2.0",
        "https://login.microsoftonline.com/{tenantid}/v2.0/",
        "https://idp.example/{tenantid}/v2.0",
    ],
)
def test_key_for_another_tenant_or_cloud_is_refused(real: EntraToken, key_issuer: str) -> None:
    key_set = real.jwks_with(real.kid, issuer=key_issuer)
    verifier = make(env_for_token(real, JWKS=json.dumps(key_set)))
    assert reason_at(verifier, real.token, real.at) == Reason.KEY_MISMATCH


def test_key_naming_the_tenants_own_issuer_in_either_version_verifies(real: EntraToken) -> None:
    for key_issuer in (
        f"https://login.microsoftonline.com/{real.tid}/v2.0",
        f"https://sts.windows.net/{real.tid}/",
        V1_TEMPLATE,
        V2_TEMPLATE,
    ):
        key_set = real.jwks_with(real.kid, issuer=key_issuer)
        verifier = make(env_for_token(real, JWKS=json.dumps(key_set)))
        verify_at(verifier, real.token, real.at)
    without = real.jwks_with(real.kid)
    for jwk in without["keys"]:
        jwk.pop("issuer", None)
    verify_at(make(env_for_token(real, JWKS=json.dumps(without))), real.token, real.at)


def test_tampered_payload_fails(real: EntraToken) -> None:
    header, _, signature = real.token.split(".")
    forged_claims = {**real.claims, "roles": ["Admin"]}
    forged = f"{header}.{b64(json.dumps(forged_claims).encode())}.{signature}"
    assert reason_at(make(env_for_token(real)), forged, real.at) == Reason.BAD_SIGNATURE


def test_another_real_key_under_the_tokens_kid_fails(real: EntraToken) -> None:
    other = next(k for k in real.jwks["keys"] if k["kid"] != real.kid)
    impostor = {**other, "kid": real.kid, "issuer": V2_TEMPLATE}
    key_set = {"keys": [impostor]}
    verifier = make(env_for_token(real, JWKS=json.dumps(key_set)))
    assert reason_at(verifier, real.token, real.at) == Reason.BAD_SIGNATURE


def test_v2_app_only_token_without_sub_or_oid_verifies(entra_fixtures: Path) -> None:
    real = load_token(entra_fixtures, NO_SUB_TOKEN)
    result = verify_at(make(env_for_token(real)), real.token, real.at)
    claims = result.claims
    assert "sub" not in claims
    assert "oid" not in claims
    assert "scp" not in claims
    assert "roles" not in claims
    assert claims["azp"] == claims["aud"] == real.audience


# ----- one verifier for both versions -------------------------------------------------------------


def _two_version_env(tokens: list[EntraToken], **overrides: str | None) -> dict[str, str]:
    env: dict[str, str | None] = {
        "ISSUER": f"{V1_TEMPLATE},{V2_TEMPLATE}",
        "AUDIENCE": ",".join(sorted({t.audience for t in tokens})),
        "ALLOWED_TENANTS": ",".join(sorted({t.tid for t in tokens})),
        "JWKS": json.dumps(merged_jwks(tokens)),
        "JWKS_PREFETCH": "false",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def test_one_verifier_accepts_v1_and_v2_tokens(all_tokens: list[EntraToken]) -> None:
    verifier = make(_two_version_env(all_tokens))
    for token in all_tokens:
        assert verify_at(verifier, token.token, token.at).claims["iss"] == token.issuer


def test_one_verifier_over_loopback_fetches_once(all_tokens: list[EntraToken], idp: IdentityProvider) -> None:
    idp.documents[idp.jwks_path] = merged_jwks(all_tokens)
    verifier = make(_two_version_env(all_tokens, JWKS=None, JWKS_URI=idp.jwks_uri))
    for token in all_tokens:
        verify_at(verifier, token.token, token.at)
    assert idp.jwks_fetches == 1


def test_one_verifier_still_enforces_the_tenant_list(all_tokens: list[EntraToken]) -> None:
    refused = all_tokens[0].tid
    allowed = sorted({t.tid for t in all_tokens} - {refused})
    verifier = make(_two_version_env(all_tokens, ALLOWED_TENANTS=",".join(allowed)))
    for token in all_tokens:
        if token.tid == refused:
            assert reason_at(verifier, token.token, token.at) == Reason.TENANT_NOT_ALLOWED
        else:
            verify_at(verifier, token.token, token.at)


# ----- real discovery documents on loopback -------------------------------------------------------


def _serve_discovery(idp: IdentityProvider, folder: Path, doc_name: str) -> tuple[str, str]:
    """Serve a real discovery document with its jwks_uri moved to loopback; (url, its issuer)."""
    document = load_json(folder, f"openid-configuration/{doc_name}")
    original = document["jwks_uri"]
    assert original.startswith("https://login.microsoftonline.com/")
    document["jwks_uri"] = idp.jwks_uri
    path = "/" + doc_name.removesuffix(".json") + "/.well-known/openid-configuration"
    idp.documents[path] = document
    return idp.base + path, document["issuer"]


@pytest.mark.parametrize(("doc_name", "token_name"), DISCOVERY_CASES)
def test_real_discovery_document_leads_to_the_keys(
    entra_fixtures: Path, idp: IdentityProvider, doc_name: str, token_name: str
) -> None:
    real = load_token(entra_fixtures, token_name)
    url, doc_issuer = _serve_discovery(idp, entra_fixtures, doc_name)
    assert doc_issuer == real.template  # the literal template, as configured
    idp.documents[idp.jwks_path] = real.jwks
    env = env_for_token(real, ISSUER=real.template, ALLOWED_TENANTS=real.tid, JWKS=None, DISCOVERY_URL=url)
    verifier = make(env)
    for _ in range(2):
        verify_at(verifier, real.token, real.at)
    assert idp.counts[url.removeprefix(idp.base)] == 1
    assert idp.jwks_fetches == 1


def test_discovery_for_both_templates_serves_both_versions(
    entra_fixtures: Path, idp: IdentityProvider, all_tokens: list[EntraToken]
) -> None:
    url, _ = _serve_discovery(idp, entra_fixtures, "organizations_v2.0_2024-10-26.json")
    idp.documents[idp.jwks_path] = merged_jwks(all_tokens)
    verifier = make(_two_version_env(all_tokens, JWKS=None, DISCOVERY_URL=url))
    for token in all_tokens:
        verify_at(verifier, token.token, token.at)
    assert idp.jwks_fetches == 1


def test_discovery_document_must_name_the_configured_issuer(
    entra_fixtures: Path, idp: IdentityProvider, real_v2: EntraToken
) -> None:
    url, doc_issuer = _serve_discovery(idp, entra_fixtures, "organizations_v2.0_2024-10-26.json")
    assert doc_issuer == V2_TEMPLATE != real_v2.issuer
    idp.documents[idp.jwks_path] = real_v2.jwks
    # The tenant's own issuer is configured; the organizations document names only the template.
    verifier = make(env_for_token(real_v2, JWKS=None, DISCOVERY_URL=url))
    with at(real_v2.at), pytest.raises(KeySourceUnavailable):
        verifier.verify(real_v2.token)
    assert idp.jwks_fetches == 0


def test_v1_discovery_document_does_not_vouch_for_the_v2_template(entra_fixtures: Path, idp: IdentityProvider) -> None:
    url, doc_issuer = _serve_discovery(idp, entra_fixtures, V1_DISCOVERY[0])
    assert doc_issuer == V1_TEMPLATE
    settings = load_settings(
        {"ISSUER": V2_TEMPLATE, "AUDIENCE": "api://x", "DISCOVERY_URL": url, "ALLOWED_TENANTS": "*"}
    )
    cache = build_verifier(settings).issuers[0].keys
    assert cache.prefetch() is False
    assert cache.last_error is not None
    assert "names issuer" in cache.last_error
    assert idp.jwks_fetches == 0


def test_default_discovery_urls_are_the_documents_in_the_fixtures(entra_fixtures: Path) -> None:
    v2 = load_settings({"ISSUER": V2_TEMPLATE, "AUDIENCE": "api://x", "ALLOWED_TENANTS": "*"}).issuer
    v1 = load_settings({"ISSUER": V1_TEMPLATE, "AUDIENCE": "api://x", "ALLOWED_TENANTS": "*"}).issuer
    organizations = load_json(entra_fixtures, "openid-configuration/organizations_v2.0_2024-10-26.json")
    common_v1 = load_json(entra_fixtures, f"openid-configuration/{V1_DISCOVERY[0]}")
    assert v2.discovery_url == ("https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration")
    assert organizations["jwks_uri"].startswith("https://login.microsoftonline.com/organizations/")
    assert organizations["issuer"] == V2_TEMPLATE
    assert v1.discovery_url == "https://login.microsoftonline.com/common/.well-known/openid-configuration"
    assert common_v1["issuer"] == V1_TEMPLATE


# ----- the verifier's default clock and freezegun -------------------------------------------------


def test_default_clock_follows_freezegun(entra_fixtures: Path) -> None:
    real = load_token(entra_fixtures, TOKEN_NAMES[0])
    with at(real.at):
        build_verifier(load_settings(env_for_token(real))).verify(real.token)


# ----- the ISSUERS list's Entra preset with real tokens -------------------------------------------


def test_entra_preset_for_organizations_in_both_versions(all_tokens: list[EntraToken]) -> None:
    entry = {
        "name": "entra",
        "entra": {"tenant": "organizations", "version": "both"},
        "allowed_tenants": sorted({t.tid for t in all_tokens}),
        "audience": sorted({t.audience for t in all_tokens}),
        "jwks": merged_jwks(all_tokens),
    }
    verifier = make({"ISSUERS": json.dumps([entry]), "JWKS_PREFETCH": "false"})
    assert set(verifier.issuers[0].settings.issuers) == {V1_TEMPLATE, V2_TEMPLATE}
    for token in all_tokens:
        verify_at(verifier, token.token, token.at)
