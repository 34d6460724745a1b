"""`make invoke`: run the authorizer on a sample event and print what API Gateway would answer.

By default the handler runs in this process, configured from the ``AuthorizerFunction`` block of
``events/env.json`` (SAM's ``--env-vars`` format), so it needs no Docker, no AWS account and no
network: the development issuer's keys are given inline. ``--sam`` runs ``sam local invoke``
instead, where SAM and a container runtime are available.
"""

from __future__ import annotations

import argparse
import json
import os
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
        sys.stdout = answer
        status = 401 if str(exc) == "Unauthorized" else 500
        print(f"--- API Gateway answers {status} ---", file=sys.stderr)
        print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}, indent=2))
        return 0
    sys.stdout = answer
    if "isAuthorized" in response:
        status = "passes the request on" if response["isAuthorized"] else "answers 403"
    else:
        effects = {s["Effect"] for s in response["policyDocument"]["Statement"]}
        status = "passes the request on (policy below)" if "Allow" in effects else "answers 403"
    print(f"--- API Gateway {status} ---", file=sys.stderr)
    print(json.dumps(response, indent=2))
    return 0


def run_sam(event_file: Path, env_file: Path) -> int:
    sam = shutil.which("sam") or str(ROOT / ".venv" / "bin" / "sam")
    if not Path(sam).exists():
        print("sam is not installed; run without --sam to invoke in-process", file=sys.stderr)
        return 2
    command = [sam, "local", "invoke", "AuthorizerFunction", "-e", str(event_file), "--env-vars", str(env_file)]
    return subprocess.call(command, cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--event", default="events/rest-token-allow.json", help="an event file from events/")
    parser.add_argument("--env-file", default="events/env.json", help="SAM --env-vars file")
    parser.add_argument("--sam", action="store_true", help="use `sam local invoke` (needs a container runtime)")
    args = parser.parse_args()
    event_file, env_file = ROOT / args.event, ROOT / args.env_file
    if args.sam:
        return run_sam(event_file, env_file)
    event = json.loads(event_file.read_text())
    env = json.loads(env_file.read_text()).get("AuthorizerFunction", {})
    print(f"event: {args.event}   configuration: {args.env_file} (AuthorizerFunction)", file=sys.stderr)
    return run_in_process(event, {k: str(v) for k, v in env.items()})


if __name__ == "__main__":
    sys.exit(main())
