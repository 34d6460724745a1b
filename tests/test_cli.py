"""The command line: ``explain`` and ``dev-token``, in-process with capsys, and once as a process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jwt_authorizer import devtoken
from jwt_authorizer.cli import clean_token
from support import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
ENV_FILE = EVENTS / "env.json"
DEV_JWKS = EVENTS / "dev-issuer" / "jwks.json"
NOW = 1767268800  # 2026-01-01T12:00:00Z
V1_APP = "v1_app_access_token_goride_a_2024"


def dev_token(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, "dev-token", "--now", str(NOW), *argv)
    assert code == 0, err
    assert out.endswith("\n") and out.count("\n") == 1
    return out.strip()


def decoded(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims; the signature is verified with the development key set when it is its kid."""
    header = jwt.get_unverified_header(token)
    if header["kid"] != "dev-2026":
        return header, jwt.decode(token, options={"verify_signature": False})
    key = jwt.PyJWKSet.from_json(DEV_JWKS.read_text(encoding="utf-8"))["dev-2026"].key
    options = {"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False}
    return header, jwt.decode(token, key, algorithms=[header["alg"]], options=options)


def explain(capsys: pytest.CaptureFixture[str], token: str, *argv: str) -> tuple[int, str, str]:
    code, out, err = run(capsys, "explain", token, "--env-file", str(ENV_FILE), "--now", str(NOW + 60), *argv)
    signature = token.rsplit(".", 1)[-1]
    if len(signature) > 16:
        assert token not in out + err and signature not in out + err
    return code, out, err


@pytest.fixture(autouse=True)
def no_function_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default configuration is the process environment: keep the developer's out of it."""
    for name in ("ISSUER", "ISSUERS", "ISSUERS_FILE", "AUDIENCE", "JWKS", "JWKS_FILE", "JWKS_URI", "DISCOVERY_URL"):
        monkeypatch.delenv(name, raising=False)


# ----- dev-token ------------------------------------------------------------------------------------


def test_dev_token_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    header, claims = decoded(dev_token(capsys))
    assert header == {"alg": "RS256", "kid": "dev-2026", "typ": "JWT"}
    assert claims["iss"] == "https://dev-issuer.jwt-authorizer.invalid"
    assert claims["aud"] == "api://jwt-authorizer-dev"
    assert claims["sub"] == "dev-user"
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (NOW, NOW, NOW + 3600)
    assert "scp" not in claims and "roles" not in claims and "tid" not in claims


def test_dev_token_flags(capsys: pytest.CaptureFixture[str]) -> None:
    token = dev_token(
        capsys,
        "--aud",
        "api://a,api://b",
        "--scp",
        "orders.read, orders.write",
        "--roles",
        "Orders.Admin,Orders.Audit",
        "--lifetime",
        "15m",
        "--claim",
        "ver=2.0",
        "--claim",
        "n=42",
        "--claim",
        'groups=["g1","g2"]',
        "--claim",
        "azp=",
        "--claim",
        "name=Dev User",
        "--tid",
        "11111111-1111-1111-1111-111111111111",
        "--sub",
        "someone",
    )
    _, claims = decoded(token)
    assert claims["aud"] == ["api://a", "api://b"]
    assert claims["scp"] == "orders.read orders.write"
    assert claims["roles"] == ["Orders.Admin", "Orders.Audit"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["ver"] == 2.0 and claims["n"] == 42 and claims["groups"] == ["g1", "g2"]
    assert claims["name"] == "Dev User" and "azp" not in claims
    assert claims["tid"] == "11111111-1111-1111-1111-111111111111"
    assert claims["sub"] == "someone"


def test_dev_token_expired_and_graph_like(capsys: pytest.CaptureFixture[str]) -> None:
    header, claims = decoded(dev_token(capsys, "--expired", "--nonce", "--lifetime", "3600"))
    assert claims["exp"] == NOW - 3600 and claims["iat"] == NOW - 7200
    assert isinstance(header["nonce"], str) and len(header["nonce"]) >= 32


def test_dev_token_with_another_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "other.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    token = dev_token(capsys, "--key", str(path), "--kid", "other-1")
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("ES256", "other-1")
    options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}
    jwt.decode(token, key.public_key(), algorithms=["ES256"], audience="api://jwt-authorizer-dev", options=options)


def test_dev_token_alg_iss_and_iso_now(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "dev-token", "--alg", "PS256", "--iss", "https://x.example", "--now", "2026-01-01T12:00:00Z"
    )
    assert code == 0, err
    header, claims = decoded(out.strip())
    assert header["alg"] == "PS256" and claims["iss"] == "https://x.example" and claims["iat"] == NOW


@pytest.mark.parametrize(
    "argv",
    [
        ["--lifetime", "soon"],
        ["--claim", "no-equals-sign"],
        ["--key", "/nonexistent/key.pem"],
        ["--now", "yesterday"],
        ["--now", "2026-01-01T12:00:00"],
    ],
)
def test_dev_token_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, "dev-token", *argv)
    assert code == 2 and out == "" and err.startswith("jwt-authorizer dev-token: ")


