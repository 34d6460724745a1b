"""Tracing is optional: a key-fetch subsegment with aws-xray-sdk, and the same decisions without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jwt_authorizer.observability import tracing_enabled

ROOT = Path(__file__).resolve().parents[1]
IN_LAMBDA = {
    "AWS_LAMBDA_FUNCTION_NAME": "jwt-authorizer",
    "LAMBDA_TASK_ROOT": str(ROOT),
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
}
CALL = (
    "class C: function_name='f'; memory_limit_in_mb=128; invoked_function_arn='a'; aws_request_id='r'\n"
    "response = app.lambda_handler(json.load(open('events/rest-token-allow.json')), C())\n"
    "print(json.dumps({'effect': response['policyDocument']['Statement'][0]['Effect'], 'sent': sent}))\n"
)


def run_in_lambda(prelude: str) -> dict[str, object]:
    env = {k: v for k, v in json.loads((ROOT / "events" / "env.json").read_text())["AuthorizerFunction"].items()}
    probe = (
        "import json, os, sys\n"
        f"os.environ.update({json.dumps({**env, **IN_LAMBDA})})\n"
        "os.environ.pop('POWERTOOLS_TRACE_DISABLED', None)\n"
        "sent = []\n" + prelude + "import jwt_authorizer.app as app\n" + CALL
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_tracing_is_off_outside_lambda_or_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    assert tracing_enabled() is False
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "f")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert tracing_enabled() is False


def test_in_lambda_the_key_fetch_is_its_own_subsegment() -> None:
    pytest.importorskip("aws_xray_sdk")
    capture = (
        "from aws_xray_sdk.core import xray_recorder\n"
        "class Capture:\n"
        "    ip, port = '127.0.0.1', 2000\n"
        "    def send_entity(self, entity): sent.append(entity.to_dict())\n"
        "    def set_daemon_address(self, address): pass\n"
        "xray_recorder.configure(emitter=Capture(), sampling=False)\n"
    )
    result = run_in_lambda(capture)
    assert result["effect"] == "Allow"
    fetches = [e for e in result["sent"] if e["name"] == "## jwks_fetch"]  # type: ignore[union-attr,index]
    assert len(fetches) == 1
    assert fetches[0]["annotations"]["key_source"] == "inline JWKS"


def test_in_lambda_without_the_xray_sdk_the_function_still_runs() -> None:
    result = run_in_lambda("sys.modules['aws_xray_sdk'] = None  # as if it were not installed\n")
    assert result == {"effect": "Allow", "sent": []}
