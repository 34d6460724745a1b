"""Tracing is optional: the function imports and decides without aws-xray-sdk or with tracing off."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from jwt_authorizer.observability import tracing_enabled


def test_tracing_is_off_outside_lambda_or_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    assert tracing_enabled() is False
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "f")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert tracing_enabled() is False


@pytest.mark.skipif(importlib.util.find_spec("aws_xray_sdk") is not None, reason="aws-xray-sdk is installed here")
def test_in_lambda_without_the_xray_sdk_the_function_still_runs() -> None:
    probe = (
        "import json, os\n"
        "env = json.load(open('events/env.json'))['AuthorizerFunction']\n"
        "os.environ.update(env, AWS_LAMBDA_FUNCTION_NAME='jwt-authorizer')\n"
        "os.environ.pop('POWERTOOLS_TRACE_DISABLED', None)\n"
        "from jwt_authorizer.observability import tracing_enabled\n"
        "assert tracing_enabled() is False\n"
        "import jwt_authorizer.app as app\n"
        "class C: function_name='f'; memory_limit_in_mb=128; invoked_function_arn='a'; aws_request_id='r'\n"
        "response = app.lambda_handler(json.load(open('events/rest-token-allow.json')), C())\n"
        "print(response['policyDocument']['Statement'][0]['Effect'])\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip().splitlines()[-1] == "Allow"
