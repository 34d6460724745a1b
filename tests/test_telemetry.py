"""What the function writes to CloudWatch: EMF that follows the specification, lines an operator can use.

Every test runs the real handler (cold-started through tests/appload.py) on real API Gateway events
with tokens signed by PyJWT, against the loopback identity provider, and reads what it wrote to
stdout, which is what CloudWatch Logs receives.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from appload import OWN_VARIABLES, cold_start
from jwt_authorizer.exceptions import ConfigurationError
from jwt_authorizer.observability import ObservedKeyProvider, as_text, redact_text
from jwt_authorizer.timefmt import duration, instant
from jwt_authorizer.urls import redact_url
from support import (
    ACCOUNT,
    API_ID,
    IdentityProvider,
    KeyPair,
    LambdaContext,
    claims,
    http_v1_event,
    http_v2_event,
    jwks,
    rest_request_event,
    rest_token_event,
    rsa_pair,
    websocket_connect_event,
)
from support import log_lines_of as lines_of

# The shape of an EMF log line, after AWS's "Embedded metric format specification" (CloudWatch
# User Guide); the cross-references it also requires (every dimension and metric named in the
# metadata is a member of the line, of the right type) are checked by ``assert_emf`` below.
UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
    "Count/Second", "None",
]  # fmt: skip
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 1024},
                                        "Unit": {"enum": UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
DECISION_SETS = [["service"], ["service", "outcome"], ["service", "outcome", "reason"]]


def assert_emf(line: dict[str, Any]) -> None:
    jsonschema.validate(line, EMF_SCHEMA)
    for directive in line["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                value = line[name]
                assert isinstance(value, str) and 0 < len(value) <= 1024, (name, value)
        for metric in directive["Metrics"]:
            value = line[metric["Name"]]
            values = value if isinstance(value, list) else [value]
            assert 0 < len(values) <= 100
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values), metric


def decisions(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "outcome" in line]


def call(module: ModuleType, event: dict[str, Any], context: LambdaContext | None = None) -> str:
    """The handler's outcome as API Gateway sees it: allow/deny, 401 or 500."""
    try:
        response = module.lambda_handler(event, context or LambdaContext())
    except module.Unauthorized:
        return "401"
    except module.AuthorizerUnavailable:
        return "500"
    if "isAuthorized" in response:
        return "allow" if response["isAuthorized"] else "deny"
    return str(response["policyDocument"]["Statement"][0]["Effect"]).lower()


@pytest.fixture
def app(load_app: Callable[..., ModuleType]) -> Callable[..., ModuleType]:
    return load_app


# ----- EMF ------------------------------------------------------------------------------------------


