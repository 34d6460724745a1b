"""Several issuers behind one authorizer: each trusted only for itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from appload import cold_start
from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import ConfigurationError, KeySourceUnavailable, Reason, TokenRejected
from jwt_authorizer.factory import build_verifier, prefetch_all
from support import IdentityProvider, LambdaContext, claims, rest_token_event, rsa_pair

TENANT = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def three() -> Iterator[tuple[IdentityProvider, IdentityProvider, IdentityProvider]]:
    providers = (IdentityProvider("/a"), IdentityProvider("/b"), IdentityProvider("/c"))
    yield providers
    for provider in providers:
        provider.close()


def issuers_env(*entries: dict[str, object], **extra: str) -> dict[str, str]:
    return {"ISSUERS": json.dumps(list(entries)), "JWKS_PREFETCH": "false", **extra}


def test_each_issuer_uses_its_own_keys_even_when_kids_collide(three: tuple[IdentityProvider, ...]) -> None:
    a, b, _ = three
    key_a = rsa_pair("shared", slot=0)
    key_b = rsa_pair("shared", slot=1)
    a.publish(key_a)
    b.publish(key_b)
    verifier = build_verifier(
        load_settings(
            issuers_env(
                {"name": "staff", "issuer": a.issuer, "audience": "api://a"},
                {"name": "partners", "issuer": b.issuer, "audience": ["api://b", "api://b2"]},
            )
        )
    )
    assert verifier.verify(key_a.sign(claims(a.issuer, audience="api://a"))).key.kid == "shared"
    assert verifier.verify(key_b.sign(claims(b.issuer, audience="api://b2"))).key.kid == "shared"
    # Issuer B's key cannot mint tokens that claim issuer A, even with A's kid.
    with pytest.raises(TokenRejected) as info:
        verifier.verify(key_b.sign(claims(a.issuer, audience="api://a")))
    assert info.value.reason == Reason.BAD_SIGNATURE
    # Audiences are per issuer: A's audience is not accepted from B.
    with pytest.raises(TokenRejected) as info:
        verifier.verify(key_b.sign(claims(b.issuer, audience="api://a")))
    assert info.value.reason == Reason.WRONG_AUDIENCE
    assert a.jwks_fetches == 1 and b.jwks_fetches == 1


def test_unknown_issuer_costs_no_network_call(three: tuple[IdentityProvider, ...]) -> None:
    a, b, c = three
    key = rsa_pair("k", slot=0)
    a.publish(key)
    verifier = build_verifier(
        load_settings(
            issuers_env({"issuer": a.issuer, "audience": "api://a"}, {"issuer": b.issuer, "audience": "api://b"})
        )
    )
    with pytest.raises(TokenRejected) as info:
        verifier.verify(key.sign(claims(c.issuer, audience="api://a")))
    assert info.value.reason == Reason.WRONG_ISSUER
    assert sum(p.counts.total() for p in three) == 0


def test_an_issuer_down_does_not_stop_the_others(three: tuple[IdentityProvider, ...]) -> None:
    a, b, _ = three
    key_a, key_b = rsa_pair("ka", slot=0), rsa_pair("kb", slot=1)
    a.publish(key_a)  # b publishes nothing: its JWKS answers 404
    verifier = build_verifier(
        load_settings(
            issuers_env({"issuer": a.issuer, "audience": "api://a"}, {"issuer": b.issuer, "audience": "api://b"})
        )
    )
    with pytest.raises(KeySourceUnavailable):
        verifier.verify(key_b.sign(claims(b.issuer, audience="api://b")))
    assert verifier.verify(key_a.sign(claims(a.issuer, audience="api://a"))).key.kid == "ka"


def test_parallel_prefetch_is_best_effort(three: tuple[IdentityProvider, ...]) -> None:
    a, b, c = three
    a.publish(rsa_pair("ka", slot=0))
    c.publish(rsa_pair("kc", slot=1))
    verifier = build_verifier(
        load_settings(
            issuers_env(
                {"name": "a", "issuer": a.issuer, "audience": "x"},
                {"name": "b", "issuer": b.issuer, "audience": "x2"},
                {"name": "c", "issuer": c.issuer, "audience": "x3"},
            )
        )
    )
    assert prefetch_all(verifier, timeout=5) == {"a": True, "b": False, "c": True}
    assert a.jwks_fetches == 1 and c.jwks_fetches == 1


def test_per_issuer_principal_and_context_through_the_handler(
    three: tuple[IdentityProvider, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, _ = three
    key_a, key_b = rsa_pair("ka", slot=0), rsa_pair("kb", slot=1)
    a.publish(key_a)
    b.publish(key_b)
    module = cold_start(
        issuers_env(
            {"name": "staff", "issuer": a.issuer, "audience": "api://a"},
            {
                "name": "machines",
                "issuer": b.issuer,
                "audience": "api://b",
                "principal_claim": "client_id",
                "context_claims": ["client_id", "scope"],
            },
            CONTEXT_CLAIMS="sub,iss",
        )
    )
    staff = module.lambda_handler(rest_token_event(key_a.sign(claims(a.issuer, audience="api://a"))), LambdaContext())
    assert staff["principalId"] == "user-1"
    assert staff["context"] == {"sub": "user-1", "iss": a.issuer}
    machine_token = key_b.sign(claims(b.issuer, audience="api://b", sub=None, client_id="m-1", scope="jobs.run"))
    machine = module.lambda_handler(rest_token_event(machine_token), LambdaContext())
    assert machine["principalId"] == "m-1"
    assert machine["context"] == {"client_id": "m-1", "scope": "jobs.run"}


@pytest.mark.parametrize(
    ("preset", "issuers", "jwks_uri"),
    [
        (
            {"tenant": TENANT},
            [f"https://login.microsoftonline.com/{TENANT}/v2.0"],
            f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys",
        ),
        (
            {"tenant": TENANT, "version": "1.0"},
            [f"https://sts.windows.net/{TENANT}/"],
            f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys",
        ),
        (
            {"tenant": "organizations", "version": "both"},
            ["https://login.microsoftonline.com/{tenantid}/v2.0", "https://sts.windows.net/{tenantid}/"],
            "https://login.microsoftonline.com/organizations/discovery/v2.0/keys",
        ),
        (
            {"tenant": TENANT, "cloud": "usgov"},
            [f"https://login.microsoftonline.us/{TENANT}/v2.0"],
            f"https://login.microsoftonline.us/{TENANT}/discovery/v2.0/keys",
        ),
        (
            {"tenant": TENANT, "cloud": "china", "version": "both"},
            [f"https://login.partner.microsoftonline.cn/{TENANT}/v2.0", f"https://sts.chinacloudapi.cn/{TENANT}/"],
            f"https://login.chinacloudapi.cn/{TENANT}/discovery/v2.0/keys",
        ),
    ],
)
def test_entra_presets(preset: dict[str, str], issuers: list[str], jwks_uri: str) -> None:
    tenants = {"allowed_tenants": [TENANT]} if preset["tenant"] == "organizations" else {}
    settings = load_settings(issuers_env({"entra": preset, "audience": "api://x", **tenants}))
    assert list(settings.issuer.issuers) == issuers
    assert settings.issuer.jwks_uri == jwks_uri
    assert settings.issuer.discovery_url is None


def test_entra_and_cognito_together() -> None:
    settings = load_settings(
        issuers_env(
            {
                "name": "staff",
                "entra": {"tenant": TENANT, "version": "both"},
                "audience": ["api://orders", "client-id"],
            },
            {
                "name": "machines",
                "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf",
                "audience": "client-123",
                "principal_claim": "client_id",
            },
        )
    )
    assert [i.name for i in settings.issuers] == ["staff", "machines"]
    cognito = settings.issuers[1]
    assert cognito.discovery_url == (
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf/.well-known/openid-configuration"
    )
    assert cognito.principal_claims == ("client_id",)


@pytest.mark.parametrize(
    ("entries", "extra", "variable"),
    [
        ([{"issuer": "https://a.example"}], {}, "ISSUERS[0] (issuer-0) AUDIENCE"),
        ([{"issuer": "https://a.example", "audience": "x", "colour": "red"}], {}, "ISSUERS[0]"),
        ([{"entra": {"tenant": "nope"}, "audience": "x"}], {}, "ISSUERS[0].entra"),
        ([{"entra": {"tenant": TENANT}, "issuer": "https://a.example", "audience": "x"}], {}, "ISSUERS[0]"),
        (
            [{"issuer": "https://a.example", "audience": "x"}, {"issuer": "https://a.example", "audience": "y"}],
            {},
            "ISSUERS",
        ),
        ([{"issuer": "https://a.example", "audience": "x"}], {"ISSUER": "https://b.example"}, "ISSUER"),
        ([], {}, "ISSUERS"),
    ],
)
def test_bad_issuer_lists_name_the_entry(entries: list[object], extra: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(issuers_env(*entries, **extra))  # type: ignore[arg-type]
    assert info.value.variable == variable
    assert info.value.fix


def test_cognito_access_tokens_are_checked_by_client_id(three: tuple[IdentityProvider, ...]) -> None:
    """Cognito access tokens have no aud; their client is in client_id (AUDIENCE_CLAIM)."""
    _, b, _ = three
    key = rsa_pair("cognito", slot=1)
    b.publish(key)
    verifier = build_verifier(
        load_settings(
            issuers_env(
                {"name": "machines", "issuer": b.issuer, "audience": "client-123", "audience_claim": "client_id"}
            )
        )
    )
    access = claims(b.issuer, audience=None, client_id="client-123", token_use="access", scope="jobs/run")
    assert verifier.verify(key.sign(access)).claims["client_id"] == "client-123"
    with pytest.raises(TokenRejected) as info:
        verifier.verify(key.sign({**access, "client_id": "client-999"}))
    assert info.value.reason == Reason.WRONG_AUDIENCE
    with pytest.raises(TokenRejected) as info:
        verifier.verify(key.sign({k: v for k, v in access.items() if k != "client_id"}))
    assert info.value.reason == Reason.MISSING_CLAIM


def test_issuers_file(tmp_path: Path) -> None:
    listing = tmp_path / "issuers.json"
    listing.write_text(json.dumps([{"name": "staff", "entra": {"tenant": TENANT}, "audience": "api://x"}]))
    settings = load_settings({"ISSUERS_FILE": str(listing)})
    assert settings.issuer.name == "staff"
    listing.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_settings({"ISSUERS_FILE": str(listing)})
    assert info.value.variable == "ISSUERS_FILE"
    with pytest.raises(ConfigurationError) as info:
        load_settings({"ISSUERS_FILE": str(tmp_path / "missing.json")})
    assert "cannot read" in info.value.problem


def test_per_issuer_route_rules_replace_the_inherited_ones(three: tuple[IdentityProvider, ...]) -> None:
    a, b, _ = three
    rules = [{"method": "GET", "path": "/orders", "require": {"scope": "orders.read"}}]
    settings = load_settings(
        issuers_env(
            {"name": "staff", "issuer": a.issuer, "audience": "x", "route_rules": rules},
            {"name": "machines", "issuer": b.issuer, "audience": "y"},
            ROUTE_RULES_FILE="examples/orders-rules.json",
        )
    )
    staff, machines = settings.issuers
    assert staff.route_rules is not None and machines.route_rules is not None
    reader = {"scp": "orders.read"}
    assert staff.route_rules.grant_for(reader).permits("GET", "/orders")
    assert not staff.route_rules.grant_for(reader).permits("DELETE", "/orders/1")