@pytest.mark.parametrize(
    ("now", "message"),
    [
        ("yesterday", "--now 'yesterday' is neither unix seconds nor an ISO 8601 date-time"),
        ("2026-01-01T12:00:00", "--now '2026-01-01T12:00:00' has no time zone; add Z or +00:00"),
    ],
)
def test_a_moment_without_a_zone_or_a_form_is_refused_by_name(
    capsys: pytest.CaptureFixture[str], now: str, message: str
) -> None:
    code, _, err = run(capsys, "dev-token", "--now", now)
    assert code == 2 and message in err


def test_dev_token_is_found_from_a_subfolder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "src")
    assert devtoken.find_events_dir() == EVENTS


# ----- explain ------------------------------------------------------------------------------------


def test_explain_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    token = dev_token(capsys, "--scp", "orders.read", "--roles", "Orders.Admin")
    code, out, err = explain(capsys, token)
    assert code == 0 and err == ""
    assert "Configuration from " in out and "(AuthorizerFunction)" in out
    assert "  ok    signature    RS256 signature verifies with key dev-2026" in out
    assert out.rstrip().splitlines()[-2].startswith("ACCEPTED: the function lets this token in as principalId dev-user")
    # The claims table: names padded to one width, values in one column.
    section = out[out.index("Claims\n") : out.index("(the signature is never shown)")]
    table = [line for line in section.splitlines()[1:] if line.strip()]
    assert len(table) == 9  # iss aud sub azp iat nbf exp scp roles
    assert len({line.index(line.split()[1], len(line.split()[0]) + 2) for line in table}) == 1
    assert "  scp    orders.read" in out and "  roles  Orders.Admin" in out
    assert "  exp    1767272400  2026-01-01 13:00:00 UTC, in 59 min" in out


def test_explain_refused_prints_the_reason_code_the_function_logs(capsys: pytest.CaptureFixture[str]) -> None:
    token = dev_token(capsys, "--aud", "https://graph.microsoft.com", "--scp", "User.Read")
    code, out, _ = explain(capsys, token)
    assert code == 1
    assert "  FAIL  audience     [graph_token] " in out
    assert "cause: this is a Microsoft Graph token" in out
    assert "fix:   the client asked for a Graph scope" in out
    assert "REFUSED, reason graph_token: the function answers 401 Unauthorized, and its log line says" in out
    assert '"unauthorized: graph_token" with reason=graph_token.' in out


