"""Entra ID rules in isolation: discovery defaults, tenant templates, which key signs for whom."""

from __future__ import annotations

import pytest

from jwt_authorizer import entra

TENANT_A = "11111111-1111-1111-1111-111111111111"
TENANT_B = "22222222-2222-2222-2222-222222222222"
CONSUMER = "9188040d-6c67-4c5b-b112-36a304b66dad"

V2_TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"
V1_TEMPLATE = "https://sts.windows.net/{tenantid}/"
WELL_KNOWN = "/.well-known/openid-configuration"


def v2(tenant: str, host: str = "login.microsoftonline.com") -> str:
    return f"https://{host}/{tenant}/v2.0"


def v1(tenant: str, host: str = "sts.windows.net") -> str:
    return f"https://{host}/{tenant}/"


# ----- default_discovery_url ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        (v2(TENANT_A), v2(TENANT_A) + WELL_KNOWN),
        (v1(TENANT_A), f"https://sts.windows.net/{TENANT_A}{WELL_KNOWN}"),
        ("https://idp.example", "https://idp.example" + WELL_KNOWN),
        ("https://idp.example/realms/x/", "https://idp.example/realms/x" + WELL_KNOWN),
        ("http://127.0.0.1:8080/issuer", "http://127.0.0.1:8080/issuer" + WELL_KNOWN),
        (
            "https://contoso.b2clogin.com/8719d819-a3ee-4a5a-a776-d1911eaaa5ed/v2.0/",
            "https://contoso.b2clogin.com/8719d819-a3ee-4a5a-a776-d1911eaaa5ed/v2.0" + WELL_KNOWN,
        ),
    ],
)
def test_discovery_of_a_concrete_issuer_is_its_own(issuer: str, expected: str) -> None:
    assert entra.default_discovery_url(issuer) == expected


@pytest.mark.parametrize(
    "host",
    [
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
    ],
)
def test_discovery_of_the_v2_template_is_organizations(host: str) -> None:
    template = f"https://{host}/{{tenantid}}/v2.0"
    assert entra.default_discovery_url(template) == f"https://{host}/organizations/v2.0{WELL_KNOWN}"


def test_discovery_of_the_v1_template_is_common() -> None:
    assert entra.default_discovery_url(V1_TEMPLATE) == (f"https://login.microsoftonline.com/common{WELL_KNOWN}")
    china = "https://sts.chinacloudapi.cn/{tenantid}/"
    assert entra.default_discovery_url(china) == (f"https://login.partner.microsoftonline.cn/common{WELL_KNOWN}")


@pytest.mark.parametrize(
    "template",
    [
        "https://idp.example/{tenantid}/v2.0",
        "https://login.sovcloud-identity.fr/{tenantid}/v2.0",
        "https://{tenantid}.b2clogin.com/tfp/v2.0/",
        "http://127.0.0.1:8080/{tenantid}/v2.0",
    ],
)
def test_discovery_of_a_template_on_an_unknown_host_is_unknown(template: str) -> None:
    assert entra.default_discovery_url(template) is None


# ----- templates ----------------------------------------------------------------------------------


def test_is_template_and_expand() -> None:
    assert entra.is_template(V2_TEMPLATE)
    assert not entra.is_template(v2(TENANT_A))
    assert entra.expand(V2_TEMPLATE, TENANT_A) == v2(TENANT_A)
    assert entra.expand(V1_TEMPLATE, TENANT_A) == v1(TENANT_A)
    assert entra.expand(v2(TENANT_B), TENANT_A) == v2(TENANT_B)


@pytest.mark.parametrize(
    "tenant",
    [
        TENANT_A,
        TENANT_A.upper(),
        CONSUMER,
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
    ],
)
def test_tenant_id_accepts_guids(tenant: str) -> None:
    assert entra.TENANT_ID.fullmatch(tenant)


