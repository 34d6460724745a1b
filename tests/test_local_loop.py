"""The local loop of the README: events/ with events/env.json, `make invoke`, and the built package."""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from appload import cold_start
from support import LambdaContext, promised_outcome

ROOT = Path(__file__).resolve().parents[1]
EVENTS = sorted(p for p in (ROOT / "events").glob("*.json") if p.name != "env.json")
ENV = {k: str(v) for k, v in json.loads((ROOT / "events" / "env.json").read_text())["AuthorizerFunction"].items()}


@pytest.mark.parametrize("event_file", EVENTS, ids=lambda p: p.stem)
def test_every_sample_event_gets_the_answer_its_name_promises(event_file: Path) -> None:
    module = cold_start(ENV)
    event: dict[str, Any] = json.loads(event_file.read_text())
    if promised_outcome(event_file.stem) == "401":
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            module.lambda_handler(event, LambdaContext())
        return
    response = module.lambda_handler(event, LambdaContext())
    if "isAuthorized" in response:
        assert response["isAuthorized"] is True
    else:
        assert response["principalId"] == "dev-user"
        statement = response["policyDocument"]["Statement"]
        assert [s["Effect"] for s in statement] == ["Allow"]
        assert statement[0]["Resource"][0].endswith("/*/*") or statement[0]["Resource"][0].endswith("/prod/*")


def test_make_invoke_prints_allow_and_401() -> None:
    script = [sys.executable, "scripts/invoke.py", "--env-file", "events/env.json"]
    allow = subprocess.run(
        [*script, "--event", "events/rest-token-allow.json"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    policy = json.loads(allow.stdout)
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert "passes the request on" in allow.stderr
    expired = subprocess.run(
        [*script, "--event", "events/rest-token-expired.json"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(expired.stdout)["errorMessage"] == "Unauthorized"
    assert "answers 401" in expired.stderr


def lambda_python() -> str | None:
    """The CPython of the Lambda runtime (3.13) as build.mk finds it, or None."""
    found = subprocess.run(["make", "-s", "lambda-python"], cwd=ROOT, capture_output=True, text=True, check=False)
    if found.returncode != 0:
        return None
    return found.stdout.strip() or None


@pytest.mark.slow
def test_built_package_runs_on_its_own(tmp_path: Path) -> None:
    """build.mk's SAM target, for this machine's architecture, yields a complete package.

    It is the real artifact (the locked, hash-checked Python 3.13 wheels, byte-compiled), run by
    CPython 3.13 in isolated mode with nothing but the package on its path.
    """
    runtime = lambda_python()
    if runtime is None:
        pytest.skip("no CPython 3.13 here (python3.13 or pyenv): the package cannot run outside Lambda")
    arch = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    artifacts = tmp_path / "artifact"
    artifacts.mkdir()
    build = subprocess.run(
        ["make", "-s", "build-AuthorizerFunction", f"ARTIFACTS_DIR={artifacts}", f"ARCH={arch}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if build.returncode != 0 and "No matching distribution" in build.stderr + build.stdout:
        pytest.skip(f"package index unreachable: {build.stderr[-300:]}")
    assert build.returncode == 0, build.stderr[-2000:]
    assert (artifacts / "jwt_authorizer" / "app.py").is_file()
    assert not (artifacts / "events").exists(), "the development key must not be packaged"
    assert not (artifacts / "bin").exists()
    bytecode = {p.name for p in (artifacts / "jwt_authorizer" / "__pycache__").glob("*.pyc")}
    assert "app.cpython-313.pyc" in bytecode, sorted(bytecode)
    probe = (
        "import json, sys\n"
        "sys.path[:0] = [sys.argv[1]]\n"
        "import jwt_authorizer.app as app\n"
        "assert app.__file__.startswith(sys.argv[1]), app.__file__\n"
        "import jwt, cryptography, urllib3, aws_lambda_powertools\n"
        "for m in (jwt, cryptography, urllib3, aws_lambda_powertools):\n"
        "    assert m.__file__.startswith(sys.argv[1]), m.__file__\n"
        "class C: function_name='f'; memory_limit_in_mb=128; invoked_function_arn='arn'; aws_request_id='r'\n"
        "event = json.load(open(sys.argv[2]))\n"
        "print(json.dumps(app.lambda_handler(event, C())))\n"
    )
    env = {**ENV, "PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "true"}
    run = subprocess.run(
        [runtime, "-S", "-I", "-c", probe, str(artifacts), str(ROOT / "events" / "rest-token-allow.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    response = json.loads(run.stdout.strip().splitlines()[-1])
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_make_help_lists_every_target_with_its_description() -> None:
    listing = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    rows = dict(line.split(None, 1) for line in listing.splitlines() if line.startswith("  "))
    rule = re.compile(r"^([A-Za-z][\w-]*):(?!=)", re.MULTILINE)
    targets = {name for makefile in ("Makefile", "build.mk") for name in rule.findall((ROOT / makefile).read_text())}
    assert targets - set(rows) == set(), "targets without a ## description"
    assert all(description.strip() for description in rows.values())
    assert {"invoke", "test", "lint", "start-api", "lock", "events"} <= set(rows)


def test_the_start_api_templates_call_the_function_and_keep_one_api_each() -> None:
    """SAM CLI cannot resolve the alias the template's APIs call (it serves the routes without the
    authorizer then): scripts/start_api.py points each local template at the function itself."""
    import importlib.util

    from cfnlint.decode import decode_str

    spec = importlib.util.spec_from_file_location("start_api", ROOT / "scripts" / "start_api.py")
    assert spec is not None and spec.loader is not None
    start_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(start_api)
    document, problems = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not problems
    built: dict[str, Any] = json.loads(json.dumps(document))  # the long form sam build writes
    deployed = [
        authorizer["FunctionArn"]
        for name in ("ExampleRestApi", "ExampleHttpApi")
        for authorizer in built["Resources"][name]["Properties"]["Auth"]["Authorizers"].values()
    ]
    assert deployed == [start_api.ALIAS, start_api.ALIAS]  # deployed APIs call the alias
    for api, (resource, event_type) in start_api.APIS.items():
        local = start_api.template_for(built, api)
        (other, other_type) = next(v for k, v in start_api.APIS.items() if k != api)
        assert other not in local["Resources"]
        events = local["Resources"]["EchoFunction"]["Properties"]["Events"].values()
        assert {e["Type"] for e in events} == {event_type} and other_type != event_type
        authorizers = local["Resources"][resource]["Properties"]["Auth"]["Authorizers"].values()
        assert [a["FunctionArn"] for a in authorizers] == [start_api.FUNCTION]
