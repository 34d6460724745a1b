"""Ambiguous or accidentally open issuer configurations fail at cold start (review findings 5 and 9).

* A ``{tenantid}`` issuer -- ``ISSUER``, an ``ISSUERS`` entry, the Entra ``organizations``/``common``
  presets -- without ``ALLOWED_TENANTS`` would accept every Entra tenant in the world: the cold
  start fails naming the variable and the risk, unless the operator opts in with ``*``.
* Two ``ISSUERS`` entries that would both accept one token (a template and a fixed tenant it
  matches, a tenant preset beside ``organizations``, two equal templates) are refused naming both
  entries, whatever their order. Entries with disjoint tenant lists are fine, in any order.

Each case goes through ``cold_start`` (the handler module's import, as Lambda does it) and, where
it starts, through ``lambda_handler`` with real tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from appload import cold_start
from jwt_authorizer import entra
from jwt_authorizer.cli import main
from jwt_authorizer.exceptions import ConfigurationError
from support import (
    IdentityProvider,
    KeyPair,
    Outcome,
    claims,
    invoke,
    preserved_environ,
    rest_token_event,
)

TENANT_A = "11111111-1111-1111-1111-111111111111"
TENANT_B = "22222222-2222-2222-2222-222222222222"
V2_TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"


@pytest.fixture
def clean_environment() -> Iterator[None]:
    with preserved_environ():
        yield


def refused_at_cold_start(env: dict[str, str]) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        cold_start({"JWKS_PREFETCH": "false", **env})
    return info.value


def issuers(*entries: dict[str, Any]) -> dict[str, str]:
    return {"ISSUERS": json.dumps(list(entries))}


# ----- finding 9: any tenant only on purpose ----------------------------------------------------------


@pytest.mark.usefixtures("clean_environment")
def test_a_template_issuer_without_allowed_tenants_fails_the_cold_start(idp: IdentityProvider) -> None:
    error = refused_at_cold_start(
        {"ISSUER": idp.base + "/{tenantid}/v2.0", "AUDIENCE": "api://test", "JWKS_URI": idp.jwks_uri}
    )
    assert error.variable == "ALLOWED_TENANTS"
    assert "every Entra tenant in the world" in error.problem and "app roles" in error.problem
    assert "ALLOWED_TENANTS" in error.fix and "*" in error.fix


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize(
    "entry",
    [
        {"name": "partners", "issuer": V2_TEMPLATE, "audience": "api://x"},
        {"name": "partners", "entra": {"tenant": "organizations"}, "audience": "api://x"},
        {"name": "partners", "entra": {"tenant": "common", "version": "both"}, "audience": "api://x"},
    ],
)
def test_an_issuers_entry_or_preset_without_allowed_tenants_fails_the_cold_start(entry: dict[str, Any]) -> None:
    error = refused_at_cold_start(issuers(entry))
    assert error.variable == "ISSUERS[0] (partners) ALLOWED_TENANTS"
    assert "every Entra tenant in the world" in error.problem and '"allowed_tenants"' in error.fix


@pytest.mark.usefixtures("clean_environment")
def test_any_tenant_on_purpose_starts_and_accepts_every_tenant(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    template = idp.base + "/{tenantid}/v2.0"
    module = cold_start(
        {
            "ISSUER": template,
            "AUDIENCE": "api://test",
            "JWKS_URI": idp.jwks_uri,
            "ALLOWED_TENANTS": "*",
            "JWKS_PREFETCH": "false",
        }
    )
    for tenant in (TENANT_A, TENANT_B):
        token = signer.sign(claims(template.replace("{tenantid}", tenant), tid=tenant))
        assert invoke(module, rest_token_event(token))[0] == Outcome(200, "granted")


@pytest.mark.usefixtures("clean_environment")
def test_a_star_mixed_with_tenant_ids_is_refused() -> None:
    error = refused_at_cold_start({"ISSUER": V2_TEMPLATE, "AUDIENCE": "api://x", "ALLOWED_TENANTS": f"*,{TENANT_A}"})
    assert error.variable == "ALLOWED_TENANTS" and "*" in error.problem


def test_explain_says_so_too(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ISSUER", "AUDIENCE", "ALLOWED_TENANTS", "ISSUERS", "ISSUERS_FILE", "JWKS", "JWKS_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ISSUER", V2_TEMPLATE)
    monkeypatch.setenv("AUDIENCE", "api://x")
    code = main(["explain", "a.b.c"])
    err = capsys.readouterr().err
    assert code == 2
    assert "ALLOWED_TENANTS: the issuer https://login.microsoftonline.com/{tenantid}/v2.0 is a" in err
    assert "every Entra tenant in the world" in err and "set it to *" in err


# ----- finding 5: overlapping ISSUERS entries ---------------------------------------------------------


OVERLAPS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "template with * and a fixed tenant": (
        {"name": "partners", "issuer": V2_TEMPLATE, "allowed_tenants": "*", "audience": "api://p"},
        {"name": "staff", "issuer": f"https://login.microsoftonline.com/{TENANT_A}/v2.0", "audience": "api://s"},
    ),
    "template listing the fixed tenant": (
        {"name": "partners", "issuer": V2_TEMPLATE, "allowed_tenants": [TENANT_B, TENANT_A], "audience": "api://p"},
        {"name": "staff", "issuer": f"https://login.microsoftonline.com/{TENANT_A}/v2.0", "audience": "api://s"},
    ),
    "organizations preset and a tenant preset": (
        {"name": "partners", "entra": {"tenant": "organizations"}, "allowed_tenants": "*", "audience": "api://p"},
        {"name": "staff", "entra": {"tenant": TENANT_A, "version": "both"}, "audience": "api://s"},
    ),
    "v1 template and a v1 tenant issuer": (
        {"name": "partners", "entra": {"tenant": "common", "version": "1.0"}, "allowed_tenants": [TENANT_A]},
        {"name": "staff", "issuer": f"https://sts.windows.net/{TENANT_A}/", "audience": "api://s"},
    ),
    "two equal templates": (
        {"name": "partners", "entra": {"tenant": "organizations"}, "allowed_tenants": [TENANT_A]},
        {"name": "staff", "entra": {"tenant": "common"}, "allowed_tenants": [TENANT_B]},
    ),
}


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("case", list(OVERLAPS))
@pytest.mark.parametrize("order", ["as listed", "reversed"])
def test_overlapping_entries_fail_the_cold_start_naming_both(case: str, order: str) -> None:
    first, second = OVERLAPS[case]
    entries = [dict(first), dict(second)]
    for entry in entries:
        entry.setdefault("audience", "api://x")
    if order == "reversed":
        entries.reverse()
    error = refused_at_cold_start(issuers(*entries))
    assert error.variable == "ISSUERS"
    assert "'partners'" in error.problem and "'staff'" in error.problem


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("order", ["template first", "tenant first"])
def test_disjoint_tenant_lists_start_and_choose_the_entry_whatever_the_order(
    idp: IdentityProvider, signer: KeyPair, order: str
) -> None:
    idp.publish(signer)
    template = idp.base + "/{tenantid}/v2.0"
    staff_issuer = template.replace("{tenantid}", TENANT_B)
    partners = {
        "name": "partners",
        "issuer": template,
        "allowed_tenants": [TENANT_A],
        "audience": "api://partners",
        "jwks_uri": idp.jwks_uri,
    }
    staff = {"name": "staff", "issuer": staff_issuer, "audience": "api://staff", "jwks_uri": idp.jwks_uri}
    entries = [partners, staff] if order == "template first" else [staff, partners]
    module = cold_start({**issuers(*entries), "JWKS_PREFETCH": "false"})

    def outcome(issuer: str, tenant: str, audience: str) -> Outcome:
        token = signer.sign(claims(issuer, audience=audience, tid=tenant))
        return invoke(module, rest_token_event(token))[0]

    # Tenant B's token is judged by the staff entry (its audience), tenant A's by the partners entry.
    assert outcome(staff_issuer, TENANT_B, "api://staff") == Outcome(200, "granted")
    assert outcome(staff_issuer, TENANT_B, "api://partners") == Outcome(401, "wrong_audience")
    partner_issuer = template.replace("{tenantid}", TENANT_A)
    assert outcome(partner_issuer, TENANT_A, "api://partners") == Outcome(200, "granted")
    assert outcome(partner_issuer, TENANT_A, "api://staff") == Outcome(401, "wrong_audience")
    other = template.replace("{tenantid}", "33333333-3333-3333-3333-333333333333")
    assert outcome(other, "33333333-3333-3333-3333-333333333333", "api://partners") == Outcome(
        401, "tenant_not_allowed"
    )


def test_the_readme_example_of_several_issuers_starts() -> None:
    """Staff of one tenant and partners through organizations with their own tenant list."""
    from jwt_authorizer.config import load_settings

    entries = [
        {
            "name": "staff",
            "entra": {"tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47", "version": "both"},
            "audience": ["api://orders-api", "6e7bd6d6-1d4f-4e5b-9c4c-2f4bd1a0c0de"],
        },
        {
            "name": "partners",
            "entra": {"tenant": "organizations"},
            "allowed_tenants": ["0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"],
            "audience": "api://orders-api",
        },
    ]
    assert [i.label for i in load_settings(issuers(*entries)).issuers] == ["staff", "partners"]
    entries[1]["allowed_tenants"] = ["*"]
    with pytest.raises(ConfigurationError, match=r"'staff'.*'partners'|'partners'.*'staff'"):
        load_settings(issuers(*entries))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (V2_TEMPLATE, f"https://login.microsoftonline.com/{TENANT_A}/v2.0", TENANT_A),
        (V2_TEMPLATE, f"https://login.microsoftonline.com/{TENANT_A}/v2.0/", None),
        (V2_TEMPLATE, "https://login.microsoftonline.com/not-a-guid-at-all-000000000000000/v2.0", None),
        (V2_TEMPLATE, "https://sts.windows.net/{tenantid}/", None),
        (V2_TEMPLATE, "https://login.microsoftonline.com/{tenantid}/v2.0/", None),
        # Two templates that meet at exactly one tenant: both expand to https://h/A/A/v2.0.
        (f"https://h/{{tenantid}}/{TENANT_A}/v2.0", f"https://h/{TENANT_A}/{{tenantid}}/v2.0", TENANT_A),
        (f"https://h/{{tenantid}}/{TENANT_A}/v2.0", f"https://h/{TENANT_B}/{{tenantid}}/v2.0", None),
    ],
)
def test_common_issuer_is_exact(a: str, b: str, expected: str | None) -> None:
    for first, second in ((a, b), (b, a)):
        common = entra.common_issuer(first, second)
        if expected is None:
            assert common is None
        else:
            assert common is not None and common[1] == expected
            assert entra.match_issuer(first, common[0], expected) and entra.match_issuer(second, common[0], expected)