@pytest.mark.parametrize(
    "tenant",
    [
        "",
        "common",
        "organizations",
        "consumers",
        "contoso.onmicrosoft.com",
        "{" + TENANT_A + "}",
        TENANT_A + "\n",
        " " + TENANT_A,
        TENANT_A.replace("-", ""),
        TENANT_A[:-1] + "g",
        TENANT_A + "/../evil",
    ],
)
def test_tenant_id_refuses_everything_else(tenant: str) -> None:
    assert entra.TENANT_ID.fullmatch(tenant) is None


# ----- match_issuer -------------------------------------------------------------------------------


def test_match_concrete_issuer_is_exact() -> None:
    assert entra.match_issuer(v2(TENANT_A), v2(TENANT_A), None)
    assert entra.match_issuer(v2(TENANT_A), v2(TENANT_A), TENANT_B)  # tid is not this rule's job
    assert not entra.match_issuer(v2(TENANT_A), v2(TENANT_B), TENANT_B)
    assert not entra.match_issuer(v2(TENANT_A), v2(TENANT_A) + "/", TENANT_A)
    assert not entra.match_issuer(v1(TENANT_A), v1(TENANT_A).rstrip("/"), TENANT_A)
    assert not entra.match_issuer(v2(TENANT_A), v2(TENANT_A).upper(), TENANT_A)


def test_match_template_with_its_tid() -> None:
    assert entra.match_issuer(V2_TEMPLATE, v2(TENANT_A), TENANT_A)
    assert entra.match_issuer(V1_TEMPLATE, v1(TENANT_A), TENANT_A)
    upper = TENANT_A.replace("1", "A")
    assert entra.match_issuer(V2_TEMPLATE, v2(upper), upper)


def test_match_template_needs_the_iss_tenant_to_be_the_tid() -> None:
    assert not entra.match_issuer(V2_TEMPLATE, v2(TENANT_A), TENANT_B)
    assert not entra.match_issuer(V1_TEMPLATE, v1(TENANT_A), TENANT_B)
    # The version and host are part of the template, too.
    assert not entra.match_issuer(V2_TEMPLATE, v1(TENANT_A), TENANT_A)
    assert not entra.match_issuer(V1_TEMPLATE, v2(TENANT_A), TENANT_A)
    assert not entra.match_issuer(V2_TEMPLATE, v2(TENANT_A, "login.microsoftonline.us"), TENANT_A)


@pytest.mark.parametrize(
    "tid",
    [None, 7, ["x"], "", "common", "organizations", "consumers", "x/y", "{tenantid}", TENANT_A + " "],
)
def test_match_template_needs_a_guid_tid(tid: object) -> None:
    issuer = V2_TEMPLATE.replace("{tenantid}", str(tid))
    assert not entra.match_issuer(V2_TEMPLATE, issuer, tid)


# ----- key_may_sign -------------------------------------------------------------------------------


def test_a_key_without_issuer_may_sign_anything() -> None:
    assert entra.key_may_sign(None, v2(TENANT_A), TENANT_A)
    assert entra.key_may_sign(None, "https://idp.example", None)


def test_template_key_signs_for_every_tenant_in_both_versions() -> None:
    for tenant in (TENANT_A, TENANT_B):
        assert entra.key_may_sign(V2_TEMPLATE, v2(tenant), tenant)
        assert entra.key_may_sign(V2_TEMPLATE, v1(tenant), tenant)


def test_concrete_key_signs_for_its_tenant_in_both_versions() -> None:
    assert entra.key_may_sign(v2(TENANT_A), v2(TENANT_A), TENANT_A)
    assert entra.key_may_sign(v2(TENANT_A), v1(TENANT_A), TENANT_A)
    assert entra.key_may_sign(v1(TENANT_A), v2(TENANT_A), TENANT_A)
    assert entra.key_may_sign(v1(TENANT_A), v1(TENANT_A), TENANT_A)
    # Tenant ids compare without regard to case.
    assert entra.key_may_sign(v2(TENANT_A.replace("1", "a")), v1(TENANT_A.replace("1", "A")), None)