def test_explain_reads_standard_input_and_strips_bearer(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = dev_token(capsys)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"  Bearer {token}\n"))
    code, out, _ = explain(capsys, "-")
    assert code == 0 and "ACCEPTED" in out


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("abc.def.ghi", "abc.def.ghi"),
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer   abc.def.ghi\n", "abc.def.ghi"),
        ('"Bearer abc.def.ghi"', "abc.def.ghi"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
    ],
)
def test_clean_token(raw: str, clean: str) -> None:
    assert clean_token(raw) == clean


def test_explain_uses_the_process_environment_by_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = json.loads(ENV_FILE.read_text(encoding="utf-8"))["AuthorizerFunction"]
    for name in ("ISSUER", "AUDIENCE", "JWKS"):
        monkeypatch.setenv(name, settings[name])
    token = dev_token(capsys)
    code, out, _ = run(capsys, "explain", token, "--now", str(NOW))
    assert code == 0 and "Configuration from the process environment" in out


def test_explain_flags_override_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    token = dev_token(capsys, "--aud", "api://other", "--iss", "https://other.example")
    code, out, _ = explain(capsys, token, "--issuer", "https://other.example", "--audience", "api://other")
    assert code == 0, out
    assert "with --issuer, --audience" in out
    # --jwks-file replaces the inline key set (a relative path is resolved from here).
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "x", "n": "AQAB", "e": "AQAB"}]}))
    code, out, err = explain(capsys, token, "--jwks-file", str(tmp_path / "keys.json"))
    assert code == 2 and "JWKS_FILE" in err
    code, out, _ = explain(capsys, dev_token(capsys), "--jwks-file", str(DEV_JWKS))
    assert code == 0 and f"JWKS file {DEV_JWKS}" in out


def test_explain_set_and_unset_variables(capsys: pytest.CaptureFixture[str]) -> None:
    token = dev_token(capsys, "--tid", "11111111-1111-1111-1111-111111111111")
    code, out, _ = explain(capsys, token, "--set", "ALLOWED_TENANTS=22222222-2222-2222-2222-222222222222")
    assert code == 1 and "[tenant_not_allowed]" in out
    assert "ALLOWED_TENANTS=22222222-2222-2222-2222-222222222222,11111111-1111-1111-1111-111111111111" in out
    code, out, _ = explain(capsys, token, "--set", "AUDIENCE=")
    assert code == 2


def test_explain_json(capsys: pytest.CaptureFixture[str]) -> None:
    token = dev_token(capsys, "--expired")
    code, out, _ = explain(capsys, token, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["verdict"] == "refused" and report["reason"] == "expired" and report["exit_code"] == 1
    assert report["claims"]["sub"] == "dev-user" and report["header"]["kid"] == "dev-2026"
    decisive = [check for check in report["checks"] if check["decisive"]]
    assert len(decisive) == 1 and decisive[0]["name"] == "lifetime" and decisive[0]["passed"] is False
    assert set(decisive[0]) == {"name", "status", "passed", "decisive", "reason", "summary", "cause", "fix"}
    assert report["configuration"]["source"].endswith("(AuthorizerFunction)")


def test_explain_with_a_broken_configuration_still_shows_the_claims(capsys: pytest.CaptureFixture[str]) -> None:
    token = dev_token(capsys)
    code, out, err = run(capsys, "explain", token)
    assert code == 2
    assert "  sub  dev-user" in out
    assert "ISSUER: no issuer is configured" in err and "fix: set the token issuer" in err
    code, out, _ = run(capsys, "explain", token, "--json")
    assert code == 2 and json.loads(out)["error"]["variable"] == "ISSUER"


@pytest.mark.parametrize(
    "argv",
    [
        ["--now", "soon"],
        ["--set", "NOEQUALS"],
        ["--env-file", "/nonexistent/env.json"],
        ["--env-file", str(ENV_FILE), "--function", "NoSuchFunction"],
    ],
)
def test_explain_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, "explain", "a.b.c", *argv)
    assert code == 2 and err.startswith("jwt-authorizer explain: ")


