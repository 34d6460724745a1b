"""`make start-api`: the example REST and HTTP APIs under ``sam local start-api``, one port each.

Both example APIs serve ``/orders`` and ``/orders/{id}``, and under one ``sam local start-api`` the
routes of one API shadow the other's. So this script writes one template per API beside the one
``sam build`` wrote (``.aws-sam/build/template-rest.yaml`` and ``template-http.yaml``, each without
the other API and its events) and runs one ``sam local start-api`` for each: the REST API (TOKEN
authorizer) on PORT, the HTTP API (payload 2.0, simple responses) on PORT + 1. Ctrl-C stops both.

Under ``sam local start-api`` an authorizer that raises ``Unauthorized`` answers **502**, where
API Gateway answers 401 (docs/local-testing.md lists the other differences).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / ".aws-sam" / "build" / "template.yaml"
# Which resource and which EchoFunction event type belong to each example API.
APIS = {"rest": ("ExampleRestApi", "Api"), "http": ("ExampleHttpApi", "HttpApi")}
WARNING = (
    "note: under sam local start-api an authorizer's Unauthorized answers 502 (API Gateway: 401);\n"
    "      a Deny answers 403 and a missing Authorization header 401, as in API Gateway."
)


# The example APIs call the authorizer through its alias (deployments and rollbacks move the alias).
# SAM CLI cannot resolve an alias to a local function ("Unable to parse the Lambda ARN", and the
# routes are then served without any authorizer), and it runs no versions anyway: locally they call
# the function itself.
ALIAS = {"Ref": "AuthorizerFunction.Alias"}
FUNCTION = {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}


def template_for(built: dict[str, Any], api: str) -> dict[str, Any]:
    """``built`` with only ``api``'s example API (the other one, its routes and its outputs go),
    its authorizer pointed at the function rather than the alias."""
    (other_api, other_events) = next(value for name, value in APIS.items() if name != api)
    document = copy.deepcopy(built)
    resources = document["Resources"]
    resources.pop(other_api)
    for authorizer in resources[APIS[api][0]]["Properties"]["Auth"]["Authorizers"].values():
        if authorizer.get("FunctionArn") == ALIAS:
            authorizer["FunctionArn"] = FUNCTION
    events = resources["EchoFunction"]["Properties"]["Events"]
    for name in [name for name, event in events.items() if event["Type"] == other_events]:
        del events[name]
    outputs = document.get("Outputs", {})
    for name in [name for name, output in outputs.items() if other_api in json.dumps(output)]:
        del outputs[name]
    return document


def write_templates(built_file: Path = BUILT) -> dict[str, Path]:
    """One template per example API next to ``built_file`` (CodeUri paths are relative to it)."""
    if not built_file.is_file():
        raise SystemExit(f"{built_file.relative_to(ROOT)} is missing: run `make sam-build` first")
    built = yaml.safe_load(built_file.read_text(encoding="utf-8"))
    written = {}
    for api in APIS:
        target = built_file.with_name(f"template-{api}.yaml")
        target.write_text(yaml.safe_dump(template_for(built, api), sort_keys=False), encoding="utf-8")
        written[api] = target
    return written


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    """The ``sam local start-api`` command of each API that ``args`` asks for."""
    templates = write_templates()
    apis = list(APIS) if args.api == "both" else [args.api]
    return {
        api: [
            args.sam_cli, "local", "start-api", "--template", str(templates[api]),
            "--env-vars", str(ROOT / args.env_file), "--host", "127.0.0.1", "--port", str(args.port + offset),
            "--parameter-overrides", args.parameter_overrides, *shlex.split(args.sam_args),
        ]
        for offset, api in enumerate(APIS)
        if api in apis
    }  # fmt: skip


def interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sam-cli", default=os.environ.get("SAM_CLI") or "sam", help="sam executable ($SAM_CLI)")
    parser.add_argument("--sam-args", default=os.environ.get("SAM_LOCAL_ARGS", ""), help="extra sam arguments")
    parser.add_argument("--port", type=int, default=3000, help="the REST API's port; the HTTP API's is one more")
    parser.add_argument("--env-file", default="events/env.json", help="SAM --env-vars file")
    parser.add_argument("--parameter-overrides", default="CreateExampleApi=true", help="template parameters")
    parser.add_argument("--api", choices=["both", *APIS], default="both", help="serve only one of the APIs")
    runs = commands(parser.parse_args())
    # Ctrl-C reaches every process of the terminal's group; `kill` reaches this one only.
    signal.signal(signal.SIGTERM, interrupt)
    processes = {}
    for api, command in runs.items():
        print(f"$ {shlex.join(command)}", file=sys.stderr)
        processes[api] = subprocess.Popen(command, cwd=ROOT)
    for api, command in runs.items():
        port = command[command.index("--port") + 1]
        print(f"{api.upper():>4} API: http://127.0.0.1:{port}/orders and /orders/{{id}}", file=sys.stderr)
    print(WARNING, file=sys.stderr)
    try:
        # Serve until Ctrl-C, or until either server stops (a port in use, a template error).
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    codes = [process.returncode for process in processes.values()]
    return max(0, *codes)


if __name__ == "__main__":
    sys.exit(main())