def test_key_of_another_tenant_is_refused() -> None:
    assert not entra.key_may_sign(v2(TENANT_A), v2(TENANT_B), TENANT_B)
    assert not entra.key_may_sign(v2(TENANT_A), v1(TENANT_B), TENANT_B)
    assert not entra.key_may_sign(v1(TENANT_A), v2(TENANT_B), TENANT_B)


def test_consumer_key_never_signs_for_a_work_tenant() -> None:
    consumer_key = v2(CONSUMER)
    assert not entra.key_may_sign(consumer_key, v2(TENANT_A), TENANT_A)
    assert not entra.key_may_sign(consumer_key, v1(TENANT_A), TENANT_A)
    assert entra.key_may_sign(consumer_key, v2(CONSUMER), CONSUMER)


def test_template_key_needs_the_tid_to_be_the_iss_tenant() -> None:
    assert not entra.key_may_sign(V2_TEMPLATE, v2(TENANT_A), TENANT_B)
    assert not entra.key_may_sign(V2_TEMPLATE, v1(TENANT_A), TENANT_B)
    for tid in (None, 7, "", "common"):
        assert not entra.key_may_sign(V2_TEMPLATE, v2(TENANT_A), tid)


@pytest.mark.parametrize(
    ("key_issuer", "token_issuer"),
    [
        (V2_TEMPLATE, v2(TENANT_A, "login.partner.microsoftonline.cn")),
        (V2_TEMPLATE, v1(TENANT_A, "sts.chinacloudapi.cn")),
        (v2(TENANT_A, "login.partner.microsoftonline.cn"), v1(TENANT_A)),
        (v1(TENANT_A, "sts.chinacloudapi.cn"), v2(TENANT_A)),
        # Public and US Government share the v1 host but are two v2 issuers.
        (V2_TEMPLATE, v2(TENANT_A, "login.microsoftonline.us")),
        (v2(TENANT_A, "login.microsoftonline.us"), v2(TENANT_A)),
    ],
)
def test_key_of_another_cloud_is_refused(key_issuer: str, token_issuer: str) -> None:
    assert not entra.key_may_sign(key_issuer, token_issuer, TENANT_A)


def test_sovereign_clouds_pair_their_own_versions() -> None:
    china_v2 = "https://login.partner.microsoftonline.cn/{tenantid}/v2.0"
    assert entra.key_may_sign(china_v2, v1(TENANT_A, "sts.chinacloudapi.cn"), TENANT_A)
    us_v2 = "https://login.microsoftonline.us/{tenantid}/v2.0"
    assert entra.key_may_sign(us_v2, v2(TENANT_A, "login.microsoftonline.us"), TENANT_A)


def test_non_entra_key_issuer_must_be_exact() -> None:
    assert entra.key_may_sign("https://idp.example", "https://idp.example", None)
    assert not entra.key_may_sign("https://idp.example", "https://idp.example/", None)
    assert not entra.key_may_sign("https://idp.example/{tenantid}", "https://other.example/a", "a")
    assert not entra.key_may_sign("https://idp.example", v2(TENANT_A), TENANT_A)
    assert not entra.key_may_sign(V2_TEMPLATE, "https://idp.example", TENANT_A)


def test_version_helpers() -> None:
    assert entra.is_v1_issuer(v1(TENANT_A))
    assert entra.is_v1_issuer(v1(TENANT_A, "sts.chinacloudapi.cn"))
    assert not entra.is_v1_issuer(v2(TENANT_A))
    assert entra.is_v2_issuer(v2(TENANT_A))
    assert entra.is_v2_issuer(v2(TENANT_A, "login.microsoftonline.us"))
    assert not entra.is_v2_issuer(v1(TENANT_A))
    for other in ("https://idp.example", v1(TENANT_A).rstrip("/"), v2(TENANT_A) + "/"):
        assert not entra.is_v1_issuer(other)
        assert not entra.is_v2_issuer(other)