def test_explain_without_a_token(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("   \n"))
    code, _, err = run(capsys, "explain", "-", "--env-file", str(ENV_FILE))
    assert code == 2 and "no token given" in err


def test_explain_escapes_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    token = dev_token(capsys, "--claim", 'name="\\u001b[31mred\\u202e"')
    code, out, _ = explain(capsys, token)
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[31mred\\u202e" in out


def test_explain_malformed_token_collapses_the_skipped_checks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = explain(capsys, "Bearer not-a-token")
    assert code == 1
    assert "  skip  header..principal  not checked: the token cannot be decoded" in out
    assert "REFUSED, reason malformed_token" in out


def test_explain_real_token_at_its_moment(capsys: pytest.CaptureFixture[str], entra_fixtures: Path) -> None:
    raw = json.loads((entra_fixtures / "tokens" / f"{V1_APP}.json").read_text(encoding="utf-8"))
    jwks_file = str(entra_fixtures / raw["jwks_file"])
    issuer, audience = raw["expected"]["issuer"], raw["expected"]["audience"]
    argv = ["explain", raw["token"], "--issuer", issuer, "--audience", audience, "--jwks-file", jwks_file]
    code, out, _ = run(capsys, *argv, "--now", raw["frozen_time"]["iso"])
    assert code == 0 and "ACCEPTED" in out and raw["token"].split(".")[2] not in out
    code, out, _ = run(capsys, *argv, "--now", str(raw["claims"]["exp"] + 3 * 3600 + 12 * 60))
    assert code == 1 and "expired 3 h 12 min ago (11520 s)" in out


# ----- as a process -------------------------------------------------------------------------------


def test_python_dash_m_in_a_subprocess(capsys: pytest.CaptureFixture[str]) -> None:
    at = ["--now", str(NOW)]
    for flags, code, words in (([], 0, "ACCEPTED"), (["--expired"], 1, "REFUSED, reason expired")):
        token = dev_token(capsys, *flags)
        result = subprocess.run(
            [sys.executable, "-m", "jwt_authorizer", "explain", "-", "--env-file", "events/env.json", *at],
            input=f"Bearer {token}\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        assert result.returncode == code, result.stderr
        assert words in result.stdout
        assert token.split(".")[2] not in result.stdout + result.stderr


def test_console_script_is_declared() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["jwt-authorizer"] == "jwt_authorizer.cli:main"


def test_explain_survives_absurd_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    token = dev_token(capsys, "--claim", "exp=1" + "0" * 400, "--claim", "nbf=1e999")
    code, out, _ = explain(capsys, token)
    assert (code, "UNDECIDED, reason internal_error" in out) == (3, True) or "reason invalid_claim" in out
    assert "  nbf  1e999" in out and "(+241 chars)" in out


def test_explain_flags_and_an_issuers_list(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    settings = json.loads(ENV_FILE.read_text(encoding="utf-8"))["AuthorizerFunction"]
    entry = {"name": "dev", "issuer": settings["ISSUER"], "audience": "api://elsewhere", "jwks": settings["JWKS"]}
    monkeypatch.setenv("ISSUERS", json.dumps([entry]))
    token = dev_token(capsys)
    code, out, _ = run(capsys, "explain", token, "--now", str(NOW))
    assert code == 1 and "ISSUERS entry dev" in out
    assert "[wrong_audience]" in out and '"audience" of the ISSUERS entry dev' in out
    code, _, err = run(capsys, "explain", token, "--audience", "api://jwt-authorizer-dev")
    assert code == 2 and "an ISSUERS list ignores" in err
    # --issuer switches to a single issuer: the list is set aside.
    argv = [
        "--issuer",
        settings["ISSUER"],
        "--audience",
        "api://jwt-authorizer-dev",
        "--set",
        f"JWKS={settings['JWKS']}",
    ]
    code, out, _ = run(capsys, "explain", token, "--now", str(NOW), *argv)
    assert code == 0, out