def test_every_line_is_emf_and_decisions_publish_three_dimension_sets(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = {"rules": [{"method": "GET", "path": "/orders/{id}", "require": {"scope": "orders.read"}}]}
    module = app(ROUTE_RULES=json.dumps(rules), POWERTOOLS_METRICS_NAMESPACE="Orders/Auth")
    capsys.readouterr()
    reader = signer.sign(claims(idp.issuer, scp="orders.read"))
    assert call(module, rest_token_event(reader)) == "allow"
    call(module, rest_token_event(reader, method="DELETE"))  # a policy without this route (403)
    assert call(module, rest_token_event(signer.sign(claims(idp.issuer, audience="x")))) == "401"
    lines = lines_of(capsys.readouterr().out)
    for line in lines:
        assert_emf(line)
        assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Orders/Auth"
    found = decisions(lines)
    assert [(d["outcome"], d["reason"]) for d in found] == [
        ("allow", "granted"),
        ("deny", "route_not_permitted"),
        ("unauthorized", "wrong_audience"),
    ]
    for line in found:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == DECISION_SETS
        assert directive["Metrics"] == [{"Name": "Decisions", "Unit": "Count"}]
        assert line["Decisions"] == 1
        assert abs(line["_aws"]["Timestamp"] / 1000 - time.time()) < 3600


def test_cold_start_is_its_own_blob_once_per_container(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    token = signer.sign(claims(idp.issuer))
    context = LambdaContext(function_name="orders-authorizer")
    for _container in range(2):
        module = app()
        for _ in range(3):
            call(module, rest_token_event(token), context)
        lines = lines_of(capsys.readouterr().out)
        cold = [line for line in lines if "ColdStart" in line]
        assert len(cold) == 1
        (blob,) = cold
        assert_emf(blob)
        assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function_name", "service"]]
        assert (blob["function_name"], blob["service"], blob["ColdStart"]) == ("orders-authorizer", "jwt-authorizer", 1)
        assert "outcome" not in blob  # not riding on a decision
        assert lines.index(blob) < lines.index(decisions(lines)[0])
        assert [d["cold_start"] for d in decisions(lines)] == [True, False, False]
        assert not any("ColdStart" in d for d in decisions(lines))


# ----- key-cache metrics, only when something happens ------------------------------------------------


def test_pinned_keys_fetch_nothing_and_publish_no_fetch(
    signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"ISSUER": idp.issuer, "AUDIENCE": "api://test", "JWKS": json.dumps(jwks(signer)), "JWKS_PREFETCH": "true"}
    module = cold_start(env)
    for _ in range(3):
        assert call(module, rest_token_event(signer.sign(claims(idp.issuer)))) == "allow"
    out = capsys.readouterr().out
    assert "KeyFetches" not in out and "key_event" not in out


def test_a_remote_key_fetch_is_one_line_when_it_happens(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app()
    capsys.readouterr()
    for _ in range(3):
        assert call(module, rest_token_event(signer.sign(claims(idp.issuer)))) == "allow"
    lines = lines_of(capsys.readouterr().out)
    fetches = [line for line in lines if "KeyFetches" in line]
    assert len(fetches) == 1 and idp.jwks_fetches == 1
    (fetch,) = fetches
    assert_emf(fetch)
    assert fetch["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert (fetch["level"], fetch["key_event"], fetch["issuer"]) == ("INFO", "fetch", idp.issuer)
    assert fetch["source"] == idp.jwks_uri
    assert not any("KeyFetches" in d for d in decisions(lines))


def test_an_unknown_kid_publishes_the_refetch_and_the_penalty_window(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app()
    assert call(module, rest_token_event(signer.sign(claims(idp.issuer)))) == "allow"
    capsys.readouterr()
    stranger = rsa_pair("not-published", slot=1)
    for _ in range(3):
        assert call(module, rest_token_event(stranger.sign(claims(idp.issuer)))) == "401"
    lines = lines_of(capsys.readouterr().out)
    assert [line.get("key_event") for line in lines if "key_event" in line] == ["fetch", "penalty_opened"]
    penalty = next(line for line in lines if line.get("key_event") == "penalty_opened")
    assert penalty["UnknownKidPenalties"] == 1
    assert [d["reason"] for d in decisions(lines)] == ["unknown_key"] * 3


def test_any_failure_of_a_key_source_is_a_failure_line_for_the_alarm(
    app: Callable[..., ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    """Not only FetchError: whatever a provider raises, the cache answers 500, so the metric counts it."""
    module = app()

    class Broken:
        def load(self) -> Any:
            raise TypeError("a message that quotes https://svc:hunter2@keys.example/jwks")

        def describe(self) -> str:
            return "https://keys.example/jwks"

    capsys.readouterr()
    with pytest.raises(TypeError):
        ObservedKeyProvider(Broken(), module.OBSERVABILITY, "main").load()  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "hunter2" not in out
    (failure,) = [line for line in lines_of(out) if line.get("key_event") == "fetch_failed"]
    assert failure["KeyFetchFailures"] == 1 and failure["issuer"] == "main"
    assert failure["error"] == "TypeError while loading https://keys.example/jwks"


def test_a_failing_key_source_logs_why_without_its_credentials(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_uri = idp.base.replace("http://", "http://svc:hunter2@") + "/missing-keys?sig=s3cr3t#frag"
    module = app(JWKS_URI=secret_uri)
    capsys.readouterr()
    assert call(module, rest_token_event(signer.sign(claims(idp.issuer)))) == "500"
    out = capsys.readouterr().out
    assert "hunter2" not in out and "s3cr3t" not in out and "svc:" not in out
    lines = lines_of(out)
    (failure,) = [line for line in lines if line.get("key_event") == "fetch_failed"]
    assert_emf(failure)
    assert failure["level"] == "WARNING" and failure["KeyFetchFailures"] == 1
    assert failure["source"] == idp.base.replace("http://", "http://***@") + "/missing-keys?***"
    assert "HTTP 404" in failure["error"]
    (decision,) = decisions(lines)
    assert (decision["outcome"], decision["reason"], decision["level"]) == ("error", "key_source_unavailable", "ERROR")


def test_skipped_keys_are_counted_and_explained(
    app: Callable[..., ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    module = app()
    capsys.readouterr()
    # The key cache's listener, as the cache calls it for a key it cannot use.
    module.OBSERVABILITY.cache_event(
        "key_skipped", kid="enc-1", reason="use is enc", source="https://a:b@idp.example/keys?token=t0ps3cret"
    )
    (line,) = lines_of(capsys.readouterr().out)
    assert_emf(line)
    assert (line["key_event"], line["kid"], line["reason"], line["SkippedKeys"]) == (
        "key_skipped",
        "enc-1",
        "use is enc",
        1,
    )
    assert line["source"] == "https://***@idp.example/keys?***"


def test_stale_keys_served_ride_on_the_decision_they_served(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app()
    token = signer.sign(claims(idp.issuer))
    call(module, rest_token_event(token))
    capsys.readouterr()
    module.OBSERVABILITY.cache_event("stale_served")  # what the cache reports during the next decision
    call(module, rest_token_event(token))
    call(module, rest_token_event(token))
    served, after = lines_of(capsys.readouterr().out)
    assert_emf(served)
    assert [d["Dimensions"] for d in served["_aws"]["CloudWatchMetrics"]] == [DECISION_SETS, [["service"]]]
    assert served["StaleKeysServed"] == 1
    assert "StaleKeysServed" not in after and len(after["_aws"]["CloudWatchMetrics"]) == 1


# ----- configuration errors at cold start -----------------------------------------------------------


def test_a_defect_in_the_configuration_loader_still_writes_the_line_and_the_metric(idp: IdentityProvider) -> None:
    """No setting is known to raise anything but ConfigurationError; one that did, by a defect, must
    still reach the configuration-error alarm. The defect is simulated in a real cold start."""
    probe = (
        "import jwt_authorizer.config as config\n"
        "def defect(*args, **kwargs):\n"
        "    raise TypeError('unhashable type: list')\n"
        "config.load_settings = defect\n"
        "import jwt_authorizer.app\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in OWN_VARIABLES}
    env = {**clean, "ISSUER": idp.issuer, "AUDIENCE": "api://test", "POWERTOOLS_TRACE_DISABLED": "true"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    assert done.returncode != 0 and "TypeError: unhashable type: list" in done.stderr
    (line,) = lines_of(done.stdout)
    assert (line["reason"], line["variable"], line["ConfigurationErrors"]) == (
        "configuration_error",
        "configuration",
        1,
    )
    assert "TypeError" in line["detail"]


@pytest.mark.parametrize("size", ["inf", "nan", "1e400", "-1"])
def test_a_byte_count_no_number_can_hold_is_a_configuration_error_not_a_crash(
    idp: IdentityProvider, capsys: pytest.CaptureFixture[str], size: str
) -> None:
    """The early key fetch reads HTTP_MAX_BYTES before the loader does: it must leave the refusal to it."""
    env = {"ISSUER": idp.issuer, "AUDIENCE": "api://test", "JWKS_URI": idp.jwks_uri, "HTTP_MAX_BYTES": size}
    with pytest.raises(ConfigurationError) as info:
        cold_start(env)
    assert info.value.variable == "HTTP_MAX_BYTES"
    (line,) = lines_of(capsys.readouterr().out)
    assert (line["reason"], line["variable"], line["ConfigurationErrors"]) == (
        "configuration_error",
        "HTTP_MAX_BYTES",
        1,
    )


def test_a_refused_setting_writes_one_line_and_a_metric_before_the_import_fails(
    idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "ISSUER": idp.issuer,
        "AUDIENCE": "api://test",
        "JWKS_URI": "ftp://deploy:pa55word@keys.example/jwks.json",
        "POWERTOOLS_SERVICE_NAME": "orders-auth",
        "POWERTOOLS_METRICS_NAMESPACE": "JwtAuthorizer/orders-auth",
    }
    with pytest.raises(ConfigurationError) as info:
        cold_start(env)
    assert info.value.variable == "JWKS_URI"
    out = capsys.readouterr().out
    assert "pa55word" not in out
    (line,) = lines_of(out)
    assert_emf(line)
    assert (line["level"], line["reason"], line["variable"]) == ("ERROR", "configuration_error", "JWKS_URI")
    assert line["message"] == "configuration_error: JWKS_URI"
    assert "ftp://***@keys.example/jwks.json" in line["detail"] and line["fix"]
    assert (line["service"], line["ConfigurationErrors"]) == ("orders-auth", 1)
    assert line["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": "JwtAuthorizer/orders-auth",
            "Dimensions": [["service"]],
            "Metrics": [{"Name": "ConfigurationErrors", "Unit": "Count"}],
        }
    ]
    assert TIMESTAMP.fullmatch(line["timestamp"])


# ----- decision lines -------------------------------------------------------------------------------


SOURCES: dict[str, tuple[Callable[[str], dict[str, Any]], str, str | None]] = {
    "rest-token": (rest_token_event, "prod", None),  # a TOKEN event has only the methodArn
    "rest-request": (lambda t: rest_request_event({"Authorization": f"Bearer {t}"}), "prod", "r-1"),
    "http-v1": (http_v1_event, "$default", "r-1"),
    "http-v2": (http_v2_event, "$default", "r-2"),
    "websocket": (websocket_connect_event, "prod", "r-3"),  # account id from the methodArn
}


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_decision_lines_say_where_the_request_came_from(
    app: Callable[..., ModuleType],
    signer: KeyPair,
    idp: IdentityProvider,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    make, stage, request_id = SOURCES[kind]
    module = app()
    good = signer.sign(claims(idp.issuer))
    expired = signer.sign(claims(idp.issuer, exp=int(time.time()) - 3600))
    capsys.readouterr()
    assert call(module, make(good)) == "allow"
    assert call(module, make(expired)) == "401"
    for line in decisions(lines_of(capsys.readouterr().out)):
        assert (line["api_id"], line["stage"], line["account_id"]) == (API_ID, stage, ACCOUNT)
        assert line.get("apigw_request_id") == request_id


def test_where_a_request_came_from_is_worked_out_once_per_stage_not_per_path(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app()
    token = signer.sign(claims(idp.issuer))
    capsys.readouterr()
    for n in range(5):
        assert call(module, rest_token_event(token, path=f"orders/{n}")) == "allow"
    assert call(module, rest_token_event(token, path="orders/1", stage="test")) == "allow"
    lines = decisions(lines_of(capsys.readouterr().out))
    assert [(line["api_id"], line["stage"]) for line in lines] == [(API_ID, "prod")] * 5 + [(API_ID, "test")]
    assert len(module.OBSERVABILITY._stages) == 2


def test_the_xray_trace_of_each_invocation_is_on_its_line(
    app: Callable[..., ModuleType],
    signer: KeyPair,
    idp: IdentityProvider,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = app()
    token = signer.sign(claims(idp.issuer))
    capsys.readouterr()
    # Lambda's runtime sets the variable in os.environ for each invocation.
    for root in ("1-5759e988-bd862e3fe1be46a994272793", "1-5759e988-00000000000000000000000a"):
        monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1")
        call(module, rest_token_event(token))
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    call(module, rest_token_event(token))
    lines = decisions(lines_of(capsys.readouterr().out))
    assert [line.get("xray_trace_id") for line in lines] == [
        "1-5759e988-bd862e3fe1be46a994272793",
        "1-5759e988-00000000000000000000000a",
        None,
    ]


def test_without_a_readable_arn_the_request_context_names_the_api(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app()
    event = rest_request_event({"Authorization": f"Bearer {signer.sign(claims(idp.issuer))}"})
    event["methodArn"] = "not-an-arn"
    capsys.readouterr()
    call(module, event)
    (line,) = decisions(lines_of(capsys.readouterr().out))
    assert (line["api_id"], line["stage"], line["account_id"], line["apigw_request_id"]) == (
        API_ID,
        "prod",
        ACCOUNT,
        "r-1",
    )


def test_actual_and_expected_are_always_strings(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app(ALLOWED_TENANTS="11111111-1111-1111-1111-111111111111")
    now = int(time.time())
    refused = [
        claims(idp.issuer, tid="11111111-1111-1111-1111-111111111111", exp=now - 7200),  # actual: int
        claims(idp.issuer, tid="11111111-1111-1111-1111-111111111111", audience=["a", "b"]),  # lists
        claims(idp.issuer, tid="22222222-2222-2222-2222-222222222222"),  # expected: a list
    ]
    capsys.readouterr()
    for body in refused:
        assert call(module, rest_token_event(signer.sign(body))) == "401"
    lines = decisions(lines_of(capsys.readouterr().out))
    assert [line["reason"] for line in lines] == ["expired", "wrong_audience", "tenant_not_allowed"]
    for line in lines:
        assert isinstance(line["actual"], str) and isinstance(line["expected"], str), line
    assert lines[0]["actual"] == str(now - 7200)
    assert (lines[1]["actual"], lines[1]["expected"]) == ("a, b", "api://test")
    assert lines[2]["expected"] == "11111111-1111-1111-1111-111111111111"


def test_durations_in_details_are_readable(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app()
    now = int(time.time())
    exp = now - 3 * 86400 - 30
    nbf = now + 2 * 3600 + 5 * 60 + 20
    capsys.readouterr()
    for body in (claims(idp.issuer, exp=exp), claims(idp.issuer, nbf=nbf, exp=nbf + 600)):
        assert call(module, rest_token_event(signer.sign(body))) == "401"
    expired, early = decisions(lines_of(capsys.readouterr().out))
    assert expired["detail"] == f"the token expired 3 days ago, at {instant(exp)}"
    assert early["detail"] == f"the token is not valid for another 2 hours 5 minutes, until {instant(nbf)}"


def test_one_timestamp_format_on_every_line_powertools_logger_included(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app()
    call(module, rest_token_event(signer.sign(claims(idp.issuer))))
    call(module, rest_token_event("not.a.token"))
    module.OBSERVABILITY.logger.warning("probe from the function's own Powertools Logger")
    lines = lines_of(capsys.readouterr().out)
    assert any(line.get("message") == "probe from the function's own Powertools Logger" for line in lines)
    assert len(lines) >= 4  # key fetch, cold start, two decisions, the logger's line
    for line in lines:
        assert TIMESTAMP.fullmatch(line["timestamp"]), line


def test_a_level_that_hides_the_lines_keeps_their_metrics(
    app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    module = app(POWERTOOLS_LOG_LEVEL="ERROR")
    capsys.readouterr()
    call(module, rest_token_event(signer.sign(claims(idp.issuer))))
    lines = lines_of(capsys.readouterr().out)
    for line in lines:
        assert_emf(line)
        assert "level" not in line and "sub" not in line and TIMESTAMP.fullmatch(line["timestamp"])
    assert {name for line in lines for name in ("ColdStart", "KeyFetches", "Decisions") if name in line} == {
        "ColdStart",
        "KeyFetches",
        "Decisions",
    }


# ----- the helpers ----------------------------------------------------------------------------------


def test_durations() -> None:
    assert [duration(s) for s in (0, 1, 59, 60, 95, 3600, 7500, 86400, 3 * 86400 + 4 * 3600 + 5)] == [
        "0 seconds",
        "1 second",
        "59 seconds",
        "1 minute",
        "1 minute 35 seconds",
        "1 hour",
        "2 hours 5 minutes",
        "1 day",
        "3 days 4 hours",
    ]
    assert duration(-95) == "1 minute 35 seconds"
    assert duration(1e300) == duration(float("nan")) == "more than 100 years"


def test_instants() -> None:
    assert instant(1795860000) == "2026-11-28T10:00:00Z"
    assert instant(1e300) == "1e+300"


def test_redaction() -> None:
    assert redact_url("https://user:pw@idp.example:8443/keys?sig=1#x") == "https://***@idp.example:8443/keys?***"
    assert redact_url("http://[::1]:8080/k") == "http://[::1]:8080/k"
    assert redact_url("http://[bad") == "<an unparsable URL>"
    assert (
        redact_text("GET http://u:p@[::1]:8080/k?sig=1 answered HTTP 404")
        == "GET http://***@[::1]:8080/k?*** answered HTTP 404"
    )
    assert redact_text("names issuer 'x', not the configured ['https://i.example/?a=1']") == (
        "names issuer 'x', not the configured ['https://i.example/?***']"
    )
    text = "GET https://u:p@a.example/x?y=1 failed; discovery at http://b.example/d?k=v"
    assert redact_text(text) == "GET https://***@a.example/x?*** failed; discovery at http://b.example/d?***"
    assert redact_text("x" * 600).endswith("...") and len(redact_text("x" * 600)) == 515


def test_as_text() -> None:
    assert [as_text(v) for v in ("a", 1, 1.5, True, None, ["a", 2], ("x",), {"k": [1]})] == [
        "a",
        "1",
        "1.5",
        "true",
        "null",
        "a, 2",
        "x",
        '{"k":[1]}',
    ]
