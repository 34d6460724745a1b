"""Odd configuration and odd command lines: an answer that names the problem, never a traceback.

Each case here was found by a review that fed the configuration loader and the command line values
nobody types on purpose (names too long for the file system, a NUL, bytes that are not UTF-8, YAML
dates, durations of a thousand digits) and saw an exception other than the one the contract names:
``ConfigurationError`` at cold start (which writes a structured line and a metric), an exit code
and a message from the tools.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import ConfigurationError
from support import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / "events" / "env.json"
BASE = {"ISSUER": "https://issuer.example", "AUDIENCE": "api://x", "JWKS_PREFETCH": "false"}
RULES = {"rules": [{"method": "GET", "path": "/a", "require": "authenticated"}]}


def issuers_with(**entry: Any) -> dict[str, str]:
    return {"ISSUERS": json.dumps([{"issuer": "https://a.example", "audience": "a", **entry}])}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"JWKS_FILE": "x" * 300}, "JWKS_FILE"),
        ({"JWKS_FILE": "keys\u0000.json"}, "JWKS_FILE"),
        ({"JWKS_FILE": "keys\udcff.json"}, "JWKS_FILE"),
        ({"ROUTE_RULES_FILE": "x" * 300}, "ROUTE_RULES_FILE"),
        ({"ROUTE_RULES_FILE": "rules\u0000.json"}, "ROUTE_RULES_FILE"),
        ({"ISSUERS_FILE": "x" * 300, "ISSUER": ""}, "ISSUERS_FILE"),
        ({**issuers_with(jwks_file="\u0000"), "ISSUER": ""}, "JWKS_FILE"),
        ({**issuers_with(jwks_file="\ud800"), "ISSUER": ""}, "JWKS_FILE"),
        ({"REVOCATION_S3_BUCKET": "my-bucket", "REVOCATION_S3_KEY": "\udcff"}, "REVOCATION_S3_KEY"),
    ],
)
def test_file_names_and_keys_that_cannot_be_used_are_configuration_errors(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({**BASE, **env})
    assert variable in info.value.variable
    assert info.value.fix


@pytest.mark.parametrize(
    "yaml_text",
    [
        "{1: 2, a: 3}",
        "rules: [{1: x, foo: y, path: /a, require: authenticated}]",
        "rules: [{path: /a, require: {1: x, foo: y}}]",
        "rules: [{path: /a, require: 2020-01-01}]",
        "rules: [{path: /a, require: {anyOf: [2020-01-01]}}]",
        "rules: [{path: /a, require: {scope: .nan}}]",
        "rules: []\n1: x\nyes: 2\n",  # two keys that are not strings, and one Python key at that
    ],
)
def test_yaml_rules_hold_what_json_can_or_are_refused(tmp_path: Path, yaml_text: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_settings({**BASE, "ROUTE_RULES_FILE": str(rules)})
    assert info.value.variable == "ROUTE_RULES_FILE"


@pytest.mark.parametrize(
    ("env", "secret"),
    [
        ({"ISSUER": "https://h.example/?a=1,S3CR3T"}, "S3CR3T"),
        ({"ISSUER": "", **issuers_with(issuer="https://h.example/?a=1,S3CR3T")}, "S3CR3T"),
        (
            {"REVOCATION_S3_BUCKET": "https://b.s3.amazonaws.com/k?X-Amz-Signature=S3CR3T", "REVOCATION_S3_KEY": "k"},
            "S3CR3T",
        ),
        ({"REVOCATION_S3_BUCKET": "https://u:S3CR3T@h/p", "REVOCATION_S3_KEY": "k"}, "S3CR3T"),
    ],
)
def test_configuration_errors_do_not_repeat_what_may_be_a_credential(env: dict[str, str], secret: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({**BASE, **env})
    assert secret not in str(info.value)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--id", "x" * 200], "longer than"),
        (["--id", " "], "id"),
        (["--reason", "x" * 501], "longer than"),
        (["--comment", "x" * 501], "longer than"),
        (["--issuer", " "], "issuer"),
        (["--by", "x" * 300], "longer than"),
        (["--reason", "\udcff"], "refuse this list"),
        (["--expires", "9" * 400 + "d"], "after the year 9999"),
        (["--expires", "99999999999d"], "after the year 9999"),
        (["--expires", "9" * 5000], "9999"),
    ],
)
def test_revoke_add_never_writes_a_list_the_function_would_refuse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], problem: str
) -> None:
    """The function keeps its last good list when a new one is invalid, and with none it answers 500:
    one typo in an edit must not produce such a list."""
    path = tmp_path / "revocations.json"
    argv = ["revoke", "add", "--list", str(path), "--subject", "alice", "--reason", "stolen laptop"]
    code, _, err = run(capsys, *argv, *extra)
    assert code == 2, err
    assert problem in err
    assert not path.exists()


def test_revoke_add_where_nothing_can_be_written_is_an_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "revocations.json"
    code, _, err = run(capsys, "revoke", "add", "--list", str(missing), "--subject", "a", "--reason", "r")
    assert code == 3 and "cannot write" in err


def test_revoke_with_an_unknown_aws_profile_is_an_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("boto3")
    code, _, err = run(capsys, "revoke", "list", "--list", "s3://bucket/key", "--profile", "no-such-profile-here")
    assert code == 2 and "no-such-profile-here" in err


@pytest.mark.parametrize("now", ["nan", "inf", "1e400", "9" * 400])
def test_a_moment_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str], now: str) -> None:
    for command in (["dev-token"], ["explain", "a.b.c", "--env-file", str(ENV_FILE)]):
        code, _, err = run(capsys, *command, "--now", now)
        assert code == 2 and "between 1970 and the year 9999" in err, err


def test_deeply_nested_json_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000, encoding="utf-8")
    code, _, err = run(capsys, "explain", "a.b.c", "--env-file", str(deep))
    assert code == 2 and "is not JSON" in err
    code, out, _ = run(capsys, "dev-token", "--claim", "x=" + "[" * 100_000)
    assert code == 0 and out.count(".") == 2  # not JSON, so the claim is that text


@pytest.mark.parametrize("alg", ["HS256", "none", "XX", "ES256"])
def test_dev_token_with_an_algorithm_it_cannot_sign_with(capsys: pytest.CaptureFixture[str], alg: str) -> None:
    code, out, err = run(capsys, "dev-token", "--alg", alg)
    assert code == 2 and out == "" and "--alg" in err


def test_dev_token_with_an_absurd_lifetime(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "dev-token", "--lifetime", "9" * 5000)
    assert code == 2 and "longer than a century" in err


@pytest.mark.parametrize("content", [b"x" * (512 * 1024 + 1), b"\xff" * (512 * 1024 + 1)])
def test_a_rules_file_too_large_says_so_before_anything_else(tmp_path: Path, content: bytes) -> None:
    """Measured before decoding: an oversized file is "too large", even when it is not UTF-8 either."""
    rules = tmp_path / "rules.json"
    rules.write_bytes(content)
    with pytest.raises(ConfigurationError) as info:
        load_settings({**BASE, "ROUTE_RULES_FILE": str(rules)})
    assert info.value.variable == "ROUTE_RULES_FILE" and "is larger than 524288 bytes" in str(info.value)
