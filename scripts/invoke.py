"""`make invoke`: run the authorizer on a sample event and print what API Gateway would answer.

By default the handler runs in this process, configured from the ``AuthorizerFunction`` block of
``events/env.json`` (SAM's ``--env-vars`` format), so it needs no Docker, no AWS account and no
network: the development issuer's keys are given inline. ``--sam`` runs ``sam local invoke``
instead, on the template ``sam build`` wrote (``make invoke SAM=1`` builds first), where SAM and a
container runtime are available. Either way stdout carries only the answer, and stderr the log
and what API Gateway would do with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Context:
    """The attributes of Lambda's context object that the function reads."""

    function_name = "jwt-authorizer-local"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:jwt-authorizer-local"
    aws_request_id = "local-invoke"


def verdict(response: Any) -> str:
    """What API Gateway does with the function's answer (or its error)."""
    if isinstance(response, dict) and "errorMessage" in response:
        return "answers 401" if response["errorMessage"] == "Unauthorized" else "answers 500"
    if isinstance(response, dict) and "isAuthorized" in response:
        return "passes the request on" if response["isAuthorized"] is True else "answers 403"
    try:
        effects = {s["Effect"] for s in response["policyDocument"]["Statement"]}
    except (KeyError, TypeError):
        return "answers 500 (not an authorizer response)"
    return "passes the request on (policy below)" if "Allow" in effects else "answers 403"


def run_in_process(event: dict[str, Any], env: dict[str, str]) -> int:
    os.environ.update(env)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    sys.path.insert(0, str(ROOT / "src"))
    # The function's log lines go to stderr, so stdout carries only API Gateway's view.
    answer, sys.stdout = sys.stdout, sys.stderr
    print("--- function log ---")
    try:
        from jwt_authorizer.app import lambda_handler

        response = lambda_handler(event, Context())
    except Exception as exc:
        response = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
    sys.stdout = answer
    print(f"--- API Gateway {verdict(response)} ---", file=sys.stderr)
    print(json.dumps(response, indent=2))
    return 0


def run_sam(event_file: Path, env_file: Path, sam: str, overrides: str, extra: list[str]) -> int:
    """``sam local invoke`` on the built template (``make invoke SAM=1`` runs ``sam build`` first)."""
    if not (shutil.which(sam) or Path(sam).is_file()):
        print(f"{sam}: not found; set SAM_CLI to the sam executable, or run without SAM=1", file=sys.stderr)
        return 2
    if not (ROOT / ".aws-sam" / "build" / "template.yaml").is_file():
        print("warning: no .aws-sam/build: sam will mount the source tree; run `make sam-build` first", file=sys.stderr)
    command = [sam, "local", "invoke", "AuthorizerFunction", "--event", str(event_file), "--env-vars", str(env_file)]
    if overrides:
        command += ["--parameter-overrides", overrides]
    command += extra
    print("$ " + shlex.join(command), file=sys.stderr)
    # SAM writes its progress and the function's log to stderr, the function's answer to stdout.
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    try:
        response = json.loads(lines[-1]) if lines else None
    except ValueError:
        response = None
    if result.returncode != 0 or response is None:
        sys.stdout.write(result.stdout)
        print(f"--- sam local invoke failed (exit {result.returncode}) ---", file=sys.stderr)
        return result.returncode or 1
    print(f"--- API Gateway {verdict(response)} ---", file=sys.stderr)
    print(json.dumps(response, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--event", default="events/rest-token-allow.json", help="an event file from events/")
    parser.add_argument("--env-file", default="events/env.json", help="SAM --env-vars file")
    parser.add_argument("--sam", action="store_true", help="use `sam local invoke` (needs a container runtime)")
    parser.add_argument("--sam-cli", default=os.environ.get("SAM_CLI") or "sam", help="sam executable ($SAM_CLI)")
    parser.add_argument(
        "--sam-args", default=os.environ.get("SAM_LOCAL_ARGS", ""), help="extra sam arguments ($SAM_LOCAL_ARGS)"
    )
    parser.add_argument("--parameter-overrides", default="", help="template parameters, e.g. Architecture=x86_64")
    args = parser.parse_args()
    event_file, env_file = ROOT / args.event, ROOT / args.env_file
    if args.sam:
        return run_sam(event_file, env_file, args.sam_cli, args.parameter_overrides, shlex.split(args.sam_args))
    event = json.loads(event_file.read_text())
    env = json.loads(env_file.read_text()).get("AuthorizerFunction", {})
    print(f"event: {args.event}   configuration: {args.env_file} (AuthorizerFunction)", file=sys.stderr)
    return run_in_process(event, {k: str(v) for k, v in env.items()})


if __name__ == "__main__":
    sys.exit(main())
